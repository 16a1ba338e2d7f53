/*
 * libFuzzer target for split virtqueues (machine/virtio/queue.c): the
 * input is a small header (queue size, features, ring addresses, how much
 * each request writes) followed by the contents of a 64 KiB guest RAM.
 * The queue is enabled on that RAM and requests are popped, their
 * buffers read and written through the returned iovecs, pushed and
 * flushed until the ring is empty or broken.  Any access outside guest
 * RAM, hang or sanitizer report is a bug.
 *
 * Header (little-endian, 16 bytes):
 *   u16 size       queue size (validated by virtqueue_enable)
 *   u8  features   bit 0 INDIRECT_DESC, bit 1 EVENT_IDX
 *   u8  written    bytes to report per request (0xff: all of in_len)
 *   u32 desc       ring addresses (only the low 20 bits; RAM is 64 KiB,
 *   u32 avail      so addresses past it test the bounds checks)
 *   u32 used
 *
 * Build and run: `make fuzz`, `make fuzz-smoke` (see the Makefile).
 */
#include "tests/fuzz/queue-input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t scratch[4096];
    GuestMem *mem = fuzz_ram_from_input(data, size);
    VirtQueue *vq;
    bool enabled;
    int r = 0;

    if (!mem) {
        return 0;
    }
    vq = fuzz_queue_from_header(mem, data, &enabled);
    if (enabled) {
        /* Bounded: a ring holds at most 256 requests at once. */
        for (unsigned n = 0; n < 1024; n++) {
            VirtqElement e;
            uint32_t written;

            r = virtqueue_pop(vq, &e);
            if (r <= 0) {
                break;
            }
            g_assert(e.out_len + e.in_len <= UINT32_MAX);
            for (size_t off = 0; off < e.out_len; off += sizeof(scratch)) {
                iov_to_buf(e.out_iov, e.out_num, off, scratch,
                           sizeof(scratch));
            }
            written = data[3] == 0xff ? (uint32_t)e.in_len : data[3];
            iov_from_buf(e.in_iov, e.in_num, 0, scratch,
                         MIN((size_t)written, sizeof(scratch)));
            virtqueue_push(vq, &e, written);
            virtqueue_element_clear(&e);
            virtqueue_flush(vq);
            virtqueue_set_notification(vq, n & 1);
        }
        g_assert(r >= 0 || virtqueue_broken(vq));
    }
    virtqueue_free(vq);
    guest_mem_free(mem);
    return 0;
}
