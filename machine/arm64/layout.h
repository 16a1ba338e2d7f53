/*
 * Every guest-physical address and interrupt of the arm64 virt machine.
 * One definition, one comment: nothing else in the tree hard-codes these.
 * The map follows the shape Linux knows from other arm64 VMMs (devices
 * below 1 GiB, RAM from 1 GiB), though the guest learns all of it from the
 * device tree.
 *
 *   0x08000000 .. 0x0800ffff  GIC distributor (64 KiB)
 *   0x08010000 .. 0x08011fff  GICv2 CPU interface (when the host has no v3)
 *   0x080a0000 .. 0x08ffffff  GICv3 redistributors, 128 KiB per vCPU
 *   0x09000000 .. 0x09000fff  16550A UART (the console)
 *   0x0a000000 .. 0x0a003fff  virtio-mmio slots, 512 bytes each
 *   0x40000000 ..             RAM: kernel at the start, initrd and the
 *                             device tree at the top
 */
#ifndef VMSPEC_ARM64_LAYOUT_H
#define VMSPEC_ARM64_LAYOUT_H

/* ---- Interrupt controller ---- */

#define ARM64_GIC_DIST_BASE         0x08000000ULL
#define ARM64_GIC_DIST_SIZE         0x10000ULL
#define ARM64_GICV2_CPU_BASE        0x08010000ULL
#define ARM64_GICV2_CPU_SIZE        0x2000ULL
/* GICv3: one redistributor per vCPU, two 64 KiB frames each (RD_base and
 * SGI_base; GICv3 architecture spec, 12.10). */
#define ARM64_GICV3_REDIST_BASE     0x080a0000ULL
#define ARM64_GICV3_REDIST_STRIDE   0x20000ULL
#define ARM64_GICV3_REDIST_END      0x09000000ULL
/* vCPUs the redistributor window holds: (END - BASE) / STRIDE = 123. */
#define ARM64_GICV3_MAX_CPUS        123
/* A GICv2 distributor targets at most 8 CPU interfaces. */
#define ARM64_GICV2_MAX_CPUS        8
/* Interrupt IDs the in-kernel GIC implements: 32 private (SGI + PPI)
 * and 96 SPIs; a multiple of 32 (api.rst, KVM_DEV_ARM_VGIC_GRP_NR_IRQS). */
#define ARM64_GIC_NR_IRQS           128
#define ARM64_GIC_NR_SPIS           (ARM64_GIC_NR_IRQS - 32)
/* Device tree phandle of the GIC, the root's interrupt-parent. */
#define ARM64_GIC_PHANDLE           1

/* Generic timer PPIs (interrupt ID - 16): KVM's defaults, which are the
 * ones the Arm Base System Architecture recommends: secure physical 29,
 * non-secure physical 30, virtual 27, hypervisor 26. */
#define ARM64_TIMER_PPI_SEC_PHYS    13
#define ARM64_TIMER_PPI_PHYS        14
#define ARM64_TIMER_PPI_VIRT        11
#define ARM64_TIMER_PPI_HYP         10

/* ---- Devices ---- */

#define ARM64_UART_BASE             0x09000000ULL
#define ARM64_UART_SPI              1
/* virtio-mmio slot i: BASE + i * SIZE, edge-triggered SPI FIRST_SPI + i. */
#define ARM64_VIRTIO_MMIO_BASE      0x0a000000ULL
#define ARM64_VIRTIO_MMIO_SLOT_SIZE 0x200ULL
#define ARM64_VIRTIO_MMIO_SLOTS     32
#define ARM64_VIRTIO_MMIO_FIRST_SPI 16

/* ---- RAM ---- */

#define ARM64_RAM_BASE              0x40000000ULL
/* KVM's default IPA space is 40 bits (api.rst KVM_CREATE_VM, "Arm64"):
 * RAM must end below 1 TiB. */
#define ARM64_IPA_LIMIT             (1ULL << 40)
#define ARM64_RAM_MAX               (ARM64_IPA_LIMIT - ARM64_RAM_BASE)

#endif
