/*
 * Kernel and initrd files (see boot-file.h).
 */
#include "machine/kvm/boot-file.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/qom/error.h"

int boot_file_open(const char *path, uint64_t *size, GError **errp)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        g_set_error(errp, VMSPEC_ERROR,
                    errno == ENOENT ? VMSPEC_ERROR_NOT_FOUND : VMSPEC_ERROR_IO,
                    "cannot open %s: %s", path, g_strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    *size = (uint64_t)st.st_size;
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

typedef struct BootFileRead {
    int fd;
    void *dst;
    uint64_t len;
    uint64_t off;
    char *path;
} BootFileRead;

struct BootFileLoad {
    GArray *reads;              /* BootFileRead */
    pthread_t thread;
    bool started;
    GError *error;              /* the worker's first error */
};

BootFileLoad *boot_file_load_new(void)
{
    BootFileLoad *l = g_new0(BootFileLoad, 1);

    l->reads = g_array_new(FALSE, FALSE, sizeof(BootFileRead));
    return l;
}

void boot_file_load_add(BootFileLoad *l, int fd, void *dst, uint64_t len,
                        uint64_t off, const char *path)
{
    BootFileRead r = { fd, dst, len, off, g_strdup(path) };

    g_assert(!l->started);
    g_array_append_val(l->reads, r);
}

static void *load_thread(void *opaque)
{
    BootFileLoad *l = opaque;

    for (guint i = 0; i < l->reads->len && !l->error; i++) {
        BootFileRead *r = &g_array_index(l->reads, BootFileRead, i);

        boot_file_read(r->fd, r->dst, r->len, r->off, r->path, &l->error);
    }
    return NULL;
}

bool boot_file_load_start(BootFileLoad *l, GError **errp)
{
    sigset_t all;
    pthread_attr_t attr;
    int err;

    g_assert(!l->started);
    if (l->reads->len == 0) {
        return true;
    }
    /* Signals stay with the main thread's signalfd (as for vCPUs). */
    sigfillset(&all);
    err = pthread_attr_init(&attr);
    if (!err) {
        err = pthread_attr_setsigmask_np(&attr, &all);
        if (!err) {
            err = pthread_create(&l->thread, &attr, load_thread, l);
        }
        pthread_attr_destroy(&attr);
    }
    if (err) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot start the thread that loads the kernel: %s",
                    g_strerror(err));
        return false;
    }
    l->started = true;
    return true;
}

bool boot_file_load_finish(BootFileLoad *l, GError **errp)
{
    bool ok;

    if (!l) {
        return true;
    }
    if (l->started) {
        pthread_join(l->thread, NULL);
    }
    ok = !l->error;
    if (!ok) {
        g_propagate_error(errp, g_steal_pointer(&l->error));
    }
    for (guint i = 0; i < l->reads->len; i++) {
        BootFileRead *r = &g_array_index(l->reads, BootFileRead, i);

        close(r->fd);
        g_free(r->path);
    }
    g_array_unref(l->reads);
    g_free(l);
    return ok;
}
