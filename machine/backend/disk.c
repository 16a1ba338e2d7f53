/*
 * Raw disk images: open and lock, vectored I/O, flush, hole punching, and
 * the snapshot overlay.  See disk.h for the locking and snapshot rules.
 */
#include "machine/backend/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/backend/image-lock.h"
#include "machine/qom/error.h"

/* Zeroes are written from a buffer of at most this size where the
 * filesystem cannot punch or zero ranges. */
#define ZERO_CHUNK (1024 * 1024)

#define ALIGN_DOWN(x, a) ((x) / (a) * (a))
#define ALIGN_UP(x, a) ALIGN_DOWN((x) + (a) - 1, (a))

struct DiskImage {
    char *path;
    int fd;
    DiskOpenMode mode;
    uint64_t size;
    /* Snapshot only: the overlay and its bitmap, a bit per block. */
    int overlay_fd;
    uint64_t *written;
};

static bool lock_image(DiskImage *disk, GError **errp)
{
    return image_lock_take(disk->fd, disk->path,
                           disk->mode == DISK_OPEN_READWRITE
                               ? IMAGE_LOCK_WRITER : IMAGE_LOCK_READER,
                           errp);
}

static bool image_size(DiskImage *disk, GError **errp)
{
    struct stat st;

    if (fstat(disk->fd, &st) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO, "%s: %s",
                    disk->path, g_strerror(errno));
        return false;
    }
    if (S_ISREG(st.st_mode)) {
        disk->size = st.st_size;
        return true;
    }
    if (S_ISBLK(st.st_mode)) {
        if (ioctl(disk->fd, BLKGETSIZE64, &disk->size) < 0) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                        "%s: cannot get the device's size: %s", disk->path,
                        g_strerror(errno));
            return false;
        }
        return true;
    }
    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                "disk image %s is not a regular file or block device",
                disk->path);
    return false;
}

/* Clears the O_NONBLOCK the image was opened with, once image_size() has
 * seen that it is no FIFO. */
static bool set_blocking(DiskImage *disk, GError **errp)
{
    int flags = fcntl(disk->fd, F_GETFL);

    if (flags < 0 || fcntl(disk->fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO, "%s: %s",
                    disk->path, g_strerror(errno));
        return false;
    }
    return true;
}

/* fd, sized to the image, if that works (an unlinked file on 9p with
 * cache=loose cannot be truncated, for one); else closed. */
static bool overlay_try(DiskImage *disk, int fd)
{
    if (fd < 0) {
        return false;
    }
    if (ftruncate(fd, disk->size) < 0) {
        close(fd);
        return false;
    }
    disk->overlay_fd = fd;
    return true;
}

/*
 * An unnamed sparse file as large as the image: O_TMPFILE in $TMPDIR; else
 * a named file there, unlinked at once; else (a filesystem that can do
 * neither) a memfd, which lives in RAM and swap.
 */
static bool open_overlay(DiskImage *disk, GError **errp)
{
    const char *dir = g_get_tmp_dir();
    g_autofree char *tmpl =
        g_build_filename(dir, "vmspec-overlay-XXXXXX", NULL);
    int fd;

    if (!overlay_try(disk, open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600))) {
        fd = g_mkstemp_full(tmpl, O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0) {
            unlink(tmpl);
        }
        if (!overlay_try(disk, fd) &&
            !overlay_try(disk, memfd_create("vmspec-overlay", MFD_CLOEXEC))) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                        "cannot create a snapshot overlay in %s: %s", dir,
                        g_strerror(errno));
            return false;
        }
    }
    uint64_t blocks = (disk->size + DISK_SNAPSHOT_BLOCK - 1) /
                      DISK_SNAPSHOT_BLOCK;
    disk->written = g_new0(uint64_t, (blocks + 63) / 64);
    return true;
}

static void disk_free(DiskImage *disk)
{
    if (disk->overlay_fd >= 0) {
        close(disk->overlay_fd);
    }
    if (disk->fd >= 0) {
        close(disk->fd);    /* releases the OFD locks */
    }
    g_free(disk->written);
    g_free(disk->path);
    g_free(disk);
}

DiskImage *disk_open(const char *path, DiskOpenMode mode, GError **errp)
{
    DiskImage *disk = g_new0(DiskImage, 1);
    /* O_NONBLOCK until image_size() has seen a file or block device:
     * open(2) of a FIFO (one put where the checked image was) waits for a
     * writer without it. */
    int flags = (mode == DISK_OPEN_READWRITE ? O_RDWR : O_RDONLY) |
                O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

    disk->path = g_strdup(path);
    disk->mode = mode;
    disk->overlay_fd = -1;
    disk->fd = open(path, flags);
    if (disk->fd < 0) {
        int err = errno;
        g_set_error(errp, VMSPEC_ERROR,
                    err == ENOENT ? VMSPEC_ERROR_NOT_FOUND : VMSPEC_ERROR_IO,
                    "cannot open disk image %s: %s", path, g_strerror(err));
        goto fail;
    }
    if (!image_size(disk, errp) || !set_blocking(disk, errp) ||
        !lock_image(disk, errp)) {
        goto fail;
    }
    if (mode == DISK_OPEN_SNAPSHOT && !open_overlay(disk, errp)) {
        goto fail;
    }
    return disk;

fail:
    disk_free(disk);
    return NULL;
}

bool disk_close(DiskImage *disk, GError **errp)
{
    bool ok = true;

    if (!disk) {
        return true;
    }
    if (disk->mode == DISK_OPEN_READWRITE) {
        ok = disk_flush(disk, errp);
    }
    disk_free(disk);
    return ok;
}

uint64_t disk_size(const DiskImage *disk)
{
    return disk->size;
}

bool disk_is_readonly(const DiskImage *disk)
{
    return disk->mode == DISK_OPEN_READONLY;
}

static bool check_range(DiskImage *disk, uint64_t offset, uint64_t len,
                        bool write, GError **errp)
{
    if (write && disk->mode == DISK_OPEN_READONLY) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_FAILED,
                    "disk image %s is read-only", disk->path);
        return false;
    }
    if (offset > disk->size || len > disk->size - offset) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "%s: bytes %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT
                    " lie beyond its end (%" G_GUINT64_FORMAT ")",
                    disk->path, offset, len, disk->size);
        return false;
    }
    return true;
}

static bool iov_total(const struct iovec *iov, unsigned n, uint64_t *len)
{
    uint64_t total = 0;

    for (unsigned i = 0; i < n; i++) {
        if (iov[i].iov_len > UINT64_MAX - total) {
            return false;
        }
        total += iov[i].iov_len;
    }
    *len = total;
    return true;
}

/*
 * preadv/pwritev of all of iov at offset on fd, retrying short transfers
 * (and EINTR); at most IOV_MAX iovecs per call.  Without copying iov: a
 * partly done iovec is finished with a plain pread/pwrite.
 */
static bool rw_full(DiskImage *disk, int fd, bool write,
                    const struct iovec *iov, unsigned n, uint64_t offset,
                    GError **errp)
{
    unsigned i = 0;
    size_t skip = 0;        /* bytes of iov[i] already done */
    size_t done = 0;        /* bytes the last call moved */

    for (;;) {
        while (i < n && done >= iov[i].iov_len - skip) {
            done -= iov[i].iov_len - skip;
            i++;
            skip = 0;
        }
        if (i >= n) {
            return true;
        }
        skip += done;

        ssize_t r;
        if (skip == 0) {
            int cnt = n - i < IOV_MAX ? (int)(n - i) : IOV_MAX;
            r = write ? pwritev(fd, iov + i, cnt, offset)
                      : preadv(fd, iov + i, cnt, offset);
        } else {
            char *base = (char *)iov[i].iov_base + skip;
            size_t len = iov[i].iov_len - skip;
            r = write ? pwrite(fd, base, len, offset)
                      : pread(fd, base, len, offset);
        }
        if (r < 0 && errno == EINTR) {
            done = 0;
            continue;
        }
        if (r <= 0) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                        "%s %s at %" G_GUINT64_FORMAT ": %s",
                        write ? "writing" : "reading", disk->path, offset,
                        r < 0 ? g_strerror(errno) : "unexpected end of file");
            return false;
        }
        offset += r;
        done = r;
    }
}

/* The iovecs covering bytes [off, off + len) of iov, into out (at least n
 * entries).  Returns how many. */
static unsigned iov_slice(const struct iovec *iov, unsigned n, size_t off,
                          size_t len, struct iovec *out)
{
    unsigned k = 0;

    for (unsigned i = 0; i < n && len > 0; i++) {
        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        size_t take = MIN(iov[i].iov_len - off, len);
        out[k].iov_base = (char *)iov[i].iov_base + off;
        out[k].iov_len = take;
        k++;
        len -= take;
        off = 0;
    }
    return k;
}

static bool block_written(const DiskImage *disk, uint64_t blk)
{
    return (disk->written[blk / 64] >> (blk % 64)) & 1;
}

static void mark_written(DiskImage *disk, uint64_t first, uint64_t last)
{
    for (uint64_t b = first; b <= last; b++) {
        disk->written[b / 64] |= UINT64_C(1) << (b % 64);
    }
}

/* Snapshot reads: runs of blocks from the overlay or from the image. */
static bool snapshot_readv(DiskImage *disk, const struct iovec *iov,
                           unsigned n, uint64_t offset, uint64_t len,
                           GError **errp)
{
    g_autofree struct iovec *sub = g_new(struct iovec, n);
    uint64_t pos = offset, end = offset + len;

    while (pos < end) {
        uint64_t blk = pos / DISK_SNAPSHOT_BLOCK;
        bool in_overlay = block_written(disk, blk);
        uint64_t run_end = (blk + 1) * DISK_SNAPSHOT_BLOCK;

        while (run_end < end &&
               block_written(disk, run_end / DISK_SNAPSHOT_BLOCK) ==
                   in_overlay) {
            run_end += DISK_SNAPSHOT_BLOCK;
        }
        run_end = MIN(run_end, end);
        unsigned k = iov_slice(iov, n, pos - offset, run_end - pos, sub);
        if (!rw_full(disk, in_overlay ? disk->overlay_fd : disk->fd, false,
                     sub, k, pos, errp)) {
            return false;
        }
        pos = run_end;
    }
    return true;
}

/* Copies block blk from the image into the overlay, unless it is there or
 * [start, end) covers all of it. */
static bool snapshot_cow(DiskImage *disk, uint64_t blk, uint64_t start,
                         uint64_t end, GError **errp)
{
    uint64_t bstart = blk * DISK_SNAPSHOT_BLOCK;
    uint64_t bend = MIN(bstart + DISK_SNAPSHOT_BLOCK, disk->size);

    if (block_written(disk, blk) || (start <= bstart && end >= bend)) {
        return true;
    }
    g_autofree char *buf = g_malloc(bend - bstart);
    struct iovec v = { .iov_base = buf, .iov_len = bend - bstart };
    if (!rw_full(disk, disk->fd, false, &v, 1, bstart, errp) ||
        !rw_full(disk, disk->overlay_fd, true, &v, 1, bstart, errp)) {
        return false;
    }
    mark_written(disk, blk, blk);
    return true;
}

static bool snapshot_writev(DiskImage *disk, const struct iovec *iov,
                            unsigned n, uint64_t offset, uint64_t len,
                            GError **errp)
{
    uint64_t first = offset / DISK_SNAPSHOT_BLOCK;
    uint64_t last = (offset + len - 1) / DISK_SNAPSHOT_BLOCK;

    if (!snapshot_cow(disk, first, offset, offset + len, errp) ||
        !snapshot_cow(disk, last, offset, offset + len, errp) ||
        !rw_full(disk, disk->overlay_fd, true, iov, n, offset, errp)) {
        return false;
    }
    mark_written(disk, first, last);
    return true;
}

bool disk_readv(DiskImage *disk, const struct iovec *iov, unsigned iovcnt,
                uint64_t offset, GError **errp)
{
    uint64_t len;

    if (!iov_total(iov, iovcnt, &len)) {
        len = UINT64_MAX;
    }
    if (!check_range(disk, offset, len, false, errp)) {
        return false;
    }
    if (len == 0) {
        return true;
    }
    if (disk->mode == DISK_OPEN_SNAPSHOT) {
        return snapshot_readv(disk, iov, iovcnt, offset, len, errp);
    }
    return rw_full(disk, disk->fd, false, iov, iovcnt, offset, errp);
}

bool disk_writev(DiskImage *disk, const struct iovec *iov, unsigned iovcnt,
                 uint64_t offset, GError **errp)
{
    uint64_t len;

    if (!iov_total(iov, iovcnt, &len)) {
        len = UINT64_MAX;
    }
    if (!check_range(disk, offset, len, true, errp)) {
        return false;
    }
    if (len == 0) {
        return true;
    }
    if (disk->mode == DISK_OPEN_SNAPSHOT) {
        return snapshot_writev(disk, iov, iovcnt, offset, len, errp);
    }
    return rw_full(disk, disk->fd, true, iov, iovcnt, offset, errp);
}

bool disk_flush(DiskImage *disk, GError **errp)
{
    if (disk->mode != DISK_OPEN_READWRITE) {
        return true;
    }
    if (fdatasync(disk->fd) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "flushing disk image %s: %s", disk->path,
                    g_strerror(errno));
        return false;
    }
    return true;
}

/* Writes zero buffers over [offset, offset + len) through the normal
 * write path (so snapshot disks copy-on-write). */
static bool write_zero_buffers(DiskImage *disk, uint64_t offset,
                               uint64_t len, GError **errp)
{
    size_t chunk = MIN(len, (uint64_t)ZERO_CHUNK);
    g_autofree char *zeroes = g_malloc0(chunk);

    while (len > 0) {
        struct iovec v = { .iov_base = zeroes, .iov_len = MIN(len, chunk) };
        if (!disk_writev(disk, &v, 1, offset, errp)) {
            return false;
        }
        offset += v.iov_len;
        len -= v.iov_len;
    }
    return true;
}

/* fallocate on fd: ZERO_RANGE (unless unmap), then PUNCH_HOLE.  False
 * when the filesystem supports neither (errno says why). */
static bool fallocate_zero(int fd, uint64_t offset, uint64_t len, bool unmap)
{
    if (!unmap &&
        fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
                  offset, len) == 0) {
        return true;
    }
    return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                     offset, len) == 0;
}

bool disk_write_zeroes(DiskImage *disk, uint64_t offset, uint64_t len,
                       bool unmap, GError **errp)
{
    if (!check_range(disk, offset, len, true, errp)) {
        return false;
    }
    if (len == 0) {
        return true;
    }
    if (disk->mode == DISK_OPEN_READWRITE) {
        if (fallocate_zero(disk->fd, offset, len, unmap)) {
            return true;
        }
        return write_zero_buffers(disk, offset, len, errp);
    }

    /* Snapshot: whole blocks become holes in the overlay, marked written;
     * partial blocks at either end are written (copy-on-write). */
    uint64_t end = offset + len;
    uint64_t astart = ALIGN_UP(offset, (uint64_t)DISK_SNAPSHOT_BLOCK);
    uint64_t aend = end == disk->size
                    ? end : ALIGN_DOWN(end, (uint64_t)DISK_SNAPSHOT_BLOCK);

    if (astart >= aend) {
        return write_zero_buffers(disk, offset, len, errp);
    }
    if (!write_zero_buffers(disk, offset, astart - offset, errp) ||
        !write_zero_buffers(disk, aend, end - aend, errp)) {
        return false;
    }
    if (!fallocate_zero(disk->overlay_fd, astart, aend - astart, true)) {
        /* No holes in the overlay's filesystem: write zero buffers. */
        return write_zero_buffers(disk, astart, aend - astart, errp);
    }
    mark_written(disk, astart / DISK_SNAPSHOT_BLOCK,
                 (aend - 1) / DISK_SNAPSHOT_BLOCK);
    return true;
}

bool disk_discard(DiskImage *disk, uint64_t offset, uint64_t len,
                  GError **errp)
{
    return disk_write_zeroes(disk, offset, len, true, errp);
}
