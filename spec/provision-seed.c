/*
 * A provisioned VM's seed (see provision-seed.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/backend/nocloud-seed.h"
#include "machine/qom/device.h"
#include "machine/qom/error.h"
#include "machine/qom/module.h"
#include "machine/qom/property.h"
#include "machine/virtio/net.h"
#include "spec/provision-seed.h"

struct ProvisionSeed {
    Object parent_obj;
    Provision *provision;
    char *dir;                  /* STATE/NAME */
    char *image;                /* dir/cidata.iso */
    char *key;                  /* dir/id_ed25519, or NULL: the spec's keys */
    bool reports;               /* the VM has a virtio-vsock */
};

#define PROVISION_SEED(obj) \
    OBJECT_CHECK(ProvisionSeed, (obj), TYPE_PROVISION_SEED)

static char *state_root(void)
{
    const char *env = g_getenv("VMSPEC_STATE_DIR");
    const char *xdg = g_getenv("XDG_STATE_HOME");
    const char *home = g_getenv("HOME");

    if (env && *env) {
        return g_canonicalize_filename(env, NULL);
    }
    if (getuid() == 0) {
        return g_strdup("/var/lib/vmspec");
    }
    if (xdg && g_path_is_absolute(xdg)) {
        return g_build_filename(xdg, "vmspec", NULL);
    }
    if (home && g_path_is_absolute(home)) {
        return g_build_filename(home, ".local", "state", "vmspec", NULL);
    }
    return NULL;
}

void provision_host_user(gint64 *uid, gint64 *gid)
{
    const char *sudo_uid = g_getenv("SUDO_UID");
    const char *sudo_gid = g_getenv("SUDO_GID");
    gint64 u, g;

    *uid = getuid();
    *gid = getgid();
    if (*uid == 0 && sudo_uid && sudo_gid &&
        g_ascii_string_to_signed(sudo_uid, 10, 1, G_MAXUINT32 - 1, &u,
                                 NULL) &&
        g_ascii_string_to_signed(sudo_gid, 10, 1, G_MAXUINT32 - 1, &g,
                                 NULL)) {
        *uid = u;
        *gid = g;
    }
}

static bool has_type(Object *obj, const char *type)
{
    return object_dynamic_cast(obj, type) != NULL;
}

void spec_provision_attach(Vm *vm, Provision *p, SpecDiags *diags)
{
    MachineState *ms = vm_get_machine(vm);
    g_autofree char *root = state_root();
    g_autoptr(Object) disk = NULL;
    g_autoptr(GError) err = NULL;
    ProvisionSeed *ps;
    Object *obj;

    if (!root) {
        spec_diags_add(diags, NULL, "provision: no state directory for "
                       "the VM's seed and key: set VMSPEC_STATE_DIR or "
                       "HOME");
        provision_free(p);
        return;
    }
    obj = object_new(TYPE_PROVISION_SEED);
    ps = PROVISION_SEED(obj);
    ps->provision = p;
    ps->dir = g_build_filename(root, vm->name, NULL);
    ps->image = g_build_filename(ps->dir, "cidata.iso", NULL);
    if (!p->user_data_path && !(p->authorized_keys && *p->authorized_keys)) {
        ps->key = g_build_filename(ps->dir, "id_ed25519", NULL);
    }
    for (guint i = 0; i < OBJECT(ms)->children->len; i++) {
        DeviceState *dev = machine_device_child(ms, i);

        ps->reports |= dev && has_type(OBJECT(dev), "virtio-vsock");
    }
    object_add_child(OBJECT(vm), "provision", obj, NULL);
    object_unref(obj);

    disk = object_new("virtio-blk");
    if (!object_property_set_str(disk, "id", PROVISION_SEED_DISK, &err) ||
        !object_property_set_str(disk, "path", ps->image, &err) ||
        !object_property_set_str(disk, "readonly", "true", &err) ||
        !object_add_child(OBJECT(ms), PROVISION_SEED_DISK, disk, &err)) {
        spec_diags_add(diags, NULL, "provision: the seed disk: %s",
                       err->message);
        return;
    }
    device_set_origin(DEVICE(disk), "provision:");
}

ProvisionSeed *provision_seed_of(Vm *vm)
{
    Object *obj = object_get_child(OBJECT(vm), "provision");

    return obj ? PROVISION_SEED(obj) : NULL;
}

const char *provision_seed_user(ProvisionSeed *ps)
{
    return ps->provision->user;
}

const char *provision_seed_identity(ProvisionSeed *ps)
{
    return ps->key;
}

const char *provision_seed_image(ProvisionSeed *ps)
{
    return ps->image;
}

bool provision_seed_reports(ProvisionSeed *ps)
{
    return ps->reports;
}

/* The shares with a mount: directory, and the user-mode NICs' MACs. */
static void collect_devices(MachineState *ms, GArray *mounts,
                            GPtrArray *macs)
{
    for (guint i = 0; i < OBJECT(ms)->children->len; i++) {
        DeviceState *dev = machine_device_child(ms, i);
        Object *obj = OBJECT(dev);

        if (dev && has_type(obj, "virtio-fs")) {
            char *dir = object_property_get_str(obj, "mount");

            if (dir) {
                CloudConfigMount m = {
                    .tag = object_property_get_str(obj, "tag"),
                    .dir = dir,
                };

                if (!m.tag) {
                    m.tag = g_strdup(dev->id);
                }
                g_array_append_val(mounts, m);
            }
        } else if (dev && has_type(obj, TYPE_VIRTIO_NET) &&
                   virtio_net_is_user_mode(obj)) {
            g_ptr_array_add(macs, object_property_get_str(obj, "mac"));
        }
    }
    g_ptr_array_add(macs, NULL);
}

static void mount_clear(gpointer data)
{
    CloudConfigMount *m = data;

    g_free((char *)m->tag);
    g_free((char *)m->dir);
}

/* The public key's line, or NULL when there is none (yet). */
static char *read_public_key(const ProvisionSeed *ps)
{
    g_autofree char *pub = g_strconcat(ps->key, ".pub", NULL);
    char *text = NULL;

    if (!g_file_get_contents(pub, &text, NULL, NULL)) {
        return NULL;
    }
    return g_strstrip(text);
}

static CloudSeed *render(ProvisionSeed *ps, Vm *vm, const char *key,
                         GError **errp)
{
    g_autoptr(GArray) mounts = g_array_new(FALSE, TRUE,
                                           sizeof(CloudConfigMount));
    g_autoptr(GPtrArray) macs = g_ptr_array_new_with_free_func(g_free);
    CloudConfigHost host = {
        .vm_name = vm->name,
        .generated_key = key,
        .ready_port = ps->reports ? PROVISION_READY_PORT : 0,
    };

    g_array_set_clear_func(mounts, mount_clear);
    provision_host_user(&host.host_uid, &host.host_gid);
    collect_devices(vm_get_machine(vm), mounts, macs);
    host.mounts = (const CloudConfigMount *)(void *)mounts->data;
    host.n_mounts = mounts->len;
    host.dhcp_macs = (const char *const *)macs->pdata;
    return cloud_config_render(ps->provision, &host, errp);
}

CloudSeed *provision_seed_render(ProvisionSeed *ps, Vm *vm, GError **errp)
{
    g_autofree char *key = ps->key ? read_public_key(ps) : NULL;

    if (ps->key && !key) {
        /* No path: the plan of one spec is the same wherever it runs. */
        key = g_strdup("ssh-ed25519 (vmspec's key for this VM, made at its "
                       "first run)");
    }
    return render(ps, vm, key, errp);
}

/* ssh-keygen makes the key under a temporary name; the private key is
 * renamed last, so that it exists only with its public half. */
static bool make_key(ProvisionSeed *ps, const char *name, GError **errp)
{
    g_autofree char *tmp = g_strdup_printf("%s.%d.tmp", ps->key, getpid());
    g_autofree char *tmp_pub = g_strconcat(tmp, ".pub", NULL);
    g_autofree char *pub = g_strconcat(ps->key, ".pub", NULL);
    g_autofree char *comment = g_strconcat("vmspec-", name, NULL);
    g_autofree char *out = NULL;
    const char *argv[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                           "-C", comment, "-f", tmp, NULL };
    int status = 0;
    bool ok;

    unlink(tmp);
    unlink(tmp_pub);
    ok = g_spawn_sync(NULL, (char **)argv, NULL,
                      G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                      G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL, NULL, &out,
                      &status, errp);
    if (ok && !g_spawn_check_wait_status(status, errp)) {
        ok = false;
    }
    if (ok && (rename(tmp_pub, pub) < 0 || rename(tmp, ps->key) < 0)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO, "cannot keep the "
                    "key %s: %s", ps->key, g_strerror(errno));
        ok = false;
    }
    if (!ok) {
        unlink(tmp);
        unlink(tmp_pub);
        g_prefix_error(errp, "cannot make the VM's ssh key (ssh-keygen, "
                       "from openssh-client): %s%s", out && *out ? out : "",
                       out && *out ? ": " : "");
    }
    return ok;
}

bool provision_seed_prepare(ProvisionSeed *ps, Vm *vm, GError **errp)
{
    g_autoptr(CloudSeed) seed = NULL;
    g_autofree char *key = NULL;

    if (g_mkdir_with_parents(ps->dir, 0700) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO, "cannot make the "
                    "state directory %s: %s", ps->dir, g_strerror(errno));
        return false;
    }
    if (ps->key) {
        if (access(ps->key, F_OK) != 0 && !make_key(ps, vm->name, errp)) {
            return false;
        }
        if (!(key = read_public_key(ps))) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO, "cannot read "
                        "%s.pub (remove %s to make a new key)", ps->key,
                        ps->key);
            return false;
        }
    }
    if (!(seed = render(ps, vm, key, errp))) {
        return false;
    }
    {
        SeedFile files[4] = {
            { "meta-data", seed->meta_data, strlen(seed->meta_data) },
            { "user-data", seed->user_data, strlen(seed->user_data) },
        };
        size_t n = 2;

        if (seed->vendor_data) {
            files[n++] = (SeedFile){ "vendor-data", seed->vendor_data,
                                     strlen(seed->vendor_data) };
        }
        if (seed->network_config) {
            files[n++] = (SeedFile){ "network-config", seed->network_config,
                                     strlen(seed->network_config) };
        }
        return nocloud_seed_write(ps->image, files, n, errp);
    }
}

static void provision_seed_finalize(Object *obj)
{
    ProvisionSeed *ps = PROVISION_SEED(obj);

    provision_free(ps->provision);
    g_free(ps->dir);
    g_free(ps->image);
    g_free(ps->key);
}

static const TypeInfo provision_seed_info = {
    .name = TYPE_PROVISION_SEED,
    .parent = TYPE_OBJECT,
    .description = "a VM's first-boot provisioning: its cloud-init NoCloud "
                   "seed, state directory and ssh key",
    .instance_size = sizeof(ProvisionSeed),
    .instance_finalize = provision_seed_finalize,
};

static void provision_seed_register(void)
{
    type_register_static(&provision_seed_info);
}

type_init(provision_seed_register)
