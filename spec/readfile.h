/*
 * Reading a spec file whole, bounded by SPEC_PARSE_MAX_BYTES, with every
 * failure a diagnostic: "PATH: cannot read spec: REASON" (code
 * VMSPEC_ERROR_NOT_FOUND when it does not exist, else _IO; a directory is
 * EISDIR), or "PATH: spec too large ...".  Special files whose size stat
 * does not tell (pipes, /dev/stdin) are read to their end, still bounded.
 */
#ifndef VMSPEC_SPEC_READFILE_H
#define VMSPEC_SPEC_READFILE_H

#include <glib.h>

#include "spec/diag.h"

/* Returns the contents (*len bytes; caller frees) or NULL after adding a
 * diagnostic.  Any thread; diags is not locked. */
char *spec_read_file(const char *path, gsize *len, SpecDiags *diags);

/* True for the names of standard input: "-", /dev/stdin, /dev/fd/0 and
 * /proc/self/fd/0. */
bool spec_path_is_stdin(const char *path);

/* The directory that relative paths written in the spec at path resolve
 * against (caller frees): the spec's own directory, or "." for a spec read
 * from standard input, whose "directory" (/dev, /proc/self/fd) says
 * nothing about where its files are. */
char *spec_path_dir(const char *path);

#endif
