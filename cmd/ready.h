/*
 * The host end of a provisioned guest's readiness report
 * (spec/cloud-config.h): `vmspec run` listens on
 * RUNTIME/vmspec/NAME.vsock_52000, where the virtio-vsock device connects
 * a guest's stream to host port 52000, and reads what the guest says:
 * "ready\n", or "failed\n" and the tail of its cloud-init log.
 *
 * The guest is not trusted: at most READY_MAX_CLIENTS connections at once,
 * READY_MAX_REPORT bytes each (the rest is dropped, the report cut), a
 * first line that is neither word is "failed" with what it said; the
 * report is kept as text for the status reply, invalid UTF-8 replaced.
 * Main thread only.
 */
#ifndef VMSPEC_CMD_READY_H
#define VMSPEC_CMD_READY_H

#include <poll.h>
#include <glib.h>

#define READY_MAX_CLIENTS 4
#define READY_MAX_REPORT  (16 * 1024)

typedef enum {
    PROVISION_PENDING,      /* no report yet this boot */
    PROVISION_READY,
    PROVISION_FAILED,
} ProvisionState;

typedef struct ReadyListener ReadyListener;

/* Binds path (replacing a stale socket of that name). */
ReadyListener *ready_listener_new(const char *path, GError **errp);
/* Closes everything and removes the socket file. */
void ready_listener_free(ReadyListener *r);

/* Back to PENDING: a new boot reports again. */
void ready_listener_reset(ReadyListener *r);

int ready_listener_pollfds(ReadyListener *r, struct pollfd *fds, int max);
void ready_listener_dispatch(ReadyListener *r, const struct pollfd *fds,
                             int n);

/* The state, and for FAILED the guest's report (borrowed; else NULL). */
ProvisionState ready_listener_state(ReadyListener *r, const char **report);

/* "provisioning", "ready", "failed". */
const char *provision_state_name(ProvisionState state);

#endif
