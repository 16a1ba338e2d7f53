/*
 * virt: the arm64 machine.  KVM's in-kernel GIC (v3, or v2 where the host
 * has no v3) and arch timer, PSCI for CPU bring-up and power, a 16550A
 * UART for the console, and virtio-mmio devices, all described to the
 * guest by a flattened device tree (Documentation/devicetree/usage-model
 * .rst; the bindings named at each node).  Every address comes from
 * layout.h.
 *
 * The type exists on every host, so that specs check, plan and write
 * their device tree (`vmspec plan --dtb`) anywhere; it runs on aarch64
 * hosts, where the KVM parts (cpu.c, gic.c) are built.
 */
#include <string.h>
#include <sys/random.h>

#include "machine/arm64/boot.h"
#include "machine/arm64/layout.h"
#include "machine/fdt/builder.h"
#include "machine/kvm/guest-mem.h"
#include "machine/kvm/iobus.h"
#include "machine/kvm/kvm.h"
#include "machine/kvm/vcpu.h"
#include "machine/kvm/run-end.h"
#include "machine/qom/error.h"
#include "machine/qom/machine.h"
#include "machine/virtio/mmio.h"
#if defined(__aarch64__)
#include "machine/arm64/cpu.h"
#include "machine/arm64/gic.h"
#endif

#define TYPE_VIRT "virt"

/* Room for the nodes vmspec writes; the command line comes on top. */
#define VIRT_DTB_BASE_SIZE  (64 * 1024)

typedef struct Virt {
    MachineState parent_obj;
#if defined(__aarch64__)
    Arm64Gic *gic;
#endif
} Virt;

#define VIRT(obj) OBJECT_CHECK(Virt, (obj), TYPE_VIRT)

/* What the device tree says beyond the spec: known once the VM exists. */
typedef struct VirtDtParams {
    unsigned gic_version;           /* 3 or 2 */
    const uint64_t *mpidr;          /* per vCPU; NULL: KVM's default */
    uint64_t initrd_start;          /* 0: no initrd properties */
    uint64_t initrd_end;
    bool seeds;                     /* random rng-seed and kaslr-seed */
} VirtDtParams;

static const MachineLayout virt_layout = {
    .virtio_base = ARM64_VIRTIO_MMIO_BASE,
    .virtio_slot_size = ARM64_VIRTIO_MMIO_SLOT_SIZE,
    .virtio_slots = ARM64_VIRTIO_MMIO_SLOTS,
    .virtio_first_irq = ARM64_VIRTIO_MMIO_FIRST_SPI,
    .virtio_transport = &virtio_mmio_transport,
};

/* ---- Device tree ---- */

/* KVM's reset MPIDR for a vCPU id (arch/arm64/kvm/sys_regs.c reset_mpidr:
 * Aff0 holds 16 CPUs, so that SGIs reach a cluster with one write). */
static uint64_t default_mpidr(unsigned id)
{
    return (id & 0x0f) | ((uint64_t)(id >> 4) & 0xff) << 8 |
           ((uint64_t)(id >> 12) & 0xff) << 16;
}

static void fdt_cpus(FdtBuilder *b, MachineState *ms, const VirtDtParams *p)
{
    fdt_builder_begin_node(b, "cpus");
    fdt_builder_prop_u32(b, "#address-cells", 1);
    fdt_builder_prop_u32(b, "#size-cells", 0);
    for (unsigned i = 0; i < ms->cpus; i++) {
        /* bindings/arm/cpus.yaml: reg is MPIDR_EL1's affinity bits,
         * Aff2..Aff0 in one cell (Aff3 is 0 below 2^24 vCPUs). */
        uint64_t mpidr = (p->mpidr ? p->mpidr[i] : default_mpidr(i)) &
                         0xffffff;

        fdt_builder_begin_node_at(b, "cpu", mpidr);
        fdt_builder_prop_string(b, "device_type", "cpu");
        fdt_builder_prop_string(b, "compatible", "arm,arm-v8");
        fdt_builder_prop_string(b, "enable-method", "psci");
        fdt_builder_prop_u32(b, "reg", (uint32_t)mpidr);
        fdt_builder_end_node(b);
    }
    fdt_builder_end_node(b);
}

/* bindings/interrupt-controller/arm,gic-v3.yaml and arm,gic.yaml. */
static void fdt_gic(FdtBuilder *b, MachineState *ms, unsigned version)
{
    static const char *const v3[] = { "arm,gic-v3", NULL };
    static const char *const v2[] = { "arm,cortex-a15-gic", NULL };
    uint64_t dist = ARM64_GIC_DIST_BASE;
    uint64_t second_base = version == 3 ? ARM64_GICV3_REDIST_BASE
                                        : ARM64_GICV2_CPU_BASE;
    uint64_t second_size = version == 3
        ? ARM64_GICV3_REDIST_STRIDE * (uint64_t)ms->cpus
        : ARM64_GICV2_CPU_SIZE;
    uint32_t reg[8] = {
        (uint32_t)(dist >> 32), (uint32_t)dist,
        0, (uint32_t)ARM64_GIC_DIST_SIZE,
        (uint32_t)(second_base >> 32), (uint32_t)second_base,
        (uint32_t)(second_size >> 32), (uint32_t)second_size,
    };

    fdt_builder_begin_node_at(b, "intc", ARM64_GIC_DIST_BASE);
    fdt_builder_prop_strings(b, "compatible", version == 3 ? v3 : v2);
    fdt_builder_prop_empty(b, "interrupt-controller");
    fdt_builder_prop_u32(b, "#interrupt-cells", 3);
    /* No children (no ITS), but an interrupt provider states its address
     * cells for interrupt-map parsers (dtc's interrupt_provider check). */
    fdt_builder_prop_u32(b, "#address-cells", 0);
    fdt_builder_prop_cells(b, "reg", reg, G_N_ELEMENTS(reg));
    fdt_builder_prop_u32(b, "phandle", ARM64_GIC_PHANDLE);
    fdt_builder_end_node(b);
}

/* bindings/timer/arm,arch_timer.yaml: the four PPIs, level-triggered; a
 * GICv2 also wants the mask of CPUs each PPI reaches (flags bits 8-15). */
static void fdt_timer(FdtBuilder *b, MachineState *ms, unsigned version)
{
    uint32_t flags = FDT_IRQ_LEVEL_HIGH;
    uint32_t irqs[12];
    static const uint32_t ppis[4] = {
        ARM64_TIMER_PPI_SEC_PHYS, ARM64_TIMER_PPI_PHYS,
        ARM64_TIMER_PPI_VIRT, ARM64_TIMER_PPI_HYP,
    };

    if (version == 2) {
        flags |= (uint32_t)((1u << MIN(ms->cpus, 8)) - 1) << 8;
    }
    for (unsigned i = 0; i < 4; i++) {
        irqs[i * 3] = FDT_GIC_PPI;
        irqs[i * 3 + 1] = ppis[i];
        irqs[i * 3 + 2] = flags;
    }
    fdt_builder_begin_node(b, "timer");
    fdt_builder_prop_string(b, "compatible", "arm,armv8-timer");
    fdt_builder_prop_cells(b, "interrupts", irqs, G_N_ELEMENTS(irqs));
    fdt_builder_prop_empty(b, "always-on");
    fdt_builder_end_node(b);
}

static void fdt_chosen(FdtBuilder *b, MachineState *ms,
                       const VirtDtParams *p)
{
    g_autofree char *stdout_path = g_strdup_printf(
        "/serial@%" G_GINT64_MODIFIER "x", (uint64_t)ARM64_UART_BASE);

    fdt_builder_begin_node(b, "chosen");
    fdt_builder_prop_string(b, "bootargs", ms->cmdline ? ms->cmdline : "");
    /* The console, and what a bare `earlycon` uses. */
    fdt_builder_prop_string(b, "stdout-path", stdout_path);
    if (p->initrd_start) {
        fdt_builder_prop_u64(b, "linux,initrd-start", p->initrd_start);
        fdt_builder_prop_u64(b, "linux,initrd-end", p->initrd_end);
    }
    if (p->seeds) {
        /* The guest's RNG is ready at once (no virtio-rng needed for
         * that), and KASLR gets its seed: bindings/chosen.yaml. */
        uint8_t seed[64];
        uint64_t kaslr;

        if (getrandom(seed, sizeof(seed), 0) == (ssize_t)sizeof(seed)) {
            fdt_builder_prop_bytes(b, "rng-seed", seed, sizeof(seed));
        }
        if (getrandom(&kaslr, sizeof(kaslr), 0) == (ssize_t)sizeof(kaslr)) {
            fdt_builder_prop_u64(b, "kaslr-seed", kaslr);
        }
    }
    fdt_builder_end_node(b);
}

/*
 * The whole tree.  Device nodes come from the devices themselves
 * (DeviceClass.fdt_node), in tree order.
 */
static GBytes *virt_build_dtb(MachineState *ms, const VirtDtParams *p,
                              GError **errp)
{
    static const char *const psci[] = { "arm,psci-0.2", NULL };
    size_t cmdline_len = ms->cmdline ? strlen(ms->cmdline) : 0;
    FdtBuilder b;
    GBytes *dtb;

    fdt_builder_init(&b, VIRT_DTB_BASE_SIZE +
                             (int)MIN(cmdline_len, ARM64_DTB_MAX_SIZE));
    fdt_builder_begin_node(&b, "");
    fdt_builder_prop_string(&b, "compatible", "linux,dummy-virt");
    fdt_builder_prop_string(&b, "model", "vmspec virt");
    fdt_builder_prop_u32(&b, "#address-cells", 2);
    fdt_builder_prop_u32(&b, "#size-cells", 2);
    fdt_builder_prop_u32(&b, "interrupt-parent", ARM64_GIC_PHANDLE);

    fdt_chosen(&b, ms, p);
    fdt_builder_begin_node_at(&b, "memory", ARM64_RAM_BASE);
    fdt_builder_prop_string(&b, "device_type", "memory");
    fdt_builder_prop_reg(&b, ARM64_RAM_BASE, ms->ram_size);
    fdt_builder_end_node(&b);
    fdt_cpus(&b, ms, p);
    /* bindings/arm/psci.yaml: KVM implements PSCI behind HVC. */
    fdt_builder_begin_node(&b, "psci");
    fdt_builder_prop_strings(&b, "compatible", psci);
    fdt_builder_prop_string(&b, "method", "hvc");
    fdt_builder_end_node(&b);
    fdt_gic(&b, ms, p->gic_version);
    fdt_timer(&b, ms, p->gic_version);

    machine_describe_fdt(ms, &b);
    fdt_builder_end_node(&b);
    dtb = fdt_builder_finish(&b, errp);
    if (dtb && g_bytes_get_size(dtb) > ARM64_DTB_MAX_SIZE) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "the device tree is %zu bytes; Linux takes at most 2 MiB"
                    " (is the command line that long?)",
                    g_bytes_get_size(dtb));
        g_clear_pointer(&dtb, g_bytes_unref);
    }
    return dtb;
}

/* MachineClass.build_dtb: the tree a machine not yet running would get
 * (GICv3, KVM's default MPIDRs, no initrd range, no random seeds). */
static GBytes *virt_plan_dtb(MachineState *ms, GError **errp)
{
    VirtDtParams p = { .gic_version = 3 };
    GBytes *dtb;

    if (ms->realized) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_FAILED,
                    "the machine is running");
        return NULL;
    }
    /* The same pass realize runs: the nodes show what realize wires. */
    if (!machine_assign_resources(ms, errp)) {
        return NULL;
    }
    dtb = virt_build_dtb(ms, &p, errp);
    return dtb;
}

/* ---- Running it (aarch64 hosts) ---- */

#if defined(__aarch64__)
static void virt_set_irq(MachineState *ms, unsigned gsi, bool level)
{
    /* Fails only for an SPI the GIC lacks, which layout.h rules out; no
     * one to tell on a vCPU thread. */
    arm64_gic_set_spi(ms->kvm, gsi, level, NULL);
}

static bool virt_create_vcpus(MachineState *ms, GError **errp)
{
    for (unsigned i = 0; i < ms->cpus; i++) {
        Vcpu *vcpu = vcpu_new(ms->kvm, i, NULL, ms->mmio_bus, ms->run_end,
                              errp);

        if (!vcpu) {
            return false;
        }
        g_ptr_array_add(ms->vcpus, vcpu);
        if (!arm64_cpu_init(ms->kvm, vcpu_fd(vcpu), i, errp)) {
            return false;
        }
    }
    return true;
}

static bool virt_write_dtb(MachineState *ms, const Arm64BootInfo *boot,
                           GError **errp)
{
    g_autofree uint64_t *mpidr = g_new0(uint64_t, ms->cpus);
    g_autoptr(GBytes) dtb = NULL;
    VirtDtParams p = {
        .gic_version = arm64_gic_version(VIRT(ms)->gic),
        .mpidr = mpidr,
        .initrd_start = boot->initrd_start,
        .initrd_end = boot->initrd_end,
        .seeds = true,
    };

    for (unsigned i = 0; i < ms->cpus; i++) {
        if (!arm64_cpu_get_mpidr(vcpu_fd(ms->vcpus->pdata[i]), &mpidr[i],
                                 errp)) {
            return false;
        }
    }
    dtb = virt_build_dtb(ms, &p, errp);
    return dtb && guest_mem_write(ms->ram, boot->dtb_addr,
                                  g_bytes_get_data(dtb, NULL),
                                  g_bytes_get_size(dtb), errp);
}

static void virt_unrealize(MachineState *ms)
{
    Virt *v = VIRT(ms);

    g_clear_pointer(&ms->vcpus, g_ptr_array_unref);
    machine_unrealize_children(ms);
    g_clear_pointer(&v->gic, arm64_gic_free);
    g_clear_pointer(&ms->mmio_bus, iobus_free);
    g_clear_pointer(&ms->ram, guest_mem_free);
    g_clear_pointer(&ms->kvm, kvm_vm_free);
    g_clear_pointer(&ms->run_end, run_end_free);
}

static bool virt_realize(MachineState *ms, GError **errp)
{
    Virt *v = VIRT(ms);
    Arm64BootConfig boot = {
        .kernel = ms->kernel.path,
        .initrd = ms->initrd.path,
    };
    Arm64BootInfo info;

    ms->vcpus = g_ptr_array_new_with_free_func((GDestroyNotify)vcpu_free);
    /* What the spec can get wrong is checked before KVM is touched. */
    if (ms->ram_size > ARM64_RAM_MAX) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "the virt machine addresses at most %llu GiB of RAM",
                    (unsigned long long)(ARM64_RAM_MAX >> 30));
        goto fail;
    }
    if (!(ms->run_end = run_end_new(errp)) ||
        !(ms->ram = guest_mem_new_at_backed(ms->ram_size, ARM64_RAM_BASE,
                                            machine_needs_shared_ram(ms)
                                            ? GUEST_MEM_SHARED
                                            : GUEST_MEM_PRIVATE, errp)) ||
        !arm64_boot_load(ms->ram, &boot, &info, errp) ||
        !(ms->kvm = kvm_vm_new(NULL, errp)) ||
        !guest_mem_register(ms->ram, ms->kvm->vm_fd, 0, errp)) {
        goto fail;
    }
    ms->mmio_bus = iobus_new("mmio");
    /* The GIC comes after every vCPU exists and before any device can
     * raise an interrupt (vgic-v3.rst, KVM_DEV_ARM_VGIC_CTRL_INIT). */
    if (!virt_create_vcpus(ms, errp) ||
        !(v->gic = arm64_gic_new(ms->kvm, (unsigned)ms->cpus, errp)) ||
        !machine_realize_children(ms, errp) ||
        /* Devices describe themselves once realized. */
        !virt_write_dtb(ms, &info, errp) ||
        !arm64_cpu_set_boot_regs(vcpu_fd(ms->vcpus->pdata[0]), info.entry,
                                 info.dtb_addr, errp)) {
        goto fail;
    }
    return true;

fail:
    virt_unrealize(ms);
    return false;
}
#endif

/* ---- Type ---- */

static void virt_instance_init(Object *obj)
{
    g_autoptr(Object) serial = object_new("serial-8250");
    g_autofree char *mmio = g_strdup_printf("%#" G_GINT64_MODIFIER "x",
                                            (uint64_t)ARM64_UART_BASE);
    g_autofree char *irq = g_strdup_printf("%d", ARM64_UART_SPI);

    /* Built in, created with the machine so that `vmspec plan` shows it. */
    object_property_set_str(serial, "id", "serial0", NULL);
    object_property_set_str(serial, "mmio", mmio, NULL);
    object_property_set_str(serial, "irq", irq, NULL);
    object_add_child(obj, "serial0", serial, NULL);
}

static void virt_class_init(ObjectClass *oc, const void *data)
{
    MachineClass *mc = MACHINE_CLASS(oc);

    mc->arch = "aarch64";
    /* The GICv3 redistributor window (layout.h). */
    mc->max_cpus = ARM64_GICV3_MAX_CPUS;
    mc->layout = &virt_layout;
    mc->build_dtb = virt_plan_dtb;
#if defined(__aarch64__)
    mc->set_irq = virt_set_irq;
    mc->realize = virt_realize;
    mc->unrealize = virt_unrealize;
#endif
}

static const TypeInfo virt_info = {
    .name = TYPE_VIRT,
    .parent = TYPE_MACHINE,
    .description = "arm64 machine: GIC, PSCI, virtio-mmio, device tree",
    .instance_size = sizeof(Virt),
    .instance_init = virt_instance_init,
    .class_init = virt_class_init,
};

static void virt_register_types(void)
{
    type_register_static(&virt_info);
}

type_init(virt_register_types)
