/*
 * i8042: Linux's reboot path (kb_wait, then 0xfe to port 0x64) resets the
 * VM; nothing else does.
 */
#include <glib.h>

#include "machine/x86/layout.h"
#include "tests/unit/hw-test-machine.h"

static void test_reset(void)
{
    g_autoptr(Object) m = OBJECT(hw_test_machine_new());
    HwTestMachine *hm = HW_TEST_MACHINE(m);
    RunEnd *exit = hm->parent_obj.run_end;
    g_autofree char *detail = NULL;
    DeviceState *dev = hw_test_add(hm, "i8042", "i8042");

    g_assert_null(DEVICE_GET_CLASS(dev)->spec_list);
    hw_test_realize(dev);
    /* kb_wait(): input buffer empty (bit 1); nothing to read (bit 0). */
    g_assert_cmphex(hw_inb(hm, X86_I8042_CMD_PORT) & 0x03, ==, 0);
    g_assert_cmphex(hw_inb(hm, X86_I8042_DATA_PORT), ==, 0);

    /* Other commands and keyboard data change nothing. */
    hw_outb(hm, X86_I8042_CMD_PORT, 0xaa);
    hw_outb(hm, X86_I8042_CMD_PORT, 0xff);
    hw_outb(hm, X86_I8042_DATA_PORT, 0xfe);
    g_assert_cmpint(run_end_get(exit, NULL), ==, RUN_END_NONE);

    hw_outb(hm, X86_I8042_CMD_PORT, 0xfe);
    g_assert_cmpint(run_end_get(exit, &detail), ==, RUN_END_RESET);
    g_assert_cmpstr(detail, ==, "i8042 reset");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_true(module_call_init(MODULE_INIT_QOM, NULL));
    g_test_add_func("/i8042/reset", test_reset);
    return g_test_run();
}
