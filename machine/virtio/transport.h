/*
 * The interface between the virtio core (virtio.c, the devices) and a
 * virtio transport (virtio 1.2, 4: MMIO today, PCI or a vhost-user
 * backend's side tomorrow).  A device never knows its transport: the core
 * calls these ops, and the transport calls back into the core
 * (virtio_device_write_status, virtio_device_reset,
 * virtio_device_set_queue_ready, virtio_device_watch_queue_notifier) for
 * what the spec defines independently of the transport.
 *
 * The machine names the ops that serve its virtio slots (MachineLayout);
 * the resource assignment pass gives a device its slot and these ops, so
 * the ACPI and device tree hooks work before realize (`vmspec plan`).
 *
 * Queue addresses (descriptor table, driver and device areas) are written
 * by the transport into the device's VirtQueues; whoever serves a queue
 * (the device's I/O thread, or a backend that takes the queue over) reads
 * them there.
 */
#ifndef VMSPEC_VIRTIO_TRANSPORT_H
#define VMSPEC_VIRTIO_TRANSPORT_H

#include <glib.h>
#include <stdbool.h>

typedef struct Aml Aml;
typedef struct DeviceContext DeviceContext;
typedef struct FdtBuilder FdtBuilder;
typedef struct VirtioDevice VirtioDevice;

/* Why the device interrupts the driver (virtio 1.2, 2.3 and 2.7.10). */
typedef enum VirtioInterruptCause {
    VIRTIO_INTERRUPT_USED_BUFFER = 1,
    VIRTIO_INTERRUPT_CONFIG_CHANGE = 2,
} VirtioInterruptCause;

typedef struct VirtioTransportOps {
    const char *name;               /* "virtio-mmio" */
    /* Wires the slot in DEVICE(vdev)->res: registers, notifications,
     * interrupt.  Main thread, from the virtio base's realize, after the
     * queues exist and before the I/O thread starts. */
    bool (*realize)(VirtioDevice *vdev, const DeviceContext *ctx,
                    GError **errp);
    void (*unrealize)(VirtioDevice *vdev);
    /* Interrupts the driver.  Any thread. */
    void (*interrupt)(VirtioDevice *vdev, VirtioInterruptCause cause);
    /* The eventfd the driver's notifications for queue index arrive on
     * (a KVM ioeventfd where there is a VM): the I/O thread watches it,
     * and a backend that takes the queue over gets it as its kick fd.
     * -1 before realize or for a queue the device lacks. */
    int (*queue_notifier)(VirtioDevice *vdev, unsigned index);
    /* For a backend that takes the queues over: an eventfd it may write
     * to interrupt the driver for used buffers itself (a KVM irqfd), so
     * its completions reach the guest without a thread of vmspec's in
     * between.  From the call until the device resets, the transport
     * reports a used-buffer cause whenever the driver looks (it cannot
     * tell when the backend wrote), which costs a driver at most a look
     * at its rings.  -1 where the transport has no such fd (no VM, no
     * irqfd): the device then relays with interrupt().  vCPU thread, at
     * DRIVER_OK; may be NULL (none). */
    int (*backend_used_irq)(VirtioDevice *vdev);
    /* Describes the slot to the guest; read DEVICE(vdev)->res only. */
    void (*acpi_aml)(VirtioDevice *vdev, Aml *scope);
    void (*fdt_node)(VirtioDevice *vdev, FdtBuilder *b);
} VirtioTransportOps;

#endif
