/*
 * The console backend on real descriptors: a pseudo-terminal (raw mode,
 * restored on close; Ctrl-A x and Ctrl-A Ctrl-A), a pipe (plain input,
 * EOF is not a quit), a file (truncated), none; and the console socket
 * with real clients: who gets the input, output that never waits for a
 * client, the client limit, the socket file's life.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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


/* --- The console socket ------------------------------------------------- */

/* A console served on a socket in a fresh directory, input to a sink. */
typedef struct {
    char *dir;
    char *path;
    Console *c;
    Sink sink;
} Served;

/* Serves a console with input from in_fd (-1: none) and no output. */
static void served_start(Served *sv, int in_fd)
{
    GError *err = NULL;

    sv->dir = g_dir_make_tmp("test-console-XXXXXX", NULL);
    g_assert_nonnull(sv->dir);
    sv->path = g_build_filename(sv->dir, "vm" CONSOLE_SOCKET_SUFFIX, NULL);
    sink_init(&sv->sink);
    sv->c = console_open_fds(in_fd, -1, NULL, &err);
    g_assert_no_error(err);
    g_assert_true(console_serve(sv->c, sv->path, &err));
    g_assert_no_error(err);
    g_assert_true(console_start_input(sv->c, sink_can_receive, sink_receive,
                                      &sv->sink, &err));
    g_assert_no_error(err);
}

static void served_stop(Served *sv)
{
    console_free(sv->c);
    /* The socket file goes with the console. */
    g_assert_false(g_file_test(sv->path, G_FILE_TEST_EXISTS));
    g_assert_cmpint(g_rmdir(sv->dir), ==, 0);
    sink_clear(&sv->sink);
    g_free(sv->path);
    g_free(sv->dir);
}

static int client_connect(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpuint(strlen(path), <, sizeof(addr.sun_path));
    strcpy(addr.sun_path, path);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ==,
                    0);
    return fd;
}

/* Reads exactly len bytes (5 s at most); NULL on EOF or timeout. */
static char *client_read(int fd, size_t len)
{
    g_autofree char *buf = g_malloc0(len + 1);
    struct pollfd p = { .fd = fd, .events = POLLIN };
    size_t got = 0;

    while (got < len) {
        ssize_t n;

        if (poll(&p, 1, 5000) != 1 ||
            (n = recv(fd, buf + got, len - got, 0)) <= 0) {
            return NULL;
        }
        got += (size_t)n;
    }
    return g_steal_pointer(&buf);
}

/* Connects and checks the first line is want. */
static int client_attach(const char *path, const char *want)
{
    int fd = client_connect(path);
    g_autofree char *hello = client_read(fd, strlen(want));

    g_assert_cmpstr(hello, ==, want);
    return fd;
}

/* True if fd reaches end of file within 5 s, with no bytes first. */
static bool client_sees_eof(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char b;

    return poll(&p, 1, 5000) == 1 && recv(fd, &b, 1, 0) == 0;
}

static void client_send(int fd, const char *text)
{
    g_assert_cmpint(send(fd, text, strlen(text), MSG_NOSIGNAL), ==,
                    (ssize_t)strlen(text));
}

/* The sink holds exactly want, and nothing more arrives for 50 ms. */
static void assert_sink_is(Sink *sink, const char *want)
{
    g_assert_true(sink_wait(sink, (guint)strlen(want)));
    g_usleep(50 * 1000);
    g_mutex_lock(&sink->lock);
    g_assert_cmpmem(sink->bytes->data, sink->bytes->len, want, strlen(want));
    g_mutex_unlock(&sink->lock);
}

static void console_puts(Console *c, const char *text)
{
    console_write(c, (const uint8_t *)text, strlen(text));
}

static void test_socket_rw_ro(void)
{
    g_autofree char *got = NULL;
    struct stat st;
    Served sv;
    int rw, ro;

    served_start(&sv, -1);
    g_assert_cmpint(stat(sv.path, &st), ==, 0);
    g_assert_true(S_ISSOCK(st.st_mode));
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);

    /* The first client gets the input: its bytes reach the device. */
    rw = client_attach(sv.path, CONSOLE_HELLO_RW);
    console_puts(sv.c, "login: ");
    got = client_read(rw, 7);
    g_assert_cmpstr(got, ==, "login: ");
    g_clear_pointer(&got, g_free);
    client_send(rw, "root\r");
    assert_sink_is(&sv.sink, "root\r");

    /* The second is read-only: it sees the output, its keys go nowhere. */
    ro = client_attach(sv.path, CONSOLE_HELLO_RO);
    console_puts(sv.c, "# ");
    got = client_read(rw, 2);
    g_assert_cmpstr(got, ==, "# ");
    g_clear_pointer(&got, g_free);
    got = client_read(ro, 2);
    g_assert_cmpstr(got, ==, "# ");
    g_clear_pointer(&got, g_free);
    client_send(ro, "reboot\r");
    client_send(rw, "ls\r");
    assert_sink_is(&sv.sink, "root\rls\r");
    g_assert_cmpuint(console_dropped_output(sv.c), ==, 0);

    served_stop(&sv);
    /* Freeing the console closes its clients. */
    g_assert_true(client_sees_eof(rw));
    g_assert_true(client_sees_eof(ro));
    close(rw);
    close(ro);
}

/* A client that never reads costs the guest nothing: output past its
 * socket buffer is dropped, not waited for. */
static void test_socket_stalled_client(void)
{
    enum { CHUNK = 4096, TOTAL = 4 * 1024 * 1024 };
    g_autofree uint8_t *chunk = g_malloc(CHUNK);
    gint64 start;
    Served sv;
    int stalled;

    memset(chunk, 'x', CHUNK);
    served_start(&sv, -1);
    stalled = client_attach(sv.path, CONSOLE_HELLO_RW);
    start = g_get_monotonic_time();
    for (size_t done = 0; done < TOTAL; done += CHUNK) {
        console_write(sv.c, chunk, CHUNK);
    }
    /* Blocking would never return; 5 s is for slow sanitized builds. */
    g_assert_cmpint(g_get_monotonic_time() - start, <,
                    5 * G_TIME_SPAN_SECOND);
    g_assert_cmpuint(console_dropped_output(sv.c), >, 0);
    g_assert_cmpuint(console_dropped_output(sv.c), <, TOTAL);
    /* Still attached: its input still goes through. */
    client_send(stalled, "k");
    assert_sink_is(&sv.sink, "k");
    served_stop(&sv);
    close(stalled);
}

/* When the holder detaches (closes) or ends its input (shuts its sending
 * side down), the next client to attach gets the input; clients already
 * attached stay read-only. */
static void test_socket_handover(void)
{
    g_autofree char *got = NULL;
    Served sv;
    int a, b, c, d;

    served_start(&sv, -1);
    a = client_attach(sv.path, CONSOLE_HELLO_RW);
    b = client_attach(sv.path, CONSOLE_HELLO_RO);
    close(a);
    c = client_attach(sv.path, CONSOLE_HELLO_RW);
    client_send(b, "b");
    client_send(c, "c");
    assert_sink_is(&sv.sink, "c");

    /* End of input: c gives the input up and still gets output. */
    g_assert_cmpint(shutdown(c, SHUT_WR), ==, 0);
    d = client_attach(sv.path, CONSOLE_HELLO_RW);
    client_send(d, "d");
    assert_sink_is(&sv.sink, "cd");
    console_puts(sv.c, "out");
    got = client_read(c, 3);
    g_assert_cmpstr(got, ==, "out");

    served_stop(&sv);
    close(b);
    close(c);
    close(d);
}

/* CONSOLE_MAX_CLIENTS at once; one more is told so and closed; a client
 * that leaves frees its slot. */
static void test_socket_client_limit(void)
{
    int fds[CONSOLE_MAX_CLIENTS];
    Served sv;
    int extra;

    served_start(&sv, -1);
    for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++) {
        fds[i] = client_attach(sv.path, i == 0 ? CONSOLE_HELLO_RW
                                               : CONSOLE_HELLO_RO);
    }
    extra = client_attach(sv.path, CONSOLE_HELLO_FULL);
    g_assert_true(client_sees_eof(extra));
    close(extra);
    g_assert_nonnull(strstr(CONSOLE_HELLO_FULL, "8 clients"));

    close(fds[3]);
    fds[3] = client_attach(sv.path, CONSOLE_HELLO_RO);
    close(fds[0]);                  /* the holder: its slot and the input */
    fds[0] = client_attach(sv.path, CONSOLE_HELLO_RW);
    served_stop(&sv);
    for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++) {
        close(fds[i]);
    }
}

/* The console's own input holds the input while it lasts; at its end of
 * file the next client gets it. */
static void test_socket_stdin_holds(void)
{
    Served sv;
    int pipe_fds[2], ro, rw;

    g_assert_cmpint(pipe2(pipe_fds, O_CLOEXEC), ==, 0);
    served_start(&sv, pipe_fds[0]);
    ro = client_attach(sv.path, CONSOLE_HELLO_RO);
    g_assert_cmpint(write(pipe_fds[1], "in", 2), ==, 2);
    client_send(ro, "ro");
    assert_sink_is(&sv.sink, "in");
    close(pipe_fds[1]);
    rw = client_attach(sv.path, CONSOLE_HELLO_RW);
    client_send(rw, "rw");
    assert_sink_is(&sv.sink, "inrw");
    served_stop(&sv);
    close(pipe_fds[0]);
    close(ro);
    close(rw);
}

/* The thread that serves starts even without input (stdin /dev/null, as
 * under `vmspec up`). */
static void test_socket_thread_without_input(void)
{
    GError *err = NULL;
    Served sv = { 0 };
    int null_fd, fd;

    sv.dir = g_dir_make_tmp("test-console-XXXXXX", NULL);
    sv.path = g_build_filename(sv.dir, "vm" CONSOLE_SOCKET_SUFFIX, NULL);
    sink_init(&sv.sink);
    null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(null_fd, >=, 0);
    sv.c = console_open_fds(null_fd, -1, NULL, &err);
    g_assert_no_error(err);
    g_assert_true(console_serve(sv.c, sv.path, &err));
    g_assert_cmpuint(start_input_threads(sv.c, &sv.sink), ==, 1);
    fd = client_attach(sv.path, CONSOLE_HELLO_RW);
    client_send(fd, "x");
    assert_sink_is(&sv.sink, "x");
    served_stop(&sv);
    close(fd);
    close(null_fd);
}

/* A stale socket file (its VM died) is replaced; a live one is not; a
 * path too long for a unix socket is refused; a "file:" console serves
 * too, and its file gets the output as before. */
static void test_socket_file(void)
{
    g_autofree char *dir = g_dir_make_tmp("test-console-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "vm.console", NULL);
    g_autofree char *log = g_build_filename(dir, "vm.log", NULL);
    g_autofree char *spec = g_strdup_printf("file:%s", log);
    g_autofree char *text = NULL;
    g_autofree char *got = NULL;
    g_autofree char *long_path = NULL;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    GError *err = NULL;
    Console *c, *other;
    int stale, fd;
    Sink sink;

    sink_init(&sink);
    stale = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    strcpy(addr.sun_path, path);
    g_assert_cmpint(bind(stale, (struct sockaddr *)&addr, sizeof(addr)), ==,
                    0);
    close(stale);
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));

    c = console_open(spec, false, NULL, &err);
    g_assert_no_error(err);
    g_assert_true(console_serve(c, path, &err));
    g_assert_no_error(err);
    g_assert_true(console_start_input(c, sink_can_receive, sink_receive,
                                      &sink, &err));
    fd = client_attach(path, CONSOLE_HELLO_RW);
    console_puts(c, "boot\r\n");
    got = client_read(fd, 6);
    g_assert_cmpstr(got, ==, "boot\r\n");

    other = console_open("none", false, NULL, &err);
    g_assert_no_error(err);
    g_assert_false(console_serve(other, path, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_BUSY);
    g_clear_error(&err);
    long_path = g_strdup_printf("%s/%0200d", dir, 0);
    g_assert_false(console_serve(other, long_path, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);
    console_free(other);
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));   /* not its */

    console_free(c);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_true(client_sees_eof(fd));
    close(fd);
    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "boot\r\n");
    g_unlink(log);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
    sink_clear(&sink);
}

/* `vmspec console`'s terminal: the same raw mode as the console's own. */
static void test_termios_make_raw(void)
{
    struct termios before, mine, console;
    GError *err = NULL;
    int master, slave;
    Console *c;

    open_pty(&master, &slave);
    g_assert_cmpint(tcgetattr(slave, &before), ==, 0);
    mine = before;
    console_termios_make_raw(&mine);
    c = console_open_fds(slave, -1, NULL, &err);
    g_assert_no_error(err);
    g_assert_cmpint(tcgetattr(slave, &console), ==, 0);
    assert_same_termios(&mine, &console);
    console_free(c);
    close(slave);
    close(master);
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
    g_test_add_func("/console/socket/rw-ro", test_socket_rw_ro);
    g_test_add_func("/console/socket/stalled-client",
                    test_socket_stalled_client);
    g_test_add_func("/console/socket/handover", test_socket_handover);
    g_test_add_func("/console/socket/client-limit",
                    test_socket_client_limit);
    g_test_add_func("/console/socket/stdin-holds", test_socket_stdin_holds);
    g_test_add_func("/console/socket/thread-without-input",
                    test_socket_thread_without_input);
    g_test_add_func("/console/socket/file", test_socket_file);
    g_test_add_func("/console/termios-make-raw", test_termios_make_raw);
    return g_test_run();
}
