/*
 * Per-vCPU x86 setup: CPUID (with APIC id and topology), boot MSRs, FPU,
 * XCR0, LAPIC LINT pins, and the boot registers of the BSP.
 */
#ifndef VMSPEC_X86_CPU_H
#define VMSPEC_X86_CPU_H

#include <glib.h>
#include <stdbool.h>
#include <linux/kvm.h>

#include "machine/kvm/kvm.h"
#include "machine/x86/boot.h"

/*
 * KVM_GET_SUPPORTED_CPUID (api.rst), growing the buffer on E2BIG.  The
 * result holds every leaf KVM can expose, including the KVM paravirt
 * leaves 0x40000000 ("KVMKVMKVM") and 0x40000001 (features: kvmclock,
 * PV EOI, ...).  Caller g_free()s.  Main thread; call once per VM.
 */
struct kvm_cpuid2 *x86_cpuid_supported(KvmVm *vm, GError **errp);

/*
 * Sets up vCPU index (APIC id == index) of nr_vcpus, all cores of one
 * socket: KVM_SET_CPUID2 from supported with the APIC id, hypervisor bit
 * and topology leaves patched; the MSRs Linux expects firmware to have
 * set; FPU and XCR0 reset values; LAPIC LINT0 = ExtINT, LINT1 = NMI.
 * supported is borrowed (x86_cpuid_supported()).  APs are left in KVM's
 * wait-for-SIPI state; the guest starts them with INIT/SIPI.  Main
 * thread, before the vCPU runs.
 */
bool x86_cpu_setup(int vcpu_fd, const struct kvm_cpuid2 *supported,
                   unsigned index, unsigned nr_vcpus, GError **errp);

/* Puts the BSP in the 64-bit entry state for info (KVM_GET_SREGS,
 * x86_boot_entry_regs, KVM_SET_SREGS, KVM_SET_REGS).  Main thread. */
bool x86_cpu_set_boot_regs(int vcpu_fd, const X86BootInfo *info,
                           GError **errp);

/* The CPUID that x86_cpu_setup() would give vCPU index of nr_vcpus:
 * a patched copy of supported; caller g_free()s.  Pure (for tests). */
struct kvm_cpuid2 *x86_cpuid_for_vcpu(const struct kvm_cpuid2 *supported,
                                      unsigned index, unsigned nr_vcpus);

#endif
