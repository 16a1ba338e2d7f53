/*
 * Reading a spec file whole, bounded by SPEC_PARSE_MAX_BYTES, with every
 * failure a diagnostic: "PATH: cannot read spec: REASON" (code
 * VMSPEC_ERROR_NOT_FOUND when it does not exist, INVALID when it is not a
 * regular file, else _IO; a directory is EISDIR), or "PATH: spec too
 * large ...".
 *
 * A spec, like the boot files a spec names, is a regular file: anything
 * else (a FIFO, a socket, a device) is refused before a byte is read, and
 * is opened without blocking, so that a FIFO without a writer cannot hang
 * open(2).  Standard input is the exception: it is read to its end
 * whatever it is (a pipe, a terminal), still bounded.
 */
#ifndef VMSPEC_SPEC_READFILE_H
#define VMSPEC_SPEC_READFILE_H

#include <glib.h>
#include <sys/stat.h>

#include "spec/diag.h"

/* Returns the contents (*len bytes; caller frees) or NULL after adding a
 * diagnostic.  Any thread; diags is not locked. */
char *spec_read_file(const char *path, gsize *len, SpecDiags *diags);

/* Opens path read-only (O_CLOEXEC, O_NOCTTY) if it is a regular file (or,
 * with block_ok, a block device), without ever blocking in open(2):
 * opened O_NONBLOCK, which regular files and block devices ignore.  Returns
 * the fd with *st filled in, or -1 with an error whose message is only the
 * reason, for the caller to put after the path: strerror's text (code
 * NOT_FOUND for ENOENT, else IO; "Is a directory" for a directory), a
 * dangling symbolic link as such, or "not a regular file" (INVALID). */
int spec_open_file(const char *path, bool block_ok, struct stat *st,
                   GError **errp);

/* True for the names of standard input: "-", /dev/stdin, /dev/fd/0 and
 * /proc/self/fd/0. */
bool spec_path_is_stdin(const char *path);

/* The directory that relative paths written in the spec at path resolve
 * against (caller frees): the spec's own directory, or "." for a spec read
 * from standard input, whose "directory" (/dev, /proc/self/fd) says
 * nothing about where its files are. */
char *spec_path_dir(const char *path);

#endif
