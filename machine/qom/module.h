/*
 * Registration of types by constructors, as in QEMU's util/module.c.
 *
 * Each file that defines a type ends with `type_init(fn)`; the constructor
 * only queues fn.  main() then calls module_call_init(MODULE_INIT_QOM) once,
 * which runs the queued functions (they call type_register_static()) and
 * checks the resulting registry.
 */
#ifndef VMSPEC_QOM_MODULE_H
#define VMSPEC_QOM_MODULE_H

#include <stdbool.h>
#include <glib.h>

typedef enum {
    MODULE_INIT_QOM,
    MODULE_INIT_MAX,
} ModuleInitType;

/* Queues fn to run at module_call_init(type).  Called from constructors,
 * before main(); not thread-safe. */
void register_module_init(void (*fn)(void), ModuleInitType type);

/* Runs every function queued for type, once; later calls do nothing.
 * For MODULE_INIT_QOM it then validates the type registry: duplicate names
 * and unknown parents are reported in *errp.  Main thread, before any
 * object is created. */
bool module_call_init(ModuleInitType type, GError **errp);

#define module_init(function, type)                                         \
    static void __attribute__((constructor)) do_module_init_##function(void) \
    {                                                                       \
        register_module_init(function, type);                               \
    }

#define type_init(function) module_init(function, MODULE_INIT_QOM)

#endif
