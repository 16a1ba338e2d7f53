/*
 * The device base type.
 */
#include <string.h>

#include "machine/qom/device.h"
#include "machine/qom/error.h"
#include "machine/qom/machine.h"
#include "machine/qom/property.h"

/* virtio-blk's GET_ID answers with at most 20 bytes (virtio 1.2, 5.2.6). */
#define DEVICE_ID_MAX 20

static bool device_id_check(const char *id, GError **errp)
{
    size_t len = strlen(id);
    bool ok = len > 0 && len <= DEVICE_ID_MAX && g_ascii_isalnum(id[0]);

    for (size_t i = 1; ok && i < len; i++) {
        ok = g_ascii_isalnum(id[i]) || id[i] == '-' || id[i] == '_';
    }
    if (!ok) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "'%s' is not a valid id: use 1 to %d letters, digits, "
                    "'-' and '_', starting with a letter or digit", id,
                    DEVICE_ID_MAX);
    }
    return ok;
}

static const Property device_props[] = {
    PROP_STRING_CHECKED("id", DeviceState, id, NULL, device_id_check,
                        "^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$",
                        "Name of the device, unique within the VM"),
    PROP_END,
};

/* "disk 'root' (virtio-blk, spec.yaml:12:5)" */
char *device_describe(DeviceState *dev)
{
    const char *type = object_get_typename(OBJECT(dev));
    g_autofree char *where = dev->origin
        ? g_strdup_printf(", %s", dev->origin) : g_strdup("");

    if (dev->id) {
        return g_strdup_printf("device '%s' (%s%s)", dev->id, type, where);
    }
    return g_strdup_printf("device %s (%s%s)", type, type, where);
}

bool device_realize(DeviceState *dev, GError **errp)
{
    static const DeviceContext no_machine;
    DeviceClass *dc = DEVICE_GET_CLASS(dev);
    MachineState *ms = device_get_machine(dev);
    const DeviceContext *ctx = &no_machine;
    GError *err = NULL;

    if (dev->realized) {
        return true;
    }
    if (ms) {
        /* A device added after the machine's assignment pass (device
         * tests add them one by one) is assigned where the pass left off;
         * the context exists once the machine's buses do. */
        if (!dev->res.assigned && !machine_assign_device(ms, dev, errp)) {
            return false;
        }
        ctx = machine_device_context(ms);
    }
    if (!object_check_required_properties(OBJECT(dev), &err) ||
        (dc->realize && !dc->realize(dev, ctx, &err))) {
        g_autofree char *what = device_describe(dev);

        g_propagate_prefixed_error(errp, err, "%s: ", what);
        return false;
    }
    dev->realized = true;
    return true;
}

void device_unrealize(DeviceState *dev)
{
    DeviceClass *dc = DEVICE_GET_CLASS(dev);

    if (!dev->realized) {
        return;
    }
    if (dc->unrealize) {
        dc->unrealize(dev);
    }
    dev->realized = false;
}

void device_set_origin(DeviceState *dev, const char *origin)
{
    g_free(dev->origin);
    dev->origin = g_strdup(origin);
}

static bool device_property_set_allowed(Object *obj, GError **errp)
{
    DeviceState *dev = DEVICE(obj);

    if (dev->realized) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "cannot change a property of a realized device");
        return false;
    }
    return true;
}

static void device_release(Object *obj)
{
    device_unrealize(DEVICE(obj));
}

static void device_instance_init(Object *obj)
{
    DEVICE(obj)->res = (DeviceResources){ .irq = -1, .slot = -1 };
}

static void device_instance_finalize(Object *obj)
{
    g_free(DEVICE(obj)->origin);
}

static void device_class_init(ObjectClass *oc, const void *data)
{
    oc->props = device_props;
    oc->property_set_allowed = device_property_set_allowed;
    oc->release = device_release;
    DEVICE_CLASS(oc)->spec_list = "devices";
}

static const TypeInfo device_info = {
    .name = TYPE_DEVICE,
    .parent = TYPE_OBJECT,
    .description = "base of every device",
    .instance_size = sizeof(DeviceState),
    .class_size = sizeof(DeviceClass),
    .abstract = true,
    .class_init = device_class_init,
    .instance_init = device_instance_init,
    .instance_finalize = device_instance_finalize,
};

static void device_register_types(void)
{
    type_register_static(&device_info);
}

type_init(device_register_types)
