/*
 * i8042: just enough of the PC keyboard controller for a guest to reset
 * the machine.  Linux's reboot path (arch/x86/kernel/reboot.c, BOOT_KBD,
 * and the FADT RESET_REG that points here) waits for the input buffer to
 * be empty (status bit 1 clear) and writes 0xfe to the command port:
 * "pulse the reset line" (output port bit 0 low).
 *
 * No keyboard or mouse: status reads report both buffers empty, data
 * reads return 0, other commands are ignored.  It has no ACPI entry: the
 * FADT says there is no 8042, so Linux's i8042 driver does not probe it.
 */
#include "machine/kvm/iobus.h"
#include "machine/kvm/run-end.h"
#include "machine/qom/device.h"
#include "machine/qom/error.h"
#include "machine/qom/machine.h"
#include "machine/x86/layout.h"

#define TYPE_I8042 "i8042"

/* Status register bits (ports 0x64 read). */
#define I8042_STR_OBF       0x01    /* output buffer full: data to read */
#define I8042_STR_IBF       0x02    /* input buffer full: busy */
/* Command: pulse output port bits 0-3 low for 6 us; 0xfe pulses bit 0,
 * the CPU reset line. */
#define I8042_CMD_PULSE_RESET 0xfe

typedef struct I8042 {
    DeviceState parent_obj;
    MachineState *ms;               /* borrowed: our parent */
    unsigned registered;            /* ports registered so far */
} I8042;

#define I8042(obj) OBJECT_CHECK(I8042, (obj), TYPE_I8042)

static uint64_t i8042_read(void *opaque, uint64_t offset, unsigned size)
{
    /* Data port: nothing to read.  Status: both buffers empty. */
    return 0;
}

static void i8042_cmd_write(void *opaque, uint64_t offset, uint64_t value,
                            unsigned size)
{
    I8042 *k = opaque;

    if ((uint8_t)value == I8042_CMD_PULSE_RESET) {
        run_end_request(k->ms->exit, RUN_END_RESET, "i8042 reset");
    }
}

static void i8042_unrealize(DeviceState *dev)
{
    I8042 *k = I8042(dev);

    if (k->registered > 1) {
        iobus_unregister(k->ms->pio_bus, X86_I8042_CMD_PORT);
    }
    if (k->registered > 0) {
        iobus_unregister(k->ms->pio_bus, X86_I8042_DATA_PORT);
    }
    k->registered = 0;
}

static bool i8042_realize(DeviceState *dev, GError **errp)
{
    I8042 *k = I8042(dev);

    k->ms = device_get_machine(dev);
    if (!k->ms || !k->ms->pio_bus || !k->ms->exit) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "needs a machine with a port I/O bus");
        return false;
    }
    /* Writes to the data port (keyboard commands) are dropped. */
    if (!iobus_register(k->ms->pio_bus, X86_I8042_DATA_PORT, 1,
                        "i8042 data", i8042_read, NULL, k, errp)) {
        return false;
    }
    k->registered = 1;
    if (!iobus_register(k->ms->pio_bus, X86_I8042_CMD_PORT, 1,
                        "i8042 command", i8042_read, i8042_cmd_write, k,
                        errp)) {
        i8042_unrealize(dev);
        return false;
    }
    k->registered = 2;
    return true;
}

static void i8042_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);

    dc->spec_list = NULL;           /* created by the machine, not specs */
    dc->realize = i8042_realize;
    dc->unrealize = i8042_unrealize;
}

static const TypeInfo i8042_info = {
    .name = TYPE_I8042,
    .parent = TYPE_DEVICE,
    .description = "i8042 keyboard controller (reset only), "
                   "created by the machine",
    .instance_size = sizeof(I8042),
    .class_init = i8042_class_init,
};

static void i8042_register_types(void)
{
    type_register_static(&i8042_info);
}

type_init(i8042_register_types)
