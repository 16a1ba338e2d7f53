/*
 * virtio-net: a network card (virtio 1.2, 5.1 "Network Device") on a host
 * tap device, or, without `tap:`, on a user-mode network (libslirp,
 * machine/backend/user-net.h) that needs no privilege.  Written in a
 * spec's `nics:` list.
 *
 * Device ID 1, two queues: receiveq1 (0) and transmitq1 (1); no control
 * queue, one queue pair.  Every buffer starts with struct
 * virtio_net_hdr_v1 (12 bytes with VIRTIO_F_VERSION_1, 5.1.6), and the tap
 * is opened with the same vnet header (machine/backend/tap.h), so headers
 * pass through unchanged: the guest's checksum/TSO requests go to the host
 * kernel, and the host's partial checksums and GSO frames reach the guest
 * for exactly the GUEST_* offloads it accepted (TUNSETOFFLOAD at
 * DRIVER_OK).
 *
 * Transmit: on a notification, every available chain is written to the
 * tap with one writev() (header + frame) and returned with 0 bytes
 * written; a frame the host refuses is dropped, as a wire would.
 *
 * Receive: the tap is watched on the device's I/O thread only while
 * receive buffers are available.  One frame is read straight into the
 * first chain's buffers, the part that does not fit into a bounce buffer;
 * with VIRTIO_NET_F_MRG_RXBUF (5.1.6.3.2) that part is copied into as many
 * further chains as it needs and num_buffers says how many were used.
 * Chains taken from the ring and not yet used are held for the next frame.
 * When the ring runs dry the tap is no longer watched until the driver
 * adds buffers (its notification on receiveq1).
 *
 * User mode: frames pass to and from libslirp in memory, with no offloads
 * offered (slirp takes and makes whole frames with their checksums).  A
 * transmitted chain is gathered into one buffer for slirp_input(); a
 * frame from slirp is copied into held receive chains, or, when the ring
 * has none, queued (bounded) until the driver adds some.  The stack's
 * descriptors and timers are behind one fd on the I/O thread.
 *
 * Threads: realize/unrealize on the main thread; config reads and start on
 * vCPU threads (start quiesces the I/O thread while it turns receive on);
 * all queue, tap and slirp work on the I/O thread; reset with it
 * quiesced.  Forwards may change from any thread (user-net's lock).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/uio.h>

#include "machine/backend/tap.h"
#include "machine/backend/user-net.h"
#include "machine/byteorder/le.h"
#include "machine/qom/device.h"
#include "machine/qom/error.h"
#include "machine/qom/host-claims.h"
#include "machine/qom/property.h"
#include "machine/net/hostfwd.h"
#include "machine/virtio/net.h"
#include "machine/virtio/virtio.h"

#define VIRTIO_ID_NET           1       /* 5 "Device Types" */
#define NET_QUEUE_SIZE          256
#define NET_RXQ                 0       /* 5.1.2 receiveq1 */
#define NET_TXQ                 1       /* 5.1.2 transmitq1 */

/* 5.1.3 "Feature bits". */
#define VIRTIO_NET_F_CSUM           0
#define VIRTIO_NET_F_GUEST_CSUM     1
#define VIRTIO_NET_F_MAC            5
#define VIRTIO_NET_F_GUEST_TSO4     7
#define VIRTIO_NET_F_GUEST_TSO6     8
#define VIRTIO_NET_F_GUEST_ECN      9
#define VIRTIO_NET_F_HOST_TSO4      11
#define VIRTIO_NET_F_HOST_TSO6      12
#define VIRTIO_NET_F_HOST_ECN       13
#define VIRTIO_NET_F_MRG_RXBUF      15
#define VIRTIO_NET_F_STATUS         16

/* 5.1.4 "Device configuration layout": mac, status, max_virtqueue_pairs
 * (the fields before mtu; later ones need features we don't offer). */
#define NET_CONFIG_SIZE             10
#define VIRTIO_NET_S_LINK_UP        1

/* 5.1.6: offset of num_buffers in struct virtio_net_hdr_v1. */
#define NET_HDR_NUM_BUFFERS         10

/* The largest frame a tap hands over: a 64 KiB GSO frame and its headers,
 * with room to spare; anything beyond the first chain lands here. */
#define NET_RX_BOUNCE               (64 * 1024 + 4096)
/* The largest frame a guest may send: a 64 KiB TSO frame, its headers
 * and the vnet header, with room to spare. */
#define NET_TX_MAX                  (64 * 1024 + 4096)
/* User mode: frames from slirp held for want of receive chains, at most
 * this many (then dropped, as a wire would; TCP sends them again). */
#define NET_USER_RX_QUEUE           512
/* Receive is yielded after this many frames, so that transmit gets its
 * turn on the I/O thread (the tap stays readable: epoll comes back). */
#define NET_RX_BUDGET               256

typedef struct VirtioNet {
    VirtioDevice parent_obj;
    char *tap;
    MacAddr mac;
    char **forward;
    bool host_loopback;
    bool restrict_out;

    Tap *backend;               /* with a tap */
    UserNet *user;              /* without one */
    GQueue rx_queue;            /* user mode: GBytes frames for the guest */
    bool rx_dirty;              /* chains used, not yet flushed */
    uint8_t *tx_buf;            /* user mode: one gathered frame */
    /* The rest belongs to the I/O thread (or whoever quiesced it). */
    bool running;               /* DRIVER_OK and not broken */
    bool rx_polling;            /* tap fd watched for EPOLLIN */
    bool rx_notify;             /* receiveq1 notifications enabled */
    VirtqElement *rx_held;      /* chains taken, not used yet (FIFO) */
    unsigned rx_held_num;
    uint8_t *rx_bounce;
    /* A frame read but not yet delivered, waiting for more chains: its
     * bytes beyond the first chain, in rx_bounce (0: none), and how many
     * it put in the first chain. */
    size_t rx_pending;
    size_t rx_first_len;
    bool tap_gone;              /* the interface was deleted under us */
    uint64_t rx_dropped, tx_dropped;
} VirtioNet;

#define VIRTIO_NET(obj) OBJECT_CHECK(VirtioNet, (obj), TYPE_VIRTIO_NET)

static uint64_t virtio_net_get_features(VirtioDevice *vdev)
{
    /* From the spec alone: a tap offloads, the user-mode stack does not. */
    if (!VIRTIO_NET(vdev)->tap) {
        return (1ULL << VIRTIO_NET_F_MAC) |
               (1ULL << VIRTIO_NET_F_MRG_RXBUF) |
               (1ULL << VIRTIO_NET_F_STATUS);
    }
    return (1ULL << VIRTIO_NET_F_CSUM) |
           (1ULL << VIRTIO_NET_F_GUEST_CSUM) |
           (1ULL << VIRTIO_NET_F_MAC) |
           (1ULL << VIRTIO_NET_F_GUEST_TSO4) |
           (1ULL << VIRTIO_NET_F_GUEST_TSO6) |
           (1ULL << VIRTIO_NET_F_GUEST_ECN) |
           (1ULL << VIRTIO_NET_F_HOST_TSO4) |
           (1ULL << VIRTIO_NET_F_HOST_TSO6) |
           (1ULL << VIRTIO_NET_F_HOST_ECN) |
           (1ULL << VIRTIO_NET_F_MRG_RXBUF) |
           (1ULL << VIRTIO_NET_F_STATUS);
}

static void virtio_net_read_config(VirtioDevice *vdev, uint32_t offset,
                                   void *data, uint32_t size)
{
    VirtioNet *n = VIRTIO_NET(vdev);
    uint8_t config[NET_CONFIG_SIZE];

    memcpy(config, n->mac.bytes, 6);
    config[6] = VIRTIO_NET_S_LINK_UP;   /* status, little-endian */
    config[7] = 0;
    config[8] = 1;                      /* max_virtqueue_pairs */
    config[9] = 0;
    /* The transport checked offset + size <= NET_CONFIG_SIZE. */
    memcpy(data, config + offset, size);
}

/* Watches the tap for frames, or stops. */
static void rx_poll(VirtioNet *n, bool on)
{
    if (n->user) {
        return;             /* slirp is watched always; see net_user_ready */
    }
    if (n->rx_polling != on && !n->tap_gone) {
        virtio_device_io_modify(VIRTIO_DEVICE(n), tap_fd(n->backend),
                                on ? EPOLLIN : 0);
        n->rx_polling = on;
    }
}

/* The driver broke the rules: stop until it resets the device. */
static void net_broken(VirtioNet *n)
{
    n->running = false;
    rx_poll(n, false);
    virtio_device_set_needs_reset(VIRTIO_DEVICE(n));
}

/* Takes chains from receiveq1 until count are held.  False when the ring
 * has no more (or is broken: then the device is marked so). */
static bool rx_hold(VirtioNet *n, unsigned count)
{
    VirtQueue *vq = VIRTIO_DEVICE(n)->queues[NET_RXQ];

    while (n->rx_held_num < count) {
        VirtqElement *e = &n->rx_held[n->rx_held_num];
        int r;

        if (n->rx_held_num >= NET_QUEUE_SIZE) {
            return false;
        }
        r = virtqueue_pop(vq, e);
        if (r < 0) {
            net_broken(n);
            return false;
        }
        if (r == 0) {
            return false;
        }
        /* 5.1.6.3.1: every receive buffer holds at least the header. */
        if (e->in_len < TAP_VNET_HDR_LEN || e->in_len > UINT32_MAX) {
            virtqueue_element_clear(e);
            net_broken(n);
            return false;
        }
        n->rx_held_num++;
    }
    return true;
}

/* Returns the first count held chains to the used ring: the first got
 * first_len bytes, the last last_len, those between are full.  Pushes,
 * does not flush. */
static void rx_push(VirtioNet *n, unsigned count, size_t first_len,
                    size_t last_len)
{
    VirtQueue *vq = VIRTIO_DEVICE(n)->queues[NET_RXQ];

    for (unsigned i = 0; i < count; i++) {
        VirtqElement *e = &n->rx_held[i];
        size_t len = i == 0 ? first_len
                   : i + 1 == count ? last_len : e->in_len;

        virtqueue_push(vq, e, (uint32_t)len);
        virtqueue_element_clear(e);
    }
    memmove(n->rx_held, n->rx_held + count,
            (n->rx_held_num - count) * sizeof(*n->rx_held));
    n->rx_held_num -= count;
}

/* Sets num_buffers in the header at the start of the first held chain. */
static void rx_set_num_buffers(VirtioNet *n, unsigned count)
{
    uint8_t le[2];

    le16_store(le, (uint16_t)count);
    iov_from_buf(n->rx_held[0].in_iov, n->rx_held[0].in_num,
                 NET_HDR_NUM_BUFFERS, le, sizeof(le));
}

/*
 * Delivers the pending frame's bytes beyond the first chain into further
 * chains (MRG_RXBUF).  Returns true when delivered, or dropped because the
 * whole ring could not hold it; false when it needs more chains first (or
 * the device broke).
 */
static bool rx_deliver_pending(VirtioNet *n)
{
    VirtQueue *vq = VIRTIO_DEVICE(n)->queues[NET_RXQ];
    size_t left = n->rx_pending, off = 0, last = 0;
    unsigned count = 1;

    while (left > 0) {
        VirtqElement *e;

        if (!rx_hold(n, count + 1)) {
            if (n->running && (n->rx_held_num >= NET_QUEUE_SIZE ||
                               n->rx_held_num >= virtqueue_size(vq))) {
                /* Every chain the ring has is held: no use waiting.  The
                 * chains stay held for the next frames. */
                n->rx_dropped++;
                n->rx_pending = 0;
                return true;
            }
            return false;
        }
        e = &n->rx_held[count];
        last = MIN(left, e->in_len);
        iov_from_buf(e->in_iov, e->in_num, 0, n->rx_bounce + off, last);
        off += last;
        left -= last;
        count++;
    }
    rx_set_num_buffers(n, count);
    rx_push(n, count, n->rx_first_len, last);
    n->rx_pending = 0;
    return true;
}

/* At most this many iovecs for the first chain's part of a readv(). */
#define NET_RX_IOV 64

/*
 * Reads one frame from the tap into the first held chain (and the bounce
 * buffer).  Returns 1 when a frame was taken (delivered, pending, or
 * dropped), 0 when the tap has none, -1 when the tap failed.
 */
static int rx_read_frame(VirtioNet *n)
{
    VirtioDevice *vdev = VIRTIO_DEVICE(n);
    VirtqElement *e = &n->rx_held[0];
    struct iovec iov[NET_RX_IOV + 1];
    unsigned k = MIN(e->in_num, (unsigned)NET_RX_IOV);
    size_t first = 0;
    ssize_t r;

    for (unsigned i = 0; i < k; i++) {
        iov[i] = e->in_iov[i];
        first += iov[i].iov_len;
    }
    iov[k].iov_base = n->rx_bounce;
    iov[k].iov_len = NET_RX_BOUNCE;
    do {
        r = readv(tap_fd(n->backend), iov, (int)k + 1);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        return errno == EAGAIN ? 0 : -1;
    }
    if ((size_t)r <= TAP_VNET_HDR_LEN) {
        n->rx_dropped++;                /* no frame: the chain stays */
        return 1;
    }
    if ((size_t)r <= first) {
        rx_set_num_buffers(n, 1);
        rx_push(n, 1, (size_t)r, (size_t)r);
        return 1;
    }
    if (!virtio_has_feature(vdev, VIRTIO_NET_F_MRG_RXBUF)) {
        n->rx_dropped++;                /* 5.1.6.3.1: too big for it */
        return 1;
    }
    n->rx_first_len = first;
    n->rx_pending = (size_t)r - first;
    return 1;
}

/* Moves frames from the tap to receiveq1 while both have some. */
static void rx_process(VirtioNet *n)
{
    VirtioDevice *vdev = VIRTIO_DEVICE(n);
    VirtQueue *vq = vdev->queues[NET_RXQ];
    unsigned frames = 0;
    bool notify = false;

    while (n->running && frames < NET_RX_BUDGET) {
        int r;

        if (n->rx_pending && !rx_deliver_pending(n)) {
            goto wait;
        }
        if (!rx_hold(n, 1)) {
            goto wait;
        }
        r = rx_read_frame(n);
        if (r == 0) {
            /* Drained, with chains to spare: the tap says when more
             * comes; the driver need not tell us about new chains. */
            if (n->rx_notify) {
                virtqueue_set_notification(vq, false);
                n->rx_notify = false;
            }
            rx_poll(n, true);
            break;
        }
        if (r < 0) {
            /* The tap failed: try again when the driver adds chains. */
            rx_poll(n, false);
            n->rx_notify = true;
            virtqueue_set_notification(vq, true);
            break;
        }
        frames++;
        if (frames % 32 == 0) {
            notify |= virtqueue_flush(vq);
        }
        continue;
wait:
        /* Out of chains: listen to the driver instead of the tap until it
         * adds some, re-checking after the switch (2.7.10). */
        if (!n->running) {
            break;
        }
        rx_poll(n, false);
        n->rx_notify = true;
        if (!virtqueue_set_notification(vq, true)) {
            break;
        }
    }
    if (n->running && frames >= NET_RX_BUDGET) {
        rx_poll(n, true);       /* more later: epoll comes back for them */
    }
    notify |= virtqueue_flush(vq);
    if (notify) {
        virtio_device_notify_used(vdev);
    }
}

/* --- User mode ---------------------------------------------------------- */

/* Flushes what the user-mode path pushed, and interrupts once. */
static void user_rx_flush(VirtioNet *n)
{
    if (n->rx_dirty) {
        n->rx_dirty = false;
        if (virtqueue_flush(VIRTIO_DEVICE(n)->queues[NET_RXQ])) {
            virtio_device_notify_used(VIRTIO_DEVICE(n));
        }
    }
}

/*
 * Copies a virtio header and frame into held chains: as many as it needs
 * with MRG_RXBUF, else one.  True when delivered, or dropped because no
 * chain could ever hold it; false when it must wait for more chains (or
 * the device broke).
 */
static bool user_rx_deliver(VirtioNet *n, const uint8_t *frame, size_t len)
{
    VirtQueue *vq = VIRTIO_DEVICE(n)->queues[NET_RXQ];
    bool mrg = virtio_has_feature(VIRTIO_DEVICE(n), VIRTIO_NET_F_MRG_RXBUF);
    uint8_t hdr[TAP_VNET_HDR_LEN] = { 0 };
    size_t total = sizeof(hdr) + len, off = 0, first = 0, last = 0;
    unsigned count = 0;

    while (off < total) {
        VirtqElement *e;
        size_t take, in_hdr;

        if (!rx_hold(n, count + 1)) {
            if (n->running && count > 0 &&
                (n->rx_held_num >= NET_QUEUE_SIZE ||
                 n->rx_held_num >= virtqueue_size(vq))) {
                n->rx_dropped++;        /* bigger than the whole ring */
                return true;
            }
            return false;
        }
        e = &n->rx_held[count];
        if (count > 0 && !mrg) {
            n->rx_dropped++;            /* 5.1.6.3.1: one buffer only */
            return true;
        }
        take = MIN(total - off, e->in_len);
        in_hdr = off < sizeof(hdr) ? MIN(sizeof(hdr) - off, take) : 0;
        if (in_hdr) {
            iov_from_buf(e->in_iov, e->in_num, 0, hdr + off, in_hdr);
        }
        if (take > in_hdr) {
            iov_from_buf(e->in_iov, e->in_num, in_hdr,
                         frame + (off + in_hdr - sizeof(hdr)), take - in_hdr);
        }
        if (count == 0) {
            first = take;
        }
        last = take;
        off += take;
        count++;
    }
    rx_set_num_buffers(n, count);
    rx_push(n, count, first, last);
    n->rx_dirty = true;
    return true;
}

/* Delivers queued frames while chains last. */
static void user_rx_drain(VirtioNet *n)
{
    GBytes *b;

    while (n->running && (b = g_queue_peek_head(&n->rx_queue))) {
        gsize len;
        const uint8_t *frame = g_bytes_get_data(b, &len);

        if (!user_rx_deliver(n, frame, len)) {
            break;
        }
        g_bytes_unref(g_queue_pop_head(&n->rx_queue));
    }
}

/* libslirp has a frame for the guest (I/O thread, inside a slirp call):
 * in order behind any queued ones. */
static void user_rx(void *opaque, const uint8_t *frame, size_t len)
{
    VirtioNet *n = opaque;

    if (!n->running) {
        return;
    }
    if (g_queue_is_empty(&n->rx_queue) && user_rx_deliver(n, frame, len)) {
        return;
    }
    if (g_queue_get_length(&n->rx_queue) >= NET_USER_RX_QUEUE) {
        n->rx_dropped++;
        return;
    }
    g_queue_push_tail(&n->rx_queue, g_bytes_new(frame, len));
}

static void user_rx_queue_clear(VirtioNet *n)
{
    g_queue_clear_full(&n->rx_queue, (GDestroyNotify)g_bytes_unref);
}

/* I/O thread: the stack's sockets or timers want a round. */
static void net_user_ready(VirtioDevice *vdev, int fd, uint32_t events,
                           void *opaque)
{
    VirtioNet *n = VIRTIO_NET(vdev);

    user_net_dispatch(n->user);
    user_rx_flush(n);
}

/* One guest frame, without its virtio header, to slirp. */
static void user_tx_one(VirtioNet *n, const VirtqElement *e)
{
    size_t len;

    if (e->out_len < TAP_VNET_HDR_LEN || e->out_len > NET_TX_MAX) {
        n->tx_dropped++;
        return;
    }
    len = e->out_len - TAP_VNET_HDR_LEN;
    iov_to_buf(e->out_iov, e->out_num, TAP_VNET_HDR_LEN, n->tx_buf, len);
    user_net_input(n->user, n->tx_buf, len);
}

/* --- Tap ---------------------------------------------------------------- */

/* Sends one chain's frame (header and all) to the tap. */
static void tx_one(VirtioNet *n, const VirtqElement *e)
{
    ssize_t r;

    if (n->user) {
        user_tx_one(n, e);
        return;
    }
    if (e->out_len < TAP_VNET_HDR_LEN || e->out_len > NET_TX_MAX ||
        e->out_num > IOV_MAX || n->tap_gone) {
        n->tx_dropped++;
        return;
    }
    do {
        r = writev(tap_fd(n->backend), e->out_iov, (int)e->out_num);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        n->tx_dropped++;                /* down, or a bad GSO request */
    }
}

/* One transmitq1 request: its frame goes to the tap (or is counted as
 * dropped); the device writes nothing back. */
static bool tx_request(void *opaque, VirtqElement *elem, uint32_t *written)
{
    tx_one(opaque, elem);
    *written = 0;
    return true;
}

/* Sends every frame the driver made available on transmitq1, returning
 * them 32 at a time. */
static void tx_process(VirtioNet *n)
{
    VirtioDevice *vdev = VIRTIO_DEVICE(n);
    bool notify = false;

    if (!virtqueue_drain(vdev->queues[NET_TXQ], 32, tx_request, n,
                         &notify)) {
        net_broken(n);
    }
    if (notify) {
        virtio_device_notify_used(vdev);
    }
    if (n->user) {
        user_net_flush(n->user);
        user_rx_flush(n);       /* slirp may have answered (ARP, DHCP) */
    }
}

static void virtio_net_queue_notify(VirtioDevice *vdev, unsigned index)
{
    VirtioNet *n = VIRTIO_NET(vdev);

    if (!n->running) {
        return;
    }
    if (index == NET_RXQ && n->user) {
        user_rx_drain(n);
        user_rx_flush(n);
    } else if (index == NET_RXQ) {
        rx_process(n);
    } else if (index == NET_TXQ) {
        tx_process(n);
    }
}

/* I/O thread: the tap has a frame (or the interface went away). */
static void net_tap_ready(VirtioDevice *vdev, int fd, uint32_t events,
                          void *opaque)
{
    VirtioNet *n = VIRTIO_NET(vdev);

    if (events & (EPOLLERR | EPOLLHUP)) {
        /* Deleted with `ip link del`: nothing will come any more. */
        virtio_device_io_remove(vdev, fd);
        n->rx_polling = false;
        n->tap_gone = true;
        return;
    }
    if (!n->running) {
        rx_poll(n, false);
        return;
    }
    rx_process(n);
}

static bool virtio_net_start(VirtioDevice *vdev)
{
    VirtioNet *n = VIRTIO_NET(vdev);
    unsigned offloads = 0;

    if (n->user) {
        virtio_device_quiesce(vdev);
        n->running = true;
        n->rx_notify = true;
        virtio_device_resume(vdev);
        return true;
    }
    if (virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_CSUM)) {
        offloads |= TAP_OFFLOAD_CSUM;
        if (virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_TSO4)) {
            offloads |= TAP_OFFLOAD_TSO4;
        }
        if (virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_TSO6)) {
            offloads |= TAP_OFFLOAD_TSO6;
        }
        if (virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_ECN)) {
            offloads |= TAP_OFFLOAD_TSO_ECN;
        }
    }
    if (!tap_set_offload(n->backend, offloads, NULL)) {
        return false;
    }
    virtio_device_quiesce(vdev);
    n->running = true;
    n->rx_notify = true;
    rx_poll(n, true);
    virtio_device_resume(vdev);
    return true;
}

static void virtio_net_reset(VirtioDevice *vdev)
{
    VirtioNet *n = VIRTIO_NET(vdev);

    n->running = false;
    if (n->backend) {
        rx_poll(n, false);
    }
    for (unsigned i = 0; i < n->rx_held_num; i++) {
        virtqueue_element_clear(&n->rx_held[i]);
    }
    n->rx_held_num = 0;
    n->rx_pending = 0;
    user_rx_queue_clear(n);
    n->rx_dirty = false;
}

/* A user-mode network with the spec's forwards; a port in use fails it,
 * naming the rule and the address. */
static UserNet *user_open(VirtioNet *n, GError **errp)
{
    UserNetConfig cfg = {
        .restrict_out = n->restrict_out,
        .host_loopback = n->host_loopback,
    };
    UserNet *net = user_net_new(&cfg, user_rx, n, errp);

    for (char **r = n->forward; net && r && *r; r++) {
        g_autoptr(GError) err = NULL;
        HostFwd fwd;

        if (!hostfwd_parse(*r, &fwd, &err) ||
            !user_net_add_forward(net, &fwd, &err)) {
            g_set_error(errp, VMSPEC_ERROR, err->code, "forward '%s': %s",
                        *r, err->message);
            g_clear_pointer(&net, user_net_free);
        }
    }
    return net;
}

/*
 * The tap (or the user-mode network, with its listening forwards) is
 * opened at the first realize and kept until the object goes away: a guest
 * reboot with on_reboot: restart unrealizes and realizes the machine
 * again, and a tap vmspec created must not vanish (taking the host's
 * addresses on it along), nor a forwarded port close, in between.
 */
static bool virtio_net_device_realize(VirtioDevice *vdev, GError **errp)
{
    VirtioNet *n = VIRTIO_NET(vdev);

    if (n->mac.is_auto) {
        /* spec/loader.c derives it from the VM name and the NIC id. */
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "mac: auto was not resolved to an address");
        return false;
    }
    if (!n->tap && !n->user && !(n->user = user_open(n, errp))) {
        return false;
    }
    if (n->user) {
        if (!virtio_device_io_add(vdev, user_net_fd(n->user), EPOLLIN,
                                  net_user_ready, NULL, errp)) {
            return false;
        }
        g_queue_init(&n->rx_queue);
        n->tx_buf = g_malloc(NET_TX_MAX);
        n->rx_held = g_new0(VirtqElement, NET_QUEUE_SIZE);
        n->rx_held_num = 0;
        return true;
    }
    if (!n->backend) {
        n->backend = tap_open(n->tap, errp);
        if (!n->backend) {
            return false;
        }
    }
    if (!virtio_device_io_add(vdev, tap_fd(n->backend), 0, net_tap_ready,
                              NULL, errp)) {
        return false;
    }
    n->rx_polling = false;
    n->tap_gone = false;
    n->rx_held = g_new0(VirtqElement, NET_QUEUE_SIZE);
    n->rx_held_num = 0;
    n->rx_bounce = g_malloc(NET_RX_BOUNCE);
    return true;
}

static void virtio_net_device_unrealize(VirtioDevice *vdev)
{
    VirtioNet *n = VIRTIO_NET(vdev);

    if (n->backend) {
        virtio_device_io_remove(vdev, tap_fd(n->backend));
    }
    if (n->user) {
        virtio_device_io_remove(vdev, user_net_fd(n->user));
        user_rx_queue_clear(n);
    }
    g_clear_pointer(&n->rx_held, g_free);
    g_clear_pointer(&n->rx_bounce, g_free);
    g_clear_pointer(&n->tx_buf, g_free);
}

/* Closing the tap removes it if vmspec created it; closing the user-mode
 * network closes its forwards' ports. */
static void virtio_net_finalize(Object *obj)
{
    g_clear_pointer(&VIRTIO_NET(obj)->backend, tap_close);
    g_clear_pointer(&VIRTIO_NET(obj)->user, user_net_free);
}

static bool forward_rule_check(const char *rule, GError **errp)
{
    HostFwd fwd;

    return hostfwd_parse(rule, &fwd, errp);
}

static const Property virtio_net_props[] = {
    PROP_STRING("tap", VirtioNet, tap, NULL,
                "Host tap device; created (and removed at exit) if missing. "
                "Without one the NIC is on a user-mode network (10.0.2.0/24, "
                "no privilege needed)", .check = tap_name_check),
    PROP_MAC("mac", VirtioNet, mac,
             "MAC address, or auto: derived from the VM name and NIC id"),
    PROP_STRV("forward", VirtioNet, forward, forward_rule_check,
              "^(tcp|udp):([0-9.]*):[0-9]+-([0-9.]*):[0-9]+$",
              "User mode: host ports forwarded to the guest, "
              "PROTO:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT "
              "(HOSTADDR 127.0.0.1, GUESTADDR 10.0.2.15 when omitted)"),
    PROP_BOOL("host_loopback", VirtioNet, host_loopback, false,
              "User mode: the guest reaches the host's 127.0.0.1 at "
              "10.0.2.2"),
    PROP_BOOL("restrict", VirtioNet, restrict_out, false,
              "User mode: the guest may not open connections out (forwards "
              "still work)"),
    PROP_END,
};

/* The user-mode keys need a user-mode NIC; two forwards of one NIC may not
 * take one host port. */
static bool virtio_net_check(DeviceState *dev, const char **key,
                             GError **errp)
{
    VirtioNet *n = VIRTIO_NET(dev);
    const char *user_key = n->forward && *n->forward ? "forward"
                         : n->host_loopback ? "host_loopback"
                         : n->restrict_out ? "restrict" : NULL;
    g_autoptr(GArray) seen = g_array_new(false, false, sizeof(HostFwd));

    if (n->tap && user_key) {
        *key = user_key;
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "%s is for user-mode NICs; this one has a tap (%s)",
                    user_key, n->tap);
        return false;
    }
    for (char **r = n->forward; r && *r; r++) {
        HostFwd fwd;

        if (!hostfwd_parse(*r, &fwd, NULL)) {
            continue;           /* the property's check said so already */
        }
        for (guint i = 0; i < seen->len; i++) {
            if (hostfwd_same_host_port(&g_array_index(seen, HostFwd, i),
                                       &fwd)) {
                *key = "forward";
                g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_BUSY,
                            "forward '%s' takes a host port an earlier "
                            "forward of this NIC takes", *r);
                return false;
            }
        }
        g_array_append_val(seen, fwd);
    }
    return true;
}

/* Its tap, and its MAC on the tap's network (an `auto` one only once the
 * spec loader has derived it); or the host ports its forwards listen on
 * (one claim a port, whatever the address: conservative). */
static void virtio_net_host_claims(DeviceState *dev, HostClaims *claims)
{
    VirtioNet *n = VIRTIO_NET(dev);
    const uint8_t *m = n->mac.bytes;
    g_autofree char *mac = g_strdup_printf(
        "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);

    if (!n->tap) {
        for (char **r = n->forward; r && *r; r++) {
            g_autofree char *port = NULL;
            HostFwd fwd;

            if (hostfwd_parse(*r, &fwd, NULL)) {
                port = g_strdup_printf("%s:%u", fwd.udp ? "udp" : "tcp",
                                       fwd.host_port);
                host_claims_add_for(claims, dev, "NIC", HOST_CLAIM_PORT, port,
                                    false, "the host port");
            }
        }
        return;
    }
    host_claims_add_for(claims, dev, "NIC", HOST_CLAIM_TAP, n->tap, false,
                        "the tap");
    if (!n->mac.is_auto) {
        host_claims_add_for(claims, dev, "NIC", HOST_CLAIM_MAC, mac, false,
                            "the MAC address");
    }
}

/* --- Runtime forwards (machine/virtio/net.h) ----------------------------- */

static VirtioNet *user_nic(Object *nic, GError **errp)
{
    VirtioNet *n = (VirtioNet *)object_dynamic_cast(nic, TYPE_VIRTIO_NET);

    if (!n || !n->user) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    n && n->tap ? "NIC '%s' is on tap %s: forwards are for "
                                  "user-mode NICs"
                                : "'%s' is not a running user-mode NIC",
                    DEVICE(nic)->id ? DEVICE(nic)->id : "?",
                    n ? n->tap : NULL);
        return NULL;
    }
    return n;
}

bool virtio_net_is_user_mode(Object *nic)
{
    VirtioNet *n = (VirtioNet *)object_dynamic_cast(nic, TYPE_VIRTIO_NET);

    return n && !n->tap;
}

bool virtio_net_add_forward(Object *nic, const char *rule, GError **errp)
{
    VirtioNet *n = user_nic(nic, errp);
    HostFwd fwd;

    return n && hostfwd_parse(rule, &fwd, errp) &&
           user_net_add_forward(n->user, &fwd, errp);
}

bool virtio_net_remove_forward(Object *nic, const char *rule, GError **errp)
{
    VirtioNet *n = user_nic(nic, errp);
    HostFwd fwd;

    return n && hostfwd_parse(rule, &fwd, errp) &&
           user_net_remove_forward(n->user, &fwd, errp);
}

char **virtio_net_list_forwards(Object *nic)
{
    VirtioNet *n = (VirtioNet *)object_dynamic_cast(nic, TYPE_VIRTIO_NET);

    return n && n->user ? user_net_list_forwards(n->user) : g_new0(char *, 1);
}

static void virtio_net_class_init(ObjectClass *oc, const void *data)
{
    VirtioDeviceClass *vc = VIRTIO_DEVICE_CLASS(oc);

    oc->props = virtio_net_props;
    DEVICE_CLASS(oc)->spec_list = "nics";
    DEVICE_CLASS(oc)->host_claims = virtio_net_host_claims;
    DEVICE_CLASS(oc)->check = virtio_net_check;
    vc->device_id = VIRTIO_ID_NET;
    vc->num_queues = 2;
    vc->queue_max_size = NET_QUEUE_SIZE;
    vc->get_features = virtio_net_get_features;
    vc->config_size = NET_CONFIG_SIZE;
    vc->read_config = virtio_net_read_config;
    vc->start = virtio_net_start;
    vc->reset = virtio_net_reset;
    vc->queue_notify = virtio_net_queue_notify;
    vc->device_realize = virtio_net_device_realize;
    vc->device_unrealize = virtio_net_device_unrealize;
}

static const TypeInfo virtio_net_info = {
    .name = TYPE_VIRTIO_NET,
    .parent = TYPE_VIRTIO_DEVICE,
    .description = "virtio network card on a host tap device or a "
                   "user-mode network",
    .instance_size = sizeof(VirtioNet),
    .instance_finalize = virtio_net_finalize,
    .class_init = virtio_net_class_init,
};

static void virtio_net_register_types(void)
{
    type_register_static(&virtio_net_info);
}

type_init(virtio_net_register_types)
