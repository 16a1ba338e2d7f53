/*
 * A virtio device's link to its vhost-user backend (vhost-user-link.h).
 */
#include "machine/virtio/vhost-user-link.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "machine/kvm/guest-mem.h"
#include "machine/kvm/run-end.h"
#include "machine/qom/context.h"
#include "machine/qom/error.h"
#include "machine/vhost/vhost-user.h"

/* Ring features a backend may pass on to the driver (virtio 1.2, 6). */
#define RING_FEATURES ((1ULL << VIRTIO_F_VERSION_1) |                       \
                       (1ULL << VIRTIO_F_INDIRECT_DESC) |                   \
                       (1ULL << VIRTIO_F_EVENT_IDX))

/* "share 'src'" */
static char *device_name(VhostUserLink *link)
{
    const char *id = DEVICE(link->vdev)->id;

    return g_strdup_printf("%s '%s'", link->role, id ? id : "?");
}

/* " (virtiofsd exited with status 1: ...)", or "". */
static char *backend_state_note(VhostUserLink *link)
{
    g_autofree char *state =
        link->backend_state ? link->backend_state(link->opaque) : NULL;

    return state ? g_strdup_printf(" (%s)", state) : g_strdup("");
}

/* Errors from the protocol layer already start with the device's name
 * (it was given at connect); this file's own get it here. */
static void name_error(VhostUserLink *link, GError *err)
{
    g_autofree char *name = device_name(link);
    g_autofree char *prefix = g_strdup_printf("%s: ", name);

    if (!g_str_has_prefix(err->message, prefix)) {
        char *msg = g_strconcat(prefix, err->message, NULL);

        g_free(err->message);
        err->message = msg;
    }
}

/* Realize errors are placed by the machine ("device 'src' (virtio-fs,
 * spec.yaml:10:5): ..."): the protocol layer's name for the device would
 * say it twice. */
static void unname_error(VhostUserLink *link, GError *err)
{
    g_autofree char *name = device_name(link);
    g_autofree char *prefix = g_strdup_printf("%s: ", name);

    if (g_str_has_prefix(err->message, prefix)) {
        memmove(err->message, err->message + strlen(prefix),
                strlen(err->message) - strlen(prefix) + 1);
    }
}

/*
 * The backend failed: the VM stops with what it did.  The device is also
 * marked NEEDS_RESET, so the driver gets no further notifications into a
 * dead backend while the vCPUs are being stopped.  Any thread.
 */
static void backend_failed(VhostUserLink *link, GError *err)
{
    VirtioDevice *vdev = link->vdev;
    g_autofree char *note = NULL;
    g_autofree char *detail = NULL;

    if (__atomic_exchange_n(&link->failed, true, __ATOMIC_SEQ_CST)) {
        return;
    }
    name_error(link, err);
    note = backend_state_note(link);
    detail = g_strdup_printf("%s%s", err->message, note);
    virtio_device_set_needs_reset(vdev);
    if (vdev->ctx && vdev->ctx->run_end) {
        run_end_request(vdev->ctx->run_end, RUN_END_ERROR, detail);
    }
}

/* I/O thread: the backend signalled a used buffer on one of the rings. */
static void call_ready(VirtioDevice *vdev, int fd, uint32_t events,
                       void *opaque)
{
    eventfd_t count;

    if (eventfd_read(fd, &count) == 0) {
        virtio_device_notify_used(vdev);
    }
}

/* I/O thread: the socket hung up.  Only EPOLLRDHUP is asked for: replies
 * are read by the thread that made the request. */
static void socket_hangup(VirtioDevice *vdev, int fd, uint32_t events,
                          void *opaque)
{
    VhostUserLink *link = opaque;
    g_autoptr(GError) err = g_error_new_literal(
        VMSPEC_ERROR, VMSPEC_ERROR_IO,
        "the vhost-user backend closed its socket");

    virtio_device_io_remove(vdev, fd);
    backend_failed(link, err);
}

/* The host address of a ring of len bytes at gpa (checked by
 * virtqueue_enable when the driver enabled the queue). */
static uint64_t ring_host_address(VirtioDevice *vdev, uint64_t gpa,
                                  uint64_t len, GError **errp)
{
    void *host = guest_mem_translate(vdev->ctx->ram, gpa, len);

    if (!host) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "a ring at 0x%" G_GINT64_MODIFIER "x is not in guest RAM",
                    gpa);
        return 0;
    }
    return (uintptr_t)host;
}

/* Hands ring index to the backend (vhost-user.rst, "Starting and stopping
 * rings"); the call fd before the kick fd, so that the first request the
 * backend takes can be signalled.  call: the transport's interrupt
 * eventfd, or -1 for the ring's own, which vmspec relays. */
static bool start_ring(VhostUserLink *link, unsigned index, int call,
                       GError **errp)
{
    VirtioDevice *vdev = link->vdev;
    VirtQueue *vq = vdev->queues[index];
    uint64_t num = virtqueue_size(vq);
    uint64_t desc, avail, used;
    int kick = vdev->transport_ops->queue_notifier(vdev, index);

    /* virtio 1.2, 2.7: descriptor table, driver and device areas. */
    if (!(desc = ring_host_address(vdev, virtqueue_desc_addr(vq), 16 * num,
                                   errp)) ||
        !(avail = ring_host_address(vdev, virtqueue_avail_addr(vq),
                                    6 + 2 * num, errp)) ||
        !(used = ring_host_address(vdev, virtqueue_used_addr(vq),
                                   6 + 8 * num, errp))) {
        return false;
    }
    if (kick < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "queue %u has no notifier", index);
        return false;
    }
    if (!vhost_user_set_vring_num(link->vu, index, (unsigned)num, errp) ||
        !vhost_user_set_vring_addr(link->vu, index, desc, used, avail,
                                   errp) ||
        !vhost_user_set_vring_base(link->vu, index, 0, errp) ||
        !vhost_user_set_vring_call(link->vu, index, call, errp) ||
        !vhost_user_set_vring_kick(link->vu, index, kick, errp)) {
        return false;
    }
    /* With PROTOCOL_FEATURES a ring starts disabled (vhost-user.rst,
     * "Ring states"). */
    if ((link->backend_features >> VHOST_USER_F_PROTOCOL_FEATURES) & 1 &&
        !vhost_user_set_vring_enable(link->vu, index, true, errp)) {
        return false;
    }
    link->running |= 1u << index;
    return true;
}

bool vhost_user_link_start(VhostUserLink *link)
{
    VirtioDevice *vdev = link->vdev;
    uint64_t features = vdev->guest_features |
        (link->backend_features & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES));
    const VirtioTransportOps *ops = vdev->transport_ops;
    g_autoptr(GError) err = NULL;
    int irq;
    bool ok;

    /* The backend interrupts the guest itself where the transport lets
     * it (a thread switch fewer per completion); else vmspec relays. */
    irq = ops->backend_used_irq ? ops->backend_used_irq(vdev) : -1;
    pthread_mutex_lock(&link->lock);
    ok = link->vu &&
         vhost_user_set_features(link->vu, features, &err) &&
         vhost_user_set_mem_table(link->vu, vdev->ctx->ram, &err);
    for (unsigned i = 0; ok && i < vdev->num_queues; i++) {
        if (virtqueue_ready(vdev->queues[i])) {
            ok = start_ring(link, i, irq >= 0 ? irq : link->call_fd[i],
                            &err);
        }
    }
    pthread_mutex_unlock(&link->lock);
    if (!ok && err) {
        backend_failed(link, err);
    }
    return ok;
}

/* The guest may reset the device any number of times; each time the
 * backend stops every ring it runs, and DRIVER_OK starts them afresh. */
void vhost_user_link_reset(VhostUserLink *link)
{
    VirtioDevice *vdev = link->vdev;
    g_autoptr(GError) err = NULL;

    pthread_mutex_lock(&link->lock);
    for (unsigned i = 0; i < vdev->num_queues && link->vu; i++) {
        unsigned base;

        if (!(link->running & (1u << i))) {
            continue;
        }
        link->running &= ~(1u << i);
        if (!err && !vhost_user_get_vring_base(link->vu, i, &base, &err)) {
            break;
        }
    }
    link->running = 0;
    pthread_mutex_unlock(&link->lock);
    if (err) {
        backend_failed(link, err);
    }
}

uint64_t vhost_user_link_features(const VhostUserLink *link,
                                  uint64_t device_features)
{
    return link->backend_features & (RING_FEATURES | device_features);
}

bool vhost_user_link_has_protocol(const VhostUserLink *link, unsigned bit)
{
    return link->vu && (vhost_user_protocol_features(link->vu) >> bit) & 1;
}

bool vhost_user_link_get_config(VhostUserLink *link, void *buf,
                                uint32_t size, GError **errp)
{
    bool ok;

    if (!vhost_user_link_has_protocol(link, VHOST_USER_PROTOCOL_F_CONFIG)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "the vhost-user backend does not give the device's "
                    "configuration (no VHOST_USER_PROTOCOL_F_CONFIG)");
        return false;
    }
    pthread_mutex_lock(&link->lock);
    ok = vhost_user_get_config(link->vu, 0, buf, size, errp);
    pthread_mutex_unlock(&link->lock);
    if (!ok && errp && *errp) {
        unname_error(link, *errp);
    }
    return ok;
}

static void close_call_fds(VhostUserLink *link)
{
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
        if (link->call_fd[i] >= 0) {
            close(link->call_fd[i]);
            link->call_fd[i] = -1;
        }
    }
}

/* SET_OWNER, the backend's features and protocol features; fails with
 * errors that name the device. */
static bool negotiate(VhostUserLink *link, unsigned num_queues,
                      uint64_t want_protocol, GError **errp)
{
    uint64_t agreed = 0, queues;

    if (!vhost_user_set_owner(link->vu, errp) ||
        !vhost_user_get_features(link->vu, &link->backend_features, errp)) {
        return false;
    }
    if (!((link->backend_features >> VIRTIO_F_VERSION_1) & 1)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "the vhost-user backend does not offer VIRTIO_F_VERSION_1 "
                    "(features 0x%" G_GINT64_MODIFIER "x)",
                    link->backend_features);
        return false;
    }
    if ((link->backend_features >> VHOST_USER_F_PROTOCOL_FEATURES) & 1 &&
        !vhost_user_negotiate_protocol(
            link->vu, (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
                      (1ULL << VHOST_USER_PROTOCOL_F_MQ) | want_protocol,
            &agreed, errp)) {
        return false;
    }
    if ((agreed >> VHOST_USER_PROTOCOL_F_MQ) & 1) {
        if (!vhost_user_get_queue_num(link->vu, &queues, errp)) {
            return false;
        }
        if (queues < num_queues) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                        "the vhost-user backend serves %" G_GUINT64_FORMAT
                        " queues; the device has %u", queues, num_queues);
            return false;
        }
    }
    return true;
}

void vhost_user_link_close(VhostUserLink *link)
{
    g_clear_pointer(&link->vu, vhost_user_free);
    close_call_fds(link);
    link->running = 0;
    link->backend_features = 0;
}

bool vhost_user_link_connect(VhostUserLink *link, const char *socket,
                             unsigned num_queues, uint64_t want_protocol,
                             GError **errp)
{
    VirtioDevice *vdev = link->vdev;
    g_autofree char *name = device_name(link);
    g_autofree char *note = NULL;
    g_autoptr(GError) err = NULL;

    link->failed = false;
    if (!vdev->ctx->ram ||
        guest_mem_backing(vdev->ctx->ram) != GUEST_MEM_SHARED) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "a vhost-user device needs shared guest RAM");
        return false;
    }
    for (unsigned i = 0; i < num_queues; i++) {
        link->call_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (link->call_fd[i] < 0) {
            g_set_error(&err, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                        "cannot create an eventfd: %s", g_strerror(errno));
            goto fail;
        }
        if (!virtio_device_io_add(vdev, link->call_fd[i], EPOLLIN,
                                  call_ready, link, &err)) {
            goto fail;
        }
    }
    if (!(link->vu = vhost_user_connect(socket, name, &err)) ||
        !negotiate(link, num_queues, want_protocol, &err) ||
        !virtio_device_io_add(vdev, vhost_user_fd(link->vu), EPOLLRDHUP,
                              socket_hangup, link, &err)) {
        goto fail;
    }
    return true;

fail:
    vhost_user_link_close(link);
    unname_error(link, err);
    note = backend_state_note(link);
    g_set_error(errp, VMSPEC_ERROR, err->code, "%s%s", err->message, note);
    return false;
}

void vhost_user_link_init(VhostUserLink *link, VirtioDevice *vdev,
                          const char *role,
                          char *(*backend_state)(void *opaque),
                          void *opaque)
{
    memset(link, 0, sizeof(*link));
    link->vdev = vdev;
    link->role = role;
    link->backend_state = backend_state;
    link->opaque = opaque;
    pthread_mutex_init(&link->lock, NULL);
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
        link->call_fd[i] = -1;
    }
}

void vhost_user_link_destroy(VhostUserLink *link)
{
    vhost_user_link_close(link);
    pthread_mutex_destroy(&link->lock);
}
