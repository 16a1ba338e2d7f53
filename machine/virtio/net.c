/*
 * virtio-net: a network card on a host tap device (virtio 1.2, section
 * 5.1).  Written in a spec's `nics:` list.
 */
#include "machine/qom/device.h"
#include "machine/qom/property.h"

#define TYPE_VIRTIO_NET "virtio-net"

typedef struct VirtioNet {
    DeviceState parent_obj;
    char *tap;
    MacAddr mac;
} VirtioNet;

static const Property virtio_net_props[] = {
    PROP_STRING("tap", VirtioNet, tap, NULL,
                "Host tap device; created (and removed at exit) if missing",
                .required = true),
    PROP_MAC("mac", VirtioNet, mac,
             "MAC address, or auto: derived from the VM name and NIC id"),
    PROP_END,
};

static void virtio_net_class_init(ObjectClass *oc, const void *data)
{
    oc->props = virtio_net_props;
    DEVICE_CLASS(oc)->spec_list = "nics";
}

static const TypeInfo virtio_net_info = {
    .name = TYPE_VIRTIO_NET,
    .parent = TYPE_DEVICE,
    .description = "virtio network card on a host tap device",
    .instance_size = sizeof(VirtioNet),
    .class_init = virtio_net_class_init,
};

static void virtio_net_register_types(void)
{
    type_register_static(&virtio_net_info);
}

type_init(virtio_net_register_types)
