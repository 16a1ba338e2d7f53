/*
 * Spec -> object tree.  See loader.h for the mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/qom/device.h"
#include "machine/qom/error.h"
#include "machine/qom/machine.h"
#include "machine/qom/property.h"
#include "spec/loader.h"
#include "spec/merge.h"
#include "spec/scalar.h"
#include "spec/suggest.h"

/* The device lists of a spec, with the type an entry gets when it names
 * none, and the child-name prefix for entries without an id. */
static const struct {
    const char *name;
    const char *default_type;
    const char *id_prefix;
} spec_lists[] = {
    { "disks", "virtio-blk", "disk" },
    { "nics", "virtio-net", "net" },
    { "devices", NULL, NULL },
};

/* Top-level keys that are not properties of the vm object. */
static const char *const structural_keys[] = {
    "vmspec", "extends", "machine", "boot", "disks", "nics", "devices", NULL,
};

typedef struct {
    const SpecLoadOptions *opts;
    SpecDiags *diags;
    guint errors_at_start;
    /* The last spec file a path was resolved against, and its absolute
     * directory: finding it costs a getcwd() and stats. */
    char *dir_of_file;
    char *abs_dir;
} Builder;

static bool builder_ok(Builder *b)
{
    return spec_diags_count(b->diags) == b->errors_at_start;
}

/* --- Values ------------------------------------------------------------ */

static const char *expected_for(PropertyKind kind)
{
    switch (kind) {
    case PROP_KIND_INT:
        return "an integer";
    case PROP_KIND_BOOL:
        return "true or false";
    case PROP_KIND_SIZE:
        return "a size such as 512M or a number of bytes";
    case PROP_KIND_PATH:
        return "a path or {path, sha256}";
    default:
        return "a string";
    }
}

static bool scalar_fits(PropertyKind kind, SpecScalarType type)
{
    switch (kind) {
    case PROP_KIND_INT:
        return type == SPEC_SCALAR_INT;
    case PROP_KIND_BOOL:
        return type == SPEC_SCALAR_BOOL;
    case PROP_KIND_SIZE:
        return type == SPEC_SCALAR_INT || type == SPEC_SCALAR_STRING;
    default:
        return type == SPEC_SCALAR_STRING;
    }
}

/* Where a relative path in a value is resolved: the directory of the file
 * that wrote it; for --set options (line 0), the working directory. */
static char *resolve_path(Builder *b, const SpecMark *mark, const char *path)
{
    if (!mark->file || mark->line == 0) {
        return g_canonicalize_filename(path, NULL);
    }
    if (g_strcmp0(b->dir_of_file, mark->file) != 0) {
        g_autofree char *dir = g_path_get_dirname(mark->file);

        g_free(b->dir_of_file);
        g_free(b->abs_dir);
        b->dir_of_file = g_strdup(mark->file);
        b->abs_dir = g_canonicalize_filename(dir, NULL);
    }
    return g_canonicalize_filename(path, b->abs_dir);
}

static bool sha256_file(const char *path, char **hex, GError **errp)
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_autofree guchar *buf = g_malloc(1 << 16);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO, "cannot read %s: %s",
                    path, g_strerror(errno));
        return false;
    }
    while ((n = read(fd, buf, 1 << 16)) > 0) {
        g_checksum_update(sum, buf, n);
    }
    if (n < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO, "cannot read %s: %s",
                    path, g_strerror(errno));
        close(fd);
        return false;
    }
    close(fd);
    *hex = g_strdup(g_checksum_get_string(sum));
    return true;
}

static void check_file(Builder *b, const char *key, const char *path,
                       const char *pin, const SpecMark *mark,
                       const SpecMark *pin_mark)
{
    struct stat st;
    g_autofree char *actual = NULL;
    g_autoptr(GError) err = NULL;

    if (stat(path, &st) < 0) {
        spec_diags_add_code(b->diags, VMSPEC_ERROR_NOT_FOUND, mark,
                            "%s: %s: %s", key, path, g_strerror(errno));
        return;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        spec_diags_add(b->diags, mark, "%s: %s is not a regular file", key,
                       path);
        return;
    }
    if (!pin) {
        return;
    }
    if (!sha256_file(path, &actual, &err)) {
        spec_diags_add_code(b->diags, err->code, mark, "%s: %s", key,
                            err->message);
    } else if (strcmp(actual, pin) != 0) {
        spec_diags_add(b->diags, pin_mark, "%s: sha256 of %s is %s, not the "
                       "pinned %s", key, path, actual, pin);
    }
}

static bool expect_string(Builder *b, const char *key, const SpecNode *node)
{
    if (node->kind != SPEC_NODE_SCALAR) {
        spec_diags_add(b->diags, &node->mark, "%s: expected a string, not a "
                       "%s", key, spec_node_kind_name(node->kind));
        return false;
    }
    if (spec_scalar_type(node) != SPEC_SCALAR_STRING) {
        spec_diags_add(b->diags, &node->mark, "%s: expected a string, not "
                       "%s ('%s'); quote it to make it a string", key,
                       spec_scalar_type_name(spec_scalar_type(node)),
                       node->scalar.text);
        return false;
    }
    return true;
}

/* kernel: PATH  or  kernel: {path: PATH, sha256: HEX} */
static void set_path(Builder *b, Object *obj, const Property *prop,
                     const char *key, const SpecNode *node)
{
    const SpecNode *path_node = node, *pin_node = NULL;
    g_autofree char *resolved = NULL;
    g_autoptr(GError) err = NULL;
    const FilePath *fp;

    if (node->kind == SPEC_NODE_MAP) {
        static const char *const keys[] = { "path", "sha256", NULL };

        for (guint i = 0; i < spec_node_map_size(node); i++) {
            SpecPair *pair = spec_node_map_pair(node, i);

            if (!g_strv_contains(keys, pair->key)) {
                g_autofree char *hint = spec_suggest_hint(pair->key, keys, -1);

                spec_diags_add(b->diags, &pair->key_mark,
                               "unknown key '%s' in %s%s (valid keys: path, "
                               "sha256)", pair->key, key, hint);
            }
        }
        path_node = spec_node_map_get(node, "path");
        pin_node = spec_node_map_get(node, "sha256");
        if (!path_node) {
            spec_diags_add(b->diags, &node->mark,
                           "%s: missing required key 'path'", key);
            return;
        }
    }
    if (!expect_string(b, key, path_node) ||
        (pin_node && !expect_string(b, "sha256", pin_node))) {
        return;
    }
    resolved = path_node->scalar.text[0]
        ? resolve_path(b, &path_node->mark, path_node->scalar.text)
        : g_strdup("");
    if (!object_property_set_str(obj, prop->name, resolved, &err) ||
        (pin_node && !object_property_set_path_pin(obj, prop->name,
                                                   pin_node->scalar.text,
                                                   &err))) {
        spec_diags_add(b->diags, pin_node && *resolved ? &pin_node->mark
                                                       : &path_node->mark,
                       "%s: %s", key, err->message);
        return;
    }
    if (b->opts->check_files) {
        fp = object_property_field(obj, prop);
        check_file(b, key, fp->path, fp->sha256, &path_node->mark,
                   pin_node ? &pin_node->mark : &path_node->mark);
    }
}

static void set_property(Builder *b, Object *obj, const Property *prop,
                         const char *key, const SpecNode *node)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *text = NULL;
    SpecScalarType type;

    if (node->kind == SPEC_NODE_SCALAR && spec_node_is_null(node)) {
        spec_diags_add(b->diags, &node->mark, "%s: needs a value (%s)", key,
                       expected_for(prop->kind));
        return;
    }
    if (prop->kind == PROP_KIND_PATH) {
        set_path(b, obj, prop, key, node);
        return;
    }
    if (node->kind != SPEC_NODE_SCALAR) {
        spec_diags_add(b->diags, &node->mark, "%s: expected %s, not a %s",
                       key, expected_for(prop->kind),
                       spec_node_kind_name(node->kind));
        return;
    }
    type = spec_scalar_type(node);
    if (!scalar_fits(prop->kind, type)) {
        spec_diags_add(b->diags, &node->mark, "%s: expected %s, not %s "
                       "('%s')%s", key, expected_for(prop->kind),
                       spec_scalar_type_name(type), node->scalar.text,
                       prop->kind == PROP_KIND_INT ||
                       prop->kind == PROP_KIND_BOOL
                           ? "" : "; quote it to make it a string");
        return;
    }
    /* YAML's True/TRUE are the property's true. */
    text = type == SPEC_SCALAR_BOOL ? g_ascii_strdown(node->scalar.text, -1)
                                    : g_strdup(node->scalar.text);
    if (!object_property_set_str(obj, prop->name, text, &err)) {
        spec_diags_add(b->diags, &node->mark, "%s: %s", key, err->message);
    }
}

/* --- Maps of properties ------------------------------------------------ */

static void unknown_key(Builder *b, const SpecPair *pair, const char *where,
                        GPtrArray *valid)
{
    g_autofree char *hint = spec_suggest_hint(
        pair->key, (const char *const *)valid->pdata, valid->len);
    g_autofree char *list = spec_suggest_list(
        (const char *const *)valid->pdata, valid->len);

    spec_diags_add(b->diags, &pair->key_mark,
                   "unknown key '%s' in %s%s (valid keys: %s)", pair->key,
                   where, hint, list);
}

/*
 * Sets every key of map as a property of obj in group, except those in
 * skip.  where names the map in messages ("machine", "disks[0]").
 */
static void set_properties(Builder *b, Object *obj, const char *group,
                           const SpecNode *map, const char *const *skip,
                           const char *where)
{
    g_autoptr(GPtrArray) valid = object_class_property_names(obj->klass,
                                                             group);

    for (guint i = 0; skip && skip[i]; i++) {
        g_ptr_array_insert(valid, i, (gpointer)skip[i]);
    }
    for (guint i = 0; i < spec_node_map_size(map); i++) {
        SpecPair *pair = spec_node_map_pair(map, i);
        const Property *prop;

        if (skip && g_strv_contains(skip, pair->key)) {
            continue;
        }
        prop = object_class_find_property(obj->klass, pair->key);
        if (!prop || g_strcmp0(prop->group, group) != 0) {
            unknown_key(b, pair, where, valid);
            continue;
        }
        set_property(b, obj, prop, pair->key, pair->value);
    }
}

typedef struct {
    Builder *b;
    Object *obj;
    const char *group;
    const SpecNode *map;
    const char *where;
} RequiredCheck;

static void report_missing(const Property *prop, ObjectClass *owner,
                           void *opaque)
{
    RequiredCheck *c = opaque;

    /* A key that is present but was rejected has its own error. */
    if (prop->required && g_strcmp0(prop->group, c->group) == 0 &&
        !object_property_is_set(c->obj, prop) &&
        !spec_node_map_get(c->map, prop->name)) {
        spec_diags_add(c->b->diags, &c->map->mark,
                       "missing required key '%s' in %s", prop->name,
                       c->where);
    }
}

static void check_required(Builder *b, Object *obj, const char *group,
                           const SpecNode *map, const char *where)
{
    RequiredCheck c = { b, obj, group, map, where };

    object_class_foreach_property(obj->klass, report_missing, &c);
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
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    GSList *classes = object_class_get_list(base, false);
    ObjectClass *found = NULL;
    const char *name = node->kind == SPEC_NODE_SCALAR &&
        spec_scalar_type(node) == SPEC_SCALAR_STRING ? node->scalar.text
                                                     : NULL;

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

        spec_diags_add(b->diags, &node->mark, "unknown %s type '%s'%s "
                       "(%s types: %s)", what,
                       node->kind == SPEC_NODE_SCALAR ? node->scalar.text
                                                      : "?",
                       hint, what, valid);
    }
    return found;
}

/* --- The tree ---------------------------------------------------------- */

static bool spec_version_ok(Builder *b, const SpecNode *root)
{
    SpecPair *pair = spec_node_map_get_pair(root, "vmspec");
    const SpecNode *v;

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
    if (strcmp(v->scalar.text, "1") != 0) {
        spec_diags_add(b->diags, &v->mark, "vmspec: this vmspec understands "
                       "format %d; this spec is format %s",
                       SPEC_FORMAT_VERSION, v->scalar.text);
        return false;
    }
    return true;
}

static char *format_origin(const SpecMark *mark)
{
    return g_strdup_printf("%s:%u:%u", mark->file ? mark->file : "?",
                           mark->line, mark->column);
}

static void build_device(Builder *b, Object *machine, const char *list,
                         guint index, const SpecNode *entry,
                         GHashTable *ids)
{
    g_autofree char *where = g_strdup_printf("%s[%u]", list, index);
    const SpecNode *type_node = spec_node_map_get(entry, "type");
    const char *default_type = NULL, *prefix = NULL;
    static const char *const skip[] = { "type", NULL };
    g_autoptr(Object) obj = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *origin = NULL;
    ObjectClass *oc;
    DeviceState *dev;
    const SpecMark *first;

    for (size_t i = 0; i < G_N_ELEMENTS(spec_lists); i++) {
        if (strcmp(spec_lists[i].name, list) == 0) {
            default_type = spec_lists[i].default_type;
            prefix = spec_lists[i].id_prefix;
        }
    }
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
        oc = lookup_type(b, type_node, TYPE_DEVICE, "device", list);
    } else {
        oc = object_class_by_name(default_type);
    }
    if (!oc) {
        return;
    }
    obj = object_new(object_class_get_name(oc));
    dev = DEVICE(obj);
    set_properties(b, obj, NULL, entry, skip, where);
    check_required(b, obj, NULL, entry, where);
    origin = format_origin(&entry->mark);
    device_set_origin(dev, origin);

    if (!dev->id) {
        g_autofree char *auto_id = g_strdup_printf(
            "%s%u", prefix ? prefix : object_class_get_name(oc), index);

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

    for (size_t i = 0; i < G_N_ELEMENTS(spec_lists); i++) {
        SpecPair *pair = spec_node_map_get_pair(root, spec_lists[i].name);
        const SpecNode *seq;

        if (!pair || !(seq = expect_kind(b, pair, SPEC_NODE_SEQ))) {
            continue;
        }
        for (guint j = 0; j < spec_node_seq_len(seq); j++) {
            build_device(b, machine, spec_lists[i].name, j,
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
    set_properties(b, machine, NULL, map, skip, "machine");
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
        set_properties(b, machine, "boot", boot, NULL, "boot");
        check_required(b, machine, "boot", boot, "boot");
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

typedef struct {
    Object *dev;
    const char *vm_name;
} MacDerivation;

static void derive_mac_property(const Property *prop, ObjectClass *owner,
                                void *opaque)
{
    MacDerivation *d = opaque;
    MacAddr *mac;

    if (prop->kind != PROP_KIND_MAC) {
        return;
    }
    mac = object_property_field(d->dev, prop);
    if (mac->is_auto) {
        spec_derive_mac(d->vm_name, DEVICE(d->dev)->id, mac->bytes);
        mac->is_auto = false;
    }
}

static bool derive_device_macs(Object *dev, void *opaque)
{
    MacDerivation d = { dev, opaque };

    object_class_foreach_property(dev->klass, derive_mac_property, &d);
    return true;
}

static void resolve_console(Builder *b, Vm *vm, const SpecNode *root)
{
    const SpecNode *node = spec_node_map_get(root, "console");
    g_autofree char *path = NULL;

    if (!node || !vm->console || !g_str_has_prefix(vm->console, "file:")) {
        return;
    }
    path = resolve_path(b, &node->mark, vm->console + 5);
    g_free(vm->console);
    vm->console = g_strconcat("file:", path, NULL);
}

Vm *spec_build_vm(const SpecNode *root, const SpecLoadOptions *opts,
                  SpecDiags *diags)
{
    static const SpecLoadOptions no_opts;
    Builder b = { .opts = opts ? opts : &no_opts, .diags = diags,
                  .errors_at_start = spec_diags_count(diags) };
    g_autoptr(Object) vm = NULL;
    Object *machine;

    if (!spec_version_ok(&b, root)) {
        return NULL;
    }
    vm = object_new(TYPE_VM);
    set_properties(&b, vm, NULL, root, structural_keys, "the spec");
    check_required(&b, vm, NULL, root, "the spec");
    resolve_console(&b, VM(vm), root);

    machine = build_machine(&b, root);
    if (machine) {
        object_add_child(vm, "machine", machine, NULL);
        object_unref(machine);
        build_devices(&b, machine, root);
        if (VM(vm)->name) {
            object_child_foreach(machine, derive_device_macs, VM(vm)->name);
        }
    } else {
        /* Still report the devices' own errors. */
        g_autoptr(Object) scratch = object_new(TYPE_CONTAINER);

        build_devices(&b, scratch, root);
    }
    g_free(b.dir_of_file);
    g_free(b.abs_dir);
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
