/*
 * vmspec up -d --wait ready (cmd/up.h): once the VMs run, the foreground
 * asks each one's control socket for its status until the guest has said
 * how its provisioning went (cmd/ready.h), the VM has ended, or the wait
 * timed out.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/control.h"
#include "cmd/output.h"
#include "cmd/up.h"

#define READY_POLL_US (250 * 1000)

typedef enum { WAITING, READY, FAILED } ReadyOutcome;

/* The report's lines, indented, escaped: the guest wrote them. */
static void print_report(const char *report)
{
    g_auto(GStrv) lines = g_strsplit(report ? report : "", "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        if (lines[i][0]) {
            g_autofree char *text = cmd_escape(lines[i]);

            printf("  %s\n", text);
        }
    }
}

static ReadyOutcome poll_vm(UpVm *v, gint64 waited_us)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GHashTable) status = control_request(v->name, "status", &err);
    const char *state;

    if (!status) {
        g_autofree char *log = cmd_escape(v->log);

        printf("%s: failed: it stopped before it was ready (%s; see %s)\n",
               v->name, err->message, log);
        return FAILED;
    }
    state = g_hash_table_lookup(status, "provision");
    if (!state) {
        printf("%s: ready (%s)\n", v->name,
               g_hash_table_lookup(status, "ssh_user")
               ? "running; no readiness report without a virtio-vsock"
               : "running; nothing to provision");
        return READY;
    }
    if (strcmp(state, "ready") == 0) {
        printf("%s: ready after %.1f s\n", v->name, waited_us / 1e6);
        return READY;
    }
    if (strcmp(state, "failed") == 0) {
        printf("%s: failed: provisioning failed (the VM runs on: vmspec ssh "
               "%s, vmspec stop %s); the guest said:\n", v->name, v->name,
               v->name);
        print_report(g_hash_table_lookup(status, "provision_report"));
        return FAILED;
    }
    return WAITING;
}

int up_await_ready(Up *up)
{
    g_autofree ReadyOutcome *outcome = g_new0(ReadyOutcome,
                                              up->vms->len);
    gint64 start = g_get_monotonic_time();
    bool ok = true;

    for (;;) {
        gint64 waited = g_get_monotonic_time() - start;
        guint waiting = 0;

        for (guint i = 0; i < up->vms->len; i++) {
            UpVm *v = up->vms->pdata[i];

            if (v->state != VM_RUNNING || outcome[i] != WAITING) {
                continue;
            }
            outcome[i] = poll_vm(v, waited);
            ok &= outcome[i] != FAILED;
            waiting += outcome[i] == WAITING;
        }
        fflush(stdout);
        if (!waiting) {
            break;
        }
        if (up->ready_timeout_us && waited > up->ready_timeout_us) {
            for (guint i = 0; i < up->vms->len; i++) {
                UpVm *v = up->vms->pdata[i];

                if (v->state == VM_RUNNING && outcome[i] == WAITING) {
                    printf("%s: failed: not ready after %.0f s (the VM runs "
                           "on)\n", v->name, waited / 1e6);
                }
            }
            ok = false;
            break;
        }
        g_usleep(READY_POLL_US);
    }
    return ok ? EXIT_OK : EXIT_ERROR;
}
