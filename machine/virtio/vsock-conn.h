/*
 * The connections of a virtio-vsock device (machine/virtio/vsock.c): each
 * a stream between a port of the guest and a unix socket on the host, in
 * Firecracker's hybrid-vsock scheme.  This is the protocol of virtio 1.2,
 * 5.10.6 "Device Operation" from the host's side: connection setup and
 * teardown, credit-based flow control (5.10.6.3), and the RSTs that
 * answer packets for no connection.  The device owns the queues and feeds
 * this table the driver's tx packets and rx buffers.
 *
 * Bounds: at most VSOCK_MAX_CONNS connections; each buffers at most
 * VSOCK_BUF_ALLOC bytes from the guest (the credit it advertises), and
 * nothing toward the guest (host bytes are read only into an rx buffer
 * the driver posted); at most VSOCK_RST_QUEUE RSTs wait for rx buffers.
 *
 * Threads: the device's I/O thread, or with it quiesced (reset).
 */
#ifndef VMSPEC_VIRTIO_VSOCK_CONN_H
#define VMSPEC_VIRTIO_VSOCK_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "machine/virtio/queue.h"
#include "machine/virtio/vsock-packet.h"

/* Our receive buffer per connection (the credit the guest gets), as
 * Linux's default (VIRTIO_VSOCK_DEFAULT_BUF_SIZE). */
#define VSOCK_BUF_ALLOC         (256 * 1024)
#define VSOCK_MAX_CONNS         256
/* RSTs for packets that belong to no connection, waiting for rx buffers;
 * beyond this many the guest's connect or send times out instead. */
#define VSOCK_RST_QUEUE         256
/* Host ports of host-initiated connections, as Firecracker picks them. */
#define VSOCK_HOST_PORT_FIRST   (1u << 30)

typedef struct VsockConn VsockConn;
typedef struct VsockConns VsockConns;

/* How the owner watches the connections' host sockets (the device: its
 * I/O thread's epoll set, level-triggered), calling
 * vsock_conn_socket_ready() for what it reports. */
typedef struct VsockWatcher {
    /* Starts watching fd for c, for no events yet; false: cannot. */
    bool (*add)(VsockConns *t, VsockConn *c, int fd);
    void (*modify)(VsockConns *t, int fd, uint32_t events);
    void (*remove)(VsockConns *t, int fd);
} VsockWatcher;

struct VsockConns {
    /* Set by the owner: the watcher and its opaque, the guest's CID,
     * where the host sockets are ("RUNTIME/vmspec/NAME": NAME.vsock_PORT
     * for the guest's connections). */
    const VsockWatcher *watcher;
    void *opaque;
    uint64_t guest_cid;
    const char *prefix;

    /* Private. */
    GHashTable *by_ports;   /* conn key -> VsockConn * (ports assigned) */
    GPtrArray *all;         /* every VsockConn * */
    GQueue rx_ready;        /* VsockConn * with something for the guest */
    VsockHdr rsts[VSOCK_RST_QUEUE];
    unsigned rst_head, rst_num;
    uint32_t next_host_port;
    uint8_t *bounce;        /* made when a driver's buffers need it */
};

void vsock_conns_init(VsockConns *t, const VsockWatcher *watcher,
                      void *opaque);
/* Closes every connection (their host sockets see end of file) and drops
 * what waited for the guest: a device reset. */
void vsock_conns_clear(VsockConns *t);
void vsock_conns_destroy(VsockConns *t);

guint vsock_conns_count(const VsockConns *t);

/* A host client accepted on NAME.vsock (non-blocking fd, now the table's):
 * it has until deadline (monotonic us) to send "CONNECT PORT\n", and the
 * guest 2 s after that to answer. */
void vsock_conns_accept(VsockConns *t, int fd, gint64 deadline);

/* What the watcher reported for c's host socket (EPOLLIN, EPOLLOUT,
 * EPOLLHUP, EPOLLERR): reads a CONNECT line, writes buffered bytes, or
 * notes data for the guest (the owner runs the rx queue after).  May end
 * the connection. */
void vsock_conn_socket_ready(VsockConn *c, uint32_t events);

/* Ends the connections whose handshake is past its time (host clients
 * are closed; a REQUEST the guest left unanswered gets a RST).  Returns
 * whether some still wait. */
bool vsock_conns_expire(VsockConns *t, gint64 now);

/* Acts on one packet from the tx queue (a VirtqueueRequestFn, opaque the
 * table).  False when its chain is malformed (vsock_packet_parse()). */
bool vsock_conns_tx_packet(void *opaque, VirtqElement *elem,
                           uint32_t *written);

/* Whether something waits for an rx buffer. */
bool vsock_conns_rx_pending(const VsockConns *t);

/* Fills an rx buffer (elem: device-writable, at least a header) with the
 * next packet for the guest: a RST, a control packet, or data read from a
 * host socket.  Returns the bytes written; 0 when, after all, there was
 * nothing (elem is unused: offer it again). */
uint32_t vsock_conns_fill_rx(VsockConns *t, VirtqElement *elem);

#endif
