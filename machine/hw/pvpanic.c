/*
 * pvpanic: how a guest kernel tells the VMM it panicked (QEMU
 * docs/specs/pvpanic.rst; Linux drivers/misc/pvpanic/).  One byte I/O port
 * 0x505: reads return the events the device supports, writes report one.
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
#include "machine/qom/device.h"
#include "machine/qom/error.h"
#include "machine/qom/machine.h"
#include "machine/x86/aml.h"
#include "machine/x86/layout.h"

#define PVPANIC_EVENTS          (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED)

typedef struct PvPanic {
    DeviceState parent_obj;
    MachineState *ms;               /* borrowed: our parent */
    bool registered;
    gint crash_loaded;              /* atomic: CRASH_LOADED events seen */
} PvPanic;

#define PVPANIC(obj) OBJECT_CHECK(PvPanic, (obj), TYPE_PVPANIC)

static uint64_t pvpanic_read(void *opaque, uint64_t offset, unsigned size)
{
    return PVPANIC_EVENTS;
}

static void pvpanic_write(void *opaque, uint64_t offset, uint64_t value,
                          unsigned size)
{
    PvPanic *p = opaque;

    if (value & PVPANIC_PANICKED) {
        run_end_request(p->ms->exit, RUN_END_PANIC,
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
        iobus_unregister(p->ms->pio_bus, X86_PVPANIC_PORT);
        p->registered = false;
    }
}

static bool pvpanic_realize(DeviceState *dev, GError **errp)
{
    PvPanic *p = PVPANIC(dev);

    p->ms = device_get_machine(dev);
    if (!p->ms || !p->ms->pio_bus || !p->ms->exit) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "needs a machine with a port I/O bus");
        return false;
    }
    if (!iobus_register(p->ms->pio_bus, X86_PVPANIC_PORT, 1, TYPE_PVPANIC,
                        pvpanic_read, pvpanic_write, p, errp)) {
        return false;
    }
    p->registered = true;
    return true;
}

/* Device(PEVT) { _HID "QEMU0001", _CRS { IO(Decode16, 0x505, 0x505, 1, 1) },
 * _STA 0x0f }, as QEMU describes its ISA pvpanic. */
static void pvpanic_acpi_aml(DeviceState *dev, Aml *scope)
{
    aml_device_begin(scope, "PEVT");
    aml_name_string(scope, "_HID", "QEMU0001");
    aml_name(scope, "_CRS");
    aml_resource_template_begin(scope);
    aml_io(scope, true, X86_PVPANIC_PORT, X86_PVPANIC_PORT, 1, 1);
    aml_end(scope);
    aml_name_int(scope, "_STA", 0x0f);
    aml_end(scope);
}

static void pvpanic_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);

    dc->spec_list = NULL;           /* created by the machine, not specs */
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
