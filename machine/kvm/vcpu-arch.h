/*
 * What the architecture-neutral vCPU code (vcpu.c) needs from the
 * architecture it runs on.  Each architecture implements these in its own
 * folder (machine/x86/cpu.c, machine/arm64/cpu.c), files the Makefile
 * builds only for that architecture (ARCH_ONLY_*), so vcpu.c has no
 * per-architecture #if (kvmtool's kvm-cpu.h arch hooks do the same).
 */
#ifndef VMSPEC_KVM_VCPU_ARCH_H
#define VMSPEC_KVM_VCPU_ARCH_H

#include <glib.h>

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "vmspec runs on x86_64 and aarch64 hosts"
#endif

/*
 * Appends the registers of vcpu_fd a crash report needs (x86: RIP, RSP,
 * RFLAGS, GPRs, CR0/2/3/4, EFER, segments, GDT/IDT; arm64: PC, PSTATE,
 * stack pointers, ELR_EL1, x0-x30) to s, one or more lines; a register
 * KVM cannot read is left out or named with its error.  From the vCPU's
 * own thread, or while it is not running.
 */
void vcpu_arch_dump_regs(int vcpu_fd, GString *s);

#endif
