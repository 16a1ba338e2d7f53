/* Split virtqueues on real guest RAM (guest_mem_new, no KVM needed), with
 * rings built by hand as a driver would: chains, indirect tables,
 * EVENT_IDX suppression, and the hostile cases that must break the queue
 * without touching host memory outside guest RAM. */
#include <glib.h>
#include <string.h>

#include "machine/byteorder/le.h"
#include "machine/kvm/guest-mem.h"
#include "machine/virtio/queue.h"

#define RAM_SIZE    (1024 * 1024)
#define QSIZE       16
#define DESC_GPA    0x1000
#define AVAIL_GPA   0x2000
#define USED_GPA    0x3000
#define BUF_GPA     0x10000

#define F_NEXT      1
#define F_WRITE     2
#define F_INDIRECT  4

#define FEAT_INDIRECT   (1ULL << 28)
#define FEAT_EVENT_IDX  (1ULL << 29)

typedef struct Fixture {
    GuestMem *mem;
    uint8_t *ram;
    VirtQueue *vq;
    uint16_t avail_idx;
} Fixture;

static void fx_setup(Fixture *f, gconstpointer data)
{
    GError *err = NULL;

    f->mem = guest_mem_new(RAM_SIZE, 1ULL << 32, &err);
    g_assert_no_error(err);
    f->ram = guest_mem_translate(f->mem, 0, RAM_SIZE);
    g_assert_nonnull(f->ram);
    f->vq = virtqueue_new(f->mem, QSIZE);
    virtqueue_set_size(f->vq, QSIZE);
    virtqueue_set_desc_addr(f->vq, DESC_GPA);
    virtqueue_set_avail_addr(f->vq, AVAIL_GPA);
    virtqueue_set_used_addr(f->vq, USED_GPA);
    f->avail_idx = 0;
}

static void fx_teardown(Fixture *f, gconstpointer data)
{
    virtqueue_free(f->vq);
    guest_mem_free(f->mem);
}

static void put16(Fixture *f, uint64_t gpa, uint16_t v)
{
    le16_store(f->ram + gpa, v);
}

static uint16_t get16(Fixture *f, uint64_t gpa)
{
    return le16_load(f->ram + gpa);
}

static uint32_t get32(Fixture *f, uint64_t gpa)
{
    return le32_load(f->ram + gpa);
}

static void put_desc_at(Fixture *f, uint64_t table, unsigned i,
                        uint64_t addr, uint32_t len, uint16_t flags,
                        uint16_t next)
{
    uint8_t *d = f->ram + table + 16 * i;

    le64_store(d, addr);
    le32_store(d + 8, len);
    le16_store(d + 12, flags);
    le16_store(d + 14, next);
}

static void put_desc(Fixture *f, unsigned i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    put_desc_at(f, DESC_GPA, i, addr, len, flags, next);
}

/* Makes head available and publishes the new avail->idx. */
static void avail_add(Fixture *f, uint16_t head)
{
    put16(f, AVAIL_GPA + 4 + 2 * (f->avail_idx % QSIZE), head);
    f->avail_idx++;
    put16(f, AVAIL_GPA + 2, f->avail_idx);
}

static void enable(Fixture *f, uint64_t features)
{
    g_assert_true(virtqueue_enable(f->vq, features));
    g_assert_true(virtqueue_ready(f->vq));
}

static void expect_broken(Fixture *f)
{
    VirtqElement e;

    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, -1);
    g_assert_true(virtqueue_broken(f->vq));
    g_assert_null(e.out_iov);
    g_assert_null(e.in_iov);
    /* Stays broken until reset. */
    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, -1);
}

static void test_simple_chain(Fixture *f, gconstpointer data)
{
    VirtqElement e;

    enable(f, 0);
    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 0);
    put_desc(f, 3, BUF_GPA, 100, F_NEXT, 7);
    put_desc(f, 7, BUF_GPA + 0x1000, 200, F_WRITE, 0);
    avail_add(f, 3);
    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 1);
    g_assert_cmpuint(e.head, ==, 3);
    g_assert_cmpuint(e.out_num, ==, 1);
    g_assert_cmpuint(e.in_num, ==, 1);
    g_assert_cmpuint(e.out_len, ==, 100);
    g_assert_cmpuint(e.in_len, ==, 200);
    g_assert_true(e.out_iov[0].iov_base == f->ram + BUF_GPA);
    g_assert_true(e.in_iov[0].iov_base == f->ram + BUF_GPA + 0x1000);
    virtqueue_push(f->vq, &e, 50);
    virtqueue_element_clear(&e);
    /* Not published before the flush. */
    g_assert_cmpuint(get16(f, USED_GPA + 2), ==, 0);
    g_assert_true(virtqueue_flush(f->vq));
    g_assert_cmpuint(get16(f, USED_GPA + 2), ==, 1);
    g_assert_cmpuint(get32(f, USED_GPA + 4), ==, 3);
    g_assert_cmpuint(get32(f, USED_GPA + 8), ==, 50);
    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 0);
    /* Nothing new: no interrupt. */
    g_assert_false(virtqueue_flush(f->vq));
}

static void test_written_clamped(Fixture *f, gconstpointer data)
{
    VirtqElement e;

    enable(f, 0);
    put_desc(f, 0, BUF_GPA, 10, F_WRITE, 0);
    avail_add(f, 0);
    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 1);
    virtqueue_push(f->vq, &e, 1000);
    virtqueue_element_clear(&e);
    virtqueue_flush(f->vq);
    g_assert_cmpuint(get32(f, USED_GPA + 8), ==, 10);
}

/* The ring wraps: 3 * QSIZE requests, one at a time. */
static void test_ring_wraps(Fixture *f, gconstpointer data)
{
    VirtqElement e;

    enable(f, 0);
    for (unsigned n = 0; n < 3 * QSIZE; n++) {
        put_desc(f, n % QSIZE, BUF_GPA + n, 1, 0, 0);
        avail_add(f, n % QSIZE);
        g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 1);
        g_assert_cmpuint(e.head, ==, n % QSIZE);
        g_assert_true(e.out_iov[0].iov_base == f->ram + BUF_GPA + n);
        virtqueue_push(f->vq, &e, 0);
        virtqueue_element_clear(&e);
        g_assert_true(virtqueue_flush(f->vq));
        g_assert_cmpuint(get16(f, USED_GPA + 2), ==, n + 1);
    }
}

static void test_indirect(Fixture *f, gconstpointer data)
{
    uint64_t table = 0x8000;
    VirtqElement e;

    enable(f, FEAT_INDIRECT);
    put_desc_at(f, table, 0, BUF_GPA, 16, F_NEXT, 2);
    put_desc_at(f, table, 2, BUF_GPA + 0x100, 32, F_NEXT, 1);
    put_desc_at(f, table, 1, BUF_GPA + 0x200, 64, F_WRITE, 0);
    put_desc(f, 5, table, 3 * 16, F_INDIRECT, 0);
    avail_add(f, 5);
    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 1);
    g_assert_cmpuint(e.head, ==, 5);
    g_assert_cmpuint(e.out_num, ==, 2);
    g_assert_cmpuint(e.in_num, ==, 1);
    g_assert_cmpuint(e.out_len, ==, 48);
    g_assert_cmpuint(e.in_len, ==, 64);
    g_assert_true(e.out_iov[1].iov_base == f->ram + BUF_GPA + 0x100);
    g_assert_true(e.in_iov[0].iov_base == f->ram + BUF_GPA + 0x200);
    virtqueue_element_clear(&e);
}

/* A direct descriptor followed by an indirect one (no NEXT on it). */
static void test_direct_then_indirect(Fixture *f, gconstpointer data)
{
    VirtqElement e;

    enable(f, FEAT_INDIRECT);
    put_desc_at(f, 0x8000, 0, BUF_GPA + 0x40, 8, F_WRITE, 0);
    put_desc(f, 0, BUF_GPA, 4, F_NEXT, 1);
    put_desc(f, 1, 0x8000, 16, F_INDIRECT, 0);
    avail_add(f, 0);
    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 1);
    g_assert_cmpuint(e.out_len, ==, 4);
    g_assert_cmpuint(e.in_len, ==, 8);
    virtqueue_element_clear(&e);
}

static void test_indirect_not_negotiated(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    put_desc_at(f, 0x8000, 0, BUF_GPA, 16, 0, 0);
    put_desc(f, 0, 0x8000, 16, F_INDIRECT, 0);
    avail_add(f, 0);
    expect_broken(f);
}

static void test_event_idx(Fixture *f, gconstpointer data)
{
    uint64_t used_event = AVAIL_GPA + 4 + 2 * QSIZE;
    uint64_t avail_event = USED_GPA + 4 + 8 * QSIZE;
    VirtqElement e;

    enable(f, FEAT_EVENT_IDX);
    /* used_event = 0: the first used entry (0 -> 1) interrupts. */
    put_desc(f, 0, BUF_GPA, 1, F_WRITE, 0);
    avail_add(f, 0);
    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 1);
    /* The device asks to be notified after the entry it took. */
    g_assert_cmpuint(get16(f, avail_event), ==, 1);
    virtqueue_push(f->vq, &e, 1);
    virtqueue_element_clear(&e);
    g_assert_true(virtqueue_flush(f->vq));

    /* used_event = 4: no interrupt until used->idx passes 4. */
    put16(f, used_event, 4);
    for (unsigned n = 1; n <= 6; n++) {
        avail_add(f, 0);
        g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 1);
        g_assert_cmpuint(get16(f, avail_event), ==, n + 1);
        virtqueue_push(f->vq, &e, 1);
        virtqueue_element_clear(&e);
        /* idx goes n -> n + 1; interrupt iff it crossed 4 -> 5. */
        g_assert_cmpint(virtqueue_flush(f->vq), ==, n == 4);
    }
    /* Two entries in one flush, crossing used_event = 8 (7 -> 9). */
    put16(f, used_event, 8);
    for (unsigned n = 0; n < 2; n++) {
        avail_add(f, 0);
        g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 1);
        virtqueue_push(f->vq, &e, 1);
        virtqueue_element_clear(&e);
    }
    g_assert_true(virtqueue_flush(f->vq));
    /* NO_INTERRUPT is ignored with EVENT_IDX: the event index rules. */
    put16(f, AVAIL_GPA, 1);
    put16(f, used_event, 9);
    avail_add(f, 0);
    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 1);
    virtqueue_push(f->vq, &e, 1);
    virtqueue_element_clear(&e);
    g_assert_true(virtqueue_flush(f->vq));
}

/* The 16-bit wrap of vring_need_event(). */
static void test_event_idx_wrap(Fixture *f, gconstpointer data)
{
    uint64_t used_event = AVAIL_GPA + 4 + 2 * QSIZE;
    VirtqElement e;
    unsigned interrupts = 0;

    enable(f, FEAT_EVENT_IDX);
    put_desc(f, 0, BUF_GPA, 1, F_WRITE, 0);
    for (unsigned n = 0; n < 70000; n++) {
        /* Ask for an interrupt only when used->idx reaches 0 again. */
        put16(f, used_event, 0xffff);
        avail_add(f, 0);
        g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 1);
        virtqueue_push(f->vq, &e, 1);
        virtqueue_element_clear(&e);
        interrupts += virtqueue_flush(f->vq);
    }
    /* used->idx crossed 0xffff -> 0 once (at n = 65535). */
    g_assert_cmpuint(interrupts, ==, 1);
}

static void test_no_interrupt_flag(Fixture *f, gconstpointer data)
{
    VirtqElement e;

    enable(f, 0);
    put16(f, AVAIL_GPA, 1);             /* VIRTQ_AVAIL_F_NO_INTERRUPT */
    put_desc(f, 0, BUF_GPA, 1, 0, 0);
    avail_add(f, 0);
    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 1);
    virtqueue_push(f->vq, &e, 0);
    virtqueue_element_clear(&e);
    g_assert_false(virtqueue_flush(f->vq));
    g_assert_cmpuint(get16(f, USED_GPA + 2), ==, 1);
}

static void test_set_notification(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    g_assert_false(virtqueue_set_notification(f->vq, false));
    g_assert_cmpuint(get16(f, USED_GPA), ==, 1);    /* NO_NOTIFY */
    g_assert_false(virtqueue_set_notification(f->vq, true));
    g_assert_cmpuint(get16(f, USED_GPA), ==, 0);
    /* A buffer that arrived while notifications were off is reported. */
    virtqueue_set_notification(f->vq, false);
    put_desc(f, 0, BUF_GPA, 1, 0, 0);
    avail_add(f, 0);
    g_assert_true(virtqueue_set_notification(f->vq, true));
}

static void test_set_notification_event_idx(Fixture *f, gconstpointer data)
{
    uint64_t avail_event = USED_GPA + 4 + 8 * QSIZE;

    enable(f, FEAT_EVENT_IDX);
    put16(f, AVAIL_GPA + 2, 0);
    g_assert_false(virtqueue_set_notification(f->vq, true));
    g_assert_cmpuint(get16(f, avail_event), ==, 0);
    g_assert_cmpuint(get16(f, USED_GPA), ==, 0);    /* flags untouched */
    put_desc(f, 0, BUF_GPA, 1, 0, 0);
    avail_add(f, 0);
    g_assert_true(virtqueue_set_notification(f->vq, true));
    g_assert_cmpuint(get16(f, avail_event), ==, 1);
}

/* ---- enable-time validation ---- */

static void test_enable_checks(Fixture *f, gconstpointer data)
{
    /* Not a power of two; zero; above the maximum. */
    virtqueue_set_size(f->vq, 12);
    g_assert_false(virtqueue_enable(f->vq, 0));
    virtqueue_set_size(f->vq, 0);
    g_assert_false(virtqueue_enable(f->vq, 0));
    virtqueue_set_size(f->vq, 32);
    g_assert_false(virtqueue_enable(f->vq, 0));
    virtqueue_set_size(f->vq, QSIZE);
    /* Misaligned rings. */
    virtqueue_set_desc_addr(f->vq, DESC_GPA + 8);
    g_assert_false(virtqueue_enable(f->vq, 0));
    virtqueue_set_desc_addr(f->vq, DESC_GPA);
    virtqueue_set_used_addr(f->vq, USED_GPA + 2);
    g_assert_false(virtqueue_enable(f->vq, 0));
    /* Rings past the end of RAM, partly or wholly, or wrapping 2^64. */
    virtqueue_set_used_addr(f->vq, RAM_SIZE - 64);
    g_assert_false(virtqueue_enable(f->vq, 0));
    virtqueue_set_used_addr(f->vq, USED_GPA);
    virtqueue_set_desc_addr(f->vq, 0xfffffffffffffff0ULL);
    g_assert_false(virtqueue_enable(f->vq, 0));
    virtqueue_set_desc_addr(f->vq, DESC_GPA);
    virtqueue_set_avail_addr(f->vq, 1ULL << 40);
    g_assert_false(virtqueue_enable(f->vq, 0));
    g_assert_false(virtqueue_ready(f->vq));
    virtqueue_set_avail_addr(f->vq, AVAIL_GPA);
    g_assert_true(virtqueue_enable(f->vq, 0));
    /* Setup is frozen while ready. */
    virtqueue_set_size(f->vq, 4);
    virtqueue_set_desc_addr(f->vq, 0);
    g_assert_cmpuint(virtqueue_size(f->vq), ==, QSIZE);
    g_assert_cmphex(virtqueue_desc_addr(f->vq), ==, DESC_GPA);
    /* Reset clears everything. */
    virtqueue_reset(f->vq);
    g_assert_false(virtqueue_ready(f->vq));
    g_assert_cmphex(virtqueue_desc_addr(f->vq), ==, 0);
    g_assert_cmphex(virtqueue_avail_addr(f->vq), ==, 0);
    g_assert_cmphex(virtqueue_used_addr(f->vq), ==, 0);
    g_assert_cmpuint(virtqueue_size(f->vq), ==, QSIZE);
}

/* A smaller queue than the maximum works (the driver may lower it). */
static void test_smaller_size(Fixture *f, gconstpointer data)
{
    VirtqElement e;

    virtqueue_set_size(f->vq, 4);
    enable(f, 0);
    put_desc(f, 3, BUF_GPA, 1, 0, 0);
    put16(f, AVAIL_GPA + 4, 3);
    put16(f, AVAIL_GPA + 2, 1);
    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 1);
    virtqueue_element_clear(&e);
    /* Descriptor 4 exists in memory but not in a 4-entry queue. */
    put_desc(f, 4, BUF_GPA, 1, 0, 0);
    put16(f, AVAIL_GPA + 6, 4);
    put16(f, AVAIL_GPA + 2, 2);
    expect_broken(f);
}

/* ---- hostile chains ---- */

static void test_loop(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    put_desc(f, 0, BUF_GPA, 1, F_NEXT, 1);
    put_desc(f, 1, BUF_GPA, 1, F_NEXT, 0);
    avail_add(f, 0);
    expect_broken(f);
}

static void test_self_loop(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    put_desc(f, 2, BUF_GPA, 1, F_NEXT | F_WRITE, 2);
    avail_add(f, 2);
    expect_broken(f);
}

/* All QSIZE descriptors in one chain is the maximum, and fine. */
static void test_full_length_chain(Fixture *f, gconstpointer data)
{
    VirtqElement e;

    enable(f, 0);
    for (unsigned i = 0; i < QSIZE; i++) {
        put_desc(f, i, BUF_GPA + i, 1, i + 1 < QSIZE ? F_NEXT : 0, i + 1);
    }
    avail_add(f, 0);
    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 1);
    g_assert_cmpuint(e.out_num, ==, QSIZE);
    virtqueue_element_clear(&e);
}

static void test_next_out_of_range(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    put_desc(f, 0, BUF_GPA, 1, F_NEXT, QSIZE);
    avail_add(f, 0);
    expect_broken(f);
}

static void test_head_out_of_range(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    avail_add(f, 0xffff);
    expect_broken(f);
}

static void test_addr_past_ram(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    put_desc(f, 0, RAM_SIZE - 10, 11, 0, 0);
    avail_add(f, 0);
    expect_broken(f);
}

static void test_addr_wraps(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    put_desc(f, 0, 0xfffffffffffff000ULL, 0x2000, F_WRITE, 0);
    avail_add(f, 0);
    expect_broken(f);
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

static void test_len_max_ok(Fixture *f, gconstpointer data)
{
    VirtqElement e;

    enable(f, 0);
    put_desc(f, 0, 0, RAM_SIZE, F_WRITE, 0);
    avail_add(f, 0);
    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 1);
    g_assert_cmpuint(e.in_len, ==, RAM_SIZE);
    virtqueue_element_clear(&e);
}

static void test_nested_indirect(Fixture *f, gconstpointer data)
{
    enable(f, FEAT_INDIRECT);
    put_desc_at(f, 0x9000, 0, BUF_GPA, 1, 0, 0);
    put_desc_at(f, 0x8000, 0, 0x9000, 16, F_INDIRECT, 0);
    put_desc(f, 0, 0x8000, 16, F_INDIRECT, 0);
    avail_add(f, 0);
    expect_broken(f);
}

static void test_indirect_bad_len(Fixture *f, gconstpointer data)
{
    enable(f, FEAT_INDIRECT);
    put_desc_at(f, 0x8000, 0, BUF_GPA, 1, 0, 0);
    put_desc(f, 0, 0x8000, 24, F_INDIRECT, 0);
    avail_add(f, 0);
    expect_broken(f);
}

static void test_indirect_zero_len(Fixture *f, gconstpointer data)
{
    enable(f, FEAT_INDIRECT);
    put_desc(f, 0, 0x8000, 0, F_INDIRECT, 0);
    avail_add(f, 0);
    expect_broken(f);
}

static void test_indirect_with_next(Fixture *f, gconstpointer data)
{
    enable(f, FEAT_INDIRECT);
    put_desc_at(f, 0x8000, 0, BUF_GPA, 1, 0, 0);
    put_desc(f, 0, 0x8000, 16, F_INDIRECT | F_NEXT, 1);
    put_desc(f, 1, BUF_GPA, 1, 0, 0);
    avail_add(f, 0);
    expect_broken(f);
}

static void test_indirect_next_out_of_table(Fixture *f, gconstpointer data)
{
    enable(f, FEAT_INDIRECT);
    /* next = 2 in a two-entry table; entry 2 is in RAM but not the table */
    put_desc_at(f, 0x8000, 0, BUF_GPA, 1, F_NEXT, 2);
    put_desc_at(f, 0x8000, 2, BUF_GPA, 1, 0, 0);
    put_desc(f, 0, 0x8000, 32, F_INDIRECT, 0);
    avail_add(f, 0);
    expect_broken(f);
}

static void test_indirect_loop(Fixture *f, gconstpointer data)
{
    enable(f, FEAT_INDIRECT);
    put_desc_at(f, 0x8000, 0, BUF_GPA, 1, F_NEXT, 1);
    put_desc_at(f, 0x8000, 1, BUF_GPA, 1, F_NEXT, 0);
    put_desc(f, 0, 0x8000, 32, F_INDIRECT, 0);
    avail_add(f, 0);
    expect_broken(f);
}

static void test_indirect_past_ram(Fixture *f, gconstpointer data)
{
    enable(f, FEAT_INDIRECT);
    put_desc(f, 0, RAM_SIZE - 16, 32, F_INDIRECT, 0);
    avail_add(f, 0);
    expect_broken(f);
}

static void test_readable_after_writable(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    put_desc(f, 0, BUF_GPA, 1, F_WRITE | F_NEXT, 1);
    put_desc(f, 1, BUF_GPA, 1, 0, 0);
    avail_add(f, 0);
    expect_broken(f);
}

static void test_avail_idx_jump(Fixture *f, gconstpointer data)
{
    enable(f, 0);
    put_desc(f, 0, BUF_GPA, 1, 0, 0);
    put16(f, AVAIL_GPA + 2, QSIZE + 1);
    expect_broken(f);
}

/* Exactly QSIZE outstanding is allowed. */
static void test_avail_idx_full(Fixture *f, gconstpointer data)
{
    VirtqElement e;

    enable(f, 0);
    for (unsigned i = 0; i < QSIZE; i++) {
        put_desc(f, i, BUF_GPA, 1, 0, 0);
        avail_add(f, i);
    }
    for (unsigned i = 0; i < QSIZE; i++) {
        g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 1);
        virtqueue_element_clear(&e);
    }
    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 0);
}

static void test_reset_after_broken(Fixture *f, gconstpointer data)
{
    VirtqElement e;

    enable(f, 0);
    avail_add(f, 0xffff);
    expect_broken(f);
    virtqueue_reset(f->vq);
    g_assert_false(virtqueue_broken(f->vq));
    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 0);   /* not ready */
    virtqueue_set_desc_addr(f->vq, DESC_GPA);
    virtqueue_set_avail_addr(f->vq, AVAIL_GPA);
    virtqueue_set_used_addr(f->vq, USED_GPA);
    put16(f, AVAIL_GPA + 2, 0);
    f->avail_idx = 0;
    enable(f, 0);
    put_desc(f, 0, BUF_GPA, 1, 0, 0);
    avail_add(f, 0);
    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 1);
    virtqueue_element_clear(&e);
}

/* Zero-length buffers map nothing and are not errors. */
static void test_zero_len_buffer(Fixture *f, gconstpointer data)
{
    VirtqElement e;

    enable(f, 0);
    put_desc(f, 0, 0xfffffffffffff000ULL, 0, F_NEXT, 1);
    put_desc(f, 1, BUF_GPA, 4, F_WRITE, 0);
    avail_add(f, 0);
    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, 1);
    g_assert_cmpuint(e.out_num, ==, 0);
    g_assert_cmpuint(e.in_num, ==, 1);
    virtqueue_element_clear(&e);
}

static void test_iov_copy(void)
{
    uint8_t a[3], b[5], c[2], out[10];
    struct iovec iov[] = {
        { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) },
    };
    const uint8_t src[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };

    g_assert_cmpuint(iov_from_buf(iov, 3, 0, src, 10), ==, 10);
    g_assert_cmpuint(a[2], ==, 2);
    g_assert_cmpuint(b[0], ==, 3);
    g_assert_cmpuint(c[1], ==, 9);
    memset(out, 0xee, sizeof(out));
    g_assert_cmpuint(iov_to_buf(iov, 3, 2, out, 10), ==, 8);
    g_assert_cmpmem(out, 8, src + 2, 8);
    g_assert_cmpuint(out[8], ==, 0xee);
    g_assert_cmpuint(iov_to_buf(iov, 3, 4, out, 3), ==, 3);
    g_assert_cmpmem(out, 3, src + 4, 3);
    g_assert_cmpuint(iov_to_buf(iov, 3, 10, out, 3), ==, 0);
    g_assert_cmpuint(iov_to_buf(iov, 3, 100, out, 3), ==, 0);
    g_assert_cmpuint(iov_from_buf(iov, 3, 9, src, 5), ==, 1);
    g_assert_cmpuint(c[1], ==, 0);
    g_assert_cmpuint(iov_from_buf(iov, 0, 0, src, 5), ==, 0);
}

#define ADD(path, fn)                                                       \
    g_test_add("/virtqueue/" path, Fixture, NULL, fx_setup, fn, fx_teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ADD("simple-chain", test_simple_chain);
    ADD("written-clamped", test_written_clamped);
    ADD("ring-wraps", test_ring_wraps);
    ADD("indirect", test_indirect);
    ADD("direct-then-indirect", test_direct_then_indirect);
    ADD("event-idx", test_event_idx);
    ADD("event-idx-wrap", test_event_idx_wrap);
    ADD("no-interrupt-flag", test_no_interrupt_flag);
    ADD("set-notification", test_set_notification);
    ADD("set-notification-event-idx", test_set_notification_event_idx);
    ADD("enable-checks", test_enable_checks);
    ADD("smaller-size", test_smaller_size);
    ADD("full-length-chain", test_full_length_chain);
    ADD("len-max-ok", test_len_max_ok);
    ADD("zero-len-buffer", test_zero_len_buffer);
    ADD("avail-idx-full", test_avail_idx_full);
    ADD("reset-after-broken", test_reset_after_broken);
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
    g_test_add_func("/virtqueue/iov-copy", test_iov_copy);
    return g_test_run();
}
