/*
 * Shared by the virtqueue unit tests (test-virtqueue.c, the well-behaved
 * driver; test-virtqueue-hostile.c, the chains that must break the queue):
 * one queue of QSIZE entries on real guest RAM (guest_mem_new, no KVM
 * needed), whose rings the tests write by hand as a driver would (virtio
 * 1.2 2.7.5 descriptor table, 2.7.6 available ring, 2.7.8 used ring).
 */
#ifndef VMSPEC_TESTS_VIRTQUEUE_TEST_H
#define VMSPEC_TESTS_VIRTQUEUE_TEST_H

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

static inline void fx_setup(Fixture *f, gconstpointer data)
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

static inline void fx_teardown(Fixture *f, gconstpointer data)
{
    virtqueue_free(f->vq);
    guest_mem_free(f->mem);
}

static inline void put16(Fixture *f, uint64_t gpa, uint16_t v)
{
    le16_store(f->ram + gpa, v);
}

static inline uint16_t get16(Fixture *f, uint64_t gpa)
{
    return le16_load(f->ram + gpa);
}

static inline uint32_t get32(Fixture *f, uint64_t gpa)
{
    return le32_load(f->ram + gpa);
}

static inline void put_desc_at(Fixture *f, uint64_t table, unsigned i,
                               uint64_t addr, uint32_t len, uint16_t flags,
                               uint16_t next)
{
    uint8_t *d = f->ram + table + 16 * i;

    le64_store(d, addr);
    le32_store(d + 8, len);
    le16_store(d + 12, flags);
    le16_store(d + 14, next);
}

static inline void put_desc(Fixture *f, unsigned i, uint64_t addr,
                            uint32_t len, uint16_t flags, uint16_t next)
{
    put_desc_at(f, DESC_GPA, i, addr, len, flags, next);
}

/* Makes head available and publishes the new avail->idx. */
static inline void avail_add(Fixture *f, uint16_t head)
{
    put16(f, AVAIL_GPA + 4 + 2 * (f->avail_idx % QSIZE), head);
    f->avail_idx++;
    put16(f, AVAIL_GPA + 2, f->avail_idx);
}

static inline void enable(Fixture *f, uint64_t features)
{
    g_assert_true(virtqueue_enable(f->vq, features));
    g_assert_true(virtqueue_ready(f->vq));
}

static inline void expect_broken(Fixture *f)
{
    VirtqElement e;

    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, -1);
    g_assert_true(virtqueue_broken(f->vq));
    g_assert_null(e.out_iov);
    g_assert_null(e.in_iov);
    /* Stays broken until reset. */
    g_assert_cmpint(virtqueue_pop(f->vq, &e), ==, -1);
}

#define ADD(path, fn)                                                       \
    g_test_add("/virtqueue/" path, Fixture, NULL, fx_setup, fn, fx_teardown)

#endif
