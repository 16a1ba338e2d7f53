/*
 * The abstract machine type: what every board has (vCPUs, RAM).  Concrete
 * machines (microvm on x86_64, virt on arm64) derive from it; devices are
 * its children in the object tree.
 */
#ifndef VMSPEC_QOM_MACHINE_H
#define VMSPEC_QOM_MACHINE_H

#include "machine/qom/object.h"

#define TYPE_MACHINE "machine"

#include "machine/qom/context.h"
#include "machine/qom/device.h"
#include "machine/qom/property.h"
#include "machine/qom/resources.h"

typedef struct IoBus IoBus;
typedef struct RunEnd RunEnd;
typedef struct KvmVm KvmVm;
typedef struct GuestMem GuestMem;

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
    RunEnd *run_end;        /* where devices ask for the run to end */
    KvmVm *kvm;
    GuestMem *ram;
    GPtrArray *vcpus;       /* Vcpu *, index = vCPU id */
    bool realized;
    unsigned boots;         /* realizes that succeeded: while one runs,
                               the earlier boots of this run */
    ResourceAllocator resources;    /* the assignment pass's state */
    char *runtime_prefix;   /* DeviceContext.runtime_prefix; owned, may be
                               NULL; set before realize */
    DeviceContext device_ctx;       /* what the devices get at realize */
} MachineState;

typedef struct MachineClass {
    ObjectClass parent_class;
    const char *arch;           /* host architecture it runs on: "x86_64" */
    int64_t max_cpus;
    /* Drives interrupt line gsi high or low.  Any thread. */
    void (*set_irq)(MachineState *ms, unsigned gsi, bool level);
    /* Builds the VM: KVM, RAM, buses, devices (machine_realize_children),
     * firmware tables, the kernel and the vCPUs, ready to run.  On failure
     * everything acquired so far is released. */
    bool (*realize)(MachineState *ms, GError **errp);
    /* Releases what realize acquired; vCPUs are already stopped. */
    void (*unrealize)(MachineState *ms);
    /* What the resource assignment pass hands out (resources.h); NULL:
     * nothing beyond what built-ins place themselves. */
    const MachineLayout *layout;
    /* The flattened device tree the machine would give its guest, for a
     * machine that is not running; NULL where the machine describes
     * itself otherwise (ACPI). */
    GBytes *(*build_dtb)(MachineState *ms, GError **errp);
} MachineClass;

#define MACHINE(obj) OBJECT_CHECK(MachineState, (obj), TYPE_MACHINE)
#define MACHINE_CLASS(klass)                                                \
    OBJECT_CLASS_CHECK(MachineClass, (klass), TYPE_MACHINE)
#define MACHINE_GET_CLASS(obj)                                              \
    OBJECT_GET_CLASS(MachineClass, (obj), TYPE_MACHINE)

/* Realizes the machine (see MachineClass.realize).  Main thread. */
bool machine_realize(MachineState *ms, GError **errp);

/* Undoes machine_realize(); a no-op when not realized.  Main thread, after
 * the vCPUs stopped. */
void machine_unrealize(MachineState *ms);

/* Fills ms->device_ctx from the machine's buses, RAM, KVM VM and exit
 * notifier as they are now.  For machine realize (done by
 * machine_realize_children) and device tests. */
const DeviceContext *machine_device_context(MachineState *ms);

/* True when a device child needs guest RAM another process can map
 * (DeviceClass.needs_shared_ram): the concrete machine then creates RAM
 * with GUEST_MEM_SHARED. */
bool machine_needs_shared_ram(MachineState *ms);

/* Every device child's DSDT entries (DeviceClass.acpi_aml) or device tree
 * nodes (DeviceClass.fdt_node), in tree order, from what the assignment
 * pass recorded. */
void machine_describe_acpi(MachineState *ms, Aml *scope);
void machine_describe_fdt(MachineState *ms, FdtBuilder *b);

/* Assigns resources (machine_assign_resources), then realizes every device
 * child in tree order; on a failure unrealizes the
 * ones already realized (reverse order) and fails.  For machine realize. */
bool machine_realize_children(MachineState *ms, GError **errp);

/* Unrealizes every device child in reverse tree order. */
void machine_unrealize_children(MachineState *ms);

/* MachineClass.build_dtb, with an error for machines without a device
 * tree.  Main thread, before realize. */
GBytes *machine_build_dtb(MachineState *ms, GError **errp);

/* Child index of ms (index < its children's count) if it is a device,
 * else NULL.  Borrowed.  For walks over the machine's devices. */
DeviceState *machine_device_child(MachineState *ms, guint index);

/* The machine a device belongs to (its parent), or NULL.  Borrowed. */
MachineState *device_get_machine(DeviceState *dev);

/* Drives interrupt line gsi of ms high or low.  Any thread. */
void machine_set_irq(MachineState *ms, unsigned gsi, bool level);

#endif
