/*
 * Split virtqueues (virtio 1.2, 2.7 "Split Virtqueues"), with indirect
 * descriptors (2.7.5.3) and VIRTIO_F_EVENT_IDX (2.7.7, 2.7.10).
 *
 * The guest is hostile: every address, length and index it supplies is
 * checked before use.  A descriptor chain that loops, is longer than the
 * queue, points outside guest RAM, nests indirect tables or puts
 * device-readable after device-writable buffers makes virtqueue_pop() fail;
 * the device is then put into NEEDS_RESET and the queue stops.  Nothing here
 * touches host memory outside guest RAM.
 *
 * Threads: one thread processes a queue at a time (the device's I/O thread,
 * or a test).  Setup (virtqueue_set_*) happens on vCPU threads while the
 * queue is not running.
 */
#ifndef VMSPEC_VIRTIO_QUEUE_H
#define VMSPEC_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <glib.h>

#include "machine/kvm/guest-mem.h"

#define VIRTQ_MAX_SIZE 32768

typedef struct VirtQueue VirtQueue;

/* One request taken from the available ring: its buffers mapped into host
 * memory.  out_iov are device-readable (the driver's data), in_iov
 * device-writable.  Owned by the caller until virtqueue_push(). */
typedef struct VirtqElement {
    uint16_t head;              /* descriptor index to return */
    unsigned out_num;
    unsigned in_num;
    size_t out_len;             /* total bytes in out_iov */
    size_t in_len;              /* total bytes in in_iov */
    struct iovec *out_iov;      /* into guest RAM; valid until push */
    struct iovec *in_iov;
} VirtqElement;

/* A queue of at most max_size entries for a device on guest RAM mem.
 * feature bits are read from *guest_features (the device's) at
 * virtqueue_start. */
VirtQueue *virtqueue_new(GuestMem *mem, uint16_t max_size);
void virtqueue_free(VirtQueue *vq);

/* Driver-side configuration (virtio-mmio QueueNum, QueueDesc..., QueueReady).
 * Only while not ready. */
uint16_t virtqueue_max_size(const VirtQueue *vq);
void virtqueue_set_size(VirtQueue *vq, uint16_t size);
void virtqueue_set_desc_addr(VirtQueue *vq, uint64_t gpa);
void virtqueue_set_avail_addr(VirtQueue *vq, uint64_t gpa);
void virtqueue_set_used_addr(VirtQueue *vq, uint64_t gpa);
uint16_t virtqueue_size(const VirtQueue *vq);
uint64_t virtqueue_desc_addr(const VirtQueue *vq);
uint64_t virtqueue_avail_addr(const VirtQueue *vq);
uint64_t virtqueue_used_addr(const VirtQueue *vq);

/* QueueReady=1: validates size (power of two, <= max) and that the three
 * rings lie in guest RAM, with the negotiated features (INDIRECT_DESC,
 * EVENT_IDX).  False (queue stays not ready) when they don't. */
bool virtqueue_enable(VirtQueue *vq, uint64_t guest_features);
bool virtqueue_ready(const VirtQueue *vq);

/* Back to the reset state (not ready, indexes 0, addresses 0). */
void virtqueue_reset(VirtQueue *vq);

/*
 * Takes the next available request into *elem.  Returns 1 on success, 0
 * when the ring is empty, -1 when the driver broke the rules (the queue is
 * then marked broken and returns -1 until reset; the caller sets the
 * device's NEEDS_RESET).  On success the caller must virtqueue_push() the
 * element and then virtqueue_element_clear() it.
 */
int virtqueue_pop(VirtQueue *vq, VirtqElement *elem);

/* Releases an element's iovec arrays (not the guest memory). */
void virtqueue_element_clear(VirtqElement *elem);

/* Returns elem to the used ring, saying written bytes of in_iov were
 * filled.  Does not notify. */
void virtqueue_push(VirtQueue *vq, const VirtqElement *elem,
                    uint32_t written);

/* Publishes the pushed entries (used->idx, with the memory barrier) and
 * returns whether the driver wants an interrupt for them (EVENT_IDX's
 * used_event, or !VIRTQ_AVAIL_F_NO_INTERRUPT). */
bool virtqueue_flush(VirtQueue *vq);

/* With EVENT_IDX, writes avail_event so the driver notifies again after
 * the next buffer; without it, toggles VIRTQ_USED_F_NO_NOTIFY.  enable
 * false suppresses notifications while the device is busy polling.
 * Returns true if buffers became available meanwhile (re-check). */
bool virtqueue_set_notification(VirtQueue *vq, bool enable);

/*
 * Handles one request taken by virtqueue_drain(): sets *written to the
 * bytes it filled in elem's in_iov.  Returns false when the request breaks
 * the device's rules; the element is then dropped, not pushed.
 */
typedef bool (*VirtqueueRequestFn)(void *opaque, VirtqElement *elem,
                                   uint32_t *written);

/*
 * Handles every request the driver made available, as virtio 1.2 2.7.10
 * and 2.7.7.2 (EVENT_IDX) ask of a device that processes a queue until
 * it is empty: notifications off, pop and handle until the ring is empty,
 * notifications back on, and round again if buffers came meanwhile (the
 * re-check that keeps a notification-less buffer from waiting forever).
 * Each element is pushed and cleared; the used ring is flushed after every
 * flush_every requests (1: each request completes at once; more batches
 * interrupts) and at the end.  *notify becomes true when a flush says the
 * driver wants an interrupt (it is never set false).  Returns false when
 * the queue broke (a bad chain, or handle() refused a request): the
 * caller sets the device's NEEDS_RESET.  The queue's processing thread.
 */
bool virtqueue_drain(VirtQueue *vq, unsigned flush_every,
                     VirtqueueRequestFn handle, void *opaque, bool *notify);

/* True when the queue was marked broken by a bad chain. */
bool virtqueue_broken(const VirtQueue *vq);

/* Helpers to copy between an iovec array and a flat buffer, at offset;
 * return the bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t offset,
                  void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t offset,
                    const void *buf, size_t len);

#endif
