/*
 * Reading kernel and initrd files into guest RAM, for the boot loaders of
 * every machine (x86 bzImage, arm64 Image).
 */
#ifndef VMSPEC_KVM_BOOT_FILE_H
#define VMSPEC_KVM_BOOT_FILE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* Opens path read-only and returns the fd with *size set, or -1 with an
 * error naming the file (VMSPEC_ERROR_NOT_FOUND when it does not exist;
 * a directory or device is "not a regular file"). */
int boot_file_open(const char *path, uint64_t *size, GError **errp);

/* Reads exactly len bytes at offset off of fd (path, for errors) into
 * dst; a short file is an error. */
bool boot_file_read(int fd, void *dst, uint64_t len, uint64_t off,
                    const char *path, GError **errp);

/*
 * Reads into guest RAM done on a thread of their own, so that copying a
 * large kernel and initrd overlaps with creating the VM and its vCPUs
 * (the copy is most of what happens before the first KVM_RUN).  Queue the
 * reads, start, and finish before any vCPU runs or the memory is freed.
 */
typedef struct BootFileLoad BootFileLoad;

BootFileLoad *boot_file_load_new(void);

/* Queues reading len bytes at off of fd into dst.  The load takes fd and
 * closes it; path (copied) names the file in errors.  Before start. */
void boot_file_load_add(BootFileLoad *l, int fd, void *dst, uint64_t len,
                        uint64_t off, const char *path);

/* Starts the reads on a new thread (an empty queue starts none). */
bool boot_file_load_start(BootFileLoad *l, GError **errp);

/* Waits for the reads and frees l (NULL: nothing to wait for); false with
 * the first read's error.  Also frees a load that was never started. */
bool boot_file_load_finish(BootFileLoad *l, GError **errp);

#endif
