/*
 * Disk image locks that QEMU understands, so that vmspec, the
 * qemu-storage-daemon it runs and any QEMU process agree on who may use an
 * image: one writer, or any number of readers.
 *
 * The protocol is QEMU's (block/file-posix.c, "lock bytes"): open file
 * description locks (fcntl F_OFD_SETLK), all of them shared (F_RDLCK) and
 * one byte long, on byte 100 + P for each permission P the holder uses
 * and on byte 200 + P for each permission it does not let others have.
 * The permissions are QEMU's block permission bits: 0 consistent read,
 * 1 write, 2 write-unchanged, 3 resize.  After taking its bytes a user
 * tests (F_OFD_GETLK, as if for a write lock) byte 200 + P of every P it
 * uses and byte 100 + P of every P it denies, and gives up if another
 * open holds one of them.  Two users that start at the same moment may
 * both give up; neither can go on while the other holds the image.
 *
 * vmspec's two roles, which are what a QEMU guest device takes:
 *  - writer: uses read and write (bytes 100, 101), denies write and
 *    resize (201, 203);
 *  - reader: uses read (100), denies write and resize (201, 203).
 * So a writer excludes every other user, and readers exclude writers.
 * QEMU itself opens a backing file as a user of read only that denies
 * nothing; vmspec holds a reader's lock on the backing files of its
 * disks, so that nobody writes them under the overlay.
 *
 * The locks belong to the open file description: closing fd drops them,
 * and two opens of one image in one process exclude each other.
 */
#ifndef VMSPEC_BACKEND_IMAGE_LOCK_H
#define VMSPEC_BACKEND_IMAGE_LOCK_H

#include <stdbool.h>
#include <glib.h>

typedef enum {
    IMAGE_LOCK_READER,
    IMAGE_LOCK_WRITER,
} ImageLockRole;

/* Takes role's lock bytes on fd (an open of path) and checks that no
 * other open conflicts.  Errors: VMSPEC_ERROR_BUSY "disk image PATH is in
 * use by another VM (locked)" (fd is then left without locks), or IO when
 * the file system refuses locks. */
bool image_lock_take(int fd, const char *path, ImageLockRole role,
                     GError **errp);

/* Only the check: would role's lock on fd conflict with another open's?
 * Takes nothing.  For an image a daemon is about to lock itself.  Same
 * errors as image_lock_take(). */
bool image_lock_test(int fd, const char *path, ImageLockRole role,
                     GError **errp);

/* The error image_lock_take() gives for a conflict, for a daemon's own
 * refusal to be reported alike. */
void image_lock_set_busy_error(GError **errp, const char *path);

#endif
