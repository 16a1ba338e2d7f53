/*
 * The KVM system and VM file descriptors: open /dev/kvm, check the API and
 * the capabilities vmspec needs, create the VM, and the VM-wide ioctls
 * (interrupt lines, irqfd, ioeventfd, x86 platform setup).
 * References are to Documentation/virt/kvm/api.rst ("api.rst").
 */
#ifndef VMSPEC_KVM_KVM_H
#define VMSPEC_KVM_KVM_H

#include <errno.h>
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * The end of the message for a KVM ioctl that failed with err: when err is
 * ENOTTY, KVM's answer to an ioctl it does not have, " (this KVM lacks
 * CAP)", else "".  For the capabilities that kvm_vm_new() does not check
 * up front, where the ioctl is the check.  cap is a string literal.
 */
#define KVM_LACKS(err, cap) ((err) == ENOTTY ? " (this KVM lacks " cap ")" : "")

typedef struct KvmVm {
    int sys_fd;             /* /dev/kvm */
    int vm_fd;              /* from KVM_CREATE_VM */
    int vcpu_mmap_size;     /* KVM_GET_VCPU_MMAP_SIZE: kvm_run + pages */
} KvmVm;

/*
 * Opens dev_path (NULL: "/dev/kvm"), checks KVM_GET_API_VERSION == 12 and
 * the capabilities no ioctl would report missing (named in the error; see
 * kvm.c), and creates an empty VM.  Errors: "cannot open /dev/kvm: ..."
 * (VMSPEC_ERROR_NOT_FOUND when it does not exist, VMSPEC_ERROR_KVM
 * otherwise).  Returns a new KvmVm owned by the caller (kvm_vm_free).
 * Main thread.
 */
KvmVm *kvm_vm_new(const char *dev_path, GError **errp);

/* Closes the VM and /dev/kvm.  vCPUs must be gone (their fds closed). */
void kvm_vm_free(KvmVm *vm);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvmVm, kvm_vm_free)

/*
 * x86 platform: KVM_SET_TSS_ADDR (3 pages at tss_addr),
 * KVM_SET_IDENTITY_MAP_ADDR (1 page), and, when irqchip is true,
 * KVM_CREATE_IRQCHIP (PIC + IOAPIC + per-vCPU LAPIC) and KVM_CREATE_PIT2
 * (i8254, speaker port left to user space).  Must run before any vCPU is
 * created.  Main thread.
 */
bool kvm_vm_setup_x86(KvmVm *vm, uint64_t tss_addr,
                      uint64_t identity_map_addr, bool irqchip,
                      GError **errp);

/* Drives interrupt line gsi of the in-kernel irqchip high or low
 * (KVM_IRQ_LINE).  Any thread. */
bool kvm_vm_set_irq_line(KvmVm *vm, uint32_t gsi, bool level, GError **errp);

/*
 * KVM_IRQFD: a write to eventfd fd injects gsi.  resample_fd >= 0 makes it
 * a level-triggered irqfd (KVM_IRQFD_FLAG_RESAMPLE: KVM signals
 * resample_fd on EOI).  deassign removes a previous assignment.  The caller
 * keeps owning the fds.  Any thread.
 */
bool kvm_vm_irqfd(KvmVm *vm, int fd, uint32_t gsi, int resample_fd,
                  bool deassign, GError **errp);

/*
 * KVM_IOEVENTFD: a guest write of len bytes (1, 2, 4, 8; 0 = any) to addr
 * (port I/O when pio) signals eventfd fd instead of exiting to user space;
 * with match_data only when the value written equals datamatch.  The
 * caller keeps owning fd.  Any thread.
 */
bool kvm_vm_ioeventfd(KvmVm *vm, int fd, uint64_t addr, uint32_t len,
                      bool pio, bool match_data, uint64_t datamatch,
                      bool deassign, GError **errp);

#endif
