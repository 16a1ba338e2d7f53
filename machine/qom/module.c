/*
 * Constructor-queued initialisation lists.  These lists and the type
 * registry (object.c) are the only global mutable state in vmspec: they are
 * filled before main() and frozen by module_call_init().
 */
#include "machine/qom/module.h"
#include "machine/qom/object.h"

typedef struct {
    GSList *fns;        /* in registration order, reversed */
    bool done;
} ModuleList;

static ModuleList module_lists[MODULE_INIT_MAX];

void register_module_init(void (*fn)(void), ModuleInitType type)
{
    g_assert(type < MODULE_INIT_MAX);
    module_lists[type].fns = g_slist_prepend(module_lists[type].fns,
                                             (gpointer)fn);
}

bool module_call_init(ModuleInitType type, GError **errp)
{
    ModuleList *list = &module_lists[type];

    g_assert(type < MODULE_INIT_MAX);
    if (!list->done) {
        list->done = true;
        list->fns = g_slist_reverse(list->fns);
        for (GSList *l = list->fns; l; l = l->next) {
            ((void (*)(void))l->data)();
        }
    }
    if (type == MODULE_INIT_QOM) {
        return type_registry_check(errp);
    }
    return true;
}
