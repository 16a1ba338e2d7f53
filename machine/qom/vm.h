/*
 * The root of a spec's object tree: one virtual machine as the user named
 * it, with the settings that are about running it rather than about the
 * hardware (its name, where the console goes, what a guest reboot does).
 * Its one child is "machine", so device paths read /machine/disk0.
 */
#ifndef VMSPEC_QOM_VM_H
#define VMSPEC_QOM_VM_H

#include "machine/qom/machine.h"

#define TYPE_VM "vm"

typedef enum {
    VM_ON_REBOOT_EXIT,
    VM_ON_REBOOT_RESTART,
} VmOnReboot;

typedef struct Vm {
    Object parent_obj;
    char *name;
    char *console;          /* "stdio", "none" or "file:PATH" */
    int on_reboot;          /* VmOnReboot */
} Vm;

#define VM(obj) OBJECT_CHECK(Vm, (obj), TYPE_VM)

/* The vm's machine (borrowed), or NULL before the loader added it. */
MachineState *vm_get_machine(Vm *vm);

/* Validates a VM name: [a-z0-9][a-z0-9-]*, at most 63 characters (it is
 * used in file names, socket names and derived MAC addresses). */
bool vm_name_check(const char *name, GError **errp);

#endif
