/*
 * arm64 Image loading (machine/arm64/boot.c): header checks against
 * synthetic images and the real Debian arm64 kernel when it was built
 * (build/guest-aarch64/Image; skipped if absent), and where the kernel,
 * initrd and device tree land in RAM (booting.rst).  Runs on any host:
 * nothing here needs KVM.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "machine/arm64/boot.h"
#include "machine/arm64/layout.h"
#include "machine/kvm/guest-mem.h"
#include "machine/qom/error.h"

#define MiB (1024ULL * 1024)

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* A 64 KiB Image: text_offset 0, image_size 3 MiB, LE, 4K pages. */
static uint8_t *fake_image(size_t *len)
{
    uint8_t *img = g_malloc0(64 * 1024);

    put_le64(img + 8, 0);
    put_le64(img + 16, 3 * MiB);
    put_le64(img + 24, 1 << 1);
    memcpy(img + 56, "ARM\x64", 4);
    *len = 64 * 1024;
    return img;
}

static char *write_temp(const void *data, size_t len)
{
    GError *err = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp("vmspec-arm64-XXXXXX", &path, &err);

    g_assert_no_error(err);
    close(fd);
    g_assert_true(g_file_set_contents(path, data, (gssize)len, &err));
    g_assert_no_error(err);
    return path;
}

static void expect_parse_error(const uint8_t *head, size_t len,
                               const char *pattern)
{
    GError *err = NULL;
    Arm64Image img;

    g_assert_false(arm64_image_parse(head, len, len, &img, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    if (!g_pattern_match_simple(pattern, err->message)) {
        g_error("'%s' does not match '%s'", err->message, pattern);
    }
    g_error_free(err);
}

static void test_parse(void)
{
    size_t len;
    g_autofree uint8_t *img = fake_image(&len);
    GError *err = NULL;
    Arm64Image out;
    uint8_t gz[64] = { 0x1f, 0x8b, 0x08 };
    uint8_t zboot[64] = { 'M', 'Z', 0, 0, 'z', 'i', 'm', 'g' };

    g_assert_true(arm64_image_parse(img, 64, len, &out, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(out.text_offset, ==, 0);
    g_assert_cmpuint(out.image_size, ==, 3 * MiB);

    expect_parse_error(gz, sizeof(gz), "*gzip-compressed*gunzip*");
    expect_parse_error(zboot, sizeof(zboot), "*EFI zboot*");
    expect_parse_error(img, 32, "*smaller than its header*");
    img[56] = 'X';
    expect_parse_error(img, 64, "*not an arm64 Image*magic*");
    img[56] = 'A';
    put_le64(img + 24, 1);                          /* big-endian */
    expect_parse_error(img, 64, "*big-endian*");
    put_le64(img + 24, 0);
    put_le64(img + 8, 0x1001);                      /* not page-aligned */
    expect_parse_error(img, 64, "*inconsistent*");
    put_le64(img + 8, 0);
    /* Before 3.17: image_size 0 means text_offset 0x80000. */
    put_le64(img + 16, 0);
    g_assert_true(arm64_image_parse(img, 64, len, &out, &err));
    g_assert_cmphex(out.text_offset, ==, 0x80000);
    g_assert_cmpuint(out.image_size, ==, len);
}

/* Kernel at the RAM base, device tree in the top 2 MiB block, initrd
 * right below it, page-aligned, its bytes intact. */
static void test_layout(void)
{
    size_t len;
    g_autofree uint8_t *img = fake_image(&len);
    g_autofree char *kernel = write_temp(img, len);
    g_autofree char *initrd = write_temp("initrd-bytes", 12);
    g_autoptr(GuestMem) mem = NULL;
    Arm64BootConfig cfg = { .kernel = kernel, .initrd = initrd };
    Arm64BootInfo info;
    GError *err = NULL;
    const uint8_t *p;

    mem = guest_mem_new_at(64 * MiB + 4096, ARM64_RAM_BASE, &err);
    g_assert_no_error(err);
    g_assert_true(arm64_boot_load(mem, &cfg, &info, &err));
    g_assert_no_error(err);
    g_assert_cmphex(info.entry, ==, ARM64_RAM_BASE);
    g_assert_cmphex(info.kernel_end, ==, ARM64_RAM_BASE + 3 * MiB);
    g_assert_cmphex(info.dtb_addr, ==, ARM64_RAM_BASE + 62 * MiB);
    g_assert_cmphex(info.initrd_end - info.initrd_start, ==, 12);
    g_assert_cmphex(info.initrd_start % 4096, ==, 0);
    g_assert_cmphex(info.initrd_start, <, info.dtb_addr);
    g_assert_cmphex(info.initrd_end, <=, info.dtb_addr);
    p = guest_mem_translate(mem, info.entry + 56, 4);
    g_assert_cmpmem(p, 4, "ARM\x64", 4);
    p = guest_mem_translate(mem, info.initrd_start, 12);
    g_assert_cmpmem(p, 12, "initrd-bytes", 12);
    g_unlink(kernel);
    g_unlink(initrd);
}

/* RAM too small for the kernel's image_size, then for kernel + tree. */
static void test_too_small(void)
{
    size_t len;
    g_autofree uint8_t *img = fake_image(&len);
    g_autofree char *kernel = NULL;
    g_autoptr(GuestMem) mem = NULL;
    Arm64BootConfig cfg = { 0 };
    Arm64BootInfo info;
    GError *err = NULL;

    put_le64(img + 16, 40 * MiB);
    kernel = write_temp(img, len);
    cfg.kernel = kernel;
    mem = guest_mem_new_at(32 * MiB, ARM64_RAM_BASE, &err);
    g_assert_no_error(err);
    g_assert_false(arm64_boot_load(mem, &cfg, &info, &err));
    g_assert_nonnull(strstr(err->message, "needs 40 MiB of RAM"));
    g_clear_error(&err);

    put_le64(img + 16, 31 * MiB);
    g_assert_true(g_file_set_contents(kernel, (char *)img, (gssize)len,
                                      NULL));
    g_assert_false(arm64_boot_load(mem, &cfg, &info, &err));
    g_assert_nonnull(strstr(err->message, "no room for the device tree"));
    g_clear_error(&err);
    g_unlink(kernel);
}

/* The stock Debian arm64 kernel passes the header checks. */
static void test_debian_kernel(void)
{
    const char *path = "build/guest-aarch64/Image";
    g_autofree char *data = NULL;
    GError *err = NULL;
    Arm64Image out;
    gsize len;

    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_test_skip("no arm64 test guest (tests/guest/build --arch aarch64)");
        return;
    }
    g_assert_true(g_file_get_contents(path, &data, &len, &err));
    g_assert_true(arm64_image_parse((uint8_t *)data, MIN(len, 64), len, &out,
                                    &err));
    g_assert_no_error(err);
    g_assert_cmpuint(out.image_size, >=, len);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/arm64-boot/parse", test_parse);
    g_test_add_func("/arm64-boot/layout", test_layout);
    g_test_add_func("/arm64-boot/too-small", test_too_small);
    g_test_add_func("/arm64-boot/debian-kernel", test_debian_kernel);
    return g_test_run();
}
