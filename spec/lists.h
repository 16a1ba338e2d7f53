/*
 * The device lists of a spec (`disks:`, `nics:`, `devices:`): the spec's
 * words for them here, the types that go in each from the registry
 * (DeviceClass.spec_list), so that the loader and the schema agree and no
 * table of types is kept outside the devices.
 */
#ifndef VMSPEC_SPEC_LISTS_H
#define VMSPEC_SPEC_LISTS_H

#include <glib.h>

typedef struct SpecDeviceList {
    const char *name;           /* the top-level key */
    /* An entry without an id is named prefix + index ("disk0"); NULL:
     * type name + index ("virtio-rng0"). */
    const char *id_prefix;
    const char *description;    /* for the schema, without the default */
} SpecDeviceList;

/* The lists in the order their devices are built (which is the order of
 * the machine's children and of their virtio slots); *n gets the count. */
const SpecDeviceList *spec_device_lists(guint *n);

/*
 * The type an entry of list gets when it names none: the list's one
 * registered type, except in the list every device type may be written in
 * (the base device class's spec_list, `devices:`), where `type:` is
 * required.  NULL when there is none.  Main thread, after
 * module_call_init().
 */
const char *spec_list_default_type(const char *list);

#endif
