/*
 * The virtio-mmio transport (virtio 1.2, 4.2 "Virtio Over MMIO"), modern
 * interface only (Version 2, VIRTIO_F_VERSION_1 required).  One register
 * window per device in a slot the machine's assignment pass hands out;
 * QueueNotify writes arrive as KVM ioeventfds on the device's I/O thread,
 * interrupts go out through a KVM irqfd on the slot's GSI.
 */
#ifndef VMSPEC_VIRTIO_MMIO_H
#define VMSPEC_VIRTIO_MMIO_H

#include "machine/virtio/virtio.h"

/* 4.2.2 InterruptStatus bits. */
#define VIRTIO_MMIO_INT_VRING   1   /* used buffer notification */
#define VIRTIO_MMIO_INT_CONFIG  2   /* configuration change */

/* The register window's size (4.2.2: config space at 0x100). */
#define VIRTIO_MMIO_CONFIG_OFFSET 0x100

/* The transport's ops (transport.h), which a machine names in its
 * MachineLayout for the virtio slots it hands out. */
extern const VirtioTransportOps virtio_mmio_transport;

/* The slot's window base and interrupt line (0 before the assignment
 * pass).  For tests and the device's own diagnostics. */
uint64_t virtio_mmio_base(VirtioDevice *vdev);
uint32_t virtio_mmio_gsi(VirtioDevice *vdev);

#endif
