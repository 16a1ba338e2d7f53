/*
 * NoCloud seed images with libisofs (nocloud-seed.h).
 */
#include "machine/backend/nocloud-seed.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
/* libisofs.h declares iso_init(), iso_finish() and iso_get_messenger()
 * without prototypes; it declares struct burn_source, which its images are
 * read through, only for a program that does not use libburn's. */
#define LIBISOFS_WITHOUT_LIBBURN 1
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <libisofs.h>
#pragma GCC diagnostic pop

#include "machine/qom/error.h"

#define SEED_VOLUME_ID      "cidata"
/* 2000-01-01 00:00:00 UTC, as time_t and as ECMA-119's 8.4.26.1 digits
 * (YYYYMMDDhhmmsscc; libisofs then records the zone as GMT). */
#define SEED_EPOCH          ((time_t)946684800)
#define SEED_EPOCH_DIGITS   "2000010100000000"
#define SEED_CHUNK          (64 * 1024)

/*
 * libisofs is initialised once per process and never finalised.
 * iso_init() is not reference counted: each call resets the library's
 * message settings (to printing FATAL messages on stderr), and
 * iso_finish() frees the message queue that every thread's images report
 * to, so one writer finishing would pull the library from under another.
 * The GOnce is the one piece of global state here; what it sets up lives
 * until exit.  iso_init_with_flag(1) leaves the process locale alone
 * (iso_init() calls setlocale(LC_CTYPE, "")), and no message is ever
 * queued or printed: failures come back as return codes.
 */
static gpointer seed_lib_init_once(gpointer data)
{
    int ret = iso_init_with_flag(1);

    if (ret >= 0) {
        ret = iso_set_msgs_severities("NEVER", "NEVER", "vmspec") > 0 ?
              ISO_SUCCESS : ISO_WRONG_ARG_VALUE;
    }
    return GINT_TO_POINTER(ret);
}

static void set_error(GError **errp, int code, const char *path,
                      const char *what, const char *why)
{
    g_set_error(errp, VMSPEC_ERROR, code,
                "cannot write NoCloud seed image %s: %s: %s", path, what, why);
}

#define set_iso_error(errp, path, what, ret) \
    set_error(errp, VMSPEC_ERROR_IO, path, what, iso_error_to_msg(ret))
#define set_io_error(errp, path, what, err) \
    set_error(errp, VMSPEC_ERROR_IO, path, what, g_strerror(err))

static bool check_files(const char *path, const SeedFile *files, size_t n,
                        GError **errp)
{
    static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "abcdefghijklmnopqrstuvwxyz0123456789._-";

    for (size_t i = 0; i < n; i++) {
        const char *name = files[i].name ? files[i].name : "";
        size_t len = strlen(name);
        g_autofree char *esc = g_strescape(name, NULL);
        g_autofree char *what = g_strdup_printf("file \"%s\"", esc);

        if (len == 0 || len > NOCLOUD_SEED_MAX_NAME ||
            strspn(name, chars) != len ||
            !strcmp(name, ".") || !strcmp(name, "..")) {
            set_error(errp, VMSPEC_ERROR_INVALID, path, what,
                      "a name is 1 to 64 of A-Z a-z 0-9 . _ -, not . or ..");
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(files[j].name, name)) {
                set_error(errp, VMSPEC_ERROR_INVALID, path, what,
                          "given twice");
                return false;
            }
        }
        if (files[i].len > NOCLOUD_SEED_MAX_FILE) {
            set_error(errp, VMSPEC_ERROR_INVALID, path, what,
                      "larger than 16 MiB");
            return false;
        }
    }
    return true;
}

/*
 * A seed file's bytes as libisofs reads them: straight from the caller's
 * SeedFile, which outlives the image.  libisofs' memory streams are not
 * used: they number themselves with an unlocked global counter (stream.c,
 * mem_serial_id) and libisofs tells them apart by that number alone, so
 * two threads could give two streams of one image the same number and
 * libisofs would store one file's data for both; and the numbers, so the
 * order of data and inodes, would follow files[]'s order.  These streams
 * compare by name.
 */
typedef struct {
    IsoStream stream;           /* first: libisofs free()s the stream */
    const SeedFile *file;
    size_t pos;
} SeedStream;

#define SEED_STREAM(s)  ((SeedStream *)(s))

static int seed_stream_open(IsoStream *stream)
{
    SEED_STREAM(stream)->pos = 0;
    return ISO_SUCCESS;
}

/* close, is_repeatable (yes), update_size. */
static int seed_stream_ok(IsoStream *stream)
{
    return ISO_SUCCESS;
}

static off_t seed_stream_size(IsoStream *stream)
{
    return SEED_STREAM(stream)->file->len;
}

static int seed_stream_read(IsoStream *stream, void *buf, size_t count)
{
    SeedStream *s = SEED_STREAM(stream);
    size_t n = MIN(count, s->file->len - s->pos);

    if (n) {
        memcpy(buf, (const char *)s->file->data + s->pos, n);
    }
    s->pos += n;
    return n;
}

/* No id: the image numbers the inodes itself. */
static void seed_stream_get_id(IsoStream *stream, unsigned int *fs_id,
                               dev_t *dev_id, ino_t *ino_id)
{
    *fs_id = 0;
    *dev_id = 0;
    *ino_id = 0;
}

static void seed_stream_free(IsoStream *stream)
{
}

static IsoStream *seed_stream_input(IsoStream *stream, int flag)
{
    return NULL;
}

static int seed_stream_cmp(IsoStream *a, IsoStream *b)
{
    int c = strcmp(SEED_STREAM(a)->file->name, SEED_STREAM(b)->file->name);

    return (c > 0) - (c < 0);
}

/* Version 3: the methods up to cmp_ino. */
static IsoStreamIface seed_stream_class = {
    .version = 3, .type = "user",
    .open = seed_stream_open, .close = seed_stream_ok,
    .get_size = seed_stream_size, .read = seed_stream_read,
    .is_repeatable = seed_stream_ok, .get_id = seed_stream_get_id,
    .free = seed_stream_free, .update_size = seed_stream_ok,
    .get_input_stream = seed_stream_input, .cmp_ino = seed_stream_cmp,
};

/* The image's tree: the files at the root. */
static IsoImage *build_tree(const char *path, const SeedFile *files,
                            size_t n, GError **errp)
{
    IsoImage *image;
    int ret = iso_image_new(SEED_VOLUME_ID, &image);

    if (ret < 0) {
        set_iso_error(errp, path, "new image", ret);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        SeedStream *s = malloc(sizeof(*s));

        ret = ISO_OUT_OF_MEM;
        if (s) {
            *s = (SeedStream){
                .stream = { .class = &seed_stream_class, .refcount = 1,
                            .data = NULL },
                .file = &files[i],
            };
            /* The new file takes the reference; a failure leaves it. */
            ret = iso_image_add_new_file(image, iso_image_get_root(image),
                                         files[i].name, &s->stream, NULL);
            if (ret < 0) {
                iso_stream_unref(&s->stream);
            }
        }
        if (ret < 0) {
            g_autofree char *what = g_strdup_printf("file %s", files[i].name);

            set_iso_error(errp, path, what, ret);
            iso_image_unref(image);
            return NULL;
        }
    }
    return image;
}

/* The write options that make the image the same every time. */
static int seed_write_opts(IsoWriteOpts **optsp)
{
    char uuid[] = SEED_EPOCH_DIGITS;
    IsoWriteOpts *opts;
    int ret = iso_write_opts_new(&opts, 0);

    if (ret < 0) {
        return ret;
    }
    if ((ret = iso_write_opts_set_iso_level(opts, 2)) < 0 ||
        (ret = iso_write_opts_set_rockridge(opts, 1)) < 0 ||
        (ret = iso_write_opts_set_joliet(opts, 1)) < 0 ||
        (ret = iso_write_opts_set_replace_mode(opts, 2, 2, 2, 2)) < 0 ||
        (ret = iso_write_opts_set_default_dir_mode(opts, 0755)) < 0 ||
        (ret = iso_write_opts_set_default_file_mode(opts, 0644)) < 0 ||
        (ret = iso_write_opts_set_default_uid(opts, 0)) < 0 ||
        (ret = iso_write_opts_set_default_gid(opts, 0)) < 0 ||
        /* Rock Ridge's and the directory records' times are the epoch,
         * in UTC whatever the host's zone; the volume descriptors' come
         * from the digits. */
        (ret = iso_write_opts_set_replace_timestamps(opts, 2)) < 0 ||
        (ret = iso_write_opts_set_default_timestamp(opts, SEED_EPOCH)) < 0 ||
        (ret = iso_write_opts_set_dir_rec_mtime(opts, 3)) < 0 ||
        (ret = iso_write_opts_set_always_gmt(opts, 1)) < 0 ||
        (ret = iso_write_opts_set_pvd_times(opts, SEED_EPOCH, SEED_EPOCH,
                                            0, 0, uuid)) < 0) {
        iso_write_opts_free(opts);
        return ret;
    }
    *optsp = opts;
    return ISO_SUCCESS;
}

/* Generates image into fd: libisofs' writer thread fills a ring buffer
 * that this thread drains.  Reads are of whole blocks, up to the size
 * announced: a read that the writer cannot fill loses what it had. */
static bool write_image(IsoImage *image, int fd, const char *path,
                        GError **errp)
{
    g_autofree unsigned char *buf = g_malloc(SEED_CHUNK);
    struct burn_source *src;
    IsoWriteOpts *opts;
    int ret = seed_write_opts(&opts);
    bool ok = false;

    if (ret >= 0) {
        ret = iso_image_create_burn_source(image, opts, &src);
        iso_write_opts_free(opts);
    }
    if (ret < 0) {
        set_iso_error(errp, path, "image setup", ret);
        return false;
    }
    for (off_t left = src->get_size(src); left > 0; ) {
        int want = MIN(left, SEED_CHUNK);
        int got = src->read_xt(src, buf, want);

        if (got != want) {
            /* The writer thread's own error went to the disabled queue. */
            set_error(errp, VMSPEC_ERROR_IO, path, "libisofs",
                      "image generation failed");
            goto out;
        }
        for (int done = 0; done < got; ) {
            ssize_t n = write(fd, buf + done, got - done);

            if (n <= 0 && !(n < 0 && errno == EINTR)) {
                set_io_error(errp, path, "write", n < 0 ? errno : ENOSPC);
                goto out;
            }
            done += MAX(n, 0);
        }
        left -= got;
    }
    /* And then the end, once the writer has finished. */
    ok = src->read_xt(src, buf, 2048) == 0;
    if (!ok) {
        set_error(errp, VMSPEC_ERROR_IO, path, "libisofs",
                  "image longer than announced");
    }
out:
    /* Stops and joins the writer thread if it is still at work. */
    src->cancel(src);
    src->free_data(src);
    free(src);
    return ok;
}

bool nocloud_seed_write(const char *path, const SeedFile *files,
                        size_t n_files, GError **errp)
{
    static GOnce init = G_ONCE_INIT;
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    g_autofree char *tmp = g_strdup_printf("%s/.%s.XXXXXX", dir, base);
    IsoImage *image;
    int ret, fd;
    bool ok;

    if (!check_files(path, files, n_files, errp)) {
        return false;
    }
    ret = GPOINTER_TO_INT(g_once(&init, seed_lib_init_once, NULL));
    if (ret < 0) {
        set_iso_error(errp, path, "libisofs initialisation", ret);
        return false;
    }
    image = build_tree(path, files, n_files, errp);
    if (!image) {
        return false;
    }
    fd = g_mkstemp_full(tmp, O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0) {
        set_io_error(errp, path, "temporary file", errno);
        iso_image_unref(image);
        return false;
    }
    ok = write_image(image, fd, path, errp);
    iso_image_unref(image);
    if (ok && fsync(fd) < 0) {
        set_io_error(errp, path, "fsync", errno);
        ok = false;
    }
    if (close(fd) < 0 && ok) {
        set_io_error(errp, path, "close", errno);
        ok = false;
    }
    if (ok && rename(tmp, path) < 0) {
        set_io_error(errp, path, "rename", errno);
        ok = false;
    }
    if (!ok) {
        g_unlink(tmp);
        return false;
    }
    /* The rename made durable, where the file system can. */
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    return true;
}
