/*
 * Provision -> the files of a cloud-init NoCloud seed: user-data (a
 * #cloud-config document), vendor-data, meta-data and network-config,
 * written with libyaml's emitter so that every value is quoted as YAML
 * needs, whatever the spec's strings hold.
 *
 * What the guest does with them (cloud-init 22.4's modules, docs
 * "Module reference"):
 * - users: the user, with passwordless sudo, bash, no password, the
 *   authorized keys (vmspec's own for the VM when the spec gives none); a
 *   primary group of the host user's gid made by bootcmd first, so that
 *   files in shares keep owner and group both ways;
 * - packages (with package_update), write_files (deferred to the final
 *   stage when an owner is named: the user exists only then), env appended
 *   to /etc/environment (pam_env: every login, `ssh dev -- cmd` too);
 * - mounts: each share that names a `mount:` directory, as virtiofs, nofail;
 * - runcmd: `run:` as one `set -e` script, so the first command that fails
 *   fails the provisioning (cloud-init reports status: error);
 * - a per-boot script in /var/lib/cloud/scripts/per-boot for `run_always:`;
 * - the readiness report (with a vsock port): at every boot a transient
 *   systemd unit waits for `cloud-init status --wait`, then for sshd on
 *   port 22, and connects to the host (CID 2) on the port to say "ready",
 *   or "failed" followed by the status and the tail of
 *   /var/log/cloud-init-output.log.  In user-data's bootcmd, or, for
 *   `cloud_init: {user_data: FILE}` (used verbatim), in vendor-data.
 * instance-id is "vmspec-NAME-" and 16 hex digits of the SHA-256 of the
 * other files, so a changed provisioning (or a new key) provisions again
 * and an unchanged one does not.
 */
#ifndef VMSPEC_SPEC_CLOUD_CONFIG_H
#define VMSPEC_SPEC_CLOUD_CONFIG_H

#include <glib.h>

#include "spec/provision.h"

/* First line of every report: "ready" or "failed". */
#define CLOUD_CONFIG_READY  "ready"
#define CLOUD_CONFIG_FAILED "failed"

typedef struct CloudConfigMount {
    const char *tag;
    const char *dir;
} CloudConfigMount;

/* What the seed needs beyond the spec's provision. */
typedef struct CloudConfigHost {
    const char *vm_name;
    gint64 host_uid, host_gid;  /* for uid: host; 0 (root): the guest picks */
    const char *generated_key;  /* vmspec's public key line, or NULL */
    const CloudConfigMount *mounts;
    guint n_mounts;
    const char *const *dhcp_macs;   /* NULL-terminated, or NULL */
    guint ready_port;           /* guest -> host vsock port; 0: no report */
} CloudConfigHost;

typedef struct CloudSeed {
    char *user_data;
    char *vendor_data;
    char *meta_data;
    char *network_config;
    char *instance_id;
} CloudSeed;

void cloud_seed_free(CloudSeed *seed);

/* The text of the seed's file name ("user-data", ...), or NULL when the
 * seed has no such file. */
const char *cloud_seed_file(const CloudSeed *seed, const char *name);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CloudSeed, cloud_seed_free)

/* Renders p for host.  Reads cloud_init.user_data's file; errors only for
 * that file (unreadable, over 1 MiB, not UTF-8). */
CloudSeed *cloud_config_render(const Provision *p, const CloudConfigHost *h,
                               GError **errp);

#endif
