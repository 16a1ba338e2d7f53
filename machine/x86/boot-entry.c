/*
 * The 64-bit entry state of the Linux x86 boot protocol (boot.rst is
 * Documentation/arch/x86/boot.rst, "64-bit BOOT PROTOCOL"): identity page
 * tables, a flat GDT, and the registers the kernel expects at its 64-bit
 * entry.  The loading itself is in boot.c.
 */
#include "machine/x86/boot.h"

#include <string.h>

#include "machine/x86/layout.h"

#define PAGE_SIZE           4096ULL

/* x86 page-table entry bits (SDM Vol. 3A, 4.5). */
#define PTE_PRESENT         (1ULL << 0)
#define PTE_WRITE           (1ULL << 1)
#define PTE_PS              (1ULL << 7)     /* 2 MiB page in a PDE */

/* Control register and EFER bits (SDM Vol. 3A, 2.5 and 2.2.1). */
#define CR0_PE              (1ULL << 0)
#define CR0_ET              (1ULL << 4)
#define CR0_NE              (1ULL << 5)
#define CR0_PG              (1ULL << 31)
#define CR4_PAE             (1ULL << 5)
#define EFER_LME            (1ULL << 8)
#define EFER_LMA            (1ULL << 10)

/* boot.rst "64-bit BOOT PROTOCOL": __BOOT_CS is 0x10, __BOOT_DS 0x18. */
#define BOOT_CS             0x10
#define BOOT_DS             0x18
#define GDT_ENTRIES         4

/* Identity map of the first 4 GiB with 2 MiB pages (boot.rst 64-bit
 * protocol: "the range with setup_header.init_size from start address of
 * loaded kernel and zero page and command line buffer get ident mapping"). */
static bool write_page_tables(GuestMem *mem, GError **errp)
{
    uint64_t pml4[512] = { X86_BOOT_PDPT_ADDR | PTE_PRESENT | PTE_WRITE };
    uint64_t pdpt[512] = { 0 };
    uint64_t pd[512];

    for (unsigned i = 0; i < X86_BOOT_PD_COUNT; i++) {
        pdpt[i] = (X86_BOOT_PD_ADDR + i * PAGE_SIZE) | PTE_PRESENT | PTE_WRITE;
        for (unsigned j = 0; j < 512; j++) {
            pd[j] = ((uint64_t)i << 30 | (uint64_t)j << 21) |
                    PTE_PRESENT | PTE_WRITE | PTE_PS;
        }
        if (!guest_mem_write(mem, X86_BOOT_PD_ADDR + i * PAGE_SIZE, pd,
                             sizeof(pd), errp)) {
            return false;
        }
    }
    return guest_mem_write(mem, X86_BOOT_PML4_ADDR, pml4, sizeof(pml4),
                           errp) &&
           guest_mem_write(mem, X86_BOOT_PDPT_ADDR, pdpt, sizeof(pdpt), errp);
}

/* Flat GDT: null, null, 64-bit code (__BOOT_CS), data (__BOOT_DS).
 * Descriptor format: SDM Vol. 3A, 3.4.5. */
static bool write_gdt(GuestMem *mem, GError **errp)
{
    const uint64_t gdt[GDT_ENTRIES] = {
        0,
        0,
        0x00af9b000000ffffULL,  /* G=1 L=1 P=1 DPL=0 S=1 type=0xb (code) */
        0x00cf93000000ffffULL,  /* G=1 D/B=1 P=1 DPL=0 S=1 type=3 (data) */
    };

    return guest_mem_write(mem, X86_BOOT_GDT_ADDR, gdt, sizeof(gdt), errp);
}

bool x86_boot_write_tables(GuestMem *mem, GError **errp)
{
    return write_page_tables(mem, errp) && write_gdt(mem, errp);
}

static void flat_segment(struct kvm_segment *seg, uint16_t sel, bool code)
{
    *seg = (struct kvm_segment){
        .base = 0,
        .limit = 0xffffffff,
        .selector = sel,
        .type = code ? 0xb : 0x3,   /* exec/read/accessed, read/write/acc. */
        .present = 1,
        .dpl = 0,
        .db = code ? 0 : 1,         /* L=1 requires D=0 for code */
        .s = 1,
        .l = code ? 1 : 0,
        .g = 1,
    };
}

void x86_boot_entry_regs(const X86BootInfo *info, struct kvm_regs *regs,
                         struct kvm_sregs *sregs)
{
    /*
     * boot.rst "64-bit BOOT PROTOCOL": "the CPU must be in 64-bit mode with
     * paging enabled; the range with setup_header.init_size from start
     * address of loaded kernel and zero page and command line buffer get
     * ident mapping; a GDT must be loaded with the descriptors for selectors
     * __BOOT_CS(0x10) and __BOOT_DS(0x18) ... CS must be __BOOT_CS and DS,
     * ES, SS must be __BOOT_DS; interrupt must be disabled; %rsi must hold
     * the base address of the struct boot_params."
     */
    flat_segment(&sregs->cs, BOOT_CS, true);
    flat_segment(&sregs->ds, BOOT_DS, false);
    flat_segment(&sregs->es, BOOT_DS, false);
    flat_segment(&sregs->fs, BOOT_DS, false);
    flat_segment(&sregs->gs, BOOT_DS, false);
    flat_segment(&sregs->ss, BOOT_DS, false);
    sregs->gdt.base = info->gdt;
    sregs->gdt.limit = GDT_ENTRIES * 8 - 1;
    /* No IDT: interrupts are off and the kernel loads its own early. */
    sregs->idt.base = 0;
    sregs->idt.limit = 0;
    sregs->cr3 = info->cr3;
    sregs->cr4 = CR4_PAE;
    /* PE+PG for long mode; ET is hardwired to 1; NE selects native x87
     * error reporting, which Linux requires (it sets it later anyway). */
    sregs->cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
    sregs->efer = EFER_LME | EFER_LMA;

    memset(regs, 0, sizeof(*regs));
    regs->rflags = 0x2;         /* bit 1 reserved-one; IF = 0 */
    regs->rip = info->entry;
    regs->rsi = info->zero_page;
    regs->rsp = info->stack;
    regs->rbp = info->stack;
}
