/*
 * What `check` asks of the files a spec names (kernel, initrd, disk
 * images): does it exist and what is it (stat), may the user who runs
 * vmspec read or write it (access), what is its SHA-256 (for a pin).
 *
 * Specs of one directory mostly name the same kernel and initrd, so one
 * run's answers are kept in a SpecFileProbes and each file is asked once
 * per run, not once per spec: a directory of 1,000 specs sharing a kernel
 * stats it once and hashes a pinned one once.  A file that changes while
 * `check` runs is seen as it was first asked about; `run` checks again
 * when it opens the file.  NULL probes ask the system every time.
 * Main thread only.
 */
#ifndef VMSPEC_SPEC_FILE_PROBES_H
#define VMSPEC_SPEC_FILE_PROBES_H

#include <stdbool.h>
#include <sys/stat.h>
#include <glib.h>

typedef struct SpecFileProbes SpecFileProbes;

SpecFileProbes *spec_file_probes_new(void);
void spec_file_probes_free(SpecFileProbes *probes);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpecFileProbes, spec_file_probes_free)

/* stat(2) of path: 0 with *st filled in, or the errno it failed with. */
int spec_file_probe_stat(SpecFileProbes *probes, const char *path,
                         struct stat *st);

/* access(2) of path for R_OK or R_OK | W_OK (real IDs: the user who runs
 * vmspec): 0, or the errno it failed with. */
int spec_file_probe_access(SpecFileProbes *probes, const char *path,
                           int amode);

/* The SHA-256 of path's contents in lower-case hex (caller frees), or
 * NULL with "cannot read PATH: REASON".  block_ok: a block device is read
 * too.  The file is opened without blocking (spec_open_file()). */
char *spec_file_probe_sha256(SpecFileProbes *probes, const char *path,
                             bool block_ok, GError **errp);

#endif
