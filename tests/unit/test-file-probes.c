/*
 * spec/file-probes: one run's answers about a file are asked once and
 * kept; without probes every question goes to the system.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "machine/qom/error.h"
#include "spec/file-probes.h"

/* sha256("hello") */
#define HELLO_SHA256 \
    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

static void test_memo(void)
{
    g_autoptr(SpecFileProbes) probes = spec_file_probes_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("file-probes.XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "kernel", NULL);
    g_autofree char *hex = NULL;
    struct stat st;

    g_assert_true(g_file_set_contents(path, "hello", 5, NULL));
    g_assert_cmpint(spec_file_probe_stat(probes, path, &st), ==, 0);
    g_assert_true(S_ISREG(st.st_mode));
    g_assert_cmpint(st.st_size, ==, 5);
    g_assert_cmpint(spec_file_probe_access(probes, path, R_OK), ==, 0);
    hex = spec_file_probe_sha256(probes, path, false, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(hex, ==, HELLO_SHA256);
    g_clear_pointer(&hex, g_free);

    /* Changed and then gone: the run keeps its first answers... */
    g_assert_true(g_file_set_contents(path, "other", 5, NULL));
    hex = spec_file_probe_sha256(probes, path, false, &err);
    g_assert_cmpstr(hex, ==, HELLO_SHA256);
    g_clear_pointer(&hex, g_free);
    g_assert_cmpint(g_unlink(path), ==, 0);
    memset(&st, 0, sizeof(st));
    g_assert_cmpint(spec_file_probe_stat(probes, path, &st), ==, 0);
    g_assert_true(S_ISREG(st.st_mode));
    g_assert_cmpint(st.st_size, ==, 5);

    /* ...and without probes the system answers. */
    g_assert_cmpint(spec_file_probe_stat(NULL, path, &st), ==, ENOENT);
    g_assert_cmpint(spec_file_probe_access(NULL, path, R_OK), ==, ENOENT);
    g_assert_null(spec_file_probe_sha256(NULL, path, false, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void test_missing(void)
{
    g_autoptr(SpecFileProbes) probes = spec_file_probes_new();
    g_autoptr(GError) err = NULL;
    struct stat st;

    g_assert_cmpint(spec_file_probe_stat(probes, "/nonexistent/k", &st),
                    ==, ENOENT);
    g_assert_cmpint(spec_file_probe_access(probes, "/nonexistent/k",
                                           R_OK | W_OK), ==, ENOENT);
    /* A failure is kept too, and each caller gets its own copy. */
    for (int i = 0; i < 2; i++) {
        g_assert_null(spec_file_probe_sha256(probes, "/nonexistent/k", false,
                                             &err));
        g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND);
        g_assert_true(g_str_has_prefix(err->message,
                                       "cannot read /nonexistent/k: "));
        g_clear_error(&err);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/file-probes/memo", test_memo);
    g_test_add_func("/file-probes/missing", test_missing);
    return g_test_run();
}
