/*
 * A run-end request: how vCPU threads and devices tell the main thread
 * that the VM is over (poweroff, reset, crash).  The first request wins;
 * later ones are ignored.  The main thread polls an eventfd.
 */
#ifndef VMSPEC_KVM_RUN_END_H
#define VMSPEC_KVM_RUN_END_H

#include <glib.h>
#include <stdbool.h>

typedef enum {
    RUN_END_NONE,           /* still running */
    RUN_END_POWEROFF,       /* guest powered off (ACPI S5, system event) */
    RUN_END_RESET,          /* guest asked for a reboot (i8042, event) */
    RUN_END_HALT,           /* HLT with no in-kernel irqchip to wake it */
    RUN_END_PANIC,          /* guest kernel panic (pvpanic, system event) */
    RUN_END_CRASH,          /* triple fault, KVM internal error, bad entry */
    RUN_END_ERROR,          /* a host-side failure (KVM_RUN errno, ...) */
    RUN_END_QUIT,           /* the user asked to stop (console Ctrl-A x) */
} RunEndReason;

typedef struct RunEnd RunEnd;

/* New request object with its eventfd (EFD_CLOEXEC | EFD_NONBLOCK).
 * Caller owns (run_end_free). */
RunEnd *run_end_new(GError **errp);
void run_end_free(RunEnd *e);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(RunEnd, run_end_free)

/* The eventfd that becomes readable on the first request; borrowed. */
int run_end_fd(RunEnd *e);

/*
 * Records reason and detail (copied; e.g. a register dump, may be NULL)
 * if no request was made before, and signals the eventfd.  Returns true
 * when this call was the first.  Any thread; async-signal-unsafe.
 */
bool run_end_request(RunEnd *e, RunEndReason reason, const char *detail);

/*
 * What was booted where (e.g. the kernel's KASLR placement), copied; added
 * as a last line to the detail of a crash or halt, so that a register dump
 * can be read against the guest's symbols.  NULL: none.  Main thread,
 * before vCPUs run.
 */
void run_end_set_boot_note(RunEnd *e, const char *note);

/* The first reason (RUN_END_NONE if none yet); *detail (if non-NULL) gets
 * a new copy of its detail or NULL.  Any thread. */
RunEndReason run_end_get(RunEnd *e, char **detail);

/* A fixed English name for reason ("poweroff", "crash", ...). */
const char *run_end_reason_name(RunEndReason reason);

#endif
