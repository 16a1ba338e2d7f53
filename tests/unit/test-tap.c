/*
 * The tap backend on the real tun driver: name checks; a missing tap is
 * created (link up) and vanishes at close; an existing persistent tap is
 * attached to and stays; a tap in use and a non-tap interface are refused;
 * frames with their vnet header pass both ways (checked against a packet
 * socket on the interface); offloads are accepted.  Needs CAP_NET_ADMIN and
 * /dev/net/tun; skips with the reason otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <glib.h>

#include "machine/backend/tap.h"
#include "machine/qom/error.h"

/* IEEE 802 "local experimental" ethertype: nothing else sends it. */
#define TEST_ETHERTYPE 0x88b5

static char *test_ifname(char tag)
{
    return g_strdup_printf("vmst%u%c", (unsigned)getpid(), tag);
}

/* data: why taps cannot be made here, or NULL when they can. */
static bool skip_without_tap(const void *data)
{
    if (data) {
        g_test_skip(data);
        return true;
    }
    return false;
}

static bool iface_exists(const char *name)
{
    return if_nametoindex(name) != 0;
}

static bool iface_is_up(const char *name)
{
    struct ifreq ifr;
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    bool up;

    g_assert_cmpint(sock, >=, 0);
    memset(&ifr, 0, sizeof(ifr));
    g_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
    g_assert_cmpint(ioctl(sock, SIOCGIFFLAGS, &ifr), ==, 0);
    up = ifr.ifr_flags & IFF_UP;
    close(sock);
    return up;
}

/* Makes (persist true) or removes a persistent tap, as `ip tuntap` does. */
static void set_persistent_tap(const char *name, bool persist)
{
    struct ifreq ifr;
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

    g_assert_cmpint(fd, >=, 0);
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    g_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
    g_assert_cmpint(ioctl(fd, TUNSETIFF, &ifr), ==, 0);
    g_assert_cmpint(ioctl(fd, TUNSETPERSIST, (unsigned long)persist), ==, 0);
    close(fd);
}

static void test_name_check(void)
{
    static const char *const bad[] = {
        "", "0123456789abcdef", ".", "..", "a/b", "a:b", "tap%d", "a b",
        "a\tb", "a\nb",
    };
    GError *err = NULL;

    g_assert_true(tap_name_check("vm0", &err));
    g_assert_true(tap_name_check("0123456789abcde", &err));
    g_assert_no_error(err);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_false(tap_name_check(bad[i], &err));
        g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
        g_clear_error(&err);
    }
    g_assert_false(tap_name_check("0123456789abcdef", &err));
    g_assert_nonnull(strstr(err->message, "at most 15 characters"));
    g_clear_error(&err);
}

static void test_create_and_remove(const void *data)
{
    g_autofree char *name = test_ifname('c');
    GError *err = NULL;
    Tap *tap;

    if (skip_without_tap(data)) {
        return;
    }
    g_assert_false(iface_exists(name));
    tap = tap_open(name, &err);
    g_assert_no_error(err);
    g_assert_true(tap_created(tap));
    g_assert_cmpstr(tap_name(tap), ==, name);
    g_assert_true(iface_exists(name));
    g_assert_true(iface_is_up(name));
    g_assert_cmpint(fcntl(tap_fd(tap), F_GETFL) & O_NONBLOCK, !=, 0);
    g_assert_cmpint(fcntl(tap_fd(tap), F_GETFD) & FD_CLOEXEC, !=, 0);
    tap_close(tap);
    g_assert_false(iface_exists(name));
}

static void test_attach_existing(const void *data)
{
    g_autofree char *name = test_ifname('p');
    GError *err = NULL;
    Tap *tap;

    if (skip_without_tap(data)) {
        return;
    }
    set_persistent_tap(name, true);
    g_assert_true(iface_exists(name));
    g_assert_false(iface_is_up(name));

    tap = tap_open(name, &err);
    g_assert_no_error(err);
    g_assert_false(tap_created(tap));
    /* Its configuration is the owner's: we don't bring it up. */
    g_assert_false(iface_is_up(name));
    tap_close(tap);
    g_assert_true(iface_exists(name));

    /* And again: attaching twice in a row works. */
    tap = tap_open(name, &err);
    g_assert_no_error(err);
    g_assert_false(tap_created(tap));
    tap_close(tap);
    g_assert_true(iface_exists(name));

    set_persistent_tap(name, false);
    g_assert_false(iface_exists(name));
}

static void test_busy_and_not_a_tap(const void *data)
{
    g_autofree char *name = test_ifname('b');
    GError *err = NULL;
    Tap *tap, *again;

    if (skip_without_tap(data)) {
        return;
    }
    tap = tap_open(name, &err);
    g_assert_no_error(err);
    again = tap_open(name, &err);
    g_assert_null(again);
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_BUSY);
    g_assert_nonnull(strstr(err->message, name));
    g_assert_nonnull(strstr(err->message, "in use by another process"));
    g_clear_error(&err);
    tap_close(tap);
    g_assert_false(iface_exists(name));

    g_assert_null(tap_open("lo", &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_IO);
    g_assert_cmpstr(err->message, ==,
                    "tap lo: exists and is not a tap (or is multi-queue)");
    g_clear_error(&err);
    g_assert_true(iface_exists("lo"));

    g_assert_null(tap_open("bad/name", &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);
}

/* A test frame: broadcast destination, ethertype TEST_ETHERTYPE, payload
 * bytes seeded by seed. */
static size_t make_frame(uint8_t *buf, size_t payload, uint8_t seed)
{
    uint16_t type = htons(TEST_ETHERTYPE);

    memset(buf, 0xff, 6);
    memcpy(buf + 6, "\x02\x00\x00\x00\x00\x01", 6);
    memcpy(buf + 12, &type, 2);
    for (size_t i = 0; i < payload; i++) {
        buf[14 + i] = (uint8_t)(seed + i);
    }
    return 14 + payload;
}

static bool is_test_frame(const uint8_t *frame, ssize_t len)
{
    uint16_t type;

    if (len < 14) {
        return false;
    }
    memcpy(&type, frame + 12, 2);
    return ntohs(type) == TEST_ETHERTYPE;
}

/* Reads from fd until a test frame arrives after skip bytes of header (5 s
 * at most); returns its length from the header on, or -1. */
static ssize_t read_test_frame(int fd, size_t skip, uint8_t *buf, size_t len)
{
    gint64 end = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;

    while (g_get_monotonic_time() < end) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        ssize_t n;

        if (poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        n = read(fd, buf, len);
        if (n >= 0 && is_test_frame(buf + skip, n - (ssize_t)skip)) {
            return n;
        }
    }
    return -1;
}

static void test_frames_with_vnet_header(const void *data)
{
    g_autofree char *name = test_ifname('f');
    uint8_t out[TAP_VNET_HDR_LEN + 1514], in[65536 + 64];
    struct sockaddr_ll sll;
    GError *err = NULL;
    size_t flen;
    ssize_t n;
    int sock;
    Tap *tap;

    if (skip_without_tap(data)) {
        return;
    }
    tap = tap_open(name, &err);
    g_assert_no_error(err);
    g_assert_true(tap_set_offload(tap, TAP_OFFLOAD_CSUM | TAP_OFFLOAD_TSO4 |
                                  TAP_OFFLOAD_TSO6 | TAP_OFFLOAD_TSO_ECN |
                                  TAP_OFFLOAD_UFO, &err));
    g_assert_no_error(err);

    sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    g_assert_cmpint(sock, >=, 0);
    /* Straight to the tap's driver: its qdisc only starts once the link
     * watcher has seen the carrier (up to a second later), and frames sent
     * before are silently dropped. */
    g_assert_cmpint(setsockopt(sock, SOL_PACKET, PACKET_QDISC_BYPASS,
                               &(int){ 1 }, sizeof(int)), ==, 0);
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = (int)if_nametoindex(name);
    g_assert_cmpint(bind(sock, (struct sockaddr *)&sll, sizeof(sll)), ==, 0);

    /* Guest -> host: a zero vnet header (no offload), then the frame. */
    memset(out, 0, TAP_VNET_HDR_LEN);
    flen = make_frame(out + TAP_VNET_HDR_LEN, 1000, 7);
    g_assert_cmpint(write(tap_fd(tap), out, TAP_VNET_HDR_LEN + flen), ==,
                    (ssize_t)(TAP_VNET_HDR_LEN + flen));
    n = read_test_frame(sock, 0, in, sizeof(in));
    g_assert_cmpint(n, ==, (ssize_t)flen);
    g_assert_cmpmem(in, flen, out + TAP_VNET_HDR_LEN, flen);

    /* Host -> guest: the frame arrives after a 12-byte header saying no
     * offload (flags 0, GSO_NONE). */
    flen = make_frame(out, 1400, 42);
    g_assert_cmpint(send(sock, out, flen, 0), ==, (ssize_t)flen);
    n = read_test_frame(tap_fd(tap), TAP_VNET_HDR_LEN, in, sizeof(in));
    g_assert_cmpint(n, ==, (ssize_t)(TAP_VNET_HDR_LEN + flen));
    g_assert_cmpint(in[0], ==, 0);      /* flags */
    g_assert_cmpint(in[1], ==, 0);      /* gso_type: VIRTIO_NET_HDR_GSO_NONE */
    g_assert_cmpmem(in + TAP_VNET_HDR_LEN, flen, out, flen);

    /* Nothing more: the descriptor doesn't block. */
    while (read(tap_fd(tap), in, sizeof(in)) >= 0) {
    }
    g_assert_cmpint(errno, ==, EAGAIN);

    g_assert_true(tap_set_offload(tap, 0, &err));
    g_assert_no_error(err);
    close(sock);
    tap_close(tap);
}

/* Can this process create taps?  NULL if so, else why not. */
static char *probe_taps(void)
{
    g_autofree char *name = test_ifname('x');
    g_autoptr(GError) err = NULL;
    Tap *tap = tap_open(name, &err);

    if (!tap) {
        return g_strdup_printf("cannot create taps here: %s", err->message);
    }
    tap_close(tap);
    return NULL;
}

int main(int argc, char **argv)
{
    g_autofree char *unavailable = NULL;

    g_test_init(&argc, &argv, NULL);
    unavailable = probe_taps();
    g_test_add_func("/tap/name-check", test_name_check);
    g_test_add_data_func("/tap/create-and-remove", unavailable,
                         test_create_and_remove);
    g_test_add_data_func("/tap/attach-existing", unavailable,
                         test_attach_existing);
    g_test_add_data_func("/tap/busy-and-not-a-tap", unavailable,
                         test_busy_and_not_a_tap);
    g_test_add_data_func("/tap/frames-with-vnet-header", unavailable,
                         test_frames_with_vnet_header);
    return g_test_run();
}
