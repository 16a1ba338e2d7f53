/*
 * Real KVM tests of the vCPU loop: tiny 64-bit payloads entered with the
 * boot page tables and GDT (port I/O, MMIO, HLT, a triple fault, a stop
 * request, an ioeventfd), and the irqfd / IRQ line helpers.  Skipped when
 * /dev/kvm is unusable.  Test paths keep their /x86-boot/ prefix.
 */
#include <sys/eventfd.h>
#include <unistd.h>

#include "machine/qom/error.h"
#include "tests/unit/x86-test-vm.h"

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
    g_assert_cmpint(run_end_get(t.run_end, &detail), ==, RUN_END_HALT);
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
    g_assert_cmpint(run_end_get(t.run_end, &detail), ==, RUN_END_CRASH);
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
    g_assert_cmpint(run_end_get(t.run_end, NULL), ==, RUN_END_NONE);

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

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/x86-boot/payload/io-mmio-hlt", test_payload_io_mmio_hlt);
    g_test_add_func("/x86-boot/payload/triple-fault",
                    test_payload_triple_fault);
    g_test_add_func("/x86-boot/payload/stop", test_payload_stop);
    g_test_add_func("/x86-boot/payload/ioeventfd", test_payload_ioeventfd);
    g_test_add_func("/x86-boot/irq-helpers", test_irq_helpers);
    return g_test_run();
}
