/*
 * A provisioned VM's seed: the object that ties a spec's Provision to the
 * VM (child "provision" of the vm), its state directory, the key vmspec
 * makes for it, and the read-only virtio-blk disk "cidata" that carries
 * the NoCloud seed image.
 *
 * The state directory, STATE/NAME, outlives runs (the runtime directory
 * does not): STATE is $VMSPEC_STATE_DIR, else $XDG_STATE_HOME/vmspec,
 * else ~/.local/state/vmspec, and /var/lib/vmspec for root.  It holds
 * id_ed25519 (+ .pub), the key vmspec makes for the VM when the spec
 * gives no ssh_authorized_keys, and cidata.iso, the seed, written again
 * by each run from the spec as it is then.
 */
#ifndef VMSPEC_SPEC_PROVISION_SEED_H
#define VMSPEC_SPEC_PROVISION_SEED_H

#include "machine/qom/vm.h"
#include "spec/cloud-config.h"
#include "spec/provision.h"

#define TYPE_PROVISION_SEED "cloud-init-seed"

/* The guest -> host vsock port of the readiness report (cloud-config.h):
 * RUNTIME/vmspec/NAME.vsock_52000 while the VM runs. */
#define PROVISION_READY_PORT 52000u

/* The id of the seed's disk. */
#define PROVISION_SEED_DISK "cidata"

typedef struct ProvisionSeed ProvisionSeed;

/*
 * Adds the seed to vm (whose machine holds its devices by now): the child
 * "provision" holding p (taken), and the disk "cidata".  A state directory
 * that cannot be named (no HOME) is a diagnostic.
 */
void spec_provision_attach(Vm *vm, Provision *p, SpecDiags *diags);

/* vm's seed, or NULL when its spec provisions nothing. */
ProvisionSeed *provision_seed_of(Vm *vm);

/* The user `vmspec ssh` logs in as (NULL: none named) and the key it
 * uses (NULL: the user's own). */
const char *provision_seed_user(ProvisionSeed *ps);
const char *provision_seed_identity(ProvisionSeed *ps);

/* STATE/NAME/cidata.iso. */
const char *provision_seed_image(ProvisionSeed *ps);

/* Whether the guest reports readiness (the VM has a virtio-vsock). */
bool provision_seed_reports(ProvisionSeed *ps);

/* The seed as it would be written now, for `plan`: vmspec's key as it is
 * in the state directory, or a placeholder before the first run. */
CloudSeed *provision_seed_render(ProvisionSeed *ps, Vm *vm, GError **errp);

/* Before the machine is realized: makes the state directory and the key
 * when missing, renders the seed and writes the image. */
bool provision_seed_prepare(ProvisionSeed *ps, Vm *vm, GError **errp);

/* The host user `uid: host` means: SUDO_UID/SUDO_GID for root under sudo,
 * else the real uid and gid. */
void provision_host_user(gint64 *uid, gint64 *gid);

#endif
