/*
 * The vhost-user frontend against a backend thread on a socketpair that
 * speaks the protocol (QEMU docs/interop/vhost-user.rst) and records what
 * it got: the bytes of every message, its flags (NEED_REPLY only once
 * REPLY_ACK is agreed, and only on requests without a reply of their own),
 * and its descriptors, which the test then uses (eventfds signal, the
 * guest RAM memfd maps and shows what was written through the region's
 * host pointer).  The same backend misbehaves on request: closes its
 * socket mid-call, never answers, answers with the wrong request, size,
 * flags, ring or an oversize size field, passes a descriptor, nacks, or
 * speaks unasked; each must fail the call promptly with an error that
 * says which.  Then the real virtiofsd, when installed and run as root.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "machine/byteorder/le.h"
#include "machine/kvm/guest-mem.h"
#include "machine/qom/error.h"
#include "machine/vhost/vhost-user.h"

#define MiB (1024ULL * 1024)
#define GiB (1024ULL * MiB)

#define NAME "virtio-fs src"
#define VIRTIOFSD "/usr/lib/qemu/virtiofsd"

/* vhost-user.rst, "Front-end message types" and "Header". */
enum {
    GET_FEATURES = 1, SET_FEATURES = 2, SET_OWNER = 3, SET_MEM_TABLE = 5,
    SET_LOG_FD = 7, SET_VRING_NUM = 8, SET_VRING_ADDR = 9,
    SET_VRING_BASE = 10, GET_VRING_BASE = 11, SET_VRING_KICK = 12,
    SET_VRING_CALL = 13, SET_VRING_ERR = 14, GET_PROTOCOL_FEATURES = 15,
    SET_PROTOCOL_FEATURES = 16, GET_QUEUE_NUM = 17, SET_VRING_ENABLE = 18,
    GET_CONFIG = 24, SET_CONFIG = 25,
};
#define F_VERSION 0x1u
#define F_REPLY 0x4u
#define F_NEED_REPLY 0x8u

#define VIRTIO_F_VERSION_1 (1ULL << 32)
#define F_PROTOCOL (1ULL << VHOST_USER_F_PROTOCOL_FEATURES)
#define P_MQ (1ULL << VHOST_USER_PROTOCOL_F_MQ)
#define P_LOG_SHMFD (1ULL << 1)
#define P_REPLY_ACK (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK)
#define P_CONFIG (1ULL << VHOST_USER_PROTOCOL_F_CONFIG)

#define BACKEND_QUEUES 4
#define BACKEND_VRING_BASE 42

typedef enum {
    BEHAVE,
    CLOSE,          /* read the request, close the socket */
    SILENT,         /* read the request, never answer */
    WRONG_REQUEST,  /* answer as SET_LOG_FD (7) */
    WRONG_SIZE,     /* 4 payload bytes */
    OVERSIZE,       /* a size field of VHOST_USER_MAX_PAYLOAD + 1 */
    NO_REPLY_FLAG,
    VERSION_2,
    WITH_FD,        /* a pipe's read end with the answer */
    NACK,           /* ack 1 */
    EMPTY,          /* no payload (GET_CONFIG's refusal) */
    WRONG_INDEX,    /* GET_VRING_BASE for the next ring */
    UNSOLICITED,    /* answer, then a message nobody asked for */
} Behaviour;

/* One message as the backend received it; owns fds. */
typedef struct {
    uint32_t request, flags, size;
    uint8_t payload[VHOST_USER_MAX_PAYLOAD];
    int fds[VHOST_USER_MAX_FDS];
    unsigned nfds;
} Msg;

typedef struct {
    int fd;
    GThread *thread;
    uint64_t features;
    uint64_t protocol_features;
    uint32_t misbehave_on;      /* the request to misbehave on; 0: none */
    Behaviour misbehaviour;
    int fd_to_pass;             /* WITH_FD: sent, then closed */
    GAsyncQueue *received;      /* Msg *, in order */
} Backend;

static void msg_free(Msg *m)
{
    for (unsigned i = 0; i < m->nfds; i++) {
        close(m->fds[i]);
    }
    g_free(m);
}

/* Backend thread: the next message, or NULL at EOF (or after 10 s). */
static Msg *backend_read(Backend *be)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
        struct cmsghdr align;
    } control;
    uint8_t header[12];
    struct iovec iov = { header, sizeof(header) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof(control) };
    struct pollfd pfd = { .fd = be->fd, .events = POLLIN };
    Msg *m;

    if (poll(&pfd, 1, 10000) != 1 ||
        recvmsg(be->fd, &mh, MSG_WAITALL | MSG_CMSG_CLOEXEC) != 12) {
        return NULL;
    }
    m = g_new0(Msg, 1);
    m->request = le32_load(header);
    m->flags = le32_load(header + 4);
    m->size = le32_load(header + 8);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            m->nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(m->fds, CMSG_DATA(c), m->nfds * sizeof(int));
        }
    }
    if (m->size > VHOST_USER_MAX_PAYLOAD ||
        (m->size && recv(be->fd, m->payload, m->size, MSG_WAITALL) !=
                    (ssize_t)m->size)) {
        msg_free(m);
        return NULL;
    }
    return m;
}

static void backend_send(Backend *be, uint32_t request, uint32_t flags,
                         uint32_t size_field, const void *payload,
                         uint32_t size, int fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    uint8_t buf[12 + VHOST_USER_MAX_PAYLOAD];
    struct iovec iov = { buf, 12 + size };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

    le32_store(buf, request);
    le32_store(buf + 4, flags);
    le32_store(buf + 8, size_field);
    memcpy(buf + 12, payload, size);
    if (fd >= 0) {
        struct cmsghdr *c;

        mh.msg_control = control.buf;
        mh.msg_controllen = sizeof(control.buf);
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    sendmsg(be->fd, &mh, MSG_NOSIGNAL);
}

/* Answers m the way a correct backend would, or as told to misbehave.
 * False: the backend closed its socket. */
static bool backend_answer(Backend *be, const Msg *m)
{
    Behaviour how = m->request == be->misbehave_on ? be->misbehaviour
                                                   : BEHAVE;
    uint8_t reply[VHOST_USER_MAX_PAYLOAD] = { 0 };
    uint32_t size = 8, request = m->request, flags = F_VERSION | F_REPLY;
    int fd = -1;

    switch (m->request) {
    case GET_FEATURES:
        le64_store(reply, be->features);
        break;
    case GET_PROTOCOL_FEATURES:
        le64_store(reply, be->protocol_features);
        break;
    case GET_QUEUE_NUM:
        le64_store(reply, BACKEND_QUEUES);
        break;
    case GET_VRING_BASE:
        le32_store(reply, le32_load(m->payload) + (how == WRONG_INDEX));
        le32_store(reply + 4, BACKEND_VRING_BASE);
        break;
    case GET_CONFIG:
        size = m->size;
        memcpy(reply, m->payload, 12);
        for (uint32_t i = 0; i < le32_load(m->payload + 4); i++) {
            reply[12 + i] = le32_load(m->payload) + i;
        }
        break;
    default:
        if (!(m->flags & F_NEED_REPLY) && how != UNSOLICITED) {
            return true;
        }
        le64_store(reply, how == NACK);
    }
    switch (how) {
    case CLOSE:
        close(be->fd);
        be->fd = -1;
        return false;
    case SILENT:
        return true;
    case WRONG_REQUEST:
        request = SET_LOG_FD;
        break;
    case WRONG_SIZE:
        size = 4;
        break;
    case OVERSIZE:
        backend_send(be, request, flags, VHOST_USER_MAX_PAYLOAD + 1, reply,
                     size, -1);
        return true;
    case NO_REPLY_FLAG:
        flags = F_VERSION;
        break;
    case VERSION_2:
        flags = 0x2 | F_REPLY;
        break;
    case WITH_FD:
        fd = be->fd_to_pass;
        break;
    case EMPTY:
        size = 0;
        break;
    default:
        break;
    }
    if (m->flags & F_NEED_REPLY || m->request == GET_FEATURES ||
        m->request == GET_PROTOCOL_FEATURES || m->request == GET_QUEUE_NUM ||
        m->request == GET_VRING_BASE || m->request == GET_CONFIG) {
        backend_send(be, request, flags, size, reply, size, fd);
    }
    if (fd >= 0) {
        close(fd);
        be->fd_to_pass = -1;
    }
    if (how == UNSOLICITED) {
        backend_send(be, GET_FEATURES, F_VERSION | F_REPLY, 8, reply, 8, -1);
    }
    return true;
}

static gpointer backend_thread(gpointer data)
{
    Backend *be = data;
    Msg *m;

    while ((m = backend_read(be))) {
        bool open = backend_answer(be, m);

        g_async_queue_push(be->received, m);
        if (!open) {
            return NULL;
        }
    }
    close(be->fd);
    be->fd = -1;
    return NULL;
}

/* Starts a well-behaved backend offering features and protocol_features
 * on one end of a socketpair; returns the frontend on the other. */
static VhostUser *start(Backend *be, uint64_t features,
                        uint64_t protocol_features)
{
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                    ==, 0);
    *be = (Backend){ .fd = sv[1], .features = features,
                     .protocol_features = protocol_features,
                     .fd_to_pass = -1,
                     .received = g_async_queue_new_full(
                         (GDestroyNotify)msg_free) };
    be->thread = g_thread_new("vhost-user-backend", backend_thread, be);
    return vhost_user_new_from_fd(sv[0], NAME);
}

/* Closes the frontend, which ends the backend thread. */
static void finish(Backend *be, VhostUser *vu)
{
    vhost_user_free(vu);
    g_thread_join(be->thread);
    g_async_queue_unref(be->received);
    if (be->fd_to_pass >= 0) {
        close(be->fd_to_pass);
    }
}

/* The next message the backend got; the caller frees it. */
static Msg *next_msg(Backend *be, uint32_t request, uint32_t flags,
                     uint32_t size)
{
    Msg *m = g_async_queue_timeout_pop(be->received, 2 * G_USEC_PER_SEC);

    g_assert_nonnull(m);
    g_assert_cmpuint(m->request, ==, request);
    g_assert_cmphex(m->flags, ==, flags);
    g_assert_cmpuint(m->size, ==, size);
    return m;
}

static void expect_msg(Backend *be, uint32_t request, uint32_t flags,
                       uint32_t size)
{
    msg_free(next_msg(be, request, flags, size));
}

/* GET_FEATURES and the protocol negotiation, with their messages. */
static void negotiate(Backend *be, VhostUser *vu, uint64_t wanted)
{
    g_autoptr(GError) err = NULL;
    uint64_t features, agreed;
    Msg *m;

    g_assert_true(vhost_user_get_features(vu, &features, &err));
    g_assert_no_error(err);
    g_assert_cmphex(features, ==, be->features);
    g_assert_true(vhost_user_negotiate_protocol(vu, wanted, &agreed, &err));
    g_assert_no_error(err);
    g_assert_cmphex(agreed, ==, wanted & be->protocol_features);
    g_assert_cmphex(vhost_user_protocol_features(vu), ==, agreed);
    expect_msg(be, GET_FEATURES, F_VERSION, 0);
    expect_msg(be, GET_PROTOCOL_FEATURES, F_VERSION, 0);
    /* Sent before REPLY_ACK is in force: no NEED_REPLY on it. */
    m = next_msg(be, SET_PROTOCOL_FEATURES, F_VERSION, 8);
    g_assert_cmphex(le64_load(m->payload), ==, agreed);
    msg_free(m);
}

static void test_handshake(void)
{
    Backend be;
    g_autoptr(GError) err = NULL;
    VhostUser *vu = start(&be, VIRTIO_F_VERSION_1 | F_PROTOCOL | 1,
                          P_MQ | P_LOG_SHMFD | P_REPLY_ACK | P_CONFIG);
    uint64_t num;
    Msg *m;

    g_assert_cmpint(vhost_user_fd(vu), >=, 0);
    g_assert_true(vhost_user_set_owner(vu, &err));
    g_assert_no_error(err);
    expect_msg(&be, SET_OWNER, F_VERSION, 0);
    negotiate(&be, vu, P_MQ | P_REPLY_ACK | P_CONFIG | (1ULL << 14));
    g_assert_cmphex(vhost_user_protocol_features(vu), ==,
                    P_MQ | P_REPLY_ACK | P_CONFIG);

    /* Requests with a reply of their own do not ask for an ack... */
    g_assert_true(vhost_user_get_queue_num(vu, &num, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(num, ==, BACKEND_QUEUES);
    expect_msg(&be, GET_QUEUE_NUM, F_VERSION, 0);
    /* ...the others do, and wait for it. */
    g_assert_true(vhost_user_set_features(vu, VIRTIO_F_VERSION_1 | F_PROTOCOL,
                                          &err));
    g_assert_no_error(err);
    m = next_msg(&be, SET_FEATURES, F_VERSION | F_NEED_REPLY, 8);
    g_assert_cmpmem(m->payload, 8, "\0\0\0\x40\x01\0\0\0", 8);
    g_assert_cmpuint(m->nfds, ==, 0);
    msg_free(m);
    g_assert_false(vhost_user_broken(vu));
    finish(&be, vu);
}

/* Without REPLY_ACK nothing waits: this backend never answers a SET. */
static void test_no_reply_ack(void)
{
    Backend be;
    g_autoptr(GError) err = NULL;
    VhostUser *vu = start(&be, VIRTIO_F_VERSION_1 | F_PROTOCOL, P_MQ);
    uint64_t num;
    unsigned base;

    vhost_user_set_timeout(vu, 200);
    negotiate(&be, vu, P_MQ | P_REPLY_ACK | P_CONFIG);
    g_assert_true(vhost_user_set_vring_num(vu, 0, 8, &err));
    g_assert_no_error(err);
    expect_msg(&be, SET_VRING_NUM, F_VERSION, 8);

    /* What the agreed features rule out fails before anything is sent. */
    g_assert_false(vhost_user_set_vring_enable(vu, 0, true, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);
    g_assert_false(vhost_user_get_config(vu, 0, &num, 4, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_assert_true(g_str_has_prefix(err->message, NAME ": "));
    g_clear_error(&err);
    g_assert_false(vhost_user_broken(vu));
    g_assert_true(vhost_user_get_vring_base(vu, 3, &base, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(base, ==, BACKEND_VRING_BASE);
    expect_msg(&be, GET_VRING_BASE, F_VERSION, 8);
    finish(&be, vu);
}

/* A backend without VHOST_USER_F_PROTOCOL_FEATURES gets no protocol
 * messages, and nothing that needs them. */
static void test_no_protocol_features(void)
{
    Backend be;
    g_autoptr(GError) err = NULL;
    VhostUser *vu = start(&be, VIRTIO_F_VERSION_1, 0);
    uint64_t features, num;

    g_assert_false(vhost_user_negotiate_protocol(vu, P_MQ, NULL, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);
    g_assert_true(vhost_user_get_features(vu, &features, &err));
    g_assert_false(vhost_user_negotiate_protocol(vu, P_MQ, NULL, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);
    g_assert_false(vhost_user_get_queue_num(vu, &num, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);
    g_assert_true(vhost_user_set_owner(vu, &err));
    expect_msg(&be, GET_FEATURES, F_VERSION, 0);
    expect_msg(&be, SET_OWNER, F_VERSION, 0);
    finish(&be, vu);
}

static void test_vrings(void)
{
    Backend be;
    g_autoptr(GError) err = NULL;
    VhostUser *vu = start(&be, VIRTIO_F_VERSION_1 | F_PROTOCOL, P_REPLY_ACK);
    int kick = eventfd(0, EFD_CLOEXEC), call = eventfd(0, EFD_CLOEXEC);
    const uint32_t ack = F_VERSION | F_NEED_REPLY;
    eventfd_t value;
    unsigned base;
    Msg *m;

    negotiate(&be, vu, P_REPLY_ACK);
    g_assert_true(vhost_user_set_vring_num(vu, 1, 256, &err));
    m = next_msg(&be, SET_VRING_NUM, ack, 8);
    g_assert_cmpmem(m->payload, 8, "\x01\0\0\0\0\x01\0\0", 8);
    msg_free(m);

    g_assert_true(vhost_user_set_vring_addr(vu, 1, 0x1122334455667788ULL,
                                            0x99aabbccddeeff00ULL,
                                            0x0123456789abcdefULL, &err));
    m = next_msg(&be, SET_VRING_ADDR, ack, 40);
    g_assert_cmpuint(le32_load(m->payload), ==, 1);
    g_assert_cmpuint(le32_load(m->payload + 4), ==, 0);
    g_assert_cmphex(le64_load(m->payload + 8), ==, 0x1122334455667788ULL);
    g_assert_cmphex(le64_load(m->payload + 16), ==, 0x99aabbccddeeff00ULL);
    g_assert_cmphex(le64_load(m->payload + 24), ==, 0x0123456789abcdefULL);
    g_assert_cmphex(le64_load(m->payload + 32), ==, 0);
    msg_free(m);

    g_assert_true(vhost_user_set_vring_base(vu, 1, 7, &err));
    m = next_msg(&be, SET_VRING_BASE, ack, 8);
    g_assert_cmpmem(m->payload, 8, "\x01\0\0\0\x07\0\0\0", 8);
    msg_free(m);

    /* Kick: the frontend signals, the backend's copy sees it. */
    g_assert_true(vhost_user_set_vring_kick(vu, 1, kick, &err));
    m = next_msg(&be, SET_VRING_KICK, ack, 8);
    g_assert_cmphex(le64_load(m->payload), ==, 1);
    g_assert_cmpuint(m->nfds, ==, 1);
    g_assert_cmpint(eventfd_write(kick, 5), ==, 0);
    g_assert_cmpint(eventfd_read(m->fds[0], &value), ==, 0);
    g_assert_cmpuint(value, ==, 5);
    msg_free(m);
    /* Call: the backend signals, the frontend's sees it. */
    g_assert_true(vhost_user_set_vring_call(vu, 2, call, &err));
    m = next_msg(&be, SET_VRING_CALL, ack, 8);
    g_assert_cmphex(le64_load(m->payload), ==, 2);
    g_assert_cmpuint(m->nfds, ==, 1);
    g_assert_cmpint(eventfd_write(m->fds[0], 3), ==, 0);
    g_assert_cmpint(eventfd_read(call, &value), ==, 0);
    g_assert_cmpuint(value, ==, 3);
    msg_free(m);
    /* No fd: bit 8, nothing in the ancillary data. */
    g_assert_true(vhost_user_set_vring_err(vu, 255, -1, &err));
    m = next_msg(&be, SET_VRING_ERR, ack, 8);
    g_assert_cmphex(le64_load(m->payload), ==, 0x1ff);
    g_assert_cmpuint(m->nfds, ==, 0);
    msg_free(m);
    g_assert_no_error(err);
    /* The index has 8 bits. */
    g_assert_false(vhost_user_set_vring_kick(vu, 256, kick, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);

    g_assert_true(vhost_user_set_features(vu, F_PROTOCOL, &err));
    expect_msg(&be, SET_FEATURES, ack, 8);
    g_assert_true(vhost_user_set_vring_enable(vu, 1, true, &err));
    m = next_msg(&be, SET_VRING_ENABLE, ack, 8);
    g_assert_cmpmem(m->payload, 8, "\x01\0\0\0\x01\0\0\0", 8);
    msg_free(m);

    g_assert_true(vhost_user_get_vring_base(vu, 1, &base, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(base, ==, BACKEND_VRING_BASE);
    m = next_msg(&be, GET_VRING_BASE, F_VERSION, 8);
    g_assert_cmpuint(le32_load(m->payload), ==, 1);
    msg_free(m);
    finish(&be, vu);
    close(kick);
    close(call);
}

/* SET_MEM_TABLE on shared guest RAM with the hole at hole_start: every
 * region's entry, and its fd mapped at mmap_offset shows what was written
 * through the region's host pointer (and the other way round). */
static void check_mem_table(uint64_t hole_start, unsigned regions)
{
    Backend be;
    g_autoptr(GError) err = NULL;
    g_autoptr(GuestMem) mem = guest_mem_new_backed(16 * MiB, hole_start,
                                                   GUEST_MEM_SHARED, &err);
    VhostUser *vu = start(&be, VIRTIO_F_VERSION_1 | F_PROTOCOL, P_REPLY_ACK);
    Msg *m;

    g_assert_no_error(err);
    g_assert_cmpuint(guest_mem_region_count(mem), ==, regions);
    for (unsigned i = 0; i < regions; i++) {
        const GuestMemRegion *r = guest_mem_region(mem, i);

        g_snprintf((char *)r->host + 0x1000, 32, "region %u, from vmspec", i);
    }
    negotiate(&be, vu, P_REPLY_ACK);
    g_assert_true(vhost_user_set_mem_table(vu, mem, &err));
    g_assert_no_error(err);
    m = next_msg(&be, SET_MEM_TABLE, F_VERSION | F_NEED_REPLY,
                 8 + 32 * regions);
    g_assert_cmpuint(le32_load(m->payload), ==, regions);
    g_assert_cmpuint(le32_load(m->payload + 4), ==, 0);
    g_assert_cmpuint(m->nfds, ==, regions);
    for (unsigned i = 0; i < regions; i++) {
        const GuestMemRegion *r = guest_mem_region(mem, i);
        const uint8_t *entry = m->payload + 8 + 32 * i;
        uint64_t offset = le64_load(entry + 24);
        g_autofree char *expect = g_strdup_printf("region %u, from vmspec",
                                                  i);
        uint8_t *map;

        g_assert_cmphex(le64_load(entry), ==, r->gpa);
        g_assert_cmphex(le64_load(entry + 8), ==, r->size);
        g_assert_cmphex(le64_load(entry + 16), ==, (uintptr_t)r->host);
        g_assert_cmphex(offset, ==, r->fd_offset);
        map = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED,
                   m->fds[i], offset);
        g_assert_true(map != MAP_FAILED);
        g_assert_cmpstr((char *)map + 0x1000, ==, expect);
        memcpy(map + 0x2000, "from the backend", 17);
        g_assert_cmpstr((char *)r->host + 0x2000, ==, "from the backend");
        munmap(map, r->size);
    }
    msg_free(m);
    finish(&be, vu);
}

static void test_mem_table(void)
{
    check_mem_table(4 * GiB, 1);
}

static void test_mem_table_split(void)
{
    check_mem_table(8 * MiB, 2);
}

static void test_mem_table_private(void)
{
    Backend be;
    g_autoptr(GError) err = NULL;
    g_autoptr(GuestMem) mem = guest_mem_new(16 * MiB, 4 * GiB, &err);
    VhostUser *vu = start(&be, VIRTIO_F_VERSION_1, 0);

    g_assert_no_error(err);
    g_assert_false(vhost_user_set_mem_table(vu, mem, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "not shared"));
    g_clear_error(&err);
    g_assert_false(vhost_user_broken(vu));
    /* Nothing went out: the next message the backend sees is this one. */
    g_assert_true(vhost_user_set_owner(vu, &err));
    expect_msg(&be, SET_OWNER, F_VERSION, 0);
    finish(&be, vu);
}

static void test_config(void)
{
    Backend be;
    g_autoptr(GError) err = NULL;
    VhostUser *vu = start(&be, VIRTIO_F_VERSION_1 | F_PROTOCOL,
                          P_REPLY_ACK | P_CONFIG);
    uint8_t buf[8];
    Msg *m;

    negotiate(&be, vu, P_REPLY_ACK | P_CONFIG);
    g_assert_true(vhost_user_get_config(vu, 4, buf, sizeof(buf), &err));
    g_assert_no_error(err);
    g_assert_cmpmem(buf, 8, "\x04\x05\x06\x07\x08\x09\x0a\x0b", 8);
    m = next_msg(&be, GET_CONFIG, F_VERSION, 12 + 8);
    g_assert_cmpmem(m->payload, 20, "\x04\0\0\0\x08\0\0\0\0\0\0\0"
                    "\0\0\0\0\0\0\0\0", 20);
    msg_free(m);

    g_assert_true(vhost_user_set_config(vu, 250, "tag", 3, &err));
    g_assert_no_error(err);
    m = next_msg(&be, SET_CONFIG, F_VERSION | F_NEED_REPLY, 12 + 3);
    g_assert_cmpmem(m->payload, 15, "\xfa\0\0\0\x03\0\0\0\0\0\0\0tag", 15);
    msg_free(m);

    /* 256 bytes at most, and at least one. */
    g_assert_false(vhost_user_get_config(vu, 250, buf, 7, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);
    g_assert_false(vhost_user_set_config(vu, UINT32_MAX, buf, 2, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);
    g_assert_false(vhost_user_get_config(vu, 0, buf, 0, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);

    /* An empty answer is the backend's refusal, not garbage. */
    be.misbehave_on = GET_CONFIG;
    be.misbehaviour = EMPTY;
    g_assert_false(vhost_user_get_config(vu, 0, buf, 4, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_IO);
    g_assert_cmpstr(err->message, ==, NAME ": the backend refused GET_CONFIG "
                    "(an empty answer)");
    g_assert_false(vhost_user_broken(vu));
    finish(&be, vu);
}

static gint64 now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

/* After a connection failure every call fails at once, naming why. */
static void check_broken(VhostUser *vu, const char *why)
{
    g_autoptr(GError) err = NULL;
    gint64 start_ms = now_ms();

    g_assert_true(vhost_user_broken(vu));
    g_assert_false(vhost_user_set_owner(vu, &err));
    g_assert_cmpint(now_ms() - start_ms, <, 100);
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_IO);
    g_assert_true(g_str_has_prefix(err->message, NAME ": the connection to "
                                   "the backend is broken"));
    g_assert_nonnull(strstr(err->message, why));
}

static void test_closed_mid_call(void)
{
    Backend be;
    g_autoptr(GError) err = NULL;
    VhostUser *vu = start(&be, VIRTIO_F_VERSION_1, 0);
    uint64_t features;

    be.misbehave_on = GET_FEATURES;
    be.misbehaviour = CLOSE;
    g_assert_false(vhost_user_get_features(vu, &features, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_IO);
    g_assert_cmpstr(err->message, ==, NAME ": the backend closed its socket "
                    "(waiting for the answer to GET_FEATURES)");
    check_broken(vu, "closed its socket");
    finish(&be, vu);
}

/* A backend that never answers: the call returns after the timeout. */
static void check_silent(bool with_ack)
{
    Backend be;
    g_autoptr(GError) err = NULL;
    VhostUser *vu = start(&be, VIRTIO_F_VERSION_1 | F_PROTOCOL, P_REPLY_ACK);
    const char *expect;
    gint64 start_ms;
    unsigned base;
    bool ok;

    negotiate(&be, vu, with_ack ? P_REPLY_ACK : 0);
    vhost_user_set_timeout(vu, 200);
    be.misbehaviour = SILENT;
    start_ms = now_ms();
    if (with_ack) {
        be.misbehave_on = SET_VRING_NUM;
        ok = vhost_user_set_vring_num(vu, 0, 64, &err);
        expect = NAME ": no reply to SET_VRING_NUM within 200 ms";
    } else {
        be.misbehave_on = GET_VRING_BASE;
        ok = vhost_user_get_vring_base(vu, 0, &base, &err);
        expect = NAME ": no reply to GET_VRING_BASE within 200 ms";
    }
    g_assert_false(ok);
    g_assert_cmpint(now_ms() - start_ms, >=, 195);
    g_assert_cmpint(now_ms() - start_ms, <, 1000);
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_IO);
    g_assert_cmpstr(err->message, ==, expect);
    check_broken(vu, "no reply");
    finish(&be, vu);
}

static void test_silent(void)
{
    check_silent(false);
}

static void test_silent_ack(void)
{
    check_silent(true);
}

/* A peer that never reads: sends stop at the deadline too. */
static void test_not_reading(void)
{
    int sv[2];
    g_autoptr(GError) err = NULL;
    g_autoptr(VhostUser) vu = NULL;
    gint64 start_ms;
    unsigned sent = 0;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                    ==, 0);
    vu = vhost_user_new_from_fd(sv[0], NAME);
    vhost_user_set_timeout(vu, 100);
    for (;;) {
        start_ms = now_ms();
        if (!vhost_user_set_vring_num(vu, 0, 64, &err)) {
            break;
        }
        g_assert_cmpuint(++sent, <, 1000000);
    }
    g_assert_cmpint(now_ms() - start_ms, <, 1000);
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_IO);
    g_assert_cmpstr(err->message, ==, NAME ": could not send SET_VRING_NUM "
                    "within 100 ms (the backend is not reading)");
    g_assert_true(vhost_user_broken(vu));
    close(sv[1]);
}

typedef struct {
    const char *path;
    Behaviour misbehaviour;
    const char *message;
} GarbageCase;

static const GarbageCase garbage_cases[] = {
    { "/vhost-user/garbage/wrong-request", WRONG_REQUEST,
      NAME ": answered GET_FEATURES with request 7" },
    { "/vhost-user/garbage/wrong-size", WRONG_SIZE,
      NAME ": answered GET_FEATURES with 4 payload bytes, expected 8" },
    { "/vhost-user/garbage/oversize", OVERSIZE,
      NAME ": answered GET_FEATURES with a 4097-byte payload (at most "
      "4096)" },
    { "/vhost-user/garbage/no-reply-flag", NO_REPLY_FLAG,
      NAME ": answered GET_FEATURES with flags 0x1 (not a version 1 "
      "reply)" },
    { "/vhost-user/garbage/version-2", VERSION_2,
      NAME ": answered GET_FEATURES with flags 0x6 (not a version 1 "
      "reply)" },
    { "/vhost-user/garbage/with-fd", WITH_FD,
      NAME ": sent file descriptors with its answer to GET_FEATURES" },
};

/* Each malformed answer to GET_FEATURES: a prompt error saying which,
 * the connection broken.  A descriptor that came along is closed (the
 * pipe has no reader left). */
static void test_garbage(const void *data)
{
    const GarbageCase *c = data;
    Backend be;
    g_autoptr(GError) err = NULL;
    VhostUser *vu = start(&be, VIRTIO_F_VERSION_1, 0);
    uint64_t features = 0xdead;
    int pipe_fds[2] = { -1, -1 };
    gint64 start_ms = now_ms();

    if (c->misbehaviour == WITH_FD) {
        g_assert_cmpint(pipe2(pipe_fds, O_CLOEXEC), ==, 0);
        be.fd_to_pass = pipe_fds[0];
    }
    be.misbehave_on = GET_FEATURES;
    be.misbehaviour = c->misbehaviour;
    g_assert_false(vhost_user_get_features(vu, &features, &err));
    g_assert_cmpint(now_ms() - start_ms, <, 1000);
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_IO);
    g_assert_cmpstr(err->message, ==, c->message);
    g_assert_cmphex(features, ==, 0xdead);
    check_broken(vu, c->message + strlen(NAME ": "));
    finish(&be, vu);
    if (pipe_fds[1] >= 0) {
        g_assert_cmpint(write(pipe_fds[1], "x", 1), ==, -1);
        g_assert_cmpint(errno, ==, EPIPE);
        close(pipe_fds[1]);
    }
}

static void test_wrong_index(void)
{
    Backend be;
    g_autoptr(GError) err = NULL;
    VhostUser *vu = start(&be, VIRTIO_F_VERSION_1, 0);
    unsigned base = 99;

    be.misbehave_on = GET_VRING_BASE;
    be.misbehaviour = WRONG_INDEX;
    g_assert_false(vhost_user_get_vring_base(vu, 2, &base, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_IO);
    g_assert_cmpstr(err->message, ==, NAME ": answered GET_VRING_BASE for "
                    "ring 3, asked for ring 2");
    g_assert_cmpuint(base, ==, 99);
    check_broken(vu, "ring 3");
    finish(&be, vu);
}

/* A non-zero ack fails that request only: the stream is still in step. */
static void test_nack(void)
{
    Backend be;
    g_autoptr(GError) err = NULL;
    VhostUser *vu = start(&be, VIRTIO_F_VERSION_1 | F_PROTOCOL, P_REPLY_ACK);

    negotiate(&be, vu, P_REPLY_ACK);
    be.misbehave_on = SET_VRING_BASE;
    be.misbehaviour = NACK;
    g_assert_false(vhost_user_set_vring_base(vu, 0, 0, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_IO);
    g_assert_cmpstr(err->message, ==, NAME ": the backend refused "
                    "SET_VRING_BASE (ack 1)");
    g_clear_error(&err);
    g_assert_false(vhost_user_broken(vu));
    g_assert_true(vhost_user_set_vring_num(vu, 0, 64, &err));
    g_assert_no_error(err);
    finish(&be, vu);
}

/* Bytes between calls: the backend is out of step. */
static void test_unsolicited(void)
{
    Backend be;
    g_autoptr(GError) err = NULL;
    VhostUser *vu = start(&be, VIRTIO_F_VERSION_1, 0);
    struct pollfd pfd = { .fd = vhost_user_fd(vu), .events = POLLIN };

    be.misbehave_on = SET_OWNER;
    be.misbehaviour = UNSOLICITED;
    g_assert_true(vhost_user_set_owner(vu, &err));
    /* What an epoll watcher would see. */
    g_assert_cmpint(poll(&pfd, 1, 2000), ==, 1);
    g_assert_false(vhost_user_set_vring_num(vu, 0, 64, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_IO);
    g_assert_cmpstr(err->message, ==, NAME ": the backend sent a message "
                    "nobody asked for (before SET_VRING_NUM)");
    check_broken(vu, "nobody asked");
    finish(&be, vu);
}

static void test_connect(void)
{
    g_autofree char *dir = g_dir_make_tmp("vhost-user-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autofree char *long_path = g_strnfill(200, 'x');
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    g_autoptr(GError) err = NULL;
    Backend be;
    VhostUser *vu;
    uint64_t features;
    int listener;

    g_assert_null(vhost_user_connect(path, NAME, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_IO);
    g_assert_nonnull(strstr(err->message, path));
    g_clear_error(&err);
    g_assert_null(vhost_user_connect(long_path, NAME, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);

    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
    g_assert_cmpint(bind(listener, (struct sockaddr *)&addr, sizeof(addr)),
                    ==, 0);
    g_assert_cmpint(listen(listener, 1), ==, 0);
    vu = vhost_user_connect(path, NAME, &err);
    g_assert_no_error(err);
    /* The backend thread serves the accepted end. */
    be = (Backend){ .fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC),
                        .features = VIRTIO_F_VERSION_1, .fd_to_pass = -1,
                        .received = g_async_queue_new_full(
                            (GDestroyNotify)msg_free) };
    g_assert_cmpint(be.fd, >=, 0);
    be.thread = g_thread_new("vhost-user-backend", backend_thread, &be);
    g_assert_true(vhost_user_get_features(vu, &features, &err));
    g_assert_no_error(err);
    g_assert_cmphex(features, ==, VIRTIO_F_VERSION_1);
    finish(&be, vu);
    close(listener);
    g_unlink(path);
    g_rmdir(dir);
}

static void remove_tree(const char *dir)
{
    const char *argv[] = { "rm", "-rf", dir, NULL };

    g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                 NULL, NULL, NULL, NULL);
}

/* The real backend: virtiofsd's handshake, memory table and one ring set
 * up, started and stopped. */
static void test_virtiofsd(void)
{
    g_autofree char *dir = NULL, *src = NULL, *sock = NULL, *log = NULL;
    g_autofree char *sock_arg = NULL, *src_arg = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(VhostUser) vu = NULL;
    g_autoptr(GuestMem) mem = NULL;
    uint64_t features, agreed, queues;
    gint64 give_up;
    unsigned base = 99;
    int kick, call, status;
    pid_t pid;

    if (geteuid() != 0) {
        g_test_skip("virtiofsd needs root");
        return;
    }
    if (!g_file_test(VIRTIOFSD, G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip("no " VIRTIOFSD);
        return;
    }
    dir = g_dir_make_tmp("vhost-user-virtiofsd-XXXXXX", NULL);
    src = g_build_filename(dir, "shared", NULL);
    sock = g_build_filename(dir, "s", NULL);
    log = g_build_filename(dir, "log", NULL);
    sock_arg = g_strdup_printf("--socket-path=%s", sock);
    src_arg = g_strdup_printf("source=%s", src);
    g_assert_cmpint(g_mkdir(src, 0755), ==, 0);
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
        execl(VIRTIOFSD, "virtiofsd", sock_arg, "-o", src_arg,
              "-o", "cache=none", (char *)NULL);
        _exit(127);
    }
    give_up = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (!(vu = vhost_user_connect(sock, NAME, &err)) &&
           g_get_monotonic_time() < give_up &&
           waitpid(pid, &status, WNOHANG) == 0) {
        g_clear_error(&err);
        g_usleep(20 * 1000);
    }
    g_assert_no_error(err);

    g_assert_true(vhost_user_set_owner(vu, &err));
    g_assert_true(vhost_user_get_features(vu, &features, &err));
    g_assert_no_error(err);
    g_test_message("virtiofsd features 0x%" G_GINT64_MODIFIER "x", features);
    g_assert_true(features & VIRTIO_F_VERSION_1);
    g_assert_true(features & F_PROTOCOL);
    g_assert_true(vhost_user_negotiate_protocol(vu, P_MQ | P_REPLY_ACK |
                                                P_CONFIG, &agreed, &err));
    g_assert_no_error(err);
    g_test_message("agreed protocol features 0x%" G_GINT64_MODIFIER "x",
                   agreed);
    if (agreed & P_MQ) {
        g_assert_true(vhost_user_get_queue_num(vu, &queues, &err));
        g_assert_no_error(err);
        g_assert_cmpuint(queues, >=, 1);
    }
    g_assert_true(vhost_user_set_features(vu, VIRTIO_F_VERSION_1 | F_PROTOCOL,
                                          &err));
    g_assert_no_error(err);

    /* With REPLY_ACK each ack says virtiofsd took it: mapped the memfd,
     * found the ring inside it. */
    mem = guest_mem_new_backed(16 * MiB, 4 * GiB, GUEST_MEM_SHARED, &err);
    g_assert_no_error(err);
    g_assert_true(vhost_user_set_mem_table(vu, mem, &err));
    g_assert_no_error(err);
    {
        uint64_t host = (uintptr_t)guest_mem_region(mem, 0)->host;

        kick = eventfd(0, EFD_CLOEXEC);
        call = eventfd(0, EFD_CLOEXEC);
        g_assert_true(vhost_user_set_vring_num(vu, 0, 64, &err) &&
                      vhost_user_set_vring_base(vu, 0, 0, &err) &&
                      vhost_user_set_vring_addr(vu, 0, host + 0x10000,
                                                host + 0x12000,
                                                host + 0x11000, &err) &&
                      vhost_user_set_vring_call(vu, 0, call, &err) &&
                      vhost_user_set_vring_kick(vu, 0, kick, &err) &&
                      vhost_user_set_vring_enable(vu, 0, true, &err));
        g_assert_no_error(err);
        g_assert_true(vhost_user_get_vring_base(vu, 0, &base, &err));
        g_assert_no_error(err);
        g_assert_cmpuint(base, ==, 0);
        close(kick);
        close(call);
    }
    g_assert_false(vhost_user_broken(vu));

    kill(pid, SIGTERM);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    remove_tree(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    signal(SIGPIPE, SIG_IGN);   /* the closed-pipe check */
    g_test_add_func("/vhost-user/handshake", test_handshake);
    g_test_add_func("/vhost-user/no-reply-ack", test_no_reply_ack);
    g_test_add_func("/vhost-user/no-protocol-features",
                    test_no_protocol_features);
    g_test_add_func("/vhost-user/vrings", test_vrings);
    g_test_add_func("/vhost-user/mem-table", test_mem_table);
    g_test_add_func("/vhost-user/mem-table-split", test_mem_table_split);
    g_test_add_func("/vhost-user/mem-table-private", test_mem_table_private);
    g_test_add_func("/vhost-user/config", test_config);
    g_test_add_func("/vhost-user/closed-mid-call", test_closed_mid_call);
    g_test_add_func("/vhost-user/silent", test_silent);
    g_test_add_func("/vhost-user/silent-ack", test_silent_ack);
    g_test_add_func("/vhost-user/not-reading", test_not_reading);
    for (size_t i = 0; i < G_N_ELEMENTS(garbage_cases); i++) {
        g_test_add_data_func(garbage_cases[i].path, &garbage_cases[i],
                             test_garbage);
    }
    g_test_add_func("/vhost-user/wrong-index", test_wrong_index);
    g_test_add_func("/vhost-user/nack", test_nack);
    g_test_add_func("/vhost-user/unsolicited", test_unsolicited);
    g_test_add_func("/vhost-user/connect", test_connect);
    g_test_add_func("/vhost-user/virtiofsd", test_virtiofsd);
    return g_test_run();
}
