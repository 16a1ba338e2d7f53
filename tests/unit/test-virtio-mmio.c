/* The virtio-mmio transport and the virtio device base, driven through the
 * MMIO bus as a guest driver would (virtio 1.2, 4.2.2 and 3.1.1): identity
 * registers, feature negotiation, queue setup, reset, config space bounds,
 * notifications on the I/O thread and interrupts.  virtio-rng end to end
 * and the KVM wiring are in test-virtio-rng.c. */
#include <dirent.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "machine/qom/module.h"
#include "tests/unit/virtio-test-machine.h"
#include "machine/qom/property.h"

/* ---- a test device: 2 queues, a 6-byte config space ---- */

#define TYPE_VIRTIO_TEST_DEV "virtio-test-dev"
#define TD_ID       42
#define TD_QMAX     64
#define TD_CFG      6

typedef struct TestDev {
    VirtioDevice parent_obj;
    uint8_t config[TD_CFG];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned notified[VIRTIO_MAX_QUEUES];
    unsigned resets;
    unsigned starts;
    bool fail_start;
} TestDev;

#define TEST_DEV(obj) OBJECT_CHECK(TestDev, (obj), TYPE_VIRTIO_TEST_DEV)

static uint64_t td_get_features(VirtioDevice *vdev)
{
    return (1ULL << 5) | (1ULL << 40);
}

static void td_read_config(VirtioDevice *vdev, uint32_t off, void *data,
                           uint32_t size)
{
    g_assert_cmpuint(off + size, <=, TD_CFG);
    memcpy(data, TEST_DEV(vdev)->config + off, size);
}

static void td_write_config(VirtioDevice *vdev, uint32_t off,
                            const void *data, uint32_t size)
{
    g_assert_cmpuint(off + size, <=, TD_CFG);
    memcpy(TEST_DEV(vdev)->config + off, data, size);
}

static bool td_start(VirtioDevice *vdev)
{
    TEST_DEV(vdev)->starts++;
    return !TEST_DEV(vdev)->fail_start;
}

static void td_reset(VirtioDevice *vdev)
{
    TEST_DEV(vdev)->resets++;
}

static void td_queue_notify(VirtioDevice *vdev, unsigned index)
{
    TestDev *d = TEST_DEV(vdev);

    pthread_mutex_lock(&d->lock);
    d->notified[index]++;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

static void td_init(Object *obj)
{
    TestDev *d = TEST_DEV(obj);

    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    memcpy(d->config, "\x11\x22\x33\x44\x55\x66", TD_CFG);
}

static void td_finalize(Object *obj)
{
    pthread_mutex_destroy(&TEST_DEV(obj)->lock);
    pthread_cond_destroy(&TEST_DEV(obj)->cond);
}

static void td_class_init(ObjectClass *oc, const void *data)
{
    VirtioDeviceClass *vc = VIRTIO_DEVICE_CLASS(oc);

    vc->device_id = TD_ID;
    vc->num_queues = 2;
    vc->queue_max_size = TD_QMAX;
    vc->get_features = td_get_features;
    vc->config_size = TD_CFG;
    vc->read_config = td_read_config;
    vc->write_config = td_write_config;
    vc->start = td_start;
    vc->reset = td_reset;
    vc->queue_notify = td_queue_notify;
}

static const TypeInfo td_info = {
    .name = TYPE_VIRTIO_TEST_DEV,
    .parent = TYPE_VIRTIO_DEVICE,
    .instance_size = sizeof(TestDev),
    .instance_init = td_init,
    .instance_finalize = td_finalize,
    .class_init = td_class_init,
};

static void td_register_types(void)
{
    type_register_static(&td_info);
}

type_init(td_register_types)

static unsigned td_notified(TestDev *d, unsigned index)
{
    unsigned n;

    pthread_mutex_lock(&d->lock);
    n = d->notified[index];
    pthread_mutex_unlock(&d->lock);
    return n;
}

static bool td_wait_notified(TestDev *d, unsigned index, unsigned seen)
{
    struct timespec end = vt_deadline(5);
    bool ok;

    pthread_mutex_lock(&d->lock);
    while (d->notified[index] <= seen &&
           pthread_cond_timedwait(&d->cond, &d->lock, &end) == 0) {
    }
    ok = d->notified[index] > seen;
    pthread_mutex_unlock(&d->lock);
    return ok;
}

#define F_VERSION_1 (1ULL << VIRTIO_F_VERSION_1)
#define RING_DESC   0x1000
#define RING_AVAIL  0x2000
#define RING_USED   0x3000

typedef struct Fixture {
    VirtioTestMachine *m;
    VirtioDevice *vdev;
    TestDev *td;
} Fixture;

static void fx_setup(Fixture *f, gconstpointer data)
{
    f->m = virtio_test_machine_new(false);
    f->vdev = vt_add(f->m, TYPE_VIRTIO_TEST_DEV, "td0");
    f->td = TEST_DEV(f->vdev);
}

static void fx_teardown(Fixture *f, gconstpointer data)
{
    object_unref(OBJECT(f->m));
}

static uint64_t rd(Fixture *f, uint64_t off)
{
    return vt_read(f->m, f->vdev, off);
}

static void wr(Fixture *f, uint64_t off, uint32_t v)
{
    vt_write(f->m, f->vdev, off, v);
}

/* A read of size bytes at off (any size, through the bus). */
static uint64_t rd_sized(Fixture *f, uint64_t off, unsigned size)
{
    uint64_t v = 0;

    g_assert_true(iobus_read(f->m->parent_obj.mmio_bus,
                             virtio_mmio_base(f->vdev) + off, &v, size));
    return v;
}

static void wr_sized(Fixture *f, uint64_t off, uint64_t v, unsigned size)
{
    g_assert_true(iobus_write(f->m->parent_obj.mmio_bus,
                              virtio_mmio_base(f->vdev) + off, &v, size));
}

static void test_identity(Fixture *f, gconstpointer data)
{
    g_assert_cmphex(virtio_mmio_base(f->vdev), ==, X86_VIRTIO_MMIO_BASE);
    g_assert_cmpuint(virtio_mmio_gsi(f->vdev), ==, X86_VIRTIO_MMIO_FIRST_GSI);
    g_assert_cmphex(rd(f, VT_MAGIC), ==, 0x74726976);
    g_assert_cmpuint(rd(f, VT_VERSION), ==, 2);
    g_assert_cmpuint(rd(f, VT_DEVICE_ID), ==, TD_ID);
    g_assert_cmphex(rd(f, VT_VENDOR_ID), ==, 0x554d4551);
    g_assert_cmpuint(rd(f, VT_STATUS), ==, 0);
    /* Registers take only aligned 32-bit accesses; reserved ones read 0. */
    g_assert_cmphex(rd_sized(f, VT_MAGIC, 1), ==, 0);
    g_assert_cmphex(rd_sized(f, VT_MAGIC, 2), ==, 0);
    g_assert_cmphex(rd_sized(f, VT_MAGIC, 8), ==, 0);
    g_assert_cmphex(rd_sized(f, VT_MAGIC + 1, 4), ==, 0);
    g_assert_cmphex(rd(f, 0x018), ==, 0);
    g_assert_cmphex(rd(f, 0x0f8), ==, 0);
    /* Read-only registers ignore writes; a byte write to Status too. */
    wr(f, VT_MAGIC, 0);
    g_assert_cmphex(rd(f, VT_MAGIC), ==, 0x74726976);
    wr_sized(f, VT_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 1);
    g_assert_cmpuint(rd(f, VT_STATUS), ==, 0);
}

static void test_features(Fixture *f, gconstpointer data)
{
    wr(f, VT_DEV_FEATURES_SEL, 0);
    g_assert_cmphex(rd(f, VT_DEV_FEATURES), ==,
                    (1u << 5) | (1u << VIRTIO_F_INDIRECT_DESC) |
                    (1u << VIRTIO_F_EVENT_IDX));
    wr(f, VT_DEV_FEATURES_SEL, 1);
    g_assert_cmphex(rd(f, VT_DEV_FEATURES), ==, 1u | (1u << 8));
    wr(f, VT_DEV_FEATURES_SEL, 2);
    g_assert_cmphex(rd(f, VT_DEV_FEATURES), ==, 0);
    wr(f, VT_DEV_FEATURES_SEL, 0xffffffff);
    g_assert_cmphex(rd(f, VT_DEV_FEATURES), ==, 0);
}

/* 4.2.2: no shared memory regions, so any SHMSel reads length and base
 * -1 (Linux's virtiofs takes a length of 0 for a broken DAX window). */
static void test_no_shared_memory(Fixture *f, gconstpointer data)
{
    for (uint32_t sel = 0; sel < 3; sel++) {
        wr(f, 0x0ac, sel);
        for (uint64_t off = 0x0b0; off <= 0x0bc; off += 4) {
            g_assert_cmphex(rd(f, off), ==, 0xffffffff);
        }
    }
}

static void test_negotiation(Fixture *f, gconstpointer data)
{
    /* No VERSION_1: FEATURES_OK does not stick (legacy is not offered). */
    g_assert_false(vt_negotiate(f->m, f->vdev, 1ULL << 5));
    g_assert_cmpuint(rd(f, VT_STATUS), ==,
                     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    /* A bit the device did not offer. */
    g_assert_false(vt_negotiate(f->m, f->vdev, F_VERSION_1 | (1ULL << 6)));
    g_assert_false(vt_negotiate(f->m, f->vdev, F_VERSION_1 | (1ULL << 63)));
    /* A subset with VERSION_1. */
    g_assert_true(vt_negotiate(f->m, f->vdev,
                               F_VERSION_1 | (1ULL << 5) |
                               (1ULL << VIRTIO_F_EVENT_IDX)));
    g_assert_cmphex(f->vdev->guest_features, ==,
                    F_VERSION_1 | (1ULL << 5) |
                    (1ULL << VIRTIO_F_EVENT_IDX));
    g_assert_true(virtio_has_feature(f->vdev, 5));
    g_assert_false(virtio_has_feature(f->vdev, 40));
    /* Features are frozen after FEATURES_OK. */
    wr(f, VT_DRV_FEATURES_SEL, 0);
    wr(f, VT_DRV_FEATURES, 0);
    g_assert_cmphex(f->vdev->guest_features & (1ULL << 5), !=, 0);
    /* Clearing a status bit is not allowed (only a 0 write resets). */
    wr(f, VT_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    g_assert_cmpuint(rd(f, VT_STATUS), ==,
                     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                     VIRTIO_STATUS_FEATURES_OK);
    g_assert_cmpuint(f->td->starts, ==, 0);
    vt_driver_ok(f->m, f->vdev);
    g_assert_cmpuint(f->td->starts, ==, 1);
    g_assert_cmpuint(rd(f, VT_STATUS) & VIRTIO_STATUS_DRIVER_OK, !=, 0);
}

static void test_driver_ok_needs_features_ok(Fixture *f, gconstpointer data)
{
    wr(f, VT_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                     VIRTIO_STATUS_DRIVER_OK);
    g_assert_cmpuint(rd(f, VT_STATUS), ==,
                     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    g_assert_cmpuint(f->td->starts, ==, 0);
}

static void test_start_failure(Fixture *f, gconstpointer data)
{
    unsigned irqs = vt_irq_count(f->m, X86_VIRTIO_MMIO_FIRST_GSI);

    f->td->fail_start = true;
    g_assert_true(vt_negotiate(f->m, f->vdev, F_VERSION_1));
    vt_driver_ok(f->m, f->vdev);
    g_assert_cmpuint(rd(f, VT_STATUS) & VIRTIO_STATUS_NEEDS_RESET, !=, 0);
    g_assert_cmpuint(rd(f, VT_INT_STATUS), ==, VIRTIO_MMIO_INT_CONFIG);
    g_assert_cmpuint(vt_irq_count(f->m, X86_VIRTIO_MMIO_FIRST_GSI), ==,
                     irqs + 1);
    /* The driver's own writes never set or clear NEEDS_RESET. */
    wr(f, VT_STATUS, rd(f, VT_STATUS) | VIRTIO_STATUS_FAILED);
    g_assert_cmpuint(rd(f, VT_STATUS) & VIRTIO_STATUS_NEEDS_RESET, !=, 0);
    wr(f, VT_STATUS, 0);
    g_assert_cmpuint(rd(f, VT_STATUS), ==, 0);
}

static void test_queue_setup(Fixture *f, gconstpointer data)
{
    VirtQueue *vq = f->vdev->queues[1];

    wr(f, VT_QUEUE_SEL, 0);
    g_assert_cmpuint(rd(f, VT_QUEUE_NUM_MAX), ==, TD_QMAX);
    wr(f, VT_QUEUE_SEL, 1);
    g_assert_cmpuint(rd(f, VT_QUEUE_NUM_MAX), ==, TD_QMAX);
    wr(f, VT_QUEUE_SEL, 2);             /* no such queue */
    g_assert_cmpuint(rd(f, VT_QUEUE_NUM_MAX), ==, 0);
    g_assert_cmpuint(rd(f, VT_QUEUE_READY), ==, 0);
    wr(f, VT_QUEUE_READY, 1);
    g_assert_cmpuint(rd(f, VT_QUEUE_READY), ==, 0);
    /* Before FEATURES_OK a queue cannot go live. */
    g_assert_false(vt_queue_setup(f->m, f->vdev, 1, 32, RING_DESC,
                                  RING_AVAIL, RING_USED));
    g_assert_true(vt_negotiate(f->m, f->vdev, F_VERSION_1));
    /* The reset in vt_negotiate put QueueNum back to the maximum. */
    g_assert_cmpuint(virtqueue_size(vq), ==, TD_QMAX);
    /* Size above the maximum is ignored (the earlier 32 stays). */
    wr(f, VT_QUEUE_SEL, 1);
    wr(f, VT_QUEUE_NUM, 32);
    wr(f, VT_QUEUE_NUM, TD_QMAX * 2);
    g_assert_cmpuint(virtqueue_size(vq), ==, 32);
    /* Rings outside RAM: not ready. */
    g_assert_false(vt_queue_setup(f->m, f->vdev, 1, 32, RING_DESC,
                                  RING_AVAIL, VT_RAM_SIZE));
    g_assert_false(vt_queue_setup(f->m, f->vdev, 1, 32,
                                  0xffffffffffff0000ULL, RING_AVAIL,
                                  RING_USED));
    g_assert_true(vt_queue_setup(f->m, f->vdev, 1, 32, RING_DESC + 0x100000,
                                 RING_AVAIL, RING_USED));
    g_assert_cmphex(virtqueue_desc_addr(vq), ==, RING_DESC + 0x100000);
    g_assert_cmphex(virtqueue_avail_addr(vq), ==, RING_AVAIL);
    g_assert_cmphex(virtqueue_used_addr(vq), ==, RING_USED);
    g_assert_true(virtqueue_ready(vq));
    g_assert_false(virtqueue_ready(f->vdev->queues[0]));
    /* Frozen while ready. */
    wr(f, VT_QUEUE_NUM, 8);
    wr(f, VT_QUEUE_DESC_LO, 0);
    g_assert_cmpuint(virtqueue_size(vq), ==, 32);
    g_assert_cmphex(virtqueue_desc_addr(vq), ==, RING_DESC + 0x100000);
    /* QueueReady = 0 takes it down. */
    wr(f, VT_QUEUE_READY, 0);
    g_assert_cmpuint(rd(f, VT_QUEUE_READY), ==, 0);
    g_assert_false(virtqueue_ready(vq));
}

static void test_reset(Fixture *f, gconstpointer data)
{
    unsigned resets;

    g_assert_true(vt_negotiate(f->m, f->vdev, F_VERSION_1 | (1ULL << 5)));
    resets = f->td->resets;
    g_assert_true(vt_queue_setup(f->m, f->vdev, 0, 16, RING_DESC,
                                 RING_AVAIL, RING_USED));
    vt_driver_ok(f->m, f->vdev);
    virtio_device_notify_used(f->vdev);
    g_assert_cmpuint(rd(f, VT_INT_STATUS), ==, VIRTIO_MMIO_INT_VRING);
    wr(f, VT_QUEUE_SEL, 1);
    wr(f, VT_DEV_FEATURES_SEL, 1);

    wr(f, VT_STATUS, 0);
    g_assert_cmpuint(rd(f, VT_STATUS), ==, 0);
    g_assert_cmpuint(rd(f, VT_INT_STATUS), ==, 0);
    g_assert_cmphex(f->vdev->guest_features, ==, 0);
    g_assert_cmpuint(f->td->resets, ==, resets + 1);
    g_assert_false(virtqueue_ready(f->vdev->queues[0]));
    g_assert_cmphex(virtqueue_desc_addr(f->vdev->queues[0]), ==, 0);
    g_assert_cmpuint(virtqueue_size(f->vdev->queues[0]), ==, TD_QMAX);
    /* Selectors are back to 0. */
    g_assert_cmpuint(rd(f, VT_QUEUE_NUM_MAX), ==, TD_QMAX);
    g_assert_cmphex(rd(f, VT_DEV_FEATURES) & (1u << 5), !=, 0);
    g_assert_cmpuint(rd(f, VT_QUEUE_READY), ==, 0);
    /* And it comes up again. */
    g_assert_true(vt_negotiate(f->m, f->vdev, F_VERSION_1));
    g_assert_true(vt_queue_setup(f->m, f->vdev, 0, 16, RING_DESC,
                                 RING_AVAIL, RING_USED));
}

static void test_config_space(Fixture *f, gconstpointer data)
{
    g_assert_cmphex(rd_sized(f, VT_CONFIG, 1), ==, 0x11);
    g_assert_cmphex(rd_sized(f, VT_CONFIG + 1, 2), ==, 0x3322);
    g_assert_cmphex(rd_sized(f, VT_CONFIG + 2, 4), ==, 0x66554433);
    /* Crossing or past the end of the 6 bytes: ignored, reads 0. */
    g_assert_cmphex(rd_sized(f, VT_CONFIG + 4, 4), ==, 0);
    g_assert_cmphex(rd_sized(f, VT_CONFIG, 8), ==, 0);
    g_assert_cmphex(rd_sized(f, VT_CONFIG + 6, 1), ==, 0);
    g_assert_cmphex(rd_sized(f, 0xffc, 4), ==, 0);
    g_assert_cmphex(rd_sized(f, 0xfff, 1), ==, 0);
    wr_sized(f, VT_CONFIG + 4, 0xbeef, 2);
    g_assert_cmphex(rd_sized(f, VT_CONFIG + 4, 2), ==, 0xbeef);
    wr_sized(f, VT_CONFIG + 4, 0xdeadbeef, 4);
    wr_sized(f, 0xff8, 0xdeadbeef, 8);
    g_assert_cmphex(rd_sized(f, VT_CONFIG + 4, 2), ==, 0xbeef);
    g_assert_cmpmem(f->td->config, 4, "\x11\x22\x33\x44", 4);
}

static void test_config_interrupt(Fixture *f, gconstpointer data)
{
    unsigned gsi = X86_VIRTIO_MMIO_FIRST_GSI;
    unsigned irqs = vt_irq_count(f->m, gsi);
    uint32_t gen = rd(f, VT_CONFIG_GEN);

    virtio_device_notify_config(f->vdev);
    g_assert_cmpuint(rd(f, VT_CONFIG_GEN), !=, gen);
    g_assert_cmpuint(rd(f, VT_INT_STATUS), ==, VIRTIO_MMIO_INT_CONFIG);
    g_assert_cmpuint(vt_irq_count(f->m, gsi), ==, irqs + 1);
    virtio_device_notify_used(f->vdev);
    g_assert_cmpuint(rd(f, VT_INT_STATUS), ==,
                     VIRTIO_MMIO_INT_CONFIG | VIRTIO_MMIO_INT_VRING);
    g_assert_cmpuint(vt_irq_count(f->m, gsi), ==, irqs + 2);
    wr(f, VT_INT_ACK, VIRTIO_MMIO_INT_CONFIG);
    g_assert_cmpuint(rd(f, VT_INT_STATUS), ==, VIRTIO_MMIO_INT_VRING);
    wr(f, VT_INT_ACK, 0xffffffff);
    g_assert_cmpuint(rd(f, VT_INT_STATUS), ==, 0);
    /* InterruptStatus is read-only. */
    wr(f, VT_INT_STATUS, 3);
    g_assert_cmpuint(rd(f, VT_INT_STATUS), ==, 0);
}

static void test_needs_reset(Fixture *f, gconstpointer data)
{
    /* Before DRIVER_OK: the bit, but no interrupt. */
    virtio_device_set_needs_reset(f->vdev);
    g_assert_cmpuint(rd(f, VT_STATUS), ==, VIRTIO_STATUS_NEEDS_RESET);
    g_assert_cmpuint(rd(f, VT_INT_STATUS), ==, 0);
    wr(f, VT_STATUS, 0);
    g_assert_true(vt_negotiate(f->m, f->vdev, F_VERSION_1));
    vt_driver_ok(f->m, f->vdev);
    virtio_device_set_needs_reset(f->vdev);
    virtio_device_set_needs_reset(f->vdev);     /* one interrupt only */
    g_assert_cmpuint(rd(f, VT_STATUS) & VIRTIO_STATUS_NEEDS_RESET, !=, 0);
    g_assert_cmpuint(rd(f, VT_INT_STATUS), ==, VIRTIO_MMIO_INT_CONFIG);
    g_assert_cmpuint(vt_irq_count(f->m, X86_VIRTIO_MMIO_FIRST_GSI), ==, 1);
}

static void test_notify(Fixture *f, gconstpointer data)
{
    /* Before DRIVER_OK, notifications are dropped. */
    g_assert_true(vt_negotiate(f->m, f->vdev, F_VERSION_1));
    g_assert_true(vt_queue_setup(f->m, f->vdev, 1, 16, RING_DESC,
                                 RING_AVAIL, RING_USED));
    wr(f, VT_QUEUE_NOTIFY, 1);
    g_usleep(50 * 1000);
    g_assert_cmpuint(td_notified(f->td, 1), ==, 0);
    /* DRIVER_OK looks at every ready queue once. */
    vt_driver_ok(f->m, f->vdev);
    g_assert_true(td_wait_notified(f->td, 1, 0));
    wr(f, VT_QUEUE_NOTIFY, 1);
    g_assert_true(td_wait_notified(f->td, 1, 1));
    /* Queue 0 is not ready; queue 7 does not exist; neither arrives. */
    wr(f, VT_QUEUE_NOTIFY, 0);
    wr(f, VT_QUEUE_NOTIFY, 7);
    wr(f, VT_QUEUE_NOTIFY, 0xffffffff);
    wr(f, VT_QUEUE_NOTIFY, 1);
    g_assert_true(td_wait_notified(f->td, 1, 2));
    g_assert_cmpuint(td_notified(f->td, 0), ==, 0);
}

/* Realize and unrealize leave no thread and no fd behind. */
static unsigned count_dir(const char *path)
{
    DIR *d = opendir(path);
    unsigned n = 0;

    g_assert_nonnull(d);
    while (readdir(d)) {
        n++;
    }
    closedir(d);
    return n;
}

static void test_no_leftovers(void)
{
    unsigned threads = count_dir("/proc/self/task");
    unsigned fds = count_dir("/proc/self/fd");

    for (int i = 0; i < 3; i++) {
        VirtioTestMachine *m = virtio_test_machine_new(false);

        vt_add(m, TYPE_VIRTIO_TEST_DEV, "a");
        vt_add(m, "virtio-rng", "b");
        g_assert_cmpuint(count_dir("/proc/self/task"), ==, threads + 2);
        object_unref(OBJECT(m));
    }
    g_assert_cmpuint(count_dir("/proc/self/task"), ==, threads);
    g_assert_cmpuint(count_dir("/proc/self/fd"), ==, fds);
}

/* Every slot taken: the next device fails to realize, cleanly. */
static void test_slots_exhausted(void)
{
    VirtioTestMachine *m = virtio_test_machine_new(false);
    g_autoptr(GError) err = NULL;
    Object *dev;

    for (unsigned i = 0; i < X86_VIRTIO_MMIO_SLOTS; i++) {
        g_autofree char *name = g_strdup_printf("rng%u", i);
        VirtioDevice *v = vt_add(m, "virtio-rng", name);

        g_assert_cmphex(virtio_mmio_base(v), ==,
                        X86_VIRTIO_MMIO_BASE + i * X86_VIRTIO_MMIO_SLOT_SIZE);
    }
    dev = object_new("virtio-rng");
    g_assert_true(object_add_child(OBJECT(m), "extra", dev, NULL));
    object_unref(dev);
    g_assert_false(device_realize(DEVICE(dev), &err));
    g_assert_nonnull(strstr(err->message, "slot"));
    object_unref(OBJECT(m));
}

#define ADD(path, fn)                                                       \
    g_test_add("/virtio-mmio/" path, Fixture, NULL, fx_setup, fn,           \
               fx_teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_true(module_call_init(MODULE_INIT_QOM, NULL));
    ADD("identity", test_identity);
    ADD("features", test_features);
    ADD("no-shared-memory", test_no_shared_memory);
    ADD("negotiation", test_negotiation);
    ADD("driver-ok-needs-features-ok", test_driver_ok_needs_features_ok);
    ADD("start-failure", test_start_failure);
    ADD("queue-setup", test_queue_setup);
    ADD("reset", test_reset);
    ADD("config-space", test_config_space);
    ADD("config-interrupt", test_config_interrupt);
    ADD("needs-reset", test_needs_reset);
    ADD("notify", test_notify);
    g_test_add_func("/virtio-mmio/no-leftovers", test_no_leftovers);
    g_test_add_func("/virtio-mmio/slots-exhausted", test_slots_exhausted);
    return g_test_run();
}
