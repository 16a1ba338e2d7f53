/*
 * qemu-storage-daemon as vmspec runs it for a qcow2 disk
 * (storage-daemon.h), for real: it serves a chain over vhost-user-blk (a
 * vhost-user handshake on its socket), under a file name JSON must
 * escape; vmspec's locks and the daemon's together keep others off the
 * image and its backing file while it runs, and nothing is left after
 * stop; a snapshot's overlay is gone once the daemon serves; an image
 * someone holds is refused with vmspec's message, before the daemon
 * starts or when only the daemon sees the conflict; a missing program is
 * named.  Skipped without qemu-img and qemu-storage-daemon.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "machine/backend/disk.h"
#include "machine/backend/storage-daemon.h"
#include "machine/qom/error.h"
#include "machine/vhost/vhost-user.h"
#include "machine/virtio/virtio.h"

typedef struct {
    char *dir;
    char *base;         /* raw */
    char *top;          /* qcow2 on base, with a name JSON must escape */
    char *socket;
    char *log;
} Fixture;

static char *tmp_root;  /* $TMPDIR for the whole run: snapshot overlays */

static bool have_tools(void)
{
    g_autofree char *img = g_find_program_in_path("qemu-img");

    if (!img || access(storage_daemon_program(), X_OK) != 0) {
        g_test_skip("needs qemu-img and qemu-storage-daemon (Debian's "
                    "qemu-utils, qemu-system-common)");
        return false;
    }
    return true;
}

static void qemu_img(const char *const *args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autofree char *errout = NULL;
    int status;

    g_ptr_array_add(argv, "qemu-img");
    for (const char *const *a = args; *a; a++) {
        g_ptr_array_add(argv, (char *)*a);
    }
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL,
                               G_SPAWN_SEARCH_PATH |
                               G_SPAWN_STDOUT_TO_DEV_NULL,
                               NULL, NULL, NULL, &errout, &status, NULL));
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_error("qemu-img %s: %s", args[0], errout);
    }
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("vmspec-sd-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->base = g_build_filename(f->dir, "base.raw", NULL);
    f->top = g_build_filename(f->dir, "vm \"x\\y\".qcow2", NULL);
    f->socket = g_build_filename(f->dir, "disk.sock", NULL);
    f->log = g_build_filename(f->dir, "disk.log", NULL);
    if (!have_tools()) {
        return;
    }
    {
        const char *raw[] = { "create", "-q", "-f", "raw", f->base, "16M",
                              NULL };
        const char *qcow2[] = { "create", "-q", "-f", "qcow2", "-F", "raw",
                                "-b", f->base, f->top, NULL };

        qemu_img(raw);
        qemu_img(qcow2);
    }
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    const char *name;
    GDir *d = g_dir_open(f->dir, 0, NULL);

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(f->dir, name, NULL);

        g_unlink(p);
    }
    if (d) {
        g_dir_close(d);
    }
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f->base);
    g_free(f->top);
    g_free(f->socket);
    g_free(f->log);
}

static StorageDaemon *start(Fixture *f, StorageExportMode mode,
                            GError **errp)
{
    StorageDaemonOptions o = {
        .name = "disk 'd'",
        .path = f->top,
        .format = IMAGE_FORMAT_QCOW2,
        .mode = mode,
        .socket_path = f->socket,
        .log_path = f->log,
    };

    return storage_daemon_start(&o, errp);
}

/* A vhost-user handshake with the daemon: it serves.  Or the error. */
static bool handshake(Fixture *f, GError **errp)
{
    g_autoptr(VhostUser) vu = vhost_user_connect(f->socket, "disk 'd'",
                                                 errp);
    uint64_t features = 0;

    if (!vu || !vhost_user_set_owner(vu, errp) ||
        !vhost_user_get_features(vu, &features, errp)) {
        return false;
    }
    g_assert_true((features >> VIRTIO_F_VERSION_1) & 1);
    return true;
}

static void expect_busy(const char *path, DiskOpenMode mode)
{
    g_autoptr(GError) err = NULL;

    g_assert_null(disk_open(path, mode, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_BUSY);
}

static void expect_free(const char *path)
{
    g_autoptr(GError) err = NULL;
    DiskImage *d = disk_open(path, DISK_OPEN_READWRITE, &err);

    g_assert_no_error(err);
    g_assert_true(disk_close(d, NULL));
}

static guint overlays_left(void)
{
    GDir *d = g_dir_open(tmp_root, 0, NULL);
    const char *name;
    guint n = 0;

    while ((name = g_dir_read_name(d))) {
        n += g_str_has_prefix(name, "vmspec-snapshot-");
    }
    g_dir_close(d);
    return n;
}

static void test_serves_and_locks(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    StorageDaemon *sd;

    if (!have_tools()) {
        return;
    }
    sd = start(f, STORAGE_EXPORT_WRITABLE, &err);
    g_assert_no_error(err);
    g_assert_true(handshake(f, &err));
    g_assert_no_error(err);
    storage_daemon_serving(sd);
    /* The daemon writes the top; vmspec reads the backing file for it. */
    expect_busy(f->top, DISK_OPEN_READONLY);
    expect_busy(f->base, DISK_OPEN_READWRITE);
    g_assert_null(storage_daemon_state(NULL));
    storage_daemon_stop(sd);
    g_assert_false(g_file_test(f->socket, G_FILE_TEST_EXISTS));
    expect_free(f->top);
    expect_free(f->base);
}

static void test_snapshot(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    StorageDaemon *sd;

    if (!have_tools()) {
        return;
    }
    sd = start(f, STORAGE_EXPORT_SNAPSHOT, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(overlays_left(), ==, 1);
    g_assert_true(handshake(f, &err));
    storage_daemon_serving(sd);
    g_assert_cmpuint(overlays_left(), ==, 0);
    /* Image and backing file are read: nobody may write them. */
    expect_busy(f->top, DISK_OPEN_READWRITE);
    expect_busy(f->base, DISK_OPEN_READWRITE);
    storage_daemon_stop(sd);
    expect_free(f->top);
    expect_free(f->base);
}

/* vmspec's own check refuses a held image before any daemon starts. */
static void test_busy_before_start(Fixture *f, gconstpointer data)
{
    g_autofree char *want = NULL;
    DiskImage *held;

    if (!have_tools()) {
        return;
    }
    want = g_strdup_printf("disk image %s is in use by another VM (locked)",
                           f->top);
    held = disk_open(f->top, DISK_OPEN_READONLY, NULL);
    g_assert_nonnull(held);
    for (int mode = STORAGE_EXPORT_WRITABLE; mode <= STORAGE_EXPORT_SNAPSHOT;
         mode++) {
        g_autoptr(GError) err = NULL;

        if (mode == STORAGE_EXPORT_WRITABLE) {
            g_assert_null(start(f, mode, &err));
            g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_BUSY);
            g_assert_cmpstr(err->message, ==, want);
        } else {
            /* Readers beside a reader. */
            StorageDaemon *sd = start(f, mode, &err);

            g_assert_no_error(err);
            storage_daemon_stop(sd);
        }
    }
    g_assert_true(disk_close(held, NULL));
    g_assert_false(g_file_test(f->socket, G_FILE_TEST_EXISTS));
}

/* A conflict only the daemon sees (a holder that denies resizing, which a
 * qcow2 writer uses) ends it at start; the error is vmspec's message. */
static void test_busy_in_daemon(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *want = NULL;
    struct flock deny_resize = { .l_type = F_RDLCK, .l_whence = SEEK_SET,
                                 .l_start = 203, .l_len = 1 };
    StorageDaemon *sd;
    int fd;

    if (!have_tools()) {
        return;
    }
    fd = open(f->top, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(fcntl(fd, F_OFD_SETLK, &deny_resize), ==, 0);
    sd = start(f, STORAGE_EXPORT_WRITABLE, &err);
    g_assert_no_error(err);
    g_assert_false(handshake(f, &err));
    g_assert_nonnull(err);
    storage_daemon_explain(sd, err);
    want = g_strdup_printf("disk image %s is in use by another VM (locked)",
                           f->top);
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_BUSY);
    g_assert_cmpstr(err->message, ==, want);
    storage_daemon_stop(sd);
    close(fd);
}

static void test_missing_program(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    if (!have_tools()) {
        return;
    }
    g_setenv("VMSPEC_QEMU_STORAGE_DAEMON", "/nonexistent/qsd", true);
    g_assert_null(start(f, STORAGE_EXPORT_WRITABLE, &err));
    g_unsetenv("VMSPEC_QEMU_STORAGE_DAEMON");
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(err->message, "/nonexistent/qsd cannot be run"));
    g_assert_nonnull(strstr(err->message, "qemu-system-common"));
    /* Nothing held: the locks went with the failed start. */
    expect_free(f->base);
}

int main(int argc, char **argv)
{
    const char *outer = g_getenv("TMPDIR");
    int rc;

    /* Before GLib first reads $TMPDIR (it keeps what it read). */
    tmp_root = g_strdup_printf("%s/vmspec-sd-tmp-XXXXXX",
                               outer && *outer ? outer : "/tmp");
    g_assert_nonnull(mkdtemp(tmp_root));
    g_setenv("TMPDIR", tmp_root, true);
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn)                                                       \
    g_test_add("/storage-daemon/" name, Fixture, NULL, fixture_setup, fn,   \
               fixture_teardown)
    ADD("serves-and-locks", test_serves_and_locks);
    ADD("snapshot", test_snapshot);
    ADD("busy-before-start", test_busy_before_start);
    ADD("busy-in-daemon", test_busy_in_daemon);
    ADD("missing-program", test_missing_program);
#undef ADD
    rc = g_test_run();
    g_rmdir(tmp_root);
    g_free(tmp_root);
    return rc;
}
