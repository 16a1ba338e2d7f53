/*
 * Spec values -> object properties (see props.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/qom/device.h"
#include "machine/qom/error.h"
#include "machine/qom/host-claims.h"
#include "machine/qom/property.h"
#include "spec/file-probes.h"
#include "spec/props.h"
#include "spec/readfile.h"
#include "spec/scalar.h"
#include "spec/suggest.h"

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
    case PROP_KIND_STRV:
        return "a list of strings";
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
char *spec_props_resolve_path(SpecProps *p, const SpecMark *mark,
                              const char *path)
{
    if (!mark->file || mark->line == 0) {
        return g_canonicalize_filename(path, NULL);
    }
    if (g_strcmp0(p->dir_of_file, mark->file) != 0) {
        g_autofree char *dir = spec_path_dir(mark->file);

        g_free(p->dir_of_file);
        g_free(p->abs_dir);
        p->dir_of_file = g_strdup(mark->file);
        p->abs_dir = g_canonicalize_filename(dir, NULL);
    }
    return g_canonicalize_filename(path, p->abs_dir);
}

/* A path property set from the map being set, its file checked once
 * every key of the map is: whether the file is written may depend on a
 * key after it (a disk's readonly). */
typedef struct {
    const char *key;
    const Property *prop;
    const SpecMark *mark;       /* the path's */
    const SpecMark *pin_mark;   /* the sha256 pin's, or the path's */
} FileCheck;

/* How obj uses the file at path, as its own host claims say: a device
 * that claims it keeps it open as its backing store (a disk image, where
 * a block device does as well as a file) and may write it.  The machine's
 * files (boot.kernel, boot.initrd) are read whole: regular files only. */
static void file_use(Object *obj, const char *path, bool *backing,
                     bool *writes)
{
    DeviceState *dev = (DeviceState *)object_dynamic_cast(obj, TYPE_DEVICE);
    g_autoptr(HostClaims) claims = NULL;

    *backing = *writes = false;
    if (!dev || !DEVICE_GET_CLASS(dev)->host_claims) {
        return;
    }
    claims = host_claims_new();
    DEVICE_GET_CLASS(dev)->host_claims(dev, claims);
    for (guint i = 0; i < host_claims_len(claims); i++) {
        const HostClaim *c = host_claims_get(claims, i);

        if (c->kind == HOST_CLAIM_FILE && strcmp(c->value, path) == 0) {
            *backing = true;
            *writes = *writes || c->writes;
        }
    }
}

/* A directory property's: a directory the user can list and enter; a
 * tree cannot be pinned by one hash. */
static void check_directory(SpecProps *p, const FileCheck *fc,
                            const char *path, const struct stat *st,
                            bool pinned)
{
    int errnum;

    if (!S_ISDIR(st->st_mode)) {
        spec_diags_add(p->diags, fc->mark, "%s: %s is not a directory",
                       fc->key, path);
    } else if ((errnum = spec_file_probe_access(p->probes, path,
                                                R_OK | X_OK)) != 0) {
        spec_diags_add_code(p->diags, VMSPEC_ERROR_IO, fc->mark,
                            "%s: cannot read directory %s: %s", fc->key,
                            path, g_strerror(errnum));
    } else if (pinned) {
        spec_diags_add(p->diags, fc->pin_mark, "%s: a directory cannot be "
                       "pinned with sha256", fc->key);
    }
}

/* The file is there, of the kind its user opens, readable (and writable,
 * for a disk the guest writes) by whoever runs this, and matches its pin.
 * access(2) asks with the real IDs: those of the user who runs vmspec. */
static void check_file(SpecProps *p, Object *obj, const FileCheck *fc)
{
    const FilePath *fp = object_property_field(obj, fc->prop);
    const char *key = fc->key, *path = fp->path;
    g_autofree char *actual = NULL;
    g_autoptr(GError) err = NULL;
    bool backing, writes;
    struct stat st;
    int errnum;

    if (!path || !*path) {
        return;
    }
    file_use(obj, path, &backing, &writes);
    if ((errnum = spec_file_probe_stat(p->probes, path, &st)) != 0) {
        spec_diags_add_code(p->diags, VMSPEC_ERROR_NOT_FOUND, fc->mark,
                            "%s: %s: %s", key, path, g_strerror(errnum));
        return;
    }
    if (fc->prop->directory) {
        check_directory(p, fc, path, &st, fp->sha256 != NULL);
        return;
    }
    if (!S_ISREG(st.st_mode) && !(backing && S_ISBLK(st.st_mode))) {
        spec_diags_add(p->diags, fc->mark, "%s: %s is not a regular file%s",
                       key, path, backing ? " or block device" : "");
        return;
    }
    if ((errnum = spec_file_probe_access(p->probes, path, R_OK)) != 0) {
        spec_diags_add_code(p->diags, VMSPEC_ERROR_IO, fc->mark,
                            "%s: cannot read %s: %s", key, path,
                            g_strerror(errnum));
        return;
    }
    if (writes &&
        (errnum = spec_file_probe_access(p->probes, path, R_OK | W_OK))) {
        spec_diags_add_code(p->diags, VMSPEC_ERROR_IO, fc->mark,
                            "%s: cannot write %s (the guest may write "
                            "it): %s", key, path, g_strerror(errnum));
        return;
    }
    if (!fp->sha256) {
        return;
    }
    if (!(actual = spec_file_probe_sha256(p->probes, path, backing, &err))) {
        spec_diags_add_code(p->diags, err->code, fc->mark, "%s: %s", key,
                            err->message);
    } else if (strcmp(actual, fp->sha256) != 0) {
        spec_diags_add(p->diags, fc->pin_mark, "%s: sha256 of %s is %s, not "
                       "the pinned %s", key, path, actual, fp->sha256);
    }
}

static bool expect_string(SpecProps *p, const char *key, const SpecNode *node)
{
    if (node->kind != SPEC_NODE_SCALAR) {
        spec_diags_add(p->diags, &node->mark, "%s: expected a string, not a "
                       "%s", key, spec_node_kind_name(node->kind));
        return false;
    }
    if (spec_scalar_type(node) != SPEC_SCALAR_STRING) {
        g_autofree char *value = quote_value(node->scalar.text);

        spec_diags_add(p->diags, &node->mark, "%s: expected a string, not "
                       "%s (%s); quote it to make it a string", key,
                       spec_scalar_type_name(spec_scalar_type(node)), value);
        return false;
    }
    return true;
}

/* kernel: PATH  or  kernel: {path: PATH, sha256: HEX} */
static void set_path(SpecProps *p, Object *obj, const Property *prop,
                     const char *key, const SpecNode *node, GArray *checks)
{
    const SpecNode *path_node = node, *pin_node = NULL;
    g_autofree char *resolved = NULL;
    g_autoptr(GError) err = NULL;

    if (node->kind == SPEC_NODE_MAP) {
        static const char *const keys[] = { "path", "sha256", NULL };

        for (guint i = 0; i < spec_node_map_size(node); i++) {
            SpecPair *pair = spec_node_map_pair(node, i);

            if (!g_strv_contains(keys, pair->key)) {
                g_autofree char *hint = spec_suggest_hint(pair->key, keys, -1);
                g_autofree char *name = quote_value(pair->key);

                spec_diags_add(p->diags, &pair->key_mark,
                               "unknown key %s in %s%s (valid keys: path, "
                               "sha256)", name, key, hint);
            }
        }
        path_node = spec_node_map_get(node, "path");
        pin_node = spec_node_map_get(node, "sha256");
        if (!path_node) {
            spec_diags_add(p->diags, &node->mark,
                           "%s: missing required key 'path'", key);
            return;
        }
    }
    if (!expect_string(p, key, path_node) ||
        (pin_node && !expect_string(p, "sha256", pin_node))) {
        return;
    }
    resolved = path_node->scalar.text[0]
        ? spec_props_resolve_path(p, &path_node->mark, path_node->scalar.text)
        : g_strdup("");
    if (!object_property_set_str(obj, prop->name, resolved, &err) ||
        (pin_node && !object_property_set_path_pin(obj, prop->name,
                                                   pin_node->scalar.text,
                                                   &err))) {
        spec_diags_add(p->diags, pin_node && *resolved ? &pin_node->mark
                                                       : &path_node->mark,
                       "%s: %s", key, err->message);
        return;
    }
    if (p->check_files) {
        FileCheck fc = {
            key, prop, &path_node->mark,
            pin_node ? &pin_node->mark : &path_node->mark,
        };

        g_array_append_val(checks, fc);
    }
}

/* forward: [ITEM, ...]  or one `- ITEM` per line: a YAML sequence of
 * string scalars, each checked at its own position ("forward[1]: ...");
 * the property is set only when every item is good. */
static void set_strv(SpecProps *p, Object *obj, const Property *prop,
                     const char *key, const SpecNode *node)
{
    g_autoptr(GPtrArray) items = NULL;
    g_autoptr(GError) err = NULL;
    bool ok = true;

    if (node->kind == SPEC_NODE_SCALAR && node->mark.line == 0) {
        /* A --set value is one scalar: it can replace one item
         * (KEY.#N=VALUE), never the list. */
        spec_diags_add(p->diags, &node->mark, "%s: a list can't be set "
                       "with --set (its value is one scalar); write it in "
                       "the spec, or replace item N with --set "
                       "'PATH.#N=VALUE'", key);
        return;
    }
    if (node->kind == SPEC_NODE_SCALAR) {
        g_autofree char *value = quote_value(node->scalar.text);

        spec_diags_add(p->diags, &node->mark, "%s: expected a list of "
                       "strings, not %s (%s); a list is [A, B] or one "
                       "'- ITEM' line each", key,
                       spec_scalar_type_name(spec_scalar_type(node)), value);
        return;
    }
    if (node->kind != SPEC_NODE_SEQ) {
        spec_diags_add(p->diags, &node->mark, "%s: expected a list of "
                       "strings, not a %s", key,
                       spec_node_kind_name(node->kind));
        return;
    }
    items = g_ptr_array_new();
    for (guint i = 0; i < node->seq->len; i++) {
        const SpecNode *item = g_ptr_array_index(node->seq, i);
        g_autofree char *where = g_strdup_printf("%s[%u]", key, i);
        g_autoptr(GError) item_err = NULL;

        if (!expect_string(p, where, item)) {
            ok = false;
        } else if (prop->check && !prop->check(item->scalar.text,
                                               &item_err)) {
            spec_diags_add(p->diags, &item->mark, "%s: %s", where,
                           item_err->message);
            ok = false;
        } else {
            g_ptr_array_add(items, item->scalar.text);
        }
    }
    if (!ok) {
        return;
    }
    g_ptr_array_add(items, NULL);
    if (!object_property_set_strv(obj, prop->name,
                                  (const char *const *)items->pdata, &err)) {
        spec_diags_add(p->diags, &node->mark, "%s: %s", key, err->message);
    }
}

static void set_property(SpecProps *p, Object *obj, const Property *prop,
                         const char *key, const SpecNode *node,
                         GArray *checks)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *text = NULL;
    SpecScalarType type;

    if (node->kind == SPEC_NODE_SCALAR && spec_node_is_null(node)) {
        spec_diags_add(p->diags, &node->mark, "%s: needs a value (%s)", key,
                       expected_for(prop->kind));
        return;
    }
    if (prop->kind == PROP_KIND_PATH) {
        set_path(p, obj, prop, key, node, checks);
        return;
    }
    if (prop->kind == PROP_KIND_STRV) {
        set_strv(p, obj, prop, key, node);
        return;
    }
    if (node->kind != SPEC_NODE_SCALAR) {
        spec_diags_add(p->diags, &node->mark, "%s: expected %s, not a %s",
                       key, expected_for(prop->kind),
                       spec_node_kind_name(node->kind));
        return;
    }
    type = spec_scalar_type(node);
    if (!scalar_fits(prop->kind, type)) {
        g_autofree char *value = quote_value(node->scalar.text);

        spec_diags_add(p->diags, &node->mark, "%s: expected %s, not %s "
                       "(%s)%s", key, expected_for(prop->kind),
                       spec_scalar_type_name(type), value,
                       prop->kind == PROP_KIND_INT ||
                       prop->kind == PROP_KIND_BOOL
                           ? "" : "; quote it to make it a string");
        return;
    }
    /* YAML's True/TRUE are the property's true. */
    text = type == SPEC_SCALAR_BOOL ? g_ascii_strdown(node->scalar.text, -1)
                                    : g_strdup(node->scalar.text);
    if (!object_property_set_str(obj, prop->name, text, &err)) {
        spec_diags_add(p->diags, &node->mark, "%s: %s", key, err->message);
    }
}

/* --- Maps of properties ------------------------------------------------ */

static void unknown_key(SpecProps *p, const SpecPair *pair, const char *where,
                        GPtrArray *valid)
{
    g_autofree char *hint = spec_suggest_hint(
        pair->key, (const char *const *)valid->pdata, valid->len);
    g_autofree char *list = spec_suggest_list(
        (const char *const *)valid->pdata, valid->len);
    g_autofree char *name = quote_value(pair->key);

    spec_diags_add(p->diags, &pair->key_mark,
                   "unknown key %s in %s%s (valid keys: %s)", name,
                   where, hint, list);
}

/*
 * Sets every key of map as a property of obj in group, except those in
 * skip.  where names the map in messages ("machine", "disks[0]").
 */
void spec_props_set(SpecProps *p, Object *obj, const char *group,
                    const SpecNode *map, const char *const *skip,
                    const char *where)
{
    g_autoptr(GPtrArray) valid = object_class_property_names(obj->klass,
                                                             group);
    g_autoptr(GArray) checks = g_array_new(FALSE, FALSE, sizeof(FileCheck));

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
            unknown_key(p, pair, where, valid);
            continue;
        }
        set_property(p, obj, prop, pair->key, pair->value, checks);
    }
    for (guint i = 0; i < checks->len; i++) {
        check_file(p, obj, &g_array_index(checks, FileCheck, i));
    }
}

typedef struct {
    SpecProps *p;
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
        spec_diags_add(c->p->diags, &c->map->mark,
                       "missing required key '%s' in %s", prop->name,
                       c->where);
    }
}

void spec_props_check_required(SpecProps *p, Object *obj, const char *group,
                               const SpecNode *map, const char *where)
{
    RequiredCheck c = { p, obj, group, map, where };

    object_class_foreach_property(obj->klass, report_missing, &c);
}

void spec_props_clear(SpecProps *p)
{
    g_clear_pointer(&p->dir_of_file, g_free);
    g_clear_pointer(&p->abs_dir, g_free);
}
