/*
 * An I/O bus: dispatches guest port-I/O or MMIO accesses (KVM_EXIT_IO,
 * KVM_EXIT_MMIO) to the device regions registered on it.
 */
#ifndef VMSPEC_KVM_IOBUS_H
#define VMSPEC_KVM_IOBUS_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Device callbacks.  offset is relative to the region base; size is 1, 2,
 * 4 or 8 and offset + size never exceeds the region.  Values are in host
 * order (x86 and arm64 guests are little-endian).  Called on vCPU threads,
 * possibly several at once: devices do their own locking.  A callback
 * must not (un)register regions on its own bus (the bus lock is held).
 */
typedef uint64_t (*IoBusReadFn)(void *opaque, uint64_t offset,
                                unsigned size);
typedef void (*IoBusWriteFn)(void *opaque, uint64_t offset, uint64_t value,
                             unsigned size);

typedef struct IoBus IoBus;

/* A new empty bus; name ("pio", "mmio") is used in errors.  Caller owns. */
IoBus *iobus_new(const char *name);

/* Frees the bus (not the devices' opaques).  No access may be running. */
void iobus_free(IoBus *bus);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(IoBus, iobus_free)

/*
 * Registers [base, base + size) for a device called name (copied).  read
 * or write may be NULL (reads then return all-ones, writes are dropped).
 * Overlap with a registered region, size 0, or a range wrapping around
 * 2^64 is a VMSPEC_ERROR_BUSY / VMSPEC_ERROR_INVALID error naming both
 * devices.  Any thread, but normally before vCPUs start.
 */
bool iobus_register(IoBus *bus, uint64_t base, uint64_t size,
                    const char *name, IoBusReadFn read, IoBusWriteFn write,
                    void *opaque, GError **errp);

/* Removes the region registered at exactly base; false if none. */
bool iobus_unregister(IoBus *bus, uint64_t base);

/*
 * Performs a guest read of size bytes (1, 2, 4, 8) at addr into data
 * (little-endian bytes, as KVM's kvm_run buffers hold them).  Returns
 * false, with data filled with 0xff, when no region covers the whole
 * access.  Safe from several vCPU threads at once.
 */
bool iobus_read(IoBus *bus, uint64_t addr, void *data, unsigned size);

/* Performs a guest write; false (and the write dropped and counted) when
 * no region covers it.  Safe from several vCPU threads at once. */
bool iobus_write(IoBus *bus, uint64_t addr, const void *data,
                 unsigned size);

/* How many reads and writes hit no region so far.  Any thread. */
uint64_t iobus_unhandled_count(IoBus *bus);

#endif
