/*
 * Virtio devices served by a vhost-user backend (vhost-user-device.h).
 *
 * Threads: realize and unrealize on the main thread; start and reset on
 * the vCPU thread that wrote the status (reset also at unrealize), under
 * d->lock; the call eventfds and the socket's hang-up on the device's I/O
 * thread.
 */
#include "machine/virtio/vhost-user-device.h"

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
static char *device_name(VhostUserDevice *d)
{
    const char *id = DEVICE(d)->id;

    return g_strdup_printf("%s '%s'", VHOST_USER_DEVICE_GET_CLASS(d)->role,
                           id ? id : "?");
}

/* " (virtiofsd exited with status 1: ...)", or "". */
static char *backend_state_note(VhostUserDevice *d)
{
    VhostUserDeviceClass *uc = VHOST_USER_DEVICE_GET_CLASS(d);
    g_autofree char *state = uc->backend_state ? uc->backend_state(d) : NULL;

    return state ? g_strdup_printf(" (%s)", state) : g_strdup("");
}

/* Errors from the protocol layer already start with the device's name
 * (it was given at connect); this file's own get it here. */
static void name_error(VhostUserDevice *d, GError *err)
{
    g_autofree char *name = device_name(d);
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
static void unname_error(VhostUserDevice *d, GError *err)
{
    g_autofree char *name = device_name(d);
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
static void backend_failed(VhostUserDevice *d, GError *err)
{
    VirtioDevice *vdev = VIRTIO_DEVICE(d);
    g_autofree char *note = NULL;
    g_autofree char *detail = NULL;

    if (__atomic_exchange_n(&d->failed, true, __ATOMIC_SEQ_CST)) {
        return;
    }
    name_error(d, err);
    note = backend_state_note(d);
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
    VhostUserDevice *d = VHOST_USER_DEVICE(vdev);
    g_autoptr(GError) err = g_error_new_literal(
        VMSPEC_ERROR, VMSPEC_ERROR_IO,
        "the vhost-user backend closed its socket");

    virtio_device_io_remove(vdev, fd);
    backend_failed(d, err);
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
 * backend takes can be signalled. */
static bool start_ring(VhostUserDevice *d, unsigned index, GError **errp)
{
    VirtioDevice *vdev = VIRTIO_DEVICE(d);
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
    if (!vhost_user_set_vring_num(d->vu, index, (unsigned)num, errp) ||
        !vhost_user_set_vring_addr(d->vu, index, desc, used, avail, errp) ||
        !vhost_user_set_vring_base(d->vu, index, 0, errp) ||
        !vhost_user_set_vring_call(d->vu, index, d->call_fd[index], errp) ||
        !vhost_user_set_vring_kick(d->vu, index, kick, errp)) {
        return false;
    }
    /* With PROTOCOL_FEATURES a ring starts disabled (vhost-user.rst,
     * "Ring states"). */
    if ((d->backend_features >> VHOST_USER_F_PROTOCOL_FEATURES) & 1 &&
        !vhost_user_set_vring_enable(d->vu, index, true, errp)) {
        return false;
    }
    d->running |= 1u << index;
    return true;
}

/* DRIVER_OK, on a vCPU thread. */
static bool vhost_user_device_start(VirtioDevice *vdev)
{
    VhostUserDevice *d = VHOST_USER_DEVICE(vdev);
    uint64_t features = vdev->guest_features |
        (d->backend_features & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES));
    g_autoptr(GError) err = NULL;
    bool ok;

    pthread_mutex_lock(&d->lock);
    ok = vhost_user_set_features(d->vu, features, &err) &&
         vhost_user_set_mem_table(d->vu, vdev->ctx->ram, &err);
    for (unsigned i = 0; ok && i < vdev->num_queues; i++) {
        if (virtqueue_ready(vdev->queues[i])) {
            ok = start_ring(d, i, &err);
        }
    }
    pthread_mutex_unlock(&d->lock);
    if (!ok) {
        backend_failed(d, err);
    }
    return ok;
}

/* Driver reset or VM stop: the backend gives the rings back.  The guest
 * may reset the device any number of times; each time the backend stops
 * every ring it runs, and DRIVER_OK starts them afresh. */
static void vhost_user_device_reset(VirtioDevice *vdev)
{
    VhostUserDevice *d = VHOST_USER_DEVICE(vdev);
    g_autoptr(GError) err = NULL;

    pthread_mutex_lock(&d->lock);
    for (unsigned i = 0; i < vdev->num_queues && d->vu; i++) {
        unsigned base;

        if (!(d->running & (1u << i))) {
            continue;
        }
        d->running &= ~(1u << i);
        if (!err && !vhost_user_get_vring_base(d->vu, i, &base, &err)) {
            break;
        }
    }
    d->running = 0;
    pthread_mutex_unlock(&d->lock);
    if (err) {
        backend_failed(d, err);
    }
}

static uint64_t vhost_user_device_get_features(VirtioDevice *vdev)
{
    VhostUserDevice *d = VHOST_USER_DEVICE(vdev);

    return d->backend_features &
           (RING_FEATURES | VHOST_USER_DEVICE_GET_CLASS(d)->device_features);
}

static void close_call_fds(VhostUserDevice *d)
{
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
        if (d->call_fd[i] >= 0) {
            close(d->call_fd[i]);
            d->call_fd[i] = -1;
        }
    }
}

/* SET_OWNER, the backend's features and protocol features; fails with
 * errors that name the device. */
static bool negotiate(VhostUserDevice *d, unsigned num_queues, GError **errp)
{
    uint64_t agreed = 0, queues;

    if (!vhost_user_set_owner(d->vu, errp) ||
        !vhost_user_get_features(d->vu, &d->backend_features, errp)) {
        return false;
    }
    if (!((d->backend_features >> VIRTIO_F_VERSION_1) & 1)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "the vhost-user backend does not offer VIRTIO_F_VERSION_1 "
                    "(features 0x%" G_GINT64_MODIFIER "x)",
                    d->backend_features);
        return false;
    }
    if ((d->backend_features >> VHOST_USER_F_PROTOCOL_FEATURES) & 1 &&
        !vhost_user_negotiate_protocol(
            d->vu, (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
                   (1ULL << VHOST_USER_PROTOCOL_F_MQ), &agreed, errp)) {
        return false;
    }
    if ((agreed >> VHOST_USER_PROTOCOL_F_MQ) & 1) {
        if (!vhost_user_get_queue_num(d->vu, &queues, errp)) {
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

static void vhost_user_device_device_unrealize(VirtioDevice *vdev)
{
    VhostUserDevice *d = VHOST_USER_DEVICE(vdev);
    VhostUserDeviceClass *uc = VHOST_USER_DEVICE_GET_CLASS(d);

    g_clear_pointer(&d->vu, vhost_user_free);
    if (uc->backend_stop) {
        uc->backend_stop(d);
    }
    close_call_fds(d);
    d->running = 0;
    d->backend_features = 0;
}

static bool vhost_user_device_device_realize(VirtioDevice *vdev,
                                             GError **errp)
{
    VhostUserDevice *d = VHOST_USER_DEVICE(vdev);
    VhostUserDeviceClass *uc = VHOST_USER_DEVICE_GET_CLASS(d);
    unsigned num_queues = VIRTIO_DEVICE_CLASS(uc)->num_queues;
    g_autofree char *name = device_name(d);
    g_autofree char *socket = NULL;
    g_autoptr(GError) err = NULL;

    d->failed = false;
    if (!vdev->ctx->ram ||
        guest_mem_backing(vdev->ctx->ram) != GUEST_MEM_SHARED) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "a vhost-user device needs shared guest RAM");
        return false;
    }
    if (!(socket = uc->backend_start(d, &err))) {
        goto fail;
    }
    for (unsigned i = 0; i < num_queues; i++) {
        d->call_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (d->call_fd[i] < 0) {
            g_set_error(&err, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                        "cannot create an eventfd: %s", g_strerror(errno));
            goto fail;
        }
        if (!virtio_device_io_add(vdev, d->call_fd[i], EPOLLIN, call_ready,
                                  NULL, &err)) {
            goto fail;
        }
    }
    if (!(d->vu = vhost_user_connect(socket, name, &err)) ||
        !negotiate(d, num_queues, &err) ||
        !virtio_device_io_add(vdev, vhost_user_fd(d->vu), EPOLLRDHUP,
                              socket_hangup, NULL, &err)) {
        goto fail;
    }
    return true;

fail:
    {
        g_autofree char *note = backend_state_note(d);

        vhost_user_device_device_unrealize(vdev);
        unname_error(d, err);
        g_set_error(errp, VMSPEC_ERROR, err->code, "%s%s", err->message,
                    note);
    }
    return false;
}

static void vhost_user_device_init(Object *obj)
{
    VhostUserDevice *d = VHOST_USER_DEVICE(obj);

    pthread_mutex_init(&d->lock, NULL);
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
        d->call_fd[i] = -1;
    }
}

static void vhost_user_device_finalize(Object *obj)
{
    VhostUserDevice *d = VHOST_USER_DEVICE(obj);

    close_call_fds(d);
    pthread_mutex_destroy(&d->lock);
}

static void vhost_user_device_class_init(ObjectClass *oc, const void *data)
{
    VirtioDeviceClass *vc = VIRTIO_DEVICE_CLASS(oc);

    DEVICE_CLASS(oc)->needs_shared_ram = true;
    vc->backend_serves_queues = true;
    vc->get_features = vhost_user_device_get_features;
    vc->start = vhost_user_device_start;
    vc->reset = vhost_user_device_reset;
    vc->device_realize = vhost_user_device_device_realize;
    vc->device_unrealize = vhost_user_device_device_unrealize;
}

static const TypeInfo vhost_user_device_info = {
    .name = TYPE_VHOST_USER_DEVICE,
    .parent = TYPE_VIRTIO_DEVICE,
    .description = "virtio device whose queues a vhost-user backend serves",
    .instance_size = sizeof(VhostUserDevice),
    .instance_init = vhost_user_device_init,
    .instance_finalize = vhost_user_device_finalize,
    .class_size = sizeof(VhostUserDeviceClass),
    .class_init = vhost_user_device_class_init,
    .abstract = true,
};

static void vhost_user_device_register_types(void)
{
    type_register_static(&vhost_user_device_info);
}

type_init(vhost_user_device_register_types)
