/*
 * Reading a spec file (see readfile.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/qom/error.h"
#include "spec/parse.h"
#include "spec/readfile.h"

char *spec_read_file(const char *path, gsize *len, SpecDiags *diags)
{
    g_autofree char *buf = NULL;
    struct stat st;
    gsize got = 0, cap;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int err;

    if (fd < 0) {
        err = errno;
        goto fail;
    }
    if (fstat(fd, &st) < 0) {
        err = errno;
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        err = EISDIR;
        goto fail;
    }
    if (st.st_size > SPEC_PARSE_MAX_BYTES) {
        close(fd);
        spec_diags_add_at(diags, VMSPEC_ERROR_INVALID, path, 0, 0,
                          "spec too large (%jd bytes; the limit is %u)",
                          (intmax_t)st.st_size, SPEC_PARSE_MAX_BYTES);
        return NULL;
    }
    /* Sized to the file, plus room to see EOF in the same read; st_size
     * may be 0 (special files) or stale, so the buffer grows, bounded. */
    cap = MIN((gsize)st.st_size + 4096, (gsize)SPEC_PARSE_MAX_BYTES + 1);
    buf = g_malloc(cap);
    for (;;) {
        ssize_t n;

        if (got == cap) {
            cap = MIN(cap * 2, (gsize)SPEC_PARSE_MAX_BYTES + 1);
            buf = g_realloc(buf, cap);
        }
        n = read(fd, buf + got, cap - got);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            err = errno;
            goto fail;
        }
        if (n == 0) {
            break;
        }
        got += (gsize)n;
        if (got > SPEC_PARSE_MAX_BYTES) {
            close(fd);
            spec_diags_add_at(diags, VMSPEC_ERROR_INVALID, path, 0, 0,
                              "spec too large (the limit is %u bytes)",
                              SPEC_PARSE_MAX_BYTES);
            return NULL;
        }
    }
    close(fd);
    *len = got;
    return g_realloc(g_steal_pointer(&buf), got + 1);

fail:
    if (fd >= 0) {
        close(fd);
    }
    spec_diags_add_at(diags, err == ENOENT ? VMSPEC_ERROR_NOT_FOUND
                                           : VMSPEC_ERROR_IO,
                      path, 0, 0, "cannot read spec: %s", g_strerror(err));
    return NULL;
}

bool spec_path_is_stdin(const char *path)
{
    static const char *const names[] = {
        "-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        if (strcmp(path, names[i]) == 0) {
            return true;
        }
    }
    return false;
}

char *spec_path_dir(const char *path)
{
    return spec_path_is_stdin(path) ? g_strdup(".") : g_path_get_dirname(path);
}
