/*
 * Shared by the real-KVM x86 tests (test-vcpu-payload.c, tiny 64-bit
 * payloads; test-x86-boot.c, a real Linux boot): a VM with guest RAM, the
 * port and MMIO buses, a run end, a minimal 8250 that collects the
 * console, and a counter of accesses to ports nothing claims.  Tests skip
 * when /dev/kvm is unusable.
 */
#ifndef VMSPEC_TESTS_X86_TEST_VM_H
#define VMSPEC_TESTS_X86_TEST_VM_H

#include <glib.h>
#include <dirent.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "machine/kvm/guest-mem.h"
#include "machine/kvm/iobus.h"
#include "machine/kvm/kvm.h"
#include "machine/kvm/run-end.h"
#include "machine/kvm/vcpu.h"
#include "machine/x86/boot.h"
#include "machine/x86/cpu.h"
#include "machine/x86/layout.h"

#define MiB (1024ULL * 1024)

/* ---- A minimal 8250 for the test console (the real one is machine/hw) */

typedef struct TestUart {
    GMutex lock;
    GString *out;
    uint8_t regs[8];        /* IER, LCR, MCR, SCR as written */
    uint64_t reads;
} TestUart;

static inline uint64_t uart_read(void *opaque, uint64_t off, unsigned size)
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

static inline void uart_write(void *opaque, uint64_t off, uint64_t value,
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

static inline bool uart_contains(TestUart *u, const char *needle)
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

static inline uint64_t stray_read(void *opaque, uint64_t off, unsigned size);
static inline void stray_write(void *opaque, uint64_t off, uint64_t value,
                               unsigned size);

/* ---- Fixture: VM + buses + memory ---- */

typedef struct TestVm {
    KvmVm *vm;
    GuestMem *mem;
    IoBus *pio;
    IoBus *mmio;
    RunEnd *run_end;
    TestUart uart;
    PortStats stray;
    StrayRegion stray_regions[2];
    Vcpu *vcpus[8];
    unsigned nr_vcpus;
} TestVm;

static inline bool test_vm_init(TestVm *t, uint64_t ram, bool irqchip)
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
    t->run_end = run_end_new(&err);
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

static inline void stray_count(PortStats *s, uint64_t port)
{
    gpointer key = GSIZE_TO_POINTER(port);

    g_mutex_lock(&s->lock);
    g_hash_table_insert(s->counts, key, GSIZE_TO_POINTER(
        GPOINTER_TO_SIZE(g_hash_table_lookup(s->counts, key)) + 1));
    g_mutex_unlock(&s->lock);
}

static inline uint64_t stray_read(void *opaque, uint64_t off, unsigned size)
{
    StrayRegion *r = opaque;

    stray_count(r->stats, r->base + off);
    return UINT64_MAX;
}

static inline void stray_write(void *opaque, uint64_t off, uint64_t value,
                               unsigned size)
{
    StrayRegion *r = opaque;

    stray_count(r->stats, r->base + off);
}

static inline void test_vm_destroy(TestVm *t)
{
    for (unsigned i = 0; i < t->nr_vcpus; i++) {
        vcpu_free(t->vcpus[i]);
    }
    iobus_free(t->pio);
    iobus_free(t->mmio);
    run_end_free(t->run_end);
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
static inline unsigned count_vcpu_threads(void)
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
static inline unsigned settled_vcpu_threads(unsigned expected)
{
    unsigned n = count_vcpu_threads();

    for (int i = 0; i < 1000 && n != expected; i++) {
        g_usleep(1000);
        n = count_vcpu_threads();
    }
    return n;
}

/* Waits for the run-end eventfd up to timeout_ms; true if it fired. */
static inline bool wait_exit(TestVm *t, int timeout_ms)
{
    struct pollfd p = { .fd = run_end_fd(t->run_end), .events = POLLIN };

    return poll(&p, 1, timeout_ms) == 1;
}

/* ---- Tiny 64-bit payloads ---- */

#define PAYLOAD_ADDR 0x100000ULL

/* One vCPU, no irqchip (so HLT exits to user space), in 64-bit mode at
 * PAYLOAD_ADDR with the boot page tables and GDT. */
static inline void run_payload(TestVm *t, const uint8_t *code, size_t len)
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
    t->vcpus[0] = vcpu_new(t->vm, 0, t->pio, t->mmio, t->run_end, &err);
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

#endif
