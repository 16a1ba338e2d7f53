/*
 * Spec -> object tree: the mapping, derived values and each error class
 * with its exact file:line:col.
 */
#include <string.h>

#include "machine/qom/device.h"
#include "machine/qom/error.h"
#include "machine/qom/property.h"
#include "spec/parse.h"
#include "spec/loader.h"
#include "spec/merge.h"

#define SPEC_BUILD_FILE "vm.yaml"
#include "tests/unit/spec-build-test.h"
#include "spec/scalar.h"

#define KERNEL "boot: {kernel: /vmlinuz}\n"

/* A device with a list property, for `devices:` entries. */
#define TYPE_TEST_LIST_DEV "test-list-device"

typedef struct {
    DeviceState parent_obj;
    char **forward;
} TestListDev;

static bool test_forward_check(const char *value, GError **errp)
{
    if (!g_str_has_prefix(value, "tcp:") && !g_str_has_prefix(value, "udp:")) {
        g_autofree char *quoted = quote_value(value);

        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "%s is not a forward: expected tcp:... or udp:...",
                    quoted);
        return false;
    }
    return true;
}

static const Property test_list_dev_props[] = {
    PROP_STRV("forward", TestListDev, forward, test_forward_check,
              "^(tcp|udp):", "Port forwards"),
    PROP_END,
};

static void test_list_dev_class_init(ObjectClass *oc, const void *data)
{
    oc->props = test_list_dev_props;
}

static const TypeInfo test_list_dev_info = {
    .name = TYPE_TEST_LIST_DEV,
    .parent = TYPE_DEVICE,
    .instance_size = sizeof(TestListDev),
    .class_init = test_list_dev_class_init,
};

static void register_test_list_dev(void)
{
    type_register_static(&test_list_dev_info);
}

type_init(register_test_list_dev)

#define LIST_SPEC "vmspec: 1\nname: a\nmachine: {type: microvm}\n" KERNEL

static void test_mapping(void)
{
    g_autofree char *errors = NULL;
    g_autoptr(Object) vm = OBJECT(build(
        "vmspec: 1\n"
        "name: web\n"
        "machine: {type: microvm, cpus: 2, memory: 1G}\n"
        "boot: {kernel: /k, initrd: {path: /i, sha256: \"" 
        "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\"},"
        " cmdline: quiet}\n"
        "disks: [{path: /d1}, {id: data, path: /d2, readonly: True}]\n"
        "nics: [{tap: t0}]\n"
        "devices: [{type: virtio-rng}]\n"
        "console: none\n", &errors));
    MachineState *ms;
    Object *disk0, *data;

    g_assert_cmpstr(errors, ==, "");
    g_assert_nonnull(vm);
    g_assert_cmpstr(VM(vm)->name, ==, "web");
    g_assert_cmpstr(VM(vm)->console, ==, "none");
    ms = vm_get_machine(VM(vm));
    g_assert_cmpstr(object_get_typename(OBJECT(ms)), ==, "microvm");
    g_assert_cmpint(ms->cpus, ==, 2);
    g_assert_cmpuint(ms->ram_size, ==, 1ULL << 30);
    g_assert_cmpstr(ms->kernel.path, ==, "/k");
    g_assert_cmpstr(ms->initrd.sha256, ==, "e3b0c44298fc1c149afbf4c8996fb9"
                    "2427ae41e4649b934ca495991b7852b855");
    g_assert_cmpstr(ms->cmdline, ==, "quiet");

    /* The machine's built-in devices, then the spec's in spec order,
     * named by id or by list + index. */
    g_assert_cmpuint(OBJECT(ms)->children->len, ==, 3 + 4);
    g_assert_nonnull(object_resolve_path(vm, "/machine/serial0"));
    disk0 = object_resolve_path(vm, "/machine/disk0");
    data = object_resolve_path(vm, "/machine/data");
    g_assert_nonnull(disk0);
    g_assert_nonnull(data);
    g_assert_true(OBJECT(ms)->children->pdata[3] == disk0);
    g_assert_cmpstr(DEVICE(disk0)->id, ==, "disk0");
    g_assert_cmpstr(DEVICE(disk0)->origin, ==, "vm.yaml:5:9");
    g_assert_cmpstr(object_get_typename(disk0), ==, "virtio-blk");
    {
        g_autofree char *ro = object_property_get_str(data, "readonly");

        g_assert_cmpstr(ro, ==, "true");
    }
    g_assert_nonnull(object_resolve_path(vm, "/machine/net0"));
    g_assert_nonnull(object_resolve_path(vm, "/machine/virtio-rng0"));
}

static void test_relative_paths(void)
{
    g_autoptr(SpecDiags) diags = spec_diags_new();
    const char *text = "vmspec: 1\nname: a\nmachine: {type: microvm}\n"
                       "boot: {kernel: ../k/vmlinuz}\n"
                       "console: file:logs/console.log\n";
    g_autoptr(SpecNode) root = spec_load_buffer("/srv/specs/vm.yaml", text,
                                                strlen(text), diags);
    g_autoptr(Object) vm = OBJECT(spec_build_vm(root, NULL, diags));

    g_assert_nonnull(vm);
    g_assert_cmpstr(vm_get_machine(VM(vm))->kernel.path, ==,
                    "/srv/k/vmlinuz");
    g_assert_cmpstr(VM(vm)->console, ==, "file:/srv/specs/logs/console.log");
}

static void test_mac_derivation(void)
{
    uint8_t a[6], b[6], c[6];

    spec_derive_mac("web", "net0", a);
    spec_derive_mac("web", "net0", b);
    spec_derive_mac("web", "net1", c);
    g_assert_cmpmem(a, 6, b, 6);
    g_assert_true(memcmp(a, c, 6) != 0);
    /* Locally administered, unicast. */
    g_assert_cmpuint(a[0] & 3, ==, 2);
    g_assert_cmpuint(c[0] & 3, ==, 2);

    /* Known answers: SHA-256("web/net0") starts 0c bf 6f a9 26 ff, and
     * "web/net1" 60 6e 3f af f2 ef; bit 1 of the first octet is set. */
    {
        static const uint8_t net0[6] = { 0x0e, 0xbf, 0x6f, 0xa9, 0x26, 0xff };
        static const uint8_t net1[6] = { 0x62, 0x6e, 0x3f, 0xaf, 0xf2, 0xef };

        g_assert_cmpmem(a, 6, net0, 6);
        g_assert_cmpmem(c, 6, net1, 6);
    }
}

static void test_scalar_types(void)
{
    static const struct { const char *text; bool quoted;
                          SpecScalarType type; } cases[] = {
        { "42", false, SPEC_SCALAR_INT }, { "-7", false, SPEC_SCALAR_INT },
        { "0x1f", false, SPEC_SCALAR_INT }, { "0o17", false, SPEC_SCALAR_INT },
        { "42", true, SPEC_SCALAR_STRING }, { "1.5", false, SPEC_SCALAR_FLOAT },
        { "1e3", false, SPEC_SCALAR_FLOAT }, { ".inf", false, SPEC_SCALAR_FLOAT },
        { "true", false, SPEC_SCALAR_BOOL }, { "FALSE", false, SPEC_SCALAR_BOOL },
        { "yes", false, SPEC_SCALAR_STRING }, { "~", false, SPEC_SCALAR_NULL },
        { "", false, SPEC_SCALAR_NULL }, { "null", false, SPEC_SCALAR_NULL },
        { "512M", false, SPEC_SCALAR_STRING },
        { "52:54:00:12:34:56", false, SPEC_SCALAR_STRING },
        { "0x", false, SPEC_SCALAR_STRING }, { "1.2.3", false,
                                               SPEC_SCALAR_STRING },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(SpecNode) n = spec_node_new_scalar(cases[i].text,
                                                     cases[i].quoted, NULL);

        g_assert_cmpint(spec_scalar_type(n), ==, cases[i].type);
    }
}

static void test_errors(void)
{
    assert_error("vmspec: 1\nname: a\nmachine: {type: microvm}\n" KERNEL
                 "disks: [{id: a, path: /x}, {id: a, path: /y}]\n",
                 "vm.yaml:5:33: disks[1]: duplicate id 'a' (first used at "
                 "line 5)");
    assert_error("vmspec: 1\nname: a\nmachine: {type: microvm}\n" KERNEL
                 "nics: [{id: n, tap: t, mac: auto, queues: 2}]\n",
                 "vm.yaml:5:35: unknown key 'queues' in nics[0] (valid "
                 "keys: type, id, tap, mac, forward, host_loopback, restrict)");
    assert_error("vmspec: 1\nname: a\nmachine: {type: microvm}\n" KERNEL
                 "nics: [{id: \"a/b\", tap: t}]\n",
                 "vm.yaml:5:13: id: 'a/b' is not a valid id: use 1 to 20 "
                 "letters, digits, '-' and '_', starting with a letter or "
                 "digit");
    assert_error("vmspec: 1\nname: a\nmachine: {type: microvm, memory: 8M}\n"
                 KERNEL, "vm.yaml:3:34: memory: 8M is out of range: memory "
                 "must be between 16M and 64T");
    assert_error("vmspec: 1\nname: a\nmachine: [microvm]\n" KERNEL,
                 "vm.yaml:3:10: machine: expected a map, not a list");
    assert_error("vmspec: 1\nname: a\nmachine: {type: microvm}\n"
                 "boot: {kernel: /k, initrd: ~}\n",
                 "vm.yaml:4:28: initrd: needs a value (a path or {path, "
                 "sha256})");
    assert_error("vmspec: 1\nname: a\nmachine: {type: microvm}\n"
                 "boot: {kernel: {sha256: abc}}\n",
                 "vm.yaml:4:16: kernel: missing required key 'path'");
}

/* The items of the list property of the spec's first `devices:` entry,
 * joined with '|'. */
static char *list_of(const char *devices)
{
    g_autofree char *text = g_strconcat(LIST_SPEC, devices, NULL);
    g_autofree char *errors = NULL;
    g_autoptr(Object) vm = OBJECT(build(text, &errors));
    Object *dev;

    g_assert_cmpstr(errors, ==, "");
    g_assert_nonnull(vm);
    dev = object_resolve_path(vm, "/machine/l");
    g_assert_nonnull(dev);
    return g_strjoinv("|", (char **)object_property_get_strv(dev,
                                                             "forward"));
}

static void assert_list(const char *devices, const char *expected)
{
    g_autofree char *got = list_of(devices);

    g_assert_cmpstr(got, ==, expected);
}

static void test_string_lists(void)
{
    /* Flow and block sequences; an empty list; the default. */
    assert_list("devices: [{type: test-list-device, id: l, forward: "
                "[\"tcp:127.0.0.1:2222-:22\", 'udp::5353-:53']}]\n",
                "tcp:127.0.0.1:2222-:22|udp::5353-:53");
    assert_list("devices:\n"
                "  - type: test-list-device\n"
                "    id: l\n"
                "    forward:\n"
                "      - tcp::80-:80\n"
                "      - !!str udp:1\n",
                "tcp::80-:80|udp:1");
    assert_list("devices: [{type: test-list-device, id: l, forward: []}]\n",
                "");
    assert_list("devices: [{type: test-list-device, id: l}]\n", "");

    /* Each item is a string and passes the check, each error at its
     * item; nothing is set then. */
    assert_error(LIST_SPEC "devices: [{type: test-list-device, forward: "
                 "[tcp:1, 22, [x], sctp:3, ~]}]\n",
                 "vm.yaml:5:53: forward[1]: expected a string, not an "
                 "integer ('22'); quote it to make it a string\n"
                 "vm.yaml:5:57: forward[2]: expected a string, not a list\n"
                 "vm.yaml:5:62: forward[3]: 'sctp:3' is not a forward: "
                 "expected tcp:... or udp:...\n"
                 "vm.yaml:5:70: forward[4]: expected a string, not null "
                 "('~'); quote it to make it a string");
    assert_error(LIST_SPEC "devices:\n"
                 "  - type: test-list-device\n"
                 "    forward:\n"
                 "      - tcp:1\n"
                 "      - http:2\n",
                 "vm.yaml:9:9: forward[1]: 'http:2' is not a forward: "
                 "expected tcp:... or udp:...");

    /* Not a list. */
    assert_error(LIST_SPEC "devices: [{type: test-list-device, "
                 "forward: tcp:1}]\n",
                 "vm.yaml:5:45: forward: expected a list of strings, not a "
                 "string ('tcp:1'); a list is [A, B] or one '- ITEM' line "
                 "each");
    assert_error(LIST_SPEC "devices: [{type: test-list-device, "
                 "forward: {tcp: 1}}]\n",
                 "vm.yaml:5:45: forward: expected a list of strings, not a "
                 "map");
    assert_error(LIST_SPEC "devices: [{type: test-list-device, "
                 "forward: ~}]\n",
                 "vm.yaml:5:45: forward: needs a value (a list of strings)");
}

static void test_string_lists_set(void)
{
    const char *text = LIST_SPEC "devices: [{type: test-list-device, id: l, "
                       "forward: [tcp:1, udp:2]}]\n";
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) root = spec_load_buffer("vm.yaml", text, strlen(text),
                                                diags);
    g_autofree char *errors = NULL;
    g_autoptr(Object) vm = NULL;
    Object *dev;

    /* --set replaces one item; the whole list is for the spec. */
    g_assert_true(spec_apply_set(root, "devices.l.forward.#1=tcp:9", diags));
    vm = OBJECT(spec_build_vm(root, NULL, diags));
    g_assert_nonnull(vm);
    dev = object_resolve_path(vm, "/machine/l");
    g_assert_cmpstr(object_property_get_strv(dev, "forward")[0], ==, "tcp:1");
    g_assert_cmpstr(object_property_get_strv(dev, "forward")[1], ==, "tcp:9");
    g_clear_pointer(&vm, object_unref);

    g_assert_true(spec_apply_set(root, "devices.l.forward=tcp:1", diags));
    g_assert_null(spec_build_vm(root, NULL, diags));
    errors = spec_diags_format(diags);
    g_assert_cmpstr(errors, ==, "--set devices.l.forward=tcp:1: forward: a "
                    "list can't be set with --set (its value is one "
                    "scalar); write it in the spec, or replace item N with "
                    "--set 'PATH.#N=VALUE'");
}

static void test_string_lists_merge(void)
{
    /* extends: a list of strings is replaced, not merged. */
    static const char base_text[] = "forward: [tcp:1, tcp:2]\n";
    static const char over_text[] = "forward: [udp:3]\n";
    static const char empty_text[] = "forward: []\n";
    g_autoptr(SpecDiags) diags = spec_diags_new();
    SpecNode *merged = spec_merge(
        spec_parse_buffer("base.yaml", base_text, strlen(base_text), diags),
        spec_parse_buffer("vm.yaml", over_text, strlen(over_text), diags));
    SpecNode *list = spec_node_map_get(merged, "forward");

    g_assert_cmpuint(list->seq->len, ==, 1);
    g_assert_cmpstr(((SpecNode *)list->seq->pdata[0])->scalar.text, ==,
                    "udp:3");
    merged = spec_merge(merged, spec_parse_buffer("vm.yaml", empty_text,
                                                  strlen(empty_text), diags));
    g_assert_cmpuint(spec_node_map_get(merged, "forward")->seq->len, ==, 0);
    spec_node_free(merged);
}

static void test_all_errors_reported(void)
{
    g_autofree char *errors = NULL;

    g_assert_null(build("vmspec: 1\nname: A\n"
                        "machine: {type: microvm, cpus: x, memroy: 1G}\n"
                        "boot: {kernel: /k, cmdline: 1}\n"
                        "console: tty\n", &errors));
    g_assert_cmpstr(errors, ==,
                    "vm.yaml:2:7: name: 'A' is not a valid name: use "
                    "lowercase letters, digits and '-', starting with a "
                    "letter or digit\n"
                    "vm.yaml:5:10: console: 'tty' is not a console: expected "
                    "stdio, none or file:PATH\n"
                    "vm.yaml:3:32: cpus: expected an integer, not a string "
                    "('x')\n"
                    "vm.yaml:3:35: unknown key 'memroy' in machine; did you "
                    "mean 'memory'? (valid keys: type, cpus, memory)\n"
                    "vm.yaml:4:29: cmdline: expected a string, not an "
                    "integer ('1'); quote it to make it a string");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_true(module_call_init(MODULE_INIT_QOM, NULL));

    g_test_add_func("/spec-loader/mapping", test_mapping);
    g_test_add_func("/spec-loader/relative-paths", test_relative_paths);
    g_test_add_func("/spec-loader/mac-derivation", test_mac_derivation);
    g_test_add_func("/spec-loader/scalar-types", test_scalar_types);
    g_test_add_func("/spec-loader/errors", test_errors);
    g_test_add_func("/spec-loader/all-errors", test_all_errors_reported);
    g_test_add_func("/spec-loader/string-lists", test_string_lists);
    g_test_add_func("/spec-loader/string-lists-set", test_string_lists_set);
    g_test_add_func("/spec-loader/string-lists-merge",
                    test_string_lists_merge);
    return g_test_run();
}
