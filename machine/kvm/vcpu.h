/*
 * A vCPU: its KVM fd, its shared kvm_run page and the thread that runs
 * KVM_RUN and dispatches exits (port I/O and MMIO to the two I/O buses;
 * the exits that end the VM to a RunEnd).
 *
 * Stopping.  vcpu_request_stop() sets a stop flag and kvm_run's
 * immediate_exit, then sends the thread VCPU_KICK_SIGNAL.  The vCPU
 * thread keeps every signal blocked, and uses KVM_SET_SIGNAL_MASK so that
 * only the kick signal is unblocked while inside KVM_RUN.  So:
 *   - in guest mode: the signal makes KVM_RUN return EINTR at once;
 *   - in user space (handling an exit): the signal stays pending (device
 *     callbacks never see EINTR) and the next KVM_RUN returns at once,
 *     both because of immediate_exit (api.rst KVM_CAP_IMMEDIATE_EXIT) and
 *     because the pending signal becomes deliverable;
 *   - between the flag check and the ioctl: same as above.
 * The handler is a no-op installed by vcpu_start(); it never actually
 * runs on a vCPU thread (the signal is always blocked when KVM returns to
 * user space), it only guards against the default action (terminate) if
 * the signal ever reached another thread.  No signal is lost, no wait is
 * unbounded.
 */
#ifndef VMSPEC_KVM_VCPU_H
#define VMSPEC_KVM_VCPU_H

#include <glib.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "machine/kvm/iobus.h"
#include "machine/kvm/kvm.h"
#include "machine/kvm/run-end.h"

/* The real-time signal used to kick vCPU threads out of KVM_RUN. */
#define VCPU_KICK_SIGNAL (SIGRTMIN)

typedef struct Vcpu Vcpu;

/*
 * Creates vCPU id (KVM_CREATE_VCPU; on x86 the id is the initial APIC id)
 * and maps its kvm_run.  pio/mmio receive KVM_EXIT_IO / KVM_EXIT_MMIO;
 * run_end receives the exits that end the run.  All three are borrowed and
 * must outlive the vCPU.  Caller owns the result (vcpu_free).  Main
 * thread, after the irqchip is created.
 */
Vcpu *vcpu_new(KvmVm *vm, unsigned id, IoBus *pio, IoBus *mmio,
               RunEnd *run_end, GError **errp);

/* The vCPU fd, for per-vCPU setup ioctls before vcpu_start(); borrowed. */
int vcpu_fd(const Vcpu *v);

/* Starts the vCPU thread ("vcpuN") running the KVM_RUN loop.  The thread
 * ends when stopped or when an exit ends the VM.  Main thread, once. */
bool vcpu_start(Vcpu *v, GError **errp);

/* Asks the vCPU thread to leave KVM_RUN and end.  Returns at once; any
 * thread (including the vCPU's own); idempotent.  Must not race with
 * vcpu_free() of the same vCPU. */
void vcpu_request_stop(Vcpu *v);

/* Waits for the vCPU thread to end (a no-op if it never started or was
 * already joined).  Does not stop it: call vcpu_request_stop() first, or
 * wait for an exit that ends the VM.  Owner thread only. */
void vcpu_join(Vcpu *v);

/* Starts the thread of a vCPU that was stopped and joined again (resume
 * after pause).  Owner thread only. */
bool vcpu_restart(Vcpu *v, GError **errp);

/* True once the vCPU thread has left its loop (it may still be exiting).
 * Any thread. */
bool vcpu_finished(Vcpu *v);

/* Number of KVM_RUN returns handled so far.  Any thread (approximate). */
uint64_t vcpu_exit_count(Vcpu *v);

/*
 * A multi-line register dump: a "vCPU N registers:" line, then what
 * vcpu_arch_dump_regs() gives.  From the vCPU's own thread, or from the
 * owner while the thread is not running.  Caller frees.
 */
char *vcpu_dump_regs(Vcpu *v);

/* Stops and joins the thread, unmaps kvm_run and closes the fd.  Owner. */
void vcpu_free(Vcpu *v);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Vcpu, vcpu_free)

#endif
