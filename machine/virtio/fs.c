/*
 * virtio-fs: a host directory shared with the guest (virtio 1.2, 5.11
 * "File System Device"), written in a spec's `shares:` list.  Device ID
 * 26; one high-priority queue and one request queue; no feature bits.
 * The guest mounts it by tag: `mount -t virtiofs TAG /mnt`.
 *
 * The FUSE requests on the queues are served by a vhost-user backend
 * (vhost-user-device.h): for `path:`, the virtiofsd vmspec runs, one per
 * share, for the life of the VM; for `socket:`, one someone else runs.
 *
 * The virtiofsd vmspec runs is Debian's C one (/usr/lib/qemu/virtiofsd;
 * VMSPEC_VIRTIOFSD names another with the same options).  It sandboxes
 * itself with namespaces and so needs root; vmspec says so at start
 * rather than let it fail with its own message.  It gets the listening
 * socket as fd 3 (--fd=3), bound before it starts at
 * RUNTIME/vmspec/NAME.share-ID.sock, so there is no wait for it to come
 * up and no window in which another process could bind that name; its
 * output goes to NAME.share-ID.log beside it.  `readonly: true` is
 * enforced below virtiofsd: it runs in its own mount namespace in which
 * the shared directory is a read-only bind mount, so the guest's writes
 * fail with EROFS whatever the guest or virtiofsd do.
 */
#include <string.h>
#include <unistd.h>

#include "machine/backend/daemon.h"
#include "machine/byteorder/le.h"
#include "machine/qom/context.h"
#include "machine/qom/error.h"
#include "machine/qom/host-claims.h"
#include "machine/qom/property.h"
#include "machine/virtio/vhost-user-device.h"

#define TYPE_VIRTIO_FS "virtio-fs"

#define VIRTIO_ID_FS            26      /* 5 "Device Types" */
#define FS_TAG_MAX              36      /* 5.11.4: tag[36] */
#define FS_CONFIG_SIZE          40      /* tag, le32 num_request_queues */
#define FS_REQUEST_QUEUES       1
#define FS_QUEUE_SIZE           1024
#define FS_STOP_TIMEOUT_MS      2000
#define VIRTIOFSD_DEFAULT       "/usr/lib/qemu/virtiofsd"

typedef struct VirtioFs {
    VhostUserDevice parent_obj;

    FilePath path;              /* the shared directory, or none */
    char *socket;               /* an external backend's socket, or NULL */
    char *tag;                  /* NULL: the id */
    char *mount;                /* where provisioning mounts it, or NULL */
    bool readonly;

    uint8_t config[FS_CONFIG_SIZE];
    Daemon *daemon;             /* the virtiofsd vmspec runs */
    char *socket_path;          /* where that one listens (we bound it) */
    char *scratch_dir;          /* runtime dir made when there is no run */
} VirtioFs;

#define VIRTIO_FS(obj) OBJECT_CHECK(VirtioFs, (obj), TYPE_VIRTIO_FS)

static const char *fs_tag(VirtioFs *fs)
{
    return fs->tag ? fs->tag : DEVICE(fs)->id;
}

static const char *virtiofsd_program(void)
{
    const char *p = g_getenv("VMSPEC_VIRTIOFSD");

    return p && *p ? p : VIRTIOFSD_DEFAULT;
}

/* virtiofsd's command line for the share; fd 3 is the listening socket. */
static GStrv virtiofsd_argv(VirtioFs *fs)
{
    GStrvBuilder *b = g_strv_builder_new();
    g_autofree char *source = g_strdup_printf("source=%s", fs->path.path);
    GStrv argv;

    g_strv_builder_add_many(b, virtiofsd_program(), "--fd=3", "-o", source,
                            "-o", "cache=auto", NULL);
    argv = g_strv_builder_end(b);
    g_strv_builder_unref(b);
    return argv;
}

/* 5.11.4: the tag is NUL-padded, and need not be NUL-terminated when it
 * is 36 bytes long. */
static bool fs_tag_check(const char *tag, GError **errp)
{
    if (!*tag || strlen(tag) > FS_TAG_MAX) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "a virtio-fs tag is 1 to %d bytes, not %zu", FS_TAG_MAX,
                    strlen(tag));
        return false;
    }
    return true;
}

static bool fs_mount_check(const char *dir, GError **errp)
{
    if (dir[0] != '/' || strpbrk(dir, " \t\n\\")) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "'%s' is not a mount point: an absolute guest path "
                    "without blanks or '\\'", dir);
        return false;
    }
    return true;
}

static const Property virtio_fs_props[] = {
    PROP_DIR("path", VirtioFs, path, false,
             "Host directory to share, relative to the spec; vmspec runs a "
             "virtiofsd for it (as root)"),
    PROP_STRING("socket", VirtioFs, socket, NULL,
                "Instead of path: the vhost-user socket of a virtio-fs "
                "backend someone else runs"),
    PROP_STRING_CHECKED("tag", VirtioFs, tag, NULL, fs_tag_check, NULL,
                        "Name the guest mounts it by (mount -t virtiofs TAG "
                        "DIR); the id when not set; at most 36 bytes"),
    PROP_BOOL("readonly", VirtioFs, readonly, false,
              "The guest may not write (the host refuses with EROFS); with "
              "path only"),
    PROP_STRING_CHECKED("mount", VirtioFs, mount, NULL, fs_mount_check,
                        "^/", "Guest directory `provision:` mounts it at "
                        "(an /etc/fstab entry, nofail)"),
    PROP_END,
};

static bool virtio_fs_check(DeviceState *dev, const char **key,
                            GError **errp)
{
    VirtioFs *fs = VIRTIO_FS(dev);
    bool has_path = fs->path.path && *fs->path.path;

    if (has_path && fs->socket) {
        *key = "socket";
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "a share has a path or a socket, not both");
        return false;
    }
    if (!has_path && !fs->socket) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "a share needs a path (a host directory) or a socket "
                    "(a virtio-fs backend's)");
        return false;
    }
    if (fs->socket && fs->readonly) {
        *key = "readonly";
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "readonly is enforced by the virtiofsd vmspec runs for "
                    "a path; a backend on a socket decides for itself");
        return false;
    }
    if (!fs_tag(fs)) {
        *key = NULL;
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "a share needs an id or a tag");
        return false;
    }
    if (!fs->tag && !fs_tag_check(DEVICE(fs)->id, NULL)) {
        *key = "id";
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "the id is the tag, which is at most %d bytes: set a "
                    "shorter tag", FS_TAG_MAX);
        return false;
    }
    /* The default made explicit, so that `plan` shows the tag the guest
     * mounts by. */
    if (!fs->tag) {
        fs->tag = g_strdup(DEVICE(fs)->id);
    }
    return true;
}

/* Tags tell shares apart in the guest: unique within a VM. */
static void virtio_fs_host_claims(DeviceState *dev, HostClaims *claims)
{
    VirtioFs *fs = VIRTIO_FS(dev);

    if (fs_tag(fs)) {
        host_claims_add_for(claims, dev, "share", HOST_CLAIM_GUEST_NAME,
                            fs_tag(fs), false, "the virtio-fs tag");
    }
}

static char *virtio_fs_describe_backend(DeviceState *dev)
{
    VirtioFs *fs = VIRTIO_FS(dev);
    g_auto(GStrv) argv = NULL;
    g_autofree char *line = NULL;

    if (fs->socket) {
        return g_strdup_printf("socket %s", fs->socket);
    }
    if (!fs->path.path) {
        return NULL;
    }
    argv = virtiofsd_argv(fs);
    line = daemon_describe_argv((const char *const *)argv);
    if (fs->readonly) {
        return g_strconcat(line, " (the directory mounted read-only for it)",
                           NULL);
    }
    return g_steal_pointer(&line);
}

static char *start_virtiofsd(VirtioFs *fs, GError **errp)
{
    const DeviceContext *ctx = VIRTIO_DEVICE(fs)->ctx;
    const char *id = DEVICE(fs)->id ? DEVICE(fs)->id : fs_tag(fs);
    g_autofree char *prefix = NULL, *log = NULL, *name = NULL;
    g_auto(GStrv) argv = NULL;
    int listen_fd;

    if (geteuid() != 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "the packaged virtiofsd (%s) runs only as root, and "
                    "vmspec is not running as root: run vmspec as root, or "
                    "start a virtio-fs backend that runs unprivileged (such "
                    "as the Rust virtiofsd) yourself and give its socket "
                    "as `socket:` instead of `path:`", virtiofsd_program());
        return NULL;
    }
    if (!(prefix = daemon_runtime_prefix(ctx->runtime_prefix,
                                         &fs->scratch_dir, errp))) {
        return NULL;
    }
    fs->socket_path = g_strdup_printf("%s.share-%s.sock", prefix, id);
    log = g_strdup_printf("%s.share-%s.log", prefix, id);
    name = g_strdup_printf("virtiofsd for share '%s'", id);
    if ((listen_fd = daemon_listen_unix(fs->socket_path, errp)) < 0) {
        return NULL;
    }
    argv = virtiofsd_argv(fs);
    {
        DaemonOptions opts = {
            .name = name,
            .argv = (const char *const *)argv,
            .pass_fds = &listen_fd,
            .n_pass_fds = 1,
            .readonly_path = fs->readonly ? fs->path.path : NULL,
            .log_path = log,
        };

        fs->daemon = daemon_start(&opts, errp);
    }
    /* The daemon holds the listening socket now; ours would keep a
     * connect succeeding after it died. */
    close(listen_fd);
    return fs->daemon ? g_strdup(fs->socket_path) : NULL;
}

static char *virtio_fs_backend_start(VhostUserDevice *d, GError **errp)
{
    VirtioFs *fs = VIRTIO_FS(d);
    const char *tag = fs_tag(fs);

    /* 5.11.4: NUL-padded tag, then num_request_queues. */
    memset(fs->config, 0, sizeof(fs->config));
    memcpy(fs->config, tag, MIN(strlen(tag), (size_t)FS_TAG_MAX));
    le32_store(fs->config + FS_TAG_MAX, FS_REQUEST_QUEUES);
    return fs->socket ? g_strdup(fs->socket) : start_virtiofsd(fs, errp);
}

/* When the socket closed, virtiofsd is usually on its way out: give it a
 * moment, so the message can say how it ended. */
static char *virtio_fs_backend_state(VhostUserDevice *d)
{
    VirtioFs *fs = VIRTIO_FS(d);
    g_autofree char *summary = NULL;

    if (!fs->daemon) {
        return NULL;
    }
    for (int i = 0; i < 20 && !daemon_exited(fs->daemon); i++) {
        g_usleep(10000);
    }
    summary = daemon_exit_summary(fs->daemon);
    return g_strdup_printf("virtiofsd %s", summary);
}

static void virtio_fs_backend_stop(VhostUserDevice *d)
{
    VirtioFs *fs = VIRTIO_FS(d);

    if (fs->daemon) {
        daemon_stop(fs->daemon, FS_STOP_TIMEOUT_MS);
        g_clear_pointer(&fs->daemon, daemon_free);
    }
    if (fs->socket_path) {
        (void)unlink(fs->socket_path);
        g_clear_pointer(&fs->socket_path, g_free);
    }
    if (fs->scratch_dir) {
        (void)rmdir(fs->scratch_dir);
        g_clear_pointer(&fs->scratch_dir, g_free);
    }
}

static void virtio_fs_read_config(VirtioDevice *vdev, uint32_t offset,
                                  void *data, uint32_t size)
{
    VirtioFs *fs = VIRTIO_FS(vdev);

    if (offset <= FS_CONFIG_SIZE && size <= FS_CONFIG_SIZE - offset) {
        memcpy(data, fs->config + offset, size);
    }
}

static void virtio_fs_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    VirtioDeviceClass *vc = VIRTIO_DEVICE_CLASS(oc);
    VhostUserDeviceClass *uc = VHOST_USER_DEVICE_CLASS(oc);

    oc->props = virtio_fs_props;
    dc->spec_list = "shares";
    dc->check = virtio_fs_check;
    dc->host_claims = virtio_fs_host_claims;
    dc->describe_backend = virtio_fs_describe_backend;
    vc->device_id = VIRTIO_ID_FS;
    vc->num_queues = 1 + FS_REQUEST_QUEUES;
    vc->queue_max_size = FS_QUEUE_SIZE;
    vc->config_size = FS_CONFIG_SIZE;
    vc->read_config = virtio_fs_read_config;
    uc->role = "share";
    uc->backend_start = virtio_fs_backend_start;
    uc->backend_state = virtio_fs_backend_state;
    uc->backend_stop = virtio_fs_backend_stop;
}

static const TypeInfo virtio_fs_info = {
    .name = TYPE_VIRTIO_FS,
    .parent = TYPE_VHOST_USER_DEVICE,
    .description = "shared host directory (virtio-fs, served by virtiofsd)",
    .instance_size = sizeof(VirtioFs),
    .class_init = virtio_fs_class_init,
};

static void virtio_fs_register_types(void)
{
    type_register_static(&virtio_fs_info);
}

type_init(virtio_fs_register_types)
