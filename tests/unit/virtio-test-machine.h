/*
 * A test-only machine for virtio device tests: real guest RAM, a real MMIO
 * bus, virtio-mmio slots (the microvm's addresses), and a set_irq that
 * counts rising edges.  Without KVM (the default) the transport delivers
 * queue notifications through its MMIO handler and pulses set_irq; with
 * KVM (virtio_test_machine_new(true)) it uses real ioeventfds and irqfds
 * on an in-kernel irqchip.  Include from one test file per binary (it
 * defines and registers the type).
 *
 * Helpers drive the device as a driver would: vt_read/vt_write are 32-bit
 * register accesses through iobus_read/iobus_write, vt_ram the host view of
 * guest RAM (gpa 0 .. VT_RAM_SIZE).
 */
#ifndef VMSPEC_TESTS_VIRTIO_TEST_MACHINE_H
#define VMSPEC_TESTS_VIRTIO_TEST_MACHINE_H

#include <glib.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "machine/kvm/guest-mem.h"
#include "machine/kvm/iobus.h"
#include "machine/kvm/kvm.h"
#include "machine/kvm/run-end.h"
#include "machine/qom/device.h"
#include "machine/qom/error.h"
#include "machine/qom/machine.h"
#include "machine/virtio/mmio.h"
#include "machine/virtio/virtio.h"
#include "machine/x86/layout.h"

#define TYPE_VIRTIO_TEST_MACHINE "virtio-test-machine"
#define VT_GSIS 32
#define VT_RAM_SIZE (4 * 1024 * 1024)

typedef struct VirtioTestMachine {
    MachineState parent_obj;
    pthread_mutex_t lock;       /* pthread: visible to TSan */
    pthread_cond_t changed;
    unsigned rising[VT_GSIS];
} VirtioTestMachine;

#define VIRTIO_TEST_MACHINE(obj)                                           \
    OBJECT_CHECK(VirtioTestMachine, (obj), TYPE_VIRTIO_TEST_MACHINE)

static void vt_set_irq(MachineState *ms, unsigned gsi, bool level)
{
    VirtioTestMachine *m = VIRTIO_TEST_MACHINE(ms);

    g_assert_cmpuint(gsi, <, VT_GSIS);
    if (level) {
        pthread_mutex_lock(&m->lock);
        m->rising[gsi]++;
        pthread_cond_broadcast(&m->changed);
        pthread_mutex_unlock(&m->lock);
    }
}

/* microvm's slots, so that addresses match what guests see there. */
static const MachineLayout vt_layout = {
    .virtio_base = X86_VIRTIO_MMIO_BASE,
    .virtio_slot_size = X86_VIRTIO_MMIO_SLOT_SIZE,
    .virtio_slots = X86_VIRTIO_MMIO_SLOTS,
    .virtio_first_irq = X86_VIRTIO_MMIO_FIRST_GSI,
    .virtio_transport = &virtio_mmio_transport,
};

static void vt_machine_init(Object *obj)
{
    VirtioTestMachine *m = VIRTIO_TEST_MACHINE(obj);
    GError *err = NULL;

    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->changed, NULL);
    m->parent_obj.mmio_bus = iobus_new("mmio");
    m->parent_obj.run_end = run_end_new(&err);
    g_assert_no_error(err);
    m->parent_obj.ram = guest_mem_new(VT_RAM_SIZE, X86_MMIO_HOLE_START,
                                      &err);
    g_assert_no_error(err);
}

static void vt_machine_release(Object *obj)
{
    machine_unrealize_children(MACHINE(obj));
}

static void vt_machine_finalize(Object *obj)
{
    VirtioTestMachine *m = VIRTIO_TEST_MACHINE(obj);

    iobus_free(m->parent_obj.mmio_bus);
    run_end_free(m->parent_obj.run_end);
    guest_mem_free(m->parent_obj.ram);
    if (m->parent_obj.kvm) {
        kvm_vm_free(m->parent_obj.kvm);
    }
    pthread_cond_destroy(&m->changed);
    pthread_mutex_destroy(&m->lock);
}

static void vt_machine_class_init(ObjectClass *oc, const void *data)
{
    oc->release = vt_machine_release;
    MACHINE_CLASS(oc)->set_irq = vt_set_irq;
    MACHINE_CLASS(oc)->layout = &vt_layout;
}

static const TypeInfo vt_machine_info = {
    .name = TYPE_VIRTIO_TEST_MACHINE,
    .parent = TYPE_MACHINE,
    .instance_size = sizeof(VirtioTestMachine),
    .instance_init = vt_machine_init,
    .instance_finalize = vt_machine_finalize,
    .class_init = vt_machine_class_init,
};

static void vt_register_types(void)
{
    type_register_static(&vt_machine_info);
}

type_init(vt_register_types)

/*
 * A new machine.  with_kvm: also a KVM VM with an in-kernel irqchip and
 * the RAM registered; returns NULL (after g_test_skip) when KVM is not
 * usable here.  Unref the machine to unrealize its devices and free it.
 */
static inline VirtioTestMachine *virtio_test_machine_new(bool with_kvm)
{
    VirtioTestMachine *m =
        VIRTIO_TEST_MACHINE(object_new(TYPE_VIRTIO_TEST_MACHINE));
    MachineState *ms = &m->parent_obj;
    GError *err = NULL;

    if (!with_kvm) {
        return m;
    }
    ms->kvm = kvm_vm_new(NULL, &err);
    if (!ms->kvm ||
        !kvm_vm_setup_x86(ms->kvm, X86_KVM_TSS_ADDR,
                          X86_KVM_IDENTITY_MAP_ADDR, true, &err) ||
        !guest_mem_register(ms->ram, ms->kvm->vm_fd, 0, &err)) {
        g_autofree char *msg = g_strdup_printf("KVM unusable: %s",
                                               err->message);

        g_test_skip(msg);
        g_error_free(err);
        object_unref(OBJECT(m));
        return NULL;
    }
    return m;
}

/* Adds and realizes a device of type under m as name. */
static inline VirtioDevice *vt_add(VirtioTestMachine *m, const char *type,
                                   const char *name)
{
    Object *dev = object_new(type);
    GError *err = NULL;

    object_property_set_str(dev, "id", name, NULL);
    g_assert_true(object_add_child(OBJECT(m), name, dev, &err));
    g_assert_no_error(err);
    object_unref(dev);              /* the machine holds it */
    g_assert_true(device_realize(DEVICE(dev), &err));
    g_assert_no_error(err);
    return VIRTIO_DEVICE(dev);
}

static inline uint8_t *vt_ram(VirtioTestMachine *m)
{
    return guest_mem_translate(m->parent_obj.ram, 0, VT_RAM_SIZE);
}

/* A 32-bit register read/write at offset off of vdev's window. */
static inline uint32_t vt_read(VirtioTestMachine *m, VirtioDevice *vdev,
                               uint64_t off)
{
    uint32_t v = 0;

    g_assert_true(iobus_read(m->parent_obj.mmio_bus,
                             virtio_mmio_base(vdev) + off, &v, 4));
    return v;
}

static inline void vt_write(VirtioTestMachine *m, VirtioDevice *vdev,
                            uint64_t off, uint32_t v)
{
    g_assert_true(iobus_write(m->parent_obj.mmio_bus,
                              virtio_mmio_base(vdev) + off, &v, 4));
}

static inline unsigned vt_irq_count(VirtioTestMachine *m, unsigned gsi)
{
    unsigned n;

    pthread_mutex_lock(&m->lock);
    n = m->rising[gsi];
    pthread_mutex_unlock(&m->lock);
    return n;
}

/* An absolute CLOCK_REALTIME deadline secs from now, for
 * pthread_cond_timedwait. */
static inline struct timespec vt_deadline(unsigned secs)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += secs;
    return ts;
}

/* Waits up to 5 s for more than `seen` rising edges on gsi. */
static inline bool vt_irq_wait(VirtioTestMachine *m, unsigned gsi,
                               unsigned seen)
{
    struct timespec end = vt_deadline(5);
    bool ok;

    pthread_mutex_lock(&m->lock);
    while (m->rising[gsi] <= seen &&
           pthread_cond_timedwait(&m->changed, &m->lock, &end) == 0) {
    }
    ok = m->rising[gsi] > seen;
    pthread_mutex_unlock(&m->lock);
    return ok;
}

/* Register offsets (virtio 1.2, 4.2.2). */
#define VT_MAGIC            0x000
#define VT_VERSION          0x004
#define VT_DEVICE_ID        0x008
#define VT_VENDOR_ID        0x00c
#define VT_DEV_FEATURES     0x010
#define VT_DEV_FEATURES_SEL 0x014
#define VT_DRV_FEATURES     0x020
#define VT_DRV_FEATURES_SEL 0x024
#define VT_QUEUE_SEL        0x030
#define VT_QUEUE_NUM_MAX    0x034
#define VT_QUEUE_NUM        0x038
#define VT_QUEUE_READY      0x044
#define VT_QUEUE_NOTIFY     0x050
#define VT_INT_STATUS       0x060
#define VT_INT_ACK          0x064
#define VT_STATUS           0x070
#define VT_QUEUE_DESC_LO    0x080
#define VT_QUEUE_DESC_HI    0x084
#define VT_QUEUE_DRIVER_LO  0x090
#define VT_QUEUE_DRIVER_HI  0x094
#define VT_QUEUE_DEVICE_LO  0x0a0
#define VT_QUEUE_DEVICE_HI  0x0a4
#define VT_CONFIG_GEN       0x0fc
#define VT_CONFIG           0x100

/* Negotiates features (must include VERSION_1 to succeed) through
 * ACKNOWLEDGE | DRIVER | FEATURES_OK; returns whether FEATURES_OK stuck. */
static inline bool vt_negotiate(VirtioTestMachine *m, VirtioDevice *vdev,
                                uint64_t features)
{
    vt_write(m, vdev, VT_STATUS, 0);
    vt_write(m, vdev, VT_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    vt_write(m, vdev, VT_STATUS,
             VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    vt_write(m, vdev, VT_DRV_FEATURES_SEL, 0);
    vt_write(m, vdev, VT_DRV_FEATURES, (uint32_t)features);
    vt_write(m, vdev, VT_DRV_FEATURES_SEL, 1);
    vt_write(m, vdev, VT_DRV_FEATURES, (uint32_t)(features >> 32));
    vt_write(m, vdev, VT_STATUS,
             VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
             VIRTIO_STATUS_FEATURES_OK);
    return vt_read(m, vdev, VT_STATUS) & VIRTIO_STATUS_FEATURES_OK;
}

/* Sets up queue index with size entries at desc/avail/used and enables
 * it; returns QueueReady as read back. */
static inline bool vt_queue_setup(VirtioTestMachine *m, VirtioDevice *vdev,
                                  unsigned index, uint16_t size,
                                  uint64_t desc, uint64_t avail,
                                  uint64_t used)
{
    vt_write(m, vdev, VT_QUEUE_SEL, index);
    vt_write(m, vdev, VT_QUEUE_NUM, size);
    vt_write(m, vdev, VT_QUEUE_DESC_LO, (uint32_t)desc);
    vt_write(m, vdev, VT_QUEUE_DESC_HI, (uint32_t)(desc >> 32));
    vt_write(m, vdev, VT_QUEUE_DRIVER_LO, (uint32_t)avail);
    vt_write(m, vdev, VT_QUEUE_DRIVER_HI, (uint32_t)(avail >> 32));
    vt_write(m, vdev, VT_QUEUE_DEVICE_LO, (uint32_t)used);
    vt_write(m, vdev, VT_QUEUE_DEVICE_HI, (uint32_t)(used >> 32));
    vt_write(m, vdev, VT_QUEUE_READY, 1);
    return vt_read(m, vdev, VT_QUEUE_READY) == 1;
}

static inline void vt_driver_ok(VirtioTestMachine *m, VirtioDevice *vdev)
{
    vt_write(m, vdev, VT_STATUS,
             VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
             VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

#endif
