/*
 * The boot cache (see boot-cache.h).
 */
#include "machine/kvm/boot-cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "machine/kvm/boot-file.h"
#include "machine/qom/error.h"

#define ENTRY_MAGIC     "VMSPECKI"
/* 3: EXTENT_MIN_GAP 2 MiB (was 256 KiB), the relocation table. */
#define ENTRY_VERSION   3
#define ENTRY_PREFIX    "kernel-"
#define ENTRY_SUFFIX    ".img"
#define PAGE_SIZE       4096ULL
/*
 * Zero stretches shorter than this stay inside a data extent: one read of
 * a few zero pages is cheaper than another system call, and they land in
 * memory that the kernel touches anyway (a huge page its neighbours fault
 * in, or its own bss, which it clears).  Debian's kernel: 1 extent of
 * 33 MiB, read with one pread, where a 256 KiB gap made 7.
 */
#define EXTENT_MIN_GAP  (2 * 1024 * 1024ULL)

/* The header page's first bytes; host byte order (the cache is local). */
typedef struct EntryHeader {
    char magic[8];
    uint32_t version;
    uint32_t data_offset;
    uint8_t key[32];
    uint64_t load_addr;
    uint64_t size;
    uint64_t entry;
    uint32_t extent_count;
    uint32_t relocs_length;     /* after the image */
    BootCacheExtent extents[BOOT_CACHE_MAX_EXTENTS];
} EntryHeader;

G_STATIC_ASSERT(sizeof(EntryHeader) <= BOOT_CACHE_DATA_OFFSET);
G_STATIC_ASSERT(BOOT_CACHE_DATA_OFFSET % PAGE_SIZE == 0);

char *boot_cache_dir_from_env(void)
{
    const char *dir = g_getenv("VMSPEC_CACHE_DIR");

    if (dir) {
        return *dir ? g_strdup(dir) : NULL;
    }
    dir = g_getenv("XDG_CACHE_HOME");
    if (dir && g_path_is_absolute(dir)) {
        return g_build_filename(dir, "vmspec", NULL);
    }
    dir = g_getenv("HOME");
    if (dir && g_path_is_absolute(dir)) {
        return g_build_filename(dir, ".cache", "vmspec", NULL);
    }
    return NULL;
}

void boot_cache_key(const struct stat *st, const void *head, size_t head_len,
                    BootCacheKey *key)
{
    /* Bump the tag when what an entry holds for a given file changes. */
    static const char tag[] = "vmspec boot cache 2";
    uint64_t fields[5] = {
        (uint64_t)st->st_size,
        (uint64_t)st->st_mtim.tv_sec, (uint64_t)st->st_mtim.tv_nsec,
        (uint64_t)st->st_ctim.tv_sec, (uint64_t)st->st_ctim.tv_nsec,
    };
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    gsize len = sizeof(key->digest);

    g_checksum_update(sum, (const guchar *)tag, sizeof(tag));
    g_checksum_update(sum, (const guchar *)fields, sizeof(fields));
    g_checksum_update(sum, head, head_len);
    g_checksum_get_digest(sum, key->digest, &len);
    g_assert(len == sizeof(key->digest));
}

static char *entry_path(const char *dir, const BootCacheKey *key)
{
    char hex[2 * sizeof(key->digest) + 1];

    for (size_t i = 0; i < sizeof(key->digest); i++) {
        snprintf(hex + 2 * i, 3, "%02x", key->digest[i]);
    }
    return g_strconcat(dir, "/" ENTRY_PREFIX, hex, ENTRY_SUFFIX, NULL);
}

/* Sorted, apart, non-empty and inside the image. */
static bool extents_valid(const EntryHeader *h)
{
    uint64_t end = 0;

    if (h->extent_count > BOOT_CACHE_MAX_EXTENTS) {
        return false;
    }
    for (uint32_t i = 0; i < h->extent_count; i++) {
        const BootCacheExtent *e = &h->extents[i];

        if (e->length == 0 || e->offset < end || e->offset > h->size ||
            e->length > h->size - e->offset) {
            return false;
        }
        end = e->offset + e->length;
    }
    return true;
}

int boot_cache_open(const char *dir, const BootCacheKey *key,
                    BootCacheImage *img)
{
    g_autofree char *path = entry_path(dir, key);
    EntryHeader h;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return -1;
    }
    /* Someone else's file, or one others could rewrite, would decide what
     * our guests run: not ours to trust.  A size other than the header's
     * is an entry cut short (it is never written after the rename). */
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) ||
        pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
        memcmp(h.magic, ENTRY_MAGIC, sizeof(h.magic)) != 0 ||
        h.version != ENTRY_VERSION ||
        h.data_offset != BOOT_CACHE_DATA_OFFSET ||
        memcmp(h.key, key->digest, sizeof(h.key)) != 0 ||
        h.load_addr % PAGE_SIZE || h.size == 0 ||
        h.relocs_length > (uint64_t)st.st_size ||
        h.size > (uint64_t)st.st_size - h.relocs_length ||
        (uint64_t)st.st_size - h.size - h.relocs_length !=
            BOOT_CACHE_DATA_OFFSET) {
        close(fd);
        return -1;
    }
    if (!extents_valid(&h)) {
        close(fd);
        return -1;
    }
    img->load_addr = h.load_addr;
    img->size = h.size;
    img->entry = h.entry;
    img->relocs_length = h.relocs_length;
    img->extent_count = h.extent_count;
    memcpy(img->extents, h.extents, h.extent_count * sizeof(h.extents[0]));
    return fd;
}

bool boot_cache_read(int fd, const BootCacheImage *img, uint8_t *dst,
                     uint8_t *relocs, GError **errp)
{
    if (img->relocs_length &&
        !boot_file_read(fd, relocs, img->relocs_length,
                        BOOT_CACHE_DATA_OFFSET + img->size,
                        "boot cache entry", errp)) {
        return false;
    }
    for (uint32_t i = 0; i < img->extent_count; i++) {
        const BootCacheExtent *e = &img->extents[i];

        if (!boot_file_read(fd, dst + e->offset, e->length,
                            BOOT_CACHE_DATA_OFFSET + e->offset,
                            "boot cache entry", errp)) {
            return false;
        }
    }
    return true;
}

int boot_cache_lock(const char *dir, GError **errp)
{
    g_autofree char *path = g_build_filename(dir, "lock", NULL);
    int fd;

    if (g_mkdir_with_parents(dir, 0700) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot create %s: %s", dir, g_strerror(errno));
        return -1;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot open %s: %s", path, g_strerror(errno));
        return -1;
    }
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                        "cannot lock %s: %s", path, g_strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

static bool all_zero(const uint8_t *p, size_t len)
{
    static const uint8_t zero_page[PAGE_SIZE];

    g_assert(len <= sizeof(zero_page));
    return memcmp(p, zero_page, len) == 0;
}

static bool write_all(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                errno = EIO;
            }
            return false;
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return true;
}

/* The runs of non-zero pages of data, with zero gaps shorter than gap
 * merged in; false when there are more than fit. */
static bool find_extents(const uint8_t *data, uint64_t size, uint64_t gap,
                         BootCacheImage *img)
{
    uint64_t pos = 0;

    img->extent_count = 0;
    while (pos < size) {
        uint64_t len = MIN(PAGE_SIZE, size - pos);
        BootCacheExtent *last = img->extent_count ?
            &img->extents[img->extent_count - 1] : NULL;

        if (!all_zero(data + pos, len)) {
            if (last && pos - (last->offset + last->length) < gap) {
                last->length = pos + len - last->offset;
            } else if (img->extent_count == BOOT_CACHE_MAX_EXTENTS) {
                return false;
            } else {
                img->extents[img->extent_count++] =
                    (BootCacheExtent){ .offset = pos, .length = len };
            }
        }
        pos += len;
    }
    return true;
}

/* Writes the header and the data extents; the file's length then covers
 * the rest as holes. */
static bool write_entry(int fd, const BootCacheKey *key,
                        BootCacheImage *img, const uint8_t *data,
                        const void *relocs)
{
    g_autofree EntryHeader *h = g_malloc0(BOOT_CACHE_DATA_OFFSET);
    uint64_t gap = EXTENT_MIN_GAP;

    while (!find_extents(data, img->size, gap, img)) {
        gap *= 2;
    }
    memcpy(h->magic, ENTRY_MAGIC, sizeof(h->magic));
    h->version = ENTRY_VERSION;
    h->data_offset = BOOT_CACHE_DATA_OFFSET;
    memcpy(h->key, key->digest, sizeof(h->key));
    h->load_addr = img->load_addr;
    h->size = img->size;
    h->entry = img->entry;
    h->extent_count = img->extent_count;
    h->relocs_length = img->relocs_length;
    memcpy(h->extents, img->extents,
           img->extent_count * sizeof(img->extents[0]));
    if (!write_all(fd, h, BOOT_CACHE_DATA_OFFSET, 0)) {
        return false;
    }
    for (uint32_t i = 0; i < img->extent_count; i++) {
        const BootCacheExtent *e = &img->extents[i];

        if (!write_all(fd, data + e->offset, e->length,
                       BOOT_CACHE_DATA_OFFSET + e->offset)) {
            return false;
        }
    }
    /* Synced before the rename: an entry that exists is whole, even after
     * a crash (a renamed file whose blocks never reached the disk would
     * read back as zeros, and boot as garbage). */
    return (img->relocs_length == 0 ||
            write_all(fd, relocs, img->relocs_length,
                      BOOT_CACHE_DATA_OFFSET + img->size)) &&
           ftruncate(fd, (off_t)(BOOT_CACHE_DATA_OFFSET + img->size +
                                 img->relocs_length)) == 0 &&
           fdatasync(fd) == 0;
}

typedef struct EntryAge {
    char *name;
    struct timespec mtime;
} EntryAge;

static gint entry_age_newest_first(gconstpointer a, gconstpointer b)
{
    const EntryAge *x = a, *y = b;

    if (x->mtime.tv_sec != y->mtime.tv_sec) {
        return x->mtime.tv_sec > y->mtime.tv_sec ? -1 : 1;
    }
    if (x->mtime.tv_nsec != y->mtime.tv_nsec) {
        return x->mtime.tv_nsec > y->mtime.tv_nsec ? -1 : 1;
    }
    return 0;
}

static void entry_age_clear(gpointer p)
{
    g_free(((EntryAge *)p)->name);
}

/* Unlinks all but the BOOT_CACHE_MAX_ENTRIES newest entries (best effort:
 * another vmspec may be doing the same). */
static void evict_old_entries(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_autoptr(GArray) ages = g_array_new(FALSE, FALSE, sizeof(EntryAge));
    const char *name;

    if (!d) {
        return;
    }
    g_array_set_clear_func(ages, entry_age_clear);
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = NULL;
        struct stat st;

        if (!g_str_has_prefix(name, ENTRY_PREFIX) ||
            !g_str_has_suffix(name, ENTRY_SUFFIX)) {
            continue;
        }
        path = g_build_filename(dir, name, NULL);
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            EntryAge age = { g_strdup(name), st.st_mtim };

            g_array_append_val(ages, age);
        }
    }
    g_array_sort(ages, entry_age_newest_first);
    for (guint i = BOOT_CACHE_MAX_ENTRIES; i < ages->len; i++) {
        g_autofree char *path =
            g_build_filename(dir, g_array_index(ages, EntryAge, i).name, NULL);

        (void)unlink(path);
    }
}

bool boot_cache_store(const char *dir, const BootCacheKey *key,
                      BootCacheImage *img, const void *data,
                      const void *relocs, GError **errp)
{
    g_autofree char *path = entry_path(dir, key);
    g_autofree char *tmp = g_build_filename(dir, ".new-XXXXXX", NULL);
    int fd = g_mkstemp_full(tmp, O_RDWR | O_CLOEXEC, 0600);

    if (fd < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot create a file in %s: %s", dir, g_strerror(errno));
        return false;
    }
    if (!write_entry(fd, key, img, data, relocs) || rename(tmp, path) < 0) {
        int err = errno;

        (void)unlink(tmp);
        close(fd);
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot write %s: %s", path, g_strerror(err));
        return false;
    }
    close(fd);
    evict_old_entries(dir);
    return true;
}
