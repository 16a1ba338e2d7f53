/*
 * vmspec ps: the running VMs, asked over their control sockets.  The
 * table shows what fits a line; --format json adds each VM's host
 * forwards ("forwards": {"net0": ["tcp:127.0.0.1:2222-10.0.2.15:22"]}, {}
 * when it has none or its reply says nothing of them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/control.h"
#include "cmd/output.h"
#include "spec/json.h"

static const char *const ps_fields[] = {
    "name", "pid", "state", "uptime_s", "spec", "cpus", "memory",
};

static char *format_uptime(const char *seconds)
{
    long s = seconds ? strtol(seconds, NULL, 10) : 0;

    if (s >= 3600) {
        return g_strdup_printf("%ldh%02ldm", s / 3600, s / 60 % 60);
    }
    return s >= 60 ? g_strdup_printf("%ldm%02lds", s / 60, s % 60)
                   : g_strdup_printf("%lds", s);
}

/* Whether text is a JSON number (RFC 8259, 6: "uptime_s": 1.5 too), so
 * that it may be written as it is. */
static bool is_number(const char *text)
{
    const char *p = text[0] == '-' ? text + 1 : text;
    const char *digits;

    if (!g_ascii_isdigit(*p) || (p[0] == '0' && g_ascii_isdigit(p[1]))) {
        return false;
    }
    while (g_ascii_isdigit(*p)) {
        p++;
    }
    if (*p == '.') {
        for (digits = ++p; g_ascii_isdigit(*p); p++) {
        }
        if (p == digits) {
            return false;
        }
    }
    if (*p == 'e' || *p == 'E') {
        p += p[1] == '+' || p[1] == '-' ? 2 : 1;
        for (digits = p; g_ascii_isdigit(*p); p++) {
        }
        if (p == digits) {
            return false;
        }
    }
    return *p == '\0';
}

/* A status reply's field for the table: a running VM's name and spec path
 * are any bytes, so escaped (cmd/output.h); "-" when missing. */
static char *text_field(GHashTable *st, const char *key)
{
    const char *v = g_hash_table_lookup(st, key);

    return v ? cmd_escape(v) : g_strdup("-");
}

int cmd_ps(int argc, char **argv)
{
    g_autofree char *format = NULL;
    GOptionEntry entries[] = {
        { "format", 0, 0, G_OPTION_ARG_STRING, &format,
          "Output format: text (default) or json", "FORMAT" },
        G_OPTION_ENTRY_NULL,
    };
    g_autoptr(GPtrArray) names = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    JsonWriter w;
    bool json;

    if (!cmd_parse_options("ps", "", "List the running VMs.", entries, &argc,
                           &argv) ||
        !cmd_parse_format("ps", format, &json)) {
        return EXIT_USAGE;
    }
    names = control_list();
    if (json) {
        json_writer_init(&w, out, true);
        json_begin_array(&w);
    } else {
        g_string_append_printf(out, "%-20s %8s %-8s %8s %5s %7s  %s\n",
                               "NAME", "PID", "STATE", "UPTIME", "CPUS",
                               "MEMORY", "SPEC");
    }
    for (guint i = 0; i < names->len; i++) {
        g_autoptr(GHashTable) st = control_request(names->pdata[i], "status",
                                                   NULL);

        if (!st) {
            continue;       /* a stale socket: its VM is gone */
        }
        if (json) {
            json_begin_object(&w);
            for (size_t f = 0; f < G_N_ELEMENTS(ps_fields); f++) {
                const char *v = g_hash_table_lookup(st, ps_fields[f]);

                json_key(&w, ps_fields[f]);
                if (f == 1 || f == 3 || f == 5) {
                    /* Numbers stay numbers; anything else a reply put
                     * there is not copied into the JSON as it is. */
                    if (!v) {
                        json_null(&w);
                    } else if (is_number(v)) {
                        json_raw(&w, v);
                    } else {
                        json_string(&w, v);
                    }
                } else {
                    json_string(&w, v ? v : "");
                }
            }
            {
                g_autoptr(GPtrArray) fwds = control_reply_forwards(st, NULL);

                json_key(&w, "forwards");
                cmd_write_forwards_json(&w, fwds);
            }
            json_end_object(&w);
        } else {
            g_autofree char *up = format_uptime(
                g_hash_table_lookup(st, "uptime_s"));
            g_autofree char *name = text_field(st, "name");
            g_autofree char *pid = text_field(st, "pid");
            const char *provision = g_hash_table_lookup(st, "provision");
            /* A running VM whose guest is still provisioning, or failed
             * to, says so in place of "running". */
            g_autofree char *state = provision &&
                strcmp(provision, "ready") != 0 &&
                g_strcmp0(g_hash_table_lookup(st, "state"), "running") == 0
                ? text_field(st, "provision") : text_field(st, "state");
            g_autofree char *cpus = text_field(st, "cpus");
            g_autofree char *memory = text_field(st, "memory");
            g_autofree char *spec = text_field(st, "spec");

            g_string_append_printf(
                out, "%-20s %8s %-8s %8s %5s %7s  %s\n", name, pid, state,
                up, cpus, memory, spec);
        }
    }
    if (json) {
        json_end_array(&w);
        g_string_append_c(out, '\n');
    }
    return cmd_write_stdout(out->str, out->len) ? EXIT_OK : EXIT_ERROR;
}
