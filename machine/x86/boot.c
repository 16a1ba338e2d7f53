/*
 * Linux x86 boot protocol loader: bzImage -> guest RAM, zero page, e820,
 * command line, initrd (the 64-bit entry state is in boot-entry.c).  "boot.rst" is Documentation/arch/x86/boot.rst; "zero-page.rst"
 * is Documentation/arch/x86/zero-page.rst.
 */
#include "machine/x86/boot.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <asm/bootparam.h>
#include <asm/e820.h>

#include "machine/byteorder/le.h"
#include "machine/kvm/boot-file.h"
#include "machine/qom/error.h"
#include "machine/x86/kaslr.h"
#include "machine/x86/layout.h"
#include "machine/x86/vmlinux.h"

/* boot.rst "THE REAL-MODE KERNEL HEADER": offsets in the file. */
#define HDR_OFFSET          0x1f1   /* struct setup_header starts here */
#define HDR_JUMP_OFFSET     0x201   /* end of header = 0x202 + this byte */
#define HDR_MAGIC           0x53726448  /* "HdrS" at 0x202 */
#define BOOT_FLAG           0xaa55      /* at 0x1fe */
#define MIN_FILE_SIZE       1024    /* boot sector + at least one sector */
#define TYPE_OF_LOADER_UNDEFINED 0xff   /* boot.rst: "0xFF no ID assigned" */

#define PAGE_SIZE           4096ULL
#define MiB                 ((uint64_t)1 << 20)

/* Offset of a setup_header field in the file (= in boot_params). */
#define HDR_FIELD(f) (HDR_OFFSET + offsetof(struct setup_header, f))

bool x86_bzimage_parse(const uint8_t *head, size_t head_len,
                       uint64_t file_size, X86BzImage *out, GError **errp)
{
    uint32_t setup_sects;
    uint64_t syssize;
    size_t hdr_end;

    memset(out, 0, sizeof(*out));
    if (file_size < MIN_FILE_SIZE || head_len < MIN_FILE_SIZE) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "file too small to be a bzImage (%" G_GUINT64_FORMAT
                    " bytes)", file_size);
        return false;
    }
    if (le32_load(head + HDR_FIELD(header)) != HDR_MAGIC) {
        g_set_error_literal(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                            "not a bzImage: missing HdrS magic");
        return false;
    }
    if (le16_load(head + HDR_FIELD(boot_flag)) != BOOT_FLAG) {
        g_set_error_literal(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                            "not a bzImage: missing 0xAA55 boot flag");
        return false;
    }
    out->version = le16_load(head + HDR_FIELD(version));
    if (out->version < X86_BOOT_MIN_PROTOCOL) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "kernel uses boot protocol %u.%02u; vmspec needs %u.%02u "
                    "or later (Linux 3.8+)", out->version >> 8,
                    out->version & 0xff, X86_BOOT_MIN_PROTOCOL >> 8,
                    X86_BOOT_MIN_PROTOCOL & 0xff);
        return false;
    }
    if (!(head[HDR_FIELD(loadflags)] & LOADED_HIGH)) {
        g_set_error_literal(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                            "not a bzImage: a zImage (not LOADED_HIGH)");
        return false;
    }
    out->xloadflags = le16_load(head + HDR_FIELD(xloadflags));
    if (!(out->xloadflags & XLF_KERNEL_64)) {
        g_set_error_literal(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                            "kernel has no 64-bit entry point (XLF_KERNEL_64 "
                            "not set): not an x86_64 kernel");
        return false;
    }

    /* boot.rst: "If this field is 0, the real value is 4." */
    setup_sects = head[HDR_FIELD(setup_sects)];
    if (setup_sects == 0) {
        setup_sects = 4;
    }
    out->setup_size = (uint64_t)(setup_sects + 1) * 512;
    if (out->setup_size >= file_size) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "bzImage truncated: %" G_GUINT64_FORMAT " bytes, setup "
                    "alone is %" G_GUINT64_FORMAT, file_size,
                    out->setup_size);
        return false;
    }
    out->kernel_size = file_size - out->setup_size;
    /* syssize: protected-mode code size in 16-byte paragraphs. */
    syssize = (uint64_t)le32_load(head + HDR_FIELD(syssize)) * 16;
    if (syssize > out->kernel_size) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "bzImage truncated: header says %" G_GUINT64_FORMAT
                    " bytes of kernel, file has %" G_GUINT64_FORMAT,
                    syssize, out->kernel_size);
        return false;
    }

    out->init_size = le32_load(head + HDR_FIELD(init_size));
    out->pref_address = le64_load(head + HDR_FIELD(pref_address));
    out->kernel_alignment = le32_load(head + HDR_FIELD(kernel_alignment));
    out->relocatable = head[HDR_FIELD(relocatable_kernel)] != 0;
    out->cmdline_size = le32_load(head + HDR_FIELD(cmdline_size));
    out->initrd_addr_max = le32_load(head + HDR_FIELD(initrd_addr_max));
    out->payload_offset = le32_load(head + HDR_FIELD(payload_offset));
    out->payload_length = le32_load(head + HDR_FIELD(payload_length));
    if (out->payload_offset > out->kernel_size ||
        out->payload_length > out->kernel_size - out->payload_offset) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "bzImage truncated: payload at %" G_GUINT64_FORMAT "+%"
                    G_GUINT64_FORMAT " past the end of its %" G_GUINT64_FORMAT
                    " bytes of kernel", out->payload_offset,
                    out->payload_length, out->kernel_size);
        return false;
    }

    /* boot.rst "DETAILS OF HEADER FIELDS": the header ends at 0x202 plus
     * the byte at 0x201 (the jump offset); copy no more than we know. */
    hdr_end = 0x202 + (size_t)head[HDR_JUMP_OFFSET];
    hdr_end = MIN(hdr_end, HDR_OFFSET + sizeof(struct setup_header));
    out->header_len = hdr_end - HDR_OFFSET;
    g_assert(out->header_len <= sizeof(out->header));
    memcpy(out->header, head + HDR_OFFSET, out->header_len);
    return true;
}

static void e820_add(struct boot_params *bp, uint64_t addr, uint64_t size,
                     uint32_t type)
{
    g_assert(bp->e820_entries < E820_MAX_ENTRIES_ZEROPAGE);
    if (size == 0) {
        return;
    }
    bp->e820_table[bp->e820_entries++] = (struct boot_e820_entry){
        .addr = addr, .size = size, .type = type,
    };
}

/* zero-page.rst e820_table: the map the kernel trusts for RAM. */
static bool build_e820(struct boot_params *bp, GuestMem *mem,
                       const X86BootConfig *cfg, GError **errp)
{
    uint64_t low_end = guest_mem_low_end(mem);
    uint64_t acpi_end = cfg->acpi_start + cfg->acpi_size;

    if (cfg->acpi_size && (cfg->acpi_start < X86_EBDA_START ||
                           acpi_end > X86_KERNEL_LOAD_ADDR ||
                           acpi_end < cfg->acpi_start)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "ACPI area 0x%" G_GINT64_MODIFIER "x+0x%"
                    G_GINT64_MODIFIER "x is outside 0x9fc00..0x100000",
                    cfg->acpi_start, cfg->acpi_size);
        return false;
    }
    e820_add(bp, 0, X86_EBDA_START, E820_RAM);
    if (cfg->acpi_size) {
        e820_add(bp, X86_EBDA_START, cfg->acpi_start - X86_EBDA_START,
                 E820_RESERVED);
        e820_add(bp, cfg->acpi_start, cfg->acpi_size, E820_ACPI);
        e820_add(bp, acpi_end, X86_KERNEL_LOAD_ADDR - acpi_end,
                 E820_RESERVED);
    } else {
        e820_add(bp, X86_EBDA_START, X86_KERNEL_LOAD_ADDR - X86_EBDA_START,
                 E820_RESERVED);
    }
    e820_add(bp, X86_KERNEL_LOAD_ADDR, low_end - X86_KERNEL_LOAD_ADDR,
             E820_RAM);
    e820_add(bp, X86_KVM_IDENTITY_MAP_ADDR,
             X86_KVM_PRIVATE_END - X86_KVM_IDENTITY_MAP_ADDR, E820_RESERVED);
    if (guest_mem_region_count(mem) > 1) {
        const GuestMemRegion *hi = guest_mem_region(mem, 1);

        e820_add(bp, hi->gpa, hi->size, E820_RAM);
    }
    return true;
}

/* The end of where the initrd may go: initrd_addr_max (the highest byte
 * it may occupy), the end of RAM under the hole, the layout's ceiling. */
static uint64_t initrd_top(GuestMem *mem, const X86BzImage *bz)
{
    uint64_t top = MIN((uint64_t)bz->initrd_addr_max + 1,
                       guest_mem_low_end(mem));

    return MIN(top, (uint64_t)X86_INITRD_CEILING);
}

/* Where the initrd goes: as high as it may, page-aligned; 0 when it cannot
 * fit at all. */
static uint64_t initrd_place(GuestMem *mem, const X86BzImage *bz,
                             uint64_t size)
{
    uint64_t top = initrd_top(mem, bz);

    return size == 0 || size > top ? 0 : (top - size) & ~(PAGE_SIZE - 1);
}

/* Reads the initrd (open as fd, size bytes) to addr, its initrd_place(),
 * which must lie above everything the kernel uses. */
static bool load_initrd(GuestMem *mem, const X86BzImage *bz,
                        const char *path, int fd, uint64_t size,
                        uint64_t addr, X86BootInfo *info, GError **errp)
{
    if (addr == 0 || addr < info->kernel_end) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "initrd %s (%" G_GUINT64_FORMAT " MiB) does not fit in "
                    "guest RAM between the kernel (ends at %" G_GUINT64_FORMAT
                    " MiB) and %" G_GUINT64_FORMAT " MiB", path, size >> 20,
                    info->kernel_end >> 20, initrd_top(mem, bz) >> 20);
        return false;
    }
    info->initrd_addr = addr;
    info->initrd_size = size;
    return boot_file_read(fd, guest_mem_translate(mem, addr, size), size, 0,
                          path, errp);
}

/*
 * KASLR for the host-decoded kernel, as its decompressor would have done
 * (kaslr.h, and arch/x86/boot/compressed/kaslr.c choose_random_location()):
 * a random physical place for it, chosen before it is loaded, and a random
 * virtual offset, applied through its relocation table once it is.  Off
 * for a kernel that is not relocatable and with "nokaslr".
 */
typedef struct KaslrChoice {
    bool on;
    uint64_t virtual_random;    /* for x86_kaslr_pick_offset() */
    uint64_t physical_shift;    /* added to the link-time address */
} KaslrChoice;

/* limit: where the RAM the kernel may use ends (the initrd's place). */
static bool kaslr_choose(const X86BzImage *bz, const char *cmdline,
                         uint64_t limit, KaslrChoice *c, GError **errp)
{
    uint64_t random[2];
    ssize_t n;

    memset(c, 0, sizeof(*c));
    if (!bz->relocatable || x86_kaslr_disabled(cmdline)) {
        return true;
    }
    do {
        n = getrandom(random, sizeof(random), 0);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(random)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "getrandom for the kernel's KASLR offsets: %s",
                    n < 0 ? g_strerror(errno) : "short read");
        return false;
    }
    c->on = true;
    c->virtual_random = random[0];
    /* init_size: what the kernel needs at its run address (boot.rst). */
    if (bz->pref_address % X86_KASLR_ALIGN == 0) {
        c->physical_shift = x86_kaslr_pick_offset(bz->pref_address,
                                                  bz->init_size, limit,
                                                  random[1]);
    }
    return true;
}

/* The virtual half, on the kernel as loaded (moved by c->physical_shift):
 * *offset gets the virtual offset applied, and info->kaslr is set so that
 * the zero page says so.  A kernel without a relocation table (no
 * CONFIG_RANDOMIZE_BASE), or with one that does not fit its image (a
 * damaged cache entry: x86_kaslr_relocate() then changes nothing), keeps
 * its virtual base (*offset 0). */
static bool kaslr_relocate(GuestMem *mem, const X86Vmlinux *vm,
                           const X86BzImage *bz, const KaslrChoice *c,
                           uint64_t *offset, X86BootInfo *info,
                           GError **errp)
{
    uint64_t size = vm->end - vm->start;
    uint64_t link = vm->start - c->physical_shift;
    uint8_t *image;

    *offset = 0;
    if (!c->on || !vm->relocs) {
        return true;
    }
    /* The decompressor keeps room for init_size (its needed_size). */
    *offset = x86_kaslr_pick_offset(link, MAX(size, bz->init_size),
                                    X86_KASLR_WINDOW, c->virtual_random);
    image = guest_mem_translate(mem, vm->start, size);
    if (!image) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "the kernel image is not inside guest RAM");
        return false;
    }
    if (!x86_kaslr_relocate(image, link, size, vm->relocs, vm->relocs_len,
                            *offset)) {
        *offset = 0;
        return true;
    }
    info->kaslr = true;
    return true;
}

/*
 * Puts the kernel into guest RAM and sets info->entry and kernel_end.
 * An XZ payload (Debian's) goes in as the kernel proper, decoded on the
 * host (vmlinux.h), at a random physical place below limit and with a
 * random virtual base (kaslr_choose(), kaslr_relocate()); anything else,
 * or cfg->guest_decompress, as the bzImage's protected-mode part for its
 * own decompressor (boot.rst "LOADING THE REST OF THE KERNEL": at 1 MiB).
 */
static bool load_kernel(GuestMem *mem, const X86BootConfig *cfg, int fd,
                        const struct stat *st, const uint8_t *head,
                        size_t head_len, const X86BzImage *bz,
                        const char *cmdline, uint64_t limit,
                        X86BootInfo *info, GError **errp)
{
    uint8_t magic[8] = { 0 };
    X86Payload payload = {
        .fd = fd,
        .path = cfg->kernel,
        .offset = bz->setup_size + bz->payload_offset,
        .length = bz->payload_length,
        /* Below 1 MiB are the boot structures and the ACPI tables. */
        .min_addr = X86_KERNEL_LOAD_ADDR,
        .limit = limit,
    };

    if (!cfg->guest_decompress &&
        !boot_file_read(fd, magic, MIN(sizeof(magic), payload.length),
                        payload.offset, cfg->kernel, errp)) {
        return false;
    }
    if (!cfg->guest_decompress &&
        x86_vmlinux_payload_known(magic, MIN(sizeof(magic), payload.length))) {
        BootCacheKey key;
        KaslrChoice kaslr;
        X86Vmlinux vm;
        uint64_t offset;
        bool ok;

        boot_cache_key(st, head, head_len, &key);
        if (!kaslr_choose(bz, cmdline, limit, &kaslr, errp)) {
            return false;
        }
        payload.shift = kaslr.physical_shift;
        if (!x86_vmlinux_load(mem, &payload, cfg->cache_dir, &key, &vm,
                              errp)) {
            return false;
        }
        ok = kaslr_relocate(mem, &vm, bz, &kaslr, &offset, info, errp);
        info->kernel_start = vm.start;
        info->kernel_text = X86_START_KERNEL_MAP + vm.start -
                            kaslr.physical_shift + offset;
        info->entry = vm.entry;
        info->kernel_end = MAX(vm.end, vm.start + bz->init_size);
        info->host_decompressed = true;
        x86_vmlinux_clear(&vm);
        return ok;
    }
    info->entry = X86_KERNEL_LOAD_ADDR + 0x200;
    info->kernel_end = X86_KERNEL_LOAD_ADDR + bz->kernel_size;
    return boot_file_read(fd, guest_mem_translate(mem, X86_KERNEL_LOAD_ADDR,
                                                  bz->kernel_size),
                          bz->kernel_size, bz->setup_size, cfg->kernel, errp);
}

bool x86_boot_load(GuestMem *mem, const X86BootConfig *cfg,
                   X86BootInfo *info, GError **errp)
{
    g_autofree struct boot_params *bp = g_new0(struct boot_params, 1);
    const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
    size_t cmdline_len = strlen(cmdline), cmdline_max;
    g_autofree char *prefixed = NULL;
    uint8_t head[0x1000];
    uint64_t file_size, run_addr, need, kernel_limit;
    uint64_t initrd_size = 0, initrd_addr = 0;
    struct stat st;
    X86BzImage bz;
    bool ok = false;
    int fd, initrd_fd = -1;

    memset(info, 0, sizeof(*info));
    fd = boot_file_open_stat(cfg->kernel, &st, errp);
    if (fd < 0) {
        return false;
    }
    file_size = (uint64_t)st.st_size;
    if (!boot_file_read(fd, head, MIN(file_size, sizeof(head)), 0,
                        cfg->kernel, errp)) {
        goto out;
    }
    if (!x86_bzimage_parse(head, MIN(file_size, sizeof(head)), file_size,
                           &bz, errp)) {
        g_prefix_error(errp, "%s: ", cfg->kernel);
        goto out;
    }

    /*
     * The decompressor runs the kernel at pref_address (boot.rst
     * pref_address: a non-relocatable kernel "will unconditionally move
     * itself"; a relocatable one loaded below it moves up to it, see
     * arch/x86/boot/compressed/head_64.S) and needs init_size bytes there.
     */
    run_addr = MAX(bz.pref_address, X86_KERNEL_LOAD_ADDR);
    need = MAX(X86_KERNEL_LOAD_ADDR + bz.kernel_size,
               run_addr + bz.init_size);
    if (need > guest_mem_low_end(mem)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "%s needs %" G_GUINT64_FORMAT " MiB of guest RAM below "
                    "the MMIO hole; the guest has %" G_GUINT64_FORMAT " MiB",
                    cfg->kernel, (need + MiB - 1) >> 20,
                    guest_mem_low_end(mem) >> 20);
        goto out;
    }
    cmdline_max = MIN(bz.cmdline_size, (uint32_t)X86_CMDLINE_MAX - 1);
    if (cmdline_len > cmdline_max) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "kernel command line is %zu bytes; this kernel accepts "
                    "at most %zu", cmdline_len, cmdline_max);
        goto out;
    }
    if (cfg->cmdline_prefix) {
        prefixed = *cmdline ? g_strjoin(" ", cfg->cmdline_prefix, cmdline,
                                        NULL)
                            : g_strdup(cfg->cmdline_prefix);
        if (strlen(prefixed) <= cmdline_max) {
            cmdline = prefixed;
            cmdline_len = strlen(prefixed);
        }
    }
    /* The initrd's size first: the kernel's random place must end
     * below the initrd's. */
    kernel_limit = guest_mem_low_end(mem);
    if (cfg->initrd) {
        initrd_fd = boot_file_open(cfg->initrd, &initrd_size, errp);
        if (initrd_fd < 0) {
            goto out;
        }
        initrd_addr = initrd_place(mem, &bz, initrd_size);
        if (initrd_addr) {
            kernel_limit = initrd_addr;
        }
    }
    if (!load_kernel(mem, cfg, fd, &st, head, MIN(file_size, sizeof(head)),
                     &bz, cmdline, kernel_limit, info, errp)) {
        goto out;
    }
    info->protocol = bz.version;
    info->zero_page = X86_ZERO_PAGE_ADDR;
    info->stack = X86_BOOT_STACK_TOP;
    info->cr3 = X86_BOOT_PML4_ADDR;
    info->gdt = X86_BOOT_GDT_ADDR;
    info->kernel_end = MAX(info->kernel_end, need);

    if (cfg->initrd && !load_initrd(mem, &bz, cfg->initrd, initrd_fd,
                                    initrd_size, initrd_addr, info, errp)) {
        goto out;
    }

    /* boot.rst 64-bit protocol: "the kernel's setup header is read from
     * the file into the zero page at offset 0x1f1; the rest is zeroed". */
    memcpy((uint8_t *)bp + HDR_OFFSET, bz.header, bz.header_len);
    bp->hdr.type_of_loader = TYPE_OF_LOADER_UNDEFINED;
    if (info->kaslr) {
        bp->hdr.loadflags |= X86_LOADFLAG_KASLR;
    }
    bp->hdr.vid_mode = 0xffff;              /* "normal" */
    bp->hdr.code32_start = X86_KERNEL_LOAD_ADDR;
    bp->hdr.cmd_line_ptr = (uint32_t)X86_CMDLINE_ADDR;
    bp->ext_cmd_line_ptr = (uint32_t)(X86_CMDLINE_ADDR >> 32);
    bp->hdr.ramdisk_image = (uint32_t)info->initrd_addr;
    bp->hdr.ramdisk_size = (uint32_t)info->initrd_size;
    bp->ext_ramdisk_image = (uint32_t)(info->initrd_addr >> 32);
    bp->ext_ramdisk_size = (uint32_t)(info->initrd_size >> 32);
    /* zero-page.rst 0x070 acpi_rsdp_addr (the setup-header field of
     * protocol 2.14 was withdrawn; this one is read by Linux 5.0+). */
    bp->acpi_rsdp_addr = cfg->rsdp_addr;
    if (!build_e820(bp, mem, cfg, errp)) {
        goto out;
    }
    ok = guest_mem_write(mem, X86_CMDLINE_ADDR, cmdline, cmdline_len + 1,
                         errp) &&
         guest_mem_write(mem, X86_ZERO_PAGE_ADDR, bp, sizeof(*bp), errp) &&
         x86_boot_write_tables(mem, errp);
out:
    if (initrd_fd >= 0) {
        close(initrd_fd);
    }
    close(fd);
    return ok;
}
