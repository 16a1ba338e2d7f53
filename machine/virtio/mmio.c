/*
 * The virtio-mmio transport, modern interface (virtio 1.2, 4.2.2 "MMIO
 * Device Register Layout", Version 2).
 *
 * VendorID is 0x554d4551 ("QEMU" in little-endian ASCII), the value the
 * other VMMs (QEMU, Firecracker, cloud-hypervisor) report, so guests that
 * key on it treat vmspec's devices the same.
 *
 * Registers below 0x100 take only 32-bit aligned accesses (4.2.2.2); any
 * other access is ignored and reads 0.  The device configuration space at
 * 0x100 takes 1, 2, 4 and 8-byte accesses inside the class's config_size.
 *
 * Threads: vCPU threads run the register handlers under `lock`; a reset
 * quiesces the device's I/O thread (virtio_device_quiesce) so queue work
 * never races with it.  The lock order is `lock`, then the I/O thread's.
 * InterruptStatus and the device status are atomics: the I/O thread sets
 * their bits without taking `lock`.
 *
 * Without a KVM VM (device unit tests) the queue notifications come only
 * through the MMIO handler and interrupts pulse the context's set_irq.
 *
 * The window, its interrupt line and the slot index come from the
 * machine's resource assignment pass (DEVICE(vdev)->res); the ACPI and
 * device tree descriptions read only those, so they are the same before
 * realize (`vmspec plan`) as after.
 */
#include "machine/virtio/mmio.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "machine/fdt/builder.h"
#include "machine/kvm/iobus.h"
#include "machine/kvm/kvm.h"
#include "machine/qom/context.h"
#include "machine/qom/error.h"
#include "machine/x86/aml.h"

/* 4.2.2 register offsets. */
#define REG_MAGIC               0x000
#define REG_VERSION             0x004
#define REG_DEVICE_ID           0x008
#define REG_VENDOR_ID           0x00c
#define REG_DEVICE_FEATURES     0x010
#define REG_DEVICE_FEATURES_SEL 0x014
#define REG_DRIVER_FEATURES     0x020
#define REG_DRIVER_FEATURES_SEL 0x024
#define REG_QUEUE_SEL           0x030
#define REG_QUEUE_NUM_MAX       0x034
#define REG_QUEUE_NUM           0x038
#define REG_QUEUE_READY         0x044
#define REG_QUEUE_NOTIFY        0x050
#define REG_INTERRUPT_STATUS    0x060
#define REG_INTERRUPT_ACK       0x064
#define REG_STATUS              0x070
#define REG_QUEUE_DESC_LOW      0x080
#define REG_QUEUE_DESC_HIGH     0x084
#define REG_QUEUE_DRIVER_LOW    0x090
#define REG_QUEUE_DRIVER_HIGH   0x094
#define REG_QUEUE_DEVICE_LOW    0x0a0
#define REG_QUEUE_DEVICE_HIGH   0x0a4
#define REG_SHM_LEN_LOW         0x0b0
#define REG_SHM_LEN_HIGH        0x0b4
#define REG_SHM_BASE_LOW        0x0b8
#define REG_SHM_BASE_HIGH       0x0bc
#define REG_CONFIG_GENERATION   0x0fc

#define VIRTIO_MMIO_MAGIC       0x74726976  /* "virt" */
#define VIRTIO_MMIO_VERSION     2
#define VIRTIO_MMIO_VENDOR      0x554d4551  /* "QEMU" */

typedef struct VirtioMmio {
    VirtioDevice *vdev;
    const DeviceContext *ctx;
    uint64_t base;              /* from DEVICE(vdev)->res */
    uint64_t size;
    uint32_t gsi;

    pthread_mutex_t lock;       /* the registers below */
    uint32_t device_features_sel;
    uint32_t driver_features_sel;
    uint32_t queue_sel;
    uint64_t driver_features;   /* as written, before FEATURES_OK */
    uint32_t isr;               /* InterruptStatus; atomic */

    int irq_fd;                 /* eventfd behind the irqfd, or -1 */
    bool irqfd;
    /* A backend writes irq_fd itself: InterruptStatus always shows a used
     * buffer (backend_used_irq). */
    bool backend_irq;
    int notify_fd[VIRTIO_MAX_QUEUES];
    bool ioeventfd[VIRTIO_MAX_QUEUES];
    bool registered;
} VirtioMmio;

static uint8_t mmio_status(VirtioDevice *vdev)
{
    return __atomic_load_n(&vdev->status, __ATOMIC_SEQ_CST);
}

static VirtQueue *selected_queue(VirtioMmio *t)
{
    return t->queue_sel < t->vdev->num_queues ?
           t->vdev->queues[t->queue_sel] : NULL;
}

/* VirtioTransportOps.interrupt: InterruptStatus |= the cause's bit (4.2.2:
 * bit 0 used buffer, bit 1 configuration change), then the slot's line. */
static void mmio_interrupt(VirtioDevice *vdev, VirtioInterruptCause cause)
{
    VirtioMmio *t = vdev->transport;
    uint32_t isr_bits = cause == VIRTIO_INTERRUPT_CONFIG_CHANGE
                        ? VIRTIO_MMIO_INT_CONFIG : VIRTIO_MMIO_INT_VRING;

    if (!t) {
        return;
    }
    __atomic_fetch_or(&t->isr, isr_bits, __ATOMIC_SEQ_CST);
    if (t->irqfd) {
        /* The GSI is edge-triggered (ACPI entry below): one write, one
         * interrupt. */
        eventfd_write(t->irq_fd, 1);
    } else {
        device_context_set_irq(t->ctx, t->gsi, true);
        device_context_set_irq(t->ctx, t->gsi, false);
    }
}

/* The transport's own registers after a device reset.  With t->lock
 * held. */
static void mmio_reset_registers(VirtioMmio *t)
{
    __atomic_store_n(&t->isr, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&t->backend_irq, false, __ATOMIC_SEQ_CST);
    t->device_features_sel = t->driver_features_sel = t->queue_sel = 0;
    t->driver_features = 0;
}

/* With t->lock held. */
static void mmio_write_status(VirtioMmio *t, uint32_t value)
{
    if (virtio_device_write_status(t->vdev, value, t->driver_features)) {
        mmio_reset_registers(t);
    }
}

static uint64_t mmio_config_read(VirtioMmio *t, uint64_t off, unsigned size)
{
    VirtioDeviceClass *vc = VIRTIO_DEVICE_GET_CLASS(t->vdev);
    uint64_t v = 0;

    if (vc->read_config && off <= vc->config_size &&
        size <= vc->config_size - off) {
        vc->read_config(t->vdev, (uint32_t)off, &v, size);
    }
    return v;
}

static void mmio_config_write(VirtioMmio *t, uint64_t off, uint64_t value,
                              unsigned size)
{
    VirtioDeviceClass *vc = VIRTIO_DEVICE_GET_CLASS(t->vdev);

    if (vc->write_config && off <= vc->config_size &&
        size <= vc->config_size - off) {
        vc->write_config(t->vdev, (uint32_t)off, &value, size);
    }
}

static uint64_t mmio_read(void *opaque, uint64_t offset, unsigned size)
{
    VirtioMmio *t = opaque;
    VirtioDevice *vdev = t->vdev;
    VirtioDeviceClass *vc = VIRTIO_DEVICE_GET_CLASS(vdev);
    VirtQueue *vq;
    uint64_t v = 0;

    if (offset >= VIRTIO_MMIO_CONFIG_OFFSET) {
        return mmio_config_read(t, offset - VIRTIO_MMIO_CONFIG_OFFSET, size);
    }
    if (size != 4 || (offset & 3)) {
        return 0;
    }
    pthread_mutex_lock(&t->lock);
    vq = selected_queue(t);
    switch (offset) {
    case REG_MAGIC:
        v = VIRTIO_MMIO_MAGIC;
        break;
    case REG_VERSION:
        v = VIRTIO_MMIO_VERSION;
        break;
    case REG_DEVICE_ID:
        v = vc->device_id;
        break;
    case REG_VENDOR_ID:
        v = VIRTIO_MMIO_VENDOR;
        break;
    case REG_DEVICE_FEATURES:
        v = t->device_features_sel == 0 ? (uint32_t)vdev->host_features :
            t->device_features_sel == 1 ? vdev->host_features >> 32 : 0;
        break;
    case REG_QUEUE_NUM_MAX:
        v = vq ? virtqueue_max_size(vq) : 0;
        break;
    case REG_QUEUE_READY:
        v = vq ? virtqueue_ready(vq) : 0;
        break;
    case REG_INTERRUPT_STATUS:
        v = __atomic_load_n(&t->isr, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&t->backend_irq, __ATOMIC_SEQ_CST)) {
            v |= VIRTIO_MMIO_INT_VRING;
        }
        break;
    case REG_STATUS:
        v = mmio_status(vdev);
        break;
    case REG_CONFIG_GENERATION:
        v = __atomic_load_n(&vdev->config_generation, __ATOMIC_SEQ_CST);
        break;
    case REG_SHM_LEN_LOW:
    case REG_SHM_LEN_HIGH:
    case REG_SHM_BASE_LOW:
    case REG_SHM_BASE_HIGH:
        /*
         * No device here has shared memory regions, so every SHMSel names
         * a region that does not exist, whose length and base read as -1
         * (4.2.2).  Linux's virtiofs probes its DAX window this way and
         * fails the probe on a length of 0.
         */
        v = UINT32_MAX;
        break;
    default:
        break;                  /* write-only or reserved: 0 */
    }
    pthread_mutex_unlock(&t->lock);
    return v;
}

/* Sets the low or high half of a 64-bit queue address. */
static uint64_t set_half(uint64_t old, uint32_t value, bool high)
{
    return high ? (old & 0xffffffffULL) | ((uint64_t)value << 32)
                : (old & ~0xffffffffULL) | value;
}

static void mmio_write_queue_reg(VirtioMmio *t, uint64_t offset,
                                 uint32_t value)
{
    VirtQueue *vq = selected_queue(t);

    if (!vq) {
        return;
    }
    if (offset == REG_QUEUE_READY) {
        if (value <= 1) {       /* other values are reserved: ignored */
            virtio_device_set_queue_ready(t->vdev, vq, value == 1);
        }
        return;
    }
    if (virtqueue_ready(vq)) {
        return;                 /* 4.2.2.2: not while the queue is live */
    }
    switch (offset) {
    case REG_QUEUE_NUM:
        if (value <= virtqueue_max_size(vq)) {
            virtqueue_set_size(vq, (uint16_t)value);
        }
        break;
    case REG_QUEUE_DESC_LOW:
    case REG_QUEUE_DESC_HIGH:
        virtqueue_set_desc_addr(vq, set_half(virtqueue_desc_addr(vq), value,
                                             offset == REG_QUEUE_DESC_HIGH));
        break;
    case REG_QUEUE_DRIVER_LOW:
    case REG_QUEUE_DRIVER_HIGH:
        virtqueue_set_avail_addr(vq,
            set_half(virtqueue_avail_addr(vq), value,
                     offset == REG_QUEUE_DRIVER_HIGH));
        break;
    case REG_QUEUE_DEVICE_LOW:
    case REG_QUEUE_DEVICE_HIGH:
        virtqueue_set_used_addr(vq,
            set_half(virtqueue_used_addr(vq), value,
                     offset == REG_QUEUE_DEVICE_HIGH));
        break;
    default:
        break;
    }
}

static void mmio_write(void *opaque, uint64_t offset, uint64_t value,
                       unsigned size)
{
    VirtioMmio *t = opaque;
    VirtioDevice *vdev = t->vdev;
    uint32_t v = (uint32_t)value;

    if (offset >= VIRTIO_MMIO_CONFIG_OFFSET) {
        mmio_config_write(t, offset - VIRTIO_MMIO_CONFIG_OFFSET, value, size);
        return;
    }
    if (size != 4 || (offset & 3)) {
        return;
    }
    if (offset == REG_QUEUE_NOTIFY) {
        /* Normally a KVM ioeventfd; this is the fallback path. */
        if (v < vdev->num_queues) {
            eventfd_write(t->notify_fd[v], 1);
        }
        return;
    }
    if (offset == REG_INTERRUPT_ACK) {
        __atomic_fetch_and(&t->isr, ~v, __ATOMIC_SEQ_CST);
        return;
    }
    pthread_mutex_lock(&t->lock);
    switch (offset) {
    case REG_DEVICE_FEATURES_SEL:
        t->device_features_sel = v;
        break;
    case REG_DRIVER_FEATURES:
        /* Fixed once FEATURES_OK is set (3.1.1). */
        if (!(mmio_status(vdev) & VIRTIO_STATUS_FEATURES_OK) &&
            t->driver_features_sel < 2) {
            t->driver_features = set_half(t->driver_features, v,
                                          t->driver_features_sel == 1);
        }
        break;
    case REG_DRIVER_FEATURES_SEL:
        t->driver_features_sel = v;
        break;
    case REG_QUEUE_SEL:
        t->queue_sel = v;
        break;
    case REG_STATUS:
        mmio_write_status(t, v);
        break;
    case REG_QUEUE_NUM:
    case REG_QUEUE_READY:
    case REG_QUEUE_DESC_LOW:
    case REG_QUEUE_DESC_HIGH:
    case REG_QUEUE_DRIVER_LOW:
    case REG_QUEUE_DRIVER_HIGH:
    case REG_QUEUE_DEVICE_LOW:
    case REG_QUEUE_DEVICE_HIGH:
        mmio_write_queue_reg(t, offset, v);
        break;
    default:
        break;                  /* read-only or reserved: ignored */
    }
    pthread_mutex_unlock(&t->lock);
}

static void mmio_unrealize(VirtioDevice *vdev)
{
    VirtioMmio *t = vdev->transport;
    KvmVm *kvm;

    if (!t) {
        return;
    }
    kvm = t->ctx->kvm;
    if (t->registered) {
        iobus_unregister(t->ctx->mmio_bus, t->base);
    }
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
        if (t->ioeventfd[i]) {
            kvm_vm_ioeventfd(kvm, t->notify_fd[i],
                             t->base + REG_QUEUE_NOTIFY, 4, false, true, i,
                             true, NULL);
        }
        if (t->notify_fd[i] >= 0) {
            virtio_device_io_remove(vdev, t->notify_fd[i]);
            close(t->notify_fd[i]);
        }
    }
    if (t->irqfd) {
        kvm_vm_irqfd(kvm, t->irq_fd, t->gsi, -1, true, NULL);
    }
    if (t->irq_fd >= 0) {
        close(t->irq_fd);
    }
    pthread_mutex_destroy(&t->lock);
    vdev->transport = NULL;
    g_free(t);
}

static bool mmio_wire(VirtioMmio *t, GError **errp)
{
    VirtioDevice *vdev = t->vdev;
    KvmVm *kvm = t->ctx->kvm;
    g_autofree char *name = g_strdup_printf("virtio-mmio %s",
                                            DEVICE(vdev)->id ?
                                            DEVICE(vdev)->id : "?");

    for (unsigned i = 0; i < vdev->num_queues; i++) {
        t->notify_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (t->notify_fd[i] < 0) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                        "cannot create an eventfd: %s", g_strerror(errno));
            return false;
        }
        if (!virtio_device_watch_queue_notifier(vdev, i, t->notify_fd[i],
                                                errp)) {
            close(t->notify_fd[i]);
            t->notify_fd[i] = -1;
            return false;
        }
        if (kvm) {
            /* api.rst KVM_IOEVENTFD with datamatch: the queue index the
             * driver writes to QueueNotify (4.2.2). */
            if (!kvm_vm_ioeventfd(kvm, t->notify_fd[i],
                                  t->base + REG_QUEUE_NOTIFY, 4, false, true,
                                  i, false, errp)) {
                return false;
            }
            t->ioeventfd[i] = true;
        }
    }
    t->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->irq_fd < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot create an eventfd: %s", g_strerror(errno));
        return false;
    }
    if (kvm) {
        if (!kvm_vm_irqfd(kvm, t->irq_fd, t->gsi, -1, false, errp)) {
            return false;
        }
        t->irqfd = true;
    }
    if (!iobus_register(t->ctx->mmio_bus, t->base, t->size, name, mmio_read,
                        mmio_write, t, errp)) {
        return false;
    }
    t->registered = true;
    return true;
}

static bool mmio_realize(VirtioDevice *vdev, const DeviceContext *ctx,
                         GError **errp)
{
    const DeviceResources *res = &DEVICE(vdev)->res;
    VirtioMmio *t;

    if (!ctx->mmio_bus) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "virtio-mmio needs a machine with an MMIO bus");
        return false;
    }
    if (res->mmio_size <= VIRTIO_MMIO_CONFIG_OFFSET || res->irq < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "virtio-mmio window of %#" PRIx64 " bytes is too small",
                    res->mmio_size);
        return false;
    }
    t = g_new0(VirtioMmio, 1);
    t->vdev = vdev;
    t->ctx = ctx;
    t->base = res->mmio_base;
    t->size = res->mmio_size;
    t->gsi = (uint32_t)res->irq;
    t->irq_fd = -1;
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
        t->notify_fd[i] = -1;
    }
    pthread_mutex_init(&t->lock, NULL);
    vdev->transport = t;
    if (!mmio_wire(t, errp)) {
        mmio_unrealize(vdev);
        return false;
    }
    return true;
}

static int mmio_queue_notifier(VirtioDevice *vdev, unsigned index)
{
    VirtioMmio *t = vdev->transport;

    return t && index < vdev->num_queues ? t->notify_fd[index] : -1;
}

static int mmio_backend_used_irq(VirtioDevice *vdev)
{
    VirtioMmio *t = vdev->transport;

    if (!t || !t->irqfd) {
        return -1;
    }
    __atomic_store_n(&t->backend_irq, true, __ATOMIC_SEQ_CST);
    return t->irq_fd;
}

/* The DSDT entry for the slot (_HID LNRO0005, its window and GSI); the
 * slot number names the device (VRxx). */
static void mmio_acpi_aml(VirtioDevice *vdev, Aml *scope)
{
    const DeviceResources *res = &DEVICE(vdev)->res;

    aml_virtio_mmio_device(scope, (unsigned)res->slot & 0xff, res->mmio_base,
                           (uint32_t)res->mmio_size, (uint32_t)res->irq);
}

/*
 * Documentation/devicetree/bindings/virtio/mmio.yaml.  Edge-triggered:
 * the interrupt is injected through an irqfd, a pulse the GIC must latch
 * (a level-sensitive SPI would drop it); InterruptStatus holds the cause.
 * dma-coherent: guest RAM is ordinary cacheable memory to us.
 */
static void mmio_fdt_node(VirtioDevice *vdev, FdtBuilder *b)
{
    const DeviceResources *res = &DEVICE(vdev)->res;

    fdt_builder_begin_node_at(b, "virtio_mmio", res->mmio_base);
    fdt_builder_prop_string(b, "compatible", "virtio,mmio");
    fdt_builder_prop_reg(b, res->mmio_base, res->mmio_size);
    fdt_builder_prop_spi(b, (uint32_t)res->irq, FDT_IRQ_EDGE_RISING);
    fdt_builder_prop_empty(b, "dma-coherent");
    fdt_builder_end_node(b);
}

const VirtioTransportOps virtio_mmio_transport = {
    .name = "virtio-mmio",
    .realize = mmio_realize,
    .unrealize = mmio_unrealize,
    .interrupt = mmio_interrupt,
    .queue_notifier = mmio_queue_notifier,
    .backend_used_irq = mmio_backend_used_irq,
    .acpi_aml = mmio_acpi_aml,
    .fdt_node = mmio_fdt_node,
};

uint64_t virtio_mmio_base(VirtioDevice *vdev)
{
    return DEVICE(vdev)->res.mmio_base;
}

uint32_t virtio_mmio_gsi(VirtioDevice *vdev)
{
    return DEVICE(vdev)->res.irq >= 0 ? (uint32_t)DEVICE(vdev)->res.irq : 0;
}
