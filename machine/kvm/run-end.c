/* run-end request: first reason wins, eventfd wakes the main loop. */
#include "machine/kvm/run-end.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "machine/qom/error.h"

struct RunEnd {
    GMutex lock;
    RunEndReason reason;
    char *detail;
    char *boot_note;        /* set before vCPUs run, then read-only */
    int fd;
};

RunEnd *run_end_new(GError **errp)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    RunEnd *e;

    if (fd < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO, "eventfd: %s",
                    g_strerror(errno));
        return NULL;
    }
    e = g_new0(RunEnd, 1);
    g_mutex_init(&e->lock);
    e->fd = fd;
    return e;
}

void run_end_free(RunEnd *e)
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

int run_end_fd(RunEnd *e)
{
    return e->fd;
}

void run_end_set_boot_note(RunEnd *e, const char *note)
{
    g_free(e->boot_note);
    e->boot_note = g_strdup(note);
}

bool run_end_request(RunEnd *e, RunEndReason reason, const char *detail)
{
    uint64_t one = 1;
    bool first;

    g_assert(reason != RUN_END_NONE);
    g_mutex_lock(&e->lock);
    first = e->reason == RUN_END_NONE;
    if (first) {
        e->reason = reason;
        if (e->boot_note &&
            (reason == RUN_END_CRASH || reason == RUN_END_HALT)) {
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

RunEndReason run_end_get(RunEnd *e, char **detail)
{
    RunEndReason reason;

    g_mutex_lock(&e->lock);
    reason = e->reason;
    if (detail) {
        *detail = g_strdup(e->detail);
    }
    g_mutex_unlock(&e->lock);
    return reason;
}

const char *run_end_reason_name(RunEndReason reason)
{
    switch (reason) {
    case RUN_END_NONE:
        return "running";
    case RUN_END_POWEROFF:
        return "poweroff";
    case RUN_END_RESET:
        return "reset";
    case RUN_END_HALT:
        return "halt";
    case RUN_END_PANIC:
        return "panic";
    case RUN_END_CRASH:
        return "crash";
    case RUN_END_ERROR:
        return "error";
    case RUN_END_QUIT:
        return "quit";
    }
    return "unknown";
}
