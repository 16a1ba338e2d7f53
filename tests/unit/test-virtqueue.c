/* Split virtqueues driven by a well-behaved driver: chains, indirect
 * tables, EVENT_IDX suppression, enable-time checks, virtqueue_drain()
 * and the iovec copies (the hostile cases are in
 * test-virtqueue-hostile.c). */
#include "tests/unit/virtqueue-test.h"

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

/* ---- limits a driver may reach ---- */

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

/* ---- virtqueue_drain ---- */

typedef struct DrainCall {
    Fixture *f;
    unsigned calls;
    unsigned refuse_at;         /* 1-based call to refuse; 0: none */
    unsigned add_at;            /* 1-based call that makes one more
                                 * request available; 0: none */
    bool notify_was_off;        /* USED_F_NO_NOTIFY during every call */
} DrainCall;

static bool drain_handle(void *opaque, VirtqElement *elem, uint32_t *written)
{
    DrainCall *c = opaque;

    c->calls++;
    if (!(get16(c->f, USED_GPA) & 1)) {             /* VIRTQ_USED_F_NO_NOTIFY */
        c->notify_was_off = false;
    }
    if (c->calls == c->add_at) {
        put_desc(c->f, 5, BUF_GPA + 0x500, 8, F_WRITE, 0);
        avail_add(c->f, 5);
    }
    if (c->calls == c->refuse_at) {
        return false;
    }
    *written = (uint32_t)elem->in_len;
    return true;
}

/* Every request is handled with notifications suppressed, pushed with
 * what was written, flushed, and notifications are on again at the end;
 * one made available while handling is taken in the same drain. */
static void test_drain(Fixture *f, gconstpointer data)
{
    DrainCall c = { .f = f, .add_at = 2, .notify_was_off = true };
    bool notify = false;

    enable(f, 0);
    for (unsigned i = 0; i < 3; i++) {
        put_desc(f, i, BUF_GPA + 0x100 * i, 16 + i, F_WRITE, 0);
        avail_add(f, (uint16_t)i);
    }
    g_assert_true(virtqueue_drain(f->vq, 2, drain_handle, &c, &notify));
    g_assert_cmpuint(c.calls, ==, 4);
    g_assert_true(c.notify_was_off);
    g_assert_true(notify);
    g_assert_cmpuint(get16(f, USED_GPA + 2), ==, 4);
    g_assert_cmpuint(get32(f, USED_GPA + 4), ==, 0);        /* id */
    g_assert_cmpuint(get32(f, USED_GPA + 8), ==, 16);       /* len */
    g_assert_cmpuint(get32(f, USED_GPA + 4 + 8 * 3), ==, 5);
    g_assert_cmpuint(get32(f, USED_GPA + 8 + 8 * 3), ==, 8);
    g_assert_cmpuint(get16(f, USED_GPA) & 1, ==, 0);
    /* Nothing left: no handler call, nothing to interrupt for. */
    notify = false;
    g_assert_true(virtqueue_drain(f->vq, 1, drain_handle, &c, &notify));
    g_assert_cmpuint(c.calls, ==, 4);
    g_assert_false(notify);
}

/* A refused request is dropped, not pushed; the drain stops there and
 * says so, and the ones before it are still published. */
static void test_drain_refused(Fixture *f, gconstpointer data)
{
    DrainCall c = { .f = f, .refuse_at = 2 };
    bool notify = false;

    enable(f, 0);
    for (unsigned i = 0; i < 3; i++) {
        put_desc(f, i, BUF_GPA + 0x100 * i, 4, F_WRITE, 0);
        avail_add(f, (uint16_t)i);
    }
    g_assert_false(virtqueue_drain(f->vq, 32, drain_handle, &c, &notify));
    g_assert_cmpuint(c.calls, ==, 2);
    g_assert_true(notify);
    g_assert_cmpuint(get16(f, USED_GPA + 2), ==, 1);
}

/* A chain that breaks the queue ends the drain with false. */
static void test_drain_broken(Fixture *f, gconstpointer data)
{
    DrainCall c = { .f = f };
    bool notify = false;

    enable(f, 0);
    avail_add(f, QSIZE);                            /* head out of range */
    g_assert_false(virtqueue_drain(f->vq, 1, drain_handle, &c, &notify));
    g_assert_cmpuint(c.calls, ==, 0);
    g_assert_false(notify);
    g_assert_true(virtqueue_broken(f->vq));
}

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
    g_test_add_func("/virtqueue/iov-copy", test_iov_copy);
    ADD("drain", test_drain);
    ADD("drain-refused", test_drain_refused);
    ADD("drain-broken", test_drain_broken);
    return g_test_run();
}
