/*
 * kvm-hold: holds one KVM VM open until killed: an in-kernel irqchip and
 * one vCPU that never runs.  tests/kvm-sandbox starts it in its emulated
 * machine before CMD.
 *
 * Linux (6.1 in the sandbox) switches parts of KVM's global state on when
 * the first VM, or vCPU, needs them and off again after the last:
 *   - virtualization on every CPU (EFER.SVME and the host save area), by
 *     a cross-CPU call (kvm_main.c, hardware_enable_all());
 *   - the preempt notifiers' static key, whose jump sites are in the
 *     scheduler's context switch: flipping it patches __schedule() while
 *     the other CPUs run it (text_poke_bp(): INT3, then IPIs to sync);
 *   - KVM's static key for software-disabled local APICs (each vCPU's is,
 *     from reset until its guest enables it), which patches KVM's own
 *     code under the other vCPU threads.
 * A test script booting VMs one after another did all of it at every VM.
 * Under QEMU 7.2's multi-threaded TCG that now and then never completes:
 * the sandbox froze with one CPU spinning in smp_call_function_many()
 * (its EFER.SVME already clear) and the other looping at the jump site in
 * __schedule().  While this VM is open none of it happens again, as on
 * hosts whose KVM enables virtualization at load (kvm.enable_virt_at_load,
 * the default since Linux 6.12); its vCPU's APIC stays software-disabled.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    int vm;

    if (kvm < 0) {
        perror("kvm-hold: /dev/kvm");
        return 1;
    }
    vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) {
        perror("kvm-hold: KVM_CREATE_VM");
        return 1;
    }
    if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0 ||
        ioctl(vm, KVM_CREATE_VCPU, 0) < 0) {
        perror("kvm-hold: the vCPU");
        return 1;
    }
    for (;;) {
        pause();
    }
}
