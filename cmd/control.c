/*
 * The control socket: server (in `vmspec run`) and client (ps, stop, up).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmd/control.h"
#include "machine/qom/error.h"
#include "spec/json.h"

typedef struct {
    int fd;
    GString *in;
} ControlClient;

struct ControlServer {
    int listen_fd;
    char *path;
    dev_t dev;                  /* the socket file bound at path */
    ino_t ino;
    ControlClient clients[CONTROL_MAX_CLIENTS];
};

/* The directory the sockets live in (created 0700 when missing).  Caller
 * frees. */
static char *control_runtime_dir(GError **errp)
{
    const char *base = g_getenv("VMSPEC_RUNTIME_DIR");
    g_autofree char *dir = NULL;

    if (!base || !*base) {
        base = g_getenv("XDG_RUNTIME_DIR");
    }
    if (base && *base) {
        dir = g_build_filename(base, "vmspec", NULL);
    } else if (getuid() == 0) {
        dir = g_strdup("/run/vmspec");
    } else {
        dir = g_strdup_printf("/tmp/vmspec-%u", (unsigned)getuid());
    }
    /* Usually there already: one stat() rather than a failing mkdir() and
     * the stat() that g_mkdir_with_parents() follows it with. */
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR) &&
        g_mkdir_with_parents(dir, 0700) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot create %s: %s", dir, g_strerror(errno));
        return NULL;
    }
    return g_steal_pointer(&dir);
}

char *control_runtime_path(const char *name, const char *suffix,
                           GError **errp)
{
    g_autofree char *dir = control_runtime_dir(errp);

    return dir ? g_strdup_printf("%s/%s%s", dir, name, suffix) : NULL;
}

char *control_server_runtime_prefix(const ControlServer *s)
{
    size_t len = strlen(s->path);

    g_assert(g_str_has_suffix(s->path, ".sock"));
    return g_strndup(s->path, len - strlen(".sock"));
}

static bool socket_address(const char *name, struct sockaddr_un *addr,
                           char **path, GError **errp)
{
    g_autofree char *dir = control_runtime_dir(errp);

    if (!dir) {
        return false;
    }
    *path = g_strdup_printf("%s/%s.sock", dir, name);
    if (strlen(*path) >= sizeof(addr->sun_path)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "control socket path %s is too long", *path);
        g_clear_pointer(path, g_free);
        return false;
    }
    *addr = (struct sockaddr_un){ .sun_family = AF_UNIX };
    strcpy(addr->sun_path, *path);
    return true;
}

/* Connects to name's socket; -1 with errno when no one listens. */
static int connect_to(const char *name, GError **errp)
{
    struct sockaddr_un addr;
    g_autofree char *path = NULL;
    int fd;

    if (!socket_address(name, &addr, &path, errp)) {
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int err = errno;

        if (fd >= 0) {
            close(fd);
        }
        /* Only when asked: g_strerror() loads the locale's charset tables,
         * a dozen system calls on every VM start otherwise. */
        if (errp) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND,
                        "no VM named %s is running (%s: %s)", name, path,
                        g_strerror(err));
        }
        errno = err;
        return -1;
    }
    return fd;
}

/* Whether someone listens on addr (a stale socket file refuses). */
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

ControlServer *control_server_new(const char *name, GError **errp)
{
    g_autofree ControlServer *s = g_new0(ControlServer, 1);
    struct sockaddr_un addr;
    struct stat st;
    int rc;

    if (!socket_address(name, &addr, &s->path, errp)) {
        return NULL;
    }
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                          0);
    rc = s->listen_fd < 0 ? -1
        : bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr));
    if (rc < 0 && errno == EADDRINUSE) {
        /* The name is taken: by a running VM, or by a socket left by one
         * that died (nobody answers), which is replaced.  Asked only now,
         * so that the usual start, with no socket file, costs nothing. */
        if (socket_is_live(&addr)) {
            g_autoptr(GHashTable) reply = control_request(name, "status",
                                                          NULL);

            if (reply) {
                g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_BUSY,
                            "a VM named %s is already running, pid %s",
                            name, (char *)g_hash_table_lookup(reply, "pid"));
                close(s->listen_fd);
                g_free(s->path);
                return NULL;
            }
        }
        unlink(s->path);
        rc = bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr));
    }
    /* Mode 0600 whatever the umask; before listen(), so that no one can
     * connect while it is wider (one call, where setting and restoring the
     * umask around bind() took two). */
    if (rc == 0) {
        rc = chmod(s->path, 0600);
    }
    if (rc == 0 && (rc = stat(s->path, &st)) == 0) {
        s->dev = st.st_dev;
        s->ino = st.st_ino;
    }
    if (rc < 0 || listen(s->listen_fd, 8) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot serve the control socket %s: %s", s->path,
                    g_strerror(errno));
        if (s->listen_fd >= 0) {
            close(s->listen_fd);
        }
        g_free(s->path);
        return NULL;
    }
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        s->clients[i].fd = -1;
    }
    return g_steal_pointer(&s);
}

static void client_close(ControlClient *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    if (c->in) {
        g_string_free(c->in, TRUE);
        c->in = NULL;
    }
}

void control_server_free(ControlServer *s)
{
    struct stat st;

    if (!s) {
        return;
    }
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        client_close(&s->clients[i]);
    }
    close(s->listen_fd);
    /* Only our own: a VM of the same name started while this one was
     * shutting down (and no longer answering) has replaced it. */
    if (stat(s->path, &st) == 0 && st.st_dev == s->dev &&
        st.st_ino == s->ino) {
        unlink(s->path);
    }
    g_free(s->path);
    g_free(s);
}

int control_server_pollfds(ControlServer *s, struct pollfd *fds, int max)
{
    int n = 0;

    g_assert(max >= 1 + CONTROL_MAX_CLIENTS);
    fds[n++] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        fds[n++] = (struct pollfd){ .fd = s->clients[i].fd,
                                    .events = POLLIN };
    }
    return n;
}

/* Replies are small and clients read them at once; a client that doesn't
 * read is dropped rather than allowed to block the VM's main loop. */
static void client_reply(ControlClient *c, bool ok, const char *members,
                         const char *error)
{
    g_autoptr(GString) out = g_string_new(ok ? "{\"ok\": true" :
                                          "{\"ok\": false");

    if (ok && members && *members) {
        g_string_append_printf(out, ", %s", members);
    }
    if (!ok) {
        g_string_append(out, ", \"error\": ");
        json_escape(out, error);
    }
    g_string_append(out, "}\n");
    if (send(c->fd, out->str, out->len, MSG_NOSIGNAL | MSG_DONTWAIT) !=
        (ssize_t)out->len) {
        client_close(c);
    }
}

static void handle_line(ControlClient *c, const char *line, size_t len,
                        ControlCommandFn fn, void *opaque)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GHashTable) req = NULL;
    g_autoptr(GString) reply = g_string_new(NULL);
    g_autofree char *error = NULL;
    const char *cmd;

    /* The same bound whether the line came in one read or several. */
    if (len > CONTROL_MAX_REQUEST) {
        client_reply(c, false, NULL, "request too long");
        return;
    }
    req = json_parse_flat_object(line, len, &err);
    if (!req) {
        client_reply(c, false, NULL, err->message);
        return;
    }
    cmd = g_hash_table_lookup(req, "cmd");
    if (!cmd) {
        client_reply(c, false, NULL, "missing \"cmd\"");
        return;
    }
    if (fn(opaque, cmd, req, reply, &error)) {
        client_reply(c, true, reply->str, NULL);
    } else {
        client_reply(c, false, NULL, error ? error : "failed");
    }
}

static void client_read(ControlClient *c, ControlCommandFn fn, void *opaque)
{
    char buf[1024];
    ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
    char *nl;

    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            client_close(c);
        }
        return;
    }
    g_string_append_len(c->in, buf, n);
    while (c->fd >= 0 && (nl = memchr(c->in->str, '\n', c->in->len))) {
        size_t len = nl - c->in->str;

        handle_line(c, c->in->str, len, fn, opaque);
        if (c->in) {
            g_string_erase(c->in, 0, len + 1);
        }
    }
    if (c->fd >= 0 && c->in->len > CONTROL_MAX_REQUEST) {
        client_reply(c, false, NULL, "request too long");
        client_close(c);
    }
}

void control_server_dispatch(ControlServer *s, const struct pollfd *fds,
                             int n, ControlCommandFn fn, void *opaque)
{
    for (int i = 1; i < n && i <= CONTROL_MAX_CLIENTS; i++) {
        ControlClient *c = &s->clients[i - 1];

        if (c->fd >= 0 && fds[i].fd == c->fd && fds[i].revents) {
            client_read(c, fn, opaque);
        }
    }
    if (n > 0 && (fds[0].revents & POLLIN)) {
        int fd = accept4(s->listen_fd, NULL, NULL,
                         SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd < 0) {
            return;
        }
        for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
            if (s->clients[i].fd < 0) {
                s->clients[i].fd = fd;
                s->clients[i].in = g_string_new(NULL);
                return;
            }
        }
        close(fd);      /* too many clients: they may retry */
    }
}

/* --- Reading replies -----------------------------------------------------
 *
 * A reply may nest (status's "forwards"), which json_parse_flat_object()
 * refuses: json_parse_object() reads it, REPLY_MAX_DEPTH objects or arrays
 * within the reply at most; its size is bounded where it is read
 * (CONTROL_MAX_REPLY).
 */
#define REPLY_MAX_DEPTH 8

static void control_forwards_free(gpointer p)
{
    ControlForwards *f = p;

    g_free(f->nic);
    g_strfreev(f->rules);
    g_free(f);
}

GPtrArray *control_reply_forwards(GHashTable *reply, GError **errp)
{
    const char *text = g_hash_table_lookup(reply, "forwards");
    g_autoptr(GPtrArray) out =
        g_ptr_array_new_with_free_func(control_forwards_free);
    /* Members, not a table: the NICs in the reply's order, and whether a
     * value was a string (refused, whatever the string holds). */
    g_autoptr(GPtrArray) nics = text ? json_parse_members(text, strlen(text),
                                                          1, NULL)
                                     : NULL;

    if (!nics) {
        goto bad;
    }
    for (guint i = 0; i < nics->len; i++) {
        JsonMember *m = nics->pdata[i];
        ControlForwards *f = g_new0(ControlForwards, 1);

        g_ptr_array_add(out, f);
        f->nic = g_strdup(m->key);
        if (m->is_string ||
            !(f->rules = json_parse_string_array(m->value, strlen(m->value),
                                                 NULL))) {
            goto bad;
        }
    }
    return g_steal_pointer(&out);

bad:
    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                "the reply's \"forwards\" is %s",
                text ? "not an object of string arrays" : "missing");
    return NULL;
}

/* --- Asking ---------------------------------------------------------------- */

GHashTable *control_request_args(const char *name, const char *cmd,
                                 const char *const *args, GError **errp)
{
    g_autoptr(GString) req = g_string_new("{\"cmd\": ");
    g_autoptr(GString) in = g_string_new(NULL);
    g_autoptr(GError) parse_err = NULL;
    struct pollfd pfd;
    GHashTable *reply;
    int fd;

    json_escape(req, cmd);
    for (size_t i = 0; args && args[i]; i += 2) {
        g_assert(args[i + 1]);
        g_string_append(req, ", ");
        json_escape(req, args[i]);
        g_string_append(req, ": ");
        json_escape(req, args[i + 1]);
    }
    g_string_append(req, "}\n");
    if (req->len - 1 > CONTROL_MAX_REQUEST) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "%s: the request is over %d bytes", name,
                    CONTROL_MAX_REQUEST);
        return NULL;
    }
    fd = connect_to(name, errp);
    if (fd < 0) {
        return NULL;
    }
    if (send(fd, req->str, req->len, MSG_NOSIGNAL) != (ssize_t)req->len) {
        goto io_error;
    }
    pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
    while (!memchr(in->str, '\n', in->len)) {
        char buf[4096];
        ssize_t n;

        if (in->len > CONTROL_MAX_REPLY || poll(&pfd, 1, 5000) <= 0 ||
            (n = recv(fd, buf, sizeof(buf), 0)) <= 0) {
            goto io_error;
        }
        g_string_append_len(in, buf, n);
    }
    close(fd);
    reply = json_parse_object(in->str,
                              (char *)memchr(in->str, '\n', in->len) - in->str,
                              REPLY_MAX_DEPTH, &parse_err);
    if (!reply) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "%s: the reply is not a JSON object (%s)", name,
                    parse_err->message);
        return NULL;
    }
    if (g_strcmp0(g_hash_table_lookup(reply, "ok"), "true") != 0) {
        const char *error = g_hash_table_lookup(reply, "error");

        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID, "%s: %s", name,
                    error ? error : "the request failed");
        g_hash_table_unref(reply);
        return NULL;
    }
    return reply;

io_error:
    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                "%s: no answer on the control socket", name);
    close(fd);
    return NULL;
}

GHashTable *control_request(const char *name, const char *cmd,
                            GError **errp)
{
    return control_request_args(name, cmd, NULL, errp);
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *control_list(void)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *dir = control_runtime_dir(NULL);
    g_autoptr(GDir) d = dir ? g_dir_open(dir, 0, NULL) : NULL;
    const char *entry;

    while (d && (entry = g_dir_read_name(d))) {
        if (g_str_has_suffix(entry, ".sock")) {
            g_ptr_array_add(names, g_strndup(entry, strlen(entry) - 5));
        }
    }
    g_ptr_array_sort(names, compare_names);
    return names;
}
