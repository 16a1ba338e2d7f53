/*
 * virtio-vsock packet headers and the checks on a driver's tx chain
 * (vsock-packet.h).
 */
#include "machine/virtio/vsock-packet.h"

#include <glib.h>
#include <string.h>

#include "machine/byteorder/le.h"

/* 5.10.6: the field offsets of struct virtio_vsock_hdr (packed). */
enum {
    HDR_SRC_CID = 0,
    HDR_DST_CID = 8,
    HDR_SRC_PORT = 16,
    HDR_DST_PORT = 20,
    HDR_LEN = 24,
    HDR_TYPE = 28,
    HDR_OP = 30,
    HDR_FLAGS = 32,
    HDR_BUF_ALLOC = 36,
    HDR_FWD_CNT = 40,
};

G_STATIC_ASSERT(HDR_FWD_CNT + 4 == VSOCK_HDR_SIZE);

void vsock_hdr_encode(const VsockHdr *h, uint8_t out[VSOCK_HDR_SIZE])
{
    le64_store(out + HDR_SRC_CID, h->src_cid);
    le64_store(out + HDR_DST_CID, h->dst_cid);
    le32_store(out + HDR_SRC_PORT, h->src_port);
    le32_store(out + HDR_DST_PORT, h->dst_port);
    le32_store(out + HDR_LEN, h->len);
    le16_store(out + HDR_TYPE, h->type);
    le16_store(out + HDR_OP, h->op);
    le32_store(out + HDR_FLAGS, h->flags);
    le32_store(out + HDR_BUF_ALLOC, h->buf_alloc);
    le32_store(out + HDR_FWD_CNT, h->fwd_cnt);
}

void vsock_hdr_decode(const uint8_t in[VSOCK_HDR_SIZE], VsockHdr *h)
{
    h->src_cid = le64_load(in + HDR_SRC_CID);
    h->dst_cid = le64_load(in + HDR_DST_CID);
    h->src_port = le32_load(in + HDR_SRC_PORT);
    h->dst_port = le32_load(in + HDR_DST_PORT);
    h->len = le32_load(in + HDR_LEN);
    h->type = le16_load(in + HDR_TYPE);
    h->op = le16_load(in + HDR_OP);
    h->flags = le32_load(in + HDR_FLAGS);
    h->buf_alloc = le32_load(in + HDR_BUF_ALLOC);
    h->fwd_cnt = le32_load(in + HDR_FWD_CNT);
}

unsigned vsock_iov_slice(const struct iovec *iov, unsigned n, size_t offset,
                         size_t len, struct iovec *out, unsigned max)
{
    unsigned used = 0;

    for (unsigned i = 0; i < n && len > 0; i++) {
        size_t take;

        if (offset >= iov[i].iov_len) {
            offset -= iov[i].iov_len;
            continue;
        }
        if (used == max) {
            return 0;
        }
        take = MIN(iov[i].iov_len - offset, len);
        out[used].iov_base = (uint8_t *)iov[i].iov_base + offset;
        out[used].iov_len = take;
        used++;
        len -= take;
        offset = 0;
    }
    return len == 0 ? used : 0;
}

bool vsock_packet_parse(const VirtqElement *elem, VsockPacket *pkt)
{
    uint8_t raw[VSOCK_HDR_SIZE];

    memset(pkt, 0, sizeof(*pkt));
    if (elem->in_num > 0 || elem->out_len < VSOCK_HDR_SIZE) {
        return false;
    }
    iov_to_buf(elem->out_iov, elem->out_num, 0, raw, sizeof(raw));
    vsock_hdr_decode(raw, &pkt->hdr);
    if (pkt->hdr.len > elem->out_len - VSOCK_HDR_SIZE) {
        return false;
    }
    if (pkt->hdr.len > 0) {
        pkt->payload_iov_num =
            vsock_iov_slice(elem->out_iov, elem->out_num, VSOCK_HDR_SIZE,
                            pkt->hdr.len, pkt->payload_iov,
                            VSOCK_PAYLOAD_IOV_MAX);
    }
    return true;
}

void vsock_packet_copy_payload(const VirtqElement *elem,
                               const VsockPacket *pkt, uint8_t *buf)
{
    iov_to_buf(elem->out_iov, elem->out_num, VSOCK_HDR_SIZE, buf,
               pkt->hdr.len);
}
