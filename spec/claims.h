/*
 * Which host resources a spec's VM would take, and which of those clash.
 *
 * A VM's claims (spec_collect_claims) are: the spec's own files, its
 * extends bases included, and the machine's files (boot.kernel,
 * boot.initrd), all read; whatever each device declares through its
 * DeviceClass.host_claims hook (disk images, taps, MACs); and the console
 * file, written.  Two claims clash when they name one file (the same
 * inode when it exists, else the same canonical path, symlinks in its
 * directory resolved) and at least one writes it, or name one tap or one
 * MAC address.  The loader refuses a spec whose claims clash among
 * themselves; `vmspec up` refuses specs whose claims clash across VMs.
 */
#ifndef VMSPEC_SPEC_CLAIMS_H
#define VMSPEC_SPEC_CLAIMS_H

#include "machine/qom/host-claims.h"
#include "machine/qom/vm.h"
#include "spec/diag.h"
#include "spec/file-probes.h"
#include "spec/node.h"

/* Appends the claims of vm, built from root (whose marks place them). */
void spec_collect_claims(Vm *vm, const SpecNode *root, HostClaims *claims);

/*
 * Adds one diagnostic per claim that clashes with an earlier one of
 * claims, at the later claim's origin, and one per file written that is a
 * directory.  Main thread.
 */
void spec_check_claims(const HostClaims *claims, SpecFileProbes *probes,
                       SpecDiags *diags);

/* Claims of several owners (VMs), checked as they are added. */
typedef struct ClaimTable ClaimTable;

/* probes (or NULL), which outlives the table, answers its stat()s. */
ClaimTable *claim_table_new(SpecFileProbes *probes);
void claim_table_free(ClaimTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClaimTable, claim_table_free)

/*
 * Records claim for owner, unless it clashes with a claim recorded
 * before: then returns that one (and its owner in *other_owner) and
 * records nothing.  claim and owner are borrowed and must outlive table.
 */
const HostClaim *claim_table_add(ClaimTable *table, const HostClaim *claim,
                                 const char *owner,
                                 const char **other_owner);

/* The claim's value for messages: a file's real path when it exists.
 * Caller frees. */
char *spec_claim_display(const HostClaim *claim);

#endif
