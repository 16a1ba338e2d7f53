/*
 * vmspec console NAME: a terminal on a running VM's serial console, over
 * the socket its serial device serves (RUNTIME/vmspec/NAME.console; the
 * protocol is in machine/backend/console.h).
 *
 * On a terminal: raw mode, the same settings as `vmspec run`'s console;
 * Ctrl-A d detaches (the VM runs on), Ctrl-A Ctrl-A sends one Ctrl-A,
 * Ctrl-A and any other key sends both.  Otherwise stdin's bytes go as they
 * are, without escapes, until its end; the output is followed until the
 * VM closes the console either way.  A read-only client (another holds
 * the input) sends nothing.  SIGINT, SIGTERM, SIGHUP and SIGQUIT arrive
 * through a signalfd, so the terminal is restored on every way out.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/control.h"
#include "cmd/output.h"
#include "machine/backend/console.h"
#include "machine/qom/error.h"
#include "machine/qom/vm.h"

/* How long a VM may take to send its first line; it answers at once
 * unless it is stopping. */
#define HELLO_TIMEOUT_MS 5000
/* Most output bytes relayed per read. */
#define RELAY_MAX 16384
/* Typed bytes held while the VM takes none; more are dropped, as the
 * VM's own terminal console drops typeahead (console.h). */
#define SEND_HOLD_MAX 4096

typedef enum {
    SESSION_DETACHED,       /* Ctrl-A d, or the terminal hung up */
    SESSION_CLOSED,         /* the VM closed the console */
    SESSION_SIGNALLED,
    SESSION_FAILED,         /* reported already */
} SessionEnd;

typedef struct {
    char *shown;            /* the VM's name, escaped for messages */
    int sock;
    int signal_fd;
    bool writable;          /* this client holds the input */
    bool interactive;       /* stdin is a terminal: raw mode, escapes */
    bool chatty;            /* a person is watching: say what happens */
    bool raw;               /* saved is to be restored */
    struct termios saved;
    bool escape_pending;
    bool stdin_done;
    bool at_line_start;     /* the last byte shown ended a line */
    int signo;
    uint8_t out[SEND_HOLD_MAX];     /* typed, not yet sent */
    size_t out_len;
} Session;

/* Connects to name's console socket. */
static int console_connect(const char *name, GError **errp)
{
    g_autofree char *path = control_runtime_path(name, CONSOLE_SOCKET_SUFFIX,
                                                 errp);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd, err;

    if (!path) {
        return -1;
    }
    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "console socket path %s is too long", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
        return fd;
    }
    err = errno;
    if (fd >= 0) {
        close(fd);
    }
    if (err == ENOENT || err == ECONNREFUSED) {
        /* No socket, or one left by a VM that died. */
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND,
                    "no VM named %s is running", name);
    } else {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot connect to %s: %s", path, g_strerror(err));
    }
    return -1;
}

/*
 * Reads the server's first line (byte by byte: what follows it is guest
 * output, left for the relay) and learns whether we hold the input.
 */
static bool read_hello(Session *s, const char *name, GError **errp)
{
    char line[CONSOLE_HELLO_MAX + 1];
    size_t len = 0;
    struct pollfd p = { .fd = s->sock, .events = POLLIN };

    while (len < CONSOLE_HELLO_MAX && (len == 0 || line[len - 1] != '\n')) {
        int ready = poll(&p, 1, HELLO_TIMEOUT_MS);
        ssize_t n;

        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready <= 0) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                        "%s's console does not answer", name);
            return false;
        }
        n = recv(s->sock, line + len, 1, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                        "%s's console closed before it answered", name);
            return false;
        }
        len++;
    }
    line[len] = '\0';
    if (strcmp(line, CONSOLE_HELLO_RW) == 0 ||
        strcmp(line, CONSOLE_HELLO_RO) == 0) {
        s->writable = strcmp(line, CONSOLE_HELLO_RW) == 0;
        return true;
    }
    if (g_str_has_prefix(line, CONSOLE_HELLO_PREFIX) &&
        line[len - 1] == '\n') {
        /* A refusal; the reason is the server's text (escaped when
         * printed, as every message is). */
        line[len - 1] = '\0';
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_BUSY,
                    "%s's console refused the connection: %s", name,
                    line + strlen(CONSOLE_HELLO_PREFIX));
    } else {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "%s: the console socket does not speak the vmspec "
                    "console protocol", name);
    }
    return false;
}

/* Says what happened, on a line of its own, to the person watching. */
static void G_GNUC_PRINTF(2, 3) session_say(Session *s, const char *fmt, ...)
{
    g_autofree char *text = NULL;
    va_list ap;

    if (!s->chatty) {
        return;
    }
    va_start(ap, fmt);
    text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* The guest may have left the cursor after a prompt; a raw terminal
     * needs its carriage return said. */
    fprintf(stderr, "%s%s%s",
            !s->at_line_start && isatty(STDOUT_FILENO) ? "\r\n" : "", text,
            s->raw ? "\r\n" : "\n");
}

/* Shows guest output: all of it, as a blocking write would. */
static bool show_output(Session *s, const uint8_t *buf, size_t len)
{
    if (len > 0) {
        s->at_line_start = buf[len - 1] == '\n';
    }
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, buf, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* A terminal someone else made non-blocking. */
            struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };

            (void)poll(&p, 1, -1);
            continue;
        }
        if (n <= 0) {
            cmd_error(NULL, "writing standard output: %s",
                      n < 0 ? g_strerror(errno) : "nothing written");
            return false;
        }
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* Sends what was typed, as far as the socket takes it now. */
static void flush_typed(Session *s)
{
    while (s->out_len > 0) {
        ssize_t n = send(s->sock, s->out, s->out_len,
                         MSG_DONTWAIT | MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                s->out_len = 0;     /* closed: the next read says so */
            }
            return;
        }
        memmove(s->out, s->out + n, s->out_len - (size_t)n);
        s->out_len -= (size_t)n;
    }
}

static void queue_typed(Session *s, uint8_t b)
{
    /* Read-only: the server would drop it anyway. */
    if (s->writable && s->out_len < sizeof(s->out)) {
        s->out[s->out_len++] = b;
    }
}

/* Reads stdin and queues what it means; false on Ctrl-A d (or a terminal
 * that hung up). */
static bool read_typed(Session *s)
{
    uint8_t buf[SEND_HOLD_MAX];
    ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

    if (n < 0 && (errno == EINTR || errno == EAGAIN ||
                  errno == EWOULDBLOCK)) {
        return true;
    }
    if (n <= 0) {
        s->stdin_done = true;
        if (s->interactive) {
            return false;           /* the terminal is gone */
        }
        /* The server gives the input up at our end of file, so that the
         * next client gets it; the output keeps coming. */
        (void)shutdown(s->sock, SHUT_WR);
        return true;
    }
    for (ssize_t i = 0; i < n; i++) {
        uint8_t b = buf[i];

        if (!s->interactive) {
            queue_typed(s, b);
        } else if (!s->escape_pending) {
            if (b == CONSOLE_ESCAPE_CHAR) {
                s->escape_pending = true;
            } else {
                queue_typed(s, b);
            }
        } else {
            s->escape_pending = false;
            if (b == CONSOLE_DETACH_CHAR) {
                flush_typed(s);     /* what came before it still goes */
                return false;
            }
            /* Ctrl-A Ctrl-A is one Ctrl-A; anything else is both keys. */
            if (b != CONSOLE_ESCAPE_CHAR) {
                queue_typed(s, CONSOLE_ESCAPE_CHAR);
            }
            queue_typed(s, b);
        }
    }
    flush_typed(s);
    return true;
}

static SessionEnd relay(Session *s)
{
    uint8_t buf[RELAY_MAX];

    for (;;) {
        /* A terminal is always read, so that Ctrl-A d works while the VM
         * takes nothing; a pipe only when what it gave was sent. */
        bool read_stdin = !s->stdin_done &&
            (s->interactive || (s->writable && s->out_len == 0));
        struct pollfd fds[3] = {
            { .fd = s->sock,
              .events = POLLIN | (s->out_len > 0 ? POLLOUT : 0) },
            { .fd = s->signal_fd, .events = POLLIN },
            { .fd = read_stdin ? STDIN_FILENO : -1, .events = POLLIN },
        };

        if (poll(fds, G_N_ELEMENTS(fds), -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            cmd_error(NULL, "poll: %s", g_strerror(errno));
            return SESSION_FAILED;
        }
        if (fds[1].revents & POLLIN) {
            struct signalfd_siginfo info;

            if (read(s->signal_fd, &info, sizeof(info)) == sizeof(info)) {
                s->signo = (int)info.ssi_signo;
                return SESSION_SIGNALLED;
            }
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(s->sock, buf, sizeof(buf), MSG_DONTWAIT);

            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN &&
                           errno != EWOULDBLOCK)) {
                return SESSION_CLOSED;
            }
            if (n > 0 && !show_output(s, buf, (size_t)n)) {
                return SESSION_FAILED;
            }
        }
        if (fds[0].revents & POLLOUT) {
            flush_typed(s);
        }
        if ((fds[2].revents & (POLLIN | POLLHUP | POLLERR)) &&
            !read_typed(s)) {
            return SESSION_DETACHED;
        }
    }
}

/* Puts the terminal in raw mode, as `vmspec run`'s console does. */
static bool session_make_raw(Session *s)
{
    struct termios t = s->saved;

    console_termios_make_raw(&t);
    if (tcsetattr(STDIN_FILENO, TCSANOW, &t) < 0) {
        cmd_error(NULL, "cannot put the terminal in raw mode: %s",
                  g_strerror(errno));
        return false;
    }
    s->raw = true;
    return true;
}

static void session_restore(Session *s)
{
    if (s->raw) {
        (void)tcsetattr(STDIN_FILENO, TCSANOW, &s->saved);
        s->raw = false;
    }
}

/* Attached: relays until the session ends, terminal restored after;
 * returns the exit status. */
static int session_attached(Session *s)
{
    SessionEnd end;

    /* Raw before the greeting: whoever reads "Connected" may type at
     * once, and keys typed into a cooked terminal are echoed by it and
     * held back until a newline. */
    if (s->interactive && !session_make_raw(s)) {
        return EXIT_ERROR;
    }
    if (s->writable) {
        session_say(s, "Connected to %s's console (%s)", s->shown,
                    s->interactive ? "Ctrl-A d detaches" : "read-write");
    } else {
        session_say(s, "Connected to %s's console read-only: another "
                    "client or vmspec run's terminal has the input%s",
                    s->shown, s->interactive ? " (Ctrl-A d detaches)" : "");
    }
    end = relay(s);
    session_restore(s);
    switch (end) {
    case SESSION_DETACHED:
        session_say(s, "Detached from %s's console", s->shown);
        return EXIT_OK;
    case SESSION_CLOSED:
        session_say(s, "%s's console closed (the VM stopped or rebooted)",
                    s->shown);
        return EXIT_OK;
    case SESSION_SIGNALLED:
        session_say(s, "Detached from %s's console (%s)", s->shown,
                    strsignal(s->signo));
        return 128 + s->signo;
    default:
        return EXIT_ERROR;
    }
}

int cmd_console(int argc, char **argv)
{
    GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
    g_autoptr(GError) err = NULL;
    g_autofree Session *s = g_new0(Session, 1);
    sigset_t stop_signals, no_pipe;
    int status;

    if (!cmd_parse_options("console", "NAME",
                           "Attach the terminal to a running VM's serial "
                           "console; Ctrl-A d detaches.",
                           entries, &argc, &argv)) {
        return EXIT_USAGE;
    }
    if (argc != 2) {
        cmd_error("console", "expected one NAME");
        return EXIT_USAGE;
    }
    /* Only valid names can be running; the check also keeps the name
     * from naming another file ("../x"). */
    if (!vm_name_check(argv[1], &err)) {
        cmd_error("console", "%s", err->message);
        return EXIT_USAGE;
    }
    s->sock = console_connect(argv[1], &err);
    if (s->sock < 0 || !read_hello(s, argv[1], &err)) {
        cmd_error(NULL, "%s", err->message);
        if (s->sock >= 0) {
            close(s->sock);
        }
        return EXIT_ERROR;
    }
    s->shown = cmd_escape(argv[1]);
    s->interactive = isatty(STDIN_FILENO) &&
                     tcgetattr(STDIN_FILENO, &s->saved) == 0;
    s->chatty = s->interactive || isatty(STDERR_FILENO);
    s->at_line_start = true;

    /* The stop signals as events in the relay loop (the terminal is
     * restored on the way out); SIGPIPE held so that a closed stdout is
     * a write error. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    sigaddset(&stop_signals, SIGQUIT);
    sigemptyset(&no_pipe);
    sigaddset(&no_pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    pthread_sigmask(SIG_BLOCK, &no_pipe, NULL);
    s->signal_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC);
    if (s->signal_fd < 0) {
        cmd_error(NULL, "signalfd: %s", g_strerror(errno));
        status = EXIT_ERROR;
    } else {
        status = session_attached(s);
        close(s->signal_fd);
    }
    close(s->sock);
    g_free(s->shown);
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL);
    return status;
}
