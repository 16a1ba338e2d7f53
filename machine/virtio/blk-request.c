/*
 * virtio-blk requests: IN, OUT, FLUSH, GET_ID, DISCARD and WRITE_ZEROES
 * (virtio 1.2, 5.2.6) on a disk image, with vectored I/O.
 */
#include "machine/virtio/blk-request.h"

#include <string.h>

#include "machine/byteorder/le.h"
#include "machine/qom/error.h"

/* True when [sector, sector + count) lies within the disk. */
static bool in_range(const VirtioBlkTarget *s, uint64_t sector,
                     uint64_t count)
{
    return sector <= s->capacity && count <= s->capacity - sector;
}

/* s->iov := the iovecs covering bytes [off, off + len) of iov; returns
 * how many. */
static unsigned blk_slice(VirtioBlkTarget *s, const struct iovec *iov,
                          unsigned n, size_t off, size_t len)
{
    unsigned k = 0;

    if (n > s->iov_cap) {
        s->iov_cap = n;
        s->iov = g_renew(struct iovec, s->iov, n);
    }
    for (unsigned i = 0; i < n && len > 0; i++) {
        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        size_t take = MIN(iov[i].iov_len - off, len);
        s->iov[k].iov_base = (char *)iov[i].iov_base + off;
        s->iov[k].iov_len = take;
        k++;
        len -= take;
        off = 0;
    }
    return k;
}

/* IN: data goes to the writable buffers before the status byte.  OUT: it
 * comes from the readable buffers after the header. */
static uint8_t blk_rw(VirtioBlkTarget *s, VirtqElement *e, bool write,
                      uint64_t sector, uint32_t *written)
{
    size_t len = write ? e->out_len - VIRTIO_BLK_HDR_SIZE : e->in_len - 1;
    g_autoptr(GError) err = NULL;
    unsigned n;
    bool ok;

    if (len % VIRTIO_BLK_SECTOR != 0 ||
        !in_range(s, sector, len / VIRTIO_BLK_SECTOR) ||
        (write && s->readonly)) {
        return VIRTIO_BLK_S_IOERR;
    }
    if (write) {
        n = blk_slice(s, e->out_iov, e->out_num, VIRTIO_BLK_HDR_SIZE, len);
        ok = disk_writev(s->disk, s->iov, n, sector * VIRTIO_BLK_SECTOR,
                         &err);
    } else {
        n = blk_slice(s, e->in_iov, e->in_num, 0, len);
        ok = disk_readv(s->disk, s->iov, n, sector * VIRTIO_BLK_SECTOR,
                        &err);
        if (ok) {
            *written += len;
        }
    }
    return ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
}

/* The device's id, NUL-padded to 20 bytes (no NUL when it is 20 long). */
static uint8_t blk_get_id(VirtioBlkTarget *s, VirtqElement *e,
                          uint32_t *written)
{
    char id[VIRTIO_BLK_ID_BYTES] = { 0 };
    const char *name = s->id ? s->id : "";
    size_t len = MIN(e->in_len - 1, sizeof(id));

    memcpy(id, name, MIN(strlen(name), sizeof(id)));
    *written += iov_from_buf(e->in_iov, e->in_num, 0, id, len);
    return VIRTIO_BLK_S_OK;
}

/* DISCARD and WRITE_ZEROES: segments after the header (5.2.6). */
static uint8_t blk_discard_zeroes(VirtioBlkTarget *s, VirtqElement *e,
                                  bool discard)
{
    size_t len = e->out_len - VIRTIO_BLK_HDR_SIZE;
    size_t nseg = len / VIRTIO_BLK_SEG_SIZE;
    uint8_t seg[VIRTIO_BLK_SEG_SIZE];

    if (s->readonly) {
        return VIRTIO_BLK_S_IOERR;
    }
    if (len == 0 || len % VIRTIO_BLK_SEG_SIZE != 0) {
        return VIRTIO_BLK_S_IOERR;
    }
    if (nseg > BLK_MAX_DISCARD_SEG) {
        return VIRTIO_BLK_S_UNSUPP;
    }
    for (size_t i = 0; i < nseg; i++) {
        g_autoptr(GError) err = NULL;
        iov_to_buf(e->out_iov, e->out_num,
                   VIRTIO_BLK_HDR_SIZE + i * VIRTIO_BLK_SEG_SIZE, seg,
                   sizeof(seg));
        uint64_t sector = le64_load(seg);
        uint32_t count = le32_load(seg + 8);
        uint32_t flags = le32_load(seg + 12);
        bool unmap = flags & VIRTIO_BLK_WZ_F_UNMAP;

        /* 5.2.6.2: unknown flags, and unmap on a discard, are UNSUPP. */
        if ((flags & ~VIRTIO_BLK_WZ_F_UNMAP) || (discard && unmap)) {
            return VIRTIO_BLK_S_UNSUPP;
        }
        if (count > BLK_MAX_DISCARD_SECTORS || !in_range(s, sector, count)) {
            return VIRTIO_BLK_S_IOERR;
        }
        bool ok = discard
            ? disk_discard(s->disk, sector * VIRTIO_BLK_SECTOR,
                           (uint64_t)count * VIRTIO_BLK_SECTOR, &err)
            : disk_write_zeroes(s->disk, sector * VIRTIO_BLK_SECTOR,
                                (uint64_t)count * VIRTIO_BLK_SECTOR, unmap,
                                &err);
        if (!ok) {
            return VIRTIO_BLK_S_IOERR;
        }
    }
    return VIRTIO_BLK_S_OK;
}

bool virtio_blk_handle_request(VirtioBlkTarget *s, VirtqElement *e,
                               uint32_t *written)
{
    uint8_t hdr[VIRTIO_BLK_HDR_SIZE];
    uint8_t status;
    g_autoptr(GError) err = NULL;

    if (e->out_len < sizeof(hdr) || e->in_len < 1) {
        return false;
    }
    iov_to_buf(e->out_iov, e->out_num, 0, hdr, sizeof(hdr));
    uint32_t type = le32_load(hdr);
    uint64_t sector = le64_load(hdr + 8);

    *written = 0;
    switch (type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT:
        status = blk_rw(s, e, type == VIRTIO_BLK_T_OUT, sector, written);
        break;
    case VIRTIO_BLK_T_FLUSH:
        status = disk_flush(s->disk, &err) ? VIRTIO_BLK_S_OK
                                           : VIRTIO_BLK_S_IOERR;
        break;
    case VIRTIO_BLK_T_GET_ID:
        status = blk_get_id(s, e, written);
        break;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        status = blk_discard_zeroes(s, e, type == VIRTIO_BLK_T_DISCARD);
        break;
    default:
        status = VIRTIO_BLK_S_UNSUPP;
        break;
    }
    iov_from_buf(e->in_iov, e->in_num, e->in_len - 1, &status, 1);
    *written += 1;
    return true;
}

