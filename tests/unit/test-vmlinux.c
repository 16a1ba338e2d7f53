/*
 * A bzImage's payload decoded on the host: a synthetic ELF compressed as
 * the kernel build does (XZ, x86 BCJ + LZMA2, CRC32) placed in guest RAM;
 * hostile ELFs and damaged streams refused; the boot cache (hit, miss,
 * untrusted entries, eviction); and the real Debian kernel compared with
 * an independent whole-buffer decode (skipped if build/guest is absent).
 */
#include <elf.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <lzma.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/kvm/boot-cache.h"
#include "machine/kvm/guest-mem.h"
#include "machine/qom/error.h"
#include "machine/x86/boot.h"
#include "machine/x86/layout.h"
#include "machine/x86/vmlinux.h"

#define MiB (1024ULL * 1024)
#define RAM (64 * MiB)
#define TEXT_ADDR (16 * MiB)
#define DATA_ADDR (20 * MiB)
#define PREFIX 777          /* payload offset in the test file */

/* An ELF like vmlinux: headers, an R E segment at file offset 0x2000
 * (TEXT_ADDR, 0x3000 bytes), a gap, a RW segment at 0x6000 (DATA_ADDR,
 * 0x1800 bytes in the file, 0x4000 in memory), then trailing bytes. */
typedef struct FakeElf {
    uint8_t bytes[0x9000];
    Elf64_Ehdr *eh;
    Elf64_Phdr *ph;     /* 3: text, data, note */
} FakeElf;

static void fake_elf(FakeElf *f)
{
    memset(f->bytes, 0, sizeof(f->bytes));
    for (size_t i = 0x100; i < sizeof(f->bytes); i++) {
        /* Text-like bytes, with call opcodes for the BCJ filter to chew. */
        f->bytes[i] = i % 7 == 0 ? 0xe8 : (uint8_t)(i * 31 + (i >> 8));
    }
    f->eh = (Elf64_Ehdr *)f->bytes;
    f->ph = (Elf64_Phdr *)(f->bytes + sizeof(Elf64_Ehdr));
    memcpy(f->eh->e_ident, ELFMAG, SELFMAG);
    f->eh->e_ident[EI_CLASS] = ELFCLASS64;
    f->eh->e_ident[EI_DATA] = ELFDATA2LSB;
    f->eh->e_ident[EI_VERSION] = EV_CURRENT;
    f->eh->e_type = ET_EXEC;
    f->eh->e_machine = EM_X86_64;
    f->eh->e_version = EV_CURRENT;
    f->eh->e_entry = TEXT_ADDR;
    f->eh->e_phoff = sizeof(Elf64_Ehdr);
    f->eh->e_ehsize = sizeof(Elf64_Ehdr);
    f->eh->e_phentsize = sizeof(Elf64_Phdr);
    f->eh->e_phnum = 3;
    f->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X,
                             .p_offset = 0x2000, .p_vaddr = 0xffffffff81000000,
                             .p_paddr = TEXT_ADDR, .p_filesz = 0x3000,
                             .p_memsz = 0x3000, .p_align = 0x1000 };
    f->ph[1] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W,
                             .p_offset = 0x6000, .p_paddr = DATA_ADDR,
                             .p_filesz = 0x1800, .p_memsz = 0x4000 };
    f->ph[2] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x100,
                             .p_filesz = 0x10 };
}

/* Compresses as scripts/xz_wrap.sh does for x86: --x86 --lzma2, CRC32. */
static GBytes *xz_compress(const void *data, size_t len)
{
    lzma_options_lzma opt;
    lzma_filter filters[] = {
        { .id = LZMA_FILTER_X86 },
        { .id = LZMA_FILTER_LZMA2, .options = &opt },
        { .id = LZMA_VLI_UNKNOWN },
    };
    size_t cap = len + len / 2 + 4096, out_len = 0;
    uint8_t *out = g_malloc(cap);

    g_assert_false(lzma_lzma_preset(&opt, 6));
    g_assert_cmpint(lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, NULL,
                                              data, len, out, &out_len, cap),
                    ==, LZMA_OK);
    return g_bytes_new_take(out, out_len);
}

/* Writes PREFIX junk bytes, the payload, 4 bytes of junk (the kernel's
 * size append); returns the path. */
static char *write_payload(GBytes *xz)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) file = g_byte_array_new();
    char *path = NULL;
    int fd = g_file_open_tmp("vmspec-vmlinux-XXXXXX", &path, &err);
    uint8_t junk[PREFIX];

    g_assert_no_error(err);
    memset(junk, 0x5a, sizeof(junk));
    g_byte_array_append(file, junk, sizeof(junk));
    g_byte_array_append(file, g_bytes_get_data(xz, NULL),
                        g_bytes_get_size(xz));
    g_byte_array_append(file, junk, 4);
    g_assert_cmpint(write(fd, file->data, file->len), ==, file->len);
    close(fd);
    return path;
}

/* Decodes elf (compressed, maybe damaged by damage()) into fresh RAM. */
static bool decode_elf(const FakeElf *f, void (*damage)(GByteArray *),
                       GuestMem **mem, X86Vmlinux *vm, GError **errp)
{
    g_autoptr(GBytes) xz = xz_compress(f->bytes, sizeof(f->bytes));
    g_autoptr(GByteArray) buf = g_bytes_unref_to_array(g_bytes_ref(xz));
    g_autoptr(GBytes) damaged = NULL;
    g_autofree char *path = NULL;
    X86Payload p = {
        .path = "test-kernel", .offset = PREFIX,
        .min_addr = X86_KERNEL_LOAD_ADDR, .limit = RAM,
    };
    bool ok;

    if (damage) {
        damage(buf);
    }
    damaged = g_byte_array_free_to_bytes(g_steal_pointer(&buf));
    path = write_payload(damaged);
    p.length = g_bytes_get_size(damaged);
    p.fd = g_open(path, O_RDONLY, 0);
    g_assert_cmpint(p.fd, >=, 0);
    *mem = guest_mem_new(RAM, X86_MMIO_HOLE_START, NULL);
    ok = x86_vmlinux_decode(*mem, &p, vm, errp);
    close(p.fd);
    g_unlink(path);
    return ok;
}

/* Decodes f undamaged, which must succeed; returns the RAM it went to. */
static GuestMem *expect_decoded(const FakeElf *f, X86Vmlinux *vm)
{
    g_autoptr(GError) err = NULL;
    GuestMem *mem = NULL;

    g_assert_true(decode_elf(f, NULL, &mem, vm, &err));
    g_assert_no_error(err);
    return mem;
}

static void check_placed(GuestMem *mem, const FakeElf *f)
{
    const uint8_t *text = guest_mem_translate(mem, TEXT_ADDR, 0x3000);
    const uint8_t *data = guest_mem_translate(mem, DATA_ADDR, 0x4000);

    g_assert_cmpmem(text, 0x3000, f->bytes + 0x2000, 0x3000);
    g_assert_cmpmem(data, 0x1800, f->bytes + 0x6000, 0x1800);
    for (size_t i = 0x1800; i < 0x4000; i++) {
        g_assert_cmpint(data[i], ==, 0);
    }
}

static void test_decode(void)
{
    g_autoptr(GuestMem) mem = NULL;
    X86Vmlinux vm;
    FakeElf f;

    fake_elf(&f);
    mem = expect_decoded(&f, &vm);
    check_placed(mem, &f);
    g_assert_cmphex(vm.start, ==, TEXT_ADDR);
    g_assert_cmphex(vm.end, ==, DATA_ADDR + 0x4000);
    g_assert_cmphex(vm.entry, ==, TEXT_ADDR);
    g_assert_false(vm.from_cache);
    /* The gap between the segments stays untouched RAM. */
    g_assert_cmpint(*(uint8_t *)guest_mem_translate(mem, TEXT_ADDR + 0x3000,
                                                    1), ==, 0);
}

/* A first segment that starts at file offset 0, headers included, as
 * most linkers lay out executables. */
static void test_segment_with_headers(void)
{
    g_autoptr(GuestMem) mem = NULL;
    X86Vmlinux vm;
    FakeElf f;

    fake_elf(&f);
    f.ph[0].p_offset = 0;
    f.ph[0].p_filesz = f.ph[0].p_memsz = 0x5000;
    mem = expect_decoded(&f, &vm);
    g_assert_cmpmem(guest_mem_translate(mem, TEXT_ADDR, 0x5000), 0x5000,
                    f.bytes, 0x5000);
    g_assert_cmpmem(guest_mem_translate(mem, DATA_ADDR, 0x1800), 0x1800,
                    f.bytes + 0x6000, 0x1800);

    /* One that lies wholly inside the headers. */
    g_clear_pointer(&mem, guest_mem_free);
    fake_elf(&f);
    f.ph[0].p_offset = 0x40;
    f.ph[0].p_filesz = 0x20;
    mem = expect_decoded(&f, &vm);
    g_assert_cmpmem(guest_mem_translate(mem, TEXT_ADDR, 0x20), 0x20,
                    f.bytes + 0x40, 0x20);
}

static void flip_middle(GByteArray *b)
{
    b->data[b->len / 2] ^= 0x40;
}

static void cut_end(GByteArray *b)
{
    g_byte_array_set_size(b, b->len - 12);
}

static void not_xz(GByteArray *b)
{
    b->data[0] = 'M';
}

static void expect_refused(const FakeElf *f, void (*damage)(GByteArray *),
                           const char *needle)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GuestMem) mem = NULL;
    X86Vmlinux vm;

    g_assert_false(decode_elf(f, damage, &mem, &vm, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    if (!strstr(err->message, needle)) {
        g_error("'%s' does not contain '%s'", err->message, needle);
    }
    g_assert_nonnull(strstr(err->message, "test-kernel: "));
}

static void test_refused(void)
{
    FakeElf f;

    fake_elf(&f);
    expect_refused(&f, flip_middle, "XZ");
    expect_refused(&f, cut_end, "truncated");
    expect_refused(&f, not_xz, "not an XZ stream");

    fake_elf(&f);
    f.eh->e_machine = EM_AARCH64;
    expect_refused(&f, NULL, "not an x86_64 executable ELF");
    fake_elf(&f);
    memcpy(f.bytes, "JUNK", 4);
    expect_refused(&f, NULL, "does not decode to an ELF");
    fake_elf(&f);
    f.eh->e_phnum = 100;
    expect_refused(&f, NULL, "program headers");
    fake_elf(&f);
    f.ph[1].p_paddr = RAM - 0x1000;                 /* bss past the end */
    expect_refused(&f, NULL, "outside guest RAM");
    fake_elf(&f);
    f.ph[1].p_paddr = 0x8000;                       /* on boot structures */
    expect_refused(&f, NULL, "outside guest RAM");
    fake_elf(&f);
    f.ph[1].p_paddr = UINT64_MAX - 0x100;           /* wraps */
    expect_refused(&f, NULL, "outside guest RAM");
    fake_elf(&f);
    f.ph[1].p_paddr = TEXT_ADDR + 0x1000;
    expect_refused(&f, NULL, "PT_LOAD segments overlap");
    fake_elf(&f);
    f.ph[1].p_offset = 0x4000;                      /* inside text's */
    expect_refused(&f, NULL, "overlap in the file");
    fake_elf(&f);
    f.ph[1].p_filesz = 0x5000;                      /* > memsz */
    expect_refused(&f, NULL, "file range is invalid");
    fake_elf(&f);
    f.ph[1].p_offset = 0x8800;                      /* past the ELF's end */
    expect_refused(&f, NULL, "longer than the data");
    fake_elf(&f);
    f.eh->e_entry = DATA_ADDR;                      /* not executable */
    expect_refused(&f, NULL, "entry point");
}

/* Loads the fake ELF through the cache in dir; returns whether it came
 * from the cache. */
static bool load_cached(const FakeElf *f, const char *dir,
                        const BootCacheKey *key)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) xz = xz_compress(f->bytes, sizeof(f->bytes));
    g_autofree char *path = write_payload(xz);
    g_autoptr(GuestMem) mem = guest_mem_new(RAM, X86_MMIO_HOLE_START, NULL);
    X86Payload p = {
        .path = "test-kernel", .offset = PREFIX,
        .length = g_bytes_get_size(xz),
        .min_addr = X86_KERNEL_LOAD_ADDR, .limit = RAM,
    };
    X86Vmlinux vm;

    p.fd = g_open(path, O_RDONLY, 0);
    g_assert_true(x86_vmlinux_load(mem, &p, dir, key, &vm, &err));
    g_assert_no_error(err);
    close(p.fd);
    g_unlink(path);
    check_placed(mem, f);
    g_assert_cmphex(vm.entry, ==, TEXT_ADDR);
    g_assert_cmphex(vm.start, ==, TEXT_ADDR);
    g_assert_cmphex(vm.end, ==, DATA_ADDR + 0x4000);
    return vm.from_cache;
}

static guint count_entries(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    guint n = 0;

    while ((name = g_dir_read_name(d))) {
        n += g_str_has_prefix(name, "kernel-");
    }
    return n;
}

static void test_cache(void)
{
    g_autofree char *dir = g_dir_make_tmp("vmspec-cache-XXXXXX", NULL);
    g_autofree char *sub = g_build_filename(dir, "a", "b", NULL);
    BootCacheKey key, other;
    struct stat st = { .st_size = 1 };
    BootCacheImage img;
    FakeElf f;
    int fd;

    fake_elf(&f);
    boot_cache_key(&st, "head", 4, &key);
    st.st_ctim.tv_nsec = 1;                 /* rewritten in place */
    boot_cache_key(&st, "head", 4, &other);
    g_assert_true(memcmp(&key, &other, sizeof(key)) != 0);

    /* Miss (the directory is created), then hit. */
    g_assert_false(load_cached(&f, sub, &key));
    g_assert_cmpuint(count_entries(sub), ==, 1);
    g_assert_true(load_cached(&f, sub, &key));
    g_assert_false(load_cached(&f, sub, &other));
    fd = boot_cache_open(sub, &key, &img);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    g_assert_cmphex(img.load_addr, ==, TEXT_ADDR);
    g_assert_cmphex(img.size, ==, DATA_ADDR + 0x4000 - TEXT_ADDR);
    /* Text, and data without its bss: the 4 MiB between is a hole. */
    g_assert_cmpuint(img.extent_count, ==, 2);
    g_assert_cmphex(img.extents[1].offset, ==, DATA_ADDR - TEXT_ADDR);

    /* An entry others may write is not trusted (and gets rebuilt). */
    {
        g_autoptr(GDir) d = g_dir_open(sub, 0, NULL);
        const char *name;

        while ((name = g_dir_read_name(d))) {
            g_autofree char *p = g_build_filename(sub, name, NULL);

            if (g_str_has_prefix(name, "kernel-")) {
                g_assert_cmpint(g_chmod(p, 0666), ==, 0);
            }
        }
    }
    g_assert_cmpint(boot_cache_open(sub, &key, &img), ==, -1);

    /* Eviction keeps the newest BOOT_CACHE_MAX_ENTRIES. */
    for (int i = 0; i < BOOT_CACHE_MAX_ENTRIES + 2; i++) {
        st.st_mtim.tv_sec = 1000 + i;
        boot_cache_key(&st, "head", 4, &other);
        g_assert_false(load_cached(&f, sub, &other));
    }
    g_assert_cmpuint(count_entries(sub), ==, BOOT_CACHE_MAX_ENTRIES);
    g_assert_true(load_cached(&f, sub, &other));     /* the newest stays */

    /* A directory that cannot be made: no cache, still a kernel. */
    g_assert_false(load_cached(&f, "/proc/vmspec-no-such-dir", &key));

    {
        g_autofree char *rm = g_strdup_printf("rm -rf '%s'", dir);

        g_assert_cmpint(system(rm), ==, 0);
    }
}

/* Data a small hole apart is one extent, the hole stored and read back as
 * zeros; data far apart another.  Either way the image reads back whole,
 * and the relocation table stored after it too. */
static void test_cache_read(void)
{
    g_autofree char *dir = g_dir_make_tmp("vmspec-cache-XXXXXX", NULL);
    const uint64_t size = 4 * MiB;
    g_autofree uint8_t *image = g_malloc0(size);
    g_autofree uint8_t *back = g_malloc0(size);
    g_autoptr(GError) err = NULL;
    static const uint8_t relocs[12] = { 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8 };
    uint8_t relocs_back[sizeof(relocs)] = { 0 };
    BootCacheImage img = { .load_addr = TEXT_ADDR, .size = size,
                           .relocs_length = sizeof(relocs) };
    BootCacheKey key;
    struct stat st = { .st_size = 2 };
    int fd;

    memset(image, 0x11, 0x1000);                 /* page 0 */
    memset(image + 0x2000, 0x22, 0x1000);        /* page 2: 1 page apart */
    memset(image + size - 0x1000, 0x33, 0x800);  /* ~4 MiB apart */
    boot_cache_key(&st, "read", 4, &key);
    g_assert_true(boot_cache_store(dir, &key, &img, image, relocs, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(img.extent_count, ==, 2);
    g_assert_cmphex(img.extents[0].length, ==, 0x3000);
    fd = boot_cache_open(dir, &key, &img);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpuint(img.relocs_length, ==, sizeof(relocs));
    g_assert_true(boot_cache_read(fd, &img, back, relocs_back, &err));
    g_assert_no_error(err);
    close(fd);
    g_assert_true(memcmp(image, back, size) == 0);
    g_assert_cmpmem(relocs_back, sizeof(relocs_back), relocs, sizeof(relocs));

    {
        g_autofree char *rm = g_strdup_printf("rm -rf '%s'", dir);

        g_assert_cmpint(system(rm), ==, 0);
    }
}

static void test_cache_dir(void)
{
    g_autofree char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;
    g_autofree char *home = g_strdup(g_getenv("HOME"));

    g_setenv("VMSPEC_CACHE_DIR", "/x/vm", TRUE);
    a = boot_cache_dir_from_env();
    g_setenv("VMSPEC_CACHE_DIR", "", TRUE);
    b = boot_cache_dir_from_env();
    g_unsetenv("VMSPEC_CACHE_DIR");
    g_setenv("XDG_CACHE_HOME", "/xdg", TRUE);
    c = boot_cache_dir_from_env();
    g_setenv("XDG_CACHE_HOME", "relative", TRUE);
    g_setenv("HOME", "/home/u", TRUE);
    d = boot_cache_dir_from_env();
    g_unsetenv("XDG_CACHE_HOME");
    g_unsetenv("HOME");
    e = boot_cache_dir_from_env();
    g_assert_cmpstr(a, ==, "/x/vm");
    g_assert_null(b);
    g_assert_cmpstr(c, ==, "/xdg/vmspec");
    g_assert_cmpstr(d, ==, "/home/u/.cache/vmspec");
    g_assert_null(e);
    if (home) {
        g_setenv("HOME", home, TRUE);
    }
}

/* The real Debian kernel: every PT_LOAD segment's bytes in guest RAM are
 * the ones a whole-buffer decode of the payload gives. */
static void test_real_kernel(void)
{
    const char *kernel = g_getenv("VMSPEC_GUEST_KERNEL");
    g_autoptr(GError) err = NULL;
    g_autoptr(GuestMem) mem = NULL;
    g_autofree gchar *file = NULL;
    g_autofree uint8_t *elf = NULL;
    size_t in_pos = 0, elf_len = 0, elf_cap = 256 * MiB;
    uint64_t memlimit = UINT64_MAX;
    const Elf64_Ehdr *eh;
    gsize file_len;
    X86BzImage bz;
    X86Vmlinux vm;
    X86Payload p;

    kernel = kernel ? kernel : "build/guest/vmlinuz";
    if (!g_file_get_contents(kernel, &file, &file_len, NULL)) {
        g_test_skip("no guest kernel (build/guest/vmlinuz)");
        return;
    }
    g_assert_true(x86_bzimage_parse((uint8_t *)file, MIN(file_len, 4096),
                                    file_len, &bz, &err));
    p = (X86Payload){
        .path = kernel, .offset = bz.setup_size + bz.payload_offset,
        .length = bz.payload_length,
        .min_addr = X86_KERNEL_LOAD_ADDR, .limit = 256 * MiB,
    };
    if (!x86_vmlinux_payload_known((uint8_t *)file + p.offset, p.length)) {
        g_test_skip("the guest kernel's payload is not XZ");
        return;
    }
    elf = g_malloc(elf_cap);
    g_assert_cmpint(lzma_stream_buffer_decode(&memlimit, 0, NULL,
                                              (uint8_t *)file + p.offset,
                                              &in_pos, p.length, elf,
                                              &elf_len, elf_cap),
                    ==, LZMA_OK);
    eh = (const Elf64_Ehdr *)elf;

    mem = guest_mem_new(256 * MiB, X86_MMIO_HOLE_START, &err);
    p.fd = g_open(kernel, O_RDONLY, 0);
    g_assert_true(x86_vmlinux_decode(mem, &p, &vm, &err));
    g_assert_no_error(err);
    close(p.fd);
    g_test_message("vmlinux: %zu bytes of ELF, loaded 0x%" G_GINT64_MODIFIER
                   "x..0x%" G_GINT64_MODIFIER "x, entry 0x%"
                   G_GINT64_MODIFIER "x", elf_len, vm.start, vm.end,
                   vm.entry);
    g_assert_cmphex(vm.entry, ==, eh->e_entry);
    g_assert_cmphex(vm.start, ==, bz.pref_address);
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        const Elf64_Phdr *ph = (const Elf64_Phdr *)(elf + eh->e_phoff) + i;

        if (ph->p_type != PT_LOAD) {
            continue;
        }
        g_assert_cmpmem(guest_mem_translate(mem, ph->p_paddr, ph->p_filesz),
                        ph->p_filesz, elf + ph->p_offset, ph->p_filesz);
    }
    /* Debian's kernel has CONFIG_RANDOMIZE_BASE: its relocation table
     * follows the ELF's section headers, to the end. */
    {
        uint64_t elf_end = eh->e_shoff + eh->e_shnum * sizeof(Elf64_Shdr);

        g_assert_nonnull(vm.relocs);
        g_assert_cmpmem(vm.relocs, vm.relocs_len, elf + elf_end,
                        elf_len - elf_end);
    }
    x86_vmlinux_clear(&vm);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmlinux/decode", test_decode);
    g_test_add_func("/vmlinux/segment-with-headers",
                    test_segment_with_headers);
    g_test_add_func("/vmlinux/refused", test_refused);
    g_test_add_func("/vmlinux/cache", test_cache);
    g_test_add_func("/vmlinux/cache-read", test_cache_read);
    g_test_add_func("/vmlinux/cache-dir", test_cache_dir);
    g_test_add_func("/vmlinux/real-kernel", test_real_kernel);
    return g_test_run();
}
