/*
 * Backing chains on real files in a temporary directory: images made by
 * qemu-img (raw, qcow2 v3 and v2, compressed, relative and absolute
 * backing names, loops, missing files, protocol names, external data
 * files), whose resolved paths are checked against qemu-img's own `info
 * --backing-chain`; and qcow2 headers crafted byte by byte, broken in every
 * field that the chain depends on, plus random corruptions of one, which
 * must give errors and never crash.  The qemu-img tests skip without
 * qemu-img (Debian: qemu-utils); the crafted ones always run.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "machine/backend/image-chain.h"
#include "machine/qom/error.h"

#define MiB (1024 * 1024)

/* The crafted image: a v3 header of 104 bytes, 64 KiB clusters, a 1 MiB
 * disk; at byte 104 a backing format extension, then the end extension;
 * the backing file name at byte CRAFT_NAME_AT. */
#define CRAFT_CLUSTER   65536
#define CRAFT_EXT_AT    104
#define CRAFT_NAME_AT   512

typedef struct {
    char *dir;
    char *old_cwd;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("vmspec-chain-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->old_cwd = g_get_current_dir();
}

static void remove_tree(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    const char *name;

    if (dir) {
        while ((name = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
                !g_file_test(child, G_FILE_TEST_IS_SYMLINK)) {
                remove_tree(child);
            } else {
                g_unlink(child);
            }
        }
        g_dir_close(dir);
    }
    g_rmdir(path);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    g_assert_cmpint(chdir(f->old_cwd), ==, 0);
    remove_tree(f->dir);
    g_free(f->old_cwd);
    g_free(f->dir);
}

static char *tpath(Fixture *f, const char *name)
{
    return g_build_filename(f->dir, name, NULL);
}

static bool skip_without_qemu_img(void)
{
    g_autofree char *prog = g_find_program_in_path("qemu-img");

    if (!prog) {
        g_test_skip_printf("qemu-img is not installed (Debian: qemu-utils)");
        return true;
    }
    return false;
}

/* Runs qemu-img with the NULL-terminated arguments in dir (NULL: the
 * current directory); returns its stdout.  Fails the test unless it
 * exits 0. */
static G_GNUC_NULL_TERMINATED char *qemu_img(const char *dir, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr(GError) error = NULL;
    int status;
    va_list ap;

    g_ptr_array_add(argv, "qemu-img");
    va_start(ap, dir);
    for (const char *a; (a = va_arg(ap, const char *));) {
        g_ptr_array_add(argv, (char *)a);
    }
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_sync(dir, (char **)argv->pdata, NULL,
                               G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                               &status, &error));
    g_assert_no_error(error);
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_test_message("qemu-img failed: %s", err);
        g_assert_not_reached();
    }
    return g_steal_pointer(&out);
}

/* The "image:" paths of `qemu-img info --backing-chain path`, run in the
 * current directory: where qemu-img itself finds each layer. */
static GPtrArray *qemu_img_chain(const char *path)
{
    g_autofree char *out = qemu_img(NULL, "info", "--backing-chain", path,
                                    NULL);
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);

    for (char **l = lines; *l; l++) {
        if (g_str_has_prefix(*l, "image: ")) {
            g_ptr_array_add(paths, g_strdup(*l + strlen("image: ")));
        }
    }
    return paths;
}

/* A new file, without g_file_set_contents' fsync or an O_TRUNC (which
 * ext4 makes flush): the random test writes thousands. */
static void write_file(const char *path, const void *data, size_t len)
{
    g_unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, data, len), ==, (ssize_t)len);
    g_assert_cmpint(close(fd), ==, 0);
}

static ImageChain *open_ok(const char *path, ImageFormat format)
{
    g_autoptr(GError) err = NULL;
    ImageChain *c = image_chain_open(path, format, &err);

    g_assert_no_error(err);
    g_assert_nonnull(c);
    g_assert_cmpuint(c->layers->len, >=, 1);
    return c;
}

/* The message of the error (of code) that opening path gives. */
static char *open_fails(const char *path, ImageFormat format, int code)
{
    g_autoptr(GError) err = NULL;

    g_assert_null(image_chain_open(path, format, &err));
    g_assert_error(err, VMSPEC_ERROR, code);
    g_test_message("%s: %s", path, err->message);
    return g_strdup(err->message);
}

static const ImageLayer *layer(const ImageChain *c, guint i)
{
    g_assert_cmpuint(i, <, c->layers->len);
    return g_ptr_array_index(c->layers, i);
}

static void assert_layer(const ImageChain *c, guint i, const char *path,
                         ImageFormat format, uint64_t size)
{
    g_assert_cmpstr(layer(c, i)->path, ==, path);
    g_assert_cmpint(layer(c, i)->format, ==, format);
    g_assert_cmpuint(layer(c, i)->virtual_size, ==, size);
}

/* Our layers are where qemu-img finds them, name for name. */
static void assert_like_qemu_img(const ImageChain *c)
{
    g_autoptr(GPtrArray) theirs = qemu_img_chain(layer(c, 0)->path);

    g_assert_cmpuint(theirs->len, ==, c->layers->len);
    for (guint i = 0; i < theirs->len; i++) {
        g_assert_cmpstr(layer(c, i)->path, ==, theirs->pdata[i]);
    }
}

static void test_formats(Fixture *f, gconstpointer data)
{
    ImageFormat fmt = IMAGE_FORMAT_QCOW2;

    g_assert_cmpstr(image_format_name(IMAGE_FORMAT_RAW), ==, "raw");
    g_assert_cmpstr(image_format_name(IMAGE_FORMAT_QCOW2), ==, "qcow2");
    g_assert_true(image_format_from_name("raw", &fmt));
    g_assert_cmpint(fmt, ==, IMAGE_FORMAT_RAW);
    g_assert_true(image_format_from_name("qcow2", &fmt));
    g_assert_cmpint(fmt, ==, IMAGE_FORMAT_QCOW2);
    g_assert_false(image_format_from_name("QCOW2", &fmt));
    g_assert_false(image_format_from_name("vmdk", &fmt));
    g_assert_false(image_format_from_name("", &fmt));
    g_assert_cmpint(fmt, ==, IMAGE_FORMAT_QCOW2);
}

/* A raw image is one layer of its file's size, even when it holds a qcow2
 * header: a raw disk is never probed. */
static void test_raw(Fixture *f, gconstpointer data)
{
    g_autofree char *path = tpath(f, "disk.img");
    g_autofree guint8 *buf = g_malloc0(MiB + 5);

    write_file(path, buf, MiB + 5);
    g_autoptr(ImageChain) c = open_ok(path, IMAGE_FORMAT_RAW);
    g_assert_cmpuint(c->layers->len, ==, 1);
    assert_layer(c, 0, path, IMAGE_FORMAT_RAW, MiB + 5);
    g_autofree char *desc = image_chain_describe(c);
    g_autofree char *want = g_strdup_printf("%s (raw)", path);
    g_assert_cmpstr(desc, ==, want);
    g_assert_false(image_looks_like_qcow2(path));

    /* The guest wrote a qcow2 header naming a backing file. */
    memcpy(buf, "QFI\xfb\0\0\0\3\0\0\0\0\0\0\0\x70", 16);
    write_file(path, buf, 4096);
    g_autoptr(ImageChain) c2 = open_ok(path, IMAGE_FORMAT_RAW);
    g_assert_cmpuint(c2->layers->len, ==, 1);
    assert_layer(c2, 0, path, IMAGE_FORMAT_RAW, 4096);
    g_assert_true(image_looks_like_qcow2(path));

    /* Opened as qcow2, a raw file is refused. */
    memset(buf, 0, 16);
    write_file(path, buf, 4096);
    g_autofree char *msg = open_fails(path, IMAGE_FORMAT_QCOW2,
                                      VMSPEC_ERROR_INVALID);
    g_autofree char *want2 = g_strdup_printf(
        "%s is not a qcow2 image (it does not start with the qcow2 magic "
        "\"QFI\\xfb\")", path);
    g_assert_cmpstr(msg, ==, want2);
}

static void test_not_files(Fixture *f, gconstpointer data)
{
    g_autofree char *fifo = tpath(f, "fifo");
    g_autofree char *missing = tpath(f, "missing.qcow2");

    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    g_autofree char *m1 = open_fails(fifo, IMAGE_FORMAT_QCOW2,
                                     VMSPEC_ERROR_INVALID);
    g_assert_nonnull(strstr(m1, "is not a regular file or block device"));
    g_free(open_fails(f->dir, IMAGE_FORMAT_RAW, VMSPEC_ERROR_INVALID));
    g_autofree char *m2 = open_fails(missing, IMAGE_FORMAT_QCOW2,
                                     VMSPEC_ERROR_NOT_FOUND);
    g_autofree char *want = g_strdup_printf("%s does not exist", missing);
    g_assert_cmpstr(m2, ==, want);

    g_assert_false(image_looks_like_qcow2(fifo));
    g_assert_false(image_looks_like_qcow2(f->dir));
    g_assert_false(image_looks_like_qcow2(missing));
    g_autofree char *tiny = tpath(f, "tiny");
    write_file(tiny, "QFI", 3);
    g_assert_false(image_looks_like_qcow2(tiny));
}

static void test_qcow2_alone(Fixture *f, gconstpointer data)
{
    if (skip_without_qemu_img()) {
        return;
    }
    g_autofree char *path = tpath(f, "a.qcow2");
    g_free(qemu_img(f->dir, "create", "-q", "-f", "qcow2", path, "64M",
                    NULL));
    g_autoptr(ImageChain) c = open_ok(path, IMAGE_FORMAT_QCOW2);
    g_assert_cmpuint(c->layers->len, ==, 1);
    assert_layer(c, 0, path, IMAGE_FORMAT_QCOW2, 64 * MiB);
    g_assert_true(image_looks_like_qcow2(path));

    /* Opened as raw: one raw layer, the file's size. */
    struct stat st;
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_autoptr(ImageChain) raw = open_ok(path, IMAGE_FORMAT_RAW);
    assert_layer(raw, 0, path, IMAGE_FORMAT_RAW, st.st_size);
}

/*
 * qcow2 -> qcow2 -> raw with relative names ("../mid.qcow2" in
 * sub/deeper/, "../base.img" in sub/): each resolved against the directory
 * of the path the layer above was opened by, not made canonical, and not
 * against the working directory; as qemu-img does.
 */
static void test_relative_chain(Fixture *f, gconstpointer data)
{
    if (skip_without_qemu_img()) {
        return;
    }
    g_autofree char *deeper = tpath(f, "sub/deeper");
    g_assert_cmpint(g_mkdir_with_parents(deeper, 0700), ==, 0);
    g_free(qemu_img(f->dir, "create", "-q", "-f", "raw", "base.img", "3M",
                    NULL));
    g_free(qemu_img(f->dir, "create", "-q", "-f", "qcow2", "-b",
                    "../base.img", "-F", "raw", "sub/mid.qcow2", NULL));
    g_free(qemu_img(f->dir, "create", "-q", "-f", "qcow2", "-b",
                    "../mid.qcow2", "-F", "qcow2", "sub/deeper/top.qcow2",
                    "5M", NULL));

    g_assert_cmpint(chdir(f->dir), ==, 0);
    g_autoptr(ImageChain) c = open_ok("sub/deeper/top.qcow2",
                                      IMAGE_FORMAT_QCOW2);
    g_assert_cmpuint(c->layers->len, ==, 3);
    assert_layer(c, 0, "sub/deeper/top.qcow2", IMAGE_FORMAT_QCOW2, 5 * MiB);
    assert_layer(c, 1, "sub/deeper/../mid.qcow2", IMAGE_FORMAT_QCOW2,
                 3 * MiB);
    assert_layer(c, 2, "sub/deeper/../../base.img", IMAGE_FORMAT_RAW,
                 3 * MiB);
    assert_like_qemu_img(c);
    g_autofree char *desc = image_chain_describe(c);
    g_assert_cmpstr(desc, ==,
                    "sub/deeper/top.qcow2 (qcow2) -> sub/deeper/../mid.qcow2 "
                    "(qcow2) -> sub/deeper/../../base.img (raw)");

    /* From the image's own directory, and from elsewhere by absolute
     * path: the same files. */
    g_assert_cmpint(chdir(deeper), ==, 0);
    g_autoptr(ImageChain) c2 = open_ok("top.qcow2", IMAGE_FORMAT_QCOW2);
    assert_layer(c2, 1, "../mid.qcow2", IMAGE_FORMAT_QCOW2, 3 * MiB);
    assert_layer(c2, 2, "../../base.img", IMAGE_FORMAT_RAW, 3 * MiB);
    assert_like_qemu_img(c2);
    g_assert_cmpint(chdir("/"), ==, 0);
    g_autofree char *top = g_build_filename(deeper, "top.qcow2", NULL);
    g_autoptr(ImageChain) c3 = open_ok(top, IMAGE_FORMAT_QCOW2);
    g_autofree char *base = g_build_filename(deeper, "../../base.img", NULL);
    assert_layer(c3, 2, base, IMAGE_FORMAT_RAW, 3 * MiB);
    assert_like_qemu_img(c3);
}

static void test_absolute_and_v2(Fixture *f, gconstpointer data)
{
    if (skip_without_qemu_img()) {
        return;
    }
    g_autofree char *base = tpath(f, "base.img");
    g_autofree char *sub = tpath(f, "sub");
    g_assert_cmpint(g_mkdir(sub, 0700), ==, 0);
    g_free(qemu_img(f->dir, "create", "-q", "-f", "raw", base, "2M", NULL));
    /* A version 2 image (compat=0.10) with an absolute backing name. */
    g_free(qemu_img(sub, "create", "-q", "-f", "qcow2", "-o", "compat=0.10",
                    "-b", base, "-F", "raw", "v2.qcow2", NULL));
    g_autofree char *v2 = tpath(f, "sub/v2.qcow2");
    g_autoptr(ImageChain) c = open_ok(v2, IMAGE_FORMAT_QCOW2);
    g_assert_cmpuint(c->layers->len, ==, 2);
    assert_layer(c, 0, v2, IMAGE_FORMAT_QCOW2, 2 * MiB);
    assert_layer(c, 1, base, IMAGE_FORMAT_RAW, 2 * MiB);
    assert_like_qemu_img(c);

    /* A compressed image (convert -c) over nothing. */
    g_autofree char *comp = tpath(f, "comp.qcow2");
    g_free(qemu_img(f->dir, "convert", "-c", "-O", "qcow2", base, comp,
                    NULL));
    g_autoptr(ImageChain) c2 = open_ok(comp, IMAGE_FORMAT_QCOW2);
    g_assert_cmpuint(c2->layers->len, ==, 1);
    assert_layer(c2, 0, comp, IMAGE_FORMAT_QCOW2, 2 * MiB);
}

/* The file offset of the first backing format extension of a qemu-img
 * image (after its header). */
static size_t find_format_ext(const guint8 *b, size_t len)
{
    for (size_t off = 72; off + 4 <= len; off += 8) {
        if (memcmp(b + off, "\xe2\x79\x2a\xca", 4) == 0) {
            return off;
        }
    }
    g_assert_not_reached();
    return 0;
}

/* qemu-img 7.2 will write no image without a backing format (create and
 * rebase insist on -F), so its extension is renamed to an unknown type. */
static void test_no_backing_format(Fixture *f, gconstpointer data)
{
    if (skip_without_qemu_img()) {
        return;
    }
    g_autofree char *top = tpath(f, "my vm.qcow2");
    g_free(qemu_img(f->dir, "create", "-q", "-f", "raw", "base.img", "1M",
                    NULL));
    g_free(qemu_img(f->dir, "create", "-q", "-f", "qcow2", "-b", "base.img",
                    "-F", "raw", top, NULL));
    g_autofree char *bytes = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(top, &bytes, &len, NULL));
    memcpy(bytes + find_format_ext((guint8 *)bytes, MIN(len, 4096)),
           "\x12\x34\x56\x78", 4);
    write_file(top, bytes, len);
    g_autofree char *info = qemu_img(NULL, "info", top, NULL);
    g_assert_null(strstr(info, "backing file format"));

    g_autofree char *msg = open_fails(top, IMAGE_FORMAT_QCOW2,
                                      VMSPEC_ERROR_INVALID);
    g_autofree char *want = g_strdup_printf(
        "backing file base.img of %s has no recorded format, and vmspec "
        "never guesses one; record it with: qemu-img rebase -u -F "
        "raw|qcow2 -b base.img '%s'", top, top);
    g_assert_cmpstr(msg, ==, want);

    /* The hint works. */
    g_free(qemu_img(f->dir, "rebase", "-u", "-F", "raw", "-b", "base.img",
                    top, NULL));
    g_autoptr(ImageChain) c = open_ok(top, IMAGE_FORMAT_QCOW2);
    g_assert_cmpuint(c->layers->len, ==, 2);
}

static void test_missing_backing(Fixture *f, gconstpointer data)
{
    if (skip_without_qemu_img()) {
        return;
    }
    g_autofree char *top = tpath(f, "vm.qcow2");
    g_free(qemu_img(f->dir, "create", "-q", "-f", "qcow2", "-u", "-b",
                    "gone.qcow2", "-F", "qcow2", top, "1M", NULL));
    g_autofree char *msg = open_fails(top, IMAGE_FORMAT_QCOW2,
                                      VMSPEC_ERROR_NOT_FOUND);
    g_autofree char *gone = tpath(f, "gone.qcow2");
    g_autofree char *want = g_strdup_printf(
        "backing file %s of %s does not exist", gone, top);
    g_assert_cmpstr(msg, ==, want);
}

/* a.qcow2 -> b.qcow2 -> a.qcow2, made with rebase -u. */
static void test_loop(Fixture *f, gconstpointer data)
{
    if (skip_without_qemu_img()) {
        return;
    }
    g_autofree char *a = tpath(f, "a.qcow2");
    g_autofree char *b = tpath(f, "b.qcow2");
    g_free(qemu_img(f->dir, "create", "-q", "-f", "qcow2", a, "1M", NULL));
    g_free(qemu_img(f->dir, "create", "-q", "-f", "qcow2", "-b", "a.qcow2",
                    "-F", "qcow2", b, NULL));
    g_free(qemu_img(f->dir, "rebase", "-u", "-b", "b.qcow2", "-F", "qcow2",
                    a, NULL));
    g_autofree char *msg = open_fails(a, IMAGE_FORMAT_QCOW2,
                                      VMSPEC_ERROR_INVALID);
    g_autofree char *want = g_strdup_printf(
        "backing chain of %s loops back to %s (backing file %s of %s is the "
        "same file)", a, a, a, b);
    g_assert_cmpstr(msg, ==, want);
}

static void test_refused_backings(Fixture *f, gconstpointer data)
{
    if (skip_without_qemu_img()) {
        return;
    }
    static const struct {
        const char *name, *format, *expect;
    } cases[] = {
        { "json:{\"driver\":\"file\",\"filename\":\"/etc/shadow\"}", "raw",
          "is a QEMU json: description, not a file name" },
        { "nbd:localhost:10809", "raw",
          "is \"nbd:localhost:10809\", which QEMU reads as a protocol" },
        { "base.vmdk", "vmdk",
          "has format \"vmdk\"; vmspec supports only raw and qcow2 "
          "backing files" },
    };
    g_autofree char *top = tpath(f, "top.qcow2");

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_unlink(top);
        g_free(qemu_img(f->dir, "create", "-q", "-f", "qcow2", "-u", "-b",
                        cases[i].name, "-F", cases[i].format, top, "1M",
                        NULL));
        g_autofree char *msg = open_fails(top, IMAGE_FORMAT_QCOW2,
                                          VMSPEC_ERROR_INVALID);
        g_assert_nonnull(strstr(msg, cases[i].expect));
        g_assert_nonnull(strstr(msg, top));
    }

    /* An external data file: refused, by its extension. */
    g_autofree char *ext = tpath(f, "ext.qcow2");
    g_free(qemu_img(f->dir, "create", "-q", "-f", "qcow2", "-o",
                    "data_file=data.raw", ext, "1M", NULL));
    g_autofree char *msg = open_fails(ext, IMAGE_FORMAT_QCOW2,
                                      VMSPEC_ERROR_INVALID);
    g_autofree char *want = g_strdup_printf(
        "%s keeps its data in an external data file (\"data.raw\"), which "
        "vmspec does not support", ext);
    g_assert_cmpstr(msg, ==, want);

    /* An encrypted image: the daemon would need a key vmspec cannot give. */
    g_autofree char *enc = tpath(f, "enc.qcow2");
    g_free(qemu_img(f->dir, "create", "-q", "--object",
                    "secret,id=s0,data=vmspec", "-f", "qcow2", "-o",
                    "encrypt.format=luks,encrypt.key-secret=s0,"
                    "encrypt.iter-time=10", enc, "1M", NULL));
    g_autofree char *enc_msg = open_fails(enc, IMAGE_FORMAT_QCOW2,
                                          VMSPEC_ERROR_INVALID);
    g_autofree char *enc_want = g_strdup_printf(
        "%s is encrypted (qcow2 crypt_method 2), which vmspec does not "
        "support: decrypt it with qemu-img convert", enc);
    g_assert_cmpstr(enc_msg, ==, enc_want);
}

static void put32(guint8 *b, size_t off, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        b[off + i] = v >> (24 - 8 * i);
    }
}

static void put64(guint8 *b, size_t off, uint64_t v)
{
    put32(b, off, v >> 32);
    put32(b, off + 4, (uint32_t)v);
}

/* The crafted image (see CRAFT_*) into b (CRAFT_CLUSTER bytes): backing
 * name and format, either NULL for none. */
static void craft(guint8 *b, const char *backing, const char *format)
{
    memset(b, 0, CRAFT_CLUSTER);
    memcpy(b, "QFI\xfb", 4);
    put32(b, 4, 3);
    put32(b, 20, 16);
    put64(b, 24, MiB);
    put32(b, 100, CRAFT_EXT_AT);
    if (format) {
        put32(b, CRAFT_EXT_AT, 0xe2792aca);
        put32(b, CRAFT_EXT_AT + 4, strlen(format));
        memcpy(b + CRAFT_EXT_AT + 8, format, strlen(format));
    }
    if (backing) {
        put64(b, 8, CRAFT_NAME_AT);
        put32(b, 16, strlen(backing));
        memcpy(b + CRAFT_NAME_AT, backing, strlen(backing));
    }
}

static void craft_file(Fixture *f, const char *name, const char *backing,
                       const char *format)
{
    g_autofree guint8 *b = g_malloc(CRAFT_CLUSTER);
    g_autofree char *path = tpath(f, name);

    craft(b, backing, format);
    write_file(path, b, CRAFT_CLUSTER);
}

/* Changes to the crafted top.qcow2 (-> base.img, raw): up to three fields
 * poked (width 1, 4 or 8 bytes; width 0: none), the file cut to len bytes
 * (0: whole), and either the layers it then has or an INVALID error whose
 * message holds expect. */
typedef struct {
    struct {
        size_t off, width;
        uint64_t value;
    } poke[3];
    size_t len;
    guint layers;
    const char *expect;
} Mangle;

static const Mangle mangles[] = {
    { .layers = 2 },
    { { { 0, 1, 'X' } }, .expect = "does not start with the qcow2 magic" },
    { .len = 1, .expect = "does not start with the qcow2 magic" },
    { .len = 4, .expect = "it ends inside its header (4 bytes)" },
    { .len = 100, .expect = "it ends inside its header (100 bytes)" },
    { { { 4, 4, 1 } }, .expect = "version 1, which QEMU cannot open" },
    { { { 4, 4, 4 } }, .expect = "version 4, which QEMU cannot open" },
    { { { 20, 4, 8 } }, .expect = "cluster size 2^8 is not between" },
    { { { 20, 4, 22 } }, .expect = "cluster size 2^22 is not between" },
    { { { 20, 4, 0xffffffff } }, .expect = "cluster size 2^4294967295" },
    { { { 100, 4, 3 } }, .expect = "header length 3 is not" },
    /* The header grows over the format extension. */
    { { { 100, 4, 112 } }, .expect = "has no recorded format" },
    { { { 100, 4, 109 } }, .expect = "header length 109 is not" },
    { { { 100, 4, 65544 } }, .expect = "header length 65544 is not" },
    { { { 100, 4, 0xffffffff } }, .expect = "header length 4294967295" },
    { { { 100, 4, 512 } }, .len = 300,
      .expect = "it ends inside its header (300 of 512 bytes)" },
    { { { 8, 8, 65537 } }, .expect = "offset 65537 lies beyond its first" },
    { { { 8, 8, UINT64_MAX } }, .expect = "offset 18446744073709551615" },
    { { { 16, 4, 0xffffffff } },
      .expect = "backing file name is 4294967295 bytes long" },
    { { { 16, 4, 1024 } }, .expect = "backing file name is 1024 bytes long" },
    { { { 16, 4, 1023 } },
      .expect = "contains a NUL or control character (byte 8)" },
    { { { 8, 8, 65532 } }, .expect = "(8 bytes at byte 65532) runs past" },
    { { { 16, 4, 0 } }, .layers = 1 },
    { { { 8, 8, 0 } }, .layers = 1 },
    { .len = CRAFT_NAME_AT + 4,
      .expect = "contains a NUL or control character (byte 4)" },
    { { { CRAFT_NAME_AT + 2, 1, 0 } },
      .expect = "contains a NUL or control character (byte 2)" },
    { { { CRAFT_NAME_AT + 1, 1, '\n' } },
      .expect = "NUL or control character (byte 1)" },
    { { { CRAFT_NAME_AT, 1, 0xff } }, .expect = "name is not UTF-8" },
    { { { CRAFT_EXT_AT + 4, 4, 0xffffffff } },
      .expect = "is longer (4294967295 bytes) than the space left" },
    { { { CRAFT_EXT_AT + 4, 4, CRAFT_NAME_AT - CRAFT_EXT_AT - 7 } },
      .expect = "is longer (401 bytes) than the space left" },
    { { { CRAFT_EXT_AT + 4, 4, 16 } },
      .expect = "backing format name is 16 bytes long" },
    { { { CRAFT_EXT_AT + 4, 4, 0 } }, .expect = "has no recorded format" },
    { { { CRAFT_EXT_AT, 4, 0 } }, .expect = "has no recorded format" },
    /* An unknown (or the feature table) extension instead: skipped. */
    { { { CRAFT_EXT_AT, 4, 0x6803f857 } }, .expect = "no recorded format" },
    /* An empty unknown extension, then the format: found. */
    { { { 104, 8, UINT64_C(0x1234567800000000) },
        { 112, 8, UINT64_C(0xe2792aca00000003) }, { 120, 4, 0x72617700 } },
      .layers = 2 },
    { { { CRAFT_EXT_AT + 8, 4, 0x766d646b }, { CRAFT_EXT_AT + 4, 4, 4 } },
      .expect = "has format \"vmdk\"" },
    { { { CRAFT_EXT_AT + 4, 4, 4 } }, .expect = "has format \"raw\"" },
    { { { 8, 8, CRAFT_EXT_AT + 4 } }, .expect = "at byte 104 is cut off" },
    { { { CRAFT_EXT_AT, 4, 0x44415441 } },
      .expect = "in an external data file (\"raw\")" },
    { { { 72, 8, 4 } }, .expect = "keeps its data in an external data" },
    { { { 72, 8, 1 | UINT64_C(1) << 60 } }, .layers = 2 },
};

static void test_crafted(Fixture *f, gconstpointer data)
{
    g_autofree char *top = tpath(f, "top.qcow2");
    g_autofree char *base = tpath(f, "base.img");
    g_autofree guint8 *b = g_malloc(CRAFT_CLUSTER);

    write_file(base, "", 0);
    for (size_t i = 0; i < G_N_ELEMENTS(mangles); i++) {
        const Mangle *m = &mangles[i];
        craft(b, "base.img", "raw");
        for (int p = 0; p < 3; p++) {
            size_t off = m->poke[p].off;
            uint64_t v = m->poke[p].value;
            switch (m->poke[p].width) {
            case 1: b[off] = v; break;
            case 4: put32(b, off, v); break;
            case 8: put64(b, off, v); break;
            }
        }
        write_file(top, b, m->len ? m->len : CRAFT_CLUSTER);
        g_test_message("mangle %zu", i);
        if (m->layers) {
            g_autoptr(ImageChain) c = open_ok(top, IMAGE_FORMAT_QCOW2);
            g_assert_cmpuint(c->layers->len, ==, m->layers);
            assert_layer(c, 0, top, IMAGE_FORMAT_QCOW2, MiB);
            continue;
        }
        g_autofree char *msg = open_fails(top, IMAGE_FORMAT_QCOW2,
                                          VMSPEC_ERROR_INVALID);
        g_assert_nonnull(strstr(msg, m->expect));
        g_assert_nonnull(strstr(msg, top));
    }
}

/* The smallest clusters (512 bytes) in a version 2 image: its extensions
 * start at byte 72; the name fills the rest of the cluster. */
static void test_crafted_v2(Fixture *f, gconstpointer data)
{
    g_autofree char *top = tpath(f, "v2.qcow2");
    g_autofree char *base = tpath(f, "b");
    guint8 b[512] = { 0 };

    memcpy(b, "QFI\xfb", 4);
    put32(b, 4, 2);
    put32(b, 20, 9);
    put64(b, 24, 7 * 512);
    put32(b, 72, 0xe2792aca);
    put32(b, 76, 5);
    memcpy(b + 80, "qcow2", 5);
    put64(b, 8, 511);
    put32(b, 16, 1);
    b[511] = 'b';
    write_file(top, b, sizeof(b));
    put64(b, 8, 0);
    write_file(base, b, 100);
    g_autoptr(ImageChain) c = open_ok(top, IMAGE_FORMAT_QCOW2);
    g_assert_cmpuint(c->layers->len, ==, 2);
    assert_layer(c, 0, top, IMAGE_FORMAT_QCOW2, 7 * 512);
    assert_layer(c, 1, base, IMAGE_FORMAT_QCOW2, 7 * 512);
}

/* 32 layers are enough; 33 too many.  A layer that is its own backing
 * file (under another name) is a loop. */
static void test_depth_and_self_loop(Fixture *f, gconstpointer data)
{
    for (int i = 0; i < IMAGE_CHAIN_MAX_DEPTH + 1; i++) {
        g_autofree char *name = g_strdup_printf("l%02d.qcow2", i);
        g_autofree char *next = g_strdup_printf("l%02d.qcow2", i + 1);
        craft_file(f, name, i < IMAGE_CHAIN_MAX_DEPTH ? next : NULL,
                   "qcow2");
    }
    g_autofree char *l0 = tpath(f, "l00.qcow2");
    g_autofree char *l1 = tpath(f, "l01.qcow2");
    g_autoptr(ImageChain) c = open_ok(l1, IMAGE_FORMAT_QCOW2);
    g_assert_cmpuint(c->layers->len, ==, IMAGE_CHAIN_MAX_DEPTH);
    g_autofree char *msg = open_fails(l0, IMAGE_FORMAT_QCOW2,
                                      VMSPEC_ERROR_INVALID);
    g_autofree char *want = g_strdup_printf(
        "backing chain of %s is deeper than 32 images", l0);
    g_assert_cmpstr(msg, ==, want);

    craft_file(f, "self.qcow2", "alias.qcow2", "qcow2");
    g_autofree char *self = tpath(f, "self.qcow2");
    g_autofree char *alias = tpath(f, "alias.qcow2");
    g_assert_cmpint(link(self, alias), ==, 0);
    g_autofree char *m2 = open_fails(self, IMAGE_FORMAT_QCOW2,
                                     VMSPEC_ERROR_INVALID);
    g_assert_nonnull(strstr(m2, "loops back to"));
}

/* Random corruption of the crafted header's first 640 bytes: every
 * outcome is a chain or an error, never a crash (run under ASan). */
static void test_random_headers(Fixture *f, gconstpointer data)
{
    g_autofree char *top = tpath(f, "top.qcow2");
    g_autofree char *base = tpath(f, "base.img");
    g_autofree guint8 *b = g_malloc(CRAFT_CLUSTER);
    GRand *rand = g_rand_new_with_seed(20240601);

    write_file(base, "", 0);
    for (int iter = 0; iter < 3000; iter++) {
        craft(b, "base.img", g_rand_boolean(rand) ? "raw" : "qcow2");
        int n = g_rand_int_range(rand, 1, 6);
        for (int k = 0; k < n; k++) {
            b[g_rand_int_range(rand, 0, 640)] = g_rand_int(rand);
        }
        size_t len = g_rand_int_range(rand, 0, 8) ? 1024
                     : (size_t)g_rand_int_range(rand, 0, 1024);
        write_file(top, b, len);
        g_autoptr(GError) err = NULL;
        g_autoptr(ImageChain) c = image_chain_open(top, IMAGE_FORMAT_QCOW2,
                                                   &err);
        g_assert_true((c != NULL) != (err != NULL));
        if (err) {
            g_assert_true(err->domain == VMSPEC_ERROR);
            g_assert_true(g_utf8_validate(err->message, -1, NULL));
        } else {
            g_free(image_chain_describe(c));
        }
    }
    g_rand_free(rand);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) \
    g_test_add("/image-chain/" name, Fixture, NULL, fixture_setup, fn, \
               fixture_teardown)
    ADD("formats", test_formats);
    ADD("raw", test_raw);
    ADD("not-files", test_not_files);
    ADD("qcow2-alone", test_qcow2_alone);
    ADD("relative-chain", test_relative_chain);
    ADD("absolute-v2-compressed", test_absolute_and_v2);
    ADD("no-backing-format", test_no_backing_format);
    ADD("missing-backing", test_missing_backing);
    ADD("loop", test_loop);
    ADD("refused-backings", test_refused_backings);
    ADD("crafted", test_crafted);
    ADD("crafted-v2", test_crafted_v2);
    ADD("depth-self-loop", test_depth_and_self_loop);
    ADD("random-headers", test_random_headers);
#undef ADD
    return g_test_run();
}
