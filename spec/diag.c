/*
 * Spec diagnostics collector.
 */
#include "spec/diag.h"

#include "machine/qom/error.h"

struct SpecDiags {
    GPtrArray *list;    /* SpecDiag * */
    guint total;        /* added, including dropped */
};

static void diag_free(gpointer p)
{
    SpecDiag *d = p;

    g_free(d->file);
    g_free(d->message);
    g_free(d);
}

SpecDiags *spec_diags_new(void)
{
    SpecDiags *diags = g_new0(SpecDiags, 1);

    diags->list = g_ptr_array_new_with_free_func(diag_free);
    return diags;
}

void spec_diags_free(SpecDiags *diags)
{
    if (!diags) {
        return;
    }
    g_ptr_array_free(diags->list, TRUE);
    g_free(diags);
}

static void add_valist(SpecDiags *diags, int code, const char *file,
                       unsigned line, unsigned column, const char *fmt,
                       va_list ap)
{
    SpecDiag *d;

    diags->total++;
    if (diags->list->len >= SPEC_DIAGS_MAX) {
        return;
    }
    d = g_new0(SpecDiag, 1);
    d->file = g_strdup(file);
    d->line = file ? line : 0;
    d->column = file && line ? column : 0;
    d->code = code;
    d->message = g_strdup_vprintf(fmt, ap);
    g_ptr_array_add(diags->list, d);
}

void spec_diags_add_code(SpecDiags *diags, int code, const SpecMark *mark,
                         const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    add_valist(diags, code, mark ? mark->file : NULL,
               mark ? mark->line : 0, mark ? mark->column : 0, fmt, ap);
    va_end(ap);
}

void spec_diags_add_at(SpecDiags *diags, int code, const char *file,
                       unsigned line, unsigned column, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    add_valist(diags, code, file, line, column, fmt, ap);
    va_end(ap);
}

guint spec_diags_count(const SpecDiags *diags)
{
    return diags->total;
}

guint spec_diags_kept(const SpecDiags *diags)
{
    return diags->list->len;
}

const SpecDiag *spec_diags_get(const SpecDiags *diags, guint i)
{
    g_assert(i < diags->list->len);
    return g_ptr_array_index(diags->list, i);
}

char *spec_diag_format(const SpecDiag *d)
{
    if (!d->file) {
        return g_strdup(d->message);
    }
    if (d->line == 0) {
        return g_strdup_printf("%s: %s", d->file, d->message);
    }
    if (d->column == 0) {
        return g_strdup_printf("%s:%u: %s", d->file, d->line, d->message);
    }
    return g_strdup_printf("%s:%u:%u: %s", d->file, d->line, d->column,
                           d->message);
}

char *spec_diags_format(const SpecDiags *diags)
{
    GString *out = g_string_new(NULL);
    guint dropped = diags->total - diags->list->len;

    for (guint i = 0; i < diags->list->len; i++) {
        g_autofree char *line = spec_diag_format(
            g_ptr_array_index(diags->list, i));

        if (i) {
            g_string_append_c(out, '\n');
        }
        g_string_append(out, line);
    }
    if (dropped) {
        g_string_append_printf(out, "\n... and %u more error%s", dropped,
                               dropped == 1 ? "" : "s");
    }
    return g_string_free(out, FALSE);
}

bool spec_diags_to_error(const SpecDiags *diags, GError **errp)
{
    g_autofree char *text = NULL;
    const SpecDiag *first;

    if (diags->total == 0) {
        return true;
    }
    first = g_ptr_array_index(diags->list, 0);
    text = spec_diags_format(diags);
    g_set_error_literal(errp, VMSPEC_ERROR, first->code, text);
    return false;
}
