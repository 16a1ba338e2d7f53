/*
 * Linux arm64 boot protocol (Documentation/arch/arm64/booting.rst,
 * "booting.rst"): the Image header, where the kernel, initrd and device
 * tree go in RAM, and what the boot CPU's registers must hold.
 */
#ifndef VMSPEC_ARM64_BOOT_H
#define VMSPEC_ARM64_BOOT_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "machine/kvm/guest-mem.h"

/* booting.rst 4: "The device tree blob (dtb) must be placed on an 8-byte
 * boundary and must not exceed 2 megabytes in size." */
#define ARM64_DTB_MAX_SIZE      (2ULL << 20)

/* What vmspec reads from the 64-byte Image header (booting.rst 4). */
typedef struct Arm64Image {
    uint64_t text_offset;       /* load offset from a 2 MiB aligned base */
    uint64_t image_size;        /* bytes the kernel uses from there */
    uint64_t flags;
    uint64_t file_size;
} Arm64Image;

/*
 * Checks the first head_len bytes of a file of file_size bytes as an arm64
 * Image and fills *out.  Errors (VMSPEC_ERROR_INVALID) name the problem:
 * too small, a compressed kernel (gzip, EFI zboot) with the way out, not
 * an arm64 Image (no "ARM\x64" magic), big-endian.  Pure.
 */
bool arm64_image_parse(const uint8_t *head, size_t head_len,
                       uint64_t file_size, Arm64Image *out, GError **errp);

typedef struct Arm64BootConfig {
    const char *kernel;         /* Image path */
    const char *initrd;         /* NULL: none */
} Arm64BootConfig;

/* Where things went. */
typedef struct Arm64BootInfo {
    uint64_t entry;             /* PC of the boot CPU: the Image's start */
    uint64_t kernel_end;        /* end of what the kernel may use */
    uint64_t initrd_start;      /* 0 when no initrd */
    uint64_t initrd_end;
    uint64_t dtb_addr;          /* where the device tree goes (x0) */
} Arm64BootInfo;

/*
 * Loads cfg->kernel at the start of mem's RAM (its one region, 2 MiB
 * aligned) + text_offset, cfg->initrd page-aligned below the device tree,
 * which gets the top 2 MiB-aligned 2 MiB of RAM.  Fills *info.  Errors
 * name the file and, when things do not fit, the sizes.  Main thread.
 */
bool arm64_boot_load(GuestMem *mem, const Arm64BootConfig *cfg,
                     Arm64BootInfo *info, GError **errp);

#endif
