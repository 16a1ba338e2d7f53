/*
 * A small AML (ACPI Machine Language) byte-code builder.
 *
 * An Aml is one growable byte buffer plus a stack of open blocks (Scope,
 * Device, resource template).  Writers append terms in order; closing a
 * block back-patches its PkgLength (ACPI 6.5 section 20.2.4).  Devices use it
 * from their `acpi_aml` hook to describe themselves in the DSDT:
 *
 *     aml_device_begin(scope, "VR00");
 *     aml_name_string(scope, "_HID", "LNRO0005");
 *     aml_name_int(scope, "_UID", 0);
 *     aml_name(scope, "_CRS");
 *     aml_resource_template_begin(scope);
 *     aml_memory32_fixed(scope, true, 0xd0000000, 0x200);
 *     aml_interrupt(scope, AML_EDGE, AML_ACTIVE_HIGH, AML_EXCLUSIVE, 5);
 *     aml_end(scope);                     (the template: adds the end tag)
 *     aml_end(scope);                     (the device)
 *
 * Names are NameStrings as written in ASL ("_SB", "\\_SB.VR00", "^FOO");
 * segments shorter than four characters are padded with '_'.  Bad names,
 * strings and unbalanced blocks are programming errors and abort.
 *
 * Not thread-safe: one Aml belongs to one thread at a time.
 */
#ifndef VMSPEC_X86_AML_H
#define VMSPEC_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

typedef struct Aml Aml;

/* Returns a new, empty builder; free it with aml_free(). */
Aml *aml_new(void);
void aml_free(Aml *aml);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Aml, aml_free)

/* The bytes written so far; valid until the next write.  Owned by aml. */
const uint8_t *aml_data(const Aml *aml);
size_t aml_len(const Aml *aml);
/* Number of blocks opened and not yet closed. */
unsigned aml_depth(const Aml *aml);

/*
 * Encodes a PkgLength (ACPI 6.5 20.2.4) whose value (which counts the
 * encoding's own bytes) is len, into out; returns 1..4, the bytes used.
 * len must be below 2^28.
 */
size_t aml_pkglen_encode(uint32_t len, uint8_t out[4]);

/* Blocks.  DefScope (20.2.5.1) and DefDevice (20.2.5.2). */
void aml_scope_begin(Aml *aml, const char *path);
void aml_device_begin(Aml *aml, const char *name);
/* Closes the innermost open block, patching its PkgLength. */
void aml_end(Aml *aml);

/* Data objects (20.2.3): the shortest integer encoding (Zero, One,
 * ByteConst, WordConst, DWordConst, QWordConst); a String; an EISA id
 * ("PNP0A03") compressed to a DWordConst; a Package of integers. */
void aml_int(Aml *aml, uint64_t value);
void aml_string(Aml *aml, const char *str);
void aml_eisaid(Aml *aml, const char *id);
void aml_package_ints(Aml *aml, const uint64_t *values, unsigned count);

/* DefName (20.2.5.1): writes `Name(name, ` and expects exactly one data
 * object next (aml_int, aml_string, ..., or a resource template). */
void aml_name(Aml *aml, const char *name);
void aml_name_int(Aml *aml, const char *name, uint64_t value);
void aml_name_string(Aml *aml, const char *name, const char *str);
void aml_name_eisaid(Aml *aml, const char *name, const char *id);

/*
 * ResourceTemplate() (ASL 19.3.3): a Buffer of resource descriptors (6.4).
 * aml_end() on it appends the End Tag with a checksum that makes the
 * template's bytes sum to zero (6.4.2.9).
 */
void aml_resource_template_begin(Aml *aml);
/* Memory32Fixed(ReadWrite|ReadOnly, base, len) (6.4.3.4). */
void aml_memory32_fixed(Aml *aml, bool writable, uint32_t base,
                        uint32_t len);
/* IO(Decode16|Decode10, min, max, align, len) (6.4.2.5). */
void aml_io(Aml *aml, bool decode16, uint16_t min, uint16_t max,
            uint8_t align, uint8_t len);
/* FixedIO(base, len) (6.4.2.6); base is a 10-bit ISA address. */
void aml_fixed_io(Aml *aml, uint16_t base, uint8_t len);

/* Extended Interrupt descriptor flags (6.4.3.6, byte 3). */
typedef enum {
    AML_LEVEL = 0,
    AML_EDGE = 1,
} AmlTrigger;
typedef enum {
    AML_ACTIVE_HIGH = 0,
    AML_ACTIVE_LOW = 1,
} AmlPolarity;
typedef enum {
    AML_EXCLUSIVE = 0,
    AML_SHARED = 1,
} AmlSharing;
/* Interrupt(ResourceConsumer, trigger, polarity, sharing) {gsi}. */
void aml_interrupt(Aml *aml, AmlTrigger trigger, AmlPolarity polarity,
                   AmlSharing sharing, uint32_t gsi);

/*
 * Appends, to the open scope, Device(VRxx) for one virtio-mmio slot:
 * _HID "LNRO0005" (the id Linux's virtio_mmio driver matches), _UID index,
 * _CRS { Memory32Fixed(ReadWrite, base, size), Interrupt(ResourceConsumer,
 * Edge, ActiveHigh, Exclusive) {gsi} }.  Edge, because the VMM raises the
 * interrupt through a KVM irqfd without a resampler, which pulses the GSI.
 * index < 256; the window must lie below 4 GiB.
 */
void aml_virtio_mmio_device(Aml *scope, unsigned index, uint64_t base,
                            uint32_t size, uint32_t gsi);

#endif
