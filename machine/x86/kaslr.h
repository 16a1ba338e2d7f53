/*
 * KASLR for a kernel decoded on the host (vmlinux.h): what the bzImage's
 * own decompressor does before it jumps to the kernel proper, done by the
 * VMM instead (arch/x86/boot/compressed/kaslr.c and misc.c).
 *
 * Physically, a relocatable kernel may run at any 2 MiB-aligned address:
 * its startup_64 finds where it is and sets phys_base.  Virtually, a
 * kernel built with CONFIG_RANDOMIZE_BASE carries a relocation table,
 * appended by the build to the vmlinux in the compressed payload
 * (arch/x86/tools/relocs.c): the link-time virtual addresses of every
 * place that holds an absolute kernel address.  Moving the kernel's
 * virtual base by a random multiple of 2 MiB means adding the offset at
 * each of those places.  The kernel proper copes with the new base itself
 * (head64.c computes phys_base from where _text now points), and
 * KASLR_FLAG in boot_params.hdr.loadflags tells it that KASLR is on, so it
 * also randomizes the bases of its direct map, vmalloc area and vmemmap
 * (arch/x86/mm/kaslr.c).
 *
 * The table, from its end backwards (misc.c, handle_relocations()):
 * 32-bit relocations up to a zero word, 32-bit inverse relocations up to a
 * zero word, 64-bit relocations up to the zero word that starts it.  Each
 * entry is a 32-bit word, sign-extended to the 64-bit kernel virtual
 * address to patch.
 */
#ifndef VMSPEC_X86_KASLR_H
#define VMSPEC_X86_KASLR_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the kernel's virtual addresses start (__START_KERNEL_map):
 * virtual = this + link-time physical. */
#define X86_START_KERNEL_MAP    0xffffffff80000000ULL
/* CONFIG_PHYSICAL_ALIGN on x86_64, the granule of the offset. */
#define X86_KASLR_ALIGN         (2ULL << 20)
/* KERNEL_IMAGE_SIZE with CONFIG_RANDOMIZE_BASE: the kernel's virtual
 * window above __START_KERNEL_map. */
#define X86_KASLR_WINDOW        (1ULL << 30)
/* boot_params.hdr.loadflags bit 1 (boot.rst "loadflags": KASLR_FLAG). */
#define X86_LOADFLAG_KASLR      0x02

/*
 * Whether table (len bytes, a multiple of 4) is a well-formed relocation
 * table whose every entry lies, with its width, inside the image loaded
 * at link-time physical addresses [image_start, image_end).  Pure.
 */
bool x86_relocs_valid(const uint8_t *table, size_t len, uint64_t image_start,
                      uint64_t image_end);

/*
 * An offset for an image of image_size bytes at start: a multiple of
 * X86_KASLR_ALIGN chosen by random among those that keep it below
 * window_end (0 included; 0 when none fits), as the decompressor's
 * find_random_virt_addr() chooses.  The virtual one: start is the
 * link-time physical address, window_end X86_KASLR_WINDOW; the physical
 * one: the same start, window_end the end of the RAM the kernel may use.
 * Pure.
 */
uint64_t x86_kaslr_pick_offset(uint64_t start, uint64_t image_size,
                               uint64_t window_end, uint64_t random);

/*
 * Applies a table that x86_relocs_valid() accepted for image_start and
 * image_start + image_size to the image at host address image, for a
 * kernel moved offset bytes up in virtual memory.  Returns false (and
 * changes nothing) when the table is not valid for it.
 */
bool x86_kaslr_relocate(uint8_t *image, uint64_t image_start,
                        uint64_t image_size, const uint8_t *table,
                        size_t len, uint64_t offset);

/* Whether the command line turns KASLR off ("nokaslr", as the
 * decompressor's cmdline_find_option_bool() finds it: a whole word
 * anywhere). Pure. */
bool x86_kaslr_disabled(const char *cmdline);

#endif
