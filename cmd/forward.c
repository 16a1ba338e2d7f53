/*
 * vmspec forward NAME add|remove RULE [--nic ID], vmspec forward NAME list
 * [--format json]: a running VM's host forwards, over its control socket
 * (forward-add, forward-remove, forward-list in cmd/control.h).  The VM
 * checks the rule and the NIC; what it refuses is exit 1 with its message.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/control.h"
#include "cmd/output.h"
#include "spec/json.h"

void cmd_write_forwards_json(JsonWriter *w, GPtrArray *forwards)
{
    json_begin_object(w);
    for (guint i = 0; forwards && i < forwards->len; i++) {
        ControlForwards *f = forwards->pdata[i];

        json_key(w, f->nic);
        json_begin_array(w);
        for (size_t r = 0; f->rules[r]; r++) {
            json_string(w, f->rules[r]);
        }
        json_end_array(w);
    }
    json_end_object(w);
}

/* The list as a table: one line a forward, "-" for a NIC without any. */
static void format_list(GPtrArray *forwards, GString *out)
{
    g_string_append_printf(out, "%-12s %s\n", "NIC", "FORWARD");
    for (guint i = 0; i < forwards->len; i++) {
        ControlForwards *f = forwards->pdata[i];
        g_autofree char *nic = cmd_escape(f->nic);

        if (!f->rules[0]) {
            g_string_append_printf(out, "%-12s -\n", nic);
        }
        for (size_t r = 0; f->rules[r]; r++) {
            g_autofree char *rule = cmd_escape(f->rules[r]);

            g_string_append_printf(out, "%-12s %s\n", nic, rule);
        }
    }
}

static int forward_list(const char *name, bool json)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GHashTable) reply = control_request(name, "forward-list",
                                                  &err);
    g_autoptr(GPtrArray) forwards = NULL;
    g_autoptr(GString) out = g_string_new(NULL);

    if (reply) {
        forwards = control_reply_forwards(reply, &err);
    }
    if (!forwards) {
        cmd_error(NULL, "%s", err->message);
        return EXIT_ERROR;
    }
    if (json) {
        JsonWriter w;

        json_writer_init(&w, out, true);
        cmd_write_forwards_json(&w, forwards);
        g_string_append_c(out, '\n');
    } else {
        format_list(forwards, out);
    }
    return cmd_write_stdout(out->str, out->len) ? EXIT_OK : EXIT_ERROR;
}

static int forward_change(const char *name, bool add, const char *rule,
                          const char *nic)
{
    const char *args[] = { "rule", rule, nic ? "nic" : NULL, nic, NULL };
    g_autoptr(GError) err = NULL;
    g_autoptr(GHashTable) reply = control_request_args(
        name, add ? "forward-add" : "forward-remove", args, &err);
    const char *done_nic, *done_rule;
    g_autofree char *shown_name = NULL, *shown_nic = NULL;
    g_autofree char *shown_rule = NULL;

    if (!reply) {
        cmd_error(NULL, "%s", err->message);
        return EXIT_ERROR;
    }
    /* "web1: net0: added tcp:127.0.0.1:8080-10.0.2.15:80" */
    done_nic = g_hash_table_lookup(reply, "nic");
    done_rule = g_hash_table_lookup(reply, "forward");
    shown_name = cmd_escape(name);
    shown_nic = cmd_escape(done_nic ? done_nic : nic ? nic : "-");
    shown_rule = cmd_escape(done_rule ? done_rule : rule);
    printf("%s: %s: %s %s\n", shown_name, shown_nic,
           add ? "added" : "removed", shown_rule);
    return EXIT_OK;
}

int cmd_forward(int argc, char **argv)
{
    g_autofree char *format = NULL, *nic = NULL;
    GOptionEntry entries[] = {
        { "nic", 0, 0, G_OPTION_ARG_STRING, &nic,
          "The user-mode NIC (add, remove; default: the VM's only one)",
          "ID" },
        CMD_OPTION_FORMAT(format, "Output format of list: text (default) "
                          "or json (NIC id -> its forwards)"),
        G_OPTION_ENTRY_NULL,
    };
    const char *action;
    bool json;

    if (!cmd_parse_options("forward",
                           "NAME add RULE | NAME remove RULE | NAME list",
                           "Add, remove or list a running VM's host port "
                           "forwards (RULE: tcp|udp:[HOSTADDR]:HOSTPORT-"
                           "[GUESTADDR]:GUESTPORT).",
                           entries, &argc, &argv) ||
        !cmd_parse_format("forward", format, &json)) {
        return EXIT_USAGE;
    }
    if (argc < 3) {
        cmd_error("forward", "expected NAME and add, remove or list");
        return EXIT_USAGE;
    }
    action = argv[2];
    if (strcmp(action, "list") == 0) {
        if (argc != 3 || nic) {
            cmd_error("forward", argc != 3 ? "list takes no RULE"
                                           : "--nic is for add and remove");
            return EXIT_USAGE;
        }
        return forward_list(argv[1], json);
    }
    if (strcmp(action, "add") != 0 && strcmp(action, "remove") != 0) {
        cmd_error("forward", "unknown action '%s' (add, remove, list)",
                  action);
        return EXIT_USAGE;
    }
    if (argc != 4) {
        cmd_error("forward", "%s takes one RULE", action);
        return EXIT_USAGE;
    }
    if (format) {
        cmd_error("forward", "--format is for list");
        return EXIT_USAGE;
    }
    return forward_change(argv[1], action[0] == 'a', argv[3], nic);
}
