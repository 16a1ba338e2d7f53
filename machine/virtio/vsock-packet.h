/*
 * virtio-vsock packets (virtio 1.2, 5.10 "Socket Device"): the 44-byte
 * header every packet on the rx and tx queues starts with (5.10.6
 * "Device Operation"), and the checks a packet the driver sent must pass
 * before the device acts on it.  Pure functions over a popped element:
 * the device (machine/virtio/vsock.c) and the fuzz target
 * (tests/fuzz/fuzz-vsock-packet.c) share them.
 */
#ifndef VMSPEC_VIRTIO_VSOCK_PACKET_H
#define VMSPEC_VIRTIO_VSOCK_PACKET_H

#include <stdbool.h>
#include <stdint.h>

#include "machine/virtio/queue.h"

/* 5.10.4: the host's CID; guests get 3 and up (0, 1 and 2 are reserved,
 * and U32_MAX is VMADDR_CID_ANY in Linux). */
#define VSOCK_HOST_CID      2
#define VSOCK_GUEST_CID_MIN 3
#define VSOCK_GUEST_CID_MAX 0xfffffffeu

/* 5.10.6: struct virtio_vsock_hdr, packed, little-endian. */
#define VSOCK_HDR_SIZE      44

/* 5.10.6 "type". */
#define VSOCK_TYPE_STREAM       1
#define VSOCK_TYPE_SEQPACKET    2

/* 5.10.6 "op". */
typedef enum {
    VSOCK_OP_INVALID = 0,
    VSOCK_OP_REQUEST = 1,
    VSOCK_OP_RESPONSE = 2,
    VSOCK_OP_RST = 3,
    VSOCK_OP_SHUTDOWN = 4,
    VSOCK_OP_RW = 5,
    VSOCK_OP_CREDIT_UPDATE = 6,
    VSOCK_OP_CREDIT_REQUEST = 7,
} VsockOp;

/* 5.10.6.4 "flags" of a SHUTDOWN: the peer will receive / send no more. */
#define VSOCK_SHUTDOWN_RCV  1u
#define VSOCK_SHUTDOWN_SEND 2u

typedef struct VsockHdr {
    uint64_t src_cid;
    uint64_t dst_cid;
    uint32_t src_port;
    uint32_t dst_port;
    uint32_t len;           /* payload bytes after the header */
    uint16_t type;
    uint16_t op;
    uint32_t flags;
    uint32_t buf_alloc;     /* the sender's receive buffer (5.10.6.3) */
    uint32_t fwd_cnt;       /* bytes the sender has consumed of it */
} VsockHdr;

void vsock_hdr_encode(const VsockHdr *h, uint8_t out[VSOCK_HDR_SIZE]);
void vsock_hdr_decode(const uint8_t in[VSOCK_HDR_SIZE], VsockHdr *h);

/* At most this many iovecs describe one packet's payload; a chain split
 * finer than that is handled by copying (vsock_packet_copy_payload). */
#define VSOCK_PAYLOAD_IOV_MAX 16

/* A packet the driver put on the tx queue. */
typedef struct VsockPacket {
    VsockHdr hdr;
    /* hdr.len bytes of payload, as slices of the element's device-readable
     * buffers; payload_iov_num 0 with hdr.len > 0 when they were split
     * into more than VSOCK_PAYLOAD_IOV_MAX pieces. */
    struct iovec payload_iov[VSOCK_PAYLOAD_IOV_MAX];
    unsigned payload_iov_num;
} VsockPacket;

/*
 * Reads the packet in a tx element.  False when the chain cannot hold
 * what it claims: fewer device-readable bytes than a header, a payload
 * length beyond the bytes that follow it, or device-writable buffers
 * (5.10.6.1: the driver's tx buffers are read-only to the device).  Those
 * break the queue's contract, so the caller puts the device in
 * NEEDS_RESET; everything the header's fields say is judged later, per
 * connection.
 */
bool vsock_packet_parse(const VirtqElement *elem, VsockPacket *pkt);

/* Copies the payload (hdr.len bytes) into buf, which holds at least that
 * many; for payloads vsock_packet_parse() could not slice. */
void vsock_packet_copy_payload(const VirtqElement *elem,
                               const VsockPacket *pkt, uint8_t *buf);

/*
 * Slices len bytes of iov[0..n) from offset into out (at most max
 * entries).  Returns how many entries it used, or 0 when the bytes are
 * not all there or need more than max entries.
 */
unsigned vsock_iov_slice(const struct iovec *iov, unsigned n, size_t offset,
                         size_t len, struct iovec *out, unsigned max);

#endif
