/*
 * virtio-vsock (virtio 1.2, 5.10 "Socket Device"), served by vmspec itself
 * with Firecracker's host-side protocol ("hybrid vsock"), so it needs
 * neither root nor /dev/vhost-vsock.  Device ID 19; queues rx (0), tx (1)
 * and event (2); config space the guest's CID (le64).  Written
 * `devices: - {type: virtio-vsock, cid: 3}`.
 *
 * The host side is unix sockets next to the VM's control socket
 * (DeviceContext.runtime_prefix, "RUNTIME/vmspec/NAME"):
 *  - host -> guest: a client connects to NAME.vsock and writes
 *    "CONNECT PORT\n"; the device sends the guest a REQUEST for PORT from
 *    a fresh host port (2^30 and up), and on the guest's RESPONSE answers
 *    "OK HOSTPORT\n"; from then on the socket is the stream.  A RST (no
 *    one listens), or no answer within 2 s, closes the socket unanswered.
 *  - guest -> host: a REQUEST to CID 2, port P connects to NAME.vsock_P;
 *    nobody listening there gets the guest a RST at once.
 *
 * Flow control is the spec's credit scheme (5.10.6.3): every packet
 * carries the sender's buf_alloc and fwd_cnt, and nobody sends more than
 * the peer said it has room for.  The guest -> host direction buffers at
 * most VSOCK_BUF_ALLOC bytes a connection (what the device advertises),
 * only while the host socket is full; a guest that sends beyond its credit
 * has the connection reset.  The host -> guest direction buffers nothing:
 * bytes are read from the host socket straight into a receive buffer the
 * driver posted, as many as the guest's credit allows.  So neither a
 * flooding guest nor one that lies about its own credit can make vmspec
 * hold more than VSOCK_MAX_CONNS * VSOCK_BUF_ALLOC bytes.
 *
 * A chain that cannot hold what it claims (vsock-packet.h) puts the device
 * in NEEDS_RESET; a well-formed packet with nonsense in it (an unknown op
 * or type, the wrong CID, data for no connection) is answered with a RST
 * and changes nothing else, as Linux's own transport does.
 *
 * Threads: everything but the config read runs on the device's I/O
 * thread (queue notifications, the sockets, the timer); reset runs with
 * it quiesced.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "machine/backend/daemon.h"
#include "machine/byteorder/le.h"
#include "machine/qom/context.h"
#include "machine/qom/error.h"
#include "machine/qom/host-claims.h"
#include "machine/qom/property.h"
#include "machine/virtio/virtio.h"
#include "machine/virtio/vsock-conn.h"

#define TYPE_VIRTIO_VSOCK "virtio-vsock"
#define VIRTIO_VSOCK(obj) OBJECT_CHECK(VirtioVsock, (obj), TYPE_VIRTIO_VSOCK)

#define VIRTIO_ID_VSOCK         19      /* 5 "Device Types" */
#define VSOCK_RXQ               0       /* 5.10.2 */
#define VSOCK_TXQ               1
#define VSOCK_EVQ               2
#define VSOCK_QUEUE_SIZE        256
#define VIRTIO_VSOCK_F_STREAM   0       /* 5.10.3 */
#define VSOCK_CONFIG_SIZE       8       /* 5.10.4: le64 guest_cid */

#define VSOCK_HANDSHAKE_US      (5 * G_USEC_PER_SEC)  /* CONNECT line */
#define VSOCK_TIMER_NS          (250 * 1000 * 1000)

typedef struct VirtioVsock {
    VirtioDevice parent_obj;
    int64_t cid;

    char *scratch_dir;
    char *prefix;           /* "RUNTIME/vmspec/NAME" */
    char *listen_path;      /* prefix + ".vsock" */
    int listen_fd;
    int timer_fd;
    bool timer_armed;
    VsockConns conns;

    VirtqElement rx_held;   /* popped, not filled yet */
    bool have_rx_held;
    bool broken;            /* NEEDS_RESET: ignore the queues */
} VirtioVsock;

static void vsock_broken(VirtioVsock *v)
{
    v->broken = true;
    virtio_device_set_needs_reset(VIRTIO_DEVICE(v));
}

/* Sends the guest what is waiting, for as long as it posted rx buffers. */
static void vsock_rx_run(VirtioDevice *vdev)
{
    VirtioVsock *v = VIRTIO_VSOCK(vdev);
    VirtQueue *vq = vdev->queues[VSOCK_RXQ];
    bool pushed = false;

    while (!v->broken && vsock_conns_rx_pending(&v->conns)) {
        VirtqElement *e = &v->rx_held;
        uint32_t len;

        if (!v->have_rx_held) {
            int r = virtqueue_pop(vq, e);

            if (r < 0) {
                vsock_broken(v);
                break;
            }
            if (r == 0) {
                break;      /* the guest's next rx kick runs us again */
            }
            v->have_rx_held = true;
            /* 5.10.6.2: every rx buffer holds at least a header. */
            if (e->out_num > 0 || e->in_len < VSOCK_HDR_SIZE ||
                e->in_len > UINT32_MAX) {
                vsock_broken(v);
                break;
            }
        }
        len = vsock_conns_fill_rx(&v->conns, e);
        if (len > 0) {
            virtqueue_push(vq, e, len);
            virtqueue_element_clear(e);
            v->have_rx_held = false;
            pushed = true;
        }
    }
    if (pushed && virtqueue_flush(vq)) {
        virtio_device_notify_used(vdev);
    }
}

/* The connections' host sockets, on the device's I/O thread. */
static void vsock_socket_io(VirtioDevice *vdev, int fd, uint32_t events,
                            void *opaque)
{
    vsock_conn_socket_ready(opaque, events);
    vsock_rx_run(vdev);
}

static bool vsock_watch_add(VsockConns *t, VsockConn *c, int fd)
{
    return virtio_device_io_add(t->opaque, fd, 0, vsock_socket_io, c, NULL);
}

static void vsock_watch_modify(VsockConns *t, int fd, uint32_t events)
{
    virtio_device_io_modify(t->opaque, fd, events);
}

static void vsock_watch_remove(VsockConns *t, int fd)
{
    virtio_device_io_remove(t->opaque, fd);
}

static const VsockWatcher vsock_io_watcher = {
    .add = vsock_watch_add,
    .modify = vsock_watch_modify,
    .remove = vsock_watch_remove,
};

static void vsock_arm_timer(VirtioVsock *v)
{
    struct itimerspec its = {
        .it_interval.tv_nsec = VSOCK_TIMER_NS,
        .it_value.tv_nsec = VSOCK_TIMER_NS,
    };

    if (!v->timer_armed) {
        v->timer_armed = timerfd_settime(v->timer_fd, 0, &its, NULL) == 0;
    }
}

static void vsock_accept(VirtioDevice *vdev, int fd, uint32_t events,
                         void *opaque)
{
    VirtioVsock *v = VIRTIO_VSOCK(vdev);

    for (int i = 0; i < 16; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (cfd < 0) {
            return;
        }
        if (v->broken || !(vdev->status & VIRTIO_STATUS_DRIVER_OK) ||
            vsock_conns_count(&v->conns) >= VSOCK_MAX_CONNS) {
            close(cfd);     /* no driver to ask, or too many: refused */
            continue;
        }
        vsock_conns_accept(&v->conns, cfd,
                           g_get_monotonic_time() + VSOCK_HANDSHAKE_US);
        vsock_arm_timer(v);
    }
}

static void vsock_timer(VirtioDevice *vdev, int fd, uint32_t events,
                        void *opaque)
{
    VirtioVsock *v = VIRTIO_VSOCK(vdev);
    uint64_t ticks;

    (void)!read(fd, &ticks, sizeof(ticks));
    if (!vsock_conns_expire(&v->conns, g_get_monotonic_time())) {
        struct itimerspec off = { { 0, 0 }, { 0, 0 } };

        timerfd_settime(fd, 0, &off, NULL);
        v->timer_armed = false;
    }
    vsock_rx_run(vdev);
}

/* --- The device ----------------------------------------------------------- */

static void virtio_vsock_queue_notify(VirtioDevice *vdev, unsigned index)
{
    VirtioVsock *v = VIRTIO_VSOCK(vdev);
    bool notify = false;

    if (v->broken) {
        return;
    }
    if (index == VSOCK_TXQ) {
        if (!virtqueue_drain(vdev->queues[VSOCK_TXQ], 16,
                             vsock_conns_tx_packet, &v->conns, &notify)) {
            vsock_broken(v);
        }
        if (notify) {
            virtio_device_notify_used(vdev);
        }
    }
    /* rx: buffers came; tx: packets may have queued replies.  The event
     * queue's buffers wait for events vmspec never sends (5.10.6.7:
     * transport resets come with migration). */
    vsock_rx_run(vdev);
}

static void virtio_vsock_reset(VirtioDevice *vdev)
{
    VirtioVsock *v = VIRTIO_VSOCK(vdev);

    vsock_conns_clear(&v->conns);
    if (v->have_rx_held) {
        virtqueue_element_clear(&v->rx_held);
        v->have_rx_held = false;
    }
    v->broken = false;
}

static uint64_t virtio_vsock_get_features(VirtioDevice *vdev)
{
    return 1ULL << VIRTIO_VSOCK_F_STREAM;
}

static void virtio_vsock_read_config(VirtioDevice *vdev, uint32_t offset,
                                     void *data, uint32_t size)
{
    uint8_t config[VSOCK_CONFIG_SIZE];

    le64_store(config, (uint64_t)VIRTIO_VSOCK(vdev)->cid);
    memcpy(data, config + offset, size);
}

static bool virtio_vsock_device_realize(VirtioDevice *vdev, GError **errp)
{
    VirtioVsock *v = VIRTIO_VSOCK(vdev);

    if (!(v->prefix = daemon_runtime_prefix(vdev->ctx->runtime_prefix,
                                            &v->scratch_dir, errp))) {
        return false;
    }
    v->listen_path = g_strdup_printf("%s.vsock", v->prefix);
    v->listen_fd = daemon_listen_unix(v->listen_path, errp);
    if (v->listen_fd < 0) {
        return false;
    }
    /* Room for a burst of clients (20 `vmspec ssh` at once): listen()
     * again only changes the backlog.  Non-blocking, so that accepting
     * until EAGAIN never stalls the I/O thread. */
    (void)listen(v->listen_fd, 64);
    (void)fcntl(v->listen_fd, F_SETFL, O_NONBLOCK);
    /* Whoever can connect gets a stream into the guest: the user only,
     * like the control socket. */
    (void)chmod(v->listen_path, 0600);
    v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (v->timer_fd < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO, "timerfd: %s",
                    g_strerror(errno));
        return false;
    }
    v->conns.guest_cid = (uint64_t)v->cid;
    v->conns.prefix = v->prefix;
    return virtio_device_io_add(vdev, v->listen_fd, EPOLLIN, vsock_accept,
                                NULL, errp) &&
           virtio_device_io_add(vdev, v->timer_fd, EPOLLIN, vsock_timer,
                                NULL, errp);
}

static void virtio_vsock_device_unrealize(VirtioDevice *vdev)
{
    VirtioVsock *v = VIRTIO_VSOCK(vdev);

    if (v->listen_fd >= 0) {
        close(v->listen_fd);
        v->listen_fd = -1;
        unlink(v->listen_path);
    }
    if (v->timer_fd >= 0) {
        close(v->timer_fd);
        v->timer_fd = -1;
    }
    v->timer_armed = false;
    g_clear_pointer(&v->listen_path, g_free);
    g_clear_pointer(&v->prefix, g_free);
    if (v->scratch_dir) {
        (void)rmdir(v->scratch_dir);
        g_clear_pointer(&v->scratch_dir, g_free);
    }
}

/* One vsock device a VM: its socket is NAME.vsock. */
static void virtio_vsock_host_claims(DeviceState *dev, HostClaims *claims)
{
    host_claims_add_for(claims, dev, "device", HOST_CLAIM_GUEST_NAME,
                        "NAME.vsock", false, "the hybrid-vsock socket");
}

static void virtio_vsock_instance_init(Object *obj)
{
    VirtioVsock *v = VIRTIO_VSOCK(obj);

    v->listen_fd = -1;
    v->timer_fd = -1;
    vsock_conns_init(&v->conns, &vsock_io_watcher, VIRTIO_DEVICE(v));
}

static void virtio_vsock_instance_finalize(Object *obj)
{
    VirtioVsock *v = VIRTIO_VSOCK(obj);

    vsock_conns_destroy(&v->conns);
}

static const Property virtio_vsock_props[] = {
    PROP_INT("cid", VirtioVsock, cid, 3, VSOCK_GUEST_CID_MIN,
             VSOCK_GUEST_CID_MAX,
             "The guest's context ID (the host is 2; 0 and 1 are reserved)"),
    PROP_END,
};

static void virtio_vsock_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    VirtioDeviceClass *vc = VIRTIO_DEVICE_CLASS(oc);

    oc->props = virtio_vsock_props;
    dc->spec_list = "devices";
    dc->host_claims = virtio_vsock_host_claims;
    vc->device_id = VIRTIO_ID_VSOCK;
    vc->num_queues = 3;
    vc->queue_max_size = VSOCK_QUEUE_SIZE;
    vc->config_size = VSOCK_CONFIG_SIZE;
    vc->get_features = virtio_vsock_get_features;
    vc->read_config = virtio_vsock_read_config;
    vc->queue_notify = virtio_vsock_queue_notify;
    vc->reset = virtio_vsock_reset;
    vc->device_realize = virtio_vsock_device_realize;
    vc->device_unrealize = virtio_vsock_device_unrealize;
}

static const TypeInfo virtio_vsock_info = {
    .name = TYPE_VIRTIO_VSOCK,
    .parent = TYPE_VIRTIO_DEVICE,
    .description = "virtio socket device, host side over unix sockets "
                   "(Firecracker's protocol)",
    .instance_size = sizeof(VirtioVsock),
    .instance_init = virtio_vsock_instance_init,
    .instance_finalize = virtio_vsock_instance_finalize,
    .class_init = virtio_vsock_class_init,
};

static void virtio_vsock_register_types(void)
{
    type_register_static(&virtio_vsock_info);
}

type_init(virtio_vsock_register_types)
