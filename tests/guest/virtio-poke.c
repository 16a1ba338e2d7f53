/*
 * virtio-poke rng | vsock-garbage: a user-space virtio-mmio driver for the
 * hostile-guest tests (tests/guest/scenarios/vsock-hostile).  It takes a
 * device away from the kernel and drives it by hand, as a malicious guest
 * could:
 *   1. finds the virtio-mmio platform device (ACPI LNRO0005:NN on the
 *      microvm) whose virtio child has the wanted device id (virtio 1.2
 *      section 5: 4 entropy, 19 socket), and its MMIO window in /proc/iomem;
 *   2. unbinds it from the virtio-mmio platform driver, so that its window
 *      is no driver's (CONFIG_IO_STRICT_DEVMEM lets /dev/mem map only such
 *      I/O memory) and maps the registers from /dev/mem;
 *   3. initializes it (virtio 1.2 section 3.1.1, registers of 4.2.2, queue
 *      setup of 4.2.3.2) with VIRTIO_F_VERSION_1 only, its queues in
 *      mlock-ed pages whose guest-physical addresses come from
 *      /proc/self/pagemap (Linux Documentation/admin-guide/mm/pagemap.rst);
 *      no interrupts: the used rings are polled;
 *   4. rng: one 64-byte device-writable buffer on queue 0, prints
 *      "virtio-poke: rng ok len=N HEX";
 *      vsock-garbage: malformed packets on the TX queue (1), after each
 *      what the device did: its status (NEEDS_RESET, 64, when it gave up:
 *      virtio 1.2 section 2.1.2) and used index, and what came back on RX;
 *   5. resets the device (status 0) and binds it to virtio-mmio again, so
 *      that the kernel's driver takes it back.
 * Output: "virtio-poke: ..." lines on stdout; exit 0, or 1 with a reason
 * on stderr when the device could not be found or set up.
 *
 * No libc, like udp-echo.c (which says why); x86_64 only (the microvm's
 * ACPI names; and pagemap-based DMA needs a coherent machine).
 */
#include <stddef.h>
#include <asm/unistd.h>
#include <linux/fcntl.h>
#include <linux/mman.h>
#include <linux/time.h>

#include "syscall.h"

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define SYS(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define PAGE 4096UL
#define EINTR 4

/* virtio 1.2 section 4.2.2: the MMIO registers (byte offsets). */
enum {
    R_MAGIC = 0x000, R_VERSION = 0x004, R_DEVICE_ID = 0x008,
    R_DEV_FEATURES = 0x010, R_DEV_FEATURES_SEL = 0x014,
    R_DRV_FEATURES = 0x020, R_DRV_FEATURES_SEL = 0x024,
    R_QUEUE_SEL = 0x030, R_QUEUE_NUM_MAX = 0x034, R_QUEUE_NUM = 0x038,
    R_QUEUE_READY = 0x044, R_QUEUE_NOTIFY = 0x050, R_INT_STATUS = 0x060,
    R_INT_ACK = 0x064, R_STATUS = 0x070,
    R_DESC_LO = 0x080, R_DESC_HI = 0x084, R_DRIVER_LO = 0x090,
    R_DRIVER_HI = 0x094, R_DEVICE_LO = 0x0a0, R_DEVICE_HI = 0x0a4,
    R_CONFIG_GEN = 0x0fc, R_CONFIG = 0x100,
};
/* virtio 1.2 section 2.1: device status bits. */
enum {
    S_ACKNOWLEDGE = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8,
    S_NEEDS_RESET = 64, S_FAILED = 128,
};
#define VIRTIO_MMIO_MAGIC 0x74726976    /* "virt" */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

/* ---- output ---- */

struct line {
    char s[512];
    int n;
};

static void put(struct line *l, const char *s)
{
    while (*s && l->n < (int)sizeof(l->s) - 1) {
        l->s[l->n++] = *s++;
    }
}

static void put_u(struct line *l, u64 v)
{
    char t[24];
    int i = sizeof(t) - 1;

    t[i] = 0;
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(l, t + i);
}

/* put_x L V DIGITS: V in hex, at least DIGITS digits. */
static void put_x(struct line *l, u64 v, int digits)
{
    char t[20];
    int i = sizeof(t) - 1;

    t[i] = 0;
    do {
        t[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while ((v || sizeof(t) - 1 - i < (unsigned)digits) && i > 0);
    put(l, t + i);
}

static void flush(int fd, struct line *l)
{
    int off = 0;

    put(l, "\n");
    while (off < l->n) {
        long w = SYS(__NR_write, fd, l->s + off, l->n - off);

        if (w == -EINTR) {
            continue;
        }
        if (w <= 0) {
            break;
        }
        off += (int)w;
    }
    l->n = 0;
}

static __attribute__((noreturn)) void quit(int status)
{
    for (;;) {
        SYS(__NR_exit_group, status, 0, 0);
    }
}

/* die WHAT ERR: "virtio-poke: WHAT (errno ERR)" on stderr, exit 1. */
static __attribute__((noreturn)) void die(const char *what, long err)
{
    struct line l = { .n = 0 };

    put(&l, "virtio-poke: ");
    put(&l, what);
    if (err) {
        put(&l, " (errno ");
        put_u(&l, (u64)-err);
        put(&l, ")");
    }
    flush(2, &l);
    quit(1);
}

/* -ffreestanding: GCC may still call these for struct copies and inits. */
void *memset(void *d, int c, size_t n)
{
    volatile unsigned char *p = d;

    while (n--) {
        *p++ = (unsigned char)c;
    }
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    volatile unsigned char *p = d;
    const volatile unsigned char *q = s;

    while (n--) {
        *p++ = *q++;
    }
    return d;
}

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++, b++;
    }
    return *a == *b;
}

static int starts(const char *s, const char *prefix)
{
    while (*prefix && *s == *prefix) {
        s++, prefix++;
    }
    return !*prefix;
}

static void scopy(char *d, const char *s, int max)
{
    while (*s && max-- > 1) {
        *d++ = *s++;
    }
    *d = 0;
}

static void scat(char *d, const char *s, int max)
{
    while (*d) {
        d++, max--;
    }
    scopy(d, s, max);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

    SYS(__NR_nanosleep, &ts, 0, 0);
}

/* ---- files ---- */

/* read_file PATH BUF MAX: reads PATH into BUF (NUL-terminated); its
 * length, or -errno. */
static long read_file(const char *path, char *buf, long max)
{
    long fd = SYS(__NR_open, path, O_RDONLY | O_CLOEXEC, 0), n = 0, r;

    if (fd < 0) {
        return fd;
    }
    while (n < max - 1 && (r = SYS(__NR_read, fd, buf + n, max - 1 - n)) > 0) {
        n += r;
    }
    SYS(__NR_close, fd, 0, 0);
    buf[n] = 0;
    return n;
}

static long write_file(const char *path, const char *s)
{
    long fd = SYS(__NR_open, path, O_WRONLY | O_CLOEXEC, 0), n = 0, r;

    if (fd < 0) {
        return fd;
    }
    while (s[n]) {
        n++;
    }
    r = SYS(__NR_write, fd, s, n);
    SYS(__NR_close, fd, 0, 0);
    return r < 0 ? r : 0;
}

static u64 parse_hex(const char *s, const char **end)
{
    u64 v = 0;

    if (s[0] == '0' && s[1] == 'x') {
        s += 2;
    }
    for (;; s++) {
        int d = *s >= '0' && *s <= '9' ? *s - '0'
              : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
              : *s >= 'A' && *s <= 'F' ? *s - 'A' + 10 : -1;

        if (d < 0) {
            break;
        }
        v = v << 4 | (u64)d;
    }
    if (end) {
        *end = s;
    }
    return v;
}

struct dirent64 {
    u64 ino;
    long long off;
    u16 reclen;
    u8 type;
    char name[];
};

/* for_each_entry DIR FN CTX: FN(NAME, TYPE, CTX) for every entry of DIR
 * until FN returns non-zero; that value, 0 when none did, or -errno. */
static long for_each_entry(const char *dir, int (*fn)(const char *, int, void *),
                           void *ctx)
{
    char buf[4096];             /* on the stack: FN may call us again */
    long fd = SYS(__NR_open, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0), n;
    int r = 0;

    if (fd < 0) {
        return fd;
    }
    while (!r && (n = SYS(__NR_getdents64, fd, buf, sizeof(buf))) > 0) {
        long off;

        for (off = 0; off < n && !r; ) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);

            if (!streq(d->name, ".") && !streq(d->name, "..")) {
                r = fn(d->name, d->type, ctx);
            }
            off += d->reclen;
        }
    }
    SYS(__NR_close, fd, 0, 0);
    return r;
}

/* ---- finding the device ---- */

#define DRIVER_DIR "/sys/bus/platform/drivers/virtio-mmio/"
#define DEVICES_DIR "/sys/bus/platform/devices/"
#define DT_LNK 10

struct dev {
    u32 want_id;
    char name[64];              /* the platform device, e.g. LNRO0005:01 */
    u64 base;                   /* its MMIO window */
    volatile u32 *regs;
};

/* The virtio child of a platform device: "virtioN". */
static int virtio_child(const char *name, int type, void *ctx)
{
    (void)type;
    if (starts(name, "virtio") && name[6] >= '0' && name[6] <= '9') {
        scopy(ctx, name, 32);
        return 1;
    }
    return 0;
}

/* For each device bound to virtio-mmio (a link in its driver directory):
 * is its virtio device id the one wanted? */
static int bound_device(const char *name, int type, void *ctx)
{
    struct dev *d = ctx;
    char path[256], child[32], id[32];

    if (type != DT_LNK || streq(name, "module")) {
        return 0;
    }
    scopy(path, DEVICES_DIR, sizeof(path));
    scat(path, name, sizeof(path));
    if (for_each_entry(path, virtio_child, child) != 1) {
        return 0;
    }
    scat(path, "/", sizeof(path));
    scat(path, child, sizeof(path));
    scat(path, "/device", sizeof(path));
    if (read_file(path, id, sizeof(id)) > 0 && parse_hex(id, NULL) == d->want_id) {
        scopy(d->name, name, sizeof(d->name));
        return 1;
    }
    return 0;
}

/* The start of NAME's top-level window in /proc/iomem: a line
 * "d0001000-d0001fff : LNRO0005:01" (the driver's nested request of the
 * same range is gone once it is unbound). */
static u64 iomem_base(const char *name)
{
    static char buf[32768];
    char *p = buf;

    if (read_file("/proc/iomem", buf, sizeof(buf)) <= 0) {
        die("cannot read /proc/iomem", 0);
    }
    while (*p) {
        const char *q;
        u64 start = parse_hex(p, &q);

        if (p[0] != ' ' && *q == '-') {
            q++;
            parse_hex(q, &q);
            if (starts(q, " : ")) {
                const char *n = q + 3, *m = name;

                while (*m && *n == *m) {
                    n++, m++;
                }
                if (!*m && (*n == '\n' || !*n)) {
                    return start;
                }
            }
        }
        while (*p && *p++ != '\n') {
        }
    }
    die("the device has no window in /proc/iomem", 0);
}

static u32 rd(struct dev *d, u32 off)
{
    return d->regs[off / 4];
}

static void wr(struct dev *d, u32 off, u32 v)
{
    d->regs[off / 4] = v;
}

/* Takes the device with virtio id ID from the kernel and maps it. */
static void take(struct dev *d, u32 id)
{
    char path[128];
    long fd, r;
    void *p;

    d->want_id = id;
    if (for_each_entry(DRIVER_DIR, bound_device, d) != 1) {
        die("no virtio-mmio device with that id bound to virtio-mmio", 0);
    }
    d->base = iomem_base(d->name);
    scopy(path, DRIVER_DIR "unbind", sizeof(path));
    if ((r = write_file(path, d->name)) < 0) {
        die("cannot unbind the device from virtio-mmio", r);
    }
    fd = SYS(__NR_open, "/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC, 0);
    if (fd < 0) {
        die("cannot open /dev/mem", fd);
    }
    p = (void *)sys6(__NR_mmap, 0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
                     fd, (long)d->base);
    if ((unsigned long)p > -4096UL) {
        die("cannot map the device's registers from /dev/mem", (long)p);
    }
    SYS(__NR_close, fd, 0, 0);
    d->regs = p;
    if (rd(d, R_MAGIC) != VIRTIO_MMIO_MAGIC || rd(d, R_VERSION) != 2 ||
        rd(d, R_DEVICE_ID) != id) {
        die("the window holds no virtio-mmio version 2 device of that id", 0);
    }
}

/* Resets the device and gives it back to the kernel. */
static void give_back(struct dev *d)
{
    struct line l = { .n = 0 };
    long r;

    wr(d, R_STATUS, 0);
    put(&l, "virtio-poke: reset status=0x");
    put_x(&l, rd(d, R_STATUS), 2);
    r = write_file(DRIVER_DIR "bind", d->name);
    put(&l, r ? " rebind=failed" : " rebind=ok");
    put(&l, " device=");
    put(&l, d->name);
    flush(1, &l);
}

/* ---- DMA memory ---- */

struct dma {
    u8 *va;
    u64 pa;
};

static u8 *pool;
static unsigned pool_used;
#define POOL_PAGES 64

/* A zeroed page and its guest-physical address (pagemap: bit 63 present,
 * bits 0-54 the PFN).  The pool is mlock-ed (and compaction of unevictable
 * pages switched off), so the page stays where the device is told it is. */
static struct dma page_alloc(void)
{
    struct dma m;
    u64 ent = 0;
    long fd, r;

    if (!pool) {
        pool = (u8 *)sys6(__NR_mmap, 0, POOL_PAGES * PAGE,
                          PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE |
                          MAP_LOCKED, -1, 0);
        if ((unsigned long)pool > -4096UL) {
            die("cannot map DMA memory", (long)pool);
        }
        if ((r = SYS(__NR_mlock, pool, POOL_PAGES * PAGE, 0)) < 0) {
            die("cannot mlock DMA memory", r);
        }
        write_file("/proc/sys/vm/compact_unevictable_allowed", "0");
    }
    if (pool_used == POOL_PAGES) {
        die("out of DMA pages", 0);
    }
    m.va = pool + pool_used++ * PAGE;
    memset(m.va, 0, PAGE);
    fd = SYS(__NR_open, "/proc/self/pagemap", O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        die("cannot open /proc/self/pagemap", fd);
    }
    r = sys6(__NR_pread64, fd, (long)&ent, 8, (long)((u64)m.va / PAGE * 8),
             0, 0);
    SYS(__NR_close, fd, 0, 0);
    if (r != 8 || !(ent >> 63) || !(ent & ((1ULL << 55) - 1))) {
        die("no physical address in /proc/self/pagemap (not root?)", 0);
    }
    m.pa = (ent & ((1ULL << 55) - 1)) * PAGE;
    return m;
}

/* ---- virtqueues (virtio 1.2 section 2.7, split rings) ---- */

struct desc {
    u64 addr;
    u32 len;
    u16 flags;
    u16 next;
};

struct vq {
    u16 index, num;
    struct dma desc, avail, used;
    u16 avail_idx;              /* next free avail ring entry */
    u16 used_seen;              /* used entries consumed */
};

static volatile u16 *avail_flags(struct vq *q) { return (u16 *)q->avail.va; }
static volatile u16 *avail_idx(struct vq *q) { return (u16 *)q->avail.va + 1; }
static volatile u16 *avail_ring(struct vq *q) { return (u16 *)q->avail.va + 2; }
static volatile u16 *used_idx(struct vq *q) { return (u16 *)q->used.va + 1; }

static volatile struct desc *desc_at(struct vq *q, unsigned i)
{
    return (struct desc *)q->desc.va + i;
}

/* The used element for the I-th completion: its id and len. */
static volatile u32 *used_elem(struct vq *q, u16 i)
{
    return (u32 *)(q->used.va + 4) + 2 * (i % q->num);
}

static void barrier(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* virtio 1.2 section 4.2.3.2: select, size, ring addresses, ready. */
static void vq_setup(struct dev *d, struct vq *q, u16 index, u16 want)
{
    u32 max;

    wr(d, R_QUEUE_SEL, index);
    if (rd(d, R_QUEUE_READY)) {
        die("a queue is already in use after reset", 0);
    }
    max = rd(d, R_QUEUE_NUM_MAX);
    if (!max) {
        die("the device has no such queue", 0);
    }
    q->index = index;
    q->num = (u16)(want < max ? want : max);
    if (!q->desc.va) {          /* a re-initialization reuses the pages */
        q->desc = page_alloc();
        q->avail = page_alloc();
        q->used = page_alloc();
    } else {
        memset(q->desc.va, 0, PAGE);
        memset(q->avail.va, 0, PAGE);
        memset(q->used.va, 0, PAGE);
    }
    q->avail_idx = q->used_seen = 0;
    *avail_flags(q) = VIRTQ_AVAIL_F_NO_INTERRUPT;   /* we poll */
    wr(d, R_QUEUE_NUM, q->num);
    wr(d, R_DESC_LO, (u32)q->desc.pa);
    wr(d, R_DESC_HI, (u32)(q->desc.pa >> 32));
    wr(d, R_DRIVER_LO, (u32)q->avail.pa);
    wr(d, R_DRIVER_HI, (u32)(q->avail.pa >> 32));
    wr(d, R_DEVICE_LO, (u32)q->used.pa);
    wr(d, R_DEVICE_HI, (u32)(q->used.pa >> 32));
    wr(d, R_QUEUE_READY, 1);
}

/* Makes descriptor chain HEAD available (the device sees it once
 * notified). */
static void vq_post(struct vq *q, u16 head)
{
    avail_ring(q)[q->avail_idx % q->num] = head;
    barrier();                  /* ring entry before index: 2.7.13 */
    *avail_idx(q) = ++q->avail_idx;
}

static void vq_notify(struct dev *d, struct vq *q)
{
    barrier();                  /* index before notification: 2.7.13 */
    wr(d, R_QUEUE_NOTIFY, q->index);
}

/* The next used element, or -1 when none is new: its id, and len. */
static long vq_used(struct vq *q, u32 *len)
{
    volatile u32 *e;

    if (*used_idx(q) == q->used_seen) {
        return -1;
    }
    barrier();                  /* index before the element it covers */
    e = used_elem(q, q->used_seen++);
    if (len) {
        *len = e[1];
    }
    return e[0];
}

/* virtio 1.2 section 3.1.1: reset, ACKNOWLEDGE, DRIVER, features
 * (VIRTIO_F_VERSION_1, bit 32, only), FEATURES_OK and its check. */
static void init_features(struct dev *d)
{
    u32 st;

    wr(d, R_STATUS, 0);
    while (rd(d, R_STATUS)) {
        sleep_ms(1);
    }
    wr(d, R_STATUS, S_ACKNOWLEDGE);
    wr(d, R_STATUS, S_ACKNOWLEDGE | S_DRIVER);
    wr(d, R_DEV_FEATURES_SEL, 1);
    if (!(rd(d, R_DEV_FEATURES) & 1)) {
        die("the device does not offer VIRTIO_F_VERSION_1", 0);
    }
    wr(d, R_DRV_FEATURES_SEL, 0);
    wr(d, R_DRV_FEATURES, 0);
    wr(d, R_DRV_FEATURES_SEL, 1);
    wr(d, R_DRV_FEATURES, 1);
    wr(d, R_STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
    st = rd(d, R_STATUS);
    if (!(st & S_FEATURES_OK)) {
        die("the device refused FEATURES_OK", 0);
    }
}

static void driver_ok(struct dev *d)
{
    wr(d, R_STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

/* ---- rng (virtio 1.2 section 5.4) ---- */

static void do_rng(void)
{
    struct dev d = { .want_id = 0 };
    struct vq q = { .index = 0 };
    struct dma buf;
    struct line l = { .n = 0 };
    u32 len = 0, i;
    long id = -1;

    take(&d, 4);
    init_features(&d);
    vq_setup(&d, &q, 0, 8);
    driver_ok(&d);
    buf = page_alloc();
    *desc_at(&q, 0) = (struct desc){ buf.pa, 64, VIRTQ_DESC_F_WRITE, 0 };
    vq_post(&q, 0);
    vq_notify(&d, &q);
    for (i = 0; i < 2000 && id < 0; i++) {
        if ((id = vq_used(&q, &len)) < 0) {
            sleep_ms(1);
        }
    }
    if (id != 0 || len > 64) {
        put(&l, "virtio-poke: rng failed used=");
        put_u(&l, *used_idx(&q));
        put(&l, " status=0x");
        put_x(&l, rd(&d, R_STATUS), 2);
        flush(1, &l);
        give_back(&d);
        quit(1);
    }
    put(&l, "virtio-poke: rng ok len=");
    put_u(&l, len);
    put(&l, " ");
    for (i = 0; i < len; i++) {
        put_x(&l, buf.va[i], 2);
    }
    flush(1, &l);
    give_back(&d);
}

/* ---- vsock (virtio 1.2 section 5.10) ---- */

/* virtio 1.2 section 5.10.6: every packet starts with this header. */
struct vsock_hdr {
    u64 src_cid, dst_cid;
    u32 src_port, dst_port, len;
    u16 type, op;
    u32 flags, buf_alloc, fwd_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct vsock_hdr) == 44, "virtio_vsock_hdr is 44 bytes");

enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW,
       OP_CREDIT_UPDATE, OP_CREDIT_REQUEST };
#define TYPE_STREAM 1
#define HOST_CID 2
#define SRC_PORT 40000

/* TX and RX packets use slots of two descriptors (header, payload: the
 * layout Linux's driver uses) in one page each: the header at offset 0,
 * the payload at DATA_OFF. */
#define SLOTS 8
#define DATA_OFF 64
#define DATA_MAX (PAGE - DATA_OFF)

struct vsock {
    struct dev d;
    struct vq rx, tx, ev;
    struct dma rxbuf[SLOTS], txbuf[SLOTS], evbuf;
    int tx_busy[SLOTS];
    u64 cid;
    unsigned rx_ops[9];         /* by op; [0] for others */
    unsigned tx_posted, tx_done;
};

static void rx_post(struct vsock *v, unsigned s)
{
    *desc_at(&v->rx, 2 * s) = (struct desc){
        v->rxbuf[s].pa, sizeof(struct vsock_hdr),
        VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, (u16)(2 * s + 1) };
    *desc_at(&v->rx, 2 * s + 1) = (struct desc){
        v->rxbuf[s].pa + DATA_OFF, DATA_MAX, VIRTQ_DESC_F_WRITE, 0 };
    vq_post(&v->rx, (u16)(2 * s));
}

/* The guest CID (le64 at config offset 0, virtio 1.2 section 5.10.4), read
 * as two 32-bit halves (4.2.2.2) under an unchanged ConfigGeneration. */
static u64 read_cid(struct dev *d)
{
    u32 gen, lo, hi;

    do {
        gen = rd(d, R_CONFIG_GEN);
        lo = rd(d, R_CONFIG);
        hi = rd(d, R_CONFIG + 4);
    } while (gen != rd(d, R_CONFIG_GEN));
    return (u64)hi << 32 | lo;
}

static void vsock_init(struct vsock *v)
{
    unsigned s;

    init_features(&v->d);
    v->cid = read_cid(&v->d);
    v->tx_posted = v->tx_done = 0;      /* the counts are per setup */
    memset(v->rx_ops, 0, sizeof(v->rx_ops));
    vq_setup(&v->d, &v->rx, 0, 2 * SLOTS);
    vq_setup(&v->d, &v->tx, 1, 2 * SLOTS);
    vq_setup(&v->d, &v->ev, 2, 4);
    if (v->rx.num < 2 * SLOTS || v->tx.num < 2 * SLOTS) {
        die("the vsock queues are too small", 0);
    }
    for (s = 0; s < SLOTS; s++) {
        if (!v->rxbuf[s].va) {
            v->rxbuf[s] = page_alloc();
            v->txbuf[s] = page_alloc();
        }
        v->tx_busy[s] = 0;
        rx_post(v, s);
    }
    if (!v->evbuf.va) {
        v->evbuf = page_alloc();
    }
    *desc_at(&v->ev, 0) = (struct desc){ v->evbuf.pa, 8, VIRTQ_DESC_F_WRITE, 0 };
    vq_post(&v->ev, 0);
    driver_ok(&v->d);
    vq_notify(&v->d, &v->rx);
    vq_notify(&v->d, &v->ev);
}

/* Takes in what the device has done: TX slots back, RX packets counted
 * (by op) and their buffers posted again.  Returns whether anything
 * happened. */
static int vsock_poll(struct vsock *v)
{
    long id;
    int any = 0, rx = 0;

    while ((id = vq_used(&v->tx, NULL)) >= 0) {
        if (id / 2 < SLOTS && v->tx_busy[id / 2]) {
            v->tx_busy[id / 2] = 0;
            v->tx_done++;
        }
        any = 1;
    }
    while ((id = vq_used(&v->rx, NULL)) >= 0) {
        if (id / 2 < SLOTS) {
            u16 op = ((struct vsock_hdr *)v->rxbuf[id / 2].va)->op;

            v->rx_ops[op < 9 ? op : 0]++;
            rx_post(v, (unsigned)(id / 2));
            rx = 1;
        }
        any = 1;
    }
    if (rx) {
        vq_notify(&v->d, &v->rx);
    }
    *(volatile u32 *)&v->d.regs[R_INT_ACK / 4] = rd(&v->d, R_INT_STATUS);
    return any;
}

/* A free TX slot, waiting (1 s at most) for the device to free one; -1 if
 * it does not. */
static int tx_slot(struct vsock *v)
{
    int s, i;

    for (i = 0; i < 1000; i++) {
        vsock_poll(v);
        for (s = 0; s < SLOTS; s++) {
            if (!v->tx_busy[s]) {
                return s;
            }
        }
        sleep_ms(1);
    }
    return -1;
}

/* A well-formed STREAM header from the guest's CID to the host's port. */
static struct vsock_hdr hdr(struct vsock *v, u16 op, u32 port, u32 len)
{
    return (struct vsock_hdr){
        .src_cid = v->cid, .dst_cid = HOST_CID, .src_port = SRC_PORT,
        .dst_port = port, .len = len, .type = TYPE_STREAM, .op = op,
        .buf_alloc = 65536,
    };
}

/* tx_send V H HLEN ADDR DLEN: posts packet H (its descriptor HLEN bytes
 * long: a length the test chooses) with DLEN payload bytes (0: none) from
 * the slot's page, or at guest-physical ADDR if non-zero.  -1 if no slot. */
static int tx_send(struct vsock *v, const struct vsock_hdr *h, u32 hlen,
                   u64 addr, u32 dlen)
{
    int s = tx_slot(v);
    struct dma *b;

    if (s < 0) {
        return -1;
    }
    b = &v->txbuf[s];
    memcpy(b->va, h, sizeof(*h));
    *desc_at(&v->tx, 2 * s) = (struct desc){
        addr ? addr : b->pa, hlen, dlen ? VIRTQ_DESC_F_NEXT : 0,
        (u16)(2 * s + 1) };
    *desc_at(&v->tx, 2 * s + 1) = (struct desc){ b->pa + DATA_OFF, dlen, 0, 0 };
    v->tx_busy[s] = 1;
    v->tx_posted++;
    vq_post(&v->tx, (u16)(2 * s));
    return 0;
}

/* After a test: notify, give the device 200 ms, and say what it did. */
static void report(struct vsock *v, const char *test)
{
    struct line l = { .n = 0 };
    u32 st;
    int i;

    vq_notify(&v->d, &v->tx);
    for (i = 0; i < 200; i++) {
        if (!vsock_poll(v) && v->tx_done == v->tx_posted && i >= 20) {
            break;
        }
        sleep_ms(1);
    }
    st = rd(&v->d, R_STATUS);
    put(&l, "virtio-poke: ");
    put(&l, test);
    put(&l, " status=0x");
    put_x(&l, st, 2);
    if (st & S_NEEDS_RESET) {
        put(&l, " needs-reset");
    }
    put(&l, " tx_used=");
    put_u(&l, *used_idx(&v->tx));
    put(&l, " tx_posted=");
    put_u(&l, v->tx_posted);
    put(&l, " rx_used=");
    put_u(&l, *used_idx(&v->rx));
    put(&l, " rx_rst=");
    put_u(&l, v->rx_ops[OP_RST]);
    put(&l, " rx_response=");
    put_u(&l, v->rx_ops[OP_RESPONSE]);
    put(&l, " rx_credit=");
    put_u(&l, v->rx_ops[OP_CREDIT_UPDATE] + v->rx_ops[OP_CREDIT_REQUEST]);
    put(&l, " rx_other=");
    put_u(&l, v->rx_ops[0] + v->rx_ops[OP_RW] + v->rx_ops[OP_SHUTDOWN] +
              v->rx_ops[OP_REQUEST] + v->rx_ops[8]);
    flush(1, &l);
    /* A device that gave up (or failed) gets a fresh start, so that the
     * next test reaches one that works. */
    if (st & (S_NEEDS_RESET | S_FAILED) || !(st & S_DRIVER_OK)) {
        put(&l, "virtio-poke: reinit after ");
        put(&l, test);
        flush(1, &l);
        vsock_init(v);
    }
}

static void do_vsock_garbage(void)
{
    static struct vsock v;
    struct vsock_hdr h;
    struct line l = { .n = 0 };
    unsigned i, sent;

    take(&v.d, 19);
    vsock_init(&v);
    put(&l, "virtio-poke: vsock guest_cid=");
    put_u(&l, v.cid);
    put(&l, " rxq=");
    put_u(&l, v.rx.num);
    put(&l, " txq=");
    put_u(&l, v.tx.num);
    flush(1, &l);

    /* A chain shorter than the header. */
    h = hdr(&v, OP_REQUEST, 1, 0);
    tx_send(&v, &h, 20, 0, 0);
    report(&v, "short-chain");

    /* A header claiming 1 MiB of payload over a 16-byte buffer. */
    h = hdr(&v, OP_RW, 1, 1 << 20);
    tx_send(&v, &h, sizeof(h), 0, 16);
    report(&v, "len-1mib-buf-16");

    /* No such operation, no such socket type. */
    h = hdr(&v, 99, 1, 0);
    tx_send(&v, &h, sizeof(h), 0, 0);
    report(&v, "op-99");
    h = hdr(&v, OP_REQUEST, 1, 0);
    h.type = 7;
    tx_send(&v, &h, sizeof(h), 0, 0);
    report(&v, "type-7");

    /* Not from the guest's CID; not to the host's. */
    h = hdr(&v, OP_REQUEST, 1, 0);
    h.src_cid = v.cid + 1000;
    tx_send(&v, &h, sizeof(h), 0, 0);
    report(&v, "src-cid-wrong");
    h = hdr(&v, OP_REQUEST, 1, 0);
    h.dst_cid = 12345;
    tx_send(&v, &h, sizeof(h), 0, 0);
    report(&v, "dst-cid-12345");

    /* A REQUEST to port 1, then 10,000 RW packets of 1 KiB regardless of
     * the credit the host gave (virtio 1.2 section 5.10.6.3), 8 per
     * notification. */
    h = hdr(&v, OP_REQUEST, 1, 0);
    tx_send(&v, &h, sizeof(h), 0, 0);
    vq_notify(&v.d, &v.tx);
    for (sent = 0; sent < 10000; sent++) {
        h = hdr(&v, OP_RW, 1, 1024);
        if (tx_send(&v, &h, sizeof(h), 0, 1024) < 0) {
            break;
        }
        if (sent % SLOTS == SLOTS - 1) {
            vq_notify(&v.d, &v.tx);
        }
    }
    put(&l, "virtio-poke: flood sent=");
    put_u(&l, sent);
    put(&l, sent < 10000 ? " stalled" : " all");
    flush(1, &l);
    report(&v, "flood-10000-rw");

    /* A buffer outside guest RAM. */
    h = hdr(&v, OP_REQUEST, 1, 0);
    tx_send(&v, &h, sizeof(h), 0xfffffffff000ULL, 0);
    report(&v, "addr-outside-ram");

    /* A descriptor chain that loops (virtio 1.2 section 2.7.5.3.1: the
     * device must not loop forever on one), and a head index past the
     * queue's end. */
    i = (unsigned)tx_slot(&v);
    if (i < SLOTS) {
        h = hdr(&v, OP_RW, 1, 64);
        memcpy(v.txbuf[i].va, &h, sizeof(h));
        *desc_at(&v.tx, 2 * i) = (struct desc){
            v.txbuf[i].pa, sizeof(h), VIRTQ_DESC_F_NEXT, (u16)(2 * i) };
        v.tx_busy[i] = 1;
        v.tx_posted++;
        vq_post(&v.tx, (u16)(2 * i));
    }
    report(&v, "desc-loop");
    vq_post(&v.tx, (u16)(v.tx.num + 5));
    v.tx_posted++;
    report(&v, "head-out-of-range");

    put(&l, "virtio-poke: vsock-garbage done status=0x");
    put_x(&l, rd(&v.d, R_STATUS), 2);
    flush(1, &l);
    give_back(&v.d);
}

/* The entry point: the stack holds argc, then argv. */
__asm__(".globl _start\n_start:\n"
        "  xor %ebp, %ebp\n  mov %rsp, %rdi\n  and $-16, %rsp\n"
        "  call start_c\n  hlt\n");

__attribute__((used, noreturn)) void start_c(long *sp)
{
    char **argv = (char **)(sp + 1);

    if (sp[0] == 2 && streq(argv[1], "rng")) {
        do_rng();
        quit(0);
    }
    if (sp[0] == 2 && streq(argv[1], "vsock-garbage")) {
        do_vsock_garbage();
        quit(0);
    }
    SYS(__NR_write, 2, "usage: virtio-poke rng|vsock-garbage\n", 37);
    quit(2);
}
