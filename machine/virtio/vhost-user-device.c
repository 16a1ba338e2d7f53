/*
 * Virtio devices always served by a vhost-user backend
 * (vhost-user-device.h): the class hooks over the device's link.
 */
#include "machine/virtio/vhost-user-device.h"

static char *backend_state(void *opaque)
{
    VhostUserDevice *d = opaque;
    VhostUserDeviceClass *uc = VHOST_USER_DEVICE_GET_CLASS(d);

    return uc->backend_state ? uc->backend_state(d) : NULL;
}

/* DRIVER_OK, on a vCPU thread. */
static bool vhost_user_device_start(VirtioDevice *vdev)
{
    return vhost_user_link_start(&VHOST_USER_DEVICE(vdev)->link);
}

static void vhost_user_device_reset(VirtioDevice *vdev)
{
    vhost_user_link_reset(&VHOST_USER_DEVICE(vdev)->link);
}

static uint64_t vhost_user_device_get_features(VirtioDevice *vdev)
{
    VhostUserDevice *d = VHOST_USER_DEVICE(vdev);

    return vhost_user_link_features(
        &d->link, VHOST_USER_DEVICE_GET_CLASS(d)->device_features);
}

static void vhost_user_device_device_unrealize(VirtioDevice *vdev)
{
    VhostUserDevice *d = VHOST_USER_DEVICE(vdev);
    VhostUserDeviceClass *uc = VHOST_USER_DEVICE_GET_CLASS(d);

    vhost_user_link_close(&d->link);
    if (uc->backend_stop) {
        uc->backend_stop(d);
    }
}

static bool vhost_user_device_device_realize(VirtioDevice *vdev,
                                             GError **errp)
{
    VhostUserDevice *d = VHOST_USER_DEVICE(vdev);
    VhostUserDeviceClass *uc = VHOST_USER_DEVICE_GET_CLASS(d);
    g_autofree char *socket = uc->backend_start(d, errp);

    if (!socket ||
        !vhost_user_link_connect(&d->link, socket,
                                 VIRTIO_DEVICE_CLASS(uc)->num_queues, 0,
                                 errp)) {
        if (uc->backend_stop) {
            uc->backend_stop(d);
        }
        return false;
    }
    return true;
}

/* A vhost-user backend maps guest RAM and serves the queues. */
static bool vhost_user_device_needs_shared_ram(DeviceState *dev)
{
    return true;
}

static void vhost_user_device_init(Object *obj)
{
    VhostUserDevice *d = VHOST_USER_DEVICE(obj);

    vhost_user_link_init(&d->link, VIRTIO_DEVICE(d),
                         VHOST_USER_DEVICE_GET_CLASS(d)->role,
                         backend_state, d);
    VIRTIO_DEVICE(d)->backend_serves_queues = true;
}

static void vhost_user_device_finalize(Object *obj)
{
    vhost_user_link_destroy(&VHOST_USER_DEVICE(obj)->link);
}

static void vhost_user_device_class_init(ObjectClass *oc, const void *data)
{
    VirtioDeviceClass *vc = VIRTIO_DEVICE_CLASS(oc);

    DEVICE_CLASS(oc)->needs_shared_ram = vhost_user_device_needs_shared_ram;
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
