/*
 * libFuzzer target for virtio-blk requests (machine/virtio/blk-request.c)
 * on a real disk image (a 64.5 KiB memfd, opened through the disk backend
 * as writable, read-only or snapshot): the input is a small header (queue
 * size, features, mode, ring addresses) followed by the contents of a
 * 64 KiB guest RAM.  Requests are popped from the queue, carried out
 * against the image, pushed and flushed until the ring is empty, broken,
 * or a chain too short for a header and status (the device's NEEDS_RESET).
 * Any access outside guest RAM or the image, hang or sanitizer report is a
 * bug; so is a used length beyond the chain's writable bytes.
 *
 * Header (little-endian, 16 bytes):
 *   u16 size       queue size (validated by virtqueue_enable)
 *   u8  features   bit 0 INDIRECT_DESC, bit 1 EVENT_IDX, bit 2 readonly,
 *                  bit 3 snapshot
 *   u8  unused
 *   u32 desc       ring addresses (only the low 20 bits; RAM is 64 KiB,
 *   u32 avail      so addresses past it test the bounds checks)
 *   u32 used
 *
 * Build and run: `make fuzz`, `make fuzz-smoke` (see the Makefile).
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib.h>

#include "machine/backend/disk.h"
#include "machine/virtio/blk-request.h"
#include "tests/fuzz/queue-input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DISK_BYTES  (64 * 1024 + 512)

static DiskImage *open_disk(int *memfd, uint8_t flags)
{
    DiskOpenMode mode = flags & 4 ? DISK_OPEN_READONLY
                        : flags & 8 ? DISK_OPEN_SNAPSHOT
                        : DISK_OPEN_READWRITE;
    char path[64];

    *memfd = memfd_create("fuzz-disk", MFD_CLOEXEC);
    g_assert(*memfd >= 0);
    g_assert(ftruncate(*memfd, DISK_BYTES) == 0);
    g_snprintf(path, sizeof(path), "/proc/self/fd/%d", *memfd);
    return disk_open(path, mode, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    VirtioBlkTarget t = { .id = "fuzz-disk" };
    GuestMem *mem = fuzz_ram_from_input(data, size);
    VirtQueue *vq;
    bool enabled;
    int memfd, r = 0;

    if (!mem) {
        return 0;
    }
    t.disk = open_disk(&memfd, data[2]);
    g_assert(t.disk);
    t.capacity = disk_size(t.disk) / VIRTIO_BLK_SECTOR;
    t.readonly = data[2] & 4;
    vq = fuzz_queue_from_header(mem, data, &enabled);
    if (enabled) {
        /* Bounded: a ring holds at most 256 requests at once. */
        for (unsigned n = 0; n < 1024; n++) {
            VirtqElement e;
            uint32_t written;
            bool ok;

            r = virtqueue_pop(vq, &e);
            if (r <= 0) {
                break;
            }
            ok = virtio_blk_handle_request(&t, &e, &written);
            if (ok) {
                g_assert(written >= 1 && written <= e.in_len);
                virtqueue_push(vq, &e, written);
            }
            virtqueue_element_clear(&e);
            if (!ok) {
                break;
            }
            virtqueue_flush(vq);
            virtqueue_set_notification(vq, n & 1);
        }
        g_assert(r >= 0 || virtqueue_broken(vq));
    }
    virtqueue_free(vq);
    guest_mem_free(mem);
    g_assert(disk_close(t.disk, NULL));
    g_free(t.iov);
    close(memfd);
    return 0;
}
