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
 * through the MMIO handler and interrupts pulse the machine's set_irq.
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
#include "machine/qom/error.h"
#include "machine/qom/machine.h"
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
#define REG_CONFIG_GENERATION   0x0fc

#define VIRTIO_MMIO_MAGIC       0x74726976  /* "virt" */
#define VIRTIO_MMIO_VERSION     2
#define VIRTIO_MMIO_VENDOR      0x554d4551  /* "QEMU" */

struct VirtioMmio {
    VirtioDevice *vdev;
    MachineState *ms;
    uint64_t base;
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
    int notify_fd[VIRTIO_MAX_QUEUES];
    bool ioeventfd[VIRTIO_MAX_QUEUES];
    bool registered;
};

static uint8_t mmio_status(VirtioDevice *vdev)
{
    return __atomic_load_n(&vdev->status, __ATOMIC_SEQ_CST);
}

static VirtQueue *selected_queue(VirtioMmio *t)
{
    return t->queue_sel < t->vdev->num_queues ?
           t->vdev->queues[t->queue_sel] : NULL;
}

void virtio_mmio_interrupt(VirtioDevice *vdev, uint32_t isr_bits)
{
    VirtioMmio *t = vdev->transport;

    if (!t) {
        return;
    }
    __atomic_fetch_or(&t->isr, isr_bits, __ATOMIC_SEQ_CST);
    if (t->irqfd) {
        /* The GSI is edge-triggered (ACPI entry below): one write, one
         * interrupt. */
        eventfd_write(t->irq_fd, 1);
    } else {
        machine_set_irq(t->ms, t->gsi, true);
        machine_set_irq(t->ms, t->gsi, false);
    }
}

/* 4.2.2 Status = 0, or the driver's reset: back to the initial state with
 * the I/O thread quiesced.  With t->lock held. */
static void mmio_reset(VirtioMmio *t)
{
    VirtioDevice *vdev = t->vdev;
    VirtioDeviceClass *vc = VIRTIO_DEVICE_GET_CLASS(vdev);

    virtio_device_quiesce(vdev);
    if (vc->reset) {
        vc->reset(vdev);
    }
    for (unsigned i = 0; i < vdev->num_queues; i++) {
        virtqueue_reset(vdev->queues[i]);
    }
    vdev->guest_features = 0;
    __atomic_store_n(&vdev->status, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&t->isr, 0, __ATOMIC_SEQ_CST);
    t->device_features_sel = t->driver_features_sel = t->queue_sel = 0;
    t->driver_features = 0;
    virtio_device_resume(vdev);
}

/* 2.1, 3.1.1: the driver's status writes.  Bits are only ever added (a
 * write that clears one is ignored, except 0 which resets); FEATURES_OK
 * sticks only for an acceptable feature set; DRIVER_OK needs
 * FEATURES_OK.  With t->lock held. */
static void mmio_write_status(VirtioMmio *t, uint32_t value)
{
    VirtioDevice *vdev = t->vdev;
    VirtioDeviceClass *vc = VIRTIO_DEVICE_GET_CLASS(vdev);
    uint8_t old = mmio_status(vdev) & ~VIRTIO_STATUS_NEEDS_RESET;
    uint8_t new = value & ~VIRTIO_STATUS_NEEDS_RESET & 0xff;

    if (value == 0) {
        mmio_reset(t);
        return;
    }
    if (value > 0xff || (old & ~new)) {
        return;
    }
    if ((new & VIRTIO_STATUS_FEATURES_OK) &&
        !(old & VIRTIO_STATUS_FEATURES_OK)) {
        uint64_t f = t->driver_features;

        /* 3.1.1 step 5-6, 6.1: a subset of the offer, with VERSION_1
         * (this transport has no legacy interface). */
        if ((f & ~vdev->host_features) ||
            !(f & (1ULL << VIRTIO_F_VERSION_1))) {
            new &= ~VIRTIO_STATUS_FEATURES_OK;
        } else {
            vdev->guest_features = f;
        }
    }
    if ((new & VIRTIO_STATUS_DRIVER_OK) &&
        !(new & VIRTIO_STATUS_FEATURES_OK)) {
        new &= ~VIRTIO_STATUS_DRIVER_OK;
    }
    __atomic_fetch_or(&vdev->status, new, __ATOMIC_SEQ_CST);
    if ((new & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
        if (vc->start && !vc->start(vdev)) {
            virtio_device_set_needs_reset(vdev);
            return;
        }
        /* Buffers a driver made available (and notified) before
         * DRIVER_OK were dropped by the notify handler: look once. */
        for (unsigned i = 0; i < vdev->num_queues; i++) {
            if (virtqueue_ready(vdev->queues[i])) {
                eventfd_write(t->notify_fd[i], 1);
            }
        }
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
        break;
    case REG_STATUS:
        v = mmio_status(vdev);
        break;
    case REG_CONFIG_GENERATION:
        v = __atomic_load_n(&vdev->config_generation, __ATOMIC_SEQ_CST);
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

static void mmio_queue_ready(VirtioMmio *t, VirtQueue *vq, uint32_t value)
{
    VirtioDevice *vdev = t->vdev;

    if (value == 1) {
        /* Rings are set up after FEATURES_OK (3.1.1 step 7).  Quiesced:
         * a notification racing in from another vCPU must not see the
         * queue half enabled. */
        if ((mmio_status(vdev) & VIRTIO_STATUS_FEATURES_OK) &&
            !virtqueue_ready(vq)) {
            virtio_device_quiesce(vdev);
            virtqueue_enable(vq, vdev->guest_features);
            virtio_device_resume(vdev);
        }
    } else if (value == 0 && virtqueue_ready(vq)) {
        virtio_device_quiesce(vdev);
        virtqueue_reset(vq);
        virtio_device_resume(vdev);
    }
}

static void mmio_write_queue_reg(VirtioMmio *t, uint64_t offset,
                                 uint32_t value)
{
    VirtQueue *vq = selected_queue(t);

    if (!vq) {
        return;
    }
    if (offset == REG_QUEUE_READY) {
        mmio_queue_ready(t, vq, value);
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

/* I/O thread: queue index's notification eventfd fired. */
static void mmio_notify_ready(VirtioDevice *vdev, int fd, uint32_t events,
                              void *opaque)
{
    VirtioDeviceClass *vc = VIRTIO_DEVICE_GET_CLASS(vdev);
    unsigned index = GPOINTER_TO_UINT(opaque);
    eventfd_t count;

    if (eventfd_read(fd, &count) < 0) {
        return;
    }
    if (!(mmio_status(vdev) & VIRTIO_STATUS_DRIVER_OK) ||
        (mmio_status(vdev) & VIRTIO_STATUS_NEEDS_RESET) ||
        !virtqueue_ready(vdev->queues[index]) || !vc->queue_notify) {
        return;
    }
    vc->queue_notify(vdev, index);
}

void virtio_mmio_unrealize(VirtioDevice *vdev)
{
    VirtioMmio *t = vdev->transport;
    KvmVm *kvm;

    if (!t) {
        return;
    }
    kvm = t->ms->kvm;
    if (t->registered) {
        iobus_unregister(t->ms->mmio_bus, t->base);
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
    KvmVm *kvm = t->ms->kvm;
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
        if (!virtio_device_io_add(vdev, t->notify_fd[i], EPOLLIN,
                                  mmio_notify_ready, GUINT_TO_POINTER(i),
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
    if (!iobus_register(t->ms->mmio_bus, t->base, t->size, name, mmio_read,
                        mmio_write, t, errp)) {
        return false;
    }
    t->registered = true;
    return true;
}

bool virtio_mmio_realize(VirtioDevice *vdev, GError **errp)
{
    MachineState *ms = device_get_machine(DEVICE(vdev));
    VirtioMmio *t = g_new0(VirtioMmio, 1);

    t->vdev = vdev;
    t->ms = ms;
    t->irq_fd = -1;
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
        t->notify_fd[i] = -1;
    }
    pthread_mutex_init(&t->lock, NULL);
    vdev->transport = t;
    if (!machine_alloc_virtio_mmio(ms, &t->base, &t->size, &t->gsi, errp)) {
        virtio_mmio_unrealize(vdev);
        return false;
    }
    if (t->size <= VIRTIO_MMIO_CONFIG_OFFSET) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "virtio-mmio window of %#" PRIx64 " bytes is too small",
                    t->size);
        virtio_mmio_unrealize(vdev);
        return false;
    }
    if (!mmio_wire(t, errp)) {
        virtio_mmio_unrealize(vdev);
        return false;
    }
    return true;
}

void virtio_mmio_acpi_aml(VirtioDevice *vdev, Aml *scope)
{
    VirtioMmio *t = vdev->transport;

    if (!t) {
        return;
    }
    /* One slot per window: the slot number names the device (VRxx). */
    aml_virtio_mmio_device(scope, (unsigned)((t->base / t->size) & 0xff),
                           t->base, (uint32_t)t->size, t->gsi);
}

/*
 * Documentation/devicetree/bindings/virtio/mmio.yaml.  Edge-triggered:
 * the interrupt is injected through an irqfd, a pulse the GIC must latch
 * (a level-sensitive SPI would drop it); InterruptStatus holds the cause.
 * dma-coherent: guest RAM is ordinary cacheable memory to us.
 */
void virtio_mmio_fdt_node(VirtioDevice *vdev, FdtBuilder *b)
{
    VirtioMmio *t = vdev->transport;
    uint64_t base, size;
    uint32_t spi;

    if (t) {
        base = t->base;
        size = t->size;
        spi = t->gsi;
    } else if (!machine_alloc_virtio_mmio(b->ms, &base, &size, &spi, NULL)) {
        return;             /* more devices than slots: realize says so */
    }
    fdt_builder_begin_node_at(b, "virtio_mmio", base);
    fdt_builder_prop_string(b, "compatible", "virtio,mmio");
    fdt_builder_prop_reg(b, base, size);
    fdt_builder_prop_spi(b, spi, FDT_IRQ_EDGE_RISING);
    fdt_builder_prop_empty(b, "dma-coherent");
    fdt_builder_end_node(b);
}

uint64_t virtio_mmio_base(VirtioDevice *vdev)
{
    return vdev->transport ? vdev->transport->base : 0;
}

uint32_t virtio_mmio_gsi(VirtioDevice *vdev)
{
    return vdev->transport ? vdev->transport->gsi : 0;
}
