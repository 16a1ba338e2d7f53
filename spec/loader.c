/*
 * Spec -> object tree.  See loader.h for the mapping.
 */
#include <string.h>

#include "machine/qom/device.h"
#include "machine/qom/error.h"
#include "machine/qom/machine.h"
#include "machine/qom/property.h"
#include "spec/claims.h"
#include "spec/lists.h"
#include "spec/loader.h"
#include "spec/merge.h"
#include "spec/props.h"
#include "spec/provision-seed.h"
#include "spec/scalar.h"
#include "spec/suggest.h"

/* Top-level keys that are not properties of the vm object, besides the
 * device lists. */
static const char *const structural_keys[] = {
    "vmspec", "extends", "machine", "boot", NULL,
};

typedef struct {
    SpecProps props;
    SpecDiags *diags;
    guint errors_at_start;
} Builder;

static bool builder_ok(Builder *b)
{
    return spec_diags_count(b->diags) == b->errors_at_start;
}

/* structural_keys and the device lists' names; free the array only. */
static GPtrArray *top_level_skip(void)
{
    GPtrArray *keys = g_ptr_array_new();
    const SpecDeviceList *lists;
    guint n;

    for (const char *const *k = structural_keys; *k; k++) {
        g_ptr_array_add(keys, (gpointer)*k);
    }
    for (const char *const *k = spec_provision_keys; *k; k++) {
        g_ptr_array_add(keys, (gpointer)*k);
    }
    lists = spec_device_lists(&n);
    for (guint i = 0; i < n; i++) {
        g_ptr_array_add(keys, (gpointer)lists[i].name);
    }
    g_ptr_array_add(keys, NULL);
    return keys;
}

static const SpecNode *expect_kind(Builder *b, const SpecPair *pair,
                                   SpecNodeKind kind)
{
    if (pair->value->kind != kind) {
        spec_diags_add(b->diags, &pair->value->mark,
                       "%s: expected a %s, not a %s", pair->key,
                       spec_node_kind_name(kind),
                       spec_node_is_null(pair->value)
                           ? "null" : spec_node_kind_name(pair->value->kind));
        return NULL;
    }
    return pair->value;
}

/* --- Types by name ----------------------------------------------------- */

/* The class named by a `type:` value, which must be a concrete subtype of
 * base (and, for devices, written in list); otherwise reports why and
 * returns NULL. */
static ObjectClass *lookup_type(Builder *b, const SpecNode *node,
                                const char *base, const char *what,
                                const char *list)
{
    const char *name = node->kind == SPEC_NODE_SCALAR &&
        spec_scalar_type(node) == SPEC_SCALAR_STRING ? node->scalar.text
                                                     : NULL;
    ObjectClass *found = name ? object_class_by_name(name) : NULL;
    g_autoptr(GPtrArray) names = NULL;
    GSList *classes;

    /* The common case, a right type, in one look-up; the walk over every
     * type below is for saying what is wrong. */
    if (found && object_class_dynamic_cast(found, base) &&
        !object_class_is_abstract(found) &&
        (!list || g_strcmp0(DEVICE_CLASS(found)->spec_list, list) == 0)) {
        return found;
    }
    found = NULL;
    names = g_ptr_array_new();
    classes = object_class_get_list(base, false);

    for (GSList *l = classes; l; l = l->next) {
        ObjectClass *oc = l->data;
        const char *list_of = list ? DEVICE_CLASS(oc)->spec_list : NULL;

        if (g_strcmp0(list_of, list) != 0) {
            if (name && strcmp(object_class_get_name(oc), name) == 0) {
                /* No spec_list: the machine creates it (serial-8250). */
                if (list_of) {
                    spec_diags_add(b->diags, &node->mark, "type '%s' goes "
                                   "under %s:, not %s:", name, list_of,
                                   list);
                } else {
                    spec_diags_add(b->diags, &node->mark, "type '%s' is "
                                   "part of the machine; it cannot be "
                                   "listed under %s:", name, list);
                }
                g_slist_free(classes);
                return NULL;
            }
            continue;
        }
        g_ptr_array_add(names, (gpointer)object_class_get_name(oc));
        if (name && strcmp(object_class_get_name(oc), name) == 0) {
            found = oc;
        }
    }
    g_slist_free(classes);
    if (!found) {
        g_autofree char *hint = name ? spec_suggest_hint(
            name, (const char *const *)names->pdata, names->len)
            : g_strdup("");
        g_autofree char *valid = spec_suggest_list(
            (const char *const *)names->pdata, names->len);

        g_autofree char *shown = quote_value(
            node->kind == SPEC_NODE_SCALAR ? node->scalar.text : "?");

        spec_diags_add(b->diags, &node->mark, "unknown %s type %s%s "
                       "(%s types: %s)", what, shown, hint, what, valid);
    }
    return found;
}

/* --- The tree ---------------------------------------------------------- */

static bool spec_version_ok(Builder *b, const SpecNode *root)
{
    SpecPair *pair = spec_node_map_get_pair(root, "vmspec");
    const SpecNode *v;
    int64_t version;

    if (!pair) {
        spec_diags_add(b->diags, &root->mark, "missing required key "
                       "'vmspec' (the spec format version: vmspec: %d)",
                       SPEC_FORMAT_VERSION);
        return false;
    }
    v = pair->value;
    if (v->kind != SPEC_NODE_SCALAR || spec_scalar_type(v) != SPEC_SCALAR_INT) {
        spec_diags_add(b->diags, &v->mark, "vmspec: expected the format "
                       "version, an integer (vmspec: %d)",
                       SPEC_FORMAT_VERSION);
        return false;
    }
    /* Read as an integer, in whatever notation YAML 1.2 allows (0x1). */
    if (!parse_int64(v->scalar.text, &version, NULL) ||
        version != SPEC_FORMAT_VERSION) {
        g_autofree char *shown = quote_value(v->scalar.text);

        spec_diags_add(b->diags, &v->mark, "vmspec: this vmspec understands "
                       "format %d; this spec is format %s",
                       SPEC_FORMAT_VERSION, shown);
        return false;
    }
    return true;
}

/* The device's own check of its keys together (DeviceClass.check), placed
 * at the key it names, else at the entry. */
static void check_device(Builder *b, DeviceState *dev, const SpecNode *entry,
                         const char *where)
{
    DeviceClass *dc = DEVICE_GET_CLASS(dev);
    g_autoptr(GError) err = NULL;
    const char *key = NULL;
    const SpecPair *pair;

    if (!dc->check || dc->check(dev, &key, &err)) {
        return;
    }
    pair = key ? spec_node_map_get_pair(entry, key) : NULL;
    spec_diags_add(b->diags, pair ? &pair->key_mark : &entry->mark, "%s: %s",
                   where, err->message);
}

/* Builds entry number index of list, whose entries are by default of type
 * default_type (NULL: none). */
static void build_device(Builder *b, Object *machine,
                         const SpecDeviceList *list, const char *default_type,
                         guint index, const SpecNode *entry, GHashTable *ids)
{
    g_autofree char *where = g_strdup_printf("%s[%u]", list->name, index);
    const SpecNode *type_node = spec_node_map_get(entry, "type");
    static const char *const skip[] = { "type", NULL };
    g_autoptr(Object) obj = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *origin = NULL;
    ObjectClass *oc;
    DeviceState *dev;
    const SpecMark *first;

    if (entry->kind != SPEC_NODE_MAP) {
        spec_diags_add(b->diags, &entry->mark, "%s: expected a map, not a %s",
                       where, spec_node_kind_name(entry->kind));
        return;
    }
    if (!type_node && !default_type) {
        spec_diags_add(b->diags, &entry->mark, "missing required key 'type' "
                       "in %s", where);
        return;
    }
    if (type_node) {
        oc = lookup_type(b, type_node, TYPE_DEVICE, "device", list->name);
    } else {
        oc = object_class_by_name(default_type);
    }
    if (!oc) {
        return;
    }
    obj = object_new(object_class_get_name(oc));
    dev = DEVICE(obj);
    spec_props_set(&b->props, obj, NULL, entry, skip, where);
    spec_props_check_required(&b->props, obj, NULL, entry, where);
    check_device(b, dev, entry, where);
    origin = spec_mark_to_origin(&entry->mark);
    device_set_origin(dev, origin);

    if (!dev->id) {
        g_autofree char *auto_id = g_strdup_printf(
            "%s%u", list->id_prefix ? list->id_prefix
                                    : object_class_get_name(oc), index);

        object_property_set_str(obj, "id", auto_id, NULL);
    }
    first = g_hash_table_lookup(ids, dev->id);
    if (first) {
        SpecPair *id_pair = spec_node_map_get_pair(entry, "id");

        spec_diags_add(b->diags, id_pair ? &id_pair->value->mark
                                         : &entry->mark,
                       "%s: duplicate id '%s' (first used at line %u)",
                       where, dev->id, first->line);
        return;
    }
    g_hash_table_insert(ids, g_strdup(dev->id), (gpointer)&entry->mark);
    if (!object_add_child(machine, dev->id, obj, &err)) {
        spec_diags_add(b->diags, &entry->mark, "%s: %s", where, err->message);
    }
}

static void build_devices(Builder *b, Object *machine, const SpecNode *root)
{
    g_autoptr(GHashTable) ids = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                      g_free, NULL);
    guint n;
    const SpecDeviceList *lists = spec_device_lists(&n);

    for (guint i = 0; i < n; i++) {
        SpecPair *pair = spec_node_map_get_pair(root, lists[i].name);
        const SpecNode *seq;
        const char *default_type;

        if (!pair || !(seq = expect_kind(b, pair, SPEC_NODE_SEQ))) {
            continue;
        }
        /* Once per list, not per entry: it walks the type registry. */
        default_type = spec_list_default_type(lists[i].name);
        for (guint j = 0; j < spec_node_seq_len(seq); j++) {
            build_device(b, machine, &lists[i], default_type, j,
                         spec_node_seq_get(seq, j), ids);
        }
    }
}

static Object *build_machine(Builder *b, const SpecNode *root)
{
    SpecPair *pair = spec_node_map_get_pair(root, "machine");
    static const char *const skip[] = { "type", NULL };
    const SpecNode *map, *type_node, *boot, *cpus;
    SpecPair *boot_pair;
    ObjectClass *oc;
    Object *machine;

    if (!pair) {
        spec_diags_add(b->diags, &root->mark,
                       "missing required key 'machine'");
        return NULL;
    }
    if (!(map = expect_kind(b, pair, SPEC_NODE_MAP))) {
        return NULL;
    }
    type_node = spec_node_map_get(map, "type");
    if (!type_node) {
        spec_diags_add(b->diags, &map->mark,
                       "missing required key 'type' in machine");
        return NULL;
    }
    oc = lookup_type(b, type_node, TYPE_MACHINE, "machine", NULL);
    if (!oc) {
        return NULL;
    }
    machine = object_new(object_class_get_name(oc));
    spec_props_set(&b->props, machine, NULL, map, skip, "machine");
    /* The base type's cpus range is what any machine takes; a machine
     * type may take fewer (the schema says the same). */
    cpus = spec_node_map_get(map, "cpus");
    if (cpus && MACHINE(machine)->cpus > MACHINE_CLASS(oc)->max_cpus) {
        spec_diags_add(b->diags, &cpus->mark, "cpus: %" G_GINT64_FORMAT
                       " is out of range: machine type '%s' has at most %"
                       G_GINT64_FORMAT " vCPUs", MACHINE(machine)->cpus,
                       object_class_get_name(oc),
                       MACHINE_CLASS(oc)->max_cpus);
    }

    boot_pair = spec_node_map_get_pair(root, "boot");
    if (!boot_pair) {
        spec_diags_add(b->diags, &root->mark, "missing required key 'boot' "
                       "(boot.kernel names the kernel to run)");
    } else if ((boot = expect_kind(b, boot_pair, SPEC_NODE_MAP))) {
        spec_props_set(&b->props, machine, "boot", boot, NULL, "boot");
        spec_props_check_required(&b->props, machine, "boot", boot, "boot");
    }
    return machine;
}

void spec_derive_mac(const char *vm_name, const char *nic_id, uint8_t mac[6])
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_autofree char *input = g_strdup_printf("%s/%s", vm_name, nic_id);
    guint8 digest[32];
    gsize len = sizeof(digest);

    g_checksum_update(sum, (const guchar *)input, strlen(input));
    g_checksum_get_digest(sum, digest, &len);
    memcpy(mac, digest, 6);
    /* IEEE 802: bit 1 of the first octet set = locally administered,
     * bit 0 clear = unicast. */
    mac[0] = (mac[0] & 0xfc) | 0x02;
}

static bool derive_device_macs(Object *dev, void *opaque)
{
    const char *vm_name = opaque;
    g_autoptr(GPtrArray) props = object_class_properties(dev->klass);

    for (guint i = 0; i < props->len; i++) {
        const Property *prop = props->pdata[i];
        MacAddr *mac;

        if (prop->kind != PROP_KIND_MAC) {
            continue;
        }
        mac = object_property_field(dev, prop);
        if (mac->is_auto) {
            spec_derive_mac(vm_name, DEVICE(dev)->id, mac->bytes);
            mac->is_auto = false;
        }
    }
    return true;
}

/* Two users of one host resource within the spec (claims.h); only for a
 * tree built without errors, which would leave it half made. */
static void check_claims(Builder *b, Vm *vm, const SpecNode *root)
{
    g_autoptr(HostClaims) claims = NULL;

    if (!builder_ok(b)) {
        return;
    }
    claims = host_claims_new();
    spec_collect_claims(vm, root, claims);
    spec_check_claims(claims, b->props.probes, b->diags);
}

static void resolve_console(Builder *b, Vm *vm, const SpecNode *root)
{
    const SpecNode *node = spec_node_map_get(root, "console");
    g_autofree char *path = NULL;

    if (!node || !vm->console || !g_str_has_prefix(vm->console, "file:")) {
        return;
    }
    path = spec_props_resolve_path(&b->props, &node->mark, vm->console + 5);
    g_free(vm->console);
    vm->console = g_strconcat("file:", path, NULL);
}

/* The built-in console UART (child "serial0", if the machine has one)
 * goes where the spec's top-level `console` says. */
static void wire_console(Builder *b, Vm *vm, Object *machine)
{
    Object *serial = object_get_child(machine, "serial0");
    g_autoptr(GError) err = NULL;

    if (serial && vm->console &&
        !object_property_set_str(serial, "console", vm->console, &err)) {
        spec_diags_add(b->diags, NULL, "%s", err->message);
    }
}

/* The resource assignment pass (machine/qom/resources.h), so that running
 * out of slots is an error of the spec, placed at the device's entry. */
static void assign_resources(Builder *b, Object *machine)
{
    g_autoptr(GError) err = NULL;

    if (builder_ok(b) &&
        !machine_assign_resources(MACHINE(machine), &err)) {
        spec_diags_add_code(b->diags, err->code, NULL, "%s", err->message);
    }
}

Vm *spec_build_vm(const SpecNode *root, const SpecLoadOptions *opts,
                  SpecDiags *diags)
{
    Builder b = {
        .props = {
            .diags = diags,
            .check_files = opts && opts->check_files,
            .probes = opts ? opts->probes : NULL,
        },
        .diags = diags, .errors_at_start = spec_diags_count(diags),
    };
    g_autoptr(GPtrArray) skip = top_level_skip();
    g_autoptr(Object) vm = NULL;
    Object *machine;
    Provision *provision;

    if (!spec_version_ok(&b, root)) {
        return NULL;
    }
    vm = object_new(TYPE_VM);
    spec_props_set(&b.props, vm, NULL, root,
                   (const char *const *)skip->pdata, "the spec");
    spec_props_check_required(&b.props, vm, NULL, root, "the spec");
    resolve_console(&b, VM(vm), root);
    provision = spec_provision_parse(root, &b.props, diags);

    machine = build_machine(&b, root);
    if (machine) {
        object_add_child(vm, "machine", machine, NULL);
        object_unref(machine);
        build_devices(&b, machine, root);
        /* A tree with errors is thrown away: no MAC to derive for it. */
        if (VM(vm)->name && builder_ok(&b)) {
            object_child_foreach(machine, derive_device_macs, VM(vm)->name);
        }
        /* After the devices (the seed looks for shares, NICs, vsock)
         * and before resources (its disk takes a slot) and claims. */
        if (provision && builder_ok(&b)) {
            spec_provision_attach(VM(vm), g_steal_pointer(&provision),
                                  diags);
        }
        check_claims(&b, VM(vm), root);
        wire_console(&b, VM(vm), machine);
        assign_resources(&b, machine);
    } else {
        /* Still report the devices' own errors. */
        g_autoptr(Object) scratch = object_new(TYPE_CONTAINER);

        build_devices(&b, scratch, root);
    }
    spec_props_clear(&b.props);
    provision_free(provision);
    if (!builder_ok(&b)) {
        return NULL;
    }
    return VM(g_steal_pointer(&vm));
}

Vm *spec_load_vm(const char *path, const SpecLoadOptions *opts,
                 SpecDiags *diags)
{
    g_autoptr(SpecNode) root = spec_load_file(path, diags);

    if (!root) {
        return NULL;
    }
    if (opts && opts->sets && !spec_apply_sets(root, opts->sets, -1, diags)) {
        return NULL;
    }
    return spec_build_vm(root, opts, diags);
}
