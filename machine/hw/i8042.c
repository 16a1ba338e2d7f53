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
#include "machine/qom/context.h"
#include "machine/qom/device.h"
#include "machine/qom/error.h"
#include "machine/qom/property.h"
#include "machine/qom/resources.h"

#define TYPE_I8042 "i8042"

/* Status register bits (ports 0x64 read). */
#define I8042_STR_OBF       0x01    /* output buffer full: data to read */
#define I8042_STR_IBF       0x02    /* input buffer full: busy */
/* Command: pulse output port bits 0-3 low for 6 us; 0xfe pulses bit 0,
 * the CPU reset line. */
#define I8042_CMD_PULSE_RESET 0xfe

/* The PC AT's ports: data at 0x60, command/status 4 above it. */
#define I8042_DEFAULT_DATA_PORT 0x60
#define I8042_CMD_OFFSET        4

typedef struct I8042 {
    DeviceState parent_obj;
    int64_t iobase;                 /* the data port */
    const DeviceContext *ctx;
    unsigned registered;            /* ports registered so far */
} I8042;

#define I8042(obj) OBJECT_CHECK(I8042, (obj), TYPE_I8042)

static const Property i8042_props[] = {
    PROP_INT("iobase", I8042, iobase, I8042_DEFAULT_DATA_PORT, 0,
             0xffff - I8042_CMD_OFFSET,
             "The data port; the command port is 4 above it"),
    PROP_END,
};

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
        run_end_request(k->ctx->run_end, RUN_END_RESET, "i8042 reset");
    }
}

static void i8042_unrealize(DeviceState *dev)
{
    I8042 *k = I8042(dev);
    uint32_t data_port = dev->res.pio_base;

    if (k->registered > 1) {
        iobus_unregister(k->ctx->pio_bus, data_port + I8042_CMD_OFFSET);
    }
    if (k->registered > 0) {
        iobus_unregister(k->ctx->pio_bus, data_port);
    }
    k->registered = 0;
}

/* The window from the data port to the command port. */
static bool i8042_assign_resources(DeviceState *dev, ResourceAllocator *alloc,
                                   GError **errp)
{
    return resource_take_fixed_pio(alloc, &dev->res,
                                   (uint32_t)I8042(dev)->iobase,
                                   I8042_CMD_OFFSET + 1, errp);
}

static bool i8042_realize(DeviceState *dev, const DeviceContext *ctx,
                          GError **errp)
{
    I8042 *k = I8042(dev);
    uint32_t data_port = dev->res.pio_base;

    k->ctx = ctx;
    if (!ctx->pio_bus || !ctx->run_end) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "needs a machine with a port I/O bus");
        return false;
    }
    /* Writes to the data port (keyboard commands) are dropped. */
    if (!iobus_register(ctx->pio_bus, data_port, 1,
                        "i8042 data", i8042_read, NULL, k, errp)) {
        return false;
    }
    k->registered = 1;
    if (!iobus_register(ctx->pio_bus, data_port + I8042_CMD_OFFSET, 1,
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

    oc->props = i8042_props;
    dc->spec_list = NULL;           /* created by the machine, not specs */
    dc->assign_resources = i8042_assign_resources;
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
