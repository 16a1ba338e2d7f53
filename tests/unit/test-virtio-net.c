/*
 * virtio-net through the virtio-mmio transport on a test machine, with a
 * real tap: this file plays the driver (rings in guest RAM, register
 * writes) and a packet socket on the tap plays the host's network.
 * Identity, features and config space; transmit; a tap vmspec creates
 * kept across a restart.  Receiving is tested in test-virtio-net-rx.c.
 * Needs CAP_NET_ADMIN and /dev/net/tun; skips with the reason otherwise.
 */
#include <net/if.h>

#include "tests/unit/virtio-net-test.h"

static void test_identity(Net *f, gconstpointer data)
{
    uint64_t feat;
    uint32_t w;

    if (!f->ifname) {
        return;
    }
    g_assert_cmpuint(vt_read(f->m, f->vdev, VT_DEVICE_ID), ==, 1);
    vt_write(f->m, f->vdev, VT_DEV_FEATURES_SEL, 0);
    feat = vt_read(f->m, f->vdev, VT_DEV_FEATURES);
    vt_write(f->m, f->vdev, VT_DEV_FEATURES_SEL, 1);
    feat |= (uint64_t)vt_read(f->m, f->vdev, VT_DEV_FEATURES) << 32;
    g_assert_cmphex(feat & (F_VERSION_1 | F_CSUM | F_GUEST_CSUM | F_MAC |
                            F_GUEST_TSO4 | F_GUEST_TSO6 | F_HOST_TSO4 |
                            F_HOST_TSO6 | F_MRG_RXBUF | F_STATUS), ==,
                    F_VERSION_1 | F_CSUM | F_GUEST_CSUM | F_MAC |
                    F_GUEST_TSO4 | F_GUEST_TSO6 | F_HOST_TSO4 | F_HOST_TSO6 |
                    F_MRG_RXBUF | F_STATUS);
    /* 5.1.4: mac, then status (VIRTIO_NET_S_LINK_UP). */
    w = vt_read(f->m, f->vdev, VT_CONFIG);
    g_assert_cmpmem(&w, 4, TEST_MAC, 4);
    w = vt_read(f->m, f->vdev, VT_CONFIG + 4);
    g_assert_cmphex(w, ==, 0x00015634);   /* 34 56, status 1 */
    vt_write(f->m, f->vdev, VT_QUEUE_SEL, 0);
    g_assert_cmpuint(vt_read(f->m, f->vdev, VT_QUEUE_NUM_MAX), ==, 256);
}

static void test_tx(Net *f, gconstpointer data)
{
    uint8_t frame[1514], got[2048];
    uint32_t id, len;
    size_t flen;

    if (!f->ifname) {
        return;
    }
    net_start(f, F_MAC | F_MRG_RXBUF | F_STATUS);
    /* Header and frame in two descriptors, as Linux may send them. */
    flen = make_frame(frame, 1200, 3);
    memset(f->ram + TX_HDR, 0, HDR_LEN);
    memcpy(f->ram + TX_FRAME, frame, flen);
    put_desc(f->ram, TX_DESC, 0, TX_HDR, HDR_LEN, 1 /* NEXT */, 1);
    put_desc(f->ram, TX_DESC, 1, TX_FRAME, (uint32_t)flen, 0, 0);
    avail_push(f->ram, TX_AVAIL, &f->tx_avail, 0);
    vt_write(f->m, f->vdev, VT_QUEUE_NOTIFY, 1);

    g_assert_cmpint(host_recv(f, got, sizeof(got)), ==, (ssize_t)flen);
    g_assert_cmpmem(got, flen, frame, flen);
    g_assert_true(wait_used(f, TX_USED, 1));
    used_entry(f, TX_USED, 0, &id, &len);
    g_assert_cmpuint(id, ==, 0);
    g_assert_cmpuint(len, ==, 0);

    /* A chain shorter than the header is dropped, and returned. */
    put_desc(f->ram, TX_DESC, 2, TX_HDR, 4, 0, 0);
    avail_push(f->ram, TX_AVAIL, &f->tx_avail, 2);
    vt_write(f->m, f->vdev, VT_QUEUE_NOTIFY, 1);
    g_assert_true(wait_used(f, TX_USED, 2));
    g_assert_cmpuint(vt_read(f->m, f->vdev, VT_STATUS) &
                     VIRTIO_STATUS_NEEDS_RESET, ==, 0);
}

/* A tap vmspec creates lives as long as the device object: it survives
 * unrealize + realize (on_reboot: restart) and goes with the object. */
static void test_created_tap_kept_across_restart(gconstpointer data)
{
    g_autofree char *name = ifname_new('r');
    VirtioTestMachine *m;
    GError *err = NULL;
    Object *dev;

    if (data) {
        g_test_skip(data);
        return;
    }
    m = virtio_test_machine_new(false);
    dev = object_new("virtio-net");
    g_assert_true(object_property_set_str(dev, "id", "net0", &err));
    g_assert_true(object_property_set_str(dev, "tap", name, &err));
    g_assert_true(object_property_set_str(dev, "mac", "52:54:00:12:34:56",
                                          &err));
    g_assert_true(object_add_child(OBJECT(m), "net0", dev, &err));
    object_unref(dev);
    g_assert_cmpuint(if_nametoindex(name), ==, 0);
    g_assert_true(device_realize(DEVICE(dev), &err));
    g_assert_no_error(err);
    g_assert_cmpuint(if_nametoindex(name), !=, 0);
    device_unrealize(DEVICE(dev));
    g_assert_cmpuint(if_nametoindex(name), !=, 0);
    g_assert_true(device_realize(DEVICE(dev), &err));
    g_assert_no_error(err);
    g_assert_cmpuint(if_nametoindex(name), !=, 0);
    object_unref(OBJECT(m));
    g_assert_cmpuint(if_nametoindex(name), ==, 0);
}

int main(int argc, char **argv)
{
    g_autofree char *unavailable = net_test_init(&argc, &argv);

    ADD("identity", test_identity);
    ADD("tx", test_tx);
    g_test_add_data_func("/virtio-net/created-tap-kept-across-restart",
                         unavailable, test_created_tap_kept_across_restart);
    return g_test_run();
}
