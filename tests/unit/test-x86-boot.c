/*
 * A real Debian bzImage booted under KVM through the x86 boot path to its
 * "VFS: Unable to mount root fs" panic, with 1 and 2 vCPUs.  Skipped when
 * /dev/kvm is unusable (or too slow) or the kernel is missing.  The tiny
 * payload tests of the vCPU loop are in test-vcpu-payload.c.
 */
#include <stdlib.h>

#include "machine/qom/error.h"
#include "tests/unit/x86-test-vm.h"

static gint64 process_start_us;

/*
 * How long the guest takes to first-touch 4 MiB of RAM, in ms.  On real KVM
 * (and in the nested TCG sandbox) this is milliseconds; on shadow-paging
 * hosts such as kvm_pvm every guest page fault costs ~0.5 ms and the
 * kernel decompressor alone runs for minutes, so the boot tests skip.
 */
static double first_touch_ms(void)
{
    static const uint8_t code[] = {
        0x48, 0xbf, 0, 0, 0x40, 0, 0, 0, 0, 0,  /* mov rdi, 0x400000 */
        0x48, 0xb9, 0, 0, 0x08, 0, 0, 0, 0, 0,  /* mov rcx, 0x80000 */
        0x31, 0xc0, 0xf3, 0x48, 0xab,           /* xor eax,eax; rep stosq */
        0xf4,                                   /* hlt */
    };
    gint64 t0;
    double ms;
    TestVm t;

    if (!test_vm_init(&t, 16 * MiB, false)) {
        return -1;
    }
    t0 = g_get_monotonic_time();
    run_payload(&t, code, sizeof(code));
    g_assert_true(wait_exit(&t, 60000));
    ms = (g_get_monotonic_time() - t0) / 1000.0;
    test_vm_destroy(&t);
    return ms;
}

/*
 * A kvm_pvm /dev/kvm (pagetable-based, no hardware virtualization) runs
 * small payloads but stops an unmodified kernel with a KVM internal error.
 * tests/kvm-sandbox counts it as no KVM; so does this test, unless the
 * sandbox has already decided (VMSPEC_SANDBOX, set by tests/e2e/x86-boot.sh
 * through kvm-sandbox).
 */
static bool kvm_is_pvm_only(void)
{
    return !g_getenv("VMSPEC_SANDBOX") &&
           g_file_test("/sys/module/kvm_pvm", G_FILE_TEST_IS_DIR) &&
           !g_file_test("/sys/module/kvm_amd", G_FILE_TEST_IS_DIR) &&
           !g_file_test("/sys/module/kvm_intel", G_FILE_TEST_IS_DIR);
}

/* ---- MP table (Intel MP spec 1.4, 4.1 and 4.2), test-only ---- */

static uint8_t checksum(const uint8_t *p, size_t n)
{
    uint8_t sum = 0;

    for (size_t i = 0; i < n; i++) {
        sum += p[i];
    }
    return (uint8_t)-sum;
}

/* Writes an MP floating pointer + config table at addr (16-aligned) for
 * nr CPUs, one ISA bus, one IOAPIC with ISA IRQs 0-15 on pins 0-15. */
static void write_mptable(GuestMem *mem, uint64_t addr, unsigned nr)
{
    uint8_t buf[1024] = { 0 };
    uint8_t *mpf = buf, *cfg = buf + 16, *p = cfg + 44;
    uint16_t entries = 0, len;
    uint32_t u32;

    memcpy(mpf, "_MP_", 4);
    u32 = (uint32_t)(addr + 16);
    memcpy(mpf + 4, &u32, 4);
    mpf[8] = 1;             /* length in 16-byte units */
    mpf[9] = 4;             /* spec rev 1.4 */
    memcpy(cfg, "PCMP", 4);
    cfg[6] = 4;
    memcpy(cfg + 8, "VMSPEC  ", 8);
    memcpy(cfg + 16, "TEST        ", 12);
    u32 = (uint32_t)X86_LAPIC_ADDR;
    memcpy(cfg + 36, &u32, 4);
    for (unsigned i = 0; i < nr; i++, entries++) {
        p[0] = 0;           /* processor */
        p[1] = (uint8_t)i;  /* LAPIC id */
        p[2] = 0x14;        /* LAPIC version */
        p[3] = 1 | (i == 0 ? 2 : 0);    /* enabled, BSP */
        p += 20;
    }
    memcpy(p, "\x01\x00ISA   ", 8);      /* bus 0: ISA */
    p += 8;
    entries++;
    p[0] = 2;               /* IOAPIC */
    p[1] = (uint8_t)nr;
    p[2] = 0x11;
    p[3] = 1;
    u32 = (uint32_t)X86_IOAPIC_ADDR;
    memcpy(p + 4, &u32, 4);
    p += 8;
    entries++;
    for (unsigned irq = 0; irq < 16; irq++, entries++) {
        p[0] = 3;           /* I/O interrupt assignment, INT, conforming */
        p[4] = 0;           /* source bus */
        p[5] = (uint8_t)irq;
        p[6] = (uint8_t)nr; /* IOAPIC id */
        p[7] = (uint8_t)irq;
        p += 8;
    }
    len = (uint16_t)(p - cfg);
    memcpy(cfg + 4, &len, 2);
    memcpy(cfg + 34, &entries, 2);
    cfg[7] = checksum(cfg, len);
    mpf[10] = checksum(mpf, 16);
    g_assert_true(guest_mem_write(mem, addr, buf, 16 + len, NULL));
}

/* ---- Linux boot ---- */

static const char *guest_kernel(void)
{
    const char *k = g_getenv("VMSPEC_GUEST_KERNEL");

    return k ? k : "build/guest/vmlinuz";
}

static void boot_linux(unsigned nr_vcpus)
{
    static const char cmdline[] =
        "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=0 nokaslr "
        "i8042.noaux i8042.nokbd tsc=reliable no_timer_check";
    g_autoptr(GError) err = NULL;
    g_autofree struct kvm_cpuid2 *sup = NULL;
    const char *kernel = guest_kernel();
    unsigned before = count_vcpu_threads();
    X86BootConfig cfg = {
        .kernel = kernel,
        .cmdline = cmdline,
        .acpi_start = X86_ACPI_START,
        .acpi_size = X86_ACPI_SIZE,
    };
    X86BootInfo info;
    gint64 t0 = g_get_monotonic_time(), t_version = 0, t_end = 0;
    const char *tmo = g_getenv("VMSPEC_TEST_BOOT_TIMEOUT_MS");
    gint64 deadline = t0 + (tmo ? atoi(tmo) : 60000) * (gint64)1000;
    TestVm t;

    if (!g_file_test(kernel, G_FILE_TEST_EXISTS)) {
        g_test_skip("no guest kernel (build/guest/vmlinuz)");
        return;
    }
    if (kvm_is_pvm_only()) {
        g_test_skip("/dev/kvm is kvm_pvm, which cannot run an unmodified "
                    "kernel; tests/e2e/x86-boot.sh runs this in "
                    "tests/kvm-sandbox");
        return;
    }
    if (!g_getenv("VMSPEC_TEST_FORCE_BOOT")) {
        double ms = first_touch_ms();

        if (ms < 0) {
            return;     /* skipped: no KVM */
        }
        if (ms > 200) {
            g_autofree char *msg = g_strdup_printf(
                "KVM here needs %.0f ms to fault in 4 MiB of guest RAM "
                "(shadow paging?); a Linux boot would take minutes. "
                "Run in the KVM sandbox or set VMSPEC_TEST_FORCE_BOOT=1", ms);
            g_test_skip(msg);
            return;
        }
        g_test_message("guest first touch of 4 MiB: %.1f ms", ms);
    }
    if (!test_vm_init(&t, 512 * MiB, true)) {
        return;
    }
    g_assert_true(x86_boot_load(t.mem, &cfg, &info, &err));
    g_assert_no_error(err);
    write_mptable(t.mem, X86_EBDA_START, nr_vcpus);
    sup = x86_cpuid_supported(t.vm, &err);
    g_assert_no_error(err);
    for (unsigned i = 0; i < nr_vcpus; i++) {
        t.vcpus[i] = vcpu_new(t.vm, i, t.pio, t.mmio, t.run_end, &err);
        g_assert_no_error(err);
        t.nr_vcpus++;
        x86_cpu_setup(vcpu_fd(t.vcpus[i]), sup, i, nr_vcpus, &err);
        g_assert_no_error(err);
    }
    g_assert_true(x86_cpu_set_boot_regs(vcpu_fd(t.vcpus[0]), &info, &err));
    g_assert_no_error(err);
    for (unsigned i = 0; i < nr_vcpus; i++) {
        g_assert_true(vcpu_start(t.vcpus[i], &err));
        g_assert_no_error(err);
    }
    g_assert_cmpuint(settled_vcpu_threads(before + nr_vcpus), ==,
                     before + nr_vcpus);

    while (g_get_monotonic_time() < deadline) {
        if (!t_version && uart_contains(&t.uart, "Linux version")) {
            t_version = g_get_monotonic_time();
        }
        if (uart_contains(&t.uart, "Unable to mount root")) {
            t_end = g_get_monotonic_time();
            break;
        }
        if (wait_exit(&t, 2)) {
            break;
        }
    }
    for (unsigned i = 0; i < nr_vcpus; i++) {
        vcpu_request_stop(t.vcpus[i]);
    }
    for (unsigned i = 0; i < nr_vcpus; i++) {
        vcpu_join(t.vcpus[i]);
    }
    g_assert_cmpuint(settled_vcpu_threads(before), ==, before);

    if (g_test_verbose() || !t_end) {
        g_printerr("---- guest console ----\n%s\n----\n", t.uart.out->str);
        for (unsigned i = 0; i < nr_vcpus; i++) {
            g_autofree char *regs = vcpu_dump_regs(t.vcpus[i]);
            g_printerr("%s%" G_GUINT64_FORMAT " exits\n", regs,
                       vcpu_exit_count(t.vcpus[i]));
        }
        g_printerr("unhandled pio %" G_GUINT64_FORMAT " mmio %"
                   G_GUINT64_FORMAT "\n", iobus_unhandled_count(t.pio),
                   iobus_unhandled_count(t.mmio));
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, t.stray.counts);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            g_printerr("stray port 0x%zx: %zu accesses\n",
                       GPOINTER_TO_SIZE(k), GPOINTER_TO_SIZE(v));
        }
    }
    if (run_end_get(t.run_end, NULL) != RUN_END_NONE) {
        g_autofree char *detail = NULL;
        run_end_get(t.run_end, &detail);
        g_printerr("run end: %s\n", detail ? detail : "");
    }
    g_test_message("%u vCPUs: 'Linux version' after %.1f ms (%.1f ms from "
                   "process start), 'Unable to mount root' after %.1f ms "
                   "(%.1f ms from process start)", nr_vcpus,
                   (t_version - t0) / 1000.0,
                   (t_version - process_start_us) / 1000.0,
                   (t_end - t0) / 1000.0,
                   (t_end - process_start_us) / 1000.0);
    g_assert_cmpint(run_end_get(t.run_end, NULL), ==, RUN_END_NONE);
    g_assert_true(uart_contains(&t.uart, "Linux version"));
    g_assert_true(t_end != 0);
    if (nr_vcpus > 1) {
        g_autofree char *smp = g_strdup_printf("Brought up 1 node, %u CPUs",
                                               nr_vcpus);
        g_assert_true(uart_contains(&t.uart, smp));
    }
    test_vm_destroy(&t);
}

static void test_boot_linux_1(void)
{
    boot_linux(1);
}

static void test_boot_linux_2(void)
{
    boot_linux(2);
}

int main(int argc, char **argv)
{
    process_start_us = g_get_monotonic_time();
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/x86-boot/linux/1-vcpu", test_boot_linux_1);
    g_test_add_func("/x86-boot/linux/2-vcpus", test_boot_linux_2);
    return g_test_run();
}
