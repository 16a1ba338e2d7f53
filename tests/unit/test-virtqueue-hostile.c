/* Split virtqueues against a hostile driver: every chain here loops, runs
 * out of the queue or guest RAM, nests indirect tables or mixes buffer
 * directions, and must break the queue (NEEDS_RESET) without touching
 * host memory outside guest RAM.  Fixture: virtqueue-test.h. */
#include "tests/unit/virtqueue-test.h"

/* Makes the hostile chain at head available and checks that the device
 * breaks the queue on it rather than using it. */
static void offer_expect_broken(Fixture *f, uint16_t head)
{
    avail_add(f, head);
    expect_broken(f);
}

static void test_indirect_not_negotiated(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    put_desc_at(f, 0x8000, 0, BUF_GPA, 16, 0, 0);
    put_desc(f, 0, 0x8000, 16, F_INDIRECT, 0);
    offer_expect_broken(f, 0);
}

static void test_loop(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    put_desc(f, 0, BUF_GPA, 1, F_NEXT, 1);
    put_desc(f, 1, BUF_GPA, 1, F_NEXT, 0);
    offer_expect_broken(f, 0);
}

static void test_self_loop(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    put_desc(f, 2, BUF_GPA, 1, F_NEXT | F_WRITE, 2);
    offer_expect_broken(f, 2);
}

static void test_next_out_of_range(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    put_desc(f, 0, BUF_GPA, 1, F_NEXT, QSIZE);
    offer_expect_broken(f, 0);
}

static void test_head_out_of_range(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    offer_expect_broken(f, 0xffff);
}

static void test_addr_past_ram(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    put_desc(f, 0, RAM_SIZE - 10, 11, 0, 0);
    offer_expect_broken(f, 0);
}

static void test_addr_wraps(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    put_desc(f, 0, 0xfffffffffffff000ULL, 0x2000, F_WRITE, 0);
    offer_expect_broken(f, 0);
}

/* Buffers of 0xf0000 bytes, 4370 of them in one indirect table: each is
 * in RAM but together they exceed what used->len can say (2^32 - 1). */
static void test_len_overflow(Fixture *f, gconstpointer data)
{
    unsigned n = 4370;
    uint64_t table = 0x20000;

    enable(f, FEAT_INDIRECT);
    for (unsigned i = 0; i < n; i++) {
        put_desc_at(f, table, i, BUF_GPA, 0xf0000, F_WRITE | F_NEXT, i + 1);
    }
    put_desc_at(f, table, n - 1, BUF_GPA, 0xf0000, F_WRITE, 0);
    put_desc(f, 0, table, n * 16, F_INDIRECT, 0);
    avail_add(f, 0);
    /* The table itself overlaps the buffers; translate doesn't care. */
    expect_broken(f);
}

static void test_nested_indirect(Fixture *f, gconstpointer data)
{
    enable(f, FEAT_INDIRECT);
    put_desc_at(f, 0x9000, 0, BUF_GPA, 1, 0, 0);
    put_desc_at(f, 0x8000, 0, 0x9000, 16, F_INDIRECT, 0);
    put_desc(f, 0, 0x8000, 16, F_INDIRECT, 0);
    offer_expect_broken(f, 0);
}

static void test_indirect_bad_len(Fixture *f, gconstpointer data)
{
    enable(f, FEAT_INDIRECT);
    put_desc_at(f, 0x8000, 0, BUF_GPA, 1, 0, 0);
    put_desc(f, 0, 0x8000, 24, F_INDIRECT, 0);
    offer_expect_broken(f, 0);
}

static void test_indirect_zero_len(Fixture *f, gconstpointer data)
{
    enable(f, FEAT_INDIRECT);
    put_desc(f, 0, 0x8000, 0, F_INDIRECT, 0);
    offer_expect_broken(f, 0);
}

static void test_indirect_with_next(Fixture *f, gconstpointer data)
{
    enable(f, FEAT_INDIRECT);
    put_desc_at(f, 0x8000, 0, BUF_GPA, 1, 0, 0);
    put_desc(f, 0, 0x8000, 16, F_INDIRECT | F_NEXT, 1);
    put_desc(f, 1, BUF_GPA, 1, 0, 0);
    offer_expect_broken(f, 0);
}

static void test_indirect_next_out_of_table(Fixture *f, gconstpointer data)
{
    enable(f, FEAT_INDIRECT);
    /* next = 2 in a two-entry table; entry 2 is in RAM but not the table */
    put_desc_at(f, 0x8000, 0, BUF_GPA, 1, F_NEXT, 2);
    put_desc_at(f, 0x8000, 2, BUF_GPA, 1, 0, 0);
    put_desc(f, 0, 0x8000, 32, F_INDIRECT, 0);
    offer_expect_broken(f, 0);
}

static void test_indirect_loop(Fixture *f, gconstpointer data)
{
    enable(f, FEAT_INDIRECT);
    put_desc_at(f, 0x8000, 0, BUF_GPA, 1, F_NEXT, 1);
    put_desc_at(f, 0x8000, 1, BUF_GPA, 1, F_NEXT, 0);
    put_desc(f, 0, 0x8000, 32, F_INDIRECT, 0);
    offer_expect_broken(f, 0);
}

static void test_indirect_past_ram(Fixture *f, gconstpointer data)
{
    enable(f, FEAT_INDIRECT);
    put_desc(f, 0, RAM_SIZE - 16, 32, F_INDIRECT, 0);
    offer_expect_broken(f, 0);
}

static void test_readable_after_writable(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    put_desc(f, 0, BUF_GPA, 1, F_WRITE | F_NEXT, 1);
    put_desc(f, 1, BUF_GPA, 1, 0, 0);
    offer_expect_broken(f, 0);
}

static void test_avail_idx_jump(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    put_desc(f, 0, BUF_GPA, 1, 0, 0);
    put16(f, AVAIL_GPA + 2, QSIZE + 1);
    expect_broken(f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ADD("hostile/indirect-not-negotiated", test_indirect_not_negotiated);
    ADD("hostile/loop", test_loop);
    ADD("hostile/self-loop", test_self_loop);
    ADD("hostile/next-out-of-range", test_next_out_of_range);
    ADD("hostile/head-out-of-range", test_head_out_of_range);
    ADD("hostile/addr-past-ram", test_addr_past_ram);
    ADD("hostile/addr-wraps", test_addr_wraps);
    ADD("hostile/len-overflow", test_len_overflow);
    ADD("hostile/nested-indirect", test_nested_indirect);
    ADD("hostile/indirect-bad-len", test_indirect_bad_len);
    ADD("hostile/indirect-zero-len", test_indirect_zero_len);
    ADD("hostile/indirect-with-next", test_indirect_with_next);
    ADD("hostile/indirect-next-out-of-table",
        test_indirect_next_out_of_table);
    ADD("hostile/indirect-loop", test_indirect_loop);
    ADD("hostile/indirect-past-ram", test_indirect_past_ram);
    ADD("hostile/readable-after-writable", test_readable_after_writable);
    ADD("hostile/avail-idx-jump", test_avail_idx_jump);
    return g_test_run();
}
