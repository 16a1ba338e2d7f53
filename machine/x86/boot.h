/*
 * Linux x86 boot protocol (Documentation/arch/x86/boot.rst, "boot.rst"):
 * bzImage checks, loading into guest RAM, the zero page (boot_params),
 * e820 map, command line, initrd, and the 64-bit entry state.
 */
#ifndef VMSPEC_X86_BOOT_H
#define VMSPEC_X86_BOOT_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "machine/kvm/guest-mem.h"

/* Oldest boot protocol vmspec loads: 2.12 added xloadflags, whose
 * XLF_KERNEL_64 says the 64-bit entry point exists. */
#define X86_BOOT_MIN_PROTOCOL 0x020c

/* What vmspec reads from a bzImage's setup header. */
typedef struct X86BzImage {
    uint16_t version;           /* boot protocol, e.g. 0x020f */
    uint64_t setup_size;        /* (setup_sects + 1) * 512 */
    uint64_t kernel_size;       /* protected-mode part: file - setup */
    uint32_t init_size;         /* RAM needed at the run address */
    uint64_t pref_address;      /* where the kernel runs (decompresses) */
    uint32_t kernel_alignment;
    bool relocatable;
    uint32_t cmdline_size;      /* max cmdline length, without the NUL */
    uint32_t initrd_addr_max;   /* highest byte the initrd may occupy */
    uint16_t xloadflags;
    uint64_t payload_offset;    /* compressed vmlinux, from the start of */
    uint64_t payload_length;    /*   the protected-mode part (2.08+) */
    size_t header_len;          /* bytes of setup header at 0x1f1 */
    uint8_t header[0x80];       /* raw setup header bytes from 0x1f1 */
} X86BzImage;

/*
 * Checks the first head_len bytes of a file of file_size bytes as a
 * bzImage and fills *out.  Errors (VMSPEC_ERROR_INVALID) name the
 * problem: "file too small", "not a bzImage: missing HdrS magic", an old
 * protocol, no 64-bit entry, a truncated kernel.  Any thread; pure.
 */
bool x86_bzimage_parse(const uint8_t *head, size_t head_len,
                       uint64_t file_size, X86BzImage *out, GError **errp);

typedef struct X86BootConfig {
    const char *kernel;         /* bzImage path */
    const char *initrd;         /* NULL: none */
    const char *cmdline;        /* NULL: empty */
    /* The machine's own arguments, put in front of cmdline; left out
     * when cmdline would not fit with them (cmdline's own length is what
     * is checked).  NULL: none. */
    const char *cmdline_prefix;
    uint64_t acpi_start;        /* ACPI tables area (e820 type 3); size 0: */
    uint64_t acpi_size;         /*   none.  Must lie in 0x9fc00..1 MiB. */
    uint64_t rsdp_addr;         /* boot_params.acpi_rsdp_addr; 0: none */
    /* Run the bzImage's own decompressor in the guest instead
     * of entering the kernel proper, decoded on the host (vmlinux.h). */
    bool guest_decompress;
    const char *cache_dir;      /* boot cache; NULL: none */
} X86BootConfig;

/* Where things went; input to x86_boot_set_entry_regs(). */
typedef struct X86BootInfo {
    uint16_t protocol;          /* kernel's boot protocol version */
    uint64_t entry;             /* 64-bit entry: the bzImage's (load
                                 * address + 0x200) or vmlinux's */
    bool host_decompressed;     /* entry is the kernel proper's */
    bool kaslr;                 /* its virtual base was randomized */
    uint64_t kernel_start;      /* host-decoded: its physical start */
    uint64_t kernel_text;       /*   and _text's virtual address */
    uint64_t zero_page;         /* passed in RSI */
    uint64_t stack;             /* RSP */
    uint64_t cr3;               /* identity page tables */
    uint64_t gdt;               /* GDT base (4 entries) */
    uint64_t kernel_end;        /* end of what the kernel may use */
    uint64_t initrd_addr;       /* 0 when no initrd */
    uint64_t initrd_size;
} X86BootInfo;

/*
 * Loads cfg->kernel (and cfg->initrd) into mem, writes the command line,
 * the zero page with its e820 map, the page tables and the GDT, and fills
 * *info.  An XZ payload is decoded on the host (through the boot cache)
 * and, unless the command line says "nokaslr", moved to a random virtual
 * base (kaslr.h), unless cfg->guest_decompress; other payloads, and that
 * case, load the bzImage at 1 MiB for its own decompressor.  Errors name
 * the file.
 * Main thread, before vCPUs run.
 */
bool x86_boot_load(GuestMem *mem, const X86BootConfig *cfg,
                   X86BootInfo *info, GError **errp);

/* Writes only the identity page tables (first 4 GiB) and the boot GDT at
 * their layout.h addresses (x86_boot_load() does this too).  For small
 * test payloads that enter 64-bit mode without a kernel.  Main thread. */
bool x86_boot_write_tables(GuestMem *mem, GError **errp);

/*
 * The entry state of boot.rst "64-bit BOOT PROTOCOL" in *regs and *sregs.
 * sregs must hold the vCPU's current special registers (KVM_GET_SREGS) so
 * that what is not set here (TR, LDT, APIC base) keeps KVM's reset value.
 * Pure.
 */
void x86_boot_entry_regs(const X86BootInfo *info, struct kvm_regs *regs,
                         struct kvm_sregs *sregs);

#endif
