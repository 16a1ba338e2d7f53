/*
 * The device base type: an object with an id and a realize step.
 *
 * Creating a device only records its configuration (properties).  Realize
 * acquires what it needs from the host and the machine (files, I/O
 * regions, IRQs) and may fail with an error; unrealize releases it.  The
 * machine realizes its devices in tree order and unrealizes them in
 * reverse.  After realize, properties are frozen.
 */
#ifndef VMSPEC_QOM_DEVICE_H
#define VMSPEC_QOM_DEVICE_H

#include "machine/qom/object.h"

#define TYPE_DEVICE "device"

typedef struct Aml Aml;
typedef struct FdtBuilder FdtBuilder;
typedef struct HostClaims HostClaims;
typedef struct ResourceAllocator ResourceAllocator;
typedef struct DeviceContext DeviceContext;

/*
 * What the machine's resource assignment pass (machine/qom/resources.h)
 * gave the device, before realize and for `vmspec plan`.  Realize wires
 * exactly these; the ACPI and device tree hooks only read them.
 */
typedef struct DeviceResources {
    bool assigned;
    uint64_t mmio_base;     /* MMIO window; mmio_size 0: none */
    uint64_t mmio_size;
    uint32_t pio_base;      /* port I/O window; pio_count 0: none */
    uint32_t pio_count;
    int irq;                /* GSI (x86) or SPI number (arm64); -1: none */
    int slot;               /* index among the machine's virtio slots; -1 */
} DeviceResources;

typedef struct DeviceState {
    Object parent_obj;
    char *id;               /* property "id": the spec's name for it */
    char *origin;           /* "spec.yaml:12:5" of its spec entry, or NULL */
    bool realized;
    DeviceResources res;
} DeviceState;

typedef struct DeviceClass {
    ObjectClass parent_class;
    /* Spec list the type is written in ("disks", "nics", "devices"). */
    const char *spec_list;
    /* Another process must map guest RAM (a vhost-user backend): the
     * machine then backs RAM with a shared memfd (guest-mem.h).  Asked
     * after the spec's keys are set, before realize; NULL: no. */
    bool (*needs_shared_ram)(DeviceState *dev);
    /* Asks the machine's allocator for what the device occupies (an MMIO
     * window, ports, an interrupt line, a virtio slot), recording it in
     * dev->res.  Main thread, before realize; may be NULL (nothing). */
    bool (*assign_resources)(DeviceState *dev, ResourceAllocator *alloc,
                             GError **errp);
    /* Acquires the host side and wires dev->res through ctx: what a device
     * may touch of the machine (machine/qom/context.h). */
    bool (*realize)(DeviceState *dev, const DeviceContext *ctx,
                    GError **errp);
    void (*unrealize)(DeviceState *dev);
    /* x86: appends the device's entries to the DSDT (machine/x86/aml.h). */
    void (*acpi_aml)(DeviceState *dev, Aml *scope);
    /* arm64: writes the device's node(s) under the root of the device
     * tree (machine/fdt/builder.h). */
    void (*fdt_node)(DeviceState *dev, FdtBuilder *b);
    /* Checks the values a spec set against each other (a key that only
     * makes sense with another, a list whose items clash).  On error *key
     * names the offending key of the device's map (NULL: the entry
     * itself), for the loader to place the message there.  Main thread,
     * after the spec's keys are set; may be NULL (nothing to check). */
    bool (*check)(DeviceState *dev, const char **key, GError **errp);
    /* Appends the host resources the device would take (the files it
     * reads or writes, a tap, a MAC address: machine/qom/host-claims.h),
     * so that a spec, or `vmspec up` across specs, can refuse two users
     * of one.  Main thread, before realize; NULL: it claims nothing. */
    void (*host_claims)(DeviceState *dev, HostClaims *claims);
    /* The process that would serve the device, for `vmspec plan`: its
     * command line, or the socket of one someone else runs (new string);
     * NULL: none.  Main thread, before realize; may be NULL. */
    char *(*describe_backend)(DeviceState *dev);
} DeviceClass;

#define DEVICE(obj) OBJECT_CHECK(DeviceState, (obj), TYPE_DEVICE)
#define DEVICE_CLASS(klass)                                                 \
    OBJECT_CLASS_CHECK(DeviceClass, (klass), TYPE_DEVICE)
#define DEVICE_GET_CLASS(obj) OBJECT_GET_CLASS(DeviceClass, (obj), TYPE_DEVICE)

/* The device as error messages name it: "device 'root' (virtio-blk,
 * spec.yaml:12:5)". */
char *device_describe(DeviceState *dev);

/* Checks required properties, then runs the class's realize.  On failure
 * the device stays unrealized and the error names the device (and its
 * spec origin when known).  Main thread. */
bool device_realize(DeviceState *dev, GError **errp);

/* Releases what realize acquired; a no-op on an unrealized device. */
void device_unrealize(DeviceState *dev);

/* Sets where the device was declared, for error messages. */
void device_set_origin(DeviceState *dev, const char *origin);

#endif
