/*
 * The host end of a guest's readiness report (see ready.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/ready.h"
#include "machine/backend/daemon.h"
#include "machine/qom/error.h"

typedef struct {
    int fd;
    GString *text;
} ReadyClient;

struct ReadyListener {
    char *path;
    struct stat bound;          /* the socket file at path, ours */
    int listen_fd;
    ReadyClient clients[READY_MAX_CLIENTS];
    ProvisionState state;
    char *report;               /* FAILED: what the guest said */
};

ReadyListener *ready_listener_new(const char *path, GError **errp)
{
    ReadyListener *r;
    int fd = daemon_listen_unix(path, errp);

    if (fd < 0) {
        return NULL;
    }
    if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "%s: %s", path, g_strerror(errno));
        close(fd);
        unlink(path);
        return NULL;
    }
    r = g_new0(ReadyListener, 1);
    r->path = g_strdup(path);
    (void)stat(path, &r->bound);
    r->listen_fd = fd;
    for (int i = 0; i < READY_MAX_CLIENTS; i++) {
        r->clients[i].fd = -1;
    }
    return r;
}

static void client_close(ReadyClient *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    if (c->text) {
        g_string_free(c->text, TRUE);
        c->text = NULL;
    }
}

void ready_listener_free(ReadyListener *r)
{
    struct stat st;

    if (!r) {
        return;
    }
    for (int i = 0; i < READY_MAX_CLIENTS; i++) {
        client_close(&r->clients[i]);
    }
    close(r->listen_fd);
    /* Not one a later run of the same name bound meanwhile. */
    if (stat(r->path, &st) == 0 && st.st_dev == r->bound.st_dev &&
        st.st_ino == r->bound.st_ino) {
        unlink(r->path);
    }
    g_free(r->path);
    g_free(r->report);
    g_free(r);
}

void ready_listener_reset(ReadyListener *r)
{
    r->state = PROVISION_PENDING;
    g_clear_pointer(&r->report, g_free);
}

int ready_listener_pollfds(ReadyListener *r, struct pollfd *fds, int max)
{
    int n = 0;

    if (max < 1 + READY_MAX_CLIENTS) {
        return 0;
    }
    fds[n++] = (struct pollfd){ .fd = r->listen_fd, .events = POLLIN };
    for (int i = 0; i < READY_MAX_CLIENTS; i++) {
        fds[n++] = (struct pollfd){ .fd = r->clients[i].fd,
                                    .events = POLLIN };
    }
    return n;
}

/* A whole report: its first line decides. */
static void take_report(ReadyListener *r, GString *text)
{
    char *nl = memchr(text->str, '\n', text->len);
    g_autofree char *first = g_strndup(text->str, nl ? (gsize)(nl - text->str)
                                                     : text->len);

    if (strcmp(first, "ready") == 0) {
        r->state = PROVISION_READY;
        g_clear_pointer(&r->report, g_free);
        return;
    }
    r->state = PROVISION_FAILED;
    g_free(r->report);
    r->report = g_utf8_make_valid(strcmp(first, "failed") == 0 && nl
                                  ? nl + 1 : text->str, -1);
}

static void client_read(ReadyListener *r, ReadyClient *c)
{
    char buf[4096];
    ssize_t got = read(c->fd, buf, sizeof(buf));

    if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (got > 0) {
        gsize room = READY_MAX_REPORT - c->text->len;

        /* NULs would cut the text short: the guest's bytes are shown as
         * text, so make them text. */
        for (ssize_t i = 0; i < got; i++) {
            if (buf[i] == '\0') {
                buf[i] = '?';
            }
        }
        g_string_append_len(c->text, buf, (gssize)MIN((gsize)got, room));
        return;
    }
    take_report(r, c->text);
    client_close(c);
}

static void accept_client(ReadyListener *r)
{
    int fd = accept4(r->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0) {
        return;
    }
    for (int i = 0; i < READY_MAX_CLIENTS; i++) {
        if (r->clients[i].fd < 0) {
            r->clients[i].fd = fd;
            r->clients[i].text = g_string_new(NULL);
            return;
        }
    }
    close(fd);      /* a guest that opens more has nothing to say */
}

void ready_listener_dispatch(ReadyListener *r, const struct pollfd *fds,
                             int n)
{
    if (n < 1 + READY_MAX_CLIENTS) {
        return;
    }
    for (int i = 0; i < READY_MAX_CLIENTS; i++) {
        if (r->clients[i].fd >= 0 && fds[1 + i].fd == r->clients[i].fd &&
            fds[1 + i].revents) {
            client_read(r, &r->clients[i]);
        }
    }
    if (fds[0].revents & POLLIN) {
        accept_client(r);
    }
}

ProvisionState ready_listener_state(ReadyListener *r, const char **report)
{
    if (report) {
        *report = r->state == PROVISION_FAILED ? r->report : NULL;
    }
    return r->state;
}

const char *provision_state_name(ProvisionState state)
{
    switch (state) {
    case PROVISION_READY:
        return "ready";
    case PROVISION_FAILED:
        return "failed";
    default:
        return "provisioning";
    }
}
