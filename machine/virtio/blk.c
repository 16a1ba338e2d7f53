/*
 * virtio-blk: a raw disk image as a virtio block device (virtio 1.2,
 * section 5.2).  Written in a spec's `disks:` list.
 */
#include "machine/qom/device.h"
#include "machine/qom/property.h"

#define TYPE_VIRTIO_BLK "virtio-blk"

typedef struct VirtioBlk {
    DeviceState parent_obj;
    FilePath image;
    bool readonly;
    bool snapshot;
} VirtioBlk;

static const Property virtio_blk_props[] = {
    PROP_PATH("path", VirtioBlk, image, true, "Raw disk image file"),
    PROP_BOOL("readonly", VirtioBlk, readonly, false,
              "Expose the disk read-only (VIRTIO_BLK_F_RO)"),
    PROP_BOOL("snapshot", VirtioBlk, snapshot, false,
              "Send writes to a throwaway overlay; the image is unchanged"),
    PROP_END,
};

static void virtio_blk_class_init(ObjectClass *oc, const void *data)
{
    oc->props = virtio_blk_props;
    DEVICE_CLASS(oc)->spec_list = "disks";
}

static const TypeInfo virtio_blk_info = {
    .name = TYPE_VIRTIO_BLK,
    .parent = TYPE_DEVICE,
    .description = "virtio block device backed by a raw image file",
    .instance_size = sizeof(VirtioBlk),
    .class_init = virtio_blk_class_init,
};

static void virtio_blk_register_types(void)
{
    type_register_static(&virtio_blk_info);
}

type_init(virtio_blk_register_types)
