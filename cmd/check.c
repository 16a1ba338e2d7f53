/*
 * vmspec check SPEC|DIR...: validate specs without running anything.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "spec/loader.h"
#include "spec/merge.h"

typedef struct {
    const char *const *sets;
    bool json;
    guint files;
    guint bad_files;
    guint errors;
    /* directory -> (VM name -> first spec that used it) */
    GHashTable *names_by_dir;
} CheckRun;

static bool is_spec_name(const char *name)
{
    return g_str_has_suffix(name, ".yaml") || g_str_has_suffix(name, ".yml");
}

static gint compare_strings(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The specs a DIR argument stands for: *.yaml and *.yml, sorted. */
GPtrArray *cmd_list_specs(const char *dir, GError **errp)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, errp);
    GPtrArray *paths;
    const char *name;

    if (!d) {
        return NULL;
    }
    paths = g_ptr_array_new_with_free_func(g_free);
    while ((name = g_dir_read_name(d))) {
        if (is_spec_name(name)) {
            g_ptr_array_add(paths, g_build_filename(dir, name, NULL));
        }
    }
    g_ptr_array_sort(paths, compare_strings);
    return paths;
}

/* Two specs of one directory may not share a VM name: they would share
 * control sockets, logs and derived MACs. */
static void check_unique_name(CheckRun *run, const char *path, Vm *vm,
                              const SpecNode *root, SpecDiags *diags)
{
    g_autofree char *dir = g_path_get_dirname(path);
    GHashTable *names = g_hash_table_lookup(run->names_by_dir, dir);
    const char *first;

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

static void check_file(CheckRun *run, const char *path)
{
    g_autoptr(SpecDiags) diags = spec_diags_new();
    SpecLoadOptions opts = { .sets = run->sets, .check_files = true };
    g_autoptr(SpecNode) root = spec_load_file(path, diags);
    g_autoptr(Object) vm = NULL;

    if (root && (!run->sets || spec_apply_sets(root, run->sets, -1, diags))) {
        vm = OBJECT(spec_build_vm(root, &opts, diags));
    }
    if (vm) {
        check_unique_name(run, path, VM(vm), root, diags);
    }
    run->files++;
    if (spec_diags_count(diags)) {
        run->bad_files++;
        run->errors += spec_diags_count(diags);
        cmd_print_diags(diags, run->json, stdout);
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
    run.names_by_dir = g_hash_table_new_full(
        g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_unref);
    for (int i = 1; i < argc; i++) {
        if (g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
            g_autoptr(GError) err = NULL;
            g_autoptr(GPtrArray) specs = cmd_list_specs(argv[i], &err);

            if (!specs) {
                fprintf(stderr, "vmspec: %s\n", err->message);
                run.errors++;
                continue;
            }
            for (guint j = 0; j < specs->len; j++) {
                check_file(&run, specs->pdata[j]);
            }
        } else {
            check_file(&run, argv[i]);
        }
    }
    g_hash_table_unref(run.names_by_dir);

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
