/*
 * Starting, stopping and resuming a machine's vCPUs.
 */
#include "machine/kvm/run.h"
#include "machine/kvm/vcpu.h"

void machine_stop_vcpus(MachineState *ms)
{
    for (guint i = 0; i < ms->vcpus->len; i++) {
        vcpu_request_stop(ms->vcpus->pdata[i]);
    }
    for (guint i = 0; i < ms->vcpus->len; i++) {
        vcpu_join(ms->vcpus->pdata[i]);
    }
}

bool machine_start_vcpus(MachineState *ms, GError **errp)
{
    for (guint i = 0; i < ms->vcpus->len; i++) {
        if (!vcpu_start(ms->vcpus->pdata[i], errp)) {
            machine_stop_vcpus(ms);
            return false;
        }
    }
    return true;
}

bool machine_resume_vcpus(MachineState *ms, GError **errp)
{
    for (guint i = 0; i < ms->vcpus->len; i++) {
        if (!vcpu_restart(ms->vcpus->pdata[i], errp)) {
            machine_stop_vcpus(ms);
            return false;
        }
    }
    return true;
}
