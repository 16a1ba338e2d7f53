/*
 * Running a realized machine: its vCPU threads start, and stop (all of
 * them, joined) on request; pause is a stop that keeps the machine
 * realized, resume starts the same vCPUs again.  The owner's main loop
 * waits on the RunEnd's eventfd for the guest to end the run.
 * Architecture-neutral; main thread only.
 */
#ifndef VMSPEC_KVM_RUN_H
#define VMSPEC_KVM_RUN_H

#include "machine/kvm/run-end.h"
#include "machine/qom/machine.h"

/* Starts every vCPU.  On failure the ones started are stopped again. */
bool machine_start(MachineState *ms, GError **errp);

/* Stops and joins every vCPU: when it returns no vCPU thread is left.
 * Idempotent. */
void machine_stop(MachineState *ms);

/* Pause: vCPUs stopped, devices untouched.  Resume: the same vCPUs run
 * again from where they were. */
void machine_pause(MachineState *ms);
bool machine_resume(MachineState *ms, GError **errp);

#endif
