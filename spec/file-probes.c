/*
 * Answers about the files a spec names, kept for one run (see
 * file-probes.h).
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/qom/error.h"
#include "spec/file-probes.h"
#include "spec/readfile.h"

#define NOT_ASKED (-1)

typedef struct {
    int stat_errno;
    struct stat st;
    int read_errno;         /* access(R_OK), or NOT_ASKED */
    int write_errno;        /* access(R_OK | W_OK), or NOT_ASKED */
    char *sha256;           /* hex, or NULL */
    GError *sha256_error;   /* why it could not be hashed, or NULL */
} FileProbe;

struct SpecFileProbes {
    GHashTable *by_path;    /* path -> FileProbe */
};

static void file_probe_free(gpointer data)
{
    FileProbe *fp = data;

    g_free(fp->sha256);
    g_clear_error(&fp->sha256_error);
    g_free(fp);
}

SpecFileProbes *spec_file_probes_new(void)
{
    SpecFileProbes *probes = g_new0(SpecFileProbes, 1);

    probes->by_path = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                            file_probe_free);
    return probes;
}

void spec_file_probes_free(SpecFileProbes *probes)
{
    if (probes) {
        g_hash_table_unref(probes->by_path);
        g_free(probes);
    }
}

static int stat_errno(const char *path, struct stat *st)
{
    return stat(path, st) < 0 ? errno : 0;
}

static int access_errno(const char *path, int amode)
{
    return access(path, amode) < 0 ? errno : 0;
}

/* path's entry, stat'ed when it is new. */
static FileProbe *probe(SpecFileProbes *probes, const char *path)
{
    FileProbe *fp = g_hash_table_lookup(probes->by_path, path);

    if (!fp) {
        fp = g_new0(FileProbe, 1);
        fp->stat_errno = stat_errno(path, &fp->st);
        fp->read_errno = fp->write_errno = NOT_ASKED;
        g_hash_table_insert(probes->by_path, g_strdup(path), fp);
    }
    return fp;
}

int spec_file_probe_stat(SpecFileProbes *probes, const char *path,
                         struct stat *st)
{
    FileProbe *fp;

    if (!probes) {
        return stat_errno(path, st);
    }
    fp = probe(probes, path);
    *st = fp->st;
    return fp->stat_errno;
}

int spec_file_probe_access(SpecFileProbes *probes, const char *path,
                           int amode)
{
    FileProbe *fp;
    int *answer;

    if (!probes) {
        return access_errno(path, amode);
    }
    fp = probe(probes, path);
    answer = amode & W_OK ? &fp->write_errno : &fp->read_errno;
    if (*answer == NOT_ASKED) {
        *answer = access_errno(path, amode);
    }
    return *answer;
}

static char *sha256_file(const char *path, bool block_ok, GError **errp)
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_autofree guchar *buf = g_malloc(1 << 16);
    g_autoptr(GError) err = NULL;
    struct stat st;
    int fd = spec_open_file(path, block_ok, &st, &err);
    ssize_t n;

    if (fd < 0) {
        g_set_error(errp, VMSPEC_ERROR, err->code, "cannot read %s: %s",
                    path, err->message);
        return NULL;
    }
    while ((n = read(fd, buf, 1 << 16)) != 0) {
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                        "cannot read %s: %s", path, g_strerror(errno));
            close(fd);
            return NULL;
        }
        g_checksum_update(sum, buf, n);
    }
    close(fd);
    return g_strdup(g_checksum_get_string(sum));
}

char *spec_file_probe_sha256(SpecFileProbes *probes, const char *path,
                             bool block_ok, GError **errp)
{
    FileProbe *fp;

    if (!probes) {
        return sha256_file(path, block_ok, errp);
    }
    /* One answer whatever block_ok: a block device gets here only as a
     * backing store (check_file() refuses it elsewhere first). */
    fp = probe(probes, path);
    if (!fp->sha256 && !fp->sha256_error) {
        fp->sha256 = sha256_file(path, block_ok, &fp->sha256_error);
    }
    if (fp->sha256_error) {
        g_propagate_error(errp, g_error_copy(fp->sha256_error));
        return NULL;
    }
    return g_strdup(fp->sha256);
}
