/*
 * A VM exit request: how vCPU threads and devices tell the main thread
 * that the VM is over (poweroff, reset, crash).  The first request wins;
 * later ones are ignored.  The main thread polls an eventfd.
 */
#ifndef VMSPEC_KVM_VM_EXIT_H
#define VMSPEC_KVM_VM_EXIT_H

#include <glib.h>
#include <stdbool.h>

typedef enum {
    VM_EXIT_NONE,           /* still running */
    VM_EXIT_POWEROFF,       /* guest powered off (ACPI S5, system event) */
    VM_EXIT_RESET,          /* guest asked for a reboot (i8042, event) */
    VM_EXIT_HALT,           /* HLT with no in-kernel irqchip to wake it */
    VM_EXIT_PANIC,          /* guest kernel panic (pvpanic, system event) */
    VM_EXIT_CRASH,          /* triple fault, KVM internal error, bad entry */
    VM_EXIT_ERROR,          /* a host-side failure (KVM_RUN errno, ...) */
    VM_EXIT_QUIT,           /* the user asked to stop (console Ctrl-A x) */
} VmExitReason;

typedef struct VmExit VmExit;

/* New request object with its eventfd (EFD_CLOEXEC | EFD_NONBLOCK).
 * Caller owns (vm_exit_free). */
VmExit *vm_exit_new(GError **errp);
void vm_exit_free(VmExit *e);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmExit, vm_exit_free)

/* The eventfd that becomes readable on the first request; borrowed. */
int vm_exit_fd(VmExit *e);

/*
 * Records reason and detail (copied; e.g. a register dump, may be NULL)
 * if no request was made before, and signals the eventfd.  Returns true
 * when this call was the first.  Any thread; async-signal-unsafe.
 */
bool vm_exit_request(VmExit *e, VmExitReason reason, const char *detail);

/*
 * What was booted where (e.g. the kernel's KASLR placement), copied; added
 * as a last line to the detail of a crash or halt, so that a register dump
 * can be read against the guest's symbols.  NULL: none.  Main thread,
 * before vCPUs run.
 */
void vm_exit_set_boot_note(VmExit *e, const char *note);

/* The first reason (VM_EXIT_NONE if none yet); *detail (if non-NULL) gets
 * a new copy of its detail or NULL.  Any thread. */
VmExitReason vm_exit_get(VmExit *e, char **detail);

/* A fixed English name for reason ("poweroff", "crash", ...). */
const char *vm_exit_reason_name(VmExitReason reason);

#endif
