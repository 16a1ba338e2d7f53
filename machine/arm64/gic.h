/*
 * The in-kernel GIC of an arm64 VM (aarch64 hosts only): a GICv3, or a
 * GICv2 where the host has no GICv3 (api.rst and
 * Documentation/virt/kvm/devices/arm-vgic-v3.rst, arm-vgic.rst).
 */
#ifndef VMSPEC_ARM64_GIC_H
#define VMSPEC_ARM64_GIC_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "machine/kvm/kvm.h"

typedef struct Arm64Gic Arm64Gic;

/*
 * Creates the GIC of vm (KVM_CREATE_DEVICE) at the layout.h addresses,
 * with ARM64_GIC_NR_IRQS interrupts, for cpus vCPUs: a GICv3 when KVM has
 * one, else a GICv2 when cpus fit in it.  Call after every vCPU was
 * created and initialized; the GIC is initialized here too.
 */
Arm64Gic *arm64_gic_new(KvmVm *vm, unsigned cpus, GError **errp);

/* 3 or 2. */
unsigned arm64_gic_version(const Arm64Gic *gic);

void arm64_gic_free(Arm64Gic *gic);

/* Drives SPI spi (0 = interrupt ID 32) high or low (KVM_IRQ_LINE). */
bool arm64_gic_set_spi(KvmVm *vm, unsigned spi, bool level, GError **errp);

#endif
