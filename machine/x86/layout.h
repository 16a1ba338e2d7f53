/*
 * Every guest-physical address and I/O port of the x86_64 microvm machine.
 * One definition, one comment: nothing else in the tree hard-codes these.
 *
 * Guest-physical map (low to high):
 *
 *   0x00000000 ..   0x0009fbff  RAM (e820 type 1); boot structures live here
 *   0x0009fc00 ..   0x0009ffff  EBDA (reserved)
 *   0x000a0000 ..   0x000dffff  legacy VGA/ROM hole (reserved, backed by RAM)
 *   0x000e0000 ..   0x000fffff  ACPI tables (e820 type 3)
 *   0x00100000 ..   hole start  RAM: kernel at 1 MiB, initrd at the top
 *   0xc0000000 ..   0xffffffff  32-bit MMIO hole: virtio-mmio, IOAPIC, LAPIC
 *   0x100000000 ..              RAM above the hole (what did not fit below)
 */
#ifndef VMSPEC_X86_LAYOUT_H
#define VMSPEC_X86_LAYOUT_H

/* ---- Boot structures in low RAM (written by machine/x86/boot.c) ---- */

/* GDT used at the 64-bit entry: null, null, __BOOT_CS (0x10), __BOOT_DS
 * (0x18), as boot.rst "64-bit BOOT PROTOCOL" asks. 4 entries x 8 bytes. */
#define X86_BOOT_GDT_ADDR           0x500ULL
/* Top of the initial stack handed to the kernel in RSP: one page of its
 * own, 0x8000..0x8fff (the decompressor switches to its own stack early). */
#define X86_BOOT_STACK_TOP          0x8ff0ULL
/* The zero page (struct boot_params, 4 KiB, 0x7000..0x7fff) passed in RSI. */
#define X86_ZERO_PAGE_ADDR          0x7000ULL
/* Identity page tables for the first 4 GiB: PML4, one PDPT, four page
 * directories of 2 MiB pages (one per GiB). 6 pages, 0x9000..0xefff. */
#define X86_BOOT_PML4_ADDR          0x9000ULL
#define X86_BOOT_PDPT_ADDR          0xa000ULL
#define X86_BOOT_PD_ADDR            0xb000ULL
#define X86_BOOT_PD_COUNT           4
/* Kernel command line (NUL-terminated); the area is 64 KiB, far above any
 * kernel's cmdline_size. */
#define X86_CMDLINE_ADDR            0x20000ULL
#define X86_CMDLINE_MAX             0x10000ULL

/* ---- Legacy low-memory areas ---- */

/* End of conventional RAM below 640 KiB; the last KiB is the EBDA, where
 * an MP floating pointer may live (Intel MP spec 1.4, 4). */
#define X86_EBDA_START              0x9fc00ULL
/* Start of the legacy VGA/option ROM hole, reserved in e820. */
#define X86_LEGACY_HOLE_START       0xa0000ULL
/* The real-mode reset vector F000:FFF0.  Linux's last reboot methods
 * (BOOT_BIOS, and BOOT_EFI without EFI, its default on hardware-reduced
 * ACPI) jump here; the machine puts a stub that resets via the i8042. */
#define X86_RESET_VECTOR_ADDR       0xffff0ULL
/* ACPI tables: RSDP and all tables are written here (the BIOS read-only
 * area, where the kernel also scans for an RSDP if acpi_rsdp_addr is 0). */
#define X86_ACPI_START              0xe0000ULL
#define X86_ACPI_SIZE               0x20000ULL

/* ---- Kernel and initrd ---- */

/* The protected-mode part of the bzImage is loaded here (boot.rst: "the
 * kernel is loaded at 0x100000"); 64-bit entry is this + 0x200. */
#define X86_KERNEL_LOAD_ADDR        0x100000ULL
/* The initrd never goes above this, whatever initrd_addr_max says: it must
 * sit below the MMIO hole (it is capped again by the RAM end below 4 GiB). */
#define X86_INITRD_CEILING          0xc0000000ULL

/* ---- 32-bit MMIO hole ---- */

/* Guest RAM that does not fit below this moves to 4 GiB. */
#define X86_MMIO_HOLE_START         0xc0000000ULL
/* First byte above the hole: where high RAM starts. */
#define X86_HIGH_RAM_START          0x100000000ULL
/* virtio-mmio device slots: slot i at BASE + i * SIZE, interrupt GSI
 * FIRST_GSI + i (edge-triggered, IOAPIC pins 5.. avoid 0-4 legacy lines). */
#define X86_VIRTIO_MMIO_BASE        0xd0000000ULL
#define X86_VIRTIO_MMIO_SLOT_SIZE   0x1000ULL
#define X86_VIRTIO_MMIO_SLOTS       16
#define X86_VIRTIO_MMIO_FIRST_GSI   5
/* IOAPIC (KVM in-kernel irqchip default base). */
#define X86_IOAPIC_ADDR             0xfec00000ULL
/* Local APIC (architectural default, IA32_APIC_BASE). */
#define X86_LAPIC_ADDR              0xfee00000ULL
/* KVM's private pages for VMX real-mode emulation (api.rst
 * KVM_SET_IDENTITY_MAP_ADDR: one page; KVM_SET_TSS_ADDR: three pages).
 * Inside the hole, away from devices; reserved in e820. */
#define X86_KVM_IDENTITY_MAP_ADDR   0xfeffc000ULL
#define X86_KVM_TSS_ADDR            0xfeffd000ULL
#define X86_KVM_PRIVATE_END         0xff000000ULL

/* ---- I/O ports and legacy IRQs ---- */

/* i8042 keyboard controller: data and command/status ports; the guest
 * resets the machine by writing 0xfe to the command port. */
#define X86_I8042_DATA_PORT         0x60
#define X86_I8042_CMD_PORT          0x64
/* COM1 8250 UART, 8 ports, ISA IRQ 4: the console. */
#define X86_SERIAL0_PORT            0x3f8
#define X86_SERIAL0_PORT_COUNT      8
#define X86_SERIAL0_IRQ             4
/* pvpanic (QEMU's "QEMU0001" device): one byte port. */
#define X86_PVPANIC_PORT            0x505
/* ACPI hardware-reduced sleep control / status registers (FADT
 * SLEEP_CONTROL_REG / SLEEP_STATUS_REG, ACPI 6.4 4.8.3.7), 1 byte each.
 * 0x600/0x601: unused by any legacy PC device. */
#define X86_ACPI_SLEEP_CONTROL_PORT 0x600
#define X86_ACPI_SLEEP_STATUS_PORT  0x601

#endif
