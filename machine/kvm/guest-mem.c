/*
 * Guest RAM.  One MAP_NORESERVE mapping backs all regions, so a 4 GiB
 * guest costs nothing until the guest touches its pages: anonymous, or
 * for vhost-user a memfd (shmem) mapped MAP_SHARED over the same aligned
 * reservation.
 */
#include "machine/kvm/guest-mem.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <linux/kvm.h>

#include "machine/kvm/kvm.h"
#include "machine/qom/error.h"

#define GUEST_PAGE_SIZE   4096ULL
#define FOUR_GIB          0x100000000ULL
#define GUEST_HUGE_ALIGN  (2ULL << 20)

struct GuestMem {
    GuestMemRegion regions[GUEST_MEM_MAX_REGIONS];
    unsigned nr_regions;
    uint64_t size;
    void *map;
    int fd;                     /* the memfd of shared RAM, else -1 */
};

/* RAM + swap of the host, in bytes: the most a guest can ever fill. */
static uint64_t host_memory_limit(void)
{
    struct sysinfo si;

    if (sysinfo(&si) < 0) {
        return UINT64_MAX;
    }
    return ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
}

/*
 * An anonymous mapping of size bytes whose address is 2 MiB-aligned: KVM
 * maps guest memory with 2 MiB pages only where the host address and the
 * guest address agree modulo 2 MiB (and the host page is a THP).  With
 * mmap's 4 KiB alignment every guest page would fault in on its own;
 * nested under another hypervisor that made a 64 MiB guest memset take
 * 6-8 s instead of tens of ms.  Maps 2 MiB more and trims both ends.
 */
static void *map_aligned(uint64_t size, GError **errp)
{
    uint64_t total = size + GUEST_HUGE_ALIGN;
    uint8_t *raw, *start;
    void *map;

    map = mmap(NULL, total, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot map %" G_GUINT64_FORMAT " MiB of guest memory: %s",
                    size >> 20, g_strerror(errno));
        return NULL;
    }
    raw = map;
    start = (uint8_t *)(((uintptr_t)raw + GUEST_HUGE_ALIGN - 1) &
                        ~(uintptr_t)(GUEST_HUGE_ALIGN - 1));
    if (start > raw) {
        munmap(raw, start - raw);
    }
    if (raw + total > start + size) {
        munmap(start + size, raw + total - (start + size));
    }
    return start;
}

/*
 * Shared RAM: a memfd of size bytes, mapped MAP_SHARED at a 2 MiB-aligned
 * address (over an aligned anonymous reservation), so that a backend
 * mapping the same fd sees every byte the guest writes.  Sealed against
 * shrinking: a backend that truncated it would SIGBUS vmspec.
 */
static void *map_shared(uint64_t size, int *fd_out, GError **errp)
{
    void *start, *map;
    int fd;

    fd = memfd_create("vmspec-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot create shared guest memory (memfd_create): %s",
                    g_strerror(errno));
        return NULL;
    }
    if (ftruncate(fd, (off_t)size) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot size %" G_GUINT64_FORMAT " MiB of shared guest "
                    "memory: %s", size >> 20, g_strerror(errno));
        close(fd);
        return NULL;
    }
    start = map_aligned(size, errp);
    if (!start) {
        close(fd);
        return NULL;
    }
    map = mmap(start, size, PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_FIXED | MAP_NORESERVE, fd, 0);
    if (map == MAP_FAILED) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot map %" G_GUINT64_FORMAT " MiB of shared guest "
                    "memory: %s", size >> 20, g_strerror(errno));
        munmap(start, size);
        close(fd);
        return NULL;
    }
    *fd_out = fd;
    return map;
}

/* Maps ram_size bytes (checked against what the host has) as a GuestMem
 * with no regions yet. */
static GuestMem *guest_mem_map(uint64_t ram_size, GuestMemBacking backing,
                               GError **errp)
{
    uint64_t limit;
    GuestMem *m;
    void *map;
    int fd = -1;

    if (ram_size == 0 || ram_size % GUEST_PAGE_SIZE) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "guest memory size %" G_GUINT64_FORMAT
                    " is not a non-zero multiple of 4 KiB", ram_size);
        return NULL;
    }
    /*
     * MAP_NORESERVE mappings succeed for sizes no host can back (the
     * default overcommit heuristic skips them), and the guest would die of
     * SIGBUS/OOM later.  Refuse up front what RAM + swap cannot hold.
     */
    limit = host_memory_limit();
    if (ram_size > limit || ram_size > (UINT64_MAX - FOUR_GIB) / 2) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "guest memory of %" G_GUINT64_FORMAT " MiB exceeds "
                    "this host's RAM + swap (%" G_GUINT64_FORMAT " MiB)",
                    ram_size >> 20, limit >> 20);
        return NULL;
    }
    map = backing == GUEST_MEM_SHARED ? map_shared(ram_size, &fd, errp)
                                      : map_aligned(ram_size, errp);
    if (!map) {
        return NULL;
    }
    /* Transparent huge pages cut EPT/NPT misses; guest RAM in a core dump
     * is large and private.  Both are hints: failure is harmless. */
    (void)madvise(map, ram_size, MADV_HUGEPAGE);
    (void)madvise(map, ram_size, MADV_DONTDUMP);

    m = g_new0(GuestMem, 1);
    m->map = map;
    m->size = ram_size;
    m->fd = fd;
    return m;
}

static GuestMemRegion region_at(const GuestMem *m, uint64_t gpa,
                                uint64_t offset, uint64_t size)
{
    return (GuestMemRegion){
        .gpa = gpa,
        .size = size,
        .host = (uint8_t *)m->map + offset,
        .fd = m->fd,
        .fd_offset = m->fd >= 0 ? offset : 0,
    };
}

GuestMem *guest_mem_new_backed(uint64_t ram_size, uint64_t hole_start,
                               GuestMemBacking backing, GError **errp)
{
    GuestMem *m;

    g_assert(hole_start % GUEST_PAGE_SIZE == 0 && hole_start <= FOUR_GIB);
    g_assert(hole_start > 0);
    m = guest_mem_map(ram_size, backing, errp);
    if (!m) {
        return NULL;
    }
    m->regions[0] = region_at(m, 0, 0, MIN(ram_size, hole_start));
    m->nr_regions = 1;
    if (ram_size > hole_start) {
        m->regions[1] = region_at(m, FOUR_GIB, hole_start,
                                  ram_size - hole_start);
        m->nr_regions = 2;
    }
    return m;
}

GuestMem *guest_mem_new_at_backed(uint64_t ram_size, uint64_t base,
                                  GuestMemBacking backing, GError **errp)
{
    GuestMem *m;

    g_assert(base % GUEST_PAGE_SIZE == 0);
    m = guest_mem_map(ram_size, backing, errp);
    if (!m) {
        return NULL;
    }
    m->regions[0] = region_at(m, base, 0, ram_size);
    m->nr_regions = 1;
    return m;
}

GuestMem *guest_mem_new(uint64_t ram_size, uint64_t hole_start,
                        GError **errp)
{
    return guest_mem_new_backed(ram_size, hole_start, GUEST_MEM_PRIVATE,
                                errp);
}

GuestMem *guest_mem_new_at(uint64_t ram_size, uint64_t base, GError **errp)
{
    return guest_mem_new_at_backed(ram_size, base, GUEST_MEM_PRIVATE, errp);
}

GuestMemBacking guest_mem_backing(const GuestMem *m)
{
    return m->fd >= 0 ? GUEST_MEM_SHARED : GUEST_MEM_PRIVATE;
}

bool guest_mem_register(GuestMem *m, int vm_fd, uint32_t first_slot,
                        GError **errp)
{
    for (unsigned i = 0; i < m->nr_regions; i++) {
        /* api.rst KVM_SET_USER_MEMORY_REGION */
        struct kvm_userspace_memory_region r = {
            .slot = first_slot + i,
            .guest_phys_addr = m->regions[i].gpa,
            .memory_size = m->regions[i].size,
            .userspace_addr = (uintptr_t)m->regions[i].host,
        };

        if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
            int err = errno;

            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_KVM,
                        "KVM_SET_USER_MEMORY_REGION (slot %u, %"
                        G_GUINT64_FORMAT " MiB at 0x%" G_GINT64_MODIFIER
                        "x): %s%s", r.slot, (uint64_t)r.memory_size >> 20,
                        (uint64_t)r.guest_phys_addr, g_strerror(err),
                        KVM_LACKS(err, "KVM_CAP_USER_MEMORY"));
            return false;
        }
    }
    return true;
}

void guest_mem_free(GuestMem *m)
{
    if (!m) {
        return;
    }
    munmap(m->map, m->size);
    if (m->fd >= 0) {
        close(m->fd);
    }
    g_free(m);
}

uint64_t guest_mem_size(const GuestMem *m)
{
    return m->size;
}

uint64_t guest_mem_low_end(const GuestMem *m)
{
    return m->regions[0].gpa + m->regions[0].size;
}

unsigned guest_mem_region_count(const GuestMem *m)
{
    return m->nr_regions;
}

const GuestMemRegion *guest_mem_region(const GuestMem *m, unsigned i)
{
    g_assert(i < m->nr_regions);
    return &m->regions[i];
}

void *guest_mem_translate(GuestMem *m, uint64_t gpa, uint64_t len)
{
    if (len == 0) {
        return NULL;
    }
    for (unsigned i = 0; i < m->nr_regions; i++) {
        const GuestMemRegion *r = &m->regions[i];

        /* Written so that nothing overflows: gpa - r->gpa is computed only
         * when gpa >= r->gpa, and compared against sizes, never summed. */
        if (gpa >= r->gpa && gpa - r->gpa < r->size &&
            len <= r->size - (gpa - r->gpa)) {
            return r->host + (gpa - r->gpa);
        }
    }
    return NULL;
}

static void set_range_error(GError **errp, uint64_t gpa, uint64_t len)
{
    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                "guest range 0x%" G_GINT64_MODIFIER "x+0x%" G_GINT64_MODIFIER
                "x is not inside guest RAM", gpa, len);
}

/* The host address of [gpa, gpa + len) for a copy in *host, NULL when len
 * is 0 (nothing to copy, and not an error).  False, with a range error,
 * when guest_mem_translate() rejects the range. */
static bool copy_range(GuestMem *m, uint64_t gpa, uint64_t len, void **host,
                       GError **errp)
{
    *host = len ? guest_mem_translate(m, gpa, len) : NULL;
    if (len && !*host) {
        set_range_error(errp, gpa, len);
        return false;
    }
    return true;
}

bool guest_mem_write(GuestMem *m, uint64_t gpa, const void *src,
                     uint64_t len, GError **errp)
{
    void *p;

    if (!copy_range(m, gpa, len, &p, errp)) {
        return false;
    }
    if (p) {
        memcpy(p, src, len);
    }
    return true;
}

bool guest_mem_read(GuestMem *m, uint64_t gpa, void *dst, uint64_t len,
                    GError **errp)
{
    void *p;

    if (!copy_range(m, gpa, len, &p, errp)) {
        return false;
    }
    if (p) {
        memcpy(dst, p, len);
    }
    return true;
}
