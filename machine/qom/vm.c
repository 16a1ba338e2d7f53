/*
 * The vm root object.
 */
#include <string.h>

#include "machine/qom/error.h"
#include "machine/qom/property.h"
#include "machine/qom/vm.h"

#define VM_NAME_MAX 63

bool vm_name_check(const char *name, GError **errp)
{
    size_t len = strlen(name);

    if (len == 0 || len > VM_NAME_MAX) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "'%s' is not a valid name: it must be 1 to %d "
                    "characters", name, VM_NAME_MAX);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];

        if (!(g_ascii_islower(c) || g_ascii_isdigit(c) ||
              (c == '-' && i > 0))) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                        "'%s' is not a valid name: use lowercase letters, "
                        "digits and '-', starting with a letter or digit",
                        name);
            return false;
        }
    }
    return true;
}

static bool console_check(const char *value, GError **errp)
{
    if (strcmp(value, "stdio") == 0 || strcmp(value, "none") == 0 ||
        (g_str_has_prefix(value, "file:") && value[5])) {
        return true;
    }
    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                "'%s' is not a console: expected stdio, none or file:PATH",
                value);
    return false;
}

static const char *const on_reboot_names[] = { "exit", "restart", NULL };

static const Property vm_props[] = {
    PROP_STRING_CHECKED("name", Vm, name, NULL, vm_name_check,
                        "^[a-z0-9][a-z0-9-]{0,62}$",
                        "Name of the VM, unique within a directory",
                        .required = true),
    PROP_STRING_CHECKED("console", Vm, console, "stdio", console_check,
                        "^(stdio|none|file:.+)$",
                        "Where the serial console goes: stdio, none or "
                        "file:PATH"),
    PROP_ENUM("on_reboot", Vm, on_reboot, VM_ON_REBOOT_EXIT, on_reboot_names,
              "What a guest reboot does: exit (status 0) or restart"),
    PROP_END,
};

MachineState *vm_get_machine(Vm *vm)
{
    Object *obj = object_get_child(OBJECT(vm), "machine");

    return obj ? MACHINE(obj) : NULL;
}

static void vm_class_init(ObjectClass *oc, const void *data)
{
    oc->props = vm_props;
}

static const TypeInfo vm_info = {
    .name = TYPE_VM,
    .parent = TYPE_OBJECT,
    .description = "one virtual machine: the root of a spec's object tree",
    .instance_size = sizeof(Vm),
    .class_init = vm_class_init,
};

static void vm_register_types(void)
{
    type_register_static(&vm_info);
}

type_init(vm_register_types)
