/*
 * Console backends: stdio (raw terminal or plain input), file, none, and
 * the input thread that also serves the console socket (console-socket.c).
 * See console.h for what each does and why.
 */
#include "machine/backend/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include "machine/backend/console-socket.h"
#include "machine/qom/error.h"

/* Most bytes taken from the input fd at once. */
#define CONSOLE_READ_MAX 64
/* Terminal typeahead held while the device is full (see console.h). */
#define CONSOLE_HOLD_MAX 4096

struct Console {
    int in_fd;              /* -1: no input; borrowed */
    int out_fd;             /* -1: output discarded */
    bool own_out;           /* out_fd was opened here (file:) */
    RunEnd *run_end;        /* borrowed, may be NULL */
    bool escapes;           /* in_fd is a terminal: Ctrl-A commands */
    struct termios saved;   /* the terminal as we found it */
    gint raw;               /* atomic: 1 while the terminal is ours */
    ConsoleServer *server;  /* NULL: no console socket */

    int wake_fd;            /* eventfd: room again, or stop */
    gint stopping;          /* atomic */
    GThread *thread;
    ConsoleCanReceiveFn can_receive;
    ConsoleReceiveFn receive;
    void *opaque;

    /* Input thread only: escape state and bytes read but not delivered,
     * pending[pending_pos..pending_len); eof: in_fd gives no more input
     * (or there is none), so a socket client may hold the input. */
    bool escape_pending;
    bool eof;
    uint8_t pending[CONSOLE_HOLD_MAX];
    size_t pending_len;
    size_t pending_pos;
};

bool console_spec_check(const char *spec, GError **errp)
{
    if (strcmp(spec, "stdio") == 0 || strcmp(spec, "none") == 0 ||
        (g_str_has_prefix(spec, "file:") && spec[5] != '\0')) {
        return true;
    }
    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                "'%s' is not a console: use stdio, none or file:PATH", spec);
    return false;
}

static Console *console_alloc(RunEnd *run_end)
{
    Console *c = g_new0(Console, 1);

    c->in_fd = -1;
    c->out_fd = -1;
    c->wake_fd = -1;
    c->run_end = run_end;
    return c;
}

/*
 * Raw input, as QEMU's stdio chardev sets it (char-stdio.c): bytes as
 * typed, no echo, no line editing, no signal keys (Ctrl-C goes to the
 * guest), 8-bit.  c_oflag is left alone (see console.h).
 */
void console_termios_make_raw(struct termios *t)
{
    t->c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR |
                    ICRNL | IXON);
    t->c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    t->c_cflag &= ~(CSIZE | PARENB);
    t->c_cflag |= CS8;
    t->c_cc[VMIN] = 1;
    t->c_cc[VTIME] = 0;
}

static bool console_make_raw(Console *c, GError **errp)
{
    struct termios t = c->saved;

    console_termios_make_raw(&t);
    if (tcsetattr(c->in_fd, TCSANOW, &t) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot put the terminal in raw mode: %s",
                    g_strerror(errno));
        return false;
    }
    g_atomic_int_set(&c->raw, 1);
    return true;
}

Console *console_open_fds(int in_fd, int out_fd, RunEnd *run_end,
                          GError **errp)
{
    g_autoptr(Console) c = console_alloc(run_end);

    c->in_fd = in_fd;
    c->out_fd = out_fd;
    if (in_fd < 0) {
        return g_steal_pointer(&c);
    }
    if (isatty(in_fd) && tcgetattr(in_fd, &c->saved) == 0) {
        c->escapes = true;
        if (!console_make_raw(c, errp)) {
            return NULL;
        }
    }
    return g_steal_pointer(&c);
}

Console *console_open(const char *spec, bool append, RunEnd *run_end,
                      GError **errp)
{
    Console *c;

    if (!console_spec_check(spec, errp)) {
        return NULL;
    }
    if (strcmp(spec, "stdio") == 0) {
        return console_open_fds(STDIN_FILENO, STDOUT_FILENO, run_end, errp);
    }
    c = console_alloc(run_end);
    if (g_str_has_prefix(spec, "file:")) {
        const char *path = spec + 5;

        c->out_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
                         (append ? 0 : O_TRUNC), 0644);
        if (c->out_fd < 0) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                        "console file %s: %s", path, g_strerror(errno));
            console_free(c);
            return NULL;
        }
        c->own_out = true;
    }
    return c;
}

bool console_serve(Console *c, const char *path, GError **errp)
{
    g_assert(!c->server && !c->thread);
    c->server = console_server_new(path, errp);
    return c->server != NULL;
}

uint64_t console_dropped_output(Console *c)
{
    return c->server ? console_server_dropped(c->server) : 0;
}

/* Writes all of buf to the primary output, as a blocking write would. */
static void console_write_out(Console *c, const uint8_t *buf, size_t len)
{
    while (c->out_fd >= 0 && len > 0) {
        ssize_t n = write(c->out_fd, buf, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* Someone made the fd non-blocking: wait, as a blocking
             * write would. */
            struct pollfd p = { .fd = c->out_fd, .events = POLLOUT };

            (void)poll(&p, 1, -1);
            continue;
        }
        if (n <= 0) {
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

void console_write(Console *c, const uint8_t *buf, size_t len)
{
    console_write_out(c, buf, len);
    if (c->server) {
        console_server_write(c->server, buf, len);
    }
}

bool console_is_raw(Console *c)
{
    return c && g_atomic_int_get(&c->raw);
}

void console_restore_terminal(Console *c)
{
    /* Only an atomic exchange and tcsetattr(): async-signal-safe. */
    if (c && g_atomic_int_compare_and_exchange(&c->raw, 1, 0)) {
        (void)tcsetattr(c->in_fd, TCSANOW, &c->saved);
    }
}

void console_accept_input(Console *c)
{
    uint64_t one = 1;

    if (c && c->wake_fd >= 0) {
        /* Only fails when the counter is about to overflow: already
         * awake then. */
        (void)!write(c->wake_fd, &one, sizeof(one));
    }
}

/* Holds b for the device; a terminal's typeahead beyond the hold buffer
 * is dropped, as a UART overrun would (pipes never get here full). */
static void console_hold(Console *c, uint8_t b)
{
    if (c->pending_len < sizeof(c->pending)) {
        c->pending[c->pending_len++] = b;
    }
}

/* Appends what byte b means to the pending input, handling Ctrl-A. */
static void console_input_byte(Console *c, uint8_t b)
{
    if (!c->escapes) {
        console_hold(c, b);
        return;
    }
    if (!c->escape_pending) {
        if (b == CONSOLE_ESCAPE_CHAR) {
            c->escape_pending = true;
        } else {
            console_hold(c, b);
        }
        return;
    }
    c->escape_pending = false;
    if (b == CONSOLE_QUIT_CHAR) {
        if (c->run_end) {
            run_end_request(c->run_end, RUN_END_QUIT,
                            "Ctrl-A x typed on the console");
        }
        return;
    }
    if (b == CONSOLE_ESCAPE_CHAR) {
        console_hold(c, CONSOLE_ESCAPE_CHAR);
        return;
    }
    /* Not a command: the guest gets both keys, none is lost. */
    console_hold(c, CONSOLE_ESCAPE_CHAR);
    console_hold(c, b);
}

/* Moves what is still undelivered to the front of the pending buffer. */
static void console_pending_compact(Console *c)
{
    memmove(c->pending, c->pending + c->pending_pos,
            c->pending_len - c->pending_pos);
    c->pending_len -= c->pending_pos;
    c->pending_pos = 0;
}

/* Reads up to max bytes from the input fd into the pending buffer. */
static void console_read_input(Console *c, size_t max)
{
    uint8_t buf[CONSOLE_READ_MAX];
    ssize_t n;

    if (max == 0) {
        return;             /* a read of 0 bytes would look like EOF */
    }
    n = read(c->in_fd, buf, MIN(max, sizeof(buf)));
    if (n < 0 && (errno == EINTR || errno == EAGAIN ||
                  errno == EWOULDBLOCK)) {
        return;
    }
    if (n <= 0) {
        /* End of file, or an error such as EIO on a hung-up terminal:
         * no more input either way.  The VM keeps running. */
        c->eof = true;
        return;
    }
    console_pending_compact(c);
    for (ssize_t i = 0; i < n; i++) {
        console_input_byte(c, buf[i]);
    }
}

/*
 * One round of the socket server after poll(): the input holder's bytes
 * (at most max: what the device can take) join the pending input as they
 * are, without escapes (the client handles its own).
 */
static void console_serve_clients(Console *c, const struct pollfd *fds,
                                  size_t max)
{
    uint8_t buf[CONSOLE_READ_MAX];
    size_t n = console_server_dispatch(c->server, fds, !c->eof, buf,
                                       MIN(max, sizeof(buf)));

    console_pending_compact(c);
    for (size_t i = 0; i < n; i++) {
        console_hold(c, buf[i]);
    }
}

static gpointer console_input_thread(gpointer opaque)
{
    Console *c = opaque;

    while (!g_atomic_int_get(&c->stopping)) {
        size_t room = c->can_receive(c->opaque);
        bool have_pending = c->pending_pos < c->pending_len;
        /* Backpressure: a source is read only when everything read so
         * far was delivered and the device has room, so a full device
         * leaves input in the kernel (a pipe's or a client's writer then
         * blocks). */
        bool take_input = !have_pending && room > 0;
        struct pollfd fds[2 + CONSOLE_SERVER_POLLFDS] = {
            { .fd = c->wake_fd, .events = POLLIN },
            { .fd = -1 },
        };

        if (have_pending && room > 0) {
            size_t n = MIN(room, c->pending_len - c->pending_pos);

            c->pending_pos += c->receive(c->opaque,
                                         c->pending + c->pending_pos, n);
            continue;
        }
        /* A terminal is always read, so that Ctrl-A x works while the
         * guest reads nothing; its typeahead waits in the hold buffer. */
        if (!c->eof && (c->escapes || take_input)) {
            fds[1] = (struct pollfd){ .fd = c->in_fd, .events = POLLIN };
        }
        if (c->server) {
            console_server_pollfds(c->server, fds + 2, take_input);
        }
        if (poll(fds, c->server ? G_N_ELEMENTS(fds) : 2, -1) < 0) {
            continue;       /* EINTR */
        }
        if (fds[0].revents & POLLIN) {
            uint64_t v;

            (void)!read(c->wake_fd, &v, sizeof(v));
        }
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            /* The room may have shrunk while we slept (the guest turned
             * its FIFO off): ask again. */
            console_read_input(c, c->escapes ? CONSOLE_READ_MAX
                                             : c->can_receive(c->opaque));
        }
        if (c->server) {
            console_serve_clients(c, fds + 2, take_input ? room : 0);
        }
    }
    return NULL;
}

/*
 * Whether the input is over before it began: stdin is /dev/null or an
 * empty pipe whose writer is gone (`vmspec up`, CI), or not open at all.
 * One poll that does not wait, and, when it says readable, the input
 * thread's first read done here: end of file then means the thread would
 * have nothing to do but wait for console_free(), so none is started (a
 * thread costs a dozen system calls before the first KVM_RUN and a stack).
 * Bytes that read returns stay pending for the thread to deliver.  Main
 * thread, before the input thread exists.
 */
static bool console_input_ended(Console *c)
{
    struct pollfd p = { .fd = c->in_fd, .events = POLLIN };

    if (poll(&p, 1, 0) != 1) {
        return false;               /* nothing yet (or EINTR): wait */
    }
    if (p.revents & POLLNVAL) {
        c->eof = true;              /* not an open fd: never any input */
        return true;
    }
    console_read_input(c, c->escapes ? CONSOLE_READ_MAX
                                     : c->can_receive(c->opaque));
    return c->eof && c->pending_pos == c->pending_len;
}

bool console_start_input(Console *c, ConsoleCanReceiveFn can_receive,
                         ConsoleReceiveFn receive, void *opaque,
                         GError **errp)
{
    g_autoptr(GError) err = NULL;

    g_assert(!c->thread);
    c->eof = c->in_fd < 0;
    if (c->eof && !c->server) {
        return true;
    }
    c->can_receive = can_receive;
    c->receive = receive;
    c->opaque = opaque;
    if (!c->eof && console_input_ended(c) && !c->server) {
        return true;
    }
    c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->wake_fd < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO, "eventfd: %s",
                    g_strerror(errno));
        return false;
    }
    c->thread = g_thread_try_new("console-in", console_input_thread, c,
                                 &err);
    if (!c->thread) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_FAILED,
                    "cannot start the console input thread: %s",
                    err->message);
        return false;
    }
    return true;
}

void console_free(Console *c)
{
    if (!c) {
        return;
    }
    if (c->thread) {
        g_atomic_int_set(&c->stopping, 1);
        console_accept_input(c);
        g_thread_join(c->thread);
    }
    console_restore_terminal(c);
    console_server_free(c->server);
    if (c->wake_fd >= 0) {
        close(c->wake_fd);
    }
    if (c->own_out) {
        close(c->out_fd);
    }
    g_free(c);
}
