/*
 * KASLR for a kernel decoded on the host (see kaslr.h).
 */
#include "machine/x86/kaslr.h"

#include <string.h>

#include "machine/byteorder/le.h"

/* Where each list lies in the table, in 32-bit words: [start, end). */
typedef struct RelocLists {
    size_t start64, end64;
    size_t start_inverse, end_inverse;
    size_t start32, end32;
} RelocLists;

static uint32_t word_at(const uint8_t *table, size_t i)
{
    return le32_load(table + 4 * i);
}

/* The non-zero words before index end back to the previous zero word:
 * returns the list's first index; *zero the zero's (false: none). */
static size_t list_before(const uint8_t *table, size_t end, size_t *zero,
                          bool *found)
{
    size_t i = end;

    while (i > 0 && word_at(table, i - 1) != 0) {
        i--;
    }
    *found = i > 0;
    *zero = i > 0 ? i - 1 : 0;
    return i;
}

/* Splits the table the way handle_relocations() walks it, from its end;
 * the zero word that ends the walk must be its first word. */
static bool split_lists(const uint8_t *table, size_t len, RelocLists *l)
{
    size_t n = len / 4, zero;
    bool found;

    if (len % 4 != 0 || n == 0) {
        return false;
    }
    l->end32 = n;
    l->start32 = list_before(table, l->end32, &zero, &found);
    if (!found) {
        return false;
    }
    l->end_inverse = zero;
    l->start_inverse = list_before(table, l->end_inverse, &zero, &found);
    if (!found) {
        return false;
    }
    l->end64 = zero;
    l->start64 = list_before(table, l->end64, &zero, &found);
    return found && zero == 0;
}

/* The link-time physical address a relocation entry points at. */
static uint64_t entry_target(uint32_t w)
{
    return (uint64_t)(int64_t)(int32_t)w - X86_START_KERNEL_MAP;
}

static bool targets_inside(const uint8_t *table, size_t from, size_t to,
                           unsigned width, uint64_t start, uint64_t end)
{
    for (size_t i = from; i < to; i++) {
        uint64_t at = entry_target(word_at(table, i));

        if (at < start || end - start < width || at > end - width) {
            return false;
        }
    }
    return true;
}

static bool lists_valid(const uint8_t *table, const RelocLists *l,
                        uint64_t start, uint64_t end)
{
    return targets_inside(table, l->start64, l->end64, 8, start, end) &&
           targets_inside(table, l->start_inverse, l->end_inverse, 4, start,
                          end) &&
           targets_inside(table, l->start32, l->end32, 4, start, end);
}

bool x86_relocs_valid(const uint8_t *table, size_t len, uint64_t image_start,
                      uint64_t image_end)
{
    RelocLists l;

    return image_start < image_end && split_lists(table, len, &l) &&
           lists_valid(table, &l, image_start, image_end);
}

uint64_t x86_kaslr_pick_offset(uint64_t start, uint64_t image_size,
                               uint64_t window_end, uint64_t random)
{
    uint64_t slots;

    if (start > window_end || image_size > window_end - start) {
        return 0;
    }
    slots = (window_end - start - image_size) / X86_KASLR_ALIGN + 1;
    return (random % slots) * X86_KASLR_ALIGN;
}

/* Adds delta (modulo 2^(8 * width)) at every place entries [from, to)
 * name; the caller checked them. */
static void add_at_entries(uint8_t *image, uint64_t image_start,
                           const uint8_t *table, size_t from, size_t to,
                           unsigned width, uint64_t delta)
{
    for (size_t i = from; i < to; i++) {
        uint8_t *p = image + (entry_target(word_at(table, i)) - image_start);

        if (width == 4) {
            uint32_t v;

            memcpy(&v, p, sizeof(v));
            v += (uint32_t)delta;
            memcpy(p, &v, sizeof(v));
        } else {
            uint64_t v;

            memcpy(&v, p, sizeof(v));
            v += delta;
            memcpy(p, &v, sizeof(v));
        }
    }
}

bool x86_kaslr_relocate(uint8_t *image, uint64_t image_start,
                        uint64_t image_size, const uint8_t *table,
                        size_t len, uint64_t offset)
{
    uint64_t end = image_start + image_size;
    RelocLists l;

    if (image_size == 0 || end < image_start ||
        !split_lists(table, len, &l) ||
        !lists_valid(table, &l, image_start, end)) {
        return false;
    }
    /* misc.c handle_relocations(): 32-bit entries add the offset,
     * inverse ones (32-bit distances from a per-CPU address to a kernel
     * one) subtract it, 64-bit ones add it. */
    add_at_entries(image, image_start, table, l.start32, l.end32, 4, offset);
    add_at_entries(image, image_start, table, l.start_inverse,
                   l.end_inverse, 4, -offset);
    add_at_entries(image, image_start, table, l.start64, l.end64, 8, offset);
    return true;
}

bool x86_kaslr_disabled(const char *cmdline)
{
    g_auto(GStrv) words = g_strsplit_set(cmdline ? cmdline : "", " \t\n",
                                         -1);

    for (char **w = words; *w; w++) {
        if (strcmp(*w, "nokaslr") == 0) {
            return true;
        }
    }
    return false;
}
