/*
 * Image locks against QEMU's own: vmspec's disks (disk.h) and QEMU's
 * block layer (qemu-io, qemu-storage-daemon and QEMU VMs, from Debian's
 * qemu-utils, qemu-system-common and qemu-system-x86) refuse each other
 * both ways, one writer or any number of readers; image_lock_test()
 * takes nothing.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "machine/backend/disk.h"
#include "machine/backend/image-lock.h"
#include "machine/qom/error.h"

typedef struct {
    char *dir;
    char *path;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("vmspec-lock-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->path = g_build_filename(f->dir, "disk.img", NULL);
    g_assert_true(g_file_set_contents(f->path, "", 0, NULL));
    g_assert_cmpint(truncate(f->path, 1 << 20), ==, 0);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    g_unlink(f->path);
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

static bool have(const char *program)
{
    g_autofree char *p = g_find_program_in_path(program);

    if (!p) {
        g_test_skip_printf("%s is not installed (Debian qemu-utils)",
                           program);
    }
    return p != NULL;
}

/* qemu-io opening path (read-only with -r) and reading a sector: true when
 * it could, false when it failed on a lock (anything else fails the test). */
static bool qemu_io_opens(const char *path, bool readonly)
{
    const char *argv[] = { "qemu-io", "-f", "raw", "-c", "read 0 512",
                           path, readonly ? "-r" : NULL, NULL };
    g_autofree char *out = NULL, *errout = NULL;
    g_autoptr(GError) err = NULL;
    int status;

    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                               G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
                               &errout, &status, &err));
    if (g_spawn_check_wait_status(status, NULL)) {
        return true;
    }
    g_test_message("qemu-io: %s%s", out, errout);
    g_assert_nonnull(strstr(errout, "lock"));
    return false;
}

static DiskImage *open_ok(const char *path, DiskOpenMode mode)
{
    g_autoptr(GError) err = NULL;
    DiskImage *d = disk_open(path, mode, &err);

    g_assert_no_error(err);
    return d;
}

static void expect_busy(const char *path, DiskOpenMode mode)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *want =
        g_strdup_printf("disk image %s is in use by another VM (locked)",
                        path);

    g_assert_null(disk_open(path, mode, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_BUSY);
    g_assert_cmpstr(err->message, ==, want);
}

/* Runs a QEMU program that daemonizes once it is up (its parent exits
 * when the program holds its images, as --daemonize documents) and gives
 * its pid, or 0 when it failed on a lock. */
static GPid start_qemu(const char *dir, const char *const *args)
{
    g_autofree char *pidfile = g_build_filename(dir, "qemu.pid", NULL);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autofree char *out = NULL, *errout = NULL;
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;
    int status;

    for (const char *const *a = args; *a; a++) {
        g_ptr_array_add(argv, (char *)*a);
    }
    g_ptr_array_add(argv, "--daemonize");
    g_ptr_array_add(argv, "--pidfile");
    g_ptr_array_add(argv, pidfile);
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL,
                               G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
                               &errout, &status, &err));
    if (!g_spawn_check_wait_status(status, NULL)) {
        /* Only a lock may stop it. */
        g_test_message("%s: %s%s", args[0], out, errout);
        g_assert_nonnull(strstr(errout, "lock"));
        return 0;
    }
    g_assert_true(g_file_get_contents(pidfile, &text, NULL, NULL));
    g_unlink(pidfile);
    return (GPid)atoi(text);
}

/* Stops what start_qemu() started, and waits until it has gone (it is
 * not our child: its parent was). */
static void stop_qemu(GPid pid)
{
    g_assert_cmpint(kill(pid, SIGTERM), ==, 0);
    for (int i = 0; i < 1000 && kill(pid, 0) == 0; i++) {
        g_usleep(10000);
    }
    g_assert_cmpint(kill(pid, 0), !=, 0);
}

/* qemu-storage-daemon exporting path writable over vhost-user-blk, as
 * vmspec's own daemons do. */
static GPid start_storage_daemon(Fixture *f)
{
    g_autofree char *blockdev = g_strdup_printf(
        "{\"driver\":\"raw\",\"node-name\":\"d\","
        "\"file\":{\"driver\":\"file\",\"filename\":\"%s\"}}",
        f->path);
    g_autofree char *export = g_strdup_printf(
        "{\"type\":\"vhost-user-blk\",\"id\":\"e\",\"node-name\":\"d\","
        "\"writable\":true,\"addr\":{\"type\":\"unix\","
        "\"path\":\"%s/sock\"}}", f->dir);
    const char *args[] = { "qemu-storage-daemon", "--blockdev", blockdev,
                           "--export", export, NULL };

    return start_qemu(f->dir, args);
}

/* A QEMU VM (stopped before its first instruction, so it needs no KVM)
 * with path as a virtio-blk disk. */
static GPid start_qemu_vm(Fixture *f, bool readonly)
{
    g_autofree char *drive = g_strdup_printf(
        "file=%s,format=raw,if=none,id=d%s", f->path,
        readonly ? ",readonly=on" : "");
    const char *args[] = { "qemu-system-x86_64", "-M", "q35", "-accel", "tcg",
                           "-S", "-display", "none", "-nodefaults",
                           "-drive", drive,
                           "-device", "virtio-blk-pci,drive=d", NULL };

    return start_qemu(f->dir, args);
}

/* vmspec holds the image: QEMU may read beside a reader, nothing more. */
static void test_vmspec_then_qemu(Fixture *f, gconstpointer data)
{
    DiskImage *d;
    GPid pid;

    if (!have("qemu-io") || !have("qemu-system-x86_64")) {
        return;
    }
    /* QEMU's tools read beside a writer, as they do beside a QEMU VM
     * (qemu-io -r shares every permission); they cannot write. */
    d = open_ok(f->path, DISK_OPEN_READWRITE);
    g_assert_false(qemu_io_opens(f->path, false));
    g_assert_true(qemu_io_opens(f->path, true));
    g_assert_cmpint(start_qemu_vm(f, false), ==, 0);
    g_assert_cmpint(start_qemu_vm(f, true), ==, 0);
    g_assert_true(disk_close(d, NULL));

    /* A QEMU VM may read beside vmspec's reader, as beside QEMU's. */
    d = open_ok(f->path, DISK_OPEN_READONLY);
    g_assert_false(qemu_io_opens(f->path, false));
    g_assert_true(qemu_io_opens(f->path, true));
    g_assert_cmpint(start_qemu_vm(f, false), ==, 0);
    pid = start_qemu_vm(f, true);
    g_assert_cmpint(pid, !=, 0);
    stop_qemu(pid);
    g_assert_true(disk_close(d, NULL));

    g_assert_true(qemu_io_opens(f->path, false));
}

/* QEMU holds the image: vmspec may read beside a reader, nothing more. */
static void test_qemu_then_vmspec(Fixture *f, gconstpointer data)
{
    g_autofree char *sock = g_build_filename(f->dir, "sock", NULL);
    GPid pid;

    if (!have("qemu-storage-daemon") || !have("qemu-system-x86_64")) {
        return;
    }
    pid = start_storage_daemon(f);
    g_assert_cmpint(pid, !=, 0);
    expect_busy(f->path, DISK_OPEN_READWRITE);
    expect_busy(f->path, DISK_OPEN_READONLY);
    expect_busy(f->path, DISK_OPEN_SNAPSHOT);
    stop_qemu(pid);
    g_unlink(sock);

    pid = start_qemu_vm(f, false);
    g_assert_cmpint(pid, !=, 0);
    expect_busy(f->path, DISK_OPEN_READWRITE);
    expect_busy(f->path, DISK_OPEN_READONLY);
    stop_qemu(pid);

    pid = start_qemu_vm(f, true);
    g_assert_cmpint(pid, !=, 0);
    expect_busy(f->path, DISK_OPEN_READWRITE);
    g_assert_true(disk_close(open_ok(f->path, DISK_OPEN_READONLY), NULL));
    g_assert_true(disk_close(open_ok(f->path, DISK_OPEN_SNAPSHOT), NULL));
    stop_qemu(pid);

    g_assert_true(disk_close(open_ok(f->path, DISK_OPEN_READWRITE), NULL));
}

/* The test is only a test: a writer may still come after it. */
static void test_test_takes_nothing(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    int fd = open(f->path, O_RDWR | O_CLOEXEC);
    DiskImage *d;

    g_assert_cmpint(fd, >=, 0);
    g_assert_true(image_lock_test(fd, f->path, IMAGE_LOCK_WRITER, &err));
    g_assert_no_error(err);
    d = open_ok(f->path, DISK_OPEN_READWRITE);
    g_assert_false(image_lock_test(fd, f->path, IMAGE_LOCK_READER, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_BUSY);
    g_assert_true(disk_close(d, NULL));
    close(fd);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn)                                                       \
    g_test_add("/image-lock/" name, Fixture, NULL, fixture_setup, fn,       \
               fixture_teardown)
    ADD("vmspec-then-qemu", test_vmspec_then_qemu);
    ADD("qemu-then-vmspec", test_qemu_then_vmspec);
    ADD("test-takes-nothing", test_test_takes_nothing);
#undef ADD
    return g_test_run();
}
