/* Guest RAM: region split around the MMIO hole, translate bounds, copy
 * helpers, and refusal of sizes no host can back.  Real mmap, real KVM
 * (slot registration is skipped when /dev/kvm is unusable). */
#include <glib.h>
#include <string.h>

#include "machine/kvm/guest-mem.h"
#include "machine/kvm/kvm.h"
#include "machine/qom/error.h"

#define MiB (1024ULL * 1024)
#define GiB (1024ULL * MiB)
#define HOLE (3 * GiB)

static void test_small_one_region(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GuestMem) m = guest_mem_new(16 * MiB, HOLE, &err);

    g_assert_no_error(err);
    g_assert_cmpuint(guest_mem_region_count(m), ==, 1);
    g_assert_cmphex(guest_mem_low_end(m), ==, 16 * MiB);
    g_assert_cmpuint(guest_mem_size(m), ==, 16 * MiB);
    /* The host mapping is 2 MiB-aligned (huge pages in KVM). */
    g_assert_cmphex((uintptr_t)guest_mem_region(m, 0)->host % (2 * MiB), ==,
                    0);
}

/* The split logic does not depend on where the hole is: a 64 MiB guest
 * with the hole at 32 MiB has the same shape as a 4 GiB one with the hole
 * at 3 GiB, and runs on any host. */
static void check_split(uint64_t ram, uint64_t hole)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GuestMem) m = guest_mem_new(ram, hole, &err);
    uint64_t high = ram - hole;
    const GuestMemRegion *lo, *hi;

    if (!m && g_error_matches(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID)) {
        g_test_skip(err->message);
        return;
    }
    g_assert_no_error(err);
    g_assert_cmpuint(guest_mem_region_count(m), ==, 2);
    lo = guest_mem_region(m, 0);
    hi = guest_mem_region(m, 1);
    g_assert_cmphex(lo->gpa, ==, 0);
    g_assert_cmphex(lo->size, ==, hole);
    g_assert_cmphex(hi->gpa, ==, 4 * GiB);
    g_assert_cmphex(hi->size, ==, high);
    g_assert_true(hi->host == lo->host + hole);
    g_assert_cmphex(guest_mem_low_end(m), ==, hole);

    /* Inside each region. */
    g_assert_true(guest_mem_translate(m, 0, 1) == lo->host);
    g_assert_true(guest_mem_translate(m, hole - 8, 8) == lo->host + hole - 8);
    g_assert_true(guest_mem_translate(m, 4 * GiB, 4096) == hi->host);
    g_assert_true(guest_mem_translate(m, 4 * GiB + high - 1, 1) ==
                  hi->host + high - 1);
    /* In the hole, across the hole, past the end. */
    g_assert_null(guest_mem_translate(m, hole, 1));
    g_assert_null(guest_mem_translate(m, 0xfee00000, 4));
    g_assert_null(guest_mem_translate(m, hole - 4, 8));
    g_assert_null(guest_mem_translate(m, hole - 1, 4 * GiB));
    g_assert_null(guest_mem_translate(m, 4 * GiB - 1, 2));
    g_assert_null(guest_mem_translate(m, 4 * GiB + high, 1));
    g_assert_null(guest_mem_translate(m, 4 * GiB + high - 1, 2));
    /* Whole regions are fine; one byte more is not. */
    g_assert_nonnull(guest_mem_translate(m, 0, hole));
    g_assert_null(guest_mem_translate(m, 0, hole + 1));
    g_assert_nonnull(guest_mem_translate(m, 4 * GiB, high));
    g_assert_null(guest_mem_translate(m, 4 * GiB, high + 1));
}

static void test_split_small(void)
{
    check_split(64 * MiB, 32 * MiB);
}

static void test_split_4g(void)
{
    check_split(4 * GiB, HOLE);     /* free until touched (NORESERVE) */
}

static void test_translate_overflow(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GuestMem) m = guest_mem_new(16 * MiB, HOLE, &err);

    g_assert_no_error(err);
    g_assert_null(guest_mem_translate(m, 0, 0));
    g_assert_null(guest_mem_translate(m, 1, UINT64_MAX));
    g_assert_null(guest_mem_translate(m, UINT64_MAX, 2));
    g_assert_null(guest_mem_translate(m, UINT64_MAX, 1));
    g_assert_null(guest_mem_translate(m, 0x1000, UINT64_MAX - 0x800));
    g_assert_null(guest_mem_translate(m, UINT64_MAX - 0xfff, 0x2000));
    g_assert_null(guest_mem_translate(m, 16 * MiB, 1));
    g_assert_nonnull(guest_mem_translate(m, 16 * MiB - 1, 1));
}

static void test_copy(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GuestMem) m = guest_mem_new(2 * MiB, HOLE, &err);
    char buf[6] = { 0 };

    g_assert_true(guest_mem_write(m, 0x1000, "hello", 6, &err));
    g_assert_no_error(err);
    g_assert_true(guest_mem_read(m, 0x1000, buf, 6, &err));
    g_assert_cmpstr(buf, ==, "hello");
    g_assert_false(guest_mem_write(m, 2 * MiB - 2, "hello", 6, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "0x1ffffe"));
    g_clear_error(&err);
    g_assert_false(guest_mem_read(m, UINT64_MAX, buf, 2, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
}

static void test_too_big(void)
{
    g_autoptr(GError) err = NULL;
    /* 64 TiB: more than any test host has. */
    GuestMem *m = guest_mem_new(64ULL << 40, HOLE, &err);

    g_assert_null(m);
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "exceeds this host's RAM + swap"));
    g_test_message("64 TiB: %s", err->message);
}

static void test_bad_size(void)
{
    g_autoptr(GError) err = NULL;

    g_assert_null(guest_mem_new(0, HOLE, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);
    g_assert_null(guest_mem_new(MiB + 1, HOLE, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
}

static void test_register_kvm(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(KvmVm) vm = kvm_vm_new(NULL, &err);
    g_autoptr(GuestMem) m = NULL;

    if (!vm) {
        g_test_skip(err->message);
        return;
    }
    m = guest_mem_new(64 * MiB, 32 * MiB, &err);
    g_assert_no_error(err);
    g_assert_true(guest_mem_register(m, vm->vm_fd, 0, &err));
    g_assert_no_error(err);
    /* Registering over the same slots again with other addresses fails:
     * KVM refuses to resize an existing slot. */
    g_autoptr(GuestMem) m2 = guest_mem_new(8 * MiB, HOLE, &err);
    g_assert_false(guest_mem_register(m2, vm->vm_fd, 0, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_KVM);
    g_assert_nonnull(strstr(err->message, "KVM_SET_USER_MEMORY_REGION"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/guest-mem/small", test_small_one_region);
    g_test_add_func("/guest-mem/split-small", test_split_small);
    g_test_add_func("/guest-mem/split-4g", test_split_4g);
    g_test_add_func("/guest-mem/translate-overflow", test_translate_overflow);
    g_test_add_func("/guest-mem/copy", test_copy);
    g_test_add_func("/guest-mem/too-big", test_too_big);
    g_test_add_func("/guest-mem/bad-size", test_bad_size);
    g_test_add_func("/guest-mem/register-kvm", test_register_kvm);
    return g_test_run();
}
