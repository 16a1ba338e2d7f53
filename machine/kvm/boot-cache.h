/*
 * The boot cache: kernels as they lie in guest RAM, kept per user, so that
 * the work of getting them there (decoding a bzImage's compressed
 * payload) is done once per kernel file rather than once per boot.
 *
 * An entry is one file, DIR/kernel-KEY.img: a header page, then the image
 * with its all-zero stretches left as holes, then the kernel's relocation
 * table (machine/x86/kaslr.h), if it has one.  The header lists the
 * stretches that hold data, and only those are read into guest RAM (which
 * is zero elsewhere): half of Debian's 58 MiB kernel image is zeros.
 * Entries are written whole under a temporary name, synced and renamed
 * into place, and never written after, so a reader sees a whole entry or
 * none.  Beyond BOOT_CACHE_MAX_ENTRIES the oldest are unlinked.  Entries
 * not owned by this user, or writable by others, are ignored: they decide
 * what the guest runs.
 */
#ifndef VMSPEC_KVM_BOOT_CACHE_H
#define VMSPEC_KVM_BOOT_CACHE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

/* File offset of an entry's image (a page, so holes stay page-aligned). */
#define BOOT_CACHE_DATA_OFFSET  4096
#define BOOT_CACHE_MAX_ENTRIES  4
#define BOOT_CACHE_MAX_EXTENTS  200

/*
 * The cache directory for this process: $VMSPEC_CACHE_DIR if set (empty:
 * no cache), else $XDG_CACHE_HOME/vmspec, else $HOME/.cache/vmspec
 * (XDG Base Directory spec), else none (NULL).  Relative values are
 * ignored, as the XDG spec asks.  Caller frees.
 */
char *boot_cache_dir_from_env(void);

/* Identifies one version of a source file; see boot_cache_key(). */
typedef struct BootCacheKey {
    uint8_t digest[32];
} BootCacheKey;

/* A stretch of an image that holds data: offset and length in bytes. */
typedef struct BootCacheExtent {
    uint64_t offset;
    uint64_t length;
} BootCacheExtent;

/* An image: size bytes meant for guest-physical load_addr onward
 * (page-aligned), entered at entry.  extents (filled by boot_cache_open
 * and boot_cache_store) are where its non-zero bytes are, sorted and
 * apart. */
typedef struct BootCacheImage {
    uint64_t load_addr;
    uint64_t size;
    uint64_t entry;
    uint32_t relocs_length;     /* bytes of relocation table; 0: none */
    uint32_t extent_count;
    BootCacheExtent extents[BOOT_CACHE_MAX_EXTENTS];
} BootCacheImage;

/*
 * The key of a source file from its stat and its first head_len bytes:
 * SHA-256 over its size, mtime and ctime (which every write and rename
 * changes, and no one can set) and those bytes, under a tag naming the
 * cache format.  The inode number is left out, so that the same file seen
 * through 9p (the KVM sandbox) keys the same.  Pure.
 */
void boot_cache_key(const struct stat *st, const void *head, size_t head_len,
                    BootCacheKey *key);

/*
 * Opens dir's entry for key.  Returns its fd (image at
 * BOOT_CACHE_DATA_OFFSET) with *img filled, or -1 when there is none or it
 * is not a valid, whole entry for key owned by this user (not an error:
 * the caller builds the image).
 */
int boot_cache_open(const char *dir, const BootCacheKey *key,
                    BootCacheImage *img);

/*
 * Reads the image's data extents from an entry opened by boot_cache_open
 * into dst (img->size bytes, zero where no extent is), and its relocation
 * table into relocs (img->relocs_length bytes; NULL when 0).  Errors
 * (VMSPEC_ERROR_IO) name the cache.
 */
bool boot_cache_read(int fd, const BootCacheImage *img, uint8_t *dst,
                     uint8_t *relocs, GError **errp);

/*
 * Creates dir (0700, with parents) and waits for an exclusive lock on it,
 * so that VMs started together with a cold cache build an image once.
 * Returns the lock's fd (close to release) or -1 with an error.
 */
int boot_cache_lock(const char *dir, GError **errp);

/*
 * Stores img->size bytes at data and img->relocs_length bytes at relocs
 * as dir's entry for key (all-zero pages become holes; img->extents is
 * filled), then unlinks the oldest entries beyond BOOT_CACHE_MAX_ENTRIES.
 * Errors (VMSPEC_ERROR_IO) leave no partial entry.
 */
bool boot_cache_store(const char *dir, const BootCacheKey *key,
                      BootCacheImage *img, const void *data,
                      const void *relocs, GError **errp);

#endif
