/*
 * JSON Schema (draft 2020-12) for specs, generated from the type registry,
 * so that editors (yaml-language-server) complete keys and flag typos with
 * the same rules the loader applies.
 *
 * Shape: the top level, `machine`, `boot` and each list entry are closed
 * objects (additionalProperties: false).  `machine` and list entries are
 * dispatched on `type` with if/then, one branch per registered type; an
 * object that names no type (and has no default one) gets a branch with
 * every key some type takes, as a spec with `extends:` may leave the type
 * to its base.  Required keys are enforced only for specs without
 * `extends:`, since a spec that extends a base may leave anything to the
 * base.
 *
 * For yaml-language-server (1.25) as much as for validators: the root has
 * no `title` (the server shows the closest title above every hovered key,
 * and offers it as a completion that inserts the required keys), the
 * required-keys overlay marks its properties `doNotSuggest` (else each key
 * is offered twice), sizes carry `errorMessage` and `patternErrorMessage`
 * (what the server says instead of "Incorrect type"), and closed objects
 * refuse the merge key `<<` through propertyNames.  Validators ignore the
 * server's own keywords (JSON Schema Core 2020-12, 6.5).
 */
#include <string.h>

#include "machine/qom/device.h"
#include "machine/qom/machine.h"
#include "machine/qom/property.h"
#include "machine/qom/vm.h"
#include "spec/json.h"
#include "spec/lists.h"
#include "spec/loader.h"
#include "spec/provision.h"
#include "spec/schema.h"

static void emit_default(JsonWriter *w, const Property *prop)
{
    g_autofree char *def = property_default_str(prop);

    if (!def || prop->required) {
        return;
    }
    json_key(w, "default");
    switch (prop->kind) {
    case PROP_KIND_INT:
        json_int(w, prop->def_int);
        break;
    case PROP_KIND_BOOL:
        json_bool(w, prop->def_int);
        break;
    case PROP_KIND_STRV:
        json_begin_array(w);    /* a list is empty by default */
        json_end_array(w);
        break;
    default:
        json_string(w, def);
    }
}

/* What a size is, in the words of parse_size() (machine/qom/property.c),
 * and its text form (a YAML string): a YAML 1.2 core integer (10.3.2;
 * "-0" is one too), or decimal digits with a K, M, G, T or P suffix in
 * either case, optionally followed by B or iB in any case.  The integer
 * form is the schema's "integer". */
#define SIZE_PATTERN "^(\\+?[0-9]+|-0+|0o[0-7]+|0x[0-9a-fA-F]+" \
    "|[0-9]+[KMGTPkmgtp]([Bb]|[Ii][Bb])?)$"
#define SIZE_MESSAGE "Expected a size: a number of bytes, or a number " \
    "with a K, M, G, T or P suffix (512M, 2G)"

/* Closes the object being written: no keys but its properties, and no
 * YAML merge key.  yaml-language-server merges `<<` before it looks at
 * properties, but not before propertyNames; the loader refuses it. */
static void emit_closed(JsonWriter *w)
{
    json_member_bool(w, "additionalProperties", false);
    json_key(w, "propertyNames");
    json_begin_object(w);
    json_member_string(w, "$ref", "#/$defs/key");
    json_end_object(w);
}

int64_t spec_property_max(ObjectClass *oc, const Property *prop)
{
    ObjectClass *machine = object_class_dynamic_cast(oc, TYPE_MACHINE);

    if (machine && strcmp(prop->name, "cpus") == 0) {
        return MIN(prop->max, MACHINE_CLASS(machine)->max_cpus);
    }
    return prop->max;
}

static void emit_property(JsonWriter *w, ObjectClass *oc,
                          const Property *prop)
{
    json_key(w, prop->name);
    json_begin_object(w);
    json_member_string(w, "description", prop->description);
    switch (prop->kind) {
    case PROP_KIND_INT:
        json_member_string(w, "type", "integer");
        json_member_int(w, "minimum", prop->min);
        json_member_int(w, "maximum", spec_property_max(oc, prop));
        break;
    case PROP_KIND_BOOL:
        json_member_string(w, "type", "boolean");
        break;
    case PROP_KIND_STRING:
        json_member_string(w, "type", "string");
        if (prop->format) {
            json_member_string(w, "pattern", prop->format);
        }
        break;
    case PROP_KIND_SIZE:
        /* The bounds apply to the integer form only (a numeric keyword
         * passes a string); `check` bounds the suffixed one too. */
        json_member_string(w, "$ref", "#/$defs/size");
        json_key(w, "minimum");
        json_uint(w, prop->size_min);
        json_key(w, "maximum");
        json_uint(w, prop->size_max);
        break;
    case PROP_KIND_ENUM:
        json_key(w, "enum");
        json_begin_array(w);
        for (int i = 0; prop->enum_names[i]; i++) {
            json_string(w, prop->enum_names[i]);
        }
        json_end_array(w);
        break;
    case PROP_KIND_PATH:
        json_member_string(w, "$ref", "#/$defs/path");
        break;
    case PROP_KIND_MAC:
        json_member_string(w, "$ref", "#/$defs/mac");
        break;
    case PROP_KIND_STRV:
        json_member_string(w, "type", "array");
        json_key(w, "items");
        json_begin_object(w);
        json_member_string(w, "type", "string");
        if (prop->format) {
            json_member_string(w, "pattern", prop->format);
        }
        json_end_object(w);
        break;
    }
    emit_default(w, prop);
    json_end_object(w);
}

typedef struct {
    JsonWriter *w;
    ObjectClass *oc;        /* whose ranges; NULL: each declaring class's */
    const char *group;
    bool required_only;
    GHashTable *seen;       /* for a union: the names written so far */
} PropEmitter;

static void emit_one(const Property *prop, ObjectClass *owner, void *opaque)
{
    PropEmitter *e = opaque;

    if (g_strcmp0(prop->group, e->group) != 0) {
        return;
    }
    if (e->seen && !g_hash_table_add(e->seen, (gpointer)prop->name)) {
        return;
    }
    if (e->required_only) {
        if (prop->required) {
            json_string(e->w, prop->name);
        }
    } else {
        emit_property(e->w, e->oc ? e->oc : owner, prop);
    }
}

static void emit_properties(JsonWriter *w, ObjectClass *oc,
                            const char *group)
{
    PropEmitter e = { w, oc, group, false, NULL };

    object_class_foreach_property(oc, emit_one, &e);
}

/* "required": the extra keys (NULL-terminated, or NULL), then the
 * required properties of oc in group. */
static void emit_required(JsonWriter *w, ObjectClass *oc, const char *group,
                          const char *const *extra)
{
    PropEmitter e = { w, oc, group, true, NULL };

    json_key(w, "required");
    json_begin_array(w);
    for (; extra && *extra; extra++) {
        json_string(w, *extra);
    }
    object_class_foreach_property(oc, emit_one, &e);
    json_end_array(w);
}

static void emit_required_type(JsonWriter *w)
{
    json_key(w, "required");
    json_begin_array(w);
    json_string(w, "type");
    json_end_array(w);
}

/* The classes for machine (list NULL) or for one device list. */
static GPtrArray *classes_for(const char *list)
{
    GSList *all = object_class_get_list(list ? TYPE_DEVICE : TYPE_MACHINE,
                                        false);
    GPtrArray *out = g_ptr_array_new();

    for (GSList *l = all; l; l = l->next) {
        if (!list || g_strcmp0(DEVICE_CLASS(l->data)->spec_list, list) == 0) {
            g_ptr_array_add(out, l->data);
        }
    }
    g_slist_free(all);
    return out;
}

/* "if" of a type branch; an entry without `type` gets default_type. */
static void emit_type_condition(JsonWriter *w, const char *name,
                                const char *default_type)
{
    json_key(w, "if");
    json_begin_object(w);
    json_key(w, "properties");
    json_begin_object(w);
    json_key(w, "type");
    json_begin_object(w);
    json_member_string(w, "const", name);
    json_end_object(w);
    json_end_object(w);
    if (g_strcmp0(name, default_type) != 0) {
        emit_required_type(w);
    }
    json_end_object(w);
}

/* The "then" of a type branch: exactly the keys of oc, and `type`. */
static void emit_type_keys(JsonWriter *w, ObjectClass *oc)
{
    json_key(w, "then");
    json_begin_object(w);
    json_key(w, "properties");
    json_begin_object(w);
    json_key(w, "type");
    json_begin_object(w);
    json_end_object(w);
    emit_properties(w, oc, NULL);
    json_end_object(w);
    emit_closed(w);
    json_end_object(w);
}

/*
 * The branch for an object that names no type and has no default one.
 * With `extends:` the type may come from the base (spec/merge.c merges
 * before the loader looks it up), so the keys are those of every type,
 * each with the range of the class that declares it: the widest, as a
 * type only narrows (spec_property_max).  `vmspec check` applies the
 * merged type's own range.
 */
static void emit_untyped_branch(JsonWriter *w, GPtrArray *classes)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    PropEmitter e = { w, NULL, NULL, false, seen };

    json_begin_object(w);
    json_key(w, "if");
    json_begin_object(w);
    json_key(w, "not");
    json_begin_object(w);
    emit_required_type(w);
    json_end_object(w);
    json_end_object(w);
    json_key(w, "then");
    json_begin_object(w);
    json_key(w, "properties");
    json_begin_object(w);
    for (guint i = 0; i < classes->len; i++) {
        object_class_foreach_property(classes->pdata[i], emit_one, &e);
    }
    json_end_object(w);
    emit_closed(w);
    json_end_object(w);
    json_end_object(w);
}

/*
 * A typed object (machine, or an entry of a device list): `type` from the
 * registered names, then one if/then branch per type, and one for no type
 * where there is no default.
 */
static void emit_typed_object(JsonWriter *w, const char *list,
                              const char *default_type)
{
    g_autoptr(GPtrArray) classes = classes_for(list);

    json_begin_object(w);
    json_member_string(w, "type", "object");
    json_key(w, "properties");
    json_begin_object(w);
    json_key(w, "type");
    json_begin_object(w);
    json_member_string(w, "description", "The type, from `vmspec types`");
    json_key(w, "enum");
    json_begin_array(w);
    for (guint i = 0; i < classes->len; i++) {
        json_string(w, object_class_get_name(classes->pdata[i]));
    }
    json_end_array(w);
    json_end_object(w);
    json_end_object(w);
    json_key(w, "allOf");
    json_begin_array(w);
    for (guint i = 0; i < classes->len; i++) {
        json_begin_object(w);
        emit_type_condition(w, object_class_get_name(classes->pdata[i]),
                            default_type);
        emit_type_keys(w, classes->pdata[i]);
        json_end_object(w);
    }
    if (!default_type) {
        emit_untyped_branch(w, classes);
    }
    json_end_array(w);
    json_end_object(w);
}

/* The members that require the keys of a typed object (into an open
 * object): `type` unless there is a default, and each type's own. */
static void emit_typed_object_required(JsonWriter *w, const char *list,
                                       const char *default_type)
{
    g_autoptr(GPtrArray) classes = classes_for(list);

    if (!default_type) {
        emit_required_type(w);
    }
    json_key(w, "allOf");
    json_begin_array(w);
    for (guint i = 0; i < classes->len; i++) {
        ObjectClass *oc = classes->pdata[i];

        json_begin_object(w);
        emit_type_condition(w, object_class_get_name(oc), default_type);
        json_key(w, "then");
        json_begin_object(w);
        emit_required(w, oc, NULL, NULL);
        json_end_object(w);
        json_end_object(w);
    }
    json_end_array(w);
}

/* {"type": TYPE, BOUND: LIMIT}: a scalar with one bound, the plainest of
 * the $defs alternatives. */
static void emit_bounded_type(JsonWriter *w, const char *type,
                              const char *bound, int64_t limit)
{
    json_begin_object(w);
    json_member_string(w, "type", type);
    json_member_int(w, bound, limit);
    json_end_object(w);
}

/* A $defs entry that takes any of several forms: NAME: {"anyOf": [ ...
 * the caller writes each form, then end_any_of_def closes the entry. */
static void begin_any_of_def(JsonWriter *w, const char *name)
{
    json_key(w, name);
    json_begin_object(w);
    json_key(w, "anyOf");
    json_begin_array(w);
}

static void end_any_of_def(JsonWriter *w)
{
    json_end_array(w);
    json_end_object(w);
}

static void emit_defs(JsonWriter *w)
{
    json_key(w, "$defs");
    json_begin_object(w);

    /* Each form says what a size is when the value fits neither: the
     * server reports the form it found closest. */
    begin_any_of_def(w, "size");
    json_begin_object(w);
    json_member_string(w, "type", "integer");
    json_member_int(w, "minimum", 0);
    json_member_string(w, "errorMessage", SIZE_MESSAGE);
    json_end_object(w);
    json_begin_object(w);
    json_member_string(w, "type", "string");
    json_member_string(w, "pattern", SIZE_PATTERN);
    json_member_string(w, "errorMessage", SIZE_MESSAGE);
    json_member_string(w, "patternErrorMessage", SIZE_MESSAGE);
    json_end_object(w);
    end_any_of_def(w);

    begin_any_of_def(w, "path");
    emit_bounded_type(w, "string", "minLength", 1);
    json_begin_object(w);
    json_member_string(w, "type", "object");
    json_key(w, "properties");
    json_begin_object(w);
    json_key(w, "path");
    emit_bounded_type(w, "string", "minLength", 1);
    json_key(w, "sha256");
    json_begin_object(w);
    json_member_string(w, "description", "Expected SHA-256 of the file");
    json_member_string(w, "type", "string");
    json_member_string(w, "pattern", "^[0-9a-fA-F]{64}$");
    json_end_object(w);
    json_end_object(w);
    json_key(w, "required");
    json_begin_array(w);
    json_string(w, "path");
    json_end_array(w);
    emit_closed(w);
    json_end_object(w);
    end_any_of_def(w);

    json_key(w, "key");
    json_begin_object(w);
    json_member_string(w, "type", "string");
    json_member_string(w, "pattern", "^(?!<<$)");
    json_member_string(w, "patternErrorMessage",
                       "merge keys ('<<') are not supported");
    json_end_object(w);

    json_key(w, "mac");
    json_begin_object(w);
    json_member_string(w, "type", "string");
    json_member_string(w, "pattern",
                       "^(auto|[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5})$");
    json_end_object(w);

    json_end_object(w);
}

/* Each device list: an array of typed entries; the description says the
 * type an entry gets when it names none. */
static void emit_device_lists(JsonWriter *w)
{
    guint n;
    const SpecDeviceList *lists = spec_device_lists(&n);

    for (guint i = 0; i < n; i++) {
        const char *def = spec_list_default_type(lists[i].name);
        g_autofree char *description = def
            ? g_strdup_printf("%s; type defaults to %s",
                              lists[i].description, def)
            : g_strdup(lists[i].description);

        json_key(w, lists[i].name);
        json_begin_object(w);
        json_member_string(w, "description", description);
        json_member_string(w, "type", "array");
        json_key(w, "items");
        emit_typed_object(w, lists[i].name, def);
        json_end_object(w);
    }
}

/*
 * "else" of the root's `if extends`: the required keys, at every level.
 * Its properties are doNotSuggest, as the main schema completes them: the
 * server offers a key once per schema that names it unless the two insert
 * the same text.
 */
static void emit_strict_overlay(JsonWriter *w, ObjectClass *vm_class)
{
    static const char *const top_required[] = { "vmspec", "machine", "boot",
                                                NULL };
    const SpecDeviceList *lists;
    guint n;

    json_key(w, "else");
    json_begin_object(w);
    emit_required(w, vm_class, NULL, top_required);
    json_key(w, "properties");
    json_begin_object(w);
    json_key(w, "machine");
    json_begin_object(w);
    json_member_bool(w, "doNotSuggest", true);
    emit_typed_object_required(w, NULL, NULL);
    json_end_object(w);
    json_key(w, "boot");
    json_begin_object(w);
    json_member_bool(w, "doNotSuggest", true);
    emit_required(w, object_class_by_name(TYPE_MACHINE), "boot", NULL);
    json_end_object(w);
    lists = spec_device_lists(&n);
    for (guint i = 0; i < n; i++) {
        json_key(w, lists[i].name);
        json_begin_object(w);
        json_member_bool(w, "doNotSuggest", true);
        json_key(w, "items");
        json_begin_object(w);
        emit_typed_object_required(w, lists[i].name,
                                   spec_list_default_type(lists[i].name));
        json_end_object(w);
        json_end_object(w);
    }
    json_end_object(w);
    json_end_object(w);
}

char *spec_schema_generate(void)
{
    GString *out = g_string_new(NULL);
    ObjectClass *vm_class = object_class_by_name(TYPE_VM);
    JsonWriter w;

    json_writer_init(&w, out, true);
    json_begin_object(&w);
    json_member_string(&w, "$schema",
                       "https://json-schema.org/draft/2020-12/schema");
    /* No "title": see the top of this file. */
    json_member_string(&w, "description", "A vmspec spec (format 1): one "
                       "virtual machine. Generated by `vmspec schema`; do "
                       "not edit.");
    json_member_string(&w, "type", "object");
    json_key(&w, "properties");
    json_begin_object(&w);
    json_key(&w, "vmspec");
    json_begin_object(&w);
    json_member_string(&w, "description", "Spec format version");
    json_member_int(&w, "const", SPEC_FORMAT_VERSION);
    json_end_object(&w);
    json_key(&w, "extends");
    json_begin_object(&w);
    json_member_string(&w, "description", "A base spec to deep-merge this "
                       "one onto, relative to this file");
    json_member_string(&w, "type", "string");
    json_member_int(&w, "minLength", 1);
    json_end_object(&w);
    emit_properties(&w, vm_class, NULL);
    spec_provision_schema(&w);
    json_key(&w, "machine");
    emit_typed_object(&w, NULL, NULL);
    json_key(&w, "boot");
    json_begin_object(&w);
    json_member_string(&w, "type", "object");
    json_member_string(&w, "description", "What the machine boots");
    json_key(&w, "properties");
    json_begin_object(&w);
    emit_properties(&w, object_class_by_name(TYPE_MACHINE), "boot");
    json_end_object(&w);
    emit_closed(&w);
    json_end_object(&w);
    emit_device_lists(&w);
    json_end_object(&w);
    emit_closed(&w);

    /* Required keys only where no base spec can supply them. */
    json_key(&w, "if");
    json_begin_object(&w);
    json_key(&w, "required");
    json_begin_array(&w);
    json_string(&w, "extends");
    json_end_array(&w);
    json_end_object(&w);
    json_key(&w, "then");
    json_begin_object(&w);
    json_end_object(&w);
    emit_strict_overlay(&w, vm_class);
    emit_defs(&w);
    json_end_object(&w);
    g_string_append_c(out, '\n');
    return g_string_free(out, FALSE);
}
