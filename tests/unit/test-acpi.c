/*
 * Tests for the ACPI tables (machine/x86/acpi.c).  The tables are checked
 * structurally here and then disassembled with ACPICA's iasl, which must
 * accept every one of them.  The AML encodings are tested in test-aml.c.
 */
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "machine/byteorder/le.h"
#include "machine/qom/error.h"
#include "machine/x86/acpi.h"
#include "machine/x86/aml.h"

#define TABLES_LOW   UINT64_C(0x000e0000)
#define TABLES_HIGH  UINT64_C(0x100000000)  /* above 4 GiB: X_DSDT only */
#define SLEEP_CTL    0x600
#define SLEEP_STS    0x601

typedef struct {
    unsigned slots;
} TestMachine;

/* What a machine's devices would append through their acpi_aml hooks. */
static void test_dsdt_body(Aml *scope, void *opaque)
{
    const TestMachine *m = opaque;

    for (unsigned i = 0; i < m->slots; i++) {
        aml_virtio_mmio_device(scope, i, 0xd0000000 + i * 0x1000, 0x200,
                               5 + i);
    }

    aml_device_begin(scope, "PEVT");            /* pvpanic */
    aml_name_string(scope, "_HID", "QEMU0001");
    aml_name(scope, "_CRS");
    aml_resource_template_begin(scope);
    aml_io(scope, true, 0x505, 0x505, 1, 1);
    aml_end(scope);
    aml_name_int(scope, "_STA", 0x0f);
    aml_end(scope);

    aml_device_begin(scope, "COM1");            /* 8250 UART */
    aml_name_eisaid(scope, "_HID", "PNP0501");
    aml_name_int(scope, "_UID", 1);
    aml_name(scope, "_CRS");
    aml_resource_template_begin(scope);
    aml_io(scope, true, 0x3f8, 0x3f8, 1, 8);
    aml_interrupt(scope, AML_EDGE, AML_ACTIVE_HIGH, AML_EXCLUSIVE, 4);
    aml_end(scope);
    aml_end(scope);
}

static AcpiConfig test_config(unsigned cpus, TestMachine *m)
{
    return (AcpiConfig) {
        .cpus = cpus,
        .lapic_addr = 0xfee00000,
        .ioapic_id = 0,
        .ioapic_addr = 0xfec00000,
        .ioapic_gsi_base = 0,
        .sleep_control_port = SLEEP_CTL,
        .sleep_status_port = SLEEP_STS,
        .s5_slp_typ = 5,
        .reset_port = 0x64,
        .reset_value = 0xfe,
        .rtc_present = false,
        .dsdt_body = test_dsdt_body,
        .opaque = m,
    };
}

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++) {
        s += p[i];
    }
    return s;
}

/* Checks the table at gpa: inside the blob, signature, checksum. */
static const uint8_t *check_table(GByteArray *blob, uint64_t base,
                                  uint64_t gpa, const char *sig)
{
    g_assert_cmpuint(gpa, >=, base);
    g_assert_cmpuint(gpa - base + 36, <=, blob->len);
    const uint8_t *t = blob->data + (gpa - base);
    uint32_t len = le32_load(t + 4);
    g_assert_cmpuint(len, >=, 36);
    g_assert_cmpuint(gpa - base + len, <=, blob->len);
    g_assert_cmpmem(t, 4, sig, 4);
    g_assert_cmpmem(t + 10, 6, "VMSPEC", 6);
    g_assert_cmphex(sum(t, len), ==, 0);
    return t;
}

static void remove_dir(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_unlink(path);
    }
    g_rmdir(dir);
}

/* TEST_ACPI_KEEP=1 keeps the .dat/.dsl files for a look. */
static void keep_or_remove(const char *dir)
{
    if (g_getenv("TEST_ACPI_KEEP")) {
        g_test_message("tables kept in %s", dir);
    } else {
        remove_dir(dir);
    }
}

/* Runs iasl with args in dir; returns stdout and stderr together.  A
 * missing iasl fails the test (tests/install-deps installs acpica-tools). */
static char *iasl(const char *dir, const char *arg1, const char *arg2,
                  const char *arg3, int *status)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *out = NULL;
    g_autofree char *errout = NULL;
    const char *argv[] = { "iasl", arg1, arg2, arg3, NULL };

    g_spawn_sync(dir, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                 &out, &errout, status, &err);
    g_assert_no_error(err);
    return g_strconcat(out, errout, NULL);
}

/*
 * Writes len bytes at t to dir/name.dat, disassembles it with `iasl -d`
 * (which must exit 0 and say nothing about errors or warnings, such as a
 * bad checksum), recompiles the .dsl (0 errors, 0 warnings) and returns
 * the .dsl text.  For data tables the recompiled bytes must equal the
 * original but for the checksum and the compiler id/revision.
 */
static char *iasl_round_trip(const char *dir, const char *name,
                             const uint8_t *t, size_t len, bool data_table)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dat = g_strdup_printf("%s/%s.dat", dir, name);
    g_autofree char *dsl = g_strdup_printf("%s/%s.dsl", dir, name);
    g_autofree char *re = g_strdup_printf("%s/re-%s", dir, name);
    g_autofree char *aml = g_strdup_printf("%s.aml", re);
    int status;

    g_assert_true(g_file_set_contents(dat, (const char *)t, len, &err));
    g_assert_no_error(err);
    g_autofree char *out = iasl(dir, "-d", dat, NULL, &status);
    if (!g_spawn_check_wait_status(status, NULL) || strstr(out, "Error") ||
        strstr(out, "Warning")) {
        g_test_message("iasl -d %s:\n%s", name, out);
        g_test_fail();
    }
    char *text = NULL;
    g_assert_true(g_file_get_contents(dsl, &text, NULL, &err));
    g_assert_no_error(err);

    g_autofree char *cout = iasl(dir, "-p", re, dsl, &status);
    if (!g_spawn_check_wait_status(status, NULL) ||
        !strstr(cout, " 0 Errors, 0 Warnings")) {
        g_test_message("iasl %s.dsl:\n%s", name, cout);
        g_test_fail();
    }
    if (data_table) {
        g_autofree char *bytes = NULL;
        size_t n;
        g_assert_true(g_file_get_contents(aml, &bytes, &n, &err));
        g_assert_no_error(err);
        g_assert_cmpuint(n, ==, len);
        g_assert_cmpmem(bytes, 9, t, 9);
        g_assert_cmpmem(bytes + 10, 18, t + 10, 18);
        g_assert_cmpmem(bytes + 36, len - 36, t + 36, len - 36);
    }
    return text;
}

/*
 * Loads the DSDT into ACPICA's interpreter (acpiexec, the same code Linux
 * runs) and evaluates \_S5 and one virtio device's _CRS.
 */
static void acpiexec_check(const char *dir, unsigned slots)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *out = NULL;
    g_autofree char *cmds = g_strdup_printf(
        "evaluate \\_S5; resources \\_SB.VR%02X", slots - 1);
    const char *argv[] = { "acpiexec", "-b", cmds, "dsdt.dat", "facp.dat",
                           "apic.dat", NULL };
    int status;

    g_spawn_sync(dir, (char **)argv, NULL,
                 G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                 &out, NULL, &status, &err);
    g_assert_no_error(err);
    g_autofree char *devices = g_strdup_printf("%u Devices", slots + 2);
    g_autofree char *crs = g_strdup_printf(
        "Address : %08X\\s+Address Length : 00000200\\s+"
        "\\[01\\] Extended IRQ Resource\\s+Type : ResourceConsumer\\s+"
        "Triggering : Edge", 0xd0000000 + (slots - 1) * 0x1000);
    if (!g_spawn_check_wait_status(status, NULL) ||
        !strstr(out, devices) ||
        !g_regex_match_simple("\\[Package\\] Contains 4 Elements:\\s+"
                              "\\[Integer\\] = 0000000000000005", out, 0, 0) ||
        !g_regex_match_simple(crs, out, 0, 0)) {
        g_test_message("acpiexec:\n%s", out);
        g_test_fail();
    }
}

static unsigned count(const char *hay, const char *needle)
{
    unsigned n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) {
        n++;
    }
    return n;
}

static void check_tables(unsigned cpus, unsigned slots, uint64_t base)
{
    TestMachine m = { .slots = slots };
    AcpiConfig cfg = test_config(cpus, &m);
    g_autoptr(GByteArray) blob = NULL;
    g_autoptr(GError) err = NULL;
    uint64_t rsdp_gpa = 0;

    g_assert_true(acpi_build_tables(&cfg, base, &blob, &rsdp_gpa, &err));
    g_assert_no_error(err);
    g_test_message("%u vCPUs, %u slots: %u bytes at 0x%" G_GINT64_MODIFIER
                   "x", cpus, slots, blob->len, base);

    /* RSDP: both checksums, revision 2, XSDT inside the blob. */
    g_assert_cmpuint(rsdp_gpa, >=, base);
    g_assert_cmpuint(rsdp_gpa % 16, ==, 0);
    const uint8_t *rsdp = blob->data + (rsdp_gpa - base);
    g_assert_cmpmem(rsdp, 8, "RSD PTR ", 8);
    g_assert_cmphex(sum(rsdp, 20), ==, 0);
    g_assert_cmphex(sum(rsdp, 36), ==, 0);
    g_assert_cmpuint(rsdp[15], ==, 2);
    g_assert_cmpuint(le32_load(rsdp + 20), ==, 36);
    const uint8_t *xsdt = check_table(blob, base, le64_load(rsdp + 24), "XSDT");

    /* XSDT: FADT and MADT. */
    g_assert_cmpuint(le32_load(xsdt + 4), ==, 36 + 2 * 8);
    const uint8_t *fadt = check_table(blob, base, le64_load(xsdt + 36), "FACP");
    const uint8_t *madt = check_table(blob, base, le64_load(xsdt + 44), "APIC");

    /* FADT: 276 bytes, HW_REDUCED_ACPI, X_DSDT, sleep registers. */
    g_assert_cmpuint(le32_load(fadt + 4), ==, 276);
    g_assert_cmpuint(fadt[8], ==, 6);
    g_assert_true(le32_load(fadt + 112) & (1u << 20));
    g_assert_true(fadt[109] & (1u << 5));       /* CMOS RTC not present */
    g_assert_false(fadt[109] & (1u << 1));      /* no 8042 to probe */
    uint64_t dsdt_gpa = le64_load(fadt + 140);
    g_assert_cmpuint(le32_load(fadt + 40), ==,
                     dsdt_gpa <= UINT32_MAX ? dsdt_gpa : 0);
    const uint8_t *dsdt = check_table(blob, base, dsdt_gpa, "DSDT");
    static const uint8_t ctl[] = { 1, 8, 0, 1, 0x00, 0x06, 0, 0, 0, 0, 0, 0 };
    static const uint8_t sts[] = { 1, 8, 0, 1, 0x01, 0x06, 0, 0, 0, 0, 0, 0 };
    g_assert_cmpmem(fadt + 244, 12, ctl, 12);
    g_assert_cmpmem(fadt + 256, 12, sts, 12);

    /* MADT: one enabled LAPIC per vCPU, then the IOAPIC. */
    g_assert_cmpuint(le32_load(madt + 4), ==, 36 + 8 + 8 * cpus + 12);
    g_assert_cmphex(le32_load(madt + 36), ==, 0xfee00000);
    const uint8_t *e = madt + 44;
    for (unsigned i = 0; i < cpus; i++, e += 8) {
        g_assert_cmpuint(e[0], ==, 0);
        g_assert_cmpuint(e[1], ==, 8);
        g_assert_cmpuint(e[3], ==, i);
        g_assert_cmpuint(le32_load(e + 4), ==, 1);
    }
    g_assert_cmpuint(e[0], ==, 1);
    g_assert_cmphex(le32_load(e + 4), ==, 0xfec00000);

    /* iasl must take every table; check what it says they contain. */
    g_autoptr(GError) terr = NULL;
    g_autofree char *dir = g_dir_make_tmp("test-acpi-XXXXXX", &terr);
    g_assert_no_error(terr);
    /* (Not the RSDP: iasl's binary loader only takes tables with a
     * standard header, and "RSD PTR " is not one; it is checked above.) */
    g_free(iasl_round_trip(dir, "xsdt", xsdt, le32_load(xsdt + 4), true));
    g_autofree char *fadt_dsl = iasl_round_trip(dir, "facp", fadt,
                                                le32_load(fadt + 4), true);
    g_autofree char *madt_dsl = iasl_round_trip(dir, "apic", madt,
                                                le32_load(madt + 4), true);
    g_autofree char *dsdt_dsl = iasl_round_trip(dir, "dsdt", dsdt,
                                                le32_load(dsdt + 4), false);

    acpiexec_check(dir, slots);

    g_assert_true(g_regex_match_simple(
        "Hardware Reduced \\(V5\\) *: 1", fadt_dsl, 0, 0));
    g_assert_true(g_regex_match_simple(
        "CMOS RTC Not Present \\(V5\\) *: 1", fadt_dsl, 0, 0));
    g_assert_nonnull(strstr(fadt_dsl, "Sleep Control Register"));
    g_assert_nonnull(strstr(fadt_dsl, "Sleep Status Register"));
    g_assert_nonnull(strstr(fadt_dsl, "0000000000000600"));
    g_assert_nonnull(strstr(fadt_dsl, "0000000000000601"));
    g_assert_cmpuint(count(madt_dsl, "Processor Local APIC"), ==, cpus);
    g_assert_cmpuint(count(dsdt_dsl, "\"LNRO0005\""), ==, slots);
    g_assert_nonnull(strstr(dsdt_dsl, "_S5"));
    g_assert_nonnull(strstr(dsdt_dsl, "\"QEMU0001\""));
    g_assert_nonnull(strstr(dsdt_dsl, "EisaId (\"PNP0501\")"));
    g_assert_nonnull(strstr(dsdt_dsl, "0xD0007000"));
    keep_or_remove(dir);
}

static void test_tables_1cpu(void)
{
    check_tables(1, 8, TABLES_LOW);
}

static void test_tables_4cpu(void)
{
    check_tables(4, 8, TABLES_LOW);
}

static void test_tables_high(void)
{
    check_tables(4, 8, TABLES_HIGH);
}

/* More vCPUs than xAPIC ids: ids 255+ become Local x2APIC entries. */
static void test_tables_x2apic(void)
{
    AcpiConfig cfg = test_config(300, &(TestMachine) { .slots = 1 });
    g_autoptr(GByteArray) blob = NULL;
    g_autoptr(GError) err = NULL;
    uint64_t rsdp;

    g_assert_true(acpi_build_tables(&cfg, TABLES_LOW, &blob, &rsdp, &err));
    const uint8_t *xsdt = check_table(blob, TABLES_LOW,
                                      le64_load(blob->data + 24), "XSDT");
    const uint8_t *madt = check_table(blob, TABLES_LOW, le64_load(xsdt + 44),
                                      "APIC");
    g_assert_cmpuint(le32_load(madt + 4), ==, 44 + 255 * 8 + 45 * 16 + 12);
    const uint8_t *e = madt + 44 + 255 * 8;
    g_assert_cmpuint(e[0], ==, 9);
    g_assert_cmpuint(e[1], ==, 16);
    g_assert_cmpuint(le32_load(e + 4), ==, 255);
    g_assert_cmpuint(le32_load(e + 12), ==, 255);

    g_autofree char *dir = g_dir_make_tmp("test-acpi-XXXXXX", &err);
    g_assert_no_error(err);
    g_autofree char *dsl = iasl_round_trip(dir, "apic", madt,
                                           le32_load(madt + 4), true);
    g_assert_cmpuint(count(dsl, "Processor Local x2APIC"), ==, 45);
    keep_or_remove(dir);
}

static void leave_open(Aml *scope, void *opaque)
{
    aml_device_begin(scope, "OPEN");
}

static void test_bad_config(void)
{
    TestMachine m = { .slots = 0 };
    g_autoptr(GByteArray) blob = NULL;
    uint64_t rsdp;
    AcpiConfig cfg;

    for (int i = 0; i < 6; i++) {
        g_autoptr(GError) err = NULL;
        uint64_t base = TABLES_LOW;
        cfg = test_config(2, &m);
        switch (i) {
        case 0: cfg.cpus = 0; break;
        case 1: cfg.cpus = ACPI_MAX_CPUS + 1; break;
        case 2: cfg.sleep_status_port = 0; break;
        case 3: cfg.s5_slp_typ = 8; break;
        case 4: base += 4; break;
        case 5: cfg.dsdt_body = leave_open; break;
        }
        g_assert_false(acpi_build_tables(&cfg, base, &blob, &rsdp, &err));
        g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
        g_assert_null(blob);
    }
}

static void test_sleep_value(void)
{
    /* What Linux's acpi_hw_extended_sleep() writes for \_S5 = {5, ...}. */
    g_assert_cmphex(acpi_sleep_control_value(5), ==, 0x34);
    g_assert_cmphex(acpi_sleep_control_value(0), ==, 0x20);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/acpi/tables/1cpu", test_tables_1cpu);
    g_test_add_func("/acpi/tables/4cpu", test_tables_4cpu);
    g_test_add_func("/acpi/tables/above-4g", test_tables_high);
    g_test_add_func("/acpi/tables/x2apic", test_tables_x2apic);
    g_test_add_func("/acpi/tables/bad-config", test_bad_config);
    g_test_add_func("/acpi/sleep-control-value", test_sleep_value);
    return g_test_run();
}
