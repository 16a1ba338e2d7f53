/*
 * vmspec check SPEC|DIR...: validate specs without running anything.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/cmd.h"
#include "spec/file-probes.h"
#include "spec/loader.h"
#include "spec/merge.h"
#include "spec/readfile.h"

typedef struct {
    const char *const *sets;
    bool json;
    guint files;
    guint bad_files;
    guint errors;
    /* The identity of every spec checked (file_identity()): a file named
     * twice (a.yaml and ./a.yaml, or in DIR and by name) is checked once. */
    GHashTable *seen;
    /* directory as spelled -> canonical_path() of it: the specs of one DIR
     * share a directory, resolved once rather than once a spec */
    GHashTable *canonical_dirs;
    /* canonical directory -> (VM name -> first spec that used it) */
    GHashTable *names_by_dir;
    /* The files the specs name, each asked about once a run. */
    SpecFileProbes *probes;
} CheckRun;

static bool is_spec_name(const char *name)
{
    return g_str_has_suffix(name, ".yaml") || g_str_has_suffix(name, ".yml");
}

static gint compare_strings(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The specs in dir, sorted, or NULL with *err an errno value. */
static GPtrArray *list_specs(const char *dir, int *err)
{
    DIR *d = opendir(dir);
    g_autoptr(GPtrArray) paths = NULL;
    struct dirent *ent;

    if (!d) {
        *err = errno;
        return NULL;
    }
    paths = g_ptr_array_new_with_free_func(g_free);
    for (;;) {
        errno = 0;
        ent = readdir(d);
        if (!ent) {
            break;
        }
        if (is_spec_name(ent->d_name)) {
            g_ptr_array_add(paths, g_build_filename(dir, ent->d_name, NULL));
        }
    }
    /* readdir() returns NULL at the end and on an error, which sets errno. */
    *err = errno;
    closedir(d);
    if (*err) {
        return NULL;
    }
    g_ptr_array_sort(paths, compare_strings);
    return g_steal_pointer(&paths);
}

/* The specs a DIR argument stands for: *.yaml and *.yml, sorted. */
GPtrArray *cmd_list_specs(const char *dir, GError **errp)
{
    int err = 0;
    GPtrArray *paths = list_specs(dir, &err);

    if (!paths) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot read directory %s: %s", dir, g_strerror(err));
    }
    return paths;
}

/* path with symlinks, "." and ".." resolved, so that two spellings of one
 * file compare equal; as written, made absolute, when it cannot be. */
static char *canonical_path(const char *path)
{
    char *real = realpath(path, NULL);
    char *copy;

    if (!real) {
        return g_canonicalize_filename(path, NULL);
    }
    copy = g_strdup(real);
    free(real);
    return copy;
}

/* What makes two names of a spec one file: its device and inode (one
 * stat, where realpath() would read every component's link), else the
 * canonical path, for a file that is not there to be stat'ed. */
static char *file_identity(const char *path)
{
    struct stat st;

    if (stat(path, &st) == 0) {
        return g_strdup_printf("%ju:%ju", (uintmax_t)st.st_dev,
                               (uintmax_t)st.st_ino);
    }
    return canonical_path(path);
}

/* Two specs of one directory may not share a VM name: they would share
 * control sockets, logs and derived MACs.  The directory is the one the
 * spec's relative paths resolve against (the working directory for
 * standard input), however it is spelled. */
static void check_unique_name(CheckRun *run, const char *path, Vm *vm,
                              const SpecNode *root, SpecDiags *diags)
{
    g_autofree char *spelled = spec_path_dir(path);
    const char *dir = g_hash_table_lookup(run->canonical_dirs, spelled);
    GHashTable *names;
    const char *first;

    if (!dir) {
        dir = canonical_path(spelled);
        g_hash_table_insert(run->canonical_dirs, g_strdup(spelled),
                            (char *)dir);
    }
    names = g_hash_table_lookup(run->names_by_dir, dir);

    if (!names) {
        names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                      g_free);
        g_hash_table_insert(run->names_by_dir, g_strdup(dir), names);
    }
    first = g_hash_table_lookup(names, vm->name);
    if (first) {
        SpecPair *pair = spec_node_map_get_pair(root, "name");

        spec_diags_add(diags, pair ? &pair->value->mark : &root->mark,
                       "duplicate VM name '%s': %s uses it too", vm->name,
                       first);
        return;
    }
    g_hash_table_insert(names, g_strdup(vm->name), g_strdup(path));
}

/* Counts one checked input (a spec, or a directory that could not be
 * listed) and prints its diagnostics. */
static void report(CheckRun *run, const SpecDiags *diags)
{
    run->files++;
    if (spec_diags_count(diags)) {
        run->bad_files++;
        run->errors += spec_diags_count(diags);
        cmd_print_diags(diags, run->json, stdout);
    }
}

static void check_file(CheckRun *run, const char *path)
{
    g_autoptr(SpecDiags) diags = NULL;
    SpecLoadOptions opts = {
        .sets = run->sets, .check_files = true, .probes = run->probes,
    };
    g_autoptr(SpecNode) root = NULL;
    g_autoptr(Object) vm = NULL;

    /* Standard input is no file to compare: each name of it reads on. */
    if (!spec_path_is_stdin(path) &&
        !g_hash_table_add(run->seen, file_identity(path))) {
        return;
    }
    diags = spec_diags_new();
    root = spec_load_file(path, diags);
    if (root && (!run->sets || spec_apply_sets(root, run->sets, -1, diags))) {
        vm = OBJECT(spec_build_vm(root, &opts, diags));
    }
    if (vm) {
        check_unique_name(run, path, VM(vm), root, diags);
    }
    report(run, diags);
}

static void check_dir(CheckRun *run, const char *dir)
{
    int err = 0;
    g_autoptr(GPtrArray) specs = list_specs(dir, &err);

    if (!specs) {
        g_autoptr(SpecDiags) diags = spec_diags_new();

        spec_diags_add_at(diags, VMSPEC_ERROR_IO, dir, 0, 0,
                          "cannot read directory: %s", g_strerror(err));
        report(run, diags);
        return;
    }
    for (guint i = 0; i < specs->len; i++) {
        check_file(run, specs->pdata[i]);
    }
}

int cmd_check(int argc, char **argv)
{
    g_auto(GStrv) sets = NULL;
    g_autofree char *format = NULL;
    GOptionEntry entries[] = {
        CMD_OPTION_SET(sets),
        CMD_OPTION_FORMAT(format, "Output format: text (default) or json "
                          "(one object per diagnostic)"),
        G_OPTION_ENTRY_NULL,
    };
    CheckRun run = { 0 };
    int status;

    if (!cmd_parse_options("check", "SPEC|DIR...",
                           "Validate specs (every spec in a directory) and "
                           "report all errors; exit 1 if any.",
                           entries, &argc, &argv) ||
        !cmd_parse_format("check", format, &run.json)) {
        return EXIT_USAGE;
    }
    if (argc < 2) {
        fprintf(stderr, "vmspec check: expected at least one SPEC or DIR\n");
        return EXIT_USAGE;
    }
    run.sets = (const char *const *)sets;
    run.seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    run.probes = spec_file_probes_new();
    run.canonical_dirs = g_hash_table_new_full(g_str_hash, g_str_equal,
                                               g_free, g_free);
    run.names_by_dir = g_hash_table_new_full(
        g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_unref);
    for (int i = 1; i < argc; i++) {
        if (!spec_path_is_stdin(argv[i]) &&
            g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
            check_dir(&run, argv[i]);
        } else {
            check_file(&run, argv[i]);
        }
    }
    g_hash_table_unref(run.names_by_dir);
    g_hash_table_unref(run.canonical_dirs);
    g_hash_table_unref(run.seen);
    spec_file_probes_free(run.probes);

    status = run.errors ? EXIT_ERROR : EXIT_OK;
    if (run.json) {
        return status;
    }
    if (run.errors) {
        printf("%u error%s in %u of %u spec%s\n", run.errors,
               run.errors == 1 ? "" : "s", run.bad_files, run.files,
               run.files == 1 ? "" : "s");
    } else {
        printf("%u spec%s OK\n", run.files, run.files == 1 ? "" : "s");
    }
    return status;
}
