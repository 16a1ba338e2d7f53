/*
 * Backing chains of raw and qcow2 images (image-chain.h): the qcow2 header
 * and its extensions, read from the first cluster of each file, and QEMU's
 * rules for resolving a backing file's name.
 *
 * Section names in comments are those of QEMU's docs/interop/qcow2.txt;
 * function names are QEMU's (block.c, block/qcow2.c).
 */
#include "machine/backend/image-chain.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/qom/error.h"

/* "Header": the fixed fields, big-endian, at these byte offsets. */
#define QCOW2_MAGIC             "QFI\xfb"
#define QCOW2_MAGIC_LEN         4
#define HDR_VERSION             4       /* be32: 2 or 3 */
#define HDR_BACKING_OFFSET      8       /* be64: 0 for none */
#define HDR_BACKING_SIZE        16      /* be32 */
#define HDR_CLUSTER_BITS        20      /* be32 */
#define HDR_SIZE                24      /* be64: the virtual size */
#define HDR_CRYPT_METHOD        32      /* be32: 0 none, 1 AES, 2 LUKS */
#define HDR_INCOMPATIBLE        72      /* be64, version 3 only */
#define HDR_LENGTH              100     /* be32, version 3 only */
/* "For version 2, the header is exactly 72 bytes in length"; "For version
 * 3 or higher, the header length is at least 104 bytes". */
#define HDR_V2_LENGTH           72
#define HDR_V3_MIN_LENGTH       104

/* qcow2_do_open's limits (block/qcow2.h MIN_CLUSTER_BITS and
 * MAX_CLUSTER_BITS): 512-byte to 2 MiB clusters.  "qemu as of today has
 * an implementation limit of 2 MB as the maximum cluster size". */
#define MIN_CLUSTER_BITS        9
#define MAX_CLUSTER_BITS        21

/* backing_file_size: "Must not be longer than 1023 bytes". */
#define BACKING_NAME_MAX        1023
/* qcow2_read_extensions refuses a backing format name that does not fit
 * BlockDriverState.backing_format[16] with its NUL. */
#define BACKING_FORMAT_MAX      15

/* "Header extensions": be32 type, be32 length, data padded to 8 bytes. */
#define EXT_HEADER_LEN          8
#define EXT_END                 0x00000000u
#define EXT_BACKING_FORMAT      0xe2792acau
#define EXT_DATA_FILE           0x44415441u

/* incompatible_features bit 2: "External data file bit". */
#define INCOMPAT_DATA_FILE      (UINT64_C(1) << 2)

/* The data file name shown in an error, at most. */
#define SHOWN_NAME_MAX          256

/* What a qcow2 header says about the chain. */
typedef struct {
    uint64_t virtual_size;
    char *backing_name;         /* NULL: no backing file */
    char *backing_format;       /* NULL: none recorded */
    size_t backing_format_len;  /* bytes in the extension (NULs too) */
    char *data_file;            /* an external data file's name, or NULL */
} Qcow2Info;

/* A file's identity, for loop detection: its inode; for a block device
 * the device itself (two nodes may name one), with ino 0. */
typedef struct {
    dev_t dev;
    ino_t ino;
} FileId;

const char *image_format_name(ImageFormat format)
{
    switch (format) {
    case IMAGE_FORMAT_RAW:
        return "raw";
    case IMAGE_FORMAT_QCOW2:
        return "qcow2";
    }
    g_assert_not_reached();
    return NULL;
}

bool image_format_from_name(const char *name, ImageFormat *format)
{
    if (g_str_equal(name, "raw")) {
        *format = IMAGE_FORMAT_RAW;
    } else if (g_str_equal(name, "qcow2")) {
        *format = IMAGE_FORMAT_QCOW2;
    } else {
        return false;
    }
    return true;
}

static uint32_t be32_at(const guint8 *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64_at(const guint8 *p)
{
    return (uint64_t)be32_at(p) << 32 | be32_at(p + 4);
}

/* Opens path read-only without blocking (O_NONBLOCK: open(2) of a FIFO
 * would wait for a writer) and checks that it is a regular file or a block
 * device.  what names the file in errors.  Returns the fd, or -1. */
static int open_image(const char *path, const char *what, struct stat *st,
                      GError **errp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

    if (fd < 0) {
        int err = errno;
        if (err == ENOENT) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND,
                        "%s does not exist", what);
        } else {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                        "cannot open %s: %s", what, g_strerror(err));
        }
        return -1;
    }
    if (fstat(fd, st) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO, "%s: %s", what,
                    g_strerror(errno));
    } else if (!S_ISREG(st->st_mode) && !S_ISBLK(st->st_mode)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "%s is not a regular file or block device", what);
    } else {
        return fd;
    }
    close(fd);
    return -1;
}

/* A raw layer's size: the file's, or the block device's (its end). */
static bool raw_size(int fd, const struct stat *st, const char *what,
                     uint64_t *size, GError **errp)
{
    if (S_ISREG(st->st_mode)) {
        *size = st->st_size;
        return true;
    }
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot get the size of %s: %s", what, g_strerror(errno));
        return false;
    }
    *size = end;
    return true;
}

/* Reads up to len bytes at byte offset of fd into buf; *got says how many
 * (fewer at the end of the file). */
static bool read_at(int fd, guint8 *buf, size_t len, size_t offset,
                    size_t *got, const char *what, GError **errp)
{
    size_t done = 0;

    while (done < len) {
        ssize_t r = pread(fd, buf + done, len - done, offset + done);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                        "cannot read %s: %s", what, g_strerror(errno));
            return false;
        }
        if (r == 0) {
            break;
        }
        done += r;
    }
    *got = done;
    return true;
}

/* "WHAT is not a valid qcow2 image: DETAIL" */
static G_GNUC_PRINTF(3, 4) bool invalid(GError **errp, const char *what,
                                        const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_autofree char *detail = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                "%s is not a valid qcow2 image: %s", what, detail);
    return false;
}

/*
 * The fields every version has ("Header", bytes 0-31): magic, version and
 * cluster size, as qcow2_do_open checks them.  buf holds the file's first
 * got bytes.
 */
static bool check_start(const guint8 *buf, size_t got, const char *what,
                        uint32_t *cluster_bits, GError **errp)
{
    if (got < QCOW2_MAGIC_LEN || memcmp(buf, QCOW2_MAGIC, 4) != 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "%s is not a qcow2 image (it does not start with the "
                    "qcow2 magic \"QFI\\xfb\")", what);
        return false;
    }
    if (got < HDR_V2_LENGTH) {
        return invalid(errp, what, "it ends inside its header (%zu bytes)",
                       got);
    }
    uint32_t version = be32_at(buf + HDR_VERSION);
    if (version != 2 && version != 3) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "%s is a qcow2 image of version %" G_GUINT32_FORMAT
                    ", which QEMU cannot open (only versions 2 and 3)",
                    what, version);
        return false;
    }
    *cluster_bits = be32_at(buf + HDR_CLUSTER_BITS);
    if (*cluster_bits < MIN_CLUSTER_BITS || *cluster_bits > MAX_CLUSTER_BITS) {
        return invalid(errp, what, "its cluster size 2^%" G_GUINT32_FORMAT
                       " is not between 2^%d (512 bytes) and 2^%d (2 MiB)",
                       *cluster_bits, MIN_CLUSTER_BITS, MAX_CLUSTER_BITS);
    }
    return true;
}

/*
 * "Header extensions", from the end of the header to end (the backing
 * file name's offset, or the end of the first cluster), as
 * qcow2_read_extensions walks them: each must fit before end, type 0 ends
 * the list, unknown types are skipped.  Notes the backing format name and
 * an external data file's name.  buf holds the whole first cluster.
 */
static bool read_extensions(const guint8 *buf, uint64_t start, uint64_t end,
                            const char *what, Qcow2Info *info, GError **errp)
{
    uint64_t off = start;

    while (off < end) {
        if (end - off < EXT_HEADER_LEN) {
            return invalid(errp, what, "its header extension at byte %"
                           G_GUINT64_FORMAT " is cut off", off);
        }
        uint32_t type = be32_at(buf + off);
        uint32_t len = be32_at(buf + off + 4);
        uint64_t data = off + EXT_HEADER_LEN;
        if (len > end - data) {
            return invalid(errp, what, "its header extension 0x%08"
                           G_GINT32_MODIFIER "x at byte %" G_GUINT64_FORMAT
                           " is longer (%" G_GUINT32_FORMAT " bytes) than "
                           "the space left for it", type, off, len);
        }
        switch (type) {
        case EXT_END:
            return true;
        case EXT_BACKING_FORMAT:
            /* "Backing file format name string": not NUL-terminated. */
            if (len > BACKING_FORMAT_MAX) {
                return invalid(errp, what, "its backing format name is %"
                               G_GUINT32_FORMAT " bytes long (QEMU allows "
                               "at most %d)", len, BACKING_FORMAT_MAX);
            }
            g_free(info->backing_format);
            /* Cut at a NUL inside, which backing_of() then sees. */
            info->backing_format = g_strndup((const char *)buf + data, len);
            info->backing_format_len = len;
            break;
        case EXT_DATA_FILE:
            /* "External data file name string": kept for the error. */
            g_free(info->data_file);
            info->data_file = g_strndup((const char *)buf + data,
                                        MIN(len, SHOWN_NAME_MAX));
            break;
        default:
            break;
        }
        /* len < 2^32: no overflow in 64 bits. */
        off = data + (((uint64_t)len + 7) & ~(uint64_t)7);
    }
    return true;
}

/*
 * The backing file name ("Header", backing_file_offset and _size): within
 * the first cluster and at most 1023 bytes, as qcow2_do_open requires;
 * and, for vmspec, UTF-8 without NULs or control characters (it is shown
 * to the user and goes into the daemon's JSON).  An empty name is no
 * backing file, as in bdrv_make_absolute_filename.
 */
static bool read_backing_name(const guint8 *buf, uint32_t cluster,
                              uint64_t offset, uint32_t len, const char *what,
                              Qcow2Info *info, GError **errp)
{
    if (len > BACKING_NAME_MAX) {
        return invalid(errp, what, "its backing file name is %"
                       G_GUINT32_FORMAT " bytes long (at most %d allowed)",
                       len, BACKING_NAME_MAX);
    }
    if (len > cluster - offset) {
        return invalid(errp, what, "its backing file name (%" G_GUINT32_FORMAT
                       " bytes at byte %" G_GUINT64_FORMAT ") runs past its "
                       "first cluster (%" G_GUINT32_FORMAT " bytes)",
                       len, offset, cluster);
    }
    const guint8 *name = buf + offset;
    for (uint32_t i = 0; i < len; i++) {
        if (name[i] < 0x20 || name[i] == 0x7f) {
            return invalid(errp, what, "its backing file name contains a "
                           "NUL or control character (byte %" G_GUINT32_FORMAT
                           ")", i);
        }
    }
    if (!g_utf8_validate((const char *)name, len, NULL)) {
        return invalid(errp, what, "its backing file name is not UTF-8");
    }
    if (len > 0) {
        info->backing_name = g_strndup((const char *)name, len);
    }
    return true;
}

static void qcow2_info_clear(Qcow2Info *info)
{
    g_clear_pointer(&info->backing_name, g_free);
    g_clear_pointer(&info->backing_format, g_free);
    g_clear_pointer(&info->data_file, g_free);
}

/*
 * Reads the qcow2 header of fd: the first cluster, at most 2 MiB.  Bytes
 * past the end of a short file read as zeroes, as QEMU's block layer
 * reads them; the header itself must be there.
 */
static bool read_qcow2(int fd, const char *what, Qcow2Info *info,
                       GError **errp)
{
    guint8 start[HDR_V3_MIN_LENGTH] = { 0 };
    uint32_t cluster_bits = 0;
    size_t got, more = 0;

    if (!read_at(fd, start, sizeof(start), 0, &got, what, errp) ||
        !check_start(start, got, what, &cluster_bits, errp)) {
        return false;
    }
    /* The rest of the cluster after those bytes, read at their end: buf
     * is one view of the file however it changes meanwhile. */
    uint32_t cluster = UINT32_C(1) << cluster_bits;
    g_autofree guint8 *buf = g_malloc0(cluster);
    memcpy(buf, start, sizeof(start));
    if (got == sizeof(start) &&
        !read_at(fd, buf + got, cluster - got, got, &more, what, errp)) {
        return false;
    }
    got += more;

    uint64_t header_length = HDR_V2_LENGTH;
    uint64_t incompatible = 0;
    if (be32_at(buf + HDR_VERSION) == 3) {
        if (got < HDR_V3_MIN_LENGTH) {
            return invalid(errp, what, "it ends inside its header (%zu "
                           "bytes)", got);
        }
        incompatible = be64_at(buf + HDR_INCOMPATIBLE);
        header_length = be32_at(buf + HDR_LENGTH);
        /* header_length: "at least 104 bytes and must be a multiple of
         * 8"; qcow2_do_open: "qcow2 header exceeds cluster size". */
        if (header_length < HDR_V3_MIN_LENGTH || header_length % 8 != 0 ||
            header_length > cluster) {
            return invalid(errp, what, "its header length %" G_GUINT64_FORMAT
                           " is not a multiple of 8 between %d and its "
                           "cluster size %" G_GUINT32_FORMAT,
                           header_length, HDR_V3_MIN_LENGTH, cluster);
        }
        if (got < header_length) {
            return invalid(errp, what, "it ends inside its header (%zu of %"
                           G_GUINT64_FORMAT " bytes)", got, header_length);
        }
    }

    /* qcow2_do_open: "Invalid backing file offset". */
    uint64_t backing_offset = be64_at(buf + HDR_BACKING_OFFSET);
    if (backing_offset > cluster) {
        return invalid(errp, what, "its backing file name's offset %"
                       G_GUINT64_FORMAT " lies beyond its first cluster (%"
                       G_GUINT32_FORMAT " bytes)", backing_offset, cluster);
    }

    /* The extensions end where the backing file name begins: "the backing
     * file name should be stored in the remaining space between the end
     * of the header extension area and the end of the first cluster". */
    if (!read_extensions(buf, header_length,
                         backing_offset ? backing_offset : cluster, what,
                         info, errp)) {
        goto fail;
    }
    /* "Bit 2: External data file bit": the guest's data is elsewhere. */
    if ((incompatible & INCOMPAT_DATA_FILE) || info->data_file) {
        g_autofree char *shown =
            info->data_file ? g_strescape(info->data_file, NULL) : NULL;
        g_autofree char *named =
            shown ? g_strdup_printf(" (\"%s\")", shown) : g_strdup("");
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "%s keeps its data in an external data file%s, which "
                    "vmspec does not support", what, named);
        goto fail;
    }
    if (backing_offset != 0 &&
        !read_backing_name(buf, cluster, backing_offset,
                           be32_at(buf + HDR_BACKING_SIZE), what, info,
                           errp)) {
        goto fail;
    }
    /* The daemon would need the key as a secret object, which vmspec
     * has no way to be given. */
    if (be32_at(buf + HDR_CRYPT_METHOD) != 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "%s is encrypted (qcow2 crypt_method %" G_GUINT32_FORMAT
                    "), which vmspec does not support: decrypt it with "
                    "qemu-img convert", what, be32_at(buf + HDR_CRYPT_METHOD));
        goto fail;
    }
    info->virtual_size = be64_at(buf + HDR_SIZE);
    return true;

fail:
    qcow2_info_clear(info);
    return false;
}

/* QEMU's path_has_protocol(): a ':' before any '/' ("nbd:host:port",
 * "json:{...}").  QEMU would take such a backing name as a protocol. */
static bool has_protocol(const char *name)
{
    return name[strcspn(name, ":/")] == ':';
}

/*
 * QEMU's bdrv_get_full_backing_filename() for a local image: an absolute
 * name as it is; a relative one appended to the directory part of the
 * backed image's path as given (everything up to its last '/'; nothing
 * for a bare file name, which is relative to the working directory as the
 * image is), never made canonical: path_combine().  (path_combine also
 * strips a protocol prefix from the backed path; vmspec's paths are local
 * file names, where qemu-img would refuse such a prefix anyway.)
 */
static char *resolve_backing(const char *backed, const char *name)
{
    if (name[0] == '/') {
        return g_strdup(name);
    }
    const char *slash = strrchr(backed, '/');
    size_t dir_len = slash ? (size_t)(slash - backed) + 1 : 0;
    char *path = g_malloc(dir_len + strlen(name) + 1);

    memcpy(path, backed, dir_len);
    strcpy(path + dir_len, name);
    return path;
}

/* The name of the backing file, as a shell word for the hint. */
static char *shell_word(const char *s)
{
    for (const char *p = s; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("_./,:=+@%^-", *p)) {
            return g_shell_quote(s);
        }
    }
    return g_strdup(s);
}

/*
 * Checks the backing file that info (the header of the layer at path)
 * names and returns its resolved path and format; NULL with *errp set when
 * vmspec will not follow it.
 */
static char *backing_of(const char *path, const Qcow2Info *info,
                        ImageFormat *format, GError **errp)
{
    const char *name = info->backing_name;

    if (g_str_has_prefix(name, "json:")) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "the backing file of %s is a QEMU json: description, "
                    "not a file name; vmspec opens only local files", path);
        return NULL;
    }
    if (has_protocol(name)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "the backing file of %s is \"%s\", which QEMU reads as "
                    "a protocol (a ':' before any '/'); vmspec opens only "
                    "local files (for a file of that name, write ./%s)",
                    path, name, name);
        return NULL;
    }
    if (!info->backing_format || info->backing_format_len == 0) {
        g_autofree char *word = shell_word(name);
        g_autofree char *image = shell_word(path);
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "backing file %s of %s has no recorded format, and "
                    "vmspec never guesses one; record it with: qemu-img "
                    "rebase -u -F raw|qcow2 -b %s %s",
                    name, path, word, image);
        return NULL;
    }
    if (strlen(info->backing_format) != info->backing_format_len ||
        !image_format_from_name(info->backing_format, format)) {
        g_autofree char *shown = g_strescape(info->backing_format, NULL);
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "backing file %s of %s has format \"%s\"; vmspec "
                    "supports only raw and qcow2 backing files",
                    name, path, shown);
        return NULL;
    }
    return resolve_backing(path, name);
}

static void layer_free(gpointer p)
{
    ImageLayer *layer = p;

    g_free(layer->path);
    g_free(layer);
}

void image_chain_free(ImageChain *chain)
{
    if (!chain) {
        return;
    }
    if (chain->layers) {
        g_ptr_array_unref(chain->layers);
    }
    g_free(chain);
}

static FileId file_id(const struct stat *st)
{
    if (S_ISBLK(st->st_mode)) {
        return (FileId){ .dev = st->st_rdev, .ino = 0 };
    }
    return (FileId){ .dev = st->st_dev, .ino = st->st_ino };
}

/*
 * Opens the layer at path (what in errors), checks that it is no layer of
 * chain already (ids[i] is layer i's identity), and reads it as format:
 * its size, and for qcow2 what its header says of the next layer.
 */
static ImageLayer *open_layer(ImageChain *chain, GArray *ids,
                              const char *path, ImageFormat format,
                              const char *what, Qcow2Info *info,
                              GError **errp)
{
    struct stat st;
    int fd = open_image(path, what, &st, errp);

    if (fd < 0) {
        return NULL;
    }
    FileId id = file_id(&st);
    for (guint i = 0; i < ids->len; i++) {
        FileId seen = g_array_index(ids, FileId, i);
        if (seen.dev == id.dev && seen.ino == id.ino) {
            const ImageLayer *top = g_ptr_array_index(chain->layers, 0);
            const ImageLayer *again = g_ptr_array_index(chain->layers, i);
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                        "backing chain of %s loops back to %s (%s is the "
                        "same file)", top->path, again->path, what);
            close(fd);
            return NULL;
        }
    }

    uint64_t size = 0;
    bool ok = format == IMAGE_FORMAT_QCOW2
                  ? read_qcow2(fd, what, info, errp)
                  : raw_size(fd, &st, what, &size, errp);
    close(fd);
    if (!ok) {
        return NULL;
    }
    ImageLayer *layer = g_new0(ImageLayer, 1);
    layer->path = g_strdup(path);
    layer->format = format;
    layer->virtual_size = format == IMAGE_FORMAT_QCOW2 ? info->virtual_size
                                                       : size;
    g_array_append_val(ids, id);
    return layer;
}

ImageChain *image_chain_open(const char *path, ImageFormat format,
                             GError **errp)
{
    g_autoptr(ImageChain) chain = g_new0(ImageChain, 1);
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(FileId));
    g_autofree char *next = g_strdup(path);
    g_autofree char *what = g_strdup(path);

    chain->layers = g_ptr_array_new_with_free_func(layer_free);
    for (;;) {
        Qcow2Info info = { 0 };
        ImageLayer *layer = open_layer(chain, ids, next, format, what, &info,
                                       errp);
        if (!layer) {
            return NULL;
        }
        g_ptr_array_add(chain->layers, layer);
        if (!info.backing_name) {
            qcow2_info_clear(&info);    /* a raw layer, or the last qcow2 */
            return g_steal_pointer(&chain);
        }

        char *backing = backing_of(layer->path, &info, &format, errp);
        qcow2_info_clear(&info);
        if (!backing) {
            return NULL;
        }
        g_free(next);
        next = backing;
        if (chain->layers->len == IMAGE_CHAIN_MAX_DEPTH) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                        "backing chain of %s is deeper than %d images",
                        path, IMAGE_CHAIN_MAX_DEPTH);
            return NULL;
        }
        g_free(what);
        what = g_strdup_printf("backing file %s of %s", next, layer->path);
    }
}

char *image_chain_describe(const ImageChain *chain)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < chain->layers->len; i++) {
        const ImageLayer *layer = g_ptr_array_index(chain->layers, i);
        g_string_append_printf(s, "%s%s (%s)", i ? " -> " : "", layer->path,
                               image_format_name(layer->format));
    }
    return g_string_free(s, FALSE);
}

bool image_looks_like_qcow2(const char *path)
{
    guint8 magic[QCOW2_MAGIC_LEN];
    struct stat st;
    size_t got = 0;
    int fd = open_image(path, path, &st, NULL);

    if (fd < 0) {
        return false;
    }
    bool ok = read_at(fd, magic, sizeof(magic), 0, &got, path, NULL);
    close(fd);
    return ok && got == sizeof(magic) &&
           memcmp(magic, QCOW2_MAGIC, QCOW2_MAGIC_LEN) == 0;
}
