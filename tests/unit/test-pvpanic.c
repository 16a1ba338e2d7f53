/*
 * pvpanic on the port bus: the supported-events byte, PANICKED stops the
 * VM with RUN_END_PANIC, CRASH_LOADED alone does not.
 */
#include <string.h>
#include <glib.h>

#include "machine/hw/pvpanic.h"
#include "machine/x86/layout.h"
#include "tests/unit/hw-test-machine.h"

static void test_events(void)
{
    g_autoptr(Object) m = OBJECT(hw_test_machine_new());
    HwTestMachine *hm = HW_TEST_MACHINE(m);
    RunEnd *exit = hm->parent_obj.run_end;
    g_autofree char *detail = NULL;

    DeviceState *dev = hw_test_add(hm, TYPE_PVPANIC, "pvpanic");

    hw_test_realize(dev);
    g_assert_cmphex(hw_inb(hm, X86_PVPANIC_PORT), ==,
                    PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);

    hw_outb(hm, X86_PVPANIC_PORT, PVPANIC_CRASH_LOADED);
    g_assert_cmpint(run_end_get(exit, NULL), ==, RUN_END_NONE);
    g_assert_cmpuint(pvpanic_crash_loaded_count(dev), ==, 1);
    hw_outb(hm, X86_PVPANIC_PORT, 0);
    g_assert_cmpint(run_end_get(exit, NULL), ==, RUN_END_NONE);

    hw_outb(hm, X86_PVPANIC_PORT, PVPANIC_PANICKED);
    g_assert_cmpint(run_end_get(exit, &detail), ==, RUN_END_PANIC);
    g_assert_cmpstr(detail, ==, "guest kernel panic (pvpanic)");
    /* Only the one port. */
    g_assert_false(iobus_read(hm->parent_obj.pio_bus, X86_PVPANIC_PORT + 1,
                              &(uint8_t){ 0 }, 1));
}

static void test_unrealize(void)
{
    g_autoptr(Object) m = OBJECT(hw_test_machine_new());
    HwTestMachine *hm = HW_TEST_MACHINE(m);
    DeviceState *dev = hw_test_add(hm, "pvpanic", "pvpanic");
    uint8_t v;

    g_assert_null(DEVICE_GET_CLASS(dev)->spec_list);
    hw_test_realize(dev);
    device_unrealize(dev);
    g_assert_false(iobus_read(hm->parent_obj.pio_bus, X86_PVPANIC_PORT,
                              &v, 1));
    hw_test_realize(dev);           /* the port is free again */
    g_assert_cmphex(hw_inb(hm, X86_PVPANIC_PORT), ==, 3);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_true(module_call_init(MODULE_INIT_QOM, NULL));
    g_test_add_func("/pvpanic/events", test_events);
    g_test_add_func("/pvpanic/unrealize", test_unrealize);
    return g_test_run();
}
