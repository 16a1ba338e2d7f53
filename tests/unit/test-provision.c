/*
 * provision: and cloud_init: -> the seed's files: the errors with their
 * exact file:line:col, the rendered user-data read back as YAML, YAML 1.1
 * quoting, the seed disk the loader adds, and instance-id's stability.
 */
#include <string.h>
#include <unistd.h>

#include "machine/qom/device.h"
#include "machine/qom/module.h"
#include "machine/qom/property.h"
#include "spec/cloud-config.h"
#include "spec/parse.h"
#include "spec/provision-seed.h"

#define SPEC_BUILD_FILE "vm.yaml"
#include "tests/unit/spec-build-test.h"

#define HEAD "vmspec: 1\nname: dev\nmachine: {type: microvm}\n" \
             "boot: {kernel: /vmlinuz}\n"

static char *state_dir;

static Vm *build_ok(const char *text)
{
    g_autofree char *errors = NULL;
    Vm *vm = build(text, &errors);

    g_assert_cmpstr(errors, ==, "");
    g_assert_nonnull(vm);
    return vm;
}

static CloudSeed *render_of(Vm *vm)
{
    g_autoptr(GError) err = NULL;
    ProvisionSeed *ps = provision_seed_of(vm);
    CloudSeed *seed;

    g_assert_nonnull(ps);
    seed = provision_seed_render(ps, vm, &err);
    g_assert_no_error(err);
    return seed;
}

/* The seed's user-data read back (our own YAML 1.2 parser: the structure;
 * the 1.1 quoting is checked by text below). */
static SpecNode *user_data_tree(const CloudSeed *seed)
{
    g_autoptr(SpecDiags) diags = spec_diags_new();
    SpecNode *root;

    g_assert_true(g_str_has_prefix(seed->user_data, "#cloud-config\n"));
    root = spec_parse_buffer("user-data", seed->user_data,
                             strlen(seed->user_data), diags);
    g_assert_cmpuint(spec_diags_count(diags), ==, 0);
    g_assert_nonnull(root);
    return root;
}

static const char *lookup(const SpecNode *root, const char *path)
{
    SpecNode *n = spec_node_lookup(root, path);

    g_assert_nonnull(n);
    return spec_node_scalar(n);
}

static void test_render(void)
{
    g_autoptr(Object) vm = OBJECT(build_ok(
        HEAD
        "shares: [{id: src, path: /tmp, mount: /src}]\n"
        "devices: [{type: virtio-vsock}]\n"
        "provision:\n"
        "  user: {name: dev, uid: 1234, groups: [sudo, kvm]}\n"
        "  packages: [build-essential, \"make=4.3-4.1\"]\n"
        "  files:\n"
        "    - {path: /etc/motd, content: \"yes\", mode: 0600}\n"
        "    - {path: /home/dev/.x, content: \"a\\nb\\n\", owner: dev}\n"
        "  run: [\"false\", \"echo on\"]\n"
        "  run_always: [\"date >/run/b\"]\n"
        "  env: {EDITOR: vim, N: 0644}\n"));
    g_autoptr(CloudSeed) seed = render_of(VM(vm));
    g_autoptr(SpecNode) ud = user_data_tree(seed);

    g_assert_cmpstr(lookup(ud, "hostname"), ==, "dev");
    g_assert_cmpstr(lookup(ud, "users.0.name"), ==, "dev");
    g_assert_cmpstr(lookup(ud, "users.0.uid"), ==, "1234");
    g_assert_cmpstr(lookup(ud, "users.0.groups.1"), ==, "kvm");
    g_assert_cmpstr(lookup(ud, "users.0.sudo"), ==, "ALL=(ALL) NOPASSWD:ALL");
    g_assert_cmpstr(lookup(ud, "packages.1"), ==, "make=4.3-4.1");
    g_assert_cmpstr(lookup(ud, "write_files.0.content"), ==, "yes");
    g_assert_cmpstr(lookup(ud, "write_files.0.permissions"), ==, "0600");
    g_assert_cmpstr(lookup(ud, "write_files.1.owner"), ==, "dev:dev");
    g_assert_cmpstr(lookup(ud, "write_files.1.defer"), ==, "true");
    g_assert_cmpstr(lookup(ud, "write_files.2.path"), ==, "/etc/environment");
    g_assert_cmpstr(lookup(ud, "write_files.2.content"), ==,
                    "EDITOR=\"vim\"\nN=\"0644\"\n");
    g_assert_cmpstr(lookup(ud, "write_files.3.content"), ==,
                    "#!/bin/sh\nset -e\ndate >/run/b\n");
    g_assert_cmpstr(lookup(ud, "mounts.0.0"), ==, "src");
    g_assert_cmpstr(lookup(ud, "mounts.0.2"), ==, "virtiofs");
    g_assert_cmpstr(lookup(ud, "runcmd.0"), ==, "set -e\nfalse\necho on\n");
    /* The readiness report, to the port the run listens on. */
    g_assert_nonnull(strstr(lookup(ud, "bootcmd.1.6"), "s.connect((2, 52000))"));
    /* YAML 1.1 would read these written plain as an int, a boolean. */
    g_assert_nonnull(strstr(seed->user_data, "permissions: \"0600\""));
    g_assert_nonnull(strstr(seed->user_data, "content: \"yes\""));
    g_assert_true(g_str_has_prefix(seed->meta_data, "instance-id: vmspec-dev-"));
    g_assert_nonnull(strstr(seed->meta_data, "local-hostname: dev\n"));
    g_assert_null(seed->vendor_data);
}

static void test_seed_disk_and_key(void)
{
    g_autoptr(Object) vm = OBJECT(build_ok(HEAD "provision: {user: {name: dev}}\n"));
    Object *disk = object_get_child(OBJECT(vm_get_machine(VM(vm))),
                                    PROVISION_SEED_DISK);
    ProvisionSeed *ps = provision_seed_of(VM(vm));
    g_autofree char *path = NULL, *ro = NULL;
    g_autofree char *key = g_build_filename(state_dir, "dev", "id_ed25519",
                                            NULL);

    g_assert_nonnull(disk);
    path = object_property_get_str(disk, "path");
    ro = object_property_get_str(disk, "readonly");
    g_assert_cmpstr(path, ==, provision_seed_image(ps));
    g_assert_cmpstr(ro, ==, "true");
    g_assert_cmpstr(provision_seed_identity(ps), ==, key);
    g_assert_cmpstr(provision_seed_user(ps), ==, "dev");
    g_assert_false(provision_seed_reports(ps));     /* no vsock */
}

static char *instance_id(const char *text)
{
    g_autoptr(Object) vm = OBJECT(build_ok(text));
    g_autoptr(CloudSeed) seed = render_of(VM(vm));

    return g_strdup(seed->instance_id);
}

static void test_instance_id(void)
{
    g_autofree char *a = instance_id(HEAD "provision: {run: [\"a\"]}\n");
    g_autofree char *a2 = instance_id(HEAD "provision:\n  run:\n    - a\n");
    g_autofree char *b = instance_id(HEAD "provision: {run: [\"b\"]}\n");

    g_assert_cmpstr(a, ==, a2);     /* how it is written does not count */
    g_assert_cmpstr(a, !=, b);
    g_assert_cmpuint(strlen(a), ==, strlen("vmspec-dev-") + 16);
}

static void test_user_data_file(void)
{
    g_autofree char *file = g_build_filename(state_dir, "ud.yaml", NULL);
    g_autofree char *text = g_strdup_printf(
        HEAD "devices: [{type: virtio-vsock}]\n"
        "cloud_init: {user_data: %s}\n", file);
    g_autoptr(Object) vm = NULL;
    g_autoptr(CloudSeed) seed = NULL;

    g_assert_true(g_file_set_contents(file, "#cloud-config\nruncmd: [x]\n",
                                      -1, NULL));
    vm = OBJECT(build_ok(text));
    seed = render_of(VM(vm));
    g_assert_cmpstr(seed->user_data, ==, "#cloud-config\nruncmd: [x]\n");
    g_assert_nonnull(seed->vendor_data);
    g_assert_nonnull(strstr(seed->vendor_data, "vmspec-ready"));
    g_assert_null(provision_seed_identity(provision_seed_of(VM(vm))));
}

static void test_errors(void)
{
    assert_error(HEAD "provision: {user: {name: Root}}\n",
                 "vm.yaml:5:26: provision.user.name: 'Root' is not a user "
                 "name (lowercase letters, digits, '_' and '-', at most 32)");
    assert_error(HEAD "provision: {user: {name: root}}\n",
                 "vm.yaml:5:26: provision.user.name: root exists already; "
                 "name another user");
    assert_error(HEAD "provision: {user: {name: a, uid: 0}}\n",
                 "vm.yaml:5:34: provision.user.uid: expected host or a "
                 "number from 1 to 60000");
    assert_error(HEAD "provision: {usr: {}}\n",
                 "vm.yaml:5:13: provision: unknown key 'usr'; did you mean "
                 "'user'? (valid keys: user, ssh_authorized_keys, packages, "
                 "files, run, run_always, env)");
    assert_error(HEAD "provision:\n  files: [{path: etc/x, content: a, "
                 "mode: \"0999\"}]\n",
                 "vm.yaml:6:18: provision.files[0].path: 'etc/x' is not an "
                 "absolute path\n"
                 "vm.yaml:6:43: provision.files[0].mode: expected octal "
                 "permissions such as \"0644\"");
    assert_error(HEAD "provision: {packages: [\"a;b\"], env: {1X: a}}\n",
                 "vm.yaml:5:24: provision.packages[0]: 'a;b' is not a "
                 "Debian package name\n"
                 "vm.yaml:5:38: provision.env: '1X' is not a variable name");
    assert_error(HEAD "provision: {run: [1, [x]]}\n",
                 "vm.yaml:5:19: provision.run[0]: expected a string\n"
                 "vm.yaml:5:22: provision.run[1]: expected a string");
    assert_error(HEAD "provision: {}\ncloud_init: {user_data: x}\n",
                 "vm.yaml:6:1: cloud_init: your own user-data replaces "
                 "provision: (line 5); give one of the two");
    assert_error(HEAD "provision: {ssh_authorized_keys: [\"hello\"]}\n",
                 "vm.yaml:5:35: provision.ssh_authorized_keys[0]: 'hello' "
                 "is not an OpenSSH public key line");
    assert_error(HEAD "shares: [{id: s, path: /tmp, mount: src}]\n",
                 "vm.yaml:5:37: mount: 'src' is not a mount point: an "
                 "absolute guest path without blanks or '\\'");
}

int main(int argc, char **argv)
{
    int status;

    g_test_init(&argc, &argv, NULL);
    g_assert_true(module_call_init(MODULE_INIT_QOM, NULL));
    state_dir = g_dir_make_tmp("vmspec-provision-XXXXXX", NULL);
    g_setenv("VMSPEC_STATE_DIR", state_dir, TRUE);
    g_test_add_func("/provision/render", test_render);
    g_test_add_func("/provision/seed-disk-and-key", test_seed_disk_and_key);
    g_test_add_func("/provision/instance-id", test_instance_id);
    g_test_add_func("/provision/user-data-file", test_user_data_file);
    g_test_add_func("/provision/errors", test_errors);
    status = g_test_run();
    {
        g_autofree char *ud = g_build_filename(state_dir, "ud.yaml", NULL);

        unlink(ud);
        rmdir(state_dir);
    }
    g_free(state_dir);
    return status;
}
