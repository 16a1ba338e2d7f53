/*
 * Split virtqueues (virtio 1.2, 2.7), device side.
 *
 * Layout in guest memory (2.7, table "Virtqueue Part Alignment and Size"):
 *   descriptor table  16 * size bytes, 16-byte aligned
 *   available ring    flags, idx, ring[size], used_event: 6 + 2 * size,
 *                     2-byte aligned
 *   used ring         flags, idx, ring[size] {id, len}, avail_event:
 *                     6 + 8 * size, 4-byte aligned
 * The three areas are translated to host pointers once, when the driver
 * enables the queue; each must lie inside one RAM region.  Every field the
 * guest can change is loaded once into a local before it is checked, so a
 * concurrent change cannot bypass the checks.
 */
#include "machine/virtio/queue.h"

#include <string.h>

/* 2.7.5 "The Virtqueue Descriptor Table". */
#define VIRTQ_DESC_F_NEXT       1
#define VIRTQ_DESC_F_WRITE      2
#define VIRTQ_DESC_F_INDIRECT   4
#define VIRTQ_DESC_SIZE         16

/* 2.7.6 / 2.7.8: ring flags. */
#define VIRTQ_AVAIL_F_NO_INTERRUPT  1
#define VIRTQ_USED_F_NO_NOTIFY      1

/* Feature bits this file reads (virtio 1.2, 6). */
#define VQ_F_INDIRECT_DESC      28
#define VQ_F_EVENT_IDX          29

/* The largest indirect table accepted (entries); one table may describe
 * more buffers than the queue has entries (2.7.5.3.1 limits only the
 * driver's use of chained descriptors). */
#define VIRTQ_MAX_INDIRECT      VIRTQ_MAX_SIZE

typedef struct VirtqDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
} VirtqDesc;

struct VirtQueue {
    GuestMem *mem;
    uint16_t max_size;
    uint16_t size;
    uint64_t desc_gpa;
    uint64_t avail_gpa;
    uint64_t used_gpa;

    bool ready;
    bool broken;
    bool indirect;
    bool event_idx;
    bool notify_enabled;

    uint8_t *desc;              /* host views, valid while ready */
    uint8_t *avail;
    uint8_t *used;

    uint16_t last_avail_idx;    /* next avail entry to take */
    uint16_t used_idx;          /* next used entry to fill (unpublished) */
    uint16_t flushed_idx;       /* used->idx as last published */
};

/* A compiler barrier: the guest may rewrite what was just copied. */
#define GUEST_COPY_BARRIER() __asm__ __volatile__("" ::: "memory")

VirtQueue *virtqueue_new(GuestMem *mem, uint16_t max_size)
{
    VirtQueue *vq = g_new0(VirtQueue, 1);

    g_assert(max_size >= 1 && max_size <= VIRTQ_MAX_SIZE);
    vq->mem = mem;
    vq->max_size = max_size;
    virtqueue_reset(vq);
    return vq;
}

void virtqueue_free(VirtQueue *vq)
{
    g_free(vq);
}

void virtqueue_reset(VirtQueue *vq)
{
    vq->size = vq->max_size;    /* 4.2.2: QueueNum's reset value */
    vq->desc_gpa = vq->avail_gpa = vq->used_gpa = 0;
    vq->ready = vq->broken = false;
    vq->indirect = vq->event_idx = false;
    vq->notify_enabled = true;
    vq->desc = vq->avail = vq->used = NULL;
    vq->last_avail_idx = vq->used_idx = vq->flushed_idx = 0;
}

uint16_t virtqueue_max_size(const VirtQueue *vq)
{
    return vq->max_size;
}

void virtqueue_set_size(VirtQueue *vq, uint16_t size)
{
    if (!vq->ready) {
        vq->size = size;
    }
}

/* A live queue's areas stay where they are (virtio 1.2, 4.2.2.2: the
 * driver writes them only while QueueReady is 0). */
static void set_area_if_not_ready(VirtQueue *vq, uint64_t *area, uint64_t gpa)
{
    if (!vq->ready) {
        *area = gpa;
    }
}

void virtqueue_set_desc_addr(VirtQueue *vq, uint64_t gpa)
{
    set_area_if_not_ready(vq, &vq->desc_gpa, gpa);
}

void virtqueue_set_avail_addr(VirtQueue *vq, uint64_t gpa)
{
    set_area_if_not_ready(vq, &vq->avail_gpa, gpa);
}

void virtqueue_set_used_addr(VirtQueue *vq, uint64_t gpa)
{
    set_area_if_not_ready(vq, &vq->used_gpa, gpa);
}

uint16_t virtqueue_size(const VirtQueue *vq)
{
    return vq->size;
}

uint64_t virtqueue_desc_addr(const VirtQueue *vq)
{
    return vq->desc_gpa;
}

uint64_t virtqueue_avail_addr(const VirtQueue *vq)
{
    return vq->avail_gpa;
}

uint64_t virtqueue_used_addr(const VirtQueue *vq)
{
    return vq->used_gpa;
}

bool virtqueue_enable(VirtQueue *vq, uint64_t guest_features)
{
    uint64_t n;

    if (vq->ready) {
        return true;
    }
    n = vq->size;
    /* 2.7: Queue Size is a power of 2 (the driver may lower it, 4.2.3.2). */
    if (n == 0 || n > vq->max_size || (n & (n - 1))) {
        return false;
    }
    if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3)) {
        return false;
    }
    vq->desc = guest_mem_translate(vq->mem, vq->desc_gpa,
                                   VIRTQ_DESC_SIZE * n);
    vq->avail = guest_mem_translate(vq->mem, vq->avail_gpa, 6 + 2 * n);
    vq->used = guest_mem_translate(vq->mem, vq->used_gpa, 6 + 8 * n);
    if (!vq->desc || !vq->avail || !vq->used) {
        vq->desc = vq->avail = vq->used = NULL;
        return false;
    }
    vq->indirect = (guest_features >> VQ_F_INDIRECT_DESC) & 1;
    vq->event_idx = (guest_features >> VQ_F_EVENT_IDX) & 1;
    vq->notify_enabled = true;
    vq->broken = false;
    vq->last_avail_idx = vq->used_idx = vq->flushed_idx = 0;
    vq->ready = true;
    return true;
}

bool virtqueue_ready(const VirtQueue *vq)
{
    return vq->ready;
}

bool virtqueue_broken(const VirtQueue *vq)
{
    return vq->broken;
}

/* Accessors for the ring fields (all naturally aligned by enable).  Both
 * split rings (2.7.6, 2.7.8) begin with le16 flags and le16 idx, and each
 * ends with the event index the other side writes, where entry [size]
 * would be. */
static uint16_t *ring_flags(uint8_t *ring)
{
    return (uint16_t *)ring;
}

static uint16_t *ring_idx(uint8_t *ring)
{
    return (uint16_t *)(ring + 2);
}

static uint16_t *avail_ring(VirtQueue *vq, uint16_t i)
{
    return (uint16_t *)(vq->avail + 4 + 2 * (size_t)i);
}

static uint32_t *used_ring(VirtQueue *vq, uint16_t i)
{
    return (uint32_t *)(vq->used + 4 + 8 * (size_t)i);
}

static uint16_t *used_event(VirtQueue *vq)
{
    return avail_ring(vq, vq->size);
}

static uint16_t *avail_event(VirtQueue *vq)
{
    return (uint16_t *)used_ring(vq, vq->size);
}

/* Growable iovec array. */
typedef struct IovBuilder {
    struct iovec *iov;
    unsigned num;
    unsigned cap;
} IovBuilder;

static void iov_builder_add(IovBuilder *b, void *base, size_t len)
{
    if (b->num == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 8;
        b->iov = g_renew(struct iovec, b->iov, b->cap);
    }
    b->iov[b->num].iov_base = base;
    b->iov[b->num].iov_len = len;
    b->num++;
}

typedef struct ChainState {
    IovBuilder out;
    IovBuilder in;
    uint64_t out_len;
    uint64_t in_len;
} ChainState;

/* Adds one buffer descriptor (never an indirect one) to the chain. */
static bool chain_add(VirtQueue *vq, ChainState *cs, const VirtqDesc *d)
{
    void *host;

    /* 2.7.4.2: device-readable buffers come first. */
    if (!(d->flags & VIRTQ_DESC_F_WRITE) && cs->in.num) {
        return false;
    }
    /* used->len is 32 bits; no request may be larger than that. */
    if (cs->out_len + cs->in_len + d->len > UINT32_MAX) {
        return false;
    }
    if (d->len == 0) {
        return true;            /* nothing to map */
    }
    host = guest_mem_translate(vq->mem, d->addr, d->len);
    if (!host) {
        return false;
    }
    if (d->flags & VIRTQ_DESC_F_WRITE) {
        iov_builder_add(&cs->in, host, d->len);
        cs->in_len += d->len;
    } else {
        iov_builder_add(&cs->out, host, d->len);
        cs->out_len += d->len;
    }
    return true;
}

static void desc_load(const uint8_t *table, unsigned i, VirtqDesc *d)
{
    memcpy(d, table + (size_t)i * VIRTQ_DESC_SIZE, sizeof(*d));
    GUEST_COPY_BARRIER();
}

/* Walks an indirect table (2.7.5.3): its own NEXT links, bounded by its
 * entry count; no nested tables. */
static bool chain_indirect(VirtQueue *vq, ChainState *cs, const VirtqDesc *d)
{
    const uint8_t *table;
    unsigned num, i = 0, count = 0;
    VirtqDesc id;

    if (!vq->indirect || (d->flags & VIRTQ_DESC_F_NEXT) ||
        d->len == 0 || d->len % VIRTQ_DESC_SIZE ||
        d->len / VIRTQ_DESC_SIZE > VIRTQ_MAX_INDIRECT) {
        return false;
    }
    num = d->len / VIRTQ_DESC_SIZE;
    table = guest_mem_translate(vq->mem, d->addr, d->len);
    if (!table) {
        return false;
    }
    for (;;) {
        if (++count > num) {
            return false;       /* a loop inside the table */
        }
        desc_load(table, i, &id);
        if (id.flags & VIRTQ_DESC_F_INDIRECT) {
            return false;       /* 2.7.5.3.1: no nesting */
        }
        if (!chain_add(vq, cs, &id)) {
            return false;
        }
        if (!(id.flags & VIRTQ_DESC_F_NEXT)) {
            return true;
        }
        if (id.next >= num) {
            return false;
        }
        i = id.next;
    }
}

static int pop_fail(VirtQueue *vq, ChainState *cs)
{
    g_free(cs->out.iov);
    g_free(cs->in.iov);
    vq->broken = true;
    return -1;
}

int virtqueue_pop(VirtQueue *vq, VirtqElement *elem)
{
    ChainState cs = { 0 };
    uint16_t idx, head, i;
    unsigned count = 0;
    VirtqDesc d;

    memset(elem, 0, sizeof(*elem));
    if (!vq->ready || vq->broken) {
        return vq->broken ? -1 : 0;
    }
    /* 2.7.13: read the index, then (acquire) the entries it covers. */
    idx = __atomic_load_n(ring_idx(vq->avail), __ATOMIC_ACQUIRE);
    if ((uint16_t)(idx - vq->last_avail_idx) > vq->size) {
        return pop_fail(vq, &cs);
    }
    if (idx == vq->last_avail_idx) {
        return 0;
    }
    head = __atomic_load_n(avail_ring(vq, vq->last_avail_idx % vq->size),
                           __ATOMIC_RELAXED);
    if (head >= vq->size) {
        return pop_fail(vq, &cs);
    }
    i = head;
    for (;;) {
        if (++count > vq->size) {
            return pop_fail(vq, &cs);   /* a loop, or longer than queue */
        }
        desc_load(vq->desc, i, &d);
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (!chain_indirect(vq, &cs, &d)) {
                return pop_fail(vq, &cs);
            }
            break;
        }
        if (!chain_add(vq, &cs, &d)) {
            return pop_fail(vq, &cs);
        }
        if (!(d.flags & VIRTQ_DESC_F_NEXT)) {
            break;
        }
        if (d.next >= vq->size) {
            return pop_fail(vq, &cs);
        }
        i = d.next;
    }
    vq->last_avail_idx++;
    if (vq->event_idx && vq->notify_enabled) {
        /* 2.7.10: notify again once the driver passes this entry. */
        __atomic_store_n(avail_event(vq), vq->last_avail_idx,
                         __ATOMIC_RELAXED);
        /* Before the next look at avail->idx, or a buffer the driver adds
         * meanwhile could go unnotified. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    }
    elem->head = head;
    elem->out_iov = cs.out.iov;
    elem->out_num = cs.out.num;
    elem->out_len = cs.out_len;
    elem->in_iov = cs.in.iov;
    elem->in_num = cs.in.num;
    elem->in_len = cs.in_len;
    return 1;
}

void virtqueue_element_clear(VirtqElement *elem)
{
    g_free(elem->out_iov);
    g_free(elem->in_iov);
    memset(elem, 0, sizeof(*elem));
}

void virtqueue_push(VirtQueue *vq, const VirtqElement *elem,
                    uint32_t written)
{
    uint32_t *e;

    if (!vq->ready) {
        return;
    }
    if (written > elem->in_len) {
        written = (uint32_t)elem->in_len;
    }
    e = used_ring(vq, vq->used_idx % vq->size);
    __atomic_store_n(&e[0], (uint32_t)elem->head, __ATOMIC_RELAXED);
    __atomic_store_n(&e[1], written, __ATOMIC_RELAXED);
    vq->used_idx++;
}

/* 2.7.10: true when new_idx has moved past event since old. */
static bool vring_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtqueue_flush(VirtQueue *vq)
{
    uint16_t old = vq->flushed_idx, new_idx = vq->used_idx;

    if (!vq->ready || old == new_idx) {
        return false;
    }
    /* 2.7.13.3: ring entries before the index that publishes them. */
    __atomic_store_n(ring_idx(vq->used), new_idx, __ATOMIC_RELEASE);
    vq->flushed_idx = new_idx;
    /* The index store before the driver's suppression fields are read. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (vq->event_idx) {
        uint16_t ev = __atomic_load_n(used_event(vq), __ATOMIC_RELAXED);

        return vring_need_event(ev, new_idx, old);
    }
    return !(__atomic_load_n(ring_flags(vq->avail), __ATOMIC_RELAXED) &
             VIRTQ_AVAIL_F_NO_INTERRUPT);
}

bool virtqueue_set_notification(VirtQueue *vq, bool enable)
{
    uint16_t idx;

    if (!vq->ready) {
        return false;
    }
    vq->notify_enabled = enable;
    if (vq->event_idx) {
        if (enable) {
            idx = __atomic_load_n(ring_idx(vq->avail), __ATOMIC_RELAXED);
            __atomic_store_n(avail_event(vq), idx, __ATOMIC_RELAXED);
        }
    } else {
        __atomic_store_n(ring_flags(vq->used),
                         enable ? 0 : VIRTQ_USED_F_NO_NOTIFY,
                         __ATOMIC_RELAXED);
    }
    if (!enable) {
        return false;
    }
    /* The suppression change before the re-check of avail->idx. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    idx = __atomic_load_n(ring_idx(vq->avail), __ATOMIC_ACQUIRE);
    return idx != vq->last_avail_idx;
}

bool virtqueue_drain(VirtQueue *vq, unsigned flush_every,
                     VirtqueueRequestFn handle, void *opaque, bool *notify)
{
    unsigned handled = 0;
    bool ok = true;
    int r;

    g_assert(flush_every > 0);
    do {
        VirtqElement elem;

        virtqueue_set_notification(vq, false);
        while ((r = virtqueue_pop(vq, &elem)) == 1) {
            uint32_t written = 0;

            ok = handle(opaque, &elem, &written);
            if (ok) {
                virtqueue_push(vq, &elem, written);
            }
            virtqueue_element_clear(&elem);
            if (!ok) {
                break;
            }
            if (++handled % flush_every == 0) {
                *notify |= virtqueue_flush(vq);
            }
        }
        ok = ok && r == 0;
    } while (ok && virtqueue_set_notification(vq, true));
    *notify |= virtqueue_flush(vq);
    return ok;
}

/* Copies between buf and the iovec's bytes from offset on, either way. */
static size_t iov_copy(const struct iovec *iov, unsigned n, size_t offset,
                       uint8_t *buf, size_t len, bool into_iov)
{
    size_t done = 0;

    for (unsigned i = 0; i < n && done < len; i++) {
        uint8_t *base = iov[i].iov_base;
        size_t chunk;

        if (offset >= iov[i].iov_len) {
            offset -= iov[i].iov_len;
            continue;
        }
        chunk = MIN(iov[i].iov_len - offset, len - done);
        if (into_iov) {
            memcpy(base + offset, buf + done, chunk);
        } else {
            memcpy(buf + done, base + offset, chunk);
        }
        done += chunk;
        offset = 0;
    }
    return done;
}

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t offset,
                  void *buf, size_t len)
{
    return iov_copy(iov, n, offset, buf, len, false);
}

size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t offset,
                    const void *buf, size_t len)
{
    /* Only read from: iov_copy writes buf only when copying out. */
    return iov_copy(iov, n, offset, (uint8_t *)buf, len, true);
}
