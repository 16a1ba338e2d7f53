/*
 * Kernel and initrd files (see boot-file.h).
 */
#include "machine/kvm/boot-file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/qom/error.h"

int boot_file_open(const char *path, uint64_t *size, GError **errp)
{
    struct stat st;
    int fd = boot_file_open_stat(path, &st, errp);

    if (fd >= 0) {
        *size = (uint64_t)st.st_size;
    }
    return fd;
}

int boot_file_open_stat(const char *path, struct stat *st, GError **errp)
{
    /* O_NONBLOCK until fstat has shown a regular file: open(2) of a FIFO
     * (one put where the checked file was) waits for a writer without it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    int err, flags;

    if (fd < 0) {
        err = errno;
        g_set_error(errp, VMSPEC_ERROR,
                    err == ENOENT ? VMSPEC_ERROR_NOT_FOUND : VMSPEC_ERROR_IO,
                    "cannot open %s: %s", path, g_strerror(err));
        return -1;
    }
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        err = errno;
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO, "%s: %s", path,
                    g_strerror(err));
        close(fd);
        return -1;
    }
    return fd;
}

bool boot_file_read(int fd, void *dst, uint64_t len, uint64_t off,
                    const char *path, GError **errp)
{
    uint8_t *p = dst;

    while (len > 0) {
        ssize_t n = pread(fd, p, MIN(len, (uint64_t)1 << 30), (off_t)off);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO, "%s: %s", path,
                        n < 0 ? g_strerror(errno) : "unexpected end of file");
            return false;
        }
        p += n;
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    return true;
}
