/*
 * ACPI tables for the x86_64 microvm machine: RSDP, XSDT, FADT
 * (hardware-reduced), MADT and DSDT, laid out as one blob for a given
 * guest-physical address.  Pure code: no KVM, no guest memory access.
 *
 * Linux finds the RSDP through boot_params.acpi_rsdp_addr (boot protocol
 * 2.14+), so the blob may sit anywhere in guest RAM that the e820 map marks
 * as ACPI (type 3) or reserved.
 */
#ifndef VMSPEC_X86_ACPI_H
#define VMSPEC_X86_ACPI_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "machine/x86/aml.h"

/*
 * Sleep control and status registers (ACPI 6.5 4.8.3.7, 4.8.3.8), one byte
 * each in System I/O space, implemented by the VMM.
 *
 * What the guest writes on poweroff: Linux (drivers/acpi/acpica/hwesleep.c,
 * acpi_hw_extended_sleep) first writes ACPI_SLEEP_STATUS_WAK_STS (0x80) to
 * the status register to clear wake status, then writes
 * (SLP_TYP << 2) | SLP_EN to the control register, where SLP_TYP is the
 * first element of the \_S5 package (7.4.2).  With s5_slp_typ = 5 that is
 * 0x34: match it with acpi_sleep_control_value(cfg.s5_slp_typ), or test
 * SLP_EN and decode SLP_TYP with the mask.  After that write ACPICA polls
 * the status register until WAK_STS (bit 7) reads 1, so the VMM must stop
 * the guest at the control write; the status register should read 0.
 */
#define ACPI_SLEEP_CONTROL_SLP_TYP_SHIFT 2
#define ACPI_SLEEP_CONTROL_SLP_TYP_MASK  0x1c   /* bits 2-4 */
#define ACPI_SLEEP_CONTROL_SLP_EN        0x20   /* bit 5 */
#define ACPI_SLEEP_STATUS_WAK_STS        0x80   /* bit 7 */

/* The byte a guest writes to the sleep control register to enter the
 * sleep state whose SLP_TYP is slp_typ. */
static inline uint8_t acpi_sleep_control_value(uint8_t slp_typ)
{
    return (uint8_t)(((slp_typ << ACPI_SLEEP_CONTROL_SLP_TYP_SHIFT) &
                      ACPI_SLEEP_CONTROL_SLP_TYP_MASK) |
                     ACPI_SLEEP_CONTROL_SLP_EN);
}

/* The most vCPUs the MADT describes (x2APIC ids allow more; KVM does not). */
#define ACPI_MAX_CPUS 4096

/*
 * Appends the machine's devices to the DSDT.  `scope` is open at \_SB
 * (ACPI 6.5 5.3.1); the callback must leave it open and balanced (every
 * block it opens, it closes).  Runs on the caller's thread, synchronously.
 */
typedef void AcpiDsdtBodyFn(Aml *scope, void *opaque);

typedef struct AcpiConfig {
    unsigned cpus;              /* vCPUs, APIC ids 0..cpus-1 */
    uint32_t lapic_addr;        /* local APIC base, normally 0xfee00000 */
    uint8_t ioapic_id;
    uint32_t ioapic_addr;       /* normally 0xfec00000 */
    uint32_t ioapic_gsi_base;   /* normally 0 */
    uint16_t sleep_control_port;  /* FADT SLEEP_CONTROL_REG, 8-bit I/O */
    uint16_t sleep_status_port;   /* FADT SLEEP_STATUS_REG, 8-bit I/O */
    uint8_t s5_slp_typ;         /* \_S5 SLP_TYP, 0..7 (e.g. 5) */
    /*
     * FADT RESET_REG (8-bit I/O) and RESET_VALUE; reset_port 0 omits it.
     * Pointing it at the i8042 command port (0x64, value 0xfe, "pulse the
     * reset line") makes Linux's first reboot method (BOOT_ACPI) hit the
     * VMM's i8042 directly.
     */
    uint16_t reset_port;
    uint8_t reset_value;
    bool rtc_present;           /* a CMOS RTC answers at 0x70/0x71 */
    AcpiDsdtBodyFn *dsdt_body;  /* may be NULL */
    void *opaque;               /* passed to dsdt_body */
} AcpiConfig;

/*
 * Builds every table into one new blob meant to be copied to guest-physical
 * address tables_gpa (16-byte aligned): the RSDP (revision 2), XSDT, FADT,
 * MADT and DSDT, with every address computed from tables_gpa and every
 * checksum valid.  On success stores the blob (caller unrefs) in *out_blob
 * and the RSDP's guest-physical address in *out_rsdp_gpa.  Fails with
 * VMSPEC_ERROR_INVALID on a bad config, or when dsdt_body leaves blocks
 * open.  Any thread; cfg is only read.
 */
bool acpi_build_tables(const AcpiConfig *cfg, uint64_t tables_gpa,
                       GByteArray **out_blob, uint64_t *out_rsdp_gpa,
                       GError **errp);

#endif
