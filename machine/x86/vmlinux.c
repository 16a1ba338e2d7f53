/*
 * A bzImage's vmlinux, decoded on the host (see vmlinux.h).
 */
#include "machine/x86/vmlinux.h"

#include <elf.h>
#include <errno.h>
#include <lzma.h>
#include <string.h>
#include <unistd.h>

#include "machine/kvm/boot-file.h"
#include "machine/qom/error.h"
#include "machine/x86/kaslr.h"

#define PAGE_SIZE       4096ULL
#define MiB             ((uint64_t)1 << 20)
#define INPUT_CHUNK     (1 * MiB)
#define SKIP_CHUNK      (64 * 1024)
/* The decoder's memory: its dictionary, at most what the stream asks
 * for.  The kernel's xz_wrap.sh uses 32 MiB; more is a hostile file. */
#define DECODER_MEMLIMIT (128 * MiB)
/* What follows the segments (section headers, the relocation table) is
 * decoded only to reach the stream's integrity check; cap it. */
#define MAX_OUTPUT      (1024 * MiB)
/* A relocation table larger than this is not kept (no KASLR); Debian's
 * 6.1 kernel has 871 KiB. */
#define RELOCS_MAX      (16 * MiB)
/* The ELF and program headers must lie in the first page of the ELF. */
#define HEADERS_MAX     PAGE_SIZE
#define MAX_SEGMENTS    16

/* xz-file-format 2.1.1.1: the stream header magic. */
static const uint8_t xz_magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };

bool x86_vmlinux_payload_known(const uint8_t *head, size_t len)
{
    return len >= sizeof(xz_magic) &&
           memcmp(head, xz_magic, sizeof(xz_magic)) == 0;
}

typedef struct Decoder {
    lzma_stream strm;
    const X86Payload *p;
    uint64_t in_pos;        /* next file offset to read */
    uint64_t in_end;
    uint8_t *in_buf;
    uint8_t *scratch;       /* SKIP_CHUNK bytes for output that goes nowhere */
    uint64_t out_total;     /* ELF bytes produced so far */
    bool ended;             /* LZMA_STREAM_END: check verified */
} Decoder;

static const char *lzma_strerror(lzma_ret ret)
{
    switch (ret) {
    case LZMA_FORMAT_ERROR:
        return "not an XZ stream";
    case LZMA_OPTIONS_ERROR:
        return "XZ options this decoder does not support";
    case LZMA_DATA_ERROR:
        return "corrupt XZ data (integrity check failed)";
    case LZMA_BUF_ERROR:
        return "XZ data truncated";
    case LZMA_MEMLIMIT_ERROR:
        return "XZ dictionary larger than 128 MiB";
    case LZMA_MEM_ERROR:
        return "out of memory";
    default:
        return "XZ decoder error";
    }
}

static bool payload_error(const Decoder *d, GError **errp, const char *what)
{
    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                "%s: kernel payload: %s", d->p->path, what);
    return false;
}

/* Reads more input if the decoder has none, then decodes once into
 * strm.next_out / avail_out. */
static bool decode_step(Decoder *d, GError **errp)
{
    lzma_ret ret;

    if (d->strm.avail_in == 0 && d->in_pos < d->in_end) {
        size_t n = MIN(INPUT_CHUNK, d->in_end - d->in_pos);

        if (!boot_file_read(d->p->fd, d->in_buf, n, d->in_pos, d->p->path,
                            errp)) {
            return false;
        }
        d->in_pos += n;
        d->strm.next_in = d->in_buf;
        d->strm.avail_in = n;
    }
    /* LZMA_FINISH once all input is in: a stream cut short then fails
     * with LZMA_BUF_ERROR instead of waiting for more. */
    ret = lzma_code(&d->strm, d->strm.avail_in == 0 &&
                    d->in_pos == d->in_end ? LZMA_FINISH : LZMA_RUN);
    if (ret == LZMA_STREAM_END) {
        d->ended = true;
        return true;
    }
    return ret == LZMA_OK || payload_error(d, errp, lzma_strerror(ret));
}

/* Produces exactly len more bytes of the ELF into dst. */
static bool decode_into(Decoder *d, uint8_t *dst, size_t len, GError **errp)
{
    d->strm.next_out = dst;
    d->strm.avail_out = len;
    while (d->strm.avail_out > 0) {
        if (d->ended) {
            return payload_error(d, errp, "the ELF is longer than the data");
        }
        if (!decode_step(d, errp)) {
            return false;
        }
    }
    d->out_total += len;
    return true;
}

/* Decodes len bytes that go nowhere. */
static bool decode_skip(Decoder *d, uint64_t len, GError **errp)
{
    while (len > 0) {
        size_t n = MIN(len, SKIP_CHUNK);

        if (!decode_into(d, d->scratch, n, errp)) {
            return false;
        }
        len -= n;
    }
    return true;
}

/* Decodes the rest to the stream's end, where the decoder verifies the
 * integrity check over all of it; keeps up to keep_max bytes of it in
 * kept (NULL: none), or none of it if there are more. */
static bool decode_to_end(Decoder *d, GByteArray *kept, size_t keep_max,
                          GError **errp)
{
    while (!d->ended) {
        size_t n;

        d->strm.next_out = d->scratch;
        d->strm.avail_out = SKIP_CHUNK;
        if (!decode_step(d, errp)) {
            return false;
        }
        n = SKIP_CHUNK - d->strm.avail_out;
        d->out_total += n;
        if (d->out_total > MAX_OUTPUT) {
            return payload_error(d, errp, "decodes to more than 1 GiB");
        }
        if (kept && kept->len + n <= keep_max) {
            g_byte_array_append(kept, d->scratch, n);
        } else if (kept) {
            g_byte_array_set_size(kept, 0);
            kept = NULL;
        }
    }
    return true;
}

/*
 * After the segments come the ELF's section headers, its last bytes, and
 * then, in a kernel built with CONFIG_RANDOMIZE_BASE, the relocation
 * table (arch/x86/boot/compressed/Makefile: vmlinux.bin.all is vmlinux.bin
 * followed by vmlinux.relocs).  Decodes to the end, and hands out the
 * table when it is one for the image (kaslr.h), else none.
 */
static bool decode_relocs(Decoder *d, const Elf64_Ehdr *eh, uint64_t pos,
                          X86Vmlinux *out, GError **errp)
{
    g_autoptr(GByteArray) tail = NULL;
    uint64_t elf_end;

    if (eh->e_shoff == 0 || eh->e_shoff > MAX_OUTPUT ||
        eh->e_shentsize != sizeof(Elf64_Shdr)) {
        return decode_to_end(d, NULL, 0, errp);
    }
    elf_end = eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr);
    if (elf_end < pos) {
        return decode_to_end(d, NULL, 0, errp);
    }
    tail = g_byte_array_new();
    if (!decode_skip(d, elf_end - pos, errp) ||
        !decode_to_end(d, tail, RELOCS_MAX, errp)) {
        return false;
    }
    if (tail->len > 0 &&
        x86_relocs_valid(tail->data, tail->len, out->start - d->p->shift,
                         out->end - d->p->shift)) {
        out->relocs_len = tail->len;
        out->relocs = g_byte_array_free(g_steal_pointer(&tail), FALSE);
    }
    return true;
}

typedef struct Segment {
    uint64_t offset, filesz, paddr, memsz;
    bool exec;
} Segment;

static bool check_ehdr(const Decoder *d, const Elf64_Ehdr *eh, GError **errp)
{
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) {
        return payload_error(d, errp, "does not decode to an ELF file");
    }
    if (eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_ident[EI_DATA] != ELFDATA2LSB ||
        eh->e_machine != EM_X86_64 || eh->e_type != ET_EXEC) {
        return payload_error(d, errp, "not an x86_64 executable ELF");
    }
    if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
        eh->e_phoff < sizeof(*eh) || eh->e_phoff > HEADERS_MAX ||
        (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) >
            HEADERS_MAX - eh->e_phoff) {
        return payload_error(d, errp, "ELF program headers not in its "
                             "first page");
    }
    return true;
}

static gint segment_by_offset(gconstpointer a, gconstpointer b)
{
    const Segment *x = a, *y = b;

    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Collects the PT_LOAD segments of the program headers at phdrs, sorted
 * by file offset, and checks them against p and each other. */
static bool collect_segments(const Decoder *d, const Elf64_Ehdr *eh,
                             const uint8_t *phdrs, Segment *segs,
                             unsigned *count, GError **errp)
{
    const X86Payload *p = d->p;
    bool entry_ok = false;
    unsigned n = 0;
    uint64_t at;

    for (unsigned i = 0; i < eh->e_phnum; i++) {
        Elf64_Phdr ph;

        memcpy(&ph, phdrs + i * sizeof(ph), sizeof(ph));
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0) {
            continue;
        }
        if (n == MAX_SEGMENTS) {
            return payload_error(d, errp, "more than 16 PT_LOAD segments");
        }
        if (ph.p_filesz > ph.p_memsz || ph.p_offset > MAX_OUTPUT ||
            ph.p_filesz > MAX_OUTPUT) {
            return payload_error(d, errp, "a PT_LOAD segment's file range "
                                 "is invalid");
        }
        /* Where it goes: wrapping past 2^64 lands below min_addr. */
        at = ph.p_paddr + p->shift;
        if (at < p->min_addr || at < ph.p_paddr || at > p->limit ||
            ph.p_memsz > p->limit - at) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                        "%s: kernel segment at 0x%" G_GINT64_MODIFIER "x+0x%"
                        G_GINT64_MODIFIER "x is outside guest RAM 0x%"
                        G_GINT64_MODIFIER "x..0x%" G_GINT64_MODIFIER "x",
                        p->path, (uint64_t)ph.p_paddr + p->shift,
                        (uint64_t)ph.p_memsz, p->min_addr, p->limit);
            return false;
        }
        segs[n++] = (Segment){
            .offset = ph.p_offset, .filesz = ph.p_filesz,
            .paddr = at, .memsz = ph.p_memsz,
            .exec = (ph.p_flags & PF_X) != 0,
        };
        entry_ok |= segs[n - 1].exec && eh->e_entry >= ph.p_paddr &&
                    eh->e_entry - ph.p_paddr < ph.p_memsz;
    }
    if (n == 0 || !entry_ok) {
        return payload_error(d, errp, n ? "the ELF entry point is in no "
                             "executable segment" : "no PT_LOAD segment");
    }
    qsort(segs, n, sizeof(*segs), segment_by_offset);
    for (unsigned i = 0; i < n; i++) {
        for (unsigned j = i + 1; j < n; j++) {
            /* Both ranges are inside [min_addr, limit): no overflow. */
            if (segs[i].paddr < segs[j].paddr + segs[j].memsz &&
                segs[j].paddr < segs[i].paddr + segs[i].memsz) {
                return payload_error(d, errp, "PT_LOAD segments overlap");
            }
        }
        if (i + 1 < n && segs[i].offset + segs[i].filesz > segs[i + 1].offset) {
            return payload_error(d, errp, "PT_LOAD segments overlap in the "
                                 "file");
        }
    }
    *count = n;
    return true;
}

bool x86_vmlinux_decode(GuestMem *mem, const X86Payload *p, X86Vmlinux *out,
                        GError **errp)
{
    Decoder d = { .strm = LZMA_STREAM_INIT, .p = p, .in_pos = p->offset,
                  .in_end = p->offset + p->length };
    uint8_t head[HEADERS_MAX];
    Segment segs[MAX_SEGMENTS];
    unsigned count = 0;
    uint64_t headers_end, pos;
    Elf64_Ehdr eh;
    lzma_ret ret;
    bool ok = false;

    memset(out, 0, sizeof(*out));
    ret = lzma_stream_decoder(&d.strm, DECODER_MEMLIMIT, 0);
    if (ret != LZMA_OK) {
        return payload_error(&d, errp, lzma_strerror(ret));
    }
    d.in_buf = g_malloc(INPUT_CHUNK);
    d.scratch = g_malloc(SKIP_CHUNK);
    if (!decode_into(&d, head, sizeof(eh), errp)) {
        goto out;
    }
    memcpy(&eh, head, sizeof(eh));
    if (!check_ehdr(&d, &eh, errp)) {
        goto out;
    }
    headers_end = eh.e_phoff + eh.e_phnum * sizeof(Elf64_Phdr);
    if (!decode_into(&d, head + sizeof(eh), headers_end - sizeof(eh), errp) ||
        !collect_segments(&d, &eh, head + eh.e_phoff, segs, &count,
                          errp)) {
        goto out;
    }

    /* The segments stream straight into guest RAM, in file order. */
    pos = headers_end;
    out->start = UINT64_MAX;
    for (unsigned i = 0; i < count; i++) {
        /* collect_segments() checked the whole range is inside RAM's
         * allowed window; translate checks it is one region. */
        uint8_t *dst = guest_mem_translate(mem, segs[i].paddr, segs[i].memsz);
        uint64_t from_head = 0, skip = 0;

        if (!dst) {
            payload_error(&d, errp, "a segment is not inside guest RAM");
            goto out;
        }
        /* A segment may start inside the ELF headers (vmlinux's do not,
         * other linkers' first segment does): those bytes were decoded
         * already and are in head. */
        if (segs[i].offset < pos) {
            from_head = MIN(pos - segs[i].offset, segs[i].filesz);
            memcpy(dst, head + segs[i].offset, from_head);
        } else {
            skip = segs[i].offset - pos;
        }
        if (!decode_skip(&d, skip, errp) ||
            !decode_into(&d, dst + from_head, segs[i].filesz - from_head,
                         errp)) {
            goto out;
        }
        memset(dst + segs[i].filesz, 0, segs[i].memsz - segs[i].filesz);
        pos = MAX(pos, segs[i].offset + segs[i].filesz);
        out->start = MIN(out->start, segs[i].paddr & ~(PAGE_SIZE - 1));
        out->end = MAX(out->end, segs[i].paddr + segs[i].memsz);
    }
    if (!decode_relocs(&d, &eh, pos, out, errp)) {
        goto out;
    }
    out->entry = eh.e_entry + p->shift;
    ok = true;
out:
    if (!ok) {
        x86_vmlinux_clear(out);
    }
    lzma_end(&d.strm);
    g_free(d.in_buf);
    g_free(d.scratch);
    return ok;
}

void x86_vmlinux_clear(X86Vmlinux *vm)
{
    g_clear_pointer(&vm->relocs, g_free);
    vm->relocs_len = 0;
}

/* Whether a cache entry's image, moved by p->shift, may go where p
 * allows. */
static bool cached_image_fits(const BootCacheImage *img, const X86Payload *p)
{
    uint64_t at = img->load_addr + p->shift;

    return at >= img->load_addr && at >= p->min_addr && at <= p->limit &&
           img->size <= p->limit - at &&
           img->entry >= img->load_addr &&
           img->entry - img->load_addr < img->size;
}

bool x86_vmlinux_load(GuestMem *mem, const X86Payload *p,
                      const char *cache_dir, const BootCacheKey *key,
                      X86Vmlinux *out, GError **errp)
{
    BootCacheImage img;
    int lock = -1, fd = -1;
    uint8_t *dst;
    bool ok;

    if (cache_dir) {
        fd = boot_cache_open(cache_dir, key, &img);
        if (fd < 0) {
            /* Not there: wait for whoever may be making it right now. */
            lock = boot_cache_lock(cache_dir, NULL);
            fd = lock >= 0 ? boot_cache_open(cache_dir, key, &img) : -1;
        }
        if (fd >= 0 && !cached_image_fits(&img, p)) {
            close(fd);
            fd = -1;
        }
    }
    dst = fd >= 0 ? guest_mem_translate(mem, img.load_addr + p->shift,
                                        img.size) : NULL;
    if (dst) {
        /* Read, not mapped: guest RAM stays anonymous memory with huge
         * pages.  Mapping the entry MAP_PRIVATE measured slower in the
         * KVM sandbox (4.8 s vs 3.7 s to poweroff): every 4 KiB page the
         * guest touched was a nested fault, and every page it wrote a
         * copy. */
        *out = (X86Vmlinux){
            .start = img.load_addr + p->shift,
            .end = img.load_addr + p->shift + img.size,
            .entry = img.entry + p->shift, .from_cache = true,
            .relocs = img.relocs_length ? g_malloc(img.relocs_length) : NULL,
            .relocs_len = img.relocs_length,
        };
        /* The table is checked where it is used: x86_kaslr_relocate()
         * refuses one that does not fit the image. */
        ok = boot_cache_read(fd, &img, dst, out->relocs, errp);
        if (!ok) {
            x86_vmlinux_clear(out);
        }
        close(fd);
        if (lock >= 0) {
            close(lock);
        }
        return ok;
    }
    if (fd >= 0) {
        close(fd);
    }

    ok = x86_vmlinux_decode(mem, p, out, errp);
    if (ok && lock >= 0) {
        /* Stored where it was linked: the shift is this boot's. */
        img = (BootCacheImage){
            .load_addr = out->start - p->shift,
            .size = out->end - out->start,
            .entry = out->entry - p->shift, .relocs_length = out->relocs_len,
        };
        /* Best effort: this boot has its kernel either way. */
        (void)boot_cache_store(cache_dir, key, &img,
                               guest_mem_translate(mem, out->start,
                                                   img.size),
                               out->relocs, NULL);
    }
    if (lock >= 0) {
        close(lock);
    }
    return ok;
}
