/*
 * arm64 Image loading (see boot.h).  Section numbers are those of
 * Documentation/arch/arm64/booting.rst.
 */
#include "machine/arm64/boot.h"

#include <string.h>
#include <unistd.h>

#include "machine/byteorder/le.h"
#include "machine/kvm/boot-file.h"
#include "machine/qom/error.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define PAGE_SIZE 4096ULL

/* 4. "Call the kernel image": the 64-byte header. */
#define IMAGE_HEADER_SIZE       64
#define IMAGE_TEXT_OFFSET       8
#define IMAGE_SIZE              16
#define IMAGE_FLAGS             24
#define IMAGE_MAGIC_OFFSET      56
#define IMAGE_MAGIC             0x644d5241u     /* "ARM\x64" */
#define IMAGE_FLAG_BE           (1ULL << 0)
/* "The Image must be placed text_offset bytes from a 2MB aligned base". */
#define IMAGE_BASE_ALIGN        (2 * MiB)
/* 5: the initrd "must reside entirely within a 1 GB aligned physical
 * memory window of up to 32 GB in size that fully covers the kernel
 * Image as well"; the kernel sits at the 1 GiB aligned RAM base. */
#define INITRD_WINDOW           (32 * GiB)

bool arm64_image_parse(const uint8_t *head, size_t head_len,
                       uint64_t file_size, Arm64Image *out, GError **errp)
{
    if (head_len >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "the kernel is gzip-compressed (Image.gz): boot.kernel "
                    "must be the uncompressed arm64 Image (gunzip it)");
        return false;
    }
    /* EFI zboot (CONFIG_EFI_ZBOOT): a PE file whose payload is the
     * compressed Image; "zimg" follows the "MZ" stub. */
    if (head_len >= 8 && memcmp(head, "MZ", 2) == 0 &&
        memcmp(head + 4, "zimg", 4) == 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "the kernel is an EFI zboot image: boot.kernel must be "
                    "the uncompressed arm64 Image");
        return false;
    }
    if (head_len < IMAGE_HEADER_SIZE || file_size < IMAGE_HEADER_SIZE) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "not an arm64 Image: %" G_GUINT64_FORMAT " bytes is "
                    "smaller than its header", file_size);
        return false;
    }
    if (le32_load(head + IMAGE_MAGIC_OFFSET) != IMAGE_MAGIC) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "not an arm64 Image: missing the \"ARM\\x64\" magic at "
                    "offset 0x38");
        return false;
    }
    out->text_offset = le64_load(head + IMAGE_TEXT_OFFSET);
    out->image_size = le64_load(head + IMAGE_SIZE);
    out->flags = le64_load(head + IMAGE_FLAGS);
    out->file_size = file_size;
    /* "Where image_size is zero, text_offset can be assumed to be
     * 0x80000" (kernels before 3.17, whose header fields had no defined
     * endianness). */
    if (out->image_size == 0) {
        out->text_offset = 0x80000;
        out->image_size = file_size;
    }
    if (out->flags & IMAGE_FLAG_BE) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "the kernel is a big-endian arm64 Image; vmspec runs "
                    "little-endian guests");
        return false;
    }
    if (out->text_offset >= IMAGE_BASE_ALIGN ||
        out->text_offset % PAGE_SIZE != 0 ||
        out->image_size < file_size || out->image_size > 4 * GiB) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "arm64 Image header is inconsistent: text_offset %#"
                    G_GINT64_MODIFIER "x, image_size %" G_GUINT64_FORMAT
                    " for a file of %" G_GUINT64_FORMAT " bytes",
                    out->text_offset, out->image_size, file_size);
        return false;
    }
    return true;
}

static bool load_kernel(GuestMem *mem, const char *path, uint64_t base,
                        uint64_t ram_end, Arm64BootInfo *info, GError **errp)
{
    uint8_t head[IMAGE_HEADER_SIZE];
    uint64_t size;
    Arm64Image img;
    bool ok = false;
    int fd = boot_file_open(path, &size, errp);

    if (fd < 0) {
        return false;
    }
    if (!boot_file_read(fd, head, MIN(size, sizeof(head)), 0, path, errp)) {
        goto out;
    }
    if (!arm64_image_parse(head, MIN(size, sizeof(head)), size, &img,
                           errp)) {
        g_prefix_error(errp, "%s: ", path);
        goto out;
    }
    info->entry = base + img.text_offset;
    info->kernel_end = info->entry + img.image_size;
    if (info->kernel_end > ram_end) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "kernel %s needs %" G_GUINT64_FORMAT " MiB of RAM; the "
                    "machine has %" G_GUINT64_FORMAT " MiB", path,
                    (img.text_offset + img.image_size) >> 20,
                    (ram_end - base) >> 20);
        goto out;
    }
    ok = boot_file_read(fd, guest_mem_translate(mem, info->entry, size), size,
                        0, path, errp);
out:
    close(fd);
    return ok;
}

/* The initrd goes as high as it may: page-aligned, right below top. */
static bool load_initrd(GuestMem *mem, const char *path, uint64_t top,
                        Arm64BootInfo *info, GError **errp)
{
    uint64_t size, addr;
    bool ok;
    int fd = boot_file_open(path, &size, errp);

    if (fd < 0) {
        return false;
    }
    if (size == 0 || size > top ||
        ((top - size) & ~(PAGE_SIZE - 1)) < info->kernel_end) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "initrd %s (%" G_GUINT64_FORMAT " MiB) does not fit in "
                    "guest RAM between the kernel (ends at %#"
                    G_GINT64_MODIFIER "x) and the device tree (%#"
                    G_GINT64_MODIFIER "x)", path, size >> 20,
                    info->kernel_end, top);
        close(fd);
        return false;
    }
    addr = (top - size) & ~(PAGE_SIZE - 1);
    ok = boot_file_read(fd, guest_mem_translate(mem, addr, size), size, 0,
                        path, errp);
    close(fd);
    info->initrd_start = addr;
    info->initrd_end = addr + size;
    return ok;
}

bool arm64_boot_load(GuestMem *mem, const Arm64BootConfig *cfg,
                     Arm64BootInfo *info, GError **errp)
{
    const GuestMemRegion *ram = guest_mem_region(mem, 0);
    uint64_t base = ram->gpa, ram_end = ram->gpa + ram->size;
    uint64_t top;

    g_assert(base % IMAGE_BASE_ALIGN == 0);
    *info = (Arm64BootInfo){ 0 };
    if (!load_kernel(mem, cfg->kernel, base, ram_end, info, errp)) {
        return false;
    }
    /* The device tree gets the highest whole 2 MiB block the initrd
     * window reaches: 2 MiB is its size limit, and the kernel maps it
     * with blocks of up to 2 MiB (4). */
    top = MIN(ram_end, base + INITRD_WINDOW) & ~(ARM64_DTB_MAX_SIZE - 1);
    if (top < info->kernel_end + ARM64_DTB_MAX_SIZE) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "guest RAM of %" G_GUINT64_FORMAT " MiB has no room for "
                    "the device tree after the kernel %s", ram->size >> 20,
                    cfg->kernel);
        return false;
    }
    info->dtb_addr = top - ARM64_DTB_MAX_SIZE;
    if (cfg->initrd &&
        !load_initrd(mem, cfg->initrd, info->dtb_addr, info, errp)) {
        return false;
    }
    return true;
}
