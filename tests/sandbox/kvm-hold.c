/*
 * kvm-hold: holds one empty KVM VM open until killed.  tests/kvm-sandbox
 * starts it in its emulated machine before CMD.
 *
 * While no VM exists, Linux (6.1 in the sandbox) keeps KVM's global state
 * switched off, and the first VM created switches it on again; the last
 * one destroyed, off:
 *   - virtualization on every CPU (EFER.SVME and the host save area),
 *     through a cross-CPU call (kvm_main.c, hardware_enable_all());
 *   - the preempt notifiers' static key, whose jump sites sit in the
 *     scheduler's context switch: flipping it patches __schedule() while
 *     the other CPUs run it (text_poke_bp(): INT3, then IPIs to sync).
 * A test script that boots VMs one after another did both at every VM.
 * Under QEMU 7.2's multi-threaded TCG that now and then never completes:
 * the sandbox froze with one CPU spinning in smp_call_function_many()
 * (EFER.SVME already clear) and the other looping at the patched jump
 * site in __schedule().  With one VM always open, neither happens after
 * the first, as on hosts whose KVM enables virtualization at load
 * (kvm.enable_virt_at_load, the default since Linux 6.12).
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
    for (;;) {
        pause();
    }
}
