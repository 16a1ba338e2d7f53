/*
 * Host resource claims: what each device declares through its
 * host_claims hook, when two claims clash (files by identity, taps, MACs),
 * and the placed errors the spec loader gives for a clash within a spec.
 */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/qom/module.h"
#include "machine/qom/property.h"
#include "spec/claims.h"
#include "spec/lists.h"
#include "spec/loader.h"
#include "spec/merge.h"

#define SPEC_BUILD_FILE "/srv/specs/vm.yaml"
#include "tests/unit/spec-build-test.h"

#define HEAD "vmspec: 1\nname: web\nmachine: {type: microvm}\n" \
             "boot: {kernel: /srv/k/vmlinuz}\n"

static void assert_ok(const char *text)
{
    g_autofree char *errors = NULL;
    g_autoptr(Object) vm = OBJECT(build(text, &errors));

    g_assert_cmpstr(errors, ==, "");
    g_assert_nonnull(vm);
}

static DeviceState *new_device(const char *type, const char *id,
                               const char *const *props)
{
    Object *obj = object_new(type);

    g_assert_true(object_property_set_str(obj, "id", id, NULL));
    for (; props && props[0]; props += 2) {
        g_assert_true(object_property_set_str(obj, props[0], props[1],
                                              NULL));
    }
    device_set_origin(DEVICE(obj), "vm.yaml:6:5");
    return DEVICE(obj);
}

static void claims_of(DeviceState *dev, HostClaims *claims)
{
    DEVICE_GET_CLASS(dev)->host_claims(dev, claims);
}

/* A disk writes its image unless it is readonly or a snapshot. */
static void test_disk_hook(void)
{
    static const struct {
        const char *readonly, *snapshot;
        bool writes;
    } cases[] = {
        { "false", "false", true }, { "true", "false", false },
        { "false", "true", false }, { "true", "true", false },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *props[] = { "path", "/srv/d.img", "readonly",
                                cases[i].readonly, "snapshot",
                                cases[i].snapshot, NULL };
        g_autoptr(Object) dev = OBJECT(new_device("virtio-blk", "root",
                                                  props));
        g_autoptr(HostClaims) claims = host_claims_new();
        const HostClaim *c;

        claims_of(DEVICE(dev), claims);
        g_assert_cmpuint(host_claims_len(claims), ==, 1);
        c = host_claims_get(claims, 0);
        g_assert_cmpint(c->kind, ==, HOST_CLAIM_FILE);
        g_assert_cmpstr(c->value, ==, "/srv/d.img");
        g_assert_cmpint(c->writes, ==, cases[i].writes);
        g_assert_cmpstr(c->who, ==, "disk 'root'");
        g_assert_cmpstr(c->origin, ==, "vm.yaml:6:5");
        g_assert_cmpstr(c->noun, ==, cases[i].writes
                        ? "the writable disk image" : "the disk image");
    }
}

/* A NIC claims its tap and its MAC; an underived `auto` is no MAC yet. */
static void test_nic_hook(void)
{
    const char *props[] = { "tap", "vm0", "mac", "52:54:00:AB:cd:01", NULL };
    const char *auto_props[] = { "tap", "vm1", NULL };
    g_autoptr(Object) nic = OBJECT(new_device("virtio-net", "n", props));
    g_autoptr(Object) auto_nic = OBJECT(new_device("virtio-net", "a",
                                                   auto_props));
    g_autoptr(HostClaims) claims = host_claims_new();

    claims_of(DEVICE(nic), claims);
    claims_of(DEVICE(auto_nic), claims);
    g_assert_cmpuint(host_claims_len(claims), ==, 3);
    g_assert_cmpint(host_claims_get(claims, 0)->kind, ==, HOST_CLAIM_TAP);
    g_assert_cmpstr(host_claims_get(claims, 0)->value, ==, "vm0");
    g_assert_cmpstr(host_claims_get(claims, 0)->who, ==, "NIC 'n'");
    g_assert_cmpint(host_claims_get(claims, 1)->kind, ==, HOST_CLAIM_MAC);
    g_assert_cmpstr(host_claims_get(claims, 1)->value, ==,
                    "52:54:00:ab:cd:01");
    g_assert_cmpstr(host_claims_get(claims, 2)->value, ==, "vm1");
}

/* Readers share a file; a writer shares it with no one.  Taps and MACs
 * are never shared. */
static void test_table(void)
{
    const HostClaim reader = { .kind = HOST_CLAIM_FILE,
                               .value = "/nonexistent/k", .noun = "r" };
    const HostClaim writer = { .kind = HOST_CLAIM_FILE,
                               .value = "/nonexistent/k", .writes = true,
                               .noun = "w" };
    const HostClaim other_file = { .kind = HOST_CLAIM_FILE,
                                   .value = "/nonexistent/j",
                                   .writes = true, .noun = "w" };
    const HostClaim other_file_again = { .kind = HOST_CLAIM_FILE,
                                         .value = "/nonexistent/./j",
                                         .noun = "r" };
    const HostClaim tap = { .kind = HOST_CLAIM_TAP, .value = "vm0" };
    const HostClaim file_named_like_tap = { .kind = HOST_CLAIM_FILE,
                                            .value = "vm0" };
    g_autoptr(ClaimTable) table = claim_table_new(NULL);
    const char *owner = NULL;

    g_assert_null(claim_table_add(table, &reader, "a", &owner));
    g_assert_null(claim_table_add(table, &reader, "b", &owner));
    g_assert_true(claim_table_add(table, &writer, "c", &owner) == &reader);
    g_assert_cmpstr(owner, ==, "a");
    g_assert_null(claim_table_add(table, &other_file, "c", &owner));
    g_assert_null(claim_table_add(table, &tap, "a", &owner));
    g_assert_null(claim_table_add(table, &file_named_like_tap, "a", &owner));
    g_assert_true(claim_table_add(table, &tap, "b", &owner) == &tap);
    /* A file that does not exist yet is known by its canonical path. */
    g_assert_true(claim_table_add(table, &other_file_again, "d", &owner) ==
                  &other_file);
}

/* An existing file is one file under every name: a symlink, "..". */
static void test_file_identity(void)
{
    g_autofree char *dir = g_dir_make_tmp("vmspec-claims-XXXXXX", NULL);
    g_autofree char *file = g_build_filename(dir, "d.img", NULL);
    g_autofree char *link = g_build_filename(dir, "link.img", NULL);
    g_autofree char *sub = g_build_filename(dir, "sub", NULL);
    g_autofree char *dotdot = g_build_filename(sub, "..", "d.img", NULL);
    HostClaim a = { .kind = HOST_CLAIM_FILE, .value = file, .writes = true };
    HostClaim b = { .kind = HOST_CLAIM_FILE, .value = link };
    HostClaim c = { .kind = HOST_CLAIM_FILE, .value = dotdot };
    g_autoptr(ClaimTable) table = claim_table_new(NULL);

    g_assert_true(g_file_set_contents(file, "", 0, NULL));
    g_assert_cmpint(symlink(file, link), ==, 0);
    g_assert_cmpint(mkdir(sub, 0700), ==, 0);
    g_assert_null(claim_table_add(table, &a, "x", NULL));
    g_assert_true(claim_table_add(table, &b, "y", NULL) == &a);
    g_assert_true(claim_table_add(table, &c, "y", NULL) == &a);
    {
        g_autofree char *shown = spec_claim_display(&b);

        g_assert_cmpstr(shown, ==, file);
    }
    unlink(link);
    unlink(file);
    rmdir(sub);
    rmdir(dir);
}

/* Within one spec, each clash is one error at the later entry. */
static void test_spec_clashes(void)
{
    assert_error(HEAD "disks: [{id: d, path: d.img}]\n"
                 "console: file:./d.img\n",
                 "/srv/specs/vm.yaml:6:10: the console and disk 'd' "
                 "(/srv/specs/vm.yaml:5:9) both write /srv/specs/d.img");
    assert_error(HEAD "disks:\n  - {id: a, path: d.img}\n"
                 "  - {id: b, path: ../specs/d.img}\n",
                 "/srv/specs/vm.yaml:7:5: disk 'b' and disk 'a' "
                 "(/srv/specs/vm.yaml:6:5) both write /srv/specs/d.img");
    assert_error(HEAD "disks:\n  - {id: a, path: d.img}\n"
                 "  - {id: b, path: d.img, readonly: true}\n",
                 "/srv/specs/vm.yaml:7:5: disk 'b' reads /srv/specs/d.img, "
                 "which disk 'a' (/srv/specs/vm.yaml:6:5) writes");
    assert_error(HEAD "disks: [{id: d, path: ../k/vmlinuz}]\n",
                 "/srv/specs/vm.yaml:5:9: disk 'd' writes the kernel "
                 "/srv/k/vmlinuz (boot.kernel, /srv/specs/vm.yaml:4:16)");
    assert_error(HEAD "console: file:vm.yaml\n",
                 "/srv/specs/vm.yaml:5:10: the console writes the spec "
                 "file /srv/specs/vm.yaml");
    assert_error(HEAD "nics:\n  - {id: a, tap: vm0}\n  - {id: b, tap: vm0}\n",
                 "/srv/specs/vm.yaml:7:5: NIC 'b' and NIC 'a' "
                 "(/srv/specs/vm.yaml:6:5) both use the tap vm0");
    /* b spells out (in capitals) the MAC that mac: auto gives a. */
    {
        uint8_t mac[6];
        g_autofree char *text = NULL, *expected = NULL;

        spec_derive_mac("web", "a", mac);
        text = g_strdup_printf(HEAD "nics:\n  - {id: a, tap: vm0}\n"
                               "  - {id: b, tap: vm1, mac: \"%02X:%02X:%02X:"
                               "%02X:%02X:%02X\"}\n", mac[0], mac[1], mac[2],
                               mac[3], mac[4], mac[5]);
        expected = g_strdup_printf(
            "/srv/specs/vm.yaml:7:5: NIC 'b' and NIC 'a' "
            "(/srv/specs/vm.yaml:6:5) both use the MAC address "
            "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
            mac[4], mac[5]);
        assert_error(text, expected);
    }
}

/* What may be shared is: readers of one file, a snapshot disk on the
 * kernel's file, auto MACs of different NICs. */
static void test_spec_sharing(void)
{
    assert_ok(HEAD "disks:\n  - {id: a, path: d.img, readonly: true}\n"
              "  - {id: b, path: d.img, snapshot: true}\n"
              "  - {id: c, path: ../k/vmlinuz, readonly: true}\n"
              "nics: [{id: n0, tap: vm0}, {id: n1, tap: vm1}]\n"
              "console: file:console.log\n");
}

static void test_console_directory(void)
{
    g_autofree char *dir = g_dir_make_tmp("vmspec-claims-XXXXXX", NULL);
    g_autofree char *text = g_strdup_printf(HEAD "console: file:%s\n", dir);
    g_autofree char *expected = g_strdup_printf(
        "/srv/specs/vm.yaml:5:10: the console writes %s, which is a "
        "directory", dir);

    assert_error(text, expected);
    rmdir(dir);
}

/* The lists' default types come from the registry. */
static void test_list_defaults(void)
{
    g_assert_cmpstr(spec_list_default_type("disks"), ==, "virtio-blk");
    g_assert_cmpstr(spec_list_default_type("nics"), ==, "virtio-net");
    g_assert_null(spec_list_default_type("devices"));
    g_assert_null(spec_list_default_type("nothing"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_true(module_call_init(MODULE_INIT_QOM, NULL));

    g_test_add_func("/claims/disk-hook", test_disk_hook);
    g_test_add_func("/claims/nic-hook", test_nic_hook);
    g_test_add_func("/claims/table", test_table);
    g_test_add_func("/claims/file-identity", test_file_identity);
    g_test_add_func("/claims/spec-clashes", test_spec_clashes);
    g_test_add_func("/claims/spec-sharing", test_spec_sharing);
    g_test_add_func("/claims/console-directory", test_console_directory);
    g_test_add_func("/claims/list-defaults", test_list_defaults);
    return g_test_run();
}
