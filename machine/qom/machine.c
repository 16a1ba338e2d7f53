/*
 * The abstract machine type.
 */
#include "machine/qom/error.h"
#include "machine/qom/machine.h"
#include "machine/qom/property.h"

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

DeviceState *machine_device_child(MachineState *ms, guint index)
{
    Object *child = OBJECT(ms)->children->pdata[index];

    return (DeviceState *)object_dynamic_cast(child, TYPE_DEVICE);
}

static void machine_ctx_set_irq(void *opaque, unsigned line, bool level)
{
    machine_set_irq(opaque, line, level);
}

const DeviceContext *machine_device_context(MachineState *ms)
{
    DeviceContext now = {
        .ram = ms->ram,
        .pio_bus = ms->pio_bus,
        .mmio_bus = ms->mmio_bus,
        .kvm = ms->kvm,
        .run_end = ms->run_end,
        .set_irq = machine_ctx_set_irq,
        .irq_opaque = ms,
        .rebooted = ms->boots > 0,
        .runtime_prefix = ms->runtime_prefix,
    };

    const DeviceContext *was = &ms->device_ctx;

    /* Devices that are running read it: store only when something changed
     * (a device test realizes one device while others run).  Field by
     * field: memcmp would also compare the struct's padding. */
    if (now.ram != was->ram || now.pio_bus != was->pio_bus ||
        now.mmio_bus != was->mmio_bus || now.kvm != was->kvm ||
        now.run_end != was->run_end || now.set_irq != was->set_irq ||
        now.irq_opaque != was->irq_opaque || now.rebooted != was->rebooted ||
        now.runtime_prefix != was->runtime_prefix) {
        ms->device_ctx = now;
    }
    return &ms->device_ctx;
}

bool machine_needs_shared_ram(MachineState *ms)
{
    GPtrArray *children = OBJECT(ms)->children;

    for (guint i = 0; i < children->len; i++) {
        DeviceState *dev = machine_device_child(ms, i);
        DeviceClass *dc = dev ? DEVICE_GET_CLASS(dev) : NULL;

        if (dc && dc->needs_shared_ram && dc->needs_shared_ram(dev)) {
            return true;
        }
    }
    return false;
}

void machine_describe_acpi(MachineState *ms, Aml *scope)
{
    GPtrArray *children = OBJECT(ms)->children;

    for (guint i = 0; i < children->len; i++) {
        DeviceState *dev = machine_device_child(ms, i);

        if (dev && DEVICE_GET_CLASS(dev)->acpi_aml) {
            DEVICE_GET_CLASS(dev)->acpi_aml(dev, scope);
        }
    }
}

void machine_describe_fdt(MachineState *ms, FdtBuilder *b)
{
    GPtrArray *children = OBJECT(ms)->children;

    for (guint i = 0; i < children->len; i++) {
        DeviceState *dev = machine_device_child(ms, i);

        if (dev && DEVICE_GET_CLASS(dev)->fdt_node) {
            DEVICE_GET_CLASS(dev)->fdt_node(dev, b);
        }
    }
}

bool machine_realize_children(MachineState *ms, GError **errp)
{
    GPtrArray *children = OBJECT(ms)->children;

    if (!machine_assign_resources(ms, errp)) {
        return false;
    }
    machine_device_context(ms);
    for (guint i = 0; i < children->len; i++) {
        DeviceState *dev = machine_device_child(ms, i);

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
        DeviceState *dev = machine_device_child(ms, i);

        if (dev) {
            device_unrealize(dev);
        }
    }
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

static void machine_finalize(Object *obj)
{
    MachineState *ms = MACHINE(obj);

    g_free(ms->runtime_prefix);
    if (ms->resources.taken) {
        g_array_free(ms->resources.taken, true);
    }
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
    .instance_finalize = machine_finalize,
    .class_init = machine_class_init,
};

static void machine_register_types(void)
{
    type_register_static(&machine_info);
}

type_init(machine_register_types)
