/*
 * libFuzzer target for the whole loader: the bytes are a spec file
 * ("fuzz.yaml"), turned into the object tree as `vmspec check` does
 * (without touching the files it names), then every property of every
 * object is read back as `vmspec plan` does, and the tree is freed.
 */
#include <stdint.h>
#include <string.h>
#include <glib.h>

#include "machine/qom/property.h"
#include "spec/loader.h"
#include "spec/merge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_property(const Property *prop, ObjectClass *owner,
                          void *opaque)
{
    g_free(object_property_get_str(opaque, prop->name));
}

static bool read_back(Object *obj, void *opaque)
{
    object_class_foreach_property(obj->klass, read_property, obj);
    g_free(object_get_canonical_path(obj));
    return object_child_foreach(obj, read_back, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool initialized;
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) root = NULL;
    Vm *vm;

    if (!initialized) {
        g_assert_true(module_call_init(MODULE_INIT_QOM, NULL));
        initialized = true;
    }
    root = spec_load_buffer("fuzz.yaml", (const char *)data, size, diags);
    if (!root) {
        return 0;
    }
    vm = spec_build_vm(root, NULL, diags);
    g_free(spec_diags_format(diags));
    if (vm) {
        read_back(OBJECT(vm), NULL);
        object_unref(OBJECT(vm));
    }
    return 0;
}
