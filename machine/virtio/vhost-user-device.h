/*
 * The base of virtio devices whose queues a vhost-user backend always
 * serves (virtio-fs): realize starts the subclass's backend (or takes the
 * socket of one someone else runs) and connects the device's link to it
 * (vhost-user-link.h, which says what the link does and how a failing
 * backend stops the VM); unrealize closes the link and stops the backend.
 * A device that serves its queues itself or through a backend, per
 * instance (virtio-blk), embeds a VhostUserLink instead.
 */
#ifndef VMSPEC_VIRTIO_VHOST_USER_DEVICE_H
#define VMSPEC_VIRTIO_VHOST_USER_DEVICE_H

#include "machine/virtio/vhost-user-link.h"

#define TYPE_VHOST_USER_DEVICE "vhost-user-device"

typedef struct VhostUserDevice {
    VirtioDevice parent_obj;
    VhostUserLink link;
} VhostUserDevice;

typedef struct VhostUserDeviceClass {
    VirtioDeviceClass parent_class;

    /* The device as messages name it: "share" (+ " 'ID'"). */
    const char *role;
    /* Device-specific feature bits the driver may see, where the backend
     * offers them. */
    uint64_t device_features;
    /* Starts the backend if the device runs one, and returns the unix
     * socket to connect to (new string).  Main thread. */
    char *(*backend_start)(VhostUserDevice *d, GError **errp);
    /* What the backend process did, for messages ("virtiofsd exited with
     * status 1: LAST LINE"); NULL when the device runs none.  Any
     * thread. */
    char *(*backend_state)(VhostUserDevice *d);
    /* Stops and reaps the backend the device runs, if any.  Main thread,
     * after the connection is closed. */
    void (*backend_stop)(VhostUserDevice *d);
} VhostUserDeviceClass;

#define VHOST_USER_DEVICE(obj)                                              \
    OBJECT_CHECK(VhostUserDevice, (obj), TYPE_VHOST_USER_DEVICE)
#define VHOST_USER_DEVICE_CLASS(klass)                                      \
    OBJECT_CLASS_CHECK(VhostUserDeviceClass, (klass), TYPE_VHOST_USER_DEVICE)
#define VHOST_USER_DEVICE_GET_CLASS(obj)                                    \
    OBJECT_GET_CLASS(VhostUserDeviceClass, (obj), TYPE_VHOST_USER_DEVICE)

#endif
