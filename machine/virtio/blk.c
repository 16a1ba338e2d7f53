/*
 * virtio-blk: a disk image as a virtio block device (virtio 1.2, section
 * 5.2 "Block Device").  Written in a spec's `disks:` list.
 *
 * Device ID 2, one request queue.  How the requests are served depends on
 * the disk:
 *  - `format: raw` (the default): by vmspec itself, below.
 *  - `format: qcow2`: by a qemu-storage-daemon vmspec runs for the disk
 *    (machine/backend/storage-daemon.h), over vhost-user-blk.
 *  - `vhost_user: SOCKET`: by a vhost-user-blk backend someone else runs
 *    (SPDK, a storage daemon of one's own).
 * The format is the spec's word, never guessed from the image's bytes.
 * With a backend (vhost-user-link.h) the capacity, limits and features
 * are the backend's (GET_CONFIG), of which the driver sees SIZE_MAX,
 * SEG_MAX, BLK_SIZE, TOPOLOGY, FLUSH, DISCARD, WRITE_ZEROES and RO; not
 * CONFIG_WCE (the cache mode is the daemon's) nor MQ (one queue).  A
 * backend answers GET_ID itself: qemu-storage-daemon 7.2 gives
 * "vhost_user_blk", not the disk's id.
 *
 * Raw disks offer SEG_MAX, BLK_SIZE (512-byte logical blocks), FLUSH,
 * DISCARD and WRITE_ZEROES (holes punched in the image,
 * machine/backend/disk.h), and RO for `readonly: true`.  The capacity is
 * the image's size in 512-byte sectors, rounded down.
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
#include <unistd.h>

#include "machine/backend/daemon.h"
#include "machine/backend/image-chain.h"
#include "machine/backend/storage-daemon.h"
#include "machine/byteorder/le.h"
#include "machine/qom/device.h"
#include "machine/qom/error.h"
#include "machine/qom/host-claims.h"
#include "machine/qom/property.h"
#include "machine/qom/context.h"
#include "machine/vhost/vhost-user.h"
#include "machine/virtio/blk-request.h"
#include "machine/virtio/vhost-user-link.h"
#include "machine/virtio/virtio.h"

#define TYPE_VIRTIO_BLK "virtio-blk"

#define VIRTIO_ID_BLOCK         2       /* 5 "Device Types" */

/* 5.2.3 "Feature bits". */
#define VIRTIO_BLK_F_SIZE_MAX       1
#define VIRTIO_BLK_F_SEG_MAX        2
#define VIRTIO_BLK_F_RO             5
#define VIRTIO_BLK_F_BLK_SIZE       6
#define VIRTIO_BLK_F_FLUSH          9
#define VIRTIO_BLK_F_TOPOLOGY       10
#define VIRTIO_BLK_F_DISCARD        13
#define VIRTIO_BLK_F_WRITE_ZEROES   14

/* What the driver may see of a backend's offer (see the top). */
#define BACKEND_FEATURES ((1ULL << VIRTIO_BLK_F_SIZE_MAX) |                 \
                          (1ULL << VIRTIO_BLK_F_SEG_MAX) |                  \
                          (1ULL << VIRTIO_BLK_F_RO) |                       \
                          (1ULL << VIRTIO_BLK_F_BLK_SIZE) |                 \
                          (1ULL << VIRTIO_BLK_F_FLUSH) |                    \
                          (1ULL << VIRTIO_BLK_F_TOPOLOGY) |                 \
                          (1ULL << VIRTIO_BLK_F_DISCARD) |                  \
                          (1ULL << VIRTIO_BLK_F_WRITE_ZEROES))

/* 5.2.4 "Device configuration layout": offsets of the fields we fill; the
 * rest (size_max, geometry, topology, writeback, num_queues) stays 0. */
#define CFG_CAPACITY                0
#define CFG_SEG_MAX                 12
#define CFG_WRITEBACK               32
#define CFG_BLK_SIZE                20
#define CFG_MAX_DISCARD_SECTORS     36
#define CFG_MAX_DISCARD_SEG         40
#define CFG_DISCARD_ALIGNMENT       44
#define CFG_MAX_WRITE_ZEROES_SECTORS 48
#define CFG_MAX_WRITE_ZEROES_SEG    52
#define CFG_WRITE_ZEROES_MAY_UNMAP  56
#define CFG_SIZE                    60  /* up to unused1[3] */

/* The values of `format`, indexed by ImageFormat. */
static const char *const blk_format_names[] = {
    [IMAGE_FORMAT_RAW] = "raw",
    [IMAGE_FORMAT_QCOW2] = "qcow2",
    NULL,
};

typedef struct VirtioBlk {
    VirtioDevice parent_obj;
    FilePath image;
    int format;                 /* ImageFormat */
    char *vhost_user;           /* an external backend's socket, or NULL */
    bool readonly;
    bool snapshot;

    VirtioBlkTarget target;     /* raw: the open image while realized */
    VhostUserLink link;         /* qcow2, vhost_user: the backend */
    StorageDaemon *daemon;      /* qcow2: the one vmspec runs */
    char *scratch_dir;          /* the daemon's directory outside a run */
    uint8_t config[CFG_SIZE];   /* little-endian, fixed after realize */
} VirtioBlk;

#define VIRTIO_BLK(obj) OBJECT_CHECK(VirtioBlk, (obj), TYPE_VIRTIO_BLK)

static const Property virtio_blk_props[] = {
    PROP_PATH("path", VirtioBlk, image, false,
              "Disk image file, in the format `format` says"),
    PROP_ENUM("format", VirtioBlk, format, IMAGE_FORMAT_RAW, blk_format_names,
              "Format of the image: raw (served by vmspec) or qcow2 (with "
              "its backing files, served by a qemu-storage-daemon vmspec "
              "runs); never guessed from the file"),
    PROP_STRING("vhost_user", VirtioBlk, vhost_user, NULL,
                "Instead of path: the socket of a vhost-user-blk backend "
                "someone else runs"),
    PROP_BOOL("readonly", VirtioBlk, readonly, false,
              "Expose the disk read-only (VIRTIO_BLK_F_RO)"),
    PROP_BOOL("snapshot", VirtioBlk, snapshot, false,
              "Send writes to a throwaway overlay; the image is unchanged"),
    PROP_END,
};

/* Served by a vhost-user backend rather than by vmspec. */
static bool blk_has_backend(const VirtioBlk *s)
{
    return s->format != IMAGE_FORMAT_RAW || s->vhost_user;
}

static bool blk_has_path(const VirtioBlk *s)
{
    return s->image.path && *s->image.path;
}

static ImageFormat blk_image_format(const VirtioBlk *s)
{
    return (ImageFormat)s->format;
}

static StorageExportMode blk_export_mode(const VirtioBlk *s)
{
    return s->readonly ? STORAGE_EXPORT_READONLY
           : s->snapshot ? STORAGE_EXPORT_SNAPSHOT
           : STORAGE_EXPORT_WRITABLE;
}

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

    if (blk_has_backend(s)) {
        return vhost_user_link_features(&s->link, BACKEND_FEATURES);
    }
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

static bool virtio_blk_realize_raw(VirtioBlk *s, GError **errp)
{
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

/* The qemu-storage-daemon for the disk; returns its socket. */
static char *start_storage_daemon(VirtioBlk *s, GError **errp)
{
    const DeviceContext *ctx = VIRTIO_DEVICE(s)->ctx;
    const char *id = DEVICE(s)->id ? DEVICE(s)->id : "disk";
    g_autofree char *prefix = daemon_runtime_prefix(ctx->runtime_prefix,
                                                    &s->scratch_dir, errp);
    g_autofree char *socket = NULL, *log = NULL, *name = NULL;

    if (!prefix) {
        return NULL;
    }
    socket = g_strdup_printf("%s.disk-%s.sock", prefix, id);
    log = g_strdup_printf("%s.disk-%s.log", prefix, id);
    name = g_strdup_printf("disk '%s'", id);
    {
        StorageDaemonOptions opts = {
            .name = name,
            .path = s->image.path,
            .format = blk_image_format(s),
            .mode = blk_export_mode(s),
            .socket_path = socket,
            .log_path = log,
        };

        s->daemon = storage_daemon_start(&opts, errp);
    }
    return s->daemon ? g_steal_pointer(&socket) : NULL;
}

static void stop_backend(VirtioBlk *s)
{
    vhost_user_link_close(&s->link);
    g_clear_pointer(&s->daemon, storage_daemon_stop);
    if (s->scratch_dir) {
        (void)rmdir(s->scratch_dir);
        g_clear_pointer(&s->scratch_dir, g_free);
    }
}

static char *blk_backend_state(void *opaque)
{
    VirtioBlk *s = opaque;

    return storage_daemon_state(s->daemon);
}

static bool virtio_blk_realize_backend(VirtioBlk *s, GError **errp)
{
    VirtioDevice *vdev = VIRTIO_DEVICE(s);
    g_autofree char *socket = NULL;
    g_autoptr(GError) err = NULL;

    vdev->backend_serves_queues = true;
    socket = s->vhost_user ? g_strdup(s->vhost_user)
                           : start_storage_daemon(s, &err);
    if (!socket ||
        !vhost_user_link_connect(&s->link, socket, 1,
                                 1ULL << VHOST_USER_PROTOCOL_F_CONFIG,
                                 &err) ||
        !vhost_user_link_get_config(&s->link, s->config, CFG_SIZE, &err)) {
        storage_daemon_explain(s->daemon, err);
        stop_backend(s);
        g_propagate_error(errp, g_steal_pointer(&err));
        return false;
    }
    storage_daemon_serving(s->daemon);
    /* No CONFIG_WCE is offered: the field means nothing to the driver. */
    s->config[CFG_WRITEBACK] = 0;
    return true;
}

static bool virtio_blk_device_realize(VirtioDevice *vdev, GError **errp)
{
    VirtioBlk *s = VIRTIO_BLK(vdev);

    return blk_has_backend(s) ? virtio_blk_realize_backend(s, errp)
                              : virtio_blk_realize_raw(s, errp);
}

/* After the transport is gone (no more requests): sync and close; a
 * backend is stopped after the link's last reset, so its in-flight
 * requests are done and the daemon flushes as it exits. */
static void virtio_blk_device_unrealize(VirtioDevice *vdev)
{
    VirtioBlk *s = VIRTIO_BLK(vdev);

    if (blk_has_backend(s)) {
        stop_backend(s);
        return;
    }
    disk_close(s->target.disk, NULL);
    g_free(s->target.iov);
    memset(&s->target, 0, sizeof(s->target));
}

static bool virtio_blk_start(VirtioDevice *vdev)
{
    VirtioBlk *s = VIRTIO_BLK(vdev);

    return !blk_has_backend(s) || vhost_user_link_start(&s->link);
}

/* Raw disks have nothing to drop: a request completes within
 * queue_notify, so none is in flight when the driver resets. */
static void virtio_blk_reset(VirtioDevice *vdev)
{
    VirtioBlk *s = VIRTIO_BLK(vdev);

    if (blk_has_backend(s)) {
        vhost_user_link_reset(&s->link);
    }
}

static bool virtio_blk_needs_shared_ram(DeviceState *dev)
{
    return blk_has_backend(VIRTIO_BLK(dev));
}

static bool blk_check_error(const char **key, const char *at, GError **errp,
                            const char *message)
{
    *key = at;
    g_set_error_literal(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID, message);
    return false;
}

/* The keys together; and a qcow2 image's backing chain, reported at
 * `path` (a missing top is the file check's to report). */
static bool virtio_blk_check(DeviceState *dev, const char **key,
                             GError **errp)
{
    VirtioBlk *s = VIRTIO_BLK(dev);
    g_autoptr(ImageChain) chain = NULL;

    if (s->vhost_user) {
        if (blk_has_path(s)) {
            return blk_check_error(key, "vhost_user", errp,
                                   "a disk has a path or a vhost_user "
                                   "socket, not both");
        }
        if (s->format != IMAGE_FORMAT_RAW) {
            return blk_check_error(key, "format", errp,
                                   "the format of a vhost_user disk is its "
                                   "backend's business: leave format out");
        }
        if (s->snapshot || s->readonly) {
            return blk_check_error(key, s->snapshot ? "snapshot" : "readonly",
                                   errp, "snapshot and readonly are for "
                                   "images vmspec opens; a vhost_user "
                                   "backend decides for itself");
        }
        return true;
    }
    if (!blk_has_path(s)) {
        return blk_check_error(key, NULL, errp,
                               "a disk needs a path (an image file) or a "
                               "vhost_user socket (a backend's)");
    }
    if (s->format != IMAGE_FORMAT_QCOW2 ||
        !g_file_test(s->image.path, G_FILE_TEST_EXISTS)) {
        return true;
    }
    if (!(chain = image_chain_open(s->image.path, IMAGE_FORMAT_QCOW2,
                                   errp))) {
        *key = "path";
        return false;
    }
    return true;
}

/* Its image: written unless the guest may only read it, or its writes go
 * to a private overlay (snapshot); a qcow2 image's backing files, read. */
static void virtio_blk_host_claims(DeviceState *dev, HostClaims *claims)
{
    VirtioBlk *s = VIRTIO_BLK(dev);
    bool writes = !s->readonly && !s->snapshot;
    g_autoptr(ImageChain) chain = NULL;

    if (!blk_has_path(s)) {
        return;
    }
    host_claims_add_for(claims, dev, "disk", HOST_CLAIM_FILE, s->image.path,
                        writes, writes ? "the writable disk image"
                                       : "the disk image");
    if (s->format == IMAGE_FORMAT_RAW ||
        !(chain = image_chain_open(s->image.path, blk_image_format(s),
                                   NULL))) {
        return;
    }
    for (guint i = 1; i < chain->layers->len; i++) {
        const ImageLayer *l = g_ptr_array_index(chain->layers, i);

        host_claims_add_for(claims, dev, "disk", HOST_CLAIM_FILE, l->path,
                            false, "a backing file of the disk image");
    }
}

/* qcow2: the daemon's command line and the chain; vhost_user: the
 * socket. */
static char *virtio_blk_describe_backend(DeviceState *dev)
{
    VirtioBlk *s = VIRTIO_BLK(dev);
    g_autoptr(ImageChain) chain = NULL;
    g_autofree char *layers = NULL;
    g_auto(GStrv) argv = NULL;
    g_autofree char *line = NULL;

    if (s->vhost_user) {
        return g_strdup_printf("vhost-user-blk socket %s", s->vhost_user);
    }
    if (s->format == IMAGE_FORMAT_RAW || !blk_has_path(s) ||
        !(chain = image_chain_open(s->image.path, blk_image_format(s),
                                   NULL))) {
        return NULL;
    }
    argv = storage_daemon_argv(chain, blk_export_mode(s), NULL);
    line = daemon_describe_argv((const char *const *)argv);
    layers = image_chain_describe(chain);
    return g_strdup_printf("%s (chain: %s)", line, layers);
}

static void virtio_blk_init(Object *obj)
{
    VirtioBlk *s = VIRTIO_BLK(obj);

    vhost_user_link_init(&s->link, VIRTIO_DEVICE(s), "disk",
                         blk_backend_state, s);
}

static void virtio_blk_finalize(Object *obj)
{
    vhost_user_link_destroy(&VIRTIO_BLK(obj)->link);
}

static void virtio_blk_class_init(ObjectClass *oc, const void *data)
{
    VirtioDeviceClass *vc = VIRTIO_DEVICE_CLASS(oc);

    oc->props = virtio_blk_props;
    DEVICE_CLASS(oc)->spec_list = "disks";
    DEVICE_CLASS(oc)->check = virtio_blk_check;
    DEVICE_CLASS(oc)->host_claims = virtio_blk_host_claims;
    DEVICE_CLASS(oc)->describe_backend = virtio_blk_describe_backend;
    DEVICE_CLASS(oc)->needs_shared_ram = virtio_blk_needs_shared_ram;
    vc->device_id = VIRTIO_ID_BLOCK;
    vc->num_queues = 1;
    vc->queue_max_size = BLK_QUEUE_SIZE;
    vc->get_features = virtio_blk_get_features;
    vc->config_size = CFG_SIZE;
    vc->read_config = virtio_blk_read_config;
    /* No write_config: nothing in the configuration space is writable (no
     * VIRTIO_BLK_F_CONFIG_WCE). */
    vc->start = virtio_blk_start;
    vc->reset = virtio_blk_reset;
    vc->queue_notify = virtio_blk_queue_notify;
    vc->device_realize = virtio_blk_device_realize;
    vc->device_unrealize = virtio_blk_device_unrealize;
}

static const TypeInfo virtio_blk_info = {
    .name = TYPE_VIRTIO_BLK,
    .parent = TYPE_VIRTIO_DEVICE,
    .description = "virtio block device backed by a disk image (raw, or "
                   "qcow2 through qemu-storage-daemon) or a vhost-user-blk "
                   "backend",
    .instance_size = sizeof(VirtioBlk),
    .instance_init = virtio_blk_init,
    .instance_finalize = virtio_blk_finalize,
    .class_init = virtio_blk_class_init,
};

static void virtio_blk_register_types(void)
{
    type_register_static(&virtio_blk_info);
}

type_init(virtio_blk_register_types)
