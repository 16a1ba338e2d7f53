/*
 * KASLR for host-decoded kernels (machine/x86/kaslr.c): the relocation
 * table's format and bounds, the offset's range, "nokaslr".
 */
#include <glib.h>
#include <string.h>

#include "machine/x86/kaslr.h"

#define MiB         (1ULL << 20)
#define LINK_ADDR   (16 * MiB)      /* LOAD_PHYSICAL_ADDR */
#define IMAGE_SIZE  (64 * 1024)
#define OFFSET      (6 * MiB)

/* A table entry: the 32-bit form of the virtual address of image offset
 * off (kaslr.h). */
static uint32_t entry(uint64_t off)
{
    return (uint32_t)(X86_START_KERNEL_MAP + LINK_ADDR + off);
}

typedef struct Table {
    uint32_t words[16];
    size_t len;                 /* bytes */
} Table;

/* [0] 64-bit... [0] inverse... [0] 32-bit... */
static void table_build(Table *t, const uint64_t *r64, size_t n64,
                        const uint64_t *inv, size_t ninv, const uint64_t *r32,
                        size_t n32)
{
    size_t n = 0;

    t->words[n++] = 0;
    for (size_t i = 0; i < n64; i++) {
        t->words[n++] = entry(r64[i]);
    }
    t->words[n++] = 0;
    for (size_t i = 0; i < ninv; i++) {
        t->words[n++] = entry(inv[i]);
    }
    t->words[n++] = 0;
    for (size_t i = 0; i < n32; i++) {
        t->words[n++] = entry(r32[i]);
    }
    t->len = n * 4;
}

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static void test_relocate(void)
{
    static const uint64_t r64[] = { 0x100, 0x1003 };    /* one unaligned */
    static const uint64_t inv[] = { 0x200 };
    static const uint64_t r32[] = { 0x300, IMAGE_SIZE - 4 };
    g_autofree uint8_t *image = g_malloc0(IMAGE_SIZE);
    Table t;

    table_build(&t, r64, 2, inv, 1, r32, 2);
    put64(image + 0x100, X86_START_KERNEL_MAP + LINK_ADDR + 0xabc);
    put64(image + 0x1003, X86_START_KERNEL_MAP + LINK_ADDR);
    put32(image + 0x200, 0x7000);
    put32(image + 0x300, (uint32_t)(X86_START_KERNEL_MAP + LINK_ADDR + 8));
    put32(image + IMAGE_SIZE - 4, 0x81000000);
    g_assert_true(x86_relocs_valid((uint8_t *)t.words, t.len, LINK_ADDR,
                                   LINK_ADDR + IMAGE_SIZE));
    g_assert_true(x86_kaslr_relocate(image, LINK_ADDR, IMAGE_SIZE,
                                     (uint8_t *)t.words, t.len, OFFSET));
    g_assert_cmphex(get64(image + 0x100), ==,
                    X86_START_KERNEL_MAP + LINK_ADDR + 0xabc + OFFSET);
    g_assert_cmphex(get64(image + 0x1003), ==,
                    X86_START_KERNEL_MAP + LINK_ADDR + OFFSET);
    g_assert_cmphex(get32(image + 0x200), ==, (uint32_t)(0x7000 - OFFSET));
    g_assert_cmphex(get32(image + 0x300), ==,
                    (uint32_t)(X86_START_KERNEL_MAP + LINK_ADDR + 8 + OFFSET));
    g_assert_cmphex(get32(image + IMAGE_SIZE - 4), ==, 0x81000000 + OFFSET);

    /* Empty lists are a valid table (three zero words). */
    table_build(&t, NULL, 0, NULL, 0, NULL, 0);
    g_assert_true(x86_relocs_valid((uint8_t *)t.words, t.len, LINK_ADDR,
                                   LINK_ADDR + IMAGE_SIZE));
}

/* A table that is not one, or points outside the image, changes nothing. */
static void test_refused(void)
{
    static const uint64_t ok[] = { 0x10 };
    static const uint64_t past_end[] = { IMAGE_SIZE - 4 };  /* 8 wide */
    static const uint64_t outside[] = { IMAGE_SIZE + 0x1000 };
    g_autofree uint8_t *image = g_malloc0(IMAGE_SIZE);
    g_autofree uint8_t *zero = g_malloc0(IMAGE_SIZE);
    Table t;

    /* A 64-bit entry whose 8 bytes run past the end. */
    table_build(&t, past_end, 1, NULL, 0, NULL, 0);
    g_assert_false(x86_kaslr_relocate(image, LINK_ADDR, IMAGE_SIZE,
                                      (uint8_t *)t.words, t.len, OFFSET));
    /* An entry outside the image, in the last list. */
    table_build(&t, ok, 1, ok, 1, outside, 1);
    g_assert_false(x86_relocs_valid((uint8_t *)t.words, t.len, LINK_ADDR,
                                    LINK_ADDR + IMAGE_SIZE));
    g_assert_false(x86_kaslr_relocate(image, LINK_ADDR, IMAGE_SIZE,
                                      (uint8_t *)t.words, t.len, OFFSET));
    /* No leading zero: the walk from the end runs out first. */
    table_build(&t, ok, 1, ok, 1, ok, 1);
    g_assert_false(x86_relocs_valid((uint8_t *)t.words + 4, t.len - 4,
                                    LINK_ADDR, LINK_ADDR + IMAGE_SIZE));
    /* A word before the leading zero. */
    {
        uint32_t longer[G_N_ELEMENTS(t.words) + 1] = { entry(0x10) };

        memcpy(longer + 1, t.words, t.len);
        g_assert_false(x86_relocs_valid((uint8_t *)longer, t.len + 4,
                                        LINK_ADDR, LINK_ADDR + IMAGE_SIZE));
    }
    /* Not whole words; nothing; two zeros only. */
    table_build(&t, ok, 1, ok, 1, ok, 1);
    g_assert_false(x86_relocs_valid((uint8_t *)t.words, t.len - 1,
                                    LINK_ADDR, LINK_ADDR + IMAGE_SIZE));
    g_assert_false(x86_relocs_valid((uint8_t *)t.words, 0, LINK_ADDR,
                                    LINK_ADDR + IMAGE_SIZE));
    g_assert_false(x86_relocs_valid((uint8_t *)t.words, 8, LINK_ADDR,
                                    LINK_ADDR + IMAGE_SIZE));
    g_assert_cmpmem(image, IMAGE_SIZE, zero, IMAGE_SIZE);
}

static uint64_t pick_virtual(uint64_t size, uint64_t random)
{
    return x86_kaslr_pick_offset(LINK_ADDR, size, X86_KASLR_WINDOW, random);
}

static void test_pick_offset(void)
{
    const uint64_t size = 58 * MiB;
    /* (1 GiB - 16 MiB - 58 MiB) / 2 MiB + 1 places, 0 first. */
    const uint64_t slots = (1024 - 16 - 58) / 2 + 1;

    g_assert_cmphex(pick_virtual(size, 0), ==, 0);
    g_assert_cmphex(pick_virtual(size, 1), ==, 2 * MiB);
    g_assert_cmphex(pick_virtual(size, slots - 1), ==, (slots - 1) * 2 * MiB);
    g_assert_cmphex(LINK_ADDR + (slots - 1) * 2 * MiB + size, <=, 1024 * MiB);
    g_assert_cmphex(pick_virtual(size, slots), ==, 0);
    for (uint64_t r = 0; r < 4096; r += 37) {
        uint64_t off = pick_virtual(size, r * 0x9e3779b97f4a7c15ULL);

        g_assert_cmphex(off % (2 * MiB), ==, 0);
        g_assert_cmphex(LINK_ADDR + off + size, <=, 1024 * MiB);
    }
    /* No room: where it was linked. */
    g_assert_cmphex(pick_virtual(1024 * MiB, 5), ==, 0);
    g_assert_cmphex(x86_kaslr_pick_offset(2048 * MiB, size, X86_KASLR_WINDOW,
                                          5), ==, 0);
    /* A physical window, 256 MiB of RAM less a 2 MiB initrd at its top:
     * (254 - 16 - 64) / 2 + 1 = 88 places. */
    g_assert_cmphex(x86_kaslr_pick_offset(LINK_ADDR, 64 * MiB, 254 * MiB, 87),
                    ==, 174 * MiB);
    g_assert_cmphex(x86_kaslr_pick_offset(LINK_ADDR, 64 * MiB, 254 * MiB, 88),
                    ==, 0);
}

static void test_disabled(void)
{
    g_assert_true(x86_kaslr_disabled("console=ttyS0 nokaslr quiet"));
    g_assert_true(x86_kaslr_disabled("nokaslr"));
    g_assert_false(x86_kaslr_disabled("console=ttyS0 nokaslrx kaslr"));
    g_assert_false(x86_kaslr_disabled(""));
    g_assert_false(x86_kaslr_disabled(NULL));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kaslr/relocate", test_relocate);
    g_test_add_func("/kaslr/refused", test_refused);
    g_test_add_func("/kaslr/pick-offset", test_pick_offset);
    g_test_add_func("/kaslr/disabled", test_disabled);
    return g_test_run();
}
