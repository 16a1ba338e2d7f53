/*
 * The abstract machine type: what every board has (vCPUs, RAM).  Concrete
 * machines (microvm on x86_64, virt on arm64) derive from it; devices are
 * its children in the object tree.
 */
#ifndef VMSPEC_QOM_MACHINE_H
#define VMSPEC_QOM_MACHINE_H

#include "machine/qom/object.h"

#define TYPE_MACHINE "machine"

#include "machine/qom/device.h"
#include "machine/qom/property.h"

typedef struct IoBus IoBus;
typedef struct VmExit VmExit;

typedef struct MachineState {
    Object parent_obj;
    int64_t cpus;
    uint64_t ram_size;
    FilePath kernel;        /* boot.kernel */
    FilePath initrd;        /* boot.initrd */
    char *cmdline;          /* boot.cmdline */

    /*
     * What devices use while they realize and run; set up by the concrete
     * machine before it realizes its children.
     */
    IoBus *pio_bus;         /* port I/O; NULL where the arch has none */
    IoBus *mmio_bus;
    VmExit *exit;           /* where devices ask for the run to end */
} MachineState;

typedef struct MachineClass {
    ObjectClass parent_class;
    const char *arch;           /* host architecture it runs on: "x86_64" */
    int64_t max_cpus;
    /* Drives interrupt line gsi high or low.  Any thread. */
    void (*set_irq)(MachineState *ms, unsigned gsi, bool level);
} MachineClass;

#define MACHINE(obj) OBJECT_CHECK(MachineState, (obj), TYPE_MACHINE)
#define MACHINE_CLASS(klass)                                                \
    OBJECT_CLASS_CHECK(MachineClass, (klass), TYPE_MACHINE)
#define MACHINE_GET_CLASS(obj)                                              \
    OBJECT_GET_CLASS(MachineClass, (obj), TYPE_MACHINE)

/* The machine a device belongs to (its parent), or NULL.  Borrowed. */
MachineState *device_get_machine(DeviceState *dev);

/* Drives interrupt line gsi of ms high or low.  Any thread. */
void machine_set_irq(MachineState *ms, unsigned gsi, bool level);

#endif
