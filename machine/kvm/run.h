/*
 * Running a realized machine's vCPUs: their threads start, and stop (all
 * of them, joined) on request; the machine stays realized meanwhile, so
 * stopping is also how a run pauses, and the same vCPUs can be resumed
 * where they were.  The owner's main loop waits on the RunEnd's eventfd
 * for the guest to end the run.  Architecture-neutral; main thread only.
 */
#ifndef VMSPEC_KVM_RUN_H
#define VMSPEC_KVM_RUN_H

#include "machine/kvm/run-end.h"
#include "machine/qom/machine.h"

/* Starts every vCPU's thread.  On failure the ones started are stopped
 * again. */
bool machine_start_vcpus(MachineState *ms, GError **errp);

/* Stops and joins every vCPU thread: when it returns none is left.
 * Devices are untouched, so this both pauses a run (resume with
 * machine_resume_vcpus()) and ends one (then unrealize).  Idempotent. */
void machine_stop_vcpus(MachineState *ms);

/* Runs the vCPUs that machine_stop_vcpus() stopped again, from where they
 * were.  On failure every vCPU is stopped. */
bool machine_resume_vcpus(MachineState *ms, GError **errp);

#endif
