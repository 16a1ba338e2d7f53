/*
 * /dev/kvm, the VM fd and VM-wide ioctls.  Sections named below are those
 * of Documentation/virt/kvm/api.rst.
 */
#include "machine/kvm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "machine/qom/error.h"

/* api.rst 4.1 KVM_GET_API_VERSION: "Applications should refuse to run if
 * KVM_GET_API_VERSION returns a value other than 12." */
#define KVM_EXPECTED_API_VERSION 12

typedef struct KvmCap {
    unsigned cap;
    const char *name;
    const char *why;
} KvmCap;

/*
 * The capabilities checked up front: those whose absence no ioctl would
 * report.  Without KVM_CAP_IMMEDIATE_EXIT (Linux 4.11) KVM ignores
 * kvm_run.immediate_exit and a vCPU asked to stop may enter the guest
 * again and never come back (vcpu.h).
 *
 * Everything else vmspec uses is its own ioctl, present on every x86 KVM
 * since Linux 2.6.32 (user memory regions, irqchip, PIT2, TSS and identity
 * map addresses, CPUID2, irqfd, ioeventfd): the ioctl itself is the check.
 * A KVM without one answers ENOTTY, and the error names the ioctl and, by
 * KVM_LACKS(), the capability.  One KVM_CHECK_EXTENSION each for those
 * was eight system calls on every start for kernels no one runs.
 */
static const KvmCap required_caps[] = {
    { KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "stopping vCPUs" },
#if defined(__aarch64__)
    /* Features KVM_ARM_VCPU_INIT and KVM_CREATE_DEVICE would refuse with
     * a bare EINVAL/ENODEV; named here instead. */
    { KVM_CAP_ARM_PSCI_0_2, "KVM_CAP_ARM_PSCI_0_2", "PSCI (SMP, power)" },
    { KVM_CAP_DEVICE_CTRL, "KVM_CAP_DEVICE_CTRL", "in-kernel GIC" },
    { KVM_CAP_ONE_REG, "KVM_CAP_ONE_REG", "vCPU registers" },
#endif
};

KvmVm *kvm_vm_new(const char *dev_path, GError **errp)
{
    g_autoptr(KvmVm) vm = g_new0(KvmVm, 1);
    int ret;

    vm->sys_fd = -1;
    vm->vm_fd = -1;
    if (!dev_path) {
        dev_path = "/dev/kvm";
    }
    vm->sys_fd = open(dev_path, O_RDWR | O_CLOEXEC);
    if (vm->sys_fd < 0) {
        int err = errno;

        g_set_error(errp, VMSPEC_ERROR,
                    err == ENOENT ? VMSPEC_ERROR_NOT_FOUND : VMSPEC_ERROR_KVM,
                    "cannot open %s: %s", dev_path, g_strerror(err));
        return NULL;
    }

    /* api.rst 4.1 KVM_GET_API_VERSION */
    ret = ioctl(vm->sys_fd, KVM_GET_API_VERSION, 0);
    if (ret != KVM_EXPECTED_API_VERSION) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "%s: KVM API version %d, vmspec needs %d", dev_path,
                    ret, KVM_EXPECTED_API_VERSION);
        return NULL;
    }

    /* api.rst 4.4 KVM_CHECK_EXTENSION (system ioctl) */
    for (size_t i = 0; i < G_N_ELEMENTS(required_caps); i++) {
        const KvmCap *c = &required_caps[i];

        if (ioctl(vm->sys_fd, KVM_CHECK_EXTENSION, c->cap) <= 0) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                        "%s lacks %s (needed for %s)", dev_path, c->name,
                        c->why);
            return NULL;
        }
    }

    /* api.rst 4.5 KVM_GET_VCPU_MMAP_SIZE */
    vm->vcpu_mmap_size = ioctl(vm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vm->vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_GET_VCPU_MMAP_SIZE: %s",
                    vm->vcpu_mmap_size < 0 ? g_strerror(errno) : "too small");
        return NULL;
    }

    /* api.rst 4.2 KVM_CREATE_VM, machine type 0 (default).  It can fail
     * with EINTR when a signal arrives during creation: retry. */
    do {
        vm->vm_fd = ioctl(vm->sys_fd, KVM_CREATE_VM, 0);
    } while (vm->vm_fd < 0 && errno == EINTR);
    if (vm->vm_fd < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_CREATE_VM: %s", g_strerror(errno));
        return NULL;
    }
    /* KVM creates its fds with O_CLOEXEC already (anon_inode_getfd with
     * O_CLOEXEC), so nothing leaks into child processes. */
    return g_steal_pointer(&vm);
}

void kvm_vm_free(KvmVm *vm)
{
    if (!vm) {
        return;
    }
    if (vm->vm_fd >= 0) {
        close(vm->vm_fd);
    }
    if (vm->sys_fd >= 0) {
        close(vm->sys_fd);
    }
    g_free(vm);
}

#if defined(__x86_64__)
bool kvm_vm_setup_x86(KvmVm *vm, uint64_t tss_addr,
                      uint64_t identity_map_addr, bool irqchip,
                      GError **errp)
{
    /* api.rst KVM_SET_TSS_ADDR: three pages below 4 GiB, not RAM. */
    if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)tss_addr) < 0) {
        int err = errno;

        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_SET_TSS_ADDR: %s%s", g_strerror(err),
                    KVM_LACKS(err, "KVM_CAP_SET_TSS_ADDR"));
        return false;
    }
    /* api.rst KVM_SET_IDENTITY_MAP_ADDR: one page, before vCPUs. */
    if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity_map_addr) < 0) {
        int err = errno;

        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_SET_IDENTITY_MAP_ADDR: %s%s", g_strerror(err),
                    KVM_LACKS(err, "KVM_CAP_SET_IDENTITY_MAP_ADDR"));
        return false;
    }
    if (!irqchip) {
        return true;
    }
    /* api.rst KVM_CREATE_IRQCHIP: PIC, IOAPIC, and a local APIC per
     * vCPU created afterwards; GSIs 0-15 -> PIC+IOAPIC, 16-23 -> IOAPIC. */
    if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
        int err = errno;

        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_CREATE_IRQCHIP: %s%s", g_strerror(err),
                    KVM_LACKS(err, "KVM_CAP_IRQCHIP"));
        return false;
    }
    /* api.rst KVM_CREATE_PIT2.  KVM_PIT_SPEAKER_DUMMY makes KVM answer
     * port 0x61 itself, so the guest's PIT calibration loop does not exit
     * to user space on every poll. */
    struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
    if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
        int err = errno;

        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_CREATE_PIT2: %s%s", g_strerror(err),
                    KVM_LACKS(err, "KVM_CAP_PIT2"));
        return false;
    }
    return true;
}
#endif

bool kvm_vm_set_irq_line(KvmVm *vm, uint32_t gsi, bool level, GError **errp)
{
    /* api.rst KVM_IRQ_LINE */
    struct kvm_irq_level irq = { .irq = gsi, .level = level ? 1 : 0 };

    if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_IRQ_LINE gsi %u: %s", gsi, g_strerror(errno));
        return false;
    }
    return true;
}

bool kvm_vm_irqfd(KvmVm *vm, int fd, uint32_t gsi, int resample_fd,
                  bool deassign, GError **errp)
{
    /* api.rst KVM_IRQFD */
    struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi };

    if (deassign) {
        irqfd.flags |= KVM_IRQFD_FLAG_DEASSIGN;
    } else if (resample_fd >= 0) {
        irqfd.flags |= KVM_IRQFD_FLAG_RESAMPLE;
        irqfd.resamplefd = (uint32_t)resample_fd;
    }
    if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
        int err = errno;

        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_IRQFD gsi %u: %s%s", gsi, g_strerror(err),
                    KVM_LACKS(err, "KVM_CAP_IRQFD"));
        return false;
    }
    return true;
}

bool kvm_vm_ioeventfd(KvmVm *vm, int fd, uint64_t addr, uint32_t len,
                      bool pio, bool match_data, uint64_t datamatch,
                      bool deassign, GError **errp)
{
    /* api.rst KVM_IOEVENTFD */
    struct kvm_ioeventfd ev = {
        .datamatch = datamatch,
        .addr = addr,
        .len = len,
        .fd = fd,
    };

    if (pio) {
        ev.flags |= KVM_IOEVENTFD_FLAG_PIO;
    }
    if (match_data) {
        ev.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
    }
    if (deassign) {
        ev.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
    }
    if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &ev) < 0) {
        int err = errno;

        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_IOEVENTFD %s 0x%" G_GINT64_MODIFIER "x: %s%s",
                    pio ? "port" : "mmio", addr, g_strerror(err),
                    KVM_LACKS(err, "KVM_CAP_IOEVENTFD"));
        return false;
    }
    return true;
}
