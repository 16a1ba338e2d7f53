/*
 * The frontend (vmspec's) side of the vhost-user protocol: QEMU's
 * docs/interop/vhost-user.rst, "Vhost-user Protocol".  A backend process
 * (virtiofsd, qemu-storage-daemon, SPDK) serves a virtio device's queues
 * straight out of guest RAM, which the frontend shares with it as file
 * descriptors (SET_MEM_TABLE); the frontend keeps the device's transport
 * (registers, interrupts) and tells the backend where the rings are.
 *
 * Messages are a 12-byte header (request, flags, size; little-endian, the
 * protocol's version 1 in flags) and a payload of at most
 * VHOST_USER_MAX_PAYLOAD bytes, with up to VHOST_USER_MAX_FDS descriptors
 * passed as SCM_RIGHTS ancillary data on the unix stream socket.
 *
 * The backend is not trusted: every reply is checked (request code, the
 * reply flag, the payload size the request expects) and read under a
 * deadline (vhost_user_set_timeout, default VHOST_USER_DEFAULT_TIMEOUT_MS),
 * so a backend that dies, hangs or answers nonsense makes the call fail
 * with a GError that says which (never a hang, a crash or SIGPIPE).  After
 * one such failure the connection is broken: every later call fails at
 * once with VMSPEC_ERROR_IO.  Errors are prefixed with the name given at
 * creation ("virtio-fs src: ...").
 *
 * A VhostUser is used by one thread at a time (callers lock).
 */
#ifndef VMSPEC_VHOST_VHOST_USER_H
#define VMSPEC_VHOST_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

typedef struct GuestMem GuestMem;

#define VHOST_USER_MAX_FDS          8       /* regions in one SET_MEM_TABLE */
#define VHOST_USER_MAX_PAYLOAD      4096
#define VHOST_USER_DEFAULT_TIMEOUT_MS 5000

/* Feature bit 30 (vhost-user.rst, "Protocol features"): the backend takes
 * GET/SET_PROTOCOL_FEATURES; also gates SET_VRING_ENABLE. */
#define VHOST_USER_F_PROTOCOL_FEATURES  30

/* Protocol feature bits (GET_PROTOCOL_FEATURES) vmspec knows. */
#define VHOST_USER_PROTOCOL_F_MQ            0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK     3
#define VHOST_USER_PROTOCOL_F_CONFIG        9

typedef struct VhostUser VhostUser;

/* Connects to the backend listening on the unix socket path (a connect
 * that cannot finish within the timeout fails).  name prefixes errors.
 * Returns a new connection; vhost_user_free() closes it. */
VhostUser *vhost_user_connect(const char *path, const char *name,
                              GError **errp);

/* Wraps a connected unix stream socket (a socketpair end in tests); the
 * VhostUser owns fd from then on. */
VhostUser *vhost_user_new_from_fd(int fd, const char *name);

void vhost_user_free(VhostUser *vu);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhostUser, vhost_user_free)

/* The socket, for watching with epoll: the frontend never expects a
 * message it did not ask for, so EPOLLIN or EPOLLHUP on it while no call
 * is in progress means the backend closed it or misbehaves. */
int vhost_user_fd(const VhostUser *vu);

/* Replies (and sends) must finish within ms milliseconds (> 0). */
void vhost_user_set_timeout(VhostUser *vu, unsigned ms);

/* True once a call failed on the connection itself (EOF, timeout,
 * malformed reply): the backend is gone or broken. */
bool vhost_user_broken(const VhostUser *vu);

/* VHOST_USER_SET_OWNER: the first message of a session. */
bool vhost_user_set_owner(VhostUser *vu, GError **errp);

/* VHOST_USER_GET_FEATURES / SET_FEATURES (virtio feature bits, plus
 * VHOST_USER_F_PROTOCOL_FEATURES). */
bool vhost_user_get_features(VhostUser *vu, uint64_t *features,
                             GError **errp);
bool vhost_user_set_features(VhostUser *vu, uint64_t features,
                             GError **errp);

/* GET_PROTOCOL_FEATURES, then SET_PROTOCOL_FEATURES with the offered
 * bits that are also in wanted.  Only valid when GET_FEATURES offered
 * VHOST_USER_F_PROTOCOL_FEATURES.  From then on, if REPLY_ACK was agreed,
 * every request without a reply of its own asks for one (NEED_REPLY) and
 * a non-zero ack is an error.  *agreed (may be NULL) gets the agreed set. */
bool vhost_user_negotiate_protocol(VhostUser *vu, uint64_t wanted,
                                   uint64_t *agreed, GError **errp);
uint64_t vhost_user_protocol_features(const VhostUser *vu);

/* VHOST_USER_GET_QUEUE_NUM (needs PROTOCOL_F_MQ). */
bool vhost_user_get_queue_num(VhostUser *vu, uint64_t *num, GError **errp);

/* VHOST_USER_SET_MEM_TABLE: every region of mem, which must be shared
 * (guest_mem_region(mem, i)->fd >= 0), with its guest-physical address,
 * size, this process's address (userspace_addr, what SET_VRING_ADDR
 * addresses are in) and mmap offset into its fd. */
bool vhost_user_set_mem_table(VhostUser *vu, GuestMem *mem, GError **errp);

/* The vring messages for queue index (vhost-user.rst, "Ring states"). */
bool vhost_user_set_vring_num(VhostUser *vu, unsigned index, unsigned num,
                              GError **errp);
/* Addresses are this process's (host) addresses of the descriptor table,
 * used ring and available ring. */
bool vhost_user_set_vring_addr(VhostUser *vu, unsigned index,
                               uint64_t desc_user, uint64_t used_user,
                               uint64_t avail_user, GError **errp);
bool vhost_user_set_vring_base(VhostUser *vu, unsigned index,
                               unsigned base, GError **errp);
/* fd < 0 sends the "no fd, poll" flag (bit 8), which vmspec never uses. */
bool vhost_user_set_vring_kick(VhostUser *vu, unsigned index, int fd,
                               GError **errp);
bool vhost_user_set_vring_call(VhostUser *vu, unsigned index, int fd,
                               GError **errp);
bool vhost_user_set_vring_err(VhostUser *vu, unsigned index, int fd,
                              GError **errp);
/* Needs VHOST_USER_F_PROTOCOL_FEATURES negotiated. */
bool vhost_user_set_vring_enable(VhostUser *vu, unsigned index, bool enable,
                                 GError **errp);
/* Stops the ring; *base gets the next available index to process. */
bool vhost_user_get_vring_base(VhostUser *vu, unsigned index,
                               unsigned *base, GError **errp);

/* VHOST_USER_GET_CONFIG / SET_CONFIG (need PROTOCOL_F_CONFIG): size
 * bytes at offset of the device's configuration space;
 * offset + size <= 256 (the protocol's limit). */
bool vhost_user_get_config(VhostUser *vu, uint32_t offset, void *buf,
                           uint32_t size, GError **errp);
bool vhost_user_set_config(VhostUser *vu, uint32_t offset, const void *buf,
                           uint32_t size, GError **errp);

#endif
