/*
 * vmspec vsock NAME|SOCKET PORT: connects standard input and output to a
 * stream to the guest's vsock PORT, through the VM's hybrid-vsock socket
 * (RUNTIME/vmspec/NAME.vsock, machine/virtio/vsock.c): it writes
 * "CONNECT PORT\n", expects "OK HOSTPORT\n", then relays both ways until
 * the guest closes.  End of input half-closes (the guest reads end of
 * file, and may still answer), so `vmspec vsock dev 5000 <file` gets the
 * guest's reply.  It is what `vmspec ssh` gives OpenSSH as its
 * ProxyCommand.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/control.h"
#include "cmd/output.h"
#include "cmd/vsock.h"
#include "machine/qom/error.h"
#include "machine/qom/vm.h"

#define RELAY_BUF (64 * 1024)

char *vsock_socket_path(const char *name, GError **errp)
{
    if (strchr(name, '/')) {
        return g_strdup(name);
    }
    if (!vm_name_check(name, errp)) {
        return NULL;
    }
    return control_runtime_path(name, ".vsock", errp);
}

/* Reads the reply line, byte by byte: what follows it is the guest's. */
static bool read_reply(int fd, char *line, size_t size)
{
    size_t len = 0;

    while (len + 1 < size) {
        ssize_t n = read(fd, line + len, 1);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        if (line[len] == '\n') {
            line[len] = '\0';
            return true;
        }
        len++;
    }
    return false;
}

/* Connects to the guest's port through the socket at path.  Returns the
 * stream's fd, or -1 with an error (no one serves path; the guest
 * refused). */
static int vsock_connect(const char *path, uint32_t port, GError **errp)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    char request[32], reply[32];
    int fd, len;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "socket path %s is too long", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND,
                    "no VM with a vsock device serves %s (%s)", path,
                    g_strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    len = g_snprintf(request, sizeof(request), "CONNECT %u\n", port);
    if (write(fd, request, (size_t)len) != len ||
        !read_reply(fd, reply, sizeof(reply)) ||
        !g_str_has_prefix(reply, "OK ")) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND,
                    "nothing listens on the guest's vsock port %u", port);
        close(fd);
        return -1;
    }
    return fd;
}

/* Writes all of buf; false when the reader is gone. */
static bool write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* stdin -> sock and sock -> stdout until the guest's side ends. */
static int relay(int sock)
{
    g_autofree uint8_t *buf = g_malloc(RELAY_BUF);
    bool input_open = true;

    for (;;) {
        struct pollfd fds[2] = {
            { .fd = sock, .events = POLLIN },
            { .fd = STDIN_FILENO, .events = POLLIN },
        };
        ssize_t n;

        if (poll(fds, input_open ? 2 : 1, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return EXIT_ERROR;
        }
        if (fds[0].revents) {
            n = read(sock, buf, RELAY_BUF);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                return EXIT_OK;         /* the guest closed */
            }
            if (!write_all(STDOUT_FILENO, buf, (size_t)n)) {
                return EXIT_ERROR;      /* our reader is gone */
            }
        }
        if (input_open && fds[1].revents) {
            n = read(STDIN_FILENO, buf, RELAY_BUF);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                input_open = false;
                shutdown(sock, SHUT_WR);
            } else if (!write_all(sock, buf, (size_t)n)) {
                return EXIT_OK;         /* the guest closed meanwhile */
            }
        }
    }
}

int cmd_vsock(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    guint64 port;
    int fd;

    if (!cmd_parse_options("vsock", "NAME|SOCKET PORT",
                           "Connect standard input and output to the "
                           "guest's vsock PORT (SOCKET: a path to a "
                           "VM's NAME.vsock).",
                           NULL, &argc, &argv)) {
        return EXIT_USAGE;
    }
    if (argc != 3 || !g_ascii_string_to_unsigned(argv[2], 10, 0, UINT32_MAX,
                                                 &port, NULL)) {
        cmd_error("vsock", "expected NAME (or a socket path) and a PORT "
                  "from 0 to 4294967295");
        return EXIT_USAGE;
    }
    if (!(path = vsock_socket_path(argv[1], &err)) ||
        (fd = vsock_connect(path, (uint32_t)port, &err)) < 0) {
        g_autofree char *shown = cmd_escape(argv[1]);

        cmd_error(NULL, "%s: %s", shown, err->message);
        return EXIT_ERROR;
    }
    signal(SIGPIPE, SIG_IGN);
    return relay(fd);
}
