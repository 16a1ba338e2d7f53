/*
 * vCPU threads and the KVM_RUN exit loop.  See vcpu.h for the stop
 * protocol.  Sections named are those of Documentation/virt/kvm/api.rst.
 */
#include "machine/kvm/vcpu.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "machine/kvm/vcpu-arch.h"
#include "machine/qom/error.h"

struct Vcpu {
    unsigned id;
    int fd;
    struct kvm_run *run;
    size_t run_size;
    IoBus *pio;
    IoBus *mmio;
    RunEnd *run_end;
    pthread_t thread;
    bool started;           /* owner thread only */
    bool joined;            /* owner thread only */
    int stop;               /* atomic */
    int finished;           /* atomic */
    uint64_t exits;         /* atomic */
};

Vcpu *vcpu_new(KvmVm *vm, unsigned id, IoBus *pio, IoBus *mmio,
               RunEnd *run_end, GError **errp)
{
    g_autoptr(Vcpu) v = g_new0(Vcpu, 1);
    void *run;

    v->id = id;
    v->pio = pio;
    v->mmio = mmio;
    v->run_end = run_end;
    /* api.rst 4.7 KVM_CREATE_VCPU: the id is the initial APIC id on x86. */
    v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
    if (v->fd < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_CREATE_VCPU %u: %s", id, g_strerror(errno));
        return NULL;
    }
    /* api.rst 4.10 KVM_RUN: the parameter block is the vCPU fd mapped at
     * offset 0 with the size from KVM_GET_VCPU_MMAP_SIZE. */
    run = mmap(NULL, vm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
               v->fd, 0);
    if (run == MAP_FAILED) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "mmap of vCPU %u kvm_run: %s", id, g_strerror(errno));
        return NULL;
    }
    v->run = run;
    v->run_size = vm->vcpu_mmap_size;
    return g_steal_pointer(&v);
}

int vcpu_fd(const Vcpu *v)
{
    return v->fd;
}

bool vcpu_finished(Vcpu *v)
{
    return __atomic_load_n(&v->finished, __ATOMIC_ACQUIRE);
}

uint64_t vcpu_exit_count(Vcpu *v)
{
    return __atomic_load_n(&v->exits, __ATOMIC_RELAXED);
}

/* ---- Register dump ---- */

char *vcpu_dump_regs(Vcpu *v)
{
    GString *s = g_string_new(NULL);

    g_string_append_printf(s, "vCPU %u registers:\n", v->id);
    vcpu_arch_dump_regs(v->fd, s);
    return g_string_free(s, FALSE);
}

/* ---- The exit loop ---- */

/* Ends the VM with reason, attaching a message and a register dump. */
static bool vcpu_crash(Vcpu *v, RunEndReason reason, const char *what)
{
    g_autofree char *regs = vcpu_dump_regs(v);
    g_autofree char *detail = g_strdup_printf("vCPU %u: %s\n%s", v->id,
                                              what, regs);

    run_end_request(v->run_end, reason, detail);
    return false;
}

static bool access_size_ok(uint32_t size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

/*
 * Handles the exit described by v->run.  Returns false when the vCPU
 * must stop (the VM is over; the reason went to v->run_end).
 */
static bool vcpu_handle_exit(Vcpu *v)
{
    struct kvm_run *run = v->run;
    g_autofree char *msg = NULL;

    switch (run->exit_reason) {
    case KVM_EXIT_IO: {
        /* api.rst 5. kvm_run, KVM_EXIT_IO: count accesses of size bytes
         * each (count > 1 for rep ins/outs) at data_offset in kvm_run. */
        uint8_t *data = (uint8_t *)run + run->io.data_offset;
        uint64_t len = (uint64_t)run->io.size * run->io.count;

        if (!v->pio) {
            return vcpu_crash(v, RUN_END_ERROR, "port I/O exit on a machine "
                              "without port I/O");
        }
        if (!access_size_ok(run->io.size) || run->io.data_offset > v->run_size
            || len > v->run_size - run->io.data_offset) {
            msg = g_strdup_printf("bad KVM_EXIT_IO size %u count %u",
                                  run->io.size, run->io.count);
            return vcpu_crash(v, RUN_END_ERROR, msg);
        }
        for (uint32_t i = 0; i < run->io.count; i++) {
            if (run->io.direction == KVM_EXIT_IO_OUT) {
                iobus_write(v->pio, run->io.port, data, run->io.size);
            } else {
                iobus_read(v->pio, run->io.port, data, run->io.size);
            }
            data += run->io.size;
        }
        return true;
    }
    case KVM_EXIT_MMIO:
        /* api.rst KVM_EXIT_MMIO: len <= 8 bytes in data[]. */
        if (!access_size_ok(run->mmio.len)) {
            if (!run->mmio.is_write) {
                memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
            }
            return true;
        }
        if (run->mmio.is_write) {
            iobus_write(v->mmio, run->mmio.phys_addr, run->mmio.data,
                        run->mmio.len);
        } else {
            iobus_read(v->mmio, run->mmio.phys_addr, run->mmio.data,
                       run->mmio.len);
        }
        return true;
    case KVM_EXIT_INTR:
        /* Kicked (see vcpu.h); the loop checks the stop flag. */
        return true;
    case KVM_EXIT_HLT:
        /* Only without an in-kernel LAPIC: nothing can wake the vCPU. */
        run_end_request(v->run_end, RUN_END_HALT, NULL);
        return false;
    case KVM_EXIT_SHUTDOWN:
        /* Triple fault (or an unrecoverable #MC, or INIT on AMD). */
        return vcpu_crash(v, RUN_END_CRASH, "triple fault (KVM_EXIT_SHUTDOWN)");
    case KVM_EXIT_FAIL_ENTRY:
        msg = g_strdup_printf("VM entry failed, hardware reason 0x%llx "
                              "on host CPU %u",
                              (unsigned long long)run->fail_entry
                                  .hardware_entry_failure_reason,
                              run->fail_entry.cpu);
        return vcpu_crash(v, RUN_END_CRASH, msg);
    case KVM_EXIT_INTERNAL_ERROR: {
        GString *s = g_string_new(NULL);

        g_string_append_printf(s, "KVM internal error, suberror %u",
                               run->internal.suberror);
        for (uint32_t i = 0; i < MIN(run->internal.ndata, 16u); i++) {
            g_string_append_printf(s, " %llx",
                (unsigned long long)run->internal.data[i]);
        }
        msg = g_string_free(s, FALSE);
        return vcpu_crash(v, RUN_END_CRASH, msg);
    }
    case KVM_EXIT_SYSTEM_EVENT:
        /* api.rst KVM_EXIT_SYSTEM_EVENT (PSCI on arm64, Hyper-V, ...). */
        switch (run->system_event.type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN:
            run_end_request(v->run_end, RUN_END_POWEROFF, NULL);
            return false;
        case KVM_SYSTEM_EVENT_RESET:
            run_end_request(v->run_end, RUN_END_RESET, NULL);
            return false;
        case KVM_SYSTEM_EVENT_CRASH:
            return vcpu_crash(v, RUN_END_PANIC, "guest crash system event");
        default:
            msg = g_strdup_printf("system event %u", run->system_event.type);
            return vcpu_crash(v, RUN_END_ERROR, msg);
        }
    default:
        msg = g_strdup_printf("unexpected KVM exit reason %u",
                              run->exit_reason);
        return vcpu_crash(v, RUN_END_ERROR, msg);
    }
}

/* Drops a kick that arrived while no stop was asked (none today; kept so
 * that a later pause/resume can reuse the loop). */
static void consume_kick(void)
{
    sigset_t set;
    struct timespec zero = { 0, 0 };

    sigemptyset(&set);
    sigaddset(&set, VCPU_KICK_SIGNAL);
    while (sigtimedwait(&set, NULL, &zero) > 0) {
    }
}

/* api.rst KVM_SET_SIGNAL_MASK: the mask in force during KVM_RUN, as
 * the kernel's sigset (8 bytes on x86_64 and arm64). */
static bool set_run_signal_mask(Vcpu *v)
{
    uint64_t bits = ~0ULL & ~(1ULL << (VCPU_KICK_SIGNAL - 1));
    union {
        struct kvm_signal_mask hdr;
        uint8_t raw[sizeof(struct kvm_signal_mask) + sizeof(uint64_t)];
    } mask;

    mask.hdr.len = sizeof(bits);
    memcpy(mask.hdr.sigset, &bits, sizeof(bits));
    return ioctl(v->fd, KVM_SET_SIGNAL_MASK, &mask) == 0;
}

static void *vcpu_thread(void *opaque)
{
    Vcpu *v = opaque;
    char name[16];

    g_snprintf(name, sizeof(name), "vcpu%u", v->id);
    prctl(PR_SET_NAME, name, 0, 0, 0);
    if (!set_run_signal_mask(v)) {
        g_autofree char *msg = g_strdup_printf("vCPU %u: KVM_SET_SIGNAL_MASK:"
                                               " %s", v->id,
                                               g_strerror(errno));
        run_end_request(v->run_end, RUN_END_ERROR, msg);
        goto out;
    }
    while (!__atomic_load_n(&v->stop, __ATOMIC_ACQUIRE)) {
        if (ioctl(v->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                if (!__atomic_load_n(&v->stop, __ATOMIC_ACQUIRE)) {
                    consume_kick();
                }
                continue;
            }
            g_autofree char *msg = g_strdup_printf("vCPU %u: KVM_RUN: %s",
                                                   v->id, g_strerror(errno));
            run_end_request(v->run_end, RUN_END_ERROR, msg);
            break;
        }
        __atomic_fetch_add(&v->exits, 1, __ATOMIC_RELAXED);
        if (!vcpu_handle_exit(v)) {
            break;
        }
    }
out:
    __atomic_store_n(&v->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* No-op: only the interruption of KVM_RUN matters (see vcpu.h). */
static void kick_handler(int sig)
{
}

bool vcpu_start(Vcpu *v, GError **errp)
{
    struct sigaction sa = { .sa_handler = kick_handler };
    pthread_attr_t attr;
    sigset_t all;
    int err;

    g_assert(!v->started);
    /* Same handler every time: idempotent, so no global "installed" flag.
     * No SA_RESTART: the point of the signal is to interrupt KVM_RUN. */
    sigemptyset(&sa.sa_mask);
    if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "sigaction: %s", g_strerror(errno));
        return false;
    }
    /* The thread starts with every signal blocked: process signals
     * (SIGINT, SIGTERM) go to the main thread.  Set in the attributes
     * (glibc 2.32), not by blocking them here around pthread_create(): two
     * system calls fewer per vCPU start. */
    sigfillset(&all);
    err = pthread_attr_init(&attr);
    if (!err) {
        err = pthread_attr_setsigmask_np(&attr, &all);
        if (!err) {
            err = pthread_create(&v->thread, &attr, vcpu_thread, v);
        }
        pthread_attr_destroy(&attr);
    }
    if (err) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot start vCPU %u thread: %s", v->id,
                    g_strerror(err));
        return false;
    }
    v->started = true;
    return true;
}

void vcpu_request_stop(Vcpu *v)
{
    __atomic_store_n(&v->stop, 1, __ATOMIC_RELEASE);
    /* api.rst kvm_run immediate_exit: "polled once when KVM_RUN starts;
     * if non-zero, KVM_RUN exits immediately, returning -EINTR". */
    __atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
    if (v->started && !v->joined && !vcpu_finished(v)) {
        pthread_kill(v->thread, VCPU_KICK_SIGNAL);
    }
}

void vcpu_join(Vcpu *v)
{
    if (v->started && !v->joined) {
        pthread_join(v->thread, NULL);
        v->joined = true;
    }
}

bool vcpu_restart(Vcpu *v, GError **errp)
{
    g_assert(v->started && v->joined);
    /* The thread left at the top of its loop, after completing any exit it
     * had taken, so the vCPU state is consistent to run again. */
    __atomic_store_n(&v->stop, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&v->finished, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_RELEASE);
    v->started = false;
    v->joined = false;
    return vcpu_start(v, errp);
}

void vcpu_free(Vcpu *v)
{
    if (!v) {
        return;
    }
    if (v->run) {
        vcpu_request_stop(v);
        vcpu_join(v);
        munmap(v->run, v->run_size);
    }
    if (v->fd >= 0) {
        close(v->fd);
    }
    g_free(v);
}
