/*
 * virtio-vsock connections: the host's side of the protocol, toward unix
 * sockets (vsock-conn.h).  A connection's life (virtio 1.2, 5.10.6.4-5):
 *
 *   host client: accept -> HANDSHAKE (reading "CONNECT PORT\n") ->
 *     REQUESTED (REQUEST sent) -> ESTABLISHED on RESPONSE ("OK HOSTPORT\n"
 *     to the client), or closed on RST or timeout
 *   guest: REQUEST to CID 2 -> connect to NAME.vsock_PORT -> ESTABLISHED,
 *     RESPONSE owed (RST when nobody listens)
 *
 * then data both ways, SHUTDOWN for half closes, and a RST from the side
 * that closes last (Linux's close() sends SHUTDOWN with both flags and
 * waits for the peer's RST).
 */
#include "machine/virtio/vsock-conn.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* A CREDIT_UPDATE goes out whenever a quarter of the buffer was forwarded
 * since the guest last heard our fwd_cnt. */
#define VSOCK_CREDIT_UPDATE_AT  (VSOCK_BUF_ALLOC / 4)
/* Payload of one packet to the guest: Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE. */
#define VSOCK_MAX_PAYLOAD       (64 * 1024)
#define VSOCK_CONNECT_LINE_MAX  32
#define VSOCK_REQUEST_US        (2 * G_USEC_PER_SEC)  /* guest's answer */

typedef enum {
    CONN_HANDSHAKE,     /* host client: waiting for its CONNECT line */
    CONN_REQUESTED,     /* host client: REQUEST sent, waiting for RESPONSE */
    CONN_ESTABLISHED,
} ConnState;

/* Control packets a connection owes the guest, sent as rx buffers come. */
enum {
    OWE_REQUEST = 1u << 0,
    OWE_RESPONSE = 1u << 1,
    OWE_SHUTDOWN = 1u << 2,
    OWE_CREDIT = 1u << 3,
};

struct VsockConn {
    VsockConns *table;
    int fd;                 /* the host's unix socket, non-blocking */
    ConnState state;
    uint32_t host_port, guest_port;
    gint64 deadline;        /* HANDSHAKE, REQUESTED: monotonic us */
    unsigned owed;          /* OWE_* */
    bool queued;            /* on table->rx_ready */
    bool readable;          /* the host socket has data for the guest */
    bool watched;           /* fd is in the I/O thread's epoll set */
    uint32_t events;        /* what it is watched for */
    bool host_eof;          /* the host sends no more */
    bool guest_shut_send;   /* SHUTDOWN flags the guest sent */
    bool guest_shut_rcv;

    /* guest -> host */
    uint32_t rx_cnt;        /* payload bytes the guest sent */
    uint32_t fwd_cnt;       /* of those, written to the host socket */
    uint32_t fwd_cnt_told;  /* fwd_cnt the guest last heard */
    uint8_t *pending;       /* not yet written: [start, start+len) */
    size_t pending_start, pending_len;

    /* host -> guest */
    uint32_t tx_cnt;        /* payload bytes sent to the guest */
    uint32_t peer_buf_alloc, peer_fwd_cnt;
    uint32_t shutdown_flags;  /* OWE_SHUTDOWN's flags */

    size_t line_len;        /* HANDSHAKE: bytes of the CONNECT line */
    char line[VSOCK_CONNECT_LINE_MAX];
};

static uint64_t conn_key(uint32_t guest_port, uint32_t host_port)
{
    return (uint64_t)guest_port << 32 | host_port;
}

static VsockConn *conn_lookup(VsockConns *t, uint32_t guest_port,
                              uint32_t host_port)
{
    uint64_t key = conn_key(guest_port, host_port);

    return g_hash_table_lookup(t->by_ports, &key);
}

/* What the guest still has room for (5.10.6.3: peer_free); a guest that
 * claims to have consumed more than it got hurts only itself. */
static uint32_t conn_peer_free(const VsockConn *c)
{
    uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

    return in_flight >= c->peer_buf_alloc ? 0
                                          : c->peer_buf_alloc - in_flight;
}

static bool conn_can_send_data(const VsockConn *c)
{
    return c->state == CONN_ESTABLISHED && !c->host_eof &&
           !c->guest_shut_rcv && conn_peer_free(c) > 0;
}

/* Watches the host socket for what the connection can act on now:
 * readable when it may send the guest data (or read a CONNECT line) and
 * has not yet seen that there is some; writable while bytes wait. */
static void conn_update_events(VsockConn *c)
{
    VsockConns *t = c->table;
    uint32_t events = 0;

    if (!c->watched) {
        return;
    }
    if (c->state == CONN_HANDSHAKE ||
        (conn_can_send_data(c) && !c->readable)) {
        events |= EPOLLIN;
    }
    if (c->pending_len > 0) {
        events |= EPOLLOUT;
    }
    if (events != c->events) {
        c->events = events;
        t->watcher->modify(t, c->fd, events);
    }
}

/* The host socket has nothing for the guest now: wait until it says it
 * has.  A socket that hung up says nothing any more (EPOLLHUP is not
 * watched, vsock_conn_socket_ready()), so it stays readable until its
 * end of file is read. */
static void conn_drained(VsockConn *c)
{
    if (c->watched) {
        c->readable = false;
        conn_update_events(c);
    }
}

static void conn_queue(VsockConn *c)
{
    if (!c->queued) {
        c->queued = true;
        g_queue_push_tail(&c->table->rx_ready, c);
    }
}

static void conn_owe(VsockConn *c, unsigned what)
{
    c->owed |= what;
    conn_queue(c);
}

/* The guest has room again: a connection that stopped for credit with
 * data read-ready goes back in line; one that did not know yet is
 * watched again. */
static void conn_credit_returned(VsockConn *c)
{
    if (c->readable && conn_can_send_data(c)) {
        conn_queue(c);
    }
    conn_update_events(c);
}

/* Queues a RST for the guest, addressed as the reply to hdr's sender. */
static void vsock_queue_rst(VsockConns *t, uint32_t host_port,
                            uint32_t guest_port)
{
    VsockHdr *h;

    if (t->rst_num == VSOCK_RST_QUEUE) {
        return;
    }
    h = &t->rsts[(t->rst_head + t->rst_num++) % VSOCK_RST_QUEUE];
    *h = (VsockHdr){
        .src_cid = VSOCK_HOST_CID, .dst_cid = t->guest_cid,
        .src_port = host_port, .dst_port = guest_port,
        .type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_RST,
    };
}

static void conn_free(VsockConn *c)
{
    VsockConns *t = c->table;

    if (c->state != CONN_HANDSHAKE) {
        uint64_t key = conn_key(c->guest_port, c->host_port);

        g_hash_table_remove(t->by_ports, &key);
    }
    if (c->queued) {
        g_queue_remove(&t->rx_ready, c);
    }
    if (c->watched) {
        t->watcher->remove(t, c->fd);
    }
    close(c->fd);
    g_ptr_array_remove_fast(t->all, c);
    g_free(c->pending);
    g_free(c);
}

/* Ends the connection with a RST to the guest (the host socket closes). */
static void conn_reset(VsockConn *c)
{
    if (c->state != CONN_HANDSHAKE) {
        vsock_queue_rst(c->table, c->host_port, c->guest_port);
    }
    conn_free(c);
}

static VsockConn *conn_new(VsockConns *t, int fd, ConnState state)
{
    VsockConn *c = g_new0(VsockConn, 1);

    c->table = t;
    c->fd = fd;
    c->state = state;
    g_ptr_array_add(t->all, c);
    if (t->watcher->add(t, c, fd)) {
        c->watched = true;
    }
    return c;
}

/* Gives the connection its ports (it is then found by them). */
static void conn_bind(VsockConn *c, uint32_t guest_port, uint32_t host_port)
{
    uint64_t *key = g_new(uint64_t, 1);

    c->guest_port = guest_port;
    c->host_port = host_port;
    *key = conn_key(guest_port, host_port);
    g_hash_table_insert(c->table->by_ports, key, c);
}

/* Tells the guest how far it may send when it has heard too little. */
static void conn_note_forwarded(VsockConn *c)
{
    if (c->fwd_cnt - c->fwd_cnt_told >= VSOCK_CREDIT_UPDATE_AT) {
        conn_owe(c, OWE_CREDIT);
    }
}

/* Writes buffered guest bytes to the host socket.  False when the host
 * side is gone (the caller resets the connection). */
static bool conn_flush(VsockConn *c)
{
    while (c->pending_len > 0) {
        ssize_t n = send(c->fd, c->pending + c->pending_start,
                         c->pending_len, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        if (n <= 0) {
            return false;
        }
        c->pending_start += (size_t)n;
        c->pending_len -= (size_t)n;
        c->fwd_cnt += (uint32_t)n;
    }
    if (c->pending_len == 0) {
        c->pending_start = 0;
        if (c->guest_shut_send) {
            shutdown(c->fd, SHUT_WR);
        }
    }
    conn_note_forwarded(c);
    conn_update_events(c);
    return true;
}

/* Both directions are over: confirm with a RST, as Linux expects of the
 * peer of a socket it closed (its close() sends SHUTDOWN with both flags
 * and waits for the RST). */
static bool conn_maybe_finish(VsockConn *c)
{
    if (c->guest_shut_send && c->pending_len == 0 &&
        (c->guest_shut_rcv || c->host_eof)) {
        conn_reset(c);
        return true;
    }
    return false;
}

/* Delivers an RW packet's payload: straight from guest memory to the host
 * socket, and only what the socket does not take now into the buffer. */
static bool conn_receive(VsockConn *c, const VirtqElement *elem,
                         const VsockPacket *pkt)
{
    uint32_t len = pkt->hdr.len;
    size_t taken = 0;

    if (c->guest_shut_send ||
        (uint64_t)(c->rx_cnt - c->fwd_cnt) + len > VSOCK_BUF_ALLOC) {
        return false;       /* data after its SHUTDOWN, or beyond credit */
    }
    c->rx_cnt += len;
    if (c->pending_len == 0 && pkt->payload_iov_num > 0) {
        struct msghdr msg = {
            .msg_iov = (struct iovec *)pkt->payload_iov,
            .msg_iovlen = pkt->payload_iov_num,
        };
        ssize_t n;

        do {
            n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        } while (n < 0 && errno == EINTR);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            return false;   /* the host side is gone */
        }
        taken = n > 0 ? (size_t)n : 0;
        c->fwd_cnt += (uint32_t)taken;
    }
    if (taken < len) {
        size_t rest = len - taken;

        if (!c->pending) {
            c->pending = g_malloc(VSOCK_BUF_ALLOC);
        }
        if (c->pending_start + c->pending_len + rest > VSOCK_BUF_ALLOC) {
            memmove(c->pending, c->pending + c->pending_start,
                    c->pending_len);
            c->pending_start = 0;
        }
        if (pkt->payload_iov_num > 0) {
            struct iovec part[VSOCK_PAYLOAD_IOV_MAX];
            unsigned n = vsock_iov_slice(pkt->payload_iov,
                                         pkt->payload_iov_num, taken, rest,
                                         part, G_N_ELEMENTS(part));

            iov_to_buf(part, n, 0,
                       c->pending + c->pending_start + c->pending_len, rest);
        } else {
            vsock_packet_copy_payload(elem, pkt, c->pending +
                                      c->pending_start + c->pending_len);
        }
        c->pending_len += rest;
    }
    conn_note_forwarded(c);
    conn_update_events(c);
    return true;
}

/* A guest's REQUEST to the host: connect to NAME.vsock_PORT. */
static void vsock_guest_connect(VsockConns *t, const VsockHdr *h)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    VsockConn *c;
    int fd;

    if (t->all->len >= VSOCK_MAX_CONNS ||
        g_snprintf(addr.sun_path, sizeof(addr.sun_path), "%s.vsock_%u",
                   t->prefix, h->dst_port) >= (int)sizeof(addr.sun_path)) {
        vsock_queue_rst(t, h->dst_port, h->src_port);
        return;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 ||
        connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        if (fd >= 0) {
            close(fd);
        }
        vsock_queue_rst(t, h->dst_port, h->src_port);
        return;
    }
    c = conn_new(t, fd, CONN_ESTABLISHED);
    conn_bind(c, h->src_port, h->dst_port);
    c->peer_buf_alloc = h->buf_alloc;
    c->peer_fwd_cnt = h->fwd_cnt;
    conn_owe(c, OWE_RESPONSE);
    conn_update_events(c);
}

/* The guest answered a host client's REQUEST.  False when the client is
 * gone (the connection was reset and freed). */
static bool conn_established(VsockConn *c)
{
    char ok[32];
    int len = g_snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);

    c->state = CONN_ESTABLISHED;
    c->deadline = 0;
    /* A fresh socket's buffer takes a dozen bytes: all or nothing. */
    if (send(c->fd, ok, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) != len) {
        conn_reset(c);
        return false;
    }
    conn_update_events(c);
    return true;
}

/* The guest's SHUTDOWN.  True when that ended the connection (freed). */
static bool conn_shutdown(VsockConn *c, uint32_t flags)
{
    if (flags & VSOCK_SHUTDOWN_RCV) {
        c->guest_shut_rcv = true;
    }
    if ((flags & VSOCK_SHUTDOWN_SEND) && !c->guest_shut_send) {
        c->guest_shut_send = true;
        if (c->pending_len == 0) {
            shutdown(c->fd, SHUT_WR);
        }
    }
    if (conn_maybe_finish(c)) {
        return true;
    }
    conn_update_events(c);
    return false;
}

/* One packet from the tx queue.  False: the chain is malformed. */
bool vsock_conns_tx_packet(void *opaque, VirtqElement *elem,
                           uint32_t *written)
{
    VsockConns *t = opaque;
    VsockPacket pkt;
    const VsockHdr *h = &pkt.hdr;
    VsockConn *c;
    uint32_t old_free;

    *written = 0;
    if (!vsock_packet_parse(elem, &pkt)) {
        return false;
    }
    if (h->src_cid != t->guest_cid) {
        return true;        /* not from this guest: forged, dropped */
    }
    c = h->dst_cid == VSOCK_HOST_CID && h->type == VSOCK_TYPE_STREAM
        ? conn_lookup(t, h->src_port, h->dst_port) : NULL;
    if (!c) {
        if (h->dst_cid == VSOCK_HOST_CID && h->type == VSOCK_TYPE_STREAM &&
            h->op == VSOCK_OP_REQUEST) {
            vsock_guest_connect(t, h);
        } else if (h->op != VSOCK_OP_RST) {
            vsock_queue_rst(t, h->dst_port, h->src_port);
        }
        return true;
    }
    old_free = conn_peer_free(c);
    c->peer_buf_alloc = h->buf_alloc;
    c->peer_fwd_cnt = h->fwd_cnt;
    switch (h->op) {
    case VSOCK_OP_RESPONSE:
        if (c->state != CONN_REQUESTED) {
            conn_reset(c);
            return true;
        }
        if (!conn_established(c)) {
            return true;
        }
        break;
    case VSOCK_OP_RST:
        conn_free(c);
        return true;
    case VSOCK_OP_SHUTDOWN:
        if (conn_shutdown(c, h->flags)) {
            return true;
        }
        break;
    case VSOCK_OP_RW:
        if (c->state != CONN_ESTABLISHED || !conn_receive(c, elem, &pkt)) {
            conn_reset(c);
            return true;
        }
        break;
    case VSOCK_OP_CREDIT_REQUEST:
        conn_owe(c, OWE_CREDIT);
        break;
    case VSOCK_OP_CREDIT_UPDATE:
        break;
    default:
        /* REQUEST on a live connection, INVALID, unknown ops. */
        conn_reset(c);
        return true;
    }
    /* Every packet carries the guest's credit (5.10.6.3): room again
     * means data that waited for it goes now. */
    if (conn_peer_free(c) > old_free) {
        conn_credit_returned(c);
    }
    return true;
}

static VsockHdr conn_hdr(const VsockConn *c, uint16_t op)
{
    return (VsockHdr){
        .src_cid = VSOCK_HOST_CID, .dst_cid = (uint64_t)c->table->guest_cid,
        .src_port = c->host_port, .dst_port = c->guest_port,
        .type = VSOCK_TYPE_STREAM, .op = op,
        .buf_alloc = VSOCK_BUF_ALLOC, .fwd_cnt = c->fwd_cnt,
    };
}

/* Reads up to want bytes from the host socket into elem after the header:
 * straight into the guest's buffer, or through the bounce buffer when the
 * driver cut it finer than we slice. */
static ssize_t conn_read_into(VsockConn *c, VirtqElement *elem, size_t want)
{
    struct iovec iov[VSOCK_PAYLOAD_IOV_MAX];
    unsigned num = vsock_iov_slice(elem->in_iov, elem->in_num,
                                   VSOCK_HDR_SIZE, want, iov,
                                   G_N_ELEMENTS(iov));
    ssize_t n;

    if (num == 0) {
        if (!c->table->bounce) {
            c->table->bounce = g_malloc(VSOCK_MAX_PAYLOAD);
        }
        do {
            n = read(c->fd, c->table->bounce, want);
        } while (n < 0 && errno == EINTR);
        if (n > 0) {
            iov_from_buf(elem->in_iov, elem->in_num, VSOCK_HDR_SIZE,
                         c->table->bounce, (size_t)n);
        }
        return n;
    }
    do {
        n = readv(c->fd, iov, (int)num);
    } while (n < 0 && errno == EINTR);
    return n;
}

/* Fills elem with the connection's next packet: a control packet it owes,
 * else data from the host socket.  Returns the bytes written to elem (0:
 * nothing after all; the element stays unused), or -1 when the
 * connection ended (c is freed). */
static int64_t conn_fill_rx(VsockConn *c, VirtqElement *elem)
{
    uint8_t raw[VSOCK_HDR_SIZE];
    VsockHdr h;
    ssize_t n;

    if (c->owed) {
        unsigned bit = c->owed & -c->owed;

        c->owed &= ~bit;
        h = conn_hdr(c, bit == OWE_REQUEST ? VSOCK_OP_REQUEST
                        : bit == OWE_RESPONSE ? VSOCK_OP_RESPONSE
                        : bit == OWE_SHUTDOWN ? VSOCK_OP_SHUTDOWN
                        : VSOCK_OP_CREDIT_UPDATE);
        if (bit == OWE_SHUTDOWN) {
            h.flags = c->shutdown_flags;
        }
    } else {
        size_t want = MIN(MIN(elem->in_len - VSOCK_HDR_SIZE,
                              (size_t)VSOCK_MAX_PAYLOAD),
                          (size_t)conn_peer_free(c));

        if (!c->readable || !conn_can_send_data(c) || want == 0) {
            conn_drained(c);
            return 0;
        }
        n = conn_read_into(c, elem, want);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            conn_drained(c);
            return 0;
        }
        if (n < 0) {
            conn_reset(c);
            return -1;
        }
        if (n == 0) {
            /* The host sends no more: tell the guest, as a half close. */
            c->host_eof = true;
            c->readable = false;
            conn_update_events(c);
            if (conn_maybe_finish(c)) {
                return -1;
            }
            c->shutdown_flags = VSOCK_SHUTDOWN_SEND;
            conn_owe(c, OWE_SHUTDOWN);
            return 0;
        }
        h = conn_hdr(c, VSOCK_OP_RW);
        h.len = (uint32_t)n;
        c->tx_cnt += (uint32_t)n;
        if ((size_t)n < want) {
            conn_drained(c);
        }
    }
    c->fwd_cnt_told = c->fwd_cnt;
    vsock_hdr_encode(&h, raw);
    iov_from_buf(elem->in_iov, elem->in_num, 0, raw, sizeof(raw));
    return VSOCK_HDR_SIZE + h.len;
}

static uint32_t vsock_alloc_host_port(VsockConns *t, uint32_t guest_port)
{
    for (;;) {
        uint32_t port = t->next_host_port++;

        if (t->next_host_port == 0) {
            t->next_host_port = VSOCK_HOST_PORT_FIRST;
        }
        if (port >= VSOCK_HOST_PORT_FIRST &&
            !conn_lookup(t, guest_port, port)) {
            return port;
        }
    }
}

/* Parses "CONNECT PORT" (the line without its newline). */
static bool parse_connect_line(const char *line, size_t len, uint32_t *port)
{
    static const char verb[] = "CONNECT ";
    uint64_t value = 0;
    size_t i = sizeof(verb) - 1;

    if (len <= i || len > i + 10 || memcmp(line, verb, i) != 0) {
        return false;
    }
    for (; i < len; i++) {
        if (line[i] < '0' || line[i] > '9') {
            return false;
        }
        value = value * 10 + (uint64_t)(line[i] - '0');
    }
    if (value > UINT32_MAX) {
        return false;
    }
    *port = (uint32_t)value;
    return true;
}

/* Reads the host client's CONNECT line, never past its newline (what
 * follows is already the stream). */
static void conn_read_line(VsockConn *c)
{
    char buf[VSOCK_CONNECT_LINE_MAX];
    size_t room = sizeof(c->line) - c->line_len;
    ssize_t n = recv(c->fd, buf, room, MSG_PEEK | MSG_DONTWAIT);
    char *nl;
    uint32_t port;

    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (n <= 0) {
        conn_free(c);
        return;
    }
    nl = memchr(buf, '\n', (size_t)n);
    n = nl ? nl - buf + 1 : n;
    if (recv(c->fd, c->line + c->line_len, (size_t)n, MSG_DONTWAIT) != n) {
        conn_free(c);
        return;
    }
    c->line_len += (size_t)n;
    if (!nl) {
        if (c->line_len == sizeof(c->line)) {
            conn_free(c);   /* no line this long is a CONNECT */
        }
        return;
    }
    if (!parse_connect_line(c->line, c->line_len - 1, &port)) {
        conn_free(c);
        return;
    }
    c->state = CONN_REQUESTED;
    conn_bind(c, port, vsock_alloc_host_port(c->table, port));
    c->deadline = g_get_monotonic_time() + VSOCK_REQUEST_US;
    conn_owe(c, OWE_REQUEST);
    conn_update_events(c);
}

void vsock_conn_socket_ready(VsockConn *c, uint32_t events)
{
    VsockConns *t = c->table;

    if (c->state == CONN_HANDSHAKE) {
        conn_read_line(c);
    } else if (c->state == CONN_REQUESTED) {
        if (events & (EPOLLHUP | EPOLLERR)) {
            conn_reset(c);      /* the client gave up */
        }
    } else if (events & EPOLLOUT) {
        if (!conn_flush(c)) {
            conn_reset(c);
        } else {
            conn_maybe_finish(c);
        }
    } else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (events & (EPOLLHUP | EPOLLERR)) {
            /* Reported whatever we ask for: stop watching, and read
             * what is left from the rx path until end of file. */
            t->watcher->remove(t, c->fd);
            c->watched = false;
        }
        c->readable = true;
        conn_update_events(c);
        conn_queue(c);
    }
}

/* --- The table --------------------------------------------------------------- */

void vsock_conns_init(VsockConns *t, const VsockWatcher *watcher,
                      void *opaque)
{
    memset(t, 0, sizeof(*t));
    t->watcher = watcher;
    t->opaque = opaque;
    t->by_ports = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                        NULL);
    t->all = g_ptr_array_new();
    g_queue_init(&t->rx_ready);
    t->next_host_port = VSOCK_HOST_PORT_FIRST;
}

void vsock_conns_clear(VsockConns *t)
{
    while (t->all->len > 0) {
        conn_free(t->all->pdata[t->all->len - 1]);
    }
    t->rst_head = t->rst_num = 0;
}

void vsock_conns_destroy(VsockConns *t)
{
    if (t->all) {
        vsock_conns_clear(t);
        g_hash_table_unref(t->by_ports);
        g_ptr_array_unref(t->all);
        g_free(t->bounce);
        t->all = NULL;
    }
}

guint vsock_conns_count(const VsockConns *t)
{
    return t->all->len;
}

void vsock_conns_accept(VsockConns *t, int fd, gint64 deadline)
{
    VsockConn *c = conn_new(t, fd, CONN_HANDSHAKE);

    c->deadline = deadline;
    conn_update_events(c);
}

bool vsock_conns_expire(VsockConns *t, gint64 now)
{
    bool waiting = false;

    for (guint i = t->all->len; i-- > 0;) {
        VsockConn *c = t->all->pdata[i];

        if (c->deadline && c->deadline <= now) {
            conn_reset(c);
        } else if (c->deadline) {
            waiting = true;
        }
    }
    return waiting;
}

bool vsock_conns_rx_pending(const VsockConns *t)
{
    return t->rst_num > 0 || t->rx_ready.length > 0;
}

uint32_t vsock_conns_fill_rx(VsockConns *t, VirtqElement *elem)
{
    VsockConn *c;
    int64_t len;

    if (t->rst_num > 0) {
        uint8_t raw[VSOCK_HDR_SIZE];

        vsock_hdr_encode(&t->rsts[t->rst_head], raw);
        t->rst_head = (t->rst_head + 1) % VSOCK_RST_QUEUE;
        t->rst_num--;
        iov_from_buf(elem->in_iov, elem->in_num, 0, raw, sizeof(raw));
        return VSOCK_HDR_SIZE;
    }
    c = g_queue_pop_head(&t->rx_ready);
    if (!c) {
        return 0;
    }
    c->queued = false;
    len = conn_fill_rx(c, elem);
    /* More from it after the others': round robin. */
    if (len > 0 && (c->owed || (c->readable && conn_can_send_data(c)))) {
        conn_queue(c);
    }
    return len > 0 ? (uint32_t)len : 0;
}
