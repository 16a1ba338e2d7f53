/* I/O bus: registration (overlaps, bounds), dispatch, unhandled accesses,
 * concurrent lookups. */
#include <glib.h>
#include <string.h>

#include "machine/kvm/iobus.h"
#include "machine/qom/error.h"

typedef struct Dev {
    uint64_t last_off;
    uint64_t last_val;
    unsigned last_size;
    int writes;
    uint64_t read_val;
    gint reads;
} Dev;

static uint64_t dev_read(void *opaque, uint64_t off, unsigned size)
{
    Dev *d = opaque;

    g_atomic_int_inc(&d->reads);
    return d->read_val + off;
}

static void dev_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    Dev *d = opaque;

    d->last_off = off;
    d->last_val = val;
    d->last_size = size;
    d->writes++;
}

static void test_dispatch(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(IoBus) bus = iobus_new("pio");
    Dev a = { .read_val = 0x1000 }, b = { .read_val = 0x2000 };
    uint8_t buf[8];
    uint32_t v32;

    g_assert_true(iobus_register(bus, 0x3f8, 8, "serial", dev_read,
                                 dev_write, &a, &err));
    g_assert_true(iobus_register(bus, 0x60, 1, "i8042-data", dev_read,
                                 dev_write, &b, &err));
    g_assert_no_error(err);

    v32 = 0x41;
    g_assert_true(iobus_write(bus, 0x3f8, &v32, 1));
    g_assert_cmpuint(a.last_off, ==, 0);
    g_assert_cmphex(a.last_val, ==, 0x41);
    g_assert_true(iobus_read(bus, 0x3fd, buf, 2));
    g_assert_cmphex(buf[0] | buf[1] << 8, ==, 0x1005);
    g_assert_true(iobus_read(bus, 0x60, buf, 1));
    g_assert_cmphex(buf[0], ==, 0x00);     /* low byte of 0x2000 */

    /* Little-endian bytes in, host values out. */
    memcpy(buf, "\x78\x56\x34\x12", 4);
    g_assert_true(iobus_write(bus, 0x3fc, buf, 4));
    g_assert_cmphex(a.last_val, ==, 0x12345678);
    g_assert_cmpuint(a.last_size, ==, 4);
    g_assert_cmpuint(a.last_off, ==, 4);
}

static void test_unhandled(void)
{
    g_autoptr(IoBus) bus = iobus_new("mmio");
    Dev a = { 0 };
    uint8_t buf[8] = { 0 };

    g_assert_true(iobus_register(bus, 0x1000, 0x10, "dev", dev_read,
                                 dev_write, &a, NULL));
    g_assert_false(iobus_read(bus, 0x2000, buf, 8));
    for (int i = 0; i < 8; i++) {
        g_assert_cmphex(buf[i], ==, 0xff);
    }
    /* Straddling the region's end: not handled. */
    g_assert_false(iobus_read(bus, 0x100e, buf, 4));
    g_assert_false(iobus_write(bus, 0x0fff, buf, 2));
    g_assert_false(iobus_write(bus, UINT64_MAX, buf, 1));
    g_assert_false(iobus_read(bus, UINT64_MAX - 3, buf, 8));
    g_assert_cmpuint(iobus_unhandled_count(bus), ==, 5);
    g_assert_cmpint(a.writes, ==, 0);
    g_assert_cmpint(a.reads, ==, 0);
    /* Last bytes inside the region are handled. */
    g_assert_true(iobus_read(bus, 0x100c, buf, 4));
}

static void test_null_callbacks(void)
{
    g_autoptr(IoBus) bus = iobus_new("pio");
    uint8_t buf[4] = { 0 };

    g_assert_true(iobus_register(bus, 0x80, 1, "post-code", NULL, NULL,
                                 NULL, NULL));
    g_assert_true(iobus_write(bus, 0x80, buf, 1));
    g_assert_true(iobus_read(bus, 0x80, buf, 1));
    g_assert_cmphex(buf[0], ==, 0xff);
    g_assert_cmpuint(iobus_unhandled_count(bus), ==, 0);
}

static void test_overlap(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(IoBus) bus = iobus_new("mmio");

    g_assert_true(iobus_register(bus, 0x1000, 0x100, "a", NULL, NULL, NULL,
                                 &err));
    g_assert_true(iobus_register(bus, 0x1100, 0x100, "b", NULL, NULL, NULL,
                                 &err));
    g_assert_true(iobus_register(bus, 0x0f00, 0x100, "c", NULL, NULL, NULL,
                                 &err));
    g_assert_no_error(err);

    static const struct { uint64_t base, size; } bad[] = {
        { 0x1000, 0x100 },  /* same */
        { 0x10ff, 1 },      /* last byte of a */
        { 0x0e00, 0x101 },  /* tail into c */
        { 0x1050, 0x10 },   /* inside a */
        { 0x0000, 0x10000 },/* covers all */
        { 0x11ff, 0x10 },   /* last byte of b */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_false(iobus_register(bus, bad[i].base, bad[i].size, "x",
                                      NULL, NULL, NULL, &err));
        g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_BUSY);
        g_assert_nonnull(strstr(err->message, "overlaps"));
        g_clear_error(&err);
    }
    g_assert_false(iobus_register(bus, 0x5000, 0, "empty", NULL, NULL, NULL,
                                  &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);
    g_assert_false(iobus_register(bus, UINT64_MAX - 1, 4, "wrap", NULL, NULL,
                                  NULL, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);
    /* Adjacent on both sides is fine; up to the top of the space too. */
    g_assert_true(iobus_register(bus, 0x1200, 0x10, "d", NULL, NULL, NULL,
                                 &err));
    g_assert_true(iobus_register(bus, UINT64_MAX, 1, "top", NULL, NULL, NULL,
                                 &err));
    g_assert_no_error(err);

    g_assert_true(iobus_unregister(bus, 0x1000));
    g_assert_false(iobus_unregister(bus, 0x1000));
    g_assert_true(iobus_register(bus, 0x1080, 0x80, "a2", NULL, NULL, NULL,
                                 &err));
    g_assert_no_error(err);
}

static void test_many_sorted(void)
{
    g_autoptr(IoBus) bus = iobus_new("mmio");
    Dev devs[64];

    /* Register out of order; each lookup finds its own device. */
    for (int i = 0; i < 64; i++) {
        int k = (i * 37) % 64;
        devs[k] = (Dev){ .read_val = (uint64_t)k << 32 };
        g_assert_true(iobus_register(bus, 0xd0000000 + k * 0x1000, 0x200,
                                     "virtio", dev_read, dev_write, &devs[k],
                                     NULL));
    }
    for (int k = 0; k < 64; k++) {
        uint64_t v;
        g_assert_true(iobus_read(bus, 0xd0000000 + k * 0x1000 + 8, &v, 8));
        g_assert_cmphex(v, ==, ((uint64_t)k << 32) + 8);
        g_assert_false(iobus_read(bus, 0xd0000000 + k * 0x1000 + 0x200, &v,
                                  8));
    }
}

typedef struct Hammer {
    IoBus *bus;
    Dev *dev;
} Hammer;

static gpointer hammer(gpointer opaque)
{
    Hammer *h = opaque;

    for (int i = 0; i < 100000; i++) {
        uint32_t v;
        g_assert_true(iobus_read(h->bus, 0x3f8 + (i & 3), &v, 4));
    }
    return NULL;
}

static void test_concurrent_reads(void)
{
    g_autoptr(IoBus) bus = iobus_new("pio");
    Dev d = { 0 };
    Hammer h = { bus, &d };
    GThread *t[4];

    g_assert_true(iobus_register(bus, 0x3f8, 8, "serial", dev_read,
                                 dev_write, &d, NULL));
    for (int i = 0; i < 4; i++) {
        t[i] = g_thread_new("hammer", hammer, &h);
    }
    for (int i = 0; i < 4; i++) {
        g_thread_join(t[i]);
    }
    g_assert_cmpint(g_atomic_int_get(&d.reads), ==, 400000);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/iobus/dispatch", test_dispatch);
    g_test_add_func("/iobus/unhandled", test_unhandled);
    g_test_add_func("/iobus/null-callbacks", test_null_callbacks);
    g_test_add_func("/iobus/overlap", test_overlap);
    g_test_add_func("/iobus/many-sorted", test_many_sorted);
    g_test_add_func("/iobus/concurrent-reads", test_concurrent_reads);
    return g_test_run();
}
