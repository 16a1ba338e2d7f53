/*
 * The vhost-user frontend: message framing, deadlines and reply checks
 * (QEMU docs/interop/vhost-user.rst).  See vhost-user.h for the contract.
 *
 * Every call is one request and, when the request has one (or REPLY_ACK
 * asks for one), its reply, all under one deadline.  The socket is
 * nonblocking and every send and receive waits in poll() for what is left
 * of that deadline.  The spec says "machine native byte order"; vmspec's
 * hosts (x86_64, arm64) are little-endian, so fields are stored with
 * le.h, which also makes unaligned payload access defined.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "machine/byteorder/le.h"
#include "machine/kvm/guest-mem.h"
#include "machine/qom/error.h"
#include "machine/vhost/vhost-user.h"

/* "Front-end message types": the request codes vmspec sends. */
enum {
    VHOST_USER_GET_FEATURES = 1,
    VHOST_USER_SET_FEATURES = 2,
    VHOST_USER_SET_OWNER = 3,
    VHOST_USER_SET_MEM_TABLE = 5,
    VHOST_USER_SET_VRING_NUM = 8,
    VHOST_USER_SET_VRING_ADDR = 9,
    VHOST_USER_SET_VRING_BASE = 10,
    VHOST_USER_GET_VRING_BASE = 11,
    VHOST_USER_SET_VRING_KICK = 12,
    VHOST_USER_SET_VRING_CALL = 13,
    VHOST_USER_SET_VRING_ERR = 14,
    VHOST_USER_GET_PROTOCOL_FEATURES = 15,
    VHOST_USER_SET_PROTOCOL_FEATURES = 16,
    VHOST_USER_GET_QUEUE_NUM = 17,
    VHOST_USER_SET_VRING_ENABLE = 18,
    VHOST_USER_GET_CONFIG = 24,
    VHOST_USER_SET_CONFIG = 25,
};

static const char *const request_names[] = {
    [VHOST_USER_GET_FEATURES] = "GET_FEATURES",
    [VHOST_USER_SET_FEATURES] = "SET_FEATURES",
    [VHOST_USER_SET_OWNER] = "SET_OWNER",
    [VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
    [VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
    [VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
    [VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
    [VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
    [VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
    [VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
    [VHOST_USER_SET_VRING_ERR] = "SET_VRING_ERR",
    [VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
    [VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
    [VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
    [VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
    [VHOST_USER_GET_CONFIG] = "GET_CONFIG",
    [VHOST_USER_SET_CONFIG] = "SET_CONFIG",
};

/* "Header": request, flags, size (u32 each); flags bits 0-1 are the
 * version, bit 2 marks a reply, bit 3 asks for one (REPLY_ACK). */
#define HEADER_SIZE             12
#define FLAG_VERSION_MASK       0x3u
#define FLAG_VERSION            0x1u
#define FLAG_REPLY              0x4u
#define FLAG_NEED_REPLY         0x8u

/* "A vring state description": u32 index, u32 num. */
#define VRING_STATE_SIZE        8
/* "A vring address description": u32 index, u32 flags, then u64
 * descriptor, used, available and log addresses (the table's "size"
 * column has no field; QEMU's struct vhost_vring_addr is these 40). */
#define VRING_ADDR_SIZE         40
/* SET_VRING_KICK/CALL/ERR: "Bits (0-7) of the payload contain the vring
 * index. Bit 8 is the invalid FD flag." */
#define VRING_FD_INDEX_MASK     0xffu
#define VRING_FD_NO_FD          (1u << 8)
/* "Memory regions description": u32 count, u32 padding, then per region
 * u64 guest address, size, user address, mmap offset. */
#define MEM_TABLE_HEADER_SIZE   8
#define MEM_REGION_SIZE         32
/* "Virtio device config space": u32 offset, size, flags, then the bytes;
 * flags 0 is "front-end messages used for writable fields".  256 is
 * VHOST_USER_MAX_CONFIG_SIZE in QEMU's hw/virtio/vhost-user.c. */
#define CONFIG_HEADER_SIZE      12
#define CONFIG_SPACE_MAX        256
#define CONFIG_FLAG_WRITABLE    0

G_STATIC_ASSERT(GUEST_MEM_MAX_REGIONS <= VHOST_USER_MAX_FDS);
G_STATIC_ASSERT(MEM_TABLE_HEADER_SIZE + VHOST_USER_MAX_FDS * MEM_REGION_SIZE
                <= VHOST_USER_MAX_PAYLOAD);
G_STATIC_ASSERT(CONFIG_HEADER_SIZE + CONFIG_SPACE_MAX
                <= VHOST_USER_MAX_PAYLOAD);

struct VhostUser {
    int fd;
    char *name;
    unsigned timeout_ms;
    uint64_t offered_features;  /* GET_FEATURES' answer, or 0 */
    uint64_t acked_features;    /* the last SET_FEATURES */
    uint64_t protocol_features; /* agreed by negotiate_protocol */
    char *broken_reason;        /* the failure that broke it, or NULL */
};

static const char *request_name(uint32_t request)
{
    if (request < G_N_ELEMENTS(request_names) && request_names[request]) {
        return request_names[request];
    }
    return "an unknown request";
}

/* Sets "name: message" and returns false.  broken: a failure of the
 * connection itself (EOF, timeout, garbage), after which the message
 * stream cannot be trusted to be in step, so later calls fail at once. */
static G_GNUC_PRINTF(5, 6) bool fail(VhostUser *vu, bool broken, int code,
                                     GError **errp, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (broken && !vu->broken_reason) {
        vu->broken_reason = g_strdup(msg);
    }
    g_set_error(errp, VMSPEC_ERROR, code, "%s: %s", vu->name, msg);
    return false;
}

#define fail_connection(vu, errp, ...) \
    fail(vu, true, VMSPEC_ERROR_IO, errp, __VA_ARGS__)
#define fail_invalid(vu, errp, ...) \
    fail(vu, false, VMSPEC_ERROR_INVALID, errp, __VA_ARGS__)

/*
 * Waits in poll() until fd has events or deadline (monotonic us) passes;
 * a timeout or poll error breaks the connection.
 */
static bool wait_ready(VhostUser *vu, short events, uint32_t request,
                       gint64 deadline, GError **errp)
{
    struct pollfd pfd = { .fd = vu->fd, .events = events };
    int ret;

    do {
        gint64 left_us = MAX(deadline - g_get_monotonic_time(), 0);

        ret = poll(&pfd, 1, (int)((left_us + 999) / 1000));
    } while (ret < 0 && errno == EINTR);
    if (ret > 0) {
        return true;
    }
    if (ret < 0) {
        return fail_connection(vu, errp, "poll: %s", g_strerror(errno));
    }
    if (events == POLLOUT) {
        return fail_connection(vu, errp, "could not send %s within %u ms "
                               "(the backend is not reading)",
                               request_name(request), vu->timeout_ms);
    }
    return fail_connection(vu, errp, "no reply to %s within %u ms",
                           request_name(request), vu->timeout_ms);
}

/* Sends len bytes of buf, the fds riding on the first byte (SCM_RIGHTS). */
static bool send_all(VhostUser *vu, uint32_t request, const uint8_t *buf,
                     size_t len, const int *fds, unsigned nfds,
                     gint64 deadline, GError **errp)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
        struct cmsghdr align;
    } control;
    size_t sent = 0;

    g_assert(nfds <= VHOST_USER_MAX_FDS);
    while (sent < len) {
        struct iovec iov = { (void *)(buf + sent), len - sent };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        if (sent == 0 && nfds > 0) {
            struct cmsghdr *cmsg;

            memset(&control, 0, sizeof(control));
            mh.msg_control = control.buf;
            mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
            cmsg = CMSG_FIRSTHDR(&mh);
            cmsg->cmsg_level = SOL_SOCKET;
            cmsg->cmsg_type = SCM_RIGHTS;
            cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
            memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
        }
        n = sendmsg(vu->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            sent += n;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!wait_ready(vu, POLLOUT, request, deadline, errp)) {
                return false;
            }
        } else if (errno == EPIPE || errno == ECONNRESET) {
            return fail_connection(vu, errp, "the backend closed its socket "
                                   "(sending %s)", request_name(request));
        } else if (errno != EINTR) {
            return fail_connection(vu, errp, "cannot send %s: %s",
                                   request_name(request), g_strerror(errno));
        }
    }
    return true;
}

/* Closes every descriptor that came with mh; true if there were any. */
static bool close_received_fds(struct msghdr *mh)
{
    bool any = mh->msg_flags & MSG_CTRUNC;

    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

            for (size_t i = 0; i < count; i++) {
                int fd;

                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
                close(fd);
            }
            any = true;
        }
    }
    return any;
}

/* Receives exactly len bytes of the answer to request.  Descriptors that
 * come with them are closed, and fail it: no answer vmspec asks for has
 * any. */
static bool recv_exact(VhostUser *vu, uint32_t request, uint8_t *buf,
                       size_t len, gint64 deadline, GError **errp)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
        struct cmsghdr align;
    } control;
    size_t got = 0;

    while (got < len) {
        struct iovec iov = { buf + got, len - got };
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1,
            .msg_control = control.buf, .msg_controllen = sizeof(control),
        };
        ssize_t n = recvmsg(vu->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

        if (n > 0 && close_received_fds(&mh)) {
            return fail_connection(vu, errp, "sent file descriptors with "
                                   "its answer to %s", request_name(request));
        } else if (n > 0) {
            got += n;
        } else if (n == 0 || errno == ECONNRESET) {
            return fail_connection(vu, errp, "the backend closed its socket "
                                   "(waiting for the answer to %s)",
                                   request_name(request));
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!wait_ready(vu, POLLIN, request, deadline, errp)) {
                return false;
            }
        } else if (errno != EINTR) {
            return fail_connection(vu, errp, "cannot read the answer to %s: "
                                   "%s", request_name(request),
                                   g_strerror(errno));
        }
    }
    return true;
}

/* Reads the reply to request and checks its header: the same request,
 * version 1, the reply flag, exactly expected_size payload bytes (a
 * GET_CONFIG answer of none is the backend's refusal, "VHOST_USER_GET_
 * CONFIG").  Only then is the payload read into payload. */
static bool recv_reply(VhostUser *vu, uint32_t request, void *payload,
                       uint32_t expected_size, gint64 deadline,
                       GError **errp)
{
    uint8_t header[HEADER_SIZE];
    uint32_t reply_request, flags, size;
    const char *name = request_name(request);

    if (!recv_exact(vu, request, header, sizeof(header), deadline, errp)) {
        return false;
    }
    reply_request = le32_load(header);
    flags = le32_load(header + 4);
    size = le32_load(header + 8);
    if (reply_request != request) {
        return fail_connection(vu, errp, "answered %s with request %" PRIu32,
                               name, reply_request);
    }
    if ((flags & FLAG_VERSION_MASK) != FLAG_VERSION || !(flags & FLAG_REPLY)) {
        return fail_connection(vu, errp, "answered %s with flags 0x%" PRIx32
                               " (not a version 1 reply)", name, flags);
    }
    if (size > VHOST_USER_MAX_PAYLOAD) {
        return fail_connection(vu, errp, "answered %s with a %" PRIu32
                               "-byte payload (at most %d)", name, size,
                               VHOST_USER_MAX_PAYLOAD);
    }
    if (size == 0 && request == VHOST_USER_GET_CONFIG) {
        return fail(vu, false, VMSPEC_ERROR_IO, errp, "the backend refused %s "
                    "(an empty answer)", name);
    }
    if (size != expected_size) {
        return fail_connection(vu, errp, "answered %s with %" PRIu32
                               " payload bytes, expected %" PRIu32,
                               name, size, expected_size);
    }
    return recv_exact(vu, request, payload, size, deadline, errp);
}

/* Between calls nothing may arrive: the frontend never expects a message
 * it did not ask for, so bytes or a hangup now mean the backend went
 * away or is out of step. */
static bool check_quiet(VhostUser *vu, uint32_t request, GError **errp)
{
    struct pollfd pfd = { .fd = vu->fd, .events = POLLIN };
    char byte;

    if (poll(&pfd, 1, 0) <= 0) {
        return true;
    }
    if ((pfd.revents & POLLIN) &&
        recv(vu->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
        return fail_connection(vu, errp, "the backend sent a message nobody "
                               "asked for (before %s)", request_name(request));
    }
    return fail_connection(vu, errp, "the backend closed its socket "
                           "(before %s)", request_name(request));
}

/*
 * One request: size payload bytes and nfds descriptors out, then
 * reply_size bytes of its reply into reply when reply is non-NULL.  A
 * request without a reply of its own asks for an ack once REPLY_ACK is
 * agreed ("VHOST_USER_PROTOCOL_F_REPLY_ACK"); a non-zero ack is the
 * backend refusing it.
 */
static bool call(VhostUser *vu, uint32_t request, const void *payload,
                 uint32_t size, const int *fds, unsigned nfds,
                 void *reply, uint32_t reply_size, GError **errp)
{
    uint8_t msg[HEADER_SIZE + VHOST_USER_MAX_PAYLOAD];
    bool want_ack = !reply && (vu->protocol_features &
                               (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK));
    gint64 deadline;
    uint8_t ack[8];

    g_assert(size <= VHOST_USER_MAX_PAYLOAD);
    if (vu->broken_reason) {
        return fail(vu, false, VMSPEC_ERROR_IO, errp, "the connection to the "
                    "backend is broken (%s)", vu->broken_reason);
    }
    if (!check_quiet(vu, request, errp)) {
        return false;
    }
    le32_store(msg, request);
    le32_store(msg + 4, FLAG_VERSION | (want_ack ? FLAG_NEED_REPLY : 0));
    le32_store(msg + 8, size);
    if (size) {
        memcpy(msg + HEADER_SIZE, payload, size);
    }
    deadline = g_get_monotonic_time() + (gint64)vu->timeout_ms * 1000;
    if (!send_all(vu, request, msg, HEADER_SIZE + size, fds, nfds, deadline,
                  errp)) {
        return false;
    }
    if (reply) {
        return recv_reply(vu, request, reply, reply_size, deadline, errp);
    }
    if (!want_ack) {
        return true;
    }
    if (!recv_reply(vu, request, ack, sizeof(ack), deadline, errp)) {
        return false;
    }
    if (le64_load(ack) != 0) {
        return fail(vu, false, VMSPEC_ERROR_IO, errp, "the backend refused %s "
                    "(ack %" PRIu64 ")", request_name(request),
                    le64_load(ack));
    }
    return true;
}

static bool get_u64(VhostUser *vu, uint32_t request, uint64_t *value,
                    GError **errp)
{
    uint8_t reply[8];

    if (!call(vu, request, NULL, 0, NULL, 0, reply, sizeof(reply), errp)) {
        return false;
    }
    *value = le64_load(reply);
    return true;
}

static bool set_u64(VhostUser *vu, uint32_t request, uint64_t value,
                    const int *fds, unsigned nfds, GError **errp)
{
    uint8_t payload[8];

    le64_store(payload, value);
    return call(vu, request, payload, sizeof(payload), fds, nfds, NULL, 0,
                errp);
}

static bool set_vring_state(VhostUser *vu, uint32_t request, unsigned index,
                            unsigned num, GError **errp)
{
    uint8_t payload[VRING_STATE_SIZE];

    le32_store(payload, index);
    le32_store(payload + 4, num);
    return call(vu, request, payload, sizeof(payload), NULL, 0, NULL, 0,
                errp);
}

static bool set_vring_fd(VhostUser *vu, uint32_t request, unsigned index,
                         int fd, GError **errp)
{
    if (index > VRING_FD_INDEX_MASK) {
        return fail_invalid(vu, errp, "%s: ring %u does not "
                    "fit the message's 8-bit index", request_name(request),
                    index);
    }
    return set_u64(vu, request, index | (fd < 0 ? VRING_FD_NO_FD : 0),
                   &fd, fd < 0 ? 0 : 1, errp);
}

static bool has_protocol_feature(VhostUser *vu, unsigned bit,
                                 const char *feature, uint32_t request,
                                 GError **errp)
{
    if (!(vu->protocol_features & (1ULL << bit))) {
        return fail_invalid(vu, errp, "%s needs protocol "
                    "feature %s, which was not agreed",
                    request_name(request), feature);
    }
    return true;
}

/* Checks a GET/SET_CONFIG range and writes the config header. */
static bool config_header(VhostUser *vu, uint32_t request, uint8_t *payload,
                          uint32_t offset, uint32_t size, GError **errp)
{
    if (!has_protocol_feature(vu, VHOST_USER_PROTOCOL_F_CONFIG, "CONFIG",
                              request, errp)) {
        return false;
    }
    if (size == 0 || (uint64_t)offset + size > CONFIG_SPACE_MAX) {
        return fail_invalid(vu, errp, "%s: %" PRIu32 " bytes "
                    "at offset %" PRIu32 " are not within the %d-byte "
                    "configuration space", request_name(request), size,
                    offset, CONFIG_SPACE_MAX);
    }
    le32_store(payload, offset);
    le32_store(payload + 4, size);
    le32_store(payload + 8, CONFIG_FLAG_WRITABLE);
    return true;
}

VhostUser *vhost_user_connect(const char *path, const char *name,
                              GError **errp)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    gint64 deadline = g_get_monotonic_time() +
                      (gint64)VHOST_USER_DEFAULT_TIMEOUT_MS * 1000;
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "%s: socket path %s is too long (at most %zu bytes)",
                    name, path, sizeof(addr.sun_path) - 1);
        return NULL;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO, "%s: socket: %s",
                    name, g_strerror(errno));
        return NULL;
    }
    /* A nonblocking unix connect never waits: EAGAIN is a full backlog. */
    while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int err = errno;

        if ((err == EAGAIN && g_get_monotonic_time() < deadline) ||
            err == EINTR) {
            g_usleep(err == EAGAIN ? 10 * 1000 : 0);
            continue;
        }
        close(fd);
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "%s: cannot connect to the backend at %s: %s",
                    name, path, g_strerror(err == EAGAIN ? ETIMEDOUT : err));
        return NULL;
    }
    return vhost_user_new_from_fd(fd, name);
}

VhostUser *vhost_user_new_from_fd(int fd, const char *name)
{
    VhostUser *vu = g_new0(VhostUser, 1);
    int flags = fcntl(fd, F_GETFL);

    /* A bad fd fails here silently and then at the first call. */
    if (flags >= 0) {
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }
    vu->fd = fd;
    vu->name = g_strdup(name);
    vu->timeout_ms = VHOST_USER_DEFAULT_TIMEOUT_MS;
    return vu;
}

void vhost_user_free(VhostUser *vu)
{
    if (!vu) {
        return;
    }
    if (vu->fd >= 0) {
        close(vu->fd);
    }
    g_free(vu->broken_reason);
    g_free(vu->name);
    g_free(vu);
}

int vhost_user_fd(const VhostUser *vu)
{
    return vu->fd;
}

void vhost_user_set_timeout(VhostUser *vu, unsigned ms)
{
    g_assert(ms > 0 && ms <= G_MAXINT / 1000);
    vu->timeout_ms = ms;
}

bool vhost_user_broken(const VhostUser *vu)
{
    return vu->broken_reason != NULL;
}

bool vhost_user_set_owner(VhostUser *vu, GError **errp)
{
    return call(vu, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0, NULL, 0, errp);
}

bool vhost_user_get_features(VhostUser *vu, uint64_t *features,
                             GError **errp)
{
    if (!get_u64(vu, VHOST_USER_GET_FEATURES, features, errp)) {
        return false;
    }
    vu->offered_features = *features;
    return true;
}

bool vhost_user_set_features(VhostUser *vu, uint64_t features,
                             GError **errp)
{
    if (!set_u64(vu, VHOST_USER_SET_FEATURES, features, NULL, 0, errp)) {
        return false;
    }
    vu->acked_features = features;
    return true;
}

bool vhost_user_negotiate_protocol(VhostUser *vu, uint64_t wanted,
                                   uint64_t *agreed, GError **errp)
{
    uint64_t offered;

    if (!(vu->offered_features & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES))) {
        return fail_invalid(vu, errp, "the backend did not "
                    "offer VHOST_USER_F_PROTOCOL_FEATURES in GET_FEATURES");
    }
    if (!get_u64(vu, VHOST_USER_GET_PROTOCOL_FEATURES, &offered, errp) ||
        !set_u64(vu, VHOST_USER_SET_PROTOCOL_FEATURES, offered & wanted,
                 NULL, 0, errp)) {
        return false;
    }
    vu->protocol_features = offered & wanted;
    if (agreed) {
        *agreed = vu->protocol_features;
    }
    return true;
}

uint64_t vhost_user_protocol_features(const VhostUser *vu)
{
    return vu->protocol_features;
}

bool vhost_user_get_queue_num(VhostUser *vu, uint64_t *num, GError **errp)
{
    return has_protocol_feature(vu, VHOST_USER_PROTOCOL_F_MQ, "MQ",
                                VHOST_USER_GET_QUEUE_NUM, errp) &&
           get_u64(vu, VHOST_USER_GET_QUEUE_NUM, num, errp);
}

bool vhost_user_set_mem_table(VhostUser *vu, GuestMem *mem, GError **errp)
{
    uint8_t payload[MEM_TABLE_HEADER_SIZE +
                    GUEST_MEM_MAX_REGIONS * MEM_REGION_SIZE] = { 0 };
    int fds[GUEST_MEM_MAX_REGIONS];
    unsigned count = guest_mem_region_count(mem);

    g_assert(count <= GUEST_MEM_MAX_REGIONS);
    le32_store(payload, count);
    for (unsigned i = 0; i < count; i++) {
        const GuestMemRegion *r = guest_mem_region(mem, i);
        uint8_t *out = payload + MEM_TABLE_HEADER_SIZE + i * MEM_REGION_SIZE;

        if (r->fd < 0) {
            return fail_invalid(vu, errp, "guest RAM at 0x%"
                        PRIx64 " is not shared memory, which a vhost-user "
                        "backend needs", r->gpa);
        }
        le64_store(out, r->gpa);
        le64_store(out + 8, r->size);
        le64_store(out + 16, (uintptr_t)r->host);
        le64_store(out + 24, r->fd_offset);
        fds[i] = r->fd;
    }
    return call(vu, VHOST_USER_SET_MEM_TABLE, payload,
                MEM_TABLE_HEADER_SIZE + count * MEM_REGION_SIZE, fds, count,
                NULL, 0, errp);
}

bool vhost_user_set_vring_num(VhostUser *vu, unsigned index, unsigned num,
                              GError **errp)
{
    return set_vring_state(vu, VHOST_USER_SET_VRING_NUM, index, num, errp);
}

bool vhost_user_set_vring_addr(VhostUser *vu, unsigned index,
                               uint64_t desc_user, uint64_t used_user,
                               uint64_t avail_user, GError **errp)
{
    uint8_t payload[VRING_ADDR_SIZE] = { 0 };

    /* flags 0: no VHOST_VRING_F_LOG, so log (the last u64) stays 0. */
    le32_store(payload, index);
    le64_store(payload + 8, desc_user);
    le64_store(payload + 16, used_user);
    le64_store(payload + 24, avail_user);
    return call(vu, VHOST_USER_SET_VRING_ADDR, payload, sizeof(payload),
                NULL, 0, NULL, 0, errp);
}

bool vhost_user_set_vring_base(VhostUser *vu, unsigned index,
                               unsigned base, GError **errp)
{
    return set_vring_state(vu, VHOST_USER_SET_VRING_BASE, index, base, errp);
}

bool vhost_user_set_vring_kick(VhostUser *vu, unsigned index, int fd,
                               GError **errp)
{
    return set_vring_fd(vu, VHOST_USER_SET_VRING_KICK, index, fd, errp);
}

bool vhost_user_set_vring_call(VhostUser *vu, unsigned index, int fd,
                               GError **errp)
{
    return set_vring_fd(vu, VHOST_USER_SET_VRING_CALL, index, fd, errp);
}

bool vhost_user_set_vring_err(VhostUser *vu, unsigned index, int fd,
                              GError **errp)
{
    return set_vring_fd(vu, VHOST_USER_SET_VRING_ERR, index, fd, errp);
}

bool vhost_user_set_vring_enable(VhostUser *vu, unsigned index, bool enable,
                                 GError **errp)
{
    /* "This request should be sent only when VHOST_USER_F_PROTOCOL_FEATURES
     * has been negotiated", i.e. acked in SET_FEATURES. */
    if (!(vu->acked_features & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES))) {
        return fail_invalid(vu, errp, "SET_VRING_ENABLE needs "
                    "VHOST_USER_F_PROTOCOL_FEATURES in SET_FEATURES");
    }
    return set_vring_state(vu, VHOST_USER_SET_VRING_ENABLE, index, enable,
                           errp);
}

bool vhost_user_get_vring_base(VhostUser *vu, unsigned index,
                               unsigned *base, GError **errp)
{
    uint8_t request[VRING_STATE_SIZE] = { 0 };
    uint8_t reply[VRING_STATE_SIZE];

    le32_store(request, index);
    if (!call(vu, VHOST_USER_GET_VRING_BASE, request, sizeof(request), NULL,
              0, reply, sizeof(reply), errp)) {
        return false;
    }
    if (le32_load(reply) != index) {
        return fail_connection(vu, errp, "answered GET_VRING_BASE for ring "
                               "%" PRIu32 ", asked for ring %u",
                               le32_load(reply), index);
    }
    *base = le32_load(reply + 4);
    return true;
}

bool vhost_user_get_config(VhostUser *vu, uint32_t offset, void *buf,
                           uint32_t size, GError **errp)
{
    uint8_t request[CONFIG_HEADER_SIZE + CONFIG_SPACE_MAX] = { 0 };
    uint8_t reply[CONFIG_HEADER_SIZE + CONFIG_SPACE_MAX];

    /* The request carries size (zeroed) bytes too, as QEMU's does. */
    if (!config_header(vu, VHOST_USER_GET_CONFIG, request, offset, size,
                       errp) ||
        !call(vu, VHOST_USER_GET_CONFIG, request, CONFIG_HEADER_SIZE + size,
              NULL, 0, reply, CONFIG_HEADER_SIZE + size, errp)) {
        return false;
    }
    if (le32_load(reply + 4) != size) {
        return fail_connection(vu, errp, "answered GET_CONFIG with a %" PRIu32
                               "-byte config space, asked for %" PRIu32,
                               le32_load(reply + 4), size);
    }
    memcpy(buf, reply + CONFIG_HEADER_SIZE, size);
    return true;
}

bool vhost_user_set_config(VhostUser *vu, uint32_t offset, const void *buf,
                           uint32_t size, GError **errp)
{
    uint8_t payload[CONFIG_HEADER_SIZE + CONFIG_SPACE_MAX];

    if (!config_header(vu, VHOST_USER_SET_CONFIG, payload, offset, size,
                       errp)) {
        return false;
    }
    memcpy(payload + CONFIG_HEADER_SIZE, buf, size);
    return call(vu, VHOST_USER_SET_CONFIG, payload, CONFIG_HEADER_SIZE + size,
                NULL, 0, NULL, 0, errp);
}
