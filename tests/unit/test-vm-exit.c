/*
 * VM exit requests (machine/kvm/vm-exit.c): the first one wins and wakes
 * the eventfd; a crash's detail ends with the boot note.
 */
#include <glib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "machine/kvm/vm-exit.h"

static void test_first_wins(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VmExit) e = vm_exit_new(&err);
    g_autofree char *detail = NULL;
    uint64_t count = 0;

    g_assert_no_error(err);
    g_assert_cmpint(vm_exit_get(e, NULL), ==, VM_EXIT_NONE);
    g_assert_cmpint(read(vm_exit_fd(e), &count, sizeof(count)), <, 0);
    g_assert_true(vm_exit_request(e, VM_EXIT_POWEROFF, "S5"));
    g_assert_false(vm_exit_request(e, VM_EXIT_CRASH, "later"));
    g_assert_cmpint(vm_exit_get(e, &detail), ==, VM_EXIT_POWEROFF);
    g_assert_cmpstr(detail, ==, "S5");
    g_assert_cmpint(read(vm_exit_fd(e), &count, sizeof(count)), ==,
                    sizeof(count));
    g_assert_cmpuint(count, ==, 1);
}

/* The boot note goes with crashes and halts only. */
static void test_boot_note(void)
{
    static const struct {
        VmExitReason reason;
        const char *detail;
        const char *want;
    } cases[] = {
        { VM_EXIT_CRASH, "vCPU 0: triple fault\nRIP=...\n",
          "vCPU 0: triple fault\nRIP=...\nkernel: here\n" },
        { VM_EXIT_HALT, NULL, "kernel: here\n" },
        { VM_EXIT_PANIC, "panicked", "panicked" },
        { VM_EXIT_RESET, NULL, NULL },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(VmExit) e = vm_exit_new(NULL);
        g_autofree char *detail = NULL;

        vm_exit_set_boot_note(e, "kernel: somewhere");
        vm_exit_set_boot_note(e, "kernel: here");       /* replaces */
        vm_exit_request(e, cases[i].reason, cases[i].detail);
        g_assert_cmpint(vm_exit_get(e, &detail), ==, cases[i].reason);
        g_assert_cmpstr(detail, ==, cases[i].want);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vm-exit/first-wins", test_first_wins);
    g_test_add_func("/vm-exit/boot-note", test_boot_note);
    return g_test_run();
}
