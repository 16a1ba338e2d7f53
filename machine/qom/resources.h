/*
 * The resource assignment pass: one allocator per machine hands every
 * device what it occupies in the guest (an MMIO window, I/O ports, an
 * interrupt line, a virtio slot) and records it in DeviceState.res.
 *
 * The pass runs in tree order when the spec is loaded (so `vmspec check`
 * reports a machine that has run out of slots at the list entry that asked
 * for one too many, and `vmspec plan` shows exactly what realize will
 * wire) and again before every realize; the same tree always gets the same
 * resources.  Realize uses the records; the ACPI and device tree hooks only
 * read them.  The numbers come from the machine's MachineLayout, which the
 * concrete machine fills from its machine/<arch>/layout.h.
 */
#ifndef VMSPEC_QOM_RESOURCES_H
#define VMSPEC_QOM_RESOURCES_H

#include <glib.h>
#include <stdint.h>

#include "machine/qom/device.h"

typedef struct MachineState MachineState;
typedef struct VirtioTransportOps VirtioTransportOps;

/* A machine's address map, as far as devices take from it. */
typedef struct MachineLayout {
    /* Virtio slots: slot i has window base + i * slot_size and interrupt
     * line first_irq + i, and is served by `transport`. */
    uint64_t virtio_base;
    uint64_t virtio_slot_size;
    unsigned virtio_slots;
    unsigned virtio_first_irq;
    const VirtioTransportOps *virtio_transport;
} MachineLayout;

struct ResourceAllocator {
    const char *machine;            /* type name, for messages */
    const MachineLayout *layout;    /* NULL: the machine hands out nothing */
    unsigned virtio_next;
    GArray *taken;                  /* TakenRange: windows and lines given */
    const char *device;             /* id of the device being assigned */
};

/* Gives res the next virtio slot (window, interrupt line, slot index) and
 * *transport the ops that serve it.  Fails once the slots are all taken. */
bool resource_take_virtio_slot(ResourceAllocator *alloc, DeviceResources *res,
                               const VirtioTransportOps **transport,
                               GError **errp);

/* Records a window or line the device was placed at by its machine (a
 * built-in UART's ports): fails where another device has it already. */
bool resource_take_fixed_pio(ResourceAllocator *alloc, DeviceResources *res,
                             uint32_t base, uint32_t count, GError **errp);
bool resource_take_fixed_mmio(ResourceAllocator *alloc, DeviceResources *res,
                              uint64_t base, uint64_t size, GError **errp);
bool resource_take_fixed_irq(ResourceAllocator *alloc, DeviceResources *res,
                             int irq, GError **errp);

/* Runs the pass over every device child of ms, in tree order, from a fresh
 * allocator.  A failure names the device and its spec entry.  Main thread,
 * before realize. */
bool machine_assign_resources(MachineState *ms, GError **errp);

/* Assigns one device that missed the pass (added after it, as device unit
 * tests do), continuing the machine's allocator. */
bool machine_assign_device(MachineState *ms, DeviceState *dev, GError **errp);

/* "window 0xd0000000+0x1000, irq 5, slot 0": what res holds, for plan. */
char *device_resources_describe(const DeviceResources *res);

#endif
