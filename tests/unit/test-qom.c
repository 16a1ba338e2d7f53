/*
 * The object model: registry, class and instance init order, casts,
 * children and canonical paths.  Built on dummy types, as QEMU's
 * check-qom-proplist does.
 */
#include <string.h>

#include "machine/qom/device.h"
#include "machine/qom/error.h"
#include "machine/qom/machine.h"
#include "machine/qom/object.h"
#include "machine/qom/property.h"

/* Records what ran, in order, for the init-order tests. */
static GString *trace;

#define TYPE_TEST_BASE "test-base"
#define TYPE_TEST_MID "test-mid"
#define TYPE_TEST_LEAF "test-leaf"
#define TYPE_TEST_OTHER "test-other"

typedef struct {
    Object parent_obj;
    int base_value;
} TestBase;

typedef struct {
    ObjectClass parent_class;
    const char *greeting;
    int class_inits;
} TestBaseClass;

typedef struct {
    TestBase parent_obj;
    int mid_value;
} TestMid;

typedef struct {
    TestMid parent_obj;
    int leaf_value;
} TestLeaf;

#define TEST_BASE(obj) OBJECT_CHECK(TestBase, (obj), TYPE_TEST_BASE)
#define TEST_LEAF(obj) OBJECT_CHECK(TestLeaf, (obj), TYPE_TEST_LEAF)
#define TEST_BASE_CLASS(k) OBJECT_CLASS_CHECK(TestBaseClass, (k), TYPE_TEST_BASE)

static void trace_add(const char *what)
{
    g_string_append_printf(trace, "%s%s", trace->len ? " " : "", what);
}

static void base_class_init(ObjectClass *oc, const void *data)
{
    TestBaseClass *bc = TEST_BASE_CLASS(oc);

    trace_add("class:base");
    bc->greeting = "base";
    bc->class_inits++;
}

static void mid_class_init(ObjectClass *oc, const void *data)
{
    trace_add("class:mid");
    /* The parent's class fields were copied in before this runs. */
    g_assert_cmpstr(TEST_BASE_CLASS(oc)->greeting, ==, "base");
}

static void leaf_class_init(ObjectClass *oc, const void *data)
{
    trace_add("class:leaf");
    TEST_BASE_CLASS(oc)->greeting = data;
}

static void base_instance_init(Object *obj)
{
    trace_add("init:base");
    TEST_BASE(obj)->base_value = 1;
}

static void mid_instance_init(Object *obj)
{
    trace_add("init:mid");
    /* Parent state is initialised first. */
    g_assert_cmpint(TEST_BASE(obj)->base_value, ==, 1);
    ((TestMid *)obj)->mid_value = 2;
}

static void leaf_instance_init(Object *obj)
{
    trace_add("init:leaf");
    TEST_LEAF(obj)->leaf_value = 3;
}

static void base_instance_finalize(Object *obj)
{
    trace_add("fini:base");
}

static void leaf_instance_finalize(Object *obj)
{
    trace_add("fini:leaf");
}

static const TypeInfo test_types[] = {
    {
        .name = TYPE_TEST_BASE,
        .parent = TYPE_OBJECT,
        .abstract = true,
        .instance_size = sizeof(TestBase),
        .class_size = sizeof(TestBaseClass),
        .class_init = base_class_init,
        .instance_init = base_instance_init,
        .instance_finalize = base_instance_finalize,
    }, {
        .name = TYPE_TEST_MID,
        .parent = TYPE_TEST_BASE,
        .instance_size = sizeof(TestMid),
        .class_init = mid_class_init,
        .instance_init = mid_instance_init,
    }, {
        .name = TYPE_TEST_LEAF,
        .parent = TYPE_TEST_MID,
        .instance_size = sizeof(TestLeaf),
        .class_init = leaf_class_init,
        .class_data = "leaf",
        .instance_init = leaf_instance_init,
        .instance_finalize = leaf_instance_finalize,
    }, {
        .name = TYPE_TEST_OTHER,
        .parent = TYPE_OBJECT,
    },
};

static void register_test_types(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(test_types); i++) {
        type_register_static(&test_types[i]);
    }
}

type_init(register_test_types)

static void test_registry_lookup(void)
{
    ObjectClass *leaf = object_class_by_name(TYPE_TEST_LEAF);

    g_assert_nonnull(leaf);
    g_assert_cmpstr(object_class_get_name(leaf), ==, TYPE_TEST_LEAF);
    g_assert_cmpstr(object_class_get_name(object_class_get_parent(leaf)), ==,
                    TYPE_TEST_MID);
    g_assert_null(object_class_by_name("no-such-type"));
    g_assert_true(object_class_is_abstract(
        object_class_by_name(TYPE_MACHINE)));
    g_assert_true(object_class_is_abstract(
        object_class_by_name(TYPE_DEVICE)));
    g_assert_nonnull(object_class_dynamic_cast(leaf, TYPE_TEST_BASE));
    g_assert_nonnull(object_class_dynamic_cast(leaf, TYPE_OBJECT));
    g_assert_null(object_class_dynamic_cast(leaf, TYPE_TEST_OTHER));
    g_assert_null(object_class_dynamic_cast(leaf, "no-such-type"));
}

static void test_registry_lists(void)
{
    GSList *all = object_class_get_list(TYPE_TEST_BASE, true);
    GSList *concrete = object_class_get_list(TYPE_TEST_BASE, false);
    g_autoptr(GPtrArray) kids = type_get_children(TYPE_TEST_BASE);

    g_assert_cmpuint(g_slist_length(all), ==, 3);
    /* Sorted by name, abstract base left out on request. */
    g_assert_cmpuint(g_slist_length(concrete), ==, 2);
    g_assert_cmpstr(object_class_get_name(concrete->data), ==,
                    TYPE_TEST_LEAF);
    g_assert_cmpuint(kids->len, ==, 1);
    g_assert_cmpstr(kids->pdata[0], ==, TYPE_TEST_MID);
    g_slist_free(all);
    g_slist_free(concrete);
}

static void test_registry_duplicate(void)
{
    static const TypeInfo dup = { .name = TYPE_TEST_MID,
                                  .parent = TYPE_OBJECT };
    static const TypeInfo orphan = { .name = "test-orphan",
                                     .parent = "test-missing-parent" };

    if (g_test_subprocess()) {
        g_autoptr(GError) err = NULL;

        g_assert_false(type_register_static(&dup));
        g_assert_true(type_register_static(&orphan));
        g_assert_false(type_registry_check(&err));
        g_assert_nonnull(strstr(err->message,
                                "type 'test-mid' is registered twice"));
        g_assert_nonnull(strstr(err->message, "type 'test-orphan' has "
                                "unknown parent 'test-missing-parent'"));
        return;
    }
    /* The registry cannot be undone: run it in a child process. */
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
}

static void test_init_order(void)
{
    Object *obj;
    TestLeaf *leaf;

    /* A fresh process, so that no class has been initialised yet. */
    if (!g_test_subprocess()) {
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        return;
    }
    g_string_truncate(trace, 0);
    obj = object_new(TYPE_TEST_LEAF);
    /* Class init happens lazily, parent first, then instances parent
     * first. */
    g_assert_cmpstr(trace->str, ==,
                    "class:base class:mid class:leaf "
                    "init:base init:mid init:leaf");
    g_string_truncate(trace, 0);
    object_unref(object_new(TYPE_TEST_LEAF));
    g_assert_cmpstr(trace->str, ==, "init:base init:mid init:leaf "
                    "fini:leaf fini:base");
    leaf = TEST_LEAF(obj);
    g_assert_cmpint(leaf->parent_obj.mid_value, ==, 2);
    g_assert_cmpint(leaf->leaf_value, ==, 3);
    g_assert_cmpstr(TEST_BASE_CLASS(obj->klass)->greeting, ==, "leaf");
    g_assert_cmpint(TEST_BASE_CLASS(
        object_class_by_name(TYPE_TEST_BASE))->class_inits, ==, 1);

    g_string_truncate(trace, 0);
    object_ref(obj);
    object_unref(obj);
    g_assert_cmpstr(trace->str, ==, "");
    object_unref(obj);
    /* Finalize runs most-derived first. */
    g_assert_cmpstr(trace->str, ==, "fini:leaf fini:base");
}

static void test_abstract(void)
{
    g_autoptr(GError) err = NULL;

    g_assert_null(object_new_checked(TYPE_TEST_BASE, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "abstract"));
    g_clear_error(&err);
    g_assert_null(object_new_checked("nope", &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND);
}

static void test_cast_ok(void)
{
    g_autoptr(Object) obj = object_new(TYPE_TEST_LEAF);

    g_assert_true(TEST_BASE(obj) == (TestBase *)obj);
    g_assert_nonnull(object_dynamic_cast(obj, TYPE_TEST_MID));
    g_assert_null(object_dynamic_cast(obj, TYPE_TEST_OTHER));
    g_assert_null(object_dynamic_cast(NULL, TYPE_TEST_OTHER));
    g_assert_cmpstr(object_get_typename(obj), ==, TYPE_TEST_LEAF);
}

static void test_cast_abort(void)
{
    if (g_test_subprocess()) {
        Object *obj = object_new(TYPE_TEST_OTHER);

        TEST_LEAF(obj);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*'test-other' is not a 'test-leaf'*");
}

static void test_children(void)
{
    g_autoptr(Object) root = object_new(TYPE_CONTAINER);
    Object *machine = object_new(TYPE_TEST_LEAF);
    Object *disk0 = object_new(TYPE_TEST_OTHER);
    Object *disk1 = object_new(TYPE_TEST_OTHER);
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    GPtrArray *seen = g_ptr_array_new();

    g_assert_true(object_add_child(root, "machine", machine, NULL));
    g_assert_true(object_add_child(machine, "disk1", disk1, NULL));
    g_assert_true(object_add_child(machine, "disk0", disk0, NULL));
    g_assert_false(object_add_child(machine, "disk0", disk1, &err));
    g_assert_nonnull(strstr(err->message, "already has a child"));
    g_clear_error(&err);
    g_assert_false(object_add_child(machine, "a/b", disk1, &err));
    g_clear_error(&err);

    path = object_get_canonical_path(disk0);
    g_assert_cmpstr(path, ==, "/machine/disk0");
    g_free(g_steal_pointer(&path));
    path = object_get_canonical_path(root);
    g_assert_cmpstr(path, ==, "/");
    g_assert_true(object_resolve_path(root, "/machine/disk1") == disk1);
    g_assert_null(object_resolve_path(root, "/machine/disk2"));
    g_assert_true(object_get_child(machine, "disk0") == disk0);

    /* Insertion order, not name order. */
    for (guint i = 0; i < machine->children->len; i++) {
        g_ptr_array_add(seen, machine->children->pdata[i]);
    }
    g_assert_true(seen->pdata[0] == disk1 && seen->pdata[1] == disk0);
    g_ptr_array_unref(seen);

    /* The parent holds its own reference. */
    object_unref(disk0);
    object_unref(disk1);
    object_unref(machine);
    g_assert_cmpint(disk0->refcount, ==, 1);
    object_ref(disk0);
    object_unparent(disk0);
    g_assert_null(disk0->parent);
    g_assert_null(object_get_child(machine, "disk0"));
    object_unref(disk0);
}

static bool count_child(Object *child, void *opaque)
{
    return ++*(int *)opaque < 2;
}

static void test_child_foreach_stops(void)
{
    g_autoptr(Object) root = object_new(TYPE_CONTAINER);
    int count = 0;

    for (int i = 0; i < 4; i++) {
        g_autofree char *name = g_strdup_printf("c%d", i);
        g_autoptr(Object) child = object_new(TYPE_TEST_OTHER);

        g_assert_true(object_add_child(root, name, child, NULL));
    }
    g_assert_false(object_child_foreach(root, count_child, &count));
    g_assert_cmpint(count, ==, 2);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    trace = g_string_new(NULL);
    g_assert_true(module_call_init(MODULE_INIT_QOM, NULL));

    g_test_add_func("/qom/registry/lookup", test_registry_lookup);
    g_test_add_func("/qom/registry/lists", test_registry_lists);
    g_test_add_func("/qom/registry/duplicate-and-orphan",
                    test_registry_duplicate);
    g_test_add_func("/qom/object/init-order", test_init_order);
    g_test_add_func("/qom/object/abstract", test_abstract);
    g_test_add_func("/qom/cast/ok", test_cast_ok);
    g_test_add_func("/qom/cast/abort", test_cast_abort);
    g_test_add_func("/qom/children/paths", test_children);
    g_test_add_func("/qom/children/foreach-stops", test_child_foreach_stops);
    return g_test_run();
}
