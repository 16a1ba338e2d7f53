/*
 * The virtio device base type (virtio 1.2, 2) and its I/O thread.
 *
 * Realize: the I/O thread's epoll set (not yet running), the device's own
 * realize, the queues on the machine's RAM, the transport the assignment
 * pass chose (which adds the queue notifiers to the epoll set), then the
 * thread.  Unrealize goes the other way, joining the thread first.
 *
 * The I/O thread dispatches a batch of epoll events with io_lock held; the
 * transport takes io_lock (virtio_device_quiesce) around a reset so that no
 * callback runs during it.  Handlers removed while a batch is pending are
 * only marked dead and freed by the thread after the batch (or at
 * unrealize), so a stale epoll event never reaches freed memory.
 */
#include "machine/virtio/virtio.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "machine/qom/context.h"
#include "machine/qom/error.h"
#include "machine/qom/resources.h"

#define IO_MAX_EVENTS 16

typedef struct IoHandler {
    int fd;
    bool dead;
    VirtioIoHandler handler;
    void *opaque;
} IoHandler;

struct VirtioIoThread {
    int epoll_fd;
    int stop_fd;                /* eventfd: ends the thread */
    pthread_t thread;
    bool running;
    pthread_mutex_t lock;       /* held while callbacks run */
    pthread_mutex_t hlock;      /* guards handlers (any thread adds) */
    GPtrArray *handlers;        /* IoHandler *, live and dead */
    bool have_dead;
};

static void io_free_dead(VirtioIoThread *io)
{
    pthread_mutex_lock(&io->hlock);
    for (guint i = io->handlers->len; i-- > 0;) {
        IoHandler *h = io->handlers->pdata[i];

        if (h->dead) {
            g_ptr_array_remove_index(io->handlers, i);
        }
    }
    io->have_dead = false;
    pthread_mutex_unlock(&io->hlock);
}

static void *io_thread_main(void *arg)
{
    VirtioDevice *vdev = arg;
    VirtioIoThread *io = vdev->io;
    struct epoll_event ev[IO_MAX_EVENTS];

    for (;;) {
        int n = epoll_wait(io->epoll_fd, ev, IO_MAX_EVENTS, -1);
        bool stop = false;

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        pthread_mutex_lock(&io->lock);
        for (int i = 0; i < n; i++) {
            IoHandler *h = ev[i].data.ptr;

            if (!h) {
                stop = true;
            } else if (!__atomic_load_n(&h->dead, __ATOMIC_ACQUIRE)) {
                h->handler(vdev, h->fd, ev[i].events, h->opaque);
            }
        }
        if (__atomic_load_n(&io->have_dead, __ATOMIC_ACQUIRE)) {
            io_free_dead(io);
        }
        pthread_mutex_unlock(&io->lock);
        if (stop) {
            break;
        }
    }
    return NULL;
}

static void io_handler_free(gpointer p)
{
    g_free(p);
}

static VirtioIoThread *io_new(GError **errp)
{
    VirtioIoThread *io = g_new0(VirtioIoThread, 1);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

    io->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    io->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&io->lock, NULL);
    pthread_mutex_init(&io->hlock, NULL);
    io->handlers = g_ptr_array_new_with_free_func(io_handler_free);
    if (io->epoll_fd < 0 || io->stop_fd < 0 ||
        epoll_ctl(io->epoll_fd, EPOLL_CTL_ADD, io->stop_fd, &ev) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot create the virtio I/O thread's epoll set: %s",
                    g_strerror(errno));
        if (io->epoll_fd >= 0) {
            close(io->epoll_fd);
        }
        if (io->stop_fd >= 0) {
            close(io->stop_fd);
        }
        pthread_mutex_destroy(&io->lock);
        pthread_mutex_destroy(&io->hlock);
        g_ptr_array_unref(io->handlers);
        g_free(io);
        return NULL;
    }
    return io;
}

static void io_stop(VirtioIoThread *io)
{
    if (io->running) {
        eventfd_write(io->stop_fd, 1);
        pthread_join(io->thread, NULL);
        io->running = false;
    }
}

static void io_free(VirtioIoThread *io)
{
    io_stop(io);
    close(io->epoll_fd);
    close(io->stop_fd);
    pthread_mutex_destroy(&io->lock);
    pthread_mutex_destroy(&io->hlock);
    g_ptr_array_unref(io->handlers);
    g_free(io);
}

/* With hlock held. */
static IoHandler *io_find(VirtioIoThread *io, int fd)
{
    for (guint i = 0; i < io->handlers->len; i++) {
        IoHandler *h = io->handlers->pdata[i];

        if (!__atomic_load_n(&h->dead, __ATOMIC_RELAXED) && h->fd == fd) {
            return h;
        }
    }
    return NULL;
}

bool virtio_device_io_add(VirtioDevice *vdev, int fd, uint32_t events,
                          VirtioIoHandler handler, void *opaque,
                          GError **errp)
{
    VirtioIoThread *io = vdev->io;
    IoHandler *h = g_new0(IoHandler, 1);
    struct epoll_event ev = { .events = events, .data.ptr = h };

    h->fd = fd;
    h->handler = handler;
    h->opaque = opaque;
    pthread_mutex_lock(&io->hlock);
    if (epoll_ctl(io->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot watch fd %d on the virtio I/O thread: %s", fd,
                    g_strerror(errno));
        pthread_mutex_unlock(&io->hlock);
        g_free(h);
        return false;
    }
    g_ptr_array_add(io->handlers, h);
    pthread_mutex_unlock(&io->hlock);
    return true;
}

void virtio_device_io_modify(VirtioDevice *vdev, int fd, uint32_t events)
{
    VirtioIoThread *io = vdev->io;
    IoHandler *h;

    pthread_mutex_lock(&io->hlock);
    h = io_find(io, fd);
    if (h) {
        struct epoll_event ev = { .events = events, .data.ptr = h };

        epoll_ctl(io->epoll_fd, EPOLL_CTL_MOD, fd, &ev);
    }
    pthread_mutex_unlock(&io->hlock);
}

void virtio_device_io_remove(VirtioDevice *vdev, int fd)
{
    VirtioIoThread *io = vdev->io;
    IoHandler *h;

    pthread_mutex_lock(&io->hlock);
    h = io_find(io, fd);
    if (h) {
        epoll_ctl(io->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
        __atomic_store_n(&h->dead, true, __ATOMIC_RELEASE);
        __atomic_store_n(&io->have_dead, true, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&io->hlock);
}

void virtio_device_quiesce(VirtioDevice *vdev)
{
    pthread_mutex_lock(&vdev->io->lock);
}

void virtio_device_resume(VirtioDevice *vdev)
{
    pthread_mutex_unlock(&vdev->io->lock);
}

void virtio_device_set_needs_reset(VirtioDevice *vdev)
{
    uint8_t old = __atomic_fetch_or(&vdev->status,
                                    VIRTIO_STATUS_NEEDS_RESET,
                                    __ATOMIC_SEQ_CST);

    /* 2.1.2: tell a running driver once. */
    if ((old & VIRTIO_STATUS_DRIVER_OK) &&
        !(old & VIRTIO_STATUS_NEEDS_RESET)) {
        virtio_device_notify_config(vdev);
    }
}

static void virtio_device_interrupt(VirtioDevice *vdev,
                                    VirtioInterruptCause cause)
{
    if (vdev->transport) {
        vdev->transport_ops->interrupt(vdev, cause);
    }
}

void virtio_device_notify_used(VirtioDevice *vdev)
{
    virtio_device_interrupt(vdev, VIRTIO_INTERRUPT_USED_BUFFER);
}

void virtio_device_notify_config(VirtioDevice *vdev)
{
    __atomic_fetch_add(&vdev->config_generation, 1, __ATOMIC_SEQ_CST);
    virtio_device_interrupt(vdev, VIRTIO_INTERRUPT_CONFIG_CHANGE);
}

static uint8_t device_status(VirtioDevice *vdev)
{
    return __atomic_load_n(&vdev->status, __ATOMIC_SEQ_CST);
}

void virtio_device_reset(VirtioDevice *vdev)
{
    VirtioDeviceClass *vc = VIRTIO_DEVICE_GET_CLASS(vdev);

    virtio_device_quiesce(vdev);
    if (vc->reset) {
        vc->reset(vdev);
    }
    for (unsigned i = 0; i < vdev->num_queues; i++) {
        virtqueue_reset(vdev->queues[i]);
    }
    vdev->guest_features = 0;
    __atomic_store_n(&vdev->status, 0, __ATOMIC_SEQ_CST);
    virtio_device_resume(vdev);
}

/* DRIVER_OK: the device may use its queues. */
static void virtio_device_start(VirtioDevice *vdev)
{
    VirtioDeviceClass *vc = VIRTIO_DEVICE_GET_CLASS(vdev);

    if (vc->start && !vc->start(vdev)) {
        virtio_device_set_needs_reset(vdev);
        return;
    }
    /* Buffers a driver made available (and notified) before DRIVER_OK
     * were dropped by the notifier: look once. */
    for (unsigned i = 0; i < vdev->num_queues; i++) {
        int fd = vdev->transport_ops->queue_notifier(vdev, i);

        if (virtqueue_ready(vdev->queues[i]) && fd >= 0) {
            eventfd_write(fd, 1);
        }
    }
}

bool virtio_device_write_status(VirtioDevice *vdev, uint32_t value,
                                uint64_t driver_features)
{
    uint8_t old = device_status(vdev) & ~VIRTIO_STATUS_NEEDS_RESET;
    uint8_t new = value & ~VIRTIO_STATUS_NEEDS_RESET & 0xff;

    if (value == 0) {
        virtio_device_reset(vdev);
        return true;
    }
    if (value > 0xff || (old & ~new)) {
        return false;
    }
    if ((new & VIRTIO_STATUS_FEATURES_OK) &&
        !(old & VIRTIO_STATUS_FEATURES_OK)) {
        /* 3.1.1 step 5-6, 6.1: a subset of the offer, with VERSION_1
         * (no transport here has a legacy interface). */
        if ((driver_features & ~vdev->host_features) ||
            !(driver_features & (1ULL << VIRTIO_F_VERSION_1))) {
            new &= ~VIRTIO_STATUS_FEATURES_OK;
        } else {
            vdev->guest_features = driver_features;
        }
    }
    if ((new & VIRTIO_STATUS_DRIVER_OK) &&
        !(new & VIRTIO_STATUS_FEATURES_OK)) {
        new &= ~VIRTIO_STATUS_DRIVER_OK;
    }
    __atomic_fetch_or(&vdev->status, new, __ATOMIC_SEQ_CST);
    if ((new & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
        virtio_device_start(vdev);
    }
    return false;
}

void virtio_device_set_queue_ready(VirtioDevice *vdev, VirtQueue *vq,
                                   bool ready)
{
    if (ready) {
        /* Rings are set up after FEATURES_OK (3.1.1 step 7).  Quiesced:
         * a notification racing in from another vCPU must not see the
         * queue half enabled. */
        if ((device_status(vdev) & VIRTIO_STATUS_FEATURES_OK) &&
            !virtqueue_ready(vq)) {
            virtio_device_quiesce(vdev);
            virtqueue_enable(vq, vdev->guest_features);
            virtio_device_resume(vdev);
        }
    } else if (virtqueue_ready(vq)) {
        virtio_device_quiesce(vdev);
        virtqueue_reset(vq);
        virtio_device_resume(vdev);
    }
}

/* I/O thread: queue index's notifier fired. */
static void queue_notifier_ready(VirtioDevice *vdev, int fd, uint32_t events,
                                 void *opaque)
{
    VirtioDeviceClass *vc = VIRTIO_DEVICE_GET_CLASS(vdev);
    unsigned index = GPOINTER_TO_UINT(opaque);
    uint8_t status = device_status(vdev);
    eventfd_t count;

    if (eventfd_read(fd, &count) < 0) {
        return;
    }
    if (!(status & VIRTIO_STATUS_DRIVER_OK) ||
        (status & VIRTIO_STATUS_NEEDS_RESET) ||
        !virtqueue_ready(vdev->queues[index]) || !vc->queue_notify) {
        return;
    }
    vc->queue_notify(vdev, index);
}

bool virtio_device_watch_queue_notifier(VirtioDevice *vdev, unsigned index,
                                        int fd, GError **errp)
{
    g_assert(index < vdev->num_queues);
    if (vdev->backend_serves_queues) {
        return true;
    }
    return virtio_device_io_add(vdev, fd, EPOLLIN, queue_notifier_ready,
                                GUINT_TO_POINTER(index), errp);
}

static void virtio_device_free_queues(VirtioDevice *vdev)
{
    for (unsigned i = 0; i < vdev->num_queues; i++) {
        g_clear_pointer(&vdev->queues[i], virtqueue_free);
    }
    vdev->num_queues = 0;
}

static void virtio_device_unrealize(DeviceState *dev)
{
    VirtioDevice *vdev = VIRTIO_DEVICE(dev);
    VirtioDeviceClass *vc = VIRTIO_DEVICE_GET_CLASS(vdev);

    if (vdev->io) {
        io_stop(vdev->io);
    }
    if (vdev->transport) {
        vdev->transport_ops->unrealize(vdev);
    }
    if (vc->reset) {
        vc->reset(vdev);
    }
    virtio_device_free_queues(vdev);
    if (vc->device_unrealize) {
        vc->device_unrealize(vdev);
    }
    g_clear_pointer(&vdev->io, io_free);
    vdev->status = 0;
    vdev->guest_features = 0;
    vdev->ctx = NULL;
}

static bool virtio_device_realize(DeviceState *dev, const DeviceContext *ctx,
                                  GError **errp)
{
    VirtioDevice *vdev = VIRTIO_DEVICE(dev);
    VirtioDeviceClass *vc = VIRTIO_DEVICE_GET_CLASS(vdev);
    int err;

    g_assert(vc->num_queues <= VIRTIO_MAX_QUEUES);
    if (!ctx->ram || !vdev->transport_ops) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "a virtio device needs a machine with RAM and a virtio "
                    "slot");
        return false;
    }
    vdev->status = 0;
    vdev->guest_features = 0;
    vdev->config_generation = 0;
    vdev->ctx = ctx;
    if (!(vdev->io = io_new(errp))) {
        return false;
    }
    if (vc->device_realize && !vc->device_realize(vdev, errp)) {
        g_clear_pointer(&vdev->io, io_free);
        return false;
    }
    vdev->host_features = vdev->backend_serves_queues
        ? 0 : (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_INDIRECT_DESC) |
              (1ULL << VIRTIO_F_EVENT_IDX);
    if (vc->get_features) {
        vdev->host_features |= vc->get_features(vdev);
    }
    for (unsigned i = 0; i < vc->num_queues; i++) {
        vdev->queues[i] = virtqueue_new(ctx->ram, vc->queue_max_size);
    }
    vdev->num_queues = vc->num_queues;
    if (!vdev->transport_ops->realize(vdev, ctx, errp)) {
        goto fail;
    }
    err = pthread_create(&vdev->io->thread, NULL, io_thread_main, vdev);
    if (err) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot start the virtio I/O thread: %s",
                    g_strerror(err));
        goto fail;
    }
    vdev->io->running = true;
    return true;

fail:
    virtio_device_unrealize(dev);
    return false;
}

/* A virtio slot from the machine, and the transport that serves it. */
static bool virtio_device_assign_resources(DeviceState *dev,
                                           ResourceAllocator *alloc,
                                           GError **errp)
{
    return resource_take_virtio_slot(alloc, &dev->res,
                                     &VIRTIO_DEVICE(dev)->transport_ops,
                                     errp);
}

static void virtio_device_acpi_aml(DeviceState *dev, Aml *scope)
{
    VirtioDevice *vdev = VIRTIO_DEVICE(dev);

    if (dev->res.assigned && vdev->transport_ops->acpi_aml) {
        vdev->transport_ops->acpi_aml(vdev, scope);
    }
}

static void virtio_device_fdt_node(DeviceState *dev, FdtBuilder *b)
{
    VirtioDevice *vdev = VIRTIO_DEVICE(dev);

    if (dev->res.assigned && vdev->transport_ops->fdt_node) {
        vdev->transport_ops->fdt_node(vdev, b);
    }
}

static void virtio_device_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);

    dc->assign_resources = virtio_device_assign_resources;
    dc->realize = virtio_device_realize;
    dc->unrealize = virtio_device_unrealize;
    dc->acpi_aml = virtio_device_acpi_aml;
    dc->fdt_node = virtio_device_fdt_node;
}

static const TypeInfo virtio_device_info = {
    .name = TYPE_VIRTIO_DEVICE,
    .parent = TYPE_DEVICE,
    .description = "virtio device, on the transport its machine's slots use",
    .instance_size = sizeof(VirtioDevice),
    .class_size = sizeof(VirtioDeviceClass),
    .class_init = virtio_device_class_init,
    .abstract = true,
};

static void virtio_device_register_types(void)
{
    type_register_static(&virtio_device_info);
}

type_init(virtio_device_register_types)
