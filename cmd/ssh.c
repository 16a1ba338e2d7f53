/*
 * vmspec ssh NAME [-- CMD...] and vmspec ssh-config [NAME...]: the
 * system's OpenSSH client into a running VM without knowing its address.
 *
 * The route: through the VM's virtio-vsock to guest port 22, with
 * `vmspec vsock SOCKET 22` as the ProxyCommand; or, for a VM without a
 * vsock device, through a user-mode NIC's forward to guest port 22 (the
 * forward's host address and port).  Host keys are not checked: the path
 * is the user's own socket (mode 0600, in a 0700 directory) or a loopback
 * port, and a dev VM's host key changes whenever its disk is rebuilt, so
 * known_hosts would only hold stale entries (as Lima does).  User and key
 * are the spec's provisioned user and the key vmspec made for the VM
 * (from its status reply), else the user's ssh defaults, unless -l and -i
 * say otherwise.
 *
 * `vmspec ssh` execs ssh, so the remote command's exit status (or ssh's
 * own 255) is vmspec's, and standard input and output stream through.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/control.h"
#include "cmd/output.h"
#include "cmd/vsock.h"
#include "machine/net/hostfwd.h"
#include "machine/qom/error.h"
#include "machine/qom/vm.h"

#define SSH_GUEST_PORT 22

typedef struct {
    char *host_name;        /* HostName */
    unsigned port;          /* 0: ssh's default */
    char *proxy_command;    /* NULL: connect directly */
    char *user;             /* the spec's provisioned user, or NULL */
    char *identity;         /* vmspec's key for the VM, or NULL */
} SshRoute;

static void ssh_route_clear(SshRoute *r)
{
    g_free(r->host_name);
    g_free(r->proxy_command);
    g_free(r->user);
    g_free(r->identity);
}

/* A ProxyCommand as ssh_config(5) reads it: run by the shell after
 * %-expansion, so the words are shell-quoted and every % doubled. */
static char *proxy_command(const char *socket_path)
{
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *q_self = g_shell_quote(self ? self : "vmspec");
    g_autofree char *q_sock = g_shell_quote(socket_path);
    g_autofree char *cmd = g_strdup_printf("%s vsock %s %d", q_self, q_sock,
                                           SSH_GUEST_PORT);
    g_auto(GStrv) parts = g_strsplit(cmd, "%", -1);

    return g_strjoinv("%%", parts);
}

/* A forward of a user-mode NIC to guest port 22, from the VM's status. */
static bool forward_route(GHashTable *status, SshRoute *r)
{
    g_autoptr(GPtrArray) forwards = control_reply_forwards(status, NULL);

    for (guint i = 0; forwards && i < forwards->len; i++) {
        ControlForwards *f = forwards->pdata[i];

        for (size_t j = 0; f->rules[j]; j++) {
            HostFwd fwd;
            char addr[INET_ADDRSTRLEN];

            if (!hostfwd_parse(f->rules[j], &fwd, NULL) || fwd.udp ||
                fwd.guest_port != SSH_GUEST_PORT) {
                continue;
            }
            /* 0.0.0.0 listens on loopback too. */
            if (fwd.host_addr.s_addr == htonl(INADDR_ANY)) {
                fwd.host_addr.s_addr = htonl(INADDR_LOOPBACK);
            }
            inet_ntop(AF_INET, &fwd.host_addr, addr, sizeof(addr));
            r->host_name = g_strdup(addr);
            r->port = fwd.host_port;
            return true;
        }
    }
    return false;
}

/* How to reach name's sshd: vsock when it has the device, else a forward. */
static bool ssh_route(const char *name, SshRoute *r, GError **errp)
{
    g_autoptr(GHashTable) status = NULL;
    g_autofree char *sock = NULL;
    struct stat st;

    memset(r, 0, sizeof(*r));
    if (!vm_name_check(name, errp) ||
        !(status = control_request(name, "status", errp)) ||
        !(sock = vsock_socket_path(name, errp))) {
        return false;
    }
    r->user = g_strdup(g_hash_table_lookup(status, "ssh_user"));
    r->identity = g_strdup(g_hash_table_lookup(status, "ssh_identity"));
    if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
        r->host_name = g_strdup(name);
        r->proxy_command = proxy_command(sock);
        return true;
    }
    if (forward_route(status, r)) {
        return true;
    }
    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND,
                "%s has no virtio-vsock device and no forward to guest port "
                "%d (add `devices: [{type: virtio-vsock}]`, or `forward: "
                "[\"tcp::2222-:22\"]` to a user-mode NIC)", name,
                SSH_GUEST_PORT);
    return false;
}

/* The options every route gets: no host key bookkeeping (see above). */
static const char *const ssh_fixed_options[] = {
    "StrictHostKeyChecking=no",
    "UserKnownHostsFile=/dev/null",
    "LogLevel=ERROR",
};

int cmd_ssh(int argc, char **argv)
{
    g_autofree char *user = NULL, *identity = NULL;
    g_auto(GStrv) options = NULL;
    GOptionEntry entries[] = {
        { "login", 'l', 0, G_OPTION_ARG_STRING, &user,
          "Log in as USER (default: ssh's)", "USER" },
        { "identity", 'i', 0, G_OPTION_ARG_FILENAME, &identity,
          "The private key to use (default: ssh's)", "FILE" },
        { "option", 'o', 0, G_OPTION_ARG_STRING_ARRAY, &options,
          "An option for ssh, as its -o takes (repeatable)", "OPTION" },
        G_OPTION_ENTRY_NULL,
    };
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
    SshRoute route;

    if (!cmd_parse_options("ssh", "NAME [-- CMD...]",
                           "Run OpenSSH's client into a running VM: a "
                           "shell, or CMD (its exit status is vmspec's).",
                           entries, &argc, &argv)) {
        return EXIT_USAGE;
    }
    if (argc < 2) {
        cmd_error("ssh", "expected the NAME of a running VM");
        return EXIT_USAGE;
    }
    if (!ssh_route(argv[1], &route, &err)) {
        g_autofree char *shown = cmd_escape(argv[1]);

        cmd_error(NULL, "%s: %s", shown, err->message);
        return EXIT_ERROR;
    }
    g_ptr_array_add(args, g_strdup("ssh"));
    for (size_t i = 0; i < G_N_ELEMENTS(ssh_fixed_options); i++) {
        g_ptr_array_add(args, g_strdup("-o"));
        g_ptr_array_add(args, g_strdup(ssh_fixed_options[i]));
    }
    if (route.proxy_command) {
        g_ptr_array_add(args, g_strdup("-o"));
        g_ptr_array_add(args, g_strdup_printf("ProxyCommand=%s",
                                              route.proxy_command));
    }
    if (route.port) {
        g_ptr_array_add(args, g_strdup("-p"));
        g_ptr_array_add(args, g_strdup_printf("%u", route.port));
    }
    if (user || route.user) {
        g_ptr_array_add(args, g_strdup("-l"));
        g_ptr_array_add(args, g_strdup(user ? user : route.user));
    }
    if (identity || route.identity) {
        g_ptr_array_add(args, g_strdup("-i"));
        g_ptr_array_add(args, g_strdup(identity ? identity
                                                : route.identity));
        /* Only that key: an agent's many keys could use up the server's
         * MaxAuthTries before it. */
        g_ptr_array_add(args, g_strdup("-o"));
        g_ptr_array_add(args, g_strdup("IdentitiesOnly=yes"));
    }
    for (size_t i = 0; options && options[i]; i++) {
        g_ptr_array_add(args, g_strdup("-o"));
        g_ptr_array_add(args, g_strdup(options[i]));
    }
    /* "--": neither the host nor CMD is an ssh option. */
    g_ptr_array_add(args, g_strdup("--"));
    g_ptr_array_add(args, g_strdup(route.host_name));
    for (int i = 2; i < argc; i++) {
        g_ptr_array_add(args, g_strdup(argv[i]));
    }
    g_ptr_array_add(args, NULL);
    ssh_route_clear(&route);
    fflush(stdout);
    execvp("ssh", (char **)args->pdata);
    cmd_error(NULL, "cannot run ssh: %s%s", g_strerror(errno),
              errno == ENOENT ? " (install OpenSSH's client: apt-get "
                                "install openssh-client)" : "");
    return EXIT_ERROR;
}

/* One Host block for ssh_config(5). */
static void append_host_block(GString *out, const char *name,
                              const SshRoute *r)
{
    g_string_append_printf(out, "Host %s vmspec-%s\n", name, name);
    g_string_append_printf(out, "  HostName %s\n", r->host_name);
    if (r->port) {
        g_string_append_printf(out, "  Port %u\n", r->port);
    }
    if (r->proxy_command) {
        g_string_append_printf(out, "  ProxyCommand %s\n", r->proxy_command);
    }
    if (r->user) {
        g_string_append_printf(out, "  User %s\n", r->user);
    }
    if (r->identity) {
        /* ssh_config(5) takes double quotes around an argument. */
        g_string_append_printf(out, "  IdentityFile \"%s\"\n  "
                               "IdentitiesOnly yes\n", r->identity);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(ssh_fixed_options); i++) {
        g_auto(GStrv) kv = g_strsplit(ssh_fixed_options[i], "=", 2);

        g_string_append_printf(out, "  %s %s\n", kv[0], kv[1]);
    }
}

int cmd_ssh_config(int argc, char **argv)
{
    g_autoptr(GPtrArray) names = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    int status = EXIT_OK;
    bool all;

    if (!cmd_parse_options("ssh-config", "[NAME...]",
                           "Print an OpenSSH Host block per running VM "
                           "(all of them by default), for ssh -F, scp, "
                           "rsync, git and editors.",
                           NULL, &argc, &argv)) {
        return EXIT_USAGE;
    }
    all = argc < 2;
    if (all) {
        names = control_list();
    } else {
        names = g_ptr_array_new_with_free_func(g_free);
        for (int i = 1; i < argc; i++) {
            g_ptr_array_add(names, g_strdup(argv[i]));
        }
    }
    for (guint i = 0; i < names->len; i++) {
        const char *name = names->pdata[i];
        g_autoptr(GError) err = NULL;
        SshRoute route;

        if (!ssh_route(name, &route, &err)) {
            g_autofree char *shown = cmd_escape(name);

            /* Listing all: a stale socket is no VM; one without a route
             * is said in a comment, so the output stays a config file. */
            if (all && g_error_matches(err, VMSPEC_ERROR,
                                       VMSPEC_ERROR_NOT_FOUND)) {
                g_autoptr(GHashTable) live = control_request(name, "status",
                                                             NULL);

                if (!live) {
                    continue;
                }
            }
            if (all) {
                g_string_append_printf(out, "# %s: %s\n", shown,
                                       err->message);
                continue;
            }
            cmd_error(NULL, "%s: %s", shown, err->message);
            status = EXIT_ERROR;
            continue;
        }
        if (out->len) {
            g_string_append_c(out, '\n');
        }
        append_host_block(out, name, &route);
        ssh_route_clear(&route);
    }
    if (!cmd_write_stdout(out->str, out->len)) {
        return EXIT_ERROR;
    }
    return status;
}
