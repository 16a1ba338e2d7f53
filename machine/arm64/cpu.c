/*
 * arm64 vCPUs through KVM (see cpu.h).
 */
#include "machine/arm64/cpu.h"

#include <errno.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "machine/kvm/vcpu-arch.h"
#include "machine/qom/error.h"

/* api.rst 4.68 KVM_SET_ONE_REG, "ARM64 registers": core registers are
 * addressed by their 32-bit word offset in struct kvm_regs. */
#define CORE_REG(field)                                                     \
    (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |                  \
     (offsetof(struct kvm_regs, field) / sizeof(__u32)))

/* MPIDR_EL1: op0 3, op1 0, CRn 0, CRm 0, op2 5 (Arm ARM D19.2). */
#define MPIDR_EL1_REG   ARM64_SYS_REG(3, 0, 0, 0, 5)

/* PSTATE: EL1 using SP_EL1 (M[3:0] = 0b0101) with D, A, I, F masked. */
#define PSTATE_EL1H_DAIF    0x3c5ULL

static bool get_reg(int fd, uint64_t id, uint64_t *value, GError **errp)
{
    struct kvm_one_reg reg = { .id = id, .addr = (uintptr_t)value };

    if (ioctl(fd, KVM_GET_ONE_REG, &reg) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_GET_ONE_REG %#" G_GINT64_MODIFIER "x: %s", id,
                    g_strerror(errno));
        return false;
    }
    return true;
}

static bool set_reg(int fd, uint64_t id, uint64_t value, GError **errp)
{
    struct kvm_one_reg reg = { .id = id, .addr = (uintptr_t)&value };

    if (ioctl(fd, KVM_SET_ONE_REG, &reg) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_SET_ONE_REG %#" G_GINT64_MODIFIER "x: %s", id,
                    g_strerror(errno));
        return false;
    }
    return true;
}

bool arm64_cpu_init(KvmVm *vm, int vcpu_fd, unsigned id, GError **errp)
{
    struct kvm_vcpu_init init = { 0 };

    /* api.rst 4.83 KVM_ARM_PREFERRED_TARGET: the target that matches the
     * host CPU, with no features set. */
    if (ioctl(vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_ARM_PREFERRED_TARGET: %s", g_strerror(errno));
        return false;
    }
    /* api.rst 4.82 KVM_ARM_VCPU_INIT: PSCI_0_2 makes KVM implement PSCI
     * 0.2 and later (what the device tree's "arm,psci-0.2" promises);
     * POWER_OFF starts a secondary CPU off, so the guest brings it up
     * with CPU_ON. */
    init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
    if (id > 0) {
        init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
    }
    if (ioctl(vcpu_fd, KVM_ARM_VCPU_INIT, &init) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_ARM_VCPU_INIT (vCPU %u, target %u): %s", id,
                    init.target, g_strerror(errno));
        return false;
    }
    return true;
}

bool arm64_cpu_get_mpidr(int vcpu_fd, uint64_t *mpidr, GError **errp)
{
    return get_reg(vcpu_fd, MPIDR_EL1_REG, mpidr, errp);
}

bool arm64_cpu_set_boot_regs(int vcpu_fd, uint64_t pc, uint64_t dtb,
                             GError **errp)
{
    return set_reg(vcpu_fd, CORE_REG(regs.pstate), PSTATE_EL1H_DAIF, errp) &&
           set_reg(vcpu_fd, CORE_REG(regs.regs[0]), dtb, errp) &&
           set_reg(vcpu_fd, CORE_REG(regs.regs[1]), 0, errp) &&
           set_reg(vcpu_fd, CORE_REG(regs.regs[2]), 0, errp) &&
           set_reg(vcpu_fd, CORE_REG(regs.regs[3]), 0, errp) &&
           set_reg(vcpu_fd, CORE_REG(regs.pc), pc, errp);
}

void vcpu_arch_dump_regs(int vcpu_fd, GString *s)
{
    static const struct {
        const char *name;
        uint64_t id;
    } named[] = {
        { "PC", CORE_REG(regs.pc) },
        { "PSTATE", CORE_REG(regs.pstate) },
        { "SP_EL0", CORE_REG(regs.sp) },
        { "SP_EL1", CORE_REG(sp_el1) },
        { "ELR_EL1", CORE_REG(elr_el1) },
    };
    uint64_t v;

    for (size_t i = 0; i < G_N_ELEMENTS(named); i++) {
        if (get_reg(vcpu_fd, named[i].id, &v, NULL)) {
            g_string_append_printf(s, "%s=%016" G_GINT64_MODIFIER "x%s",
                                   named[i].name, v,
                                   i + 1 < G_N_ELEMENTS(named) ? " " : "\n");
        }
    }
    for (unsigned r = 0; r < 31; r++) {
        uint64_t id = CORE_REG(regs.regs[0]) + r * (sizeof(__u64) /
                                                    sizeof(__u32));

        if (get_reg(vcpu_fd, id, &v, NULL)) {
            g_string_append_printf(s, "X%-2u=%016" G_GINT64_MODIFIER "x%s",
                                   r, v, (r % 4 == 3 || r == 30) ? "\n" : " ");
        }
    }
}
