/*
 * virtio-net's receive path (virtio 1.2, 5.1.6.3 and 5.1.6.4) through the
 * virtio-mmio transport with a real tap: a frame into one buffer, across
 * mergeable buffers (num_buffers), waiting for buffers, an oversized frame
 * without MRG_RXBUF dropped; a too-small receive buffer breaks the
 * device.  Fixture: virtio-net-test.h.  Needs CAP_NET_ADMIN and
 * /dev/net/tun; skips with the reason otherwise.
 */
#include "tests/unit/virtio-net-test.h"

/* Waits for used entry n, then checks that it is descriptor d, holding the
 * header and then frame (flen bytes) in that one buffer. */
static void check_one_buffer(Net *f, unsigned n, unsigned d,
                             const uint8_t *frame, size_t flen)
{
    uint32_t id, len;

    g_assert_true(wait_used(f, RX_USED, n + 1));
    used_entry(f, RX_USED, n, &id, &len);
    g_assert_cmpuint(id, ==, d);
    g_assert_cmpuint(len, ==, HDR_LEN + flen);
    g_assert_cmpmem(rx_buf(f, d) + HDR_LEN, flen, frame, flen);
}

static void rx_one_buffer(Net *f)
{
    uint8_t frame[1514];
    unsigned d;
    size_t flen;

    d = rx_post(f, 2048);
    rx_post_notify(f, 2048);
    flen = host_send(f, frame, 1000, 9);
    check_one_buffer(f, 0, d, frame, flen);
    g_assert_cmpuint(rx_buf(f, d)[0], ==, 0);   /* no offload flags */
    g_assert_cmpuint(hdr_num_buffers(rx_buf(f, d)), ==, 1);

    /* The next frame takes the second buffer. */
    flen = host_send(f, frame, 60, 1);
    check_one_buffer(f, 1, d + 1, frame, flen);
}

/* Waits for used entries first.. first + count - 1, then checks that they
 * hold frame in count 512-byte buffers starting with descriptor d. */
static void check_merged(Net *f, unsigned first, unsigned d, unsigned count,
                         const uint8_t *frame, size_t flen)
{
    g_autofree uint8_t *joined = g_malloc(count * 512);
    size_t total = 0;

    g_assert_true(wait_used(f, RX_USED, first + count));
    for (unsigned i = 0; i < count; i++) {
        uint32_t id, len;

        used_entry(f, RX_USED, first + i, &id, &len);
        g_assert_cmpuint(id, ==, (d + i) % QSIZE);
        g_assert_cmpuint(len, ==, i + 1 < count ? 512
                                  : HDR_LEN + flen - 512 * (count - 1));
        memcpy(joined + total, rx_buf(f, d + i), len);
        total += len;
    }
    g_assert_cmpuint(total, ==, HDR_LEN + flen);
    g_assert_cmpuint(hdr_num_buffers(joined), ==, count);
    g_assert_cmpmem(joined + HDR_LEN, flen, frame, flen);
}

static void rx_mergeable(Net *f)
{
    uint8_t frame[1514];
    unsigned d;
    size_t flen;

    d = rx_post(f, 512);
    for (int i = 0; i < 3; i++) {
        rx_post(f, 512);
    }
    vt_write(f->m, f->vdev, VT_QUEUE_NOTIFY, 0);
    /* 12 + 1414 bytes: three buffers. */
    flen = host_send(f, frame, 1400, 5);
    check_merged(f, 0, d, 3, frame, flen);
}

static void rx_waits_for_buffers(Net *f)
{
    uint8_t frame[1514];
    unsigned d;
    size_t flen;

    /* No buffers: the frame waits in the tap. */
    flen = host_send(f, frame, 100, 2);
    g_usleep(100 * 1000);
    g_assert_cmpuint(used_idx(f, RX_USED), ==, 0);
    d = rx_post_notify(f, 2048);
    check_one_buffer(f, 0, d, frame, flen);

    /* One 512-byte buffer for a frame that needs three: the device holds
     * it until the driver adds two more. */
    d = rx_post_notify(f, 512);
    flen = host_send(f, frame, 1400, 4);
    g_usleep(100 * 1000);
    g_assert_cmpuint(used_idx(f, RX_USED), ==, 1);
    rx_post_notify(f, 512);
    g_usleep(50 * 1000);
    g_assert_cmpuint(used_idx(f, RX_USED), ==, 1);
    rx_post_notify(f, 512);
    check_merged(f, 1, d, 3, frame, flen);
}

static void rx_too_big_without_mrg(Net *f)
{
    uint8_t frame[1514];
    unsigned d;
    size_t flen;

    d = rx_post_notify(f, 512);
    host_send(f, frame, 1400, 4);       /* dropped: doesn't fit */
    flen = host_send(f, frame, 300, 8);
    check_one_buffer(f, 0, d, frame, flen);
    /* 5.1.6.4: num_buffers is 1 without MRG_RXBUF too. */
    g_assert_cmpuint(hdr_num_buffers(rx_buf(f, d)), ==, 1);
}

static void rx_buffer_too_small(Net *f)
{
    uint8_t frame[1514];

    rx_post_notify(f, 8);               /* less than the header */
    host_send(f, frame, 100, 1);
    for (int i = 0; i < 5000 && !(vt_read(f->m, f->vdev, VT_STATUS) &
                                  VIRTIO_STATUS_NEEDS_RESET); i++) {
        g_usleep(1000);
    }
    g_assert_cmpuint(vt_read(f->m, f->vdev, VT_STATUS) &
                     VIRTIO_STATUS_NEEDS_RESET, !=, 0);
    g_assert_cmpuint(used_idx(f, RX_USED), ==, 0);

    /* A reset and a new start work again. */
    vt_write(f->m, f->vdev, VT_STATUS, 0);
    memset(f->ram + RX_USED, 0, 4 + 8 * QSIZE + 2);
    memset(f->ram + RX_AVAIL, 0, 4 + 2 * QSIZE + 2);
    f->rx_avail = 0;
    net_start(f, F_MAC | F_MRG_RXBUF | F_STATUS);
    rx_post_notify(f, 2048);
    host_send(f, frame, 100, 1);
    g_assert_true(wait_used(f, RX_USED, 1));
}

/* One receive test: the features the device starts with, then the body,
 * which plays driver and host from there. */
typedef struct {
    const char *path;
    uint64_t features;
    void (*body)(Net *f);
    const char *unavailable;    /* net_test_init()'s reason to skip */
} RxCase;

static void rx_case_setup(Net *f, gconstpointer data)
{
    const RxCase *c = data;

    net_setup(f, c->unavailable);
}

/* Every case needs the tap: without one net_setup() has marked it
 * skipped and there is no device to start. */
static void rx_case_run(Net *f, gconstpointer data)
{
    const RxCase *c = data;

    if (!f->ifname) {
        return;
    }
    net_start(f, c->features);
    c->body(f);
}

int main(int argc, char **argv)
{
    g_autofree char *unavailable = net_test_init(&argc, &argv);
    /* unavailable is filled in below: it is only known at run time. */
    static RxCase cases[] = {
        { .path = "rx-one-buffer", .body = rx_one_buffer,
          .features = F_MAC | F_MRG_RXBUF | F_STATUS },
        { .path = "rx-mergeable", .body = rx_mergeable,
          .features = F_MAC | F_MRG_RXBUF | F_STATUS },
        { .path = "rx-waits-for-buffers", .body = rx_waits_for_buffers,
          .features = F_MAC | F_MRG_RXBUF | F_STATUS },
        { .path = "rx-too-big-without-mrg", .body = rx_too_big_without_mrg,
          .features = F_MAC | F_STATUS },
        { .path = "rx-buffer-too-small", .body = rx_buffer_too_small,
          .features = F_MAC | F_MRG_RXBUF | F_STATUS },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strconcat("/virtio-net/", cases[i].path,
                                            NULL);

        cases[i].unavailable = unavailable;
        g_test_add(path, Net, &cases[i], rx_case_setup, rx_case_run,
                   net_teardown);
    }
    return g_test_run();
}
