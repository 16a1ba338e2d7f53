/*
 * kvm-floor [FILE...]: the least a VMM does before its first KVM_RUN, as a
 * reference for tests/bench/boot.sh's exec-to-KVM_RUN measurement: the KVM
 * calls every x86 VMM makes (a VM with in-kernel irqchip and PIT, 256 MiB
 * of RAM, one vCPU with KVM's CPUID and a start address), each FILE read
 * into guest RAM (boot.sh passes the bzImage and initrd, what QEMU
 * copies), and one thread for the vCPU.  No spec, devices, firmware
 * tables, console or control socket.  The guest is one HLT; exit 0 when
 * the vCPU stops on it.  Built static (-static-pie) as build/vmspec is.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define RAM_SIZE   (256ul << 20)
#define LOAD_ADDR  (16ul << 20)     /* where the files go, one after another */
#define CODE_ADDR  0x1000ul

static int check(long rc, const char *what)
{
    if (rc < 0) {
        perror(what);
        exit(1);
    }
    return (int)rc;
}

static void *vcpu_thread(void *arg)
{
    int vcpu = *(int *)arg;

    check(ioctl(vcpu, KVM_RUN, 0), "KVM_RUN");
    return NULL;
}

int main(int argc, char **argv)
{
    struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) +
                                      128 * sizeof(cpuid->entries[0]));
    struct kvm_pit_config pit = { 0 };
    struct kvm_userspace_memory_region slot = { .memory_size = RAM_SIZE };
    struct kvm_regs regs = { .rip = CODE_ADDR, .rflags = 2 };
    struct kvm_sregs sregs;
    struct kvm_run *run;
    uint64_t at = LOAD_ADDR;
    pthread_t thread;
    int kvm, vm, vcpu, run_size;
    uint8_t *ram;

    if (!cpuid) {
        return 1;
    }
    cpuid->nent = 128;
    kvm = check(open("/dev/kvm", O_RDWR | O_CLOEXEC), "/dev/kvm");
    check(ioctl(kvm, KVM_GET_API_VERSION, 0), "KVM_GET_API_VERSION");
    run_size = check(ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), "mmap size");
    vm = check(ioctl(kvm, KVM_CREATE_VM, 0), "KVM_CREATE_VM");
    check(ioctl(vm, KVM_SET_TSS_ADDR, 0xfeffd000ul), "KVM_SET_TSS_ADDR");
    check(ioctl(vm, KVM_CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP");
    check(ioctl(vm, KVM_CREATE_PIT2, &pit), "KVM_CREATE_PIT2");
    ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    madvise(ram, RAM_SIZE, MADV_HUGEPAGE);
    for (int i = 1; i < argc; i++) {
        int fd = check(open(argv[i], O_RDONLY | O_CLOEXEC), argv[i]);
        struct stat st;

        check(fstat(fd, &st), argv[i]);
        if ((uint64_t)st.st_size > RAM_SIZE - at) {
            fprintf(stderr, "%s: too large\n", argv[i]);
            return 1;
        }
        if (pread(fd, ram + at, st.st_size, 0) != st.st_size) {
            fprintf(stderr, "%s: short read\n", argv[i]);
            return 1;
        }
        close(fd);
        at += (st.st_size + 4095) & ~4095ul;
    }
    ram[CODE_ADDR] = 0xf4;          /* hlt */
    slot.userspace_addr = (uintptr_t)ram;
    check(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot), "memory region");
    check(ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid), "supported CPUID");
    vcpu = check(ioctl(vm, KVM_CREATE_VCPU, 0), "KVM_CREATE_VCPU");
    run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) {
        perror("mmap kvm_run");
        return 1;
    }
    check(ioctl(vcpu, KVM_SET_CPUID2, cpuid), "KVM_SET_CPUID2");
    check(ioctl(vcpu, KVM_GET_SREGS, &sregs), "KVM_GET_SREGS");
    sregs.cs.base = 0;              /* real mode, CS:IP = 0:CODE_ADDR */
    sregs.cs.selector = 0;
    check(ioctl(vcpu, KVM_SET_SREGS, &sregs), "KVM_SET_SREGS");
    check(ioctl(vcpu, KVM_SET_REGS, &regs), "KVM_SET_REGS");
    if (pthread_create(&thread, NULL, vcpu_thread, &vcpu) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        return 1;
    }
    pthread_join(thread, NULL);
    return run->exit_reason == KVM_EXIT_HLT ? 0 : 1;
}
