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

static bool is_wanted_kind(const struct stat *st, bool block_ok)
{
    return S_ISREG(st->st_mode) || (block_ok && S_ISBLK(st->st_mode));
}

static void set_not_regular(bool block_ok, GError **errp)
{
    g_set_error_literal(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                        block_ok ? "not a regular file or block device"
                                 : "not a regular file");
}

/* Why open(2) or fstat(2) failed with err: what the file is when that is
 * the reason (a socket cannot be opened at all: ENXIO), a symbolic link
 * whose target is missing (ENOENT names no missing directory then) as
 * such, else errno's text. */
static void set_open_error(const char *path, bool block_ok, int err,
                           GError **errp)
{
    struct stat st, lst;

    if (err != EISDIR && stat(path, &st) == 0 && !S_ISDIR(st.st_mode) &&
        !is_wanted_kind(&st, block_ok)) {
        set_not_regular(block_ok, errp);
        return;
    }
    g_set_error_literal(errp, VMSPEC_ERROR,
                        err == ENOENT ? VMSPEC_ERROR_NOT_FOUND
                                      : VMSPEC_ERROR_IO,
                        err == ENOENT && lstat(path, &lst) == 0 &&
                        S_ISLNK(lst.st_mode)
                            ? "dangling symbolic link (its target does not "
                              "exist)"
                            : g_strerror(err));
}

int spec_open_file(const char *path, bool block_ok, struct stat *st,
                   GError **errp)
{
    /* O_NONBLOCK: open(2) of a FIFO waits for a writer without it (fifo(7));
     * O_NOCTTY: a terminal named here must not become ours. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    int err = 0;

    if (fd < 0) {
        set_open_error(path, block_ok, errno, errp);
        return -1;
    }
    if (fstat(fd, st) < 0) {
        err = errno;
    } else if (S_ISDIR(st->st_mode)) {
        err = EISDIR;
    } else if (!is_wanted_kind(st, block_ok)) {
        close(fd);
        set_not_regular(block_ok, errp);
        return -1;
    }
    /* O_NONBLOCK stays set: it has no effect on regular files and block
     * devices (open(2), O_NONBLOCK), the only kinds that get here, and
     * clearing it would cost two fcntl(2)s a file. */
    if (err) {
        close(fd);
        set_open_error(path, block_ok, err, errp);
        return -1;
    }
    return fd;
}

/* Reads fd to its end into a new buffer (*len bytes plus a NUL byte
 * not counted), at most SPEC_PARSE_MAX_BYTES; size_hint (st_size, 0 for
 * a pipe) sizes the first buffer.  NULL after a diagnostic. */
static char *read_all(int fd, gsize size_hint, const char *path, gsize *len,
                      SpecDiags *diags)
{
    /* Room to see EOF in the same read; the hint may be 0 or stale, so
     * the buffer grows, bounded. */
    gsize cap = MIN(size_hint + 4096, (gsize)SPEC_PARSE_MAX_BYTES + 1);
    g_autofree char *buf = g_malloc(cap);
    gsize got = 0;

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
            spec_diags_add_at(diags, VMSPEC_ERROR_IO, path, 0, 0,
                              "cannot read spec: %s", g_strerror(errno));
            return NULL;
        }
        if (n == 0) {
            break;
        }
        got += (gsize)n;
        if (got > SPEC_PARSE_MAX_BYTES) {
            spec_diags_add_at(diags, VMSPEC_ERROR_INVALID, path, 0, 0,
                              "spec too large (the limit is %u bytes)",
                              SPEC_PARSE_MAX_BYTES);
            return NULL;
        }
    }
    *len = got;
    buf = g_realloc(buf, got + 1);
    buf[got] = '\0';
    return g_steal_pointer(&buf);
}

char *spec_read_file(const char *path, gsize *len, SpecDiags *diags)
{
    g_autoptr(GError) err = NULL;
    struct stat st;
    char *data;
    int fd;

    /* Standard input is read where it stands: reopening /dev/stdin would
     * rewind a regular file and cannot open a socket. */
    if (spec_path_is_stdin(path)) {
        return read_all(STDIN_FILENO, 0, path, len, diags);
    }
    fd = spec_open_file(path, false, &st, &err);
    if (fd < 0) {
        spec_diags_add_at(diags, err->code, path, 0, 0,
                          "cannot read spec: %s", err->message);
        return NULL;
    }
    if (st.st_size > SPEC_PARSE_MAX_BYTES) {
        close(fd);
        spec_diags_add_at(diags, VMSPEC_ERROR_INVALID, path, 0, 0,
                          "spec too large (%jd bytes; the limit is %u)",
                          (intmax_t)st.st_size, SPEC_PARSE_MAX_BYTES);
        return NULL;
    }
    data = read_all(fd, (gsize)st.st_size, path, len, diags);
    close(fd);
    return data;
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
