/*
 * The control socket of a running VM: `vmspec run` serves
 * RUNTIME_DIR/vmspec/NAME.sock (mode 0600), where RUNTIME_DIR is
 * $VMSPEC_RUNTIME_DIR, else $XDG_RUNTIME_DIR, else /run for root and
 * /tmp/vmspec-UID for others.  The protocol is newline-delimited JSON, a
 * request one flat object of scalars (a "cmd" and the command's
 * arguments, strings; any other member is an error), a reply one object:
 *
 *   -> {"cmd": "status"}      <- {"ok": true, "name": ..., "pid": ...,
 *                                 "state": "running"|"paused", "uptime_s":
 *                                 ..., "spec": ..., "cpus": ...,
 *                                 "memory": ..., "log": ...,
 *                                 "forwards": FORWARDS}
 *   -> {"cmd": "pause"}       <- {"ok": true, "state": "paused"}
 *   -> {"cmd": "resume"}      <- {"ok": true, "state": "running"}
 *   -> {"cmd": "stop"}        <- {"ok": true, "state": "stopping"}: the VM
 *                                stops in order (vCPUs, then devices
 *                                flushed and closed); vmspec exits 143
 *   -> {"cmd": "kill"}        <- {"ok": true, "state": "killed"}: exits 137
 *                                at once
 *   -> {"cmd": "forward-add", "nic": "net0", "rule": "tcp::8080-:80"}
 *                             <- {"ok": true, "nic": "net0", "forward":
 *                                 "tcp:127.0.0.1:8080-10.0.2.15:80"}
 *   -> {"cmd": "forward-remove", "nic": "net0", "rule": ...}
 *                             <- the same: the rule as it was in force
 *   -> {"cmd": "forward-list"} <- {"ok": true, "forwards": FORWARDS}
 *
 * "log" is the absolute path of a file: console, missing with any other.
 * FORWARDS maps every user-mode NIC's id to its forwards in force, in full
 * (machine/net/hostfwd.h): {"net0": ["tcp:127.0.0.1:2222-10.0.2.15:22"]};
 * {} without user-mode NICs.  "nic" may be left out when the VM has one
 * user-mode NIC.  A bad rule, a port in use, no such forward, a tap NIC
 * or no such NIC is {"ok": false, "error": ...}.
 *
 * Anything else gets {"ok": false, "error": "..."}; a request over
 * CONTROL_MAX_REQUEST bytes gets an error and the connection is closed.
 * Neither disturbs the VM.  Main thread only.
 */
#ifndef VMSPEC_CMD_CONTROL_H
#define VMSPEC_CMD_CONTROL_H

#include <poll.h>
#include <stdbool.h>
#include <glib.h>

#define CONTROL_MAX_REQUEST 4096
#define CONTROL_MAX_REPLY   (64 * 1024)
#define CONTROL_MAX_CLIENTS 16

typedef struct ControlServer ControlServer;

/* Answers one well-formed request: cmd is its "cmd", req all its members
 * (key -> value, strings unescaped; "cmd" included; borrowed).  Appends
 * the reply's members (after "ok") to reply as `"key": value` JSON text,
 * or sets *error.  Returns false on error. */
typedef bool (*ControlCommandFn)(void *opaque, const char *cmd,
                                 GHashTable *req, GString *reply,
                                 char **error);

/* Binds NAME.sock.  A live socket of that name is an error naming its pid;
 * a stale one (no one listening) is replaced. */
ControlServer *control_server_new(const char *name, GError **errp);
/* Closes every connection and removes the socket file. */
void control_server_free(ControlServer *s);

/* "RUNTIME/vmspec/NAME": the socket's path less ".sock", where the VM's
 * other sockets and logs go (DeviceContext.runtime_prefix).  New string. */
char *control_server_runtime_prefix(const ControlServer *s);

/* Adds the server's fds to fds (at most max); returns how many. */
int control_server_pollfds(ControlServer *s, struct pollfd *fds, int max);
/* Handles what poll() reported on those fds (same order), calling fn for
 * each complete request. */
void control_server_dispatch(ControlServer *s, const struct pollfd *fds,
                             int n, ControlCommandFn fn, void *opaque);

/* Client side: sends {"cmd": cmd} to VM name and returns its reply: a new
 * table key -> value, strings unescaped, other scalars as written, and a
 * nested object or array as compact JSON text (its strings re-escaped, so
 * valid UTF-8).  NULL with an error: no such VM, no answer, a reply that
 * is not JSON, or {"ok": false} (the error names the VM, then the VM's
 * message). */
GHashTable *control_request(const char *name, const char *cmd,
                            GError **errp);
/* The same with arguments: args holds key, value pairs (strings), then
 * NULL.  A request over CONTROL_MAX_REQUEST bytes is an error, unsent. */
GHashTable *control_request_args(const char *name, const char *cmd,
                                 const char *const *args, GError **errp);

/* One NIC's entry in a reply's FORWARDS. */
typedef struct ControlForwards {
    char *nic;
    char **rules;           /* NULL-terminated */
} ControlForwards;

/* The "forwards" member of a reply (control_request's table): a new array
 * of ControlForwards in the reply's order (freeing them), or NULL with an
 * error when it is missing or not an object of string arrays. */
GPtrArray *control_reply_forwards(GHashTable *reply, GError **errp);

/* "RUNTIME/vmspec/NAME" + suffix: where a running VM name keeps the file
 * of that suffix (".console": its console socket).  The directory is
 * created (0700) if missing.  New string, or NULL with an error. */
char *control_runtime_path(const char *name, const char *suffix,
                           GError **errp);

/* The names of the VMs with a socket in the runtime directory, sorted
 * (live or stale: ask them). */
GPtrArray *control_list(void);

#endif
