/*
 * The virtio device base type (virtio 1.2, section 2 "Basic Facilities of a
 * Virtio Device"), transport-independent.  Concrete devices (blk, net, rng)
 * derive from TYPE_VIRTIO_DEVICE and fill in VirtioDeviceClass; the base
 * realizes the virtio-mmio transport (machine/virtio/mmio.h) on the
 * machine, owns the virtqueues, and runs the device's work on its own I/O
 * thread, never on a vCPU thread.
 *
 * Threads:
 *  - vCPU threads run the MMIO register handlers (mmio.c): feature
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

typedef struct VirtioDevice VirtioDevice;
typedef struct VirtioMmio VirtioMmio;
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

    VirtioMmio *transport;      /* set at realize */
    VirtioIoThread *io;         /* the device's I/O thread */
};

typedef struct VirtioDeviceClass {
    DeviceClass parent_class;

    uint32_t device_id;         /* virtio 1.2, 5: net 1, blk 2, rng 4 */
    unsigned num_queues;
    uint16_t queue_max_size;    /* power of two, <= 32768 */

    /* Device-specific feature bits to offer (the base adds VERSION_1,
     * INDIRECT_DESC and EVENT_IDX).  Called at realize. */
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

/* Sends the used-buffer interrupt for the device (ISR bit 0), subject to
 * nothing: callers use virtqueue_flush() which applies EVENT_IDX /
 * NO_INTERRUPT suppression first.  Any thread. */
void virtio_device_notify_used(VirtioDevice *vdev);

/* Sends a configuration change interrupt (ISR bit 1) and bumps the
 * config generation.  Any thread. */
void virtio_device_notify_config(VirtioDevice *vdev);

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
