/*
 * Starting, stopping and pausing a machine's vCPUs.
 */
#include "machine/kvm/run.h"
#include "machine/kvm/vcpu.h"

void machine_stop(MachineState *ms)
{
    for (guint i = 0; i < ms->vcpus->len; i++) {
        vcpu_request_stop(ms->vcpus->pdata[i]);
    }
    for (guint i = 0; i < ms->vcpus->len; i++) {
        vcpu_join(ms->vcpus->pdata[i]);
    }
}

bool machine_start(MachineState *ms, GError **errp)
{
    for (guint i = 0; i < ms->vcpus->len; i++) {
        if (!vcpu_start(ms->vcpus->pdata[i], errp)) {
            machine_stop(ms);
            return false;
        }
    }
    return true;
}

void machine_pause(MachineState *ms)
{
    machine_stop(ms);
}

bool machine_resume(MachineState *ms, GError **errp)
{
    for (guint i = 0; i < ms->vcpus->len; i++) {
        if (!vcpu_restart(ms->vcpus->pdata[i], errp)) {
            machine_stop(ms);
            return false;
        }
    }
    return true;
}
