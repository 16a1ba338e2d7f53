/*
 * The disk backend on real files in a temporary directory: vectored reads
 * and writes, flush, bounds, OFD lock conflicts (within one process, which
 * OFD locks make possible), read-only disks, snapshot overlays that leave
 * the image byte-identical, discard (holes) and write-zeroes.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "machine/backend/disk.h"
#include "machine/qom/error.h"

#define MiB (1024 * 1024)

typedef struct {
    char *dir;
    char *path;
} Fixture;

/* A file of len pseudo-random bytes (seeded), fsync'd. */
static void write_image(const char *path, size_t len, guint32 seed)
{
    g_autofree guint8 *buf = g_malloc(len);
    GRand *rand = g_rand_new_with_seed(seed);

    for (size_t i = 0; i < len; i++) {
        buf[i] = g_rand_int(rand) & 0xff;
    }
    g_rand_free(rand);
    g_assert_true(g_file_set_contents(path, (char *)buf, len, NULL));
}

static GBytes *file_bytes(const char *path)
{
    char *data;
    gsize len;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    return g_bytes_new_take(data, len);
}

static char *file_sha256(const char *path)
{
    g_autoptr(GBytes) b = file_bytes(path);
    return g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, b);
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("vmspec-disk-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->path = g_build_filename(f->dir, "disk.img", NULL);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    g_unlink(f->path);
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

static DiskImage *open_ok(const char *path, DiskOpenMode mode)
{
    g_autoptr(GError) err = NULL;
    DiskImage *d = disk_open(path, mode, &err);

    g_assert_no_error(err);
    g_assert_nonnull(d);
    return d;
}

static void close_ok(DiskImage *d)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(disk_close(d, &err));
    g_assert_no_error(err);
}

static void test_read_write(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    write_image(f->path, MiB, 1);
    g_autoptr(GBytes) orig = file_bytes(f->path);
    const guint8 *o = g_bytes_get_data(orig, NULL);

    DiskImage *d = open_ok(f->path, DISK_OPEN_READWRITE);
    g_assert_cmpuint(disk_size(d), ==, MiB);
    g_assert_false(disk_is_readonly(d));

    /* A scattered read: 3 + 0 + 509 + 4096 bytes at an odd offset. */
    char a[3], c[509], e[4096];
    struct iovec rd[] = {
        { a, sizeof(a) }, { NULL, 0 }, { c, sizeof(c) }, { e, sizeof(e) },
    };
    g_assert_true(disk_readv(d, rd, 4, 12345, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(a, 3, o + 12345, 3);
    g_assert_cmpmem(c, 509, o + 12348, 509);
    g_assert_cmpmem(e, 4096, o + 12857, 4096);

    /* A scattered write, flushed; another descriptor sees it. */
    char w1[100], w2[7000];
    memset(w1, 0x11, sizeof(w1));
    memset(w2, 0x22, sizeof(w2));
    struct iovec wr[] = { { w1, sizeof(w1) }, { w2, sizeof(w2) } };
    g_assert_true(disk_writev(d, wr, 2, MiB - 7100, &err));
    g_assert_true(disk_flush(d, &err));
    g_assert_no_error(err);

    int fd = open(f->path, O_RDONLY);
    char back[7100];
    g_assert_cmpint(pread(fd, back, sizeof(back), MiB - 7100), ==, 7100);
    close(fd);
    g_assert_cmpmem(back, 100, w1, 100);
    g_assert_cmpmem(back + 100, 7000, w2, 7000);

    /* Out of range: refused, the file not touched (nor grown). */
    g_assert_false(disk_writev(d, wr, 2, MiB - 7099, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);
    g_assert_false(disk_readv(d, rd, 4, UINT64_MAX - 10, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);
    g_assert_false(disk_write_zeroes(d, MiB, 1, false, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);
    close_ok(d);

    struct stat st;
    g_assert_cmpint(stat(f->path, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, MiB);

    g_assert_null(disk_open("/nonexistent/disk.img", DISK_OPEN_READONLY,
                            &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND);
    g_clear_error(&err);
    g_assert_null(disk_open(f->dir, DISK_OPEN_READONLY, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
}

static void expect_busy(const char *path, DiskOpenMode mode)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *want =
        g_strdup_printf("disk image %s is in use by another VM (locked)",
                        path);

    g_assert_null(disk_open(path, mode, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_BUSY);
    g_assert_cmpstr(err->message, ==, want);
}

/* OFD locks belong to open file descriptions, so two opens in one process
 * conflict as two VMs would. */
static void test_lock(Fixture *f, gconstpointer data)
{
    write_image(f->path, 64 * 1024, 2);

    DiskImage *w = open_ok(f->path, DISK_OPEN_READWRITE);
    expect_busy(f->path, DISK_OPEN_READWRITE);
    expect_busy(f->path, DISK_OPEN_READONLY);
    expect_busy(f->path, DISK_OPEN_SNAPSHOT);
    close_ok(w);

    /* Readers share; a writer waits for all of them. */
    DiskImage *r1 = open_ok(f->path, DISK_OPEN_READONLY);
    DiskImage *r2 = open_ok(f->path, DISK_OPEN_SNAPSHOT);
    expect_busy(f->path, DISK_OPEN_READWRITE);
    close_ok(r1);
    expect_busy(f->path, DISK_OPEN_READWRITE);
    close_ok(r2);

    w = open_ok(f->path, DISK_OPEN_READWRITE);
    close_ok(w);
}

static void test_readonly(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    write_image(f->path, 64 * 1024, 3);
    g_autofree char *before = file_sha256(f->path);

    DiskImage *d = open_ok(f->path, DISK_OPEN_READONLY);
    g_assert_true(disk_is_readonly(d));
    char buf[512] = { 0 };
    struct iovec v = { buf, sizeof(buf) };
    g_assert_true(disk_readv(d, &v, 1, 0, &err));
    g_assert_false(disk_writev(d, &v, 1, 0, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_FAILED);
    g_clear_error(&err);
    g_assert_false(disk_write_zeroes(d, 0, 4096, true, &err));
    g_clear_error(&err);
    g_assert_false(disk_discard(d, 0, 4096, &err));
    g_clear_error(&err);
    g_assert_true(disk_flush(d, &err));
    close_ok(d);

    g_autofree char *after = file_sha256(f->path);
    g_assert_cmpstr(before, ==, after);
}

/* Applies the same writes to the snapshot disk and to a shadow copy in
 * memory; reads must always match the shadow, the image never changes. */
static void test_snapshot(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    /* Not a multiple of the block size: the last block is partial. */
    size_t size = MiB + 1000;
    write_image(f->path, size, 4);
    g_autofree char *before = file_sha256(f->path);
    g_autoptr(GBytes) orig = file_bytes(f->path);
    g_autofree guint8 *shadow = g_memdup2(g_bytes_get_data(orig, NULL),
                                          size);

    DiskImage *d = open_ok(f->path, DISK_OPEN_SNAPSHOT);
    g_assert_false(disk_is_readonly(d));
    /* Another reader may share the image with a snapshot. */
    DiskImage *r = open_ok(f->path, DISK_OPEN_READONLY);

    static const struct { uint64_t off, len; } writes[] = {
        { 0, 512 },                 /* head of block 0 */
        { 4096 - 100, 300 },        /* across blocks 0 and 1 */
        { 8192, 4096 },             /* exactly block 2 */
        { 3 * 4096 + 1, 3 * 4096 }, /* partial, full, full, partial */
        { MiB + 10, 990 },          /* the partial last block, to the end */
        { 100 * 1024, 1 },
    };
    GRand *rand = g_rand_new_with_seed(5);
    for (size_t i = 0; i < G_N_ELEMENTS(writes); i++) {
        g_autofree guint8 *w = g_malloc(writes[i].len);
        for (size_t j = 0; j < writes[i].len; j++) {
            w[j] = g_rand_int(rand) & 0xff;
        }
        /* Two iovecs, split unevenly. */
        size_t half = writes[i].len / 3;
        struct iovec v[] = {
            { w, half }, { w + half, writes[i].len - half },
        };
        g_assert_true(disk_writev(d, v, 2, writes[i].off, &err));
        g_assert_no_error(err);
        memcpy(shadow + writes[i].off, w, writes[i].len);
    }
    g_rand_free(rand);

    /* Zeroes: whole blocks (holes in the overlay) and partial ends. */
    g_assert_true(disk_write_zeroes(d, 40000, 20000, true, &err));
    memset(shadow + 40000, 0, 20000);
    g_assert_true(disk_discard(d, 200 * 1024, 64 * 1024, &err));
    memset(shadow + 200 * 1024, 0, 64 * 1024);
    g_assert_true(disk_write_zeroes(d, 5, 10, false, &err));
    memset(shadow + 5, 0, 10);
    g_assert_no_error(err);
    g_assert_true(disk_flush(d, &err));

    /* The whole disk, in odd-sized pieces across block boundaries. */
    g_autofree guint8 *back = g_malloc(size);
    for (size_t off = 0; off < size; off += 7777) {
        size_t len = MIN((size_t)7777, size - off);
        struct iovec v[] = { { back + off, len / 2 },
                             { back + off + len / 2, len - len / 2 } };
        g_assert_true(disk_readv(d, v, 2, off, &err));
        g_assert_no_error(err);
    }
    g_assert_cmpmem(back, size, shadow, size);

    /* The reader beside it still sees the image. */
    struct iovec v = { back, size };
    g_assert_true(disk_readv(r, &v, 1, 0, &err));
    g_assert_cmpmem(back, size, g_bytes_get_data(orig, NULL), size);
    close_ok(r);
    close_ok(d);

    g_autofree char *after = file_sha256(f->path);
    g_assert_cmpstr(before, ==, after);
}

static blkcnt_t file_blocks(const char *path)
{
    struct stat st;

    g_assert_cmpint(stat(path, &st), ==, 0);
    return st.st_blocks;
}

static bool all_zero(const guint8 *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

static void test_discard_write_zeroes(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    size_t size = 4 * MiB;
    write_image(f->path, size, 6);
    g_autoptr(GBytes) orig = file_bytes(f->path);
    const guint8 *o = g_bytes_get_data(orig, NULL);

    /* fsync so that delayed allocation has happened. */
    DiskImage *d = open_ok(f->path, DISK_OPEN_READWRITE);
    g_assert_true(disk_flush(d, &err));
    blkcnt_t before = file_blocks(f->path);

    g_assert_true(disk_discard(d, MiB, 2 * MiB, &err));
    g_assert_no_error(err);
    g_assert_true(disk_write_zeroes(d, 100, 1000, false, &err));
    g_assert_true(disk_write_zeroes(d, 3 * MiB + 5, 4096, true, &err));
    g_assert_no_error(err);
    g_assert_true(disk_flush(d, &err));
    blkcnt_t after = file_blocks(f->path);

    g_autofree guint8 *back = g_malloc(size);
    struct iovec v = { back, size };
    g_assert_true(disk_readv(d, &v, 1, 0, &err));
    close_ok(d);

    g_assert_cmpmem(back, 100, o, 100);
    g_assert_true(all_zero(back + 100, 1000));
    g_assert_cmpmem(back + 1100, MiB - 1100, o + 1100, MiB - 1100);
    g_assert_true(all_zero(back + MiB, 2 * MiB));
    g_assert_cmpmem(back + 3 * MiB, 5, o + 3 * MiB, 5);
    g_assert_true(all_zero(back + 3 * MiB + 5, 4096));
    g_assert_cmpmem(back + 3 * MiB + 4101, MiB - 4101,
                    o + 3 * MiB + 4101, MiB - 4101);

    struct stat st;
    g_assert_cmpint(stat(f->path, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, size);
    /* 2 MiB is 4096 512-byte units; a filesystem with holes frees them. */
    if (before - after < 4096) {
        g_test_message("st_blocks %ld -> %ld", (long)before, (long)after);
        g_test_skip("this filesystem does not punch holes");
        return;
    }
    g_assert_cmpint(before - after, >=, 4096);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn)                                                       \
    g_test_add("/disk/" name, Fixture, NULL, fixture_setup, fn,             \
               fixture_teardown)
    ADD("read-write", test_read_write);
    ADD("lock", test_lock);
    ADD("readonly", test_readonly);
    ADD("snapshot", test_snapshot);
    ADD("discard-write-zeroes", test_discard_write_zeroes);
#undef ADD
    return g_test_run();
}
