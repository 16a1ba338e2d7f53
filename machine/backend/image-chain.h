/*
 * The backing chain of a disk image: which files, in which formats, make
 * up the disk that qemu-storage-daemon will serve.
 *
 * vmspec builds the daemon's --blockdev JSON itself, with an explicit
 * driver for every layer, and never lets QEMU probe a format: a guest that
 * writes a qcow2 header into its raw disk must not make the host open some
 * other file as that disk's backing file.  So the chain is read here, from
 * the qcow2 headers (QEMU's docs/interop/qcow2.txt), with QEMU's rules for
 * where a backing file is (block.c, bdrv_get_full_backing_filename) and
 * what a header may hold (block/qcow2.c, qcow2_do_open), but stricter
 * about what vmspec will open:
 *  - only local files: a backing name with a protocol prefix ("nbd:...",
 *    "json:{...}") is refused, and so is one that is not UTF-8 or holds
 *    control characters (it is shown, and goes into JSON);
 *  - only raw and qcow2 layers, and a qcow2 image must record its backing
 *    file's format (the backing format extension): without one QEMU would
 *    probe, and vmspec refuses, naming the qemu-img command that records it;
 *  - no external data files (vmspec would neither lock nor claim them);
 *  - at most IMAGE_CHAIN_MAX_DEPTH layers, none of them twice (a loop).
 * A raw layer ends the chain.  Nothing else of an image (L1 tables,
 * refcounts, feature bits QEMU does not know) is checked: QEMU refuses
 * what it cannot use when the daemon opens the chain.
 *
 * Each file is opened read-only, without blocking (a FIFO is refused, not
 * waited on), and only its first cluster (at most 2 MiB) is read; every
 * byte of it is treated as hostile.  Nothing is locked and nothing is
 * kept open: the chain describes the files as they were when read.
 *
 * Threads: any thread; nothing is shared between calls.
 */
#ifndef VMSPEC_BACKEND_IMAGE_CHAIN_H
#define VMSPEC_BACKEND_IMAGE_CHAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

/* The most layers a chain may have, the top included. */
#define IMAGE_CHAIN_MAX_DEPTH 32

typedef enum {
    IMAGE_FORMAT_RAW,
    IMAGE_FORMAT_QCOW2,
} ImageFormat;

/* "raw" or "qcow2": QEMU's driver names, as in --blockdev and as recorded
 * in a qcow2 image's backing format extension. */
const char *image_format_name(ImageFormat format);

/* Parses a driver name ("raw", "qcow2"; exact, lower case) into *format.
 * Returns false, leaving *format alone, for any other name. */
bool image_format_from_name(const char *name, ImageFormat *format);

typedef struct ImageLayer {
    /* The file's name as vmspec opens it: the top layer's path as given
     * to image_chain_open(); a backing file's name as QEMU resolves it
     * (an absolute name as stored, a relative one joined to the directory
     * part of the path of the layer above, neither made canonical). */
    char *path;
    ImageFormat format;
    /* The disk size the layer presents: a qcow2 header's size field; a
     * raw file's (or block device's) size in bytes. */
    uint64_t virtual_size;
} ImageLayer;

typedef struct ImageChain {
    GPtrArray *layers;      /* ImageLayer *, the top first, owned */
} ImageChain;

/*
 * Reads the chain of the image at path, opened as format (the spec's
 * choice: never probed), down to its last backing file.  Returns a new
 * chain of at least one layer, which the caller frees with
 * image_chain_free().  Errors: a file is missing (VMSPEC_ERROR_NOT_FOUND),
 * cannot be opened or read (IO), or is not an image vmspec can serve as
 * its recorded format, or the chain breaks one of the rules above
 * (INVALID).  Messages name the file, and for a backing file the image
 * that names it.
 */
ImageChain *image_chain_open(const char *path, ImageFormat format,
                             GError **errp);

/* Frees chain and its layers.  NULL is a no-op. */
void image_chain_free(ImageChain *chain);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImageChain, image_chain_free)

/* One line for `vmspec plan`: every layer's path and format, the top
 * first, e.g. "vm.qcow2 (qcow2) -> base.img (raw)".  Caller frees. */
char *image_chain_describe(const ImageChain *chain);

/* True when the file at path starts with the qcow2 magic "QFI\xfb" (for a
 * warning that a disk used as raw looks like a qcow2 image).  False for
 * anything that cannot be opened or read, and for files that are neither
 * regular nor block devices. */
bool image_looks_like_qcow2(const char *path);

#endif
