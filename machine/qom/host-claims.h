/*
 * Host resources a VM would take: the files it reads or writes, a tap
 * device, a MAC address on the host's networks (later: a host port, a
 * socket).  Each device declares its own through DeviceClass.host_claims,
 * so that the spec loader (within one spec) and `vmspec up` (across specs)
 * can refuse two users of one resource without knowing any device type.
 *
 * A HostClaims owns copies of every string added to it.  Main thread.
 */
#ifndef VMSPEC_QOM_HOST_CLAIMS_H
#define VMSPEC_QOM_HOST_CLAIMS_H

#include <glib.h>
#include <stdbool.h>

#include "machine/qom/device.h"

typedef enum {
    HOST_CLAIM_FILE,    /* value: an absolute path */
    HOST_CLAIM_TAP,     /* value: the tap's interface name */
    HOST_CLAIM_MAC,     /* value: "52:54:00:12:34:56", lowercase */
    HOST_CLAIM_PORT,    /* value: "tcp:2222": a host port, any address */
    /* Not the host's: a name the guest tells devices apart by (a
     * virtio-fs tag), unique within one VM; `vmspec up` lets two VMs use
     * the same one. */
    HOST_CLAIM_GUEST_NAME,  /* value: "virtio-fs tag src" */
} HostClaimKind;

typedef struct HostClaim {
    HostClaimKind kind;
    const char *value;
    /* FILE: opened for writing (two writers, or a writer and a reader,
     * of one file conflict; readers may share). */
    bool writes;
    /* What the resource is to its user, for messages that name it alone:
     * "the writable disk image", "the tap", "the kernel". */
    const char *noun;
    /* Who claims it, as a spec's reader knows it: "disk 'root'",
     * "the console", "boot.kernel"; NULL: the spec itself. */
    const char *who;
    /* "spec.yaml:12:5" of the spec text that asked for it, or NULL. */
    const char *origin;
} HostClaim;

struct HostClaims {
    GPtrArray *items;       /* HostClaim *, in the order added */
    GStringChunk *strings;  /* the copies the items point into */
};

/* A new, empty collection; free with host_claims_free(). */
HostClaims *host_claims_new(void);
void host_claims_free(HostClaims *claims);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HostClaims, host_claims_free)

/* Appends a copy of claim (its strings copied too). */
void host_claims_add(HostClaims *claims, const HostClaim *claim);

/* Appends a claim by dev, with dev's origin, and who "ROLE 'ID'" (role:
 * "disk", "NIC"): the helper devices' host_claims hooks use. */
void host_claims_add_for(HostClaims *claims, DeviceState *dev,
                         const char *role, HostClaimKind kind,
                         const char *value, bool writes, const char *noun);

guint host_claims_len(const HostClaims *claims);
const HostClaim *host_claims_get(const HostClaims *claims, guint i);

/* Asks every device under root (depth first, in tree order) for its
 * claims.  The devices are not realized and need not be. */
void host_claims_collect(Object *root, HostClaims *claims);

#endif
