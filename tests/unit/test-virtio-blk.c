/*
 * virtio-blk through the real virtio-mmio transport and split queue on
 * real guest RAM (tests/unit/virtio-test-machine.h, no KVM), backed by a
 * real image file: identity, features and configuration space (virtio
 * 1.2, 5.2.3-5.2.4); IN/OUT/FLUSH/GET_ID; the guest-controlled values that
 * must be refused (ranges past the capacity, lengths that are not whole
 * sectors, unknown types and flags, chains without room for a header or a
 * status); read-only; DISCARD and WRITE_ZEROES.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "machine/qom/module.h"
#include "tests/unit/virtio-test-machine.h"

#define RING_DESC   0x1000
#define RING_AVAIL  0x2000
#define RING_USED   0x3000
#define BUF         0x10000     /* request buffers from here */
#define QSIZE       16
#define DISK_SIZE   (1024 * 1024 + 512)     /* 2049 sectors */
#define SECTORS     (DISK_SIZE / 512)

#define F_VERSION_1     (1ULL << VIRTIO_F_VERSION_1)
#define F_SEG_MAX       (1ULL << 2)
#define F_RO            (1ULL << 5)
#define F_BLK_SIZE      (1ULL << 6)
#define F_FLUSH         (1ULL << 9)
#define F_DISCARD       (1ULL << 13)
#define F_WRITE_ZEROES  (1ULL << 14)

enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11,
       T_WRITE_ZEROES = 13 };
enum { S_OK = 0, S_IOERR = 1, S_UNSUPP = 2, S_UNSET = 0xee };

typedef struct {
    char *dir;
    char *path;
    VirtioTestMachine *m;
    VirtioDevice *vdev;
    uint8_t *ram;
    uint16_t avail_idx;
} Fixture;

/* One descriptor of a request: guest address, length, device-writable. */
typedef struct {
    uint64_t gpa;
    uint32_t len;
    bool write;
} Seg;

static void fill_image(const char *path)
{
    g_autofree uint8_t *buf = g_malloc(DISK_SIZE);

    for (size_t i = 0; i < DISK_SIZE; i++) {
        buf[i] = (uint8_t)(i * 7 + i / 512);
    }
    g_assert_true(g_file_set_contents(path, (char *)buf, DISK_SIZE, NULL));
}

static VirtioDevice *add_blk(Fixture *f, bool readonly)
{
    Object *dev = object_new("virtio-blk");
    GError *err = NULL;

    object_property_set_str(dev, "id", "disk-serial-0123", &err);
    object_property_set_str(dev, "path", f->path, &err);
    object_property_set_str(dev, "readonly", readonly ? "true" : "false",
                            &err);
    g_assert_no_error(err);
    g_assert_true(object_add_child(OBJECT(f->m), "disk", dev, &err));
    object_unref(dev);
    g_assert_true(device_realize(DEVICE(dev), &err));
    g_assert_no_error(err);
    return VIRTIO_DEVICE(dev);
}

static void start(Fixture *f, uint64_t features)
{
    g_assert_true(vt_negotiate(f->m, f->vdev, F_VERSION_1 | features));
    g_assert_true(vt_queue_setup(f->m, f->vdev, 0, QSIZE, RING_DESC,
                                 RING_AVAIL, RING_USED));
    vt_driver_ok(f->m, f->vdev);
}

static void fx_setup(Fixture *f, gconstpointer data)
{
    bool readonly = GPOINTER_TO_INT(data);

    f->dir = g_dir_make_tmp("vmspec-blk-XXXXXX", NULL);
    f->path = g_build_filename(f->dir, "disk.img", NULL);
    fill_image(f->path);
    f->m = virtio_test_machine_new(false);
    f->vdev = add_blk(f, readonly);
    f->ram = vt_ram(f->m);
    f->avail_idx = 0;
    start(f, F_SEG_MAX | F_BLK_SIZE | F_FLUSH |
             (readonly ? F_RO : F_DISCARD | F_WRITE_ZEROES));
}

static void fx_teardown(Fixture *f, gconstpointer data)
{
    object_unref(OBJECT(f->m));
    g_unlink(f->path);
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

static uint16_t used_idx(Fixture *f)
{
    return __atomic_load_n((uint16_t *)(f->ram + RING_USED + 2),
                           __ATOMIC_ACQUIRE);
}

/* Puts a chain on the ring (descriptors 0..n-1 of the table, reused each
 * time) and notifies; returns its used-ring slot. */
static uint16_t submit_nowait(Fixture *f, const Seg *segs, unsigned n)
{
    uint16_t slot = f->avail_idx % QSIZE;

    for (unsigned i = 0; i < n; i++) {
        uint8_t *d = f->ram + RING_DESC + 16 * i;
        uint16_t flags = (i + 1 < n ? 1 : 0) | (segs[i].write ? 2 : 0);
        uint16_t next = i + 1 < n ? i + 1 : 0;

        memcpy(d, &segs[i].gpa, 8);
        memcpy(d + 8, &segs[i].len, 4);
        memcpy(d + 12, &flags, 2);
        memcpy(d + 14, &next, 2);
    }
    memset(f->ram + RING_AVAIL + 4 + 2 * slot, 0, 2);   /* head 0 */
    f->avail_idx++;
    __atomic_store_n((uint16_t *)(f->ram + RING_AVAIL + 2), f->avail_idx,
                     __ATOMIC_RELEASE);
    vt_write(f->m, f->vdev, VT_QUEUE_NOTIFY, 0);
    return slot;
}

/* submit_nowait(), then waits until the chain is used; returns the used
 * length. */
static uint32_t submit(Fixture *f, const Seg *segs, unsigned n)
{
    uint16_t slot = submit_nowait(f, segs, n);
    uint32_t len;

    for (int i = 0; i < 5000 && used_idx(f) != f->avail_idx; i++) {
        g_usleep(1000);
    }
    g_assert_cmpuint(used_idx(f), ==, f->avail_idx);
    memcpy(&len, f->ram + RING_USED + 4 + 8 * slot + 4, 4);
    return len;
}

/* The header at BUF, data at BUF + 0x1000, the status byte at BUF + 0x100:
 * runs type/sector with data of len bytes (readable for OUT-like types,
 * writable for IN-like ones, split in two descriptors) and returns the
 * status. */
static uint8_t request(Fixture *f, uint32_t type, uint64_t sector,
                       uint32_t len, bool data_writable, uint32_t *used)
{
    uint8_t *hdr = f->ram + BUF;
    Seg segs[4];
    unsigned n = 0;
    uint32_t u;

    memset(hdr, 0, 16);
    memcpy(hdr, &type, 4);
    memcpy(hdr + 8, &sector, 8);
    f->ram[BUF + 0x100] = S_UNSET;
    segs[n++] = (Seg){ BUF, 16, false };
    if (len > 0) {
        uint32_t first = len / 2;
        if (first > 0) {
            segs[n++] = (Seg){ BUF + 0x1000, first, data_writable };
        }
        segs[n++] = (Seg){ BUF + 0x1000 + first, len - first,
                           data_writable };
    }
    segs[n++] = (Seg){ BUF + 0x100, 1, true };
    u = submit(f, segs, n);
    if (used) {
        *used = u;
    }
    return f->ram[BUF + 0x100];
}

static uint8_t *data(Fixture *f)
{
    return f->ram + BUF + 0x1000;
}

static void read_file(Fixture *f, uint64_t off, void *buf, size_t len)
{
    int fd = open(f->path, O_RDONLY);

    g_assert_cmpint(pread(fd, buf, len, off), ==, (ssize_t)len);
    close(fd);
}

static uint32_t cfg32(Fixture *f, unsigned off)
{
    return vt_read(f->m, f->vdev, VT_CONFIG + off);
}

static void test_identity(Fixture *f, gconstpointer d)
{
    uint64_t feat;

    g_assert_cmpuint(vt_read(f->m, f->vdev, VT_DEVICE_ID), ==, 2);
    vt_write(f->m, f->vdev, VT_DEV_FEATURES_SEL, 0);
    feat = vt_read(f->m, f->vdev, VT_DEV_FEATURES);
    g_assert_cmphex(feat & (F_SEG_MAX | F_BLK_SIZE | F_FLUSH | F_DISCARD |
                            F_WRITE_ZEROES | F_RO),
                    ==, F_SEG_MAX | F_BLK_SIZE | F_FLUSH | F_DISCARD |
                        F_WRITE_ZEROES);
    vt_write(f->m, f->vdev, VT_QUEUE_SEL, 0);
    g_assert_cmpuint(vt_read(f->m, f->vdev, VT_QUEUE_NUM_MAX), ==, 256);

    /* 5.2.4: capacity (rounded down to sectors), seg_max, blk_size,
     * the discard / write zeroes limits. */
    g_assert_cmpuint(cfg32(f, 0), ==, SECTORS);
    g_assert_cmpuint(cfg32(f, 4), ==, 0);
    g_assert_cmpuint(cfg32(f, 12), ==, 254);
    g_assert_cmpuint(cfg32(f, 20), ==, 512);
    g_assert_cmpuint(cfg32(f, 36), >, 0);
    g_assert_cmpuint(cfg32(f, 40), ==, 1);
    g_assert_cmpuint(cfg32(f, 44), ==, 8);
    g_assert_cmpuint(cfg32(f, 48), >, 0);
    g_assert_cmpuint(cfg32(f, 52), ==, 1);
    g_assert_cmpuint(cfg32(f, 56) & 0xff, ==, 1);
}

static void test_read_write(Fixture *f, gconstpointer d)
{
    uint8_t want[1536], got[1536];
    uint32_t used;

    /* IN of three sectors at sector 5: the file's bytes. */
    g_assert_cmpuint(request(f, T_IN, 5, 1536, true, &used), ==, S_OK);
    g_assert_cmpuint(used, ==, 1536 + 1);
    read_file(f, 5 * 512, want, sizeof(want));
    g_assert_cmpmem(data(f), 1536, want, 1536);

    /* OUT of three sectors at the last three. */
    for (size_t i = 0; i < sizeof(want); i++) {
        data(f)[i] = want[i] = (uint8_t)(0xa5 ^ i);
    }
    g_assert_cmpuint(request(f, T_OUT, SECTORS - 3, 1536, false, &used),
                     ==, S_OK);
    g_assert_cmpuint(used, ==, 1);
    g_assert_cmpuint(request(f, T_FLUSH, 0, 0, false, NULL), ==, S_OK);
    read_file(f, (SECTORS - 3) * 512, got, sizeof(got));
    g_assert_cmpmem(got, sizeof(got), want, sizeof(want));

    /* GET_ID: the id, NUL-padded to 20 bytes. */
    memset(data(f), 0xff, 20);
    g_assert_cmpuint(request(f, T_GET_ID, 0, 20, true, &used), ==, S_OK);
    g_assert_cmpuint(used, ==, 21);
    g_assert_cmpmem(data(f), 20, "disk-serial-0123\0\0\0\0", 20);
}

static void test_bounds(Fixture *f, gconstpointer d)
{
    uint8_t before[1024], after[1024];

    read_file(f, (SECTORS - 1) * 512, before, 512);
    memset(data(f), 0x5a, 4096);
    /* One sector past the end, starting at the last one. */
    g_assert_cmpuint(request(f, T_OUT, SECTORS - 1, 1024, false, NULL), ==,
                     S_IOERR);
    g_assert_cmpuint(request(f, T_IN, SECTORS - 1, 1024, true, NULL), ==,
                     S_IOERR);
    /* Starting at the capacity, and far beyond (sector * 512 wraps). */
    g_assert_cmpuint(request(f, T_IN, SECTORS, 512, true, NULL), ==,
                     S_IOERR);
    g_assert_cmpuint(request(f, T_OUT, UINT64_MAX / 256, 512, false, NULL),
                     ==, S_IOERR);
    g_assert_cmpuint(request(f, T_OUT, UINT64_MAX, 512, false, NULL), ==,
                     S_IOERR);
    /* Not whole sectors. */
    g_assert_cmpuint(request(f, T_OUT, 0, 511, false, NULL), ==, S_IOERR);
    g_assert_cmpuint(request(f, T_IN, 0, 700, true, NULL), ==, S_IOERR);
    /* Reading zero sectors at the capacity is fine. */
    g_assert_cmpuint(request(f, T_IN, SECTORS, 0, true, NULL), ==, S_OK);
    /* Unknown types. */
    g_assert_cmpuint(request(f, 2, 0, 512, true, NULL), ==, S_UNSUPP);
    g_assert_cmpuint(request(f, 0xffffffff, 0, 0, true, NULL), ==,
                     S_UNSUPP);

    read_file(f, (SECTORS - 1) * 512, after, 512);
    g_assert_cmpmem(before, 512, after, 512);
    struct stat st;
    g_assert_cmpint(stat(f->path, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, DISK_SIZE);
    g_assert_cmpuint(vt_read(f->m, f->vdev, VT_STATUS) &
                     VIRTIO_STATUS_NEEDS_RESET, ==, 0);
}

/* A segment of DISCARD / WRITE_ZEROES at BUF + 0x1000 + 16 * i. */
static void put_range(Fixture *f, unsigned i, uint64_t sector,
                      uint32_t count, uint32_t flags)
{
    uint8_t *p = data(f) + 16 * i;

    memcpy(p, &sector, 8);
    memcpy(p + 8, &count, 4);
    memcpy(p + 12, &flags, 4);
}

static bool file_zero(Fixture *f, uint64_t off, size_t len)
{
    g_autofree uint8_t *buf = g_malloc(len);

    read_file(f, off, buf, len);
    for (size_t i = 0; i < len; i++) {
        if (buf[i]) {
            return false;
        }
    }
    return true;
}

static void test_discard_write_zeroes(Fixture *f, gconstpointer d)
{
    put_range(f, 0, 16, 24, 0);
    g_assert_cmpuint(request(f, T_DISCARD, 0, 16, false, NULL), ==, S_OK);
    g_assert_true(file_zero(f, 16 * 512, 24 * 512));
    g_assert_false(file_zero(f, 15 * 512, 512));
    g_assert_false(file_zero(f, 40 * 512, 512));

    put_range(f, 0, 100, 3, 0);
    g_assert_cmpuint(request(f, T_WRITE_ZEROES, 0, 16, false, NULL), ==,
                     S_OK);
    g_assert_true(file_zero(f, 100 * 512, 3 * 512));
    put_range(f, 0, 200, 9, 1);         /* unmap allowed */
    g_assert_cmpuint(request(f, T_WRITE_ZEROES, 0, 16, false, NULL), ==,
                     S_OK);
    g_assert_true(file_zero(f, 200 * 512, 9 * 512));

    /* Refused: unmap on a discard, unknown flags, two segments (more than
     * max_discard_seg), a partial segment, past the end. */
    put_range(f, 0, 300, 1, 1);
    g_assert_cmpuint(request(f, T_DISCARD, 0, 16, false, NULL), ==,
                     S_UNSUPP);
    put_range(f, 0, 300, 1, 2);
    g_assert_cmpuint(request(f, T_WRITE_ZEROES, 0, 16, false, NULL), ==,
                     S_UNSUPP);
    put_range(f, 0, 300, 1, 0);
    put_range(f, 1, 310, 1, 0);
    g_assert_cmpuint(request(f, T_DISCARD, 0, 32, false, NULL), ==,
                     S_UNSUPP);
    g_assert_cmpuint(request(f, T_DISCARD, 0, 15, false, NULL), ==,
                     S_IOERR);
    put_range(f, 0, SECTORS - 1, 2, 0);
    g_assert_cmpuint(request(f, T_WRITE_ZEROES, 0, 16, false, NULL), ==,
                     S_IOERR);
    put_range(f, 0, UINT64_MAX, 1, 0);
    g_assert_cmpuint(request(f, T_DISCARD, 0, 16, false, NULL), ==,
                     S_IOERR);
    g_assert_false(file_zero(f, 300 * 512, 512));
    g_assert_false(file_zero(f, (SECTORS - 1) * 512, 512));
}

static void test_readonly(Fixture *f, gconstpointer d)
{
    uint8_t before[512], after[512];
    uint64_t feat;

    vt_write(f->m, f->vdev, VT_DEV_FEATURES_SEL, 0);
    feat = vt_read(f->m, f->vdev, VT_DEV_FEATURES);
    g_assert_cmphex(feat & (F_RO | F_DISCARD | F_WRITE_ZEROES), ==, F_RO);

    read_file(f, 0, before, sizeof(before));
    memset(data(f), 0x77, 512);
    g_assert_cmpuint(request(f, T_OUT, 0, 512, false, NULL), ==, S_IOERR);
    put_range(f, 0, 0, 1, 0);
    g_assert_cmpuint(request(f, T_DISCARD, 0, 16, false, NULL), ==,
                     S_IOERR);
    g_assert_cmpuint(request(f, T_WRITE_ZEROES, 0, 16, false, NULL), ==,
                     S_IOERR);
    g_assert_cmpuint(request(f, T_IN, 0, 512, true, NULL), ==, S_OK);
    g_assert_cmpmem(data(f), 512, before, 512);
    g_assert_cmpuint(request(f, T_FLUSH, 0, 0, false, NULL), ==, S_OK);
    read_file(f, 0, after, sizeof(after));
    g_assert_cmpmem(before, 512, after, 512);
}

static void wait_needs_reset(Fixture *f)
{
    for (int i = 0; i < 5000 && !(vt_read(f->m, f->vdev, VT_STATUS) &
                                  VIRTIO_STATUS_NEEDS_RESET); i++) {
        g_usleep(1000);
    }
    g_assert_cmpuint(vt_read(f->m, f->vdev, VT_STATUS) &
                     VIRTIO_STATUS_NEEDS_RESET, !=, 0);
}

/* A chain with no room for the 16-byte header, or with no writable byte
 * for the status, breaks 5.2.6.1: NEEDS_RESET; after a reset the device
 * works again. */
static void test_malformed_chain(Fixture *f, gconstpointer d)
{
    static const Seg short_hdr[] = {
        { BUF, 15, false }, { BUF + 0x100, 1, true },
    };
    static const Seg no_status[] = {
        { BUF, 16, false }, { BUF + 0x1000, 512, false },
    };

    g_assert_cmpuint(request(f, T_FLUSH, 0, 0, false, NULL), ==, S_OK);
    submit_nowait(f, short_hdr, 2);
    wait_needs_reset(f);
    g_assert_cmpuint(used_idx(f), ==, 1);

    /* After a reset the device serves requests again. */
    vt_write(f->m, f->vdev, VT_STATUS, 0);
    memset(f->ram + RING_AVAIL, 0, 0x1000);
    memset(f->ram + RING_USED, 0, 0x1000);
    f->avail_idx = 0;
    start(f, F_FLUSH);
    g_assert_cmpuint(request(f, T_FLUSH, 0, 0, false, NULL), ==, S_OK);
    submit_nowait(f, no_status, 2);
    wait_needs_reset(f);
    g_assert_cmpuint(used_idx(f), ==, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_true(module_call_init(MODULE_INIT_QOM, NULL));
#define ADD(name, ro, fn)                                                   \
    g_test_add("/virtio-blk/" name, Fixture, GINT_TO_POINTER(ro), fx_setup, \
               fn, fx_teardown)
    ADD("identity", false, test_identity);
    ADD("read-write", false, test_read_write);
    ADD("bounds", false, test_bounds);
    ADD("discard-write-zeroes", false, test_discard_write_zeroes);
    ADD("readonly", true, test_readonly);
    ADD("malformed-chain", false, test_malformed_chain);
#undef ADD
    return g_test_run();
}
