/*
 * Tests for the AML builder (machine/x86/aml.c): the byte encodings of
 * package lengths, integers, names, strings and resource templates (ACPI
 * 6.5, 20.2 "AML Grammar Definition"), and a virtio-mmio device entry.
 * Whole tables built with it are tested in test-acpi.c.
 */
#include <string.h>
#include <glib.h>

#include "machine/x86/aml.h"

static void assert_bytes(const Aml *aml, const uint8_t *want, size_t n)
{
    g_assert_cmpmem(aml_data(aml), aml_len(aml), want, n);
}

static void test_pkglen_encode(void)
{
    static const struct {
        uint32_t len;
        size_t n;
        uint8_t enc[4];
    } cases[] = {
        { 0, 1, { 0x00 } },
        { 63, 1, { 0x3f } },
        { 64, 2, { 0x40, 0x04 } },
        { 4095, 2, { 0x4f, 0xff } },
        { 4096, 3, { 0x80, 0x00, 0x01 } },
        { 0xfffff, 3, { 0x8f, 0xff, 0xff } },
        { 1 << 20, 4, { 0xc0, 0x00, 0x00, 0x01 } },
        { 0x0fffffff, 4, { 0xcf, 0xff, 0xff, 0xff } },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint8_t out[4] = { 0 };
        size_t n = aml_pkglen_encode(cases[i].len, out);
        g_assert_cmpuint(n, ==, cases[i].n);
        g_assert_cmpmem(out, n, cases[i].enc, cases[i].n);
    }
}

/* Decodes the PkgLength at p; stores its byte count in *n. */
static uint32_t pkglen_decode(const uint8_t *p, size_t *n)
{
    *n = 1 + (p[0] >> 6);
    if (*n == 1) {
        return p[0] & 0x3f;
    }
    uint32_t v = p[0] & 0x0f;
    for (size_t i = 1; i < *n; i++) {
        v |= (uint32_t)p[i] << (4 + 8 * (i - 1));
    }
    return v;
}

/*
 * Scope(FOO) { Name(STR, "xxx...") } for string bodies that put the whole
 * PkgLength at and around each encoding boundary (63/64, 4095/4096,
 * 1 MiB): the back-patched value must cover exactly what follows the
 * opcode and use the fewest bytes.
 */
static void test_pkglen_backpatch(void)
{
    static const size_t max[] = { 0, 0x3f, 0xfff, 0xfffff, 0xfffffff };
    /* Scope body without the string's characters: "FOO_" (4), NameOp (1),
     * "STR_" (4), StringPrefix and NUL (2). */
    const size_t fixed = 11;
    const size_t targets[] = { 63, 64, 4095, 4096, 1 << 20 };

    for (size_t t = 0; t < G_N_ELEMENTS(targets); t++) {
        for (size_t d = 0; d < 8; d++) {
            size_t body = targets[t] - 4 + d;
            g_autoptr(Aml) aml = aml_new();
            g_autofree char *s = g_malloc(body - fixed + 1);
            memset(s, 'x', body - fixed);
            s[body - fixed] = '\0';

            aml_scope_begin(aml, "FOO");
            aml_name_string(aml, "STR", s);
            aml_end(aml);
            g_assert_cmpuint(aml_depth(aml), ==, 0);

            const uint8_t *p = aml_data(aml);
            size_t n;
            g_assert_cmphex(p[0], ==, 0x10);
            uint32_t v = pkglen_decode(p + 1, &n);
            g_assert_cmpuint(v, ==, aml_len(aml) - 1);
            g_assert_cmpuint(v, ==, body + n);
            g_assert_cmpuint(v, <=, max[n]);
            g_assert_true(n == 1 || body + n - 1 > max[n - 1]);
            g_assert_cmpmem(p + 1 + n, 4, "FOO_", 4);
        }
    }
}

static void test_integers(void)
{
    static const struct {
        uint64_t v;
        size_t n;
        uint8_t enc[9];
    } cases[] = {
        { 0, 1, { 0x00 } },
        { 1, 1, { 0x01 } },
        { 2, 2, { 0x0a, 0x02 } },
        { 0xff, 2, { 0x0a, 0xff } },
        { 0x100, 3, { 0x0b, 0x00, 0x01 } },
        { 0xffff, 3, { 0x0b, 0xff, 0xff } },
        { 0x10000, 5, { 0x0c, 0x00, 0x00, 0x01, 0x00 } },
        { 0xfee00000, 5, { 0x0c, 0x00, 0x00, 0xe0, 0xfe } },
        { 0xffffffff, 5, { 0x0c, 0xff, 0xff, 0xff, 0xff } },
        { UINT64_C(0x100000000), 9,
          { 0x0e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00 } },
        { UINT64_MAX, 9,
          { 0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(Aml) aml = aml_new();
        aml_int(aml, cases[i].v);
        assert_bytes(aml, cases[i].enc, cases[i].n);
    }
}

static void test_names_and_strings(void)
{
    g_autoptr(Aml) aml = aml_new();

    /* Name(_HID, "LNRO0005") */
    aml_name_string(aml, "_HID", "LNRO0005");
    static const uint8_t hid[] = {
        0x08, '_', 'H', 'I', 'D', 0x0d, 'L', 'N', 'R', 'O', '0', '0', '0',
        '5', 0x00,
    };
    assert_bytes(aml, hid, sizeof(hid));

    /* Name(_HID, EisaId("PNP0A03")): 0x030ad041 as a DWordConst. */
    g_autoptr(Aml) e = aml_new();
    aml_name_eisaid(e, "_HID", "PNP0A03");
    static const uint8_t eisa[] = {
        0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03,
    };
    assert_bytes(e, eisa, sizeof(eisa));

    /* Root, dual and multi name paths, short segments padded. */
    g_autoptr(Aml) n = aml_new();
    aml_name_int(n, "\\_SB.VR0", 0);
    aml_name_int(n, "A.B.C", 1);
    aml_name_int(n, "^^X", 2);
    static const uint8_t names[] = {
        0x08, '\\', 0x2e, '_', 'S', 'B', '_', 'V', 'R', '0', '_', 0x00,
        0x08, 0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_',
        'C', '_', '_', '_', 0x01,
        0x08, '^', '^', 'X', '_', '_', '_', 0x0a, 0x02,
    };
    assert_bytes(n, names, sizeof(names));

    /* Name(_S5, Package() {5, 0, 0, 0}) */
    g_autoptr(Aml) s5 = aml_new();
    const uint64_t v[] = { 5, 0, 0, 0 };
    aml_name(s5, "_S5");
    aml_package_ints(s5, v, 4);
    static const uint8_t pkg[] = {
        0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0a, 0x05, 0, 0, 0,
    };
    assert_bytes(s5, pkg, sizeof(pkg));
}

static void test_resource_template(void)
{
    g_autoptr(Aml) aml = aml_new();

    aml_resource_template_begin(aml);
    aml_memory32_fixed(aml, true, 0xd0000000, 0x200);
    aml_io(aml, true, 0x505, 0x505, 1, 1);
    aml_fixed_io(aml, 0x60, 1);
    aml_interrupt(aml, AML_LEVEL, AML_ACTIVE_LOW, AML_SHARED, 0x1234);
    aml_end(aml);
    g_assert_cmpuint(aml_depth(aml), ==, 0);

    static const uint8_t want[] = {
        0x11, 0x26, 0x0a, 0x23,                       /* Buffer, 35 bytes */
        0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x02, 0, 0,
        0x47, 0x01, 0x05, 0x05, 0x05, 0x05, 0x01, 0x01,
        0x4b, 0x60, 0x00, 0x01,
        0x89, 0x06, 0x00, 0x0d, 0x01, 0x34, 0x12, 0x00, 0x00,
        0x79,
    };
    const uint8_t *p = aml_data(aml);
    g_assert_cmpuint(aml_len(aml), ==, sizeof(want) + 1);
    g_assert_cmpmem(p, sizeof(want), want, sizeof(want));
    /* 6.4.2.9: the template's bytes, checksum included, sum to zero. */
    uint8_t sum = 0;
    for (size_t i = 4; i < aml_len(aml); i++) {
        sum += p[i];
    }
    g_assert_cmphex(sum, ==, 0);
}

static void test_virtio_device(void)
{
    g_autoptr(Aml) aml = aml_new();

    aml_virtio_mmio_device(aml, 0x1f, 0xd0001000, 0x200, 6);
    const uint8_t *p = aml_data(aml);
    g_assert_cmphex(p[0], ==, 0x5b);
    g_assert_cmphex(p[1], ==, 0x82);
    size_t n;
    g_assert_cmpuint(pkglen_decode(p + 2, &n), ==, aml_len(aml) - 2);
    g_assert_cmpmem(p + 2 + n, 4, "VR1F", 4);
    /* Edge, active high, exclusive consumer: flags 0x03. */
    static const uint8_t irq[] = { 0x89, 0x06, 0x00, 0x03, 0x01, 6, 0, 0, 0 };
    g_assert_nonnull(memmem(p, aml_len(aml), irq, sizeof(irq)));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/acpi/aml/pkglen-encode", test_pkglen_encode);
    g_test_add_func("/acpi/aml/pkglen-backpatch", test_pkglen_backpatch);
    g_test_add_func("/acpi/aml/integers", test_integers);
    g_test_add_func("/acpi/aml/names-strings", test_names_and_strings);
    g_test_add_func("/acpi/aml/resource-template", test_resource_template);
    g_test_add_func("/acpi/aml/virtio-mmio-device", test_virtio_device);
    return g_test_run();
}
