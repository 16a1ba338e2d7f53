/*
 * The host side of a disk: a raw image file, read and written with
 * vectored I/O at byte offsets.
 *
 * Locking (image-lock.h: QEMU's lock bytes, so vmspec and QEMU processes
 * on one image see each other): a writable disk is a writer, so a second
 * VM (or a second disk in the same VM: OFD locks belong to the open file
 * description, not the process) that wants the same image fails at once
 * with VMSPEC_ERROR_BUSY instead of corrupting it.  Read-only and
 * snapshot disks are readers: any number of VMs may read an image
 * together, but no writer can start while they run (it would change the
 * bytes under their page caches), and a reader cannot start while a
 * writer runs.  Locks are advisory: they stop vmspec, QEMU and other
 * lock users, not `dd`.
 *
 * Snapshot mode: the image is opened read-only and writes go to a
 * throwaway overlay (an unnamed temporary file in $TMPDIR, sparse, as large
 * as the image; a memfd where $TMPDIR cannot hold one) plus a bitmap of
 * the DISK_SNAPSHOT_BLOCK-sized blocks it holds.  Reads take written
 * blocks from the overlay and the rest from the image; a write that covers
 * part of a block not yet in the overlay copies that block from the image
 * first.  The overlay vanishes on close (or when the process dies), and
 * the image's bytes are never changed.
 *
 * Threads: a DiskImage is used by one thread at a time (the virtio-blk
 * device's I/O thread); open and close on the main thread.
 */
#ifndef VMSPEC_BACKEND_DISK_H
#define VMSPEC_BACKEND_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <glib.h>

/* Granularity of the snapshot overlay's bitmap (and of hole punching the
 * overlay): one x86 page, the usual filesystem block. */
#define DISK_SNAPSHOT_BLOCK 4096u

typedef struct DiskImage DiskImage;

typedef enum {
    DISK_OPEN_READWRITE,    /* O_RDWR, a writer's lock */
    DISK_OPEN_READONLY,     /* O_RDONLY, a reader's lock; writes fail */
    DISK_OPEN_SNAPSHOT,     /* O_RDONLY, a reader's lock; overlay writes */
} DiskOpenMode;

/* Opens path (O_CLOEXEC, and without blocking in open(2): a FIFO is
 * refused, not waited on) and locks it as above.  Errors: the file cannot
 * be opened (VMSPEC_ERROR_IO, or NOT_FOUND when missing), it is not a
 * regular file or block device (INVALID), it is locked by another open
 * (BUSY: "disk image PATH is in use by another VM (locked)"), the overlay
 * cannot be created (IO).  Returns a new DiskImage; disk_close() frees it. */
DiskImage *disk_open(const char *path, DiskOpenMode mode, GError **errp);

/* fdatasync()s a writable image (so everything written reaches the file
 * even if the guest never flushed), drops the lock and the overlay, and
 * frees disk.  NULL is a no-op.  Returns false (and still frees) when the
 * final sync failed. */
bool disk_close(DiskImage *disk, GError **errp);

/* The image's size in bytes, as it was at open. */
uint64_t disk_size(const DiskImage *disk);

/* True for DISK_OPEN_READONLY: disk_write* / discard fail. */
bool disk_is_readonly(const DiskImage *disk);

/*
 * Reads/writes the bytes [offset, offset + iov total) of the disk.  The
 * range must lie within disk_size() (checked: INVALID otherwise, and the
 * file is not touched).  Short transfers are retried; an unexpected end of
 * file or a failed system call is VMSPEC_ERROR_IO.  Any number of iovecs.
 */
bool disk_readv(DiskImage *disk, const struct iovec *iov, unsigned iovcnt,
                uint64_t offset, GError **errp);
bool disk_writev(DiskImage *disk, const struct iovec *iov, unsigned iovcnt,
                 uint64_t offset, GError **errp);

/* fdatasync(2): everything written so far is on stable storage when this
 * returns true.  A no-op for read-only and snapshot disks. */
bool disk_flush(DiskImage *disk, GError **errp);

/*
 * Makes [offset, offset + len) read as zeroes.  unmap true: the space may
 * be deallocated (FALLOC_FL_PUNCH_HOLE); false: it stays allocated
 * (FALLOC_FL_ZERO_RANGE).  Falls back to punching, then to writing zero
 * buffers, where the filesystem lacks the first choice.  Bounds checked as
 * for disk_writev().
 */
bool disk_write_zeroes(DiskImage *disk, uint64_t offset, uint64_t len,
                       bool unmap, GError **errp);

/* Discard (TRIM): the guest no longer needs [offset, offset + len).  The
 * range reads as zeroes afterwards (a hole is punched; without hole
 * support, zeroes are written).  Bounds checked. */
bool disk_discard(DiskImage *disk, uint64_t offset, uint64_t len,
                  GError **errp);

#endif
