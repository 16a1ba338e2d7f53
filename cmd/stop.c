/*
 * vmspec stop NAME...|--all: orderly stop of running VMs.
 */
#include <stdio.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/control.h"
#include "cmd/output.h"

/* Waits (up to timeout_s) until name's control socket stops answering. */
static bool wait_gone(const char *name, int timeout_s)
{
    for (int i = 0; i < timeout_s * 10; i++) {
        g_autoptr(GHashTable) st = control_request(name, "status", NULL);

        if (!st) {
            return true;
        }
        g_usleep(100 * 1000);
    }
    return false;
}

int cmd_stop(int argc, char **argv)
{
    gboolean all = FALSE, kill = FALSE;
    int timeout_s = 30, status = EXIT_OK;
    GOptionEntry entries[] = {
        { "all", 0, 0, G_OPTION_ARG_NONE, &all, "Stop every running VM",
          NULL },
        { "kill", 0, 0, G_OPTION_ARG_NONE, &kill,
          "End the VMs at once instead of in order", NULL },
        { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s,
          "Seconds to wait for each VM to exit (default 30)", "S" },
        G_OPTION_ENTRY_NULL,
    };
    g_autoptr(GPtrArray) names = NULL;

    if (!cmd_parse_options("stop", "NAME...|--all",
                           "Stop running VMs in order: vCPUs stop, disks "
                           "are flushed, the VMs exit.",
                           entries, &argc, &argv)) {
        return EXIT_USAGE;
    }
    if (all == (argc > 1)) {
        cmd_error("stop", "name VMs or give --all");
        return EXIT_USAGE;
    }
    if (all) {
        names = control_list();
    } else {
        names = g_ptr_array_new_with_free_func(g_free);
        for (int i = 1; i < argc; i++) {
            g_ptr_array_add(names, g_strdup(argv[i]));
        }
    }
    for (guint i = 0; i < names->len; i++) {
        const char *name = names->pdata[i];
        g_autofree char *shown = cmd_escape(name);
        g_autoptr(GError) err = NULL;
        g_autoptr(GHashTable) reply = control_request(
            name, kill ? "kill" : "stop", &err);

        if (!reply) {
            if (!all) {
                cmd_error(NULL, "%s", err->message);
                status = EXIT_ERROR;
            }
            continue;
        }
        if (wait_gone(name, timeout_s)) {
            printf("%s stopped\n", shown);
        } else {
            cmd_error(NULL, "%s did not exit within %d s", name, timeout_s);
            status = EXIT_ERROR;
        }
    }
    return status;
}
