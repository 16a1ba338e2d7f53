/*
 * pvpanic: how a guest kernel tells the VMM it panicked (QEMU
 * docs/specs/pvpanic.rst; Linux drivers/misc/pvpanic/).  One byte I/O port
 * (QEMU's default 0x505; the machine may place it elsewhere): reads return the events the device supports, writes report one.
 * Bits from Linux include/uapi/misc/pvpanic.h:
 *
 *   PVPANIC_PANICKED      bit 0: the guest panicked; the VM stops
 *                         (RUN_END_PANIC: registers dumped, exit 3).
 *   PVPANIC_CRASH_LOADED  bit 1: the guest panicked and a kdump kernel
 *                         took over; it keeps running, the event is only
 *                         counted.
 *
 * Described in the DSDT as Device(PEVT), _HID "QEMU0001", one I/O port,
 * which Linux's pvpanic-mmio driver binds to (it maps the IO resource).
 */
#include "machine/hw/pvpanic.h"

#include "machine/kvm/iobus.h"
#include "machine/kvm/run-end.h"
#include "machine/qom/context.h"
#include "machine/qom/device.h"
#include "machine/qom/error.h"
#include "machine/qom/property.h"
#include "machine/qom/resources.h"
#include "machine/x86/aml.h"

#define PVPANIC_EVENTS          (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED)

/* QEMU docs/specs/pvpanic.rst: the ISA device's default port. */
#define PVPANIC_DEFAULT_PORT    0x505

typedef struct PvPanic {
    DeviceState parent_obj;
    int64_t port;
    const DeviceContext *ctx;
    bool registered;
    gint crash_loaded;              /* atomic: CRASH_LOADED events seen */
} PvPanic;

#define PVPANIC(obj) OBJECT_CHECK(PvPanic, (obj), TYPE_PVPANIC)

static const Property pvpanic_props[] = {
    PROP_INT("port", PvPanic, port, PVPANIC_DEFAULT_PORT, 0, 0xffff,
             "The I/O port"),
    PROP_END,
};

static uint64_t pvpanic_read(void *opaque, uint64_t offset, unsigned size)
{
    return PVPANIC_EVENTS;
}

static void pvpanic_write(void *opaque, uint64_t offset, uint64_t value,
                          unsigned size)
{
    PvPanic *p = opaque;

    if (value & PVPANIC_PANICKED) {
        run_end_request(p->ctx->run_end, RUN_END_PANIC,
                        "guest kernel panic (pvpanic)");
        return;
    }
    if (value & PVPANIC_CRASH_LOADED) {
        g_atomic_int_inc(&p->crash_loaded);
    }
}

unsigned pvpanic_crash_loaded_count(DeviceState *dev)
{
    return (unsigned)g_atomic_int_get(&PVPANIC(dev)->crash_loaded);
}

static void pvpanic_unrealize(DeviceState *dev)
{
    PvPanic *p = PVPANIC(dev);

    if (p->registered) {
        iobus_unregister(p->ctx->pio_bus, DEVICE(p)->res.pio_base);
        p->registered = false;
    }
}

static bool pvpanic_assign_resources(DeviceState *dev,
                                     ResourceAllocator *alloc, GError **errp)
{
    return resource_take_fixed_pio(alloc, &dev->res,
                                   (uint32_t)PVPANIC(dev)->port, 1, errp);
}

static bool pvpanic_realize(DeviceState *dev, const DeviceContext *ctx,
                            GError **errp)
{
    PvPanic *p = PVPANIC(dev);

    p->ctx = ctx;
    if (!ctx->pio_bus || !ctx->run_end) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "needs a machine with a port I/O bus");
        return false;
    }
    if (!iobus_register(ctx->pio_bus, dev->res.pio_base, 1, TYPE_PVPANIC,
                        pvpanic_read, pvpanic_write, p, errp)) {
        return false;
    }
    p->registered = true;
    return true;
}

/* Device(PEVT) { _HID "QEMU0001", _CRS { IO(Decode16, port, port, 1, 1) },
 * _STA 0x0f }, as QEMU describes its ISA pvpanic. */
static void pvpanic_acpi_aml(DeviceState *dev, Aml *scope)
{
    uint16_t port = (uint16_t)dev->res.pio_base;

    aml_device_begin(scope, "PEVT");
    aml_name_string(scope, "_HID", "QEMU0001");
    aml_name(scope, "_CRS");
    aml_resource_template_begin(scope);
    aml_io(scope, true, port, port, 1, 1);
    aml_end(scope);
    aml_name_int(scope, "_STA", 0x0f);
    aml_end(scope);
}

static void pvpanic_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);

    oc->props = pvpanic_props;
    dc->spec_list = NULL;           /* created by the machine, not specs */
    dc->assign_resources = pvpanic_assign_resources;
    dc->realize = pvpanic_realize;
    dc->unrealize = pvpanic_unrealize;
    dc->acpi_aml = pvpanic_acpi_aml;
}

static const TypeInfo pvpanic_info = {
    .name = TYPE_PVPANIC,
    .parent = TYPE_DEVICE,
    .description = "pvpanic: guest panic notification (QEMU0001), "
                   "created by the machine",
    .instance_size = sizeof(PvPanic),
    .class_init = pvpanic_class_init,
};

static void pvpanic_register_types(void)
{
    type_register_static(&pvpanic_info);
}

type_init(pvpanic_register_types)
