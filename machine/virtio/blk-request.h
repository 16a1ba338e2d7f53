/*
 * virtio-blk request processing (virtio 1.2, 5.2.6 "Device Operation"),
 * apart from the device (blk.c) so that tests and fuzzers can hand it any
 * descriptor chain.
 *
 * The guest is not trusted: every sector range is checked against the
 * capacity before the image is touched, lengths and segment counts against
 * the limits below (which blk.c puts in the configuration space).
 */
#ifndef VMSPEC_VIRTIO_BLK_REQUEST_H
#define VMSPEC_VIRTIO_BLK_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "machine/backend/disk.h"
#include "machine/virtio/queue.h"

/* 5.2.6 "Device Operation": request types and status values. */
#define VIRTIO_BLK_T_IN             0
#define VIRTIO_BLK_T_OUT            1
#define VIRTIO_BLK_T_FLUSH          4
#define VIRTIO_BLK_T_GET_ID         8
#define VIRTIO_BLK_T_DISCARD        11
#define VIRTIO_BLK_T_WRITE_ZEROES   13
#define VIRTIO_BLK_S_OK             0
#define VIRTIO_BLK_S_IOERR          1
#define VIRTIO_BLK_S_UNSUPP         2
/* virtio_blk_discard_write_zeroes.flags */
#define VIRTIO_BLK_WZ_F_UNMAP       1

#define VIRTIO_BLK_SECTOR           512     /* fixed by 5.2.6 */
#define VIRTIO_BLK_ID_BYTES         20      /* GET_ID's string */
#define VIRTIO_BLK_HDR_SIZE         16      /* type, reserved, sector */
#define VIRTIO_BLK_SEG_SIZE         16      /* sector, num_sectors, flags */

/* Limits in the configuration space.  Two descriptors of a chain are the
 * header and the status (5.2.6.1 says seg_max counts data only). */
#define BLK_QUEUE_SIZE          256
#define BLK_SEG_MAX             (BLK_QUEUE_SIZE - 2)
#define BLK_MAX_DISCARD_SECTORS (UINT32_C(1) << 22)     /* 2 GiB */
#define BLK_MAX_DISCARD_SEG     1
/* Hole punching works in filesystem blocks: a 4 KiB hint, in sectors. */
#define BLK_DISCARD_ALIGNMENT   (4096 / VIRTIO_BLK_SECTOR)

/* What requests run against.  One thread at a time (the device's I/O
 * thread). */
typedef struct VirtioBlkTarget {
    DiskImage *disk;
    uint64_t capacity;          /* in sectors: disk_size() / 512 */
    bool readonly;              /* OUT, DISCARD, WRITE_ZEROES -> IOERR */
    const char *id;             /* GET_ID's string (borrowed); may be NULL */
    struct iovec *iov;          /* scratch, grown as needed; g_free() it */
    unsigned iov_cap;
} VirtioBlkTarget;

/*
 * Carries out the request in e and writes its status byte (the last
 * device-writable byte); *written is the used length to push (data read
 * plus the status).  Returns false, writing nothing, when the chain cannot
 * even hold the 16-byte header and the status (the driver broke 5.2.6.1):
 * the caller then puts the device into NEEDS_RESET.
 */
bool virtio_blk_handle_request(VirtioBlkTarget *s, VirtqElement *e,
                               uint32_t *written);

#endif
