/*
 * virtio-rng: entropy for the guest from getrandom() (virtio 1.2,
 * section 5.4).  Written in a spec's `devices:` list.
 */
#include "machine/qom/device.h"
#include "machine/qom/property.h"

#define TYPE_VIRTIO_RNG "virtio-rng"

typedef struct VirtioRng {
    DeviceState parent_obj;
} VirtioRng;

static const TypeInfo virtio_rng_info = {
    .name = TYPE_VIRTIO_RNG,
    .parent = TYPE_DEVICE,
    .description = "virtio entropy source fed from getrandom()",
    .instance_size = sizeof(VirtioRng),
};

static void virtio_rng_register_types(void)
{
    type_register_static(&virtio_rng_info);
}

type_init(virtio_rng_register_types)
