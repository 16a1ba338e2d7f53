/*
 * The object model: types, classes and objects, after QEMU's QOM.
 *
 * A type is described by a static TypeInfo and registered by name in one
 * global table (type_register_static, from a type_init() constructor).  Its
 * class struct is built on first use, parent class first, so a subclass
 * starts from a copy of its parent's class and overrides what it needs.
 * Objects are refcounted, carry the properties their classes declare
 * (property.h), and form a tree of named children with canonical paths such
 * as "/machine/disk0".
 *
 * Threading: the registry is filled and classes are initialised on the main
 * thread.  Object trees are built and torn down on the main thread;
 * refcounts are atomic so a device thread may hold a reference.
 */
#ifndef VMSPEC_QOM_OBJECT_H
#define VMSPEC_QOM_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "machine/qom/module.h"

typedef struct TypeImpl TypeImpl;
typedef struct ObjectClass ObjectClass;
typedef struct Object Object;
typedef struct Property Property;

#define TYPE_OBJECT "object"
#define TYPE_CONTAINER "container"

struct ObjectClass {
    TypeImpl *type;
    /* This class's own property table (PROP_END-terminated), or NULL.
     * Inherited properties live in the parent classes' tables. */
    const Property *props;
    /* Optional: refuses property changes (e.g. once a device is realized). */
    bool (*property_set_allowed)(Object *obj, GError **errp);
    /* Optional: runs when the last reference goes, before the children are
     * released and before any instance_finalize, while the whole object is
     * still intact (devices unrealize here). */
    void (*release)(Object *obj);
};

struct Object {
    ObjectClass *klass;
    gint refcount;
    Object *parent;         /* not a reference: the parent owns the child */
    char *name;             /* name under parent, NULL for a root */
    GPtrArray *children;    /* Object *, insertion order; owns a ref each */
    /* name -> child, the same children (NULL until the first), so that
     * adding one to a spec's 100,000 devices is not a scan of them all */
    GHashTable *child_index;
};

typedef struct TypeInfo {
    const char *name;
    const char *parent;
    const char *description;   /* one line, shown by `vmspec types` */
    size_t instance_size;      /* 0: inherit the parent's */
    size_t class_size;         /* 0: inherit the parent's */
    bool abstract;
    void (*class_init)(ObjectClass *klass, const void *data);
    const void *class_data;
    void (*instance_init)(Object *obj);
    void (*instance_finalize)(Object *obj);
} TypeInfo;

/* --- Registry ---------------------------------------------------------- */

/* Adds info (which must outlive the process: a static) to the registry.
 * A duplicate name is recorded and reported by type_registry_check();
 * returns false in that case.  Main thread, normally from type_init(). */
bool type_register_static(const TypeInfo *info);

/* Reports every registration problem found so far: duplicate names and
 * parents that name no registered type.  Called by module_call_init(). */
bool type_registry_check(GError **errp);

/* --- Classes ----------------------------------------------------------- */

/* Returns the class of the type named typename, initialising it (and its
 * ancestors) on first use, or NULL if no such type is registered. */
ObjectClass *object_class_by_name(const char *typename);

const char *object_class_get_name(ObjectClass *klass);
const char *object_class_get_description(ObjectClass *klass);
bool object_class_is_abstract(ObjectClass *klass);
/* Returns the parent class, or NULL for "object". */
ObjectClass *object_class_get_parent(ObjectClass *klass);

/* Returns klass if it is typename or derives from it, else NULL. */
ObjectClass *object_class_dynamic_cast(ObjectClass *klass,
                                       const char *typename);
ObjectClass *object_class_dynamic_cast_assert(ObjectClass *klass,
                                              const char *typename,
                                              const char *file, int line,
                                              const char *func);

/* Returns a new list (free with g_slist_free) of the classes that are
 * implements_type or derive from it, sorted by name.  Abstract ones only
 * if include_abstract. */
GSList *object_class_get_list(const char *implements_type,
                              bool include_abstract);

/* Names of the direct subtypes of typename, sorted (free with
 * g_ptr_array_unref; the strings are the registry's). */
GPtrArray *type_get_children(const char *typename);

/* --- Objects ----------------------------------------------------------- */

/* Returns a new object (refcount 1) of a registered, concrete type, with
 * property defaults applied and instance_init run, ancestors first.
 * Asking for an unknown or abstract type is a bug: it aborts.  Use
 * object_new_checked() for names that come from users. */
Object *object_new(const char *typename);

/* Like object_new(), but an unknown or abstract type is an error. */
Object *object_new_checked(const char *typename, GError **errp);

Object *object_ref(Object *obj);
/* Drops a reference; the last one runs instance_finalize (most derived
 * first), releases the children and frees the object. */
void object_unref(Object *obj);

const char *object_get_typename(Object *obj);

Object *object_dynamic_cast(Object *obj, const char *typename);
Object *object_dynamic_cast_assert(Object *obj, const char *typename,
                                   const char *file, int line,
                                   const char *func);

/* Adds child under parent as name, taking a new reference on child.
 * Fails if name is taken or child already has a parent. */
bool object_add_child(Object *parent, const char *name, Object *child,
                      GError **errp);
/* Removes obj from its parent and drops the parent's reference. */
void object_unparent(Object *obj);
/* Returns the child called name (borrowed), or NULL. */
Object *object_get_child(Object *parent, const char *name);
/* Calls fn on each child in insertion order; stops early and returns
 * false if fn does. */
bool object_child_foreach(Object *parent,
                          bool (*fn)(Object *child, void *opaque),
                          void *opaque);
/* Returns "/a/b" for the object named b under a under a root; "/" for a
 * root.  Caller frees. */
char *object_get_canonical_path(Object *obj);
/* Resolves a canonical path from root ("/machine/disk0"), or NULL. */
Object *object_resolve_path(Object *root, const char *path);

#define OBJECT(obj) ((Object *)(obj))
#define OBJECT_CLASS(klass) ((ObjectClass *)(klass))
#define OBJECT_GET_CLASS(class_type, obj, name)                             \
    ((class_type *)object_class_dynamic_cast_assert(OBJECT(obj)->klass,     \
                                                    (name), __FILE__,       \
                                                    __LINE__, __func__))
#define OBJECT_CHECK(type, obj, name)                                       \
    ((type *)object_dynamic_cast_assert(OBJECT(obj), (name), __FILE__,      \
                                        __LINE__, __func__))
#define OBJECT_CLASS_CHECK(class_type, klass, name)                         \
    ((class_type *)object_class_dynamic_cast_assert(OBJECT_CLASS(klass),    \
                                                    (name), __FILE__,       \
                                                    __LINE__, __func__))

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Object, object_unref)

#endif
