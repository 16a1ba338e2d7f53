/*
 * Spec diagnostics: a collector of `file:line:col: message` errors, so that
 * one run can report every problem of a spec (parse errors first, then the
 * semantic errors the object builder finds) rather than only the first.
 *
 * Not thread-safe; one collector per load.
 */
#ifndef VMSPEC_SPEC_DIAG_H
#define VMSPEC_SPEC_DIAG_H

#include <glib.h>
#include <stdbool.h>

#include "machine/qom/error.h"
#include "spec/node.h"

/* The collector keeps at most this many diagnostics; later ones are counted
 * but dropped, and the formatted text ends with "... and N more errors". */
#define SPEC_DIAGS_MAX 100

/* One diagnostic.  Strings are owned by the collector. */
typedef struct SpecDiag {
    char *file;         /* NULL when nowhere */
    unsigned line;      /* 1-based; 0 = whole file / option */
    unsigned column;    /* 1-based; 0 = unknown */
    int code;           /* VmspecError code, VMSPEC_ERROR_INVALID usually */
    char *message;      /* without the location prefix */
} SpecDiag;

typedef struct SpecDiags SpecDiags;

/* A new empty collector; free with spec_diags_free(). */
SpecDiags *spec_diags_new(void);
void spec_diags_free(SpecDiags *diags);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpecDiags, spec_diags_free)

/* Adds an error at mark (NULL or a zeroed mark: no location), with code
 * VMSPEC_ERROR_INVALID.  printf-style message, no trailing newline. */
#define spec_diags_add(diags, mark, ...)                                    \
    spec_diags_add_code((diags), VMSPEC_ERROR_INVALID, (mark), __VA_ARGS__)
/* Same with an explicit VmspecError code (NOT_FOUND, IO, ...). */
void spec_diags_add_code(SpecDiags *diags, int code, const SpecMark *mark,
                         const char *fmt, ...) G_GNUC_PRINTF(4, 5);
/* Same with a raw location (for callers without a SpecMark). */
void spec_diags_add_at(SpecDiags *diags, int code, const char *file,
                       unsigned line, unsigned column,
                       const char *fmt, ...) G_GNUC_PRINTF(6, 7);

/* Number of errors added (including any dropped past SPEC_DIAGS_MAX). */
guint spec_diags_count(const SpecDiags *diags);
/* The i-th kept diagnostic (i < spec_diags_kept()), in the order added. */
guint spec_diags_kept(const SpecDiags *diags);
const SpecDiag *spec_diags_get(const SpecDiags *diags, guint i);

/* "file:line:col: message"; "file:line: message" when column is 0;
 * "file: message" when line is 0; "message" when file is NULL.
 * Caller g_free()s. */
char *spec_diag_format(const SpecDiag *diag);
/* All kept diagnostics, one per line, each formatted as above, joined by
 * '\n' (no trailing newline), plus a "... and N more errors" line when some
 * were dropped.  "" when empty.  Caller g_free()s. */
char *spec_diags_format(const SpecDiags *diags);

/* When the collector holds errors, sets *errp (domain VMSPEC_ERROR, code of
 * the first diagnostic, message spec_diags_format()) and returns false;
 * otherwise returns true and leaves errp alone. */
bool spec_diags_to_error(const SpecDiags *diags, GError **errp);

#endif
