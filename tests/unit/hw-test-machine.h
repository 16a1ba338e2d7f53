/*
 * A test-only concrete machine for device tests: a real port-I/O bus, a
 * real RunEnd, and a set_irq that records each line's level and rising
 * edges.  Devices realized under it are driven through iobus_read/write
 * exactly as a vCPU's KVM_EXIT_IO would.  Include from one test file per
 * binary (it defines and registers the type).
 */
#ifndef VMSPEC_TESTS_HW_TEST_MACHINE_H
#define VMSPEC_TESTS_HW_TEST_MACHINE_H

#include <glib.h>

#include "machine/kvm/iobus.h"
#include "machine/kvm/run-end.h"
#include "machine/qom/device.h"
#include "machine/qom/machine.h"

#define TYPE_HW_TEST_MACHINE "hw-test-machine"
#define HW_TEST_GSIS 24

typedef struct HwTestMachine {
    MachineState parent_obj;
    GMutex lock;
    GCond changed;
    bool level[HW_TEST_GSIS];
    unsigned rising[HW_TEST_GSIS];  /* low -> high transitions */
} HwTestMachine;

#define HW_TEST_MACHINE(obj)                                               \
    OBJECT_CHECK(HwTestMachine, (obj), TYPE_HW_TEST_MACHINE)

static void hw_test_set_irq(MachineState *ms, unsigned gsi, bool level)
{
    HwTestMachine *m = HW_TEST_MACHINE(ms);

    g_assert_cmpuint(gsi, <, HW_TEST_GSIS);
    g_mutex_lock(&m->lock);
    if (level && !m->level[gsi]) {
        m->rising[gsi]++;
    }
    m->level[gsi] = level;
    g_cond_broadcast(&m->changed);
    g_mutex_unlock(&m->lock);
}

static void hw_test_machine_init(Object *obj)
{
    HwTestMachine *m = HW_TEST_MACHINE(obj);
    GError *err = NULL;

    g_mutex_init(&m->lock);
    g_cond_init(&m->changed);
    m->parent_obj.pio_bus = iobus_new("pio");
    m->parent_obj.mmio_bus = iobus_new("mmio");
    m->parent_obj.run_end = run_end_new(&err);
    g_assert_no_error(err);
}

/* Devices go before the bus they are registered on. */
static void hw_test_machine_release(Object *obj)
{
    machine_unrealize_children(MACHINE(obj));
}

static void hw_test_machine_finalize(Object *obj)
{
    HwTestMachine *m = HW_TEST_MACHINE(obj);

    iobus_free(m->parent_obj.pio_bus);
    iobus_free(m->parent_obj.mmio_bus);
    run_end_free(m->parent_obj.run_end);
    g_cond_clear(&m->changed);
    g_mutex_clear(&m->lock);
}

static void hw_test_machine_class_init(ObjectClass *oc, const void *data)
{
    oc->release = hw_test_machine_release;
    MACHINE_CLASS(oc)->set_irq = hw_test_set_irq;
}

static const TypeInfo hw_test_machine_info = {
    .name = TYPE_HW_TEST_MACHINE,
    .parent = TYPE_MACHINE,
    .instance_size = sizeof(HwTestMachine),
    .instance_init = hw_test_machine_init,
    .instance_finalize = hw_test_machine_finalize,
    .class_init = hw_test_machine_class_init,
};

static void hw_test_register_types(void)
{
    type_register_static(&hw_test_machine_info);
}

type_init(hw_test_register_types)

static inline HwTestMachine *hw_test_machine_new(void)
{
    return HW_TEST_MACHINE(object_new(TYPE_HW_TEST_MACHINE));
}

/* Adds a new device of type under m as name; not realized yet. */
static inline DeviceState *hw_test_add(HwTestMachine *m, const char *type,
                                       const char *name)
{
    Object *dev = object_new(type);
    GError *err = NULL;

    g_assert_true(object_add_child(OBJECT(m), name, dev, &err));
    g_assert_no_error(err);
    object_unref(dev);              /* the machine holds it */
    return DEVICE(dev);
}

static inline void hw_test_realize(DeviceState *dev)
{
    GError *err = NULL;

    g_assert_true(device_realize(dev, &err));
    g_assert_no_error(err);
}

static inline uint8_t hw_inb(HwTestMachine *m, uint16_t port)
{
    uint8_t v = 0;

    g_assert_true(iobus_read(m->parent_obj.pio_bus, port, &v, 1));
    return v;
}

static inline void hw_outb(HwTestMachine *m, uint16_t port, uint8_t v)
{
    g_assert_true(iobus_write(m->parent_obj.pio_bus, port, &v, 1));
}

/* A line's state, read under the lock: devices set it from other
 * threads. */
typedef struct {
    bool level;
    unsigned rising;                /* low -> high transitions */
} HwIrqState;

static inline HwIrqState hw_irq_state(HwTestMachine *m, unsigned gsi)
{
    HwIrqState state;

    g_mutex_lock(&m->lock);
    state.level = m->level[gsi];
    state.rising = m->rising[gsi];
    g_mutex_unlock(&m->lock);
    return state;
}

static inline bool hw_irq_level(HwTestMachine *m, unsigned gsi)
{
    return hw_irq_state(m, gsi).level;
}

static inline unsigned hw_irq_rising(HwTestMachine *m, unsigned gsi)
{
    return hw_irq_state(m, gsi).rising;
}

/* Waits up to 5 s for gsi to reach level (set by another thread). */
static inline bool hw_irq_wait(HwTestMachine *m, unsigned gsi, bool level)
{
    gint64 end = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;
    bool ok = true;

    g_mutex_lock(&m->lock);
    while (m->level[gsi] != level && ok) {
        ok = g_cond_wait_until(&m->changed, &m->lock, end);
    }
    ok = m->level[gsi] == level;
    g_mutex_unlock(&m->lock);
    return ok;
}

#endif
