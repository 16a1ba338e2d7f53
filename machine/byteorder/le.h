/*
 * Little-endian loads and stores at any alignment.  Every multi-byte
 * field vmspec reads or writes in a guest-defined layout is little-endian:
 * virtio structures and configuration space (virtio 1.2, 1.4 "Structure
 * Specifications" and 2.7 for the rings), the x86 boot protocol's setup
 * header and zero page (Documentation/arch/x86/boot.rst), the arm64 Image
 * header (Documentation/arch/arm64/booting.rst) and the relocation table
 * the x86 kernel build appends.  Some of those bytes are in guest RAM,
 * others in a kernel file or a device's config buffer, so the helpers take
 * plain pointers and live in a folder of their own rather than in
 * guest-mem.h.  memcpy makes unaligned and type-punned access defined
 * (compilers turn it into one load or store).  Pure; any thread.
 */
#ifndef VMSPEC_BYTEORDER_LE_H
#define VMSPEC_BYTEORDER_LE_H

#include <glib.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t le16_load(const void *p)
{
    uint16_t v;

    memcpy(&v, p, sizeof(v));
    return GUINT16_FROM_LE(v);
}

static inline uint32_t le32_load(const void *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return GUINT32_FROM_LE(v);
}

static inline uint64_t le64_load(const void *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return GUINT64_FROM_LE(v);
}

static inline void le16_store(void *p, uint16_t v)
{
    v = GUINT16_TO_LE(v);
    memcpy(p, &v, sizeof(v));
}

static inline void le32_store(void *p, uint32_t v)
{
    v = GUINT32_TO_LE(v);
    memcpy(p, &v, sizeof(v));
}

static inline void le64_store(void *p, uint64_t v)
{
    v = GUINT64_TO_LE(v);
    memcpy(p, &v, sizeof(v));
}

#endif
