/* VM exit request: first reason wins, eventfd wakes the main loop. */
#include "machine/kvm/vm-exit.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "machine/qom/error.h"

struct VmExit {
    GMutex lock;
    VmExitReason reason;
    char *detail;
    char *boot_note;        /* set before vCPUs run, then read-only */
    int fd;
};

VmExit *vm_exit_new(GError **errp)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    VmExit *e;

    if (fd < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO, "eventfd: %s",
                    g_strerror(errno));
        return NULL;
    }
    e = g_new0(VmExit, 1);
    g_mutex_init(&e->lock);
    e->fd = fd;
    return e;
}

void vm_exit_free(VmExit *e)
{
    if (!e) {
        return;
    }
    close(e->fd);
    g_free(e->detail);
    g_free(e->boot_note);
    g_mutex_clear(&e->lock);
    g_free(e);
}

int vm_exit_fd(VmExit *e)
{
    return e->fd;
}

void vm_exit_set_boot_note(VmExit *e, const char *note)
{
    g_free(e->boot_note);
    e->boot_note = g_strdup(note);
}

bool vm_exit_request(VmExit *e, VmExitReason reason, const char *detail)
{
    uint64_t one = 1;
    bool first;

    g_assert(reason != VM_EXIT_NONE);
    g_mutex_lock(&e->lock);
    first = e->reason == VM_EXIT_NONE;
    if (first) {
        e->reason = reason;
        if (e->boot_note &&
            (reason == VM_EXIT_CRASH || reason == VM_EXIT_HALT)) {
            e->detail = g_strconcat(detail ? detail : "", e->boot_note, "\n",
                                    NULL);
        } else {
            e->detail = g_strdup(detail);
        }
    }
    g_mutex_unlock(&e->lock);
    if (first) {
        /* Cannot fail short of a counter overflow; nothing to do if so. */
        (void)!write(e->fd, &one, sizeof(one));
    }
    return first;
}

VmExitReason vm_exit_get(VmExit *e, char **detail)
{
    VmExitReason reason;

    g_mutex_lock(&e->lock);
    reason = e->reason;
    if (detail) {
        *detail = g_strdup(e->detail);
    }
    g_mutex_unlock(&e->lock);
    return reason;
}

const char *vm_exit_reason_name(VmExitReason reason)
{
    switch (reason) {
    case VM_EXIT_NONE:
        return "running";
    case VM_EXIT_POWEROFF:
        return "poweroff";
    case VM_EXIT_RESET:
        return "reset";
    case VM_EXIT_HALT:
        return "halt";
    case VM_EXIT_PANIC:
        return "panic";
    case VM_EXIT_CRASH:
        return "crash";
    case VM_EXIT_ERROR:
        return "error";
    case VM_EXIT_QUIT:
        return "quit";
    }
    return "unknown";
}
