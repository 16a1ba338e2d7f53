/*
 * bzImage loading: header checks against the real Debian kernel
 * (build/guest/vmlinuz, or $VMSPEC_GUEST_KERNEL; skipped if absent) and
 * synthetic junk files; zero page, e820, cmdline and initrd placement.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>
#include <asm/bootparam.h>
#include <asm/e820.h>

#include "machine/kvm/guest-mem.h"
#include "machine/qom/error.h"
#include "machine/x86/boot.h"
#include "machine/x86/layout.h"

#define MiB (1024ULL * 1024)

static const char *guest_kernel(void)
{
    const char *k = g_getenv("VMSPEC_GUEST_KERNEL");

    return k ? k : "build/guest/vmlinuz";
}

/* A synthetic header: HdrS, 0xAA55, protocol 2.15, 64-bit, 4 setup sects,
 * cmdline_size 2047; total file size 64 KiB. */
static uint8_t *fake_image(size_t *len)
{
    uint8_t *img = g_malloc0(64 * 1024);

    img[0x1f1] = 4;                             /* setup_sects */
    img[0x1fe] = 0x55;
    img[0x1ff] = 0xaa;
    img[0x201] = 0x66;                          /* header ends at 0x268 */
    memcpy(img + 0x202, "HdrS", 4);
    img[0x206] = 0x0f;
    img[0x207] = 0x02;                          /* version 2.15 */
    img[0x211] = LOADED_HIGH;
    img[0x234] = 1;                             /* relocatable */
    img[0x236] = XLF_KERNEL_64;
    img[0x238] = 0xff;
    img[0x239] = 0x07;                          /* cmdline_size 2047 */
    img[0x22c] = 0xff;
    img[0x22d] = 0xff;
    img[0x22e] = 0xff;
    img[0x22f] = 0x7f;                          /* initrd_addr_max */
    img[0x25a] = 0x00;
    img[0x25b] = 0x01;                          /* pref_address 16 MiB */
    img[0x262] = 0x10;                          /* init_size 1 MiB */
    *len = 64 * 1024;
    return img;
}

static void expect_parse_error(const uint8_t *img, size_t len,
                               const char *needle)
{
    g_autoptr(GError) err = NULL;
    X86BzImage bz;

    g_assert_false(x86_bzimage_parse(img, len, len, &bz, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    if (!strstr(err->message, needle)) {
        g_error("'%s' does not contain '%s'", err->message, needle);
    }
}

static void test_synthetic_ok(void)
{
    g_autoptr(GError) err = NULL;
    size_t len;
    g_autofree uint8_t *img = fake_image(&len);
    X86BzImage bz;

    g_assert_true(x86_bzimage_parse(img, len, len, &bz, &err));
    g_assert_no_error(err);
    g_assert_cmphex(bz.version, ==, 0x20f);
    g_assert_cmpuint(bz.setup_size, ==, 5 * 512);
    g_assert_cmpuint(bz.kernel_size, ==, len - 5 * 512);
    g_assert_cmpuint(bz.cmdline_size, ==, 2047);
    g_assert_cmphex(bz.pref_address, ==, 16 * MiB);
    g_assert_cmpuint(bz.header_len, ==, 0x268 - 0x1f1);

    /* setup_sects == 0 means 4 (boot.rst). */
    img[0x1f1] = 0;
    g_assert_true(x86_bzimage_parse(img, len, len, &bz, &err));
    g_assert_cmpuint(bz.setup_size, ==, 5 * 512);
}

static void test_synthetic_bad(void)
{
    size_t len;
    g_autofree uint8_t *img = fake_image(&len);
    g_autofree uint8_t *junk = g_malloc0(len);

    expect_parse_error(img, 100, "file too small");
    expect_parse_error(junk, len, "not a bzImage: missing HdrS magic");

    img[0x206] = 0x0b;                          /* 2.11 */
    expect_parse_error(img, len, "boot protocol 2.11");
    img[0x206] = 0x0f;

    img[0x236] = 0;                             /* no XLF_KERNEL_64 */
    expect_parse_error(img, len, "no 64-bit entry point");
    img[0x236] = XLF_KERNEL_64;

    img[0x211] = 0;                             /* zImage */
    expect_parse_error(img, len, "zImage");
    img[0x211] = LOADED_HIGH;

    img[0x1f1] = 200;                           /* setup beyond the file */
    expect_parse_error(img, len, "truncated");
    img[0x1f1] = 4;

    img[0x1f6] = 0x00;
    img[0x1f7] = 0x10;                          /* syssize 1 MiB */
    expect_parse_error(img, len, "truncated");
}

static char *write_temp(const void *data, size_t len)
{
    g_autoptr(GError) err = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp("vmspec-test-XXXXXX", &path, &err);

    g_assert_no_error(err);
    g_assert_true(g_file_set_contents(path, data, len, &err));
    close(fd);
    return path;
}

static void test_junk_files(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GuestMem) mem = guest_mem_new(64 * MiB, X86_MMIO_HOLE_START,
                                            &err);
    g_autofree uint8_t *junk = g_malloc0(8192);
    g_autofree char *junk_path = write_temp(junk, 8192);
    g_autofree char *tiny_path = write_temp("MZ", 2);
    X86BootConfig cfg = { .kernel = junk_path };
    X86BootInfo info;

    g_assert_false(x86_boot_load(mem, &cfg, &info, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, junk_path));
    g_assert_nonnull(strstr(err->message, "missing HdrS magic"));
    g_clear_error(&err);

    cfg.kernel = tiny_path;
    g_assert_false(x86_boot_load(mem, &cfg, &info, &err));
    g_assert_nonnull(strstr(err->message, "file too small"));
    g_clear_error(&err);

    cfg.kernel = "/nonexistent/vmlinuz";
    g_assert_false(x86_boot_load(mem, &cfg, &info, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND);
    g_clear_error(&err);

    /* A truncated copy of the real kernel. */
    gchar *real = NULL;
    gsize real_len = 0;
    if (g_file_get_contents(guest_kernel(), &real, &real_len, NULL)) {
        g_autofree char *cut = write_temp(real, real_len / 2);

        cfg.kernel = cut;
        g_assert_false(x86_boot_load(mem, &cfg, &info, &err));
        g_assert_nonnull(strstr(err->message, "truncated"));
        g_clear_error(&err);
        g_unlink(cut);
        g_free(real);
    }
    g_unlink(junk_path);
    g_unlink(tiny_path);
}

static void test_real_kernel(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GuestMem) mem = NULL;
    const char *kernel = guest_kernel();
    g_autofree char *initrd_data = g_malloc(3 * MiB + 123);
    g_autofree char *initrd = NULL;
    g_autofree char *long_cmdline = NULL;
    X86BootConfig cfg = {
        .kernel = kernel,
        .cmdline = "console=ttyS0 quiet",
        .acpi_start = X86_ACPI_START,
        .acpi_size = X86_ACPI_SIZE,
        .rsdp_addr = X86_ACPI_START,
    };
    X86BootInfo info;
    struct boot_params bp;
    char cmdline[64];
    gchar *file = NULL;
    gsize file_len;

    if (!g_file_get_contents(kernel, &file, &file_len, NULL)) {
        g_test_skip("no guest kernel (build/guest/vmlinuz)");
        return;
    }
    memset(initrd_data, 0xa5, 3 * MiB + 123);
    initrd = write_temp(initrd_data, 3 * MiB + 123);
    cfg.initrd = initrd;
    /* The bzImage as its own decompressor gets it (vmlinux decoding on
     * the host is test-vmlinux's, and at the end of this test). */
    cfg.guest_decompress = true;

    mem = guest_mem_new(256 * MiB, X86_MMIO_HOLE_START, &err);
    g_assert_no_error(err);
    g_assert_true(x86_boot_load(mem, &cfg, &info, &err));
    g_assert_no_error(err);
    g_test_message("protocol %x, kernel needs RAM up to %" G_GUINT64_FORMAT
                   " MiB, initrd at 0x%" G_GINT64_MODIFIER "x",
                   info.protocol, info.kernel_end >> 20, info.initrd_addr);
    g_assert_cmphex(info.protocol, >=, 0x20c);
    g_assert_cmphex(info.entry, ==, X86_KERNEL_LOAD_ADDR + 0x200);
    g_assert_cmphex(info.zero_page, ==, X86_ZERO_PAGE_ADDR);

    /* The protected-mode part is at 1 MiB. */
    size_t setup = ((uint8_t)file[0x1f1] ?: 4) * 512 + 512;
    g_assert_cmpmem(guest_mem_translate(mem, X86_KERNEL_LOAD_ADDR, 4096),
                    4096, file + setup, 4096);

    /* Initrd: top of RAM, page-aligned, contents intact. */
    g_assert_cmphex(info.initrd_addr % 4096, ==, 0);
    g_assert_cmphex(info.initrd_addr + info.initrd_size, <=, 256 * MiB);
    g_assert_cmphex(info.initrd_addr + info.initrd_size, >, 256 * MiB - 4096);
    g_assert_cmpmem(guest_mem_translate(mem, info.initrd_addr,
                                        info.initrd_size),
                    info.initrd_size, initrd_data, 3 * MiB + 123);

    /* Zero page. */
    g_assert_true(guest_mem_read(mem, X86_ZERO_PAGE_ADDR, &bp, sizeof(bp),
                                 NULL));
    g_assert_cmphex(bp.hdr.header, ==, 0x53726448);
    g_assert_cmphex(bp.hdr.boot_flag, ==, 0xaa55);
    g_assert_cmphex(bp.hdr.type_of_loader, ==, 0xff);
    g_assert_cmphex(bp.hdr.cmd_line_ptr, ==, X86_CMDLINE_ADDR);
    g_assert_cmphex(bp.hdr.ramdisk_image, ==, info.initrd_addr);
    g_assert_cmphex(bp.hdr.ramdisk_size, ==, 3 * MiB + 123);
    g_assert_cmphex(bp.acpi_rsdp_addr, ==, X86_ACPI_START);
    g_assert_cmpmem(&bp.hdr.version, 2, file + 0x206, 2);
    g_assert_true(guest_mem_read(mem, X86_CMDLINE_ADDR, cmdline,
                                 sizeof("console=ttyS0 quiet"), NULL));
    g_assert_cmpstr(cmdline, ==, "console=ttyS0 quiet");

    /* e820: RAM below 640K, reserved, ACPI, RAM from 1 MiB to the end. */
    g_assert_cmpuint(bp.e820_entries, ==, 5);
    g_assert_cmphex(bp.e820_table[0].addr, ==, 0);
    g_assert_cmphex(bp.e820_table[0].size, ==, X86_EBDA_START);
    g_assert_cmpuint(bp.e820_table[0].type, ==, E820_RAM);
    g_assert_cmpuint(bp.e820_table[1].type, ==, E820_RESERVED);
    g_assert_cmphex(bp.e820_table[2].addr, ==, X86_ACPI_START);
    g_assert_cmpuint(bp.e820_table[2].type, ==, E820_ACPI);
    g_assert_cmphex(bp.e820_table[3].addr, ==, X86_KERNEL_LOAD_ADDR);
    g_assert_cmphex(bp.e820_table[3].size, ==, 255 * MiB);
    g_assert_cmpuint(bp.e820_table[3].type, ==, E820_RAM);
    g_assert_cmphex(bp.e820_table[4].addr, ==, X86_KVM_IDENTITY_MAP_ADDR);

    /* The machine's prefix goes in front of the command line... */
    cfg.cmdline_prefix = "pci=off";
    g_assert_true(x86_boot_load(mem, &cfg, &info, &err));
    g_assert_no_error(err);
    g_assert_true(guest_mem_read(mem, X86_CMDLINE_ADDR, cmdline,
                                 sizeof("pci=off console=ttyS0 quiet"),
                                 NULL));
    g_assert_cmpstr(cmdline, ==, "pci=off console=ttyS0 quiet");
    /* ...and is left out when the command line fits only without it. */
    long_cmdline = g_strnfill(bp.hdr.cmdline_size, 'x');
    cfg.cmdline = long_cmdline;
    g_assert_true(x86_boot_load(mem, &cfg, &info, &err));
    g_assert_no_error(err);
    g_assert_true(guest_mem_read(mem, X86_CMDLINE_ADDR, cmdline, 8, NULL));
    g_assert_cmpmem(cmdline, 8, long_cmdline, 8);
    g_clear_pointer(&long_cmdline, g_free);
    cfg.cmdline_prefix = NULL;

    /* Too long a command line. */
    long_cmdline = g_strnfill(5000, 'x');
    cfg.cmdline = long_cmdline;
    g_assert_false(x86_boot_load(mem, &cfg, &info, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "kernel command line is 5000 "
                                          "bytes; this kernel accepts at "
                                          "most"));
    g_clear_error(&err);
    cfg.cmdline = NULL;
    guest_mem_free(g_steal_pointer(&mem));

    /* Too little RAM for the kernel. */
    mem = guest_mem_new(32 * MiB, X86_MMIO_HOLE_START, &err);
    cfg.initrd = NULL;
    g_assert_false(x86_boot_load(mem, &cfg, &info, &err));
    g_assert_nonnull(strstr(err->message, "MiB of guest RAM"));
    g_clear_error(&err);
    guest_mem_free(g_steal_pointer(&mem));

    /* High RAM: 4 GiB guest with the hole at 3 GiB -> RAM entry at 4 GiB;
     * the initrd stays below the hole. */
    mem = guest_mem_new(4096 * MiB, X86_MMIO_HOLE_START, &err);
    if (mem) {
        cfg.initrd = initrd;
        g_assert_true(x86_boot_load(mem, &cfg, &info, &err));
        g_assert_no_error(err);
        g_assert_true(guest_mem_read(mem, X86_ZERO_PAGE_ADDR, &bp,
                                     sizeof(bp), NULL));
        g_assert_cmpuint(bp.e820_entries, ==, 6);
        g_assert_cmphex(bp.e820_table[5].addr, ==, 4096 * MiB);
        g_assert_cmphex(bp.e820_table[5].size, ==, 1024 * MiB);
        g_assert_cmphex(info.initrd_addr + info.initrd_size, <=,
                        X86_MMIO_HOLE_START);
        guest_mem_free(g_steal_pointer(&mem));
    }
    g_clear_error(&err);

    /* Decoded on the host (no cache): entered at the kernel proper's
     * startup_64, with "nokaslr" at LOAD_PHYSICAL_ADDR (16 MiB), else at
     * a random 2 MiB step above it (kaslr.h), with the same zero page;
     * the initrd goes above all the kernel needs. */
    for (int nokaslr = 1; nokaslr >= 0; nokaslr--) {
        uint64_t init_size = *(uint32_t *)(file + 0x260);

        mem = guest_mem_new(256 * MiB, X86_MMIO_HOLE_START, &err);
        cfg.guest_decompress = false;
        cfg.initrd = initrd;
        cfg.cmdline = nokaslr ? "console=ttyS0 nokaslr" : "console=ttyS0";
        g_assert_true(x86_boot_load(mem, &cfg, &info, &err));
        g_assert_no_error(err);
        g_assert_true(info.host_decompressed);
        g_assert_cmpint(info.kaslr, ==, !nokaslr);
        if (nokaslr) {
            g_assert_cmphex(info.entry, ==, 16 * MiB);
            g_assert_cmphex(info.kernel_text, ==, 0xffffffff81000000ULL);
        }
        /* Where _text went, for crash reports. */
        g_assert_cmphex(info.kernel_start, ==, info.entry);
        g_assert_cmphex(info.kernel_text % (2 * MiB), ==, 0);
        g_assert_cmphex(info.kernel_text, >=, 0xffffffff81000000ULL);
        g_assert_cmphex(info.kernel_text, <, 0xffffffffc0000000ULL);
        g_assert_cmphex(info.entry, >=, 16 * MiB);
        g_assert_cmphex(info.entry % (2 * MiB), ==, 0);
        g_assert_cmphex(info.kernel_end, >=, info.entry + init_size);
        g_assert_cmphex(info.initrd_addr, >=, info.kernel_end);
        g_assert_true(guest_mem_read(mem, X86_ZERO_PAGE_ADDR, &bp,
                                     sizeof(bp), NULL));
        g_assert_cmphex(bp.hdr.header, ==, 0x53726448);
        g_assert_cmphex(bp.hdr.ramdisk_image, ==, info.initrd_addr);
        g_assert_cmphex(bp.hdr.loadflags & 0x02, ==, nokaslr ? 0 : 0x02);
        /* Nothing at 1 MiB: the compressed kernel is not loaded. */
        g_assert_cmpmem(guest_mem_translate(mem, X86_KERNEL_LOAD_ADDR, 16),
                        16, (uint8_t[16]){ 0 }, 16);
        guest_mem_free(g_steal_pointer(&mem));
    }
    cfg.cmdline = NULL;
    g_unlink(initrd);
    g_free(file);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/bzimage/synthetic-ok", test_synthetic_ok);
    g_test_add_func("/bzimage/synthetic-bad", test_synthetic_bad);
    g_test_add_func("/bzimage/junk-files", test_junk_files);
    g_test_add_func("/bzimage/real-kernel", test_real_kernel);
    return g_test_run();
}
