/*
 * Subcommands of the vmspec CLI.  Each lives in cmd/<name>.c, parses its
 * own options with GOptionContext and returns the process exit status:
 * 0 success, 1 spec or setup error, 2 usage error (README.md, "Running a
 * VM", lists every status).
 */
#ifndef VMSPEC_CMD_H
#define VMSPEC_CMD_H

#include <stdbool.h>
#include <stdio.h>
#include <glib.h>

#include "machine/qom/object.h"
#include "spec/diag.h"

enum {
    EXIT_OK = 0,
    EXIT_ERROR = 1,
    EXIT_USAGE = 2,
    EXIT_GUEST_CRASH = 3,
};

typedef struct Command {
    const char *name;
    const char *args;       /* synopsis of the arguments */
    const char *summary;
    int (*run)(int argc, char **argv);
} Command;

int cmd_types(int argc, char **argv);
int cmd_describe(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_schema(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_ssh(int argc, char **argv);
int cmd_ssh_config(int argc, char **argv);
int cmd_vsock(int argc, char **argv);
int cmd_console(int argc, char **argv);

/* Parses argv with a context for `vmspec NAME ARGS`; on a usage error
 * prints it with a hint and returns false. */
gboolean cmd_parse_options(const char *name, const char *args,
                           const char *summary, GOptionEntry *entries,
                           int *argc, char ***argv);

/* Prints every diagnostic: "file:line:col: message" lines, or with json
 * one JSON object per line (file, line, column, severity, message). */
void cmd_print_diags(const SpecDiags *diags, bool json, FILE *out);

/* Loads the spec at path with the --set options (NULL-terminated or
 * NULL), files checked; prints every diagnostic and returns NULL when it
 * has errors.  Returns a new vm object. */
Object *cmd_load_spec(const char *path, char **sets);

/* The specs in dir (*.yaml, *.yml), sorted; NULL if it can't be read. */
GPtrArray *cmd_list_specs(const char *dir, GError **errp);

/* Writes a control reply's forwards (control_reply_forwards(); NULL as
 * none) as one JSON object, NIC id -> array of rules (cmd/forward.c). */
struct JsonWriter;
void cmd_write_forwards_json(struct JsonWriter *w, GPtrArray *forwards);

/* Parses a --format value: "text" or "json". */
bool cmd_parse_format(const char *cmd, const char *format, bool *json);

/* Option entries the spec-reading commands share, so that --set and
 * --format read the same in every command's --help: --set fills a GStrv
 * for cmd_load_spec, --format a string for cmd_parse_format (help says
 * what json prints for that command).  --set is taken as raw bytes (a
 * FILENAME array): vmspec never calls setlocale(), so GOption's STRING
 * would convert from ASCII and refuse every non-ASCII value;
 * spec_apply_set() checks that the option is UTF-8 instead. */
#define CMD_OPTION_SET(sets) \
    { "set", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &(sets), \
      "Override a value (repeatable)", "KEY.PATH=VALUE" }
#define CMD_OPTION_FORMAT(format, help) \
    { "format", 0, 0, G_OPTION_ARG_STRING, &(format), (help), "FORMAT" }

#endif
