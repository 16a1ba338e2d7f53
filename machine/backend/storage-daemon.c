/*
 * Disk images served by qemu-storage-daemon (storage-daemon.h).
 *
 * The daemon's options are QEMU's QAPI types (qapi/block-core.json
 * BlockdevOptions, qapi/block-export.json BlockExportOptions), written as
 * JSON so that no file name is ever parsed as a list of key=value pairs.
 */
#include "machine/backend/storage-daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "machine/backend/daemon.h"
#include "machine/backend/image-lock.h"
#include "machine/qom/error.h"

/* The export's id in the daemon (one per daemon). */
#define EXPORT_ID           "disk"
#define OVERLAY_NODE        "overlay"
#define SNAPSHOT_PLACEHOLDER "$TMPDIR/vmspec-snapshot-XXXXXX.qcow2"

struct StorageDaemon {
    Daemon *daemon;
    char *top_path;
    char *socket_path;
    char *overlay_path;             /* snapshot: until the daemon has it */
    GArray *lock_fds;               /* int: the layers vmspec holds */
};

const char *storage_daemon_program(void)
{
    const char *p = g_getenv("VMSPEC_QEMU_STORAGE_DAEMON");

    return p && *p ? p : STORAGE_DAEMON_DEFAULT;
}

/* A JSON string (RFC 8259, 7): quotes, backslashes and controls escaped;
 * other bytes as they are (file names are bytes; QEMU reads them back as
 * such). */
static void json_string_append(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            g_string_append_printf(out, "\\%c", *p);
        } else if (*p < 0x20 || *p == 0x7f) {
            g_string_append_printf(out, "\\u%04x", *p);
        } else {
            g_string_append_c(out, (char)*p);
        }
    }
    g_string_append_c(out, '"');
}

/* The protocol node of a layer: "file" for a regular file, "host_device"
 * for a block device (QEMU refuses the other way round). */
static void append_file_node(GString *out, const char *path, bool writable)
{
    struct stat st;
    bool block = stat(path, &st) == 0 && S_ISBLK(st.st_mode);

    g_string_append_printf(out, "{\"driver\":\"%s\",\"filename\":",
                           block ? "host_device" : "file");
    json_string_append(out, path);
    /* Discards the guest sends punch holes in the file, as for raw disks. */
    g_string_append(out, writable ? ",\"discard\":\"unmap\"}" : "}");
}

/* --blockdev for one layer; backing: the node below it, NULL for none. */
static char *layer_blockdev(const char *node, const char *path,
                            ImageFormat format, bool writable,
                            const char *backing)
{
    GString *out = g_string_new(NULL);

    g_string_append_printf(out, "{\"driver\":\"%s\",\"node-name\":\"%s\","
                           "\"read-only\":%s,",
                           image_format_name(format), node,
                           writable ? "false" : "true");
    if (format == IMAGE_FORMAT_QCOW2) {
        /* Always named, null included: the daemon must not open the
         * backing file the header names on its own. */
        if (backing) {
            g_string_append_printf(out, "\"backing\":\"%s\",", backing);
        } else {
            g_string_append(out, "\"backing\":null,");
        }
    }
    if (writable) {
        g_string_append(out, "\"discard\":\"unmap\",");
    }
    g_string_append(out, "\"file\":");
    append_file_node(out, path, writable);
    g_string_append_c(out, '}');
    return g_string_free(out, false);
}

GStrv storage_daemon_argv(const ImageChain *chain, StorageExportMode mode,
                          const char *overlay)
{
    GStrvBuilder *b = g_strv_builder_new();
    guint n = chain->layers->len;
    bool top_writable = mode == STORAGE_EXPORT_WRITABLE;
    g_autofree char *export = NULL;
    GStrv argv;

    g_strv_builder_add(b, storage_daemon_program());
    /* Bottom first: a node's backing must exist when it is added. */
    for (guint i = n; i-- > 0;) {
        const ImageLayer *l = g_ptr_array_index(chain->layers, i);
        g_autofree char *node = g_strdup_printf("layer%u", i);
        g_autofree char *backing = i + 1 < n
            ? g_strdup_printf("layer%u", i + 1) : NULL;
        g_autofree char *json = layer_blockdev(node, l->path, l->format,
                                               i == 0 && top_writable,
                                               backing);

        g_strv_builder_add_many(b, "--blockdev", json, NULL);
    }
    if (mode == STORAGE_EXPORT_SNAPSHOT) {
        g_autofree char *json = layer_blockdev(
            OVERLAY_NODE, overlay ? overlay : SNAPSHOT_PLACEHOLDER,
            IMAGE_FORMAT_QCOW2, true, "layer0");

        g_strv_builder_add_many(b, "--blockdev", json, NULL);
    }
    /* qapi/block-export.json: BlockExportOptionsVhostUserBlk; fd 3 is the
     * listening socket vmspec bound. */
    export = g_strdup_printf(
        "{\"type\":\"vhost-user-blk\",\"id\":\"" EXPORT_ID "\","
        "\"node-name\":\"%s\",\"writable\":%s,\"num-queues\":1,"
        "\"addr\":{\"type\":\"fd\",\"str\":\"3\"}}",
        mode == STORAGE_EXPORT_SNAPSHOT ? OVERLAY_NODE : "layer0",
        mode == STORAGE_EXPORT_READONLY ? "false" : "true");
    g_strv_builder_add_many(b, "--export", export, NULL);
    argv = g_strv_builder_end(b);
    g_strv_builder_unref(b);
    return argv;
}

/* Opens path read-only and checks (test_only) or takes role's lock; the
 * fd is kept in sd->lock_fds when taken. */
static bool lock_layer(StorageDaemon *sd, const char *path,
                       ImageLockRole role, bool test_only, GError **errp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    bool ok;

    if (fd < 0) {
        g_set_error(errp, VMSPEC_ERROR,
                    errno == ENOENT ? VMSPEC_ERROR_NOT_FOUND
                                    : VMSPEC_ERROR_IO,
                    "cannot open disk image %s: %s", path,
                    g_strerror(errno));
        return false;
    }
    ok = test_only ? image_lock_test(fd, path, role, errp)
                   : image_lock_take(fd, path, role, errp);
    if (ok && !test_only) {
        g_array_append_val(sd->lock_fds, fd);
    } else {
        close(fd);
    }
    return ok;
}

/* The writable top is only tested (the daemon will hold it as a writer,
 * which excludes any lock of vmspec's); what the daemon only reads,
 * vmspec holds as a reader. */
static bool lock_chain(StorageDaemon *sd, const ImageChain *chain,
                       StorageExportMode mode, GError **errp)
{
    for (guint i = 0; i < chain->layers->len; i++) {
        const ImageLayer *l = g_ptr_array_index(chain->layers, i);
        bool written = i == 0 && mode == STORAGE_EXPORT_WRITABLE;

        if (!lock_layer(sd, l->path,
                        written ? IMAGE_LOCK_WRITER : IMAGE_LOCK_READER,
                        written, errp)) {
            return false;
        }
    }
    return true;
}

/* An empty qcow2 of size bytes in $TMPDIR, for the snapshot's writes. */
static char *make_overlay(uint64_t size, GError **errp)
{
    g_autofree char *qemu_img = g_find_program_in_path("qemu-img");
    g_autofree char *path = NULL;
    g_autofree char *size_arg = g_strdup_printf("%" G_GUINT64_FORMAT, size);
    g_autofree char *out = NULL;
    GError *err = NULL;
    int status, fd;

    if (!qemu_img) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND,
                    "snapshot: true on a qcow2 disk needs qemu-img (Debian's "
                    "qemu-utils) to make the overlay, and it is not in PATH");
        return NULL;
    }
    fd = g_file_open_tmp("vmspec-snapshot-XXXXXX.qcow2", &path, &err);
    if (fd < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot make the snapshot overlay: %s", err->message);
        g_error_free(err);
        return NULL;
    }
    close(fd);
    {
        const char *argv[] = { qemu_img, "create", "-q", "-f", "qcow2",
                               path, size_arg, NULL };

        if (!g_spawn_sync(NULL, (char **)argv, NULL,
                          G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &out,
                          &status, &err) ||
            !g_spawn_check_wait_status(status, &err)) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                        "cannot make the snapshot overlay %s: %s%s%s", path,
                        err->message, out && *out ? ": " : "",
                        out ? g_strstrip(out) : "");
            g_error_free(err);
            (void)unlink(path);
            return NULL;
        }
    }
    return g_steal_pointer(&path);
}

static void unlink_overlay(StorageDaemon *sd)
{
    if (sd->overlay_path) {
        (void)unlink(sd->overlay_path);
        g_clear_pointer(&sd->overlay_path, g_free);
    }
}

static bool start_daemon(StorageDaemon *sd, const ImageChain *chain,
                         const StorageDaemonOptions *o, GError **errp)
{
    g_auto(GStrv) argv = storage_daemon_argv(chain, o->mode,
                                             sd->overlay_path);
    g_autofree char *name = g_strdup_printf("qemu-storage-daemon for %s",
                                            o->name);
    int listen_fd;

    if (access(argv[0], X_OK) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND,
                    "%s disks are served by qemu-storage-daemon, and %s "
                    "cannot be run (%s): install Debian's "
                    "qemu-system-common, or name the program in "
                    "VMSPEC_QEMU_STORAGE_DAEMON",
                    image_format_name(o->format), argv[0], g_strerror(errno));
        return false;
    }
    if ((listen_fd = daemon_listen_unix(o->socket_path, errp)) < 0) {
        return false;
    }
    sd->socket_path = g_strdup(o->socket_path);
    {
        DaemonOptions opts = {
            .name = name,
            .argv = (const char *const *)argv,
            .pass_fds = &listen_fd,
            .n_pass_fds = 1,
            .log_path = o->log_path,
            .death_signal = SIGTERM,
        };

        sd->daemon = daemon_start(&opts, errp);
    }
    /* The daemon holds the listening socket now; ours would keep a
     * connect succeeding after it died. */
    close(listen_fd);
    return sd->daemon != NULL;
}

StorageDaemon *storage_daemon_start(const StorageDaemonOptions *o,
                                    GError **errp)
{
    g_autoptr(ImageChain) chain = image_chain_open(o->path, o->format, errp);
    StorageDaemon *sd;

    if (!chain) {
        return NULL;
    }
    sd = g_new0(StorageDaemon, 1);
    sd->top_path = g_strdup(o->path);
    sd->lock_fds = g_array_new(false, false, sizeof(int));
    if (!lock_chain(sd, chain, o->mode, errp)) {
        goto fail;
    }
    if (o->mode == STORAGE_EXPORT_SNAPSHOT) {
        const ImageLayer *top = g_ptr_array_index(chain->layers, 0);

        if (!(sd->overlay_path = make_overlay(top->virtual_size, errp))) {
            goto fail;
        }
    }
    if (!start_daemon(sd, chain, o, errp)) {
        goto fail;
    }
    return sd;

fail:
    storage_daemon_stop(sd);
    return NULL;
}

void storage_daemon_serving(StorageDaemon *sd)
{
    if (sd) {
        unlink_overlay(sd);
    }
}

/* When the socket closed, the daemon is usually on its way out: give it
 * a moment, so that a message can say how it ended.  True if it did. */
static bool wait_exit(StorageDaemon *sd)
{
    for (int i = 0; i < 20 && !daemon_exited(sd->daemon); i++) {
        g_usleep(10000);
    }
    return daemon_exited(sd->daemon);
}

char *storage_daemon_state(StorageDaemon *sd)
{
    g_autofree char *summary = NULL;

    if (!sd || !sd->daemon) {
        return NULL;
    }
    wait_exit(sd);
    summary = daemon_exit_summary(sd->daemon);
    return g_strdup_printf("qemu-storage-daemon %s", summary);
}

/* QEMU's block/file-posix.c raw_check_lock_bytes(): 'Failed to get
 * "write" lock', then 'Is another process using the image [PATH]?'. */
void storage_daemon_explain(StorageDaemon *sd, GError *err)
{
    g_autofree char *log = NULL;
    const char *open_bracket, *close_bracket;
    g_autofree char *path = NULL;
    GError *busy = NULL;

    if (!sd || !sd->daemon || !wait_exit(sd)) {
        return;
    }
    log = daemon_log_tail(sd->daemon);
    if (!strstr(log, "Failed to get") || !strstr(log, " lock")) {
        return;
    }
    open_bracket = strstr(log, "using the image [");
    close_bracket = open_bracket ? strstr(open_bracket, "]?") : NULL;
    path = close_bracket
        ? g_strndup(open_bracket + strlen("using the image ["),
                    close_bracket - open_bracket - strlen("using the image ["))
        : g_strdup(sd->top_path);
    image_lock_set_busy_error(&busy, path);
    err->code = busy->code;
    g_free(err->message);
    err->message = g_strdup(busy->message);
    g_error_free(busy);
}

void storage_daemon_stop(StorageDaemon *sd)
{
    if (!sd) {
        return;
    }
    if (sd->daemon) {
        daemon_stop(sd->daemon, STORAGE_DAEMON_STOP_TIMEOUT_MS);
        g_clear_pointer(&sd->daemon, daemon_free);
    }
    unlink_overlay(sd);
    if (sd->socket_path) {
        (void)unlink(sd->socket_path);
    }
    for (guint i = 0; i < sd->lock_fds->len; i++) {
        close(g_array_index(sd->lock_fds, int, i));
    }
    g_array_free(sd->lock_fds, true);
    g_free(sd->socket_path);
    g_free(sd->top_path);
    g_free(sd);
}
