/*
 * Per-vCPU x86 state.  CPUID leaves: Intel SDM Vol. 2A "CPUID", AMD APM
 * Vol. 3 appendix E; KVM ioctls: Documentation/virt/kvm/api.rst.
 */
#include "machine/x86/cpu.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "machine/kvm/vcpu-arch.h"
#include "machine/qom/error.h"

#define CPUID_INITIAL_ENTRIES   128
#define CPUID_MAX_ENTRIES       4096

/* Leaf 1 bits. */
#define CPUID_1_ECX_HYPERVISOR  (1U << 31)
#define CPUID_1_EDX_HTT         (1U << 28)
#define CPUID_1_ECX_XSAVE       (1U << 26)

/* MSRs (Intel SDM Vol. 4). */
#define MSR_IA32_TSC            0x10
#define MSR_IA32_SYSENTER_CS    0x174
#define MSR_IA32_SYSENTER_ESP   0x175
#define MSR_IA32_SYSENTER_EIP   0x176
#define MSR_IA32_MISC_ENABLE    0x1a0
#define MSR_MTRR_DEF_TYPE       0x2ff
#define MSR_STAR                0xc0000081
#define MSR_LSTAR               0xc0000082
#define MSR_CSTAR               0xc0000083
#define MSR_SYSCALL_MASK        0xc0000084
#define MSR_KERNEL_GS_BASE      0xc0000102

#define MISC_ENABLE_FAST_STRING (1ULL << 0)
#define MTRR_ENABLE             (1ULL << 11)
#define MTRR_TYPE_WRBACK        6

/* XCR0 state components (SDM Vol. 1, 13.1). */
#define XCR0_X87                (1ULL << 0)
#define XCR0_SSE                (1ULL << 1)
#define XCR0_AVX                (1ULL << 2)
#define XCR0_AVX512             (7ULL << 5)   /* opmask, ZMM_Hi256, Hi16 */

/* LAPIC registers (SDM Vol. 3A, 10.5.1): LVT LINT0/LINT1, delivery mode
 * in bits 10:8. */
#define APIC_LVT_LINT0          0x350
#define APIC_LVT_LINT1          0x360
#define APIC_MODE_NMI           (4U << 8)
#define APIC_MODE_EXTINT        (7U << 8)
#define APIC_MODE_MASK          (7U << 8)

struct kvm_cpuid2 *x86_cpuid_supported(KvmVm *vm, GError **errp)
{
    int err;

    for (unsigned n = CPUID_INITIAL_ENTRIES; n <= CPUID_MAX_ENTRIES; n *= 2) {
        struct kvm_cpuid2 *c = g_malloc0(sizeof(*c) +
                                         n * sizeof(c->entries[0]));

        c->nent = n;
        /* api.rst KVM_GET_SUPPORTED_CPUID: E2BIG when nent is too small. */
        if (ioctl(vm->sys_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
            return c;
        }
        err = errno;
        g_free(c);
        if (err != E2BIG) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                        "KVM_GET_SUPPORTED_CPUID: %s%s", g_strerror(err),
                        KVM_LACKS(err, "KVM_CAP_EXT_CPUID"));
            return NULL;
        }
    }
    g_set_error_literal(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                        "KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
    return NULL;
}

static struct kvm_cpuid_entry2 *find_leaf(struct kvm_cpuid2 *c,
                                          uint32_t function, uint32_t index)
{
    for (uint32_t i = 0; i < c->nent; i++) {
        if (c->entries[i].function == function &&
            c->entries[i].index == index) {
            return &c->entries[i];
        }
    }
    return NULL;
}

/* Bits needed to number n things (0 for n <= 1). */
static unsigned id_bits(unsigned n)
{
    unsigned bits = 0;

    while ((1U << bits) < n) {
        bits++;
    }
    return bits;
}

/* Drops every subleaf of function, then appends the three levels of an
 * extended topology leaf (0xB or 0x1F): SMT (1 thread per core), core
 * (nr cores), invalid terminator.  c has room (allocated by the caller). */
static void set_topology_leaf(struct kvm_cpuid2 *c, uint32_t function,
                              unsigned apic_id, unsigned nr)
{
    uint32_t out = 0;

    for (uint32_t i = 0; i < c->nent; i++) {
        if (c->entries[i].function != function) {
            c->entries[out++] = c->entries[i];
        }
    }
    c->nent = out;
    /* EAX[4:0]: shift to the next level's id; EBX: logical processors at
     * this level; ECX[15:8]: level type (1 SMT, 2 core, 0 invalid),
     * ECX[7:0]: level number; EDX: x2APIC id. */
    const uint32_t eax[3] = { 0, id_bits(nr), 0 };
    const uint32_t ebx[3] = { 1, nr, 0 };
    const uint32_t ecx[3] = { 0 | 1 << 8, 1 | 2 << 8, 2 };
    for (uint32_t i = 0; i < 3; i++) {
        c->entries[c->nent++] = (struct kvm_cpuid_entry2){
            .function = function,
            .index = i,
            .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
            .eax = eax[i], .ebx = ebx[i], .ecx = ecx[i], .edx = apic_id,
        };
    }
}

struct kvm_cpuid2 *x86_cpuid_for_vcpu(const struct kvm_cpuid2 *supported,
                                      unsigned index, unsigned nr_vcpus)
{
    size_t size = sizeof(*supported) +
                  (supported->nent + 6) * sizeof(supported->entries[0]);
    struct kvm_cpuid2 *c = g_malloc0(size);
    unsigned apic_id = index;
    unsigned pow2 = 1U << id_bits(nr_vcpus);
    struct kvm_cpuid_entry2 *e;
    uint32_t max_basic = 0;

    memcpy(c, supported, sizeof(*supported) +
           supported->nent * sizeof(supported->entries[0]));
    e = find_leaf(c, 0, 0);
    if (e) {
        max_basic = e->eax;
    }

    e = find_leaf(c, 1, 0);
    if (e) {
        /* EBX[31:24] initial APIC id; EBX[23:16] addressable logical
         * processor ids in the package (valid when HTT). */
        e->ebx = (e->ebx & 0x0000ffff) | (apic_id << 24) |
                 ((pow2 & 0xff) << 16);
        e->ecx |= CPUID_1_ECX_HYPERVISOR;
        if (nr_vcpus > 1) {
            e->edx |= CPUID_1_EDX_HTT;
        } else {
            e->edx &= ~CPUID_1_EDX_HTT;
        }
    }

    /* Leaf 4 (Intel deterministic cache parameters): EAX[31:26] cores per
     * package - 1; EAX[25:14] logical processors sharing the cache - 1
     * (all cores share the L3, nothing else is shared). */
    for (uint32_t i = 0; i < c->nent; i++) {
        e = &c->entries[i];
        if (e->function != 4 || (e->eax & 0x1f) == 0) {
            continue;
        }
        uint32_t level = (e->eax >> 5) & 7;
        uint32_t sharing = level >= 3 ? pow2 - 1 : 0;
        e->eax = (e->eax & 0x3fff) | ((pow2 - 1) << 26) |
                 ((sharing & 0xfff) << 14);
    }

    if (max_basic >= 0xb) {
        set_topology_leaf(c, 0xb, apic_id, nr_vcpus);
    }
    if (max_basic >= 0x1f) {
        set_topology_leaf(c, 0x1f, apic_id, nr_vcpus);
    }

    /* AMD: 0x80000008 ECX[7:0] cores - 1, ECX[15:12] APIC id bits for the
     * core; 0x8000001E extended APIC id / core id (topology extension). */
    e = find_leaf(c, 0x80000008, 0);
    if (e) {
        e->ecx = (e->ecx & ~0xf0ffU) | ((nr_vcpus - 1) & 0xff) |
                 (id_bits(nr_vcpus) << 12);
    }
    e = find_leaf(c, 0x8000001e, 0);
    if (e) {
        e->eax = apic_id;
        e->ebx = apic_id & 0xff;        /* core id; 1 thread per core */
        e->ecx = 0;                     /* node 0, 1 node per package */
    }
    return c;
}

/*
 * The MSR state firmware leaves behind and that Linux reads (as kvmtool
 * and Firecracker set it):
 *  - IA32_MISC_ENABLE.FAST_STRING: rep movs/stos fast strings enabled (a
 *    BIOS sets it; Linux keys X86_FEATURE_REP_GOOD / ERMS use off it);
 *  - MTRRdefType = enabled, default write-back: without it Linux sees
 *    MTRRs off, treats all RAM as uncacheable in its PAT/MTRR checks and
 *    warns; KVM honours guest MTRRs when a device does non-coherent DMA;
 *  - TSC = 0 on every vCPU at once: KVM then keeps the TSCs synchronised
 *    (writes within a second are matched), so the guest keeps the TSC as
 *    a stable clocksource instead of marking it unstable;
 *  - SYSENTER/SYSCALL MSRs zero: a defined state (KVM's reset value, made
 *    explicit so that a reused vCPU starts the same way).
 */
static bool set_boot_msrs(int fd, GError **errp)
{
    static const struct { uint32_t index; uint64_t data; } msrs[] = {
        { MSR_IA32_SYSENTER_CS, 0 },
        { MSR_IA32_SYSENTER_ESP, 0 },
        { MSR_IA32_SYSENTER_EIP, 0 },
        { MSR_STAR, 0 },
        { MSR_CSTAR, 0 },
        { MSR_KERNEL_GS_BASE, 0 },
        { MSR_SYSCALL_MASK, 0 },
        { MSR_LSTAR, 0 },
        { MSR_IA32_TSC, 0 },
        { MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
        { MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WRBACK },
    };
    const uint32_t n = G_N_ELEMENTS(msrs);
    g_autofree struct kvm_msrs *m =
        g_malloc0(sizeof(*m) + n * sizeof(m->entries[0]));
    int ret;

    m->nmsrs = n;
    for (uint32_t i = 0; i < n; i++) {
        m->entries[i].index = msrs[i].index;
        m->entries[i].data = msrs[i].data;
    }
    /* api.rst KVM_SET_MSRS: returns the number of MSRs set; it stops at
     * the first one KVM refuses. */
    ret = ioctl(fd, KVM_SET_MSRS, m);
    if (ret != (int)n) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_SET_MSRS: %s",
                    ret < 0 ? g_strerror(errno) : "MSR refused");
        if (ret >= 0 && (uint32_t)ret < n) {
            g_prefix_error(errp, "MSR 0x%x: ", msrs[ret].index);
        }
        return false;
    }
    return true;
}

/* x87 FCW 0x37f (all exceptions masked, 64-bit precision) and MXCSR
 * 0x1f80: the FNINIT / power-on values (SDM Vol. 1, 8.1.5 and 10.2.3). */
static bool set_fpu(int fd, GError **errp)
{
    struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

    if (ioctl(fd, KVM_SET_FPU, &fpu) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM, "KVM_SET_FPU: %s",
                    g_strerror(errno));
        return false;
    }
    return true;
}

/* XCR0 = x87 | SSE | AVX (| AVX-512) as far as CPUID 0xD.0 allows. */
static bool set_xcr0(int fd, const struct kvm_cpuid2 *cpuid, GError **errp)
{
    const struct kvm_cpuid_entry2 *leaf1 =
        find_leaf((struct kvm_cpuid2 *)cpuid, 1, 0);
    const struct kvm_cpuid_entry2 *e =
        find_leaf((struct kvm_cpuid2 *)cpuid, 0xd, 0);
    struct kvm_xcrs xcrs = { .nr_xcrs = 1 };
    uint64_t supported, xcr0;

    if (!e || !leaf1 || !(leaf1->ecx & CPUID_1_ECX_XSAVE)) {
        return true;    /* no XSAVE: XCR0 does not exist */
    }
    supported = e->eax | (uint64_t)e->edx << 32;
    xcr0 = supported & (XCR0_X87 | XCR0_SSE | XCR0_AVX | XCR0_AVX512);
    if ((xcr0 & XCR0_AVX512) != XCR0_AVX512 || !(xcr0 & XCR0_AVX)) {
        xcr0 &= ~XCR0_AVX512;
    }
    if (!(xcr0 & XCR0_SSE)) {
        xcr0 &= ~XCR0_AVX;
    }
    xcrs.xcrs[0].xcr = 0;
    xcrs.xcrs[0].value = xcr0 | XCR0_X87;
    if (ioctl(fd, KVM_SET_XCRS, &xcrs) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_SET_XCRS: %s", g_strerror(errno));
        return false;
    }
    return true;
}

static void lapic_set_mode(struct kvm_lapic_state *s, unsigned reg,
                           uint32_t mode)
{
    uint32_t v;

    memcpy(&v, &s->regs[reg], sizeof(v));
    v = (v & ~APIC_MODE_MASK) | mode;
    memcpy(&s->regs[reg], &v, sizeof(v));
}

/* Virtual-wire mode as a BIOS leaves it (MP spec 1.4, 3.6.2.2): LINT0
 * takes the PIC's ExtINT, LINT1 is NMI. */
static bool set_lapic(int fd, GError **errp)
{
    struct kvm_lapic_state s;

    if (ioctl(fd, KVM_GET_LAPIC, &s) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_GET_LAPIC: %s", g_strerror(errno));
        return false;
    }
    lapic_set_mode(&s, APIC_LVT_LINT0, APIC_MODE_EXTINT);
    lapic_set_mode(&s, APIC_LVT_LINT1, APIC_MODE_NMI);
    if (ioctl(fd, KVM_SET_LAPIC, &s) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_SET_LAPIC: %s", g_strerror(errno));
        return false;
    }
    return true;
}

bool x86_cpu_setup(int vcpu_fd, const struct kvm_cpuid2 *supported,
                   unsigned index, unsigned nr_vcpus, GError **errp)
{
    g_autofree struct kvm_cpuid2 *cpuid =
        x86_cpuid_for_vcpu(supported, index, nr_vcpus);

    /* api.rst KVM_SET_CPUID2: before the first KVM_RUN. */
    if (ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_SET_CPUID2 (vCPU %u): %s", index,
                    g_strerror(errno));
        return false;
    }
    return set_boot_msrs(vcpu_fd, errp) &&
           set_fpu(vcpu_fd, errp) &&
           set_xcr0(vcpu_fd, cpuid, errp) &&
           set_lapic(vcpu_fd, errp);
}

bool x86_cpu_set_boot_regs(int vcpu_fd, const X86BootInfo *info,
                           GError **errp)
{
    struct kvm_sregs sregs;
    struct kvm_regs regs;

    if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_GET_SREGS: %s", g_strerror(errno));
        return false;
    }
    x86_boot_entry_regs(info, &regs, &sregs);
    if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_SET_SREGS: %s", g_strerror(errno));
        return false;
    }
    if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                    "KVM_SET_REGS: %s", g_strerror(errno));
        return false;
    }
    return true;
}

/* ---- Register dump (vcpu-arch.h) ---- */

static void dump_segment(GString *s, const char *name,
                         const struct kvm_segment *seg)
{
    g_string_append_printf(s, "%-3s sel=%04x base=%016llx limit=%08x "
                           "type=%x s=%u dpl=%u p=%u l=%u db=%u g=%u\n",
                           name, seg->selector,
                           (unsigned long long)seg->base, seg->limit,
                           seg->type, seg->s, seg->dpl, seg->present,
                           seg->l, seg->db, seg->g);
}

void vcpu_arch_dump_regs(int vcpu_fd, GString *s)
{
    struct kvm_regs r;
    struct kvm_sregs sr;

    if (ioctl(vcpu_fd, KVM_GET_REGS, &r) < 0) {
        g_string_append_printf(s, "KVM_GET_REGS: %s\n", g_strerror(errno));
    } else {
        g_string_append_printf(s,
            "RIP=%016llx RSP=%016llx RFLAGS=%08llx\n"
            "RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n"
            "RSI=%016llx RDI=%016llx RBP=%016llx\n"
            "R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n"
            "R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n",
            r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx,
            r.rsi, r.rdi, r.rbp, r.r8, r.r9, r.r10, r.r11,
            r.r12, r.r13, r.r14, r.r15);
    }
    if (ioctl(vcpu_fd, KVM_GET_SREGS, &sr) < 0) {
        g_string_append_printf(s, "KVM_GET_SREGS: %s\n", g_strerror(errno));
    } else {
        g_string_append_printf(s,
            "CR0=%016llx CR2=%016llx CR3=%016llx CR4=%016llx\n"
            "EFER=%016llx APIC_BASE=%016llx\n",
            sr.cr0, sr.cr2, sr.cr3, sr.cr4, sr.efer, sr.apic_base);
        dump_segment(s, "CS", &sr.cs);
        dump_segment(s, "DS", &sr.ds);
        dump_segment(s, "ES", &sr.es);
        dump_segment(s, "SS", &sr.ss);
        dump_segment(s, "FS", &sr.fs);
        dump_segment(s, "GS", &sr.gs);
        dump_segment(s, "TR", &sr.tr);
        g_string_append_printf(s, "GDT=%016llx/%04x IDT=%016llx/%04x\n",
                               (unsigned long long)sr.gdt.base, sr.gdt.limit,
                               (unsigned long long)sr.idt.base, sr.idt.limit);
    }
}
