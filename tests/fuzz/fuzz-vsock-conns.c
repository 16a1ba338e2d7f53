/*
 * libFuzzer target for the virtio-vsock connection table
 * (machine/virtio/vsock-conn.c): a hostile guest and hostile host clients
 * against the protocol engine, on real sockets, single-threaded.  The
 * input is a script of one-byte commands and their arguments:
 *
 *   0  the guest sends a packet: a 44-byte header (src_cid forced to the
 *      guest's CID for half the packets, so they reach the connections)
 *      and up to 4 KiB of payload from the input, in one or two buffers
 *   1  the guest posts an rx buffer of 44..4139 bytes, in one or two
 *      pieces: the table fills it; the length it reports must fit
 *   2  a host client connects (a socketpair) and writes a line from the
 *      input ("CONNECT 5000\n"-like or anything)
 *   3  the watcher reports events on a connection's socket
 *   4  a host client writes bytes, half-closes or closes
 *   5  time passes: handshakes and requests expire
 *
 * Guest connections reach a listener at PREFIX.vsock_1000 (the others are
 * refused).  The watcher is a table of what is watched, so that events
 * go only to live sockets.  Any crash, sanitizer report, leak or a fill
 * larger than its buffer is a bug; so is holding more than the credit
 * allows (the table never reports more than 256 connections).
 *
 * Build and run: `make fuzz`, `make fuzz-smoke` (see the Makefile).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib.h>

#include "machine/virtio/vsock-conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GUEST_CID   3
#define MAX_PEERS   32

typedef struct {
    const uint8_t *p;
    size_t left;
} Input;

static bool take(Input *in, void *out, size_t n)
{
    if (in->left < n) {
        return false;
    }
    memcpy(out, in->p, n);
    in->p += n;
    in->left -= n;
    return true;
}

static uint8_t byte(Input *in)
{
    uint8_t b = 0;

    take(in, &b, 1);
    return b;
}

/* The watcher: fd -> conn, for the sockets being watched. */
static GHashTable *watched;

static bool watch_add(VsockConns *t, VsockConn *c, int fd)
{
    g_hash_table_insert(watched, GINT_TO_POINTER(fd), c);
    return true;
}

static void watch_modify(VsockConns *t, int fd, uint32_t events)
{
    g_assert(g_hash_table_contains(watched, GINT_TO_POINTER(fd)));
}

static void watch_remove(VsockConns *t, int fd)
{
    g_hash_table_remove(watched, GINT_TO_POINTER(fd));
}

static const VsockWatcher watcher = {
    .add = watch_add, .modify = watch_modify, .remove = watch_remove,
};

static char *scratch;       /* a directory for the sockets, made once */
static char *prefix;
static int guest_listener = -1;

static void setup_once(void)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };

    if (scratch) {
        return;
    }
    scratch = g_dir_make_tmp("fuzz-vsock-XXXXXX", NULL);
    g_assert(scratch);
    prefix = g_build_filename(scratch, "vm", NULL);
    g_snprintf(addr.sun_path, sizeof(addr.sun_path), "%s.vsock_1000",
               prefix);
    guest_listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
                                     SOCK_CLOEXEC, 0);
    g_assert(bind(guest_listener, (struct sockaddr *)&addr,
                  sizeof(addr)) == 0);
    g_assert(listen(guest_listener, 512) == 0);
    watched = g_hash_table_new(g_direct_hash, g_direct_equal);
}

/* Accepts and closes what the guest's connections queued, now and then:
 * the host side that answers and hangs up. */
static void drain_guest_listener(void)
{
    int fd;

    while ((fd = accept4(guest_listener, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
        close(fd);
    }
}

static void guest_packet(VsockConns *t, Input *in)
{
    uint8_t raw[VSOCK_HDR_SIZE] = { 0 };
    uint8_t payload[4096];
    struct iovec iov[3];
    VirtqElement e = { .out_iov = iov };
    VsockHdr h;
    uint8_t how = byte(in);
    size_t len;
    uint32_t written;

    take(in, raw, sizeof(raw));
    vsock_hdr_decode(raw, &h);
    if (how & 1) {
        h.src_cid = GUEST_CID;
        h.dst_cid = VSOCK_HOST_CID;
        h.type = VSOCK_TYPE_STREAM;
        h.op %= 9;
    }
    if (how & 2) {
        h.dst_port = 1000;      /* the host port that listens */
    }
    len = MIN(in->left, sizeof(payload));
    len = MIN(len, (size_t)byte(in) << 4);
    take(in, payload, len);
    if (how & 4) {
        h.len = (uint32_t)len;  /* honest, most of the time */
    }
    vsock_hdr_encode(&h, raw);
    iov[0] = (struct iovec){ raw, sizeof(raw) };
    e.out_num = 1;
    if (len > 0) {
        size_t cut = how & 8 ? len / 2 : len;

        iov[1] = (struct iovec){ payload, cut };
        iov[2] = (struct iovec){ payload + cut, len - cut };
        e.out_num = cut < len ? 3 : 2;
    }
    e.out_len = sizeof(raw) + len;
    vsock_conns_tx_packet(t, &e, &written);
    g_assert(written == 0);
}

static void guest_rx_buffer(VsockConns *t, Input *in)
{
    static uint8_t buf[VSOCK_HDR_SIZE + 4096];
    struct iovec iov[2];
    uint8_t how = byte(in);
    size_t len = VSOCK_HDR_SIZE + ((size_t)byte(in) << 4);
    VirtqElement e = { .in_iov = iov, .in_len = len };
    uint32_t filled;

    if (how & 1) {
        iov[0] = (struct iovec){ buf, VSOCK_HDR_SIZE };
        iov[1] = (struct iovec){ buf + VSOCK_HDR_SIZE, len - VSOCK_HDR_SIZE };
        e.in_num = 2;
    } else {
        iov[0] = (struct iovec){ buf, len };
        e.in_num = 1;
    }
    filled = vsock_conns_fill_rx(t, &e);
    g_assert(filled == 0 || filled >= VSOCK_HDR_SIZE);
    g_assert(filled <= len);
    if (filled) {
        VsockHdr h;

        vsock_hdr_decode(buf, &h);
        g_assert(h.src_cid == VSOCK_HOST_CID && h.dst_cid == GUEST_CID);
        g_assert(VSOCK_HDR_SIZE + (size_t)h.len == filled);
        g_assert(h.op == VSOCK_OP_RST || h.buf_alloc == VSOCK_BUF_ALLOC);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in = { data, size };
    VsockConns t;
    int peers[MAX_PEERS];
    unsigned npeers = 0;
    gint64 now = g_get_monotonic_time();

    setup_once();
    vsock_conns_init(&t, &watcher, NULL);
    t.guest_cid = GUEST_CID;
    t.prefix = prefix;
    for (unsigned step = 0; step < 512 && in.left > 0; step++) {
        switch (byte(&in) % 6) {
        case 0:
            guest_packet(&t, &in);
            break;
        case 1:
            guest_rx_buffer(&t, &in);
            break;
        case 2: {
            char line[24];
            size_t n = MIN(in.left, (size_t)(byte(&in) % sizeof(line)));
            int sv[2];

            if (npeers == MAX_PEERS ||
                socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                break;
            }
            fcntl(sv[0], F_SETFL, O_NONBLOCK);
            fcntl(sv[1], F_SETFL, O_NONBLOCK);
            take(&in, line, n);
            if (n > 0 && send(sv[1], line, n, MSG_NOSIGNAL) < 0) {
                /* a full socket: the line is shorter then */
            }
            vsock_conns_accept(&t, sv[0], now + 5 * G_USEC_PER_SEC);
            peers[npeers++] = sv[1];
            break;
        }
        case 3: {
            GList *conns = g_hash_table_get_values(watched);
            guint n = g_list_length(conns);
            uint8_t pick = byte(&in);
            static const uint32_t kinds[] = {
                EPOLLIN, EPOLLOUT, EPOLLIN | EPOLLHUP, EPOLLERR,
            };

            if (n > 0) {
                vsock_conn_socket_ready(g_list_nth_data(conns, pick % n),
                                        kinds[(pick >> 6) & 3]);
            }
            g_list_free(conns);
            break;
        }
        case 4: {
            uint8_t what = byte(&in);
            unsigned i = npeers ? what % npeers : 0;
            uint8_t junk[512] = { 0 };

            if (!npeers || peers[i] < 0) {
                break;
            }
            if (what & 0x80) {
                shutdown(peers[i], (what & 0x40) ? SHUT_RDWR : SHUT_WR);
            } else if (what & 0x40) {
                close(peers[i]);
                peers[i] = -1;
            } else if (send(peers[i], junk, (size_t)(what & 0x3f) * 8,
                            MSG_NOSIGNAL) < 0) {
                /* full: fine */
            }
            break;
        }
        case 5:
            now += (gint64)byte(&in) * 100 * 1000;
            vsock_conns_expire(&t, now);
            drain_guest_listener();
            break;
        }
        g_assert(vsock_conns_count(&t) <= VSOCK_MAX_CONNS);
    }
    vsock_conns_destroy(&t);
    g_assert(g_hash_table_size(watched) == 0);
    for (unsigned i = 0; i < npeers; i++) {
        if (peers[i] >= 0) {
            close(peers[i]);
        }
    }
    drain_guest_listener();
    return 0;
}
