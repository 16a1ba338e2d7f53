/*
 * Reading kernel and initrd files into guest RAM, for the boot loaders of
 * every machine (x86 bzImage, arm64 Image).
 */
#ifndef VMSPEC_KVM_BOOT_FILE_H
#define VMSPEC_KVM_BOOT_FILE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

/* Opens path read-only and returns the fd with *size set, or -1 with an
 * error naming the file (VMSPEC_ERROR_NOT_FOUND when it does not exist;
 * a directory, FIFO or device is "not a regular file", found without
 * blocking in open(2)). */
int boot_file_open(const char *path, uint64_t *size, GError **errp);

/* The same, with the file's whole stat in *st. */
int boot_file_open_stat(const char *path, struct stat *st, GError **errp);

/* Reads exactly len bytes at offset off of fd (path, for errors) into
 * dst; a short file is an error. */
bool boot_file_read(int fd, void *dst, uint64_t len, uint64_t off,
                    const char *path, GError **errp);

#endif
