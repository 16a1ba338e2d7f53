/*
 * The virtio device base type (virtio 1.2, section 2 "Basic Facilities of a
 * Virtio Device"), transport-independent.  Concrete devices (blk, net, rng)
 * derive from TYPE_VIRTIO_DEVICE and fill in VirtioDeviceClass; the base
 * takes a virtio slot from the machine's resource assignment pass, realizes
 * the transport that serves it (machine/virtio/transport.h), owns the
 * virtqueues, and runs the device's work on its own I/O thread, never on a
 * vCPU thread.
 *
 * Threads:
 *  - vCPU threads run the transport's register handlers: feature
 *    negotiation, status, queue setup, config space reads/writes.  They
 *    never process queues.
 *  - Each device has one I/O thread (virtio_device_io_*): queue
 *    notifications arrive there as KVM ioeventfds, and backends add their
 *    own fds (a tap, an eventfd for completed disk I/O).  queue_notify,
 *    the fd callbacks and all queue processing run on it.
 *  - The main thread realizes and unrealizes.
 * The transport stops the I/O thread's queue work (and waits for it) before
 * a reset, so callbacks never race with a reset.
 */
#ifndef VMSPEC_VIRTIO_VIRTIO_H
#define VMSPEC_VIRTIO_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "machine/qom/device.h"
#include "machine/virtio/queue.h"
#include "machine/virtio/transport.h"

#define TYPE_VIRTIO_DEVICE "virtio-device"

/* Virtio 1.2, 2.1 "Device Status Field". */
#define VIRTIO_STATUS_ACKNOWLEDGE   1
#define VIRTIO_STATUS_DRIVER        2
#define VIRTIO_STATUS_DRIVER_OK     4
#define VIRTIO_STATUS_FEATURES_OK   8
#define VIRTIO_STATUS_NEEDS_RESET   64
#define VIRTIO_STATUS_FAILED        128

/* Virtio 1.2, 6 "Reserved Feature Bits". */
#define VIRTIO_F_INDIRECT_DESC      28
#define VIRTIO_F_EVENT_IDX          29
#define VIRTIO_F_VERSION_1          32

#define VIRTIO_MAX_QUEUES           8

typedef struct VirtioIoThread VirtioIoThread;

struct VirtioDevice {
    DeviceState parent_obj;

    /* Negotiation state; written by the transport on vCPU threads under
     * the transport's lock. */
    uint64_t host_features;     /* offered: class features | VERSION_1 ... */
    uint64_t guest_features;    /* accepted by the driver (FEATURES_OK) */
    uint8_t status;
    uint32_t config_generation;

    VirtQueue *queues[VIRTIO_MAX_QUEUES];
    unsigned num_queues;

    /* The transport serving the device's slot: its ops from the
     * assignment pass, its state from its realize. */
    const VirtioTransportOps *transport_ops;
    void *transport;
    VirtioIoThread *io;         /* the device's I/O thread */
    /* Another process serves the queues (a vhost-user backend): the I/O
     * thread does not watch the queue notifiers, which the device hands
     * to the backend as kick fds, and get_features is the whole offer
     * (the backend's ring features, not the base's).  Set by the device
     * before or in its device_realize. */
    bool backend_serves_queues;
    /* What the machine gave it at realize (alive until unrealize). */
    const DeviceContext *ctx;
};

typedef struct VirtioDeviceClass {
    DeviceClass parent_class;

    uint32_t device_id;         /* virtio 1.2, 5: net 1, blk 2, rng 4 */
    unsigned num_queues;
    uint16_t queue_max_size;    /* power of two, <= 32768 */

    /* Device-specific feature bits to offer (the base adds VERSION_1,
     * INDIRECT_DESC and EVENT_IDX, unless vdev->backend_serves_queues).  Called
     * at realize, after device_realize. */
    uint64_t (*get_features)(VirtioDevice *vdev);

    /* Size of the device-specific configuration space, and accessors at
     * offset (bounds checked by the transport: offset + size <= config
     * size).  vCPU threads; the device locks what it shares. */
    uint32_t config_size;
    void (*read_config)(VirtioDevice *vdev, uint32_t offset, void *data,
                        uint32_t size);
    void (*write_config)(VirtioDevice *vdev, uint32_t offset,
                         const void *data, uint32_t size);

    /* The driver set DRIVER_OK: queues are live.  May start backends
     * (add fds to the I/O thread).  Main... no: vCPU thread; keep it
     * short.  Returning false sets NEEDS_RESET. */
    bool (*start)(VirtioDevice *vdev);
    /* The driver reset the device, or it is being unrealized: drop all
     * in-flight state.  The I/O thread is quiesced while this runs. */
    void (*reset)(VirtioDevice *vdev);

    /* The driver notified queue index (it made buffers available).  On
     * the I/O thread. */
    void (*queue_notify)(VirtioDevice *vdev, unsigned index);

    /* Realize/unrealize of the device-specific part (open the image, the
     * tap), run by the base before/after the transport.  May be NULL. */
    bool (*device_realize)(VirtioDevice *vdev, GError **errp);
    void (*device_unrealize)(VirtioDevice *vdev);
} VirtioDeviceClass;

#define VIRTIO_DEVICE(obj)                                                  \
    OBJECT_CHECK(VirtioDevice, (obj), TYPE_VIRTIO_DEVICE)
#define VIRTIO_DEVICE_CLASS(klass)                                          \
    OBJECT_CLASS_CHECK(VirtioDeviceClass, (klass), TYPE_VIRTIO_DEVICE)
#define VIRTIO_DEVICE_GET_CLASS(obj)                                        \
    OBJECT_GET_CLASS(VirtioDeviceClass, (obj), TYPE_VIRTIO_DEVICE)

/* True when the driver accepted feature bit. */
static inline bool virtio_has_feature(const VirtioDevice *vdev,
                                      unsigned bit)
{
    return (vdev->guest_features >> bit) & 1;
}

/* Marks the device broken (virtio 1.2, 2.1.2): sets NEEDS_RESET and sends
 * a configuration change interrupt.  Any thread.  Used when the driver
 * hands over a malformed ring or descriptor chain. */
void virtio_device_set_needs_reset(VirtioDevice *vdev);

/* Sends the used-buffer interrupt for the device, subject to nothing:
 * callers use virtqueue_flush() which applies EVENT_IDX / NO_INTERRUPT
 * suppression first.  Any thread. */
void virtio_device_notify_used(VirtioDevice *vdev);

/* Sends a configuration change interrupt and bumps the config
 * generation.  Any thread. */
void virtio_device_notify_config(VirtioDevice *vdev);

/*
 * For transports: what virtio 1.2 defines independently of the transport.
 * vCPU threads, under the transport's register lock.
 */

/* 2.4 device reset: back to the initial state, with the I/O thread
 * quiesced. */
void virtio_device_reset(VirtioDevice *vdev);

/* 2.1, 3.1.1: the driver writes value to the device status, having
 * written driver_features.  0 resets (returns true: the transport resets
 * its own registers too).  Bits are only ever added; FEATURES_OK sticks
 * only for an acceptable feature set; DRIVER_OK needs FEATURES_OK and
 * starts the device. */
bool virtio_device_write_status(VirtioDevice *vdev, uint32_t value,
                                uint64_t driver_features);

/* The driver enables (ready) or disables a queue whose addresses and size
 * it set. */
void virtio_device_set_queue_ready(VirtioDevice *vdev, VirtQueue *vq,
                                   bool ready);

/* Watches fd on the I/O thread as queue index's notifier: each wakeup
 * passes the notification to the device while the queue is live (for a
 * device whose backend serves the queues: nothing, the backend watches
 * it).  fd stays the caller's; unwatch with virtio_device_io_remove(). */
bool virtio_device_watch_queue_notifier(VirtioDevice *vdev, unsigned index,
                                        int fd, GError **errp);

/*
 * The I/O thread.  fd callbacks run on it; add/remove from the I/O thread
 * itself or before the device starts.  events are EPOLLIN/EPOLLOUT.
 */
typedef void (*VirtioIoHandler)(VirtioDevice *vdev, int fd, uint32_t events,
                                void *opaque);
bool virtio_device_io_add(VirtioDevice *vdev, int fd, uint32_t events,
                          VirtioIoHandler handler, void *opaque,
                          GError **errp);
void virtio_device_io_modify(VirtioDevice *vdev, int fd, uint32_t events);
void virtio_device_io_remove(VirtioDevice *vdev, int fd);

/* Waits for the I/O thread's current batch of callbacks to finish and
 * keeps it from starting another until virtio_device_resume().  Used by
 * the transport around a reset; never call from the I/O thread itself. */
void virtio_device_quiesce(VirtioDevice *vdev);
void virtio_device_resume(VirtioDevice *vdev);

#endif
