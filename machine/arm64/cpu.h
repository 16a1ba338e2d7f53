/*
 * arm64 vCPU setup through KVM (aarch64 hosts only): KVM_ARM_VCPU_INIT
 * with PSCI, the MPIDR the guest sees, and the boot CPU's entry registers
 * (Documentation/arch/arm64/booting.rst).  Sections named are those of
 * Documentation/virt/kvm/api.rst.
 */
#ifndef VMSPEC_ARM64_CPU_H
#define VMSPEC_ARM64_CPU_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "machine/kvm/kvm.h"

/*
 * KVM_ARM_PREFERRED_TARGET, then KVM_ARM_VCPU_INIT on vcpu_fd with PSCI
 * 0.2+ (KVM handles PSCI calls; SYSTEM_OFF / SYSTEM_RESET come back as
 * KVM_EXIT_SYSTEM_EVENT).  Every vCPU but 0 starts powered off, waiting
 * for the guest's PSCI CPU_ON.
 */
bool arm64_cpu_init(KvmVm *vm, int vcpu_fd, unsigned id, GError **errp);

/* The vCPU's MPIDR_EL1 (its affinity: the device tree's cpu reg). */
bool arm64_cpu_get_mpidr(int vcpu_fd, uint64_t *mpidr, GError **errp);

/* Boot CPU state per booting.rst 5: PC at the Image, x0 = the device
 * tree, x1-x3 = 0, EL1h with DAIF masked. */
bool arm64_cpu_set_boot_regs(int vcpu_fd, uint64_t pc, uint64_t dtb,
                             GError **errp);

#endif
