/*
 * microvm: the x86_64 machine.  A minimal PC without PCI: RAM split around
 * the 32-bit MMIO hole, KVM's in-kernel IOAPIC/LAPIC/PIT, a 8250 UART for
 * the console, the i8042 for reset, pvpanic, and virtio-mmio devices, all
 * described to the guest through ACPI (README.md, "The x86_64 `microvm`
 * machine").
 * Every address comes from layout.h.
 */
#include <linux/kvm.h>

#include "machine/kvm/boot-cache.h"
#include "machine/kvm/guest-mem.h"
#include "machine/kvm/iobus.h"
#include "machine/kvm/kvm.h"
#include "machine/kvm/vcpu.h"
#include "machine/kvm/run-end.h"
#include "machine/qom/error.h"
#include "machine/qom/machine.h"
#include "machine/virtio/mmio.h"
#include "machine/x86/acpi.h"
#include "machine/x86/boot.h"
#if defined(__x86_64__)
#include "machine/x86/cpu.h"
#endif
#include "machine/x86/layout.h"

#define TYPE_MICROVM "microvm"

/* \_S5's SLP_TYP: what Linux writes to the sleep control register to
 * power off (ACPI 6.4, 7.4.2). */
#define MICROVM_S5_SLP_TYP 5

typedef struct Microvm {
    MachineState parent_obj;
} Microvm;

#define MICROVM(obj) OBJECT_CHECK(Microvm, (obj), TYPE_MICROVM)

#define STR(x) STR_(x)
#define STR_(x) #x

/* Built-in devices: created with the machine so that `vmspec plan` shows
 * them, realized before the spec's devices, placed where layout.h says. */
static const struct {
    const char *name;
    const char *type;
    const char *props[2][2];
} microvm_builtins[] = {
    { "serial0", "serial-8250", { { "iobase", STR(X86_SERIAL0_PORT) },
                                  { "irq", STR(X86_SERIAL0_IRQ) } } },
    { "i8042", "i8042", { { "iobase", STR(X86_I8042_DATA_PORT) } } },
    { "pvpanic", "pvpanic", { { "port", STR(X86_PVPANIC_PORT) } } },
};

static const MachineLayout microvm_layout = {
    .virtio_base = X86_VIRTIO_MMIO_BASE,
    .virtio_slot_size = X86_VIRTIO_MMIO_SLOT_SIZE,
    .virtio_slots = X86_VIRTIO_MMIO_SLOTS,
    .virtio_first_irq = X86_VIRTIO_MMIO_FIRST_GSI,
    .virtio_transport = &virtio_mmio_transport,
};

/* ---- Running it (x86_64 hosts) ---- */

#if defined(__x86_64__)
static void microvm_set_irq(MachineState *ms, unsigned gsi, bool level)
{
    /* Only fails when KVM refuses the ioctl, i.e. never for a valid GSI
     * of the in-kernel irqchip; there is no one to tell on a vCPU thread. */
    kvm_vm_set_irq_line(ms->kvm, gsi, level, NULL);
}

/*
 * ACPI hardware-reduced sleep registers (ACPI 6.4, 4.8.3.7-8).  Linux
 * powers off by writing SLP_TYP(5) << 2 | SLP_EN to the control register,
 * then polls WAK_STS in the status register; the VM ends at the write.
 */
static void sleep_control_write(void *opaque, uint64_t offset, uint64_t value,
                                unsigned size)
{
    MachineState *ms = opaque;

    if (value == acpi_sleep_control_value(MICROVM_S5_SLP_TYP)) {
        run_end_request(ms->run_end, RUN_END_POWEROFF, "ACPI S5 (poweroff)");
    }
}

static uint64_t sleep_status_read(void *opaque, uint64_t offset,
                                  unsigned size)
{
    return 0;
}

/*
 * There is no BIOS, but Linux reboots through one when the ACPI and
 * keyboard methods were skipped: on hardware-reduced ACPI without EFI its
 * default method is BOOT_EFI, which falls through to BOOT_BIOS, a far jump
 * to F000:FFF0 in real mode (arch/x86/kernel/reboot.c).  Answer it with a
 * stub that pulses the reset line like the keyboard method does.
 */
static bool microvm_write_reset_vector(MachineState *ms, GError **errp)
{
    static const uint8_t stub[] = {
        0xb0, 0xfe,         /* mov al, 0xfe: pulse the reset line */
        0xe6, 0x64,         /* out 0x64, al: i8042 command port */
        0xf4,               /* hlt */
        0xeb, 0xfd,         /* jmp $-3 */
    };

    return guest_mem_write(ms->ram, X86_RESET_VECTOR_ADDR, stub,
                           sizeof(stub), errp);
}

static void microvm_dsdt_body(Aml *scope, void *opaque)
{
    machine_describe_acpi(opaque, scope);
}

static bool microvm_write_acpi(MachineState *ms, uint64_t *rsdp,
                               GError **errp)
{
    AcpiConfig cfg = {
        .cpus = (unsigned)ms->cpus,
        .lapic_addr = X86_LAPIC_ADDR,
        .ioapic_id = 0,
        .ioapic_addr = X86_IOAPIC_ADDR,
        .ioapic_gsi_base = 0,
        .sleep_control_port = X86_ACPI_SLEEP_CONTROL_PORT,
        .sleep_status_port = X86_ACPI_SLEEP_STATUS_PORT,
        .s5_slp_typ = MICROVM_S5_SLP_TYP,
        .reset_port = X86_I8042_CMD_PORT,
        .reset_value = 0xfe,
        /* No CMOS RTC: Linux then doesn't wait for one. */
        .rtc_present = false,
        .dsdt_body = microvm_dsdt_body,
        .opaque = ms,
    };
    g_autoptr(GByteArray) blob = NULL;

    if (!acpi_build_tables(&cfg, X86_ACPI_START, &blob, rsdp, errp)) {
        return false;
    }
    if (blob->len > X86_ACPI_SIZE) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_FAILED,
                    "ACPI tables need %u bytes; the machine has room for %llu",
                    blob->len, (unsigned long long)X86_ACPI_SIZE);
        return false;
    }
    return guest_mem_write(ms->ram, X86_ACPI_START, blob->data, blob->len,
                           errp);
}

static bool microvm_create_vcpus(MachineState *ms, const X86BootInfo *boot,
                                 GError **errp)
{
    g_autofree struct kvm_cpuid2 *cpuid = x86_cpuid_supported(ms->kvm, errp);

    if (!cpuid) {
        return false;
    }
    for (unsigned i = 0; i < ms->cpus; i++) {
        Vcpu *v = vcpu_new(ms->kvm, i, ms->pio_bus, ms->mmio_bus, ms->run_end,
                           errp);

        if (!v) {
            return false;
        }
        g_ptr_array_add(ms->vcpus, v);
        if (!x86_cpu_setup(vcpu_fd(v), cpuid, i, (unsigned)ms->cpus, errp)) {
            return false;
        }
    }
    return x86_cpu_set_boot_regs(vcpu_fd(ms->vcpus->pdata[0]), boot, errp);
}

static void microvm_unrealize(MachineState *ms)
{
    g_clear_pointer(&ms->vcpus, g_ptr_array_unref);
    machine_unrealize_children(ms);
    g_clear_pointer(&ms->pio_bus, iobus_free);
    g_clear_pointer(&ms->mmio_bus, iobus_free);
    g_clear_pointer(&ms->ram, guest_mem_free);
    g_clear_pointer(&ms->kvm, kvm_vm_free);
    g_clear_pointer(&ms->run_end, run_end_free);
}

/*
 * What the machine puts in front of the spec's kernel command line:
 * "pci=off", unless the spec sets pci= itself.  The machine has no PCI,
 * and without being told Linux looks for it through the configuration
 * ports 0xcf8/0xcfc (early quirks, conf1 detection and, on AMD family 0fh
 * CPUs such as the KVM sandbox's, a search for a GART over every bus):
 * ~33,000 port exits, a third of the test guest's boot time in the
 * sandbox (3.45 s to its marker, 2.37 s without them).  Firecracker's
 * default command line has it too.  In front, so that init's arguments
 * after "--" stay last; left out where the spec's command line is too
 * long to take it (boot.h).
 */
static const char *microvm_cmdline_prefix(const char *spec_cmdline)
{
    g_auto(GStrv) words = g_strsplit(spec_cmdline ? spec_cmdline : "", " ",
                                     -1);

    for (char **w = words; *w && strcmp(*w, "--") != 0; w++) {
        if (g_str_has_prefix(*w, "pci=")) {
            return NULL;
        }
    }
    return "pci=off";
}

/* Where the host-decoded kernel went, for crash reports: with KASLR, a
 * guest RIP means nothing without it (the kernel prints its offset only
 * when it panics). */
static void microvm_note_kernel(MachineState *ms, const X86BootInfo *info)
{
    g_autofree char *note = NULL;

    if (info->host_decompressed) {
        note = g_strdup_printf("kernel: _text at 0x%" G_GINT64_MODIFIER
                               "x physical, 0x%" G_GINT64_MODIFIER
                               "x virtual%s", info->kernel_start,
                               info->kernel_text,
                               info->kaslr ? " (KASLR)" : "");
    }
    run_end_set_boot_note(ms->run_end, note);
}

static bool microvm_realize(MachineState *ms, GError **errp)
{
    X86BootConfig boot = {
        .kernel = ms->kernel.path,
        .initrd = ms->initrd.path,
        .cmdline = ms->cmdline,
        .cmdline_prefix = microvm_cmdline_prefix(ms->cmdline),
        .acpi_start = X86_ACPI_START,
        .acpi_size = X86_ACPI_SIZE,
    };
    g_autofree char *cache_dir = boot_cache_dir_from_env();
    const char *decompress = g_getenv("VMSPEC_KERNEL_DECOMPRESS");
    X86BootInfo info;
    uint64_t rsdp = 0;

    if (decompress && strcmp(decompress, "host") != 0 &&
        strcmp(decompress, "guest") != 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "VMSPEC_KERNEL_DECOMPRESS is \"%s\"; it must be host "
                    "or guest", decompress);
        return false;
    }
    boot.guest_decompress = g_strcmp0(decompress, "guest") == 0;
    boot.cache_dir = cache_dir;
    ms->vcpus = g_ptr_array_new_with_free_func((GDestroyNotify)vcpu_free);
    /*
     * What the user can get wrong (memory the host can't give, a file that
     * is no bzImage, a command line too long) is checked before KVM is
     * touched: a bad spec creates no VM.  The RSDP goes at the start of the
     * ACPI area (checked when the tables are written).
     */
    boot.rsdp_addr = X86_ACPI_START;
    if (!(ms->run_end = run_end_new(errp)) ||
        !(ms->ram = guest_mem_new_backed(ms->ram_size, X86_MMIO_HOLE_START,
                                         machine_needs_shared_ram(ms)
                                         ? GUEST_MEM_SHARED
                                         : GUEST_MEM_PRIVATE, errp)) ||
        !x86_boot_load(ms->ram, &boot, &info, errp) ||
        !microvm_write_reset_vector(ms, errp) ||
        !(ms->kvm = kvm_vm_new(NULL, errp)) ||
        !kvm_vm_setup_x86(ms->kvm, X86_KVM_TSS_ADDR,
                          X86_KVM_IDENTITY_MAP_ADDR, true, errp) ||
        !guest_mem_register(ms->ram, ms->kvm->vm_fd, 0, errp)) {
        goto fail;
    }
    microvm_note_kernel(ms, &info);
    ms->pio_bus = iobus_new("pio");
    ms->mmio_bus = iobus_new("mmio");
    if (!iobus_register(ms->pio_bus, X86_ACPI_SLEEP_CONTROL_PORT, 1,
                        "acpi-sleep-control", NULL, sleep_control_write, ms,
                        errp) ||
        !iobus_register(ms->pio_bus, X86_ACPI_SLEEP_STATUS_PORT, 1,
                        "acpi-sleep-status", sleep_status_read, NULL, ms,
                        errp) ||
        !machine_realize_children(ms, errp) ||
        /* Devices describe themselves once realized. */
        !microvm_write_acpi(ms, &rsdp, errp) ||
        !microvm_create_vcpus(ms, &info, errp)) {
        goto fail;
    }
    g_assert(rsdp == boot.rsdp_addr);
    return true;

fail:
    microvm_unrealize(ms);
    return false;
}

#endif

/* ---- Type ---- */

static void microvm_instance_init(Object *obj)
{
    for (size_t i = 0; i < G_N_ELEMENTS(microvm_builtins); i++) {
        g_autoptr(Object) dev = object_new(microvm_builtins[i].type);

        object_property_set_str(dev, "id", microvm_builtins[i].name, NULL);
        for (size_t p = 0; p < G_N_ELEMENTS(microvm_builtins[i].props) &&
                           microvm_builtins[i].props[p][0]; p++) {
            object_property_set_str(dev, microvm_builtins[i].props[p][0],
                                    microvm_builtins[i].props[p][1], NULL);
        }
        object_add_child(obj, microvm_builtins[i].name, dev, NULL);
    }
}

static void microvm_class_init(ObjectClass *oc, const void *data)
{
    MachineClass *mc = MACHINE_CLASS(oc);

    mc->arch = "x86_64";
    mc->layout = &microvm_layout;
#if defined(__x86_64__)
    mc->set_irq = microvm_set_irq;
    mc->realize = microvm_realize;
    mc->unrealize = microvm_unrealize;
#endif
}

static const TypeInfo microvm_info = {
    .name = TYPE_MICROVM,
    .parent = TYPE_MACHINE,
    .description = "x86_64 minimal machine: virtio-mmio, ACPI, no PCI",
    .instance_size = sizeof(Microvm),
    .instance_init = microvm_instance_init,
    .class_init = microvm_class_init,
};

static void microvm_register_types(void)
{
    type_register_static(&microvm_info);
}

type_init(microvm_register_types)
