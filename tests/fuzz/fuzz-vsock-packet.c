/*
 * libFuzzer target for the virtio-vsock packet parser
 * (machine/virtio/vsock-packet.c): the input is tests/fuzz/queue-input.h's
 * header and 64 KiB guest RAM, taken as a tx queue.  Every chain popped is
 * parsed; a chain the parser accepts must hold a header and hdr.len bytes
 * after it, and its payload slices must lie inside the chain's buffers and
 * add up to hdr.len (or be left to the copying path, which must then copy
 * exactly those bytes).  The header round-trips through encode/decode.
 * Any access outside guest RAM, hang or sanitizer report is a bug.
 *
 * Build and run: `make fuzz`, `make fuzz-smoke` (see the Makefile).
 */
#include <stdint.h>
#include <string.h>
#include <glib.h>

#include "machine/virtio/vsock-packet.h"
#include "tests/fuzz/queue-input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether [p, p+len) lies inside one of the element's readable buffers. */
static bool inside_chain(const VirtqElement *e, const uint8_t *p, size_t len)
{
    for (unsigned i = 0; i < e->out_num; i++) {
        const uint8_t *base = e->out_iov[i].iov_base;

        if (p >= base && p + len <= base + e->out_iov[i].iov_len) {
            return true;
        }
    }
    return false;
}

static void check_packet(const VirtqElement *e)
{
    VsockPacket pkt;
    uint8_t raw[VSOCK_HDR_SIZE];
    VsockHdr again;
    size_t sum = 0;

    if (!vsock_packet_parse(e, &pkt)) {
        return;
    }
    g_assert(e->in_num == 0);
    g_assert(e->out_len >= VSOCK_HDR_SIZE);
    g_assert(pkt.hdr.len <= e->out_len - VSOCK_HDR_SIZE);
    for (unsigned i = 0; i < pkt.payload_iov_num; i++) {
        g_assert(inside_chain(e, pkt.payload_iov[i].iov_base,
                              pkt.payload_iov[i].iov_len));
        sum += pkt.payload_iov[i].iov_len;
    }
    if (pkt.payload_iov_num > 0) {
        g_assert(sum == pkt.hdr.len);
    } else if (pkt.hdr.len > 0) {
        g_autofree uint8_t *copy = g_malloc(pkt.hdr.len);

        vsock_packet_copy_payload(e, &pkt, copy);
    }
    vsock_hdr_encode(&pkt.hdr, raw);
    memset(&again, 0, sizeof(again));
    vsock_hdr_decode(raw, &again);
    g_assert(memcmp(&again, &pkt.hdr, sizeof(again)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GuestMem *mem = fuzz_ram_from_input(data, size);
    VirtQueue *vq;
    bool enabled;

    if (!mem) {
        return 0;
    }
    vq = fuzz_queue_from_header(mem, data, &enabled);
    if (enabled) {
        /* Bounded: a ring holds at most its size of chains at once. */
        for (unsigned n = 0; n < 1024; n++) {
            VirtqElement e;
            int r = virtqueue_pop(vq, &e);

            if (r <= 0) {
                break;
            }
            check_packet(&e);
            virtqueue_push(vq, &e, 0);
            virtqueue_element_clear(&e);
            virtqueue_flush(vq);
        }
    }
    virtqueue_free(vq);
    guest_mem_free(mem);
    return 0;
}
