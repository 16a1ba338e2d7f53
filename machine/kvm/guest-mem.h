/*
 * Guest RAM: one host mapping, split into at most two guest regions around
 * the 32-bit MMIO hole, and registered as KVM memory slots.
 *
 * The mapping is anonymous and private (with transparent huge pages)
 * unless another process must see guest RAM too: a vhost-user backend
 * serves queues straight from it, so a VM with a vhost-user device gets
 * RAM in a memfd mapped MAP_SHARED, whose descriptor it passes on.
 */
#ifndef VMSPEC_KVM_GUEST_MEM_H
#define VMSPEC_KVM_GUEST_MEM_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 2

typedef struct GuestMemRegion {
    uint64_t gpa;       /* guest-physical start */
    uint64_t size;      /* bytes, non-zero */
    uint8_t *host;      /* host address of gpa */
    int fd;             /* shared: the memfd holding it; else -1 */
    uint64_t fd_offset; /* shared: where gpa's byte lies in fd */
} GuestMemRegion;

typedef enum GuestMemBacking {
    GUEST_MEM_PRIVATE,  /* anonymous, MAP_PRIVATE, huge pages */
    GUEST_MEM_SHARED,   /* one memfd, MAP_SHARED, for vhost-user */
} GuestMemBacking;

typedef struct GuestMem GuestMem;

/*
 * Maps ram_size bytes of guest RAM.  The first min(ram_size, hole_start)
 * bytes sit at guest-physical 0; the rest starts at 4 GiB (high_start).
 * hole_start must be page-aligned and at most 4 GiB; ram_size a non-zero
 * multiple of 4 KiB.  Fails (VMSPEC_ERROR_INVALID) when ram_size exceeds
 * what the host has (RAM + swap), or (VMSPEC_ERROR_IO) when mmap fails.
 * Returns a new GuestMem owned by the caller (guest_mem_free).
 * Main thread, before vCPUs exist.
 */
GuestMem *guest_mem_new(uint64_t ram_size, uint64_t hole_start,
                        GError **errp);

/*
 * Maps ram_size bytes of guest RAM as one region at guest-physical base
 * (page-aligned), for machines whose RAM does not start at 0 (arm64 virt).
 * Errors as guest_mem_new().
 */
GuestMem *guest_mem_new_at(uint64_t ram_size, uint64_t base, GError **errp);

/* As guest_mem_new() and guest_mem_new_at(), with the backing chosen. */
GuestMem *guest_mem_new_backed(uint64_t ram_size, uint64_t hole_start,
                               GuestMemBacking backing, GError **errp);
GuestMem *guest_mem_new_at_backed(uint64_t ram_size, uint64_t base,
                                  GuestMemBacking backing, GError **errp);

/* How the RAM is backed. */
GuestMemBacking guest_mem_backing(const GuestMem *m);

/*
 * Registers every region as a KVM memory slot (api.rst
 * KVM_SET_USER_MEMORY_REGION), slots first_slot, first_slot + 1, ...
 * Main thread, before vCPUs run.
 */
bool guest_mem_register(GuestMem *m, int vm_fd, uint32_t first_slot,
                        GError **errp);

/* Unmaps the RAM.  The VM using it must be gone (or its slots deleted). */
void guest_mem_free(GuestMem *m);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(GuestMem, guest_mem_free)

/* Total guest RAM in bytes. */
uint64_t guest_mem_size(const GuestMem *m);

/* One past the last RAM byte below the hole (the low region's end). */
uint64_t guest_mem_low_end(const GuestMem *m);

/* Number of regions (1 or 2) and region i (i < count); borrowed pointer,
 * valid until guest_mem_free. */
unsigned guest_mem_region_count(const GuestMem *m);
const GuestMemRegion *guest_mem_region(const GuestMem *m, unsigned i);

/*
 * Returns the host address of [gpa, gpa + len) when the whole range lies
 * inside one RAM region, NULL otherwise (including len == 0, ranges that
 * wrap around 2^64, cross the hole or run past the end).  The pointer is
 * valid until guest_mem_free.  Any thread; the guest may change the bytes
 * concurrently, so callers copy before validating.
 */
void *guest_mem_translate(GuestMem *m, uint64_t gpa, uint64_t len);

/* Copy len bytes into / out of guest RAM; a range that translate rejects is
 * a VMSPEC_ERROR_INVALID error naming the address.  Any thread. */
bool guest_mem_write(GuestMem *m, uint64_t gpa, const void *src,
                     uint64_t len, GError **errp);
bool guest_mem_read(GuestMem *m, uint64_t gpa, void *dst, uint64_t len,
                    GError **errp);

#endif
