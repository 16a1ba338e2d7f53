/*
 * The abstract machine type.
 */
#include "machine/qom/error.h"
#include "machine/qom/machine.h"
#include "machine/qom/property.h"
#include "machine/qom/vm.h"

#define MiB (UINT64_C(1) << 20)
#define TiB (UINT64_C(1) << 40)

static const Property machine_props[] = {
    PROP_INT("cpus", MachineState, cpus, 1, 1, 255,
             "Number of virtual CPUs"),
    /* 16 MiB is about the least a Linux guest with an initramfs boots in;
     * the upper bound is what x86_64 guests address with 4-level paging. */
    PROP_SIZE("memory", MachineState, ram_size, 256 * MiB, 16 * MiB,
              64 * TiB, "Guest RAM (512M, 2G, ...)"),
    PROP_PATH("kernel", MachineState, kernel, true,
              "Kernel image (x86_64: bzImage)", .group = "boot"),
    PROP_PATH("initrd", MachineState, initrd, false,
              "Initial ramdisk", .group = "boot"),
    PROP_STRING("cmdline", MachineState, cmdline, "",
                "Kernel command line", .group = "boot"),
    PROP_END,
};

MachineState *device_get_machine(DeviceState *dev)
{
    Object *parent = OBJECT(dev)->parent;

    return parent ? (MachineState *)object_dynamic_cast(parent, TYPE_MACHINE)
                  : NULL;
}

void machine_set_irq(MachineState *ms, unsigned gsi, bool level)
{
    MACHINE_GET_CLASS(ms)->set_irq(ms, gsi, level);
}

bool machine_realize(MachineState *ms, GError **errp)
{
    MachineClass *mc = MACHINE_GET_CLASS(ms);

    if (ms->realized) {
        return true;
    }
    if (!mc->realize) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_FAILED,
                    "machine type '%s' cannot run", object_get_typename(
                        OBJECT(ms)));
        return false;
    }
    if (ms->cpus > mc->max_cpus) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "machine type '%s' has at most %" G_GINT64_FORMAT
                    " vCPUs", object_get_typename(OBJECT(ms)), mc->max_cpus);
        return false;
    }
    if (!mc->realize(ms, errp)) {
        return false;
    }
    ms->realized = true;
    ms->boots++;
    return true;
}

void machine_unrealize(MachineState *ms)
{
    if (!ms->realized) {
        return;
    }
    MACHINE_GET_CLASS(ms)->unrealize(ms);
    ms->realized = false;
}

bool machine_wire_console(MachineState *ms, GError **errp)
{
    Vm *vm = (Vm *)object_dynamic_cast(OBJECT(ms)->parent, TYPE_VM);
    Object *serial = object_get_child(OBJECT(ms), "serial0");

    if (!vm || !serial) {
        return true;
    }
    return object_property_set_str(serial, "console", vm->console, errp);
}

bool machine_realize_children(MachineState *ms, GError **errp)
{
    GPtrArray *children = OBJECT(ms)->children;

    for (guint i = 0; i < children->len; i++) {
        DeviceState *dev = (DeviceState *)object_dynamic_cast(
            children->pdata[i], TYPE_DEVICE);

        if (dev && !device_realize(dev, errp)) {
            machine_unrealize_children(ms);
            return false;
        }
    }
    return true;
}

void machine_unrealize_children(MachineState *ms)
{
    GPtrArray *children = OBJECT(ms)->children;

    for (guint i = children->len; i-- > 0;) {
        DeviceState *dev = (DeviceState *)object_dynamic_cast(
            children->pdata[i], TYPE_DEVICE);

        if (dev) {
            device_unrealize(dev);
        }
    }
}

bool machine_alloc_virtio_mmio(MachineState *ms, uint64_t *base,
                               uint64_t *size, uint32_t *gsi, GError **errp)
{
    MachineClass *mc = MACHINE_GET_CLASS(ms);

    if (!mc->alloc_virtio_mmio) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "machine type '%s' has no virtio-mmio slots",
                    object_get_typename(OBJECT(ms)));
        return false;
    }
    return mc->alloc_virtio_mmio(ms, base, size, gsi, errp);
}

GBytes *machine_build_dtb(MachineState *ms, GError **errp)
{
    MachineClass *mc = MACHINE_GET_CLASS(ms);

    if (!mc->build_dtb) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "machine type '%s' has no device tree (it describes "
                    "itself to the guest with ACPI)",
                    object_get_typename(OBJECT(ms)));
        return NULL;
    }
    return mc->build_dtb(ms, errp);
}

static void machine_release(Object *obj)
{
    machine_unrealize(MACHINE(obj));
}

static void machine_class_init(ObjectClass *oc, const void *data)
{
    MachineClass *mc = MACHINE_CLASS(oc);

    oc->props = machine_props;
    oc->release = machine_release;
    mc->max_cpus = 255;
}

static const TypeInfo machine_info = {
    .name = TYPE_MACHINE,
    .parent = TYPE_OBJECT,
    .description = "base of every machine type",
    .instance_size = sizeof(MachineState),
    .class_size = sizeof(MachineClass),
    .abstract = true,
    .class_init = machine_class_init,
};

static void machine_register_types(void)
{
    type_register_static(&machine_info);
}

type_init(machine_register_types)
