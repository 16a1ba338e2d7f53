/* virtio-rng end to end through the virtio-mmio transport, driven as a
 * guest driver would (virtio 1.2, 5.4), and, where /dev/kvm is usable, the
 * transport's real ioeventfds. */
#include <sys/eventfd.h>
#include <unistd.h>

#include "machine/qom/module.h"
#include "tests/unit/virtio-test-machine.h"

#define F_VERSION_1 (1ULL << VIRTIO_F_VERSION_1)
#define RING_DESC   0x1000
#define RING_AVAIL  0x2000
#define RING_USED   0x3000

static void put_desc(uint8_t *ram, unsigned i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    uint8_t *d = ram + RING_DESC + 16 * i;

    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
}

static uint16_t used_idx(uint8_t *ram)
{
    return __atomic_load_n((uint16_t *)(ram + RING_USED + 2),
                           __ATOMIC_ACQUIRE);
}

static bool wait_used(uint8_t *ram, uint16_t idx)
{
    for (int i = 0; i < 5000 && used_idx(ram) != idx; i++) {
        g_usleep(1000);
    }
    return used_idx(ram) == idx;
}

static void rng_run(VirtioTestMachine *m, VirtioDevice *vdev, bool irq_seen)
{
    uint8_t *ram = vt_ram(m);
    unsigned gsi = virtio_mmio_gsi(vdev);
    unsigned irqs = vt_irq_count(m, gsi);
    uint32_t len;
    static const uint8_t zero[64];

    g_assert_cmpuint(vt_read(m, vdev, VT_DEVICE_ID), ==, 4);
    g_assert_true(vt_negotiate(m, vdev,
                               F_VERSION_1 | (1ULL << VIRTIO_F_EVENT_IDX) |
                               (1ULL << VIRTIO_F_INDIRECT_DESC)));
    vt_write(m, vdev, VT_QUEUE_SEL, 0);
    g_assert_cmpuint(vt_read(m, vdev, VT_QUEUE_NUM_MAX), >=, 16);
    g_assert_true(vt_queue_setup(m, vdev, 0, 16, RING_DESC, RING_AVAIL,
                                 RING_USED));
    vt_driver_ok(m, vdev);

    /* Request 1: two writable buffers of 64 bytes; request 2: 128 KiB,
     * of which the device fills at most 64 KiB. */
    memset(ram + 0x10000, 0, 0x30000);
    put_desc(ram, 0, 0x10000, 64, 2 | 1, 1);
    put_desc(ram, 1, 0x10040, 64, 2, 0);
    put_desc(ram, 2, 0x20000, 0x20000, 2, 0);
    memcpy(ram + RING_AVAIL + 4, (uint16_t[]){ 0, 2 }, 4);
    __atomic_store_n((uint16_t *)(ram + RING_AVAIL + 2), 2,
                     __ATOMIC_RELEASE);
    vt_write(m, vdev, VT_QUEUE_NOTIFY, 0);
    g_assert_true(wait_used(ram, 2));
    memcpy(&len, ram + RING_USED + 8, 4);
    g_assert_cmpuint(len, ==, 128);
    memcpy(&len, ram + RING_USED + 16, 4);
    g_assert_cmpuint(len, ==, 64 * 1024);
    g_assert_true(memcmp(ram + 0x10000, zero, 64) != 0);
    g_assert_true(memcmp(ram + 0x10040, zero, 64) != 0);
    g_assert_true(memcmp(ram + 0x20000 + 0x10000 - 64, zero, 64) != 0);
    g_assert_true(memcmp(ram + 0x30000, zero, 64) == 0);
    /* The device asked to hear about the next buffer (EVENT_IDX). */
    g_assert_cmpuint(*(uint16_t *)(ram + RING_USED + 4 + 8 * 16), ==, 2);
    if (irq_seen) {
        g_assert_true(vt_irq_wait(m, gsi, irqs));
    }
    g_assert_cmpuint(vt_read(m, vdev, VT_INT_STATUS) &
                     VIRTIO_MMIO_INT_VRING, !=, 0);

    /* A broken chain (a loop) puts the device into NEEDS_RESET. */
    put_desc(ram, 3, 0x10000, 64, 2 | 1, 3);
    memcpy(ram + RING_AVAIL + 8, (uint16_t[]){ 3 }, 2);
    __atomic_store_n((uint16_t *)(ram + RING_AVAIL + 2), 3,
                     __ATOMIC_RELEASE);
    vt_write(m, vdev, VT_QUEUE_NOTIFY, 0);
    for (int i = 0; i < 5000 && !(vt_read(m, vdev, VT_STATUS) &
                                  VIRTIO_STATUS_NEEDS_RESET); i++) {
        g_usleep(1000);
    }
    g_assert_cmpuint(vt_read(m, vdev, VT_STATUS) & VIRTIO_STATUS_NEEDS_RESET,
                     !=, 0);
    vt_write(m, vdev, VT_STATUS, 0);
    g_assert_cmpuint(vt_read(m, vdev, VT_STATUS), ==, 0);
}

static void test_rng(void)
{
    VirtioTestMachine *m = virtio_test_machine_new(false);
    VirtioDevice *vdev = vt_add(m, "virtio-rng", "rng0");

    rng_run(m, vdev, true);
    object_unref(OBJECT(m));
}

/* ---- with real KVM: ioeventfds and the irqfd ---- */

static void test_kvm_wiring(void)
{
    VirtioTestMachine *m = virtio_test_machine_new(true);
    g_autoptr(GError) err = NULL;
    VirtioDevice *vdev;
    KvmVm *kvm;
    uint64_t notify;
    int efd;

    if (!m) {
        return;
    }
    kvm = m->parent_obj.kvm;
    vdev = vt_add(m, "virtio-rng", "rng0");
    notify = virtio_mmio_base(vdev) + VT_QUEUE_NOTIFY;
    efd = eventfd(0, EFD_CLOEXEC);
    /* The transport holds QueueNotify with datamatch 0: a second
     * assignment of the same is refused (EEXIST)... */
    g_assert_false(kvm_vm_ioeventfd(kvm, efd, notify, 4, false, true, 0,
                                    false, &err));
    g_clear_error(&err);
    /* ...but another queue index is free. */
    g_assert_true(kvm_vm_ioeventfd(kvm, efd, notify, 4, false, true, 1,
                                   false, &err));
    g_assert_no_error(err);
    g_assert_true(kvm_vm_ioeventfd(kvm, efd, notify, 4, false, true, 1,
                                   true, &err));
    /* Queue work still runs (through the MMIO fallback here: iobus
     * writes do not pass through KVM). */
    rng_run(m, vdev, false);
    /* After unrealize the ioeventfd is gone. */
    device_unrealize(DEVICE(vdev));
    g_assert_true(kvm_vm_ioeventfd(kvm, efd, notify, 4, false, true, 0,
                                   false, &err));
    g_assert_no_error(err);
    g_assert_true(kvm_vm_ioeventfd(kvm, efd, notify, 4, false, true, 0,
                                   true, &err));
    close(efd);
    object_unref(OBJECT(m));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_true(module_call_init(MODULE_INIT_QOM, NULL));
    g_test_add_func("/virtio-mmio/rng", test_rng);
    g_test_add_func("/virtio-mmio/kvm-wiring", test_kvm_wiring);
    return g_test_run();
}
