/*
 * The input layout both virtqueue fuzz targets (fuzz-virtqueue.c,
 * fuzz-virtio-blk.c) share: a 16-byte little-endian header, then the
 * contents of a 64 KiB guest RAM.  Header bytes 0-1 are the queue size,
 * byte 2 bit 0 INDIRECT_DESC and bit 1 EVENT_IDX, byte 3 the target's own,
 * bytes 4-15 the desc, avail and used ring addresses (only their low 20
 * bits, so that addresses past the RAM test the bounds checks).
 */
#ifndef VMSPEC_TESTS_FUZZ_QUEUE_INPUT_H
#define VMSPEC_TESTS_FUZZ_QUEUE_INPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <glib.h>

#include "machine/byteorder/le.h"
#include "machine/kvm/guest-mem.h"
#include "machine/virtio/queue.h"

#define RAM_SIZE    (64 * 1024)
#define HDR_SIZE    16

/* Guest RAM filled from the input after the header; NULL when the input
 * is shorter than the header (or RAM cannot be had).  Caller frees. */
static inline GuestMem *fuzz_ram_from_input(const uint8_t *data, size_t size)
{
    GuestMem *mem;

    if (size < HDR_SIZE) {
        return NULL;
    }
    mem = guest_mem_new(RAM_SIZE, 1ULL << 32, NULL);
    if (mem) {
        memcpy(guest_mem_translate(mem, 0, RAM_SIZE), data + HDR_SIZE,
               MIN(size - HDR_SIZE, (size_t)RAM_SIZE));
    }
    return mem;
}

/* A queue on mem as the header describes; *enabled says whether
 * virtqueue_enable() accepted it.  Caller frees. */
static inline VirtQueue *fuzz_queue_from_header(GuestMem *mem,
                                                const uint8_t *hdr,
                                                bool *enabled)
{
    VirtQueue *vq = virtqueue_new(mem, 256);
    uint64_t features = 0;

    if (hdr[2] & 1) {
        features |= 1ULL << 28;             /* VIRTIO_F_INDIRECT_DESC */
    }
    if (hdr[2] & 2) {
        features |= 1ULL << 29;             /* VIRTIO_F_EVENT_IDX */
    }
    virtqueue_set_size(vq, le16_load(hdr));
    virtqueue_set_desc_addr(vq, le32_load(hdr + 4) & 0xfffff);
    virtqueue_set_avail_addr(vq, le32_load(hdr + 8) & 0xfffff);
    virtqueue_set_used_addr(vq, le32_load(hdr + 12) & 0xfffff);
    *enabled = virtqueue_enable(vq, features);
    return vq;
}

#endif
