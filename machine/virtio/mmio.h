/*
 * The virtio-mmio transport (virtio 1.2, 4.2 "Virtio Over MMIO"), modern
 * interface only (Version 2, VIRTIO_F_VERSION_1 required).  One register
 * window per device in a slot the machine hands out; QueueNotify writes
 * arrive as KVM ioeventfds on the device's I/O thread, interrupts go out
 * through a KVM irqfd on the slot's GSI.
 */
#ifndef VMSPEC_VIRTIO_MMIO_H
#define VMSPEC_VIRTIO_MMIO_H

#include "machine/virtio/virtio.h"

typedef struct Aml Aml;

/* 4.2.2 InterruptStatus bits. */
#define VIRTIO_MMIO_INT_VRING   1   /* used buffer notification */
#define VIRTIO_MMIO_INT_CONFIG  2   /* configuration change */

/* The register window's size (4.2.2: config space at 0x100). */
#define VIRTIO_MMIO_CONFIG_OFFSET 0x100

/* Allocates a slot from vdev's machine and wires the window, ioeventfds
 * and irqfd.  Main thread, from the virtio base's realize. */
bool virtio_mmio_realize(VirtioDevice *vdev, GError **errp);
void virtio_mmio_unrealize(VirtioDevice *vdev);

/* Raises the slot's interrupt with InterruptStatus |= isr_bits (bit 0 used
 * buffer, bit 1 configuration change).  Any thread. */
void virtio_mmio_interrupt(VirtioDevice *vdev, uint32_t isr_bits);

/* The slot's window base and GSI (0 before realize).  For tests and the
 * device's own diagnostics. */
uint64_t virtio_mmio_base(VirtioDevice *vdev);
uint32_t virtio_mmio_gsi(VirtioDevice *vdev);

/* The DSDT entry for the slot (_HID LNRO0005, its window and GSI). */
void virtio_mmio_acpi_aml(VirtioDevice *vdev, Aml *scope);

/* The device tree node for the slot ("virtio,mmio", its window, its SPI).
 * Before realize (vmspec plan --dtb) the slot is asked of the machine in
 * tree order, as realize would. */
void virtio_mmio_fdt_node(VirtioDevice *vdev, FdtBuilder *b);

#endif
