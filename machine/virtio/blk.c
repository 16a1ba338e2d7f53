/*
 * virtio-blk: a raw disk image as a virtio block device (virtio 1.2,
 * section 5.2 "Block Device").  Written in a spec's `disks:` list.
 *
 * Device ID 2, one request queue.  Offered features: SEG_MAX, BLK_SIZE
 * (512-byte logical blocks), FLUSH, DISCARD and WRITE_ZEROES (holes punched
 * in the image, machine/backend/disk.h), and RO for `readonly: true`.  The
 * capacity is the image's size in 512-byte sectors, rounded down.
 *
 * Requests (5.2.6) run on the device's I/O thread, never a vCPU's: each is
 * done with preadv/pwritev on the image before the next is taken, so a
 * request is complete (in the host's page cache, or on disk after FLUSH)
 * when the guest sees it used.  Unrealize (also on SIGTERM, through the
 * clean shutdown) fdatasync()s the image before closing it, so data the
 * guest wrote is not lost even without a flush.  The requests themselves,
 * and their checks of everything the guest hands over, are in
 * blk-request.c.
 */
#include <string.h>

#include "machine/byteorder/le.h"
#include "machine/qom/device.h"
#include "machine/qom/error.h"
#include "machine/qom/host-claims.h"
#include "machine/qom/property.h"
#include "machine/virtio/blk-request.h"
#include "machine/virtio/virtio.h"

#define TYPE_VIRTIO_BLK "virtio-blk"

#define VIRTIO_ID_BLOCK         2       /* 5 "Device Types" */

/* 5.2.3 "Feature bits". */
#define VIRTIO_BLK_F_SEG_MAX        2
#define VIRTIO_BLK_F_RO             5
#define VIRTIO_BLK_F_BLK_SIZE       6
#define VIRTIO_BLK_F_FLUSH          9
#define VIRTIO_BLK_F_DISCARD        13
#define VIRTIO_BLK_F_WRITE_ZEROES   14

/* 5.2.4 "Device configuration layout": offsets of the fields we fill; the
 * rest (size_max, geometry, topology, writeback, num_queues) stays 0. */
#define CFG_CAPACITY                0
#define CFG_SEG_MAX                 12
#define CFG_BLK_SIZE                20
#define CFG_MAX_DISCARD_SECTORS     36
#define CFG_MAX_DISCARD_SEG         40
#define CFG_DISCARD_ALIGNMENT       44
#define CFG_MAX_WRITE_ZEROES_SECTORS 48
#define CFG_MAX_WRITE_ZEROES_SEG    52
#define CFG_WRITE_ZEROES_MAY_UNMAP  56
#define CFG_SIZE                    60  /* up to unused1[3] */

typedef struct VirtioBlk {
    VirtioDevice parent_obj;
    FilePath image;
    bool readonly;
    bool snapshot;

    VirtioBlkTarget target;     /* the open image while realized */
    uint8_t config[CFG_SIZE];   /* little-endian, fixed after realize */
} VirtioBlk;

#define VIRTIO_BLK(obj) OBJECT_CHECK(VirtioBlk, (obj), TYPE_VIRTIO_BLK)

static const Property virtio_blk_props[] = {
    PROP_PATH("path", VirtioBlk, image, true, "Raw disk image file"),
    PROP_BOOL("readonly", VirtioBlk, readonly, false,
              "Expose the disk read-only (VIRTIO_BLK_F_RO)"),
    PROP_BOOL("snapshot", VirtioBlk, snapshot, false,
              "Send writes to a throwaway overlay; the image is unchanged"),
    PROP_END,
};

static bool virtio_blk_request(void *opaque, VirtqElement *elem,
                               uint32_t *written)
{
    VirtioBlk *s = opaque;

    return virtio_blk_handle_request(&s->target, elem, written);
}

static void virtio_blk_queue_notify(VirtioDevice *vdev, unsigned index)
{
    VirtioBlk *s = VIRTIO_BLK(vdev);
    bool notify = false;
    bool ok;

    if (index != 0 || !s->target.disk) {
        return;
    }
    /* Each request completes (and may interrupt) as soon as it is done. */
    ok = virtqueue_drain(vdev->queues[0], 1, virtio_blk_request, s, &notify);
    if (notify) {
        virtio_device_notify_used(vdev);
    }
    if (!ok) {
        virtio_device_set_needs_reset(vdev);
    }
}

static uint64_t virtio_blk_get_features(VirtioDevice *vdev)
{
    VirtioBlk *s = VIRTIO_BLK(vdev);
    uint64_t f = (1ull << VIRTIO_BLK_F_SEG_MAX) |
                 (1ull << VIRTIO_BLK_F_BLK_SIZE) |
                 (1ull << VIRTIO_BLK_F_FLUSH);

    if (s->readonly) {
        f |= 1ull << VIRTIO_BLK_F_RO;
    } else {
        f |= (1ull << VIRTIO_BLK_F_DISCARD) |
             (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
    }
    return f;
}

static void virtio_blk_read_config(VirtioDevice *vdev, uint32_t offset,
                                   void *data, uint32_t size)
{
    VirtioBlk *s = VIRTIO_BLK(vdev);

    if (offset <= CFG_SIZE && size <= CFG_SIZE - offset) {
        memcpy(data, s->config + offset, size);
    }
}

static bool virtio_blk_device_realize(VirtioDevice *vdev, GError **errp)
{
    VirtioBlk *s = VIRTIO_BLK(vdev);
    DiskOpenMode mode = s->readonly ? DISK_OPEN_READONLY
                        : s->snapshot ? DISK_OPEN_SNAPSHOT
                        : DISK_OPEN_READWRITE;

    VirtioBlkTarget *t = &s->target;

    t->disk = disk_open(s->image.path, mode, errp);
    if (!t->disk) {
        return false;
    }
    t->capacity = disk_size(t->disk) / VIRTIO_BLK_SECTOR;
    t->readonly = s->readonly;
    t->id = DEVICE(s)->id;

    memset(s->config, 0, sizeof(s->config));
    le64_store(s->config + CFG_CAPACITY, t->capacity);
    le32_store(s->config + CFG_SEG_MAX, BLK_SEG_MAX);
    le32_store(s->config + CFG_BLK_SIZE, VIRTIO_BLK_SECTOR);
    le32_store(s->config + CFG_MAX_DISCARD_SECTORS, BLK_MAX_DISCARD_SECTORS);
    le32_store(s->config + CFG_MAX_DISCARD_SEG, BLK_MAX_DISCARD_SEG);
    le32_store(s->config + CFG_DISCARD_ALIGNMENT, BLK_DISCARD_ALIGNMENT);
    le32_store(s->config + CFG_MAX_WRITE_ZEROES_SECTORS,
               BLK_MAX_DISCARD_SECTORS);
    le32_store(s->config + CFG_MAX_WRITE_ZEROES_SEG, BLK_MAX_DISCARD_SEG);
    s->config[CFG_WRITE_ZEROES_MAY_UNMAP] = 1;
    return true;
}

/* After the transport is gone (no more requests): sync and close. */
static void virtio_blk_device_unrealize(VirtioDevice *vdev)
{
    VirtioBlk *s = VIRTIO_BLK(vdev);

    disk_close(s->target.disk, NULL);
    g_free(s->target.iov);
    memset(&s->target, 0, sizeof(s->target));
}

/* Its image: written unless the guest may only read it, or its writes go
 * to a private overlay (snapshot). */
static void virtio_blk_host_claims(DeviceState *dev, HostClaims *claims)
{
    VirtioBlk *s = VIRTIO_BLK(dev);
    bool writes = !s->readonly && !s->snapshot;

    if (s->image.path && *s->image.path) {
        host_claims_add_for(claims, dev, "disk", HOST_CLAIM_FILE,
                            s->image.path, writes,
                            writes ? "the writable disk image"
                                   : "the disk image");
    }
}

static void virtio_blk_class_init(ObjectClass *oc, const void *data)
{
    VirtioDeviceClass *vc = VIRTIO_DEVICE_CLASS(oc);

    oc->props = virtio_blk_props;
    DEVICE_CLASS(oc)->spec_list = "disks";
    DEVICE_CLASS(oc)->host_claims = virtio_blk_host_claims;
    vc->device_id = VIRTIO_ID_BLOCK;
    vc->num_queues = 1;
    vc->queue_max_size = BLK_QUEUE_SIZE;
    vc->get_features = virtio_blk_get_features;
    vc->config_size = CFG_SIZE;
    vc->read_config = virtio_blk_read_config;
    /* No write_config: nothing in the configuration space is writable (no
     * VIRTIO_BLK_F_CONFIG_WCE).  No start or reset: a request completes
     * within queue_notify, so none is in flight when the driver resets. */
    vc->queue_notify = virtio_blk_queue_notify;
    vc->device_realize = virtio_blk_device_realize;
    vc->device_unrealize = virtio_blk_device_unrealize;
}

static const TypeInfo virtio_blk_info = {
    .name = TYPE_VIRTIO_BLK,
    .parent = TYPE_VIRTIO_DEVICE,
    .description = "virtio block device backed by a raw image file",
    .instance_size = sizeof(VirtioBlk),
    .class_init = virtio_blk_class_init,
};

static void virtio_blk_register_types(void)
{
    type_register_static(&virtio_blk_info);
}

type_init(virtio_blk_register_types)
