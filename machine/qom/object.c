/*
 * Types, lazy class initialisation, objects and the child tree.
 * See object.h for the model; property.c for property tables.
 */
#include <string.h>

#include "machine/qom/object.h"
#include "machine/qom/property.h"
#include "machine/qom/error.h"

struct TypeImpl {
    const TypeInfo *info;
    TypeImpl *parent_type;     /* resolved on class init */
    size_t class_size;
    size_t instance_size;
    ObjectClass *klass;        /* NULL until first use */
    bool initializing;         /* catches a parent cycle (a TypeInfo bug) */
};

/*
 * The registry: name -> TypeImpl, plus the problems seen while filling it.
 * With the module init lists, the only global mutable state in vmspec.
 */
typedef struct {
    GHashTable *types;
    GPtrArray *problems;       /* char *, reported by type_registry_check */
} TypeRegistry;

static TypeRegistry registry;

static GHashTable *type_table(void)
{
    if (!registry.types) {
        registry.types = g_hash_table_new(g_str_hash, g_str_equal);
        registry.problems = g_ptr_array_new_with_free_func(g_free);
    }
    return registry.types;
}

bool type_register_static(const TypeInfo *info)
{
    GHashTable *table = type_table();
    TypeImpl *ti;

    g_assert(info && info->name);
    if (g_hash_table_contains(table, info->name)) {
        g_ptr_array_add(registry.problems,
                        g_strdup_printf("type '%s' is registered twice",
                                        info->name));
        return false;
    }
    ti = g_new0(TypeImpl, 1);
    ti->info = info;
    g_hash_table_insert(table, (gpointer)info->name, ti);
    return true;
}

static TypeImpl *type_get_by_name(const char *name)
{
    return name ? g_hash_table_lookup(type_table(), name) : NULL;
}

bool type_registry_check(GError **errp)
{
    g_autoptr(GString) msg = g_string_new(NULL);
    GHashTableIter iter;
    gpointer value;

    type_table();
    for (guint i = 0; i < registry.problems->len; i++) {
        g_string_append_printf(msg, "%s%s", msg->len ? "; " : "",
                               (char *)registry.problems->pdata[i]);
    }
    g_hash_table_iter_init(&iter, registry.types);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        const TypeInfo *info = ((TypeImpl *)value)->info;

        if (info->parent && !type_get_by_name(info->parent)) {
            g_string_append_printf(msg,
                                   "%stype '%s' has unknown parent '%s'",
                                   msg->len ? "; " : "", info->name,
                                   info->parent);
        }
    }
    if (msg->len) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_FAILED,
                    "type registry: %s", msg->str);
        return false;
    }
    return true;
}

/*
 * Builds ti's class: parent first, then a copy of the parent's class struct
 * (so inherited hooks carry over), then this type's class_init.  A cycle
 * in parents (a bug in a TypeInfo) aborts.
 */
static void type_initialize(TypeImpl *ti)
{
    TypeImpl *parent;

    if (ti->klass) {
        return;
    }
    if (ti->initializing) {
        g_error("type '%s' is its own ancestor", ti->info->name);
    }
    ti->initializing = true;

    parent = type_get_by_name(ti->info->parent);
    if (ti->info->parent && !parent) {
        g_error("type '%s' has unknown parent '%s'", ti->info->name,
                ti->info->parent);
    }
    ti->parent_type = parent;
    if (parent) {
        type_initialize(parent);
    }
    ti->class_size = ti->info->class_size ? ti->info->class_size
                   : parent ? parent->class_size : sizeof(ObjectClass);
    ti->instance_size = ti->info->instance_size ? ti->info->instance_size
                      : parent ? parent->instance_size : sizeof(Object);
    if (parent) {
        g_assert(ti->class_size >= parent->class_size);
        g_assert(ti->instance_size >= parent->instance_size);
    }

    ti->klass = g_malloc0(ti->class_size);
    if (parent) {
        memcpy(ti->klass, parent->klass, parent->class_size);
    }
    ti->klass->type = ti;
    ti->klass->props = NULL;    /* each class declares only its own */
    if (ti->info->class_init) {
        ti->info->class_init(ti->klass, ti->info->class_data);
    }
    ti->initializing = false;
}

ObjectClass *object_class_by_name(const char *typename)
{
    TypeImpl *ti = type_get_by_name(typename);

    if (!ti) {
        return NULL;
    }
    type_initialize(ti);
    return ti->klass;
}

const char *object_class_get_name(ObjectClass *klass)
{
    return klass->type->info->name;
}

const char *object_class_get_description(ObjectClass *klass)
{
    return klass->type->info->description;
}

bool object_class_is_abstract(ObjectClass *klass)
{
    return klass->type->info->abstract;
}

ObjectClass *object_class_get_parent(ObjectClass *klass)
{
    TypeImpl *parent = klass->type->parent_type;

    return parent ? parent->klass : NULL;
}

static bool type_is_a(const TypeImpl *ti, const TypeImpl *target)
{
    for (; ti; ti = ti->parent_type) {
        if (ti == target) {
            return true;
        }
    }
    return false;
}

ObjectClass *object_class_dynamic_cast(ObjectClass *klass,
                                       const char *typename)
{
    TypeImpl *target = type_get_by_name(typename);

    return klass && target && type_is_a(klass->type, target) ? klass : NULL;
}

ObjectClass *object_class_dynamic_cast_assert(ObjectClass *klass,
                                              const char *typename,
                                              const char *file, int line,
                                              const char *func)
{
    ObjectClass *ret = object_class_dynamic_cast(klass, typename);

    if (!ret) {
        g_error("%s:%d:%s: class cast failed: '%s' is not a '%s'", file,
                line, func, klass ? object_class_get_name(klass) : "(null)",
                typename);
    }
    return ret;
}

static gint compare_class_names(gconstpointer a, gconstpointer b)
{
    return strcmp(object_class_get_name((ObjectClass *)a),
                  object_class_get_name((ObjectClass *)b));
}

GSList *object_class_get_list(const char *implements_type,
                              bool include_abstract)
{
    TypeImpl *target = type_get_by_name(implements_type);
    GSList *list = NULL;
    GHashTableIter iter;
    gpointer value;

    if (!target) {
        return NULL;
    }
    /* The loader asks for this list on every spec it reads: one look-up
     * of the target, none per type. */
    g_hash_table_iter_init(&iter, type_table());
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        TypeImpl *ti = value;

        type_initialize(ti);
        if (type_is_a(ti, target) && (include_abstract || !ti->info->abstract)) {
            list = g_slist_prepend(list, ti->klass);
        }
    }
    return g_slist_sort(list, compare_class_names);
}

static gint compare_strings(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *type_get_children(const char *typename)
{
    GPtrArray *names = g_ptr_array_new();
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, type_table());
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        const TypeInfo *info = ((TypeImpl *)value)->info;

        if (g_strcmp0(info->parent, typename) == 0) {
            g_ptr_array_add(names, (gpointer)info->name);
        }
    }
    g_ptr_array_sort(names, compare_strings);
    return names;
}

/* --- Objects ----------------------------------------------------------- */

static void object_init_with_type(Object *obj, TypeImpl *ti)
{
    if (ti->parent_type) {
        object_init_with_type(obj, ti->parent_type);
    }
    object_class_apply_prop_defaults(ti->klass, obj);
    if (ti->info->instance_init) {
        ti->info->instance_init(obj);
    }
}

static void object_finalize_with_type(Object *obj, TypeImpl *ti)
{
    for (; ti; ti = ti->parent_type) {
        if (ti->info->instance_finalize) {
            ti->info->instance_finalize(obj);
        }
        object_class_free_prop_values(ti->klass, obj);
    }
}

Object *object_new_checked(const char *typename, GError **errp)
{
    ObjectClass *klass = object_class_by_name(typename);
    Object *obj;

    if (!klass) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND,
                    "unknown type '%s'", typename);
        return NULL;
    }
    if (object_class_is_abstract(klass)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "type '%s' is abstract and cannot be instantiated",
                    typename);
        return NULL;
    }
    obj = g_malloc0(klass->type->instance_size);
    obj->klass = klass;
    obj->refcount = 1;
    obj->children = g_ptr_array_new();
    object_init_with_type(obj, klass->type);
    return obj;
}

Object *object_new(const char *typename)
{
    GError *err = NULL;
    Object *obj = object_new_checked(typename, &err);

    if (!obj) {
        g_error("object_new: %s", err->message);
    }
    return obj;
}

Object *object_ref(Object *obj)
{
    g_atomic_int_inc(&obj->refcount);
    return obj;
}

void object_unref(Object *obj)
{
    if (!obj) {
        return;
    }
    g_assert(obj->refcount > 0);
    if (!g_atomic_int_dec_and_test(&obj->refcount)) {
        return;
    }
    if (obj->klass->release) {
        obj->klass->release(obj);
    }
    /* Children go first, newest first, so a device is finalised before
     * the siblings it was created after (and may depend on). */
    while (obj->children->len) {
        object_unparent(obj->children->pdata[obj->children->len - 1]);
    }
    object_finalize_with_type(obj, obj->klass->type);
    g_ptr_array_unref(obj->children);
    g_clear_pointer(&obj->child_index, g_hash_table_destroy);
    g_free(obj->name);
    g_free(obj);
}

const char *object_get_typename(Object *obj)
{
    return object_class_get_name(obj->klass);
}

Object *object_dynamic_cast(Object *obj, const char *typename)
{
    if (obj && object_class_dynamic_cast(obj->klass, typename)) {
        return obj;
    }
    return NULL;
}

Object *object_dynamic_cast_assert(Object *obj, const char *typename,
                                   const char *file, int line,
                                   const char *func)
{
    if (!object_dynamic_cast(obj, typename)) {
        g_error("%s:%d:%s: object cast failed: '%s' is not a '%s'", file,
                line, func, obj ? object_get_typename(obj) : "(null)",
                typename);
    }
    return obj;
}

/* Child names become path components: no '/', not empty. */
static bool child_name_valid(const char *name)
{
    return name && *name && !strchr(name, '/');
}

bool object_add_child(Object *parent, const char *name, Object *child,
                      GError **errp)
{
    if (!child_name_valid(name)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "invalid child name '%s'", name ? name : "");
        return false;
    }
    if (object_get_child(parent, name)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "'%s' already has a child named '%s'",
                    object_get_typename(parent), name);
        return false;
    }
    g_assert(!child->parent);
    child->parent = parent;
    child->name = g_strdup(name);
    g_ptr_array_add(parent->children, object_ref(child));
    if (!parent->child_index) {
        parent->child_index = g_hash_table_new(g_str_hash, g_str_equal);
    }
    g_hash_table_insert(parent->child_index, child->name, child);
    return true;
}

void object_unparent(Object *obj)
{
    Object *parent = obj->parent;

    if (!parent) {
        return;
    }
    /* From the end: a parent drops its children newest first. */
    for (guint i = parent->children->len; i-- > 0;) {
        if (parent->children->pdata[i] == obj) {
            g_ptr_array_remove_index(parent->children, i);
            break;
        }
    }
    g_hash_table_remove(parent->child_index, obj->name);
    obj->parent = NULL;
    g_clear_pointer(&obj->name, g_free);
    object_unref(obj);
}

Object *object_get_child(Object *parent, const char *name)
{
    return parent->child_index
        ? g_hash_table_lookup(parent->child_index, name) : NULL;
}

bool object_child_foreach(Object *parent,
                          bool (*fn)(Object *child, void *opaque),
                          void *opaque)
{
    for (guint i = 0; i < parent->children->len; i++) {
        if (!fn(parent->children->pdata[i], opaque)) {
            return false;
        }
    }
    return true;
}

char *object_get_canonical_path(Object *obj)
{
    GString *path = g_string_new(NULL);

    for (; obj->parent; obj = obj->parent) {
        g_string_prepend(path, obj->name);
        g_string_prepend_c(path, '/');
    }
    if (!path->len) {
        g_string_append_c(path, '/');
    }
    return g_string_free(path, FALSE);
}

Object *object_resolve_path(Object *root, const char *path)
{
    g_auto(GStrv) parts = NULL;
    Object *obj = root;

    if (!path || path[0] != '/') {
        return NULL;
    }
    parts = g_strsplit(path + 1, "/", -1);
    for (char **p = parts; *p && obj; p++) {
        if (**p) {
            obj = object_get_child(obj, *p);
        }
    }
    return obj;
}

/* --- Base types -------------------------------------------------------- */

static const TypeInfo object_info = {
    .name = TYPE_OBJECT,
    .description = "base of every type",
    .instance_size = sizeof(Object),
    .class_size = sizeof(ObjectClass),
    .abstract = true,
};

static const TypeInfo container_info = {
    .name = TYPE_CONTAINER,
    .parent = TYPE_OBJECT,
    .description = "a node that only holds children (the tree's root)",
};

static void object_register_types(void)
{
    type_register_static(&object_info);
    type_register_static(&container_info);
}

type_init(object_register_types)
