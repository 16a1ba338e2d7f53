/*
 * NoCloud seed images: the small read-only disk from which cloud-init
 * configures a guest.
 *
 * cloud-init's NoCloud datasource
 * (https://cloudinit.readthedocs.io/en/latest/reference/datasources/nocloud.html)
 * looks for a file system whose volume label is "cidata" or "CIDATA",
 * ISO 9660 or vfat, and reads the files "user-data", "meta-data" and,
 * when present, "network-config" (and "vendor-data") at its root.
 *
 * The image is ISO 9660 (ECMA-119, 4th edition: "Volume and File
 * Structure of CDROM for Information Interchange"), written by libisofs,
 * with Rock Ridge (RRIP 1.12: the exact names, lower case and dashes,
 * and POSIX modes) and Joliet (the names for readers without Rock
 * Ridge).  The ECMA-119 volume identifier is "CIDATA", since that field
 * holds only d-characters (upper case); the Joliet one, which blkid
 * reports as LABEL, is "cidata".  The ECMA-119 file identifiers are
 * ISO level 2's (upper case, up to 31 characters: USER_DATA.;1).
 *
 * Every timestamp in the image is fixed (2000-01-01 00:00:00 UTC) and
 * nothing random goes in, so the same files always give the same bytes:
 * a seed rebuilt from an unchanged spec is identical to the last one.
 */
#ifndef VMSPEC_BACKEND_NOCLOUD_SEED_H
#define VMSPEC_BACKEND_NOCLOUD_SEED_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

/* The most a seed file may hold, and the longest name (Joliet's limit). */
#define NOCLOUD_SEED_MAX_FILE   (16u << 20)
#define NOCLOUD_SEED_MAX_NAME   64

typedef struct {
    const char *name;     /* "user-data", "meta-data", "network-config", ... */
    const void *data;
    size_t len;
} SeedFile;

/* Writes an ISO 9660 image (Rock Ridge and Joliet, volume ID "cidata")
 * holding files at its root, to path (atomically: a temporary file in the
 * same directory, fsync, rename); mode 0644 files, owned by root, in a
 * 0755 root directory.  The image file itself is created 0644 less the
 * umask.  The same files give a byte-identical image (every timestamp
 * fixed, no random/uuid content), whatever their order in files.
 *
 * Errors: VMSPEC_ERROR_INVALID for a bad name (1..64 characters of
 * [A-Za-z0-9._-], not "." or ".."), a name given twice or a file over
 * NOCLOUD_SEED_MAX_FILE; VMSPEC_ERROR_IO when the image cannot be made or
 * written.  Nothing is left at path's directory on failure.
 * Safe to call from several threads at once. */
bool nocloud_seed_write(const char *path, const SeedFile *files,
                        size_t n_files, GError **errp);

#endif
