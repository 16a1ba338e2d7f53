/*
 * ACPI tables for the microvm machine.  Section numbers are ACPI 6.5; the
 * tables themselves follow ACPI 6.3 revisions (FADT 6.3, MADT 5), which
 * every Linux and iasl of interest knows.
 *
 * Blob layout (each table 8-byte aligned, RSDP first):
 *     RSDP | XSDT -> {FADT, MADT} | FADT -> DSDT | MADT | DSDT
 */
#include "machine/x86/acpi.h"

#include <string.h>

#include "machine/qom/error.h"

#define ACPI_OEM_ID          "VMSPEC"    /* 6 bytes */
#define ACPI_OEM_TABLE_ID    "VMSPECMV"  /* 8 bytes: vmspec microvm */
#define ACPI_CREATOR_ID      "VMSP"
#define ACPI_HEADER_LEN      36          /* 5.2.6, Table 5.4 */

/* 5.2.5.3 RSDP (revision 2): 36 bytes; checksum covers the first 20. */
#define RSDP_LEN             36
#define RSDP_V1_LEN          20

/* 5.2.9 FADT, revision 6 minor 3 (ACPI 6.3): 276 bytes. */
#define FADT_LEN             276
#define FADT_REVISION        6
#define FADT_MINOR           3
#define FADT_DSDT            40
#define FADT_IAPC_BOOT_ARCH  109
#define FADT_FLAGS           112
#define FADT_RESET_REG       116
#define FADT_RESET_VALUE     128
#define FADT_MINOR_VERSION   131
#define FADT_X_DSDT          140
#define FADT_SLEEP_CONTROL   244
#define FADT_SLEEP_STATUS    256
#define FADT_HYPERVISOR_ID   268

/* 5.2.9.3 Table 5.11, IA-PC boot architecture flags. */
#define BOOT_ARCH_LEGACY_DEVICES   (1u << 0)
#define BOOT_ARCH_8042             (1u << 1)
#define BOOT_ARCH_VGA_NOT_PRESENT  (1u << 2)
#define BOOT_ARCH_CMOS_RTC_NOT_PRESENT (1u << 5)

/* 5.2.9 Table 5.10, fixed feature flags. */
#define FADT_F_WBINVD        (1u << 0)
#define FADT_F_PWR_BUTTON    (1u << 4)   /* no fixed-feature power button */
#define FADT_F_SLP_BUTTON    (1u << 5)   /* no fixed-feature sleep button */
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HW_REDUCED    (1u << 20)

/* 5.2.3.2 Generic Address Structure. */
#define GAS_LEN              12
#define GAS_SYSTEM_IO        1
#define GAS_ACCESS_BYTE      1

/* 5.2.12 MADT, revision 5 (ACPI 6.3). */
#define MADT_REVISION        5
#define MADT_PCAT_COMPAT     (1u << 0)
#define MADT_LAPIC           0           /* 5.2.12.2, 8 bytes */
#define MADT_IOAPIC          1           /* 5.2.12.3, 12 bytes */
#define MADT_X2APIC          9           /* 5.2.12.12, 16 bytes */
#define MADT_LAPIC_ENABLED   (1u << 0)
/* APIC id 0xff is the xAPIC broadcast id; larger ids need x2APIC entries. */
#define MADT_XAPIC_MAX_ID    254

#define XSDT_REVISION        1
#define DSDT_REVISION        2           /* 2+: 64-bit AML integers */

#define ACPI_ROUND_UP(x)     (((x) + 7) & ~(size_t)7)

static void put_u8(uint8_t *p, size_t off, uint8_t v)
{
    p[off] = v;
}

static void put_u16(uint8_t *p, size_t off, uint16_t v)
{
    v = GUINT16_TO_LE(v);
    memcpy(p + off, &v, sizeof(v));
}

static void put_u32(uint8_t *p, size_t off, uint32_t v)
{
    v = GUINT32_TO_LE(v);
    memcpy(p + off, &v, sizeof(v));
}

static void put_u64(uint8_t *p, size_t off, uint64_t v)
{
    v = GUINT64_TO_LE(v);
    memcpy(p + off, &v, sizeof(v));
}

/* Copies the first n characters of s, space-padded (as OEM ids are). */
static void put_chars(uint8_t *p, size_t off, const char *s, size_t n)
{
    size_t len = strlen(s);

    for (size_t i = 0; i < n; i++) {
        p[off + i] = (uint8_t)(i < len ? s[i] : ' ');
    }
}

/* The byte that makes the n bytes at p sum to zero (5.2.6). */
static uint8_t checksum(const uint8_t *p, size_t n)
{
    uint8_t sum = 0;

    for (size_t i = 0; i < n; i++) {
        sum += p[i];
    }
    return (uint8_t)-sum;
}

/* 5.2.6 System Description Table Header; checksum is set by finish(). */
static void put_header(uint8_t *t, const char *sig, size_t len,
                       uint8_t revision)
{
    put_chars(t, 0, sig, 4);
    put_u32(t, 4, (uint32_t)len);
    put_u8(t, 8, revision);
    put_chars(t, 10, ACPI_OEM_ID, 6);
    put_chars(t, 16, ACPI_OEM_TABLE_ID, 8);
    put_u32(t, 24, 1);                          /* OEM revision */
    put_chars(t, 28, ACPI_CREATOR_ID, 4);
    put_u32(t, 32, 1);                          /* creator revision */
}

static void finish(uint8_t *t, size_t len)
{
    t[9] = 0;
    t[9] = checksum(t, len);
}

/* An 8-bit register in System I/O space (5.2.3.2). */
static void put_gas_io8(uint8_t *p, size_t off, uint16_t port)
{
    put_u8(p, off, GAS_SYSTEM_IO);
    put_u8(p, off + 1, 8);                      /* bit width */
    put_u8(p, off + 2, 0);                      /* bit offset */
    put_u8(p, off + 3, GAS_ACCESS_BYTE);
    put_u64(p, off + 4, port);
}

/*
 * FADT (5.2.9), hardware-reduced (4.1): no PM1/GPE blocks, no SCI, no
 * FACS; poweroff goes through SLEEP_CONTROL_REG / SLEEP_STATUS_REG.
 *
 * IAPC_BOOT_ARCH (5.2.9.3), read by Linux's acpi_parse_fadt():
 * - LEGACY_DEVICES set: the 8250 UART at 0x3f8 is an ISA-style device.
 *   (Linux only uses this to skip PnP BIOS, which x86_64 lacks.)
 * - 8042 clear: the VMM's i8042 only implements the reset command, so the
 *   guest's i8042 driver must not probe it for a keyboard; with the bit
 *   clear Linux marks the controller firmware-absent and skips it.  Reboot
 *   still works: reset goes through RESET_REG when the machine sets one,
 *   and arch/x86/kernel/reboot.c's BOOT_KBD method writes 0xfe to port
 *   0x64 without consulting this flag.
 * - VGA_NOT_PRESENT set: there is no VGA; don't probe it.
 * - CMOS_RTC_NOT_PRESENT unless cfg->rtc_present: Linux then registers no
 *   rtc_cmos device and never waits on a missing RTC.
 */
static void build_fadt(uint8_t *t, const AcpiConfig *cfg, uint64_t dsdt)
{
    uint16_t boot_arch = BOOT_ARCH_LEGACY_DEVICES | BOOT_ARCH_VGA_NOT_PRESENT;
    uint32_t flags = FADT_F_WBINVD | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON |
                     FADT_F_HW_REDUCED;

    if (!cfg->rtc_present) {
        boot_arch |= BOOT_ARCH_CMOS_RTC_NOT_PRESENT;
    }
    put_header(t, "FACP", FADT_LEN, FADT_REVISION);
    /* The 32-bit DSDT field only when it can hold the address; OSPM
     * prefers X_DSDT when that is set (5.2.9, Table 5.9). */
    if (dsdt <= UINT32_MAX) {
        put_u32(t, FADT_DSDT, (uint32_t)dsdt);
    }
    put_u16(t, FADT_IAPC_BOOT_ARCH, boot_arch);
    if (cfg->reset_port) {
        flags |= FADT_F_RESET_REG_SUP;
        put_gas_io8(t, FADT_RESET_REG, cfg->reset_port);
        put_u8(t, FADT_RESET_VALUE, cfg->reset_value);
    }
    put_u32(t, FADT_FLAGS, flags);
    put_u8(t, FADT_MINOR_VERSION, FADT_MINOR);
    put_u64(t, FADT_X_DSDT, dsdt);
    put_gas_io8(t, FADT_SLEEP_CONTROL, cfg->sleep_control_port);
    put_gas_io8(t, FADT_SLEEP_STATUS, cfg->sleep_status_port);
    put_chars(t, FADT_HYPERVISOR_ID, ACPI_OEM_ID, 8);
    finish(t, FADT_LEN);
}

static size_t madt_len(const AcpiConfig *cfg)
{
    /* Header, LAPIC address and flags, the IOAPIC, then the CPUs. */
    size_t len = ACPI_HEADER_LEN + 8 + 12;

    for (unsigned i = 0; i < cfg->cpus; i++) {
        len += i <= MADT_XAPIC_MAX_ID ? 8 : 16;
    }
    return len;
}

/*
 * MADT (5.2.12).
 *
 * Interrupt source overrides: none.  5.2.12.5 says ISA IRQs are assumed
 * identity-mapped to the first I/O APIC's inputs unless overridden, and
 * with KVM's in-kernel irqchip they are: KVM's default GSI routing
 * (arch/x86/kvm/irq_comm.c, default_routing[], installed by
 * KVM_CREATE_IRQCHIP) sends GSI n to IOAPIC pin n (and, for n < 16, PIC
 * pin n), and KVM's PIT (arch/x86/kvm/i8254.c) raises GSI 0, i.e. IOAPIC
 * pin 0.  The classic "IRQ0 -> GSI 2" override is true
 * of PC chipsets and of QEMU, which reroutes GSI 0 to pin 2 with
 * KVM_SET_GSI_ROUTING; vmspec keeps KVM's default routing, so it would be
 * a lie here.  (In hardware-reduced mode Linux does not use the PIT as its
 * timer anyway; it sets no legacy IRQs up, so ISA devices that want an
 * interrupt, like the UART, must list it in their DSDT _CRS.)
 *
 * PCAT_COMPAT: set.  KVM_CREATE_IRQCHIP also creates the two 8259 PICs
 * (routed as above), so the machine does have them; the flag tells the
 * OS to mask them before using the I/O APIC.
 */
static void build_madt(uint8_t *t, size_t len, const AcpiConfig *cfg)
{
    size_t off = ACPI_HEADER_LEN;

    put_header(t, "APIC", len, MADT_REVISION);
    put_u32(t, off, cfg->lapic_addr);
    put_u32(t, off + 4, MADT_PCAT_COMPAT);
    off += 8;
    for (unsigned i = 0; i < cfg->cpus; i++) {
        if (i <= MADT_XAPIC_MAX_ID) {
            put_u8(t, off, MADT_LAPIC);
            put_u8(t, off + 1, 8);
            put_u8(t, off + 2, (uint8_t)i);     /* ACPI processor UID */
            put_u8(t, off + 3, (uint8_t)i);     /* APIC id */
            put_u32(t, off + 4, MADT_LAPIC_ENABLED);
            off += 8;
        } else {
            put_u8(t, off, MADT_X2APIC);
            put_u8(t, off + 1, 16);
            put_u32(t, off + 4, i);             /* x2APIC id */
            put_u32(t, off + 8, MADT_LAPIC_ENABLED);
            put_u32(t, off + 12, i);            /* ACPI processor UID */
            off += 16;
        }
    }
    put_u8(t, off, MADT_IOAPIC);
    put_u8(t, off + 1, 12);
    put_u8(t, off + 2, cfg->ioapic_id);
    put_u32(t, off + 4, cfg->ioapic_addr);
    put_u32(t, off + 8, cfg->ioapic_gsi_base);
    off += 12;
    g_assert(off == len);
    finish(t, len);
}

/*
 * DSDT body (5.2.11.1): Scope(\_SB) { the machine's devices } and
 * Name(\_S5, Package() {SLP_TYP, 0, 0, 0}) (7.4.2: SLP_TYPa, SLP_TYPb,
 * reserved, reserved; hardware-reduced platforms use only SLP_TYPa).
 */
static Aml *build_dsdt_aml(const AcpiConfig *cfg, GError **errp)
{
    g_autoptr(Aml) aml = aml_new();
    const uint64_t s5[] = { cfg->s5_slp_typ, 0, 0, 0 };

    aml_scope_begin(aml, "\\_SB");
    if (cfg->dsdt_body) {
        cfg->dsdt_body(aml, cfg->opaque);
    }
    if (aml_depth(aml) != 1) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "DSDT: devices left %u AML blocks open",
                    aml_depth(aml) - 1);
        return NULL;
    }
    aml_end(aml);
    aml_name(aml, "\\_S5");
    aml_package_ints(aml, s5, G_N_ELEMENTS(s5));
    return g_steal_pointer(&aml);
}

static bool check_config(const AcpiConfig *cfg, uint64_t tables_gpa,
                         GError **errp)
{
    const char *why = NULL;

    if (cfg->cpus < 1 || cfg->cpus > ACPI_MAX_CPUS) {
        why = "cpus must be between 1 and " G_STRINGIFY(ACPI_MAX_CPUS);
    } else if (!cfg->sleep_control_port || !cfg->sleep_status_port) {
        why = "sleep control and status ports must be set";
    } else if (cfg->sleep_control_port == cfg->sleep_status_port) {
        why = "sleep control and status ports must differ";
    } else if (cfg->s5_slp_typ > 7) {
        why = "SLP_TYP is 3 bits (0..7)";
    } else if (tables_gpa % 16) {
        why = "tables address must be 16-byte aligned";
    } else if (tables_gpa > UINT64_MAX - (UINT64_C(1) << 32)) {
        why = "tables address out of range";
    }
    if (why) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "ACPI tables: %s", why);
        return false;
    }
    return true;
}

bool acpi_build_tables(const AcpiConfig *cfg, uint64_t tables_gpa,
                       GByteArray **out_blob, uint64_t *out_rsdp_gpa,
                       GError **errp)
{
    if (!check_config(cfg, tables_gpa, errp)) {
        return false;
    }
    g_autoptr(Aml) dsdt_aml = build_dsdt_aml(cfg, errp);
    if (!dsdt_aml) {
        return false;
    }

    /* Offsets of each table in the blob, 8-byte aligned. */
    const size_t xsdt_len = ACPI_HEADER_LEN + 2 * 8;
    const size_t mlen = madt_len(cfg);
    const size_t dsdt_len = ACPI_HEADER_LEN + aml_len(dsdt_aml);
    const size_t rsdp = 0;
    const size_t xsdt = ACPI_ROUND_UP(rsdp + RSDP_LEN);
    const size_t fadt = ACPI_ROUND_UP(xsdt + xsdt_len);
    const size_t madt = ACPI_ROUND_UP(fadt + FADT_LEN);
    const size_t dsdt = ACPI_ROUND_UP(madt + mlen);
    const size_t total = dsdt + dsdt_len;

    if (dsdt_len > UINT32_MAX) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "DSDT too large (%zu bytes)", dsdt_len);
        return false;
    }

    g_autoptr(GByteArray) blob = g_byte_array_sized_new((guint)total);
    g_byte_array_set_size(blob, (guint)total);
    uint8_t *b = blob->data;
    memset(b, 0, total);

    /* RSDP (5.2.5.3): RsdtAddress 0, there is no RSDT; OSPM uses XSDT. */
    put_chars(b, rsdp, "RSD PTR ", 8);
    put_chars(b, rsdp + 9, ACPI_OEM_ID, 6);
    put_u8(b, rsdp + 15, 2);                    /* revision: ACPI 2.0+ */
    put_u32(b, rsdp + 20, RSDP_LEN);
    put_u64(b, rsdp + 24, tables_gpa + xsdt);
    put_u8(b, rsdp + 8, checksum(b + rsdp, RSDP_V1_LEN));
    put_u8(b, rsdp + 32, checksum(b + rsdp, RSDP_LEN));

    /* XSDT (5.2.8): 64-bit pointers to every table but the DSDT. */
    put_header(b + xsdt, "XSDT", xsdt_len, XSDT_REVISION);
    put_u64(b, xsdt + ACPI_HEADER_LEN, tables_gpa + fadt);
    put_u64(b, xsdt + ACPI_HEADER_LEN + 8, tables_gpa + madt);
    finish(b + xsdt, xsdt_len);

    build_fadt(b + fadt, cfg, tables_gpa + dsdt);
    build_madt(b + madt, mlen, cfg);

    put_header(b + dsdt, "DSDT", dsdt_len, DSDT_REVISION);
    memcpy(b + dsdt + ACPI_HEADER_LEN, aml_data(dsdt_aml),
           aml_len(dsdt_aml));
    finish(b + dsdt, dsdt_len);

    *out_blob = g_steal_pointer(&blob);
    *out_rsdp_gpa = tables_gpa + rsdp;
    return true;
}
