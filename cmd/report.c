/*
 * Printing spec diagnostics for people (file:line:col: message) and for CI
 * annotations (JSON Lines: one object per diagnostic).
 */
#include <stdio.h>

#include "cmd/cmd.h"
#include "cmd/output.h"
#include "spec/json.h"
#include "spec/loader.h"

/* Files in order of first appearance, then line and column: the order a
 * person reads the spec in, whichever check found the problem. */
static gint compare_diags(gconstpointer a, gconstpointer b, gpointer data)
{
    const SpecDiag *x = *(const SpecDiag *const *)a;
    const SpecDiag *y = *(const SpecDiag *const *)b;
    GHashTable *file_order = data;
    gint fx = GPOINTER_TO_INT(g_hash_table_lookup(file_order, x->file));
    gint fy = GPOINTER_TO_INT(g_hash_table_lookup(file_order, y->file));

    if (fx != fy) {
        return fx - fy;
    }
    if (x->line != y->line) {
        return x->line < y->line ? -1 : 1;
    }
    return x->column < y->column ? -1 : x->column > y->column;
}

void cmd_print_diags(const SpecDiags *diags, bool json, FILE *out)
{
    guint kept = spec_diags_kept(diags);
    g_autoptr(GPtrArray) sorted = g_ptr_array_new();
    g_autoptr(GHashTable) file_order = g_hash_table_new(g_str_hash,
                                                        g_str_equal);

    for (guint i = 0; i < kept; i++) {
        const SpecDiag *d = spec_diags_get(diags, i);

        if (d->file && !g_hash_table_contains(file_order, d->file)) {
            g_hash_table_insert(file_order, d->file, GINT_TO_POINTER(
                g_hash_table_size(file_order) + 1));
        }
        g_ptr_array_add(sorted, (gpointer)d);
    }
    g_ptr_array_sort_with_data(sorted, compare_diags, file_order);

    for (guint i = 0; i < kept; i++) {
        const SpecDiag *d = sorted->pdata[i];

        if (json) {
            g_autoptr(GString) line = g_string_new(NULL);
            JsonWriter w;

            json_writer_init(&w, line, false);
            json_begin_object(&w);
            if (d->file) {
                json_member_string(&w, "file", d->file);
            } else {
                json_key(&w, "file");
                json_null(&w);
            }
            json_member_int(&w, "line", d->line);
            json_member_int(&w, "column", d->column);
            json_member_string(&w, "severity", "error");
            json_member_string(&w, "message", d->message);
            json_end_object(&w);
            fprintf(out, "%s\n", line->str);
        } else {
            /* The file name and the message quote the spec: one
             * diagnostic is one line, whatever they hold. */
            g_autofree char *text = spec_diag_format(d);
            g_autofree char *shown = cmd_escape(text);

            fprintf(out, "%s\n", shown);
        }
    }
    if (!json && spec_diags_count(diags) > kept) {
        fprintf(out, "... and %u more errors\n",
                spec_diags_count(diags) - kept);
    }
}

bool cmd_parse_format(const char *cmd, const char *format, bool *json)
{
    if (!format || g_str_equal(format, "text")) {
        *json = false;
        return true;
    }
    if (g_str_equal(format, "json")) {
        *json = true;
        return true;
    }
    cmd_error(cmd, "unknown format '%s' (expected text or json)", format);
    return false;
}

Object *cmd_load_spec(const char *path, char **sets)
{
    g_autoptr(SpecDiags) diags = spec_diags_new();
    SpecLoadOptions opts = { .sets = (const char *const *)sets,
                             .check_files = true };
    Vm *vm = spec_load_vm(path, &opts, diags);

    if (!vm) {
        cmd_print_diags(diags, false, stderr);
        return NULL;
    }
    return OBJECT(vm);
}
