/*
 * The DSDT entries of serial-8250 and pvpanic, as their acpi_aml hooks
 * write them, through acpi_build_tables() and ACPICA's `iasl -d`.
 */
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "machine/qom/property.h"
#include "machine/x86/acpi.h"
#include "machine/x86/layout.h"
#include "tests/unit/hw-test-machine.h"

#define TABLES_GPA UINT64_C(0xe0000)

/* What the machine does: every child describes itself. */
static void dsdt_body(Aml *scope, void *opaque)
{
    machine_describe_acpi(opaque, scope);
}

/* The disassembly without comments, runs of blanks as one space. */
static char *normalize(const char *dsl)
{
    g_autoptr(GRegex) comments = g_regex_new("//[^\n]*|/\\*.*?\\*/",
                                             G_REGEX_DOTALL, 0, NULL);
    g_autoptr(GRegex) blanks = g_regex_new("\\s+", 0, 0, NULL);
    g_autofree char *bare = g_regex_replace_literal(comments, dsl, -1, 0,
                                                    "", 0, NULL);

    return g_regex_replace_literal(blanks, bare, -1, 0, " ", 0, NULL);
}

static void assert_has(const char *text, const char *want)
{
    if (!strstr(text, want)) {
        g_test_message("missing: %s\nin: %s", want, text);
        g_test_fail();
    }
}

static void test_dsdt(void)
{
    g_autoptr(Object) m = OBJECT(hw_test_machine_new());
    HwTestMachine *hm = HW_TEST_MACHINE(m);
    DeviceState *com1 = hw_test_add(hm, "serial-8250", "serial0");
    DeviceState *com2 = hw_test_add(hm, "serial-8250", "serial1");
    g_autoptr(GByteArray) blob = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = NULL, *dat = NULL, *dsl = NULL, *text = NULL;
    g_autofree char *out = NULL, *errout = NULL;
    uint64_t rsdp;
    int status;

    g_assert_true(object_property_set_str(OBJECT(com1), "console", "none",
                                          &err));
    g_assert_true(object_property_set_str(OBJECT(com2), "console", "none",
                                          &err));
    g_assert_true(object_property_set_str(OBJECT(com2), "iobase", "0x2f8",
                                          &err));
    g_assert_true(object_property_set_str(OBJECT(com2), "irq", "3", &err));
    hw_test_realize(com1);
    hw_test_realize(com2);
    hw_test_realize(hw_test_add(hm, "pvpanic", "pvpanic"));
    hw_test_realize(hw_test_add(hm, "i8042", "i8042"));

    AcpiConfig cfg = {
        .cpus = 1,
        .lapic_addr = (uint32_t)X86_LAPIC_ADDR,
        .ioapic_addr = (uint32_t)X86_IOAPIC_ADDR,
        .sleep_control_port = X86_ACPI_SLEEP_CONTROL_PORT,
        .sleep_status_port = X86_ACPI_SLEEP_STATUS_PORT,
        .s5_slp_typ = 5,
        .reset_port = X86_I8042_CMD_PORT,
        .reset_value = 0xfe,
        .dsdt_body = dsdt_body,
        .opaque = m,
    };
    g_assert_true(acpi_build_tables(&cfg, TABLES_GPA, &blob, &rsdp, &err));
    g_assert_no_error(err);

    const uint8_t *dsdt = memmem(blob->data, blob->len, "DSDT", 4);
    g_assert_nonnull(dsdt);
    uint32_t len;
    memcpy(&len, dsdt + 4, 4);
    len = GUINT32_FROM_LE(len);
    g_assert_cmpuint(dsdt - blob->data + len, <=, blob->len);

    dir = g_dir_make_tmp("test-hw-acpi-XXXXXX", &err);
    g_assert_no_error(err);
    dat = g_build_filename(dir, "dsdt.dat", NULL);
    dsl = g_build_filename(dir, "dsdt.dsl", NULL);
    g_assert_true(g_file_set_contents(dat, (const char *)dsdt, len, &err));
    const char *argv[] = { "iasl", "-d", dat, NULL };
    g_spawn_sync(dir, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                 &out, &errout, &status, &err);
    g_assert_no_error(err);
    if (!g_spawn_check_wait_status(status, NULL) || strstr(out, "Error") ||
        strstr(errout, "Error") || strstr(out, "Warning")) {
        g_test_message("iasl -d:\n%s%s", out, errout);
        g_test_fail();
    }
    g_assert_true(g_file_get_contents(dsl, &text, NULL, &err));
    g_assert_no_error(err);

    g_autofree char *flat = normalize(text);
    assert_has(flat, "Device (COM1) { Name (_HID, EisaId (\"PNP0501\") ) "
               "Name (_UID, Zero) Name (_CRS, ResourceTemplate () { "
               "IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08, ) "
               "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, "
               ",, ) { 0x00000004, } }) }");
    assert_has(flat, "Device (COM2) { Name (_HID, EisaId (\"PNP0501\") ) "
               "Name (_UID, One) Name (_CRS, ResourceTemplate () { "
               "IO (Decode16, 0x02F8, 0x02F8, 0x01, 0x08, ) "
               "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, "
               ",, ) { 0x00000003, } }) }");
    assert_has(flat, "Device (PEVT) { Name (_HID, \"QEMU0001\") "
               "Name (_CRS, ResourceTemplate () { "
               "IO (Decode16, 0x0505, 0x0505, 0x01, 0x01, ) }) "
               "Name (_STA, 0x0F) }");
    g_assert_null(strstr(text, "PNP0303"));     /* no i8042 entry */

    if (g_getenv("TEST_ACPI_KEEP")) {
        g_test_message("DSDT kept in %s", dir);
    } else {
        g_unlink(dat);
        g_unlink(dsl);
        g_rmdir(dir);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_true(module_call_init(MODULE_INIT_QOM, NULL));
    g_test_add_func("/hw/acpi/dsdt", test_dsdt);
    return g_test_run();
}
