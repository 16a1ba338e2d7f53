/*
 * NoCloud seed images (nocloud-seed.h): blkid sees an iso9660 file system
 * labelled cidata; libisofs reads the files back byte for byte under
 * their exact Rock Ridge and Joliet names, 0644 and dated at the fixed
 * epoch; the same files make the same bytes; bad input is an error that
 * leaves nothing behind.  Reading back uses libisofs, which
 * nocloud_seed_write() initialised (every test writes a seed first).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <glib.h>
#include <glib/gstdio.h>
/* libisofs.h has old-style declarations (nocloud-seed.c). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <libisofs.h>
#pragma GCC diagnostic pop

#include "machine/backend/nocloud-seed.h"
#include "machine/qom/error.h"

static const char user_data[] = "#cloud-config\nhostname: seedtest\n";
static const char meta_data[] = "instance-id: iid-seed-1\n";
static const char net_config[] = "version: 2\nethernets:\n  eth0:\n"
                                 "    dhcp4: true\n";

static const SeedFile seed3[] = {
    { "user-data", user_data, sizeof(user_data) - 1 },
    { "meta-data", meta_data, sizeof(meta_data) - 1 },
    { "network-config", net_config, sizeof(net_config) - 1 },
};

typedef struct {
    char *dir;
    char *path;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("vmspec-seed-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->path = g_build_filename(f->dir, "seed.iso", NULL);
}

/* The test directory, which must hold only what each test made. */
static int count_entries(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    int n = 0;

    g_assert_nonnull(d);
    while (g_dir_read_name(d)) {
        n++;
    }
    g_dir_close(d);
    return n;
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    g_unlink(f->path);
    g_assert_cmpint(count_entries(f->dir), ==, 0);
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

static void write_ok(const char *path, const SeedFile *files, size_t n)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(nocloud_seed_write(path, files, n, &err));
    g_assert_no_error(err);
}

static GBytes *read_all(const char *path)
{
    char *buf;
    gsize len;

    g_assert_true(g_file_get_contents(path, &buf, &len, NULL));
    return g_bytes_new_take(buf, len);
}

/* `blkid -o export path`'s KEY=value lines. */
static void check_blkid(const char *path)
{
    const char *argv[] = { "blkid", "-o", "export", path, NULL };
    g_autofree char *prog = g_find_program_in_path("blkid");
    g_autofree char *out = NULL;
    g_auto(GStrv) lines = NULL;
    int status;

    if (!prog && g_file_test("/usr/sbin/blkid", G_FILE_TEST_IS_EXECUTABLE)) {
        prog = g_strdup("/usr/sbin/blkid");
    }
    if (!prog) {
        g_test_skip("blkid is not installed (Debian util-linux)");
        return;
    }
    argv[0] = prog;
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, 0, NULL, NULL,
                               &out, NULL, &status, NULL));
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    g_test_message("blkid: %s", out);
    lines = g_strsplit(out, "\n", -1);
    g_assert_true(g_strv_contains((const char *const *)lines,
                                  "TYPE=iso9660"));
    g_assert_true(g_strv_contains((const char *const *)lines,
                                  "LABEL=cidata"));
}

/* The image as libisofs reads it: Rock Ridge names, or else Joliet's. */
static IsoImage *import(const char *path, bool rock_ridge)
{
    IsoReadImageFeatures *features;
    IsoDataSource *src;
    IsoReadOpts *opts;
    IsoImage *image;

    g_assert_cmpint(iso_image_new("check", &image), ==, 1);
    g_assert_cmpint(iso_data_source_new_from_file(path, &src), ==, 1);
    g_assert_cmpint(iso_read_opts_new(&opts, 0), ==, 1);
    iso_read_opts_set_no_rockridge(opts, !rock_ridge);
    iso_read_opts_set_preferjoliet(opts, !rock_ridge);
    g_assert_cmpint(iso_image_import(image, src, opts, &features), ==, 1);
    g_assert_true(iso_read_image_features_has_joliet(features));
    g_assert_true(iso_read_image_features_has_rockridge(features));
    iso_read_image_features_destroy(features);
    iso_read_opts_free(opts);
    iso_data_source_unref(src);
    return image;
}

/* The image's files, by name, and their data. */
static void check_files(const char *path, bool rock_ridge,
                        const SeedFile *files, size_t n)
{
    IsoImage *image = import(path, rock_ridge);

    g_assert_cmpint(iso_dir_get_children_count(iso_image_get_root(image)),
                    ==, n);
    for (size_t i = 0; i < n; i++) {
        g_autofree char *name = g_strconcat("/", files[i].name, NULL);
        g_autofree unsigned char *buf = g_malloc(files[i].len + 1);
        IsoStream *stream;
        IsoNode *node;

        g_assert_cmpint(iso_tree_path_to_node(image, name, &node), ==, 1);
        g_assert_cmpstr(iso_node_get_name(node), ==, files[i].name);
        g_assert_true(ISO_NODE_IS_FILE(node));
        if (rock_ridge) {
            g_assert_cmpint(iso_node_get_permissions(node), ==, 0644);
            g_assert_cmpint(iso_node_get_uid(node), ==, 0);
            g_assert_cmpint(iso_node_get_mtime(node), ==, 946684800);
        }
        stream = iso_file_get_stream(ISO_FILE(node));
        g_assert_cmpint(iso_stream_get_size(stream), ==, files[i].len);
        g_assert_cmpint(iso_stream_open(stream), ==, 1);
        g_assert_cmpint(iso_stream_read(stream, buf, files[i].len + 1), ==,
                        files[i].len);
        iso_stream_close(stream);
        g_assert_cmpmem(buf, files[i].len, files[i].data, files[i].len);
    }
    iso_image_unref(image);
}

static void test_blkid(Fixture *f, gconstpointer data)
{
    write_ok(f->path, seed3, G_N_ELEMENTS(seed3));
    check_blkid(f->path);
}

static void test_read_back(Fixture *f, gconstpointer data)
{
    struct stat st;

    write_ok(f->path, seed3, G_N_ELEMENTS(seed3));
    g_assert_cmpint(stat(f->path, &st), ==, 0);
    g_test_message("3-file seed: %jd bytes", (intmax_t)st.st_size);
    g_assert_cmpint(st.st_size % 2048, ==, 0);
    check_files(f->path, true, seed3, G_N_ELEMENTS(seed3));
    check_files(f->path, false, seed3, G_N_ELEMENTS(seed3));
}

/* Same files, other order, another second, another time zone. */
static void test_reproducible(Fixture *f, gconstpointer data)
{
    g_autofree char *other = g_build_filename(f->dir, "other.iso", NULL);
    const SeedFile reversed[] = { seed3[2], seed3[1], seed3[0] };
    g_autoptr(GBytes) a = NULL, b = NULL;
    const char *tz = g_getenv("TZ");
    g_autofree char *saved_tz = g_strdup(tz);

    write_ok(f->path, seed3, G_N_ELEMENTS(seed3));
    g_usleep(1100 * 1000);
    /* No other thread runs now (g_setenv() would warn all the same). */
    setenv("TZ", "America/New_York", 1);
    tzset();
    write_ok(other, reversed, G_N_ELEMENTS(reversed));
    if (saved_tz) {
        setenv("TZ", saved_tz, 1);
    } else {
        unsetenv("TZ");
    }
    tzset();
    a = read_all(f->path);
    b = read_all(other);
    g_assert_true(g_bytes_equal(a, b));
    g_unlink(other);
}

static void test_large_file(Fixture *f, gconstpointer data)
{
    g_autofree uint32_t *big = g_malloc(1 << 20);
    GRand *rand = g_rand_new_with_seed(42);
    SeedFile files[] = {
        { "user-data", big, 1 << 20 },
        { "meta-data", "", 0 },
        { "vendor-data", NULL, 0 },
    };

    for (size_t i = 0; i < (1 << 20) / sizeof(*big); i++) {
        big[i] = g_rand_int(rand);
    }
    g_rand_free(rand);
    write_ok(f->path, files, G_N_ELEMENTS(files));
    check_files(f->path, true, files, G_N_ELEMENTS(files));
}

static void test_empty(Fixture *f, gconstpointer data)
{
    write_ok(f->path, NULL, 0);
    check_blkid(f->path);
    check_files(f->path, true, NULL, 0);
}

/* A second write replaces the first whole. */
static void test_replace(Fixture *f, gconstpointer data)
{
    write_ok(f->path, seed3, G_N_ELEMENTS(seed3));
    write_ok(f->path, seed3, 1);
    check_files(f->path, true, seed3, 1);
}

static void expect_error(const char *path, const SeedFile *files, size_t n,
                         int code)
{
    g_autoptr(GError) err = NULL;

    g_assert_false(nocloud_seed_write(path, files, n, &err));
    g_assert_error(err, VMSPEC_ERROR, code);
    g_test_message("%s", err->message);
    g_assert_nonnull(strstr(err->message, path));
    g_assert_false(g_file_test(path, G_FILE_TEST_IS_REGULAR));
}

static void test_bad_input(Fixture *f, gconstpointer data)
{
    static const char *const bad[] = {
        "", ".", "..", "a/b", "user data", "caf\xc3\xa9", "x\n",
        "0123456789012345678901234567890123456789012345678901234567890123x",
    };
    g_autofree char *huge = g_malloc0(NOCLOUD_SEED_MAX_FILE + 1);
    g_autofree char *subdir = g_build_filename(f->dir, "sub", NULL);
    g_autofree char *missing = g_build_filename(f->dir, "no", "seed.iso",
                                                NULL);
    SeedFile files[2] = { seed3[0], seed3[1] };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        files[1].name = bad[i];
        expect_error(f->path, files, 2, VMSPEC_ERROR_INVALID);
    }
    files[1].name = NULL;
    expect_error(f->path, files, 2, VMSPEC_ERROR_INVALID);
    files[1].name = "user-data";
    expect_error(f->path, files, 2, VMSPEC_ERROR_INVALID);
    files[1] = (SeedFile){ "meta-data", huge, NOCLOUD_SEED_MAX_FILE + 1 };
    expect_error(f->path, files, 2, VMSPEC_ERROR_INVALID);
    files[1].len = NOCLOUD_SEED_MAX_FILE;   /* the most is allowed */
    write_ok(f->path, files, 2);
    g_unlink(f->path);

    expect_error(missing, seed3, 1, VMSPEC_ERROR_IO);
    /* The rename onto a directory fails once the image is written. */
    g_assert_cmpint(g_mkdir(subdir, 0755), ==, 0);
    expect_error(subdir, seed3, 1, VMSPEC_ERROR_IO);
    g_rmdir(subdir);
    /* fixture_teardown() finds no temporary file. */
}

/* libisofs is initialised once, whichever thread comes first. */
static gpointer write_thread(gpointer path)
{
    write_ok(path, seed3, G_N_ELEMENTS(seed3));
    return NULL;
}

static void test_threads(Fixture *f, gconstpointer data)
{
    GThread *threads[4];
    char *paths[4];
    g_autoptr(GBytes) first = NULL;

    for (int i = 0; i < 4; i++) {
        paths[i] = g_strdup_printf("%s/t%d.iso", f->dir, i);
        threads[i] = g_thread_new("seed", write_thread, paths[i]);
    }
    for (int i = 0; i < 4; i++) {
        g_autoptr(GBytes) b = NULL;

        g_thread_join(threads[i]);
        b = read_all(paths[i]);
        if (!first) {
            first = g_bytes_ref(b);
        }
        g_assert_true(g_bytes_equal(first, b));
        g_unlink(paths[i]);
        g_free(paths[i]);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn)                                                       \
    g_test_add("/nocloud-seed/" name, Fixture, NULL, fixture_setup, fn,     \
               fixture_teardown)
    ADD("threads", test_threads);
    ADD("blkid", test_blkid);
    ADD("read-back", test_read_back);
    ADD("reproducible", test_reproducible);
    ADD("large-file", test_large_file);
    ADD("empty", test_empty);
    ADD("replace", test_replace);
    ADD("bad-input", test_bad_input);
#undef ADD
    return g_test_run();
}
