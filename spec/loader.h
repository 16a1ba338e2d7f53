/*
 * Spec -> object tree: the only place where YAML meets objects.
 *
 * A spec's top-level map becomes a `vm` object (name, console, on_reboot)
 * whose child "machine" is of the type `machine.type` names, with the keys
 * of `machine:` and `boot:` as its properties.  Each entry of `disks:`,
 * `nics:` and `devices:` becomes a device child of the machine, named by its
 * id, its type taken from `type:` (by default the list's one type:
 * disks virtio-blk, nics virtio-net; lists.h).  Every other key of an entry is a property of that type.
 *
 * Every problem is reported as `FILE:LINE:COL: message` into a SpecDiags
 * and building goes on, so that one run shows all of a file's errors.  A
 * tree built without errors is then checked for host resources it would
 * use twice (a console on a disk image, two NICs on one tap: claims.h),
 * each an error at the later entry.
 * Derived values are stable: `mac: auto` becomes the first six bytes of
 * SHA-256("NAME/ID") with the first octet made locally administered and
 * unicast, so it is the same on every run and every host.
 */
#ifndef VMSPEC_SPEC_LOADER_H
#define VMSPEC_SPEC_LOADER_H

#include <stdbool.h>

#include "machine/qom/vm.h"
#include "spec/diag.h"
#include "spec/file-probes.h"
#include "spec/node.h"

/* The spec format this vmspec reads. */
#define SPEC_FORMAT_VERSION 1

typedef struct SpecLoadOptions {
    /* --set KEY.PATH=VALUE options, applied in order; NULL-terminated or
     * NULL. */
    const char *const *sets;
    /* Check that files named by path properties exist and that their
     * sha256 pins match (streams each pinned file once). */
    bool check_files;
    /* With check_files: what is known of the files from earlier specs of
     * the same run (spec/file-probes.h), or NULL to ask afresh. */
    SpecFileProbes *probes;
} SpecLoadOptions;

/*
 * Loads the spec at path (extends resolved, --set applied) and builds its
 * object tree.  Returns a new vm (caller unrefs) or NULL when diags got at
 * least one error; nothing is realized.  Main thread.
 */
Vm *spec_load_vm(const char *path, const SpecLoadOptions *opts,
                 SpecDiags *diags);

/* Same from an already merged node tree (consumed is not: root stays the
 * caller's). */
Vm *spec_build_vm(const SpecNode *root, const SpecLoadOptions *opts,
                  SpecDiags *diags);

/* The stable MAC for NIC id of VM name (see above). */
void spec_derive_mac(const char *vm_name, const char *nic_id,
                     uint8_t mac[6]);

#endif
