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
 * guest wrote is not lost even without a flush.
 *
 * The guest is not trusted: every sector range is checked against the
 * capacity before the file is touched, lengths and segment counts against
 * the limits in the configuration space.
 */
#include <string.h>

#include "machine/backend/disk.h"
#include "machine/qom/device.h"
#include "machine/qom/error.h"
#include "machine/qom/property.h"
#include "machine/virtio/virtio.h"

#define TYPE_VIRTIO_BLK "virtio-blk"

#define VIRTIO_ID_BLOCK         2       /* 5 "Device Types" */
#define BLK_QUEUE_SIZE          256

/* 5.2.3 "Feature bits". */
#define VIRTIO_BLK_F_SEG_MAX        2
#define VIRTIO_BLK_F_RO             5
#define VIRTIO_BLK_F_BLK_SIZE       6
#define VIRTIO_BLK_F_FLUSH          9
#define VIRTIO_BLK_F_DISCARD        13
#define VIRTIO_BLK_F_WRITE_ZEROES   14

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
#define BLK_SEG_MAX             (BLK_QUEUE_SIZE - 2)
#define BLK_MAX_DISCARD_SECTORS (UINT32_C(1) << 22)     /* 2 GiB */
#define BLK_MAX_DISCARD_SEG     1
/* Hole punching works in filesystem blocks: a 4 KiB hint, in sectors. */
#define BLK_DISCARD_ALIGNMENT   (4096 / VIRTIO_BLK_SECTOR)

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

    DiskImage *disk;            /* open while realized */
    uint64_t capacity;          /* in sectors */
    uint8_t config[CFG_SIZE];   /* little-endian, fixed after realize */
    /* Scratch for a request's data buffers (I/O thread only). */
    struct iovec *iov;
    unsigned iov_cap;
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

static void put_le32(uint8_t *p, uint32_t v)
{
    v = GUINT32_TO_LE(v);
    memcpy(p, &v, sizeof(v));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    v = GUINT64_TO_LE(v);
    memcpy(p, &v, sizeof(v));
}

static uint32_t get_le32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return GUINT32_FROM_LE(v);
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return GUINT64_FROM_LE(v);
}

/* True when [sector, sector + count) lies within the disk. */
static bool in_range(const VirtioBlk *s, uint64_t sector, uint64_t count)
{
    return sector <= s->capacity && count <= s->capacity - sector;
}

/* s->iov := the iovecs covering bytes [off, off + len) of iov; returns
 * how many. */
static unsigned blk_slice(VirtioBlk *s, const struct iovec *iov, unsigned n,
                          size_t off, size_t len)
{
    unsigned k = 0;

    if (n > s->iov_cap) {
        s->iov_cap = n;
        s->iov = g_renew(struct iovec, s->iov, n);
    }
    for (unsigned i = 0; i < n && len > 0; i++) {
        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        size_t take = MIN(iov[i].iov_len - off, len);
        s->iov[k].iov_base = (char *)iov[i].iov_base + off;
        s->iov[k].iov_len = take;
        k++;
        len -= take;
        off = 0;
    }
    return k;
}

/* IN: data goes to the writable buffers before the status byte.  OUT: it
 * comes from the readable buffers after the header. */
static uint8_t blk_rw(VirtioBlk *s, VirtqElement *e, bool write,
                      uint64_t sector, uint32_t *written)
{
    size_t len = write ? e->out_len - VIRTIO_BLK_HDR_SIZE : e->in_len - 1;
    g_autoptr(GError) err = NULL;
    unsigned n;
    bool ok;

    if (len % VIRTIO_BLK_SECTOR != 0 ||
        !in_range(s, sector, len / VIRTIO_BLK_SECTOR) ||
        (write && s->readonly)) {
        return VIRTIO_BLK_S_IOERR;
    }
    if (write) {
        n = blk_slice(s, e->out_iov, e->out_num, VIRTIO_BLK_HDR_SIZE, len);
        ok = disk_writev(s->disk, s->iov, n, sector * VIRTIO_BLK_SECTOR,
                         &err);
    } else {
        n = blk_slice(s, e->in_iov, e->in_num, 0, len);
        ok = disk_readv(s->disk, s->iov, n, sector * VIRTIO_BLK_SECTOR,
                        &err);
        if (ok) {
            *written += len;
        }
    }
    return ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
}

/* The device's id, NUL-padded to 20 bytes (no NUL when it is 20 long). */
static uint8_t blk_get_id(VirtioBlk *s, VirtqElement *e, uint32_t *written)
{
    char id[VIRTIO_BLK_ID_BYTES] = { 0 };
    const char *name = DEVICE(s)->id ? DEVICE(s)->id : "";
    size_t len = MIN(e->in_len - 1, sizeof(id));

    memcpy(id, name, MIN(strlen(name), sizeof(id)));
    *written += iov_from_buf(e->in_iov, e->in_num, 0, id, len);
    return VIRTIO_BLK_S_OK;
}

/* DISCARD and WRITE_ZEROES: segments after the header (5.2.6). */
static uint8_t blk_discard_zeroes(VirtioBlk *s, VirtqElement *e,
                                  bool discard)
{
    size_t len = e->out_len - VIRTIO_BLK_HDR_SIZE;
    size_t nseg = len / VIRTIO_BLK_SEG_SIZE;
    uint8_t seg[VIRTIO_BLK_SEG_SIZE];

    if (s->readonly) {
        return VIRTIO_BLK_S_IOERR;
    }
    if (len == 0 || len % VIRTIO_BLK_SEG_SIZE != 0) {
        return VIRTIO_BLK_S_IOERR;
    }
    if (nseg > BLK_MAX_DISCARD_SEG) {
        return VIRTIO_BLK_S_UNSUPP;
    }
    for (size_t i = 0; i < nseg; i++) {
        g_autoptr(GError) err = NULL;
        iov_to_buf(e->out_iov, e->out_num,
                   VIRTIO_BLK_HDR_SIZE + i * VIRTIO_BLK_SEG_SIZE, seg,
                   sizeof(seg));
        uint64_t sector = get_le64(seg);
        uint32_t count = get_le32(seg + 8);
        uint32_t flags = get_le32(seg + 12);
        bool unmap = flags & VIRTIO_BLK_WZ_F_UNMAP;

        /* 5.2.6.2: unknown flags, and unmap on a discard, are UNSUPP. */
        if ((flags & ~VIRTIO_BLK_WZ_F_UNMAP) || (discard && unmap)) {
            return VIRTIO_BLK_S_UNSUPP;
        }
        if (count > BLK_MAX_DISCARD_SECTORS || !in_range(s, sector, count)) {
            return VIRTIO_BLK_S_IOERR;
        }
        bool ok = discard
            ? disk_discard(s->disk, sector * VIRTIO_BLK_SECTOR,
                           (uint64_t)count * VIRTIO_BLK_SECTOR, &err)
            : disk_write_zeroes(s->disk, sector * VIRTIO_BLK_SECTOR,
                                (uint64_t)count * VIRTIO_BLK_SECTOR, unmap,
                                &err);
        if (!ok) {
            return VIRTIO_BLK_S_IOERR;
        }
    }
    return VIRTIO_BLK_S_OK;
}

/*
 * Carries out one request and writes its status byte.  Returns false when
 * the chain cannot even hold the header and the status (the driver broke
 * 5.2.6.1): the caller then puts the device into NEEDS_RESET.
 */
static bool blk_handle(VirtioBlk *s, VirtqElement *e, uint32_t *written)
{
    uint8_t hdr[VIRTIO_BLK_HDR_SIZE];
    uint8_t status;
    g_autoptr(GError) err = NULL;

    if (e->out_len < sizeof(hdr) || e->in_len < 1) {
        return false;
    }
    iov_to_buf(e->out_iov, e->out_num, 0, hdr, sizeof(hdr));
    uint32_t type = get_le32(hdr);
    uint64_t sector = get_le64(hdr + 8);

    *written = 0;
    switch (type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT:
        status = blk_rw(s, e, type == VIRTIO_BLK_T_OUT, sector, written);
        break;
    case VIRTIO_BLK_T_FLUSH:
        status = disk_flush(s->disk, &err) ? VIRTIO_BLK_S_OK
                                           : VIRTIO_BLK_S_IOERR;
        break;
    case VIRTIO_BLK_T_GET_ID:
        status = blk_get_id(s, e, written);
        break;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        status = blk_discard_zeroes(s, e, type == VIRTIO_BLK_T_DISCARD);
        break;
    default:
        status = VIRTIO_BLK_S_UNSUPP;
        break;
    }
    iov_from_buf(e->in_iov, e->in_num, e->in_len - 1, &status, 1);
    *written += 1;
    return true;
}

static void virtio_blk_queue_notify(VirtioDevice *vdev, unsigned index)
{
    VirtioBlk *s = VIRTIO_BLK(vdev);
    VirtQueue *vq = vdev->queues[0];
    bool notify = false;
    VirtqElement elem;
    int r;

    if (index != 0 || !s->disk) {
        return;
    }
    do {
        virtqueue_set_notification(vq, false);
        while ((r = virtqueue_pop(vq, &elem)) == 1) {
            uint32_t written;
            bool ok = blk_handle(s, &elem, &written);

            if (ok) {
                virtqueue_push(vq, &elem, written);
            }
            virtqueue_element_clear(&elem);
            if (!ok) {
                r = -1;
                break;
            }
            notify |= virtqueue_flush(vq);
        }
    } while (r == 0 && virtqueue_set_notification(vq, true));

    if (notify) {
        virtio_device_notify_used(vdev);
    }
    if (r < 0) {
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

/* Nothing in our configuration space is writable (no CONFIG_WCE). */
static void virtio_blk_write_config(VirtioDevice *vdev, uint32_t offset,
                                    const void *data, uint32_t size)
{
}

static bool virtio_blk_start(VirtioDevice *vdev)
{
    return true;
}

/* Requests complete before they are used: nothing is in flight. */
static void virtio_blk_reset(VirtioDevice *vdev)
{
}

static bool virtio_blk_device_realize(VirtioDevice *vdev, GError **errp)
{
    VirtioBlk *s = VIRTIO_BLK(vdev);
    DiskOpenMode mode = s->readonly ? DISK_OPEN_READONLY
                        : s->snapshot ? DISK_OPEN_SNAPSHOT
                        : DISK_OPEN_READWRITE;

    s->disk = disk_open(s->image.path, mode, errp);
    if (!s->disk) {
        return false;
    }
    s->capacity = disk_size(s->disk) / VIRTIO_BLK_SECTOR;

    memset(s->config, 0, sizeof(s->config));
    put_le64(s->config + CFG_CAPACITY, s->capacity);
    put_le32(s->config + CFG_SEG_MAX, BLK_SEG_MAX);
    put_le32(s->config + CFG_BLK_SIZE, VIRTIO_BLK_SECTOR);
    put_le32(s->config + CFG_MAX_DISCARD_SECTORS, BLK_MAX_DISCARD_SECTORS);
    put_le32(s->config + CFG_MAX_DISCARD_SEG, BLK_MAX_DISCARD_SEG);
    put_le32(s->config + CFG_DISCARD_ALIGNMENT, BLK_DISCARD_ALIGNMENT);
    put_le32(s->config + CFG_MAX_WRITE_ZEROES_SECTORS,
             BLK_MAX_DISCARD_SECTORS);
    put_le32(s->config + CFG_MAX_WRITE_ZEROES_SEG, BLK_MAX_DISCARD_SEG);
    s->config[CFG_WRITE_ZEROES_MAY_UNMAP] = 1;
    return true;
}

/* After the transport is gone (no more requests): sync and close. */
static void virtio_blk_device_unrealize(VirtioDevice *vdev)
{
    VirtioBlk *s = VIRTIO_BLK(vdev);

    disk_close(s->disk, NULL);
    s->disk = NULL;
    g_clear_pointer(&s->iov, g_free);
    s->iov_cap = 0;
}

static void virtio_blk_class_init(ObjectClass *oc, const void *data)
{
    VirtioDeviceClass *vc = VIRTIO_DEVICE_CLASS(oc);

    oc->props = virtio_blk_props;
    DEVICE_CLASS(oc)->spec_list = "disks";
    vc->device_id = VIRTIO_ID_BLOCK;
    vc->num_queues = 1;
    vc->queue_max_size = BLK_QUEUE_SIZE;
    vc->get_features = virtio_blk_get_features;
    vc->config_size = CFG_SIZE;
    vc->read_config = virtio_blk_read_config;
    vc->write_config = virtio_blk_write_config;
    vc->start = virtio_blk_start;
    vc->reset = virtio_blk_reset;
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
