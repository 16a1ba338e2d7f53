/*
 * The in-kernel GIC (see gic.h).  References: Documentation/virt/kvm/
 * devices/arm-vgic-v3.rst ("vgic-v3.rst") and arm-vgic.rst (v2).
 */
#include "machine/arm64/gic.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "machine/arm64/layout.h"
#include "machine/qom/error.h"

struct Arm64Gic {
    int fd;
    unsigned version;
};

static bool set_attr(Arm64Gic *gic, uint32_t group, uint64_t attr,
                     const void *value, const char *what, GError **errp)
{
    struct kvm_device_attr a = {
        .group = group,
        .attr = attr,
        .addr = (uintptr_t)value,
    };

    if (ioctl(gic->fd, KVM_SET_DEVICE_ATTR, &a) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "GICv%u %s: %s", gic->version, what, g_strerror(errno));
        return false;
    }
    return true;
}

static bool set_addr(Arm64Gic *gic, uint64_t type, uint64_t addr,
                     const char *what, GError **errp)
{
    return set_attr(gic, KVM_DEV_ARM_VGIC_GRP_ADDR, type, &addr, what, errp);
}

static int create_device(KvmVm *vm, uint32_t type)
{
    struct kvm_create_device dev = { .type = type };

    return ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &dev) < 0 ? -1 : (int)dev.fd;
}

Arm64Gic *arm64_gic_new(KvmVm *vm, unsigned cpus, GError **errp)
{
    Arm64Gic *gic = g_new0(Arm64Gic, 1);
    uint32_t nr_irqs = ARM64_GIC_NR_IRQS;
    bool ok;

    gic->version = 3;
    gic->fd = create_device(vm, KVM_DEV_TYPE_ARM_VGIC_V3);
    if (gic->fd < 0 && errno == ENODEV && cpus <= ARM64_GICV2_MAX_CPUS) {
        /* A GICv2-only host (e.g. Cortex-A53/A72 boards). */
        gic->version = 2;
        gic->fd = create_device(vm, KVM_DEV_TYPE_ARM_VGIC_V2);
    }
    if (gic->fd < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "cannot create the in-kernel GIC: %s%s",
                    g_strerror(errno),
                    errno == ENODEV ? " (this host has no GICv3, and a GICv2 "
                    "serves at most 8 vCPUs)" : "");
        g_free(gic);
        return NULL;
    }
    if (gic->version == 3) {
        ok = set_addr(gic, KVM_VGIC_V3_ADDR_TYPE_DIST, ARM64_GIC_DIST_BASE,
                      "distributor address", errp) &&
             set_addr(gic, KVM_VGIC_V3_ADDR_TYPE_REDIST,
                      ARM64_GICV3_REDIST_BASE, "redistributor address",
                      errp);
    } else {
        ok = set_addr(gic, KVM_VGIC_V2_ADDR_TYPE_DIST, ARM64_GIC_DIST_BASE,
                      "distributor address", errp) &&
             set_addr(gic, KVM_VGIC_V2_ADDR_TYPE_CPU, ARM64_GICV2_CPU_BASE,
                      "CPU interface address", errp);
    }
    /* vgic-v3.rst KVM_DEV_ARM_VGIC_GRP_NR_IRQS, then _CTRL_INIT, which
     * "must be called after all VCPUs have been created". */
    ok = ok && set_attr(gic, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs,
                        "number of interrupts", errp) &&
         set_attr(gic, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT,
                  NULL, "initialization", errp);
    if (!ok) {
        arm64_gic_free(gic);
        return NULL;
    }
    return gic;
}

unsigned arm64_gic_version(const Arm64Gic *gic)
{
    return gic->version;
}

void arm64_gic_free(Arm64Gic *gic)
{
    if (gic) {
        close(gic->fd);
        g_free(gic);
    }
}

bool arm64_gic_set_spi(KvmVm *vm, unsigned spi, bool level, GError **errp)
{
    /* api.rst 4.25 KVM_IRQ_LINE, ARM64: irq_type in bits 24-31 (1: an
     * in-kernel GIC SPI), the interrupt ID (>= 32) in bits 0-15. */
    uint32_t irq = (uint32_t)KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT |
                   (32 + spi) << KVM_ARM_IRQ_NUM_SHIFT;

    return kvm_vm_set_irq_line(vm, irq, level, errp);
}
