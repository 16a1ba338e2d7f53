/*
 * microvm: the x86_64 machine.  A minimal PC without PCI: RAM, an in-kernel
 * IOAPIC/LAPIC, a 8250 UART, i8042 reset, pvpanic, and virtio-mmio slots
 * described to the guest through ACPI (DESIGN.md, "x86_64 microvm").
 */
#include "machine/qom/machine.h"

#define TYPE_MICROVM "microvm"

typedef struct Microvm {
    MachineState parent_obj;
} Microvm;

static void microvm_class_init(ObjectClass *oc, const void *data)
{
    MachineClass *mc = MACHINE_CLASS(oc);

    mc->arch = "x86_64";
}

static const TypeInfo microvm_info = {
    .name = TYPE_MICROVM,
    .parent = TYPE_MACHINE,
    .description = "x86_64 minimal machine: virtio-mmio, ACPI, no PCI",
    .instance_size = sizeof(Microvm),
    .class_init = microvm_class_init,
};

static void microvm_register_types(void)
{
    type_register_static(&microvm_info);
}

type_init(microvm_register_types)
