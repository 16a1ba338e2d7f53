/*
 * A virtio device's link to the vhost-user backend that serves its queues
 * (QEMU's docs/interop/vhost-user.rst; machine/vhost/vhost-user.h speaks
 * the protocol).  The device keeps the transport: registers, feature
 * negotiation with the driver, configuration space and interrupts; the
 * backend process reads and writes the rings and buffers in guest RAM,
 * which is therefore a shared memfd (DeviceClass.needs_shared_ram).
 *
 * A device embeds a VhostUserLink and calls it from its own hooks, so one
 * device type can serve its queues itself or through a backend (virtio-blk
 * does either, per disk); TYPE_VHOST_USER_DEVICE is the base of devices
 * that always use one.
 *
 *  - connect (device realize): SET_OWNER, GET_FEATURES, protocol features
 *    (REPLY_ACK, MQ where offered, and what the device asks for, such as
 *    CONFIG).
 *  - The driver sees the backend's ring features (VERSION_1 required,
 *    INDIRECT_DESC and EVENT_IDX where offered) and the device-specific
 *    bits the device allows.
 *  - start (DRIVER_OK): SET_FEATURES, SET_MEM_TABLE, and for each queue
 *    the driver enabled SET_VRING_NUM/ADDR/BASE/CALL/KICK/ENABLE.  The
 *    kick fd is the queue's notifier (a KVM ioeventfd: the guest's
 *    QueueNotify reaches the backend without vmspec); the call fd is the
 *    transport's irqfd (VirtioTransportOps.backend_used_irq: the guest's
 *    interrupt leaves the backend without vmspec either), or where there
 *    is none an eventfd vmspec's I/O thread reads and relays.
 *  - reset (driver reset, VM stop): GET_VRING_BASE for every running ring.
 *
 * A backend that closes its socket, fails a request or does not answer
 * within VHOST_USER_DEFAULT_TIMEOUT_MS stops the VM: RUN_END_ERROR (exit
 * 1) with a message naming the device and what the backend did ("share
 * 'src': the vhost-user backend closed its socket (virtiofsd exited with
 * status 1: ...)").  A dev VM whose folder or disk went away is better
 * stopped loudly than left with a device that returns EIO.
 *
 * Threads: connect and close on the main thread; start and reset on the
 * vCPU thread that wrote the status (reset also at unrealize), under the
 * link's lock; the call eventfds and the socket's hang-up on the device's
 * I/O thread.
 */
#ifndef VMSPEC_VIRTIO_VHOST_USER_LINK_H
#define VMSPEC_VIRTIO_VHOST_USER_LINK_H

#include <pthread.h>

#include "machine/virtio/virtio.h"

typedef struct VhostUser VhostUser;

typedef struct VhostUserLink {
    VirtioDevice *vdev;
    /* The device as messages name it: role + " 'ID'" ("share 'src'"). */
    const char *role;
    /* What the backend process did, for messages ("virtiofsd exited with
     * status 1: LAST LINE"); NULL, or returning NULL, when the device runs
     * none.  Any thread. */
    char *(*backend_state)(void *opaque);
    void *opaque;

    pthread_mutex_t lock;           /* one backend request at a time */
    VhostUser *vu;
    uint64_t backend_features;      /* GET_FEATURES */
    int call_fd[VIRTIO_MAX_QUEUES]; /* eventfds the backend signals */
    uint32_t running;               /* rings the backend serves (bits) */
    bool failed;                    /* the run end is already asked for */
} VhostUserLink;

/* Prepares a link for vdev (instance init); no connection yet. */
void vhost_user_link_init(VhostUserLink *link, VirtioDevice *vdev,
                          const char *role,
                          char *(*backend_state)(void *opaque),
                          void *opaque);
/* Releases what init made (instance finalize), after close. */
void vhost_user_link_destroy(VhostUserLink *link);

/* Connects to the backend at socket and negotiates for num_queues queues,
 * asking for the protocol features in want_protocol besides REPLY_ACK and
 * MQ (the device checks what it got with vhost_user_link_has_protocol).
 * Needs shared guest RAM.  Errors are for the device's realize (the
 * machine names the device) and end with what the backend did.  On
 * failure the link is closed again. */
bool vhost_user_link_connect(VhostUserLink *link, const char *socket,
                             unsigned num_queues, uint64_t want_protocol,
                             GError **errp);

/* Closes the connection (unrealize, after the last reset). */
void vhost_user_link_close(VhostUserLink *link);

/* True when the backend agreed to protocol feature bit. */
bool vhost_user_link_has_protocol(const VhostUserLink *link, unsigned bit);

/* The features to offer the driver: the backend's ring features and
 * those of device_features it offers. */
uint64_t vhost_user_link_features(const VhostUserLink *link,
                                  uint64_t device_features);

/* Reads size bytes of the device's configuration space from the backend
 * (GET_CONFIG; needs PROTOCOL_F_CONFIG).  Realize only. */
bool vhost_user_link_get_config(VhostUserLink *link, void *buf,
                                uint32_t size, GError **errp);

/* VirtioDeviceClass.start and .reset for a device whose queues the
 * backend serves. */
bool vhost_user_link_start(VhostUserLink *link);
void vhost_user_link_reset(VhostUserLink *link);

#endif
