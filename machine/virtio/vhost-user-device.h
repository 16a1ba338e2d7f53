/*
 * The base of virtio devices whose queues a vhost-user backend serves
 * (QEMU's docs/interop/vhost-user.rst; machine/vhost/vhost-user.h speaks
 * the protocol).  vmspec keeps the transport: registers, feature
 * negotiation with the driver, configuration space and interrupts; the
 * backend process reads and writes the rings and buffers in guest RAM,
 * which is therefore a shared memfd (DeviceClass.needs_shared_ram).
 *
 *  - realize: the subclass starts its backend (or names a socket someone
 *    else serves) and the base connects: SET_OWNER, GET_FEATURES,
 *    protocol features (REPLY_ACK, MQ where offered).
 *  - The driver sees the backend's ring features (VERSION_1 required,
 *    INDIRECT_DESC and EVENT_IDX where offered) and the device-specific
 *    bits the subclass allows.
 *  - DRIVER_OK: SET_FEATURES, SET_MEM_TABLE, and for each queue the driver
 *    enabled SET_VRING_NUM/ADDR/BASE/CALL/KICK/ENABLE.  The kick fd is the
 *    queue's notifier (a KVM ioeventfd: the guest's QueueNotify reaches
 *    the backend without vmspec); the call fd is an eventfd vmspec's I/O
 *    thread reads, because virtio-mmio must set InterruptStatus before
 *    the guest looks, and then injects through the transport.
 *  - Driver reset and VM stop: GET_VRING_BASE for every running ring.
 *
 * A backend that closes its socket, fails a request or does not answer
 * within VHOST_USER_DEFAULT_TIMEOUT_MS stops the VM: RUN_END_ERROR (exit
 * 1) with a message naming the device and what the backend did ("share
 * 'src': the vhost-user backend closed its socket (virtiofsd exited with
 * status 1: ...)").  A dev VM whose folder went away is better stopped
 * loudly than left with a file system that returns EIO.
 */
#ifndef VMSPEC_VIRTIO_VHOST_USER_DEVICE_H
#define VMSPEC_VIRTIO_VHOST_USER_DEVICE_H

#include <pthread.h>

#include "machine/virtio/virtio.h"

#define TYPE_VHOST_USER_DEVICE "vhost-user-device"

typedef struct VhostUser VhostUser;

typedef struct VhostUserDevice {
    VirtioDevice parent_obj;

    pthread_mutex_t lock;           /* one backend request at a time */
    VhostUser *vu;
    uint64_t backend_features;      /* GET_FEATURES */
    int call_fd[VIRTIO_MAX_QUEUES]; /* eventfds the backend signals */
    uint32_t running;               /* rings the backend serves (bits) */
    bool failed;                    /* the run end is already asked for */
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
