/*
 * The console's socket server: accepts `vmspec console` clients, says who
 * gets the input, fans guest output out to them.  See console-socket.h
 * for the threading and console.h for the protocol.
 */
#include "machine/backend/console-socket.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "machine/qom/error.h"

/* Most bytes a read-only client's read drops at once. */
#define CONSOLE_DISCARD_MAX 256

typedef struct {
    int fd;                 /* -1: free slot */
    bool input_done;        /* the client shut its sending side down */
} ConsoleClient;

struct ConsoleServer {
    int listen_fd;
    char *path;
    int holder;             /* slot with the input, -1: none */

    /* Guards clients[].fd against being closed or reused while
     * console_server_write() sends on it, and dropped.  A pthread mutex,
     * not a GMutex, so that ThreadSanitizer sees it. */
    pthread_mutex_t lock;
    ConsoleClient clients[CONSOLE_MAX_CLIENTS];
    gint attached;          /* atomic: clients with fd >= 0 */
    uint64_t dropped;
};

/* Whether someone listens at addr (a stale socket file refuses). */
static bool socket_is_live(const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool live = fd >= 0 &&
        connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;

    if (fd >= 0) {
        close(fd);
    }
    return live;
}

/* Binds fd at addr, replacing a stale socket file; a live one is an
 * error. */
static bool socket_bind(int fd, const struct sockaddr_un *addr,
                        GError **errp)
{
    if (bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0) {
        return true;
    }
    if (errno == EADDRINUSE) {
        if (socket_is_live(addr)) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_BUSY,
                        "console socket %s is served by another process",
                        addr->sun_path);
            return false;
        }
        /* Left by a run that died: ours now. */
        unlink(addr->sun_path);
        if (bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0) {
            return true;
        }
    }
    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                "cannot bind the console socket %s: %s", addr->sun_path,
                g_strerror(errno));
    return false;
}

ConsoleServer *console_server_new(const char *path, GError **errp)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    ConsoleServer *s;
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "console socket path %s is too long (%zu bytes at most)",
                    path, sizeof(addr.sun_path) - 1);
        return NULL;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "console socket: %s", g_strerror(errno));
        return NULL;
    }
    if (!socket_bind(fd, &addr, errp)) {
        close(fd);
        return NULL;
    }
    /* Mode 0600 whatever the umask, before listen(): no one connects
     * while it is wider. */
    if (chmod(path, 0600) < 0 || listen(fd, CONSOLE_MAX_CLIENTS) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot serve the console socket %s: %s", path,
                    g_strerror(errno));
        close(fd);
        unlink(path);
        return NULL;
    }
    s = g_new0(ConsoleServer, 1);
    s->listen_fd = fd;
    s->path = g_strdup(path);
    s->holder = -1;
    pthread_mutex_init(&s->lock, NULL);
    for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++) {
        s->clients[i].fd = -1;
    }
    return s;
}

/* Input thread (or free): takes slot i's client off the list, then closes
 * it; a writer never sends on a closed or reused fd. */
static void client_close(ConsoleServer *s, int i)
{
    int fd = s->clients[i].fd;

    pthread_mutex_lock(&s->lock);
    s->clients[i].fd = -1;
    s->clients[i].input_done = false;
    g_atomic_int_add(&s->attached, -1);
    pthread_mutex_unlock(&s->lock);
    close(fd);
    if (s->holder == i) {
        s->holder = -1;     /* the next client to attach gets the input */
    }
}

void console_server_free(ConsoleServer *s)
{
    if (!s) {
        return;
    }
    for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++) {
        if (s->clients[i].fd >= 0) {
            client_close(s, i);
        }
    }
    close(s->listen_fd);
    unlink(s->path);
    pthread_mutex_destroy(&s->lock);
    g_free(s->path);
    g_free(s);
}

void console_server_write(ConsoleServer *s, const uint8_t *buf, size_t len)
{
    /* The usual case, nobody attached: one atomic load. */
    if (g_atomic_int_get(&s->attached) == 0 || len == 0) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++) {
        ssize_t n;

        if (s->clients[i].fd < 0) {
            continue;
        }
        /* Never waits: the guest must not stall on a client that does
         * not read.  A client that is gone (EPIPE) is closed by the input
         * thread when poll() reports the hangup. */
        do {
            n = send(s->clients[i].fd, buf, len,
                     MSG_DONTWAIT | MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
        s->dropped += n < 0 ? len : len - (size_t)n;
    }
    pthread_mutex_unlock(&s->lock);
}

uint64_t console_server_dropped(ConsoleServer *s)
{
    uint64_t n;

    pthread_mutex_lock(&s->lock);
    n = s->dropped;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void console_server_pollfds(ConsoleServer *s, struct pollfd *fds,
                            bool read_holder)
{
    fds[0] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
    for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++) {
        const ConsoleClient *cl = &s->clients[i];
        bool read = !cl->input_done && (i != s->holder || read_holder);

        /* events 0 still reports POLLHUP and POLLERR: a hangup is seen
         * whether or not the client is read. */
        fds[1 + i] = (struct pollfd){ .fd = cl->fd,
                                      .events = read ? POLLIN : 0 };
    }
}

/*
 * Reads client i: its bytes into buf (at most max) when it holds the
 * input, else dropped.  Returns how many went into buf.  End of file is
 * the client's end of input (`vmspec console NAME </dev/null`): it stays
 * attached for output and gives the input up.
 */
static size_t client_read(ConsoleServer *s, int i, uint8_t *buf, size_t max)
{
    ConsoleClient *cl = &s->clients[i];
    uint8_t discard[CONSOLE_DISCARD_MAX];
    bool holds = i == s->holder;
    ssize_t n;

    if (holds && max == 0) {
        return 0;           /* a read of 0 bytes would look like EOF */
    }
    n = recv(cl->fd, holds ? buf : discard, holds ? max : sizeof(discard),
             MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN ||
                  errno == EWOULDBLOCK)) {
        return 0;
    }
    if (n < 0) {
        client_close(s, i);
        return 0;
    }
    if (n == 0) {
        cl->input_done = true;
        if (holds) {
            s->holder = -1;
        }
        return 0;
    }
    return holds ? (size_t)n : 0;
}

/* Accepts one client, tells it whether it has the input, and adds it to
 * the list; the 9th is told so and closed. */
static void client_accept(ConsoleServer *s, bool input_elsewhere)
{
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    int slot = -1;
    const char *hello;

    if (fd < 0) {
        return;             /* gone already, or out of fds: it may retry */
    }
    for (int i = 0; i < CONSOLE_MAX_CLIENTS && slot < 0; i++) {
        if (s->clients[i].fd < 0) {
            slot = i;
        }
    }
    if (slot < 0) {
        hello = CONSOLE_HELLO_FULL;
    } else if (!input_elsewhere && s->holder < 0) {
        hello = CONSOLE_HELLO_RW;
        s->holder = slot;
    } else {
        hello = CONSOLE_HELLO_RO;
    }
    if (slot < 0) {
        (void)!send(fd, hello, strlen(hello), MSG_DONTWAIT | MSG_NOSIGNAL);
        close(fd);
        return;
    }
    /* A new socket's buffer has room for one short line.  Sent with the
     * lock held as the client joins the list, and counted first: the
     * line comes ahead of any output, and a writer that runs once it was
     * sent sees the count and waits for the lock, so all output from then
     * on follows it. */
    pthread_mutex_lock(&s->lock);
    g_atomic_int_inc(&s->attached);
    s->clients[slot] = (ConsoleClient){ .fd = fd };
    (void)!send(fd, hello, strlen(hello), MSG_DONTWAIT | MSG_NOSIGNAL);
    pthread_mutex_unlock(&s->lock);
}

size_t console_server_dispatch(ConsoleServer *s, const struct pollfd *fds,
                               bool input_elsewhere, uint8_t *buf,
                               size_t max)
{
    size_t got = 0;

    /* Clients first: a slot freed by a hangup is free for a client that
     * connected after it. */
    for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++) {
        const struct pollfd *p = &fds[1 + i];

        if (s->clients[i].fd < 0 || p->fd != s->clients[i].fd) {
            continue;
        }
        if ((p->events & POLLIN) && (p->revents & POLLIN)) {
            size_t n = client_read(s, i, buf + got, max - got);

            got += n;
            if (n > 0 || s->clients[i].fd < 0) {
                continue;   /* more next time, or closed */
            }
        }
        if (s->clients[i].fd >= 0 &&
            (p->revents & (POLLHUP | POLLERR | POLLNVAL))) {
            client_close(s, i);
        }
    }
    if (fds[0].revents & POLLIN) {
        client_accept(s, input_elsewhere);
    }
    return got;
}
