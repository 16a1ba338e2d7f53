/*
 * A spec's `provision:` and `cloud_init:` sections: what the guest is to
 * be made into at its first boot, read into a Provision and checked, each
 * problem a `FILE:LINE:COL: provision...: message` diagnostic.
 *
 *     provision:
 *       user: {name: dev, uid: host, groups: [sudo]}
 *       ssh_authorized_keys: []     # empty: the key vmspec makes per VM
 *       packages: [build-essential]
 *       files: [{path: /etc/motd, content: "hi\n", mode: "0644"}]
 *       run: ["make -C /src deps"]  # first boot only
 *       run_always: []              # every boot
 *       env: {EDITOR: vim}
 *     cloud_init: {user_data: user-data.yaml}   # instead of provision:
 *
 * The guest learns it through cloud-init's NoCloud data source
 * (spec/cloud-config.h renders the seed, spec/provision-seed.h writes it).
 */
#ifndef VMSPEC_SPEC_PROVISION_H
#define VMSPEC_SPEC_PROVISION_H

#include <glib.h>
#include <stdbool.h>

#include "spec/diag.h"
#include "spec/json.h"
#include "spec/node.h"
#include "spec/props.h"

/* `uid: host`: the uid of the user running vmspec. */
#define PROVISION_UID_HOST  (-2)
/* No uid given: the guest picks one. */
#define PROVISION_UID_GUEST (-1)

typedef struct ProvisionFile {
    char *path;             /* absolute in the guest */
    char *content;
    char *owner;            /* "user[:group]" or NULL (root) */
    guint mode;             /* 0644 when not given */
} ProvisionFile;

typedef struct ProvisionEnv {
    char *key;
    char *value;
} ProvisionEnv;

typedef struct Provision {
    char *user;             /* NULL: no user made */
    gint64 uid;             /* a uid, _UID_HOST or _UID_GUEST */
    char **groups;
    char **authorized_keys; /* empty: vmspec's own key for the VM */
    char **packages;
    GPtrArray *files;       /* ProvisionFile * */
    char **run;
    char **run_always;
    GPtrArray *env;         /* ProvisionEnv *, the spec's order */
    char *user_data_path;   /* cloud_init.user_data, absolute; instead of
                             * everything above */
} Provision;

void provision_free(Provision *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Provision, provision_free)

/*
 * Reads root's `provision:` and `cloud_init:`.  Returns NULL when the spec
 * has neither, or (after adding diagnostics) when they are wrong; check
 * the diagnostics' count to tell.  props resolves cloud_init.user_data
 * against the spec's directory and, with check_files, checks it exists.
 */
Provision *spec_provision_parse(const SpecNode *root, SpecProps *props,
                                SpecDiags *diags);

/* The two top-level keys read here, for the loader's list of keys that
 * are not properties. */
extern const char *const spec_provision_keys[];

/* Writes the two keys' JSON Schema properties ("provision": {...},
 * "cloud_init": {...}) into the root's "properties" object. */
void spec_provision_schema(JsonWriter *w);

#endif
