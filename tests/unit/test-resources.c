/* The resource assignment pass (machine/qom/resources.h): slots in tree
 * order, the same answer every time, fixed windows refused when taken,
 * and a device that does not fit failing with its name. */
#include "machine/qom/module.h"
#include "tests/unit/virtio-test-machine.h"

/* Adds a device of type as name, not realized. */
static DeviceState *add(VirtioTestMachine *m, const char *type,
                        const char *name)
{
    Object *dev = object_new(type);

    g_assert_true(object_add_child(OBJECT(m), name, dev, NULL));
    object_unref(dev);
    g_assert_true(object_property_set_str(dev, "id", name, NULL));
    return DEVICE(dev);
}

static void test_slots_in_tree_order(void)
{
    VirtioTestMachine *m = virtio_test_machine_new(false);
    MachineState *ms = MACHINE(m);
    DeviceState *a = add(m, "virtio-rng", "a");
    DeviceState *b = add(m, "virtio-rng", "b");
    g_autoptr(GError) err = NULL;

    for (int pass = 0; pass < 2; pass++) {
        g_assert_true(machine_assign_resources(ms, &err));
        g_assert_no_error(err);
        g_assert_true(a->res.assigned && b->res.assigned);
        g_assert_cmpint(a->res.slot, ==, 0);
        g_assert_cmpint(b->res.slot, ==, 1);
        g_assert_cmphex(a->res.mmio_base, ==, X86_VIRTIO_MMIO_BASE);
        g_assert_cmphex(b->res.mmio_base, ==,
                        X86_VIRTIO_MMIO_BASE + X86_VIRTIO_MMIO_SLOT_SIZE);
        g_assert_cmpuint(b->res.mmio_size, ==, X86_VIRTIO_MMIO_SLOT_SIZE);
        g_assert_cmpint(a->res.irq, ==, X86_VIRTIO_MMIO_FIRST_GSI);
        g_assert_cmpint(b->res.irq, ==, X86_VIRTIO_MMIO_FIRST_GSI + 1);
        g_assert_cmpuint(a->res.pio_count, ==, 0);
    }
    g_autofree char *text = device_resources_describe(&b->res);
    g_assert_cmpstr(text, ==, "mmio 0xd0001000+0x1000, irq 6, slot 1");
    object_unref(OBJECT(m));
}

/* Two devices placed on overlapping ports: the second is refused, naming
 * the first, and keeps no record. */
static void test_overlap_refused(void)
{
    VirtioTestMachine *m = virtio_test_machine_new(false);
    DeviceState *a = add(m, "pvpanic", "p0");
    DeviceState *b = add(m, "serial-8250", "uart");
    g_autoptr(GError) err = NULL;

    g_assert_true(object_property_set_str(OBJECT(a), "port", "0x3fc", NULL));
    g_assert_false(machine_assign_resources(MACHINE(m), &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_BUSY);
    g_assert_nonnull(strstr(err->message, "'uart'"));
    g_assert_nonnull(strstr(err->message, "I/O port 0x3fc is taken by "
                                          "device 'p0'"));
    g_assert_true(a->res.assigned);
    g_assert_false(b->res.assigned);
    object_unref(OBJECT(m));
}

/* A machine without virtio slots: a virtio device is an error that names
 * the machine type, and placed at its spec entry. */
static void test_no_slots(void)
{
    g_autoptr(Object) m = object_new("hw-test-machine-noslots");
    Object *dev = object_new("virtio-rng");
    g_autoptr(GError) err = NULL;

    g_assert_true(object_add_child(m, "rng", dev, NULL));
    object_unref(dev);
    object_property_set_str(dev, "id", "rng", NULL);
    device_set_origin(DEVICE(dev), "vm.yaml:7:5");
    g_assert_false(machine_assign_resources(MACHINE(m), &err));
    g_assert_cmpstr(err->message, ==, "vm.yaml:7:5: virtio-rng 'rng': the "
                    "hw-test-machine-noslots machine has no virtio slots");
}

static const TypeInfo noslots_info = {
    .name = "hw-test-machine-noslots",
    .parent = TYPE_MACHINE,
    .instance_size = sizeof(MachineState),
};

static void noslots_register(void)
{
    type_register_static(&noslots_info);
}

type_init(noslots_register)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_true(module_call_init(MODULE_INIT_QOM, NULL));
    g_test_add_func("/resources/slots-in-tree-order",
                    test_slots_in_tree_order);
    g_test_add_func("/resources/overlap-refused", test_overlap_refused);
    g_test_add_func("/resources/no-slots", test_no_slots);
    return g_test_run();
}
