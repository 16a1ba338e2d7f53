/*
 * kvm-probe-aarch64: does KVM work here, on arm64?  A self-check for
 * `tests/kvm-sandbox --arch aarch64` (tests/e2e/sandbox-aarch64.sh builds it
 * with aarch64-linux-gnu-gcc -static and runs it there).
 *
 * It creates a VM with 64 KiB of RAM and one vCPU initialised for the
 * preferred target with PSCI 0.2 (KVM api.rst 4.82 KVM_ARM_VCPU_INIT,
 * 4.83 KVM_ARM_PREFERRED_TARGET), and runs a few instructions at EL1 with
 * the MMU off: a store to an address with no memory behind it, a load from
 * it, a store of the loaded value, then PSCI SYSTEM_OFF through HVC.  Each
 * access must come back as KVM_EXIT_MMIO (api.rst 5, "KVM_EXIT_MMIO") with
 * the right address, size and data, and the PSCI call as
 * KVM_EXIT_SYSTEM_EVENT / KVM_SYSTEM_EVENT_SHUTDOWN.
 *
 * Prints one "kvm-probe: ..." line per step and "kvm-probe: ok" at the end;
 * exits 0 when every step did what it should, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define RAM_BASE 0x40000000u    /* where QEMU virt puts RAM too */
#define RAM_SIZE 0x10000u
#define MMIO_ADDR 0x09000000u   /* below RAM, no memslot: an MMIO exit */
#define STORED 0x42u
#define LOADED UINT64_C(0x1122334455667788)

/* The guest program (Arm ARM, A64 encodings), loaded at RAM_BASE. */
static const uint32_t guest_code[] = {
    0xd2a12000, /* movz x0, #0x0900, lsl #16    x0 = MMIO_ADDR      */
    0xd2800841, /* movz x1, #0x42                                   */
    0xf9000001, /* str  x1, [x0]                exit 1: write 0x42  */
    0xf9400002, /* ldr  x2, [x0]                exit 2: read        */
    0xf9000402, /* str  x2, [x0, #8]            exit 3: write back  */
    0xd2800100, /* movz x0, #0x0008                                 */
    0xf2b08000, /* movk x0, #0x8400, lsl #16    PSCI SYSTEM_OFF     */
    0xd4000002, /* hvc  #0                      exit 4: shutdown    */
    0x14000000, /* b    .                                           */
};

static int failures;

static void fail(const char *what)
{
    printf("kvm-probe: FAIL %s\n", what);
    failures++;
}

static int run_vcpu(int vcpu, struct kvm_run *run, unsigned want_reason)
{
    if (ioctl(vcpu, KVM_RUN, 0) < 0) {
        printf("kvm-probe: FAIL KVM_RUN: %s\n", strerror(errno));
        failures++;
        return -1;
    }
    if (run->exit_reason != want_reason) {
        printf("kvm-probe: FAIL exit reason %u, wanted %u\n",
               run->exit_reason, want_reason);
        failures++;
        return -1;
    }
    return 0;
}

/* One MMIO exit: checks it, answers a read with LOADED. */
static void expect_mmio(int vcpu, struct kvm_run *run, uint64_t addr,
                        int is_write, uint64_t data)
{
    uint64_t got = 0;

    if (run_vcpu(vcpu, run, KVM_EXIT_MMIO) < 0) {
        return;
    }
    if (run->mmio.len != 8) {
        fail("MMIO access size");
        return;
    }
    if (is_write) {
        memcpy(&got, run->mmio.data, sizeof(got));
    } else {
        memcpy(run->mmio.data, &data, sizeof(data));
    }
    printf("kvm-probe: mmio %s addr=0x%" PRIx64 " len=%u data=0x%" PRIx64
           "\n", run->mmio.is_write ? "write" : "read",
           (uint64_t)run->mmio.phys_addr, run->mmio.len,
           is_write ? got : data);
    if (run->mmio.phys_addr != addr || !run->mmio.is_write != !is_write ||
        (is_write && got != data)) {
        fail("MMIO exit contents");
    }
}

static int set_pc(int vcpu, uint64_t pc)
{
    struct kvm_one_reg reg = {
        .id = KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |
              (offsetof(struct kvm_regs, regs.pc) / sizeof(uint32_t)),
        .addr = (uintptr_t)&pc,
    };
    return ioctl(vcpu, KVM_SET_ONE_REG, &reg);
}

int main(void)
{
    struct kvm_vcpu_init init;
    struct kvm_run *run;
    void *ram;
    int kvm, vm, vcpu, run_size;

    alarm(60);  /* a stuck KVM_RUN must not hang the test */
    setvbuf(stdout, NULL, _IOLBF, 0);
    kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        printf("kvm-probe: FAIL open /dev/kvm: %s\n", strerror(errno));
        return 1;
    }
    printf("kvm-probe: api version %d\n", ioctl(kvm, KVM_GET_API_VERSION, 0));
    vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) {
        printf("kvm-probe: FAIL KVM_CREATE_VM: %s\n", strerror(errno));
        return 1;
    }

    ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ram == MAP_FAILED) {
        perror("kvm-probe: mmap");
        return 1;
    }
    memcpy(ram, guest_code, sizeof(guest_code));
    struct kvm_userspace_memory_region region = {
        .slot = 0,
        .guest_phys_addr = RAM_BASE,
        .memory_size = RAM_SIZE,
        .userspace_addr = (uintptr_t)ram,
    };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
        printf("kvm-probe: FAIL KVM_SET_USER_MEMORY_REGION: %s\n",
               strerror(errno));
        return 1;
    }

    vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vcpu < 0 || run_size < (int)sizeof(*run)) {
        printf("kvm-probe: FAIL KVM_CREATE_VCPU: %s\n", strerror(errno));
        return 1;
    }
    run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) {
        perror("kvm-probe: mmap kvm_run");
        return 1;
    }

    memset(&init, 0, sizeof(init));
    if (ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init) < 0) {
        printf("kvm-probe: FAIL KVM_ARM_PREFERRED_TARGET: %s\n",
               strerror(errno));
        return 1;
    }
    printf("kvm-probe: preferred target %u\n", init.target);
    init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
    if (ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) < 0) {
        printf("kvm-probe: FAIL KVM_ARM_VCPU_INIT: %s\n", strerror(errno));
        return 1;
    }
    if (set_pc(vcpu, RAM_BASE) < 0) {
        printf("kvm-probe: FAIL set PC: %s\n", strerror(errno));
        return 1;
    }

    expect_mmio(vcpu, run, MMIO_ADDR, 1, STORED);
    if (!failures) {
        expect_mmio(vcpu, run, MMIO_ADDR, 0, LOADED);
    }
    if (!failures) {
        expect_mmio(vcpu, run, MMIO_ADDR + 8, 1, LOADED);
    }
    if (!failures && run_vcpu(vcpu, run, KVM_EXIT_SYSTEM_EVENT) == 0) {
        printf("kvm-probe: system event type=%u\n", run->system_event.type);
        if (run->system_event.type != KVM_SYSTEM_EVENT_SHUTDOWN) {
            fail("PSCI SYSTEM_OFF is not a shutdown event");
        }
    }
    if (failures) {
        return 1;
    }
    printf("kvm-probe: ok\n");
    return 0;
}
