/*
 * Opening the files a spec is or names without ever blocking: the spec
 * reader, the boot files and the disk backend refuse a FIFO (whose open(2)
 * would wait for a writer), a socket, a device or a dangling symlink with
 * a reason, and read standard input where it stands.  An alarm turns a
 * regression (a hang in open) into a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "machine/backend/disk.h"
#include "machine/kvm/boot-file.h"
#include "machine/qom/error.h"
#include "spec/readfile.h"

typedef struct {
    char *dir;
    char *regular;      /* "a: 1\n" */
    char *fifo;
    char *socket;
    char *dangling;     /* a symlink to a missing file */
    int socket_fd;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };

    f->dir = g_dir_make_tmp("vmspec-readfile-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->regular = g_build_filename(f->dir, "regular.yaml", NULL);
    f->fifo = g_build_filename(f->dir, "fifo.yaml", NULL);
    f->socket = g_build_filename(f->dir, "socket.yaml", NULL);
    f->dangling = g_build_filename(f->dir, "dangling.yaml", NULL);
    g_assert_true(g_file_set_contents(f->regular, "a: 1\n", -1, NULL));
    g_assert_cmpint(mkfifo(f->fifo, 0644), ==, 0);
    g_assert_cmpint(symlink("missing.yaml", f->dangling), ==, 0);
    f->socket_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(f->socket_fd, >=, 0);
    g_assert_cmpuint(strlen(f->socket), <, sizeof(addr.sun_path));
    strcpy(addr.sun_path, f->socket);
    g_assert_cmpint(bind(f->socket_fd, (struct sockaddr *)&addr,
                         sizeof(addr)), ==, 0);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    close(f->socket_fd);
    g_unlink(f->regular);
    g_unlink(f->fifo);
    g_unlink(f->socket);
    g_unlink(f->dangling);
    g_rmdir(f->dir);
    g_free(f->regular);
    g_free(f->fifo);
    g_free(f->socket);
    g_free(f->dangling);
    g_free(f->dir);
}

/* spec_read_file(path) fails with the one diagnostic
 * "PATH: cannot read spec: REASON" of code code. */
static void expect_read_error(const char *path, int code, const char *reason)
{
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autofree char *expect = g_strdup_printf("%s: cannot read spec: %s",
                                              path, reason);
    g_autofree char *text = NULL;
    gsize len = 0;
    char *data = spec_read_file(path, &len, diags);

    g_assert_null(data);
    text = spec_diags_format(diags);
    g_assert_cmpstr(text, ==, expect);
    g_assert_cmpint(spec_diags_get(diags, 0)->code, ==, code);
}

static void test_spec_not_regular(Fixture *f, gconstpointer data)
{
    expect_read_error(f->fifo, VMSPEC_ERROR_INVALID, "not a regular file");
    /* open(2) of a socket fails (ENXIO): what it is is the reason. */
    expect_read_error(f->socket, VMSPEC_ERROR_INVALID, "not a regular file");
    expect_read_error("/dev/null", VMSPEC_ERROR_INVALID,
                      "not a regular file");
    expect_read_error(f->dir, VMSPEC_ERROR_IO, g_strerror(EISDIR));
    expect_read_error(f->dangling, VMSPEC_ERROR_NOT_FOUND,
                      "dangling symbolic link (its target does not exist)");
}

static void test_open_file(Fixture *f, gconstpointer data)
{
    char buf[8];
    struct stat st;
    g_autoptr(GError) err = NULL;
    int fd = spec_open_file(f->regular, false, &st, &err);

    /* A regular file comes back sized and readable (O_NONBLOCK, which a
     * regular file ignores, stays set). */
    g_assert_no_error(err);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(st.st_size, ==, 5);
    g_assert_cmpint(read(fd, buf, sizeof(buf)), ==, 5);
    g_assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);

    fd = spec_open_file(f->fifo, true, &st, &err);
    g_assert_cmpint(fd, ==, -1);
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_assert_cmpstr(err->message, ==, "not a regular file or block device");
}

/* fd 0 replaced by a pipe holding text for the duration of the test. */
static int stdin_from_pipe(const char *text)
{
    int saved = dup(STDIN_FILENO), p[2];

    g_assert_cmpint(pipe(p), ==, 0);
    g_assert_cmpint(write(p[1], text, strlen(text)), ==, (ssize_t)strlen(text));
    close(p[1]);
    g_assert_cmpint(dup2(p[0], STDIN_FILENO), ==, STDIN_FILENO);
    close(p[0]);
    return saved;
}

static void restore_stdin(int saved)
{
    g_assert_cmpint(dup2(saved, STDIN_FILENO), ==, STDIN_FILENO);
    close(saved);
}

static void test_stdin(Fixture *f, gconstpointer data)
{
    static const char *const names[] = {
        "-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autoptr(SpecDiags) diags = spec_diags_new();
        int saved = stdin_from_pipe("b: 2\n");
        gsize len = 0;
        g_autofree char *text = spec_read_file(names[i], &len, diags);

        restore_stdin(saved);
        g_assert_cmpuint(spec_diags_count(diags), ==, 0);
        g_assert_cmpstr(text, ==, "b: 2\n");
        g_assert_cmpuint(len, ==, 5);
    }
    /* A file on fd 0 is read from where it stands, not reopened from its
     * start (as open("/dev/stdin") would). */
    {
        g_autoptr(SpecDiags) diags = spec_diags_new();
        int saved = dup(STDIN_FILENO);
        int fd = open(f->regular, O_RDONLY | O_CLOEXEC);
        gsize len = 0;
        g_autofree char *text = NULL;

        g_assert_cmpint(lseek(fd, 3, SEEK_SET), ==, 3);
        g_assert_cmpint(dup2(fd, STDIN_FILENO), ==, STDIN_FILENO);
        close(fd);
        text = spec_read_file("/dev/stdin", &len, diags);
        restore_stdin(saved);
        g_assert_cmpstr(text, ==, "1\n");
    }
    g_assert_true(spec_path_is_stdin("/proc/self/fd/0"));
    g_assert_false(spec_path_is_stdin("/dev/fd/3"));
    g_assert_false(spec_path_is_stdin("./-"));
}

/* The run-time opens: a FIFO put where a checked boot file or disk image
 * was is an error, not a hang. */
static void test_run_time_opens(Fixture *f, gconstpointer data)
{
    static const DiskOpenMode modes[] = {
        DISK_OPEN_READWRITE, DISK_OPEN_READONLY, DISK_OPEN_SNAPSHOT,
    };
    g_autoptr(GError) err = NULL;
    uint64_t size = 0;
    int fd = boot_file_open(f->fifo, &size, &err);

    g_assert_cmpint(fd, ==, -1);
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_IO);
    g_assert_true(g_str_has_suffix(err->message, ": not a regular file"));
    g_clear_error(&err);

    fd = boot_file_open(f->regular, &size, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(size, ==, 5);
    g_assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
    close(fd);

    for (gsize i = 0; i < G_N_ELEMENTS(modes); i++) {
        DiskImage *disk = disk_open(f->fifo, modes[i], &err);

        g_assert_null(disk);
        g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
        g_assert_nonnull(strstr(err->message,
                                "is not a regular file or block device"));
        g_clear_error(&err);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* Every open here should return at once; a blocked one ends the test
     * (SIGALRM) instead of hanging the suite. */
    alarm(10);
#define ADD(path, fn) \
    g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/readfile/spec-not-regular", test_spec_not_regular);
    ADD("/readfile/open-file", test_open_file);
    ADD("/readfile/stdin", test_stdin);
    ADD("/readfile/run-time-opens", test_run_time_opens);
#undef ADD
    return g_test_run();
}
