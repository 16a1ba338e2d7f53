/*
 * I/O bus: a sorted array of non-overlapping regions, looked up by binary
 * search under a read lock (uncontended after the vCPUs start, since
 * registration happens before; the lock only makes late registration
 * safe).
 */
#include "machine/kvm/iobus.h"

#include <string.h>

#include "machine/qom/error.h"

typedef struct IoRegion {
    uint64_t base;
    uint64_t size;
    char *name;
    IoBusReadFn read;
    IoBusWriteFn write;
    void *opaque;
} IoRegion;

struct IoBus {
    char *name;
    GRWLock lock;
    GArray *regions;        /* IoRegion, sorted by base, disjoint */
    uint64_t unhandled;     /* atomic */
};

IoBus *iobus_new(const char *name)
{
    IoBus *bus = g_new0(IoBus, 1);

    bus->name = g_strdup(name);
    g_rw_lock_init(&bus->lock);
    bus->regions = g_array_new(FALSE, FALSE, sizeof(IoRegion));
    return bus;
}

void iobus_free(IoBus *bus)
{
    if (!bus) {
        return;
    }
    for (guint i = 0; i < bus->regions->len; i++) {
        g_free(g_array_index(bus->regions, IoRegion, i).name);
    }
    g_array_free(bus->regions, TRUE);
    g_rw_lock_clear(&bus->lock);
    g_free(bus->name);
    g_free(bus);
}

/* Index of the first region whose base is > addr (0..len).  Lock held. */
static guint upper_bound(IoBus *bus, uint64_t addr)
{
    guint lo = 0, hi = bus->regions->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;

        if (g_array_index(bus->regions, IoRegion, mid).base <= addr) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* The region holding all of [addr, addr + size), or NULL.  Lock held. */
static const IoRegion *find(IoBus *bus, uint64_t addr, unsigned size)
{
    guint i = upper_bound(bus, addr);
    const IoRegion *r;

    if (i == 0) {
        return NULL;
    }
    r = &g_array_index(bus->regions, IoRegion, i - 1);
    /* addr >= r->base here; no sums that could wrap. */
    if (addr - r->base >= r->size || size > r->size - (addr - r->base)) {
        return NULL;
    }
    return r;
}

bool iobus_register(IoBus *bus, uint64_t base, uint64_t size,
                    const char *name, IoBusReadFn read, IoBusWriteFn write,
                    void *opaque, GError **errp)
{
    IoRegion r = {
        .base = base, .size = size, .read = read, .write = write,
        .opaque = opaque,
    };
    const IoRegion *prev = NULL, *next = NULL;
    bool ok = false;
    guint i;

    if (size == 0 || base + (size - 1) < base) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "%s: %s region 0x%" G_GINT64_MODIFIER "x+0x%"
                    G_GINT64_MODIFIER "x is empty or wraps", name, bus->name,
                    base, size);
        return false;
    }
    g_rw_lock_writer_lock(&bus->lock);
    i = upper_bound(bus, base);
    if (i > 0) {
        prev = &g_array_index(bus->regions, IoRegion, i - 1);
    }
    if (i < bus->regions->len) {
        next = &g_array_index(bus->regions, IoRegion, i);
    }
    if (prev && base - prev->base < prev->size) {
        next = prev;
    } else if (!next || next->base - base >= size) {
        next = NULL;
    }
    if (next) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_BUSY,
                    "%s: %s region 0x%" G_GINT64_MODIFIER "x+0x%"
                    G_GINT64_MODIFIER "x overlaps %s at 0x%"
                    G_GINT64_MODIFIER "x+0x%" G_GINT64_MODIFIER "x",
                    name, bus->name, base, size, next->name, next->base,
                    next->size);
        goto out;
    }
    r.name = g_strdup(name);
    g_array_insert_val(bus->regions, i, r);
    ok = true;
out:
    g_rw_lock_writer_unlock(&bus->lock);
    return ok;
}

bool iobus_unregister(IoBus *bus, uint64_t base)
{
    bool found = false;
    guint i;

    g_rw_lock_writer_lock(&bus->lock);
    i = upper_bound(bus, base);
    if (i > 0 && g_array_index(bus->regions, IoRegion, i - 1).base == base) {
        g_free(g_array_index(bus->regions, IoRegion, i - 1).name);
        g_array_remove_index(bus->regions, i - 1);
        found = true;
    }
    g_rw_lock_writer_unlock(&bus->lock);
    return found;
}

static bool valid_size(unsigned size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

bool iobus_read(IoBus *bus, uint64_t addr, void *data, unsigned size)
{
    const IoRegion *r;
    uint64_t value = UINT64_MAX;
    bool handled = false;

    g_assert(valid_size(size));
    g_rw_lock_reader_lock(&bus->lock);
    r = find(bus, addr, size);
    if (r) {
        handled = true;
        if (r->read) {
            value = r->read(r->opaque, addr - r->base, size);
        }
    }
    g_rw_lock_reader_unlock(&bus->lock);
    if (!handled) {
        __atomic_fetch_add(&bus->unhandled, 1, __ATOMIC_RELAXED);
    }
    value = GUINT64_TO_LE(value);
    memcpy(data, &value, size);
    return handled;
}

bool iobus_write(IoBus *bus, uint64_t addr, const void *data, unsigned size)
{
    const IoRegion *r;
    uint64_t value = 0;
    bool handled = false;

    g_assert(valid_size(size));
    memcpy(&value, data, size);
    value = GUINT64_FROM_LE(value);
    g_rw_lock_reader_lock(&bus->lock);
    r = find(bus, addr, size);
    if (r) {
        handled = true;
        if (r->write) {
            r->write(r->opaque, addr - r->base, value, size);
        }
    }
    g_rw_lock_reader_unlock(&bus->lock);
    if (!handled) {
        __atomic_fetch_add(&bus->unhandled, 1, __ATOMIC_RELAXED);
    }
    return handled;
}

uint64_t iobus_unhandled_count(IoBus *bus)
{
    return __atomic_load_n(&bus->unhandled, __ATOMIC_RELAXED);
}
