/*
 * virtio-rng: entropy for the guest from getrandom() (virtio 1.2,
 * section 5.4 "Entropy Device").  Device ID 4, one queue (requestq), no
 * feature bits, no configuration space.  Written in a spec's `devices:`
 * list.
 *
 * Each request is one or more device-writable buffers (5.4.6.1); the
 * device fills them, at most RNG_MAX_REQUEST bytes per request, so that a
 * huge buffer cannot keep the I/O thread busy for long.
 */
#include <sys/random.h>

#include "machine/qom/device.h"
#include "machine/qom/property.h"
#include "machine/virtio/virtio.h"

#define TYPE_VIRTIO_RNG "virtio-rng"

#define VIRTIO_ID_RNG       4       /* 5 "Device Types" */
#define RNG_QUEUE_SIZE      256
#define RNG_MAX_REQUEST     (64 * 1024)

typedef struct VirtioRng {
    VirtioDevice parent_obj;
} VirtioRng;

/* Fills up to len bytes of the element's writable buffers; returns the
 * bytes written. */
static uint32_t rng_fill(VirtqElement *elem)
{
    size_t want = MIN(elem->in_len, (size_t)RNG_MAX_REQUEST);
    uint32_t done = 0;

    for (unsigned i = 0; i < elem->in_num && done < want; i++) {
        uint8_t *p = elem->in_iov[i].iov_base;
        size_t len = MIN(elem->in_iov[i].iov_len, want - done);

        while (len > 0) {
            ssize_t n = getrandom(p, len, 0);

            if (n <= 0) {
                return done;    /* EINTR or no entropy: partial */
            }
            p += n;
            len -= (size_t)n;
            done += (uint32_t)n;
        }
    }
    return done;
}

static bool virtio_rng_request(void *opaque, VirtqElement *elem,
                               uint32_t *written)
{
    *written = rng_fill(elem);
    return true;
}

static void virtio_rng_queue_notify(VirtioDevice *vdev, unsigned index)
{
    bool notify = false;
    bool ok;

    if (index != 0) {
        return;
    }
    ok = virtqueue_drain(vdev->queues[0], 1, virtio_rng_request, NULL,
                         &notify);
    if (notify) {
        virtio_device_notify_used(vdev);
    }
    if (!ok) {
        virtio_device_set_needs_reset(vdev);
    }
}

static void virtio_rng_class_init(ObjectClass *oc, const void *data)
{
    VirtioDeviceClass *vc = VIRTIO_DEVICE_CLASS(oc);

    DEVICE_CLASS(oc)->spec_list = "devices";
    vc->device_id = VIRTIO_ID_RNG;
    vc->num_queues = 1;
    vc->queue_max_size = RNG_QUEUE_SIZE;
    vc->queue_notify = virtio_rng_queue_notify;
}

static const TypeInfo virtio_rng_info = {
    .name = TYPE_VIRTIO_RNG,
    .parent = TYPE_VIRTIO_DEVICE,
    .description = "virtio entropy source fed from getrandom()",
    .instance_size = sizeof(VirtioRng),
    .class_init = virtio_rng_class_init,
};

static void virtio_rng_register_types(void)
{
    type_register_static(&virtio_rng_info);
}

type_init(virtio_rng_register_types)
