/*
 * Real KVM tests of the vCPU loop and the x86 boot path: tiny 64-bit
 * payloads (I/O, MMIO, HLT, triple fault, stop), and a boot of a real
 * Debian bzImage to its "VFS: Unable to mount root fs" panic with N vCPUs.
 * Skipped when /dev/kvm is unusable or the kernel is missing.
 */
#include <glib.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "machine/kvm/guest-mem.h"
#include "machine/kvm/iobus.h"
#include "machine/kvm/kvm.h"
#include "machine/kvm/vcpu.h"
#include "machine/kvm/run-end.h"
#include "machine/qom/error.h"
#include "machine/x86/boot.h"
#include "machine/x86/cpu.h"
#include "machine/x86/layout.h"

#define MiB (1024ULL * 1024)

static gint64 process_start_us;

/* ---- A minimal 8250 for the test console (the real one is machine/hw) */

typedef struct TestUart {
    GMutex lock;
    GString *out;
    uint8_t regs[8];        /* IER, LCR, MCR, SCR as written */
    uint64_t reads;
} TestUart;

static uint64_t uart_read(void *opaque, uint64_t off, unsigned size)
{
    TestUart *u = opaque;
    uint64_t v = 0;

    g_mutex_lock(&u->lock);
    u->reads++;
    switch (off) {
    case 2:     /* IIR: no interrupt pending, no FIFO */
        v = 0x01;
        break;
    case 5:     /* LSR: THR empty, transmitter empty */
        v = 0x60;
        break;
    case 6:     /* MSR: in loopback, mirror MCR (8250 autoconfig test) */
        if (u->regs[4] & 0x10) {
            uint8_t mcr = u->regs[4];
            v = (mcr & 0x08) << 4 | (mcr & 0x04) << 4 | (mcr & 0x01) << 5 |
                (mcr & 0x02) << 3;
        } else {
            v = 0xb0;   /* DCD, DSR, CTS */
        }
        break;
    case 1: case 3: case 4: case 7:
        v = u->regs[off];
        break;
    }
    g_mutex_unlock(&u->lock);
    return v;
}

static void uart_write(void *opaque, uint64_t off, uint64_t value,
                       unsigned size)
{
    TestUart *u = opaque;

    g_mutex_lock(&u->lock);
    if (off == 0 && !(u->regs[3] & 0x80)) {
        if (value != 0) {   /* keep the buffer a C string */
            g_string_append_c(u->out, (char)value);
        }
    } else if (off < 8) {
        u->regs[off] = (uint8_t)value;
    }
    g_mutex_unlock(&u->lock);
}

static bool uart_contains(TestUart *u, const char *needle)
{
    bool found;

    g_mutex_lock(&u->lock);
    found = strstr(u->out->str, needle) != NULL;
    g_mutex_unlock(&u->lock);
    return found;
}

/* Counts guest accesses to ports nothing else claims (for diagnostics). */
typedef struct PortStats {
    GMutex lock;
    GHashTable *counts;     /* port -> count */
} PortStats;

typedef struct StrayRegion {
    PortStats *stats;
    uint64_t base;
} StrayRegion;

static uint64_t stray_read(void *opaque, uint64_t off, unsigned size);
static void stray_write(void *opaque, uint64_t off, uint64_t value,
                        unsigned size);

/* ---- Fixture: VM + buses + memory ---- */

typedef struct TestVm {
    KvmVm *vm;
    GuestMem *mem;
    IoBus *pio;
    IoBus *mmio;
    RunEnd *exit;
    TestUart uart;
    PortStats stray;
    StrayRegion stray_regions[2];
    Vcpu *vcpus[8];
    unsigned nr_vcpus;
} TestVm;

static bool test_vm_init(TestVm *t, uint64_t ram, bool irqchip)
{
    g_autoptr(GError) err = NULL;

    memset(t, 0, sizeof(*t));
    t->vm = kvm_vm_new(NULL, &err);
    if (!t->vm) {
        g_autofree char *msg = g_strdup_printf("KVM unusable: %s",
                                               err->message);
        g_test_skip(msg);
        return false;
    }
    g_assert_true(kvm_vm_setup_x86(t->vm, X86_KVM_TSS_ADDR,
                                   X86_KVM_IDENTITY_MAP_ADDR, irqchip, &err));
    g_assert_no_error(err);
    t->mem = guest_mem_new(ram, X86_MMIO_HOLE_START, &err);
    g_assert_no_error(err);
    g_assert_true(guest_mem_register(t->mem, t->vm->vm_fd, 0, &err));
    g_assert_no_error(err);
    t->pio = iobus_new("pio");
    t->mmio = iobus_new("mmio");
    t->exit = run_end_new(&err);
    g_assert_no_error(err);
    g_mutex_init(&t->uart.lock);
    t->uart.out = g_string_new(NULL);
    g_assert_true(iobus_register(t->pio, X86_SERIAL0_PORT,
                                 X86_SERIAL0_PORT_COUNT, "test-uart",
                                 uart_read, uart_write, &t->uart, &err));
    g_assert_no_error(err);
    g_mutex_init(&t->stray.lock);
    t->stray.counts = g_hash_table_new(NULL, NULL);
    t->stray_regions[0] = (StrayRegion){ &t->stray, 0 };
    t->stray_regions[1] = (StrayRegion){ &t->stray, X86_SERIAL0_PORT + 8 };
    g_assert_true(iobus_register(t->pio, 0, X86_SERIAL0_PORT, "stray-low",
                                 stray_read, stray_write,
                                 &t->stray_regions[0], &err));
    g_assert_true(iobus_register(t->pio, X86_SERIAL0_PORT + 8,
                                 0x10000 - X86_SERIAL0_PORT - 8,
                                 "stray-high", stray_read, stray_write,
                                 &t->stray_regions[1], &err));
    g_assert_no_error(err);
    return true;
}

static void stray_count(PortStats *s, uint64_t port)
{
    gpointer key = GSIZE_TO_POINTER(port);

    g_mutex_lock(&s->lock);
    g_hash_table_insert(s->counts, key, GSIZE_TO_POINTER(
        GPOINTER_TO_SIZE(g_hash_table_lookup(s->counts, key)) + 1));
    g_mutex_unlock(&s->lock);
}

static uint64_t stray_read(void *opaque, uint64_t off, unsigned size)
{
    StrayRegion *r = opaque;

    stray_count(r->stats, r->base + off);
    return UINT64_MAX;
}

static void stray_write(void *opaque, uint64_t off, uint64_t value,
                        unsigned size)
{
    StrayRegion *r = opaque;

    stray_count(r->stats, r->base + off);
}

static void test_vm_destroy(TestVm *t)
{
    for (unsigned i = 0; i < t->nr_vcpus; i++) {
        vcpu_free(t->vcpus[i]);
    }
    iobus_free(t->pio);
    iobus_free(t->mmio);
    run_end_free(t->exit);
    kvm_vm_free(t->vm);
    guest_mem_free(t->mem);
    if (t->uart.out) {
        g_string_free(t->uart.out, TRUE);
        g_mutex_clear(&t->uart.lock);
        g_hash_table_unref(t->stray.counts);
        g_mutex_clear(&t->stray.lock);
    }
}

/* Number of this process's threads named "vcpu*".  (KVM may add its own
 * kernel workers, e.g. "kvm-nx-lpage-recovery", to the process.) */
static unsigned count_vcpu_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    unsigned n = 0;
    struct dirent *de;

    g_assert_nonnull(d);
    while ((de = readdir(d))) {
        g_autofree char *path = NULL;
        g_autofree char *comm = NULL;

        if (de->d_name[0] == '.') {
            continue;
        }
        path = g_strdup_printf("/proc/self/task/%s/comm", de->d_name);
        if (g_file_get_contents(path, &comm, NULL, NULL) &&
            g_str_has_prefix(comm, "vcpu")) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* vCPU thread count once exited threads are reaped: pthread_join returns
 * when the kernel clears the thread id, a moment before /proc forgets it. */
static unsigned settled_vcpu_threads(unsigned expected)
{
    unsigned n = count_vcpu_threads();

    for (int i = 0; i < 1000 && n != expected; i++) {
        g_usleep(1000);
        n = count_vcpu_threads();
    }
    return n;
}

/* Waits for the run-end eventfd up to timeout_ms; true if it fired. */
static bool wait_exit(TestVm *t, int timeout_ms)
{
    struct pollfd p = { .fd = run_end_fd(t->exit), .events = POLLIN };

    return poll(&p, 1, timeout_ms) == 1;
}

/* ---- Tiny 64-bit payloads ---- */

#define PAYLOAD_ADDR 0x100000ULL

/* One vCPU, no irqchip (so HLT exits to user space), in 64-bit mode at
 * PAYLOAD_ADDR with the boot page tables and GDT. */
static void run_payload(TestVm *t, const uint8_t *code, size_t len)
{
    g_autoptr(GError) err = NULL;
    g_autofree struct kvm_cpuid2 *sup = NULL;
    g_autofree struct kvm_cpuid2 *cpuid = NULL;
    X86BootInfo info = {
        .entry = PAYLOAD_ADDR,
        .stack = X86_BOOT_STACK_TOP,
        .cr3 = X86_BOOT_PML4_ADDR,
        .gdt = X86_BOOT_GDT_ADDR,
    };

    g_assert_true(x86_boot_write_tables(t->mem, &err));
    g_assert_true(guest_mem_write(t->mem, PAYLOAD_ADDR, code, len, &err));
    t->vcpus[0] = vcpu_new(t->vm, 0, t->pio, t->mmio, t->exit, &err);
    g_assert_no_error(err);
    t->nr_vcpus = 1;
    sup = x86_cpuid_supported(t->vm, &err);
    g_assert_no_error(err);
    cpuid = x86_cpuid_for_vcpu(sup, 0, 1);
    g_assert_cmpint(ioctl(vcpu_fd(t->vcpus[0]), KVM_SET_CPUID2, cpuid), ==,
                    0);
    g_assert_true(x86_cpu_set_boot_regs(vcpu_fd(t->vcpus[0]), &info, &err));
    g_assert_no_error(err);
    g_assert_true(vcpu_start(t->vcpus[0], &err));
    g_assert_no_error(err);
}

typedef struct MmioProbe {
    uint64_t last_write;
    uint64_t last_off;
    unsigned writes;
} MmioProbe;

static void probe_write(void *opaque, uint64_t off, uint64_t value,
                        unsigned size)
{
    MmioProbe *p = opaque;

    p->last_write = value;
    p->last_off = off;
    p->writes++;
}

static uint64_t probe_read(void *opaque, uint64_t off, unsigned size)
{
    return 0x1234567890abcdefULL;
}

static void test_payload_io_mmio_hlt(void)
{
    static const uint8_t code[] = {
        0xb0, 0x42,                         /* mov al, 0x42 */
        0x66, 0xba, 0xf8, 0x03,             /* mov dx, 0x3f8 */
        0xee,                               /* out dx, al */
        0x48, 0xbb, 0, 0, 0, 0xd0, 0, 0, 0, 0, /* mov rbx, 0xd0000000 */
        0x8b, 0x03,                         /* mov eax, [rbx] (unmapped) */
        0xee,                               /* out dx, al  (expect 0xff) */
        0xc7, 0x43, 0x04, 0x78, 0x56, 0x34, 0x12, /* mov [rbx+4], 0x12345678 */
        0x48, 0xbb, 0, 0, 0, 0xe0, 0, 0, 0, 0, /* mov rbx, 0xe0000000 */
        0xc7, 0x43, 0x08, 0xef, 0xbe, 0xad, 0xde, /* mov [rbx+8], 0xdeadbeef */
        0x8b, 0x03,                         /* mov eax, [rbx] (probe) */
        0xee,                               /* out dx, al  (expect 0xef) */
        0xf4,                               /* hlt */
    };
    g_autoptr(GError) err = NULL;
    g_autofree char *detail = NULL;
    MmioProbe probe = { 0 };
    TestVm t;

    if (!test_vm_init(&t, 4 * MiB, false)) {
        return;
    }
    g_assert_true(iobus_register(t.mmio, 0xe0000000, 0x1000, "probe",
                                 probe_read, probe_write, &probe, &err));
    run_payload(&t, code, sizeof(code));
    g_assert_true(wait_exit(&t, 5000));
    vcpu_join(t.vcpus[0]);
    g_assert_cmpint(run_end_get(t.exit, &detail), ==, RUN_END_HALT);
    g_assert_cmpuint(t.uart.out->len, ==, 3);
    g_assert_cmpint((uint8_t)t.uart.out->str[0], ==, 0x42);
    g_assert_cmpint((uint8_t)t.uart.out->str[1], ==, 0xff);
    g_assert_cmpint((uint8_t)t.uart.out->str[2], ==, 0xef);
    g_assert_cmpuint(probe.writes, ==, 1);
    g_assert_cmpuint(probe.last_off, ==, 8);
    g_assert_cmphex(probe.last_write, ==, 0xdeadbeef);
    /* The unmapped read and the unmapped write. */
    g_assert_cmpuint(iobus_unhandled_count(t.mmio), ==, 2);
    g_assert_cmpuint(vcpu_exit_count(t.vcpus[0]), >=, 7);
    test_vm_destroy(&t);
}

static void test_payload_triple_fault(void)
{
    static const uint8_t code[] = { 0x0f, 0x0b };   /* ud2, no IDT */
    g_autofree char *detail = NULL;
    TestVm t;

    if (!test_vm_init(&t, 4 * MiB, false)) {
        return;
    }
    run_payload(&t, code, sizeof(code));
    g_assert_true(wait_exit(&t, 5000));
    vcpu_join(t.vcpus[0]);
    g_assert_cmpint(run_end_get(t.exit, &detail), ==, RUN_END_CRASH);
    g_assert_nonnull(strstr(detail, "triple fault"));
    g_assert_nonnull(strstr(detail, "RIP="));
    /* Not the CR3/EFER values: on AMD, KVM re-initializes the VMCB on a
     * SHUTDOWN intercept, so the dump shows reset state there. */
    g_assert_nonnull(strstr(detail, "CR3="));
    test_vm_destroy(&t);
}

static void test_payload_stop(void)
{
    static const uint8_t code[] = {
        0xb0, 0x41, 0x66, 0xba, 0xf8, 0x03,  /* mov al,'A'; mov dx,0x3f8 */
        0xee,                                /* 1: out dx, al */
        0xeb, 0xfd,                          /* jmp 1b */
    };
    unsigned before = count_vcpu_threads();
    TestVm t;

    if (!test_vm_init(&t, 4 * MiB, false)) {
        return;
    }
    run_payload(&t, code, sizeof(code));
    g_assert_cmpuint(settled_vcpu_threads(before + 1), ==, before + 1);
    g_usleep(50 * 1000);
    vcpu_request_stop(t.vcpus[0]);
    vcpu_join(t.vcpus[0]);
    g_assert_true(vcpu_finished(t.vcpus[0]));
    g_assert_cmpuint(settled_vcpu_threads(before), ==, before);
    g_assert_cmpuint(t.uart.out->len, >, 0);
    g_assert_cmpint(run_end_get(t.exit, NULL), ==, RUN_END_NONE);

    /* A guest spinning without exits must be stoppable too. */
    test_vm_destroy(&t);
    static const uint8_t spin[] = { 0xeb, 0xfe };   /* jmp . */
    if (!test_vm_init(&t, 4 * MiB, false)) {
        return;
    }
    run_payload(&t, spin, sizeof(spin));
    g_usleep(20 * 1000);
    vcpu_request_stop(t.vcpus[0]);
    vcpu_join(t.vcpus[0]);
    g_assert_cmpuint(settled_vcpu_threads(before), ==, before);
    test_vm_destroy(&t);
}

/* A port write matched by an ioeventfd signals the eventfd in the kernel
 * and never reaches the I/O bus. */
static void test_payload_ioeventfd(void)
{
    static const uint8_t code[] = {
        0x66, 0xba, 0x10, 0x05,             /* mov dx, 0x510 */
        0xb0, 0x07, 0xee,                   /* mov al, 7; out dx, al */
        0xb0, 0x08, 0xee,                   /* mov al, 8; out dx, al */
        0xf4,                               /* hlt */
    };
    g_autoptr(GError) err = NULL;
    uint64_t count = 0;
    TestVm t;
    int efd;

    if (!test_vm_init(&t, 4 * MiB, false)) {
        return;
    }
    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g_assert_cmpint(efd, >=, 0);
    /* Only the value 7 matches. */
    g_assert_true(kvm_vm_ioeventfd(t.vm, efd, 0x510, 1, true, true, 7, false,
                                   &err));
    g_assert_no_error(err);
    run_payload(&t, code, sizeof(code));
    g_assert_true(wait_exit(&t, 5000));
    vcpu_join(t.vcpus[0]);
    g_assert_cmpint(read(efd, &count, sizeof(count)), ==, sizeof(count));
    g_assert_cmpuint(count, ==, 1);
    /* The unmatched write (8) went to the bus: stray port 0x510. */
    g_assert_cmpuint(GPOINTER_TO_SIZE(g_hash_table_lookup(
        t.stray.counts, GSIZE_TO_POINTER(0x510))), ==, 1);
    g_assert_true(kvm_vm_ioeventfd(t.vm, efd, 0x510, 1, true, true, 7, true,
                                   &err));
    g_assert_no_error(err);
    close(efd);
    test_vm_destroy(&t);
}

/* irqfd assign/deassign and KVM_IRQ_LINE on the in-kernel irqchip. */
static void test_irq_helpers(void)
{
    g_autoptr(GError) err = NULL;
    TestVm t;
    int efd, rfd;

    if (!test_vm_init(&t, 4 * MiB, true)) {
        return;
    }
    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    rfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g_assert_true(kvm_vm_irqfd(t.vm, efd, X86_VIRTIO_MMIO_FIRST_GSI, -1,
                               false, &err));
    g_assert_no_error(err);
    /* The same eventfd twice is refused (EBUSY), with the ioctl named. */
    g_assert_false(kvm_vm_irqfd(t.vm, efd, X86_VIRTIO_MMIO_FIRST_GSI, -1,
                                false, &err));
    g_assert_nonnull(strstr(err->message, "KVM_IRQFD"));
    g_clear_error(&err);
    g_assert_true(kvm_vm_irqfd(t.vm, efd, X86_VIRTIO_MMIO_FIRST_GSI, -1,
                               true, &err));
    /* Level-triggered with a resample fd. */
    g_assert_true(kvm_vm_irqfd(t.vm, efd, X86_VIRTIO_MMIO_FIRST_GSI + 1, rfd,
                               false, &err));
    g_assert_no_error(err);
    g_assert_true(kvm_vm_set_irq_line(t.vm, X86_SERIAL0_IRQ, true, &err));
    g_assert_true(kvm_vm_set_irq_line(t.vm, X86_SERIAL0_IRQ, false, &err));
    g_assert_no_error(err);
    test_vm_destroy(&t);
    close(efd);
    close(rfd);
}

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
        t.vcpus[i] = vcpu_new(t.vm, i, t.pio, t.mmio, t.exit, &err);
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
    if (run_end_get(t.exit, NULL) != RUN_END_NONE) {
        g_autofree char *detail = NULL;
        run_end_get(t.exit, &detail);
        g_printerr("run end: %s\n", detail ? detail : "");
    }
    g_test_message("%u vCPUs: 'Linux version' after %.1f ms (%.1f ms from "
                   "process start), 'Unable to mount root' after %.1f ms "
                   "(%.1f ms from process start)", nr_vcpus,
                   (t_version - t0) / 1000.0,
                   (t_version - process_start_us) / 1000.0,
                   (t_end - t0) / 1000.0,
                   (t_end - process_start_us) / 1000.0);
    g_assert_cmpint(run_end_get(t.exit, NULL), ==, RUN_END_NONE);
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
    g_test_add_func("/x86-boot/payload/io-mmio-hlt", test_payload_io_mmio_hlt);
    g_test_add_func("/x86-boot/payload/triple-fault",
                    test_payload_triple_fault);
    g_test_add_func("/x86-boot/payload/stop", test_payload_stop);
    g_test_add_func("/x86-boot/payload/ioeventfd", test_payload_ioeventfd);
    g_test_add_func("/x86-boot/irq-helpers", test_irq_helpers);
    g_test_add_func("/x86-boot/linux/1-vcpu", test_boot_linux_1);
    g_test_add_func("/x86-boot/linux/2-vcpus", test_boot_linux_2);
    return g_test_run();
}
