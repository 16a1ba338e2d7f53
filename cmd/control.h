/*
 * The control socket of a running VM: `vmspec run` serves
 * RUNTIME_DIR/vmspec/NAME.sock (mode 0600), where RUNTIME_DIR is
 * $VMSPEC_RUNTIME_DIR, else $XDG_RUNTIME_DIR, else /run for root and
 * /tmp/vmspec-UID for others.  The protocol is newline-delimited JSON:
 *
 *   -> {"cmd": "status"}      <- {"ok": true, "name": ..., "pid": ...,
 *                                 "state": "running"|"paused", "uptime_s":
 *                                 ..., "spec": ..., "cpus": ...,
 *                                 "memory": ...}
 *   -> {"cmd": "pause"}       <- {"ok": true, "state": "paused"}
 *   -> {"cmd": "resume"}      <- {"ok": true, "state": "running"}
 *   -> {"cmd": "stop"}        <- {"ok": true, "state": "stopping"}: the VM
 *                                stops in order (vCPUs, then devices
 *                                flushed and closed); vmspec exits 143
 *   -> {"cmd": "kill"}        <- {"ok": true, "state": "killed"}: exits 137
 *                                at once
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
#define CONTROL_MAX_CLIENTS 16

typedef struct ControlServer ControlServer;

/* Answers one well-formed request: appends the reply's members (after
 * "ok") to reply as `"key": value` JSON text, or sets *error.  Returns
 * false on error. */
typedef bool (*ControlCommandFn)(void *opaque, const char *cmd,
                                 GString *reply, char **error);

/* Binds NAME.sock.  A live socket of that name is an error naming its pid;
 * a stale one (no one listening) is replaced. */
ControlServer *control_server_new(const char *name, GError **errp);
/* Closes every connection and removes the socket file. */
void control_server_free(ControlServer *s);

/* Adds the server's fds to fds (at most max); returns how many. */
int control_server_pollfds(ControlServer *s, struct pollfd *fds, int max);
/* Handles what poll() reported on those fds (same order), calling fn for
 * each complete request. */
void control_server_dispatch(ControlServer *s, const struct pollfd *fds,
                             int n, ControlCommandFn fn, void *opaque);

/* Client side: sends {"cmd": cmd} to VM name and returns its reply (a new
 * table, see json_parse_flat_object), or NULL with an error (no such VM,
 * a refused request). */
GHashTable *control_request(const char *name, const char *cmd,
                            GError **errp);

/* The names of the VMs with a socket in the runtime directory, sorted
 * (live or stale: ask them). */
GPtrArray *control_list(void);

#endif
