/*
 * The resource assignment pass (resources.h).
 *
 * The allocator keeps every window and interrupt line it has handed out so
 * that two devices can never be wired on top of each other, whether the
 * layout or a machine's built-in placed them.  Interrupt lines may be
 * shared only where a device asks for it, which none does today.
 */
#include "machine/qom/resources.h"

#include <inttypes.h>

#include "machine/qom/error.h"
#include "machine/qom/machine.h"

typedef enum {
    RANGE_PIO,
    RANGE_MMIO,
    RANGE_IRQ,
} RangeSpace;

typedef struct TakenRange {
    RangeSpace space;
    uint64_t base;
    uint64_t size;
    char *owner;                /* the device's id, for messages */
} TakenRange;

static const char *const space_names[] = {
    [RANGE_PIO] = "I/O port",
    [RANGE_MMIO] = "MMIO address",
    [RANGE_IRQ] = "interrupt line",
};

static bool take_range(ResourceAllocator *alloc, RangeSpace space,
                       uint64_t base, uint64_t size, GError **errp)
{
    for (guint i = 0; i < alloc->taken->len; i++) {
        TakenRange *r = &g_array_index(alloc->taken, TakenRange, i);

        if (r->space == space && base < r->base + r->size &&
            r->base < base + size) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_BUSY,
                        "%s %#" PRIx64 " is taken by device '%s'",
                        space_names[space], MAX(base, r->base),
                        r->owner ? r->owner : "?");
            return false;
        }
    }
    g_array_append_val(alloc->taken,
                       ((TakenRange){ .space = space, .base = base,
                                      .size = size,
                                      .owner = g_strdup(alloc->device) }));
    return true;
}

bool resource_take_virtio_slot(ResourceAllocator *alloc, DeviceResources *res,
                               const VirtioTransportOps **transport,
                               GError **errp)
{
    const MachineLayout *l = alloc->layout;
    unsigned slot = alloc->virtio_next;
    uint64_t base;

    if (!l || !l->virtio_slots) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "the %s machine has no virtio slots", alloc->machine);
        return false;
    }
    if (slot >= l->virtio_slots) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "the %s machine has %u virtio-mmio slots; all are taken",
                    alloc->machine, l->virtio_slots);
        return false;
    }
    base = l->virtio_base + slot * l->virtio_slot_size;
    if (!resource_take_fixed_mmio(alloc, res, base, l->virtio_slot_size,
                                  errp) ||
        !resource_take_fixed_irq(alloc, res, (int)(l->virtio_first_irq + slot),
                                 errp)) {
        return false;
    }
    alloc->virtio_next++;
    res->slot = (int)slot;
    *transport = l->virtio_transport;
    return true;
}

bool resource_take_fixed_pio(ResourceAllocator *alloc, DeviceResources *res,
                             uint32_t base, uint32_t count, GError **errp)
{
    if (!take_range(alloc, RANGE_PIO, base, count, errp)) {
        return false;
    }
    res->pio_base = base;
    res->pio_count = count;
    return true;
}

bool resource_take_fixed_mmio(ResourceAllocator *alloc, DeviceResources *res,
                              uint64_t base, uint64_t size, GError **errp)
{
    if (!take_range(alloc, RANGE_MMIO, base, size, errp)) {
        return false;
    }
    res->mmio_base = base;
    res->mmio_size = size;
    return true;
}

bool resource_take_fixed_irq(ResourceAllocator *alloc, DeviceResources *res,
                             int irq, GError **errp)
{
    if (!take_range(alloc, RANGE_IRQ, (uint64_t)irq, 1, errp)) {
        return false;
    }
    res->irq = irq;
    return true;
}

static void resources_clear(DeviceResources *res)
{
    *res = (DeviceResources){ .irq = -1, .slot = -1 };
}

static void taken_range_clear(void *data)
{
    g_free(((TakenRange *)data)->owner);
}

static void allocator_reset(MachineState *ms)
{
    ResourceAllocator *alloc = &ms->resources;

    alloc->machine = object_get_typename(OBJECT(ms));
    alloc->layout = MACHINE_GET_CLASS(ms)->layout;
    alloc->virtio_next = 0;
    if (alloc->taken) {
        g_array_set_size(alloc->taken, 0);
    } else {
        alloc->taken = g_array_new(false, false, sizeof(TakenRange));
        g_array_set_clear_func(alloc->taken, taken_range_clear);
    }
}

bool machine_assign_device(MachineState *ms, DeviceState *dev, GError **errp)
{
    DeviceClass *dc = DEVICE_GET_CLASS(dev);
    ResourceAllocator *alloc = &ms->resources;
    GError *err = NULL;

    if (!ms->resources.taken) {
        allocator_reset(ms);
    }
    resources_clear(&dev->res);
    alloc->device = dev->id;
    if (dc->assign_resources &&
        !dc->assign_resources(dev, &ms->resources, &err)) {
        const char *type = object_get_typename(OBJECT(dev));

        resources_clear(&dev->res);
        /* Placed at the spec entry, the way spec errors are. */
        if (dev->origin) {
            g_propagate_prefixed_error(errp, err, "%s: %s '%s': ",
                                       dev->origin, type,
                                       dev->id ? dev->id : "?");
        } else {
            g_autofree char *what = device_describe(dev);

            g_propagate_prefixed_error(errp, err, "%s: ", what);
        }
        return false;
    }
    dev->res.assigned = true;
    return true;
}

bool machine_assign_resources(MachineState *ms, GError **errp)
{
    GPtrArray *children = OBJECT(ms)->children;

    allocator_reset(ms);
    for (guint i = 0; i < children->len; i++) {
        DeviceState *dev = machine_device_child(ms, i);

        if (dev && !machine_assign_device(ms, dev, errp)) {
            return false;
        }
    }
    return true;
}

char *device_resources_describe(const DeviceResources *res)
{
    GString *s = g_string_new(NULL);

    if (res->mmio_size) {
        g_string_append_printf(s, "mmio %#" PRIx64 "+%#" PRIx64,
                               res->mmio_base, res->mmio_size);
    }
    if (res->pio_count) {
        g_string_append_printf(s, "%sports %#" PRIx32 "+%" PRIu32,
                               s->len ? ", " : "", res->pio_base,
                               res->pio_count);
    }
    if (res->irq >= 0) {
        g_string_append_printf(s, "%sirq %d", s->len ? ", " : "", res->irq);
    }
    if (res->slot >= 0) {
        g_string_append_printf(s, "%sslot %d", s->len ? ", " : "", res->slot);
    }
    return g_string_free(s, false);
}
