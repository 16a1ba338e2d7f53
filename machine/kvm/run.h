/*
 * Running a realized machine: start its vCPU threads, wait on the main
 * thread until the VM ends (a VmExit request) or a signal arrives, then
 * stop and join every vCPU.  Architecture-neutral.
 */
#ifndef VMSPEC_KVM_RUN_H
#define VMSPEC_KVM_RUN_H

#include "machine/kvm/vm-exit.h"
#include "machine/qom/machine.h"

typedef struct MachineOutcome {
    VmExitReason reason;    /* VM_EXIT_NONE when a signal ended the run */
    int signal;             /* the signal, or 0 */
    char *detail;           /* what the requester said, or NULL; owned */
} MachineOutcome;

/* Frees what an outcome owns. */
void machine_outcome_clear(MachineOutcome *out);

/*
 * Starts every vCPU of ms and waits for the first of: a VmExit request,
 * a signal on signal_fd (a signalfd; -1: none).  Then stops and joins all
 * vCPUs: when it returns, no vCPU thread is left.  For a crash the detail
 * holds the crashed vCPU's register dump.  Fails (with *out untouched) only if
 * a vCPU thread can't be started.  Main thread.
 */
bool machine_run(MachineState *ms, int signal_fd, MachineOutcome *out,
                 GError **errp);

#endif
