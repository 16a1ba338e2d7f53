/*
 * blkperf DEVICE MODE [-b BS] [-q QD] [-n BYTES] [-c COUNT] [-t SECS]
 *         [-s SEED]
 *
 * The test guest's disk benchmark (tests/guest/scenarios/blkperf): what
 * fio would measure, in a page.  Debian's fio is dynamically linked and
 * the initramfs has no shared libraries.  MODE is one of
 *   seqread    reads BS blocks from offset 0 upwards
 *   seqwrite   writes BS blocks from offset 0 upwards, then fdatasync(2);
 *              the sync counts in the time
 *   randread   reads BS blocks at offsets from a fixed-seed PRNG
 *              (splitmix64; SEED, default 1), aligned to BS, anywhere in
 *              the device
 * always with O_DIRECT (no guest page cache).  The device's size comes
 * from BLKGETSIZE64 (lseek(SEEK_END) for a regular file, to try it on a
 * host); offsets stay below size rounded down to BS, and the sequential
 * modes wrap around to 0 there.
 *   -b BS     block size (default 1M for seq*, 4K for randread); a multiple
 *             of 512
 *   -q QD     queue depth, 1..1024 (default 1).  QD 1 is pread/pwrite (fio's
 *             psync); QD > 1 keeps QD requests in flight with Linux native
 *             AIO (io_setup/io_submit/io_getevents, fio's libaio engine
 *             without libaio: raw system calls), in any mode
 *   -n BYTES  stop after BYTES (rounded down to whole blocks)
 *   -c COUNT  stop after COUNT I/Os
 *   -t SECS   stop after SECS seconds (decimals allowed: 0.5); with -n or
 *             -c, whichever comes first
 * Defaults: the whole device once for seq*, 5 seconds for randread.  Sizes
 * take a K, M or G suffix (powers of 1024).  Prints one line on stdout:
 *   VMSPEC: blkperf randread bs=4096 qd=32 iops=12345 mbps=50.6 secs=5.00
 *     ios=61725 bytes=252825600
 * (one line, wrapped here).  mbps is 10^6 bytes per second; secs is the
 * guest's CLOCK_MONOTONIC from before the first submission to after the
 * last completion (and the fdatasync).  Every system call's result is
 * checked: on a failure (or a short transfer) it says what failed on
 * stderr and exits 1; 2 for usage.
 *
 * No libc (-nostdlib -ffreestanding, like udp-echo.c): a static glibc
 * program would add ~300 KiB to the gzip'd initramfs that every test boot
 * unpacks, and all this needs is a dozen system calls and integer
 * formatting (rates are computed in fixed point: no floating point).  So
 * clock_gettime is a real system call (no vDSO): in the sync loop the
 * clock is read every 16 I/Os, with AIO once per io_getevents.
 * Raw system calls for x86_64 and aarch64, the guest's architectures.
 */
#include <stddef.h>      /* size_t, for BLKGETSIZE64 (a freestanding header) */
#include <asm/unistd.h>
#include <linux/aio_abi.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/mman.h>
#include <linux/time.h>

#include "syscall.h"

typedef unsigned long long u64;

#define EINTR 4
#define SEEK_END 2
#define MAX_QD 1024
#define MAX_BS (64ULL << 20)
#define MAX_BUF (1ULL << 30)    /* QD * BS */

/* -ffreestanding: GCC may still call these for struct copies and inits.
 * volatile, so that GCC doesn't turn the loops back into calls to them. */
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

#define SYS(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)

/* Output: a line is built in a buffer, then written in one write(2). */
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

/* put_fix L V D: V / 10^D with D decimals. */
static void put_fix(struct line *l, u64 v, int d)
{
    u64 p = 1;
    int i;

    for (i = 0; i < d; i++) {
        p *= 10;
    }
    put_u(l, v / p);
    if (d) {
        char t[24];

        put(l, ".");
        v %= p;
        t[d] = 0;
        for (i = d - 1; i >= 0; i--) {
            t[i] = (char)('0' + v % 10);
            v /= 10;
        }
        put(l, t);
    }
}

static void flush(int fd, struct line *l)
{
    int off = 0;

    while (off < l->n) {
        long w = SYS(__NR_write, fd, l->s + off, l->n - off);

        if (w == -EINTR) {
            continue;
        }
        if (w <= 0) {
            break;      /* nowhere left to say so */
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

static const char *errname(long e)
{
    static const struct { int e; const char *name; } t[] = {
        { 1, "EPERM" }, { 2, "ENOENT" }, { 4, "EINTR" }, { 5, "EIO" },
        { 6, "ENXIO" }, { 9, "EBADF" }, { 11, "EAGAIN" }, { 12, "ENOMEM" },
        { 13, "EACCES" }, { 14, "EFAULT" }, { 16, "EBUSY" },
        { 19, "ENODEV" }, { 21, "EISDIR" }, { 22, "EINVAL" },
        { 25, "ENOTTY" }, { 27, "EFBIG" }, { 28, "ENOSPC" }, { 30, "EROFS" },
        { 38, "ENOSYS" }, { 95, "EOPNOTSUPP" }, { 121, "EREMOTEIO" },
    };
    unsigned i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (t[i].e == e) {
            return t[i].name;
        }
    }
    return "";
}

/* die WHAT ERR: "blkperf: WHAT: errno ERR (NAME)" (ERR 0: just WHAT). */
static __attribute__((noreturn)) void die(const char *what, long err)
{
    struct line l = { .n = 0 };

    put(&l, "blkperf: ");
    put(&l, what);
    if (err) {
        put(&l, ": errno ");
        put_u(&l, (u64)err);
        if (*errname(err)) {
            put(&l, " (");
            put(&l, errname(err));
            put(&l, ")");
        }
    }
    put(&l, "\n");
    flush(2, &l);
    quit(1);
}

static __attribute__((noreturn)) void usage(const char *why)
{
    struct line l = { .n = 0 };

    put(&l, "blkperf: ");
    put(&l, why);
    put(&l, "\nusage: blkperf DEVICE seqread|seqwrite|randread [-b BS] "
            "[-q QD] [-n BYTES] [-c COUNT] [-t SECS] [-s SEED]\n");
    flush(2, &l);
    quit(2);
}

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++, b++;
    }
    return *a == *b;
}

/* parse_u S MAX: a decimal with an optional K/M/G suffix; -1 when bad. */
static long long parse_size(const char *s, u64 max)
{
    u64 v = 0, mul = 1;

    if (*s < '0' || *s > '9') {
        return -1;
    }
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (max - (u64)(*s - '0')) / 10) {
            return -1;
        }
        v = v * 10 + (u64)(*s - '0');
    }
    switch (*s) {
    case 0: break;
    case 'k': case 'K': mul = 1ULL << 10; s++; break;
    case 'm': case 'M': mul = 1ULL << 20; s++; break;
    case 'g': case 'G': mul = 1ULL << 30; s++; break;
    default: return -1;
    }
    if (*s || (v && mul > max / v)) {
        return -1;
    }
    return (long long)(v * mul);
}

/* parse_secs S: seconds with up to 9 decimals, in ns; -1 when bad. */
static long long parse_secs(const char *s)
{
    u64 sec = 0, ns = 0, p = 100000000;

    if (*s < '0' || *s > '9') {
        return -1;
    }
    for (; *s >= '0' && *s <= '9'; s++) {
        sec = sec * 10 + (u64)(*s - '0');
        if (sec > 1000000) {
            return -1;
        }
    }
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++, p /= 10) {
            ns += (u64)(*s - '0') * p;
        }
    }
    if (*s || sec * 1000000000ULL + ns == 0) {
        return -1;
    }
    return (long long)(sec * 1000000000ULL + ns);
}

static u64 now_ns(void)
{
    struct timespec ts;
    long r = SYS(__NR_clock_gettime, CLOCK_MONOTONIC, &ts, 0);

    if (r) {
        die("clock_gettime(CLOCK_MONOTONIC)", -r);
    }
    return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

static u64 splitmix64(u64 *state)
{
    u64 z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

struct job {
    int fd, write, random;
    u64 bs, nblocks;    /* blocks on the device */
    u64 next;           /* the next sequential block */
    u64 rng;
    u64 limit_ios;      /* 0: none */
    u64 limit_ns;       /* 0: none */
    u64 ios, issued;
};

static u64 next_offset(struct job *j)
{
    u64 b;

    if (j->random) {
        b = splitmix64(&j->rng) % j->nblocks;
    } else {
        b = j->next;
        j->next = b + 1 == j->nblocks ? 0 : b + 1;
    }
    return b * j->bs;
}

/* may_issue J: room for one more I/O under the count limit. */
static int may_issue(const struct job *j)
{
    return !j->limit_ios || j->issued < j->limit_ios;
}

static void run_sync(struct job *j, char *buf, u64 t0)
{
    int nr = j->write ? __NR_pwrite64 : __NR_pread64;

    while (may_issue(j)) {
        u64 off = next_offset(j);
        long r;

        j->issued++;
        do {
            r = sys6(nr, j->fd, (long)buf, (long)j->bs, (long)off, 0, 0);
        } while (r == -EINTR);
        if (r < 0) {
            die(j->write ? "pwrite" : "pread", -r);
        }
        if ((u64)r != j->bs) {
            die(j->write ? "pwrite: short write" : "pread: short read", 0);
        }
        j->ios++;
        if (j->limit_ns && j->ios % 16 == 0 && now_ns() - t0 >= j->limit_ns) {
            break;
        }
    }
}

static void run_aio(struct job *j, char *buf, unsigned qd, u64 t0)
{
    static struct iocb cb[MAX_QD];
    static struct iocb *batch[MAX_QD];
    static struct io_event ev[MAX_QD];
    aio_context_t ctx = 0;
    unsigned i, nb = 0, inflight = 0;
    int stop = 0;
    long r;

    r = SYS(__NR_io_setup, qd, &ctx, 0);
    if (r) {
        die("io_setup", -r);
    }
    for (i = 0; i < qd; i++) {
        memset(&cb[i], 0, sizeof(cb[i]));
        cb[i].aio_data = i;
        cb[i].aio_lio_opcode = j->write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
        cb[i].aio_fildes = (unsigned)j->fd;
        cb[i].aio_buf = (u64)(unsigned long)(buf + (u64)i * j->bs);
        cb[i].aio_nbytes = j->bs;
    }
    /* Slots free to (re)submit go into batch[0..nb). */
    for (i = 0; i < qd; i++) {
        batch[nb++] = &cb[qd - 1 - i];
    }
    for (;;) {
        unsigned n = 0, done = 0;

        /* Fill the queue from the last n free slots, offsets in the order
         * they are submitted, then submit them. */
        while (!stop && n < nb && may_issue(j)) {
            j->issued++;
            n++;
        }
        for (i = nb - n; i < nb; i++) {
            batch[i]->aio_offset = (long long)next_offset(j);
        }
        while (done < n) {
            r = sys6(__NR_io_submit, (long)ctx, n - done,
                     (long)&batch[nb - n + done], 0, 0, 0);
            if (r == -EINTR) {
                continue;
            }
            if (r < 0) {
                die("io_submit", -r);
            }
            if (r == 0) {
                die("io_submit: took no request", 0);
            }
            done += (unsigned)r;
        }
        nb -= n;
        inflight += n;
        if (!inflight) {
            break;
        }
        do {
            r = sys6(__NR_io_getevents, (long)ctx, 1, (long)qd, (long)ev, 0,
                     0);
        } while (r == -EINTR);
        if (r < 0) {
            die("io_getevents", -r);
        }
        if (r == 0) {
            die("io_getevents: no event", 0);
        }
        for (i = 0; i < (unsigned)r; i++) {
            long long res = ev[i].res;

            if (res < 0) {
                die(j->write ? "aio write" : "aio read", (long)-res);
            }
            if ((u64)res != j->bs) {
                die(j->write ? "aio write: short write"
                             : "aio read: short read", 0);
            }
            batch[nb++] = &cb[ev[i].data];
            j->ios++;
        }
        inflight -= (unsigned)r;
        if (j->limit_ns && !stop && now_ns() - t0 >= j->limit_ns) {
            stop = 1;
        }
    }
    r = SYS(__NR_io_destroy, ctx, 0, 0);
    if (r) {
        die("io_destroy", -r);
    }
}

/* The entry point: the stack holds argc, then argv. */
#if defined(__x86_64__)
__asm__(".globl _start\n_start:\n"
        "  xor %ebp, %ebp\n  mov %rsp, %rdi\n  and $-16, %rsp\n"
        "  call start_c\n  hlt\n");
#else
__asm__(".globl _start\n_start:\n  mov x0, sp\n  bl start_c\n");
#endif

__attribute__((used, noreturn)) void start_c(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    const char *dev, *mode;
    struct job j = { .rng = 1 };
    long long bs = 0, bytes = -1, count = -1, secs = -1, v;
    unsigned qd = 1;
    u64 size = 0, buflen, t0, t1, ns, i;
    struct line l = { .n = 0 };
    char *buf;
    long r, fd;

    if (argc < 3) {
        usage("DEVICE and MODE needed");
    }
    dev = argv[1];
    mode = argv[2];
    if (streq(mode, "seqread")) {
        j.write = 0, j.random = 0;
    } else if (streq(mode, "seqwrite")) {
        j.write = 1, j.random = 0;
    } else if (streq(mode, "randread")) {
        j.write = 0, j.random = 1;
    } else {
        usage("MODE is seqread, seqwrite or randread");
    }
    for (i = 3; i < (u64)argc; i += 2) {
        const char *o = argv[i], *a = i + 1 < (u64)argc ? argv[i + 1] : 0;

        if (!a || o[0] != '-' || !o[1] || o[2]) {
            usage("options are -b, -q, -n, -c, -t, -s, each with a value");
        }
        switch (o[1]) {
        case 'b':
            bs = parse_size(a, MAX_BS);
            if (bs <= 0 || bs % 512) {
                usage("-b: a multiple of 512, at most 64M");
            }
            break;
        case 'q':
            v = parse_size(a, MAX_QD);
            if (v < 1) {
                usage("-q: 1 to 1024");
            }
            qd = (unsigned)v;
            break;
        case 'n':
            bytes = parse_size(a, 1ULL << 60);
            if (bytes < 1) {
                usage("-n: a byte count");
            }
            break;
        case 'c':
            count = parse_size(a, 1ULL << 60);
            if (count < 1) {
                usage("-c: an I/O count");
            }
            break;
        case 't':
            secs = parse_secs(a);
            if (secs < 1) {
                usage("-t: seconds, more than 0");
            }
            break;
        case 's':
            v = parse_size(a, 1ULL << 62);
            if (v < 0) {
                usage("-s: a number");
            }
            j.rng = (u64)v;
            break;
        default:
            usage("unknown option");
        }
    }
    if (!bs) {
        bs = j.random ? 4096 : 1 << 20;
    }
    j.bs = (u64)bs;
    if ((u64)qd * j.bs > MAX_BUF) {
        usage("QD * BS is more than 1G");
    }

    fd = sys6(__NR_openat, AT_FDCWD, (long)dev,
              (j.write ? O_RDWR : O_RDONLY) | O_DIRECT | O_CLOEXEC, 0, 0, 0);
    if (fd < 0) {
        die("open (O_DIRECT)", -fd);
    }
    j.fd = (int)fd;
    r = SYS(__NR_ioctl, fd, BLKGETSIZE64, &size);
    if (r == -25) {         /* ENOTTY: a regular file */
        r = SYS(__NR_lseek, fd, 0, SEEK_END);
        if (r < 0) {
            die("lseek(SEEK_END)", -r);
        }
        size = (u64)r;
        r = 0;
    }
    if (r) {
        die("ioctl(BLKGETSIZE64)", -r);
    }
    j.nblocks = size / j.bs;
    if (!j.nblocks) {
        die("the device is smaller than one block", 0);
    }

    /* Limits: -n and -c in I/Os (the smaller), -t in ns; none given: the
     * whole device once (seq*) or 5 s (randread). */
    if (bytes > 0) {
        j.limit_ios = (u64)bytes / j.bs;
        if (!j.limit_ios) {
            usage("-n: less than one block");
        }
    }
    if (count > 0 && (!j.limit_ios || (u64)count < j.limit_ios)) {
        j.limit_ios = (u64)count;
    }
    if (secs > 0) {
        j.limit_ns = (u64)secs;
    }
    if (!j.limit_ios && !j.limit_ns) {
        if (j.random) {
            j.limit_ns = 5000000000ULL;
        } else {
            j.limit_ios = j.nblocks;
        }
    }

    buflen = (u64)qd * j.bs;
    r = sys6(__NR_mmap, 0, (long)buflen, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (r < 0 && r > -4096) {
        die("mmap", -r);
    }
    buf = (char *)r;
    if (j.write) {      /* not zeroes: a pattern, the same for every block */
        u64 st = 0x626c6b70657266ULL, *w = (u64 *)buf;

        for (i = 0; i < buflen / 8; i++) {
            w[i] = splitmix64(&st);
        }
    }

    t0 = now_ns();
    if (qd == 1) {
        run_sync(&j, buf, t0);
    } else {
        run_aio(&j, buf, qd, t0);
    }
    if (j.write) {
        r = SYS(__NR_fdatasync, fd, 0, 0);
        if (r) {
            die("fdatasync", -r);
        }
    }
    t1 = now_ns();
    ns = t1 > t0 ? t1 - t0 : 1;
    r = SYS(__NR_close, fd, 0, 0);
    if (r) {
        die("close", -r);
    }

    /* iops = ios / s; mbps = bytes * 1000 / ns, one decimal (u64 holds
     * bytes * 10^4 up to 1.8 PB). */
    put(&l, "VMSPEC: blkperf ");
    put(&l, mode);
    put(&l, " bs=");
    put_u(&l, j.bs);
    put(&l, " qd=");
    put_u(&l, qd);
    put(&l, " iops=");
    put_u(&l, (j.ios * 1000000000ULL + ns / 2) / ns);
    put(&l, " mbps=");
    put_fix(&l, (j.ios * j.bs * 10000ULL + ns / 2) / ns, 1);
    put(&l, " secs=");
    put_fix(&l, (ns + 5000000) / 10000000, 2);
    put(&l, " ios=");
    put_u(&l, j.ios);
    put(&l, " bytes=");
    put_u(&l, j.ios * j.bs);
    put(&l, "\n");
    flush(1, &l);
    quit(0);
}
