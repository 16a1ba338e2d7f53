/*
 * run-end requests (machine/kvm/run-end.h): the first one wins and wakes
 * the eventfd; a crash's detail ends with the boot note.
 */
#include <glib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "machine/kvm/run-end.h"

static void test_first_wins(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(RunEnd) e = run_end_new(&err);
    g_autofree char *detail = NULL;
    uint64_t count = 0;

    g_assert_no_error(err);
    g_assert_cmpint(run_end_get(e, NULL), ==, RUN_END_NONE);
    g_assert_cmpint(read(run_end_fd(e), &count, sizeof(count)), <, 0);
    g_assert_true(run_end_request(e, RUN_END_POWEROFF, "S5"));
    g_assert_false(run_end_request(e, RUN_END_CRASH, "later"));
    g_assert_cmpint(run_end_get(e, &detail), ==, RUN_END_POWEROFF);
    g_assert_cmpstr(detail, ==, "S5");
    g_assert_cmpint(read(run_end_fd(e), &count, sizeof(count)), ==,
                    sizeof(count));
    g_assert_cmpuint(count, ==, 1);
}

/* The boot note goes with crashes and halts only. */
static void test_boot_note(void)
{
    static const struct {
        RunEndReason reason;
        const char *detail;
        const char *want;
    } cases[] = {
        { RUN_END_CRASH, "vCPU 0: triple fault\nRIP=...\n",
          "vCPU 0: triple fault\nRIP=...\nkernel: here\n" },
        { RUN_END_HALT, NULL, "kernel: here\n" },
        { RUN_END_PANIC, "panicked", "panicked" },
        { RUN_END_RESET, NULL, NULL },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(RunEnd) e = run_end_new(NULL);
        g_autofree char *detail = NULL;

        run_end_set_boot_note(e, "kernel: somewhere");
        run_end_set_boot_note(e, "kernel: here");       /* replaces */
        run_end_request(e, cases[i].reason, cases[i].detail);
        g_assert_cmpint(run_end_get(e, &detail), ==, cases[i].reason);
        g_assert_cmpstr(detail, ==, cases[i].want);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/run-end/first-wins", test_first_wins);
    g_test_add_func("/run-end/boot-note", test_boot_note);
    return g_test_run();
}
