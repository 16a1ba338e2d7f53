/*
 * libFuzzer target for the relocation table of a host-decoded kernel
 * (machine/x86/kaslr.c): the table comes from the bzImage, so from
 * whoever made the kernel file.  The input is an 8-byte header (the
 * image's size, the offset) and the table; it is checked and applied to a
 * zeroed image of that size at the link address.  Any write outside the
 * image, hang or sanitizer report is a bug, and so is a table that
 * x86_relocs_valid() accepts but x86_kaslr_relocate() refuses.
 *
 * Header (little-endian): u32 image size (low 16 bits, + 8), u32 offset
 * (in 2 MiB steps, low 9 bits).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "machine/x86/kaslr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LINK_ADDR   (16ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t image_size, steps;
    uint8_t *image;
    bool valid, applied;

    if (size < 8) {
        return 0;
    }
    memcpy(&image_size, data, 4);
    memcpy(&steps, data + 4, 4);
    image_size = (image_size & 0xffff) + 8;
    image = calloc(1, image_size);
    valid = x86_relocs_valid(data + 8, size - 8, LINK_ADDR,
                             LINK_ADDR + image_size);
    applied = x86_kaslr_relocate(image, LINK_ADDR, image_size, data + 8,
                                 size - 8, (uint64_t)(steps & 0x1ff) *
                                 X86_KASLR_ALIGN);
    if (valid != applied) {
        abort();
    }
    free(image);
    return 0;
}
