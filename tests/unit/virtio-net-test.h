/*
 * Shared by the virtio-net unit tests (test-virtio-net.c: identity,
 * transmit, tap lifetime; test-virtio-net-rx.c: receive): a test machine
 * with one virtio-net on a fresh tap, the test playing the driver (rings
 * in guest RAM, register writes) and a packet socket on the tap playing
 * the host's network.
 */
#ifndef VMSPEC_TESTS_VIRTIO_NET_TEST_H
#define VMSPEC_TESTS_VIRTIO_NET_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>

#include "machine/byteorder/le.h"
#include "machine/qom/module.h"
#include "tests/unit/virtio-test-machine.h"

/* Guest RAM layout of the test driver. */
#define QSIZE       16
#define RX_DESC     0x1000
#define RX_AVAIL    0x2000
#define RX_USED     0x3000
#define TX_DESC     0x4000
#define TX_AVAIL    0x5000
#define TX_USED     0x6000
#define RX_BUF      0x10000     /* rx descriptor i's buffer: + i * 4 KiB */
#define TX_HDR      0x80000
#define TX_FRAME    0x81000

#define HDR_LEN     12          /* struct virtio_net_hdr_v1 */
#define ETHERTYPE   0x88b5      /* IEEE local experimental */
#define TEST_MAC    "\x52\x54\x00\x12\x34\x56"

#define F_VERSION_1     (1ULL << VIRTIO_F_VERSION_1)
#define F_CSUM          (1ULL << 0)
#define F_GUEST_CSUM    (1ULL << 1)
#define F_MAC           (1ULL << 5)
#define F_GUEST_TSO4    (1ULL << 7)
#define F_GUEST_TSO6    (1ULL << 8)
#define F_HOST_TSO4     (1ULL << 11)
#define F_HOST_TSO6     (1ULL << 12)
#define F_MRG_RXBUF     (1ULL << 15)
#define F_STATUS        (1ULL << 16)

typedef struct {
    VirtioTestMachine *m;
    VirtioDevice *vdev;
    uint8_t *ram;
    char *ifname;
    int sock;                   /* AF_PACKET on the tap */
    uint16_t rx_avail, tx_avail;
    unsigned rx_desc;           /* next rx descriptor index */
} Net;

static inline char *ifname_new(char tag)
{
    return g_strdup_printf("vmsn%u%c", (unsigned)getpid(), tag);
}

static inline int tun_persist(const char *name, bool persist)
{
    struct ifreq ifr;
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    int rc = -1;

    if (fd < 0) {
        return -errno;
    }
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    g_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
    if (ioctl(fd, TUNSETIFF, &ifr) == 0 &&
        ioctl(fd, TUNSETPERSIST, (unsigned long)persist) == 0) {
        rc = 0;
    } else {
        rc = -errno;
    }
    close(fd);
    return rc;
}

/* A quiet persistent tap: no IPv6 (no router solicitations, no MLD), so
 * only the test's frames travel on it; link up. */
static inline void quiet_tap_up(const char *name)
{
    g_autofree char *path =
        g_strdup_printf("/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
    struct ifreq ifr;
    int sock, fd;

    fd = open(path, O_WRONLY | O_CLOEXEC);      /* absent without IPv6 */
    if (fd >= 0) {
        g_assert_cmpint(write(fd, "1", 1), ==, 1);
        close(fd);
    }
    sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(sock, >=, 0);
    memset(&ifr, 0, sizeof(ifr));
    g_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
    g_assert_cmpint(ioctl(sock, SIOCGIFFLAGS, &ifr), ==, 0);
    ifr.ifr_flags |= IFF_UP;
    g_assert_cmpint(ioctl(sock, SIOCSIFFLAGS, &ifr), ==, 0);
    close(sock);
}

/* Why taps can't be made here (to skip), or NULL. */
static inline char *probe_taps(void)
{
    g_autofree char *name = ifname_new('x');
    int rc = tun_persist(name, true);

    if (rc < 0) {
        return g_strdup_printf("cannot create taps here: %s",
                               g_strerror(-rc));
    }
    tun_persist(name, false);
    return NULL;
}

static inline void net_setup(Net *f, gconstpointer data)
{
    GError *err = NULL;
    struct sockaddr_ll sll;
    Object *dev;

    memset(f, 0, sizeof(*f));
    if (data) {
        g_test_skip(data);
        return;
    }
    f->ifname = ifname_new('t');
    g_assert_cmpint(tun_persist(f->ifname, true), ==, 0);
    quiet_tap_up(f->ifname);

    f->m = virtio_test_machine_new(false);
    f->ram = vt_ram(f->m);
    dev = object_new("virtio-net");
    g_assert_true(object_property_set_str(dev, "id", "net0", &err));
    g_assert_true(object_property_set_str(dev, "tap", f->ifname, &err));
    g_assert_true(object_property_set_str(dev, "mac", "52:54:00:12:34:56",
                                          &err));
    g_assert_true(object_add_child(OBJECT(f->m), "net0", dev, &err));
    object_unref(dev);
    g_assert_true(device_realize(DEVICE(dev), &err));
    g_assert_no_error(err);
    f->vdev = VIRTIO_DEVICE(dev);

    f->sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    g_assert_cmpint(f->sock, >=, 0);
    /* Straight to the tap's driver: its qdisc only starts once the link
     * watcher has seen the carrier (up to a second later), and frames sent
     * before are silently dropped. */
    g_assert_cmpint(setsockopt(f->sock, SOL_PACKET, PACKET_QDISC_BYPASS,
                               &(int){ 1 }, sizeof(int)), ==, 0);
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = (int)if_nametoindex(f->ifname);
    g_assert_cmpint(bind(f->sock, (struct sockaddr *)&sll, sizeof(sll)), ==,
                    0);
}

static inline void net_teardown(Net *f, gconstpointer data)
{
    if (!f->ifname) {
        return;
    }
    close(f->sock);
    object_unref(OBJECT(f->m));
    /* The tap was the test's: still there, and removed here. */
    g_assert_cmpuint(if_nametoindex(f->ifname), !=, 0);
    g_assert_cmpint(tun_persist(f->ifname, false), ==, 0);
    g_assert_cmpuint(if_nametoindex(f->ifname), ==, 0);
    g_free(f->ifname);
}

static inline void net_start(Net *f, uint64_t features)
{
    g_assert_true(vt_negotiate(f->m, f->vdev, F_VERSION_1 | features));
    g_assert_true(vt_queue_setup(f->m, f->vdev, 0, QSIZE, RX_DESC, RX_AVAIL,
                                 RX_USED));
    g_assert_true(vt_queue_setup(f->m, f->vdev, 1, QSIZE, TX_DESC, TX_AVAIL,
                                 TX_USED));
    vt_driver_ok(f->m, f->vdev);
}

static inline void put_desc(uint8_t *ram, uint64_t table, unsigned i,
                            uint64_t addr, uint32_t len, uint16_t flags,
                            uint16_t next)
{
    uint8_t *d = ram + table + 16 * i;

    le64_store(d, addr);
    le32_store(d + 8, len);
    le16_store(d + 12, flags);
    le16_store(d + 14, next);
}

static inline void avail_push(uint8_t *ram, uint64_t avail, uint16_t *idx,
                              uint16_t head)
{
    le16_store(ram + avail + 4 + 2 * (*idx % QSIZE), head);
    (*idx)++;
    __atomic_store_n((uint16_t *)(ram + avail + 2), *idx, __ATOMIC_RELEASE);
}

static inline uint16_t used_idx(Net *f, uint64_t used)
{
    return __atomic_load_n((uint16_t *)(f->ram + used + 2),
                           __ATOMIC_ACQUIRE);
}

/* Entry n of a used ring: its descriptor id and length. */
static inline void used_entry(Net *f, uint64_t used, unsigned n, uint32_t *id,
                              uint32_t *len)
{
    memcpy(id, f->ram + used + 4 + 8 * (n % QSIZE), 4);
    memcpy(len, f->ram + used + 8 + 8 * (n % QSIZE), 4);
}

static inline bool wait_used(Net *f, uint64_t used, uint16_t idx)
{
    for (int i = 0; i < 5000 && used_idx(f, used) != idx; i++) {
        g_usleep(1000);
    }
    if (used_idx(f, used) != idx) {
        g_printerr("# used idx is %u, not %u\n", used_idx(f, used), idx);
        for (unsigned n = 0; n < used_idx(f, used); n++) {
            uint32_t id, len;

            used_entry(f, used, n, &id, &len);
            g_printerr("#  used[%u] = %u, %u bytes: %02x%02x...\n", n, id,
                       len, f->ram[RX_BUF + id * 4096 + 12],
                       f->ram[RX_BUF + id * 4096 + 13]);
        }
    }
    return used_idx(f, used) == idx;
}

/* Posts a device-writable receive buffer of len bytes (no notify);
 * returns its descriptor index. */
static inline unsigned rx_post(Net *f, uint32_t len)
{
    unsigned i = f->rx_desc++ % QSIZE;

    g_assert_cmpuint(len, <=, 4096);
    memset(f->ram + RX_BUF + i * 4096, 0xee, 4096);
    put_desc(f->ram, RX_DESC, i, RX_BUF + i * 4096, len, 2 /* WRITE */, 0);
    avail_push(f->ram, RX_AVAIL, &f->rx_avail, (uint16_t)i);
    return i;
}

/* rx_post(), then the notify that tells the device about the buffer. */
static inline unsigned rx_post_notify(Net *f, uint32_t len)
{
    unsigned i = rx_post(f, len);

    vt_write(f->m, f->vdev, VT_QUEUE_NOTIFY, 0);
    return i;
}

static inline uint8_t *rx_buf(Net *f, unsigned i)
{
    return f->ram + RX_BUF + (i % QSIZE) * 4096;
}

/* A broadcast test frame with payload bytes seeded by seed. */
static inline size_t make_frame(uint8_t *buf, size_t payload, uint8_t seed)
{
    uint16_t type = htons(ETHERTYPE);

    memset(buf, 0xff, 6);
    memcpy(buf + 6, "\x02\x00\x00\x00\x00\x01", 6);
    memcpy(buf + 12, &type, 2);
    for (size_t i = 0; i < payload; i++) {
        buf[14 + i] = (uint8_t)(seed + i * 7);
    }
    return 14 + payload;
}

/* The host sends a frame to the guest. */
static inline size_t host_send(Net *f, uint8_t *frame, size_t payload,
                               uint8_t seed)
{
    size_t len = make_frame(frame, payload, seed);

    g_assert_cmpint(send(f->sock, frame, len, 0), ==, (ssize_t)len);
    return len;
}

static inline uint16_t hdr_num_buffers(const uint8_t *hdr)
{
    return le16_load(hdr + 10);
}

/* Reads from the packet socket until a test frame comes (5 s). */
static inline ssize_t host_recv(Net *f, uint8_t *buf, size_t len)
{
    gint64 end = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;

    while (g_get_monotonic_time() < end) {
        struct pollfd pfd = { .fd = f->sock, .events = POLLIN };
        ssize_t n;

        if (poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        n = recv(f->sock, buf, len, 0);
        if (n >= 14 && buf[12] == ETHERTYPE >> 8 &&
            buf[13] == (ETHERTYPE & 0xff)) {
            return n;
        }
    }
    return -1;
}

/* g_test_init(), the QOM types, and probe_taps(): returns why the tests
 * must skip (NULL when they can run), the data every ADD() passes. */
static inline char *net_test_init(int *argc, char ***argv)
{
    g_test_init(argc, argv, NULL);
    g_assert_true(module_call_init(MODULE_INIT_QOM, NULL));
    return probe_taps();
}

/* A fixture test at /virtio-net/path; needs main()'s "unavailable". */
#define ADD(path, fn)                                                       \
    g_test_add("/virtio-net/" path, Net, unavailable, net_setup, fn,        \
               net_teardown)

#endif
