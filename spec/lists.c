/*
 * The spec's device lists (see lists.h).
 */
#include <string.h>

#include "machine/qom/device.h"
#include "spec/lists.h"

static const SpecDeviceList device_lists[] = {
    { "disks", "disk", "Disks" },
    { "nics", "net", "Network cards" },
    { "shares", "share", "Host directories shared with the guest (virtio-fs)" },
    { "devices", NULL, "Other devices, each with a type" },
};

const SpecDeviceList *spec_device_lists(guint *n)
{
    *n = G_N_ELEMENTS(device_lists);
    return device_lists;
}

const char *spec_list_default_type(const char *list)
{
    ObjectClass *base = object_class_by_name(TYPE_DEVICE);
    GSList *classes;
    const char *found = NULL;
    guint count = 0;

    if (g_strcmp0(DEVICE_CLASS(base)->spec_list, list) == 0) {
        return NULL;
    }
    classes = object_class_get_list(TYPE_DEVICE, false);
    for (GSList *l = classes; l; l = l->next) {
        if (g_strcmp0(DEVICE_CLASS(l->data)->spec_list, list) == 0) {
            found = object_class_get_name(l->data);
            count++;
        }
    }
    g_slist_free(classes);
    return count == 1 ? found : NULL;
}
