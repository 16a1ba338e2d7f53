/*
 * The main thread's side of a running VM.
 */
#include <errno.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "machine/kvm/run.h"
#include "machine/kvm/vcpu.h"

void machine_outcome_clear(MachineOutcome *out)
{
    g_clear_pointer(&out->detail, g_free);
}

static void stop_vcpus(MachineState *ms)
{
    for (guint i = 0; i < ms->vcpus->len; i++) {
        vcpu_request_stop(ms->vcpus->pdata[i]);
    }
    for (guint i = 0; i < ms->vcpus->len; i++) {
        vcpu_join(ms->vcpus->pdata[i]);
    }
}

/* Waits until the VM asks to end or a signal comes; returns the signal
 * number, or 0 for a VmExit request. */
static int wait_for_end(MachineState *ms, int signal_fd)
{
    struct pollfd fds[2] = {
        { .fd = vm_exit_fd(ms->exit), .events = POLLIN },
        { .fd = signal_fd, .events = POLLIN },
    };

    for (;;) {
        if (poll(fds, signal_fd >= 0 ? 2 : 1, -1) < 0) {
            g_assert(errno == EINTR);
            continue;
        }
        if (fds[0].revents) {
            return 0;
        }
        if (fds[1].revents) {
            struct signalfd_siginfo info;

            if (read(signal_fd, &info, sizeof(info)) == sizeof(info)) {
                return (int)info.ssi_signo;
            }
        }
    }
}

bool machine_run(MachineState *ms, int signal_fd, MachineOutcome *out,
                 GError **errp)
{
    g_autofree char *detail = NULL;
    int signal;

    for (guint i = 0; i < ms->vcpus->len; i++) {
        if (!vcpu_start(ms->vcpus->pdata[i], errp)) {
            stop_vcpus(ms);
            return false;
        }
    }
    signal = wait_for_end(ms, signal_fd);
    stop_vcpus(ms);

    *out = (MachineOutcome){ .signal = signal };
    out->reason = vm_exit_get(ms->exit, &detail);
    if (signal) {
        /* A request that raced with the signal still counts; the signal
         * decides the exit status. */
        out->reason = VM_EXIT_NONE;
    }
    /* A crash's detail already holds the vCPU's register dump. */
    out->detail = g_steal_pointer(&detail);
    return true;
}
