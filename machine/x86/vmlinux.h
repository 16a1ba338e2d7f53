/*
 * The kernel inside a bzImage, unpacked on the host.
 *
 * A bzImage's payload is the kernel proper, vmlinux (a stripped x86_64
 * ELF), compressed (arch/x86/boot/compressed/Makefile; Debian uses XZ with
 * the x86 BCJ filter).  Booted the usual way, the bzImage's own
 * decompressor unpacks it inside the guest before Linux starts: seconds of
 * guest CPU per boot, every boot, slower still under nested
 * virtualization.  vmspec instead decodes the payload once on the host,
 * places the ELF's PT_LOAD segments at their physical addresses as the
 * decompressor would (its parse_elf(), at LOAD_PHYSICAL_ADDR), keeps the
 * result and the kernel's relocation table in the boot cache
 * (machine/kvm/boot-cache.h) and enters the kernel proper directly at
 * e_entry, startup_64 of arch/x86/kernel/head_64.S, which takes "a 64bit
 * bootloader" with the boot.rst 64-bit entry state.  Firecracker and
 * cloud-hypervisor boot an uncompressed vmlinux the same way.  The
 * decompressor is also what randomizes the kernel's virtual addresses
 * (KASLR): kaslr.h does that with the relocation table.
 */
#ifndef VMSPEC_X86_VMLINUX_H
#define VMSPEC_X86_VMLINUX_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "machine/kvm/boot-cache.h"
#include "machine/kvm/guest-mem.h"

/* The compressed payload of a bzImage and where its segments may go. */
typedef struct X86Payload {
    int fd;                 /* the bzImage */
    const char *path;       /* for errors */
    uint64_t offset;        /* payload's offset in the file */
    uint64_t length;        /* and length */
    uint64_t min_addr;      /* segments lie inside [min_addr, limit) */
    uint64_t limit;
    /* Added to every segment's physical address (a multiple of 2 MiB for
     * a relocatable kernel, whose startup_64 copes; 0: where linked). */
    uint64_t shift;
} X86Payload;

/* The kernel proper as placed in guest RAM (its link-time physical
 * addresses plus the payload's shift). */
typedef struct X86Vmlinux {
    uint64_t start;         /* lowest segment address, page-aligned down */
    uint64_t end;           /* one past the highest segment byte */
    uint64_t entry;         /* e_entry (physical startup_64) */
    bool from_cache;        /* read from the boot cache */
    uint8_t *relocs;        /* its relocation table (kaslr.h); NULL: */
    size_t relocs_len;      /*   none (a decoded one that did not fit) */
} X86Vmlinux;

/* Frees what an X86Vmlinux owns (its relocation table). */
void x86_vmlinux_clear(X86Vmlinux *vm);

/* Whether a payload starting with these len bytes is one vmspec decodes
 * (XZ, the stream header magic of xz-file-format 2.1.1.1).  Pure. */
bool x86_vmlinux_payload_known(const uint8_t *head, size_t len);

/*
 * Decodes p's payload into guest RAM (which must be zero there, as fresh
 * RAM is): each PT_LOAD segment at its p_paddr + shift, its bss zeroed; the
 * relocation table that follows the ELF, if any, into out->relocs.  The ELF is
 * checked (x86_64, at most 16 PT_LOADs inside [min_addr, limit), none
 * overlapping, the entry inside one) and so is the XZ stream, to its end
 * and its integrity check.  Errors (VMSPEC_ERROR_INVALID, or
 * VMSPEC_ERROR_IO for reads) name the file.  Main thread.
 */
bool x86_vmlinux_decode(GuestMem *mem, const X86Payload *p, X86Vmlinux *out,
                        GError **errp);

/*
 * x86_vmlinux_decode() through the boot cache in cache_dir (NULL: none):
 * an entry for key is read into guest RAM; otherwise the payload is decoded, under the cache's
 * lock so that VMs starting together decode it once, and stored.  The
 * cache is only an optimization: failing to create or write it is no
 * error.  Main thread.
 */
bool x86_vmlinux_load(GuestMem *mem, const X86Payload *p,
                      const char *cache_dir, const BootCacheKey *key,
                      X86Vmlinux *out, GError **errp);

#endif
