/*
 * virtio-vsock through the virtio-mmio transport, driven as a guest driver
 * would (virtio 1.2, 5.10), against real unix sockets on the host side
 * (Firecracker's protocol: NAME.vsock with "CONNECT PORT\n", NAME.vsock_P
 * for the guest's connections): connections both ways, data both ways,
 * refusals, credit (5.10.6.3) and what a hostile driver's packets do.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "machine/byteorder/le.h"
#include "machine/qom/module.h"
#include "machine/virtio/vsock-packet.h"
#include "tests/unit/virtio-test-machine.h"

#define F_VERSION_1     (1ULL << VIRTIO_F_VERSION_1)
#define QSIZE           64
#define RXQ             0
#define TXQ             1
#define EVQ             2
#define RX_BUFS         32
#define RX_BUF_GPA      0x100000
#define RX_BUF_STRIDE   0x2000
#define RX_BUF_LEN      (VSOCK_HDR_SIZE + 4096)
#define TX_HDR_GPA      0x200000
#define TX_DATA_GPA     0x210000
#define GUEST_CID       3
#define HOST_PORT_FIRST (1u << 30)
#define BUF_ALLOC       (256 * 1024)

typedef struct {
    VirtioTestMachine *m;
    VirtioDevice *vdev;
    uint8_t *ram;
    char *dir;
    char *prefix;
    uint16_t avail[3];      /* next avail idx per queue */
    uint16_t used_seen[3];
} Drv;

static uint64_t q_desc(unsigned q) { return 0x10000 * (q + 1); }
static uint64_t q_avail(unsigned q) { return q_desc(q) + 0x1000; }
static uint64_t q_used(unsigned q) { return q_desc(q) + 0x2000; }

static void put_desc(Drv *d, unsigned q, unsigned i, uint64_t addr,
                     uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t *p = d->ram + q_desc(q) + 16 * i;

    le64_store(p, addr);
    le32_store(p + 8, len);
    le16_store(p + 12, flags);
    le16_store(p + 14, next);
}

static void avail_add(Drv *d, unsigned q, uint16_t head)
{
    le16_store(d->ram + q_avail(q) + 4 + 2 * (d->avail[q] % QSIZE), head);
    d->avail[q]++;
    __atomic_store_n((uint16_t *)(d->ram + q_avail(q) + 2), d->avail[q],
                     __ATOMIC_RELEASE);
}

static uint16_t used_idx(Drv *d, unsigned q)
{
    return __atomic_load_n((uint16_t *)(d->ram + q_used(q) + 2),
                           __ATOMIC_ACQUIRE);
}

static uint32_t status(Drv *d)
{
    return vt_read(d->m, d->vdev, VT_STATUS);
}

/* Negotiates, sets up the three queues, posts every rx buffer. */
static void drv_start(Drv *d)
{
    memset(d->avail, 0, sizeof(d->avail));
    memset(d->used_seen, 0, sizeof(d->used_seen));
    memset(d->ram + q_desc(0), 0, 0x30000);
    g_assert_true(vt_negotiate(d->m, d->vdev, F_VERSION_1 | 1));
    for (unsigned q = 0; q < 3; q++) {
        g_assert_true(vt_queue_setup(d->m, d->vdev, q, QSIZE, q_desc(q),
                                     q_avail(q), q_used(q)));
    }
    vt_driver_ok(d->m, d->vdev);
    for (unsigned i = 0; i < RX_BUFS; i++) {
        put_desc(d, RXQ, i, RX_BUF_GPA + i * RX_BUF_STRIDE, RX_BUF_LEN, 2, 0);
        avail_add(d, RXQ, i);
    }
    vt_write(d->m, d->vdev, VT_QUEUE_NOTIFY, RXQ);
}

static Drv *drv_new(void)
{
    Drv *d = g_new0(Drv, 1);
    GError *err = NULL;

    d->dir = g_dir_make_tmp("vmspec-vsock-XXXXXX", &err);
    g_assert_no_error(err);
    d->prefix = g_build_filename(d->dir, "vm", NULL);
    d->m = virtio_test_machine_new(false);
    d->m->parent_obj.runtime_prefix = g_strdup(d->prefix);
    d->vdev = vt_add(d->m, "virtio-vsock", "vsock0");
    d->ram = vt_ram(d->m);
    drv_start(d);
    return d;
}

static void drv_free(Drv *d)
{
    g_autofree char *sock = g_strdup_printf("%s.vsock", d->prefix);

    object_unref(OBJECT(d->m));
    /* The device removed its socket. */
    g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS));
    rmdir(d->dir);
    g_free(d->prefix);
    g_free(d->dir);
    g_free(d);
}

/* Sends one packet on tx and waits for the device to use it.  payload may
 * be NULL (zeros). */
static void tx_send(Drv *d, VsockHdr h, const void *payload)
{
    uint16_t want;

    vsock_hdr_encode(&h, d->ram + TX_HDR_GPA);
    if (payload) {
        memcpy(d->ram + TX_DATA_GPA, payload, h.len);
    } else {
        memset(d->ram + TX_DATA_GPA, 0, h.len);
    }
    put_desc(d, TXQ, 0, TX_HDR_GPA, VSOCK_HDR_SIZE, h.len ? 1 : 0, 1);
    put_desc(d, TXQ, 1, TX_DATA_GPA, h.len, 0, 0);
    avail_add(d, TXQ, 0);
    want = d->avail[TXQ];
    vt_write(d->m, d->vdev, VT_QUEUE_NOTIFY, TXQ);
    for (int i = 0; i < 5000 && used_idx(d, TXQ) != want; i++) {
        g_usleep(1000);
    }
    g_assert_cmpuint(used_idx(d, TXQ), ==, want);
}

static VsockHdr guest_hdr(uint16_t op, uint32_t src_port, uint32_t dst_port)
{
    return (VsockHdr){
        .src_cid = GUEST_CID, .dst_cid = VSOCK_HOST_CID,
        .src_port = src_port, .dst_port = dst_port,
        .type = VSOCK_TYPE_STREAM, .op = op, .buf_alloc = BUF_ALLOC,
    };
}

/* The next packet the device put on rx (within 5 s), its payload copied
 * into payload (at least 4096 bytes, or NULL); the buffer is posted
 * again.  False when none came. */
static bool rx_next(Drv *d, VsockHdr *h, uint8_t *payload)
{
    uint8_t *used;
    uint32_t id, len;

    for (int i = 0; i < 5000 && used_idx(d, RXQ) == d->used_seen[RXQ]; i++) {
        g_usleep(1000);
    }
    if (used_idx(d, RXQ) == d->used_seen[RXQ]) {
        return false;
    }
    used = d->ram + q_used(RXQ) + 4 + 8 * (d->used_seen[RXQ] % QSIZE);
    d->used_seen[RXQ]++;
    id = le32_load(used);
    len = le32_load(used + 4);
    g_assert_cmpuint(id, <, RX_BUFS);
    g_assert_cmpuint(len, >=, VSOCK_HDR_SIZE);
    g_assert_cmpuint(len, <=, RX_BUF_LEN);
    vsock_hdr_decode(d->ram + RX_BUF_GPA + id * RX_BUF_STRIDE, h);
    g_assert_cmpuint(h->len, ==, len - VSOCK_HDR_SIZE);
    if (payload) {
        memcpy(payload, d->ram + RX_BUF_GPA + id * RX_BUF_STRIDE +
               VSOCK_HDR_SIZE, h->len);
    }
    avail_add(d, RXQ, (uint16_t)id);
    vt_write(d->m, d->vdev, VT_QUEUE_NOTIFY, RXQ);
    return true;
}

/* True when no packet arrives on rx within ms. */
static bool rx_quiet(Drv *d, int ms)
{
    g_usleep(ms * 1000);
    return used_idx(d, RXQ) == d->used_seen[RXQ];
}

static int unix_connect(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int unix_listen(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(fd, 4), ==, 0);
    return fd;
}

/* Reads exactly len bytes (within 5 s); returns how many came. */
static size_t read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;

        if (poll(&p, 1, 5000) <= 0) {
            break;
        }
        n = read(fd, (uint8_t *)buf + got, len - got);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    return got;
}

/* A host client's CONNECT, answered by the guest; returns the client's
 * fd and the host port the guest saw in *host_port. */
static int host_connect(Drv *d, uint32_t guest_port, uint32_t *host_port)
{
    g_autofree char *sock = g_strdup_printf("%s.vsock", d->prefix);
    g_autofree char *line = g_strdup_printf("CONNECT %u\n", guest_port);
    g_autofree char *ok = NULL;
    char reply[32] = { 0 };
    int fd = unix_connect(sock);
    VsockHdr h;

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, line, strlen(line)), ==, (ssize_t)strlen(line));
    g_assert_true(rx_next(d, &h, NULL));
    g_assert_cmpuint(h.op, ==, VSOCK_OP_REQUEST);
    g_assert_cmpuint(h.src_cid, ==, VSOCK_HOST_CID);
    g_assert_cmpuint(h.dst_cid, ==, GUEST_CID);
    g_assert_cmpuint(h.dst_port, ==, guest_port);
    g_assert_cmpuint(h.src_port, >=, HOST_PORT_FIRST);
    g_assert_cmpuint(h.buf_alloc, ==, BUF_ALLOC);
    tx_send(d, guest_hdr(VSOCK_OP_RESPONSE, guest_port, h.src_port), NULL);
    ok = g_strdup_printf("OK %u\n", h.src_port);
    g_assert_cmpuint(read_full(fd, reply, strlen(ok)), ==, strlen(ok));
    g_assert_cmpstr(reply, ==, ok);
    *host_port = h.src_port;
    return fd;
}

static void test_host_to_guest(void)
{
    Drv *d = drv_new();
    uint8_t buf[4096];
    uint32_t hp;
    int fd = host_connect(d, 5000, &hp);
    VsockHdr h, rw = guest_hdr(VSOCK_OP_RW, 5000, hp);
    char got[8] = { 0 };

    g_assert_cmpuint(vt_read(d->m, d->vdev, VT_DEVICE_ID), ==, 19);
    g_assert_cmpuint(vt_read(d->m, d->vdev, VT_CONFIG), ==, GUEST_CID);
    g_assert_cmpuint(vt_read(d->m, d->vdev, VT_CONFIG + 4), ==, 0);
    /* Host -> guest. */
    g_assert_cmpint(write(fd, "hello", 5), ==, 5);
    g_assert_true(rx_next(d, &h, buf));
    g_assert_cmpuint(h.op, ==, VSOCK_OP_RW);
    g_assert_cmpuint(h.len, ==, 5);
    g_assert_cmpuint(h.src_port, ==, hp);
    g_assert_cmpuint(h.dst_port, ==, 5000);
    g_assert_true(memcmp(buf, "hello", 5) == 0);
    /* Guest -> host. */
    rw.len = 5;
    rw.fwd_cnt = 5;
    tx_send(d, rw, "world");
    g_assert_cmpuint(read_full(fd, got, 5), ==, 5);
    g_assert_cmpstr(got, ==, "world");
    /* The host half-closes: the guest hears SHUTDOWN(SEND). */
    shutdown(fd, SHUT_WR);
    g_assert_true(rx_next(d, &h, NULL));
    g_assert_cmpuint(h.op, ==, VSOCK_OP_SHUTDOWN);
    g_assert_cmpuint(h.flags, ==, VSOCK_SHUTDOWN_SEND);
    /* The guest closes: both flags; the device confirms with RST and the
     * host reads end of file. */
    rw = guest_hdr(VSOCK_OP_SHUTDOWN, 5000, hp);
    rw.flags = VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND;
    tx_send(d, rw, NULL);
    g_assert_true(rx_next(d, &h, NULL));
    g_assert_cmpuint(h.op, ==, VSOCK_OP_RST);
    g_assert_cmpuint(read_full(fd, got, 1), ==, 0);
    close(fd);
    g_assert_cmpuint(status(d) & VIRTIO_STATUS_NEEDS_RESET, ==, 0);
    drv_free(d);
}

/* Host -> guest stops at the guest's credit and goes on when the guest
 * says it consumed: 64 KiB through a guest buffer of 8 KiB. */
static void test_guest_credit(void)
{
    Drv *d = drv_new();
    g_autofree char *sock = g_strdup_printf("%s.vsock", d->prefix);
    g_autofree uint8_t *sent = g_malloc(64 * 1024);
    g_autofree uint8_t *got = g_malloc(64 * 1024);
    int fd = unix_connect(sock);
    uint8_t buf[4096];
    size_t have = 0;
    VsockHdr h, resp;
    char ok[32] = { 0 };

    g_assert_cmpint(write(fd, "CONNECT 5000\n", 13), ==, 13);
    g_assert_true(rx_next(d, &h, NULL));
    resp = guest_hdr(VSOCK_OP_RESPONSE, 5000, h.src_port);
    resp.buf_alloc = 8192;
    tx_send(d, resp, NULL);
    read_full(fd, ok, strlen("OK 1073741824\n"));
    for (size_t i = 0; i < 64 * 1024; i++) {
        sent[i] = (uint8_t)(i * 7);
    }
    g_assert_cmpint(write(fd, sent, 64 * 1024), ==, 64 * 1024);
    while (have < 64 * 1024) {
        size_t window = have + 8192;

        while (have < window) {
            g_assert_true(rx_next(d, &h, buf));
            g_assert_cmpuint(h.op, ==, VSOCK_OP_RW);
            g_assert_cmpuint(have + h.len, <=, window);
            memcpy(got + have, buf, h.len);
            have += h.len;
        }
        /* Nothing beyond the credit. */
        g_assert_true(rx_quiet(d, 30));
        resp = guest_hdr(VSOCK_OP_CREDIT_UPDATE, 5000, h.src_port);
        resp.buf_alloc = 8192;
        resp.fwd_cnt = (uint32_t)have;
        tx_send(d, resp, NULL);
    }
    g_assert_true(memcmp(sent, got, 64 * 1024) == 0);
    close(fd);
    drv_free(d);
}

static void test_host_refused(void)
{
    Drv *d = drv_new();
    g_autofree char *sock = g_strdup_printf("%s.vsock", d->prefix);
    int fd = unix_connect(sock);
    VsockHdr h;
    char c;

    /* Nobody listens on the guest's port 6000: it answers RST, the host
     * client gets end of file without "OK". */
    g_assert_cmpint(write(fd, "CONNECT 6000\n", 13), ==, 13);
    g_assert_true(rx_next(d, &h, NULL));
    g_assert_cmpuint(h.op, ==, VSOCK_OP_REQUEST);
    tx_send(d, guest_hdr(VSOCK_OP_RST, 6000, h.src_port), NULL);
    g_assert_cmpuint(read_full(fd, &c, 1), ==, 0);
    close(fd);
    /* A line that is not a CONNECT is closed at once. */
    fd = unix_connect(sock);
    g_assert_cmpint(write(fd, "HELLO 1\n", 8), ==, 8);
    g_assert_cmpuint(read_full(fd, &c, 1), ==, 0);
    close(fd);
    fd = unix_connect(sock);
    g_assert_cmpint(write(fd, "CONNECT 99999999999\n", 20), ==, 20);
    g_assert_cmpuint(read_full(fd, &c, 1), ==, 0);
    close(fd);
    g_assert_true(rx_quiet(d, 50));
    drv_free(d);
}

static void test_guest_to_host(void)
{
    Drv *d = drv_new();
    g_autofree char *path = g_strdup_printf("%s.vsock_7000", d->prefix);
    int lfd = unix_listen(path), fd;
    VsockHdr h, rw;
    uint8_t buf[4096];
    char got[4] = { 0 };

    tx_send(d, guest_hdr(VSOCK_OP_REQUEST, 1234, 7000), NULL);
    g_assert_true(rx_next(d, &h, NULL));
    g_assert_cmpuint(h.op, ==, VSOCK_OP_RESPONSE);
    g_assert_cmpuint(h.src_port, ==, 7000);
    g_assert_cmpuint(h.dst_port, ==, 1234);
    fd = accept(lfd, NULL, NULL);
    g_assert_cmpint(fd, >=, 0);
    rw = guest_hdr(VSOCK_OP_RW, 1234, 7000);
    rw.len = 3;
    tx_send(d, rw, "abc");
    g_assert_cmpuint(read_full(fd, got, 3), ==, 3);
    g_assert_cmpstr(got, ==, "abc");
    g_assert_cmpint(write(fd, "xyz", 3), ==, 3);
    g_assert_true(rx_next(d, &h, buf));
    g_assert_cmpuint(h.op, ==, VSOCK_OP_RW);
    g_assert_true(h.len == 3 && memcmp(buf, "xyz", 3) == 0);
    /* The host closes: SHUTDOWN(SEND) to the guest. */
    close(fd);
    g_assert_true(rx_next(d, &h, NULL));
    g_assert_cmpuint(h.op, ==, VSOCK_OP_SHUTDOWN);
    /* Nobody at port 7001: RST at once. */
    tx_send(d, guest_hdr(VSOCK_OP_REQUEST, 1235, 7001), NULL);
    g_assert_true(rx_next(d, &h, NULL));
    g_assert_cmpuint(h.op, ==, VSOCK_OP_RST);
    g_assert_cmpuint(h.dst_port, ==, 1235);
    close(lfd);
    unlink(path);
    drv_free(d);
}

/* The host writes and hangs up before the guest reads: the guest still
 * gets the bytes, then SHUTDOWN. */
static void test_host_hangup(void)
{
    Drv *d = drv_new();
    g_autofree char *path = g_strdup_printf("%s.vsock_7200", d->prefix);
    int lfd = unix_listen(path), fd;
    uint8_t buf[4096];
    VsockHdr h, req = guest_hdr(VSOCK_OP_REQUEST, 3000, 7200);

    /* No room in the guest yet, so the device cannot read when the
     * socket hangs up; the credit comes after. */
    req.buf_alloc = 0;
    tx_send(d, req, NULL);
    g_assert_true(rx_next(d, &h, NULL));
    g_assert_cmpuint(h.op, ==, VSOCK_OP_RESPONSE);
    fd = accept(lfd, NULL, NULL);
    g_assert_cmpint(write(fd, "bye", 3), ==, 3);
    close(fd);
    g_assert_true(rx_quiet(d, 50));
    req = guest_hdr(VSOCK_OP_CREDIT_UPDATE, 3000, 7200);
    tx_send(d, req, NULL);
    g_assert_true(rx_next(d, &h, buf));
    g_assert_cmpuint(h.op, ==, VSOCK_OP_RW);
    g_assert_true(h.len == 3 && memcmp(buf, "bye", 3) == 0);
    g_assert_true(rx_next(d, &h, NULL));
    g_assert_cmpuint(h.op, ==, VSOCK_OP_SHUTDOWN);
    g_assert_cmpuint(h.flags, ==, VSOCK_SHUTDOWN_SEND);
    close(lfd);
    unlink(path);
    drv_free(d);
}

/* The host does not read: the guest may send its credit and no more. */
static void test_credit(void)
{
    Drv *d = drv_new();
    g_autofree char *path = g_strdup_printf("%s.vsock_7100", d->prefix);
    g_autofree uint8_t *chunk = g_malloc(64 * 1024);
    int lfd = unix_listen(path), fd;
    VsockHdr h, rw;
    size_t total = 0, got;

    tx_send(d, guest_hdr(VSOCK_OP_REQUEST, 2000, 7100), NULL);
    g_assert_true(rx_next(d, &h, NULL));
    g_assert_cmpuint(h.op, ==, VSOCK_OP_RESPONSE);
    g_assert_cmpuint(h.buf_alloc, ==, BUF_ALLOC);
    fd = accept(lfd, NULL, NULL);
    memset(chunk, 'v', 64 * 1024);
    rw = guest_hdr(VSOCK_OP_RW, 2000, 7100);
    rw.len = 64 * 1024;
    /* 4 x 64 KiB is the credit; the fifth packet breaks it. */
    for (int i = 0; i < 4; i++) {
        tx_send(d, rw, chunk);
        total += rw.len;
    }
    g_assert_cmpuint(status(d) & VIRTIO_STATUS_NEEDS_RESET, ==, 0);
    /* Ignoring the credit updates (what the socket took), the guest goes
     * on: once the device would buffer more than buf_alloc, it resets the
     * connection rather than hold more. */
    h.op = VSOCK_OP_INVALID;
    for (int i = 0; i < 8 && h.op != VSOCK_OP_RST; i++) {
        tx_send(d, rw, chunk);
        total += rw.len;
        while (h.op != VSOCK_OP_RST && !rx_quiet(d, 20)) {
            g_assert_true(rx_next(d, &h, NULL));
            g_assert_true(h.op == VSOCK_OP_CREDIT_UPDATE ||
                          h.op == VSOCK_OP_RST);
        }
    }
    g_assert_cmpuint(h.op, ==, VSOCK_OP_RST);
    g_assert_cmpuint(total, >, BUF_ALLOC);
    /* The host reads what its socket took, then end of file. */
    got = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, 64 * 1024);

        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    g_assert_cmpuint(got, >, 0);
    g_assert_cmpuint(got, <, total);
    close(fd);
    close(lfd);
    unlink(path);
    drv_free(d);
}

/* Well-formed nonsense gets RSTs; malformed chains NEEDS_RESET, and a
 * reset brings the device back. */
static void test_hostile(void)
{
    Drv *d = drv_new();
    VsockHdr h, bad;
    uint32_t hp;
    int fd;

    bad = guest_hdr(99, 1, 2);
    tx_send(d, bad, NULL);
    g_assert_true(rx_next(d, &h, NULL));
    g_assert_cmpuint(h.op, ==, VSOCK_OP_RST);
    bad = guest_hdr(VSOCK_OP_REQUEST, 1, 2);
    bad.type = 7;
    tx_send(d, bad, NULL);
    g_assert_true(rx_next(d, &h, NULL));
    g_assert_cmpuint(h.op, ==, VSOCK_OP_RST);
    bad = guest_hdr(VSOCK_OP_RW, 1, 2);     /* data for no connection */
    bad.len = 100;
    tx_send(d, bad, NULL);
    g_assert_true(rx_next(d, &h, NULL));
    g_assert_cmpuint(h.op, ==, VSOCK_OP_RST);
    bad = guest_hdr(VSOCK_OP_REQUEST, 1, 2);
    bad.src_cid = 77;                       /* forged: dropped */
    tx_send(d, bad, NULL);
    bad = guest_hdr(VSOCK_OP_RST, 1, 2);    /* RST to nothing: silence */
    tx_send(d, bad, NULL);
    g_assert_true(rx_quiet(d, 50));
    g_assert_cmpuint(status(d) & VIRTIO_STATUS_NEEDS_RESET, ==, 0);

    /* A chain shorter than a header. */
    put_desc(d, TXQ, 0, TX_HDR_GPA, 10, 0, 0);
    avail_add(d, TXQ, 0);
    vt_write(d->m, d->vdev, VT_QUEUE_NOTIFY, TXQ);
    for (int i = 0; i < 5000 && !(status(d) & VIRTIO_STATUS_NEEDS_RESET);
         i++) {
        g_usleep(1000);
    }
    g_assert_cmpuint(status(d) & VIRTIO_STATUS_NEEDS_RESET, !=, 0);

    /* Reset and start over: the device works again; then a header whose
     * len claims more than the chain holds. */
    vt_write(d->m, d->vdev, VT_STATUS, 0);
    drv_start(d);
    fd = host_connect(d, 5000, &hp);
    bad = guest_hdr(VSOCK_OP_RW, 5000, hp);
    bad.len = 1 << 20;
    vsock_hdr_encode(&bad, d->ram + TX_HDR_GPA);
    put_desc(d, TXQ, 0, TX_HDR_GPA, VSOCK_HDR_SIZE, 1, 1);
    put_desc(d, TXQ, 1, TX_DATA_GPA, 16, 0, 0);
    avail_add(d, TXQ, 0);
    vt_write(d->m, d->vdev, VT_QUEUE_NOTIFY, TXQ);
    for (int i = 0; i < 5000 && !(status(d) & VIRTIO_STATUS_NEEDS_RESET);
         i++) {
        g_usleep(1000);
    }
    g_assert_cmpuint(status(d) & VIRTIO_STATUS_NEEDS_RESET, !=, 0);
    /* The reset closes every connection. */
    vt_write(d->m, d->vdev, VT_STATUS, 0);
    {
        char c;

        g_assert_cmpuint(read_full(fd, &c, 1), ==, 0);
    }
    close(fd);
    drv_free(d);
}

/* Host clients beyond what the device serves are closed, and one that
 * never sends its line goes after the handshake timeout. */
static void test_host_limits(void)
{
    Drv *d = drv_new();
    g_autofree char *sock = g_strdup_printf("%s.vsock", d->prefix);
    int fds[300];
    int refused = 0;

    for (int i = 0; i < 300; i++) {
        fds[i] = unix_connect(sock);
        g_assert_cmpint(fds[i], >=, 0);
        g_usleep(200);
    }
    g_usleep(200 * 1000);
    for (int i = 0; i < 300; i++) {
        struct pollfd p = { .fd = fds[i], .events = POLLIN };

        refused += poll(&p, 1, 0) == 1;
    }
    g_assert_cmpint(refused, >=, 300 - 256);
    g_assert_cmpint(refused, <, 300);
    /* The rest time out (5 s) without a CONNECT line. */
    for (int i = 0; i < 300; i++) {
        char c;

        g_assert_cmpuint(read_full(fds[i], &c, 1), ==, 0);
        close(fds[i]);
    }
    drv_free(d);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_true(module_call_init(MODULE_INIT_QOM, NULL));
    g_test_add_func("/virtio-vsock/host-to-guest", test_host_to_guest);
    g_test_add_func("/virtio-vsock/guest-credit", test_guest_credit);
    g_test_add_func("/virtio-vsock/host-refused", test_host_refused);
    g_test_add_func("/virtio-vsock/guest-to-host", test_guest_to_host);
    g_test_add_func("/virtio-vsock/host-hangup", test_host_hangup);
    g_test_add_func("/virtio-vsock/credit", test_credit);
    g_test_add_func("/virtio-vsock/hostile", test_hostile);
    g_test_add_func("/virtio-vsock/host-limits", test_host_limits);
    return g_test_run();
}
