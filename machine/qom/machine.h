/*
 * The abstract machine type: what every board has (vCPUs, RAM).  Concrete
 * machines (microvm on x86_64, virt on arm64) derive from it; devices are
 * its children in the object tree.
 */
#ifndef VMSPEC_QOM_MACHINE_H
#define VMSPEC_QOM_MACHINE_H

#include "machine/qom/object.h"

#define TYPE_MACHINE "machine"

typedef struct MachineState {
    Object parent_obj;
    int64_t cpus;
    uint64_t ram_size;
} MachineState;

typedef struct MachineClass {
    ObjectClass parent_class;
    const char *arch;           /* host architecture it runs on: "x86_64" */
    int64_t max_cpus;
} MachineClass;

#define MACHINE(obj) OBJECT_CHECK(MachineState, (obj), TYPE_MACHINE)
#define MACHINE_CLASS(klass)                                                \
    OBJECT_CLASS_CHECK(MachineClass, (klass), TYPE_MACHINE)
#define MACHINE_GET_CLASS(obj)                                              \
    OBJECT_GET_CLASS(MachineClass, (obj), TYPE_MACHINE)

#endif
