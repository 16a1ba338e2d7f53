/*
 * The console backend on real descriptors: a pseudo-terminal (raw mode,
 * restored on close; Ctrl-A x and Ctrl-A Ctrl-A), a pipe (plain input,
 * EOF is not a quit), a file (truncated), none.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "machine/backend/console.h"
#include "machine/qom/error.h"

/* Collects what the console delivers. */
typedef struct {
    GMutex lock;
    GCond cond;
    GByteArray *bytes;
} Sink;

static size_t sink_can_receive(void *opaque)
{
    return 64;
}

static size_t sink_receive(void *opaque, const uint8_t *buf, size_t len)
{
    Sink *s = opaque;

    g_mutex_lock(&s->lock);
    g_byte_array_append(s->bytes, buf, (guint)len);
    g_cond_broadcast(&s->cond);
    g_mutex_unlock(&s->lock);
    return len;
}

static void sink_init(Sink *s)
{
    g_mutex_init(&s->lock);
    g_cond_init(&s->cond);
    s->bytes = g_byte_array_new();
}

static void sink_clear(Sink *s)
{
    g_byte_array_unref(s->bytes);
    g_cond_clear(&s->cond);
    g_mutex_clear(&s->lock);
}

/* Waits up to 5 s for at least n bytes. */
static bool sink_wait(Sink *s, guint n)
{
    gint64 end = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;
    bool ok;

    g_mutex_lock(&s->lock);
    while (s->bytes->len < n && g_cond_wait_until(&s->cond, &s->lock, end)) {
    }
    ok = s->bytes->len >= n;
    g_mutex_unlock(&s->lock);
    return ok;
}

/* Opens a pseudo-terminal pair; the slave is what the console gets. */
static void open_pty(int *master, int *slave)
{
    *master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    g_assert_cmpint(*master, >=, 0);
    g_assert_cmpint(grantpt(*master), ==, 0);
    g_assert_cmpint(unlockpt(*master), ==, 0);
    *slave = open(ptsname(*master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    g_assert_cmpint(*slave, >=, 0);
}

static void assert_same_termios(const struct termios *a,
                                const struct termios *b)
{
    g_assert_cmphex(a->c_iflag, ==, b->c_iflag);
    g_assert_cmphex(a->c_oflag, ==, b->c_oflag);
    g_assert_cmphex(a->c_cflag, ==, b->c_cflag);
    g_assert_cmphex(a->c_lflag, ==, b->c_lflag);
    g_assert_cmpmem(a->c_cc, sizeof(a->c_cc), b->c_cc, sizeof(b->c_cc));
}

static void test_pty_raw_mode(void)
{
    struct termios before, raw, after;
    GError *err = NULL;
    int master, slave;
    Console *c;

    open_pty(&master, &slave);
    g_assert_cmpint(tcgetattr(slave, &before), ==, 0);
    g_assert_true(before.c_lflag & ICANON);

    c = console_open_fds(slave, slave, NULL, &err);
    g_assert_no_error(err);
    g_assert_true(console_is_raw(c));
    g_assert_cmpint(tcgetattr(slave, &raw), ==, 0);
    g_assert_false(raw.c_lflag & (ICANON | ECHO | ISIG | IEXTEN));
    g_assert_false(raw.c_iflag & (ICRNL | IXON));
    g_assert_cmphex(raw.c_oflag, ==, before.c_oflag);   /* OPOST kept */
    g_assert_cmpint(raw.c_cc[VMIN], ==, 1);

    /* Explicit restore (an owner's exit path), twice: idempotent. */
    console_restore_terminal(c);
    g_assert_false(console_is_raw(c));
    g_assert_cmpint(tcgetattr(slave, &after), ==, 0);
    assert_same_termios(&before, &after);
    g_assert_cmpint(tcsetattr(slave, TCSANOW, &raw), ==, 0);
    console_restore_terminal(c);    /* already restored: leaves it alone */
    g_assert_cmpint(tcgetattr(slave, &after), ==, 0);
    g_assert_false(after.c_lflag & ICANON);
    g_assert_cmpint(tcsetattr(slave, TCSANOW, &before), ==, 0);
    console_free(c);
    console_restore_terminal(NULL);

    /* console_free() alone restores too, input thread running or not. */
    c = console_open_fds(slave, slave, NULL, &err);
    g_assert_no_error(err);
    g_assert_cmpint(tcgetattr(slave, &raw), ==, 0);
    g_assert_false(raw.c_lflag & ICANON);
    console_free(c);
    g_assert_cmpint(tcgetattr(slave, &after), ==, 0);
    assert_same_termios(&before, &after);

    close(slave);
    close(master);
}

static void test_pty_escapes(void)
{
    g_autoptr(RunEnd) exit = NULL;
    g_autofree char *detail = NULL;
    GError *err = NULL;
    int master, slave;
    Console *c;
    Sink sink;
    static const char want[] = "ab\001c\001zd\r";

    exit = run_end_new(&err);
    g_assert_no_error(err);
    sink_init(&sink);
    open_pty(&master, &slave);
    c = console_open_fds(slave, slave, exit, &err);
    g_assert_no_error(err);
    g_assert_true(console_start_input(c, sink_can_receive, sink_receive,
                                      &sink, &err));
    g_assert_no_error(err);

    /* Ctrl-A Ctrl-A is one Ctrl-A; Ctrl-A z is both keys; Ctrl-C and CR
     * reach the guest untouched (no ISIG, no ICRNL). */
    g_assert_cmpint(write(master, "ab\001\001c\001zd\r", 9), ==, 9);
    g_assert_true(sink_wait(&sink, strlen(want)));
    g_assert_cmpmem(sink.bytes->data, sink.bytes->len, want, strlen(want));
    g_assert_cmpint(write(master, "\003", 1), ==, 1);
    g_assert_true(sink_wait(&sink, strlen(want) + 1));
    g_assert_cmphex(sink.bytes->data[strlen(want)], ==, 0x03);
    g_assert_cmpint(run_end_get(exit, NULL), ==, RUN_END_NONE);

    /* Ctrl-A x: quit, and neither key reaches the guest.  The escape may
     * arrive in a read of its own. */
    g_assert_cmpint(write(master, "\001", 1), ==, 1);
    g_usleep(20 * 1000);
    g_assert_cmpint(write(master, "x", 1), ==, 1);
    for (int i = 0; i < 5000 && run_end_get(exit, NULL) == RUN_END_NONE;
         i++) {
        g_usleep(1000);
    }
    g_assert_cmpint(run_end_get(exit, &detail), ==, RUN_END_QUIT);
    g_assert_nonnull(strstr(detail, "Ctrl-A x"));
    g_assert_cmpstr(run_end_reason_name(RUN_END_QUIT), ==, "quit");
    g_assert_cmpuint(sink.bytes->len, ==, strlen(want) + 1);

    /* Output reaches the terminal. */
    console_write(c, (const uint8_t *)"ok", 2);
    char buf[8] = { 0 };
    g_assert_cmpint(read(master, buf, 2), ==, 2);
    g_assert_cmpstr(buf, ==, "ok");

    console_free(c);                /* joins the input thread */
    close(slave);
    close(master);
    sink_clear(&sink);
}

/* Not a terminal: bytes as they are, no escapes, EOF is not a quit. */
static void test_pipe_plain(void)
{
    g_autoptr(RunEnd) exit = NULL;
    GError *err = NULL;
    int fds[2];
    Console *c;
    Sink sink;

    exit = run_end_new(&err);
    g_assert_no_error(err);
    sink_init(&sink);
    g_assert_cmpint(pipe2(fds, O_CLOEXEC), ==, 0);
    c = console_open_fds(fds[0], -1, exit, &err);
    g_assert_no_error(err);
    g_assert_false(console_is_raw(c));
    g_assert_true(console_start_input(c, sink_can_receive, sink_receive,
                                      &sink, &err));
    g_assert_cmpint(write(fds[1], "\001x\001\001", 4), ==, 4);
    g_assert_true(sink_wait(&sink, 4));
    g_assert_cmpmem(sink.bytes->data, sink.bytes->len, "\001x\001\001", 4);
    close(fds[1]);                  /* EOF */
    g_usleep(50 * 1000);
    g_assert_cmpint(run_end_get(exit, NULL), ==, RUN_END_NONE);
    console_write(c, (const uint8_t *)"dropped", 7);    /* out_fd -1 */
    console_free(c);
    close(fds[0]);
    sink_clear(&sink);
}

/* Threads of this process now. */
static guint count_threads(void)
{
    g_autoptr(GDir) dir = g_dir_open("/proc/self/task", 0, NULL);
    guint n = 0;

    g_assert_nonnull(dir);
    while (g_dir_read_name(dir)) {
        n++;
    }
    return n;
}

/* Starts input on in_fd and returns how many threads that added. */
static guint start_input_threads(Console *c, Sink *sink)
{
    GError *err = NULL;
    guint before = count_threads();

    g_assert_true(console_start_input(c, sink_can_receive, sink_receive,
                                      sink, &err));
    g_assert_no_error(err);
    return count_threads() - before;
}

/* Input that is over before it starts (/dev/null, a pipe whose writer is
 * gone, a closed fd) starts no thread; bytes before the end still arrive. */
static void test_input_ended(void)
{
    g_autoptr(RunEnd) exit = NULL;
    GError *err = NULL;
    int fds[2], null_fd;
    Console *c;
    Sink sink;

    exit = run_end_new(&err);
    g_assert_no_error(err);
    sink_init(&sink);

    null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(null_fd, >=, 0);
    c = console_open_fds(null_fd, -1, exit, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(start_input_threads(c, &sink), ==, 0);
    console_accept_input(c);        /* no thread to wake: harmless */
    console_free(c);

    /* A closed fd: no thread (one would spin on POLLNVAL). */
    c = console_open_fds(null_fd, -1, exit, &err);
    close(null_fd);
    g_assert_no_error(err);
    g_assert_cmpuint(start_input_threads(c, &sink), ==, 0);
    console_free(c);

    g_assert_cmpint(pipe2(fds, O_CLOEXEC), ==, 0);
    close(fds[1]);
    c = console_open_fds(fds[0], -1, exit, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(start_input_threads(c, &sink), ==, 0);
    console_free(c);
    close(fds[0]);

    /* Bytes, then the end: the thread delivers them. */
    g_assert_cmpint(pipe2(fds, O_CLOEXEC), ==, 0);
    g_assert_cmpint(write(fds[1], "hi", 2), ==, 2);
    close(fds[1]);
    c = console_open_fds(fds[0], -1, exit, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(start_input_threads(c, &sink), ==, 1);
    g_assert_true(sink_wait(&sink, 2));
    g_assert_cmpmem(sink.bytes->data, sink.bytes->len, "hi", 2);
    console_free(c);
    close(fds[0]);

    g_assert_cmpint(run_end_get(exit, NULL), ==, RUN_END_NONE);
    sink_clear(&sink);
}

static void test_file_and_none(void)
{
    g_autofree char *dir = g_dir_make_tmp("test-console-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "out.log", NULL);
    g_autofree char *spec = g_strdup_printf("file:%s", path);
    g_autofree char *text = NULL;
    GError *err = NULL;
    Console *c;

    g_assert_true(g_file_set_contents(path, "old run\n", -1, NULL));
    c = console_open(spec, false, NULL, &err);
    g_assert_no_error(err);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "");  /* truncated on open */
    g_clear_pointer(&text, g_free);
    console_write(c, (const uint8_t *)"boot\r\n", 6);
    g_assert_true(console_start_input(c, sink_can_receive, sink_receive,
                                      NULL, &err));  /* no input: no-op */
    console_accept_input(c);
    console_free(c);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "boot\r\n");
    g_clear_pointer(&text, g_free);
    /* The next boot of the same run (after a guest reboot) appends. */
    c = console_open(spec, true, NULL, &err);
    g_assert_no_error(err);
    console_write(c, (const uint8_t *)"reboot\r\n", 8);
    console_free(c);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "boot\r\nreboot\r\n");
    g_unlink(path);
    g_rmdir(dir);

    c = console_open("none", false, NULL, &err);
    g_assert_no_error(err);
    console_write(c, (const uint8_t *)"x", 1);
    g_assert_false(console_is_raw(c));
    console_free(c);

    g_assert_null(console_open("file:/nonexistent-dir/x", false, NULL, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_IO);
    g_clear_error(&err);
}

static void test_spec_check(void)
{
    static const char *const good[] = { "stdio", "none", "file:a",
                                        "file:/tmp/x.log" };
    static const char *const bad[] = { "", "file:", "tcp:1", "Stdio",
                                       "stdio " };
    GError *err = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        g_assert_true(console_spec_check(good[i], &err));
        g_assert_no_error(err);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_false(console_spec_check(bad[i], &err));
        g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
        g_clear_error(&err);
        g_assert_null(console_open(bad[i], false, NULL, &err));
        g_clear_error(&err);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/console/pty/raw-mode", test_pty_raw_mode);
    g_test_add_func("/console/pty/escapes", test_pty_escapes);
    g_test_add_func("/console/pipe/plain", test_pipe_plain);
    g_test_add_func("/console/input-ended", test_input_ended);
    g_test_add_func("/console/file-and-none", test_file_and_none);
    g_test_add_func("/console/spec-check", test_spec_check);
    return g_test_run();
}
