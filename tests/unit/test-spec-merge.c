/*
 * Unit tests for spec/merge: extends chains (merge rules, marks from the
 * base file, cycles, missing bases) and --set overrides.  Spec files are
 * written to a fresh temporary directory, which each test enters so that
 * messages show short relative paths.
 */
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "machine/qom/error.h"
#include "spec/diag.h"
#include "spec/merge.h"
#include "spec/node.h"

typedef struct Fixture {
    char *dir;
    char *old_cwd;
    GPtrArray *files;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    f->dir = g_dir_make_tmp("spec-merge-XXXXXX", &err);
    g_assert_no_error(err);
    f->old_cwd = g_get_current_dir();
    f->files = g_ptr_array_new_with_free_func(g_free);
    g_assert_cmpint(g_chdir(f->dir), ==, 0);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    for (guint i = f->files->len; i > 0; i--) {
        const char *p = g_ptr_array_index(f->files, i - 1);

        if (g_remove(p) != 0) {
            g_rmdir(p);
        }
    }
    g_assert_cmpint(g_chdir(f->old_cwd), ==, 0);
    g_assert_cmpint(g_rmdir(f->dir), ==, 0);
    g_ptr_array_free(f->files, TRUE);
    g_free(f->old_cwd);
    g_free(f->dir);
}

static void put(Fixture *f, const char *name, const char *text)
{
    g_autofree char *dir = g_path_get_dirname(name);

    if (strcmp(dir, ".") != 0 && !g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
        g_ptr_array_add(f->files, g_strdup(dir));
    }
    g_assert_true(g_file_set_contents(name, text, -1, NULL));
    g_ptr_array_add(f->files, g_strdup(name));
}

/* Loads name, which must succeed; returns the tree's flow rendering. */
static char *load_ok(const char *name, bool marks)
{
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) node = spec_load_file(name, diags);
    g_autofree char *errs = spec_diags_format(diags);

    g_assert_cmpstr(errs, ==, "");
    g_assert_nonnull(node);
    return spec_node_to_string(node, marks);
}

/* Loads name, which must fail; returns the diagnostics. */
static char *load_err(const char *name)
{
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) node = spec_load_file(name, diags);

    g_assert_null(node);
    g_assert_cmpuint(spec_diags_count(diags), >, 0);
    return spec_diags_format(diags);
}

/* Spec files that must not load: the files to write, the one to load
 * and the diagnostics it must give. */
typedef struct {
    const char *load;
    const char *error;
    struct {
        const char *name, *text;
    } files[2];
} LoadErrCase;

static void check_load_errs(Fixture *f, const LoadErrCase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_autofree char *error = NULL;

        for (size_t j = 0; j < G_N_ELEMENTS(cases[i].files); j++) {
            if (cases[i].files[j].name) {
                put(f, cases[i].files[j].name, cases[i].files[j].text);
            }
        }
        error = load_err(cases[i].load);
        g_assert_cmpstr(error, ==, cases[i].error);
    }
}

static void test_extends_maps(Fixture *f, gconstpointer data)
{
    g_autofree char *s = NULL;

    put(f, "base.yaml",
        "vmspec: 1\n"
        "machine: {type: microvm, cpus: 1, memory: 256M}\n"
        "boot: {kernel: vmlinuz, cmdline: quiet}\n");
    put(f, "child.yaml",
        "extends: base.yaml\n"
        "name: child\n"
        "machine: {cpus: 4}\n"
        "boot:\n"
        "  kernel: {path: other, sha256: abc}\n");
    s = load_ok("child.yaml", false);
    /* Maps merge key by key; a map replaces a scalar (kind change). */
    g_assert_cmpstr(s, ==,
                    "{vmspec: 1, machine: {type: microvm, cpus: 4, "
                    "memory: 256M}, boot: {kernel: {path: other, "
                    "sha256: abc}, cmdline: quiet}, name: child}");
}

static void test_extends_lists(Fixture *f, gconstpointer data)
{
    g_autofree char *s = NULL;

    put(f, "base.yaml",
        "disks:\n"
        "  - {id: root, path: root.img, readonly: false}\n"
        "  - {id: data, path: data.img}\n"
        "devices:\n"
        "  - {type: virtio-rng}\n"
        "tags: [a, b]\n");
    put(f, "child.yaml",
        "extends: base.yaml\n"
        "disks:\n"
        "  - {id: data, readonly: true}\n"
        "  - {id: scratch, path: s.img}\n"
        "devices:\n"
        "  - {type: pvpanic}\n"
        "tags: [c]\n");
    s = load_ok("child.yaml", false);
    g_assert_cmpstr(s, ==,
                    "{disks: [{id: root, path: root.img, readonly: false}, "
                    "{id: data, path: data.img, readonly: true}, "
                    "{id: scratch, path: s.img}], "
                    "devices: [{type: pvpanic}], tags: [c]}");
}

static void test_extends_chain_and_marks(Fixture *f, gconstpointer data)
{
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) root = NULL;
    SpecNode *n;
    SpecPair *pair;

    put(f, "sub/a.yaml",
        "vmspec: 1\n"
        "machine: {memory: 128M, cpus: 1}\n"
        "console: stdio\n");
    put(f, "b.yaml",
        "extends: sub/a.yaml\n"
        "machine: {cpus: 2}\n");
    put(f, "sub/c.yaml",
        "extends: ../b.yaml\n"
        "console: none\n");
    root = spec_load_file("sub/c.yaml", diags);
    g_assert_nonnull(root);
    g_assert_null(spec_node_map_get(root, "extends"));
    /* Inherited from a.yaml: points into a.yaml. */
    n = spec_node_lookup(root, "machine.memory");
    g_assert_cmpstr(spec_node_scalar(n), ==, "128M");
    g_assert_cmpstr(n->mark.file, ==, "sub/../sub/a.yaml");
    g_assert_cmpuint(n->mark.line, ==, 2);
    g_assert_cmpuint(n->mark.column, ==, 19);
    /* Overridden in b.yaml. */
    n = spec_node_lookup(root, "machine.cpus");
    g_assert_cmpstr(spec_node_scalar(n), ==, "2");
    g_assert_cmpstr(n->mark.file, ==, "sub/../b.yaml");
    g_assert_cmpuint(n->mark.line, ==, 2);
    g_assert_cmpuint(n->mark.column, ==, 17);
    /* The merged map takes the child's mark. */
    n = spec_node_map_get(root, "machine");
    g_assert_cmpstr(n->mark.file, ==, "sub/../b.yaml");
    /* Overridden in c.yaml, key and value. */
    pair = spec_node_map_get_pair(root, "console");
    g_assert_cmpstr(spec_node_scalar(pair->value), ==, "none");
    g_assert_cmpstr(pair->key_mark.file, ==, "sub/c.yaml");
    g_assert_cmpuint(pair->key_mark.line, ==, 2);
    g_assert_cmpstr(pair->value->mark.file, ==, "sub/c.yaml");
}

static void test_extends_cycle(Fixture *f, gconstpointer data)
{
    static const LoadErrCase cases[] = {
        { "a.yaml", "b.yaml:1:12: 'extends' cycle: a.yaml -> b.yaml -> "
          "a.yaml", { { "a.yaml", "vmspec: 1\nextends: b.yaml\n" },
                      { "b.yaml", "extends:   a.yaml\nname: b\n" } } },
        { "self.yaml", "self.yaml:1:10: 'extends' cycle: self.yaml -> "
          "./self.yaml", { { "self.yaml", "extends: ./self.yaml\n" } } },
    };

    check_load_errs(f, cases, G_N_ELEMENTS(cases));
}

static void test_extends_missing(Fixture *f, gconstpointer data)
{
    static const LoadErrCase cases[] = {
        { "a.yaml", "b.yaml:2:10: can't read base spec 'nope.yaml': No "
          "such file or directory (a.yaml -> b.yaml -> nope.yaml)",
          { { "a.yaml", "extends: b.yaml\n" },
            { "b.yaml", "vmspec: 1\nextends: nope.yaml\n" } } },
        { "c.yaml", "c.yaml:1:10: 'extends' must name a spec file, not a "
          "map", { { "c.yaml", "extends: {path: b.yaml}\n" } } },
    };
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) node = NULL;
    g_autoptr(GError) err = NULL;

    check_load_errs(f, cases, G_N_ELEMENTS(cases));
    /* A missing base is NOT_FOUND to the caller. */
    node = spec_load_file("a.yaml", diags);
    g_assert_false(spec_diags_to_error(diags, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND);
}

static void test_extends_bad(Fixture *f, gconstpointer data)
{
    static const LoadErrCase cases[] = {
        { "d.yaml", "d.yaml:1:10: can't read base spec 'sub': Is a "
          "directory (d.yaml -> sub)",
          { { "sub/x.yaml", "vmspec: 1\n" },
            { "d.yaml", "extends: sub\n" } } },
        { "n.yaml", "n.yaml:2:9: 'extends' must name a spec file, not null",
          { { "n.yaml", "vmspec: 1\nextends:\n" } } },
        { "q.yaml", "q.yaml:1:10: 'extends' must name a spec file, not an "
          "empty string", { { "q.yaml", "extends: ''\n" } } },
    };

    check_load_errs(f, cases, G_N_ELEMENTS(cases));
}

static void test_extends_too_long(Fixture *f, gconstpointer data)
{
    g_autofree char *e = NULL;

    for (int i = 0; i < 20; i++) {
        g_autofree char *name = g_strdup_printf("c%d.yaml", i);
        g_autofree char *text = g_strdup_printf("extends: c%d.yaml\n", i + 1);

        put(f, name, text);
    }
    e = load_err("c0.yaml");
    g_assert_cmpstr(e, ==, "c15.yaml:1:10: 'extends' chain longer than 16 "
                    "files: c0.yaml -> c1.yaml -> c2.yaml -> c3.yaml -> "
                    "c4.yaml -> c5.yaml -> c6.yaml -> c7.yaml -> c8.yaml -> "
                    "c9.yaml -> c10.yaml -> c11.yaml -> c12.yaml -> "
                    "c13.yaml -> c14.yaml -> c15.yaml -> c16.yaml");
}

static void test_extends_base_error(Fixture *f, gconstpointer data)
{
    static const LoadErrCase cases[] = {
        { "child.yaml", "base.yaml:2:1: duplicate key 'a' (first defined at "
          "line 1)", { { "base.yaml", "a: 1\na: 2\n" },
                       { "child.yaml", "extends: base.yaml\n" } } },
    };

    check_load_errs(f, cases, G_N_ELEMENTS(cases));
}

static void test_load_buffer(Fixture *f, gconstpointer data)
{
    static const char text[] = "extends: base.yaml\nname: x\n";
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) node = NULL;
    g_autofree char *s = NULL;

    put(f, "sub/base.yaml", "vmspec: 1\n");
    node = spec_load_buffer("sub/mem.yaml", text, sizeof(text) - 1, diags);
    g_assert_nonnull(node);
    s = spec_node_to_string(node, false);
    g_assert_cmpstr(s, ==, "{vmspec: 1, name: x}");
}

/* ---- --set ---- */

static SpecNode *sample(void)
{
    static const char text[] =
        "extends: base.yaml\n"
        "machine: {memory: 512M}\n"
        "disks:\n"
        "  - {id: root, path: root.img}\n"
        "  - {id: data, path: data.img}\n"
        "name: x\n";
    g_autoptr(SpecDiags) diags = spec_diags_new();
    SpecNode *node = spec_load_buffer("s.yaml", text, sizeof(text) - 1,
                                      diags);

    g_assert_nonnull(node);
    return node;
}

static void test_set_good(Fixture *f, gconstpointer data)
{
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) root = NULL;
    g_autofree char *s = NULL;
    static const char *const opts[] = {
        "machine.memory=1G",
        "machine.cpus=4",
        "boot.kernel.path=vmlinuz",
        "disks.root.readonly=true",
        "disks.1.path=other.img",
        "boot.cmdline=console=ttyS0 root=/dev/vda",
        "name=",
        NULL
    };
    SpecNode *n;
    SpecPair *pair;

    put(f, "base.yaml", "vmspec: 1\n");
    root = sample();
    g_assert_true(spec_apply_sets(root, opts, -1, diags));
    g_assert_cmpuint(spec_diags_count(diags), ==, 0);
    s = spec_node_to_string(root, false);
    g_assert_cmpstr(s, ==,
                    "{vmspec: 1, machine: {memory: 1G, cpus: 4}, disks: "
                    "[{id: root, path: root.img, readonly: true}, "
                    "{id: data, path: other.img}], name: ~, boot: "
                    "{kernel: {path: vmlinuz}, cmdline: console=ttyS0 "
                    "root=/dev/vda}}");
    n = spec_node_lookup(root, "machine.memory");
    g_assert_false(n->scalar.quoted);
    g_assert_cmpstr(n->mark.file, ==, "--set machine.memory=1G");
    g_assert_cmpuint(n->mark.line, ==, 0);
    pair = spec_node_map_get_pair(spec_node_map_get(root, "boot"),
                                  "kernel");
    g_assert_cmpstr(pair->key_mark.file, ==, "--set boot.kernel.path="
                    "vmlinuz");
    g_assert_true(spec_node_is_null(spec_node_map_get(root, "name")));
}

static void test_set_errors(Fixture *f, gconstpointer data)
{
    /* Each bad option with its diagnostic, which follows "--set OPTION: ";
     * none may change the tree. */
    static const struct {
        const char *opt, *message;
    } bad[] = {
        { "machine.memory", "expected KEY.PATH=VALUE" },
        { "=5", "empty key path before '='" },
        { "machine..memory=1",
          "empty component in key path 'machine..memory'" },
        { "machine.memory.unit=1",
          "'machine.memory' is a scalar ('512M'), so it has no 'unit'" },
        { "disks.2.path=x",
          "'disks' has no item with id '2', nor one at index 2: it has 2 "
          "items" },
        { "disks.99999999999999999999.path=x",
          "'disks' has no item with id '99999999999999999999', nor one at "
          "index 99999999999999999999: it has 2 items" },
        { "disks.#2.path=x", "index #2 is out of range: 'disks' has 2 items" },
        { "disks.#99999999999999999999.path=x",
          "index #99999999999999999999 is out of range: 'disks' has 2 "
          "items" },
        { "disks.#.path=x",
          "'#' is not an index: write #N, N a decimal number from 0" },
        { "disks.#-1.path=x",
          "'#-1' is not an index: write #N, N a decimal number from 0" },
        { "disks.#root.path=x",
          "'#root' is not an index: write #N, N a decimal number from 0" },
        /* Bases are merged before overrides: a new one would be ignored. */
        { "extends=other.yaml", "'extends' can't be set with --set (bases "
          "are merged before overrides apply); write it in the spec" },
        { "extends.x=1", "'extends' can't be set with --set (bases are "
          "merged before overrides apply); write it in the spec" },
        /* Not UTF-8: the option shows with U+FFFD for the bad byte. */
        { "name=\xff", "not valid UTF-8" },
        { "name\xc3=x", "not valid UTF-8" },
        { "disks.rot.path=x",
          "'disks' has no item with id 'rot'; did you mean 'root'?" },
        { "disks.zzz.path=x", "'disks' has no item with id 'zzz'" },
        { "name.first=y", "'name' is a scalar ('x'), so it has no 'first'" },
        { "machine.memory.", "expected KEY.PATH=VALUE" },
    };
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) root = NULL;
    g_autoptr(GPtrArray) opts = g_ptr_array_new();
    g_autoptr(GString) expected = g_string_new(NULL);
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    g_autofree char *text = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *shown = g_utf8_make_valid(bad[i].opt, -1);

        g_ptr_array_add(opts, (gpointer)bad[i].opt);
        g_string_append_printf(expected, "%s--set %s: %s", i ? "\n" : "",
                               shown, bad[i].message);
    }
    g_ptr_array_add(opts, NULL);
    put(f, "base.yaml", "vmspec: 1\n");
    root = sample();
    before = spec_node_to_string(root, true);
    g_assert_false(spec_apply_sets(root, (const char *const *)opts->pdata,
                                   -1, diags));
    after = spec_node_to_string(root, true);
    g_assert_cmpstr(before, ==, after);
    text = spec_diags_format(diags);
    g_assert_cmpstr(text, ==, expected->str);
}

/* A list component is an id first; #N is always an index; a bare number
 * is an index only where no item has it as id (merge.h). */
static void test_set_ids_and_indexes(Fixture *f, gconstpointer data)
{
    static const char text[] =
        "disks:\n"
        "  - {id: '1', path: a.img}\n"
        "  - {id: '0', path: b.img}\n"
        "  - {path: c.img}\n";
    static const char *const opts[] = {
        "disks.0.readonly=true",    /* id '0': the second item */
        "disks.#0.snapshot=true",   /* index 0: the first */
        "disks.1.path=x.img",       /* id '1': the first */
        "disks.2.path=y.img",       /* no id '2': index 2 */
        "disks.#2.readonly=false",
        "disks.#1=~",               /* the whole item */
        NULL
    };
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) root = spec_load_buffer("s.yaml", text,
                                                sizeof(text) - 1, diags);
    SpecNode *disks;
    g_autofree char *s = NULL;

    g_assert_nonnull(root);
    disks = spec_node_map_get(root, "disks");
    /* spec_node_lookup() reads paths by the same rule. */
    g_assert_true(spec_node_lookup(root, "disks.0") ==
                  spec_node_seq_get(disks, 1));
    g_assert_true(spec_node_lookup(root, "disks.#0") ==
                  spec_node_seq_get(disks, 0));
    g_assert_true(spec_node_lookup(root, "disks.1") ==
                  spec_node_seq_get(disks, 0));
    g_assert_true(spec_node_lookup(root, "disks.2") ==
                  spec_node_seq_get(disks, 2));
    g_assert_null(spec_node_lookup(root, "disks.3"));
    g_assert_null(spec_node_lookup(root, "disks.#3"));
    g_assert_null(spec_node_lookup(root, "disks.#x"));

    g_assert_true(spec_apply_sets(root, opts, -1, diags));
    g_assert_cmpuint(spec_diags_count(diags), ==, 0);
    s = spec_node_to_string(root, false);
    g_assert_cmpstr(s, ==, "{disks: [{id: \"1\", path: x.img, snapshot: "
                    "true}, ~, {path: y.img, readonly: false}]}");
}

/* A key path has at most SPEC_SET_MAX_COMPONENTS components, like a file's
 * nesting; one too many is refused before anything is made. */
static void test_set_depth(Fixture *f, gconstpointer data)
{
    g_autoptr(GString) path = g_string_new("a");
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) root = spec_node_new_map(NULL);
    g_autofree char *at_limit = NULL;
    g_autofree char *over = NULL;
    g_autofree char *expected = NULL;
    g_autofree char *text = NULL;
    SpecNode *leaf;

    for (guint i = 1; i < SPEC_SET_MAX_COMPONENTS; i++) {
        g_string_append(path, ".a");
    }
    at_limit = g_strdup_printf("%s=1", path->str);
    over = g_strdup_printf("%s.a=1", path->str);
    g_assert_true(spec_apply_set(root, at_limit, diags));
    leaf = spec_node_lookup(root, path->str);
    g_assert_cmpstr(spec_node_scalar(leaf), ==, "1");

    g_assert_false(spec_apply_set(root, over, diags));
    expected = g_strdup_printf("--set %s: key path too deep: %u components "
                               "(limit %u)", over,
                               SPEC_SET_MAX_COMPONENTS + 1,
                               SPEC_SET_MAX_COMPONENTS);
    text = spec_diags_format(diags);
    g_assert_cmpstr(text, ==, expected);
    /* Unchanged: the deepest scalar is still the one at the limit. */
    g_assert_cmpstr(spec_node_scalar(spec_node_lookup(root, path->str)), ==,
                    "1");
}

/* --set takes UTF-8 values whatever the locale (the option arrives as
 * bytes, cmd.h). */
static void test_set_utf8(Fixture *f, gconstpointer data)
{
    static const char *const opts[] = {
        "boot.cmdline=caf\xc3\xa9 \xe2\x82\xac",
        "disks.r\xc3\xb6\xc3\xb6t.path=x",
        NULL
    };
    static const char text[] = "disks: [{id: 'r\xc3\xb6\xc3\xb6t'}]\n";
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) root = spec_load_buffer("s.yaml", text,
                                                sizeof(text) - 1, diags);

    g_assert_nonnull(root);
    g_assert_true(spec_apply_sets(root, opts, -1, diags));
    g_assert_cmpstr(spec_node_scalar(spec_node_lookup(root, "boot.cmdline")),
                    ==, "caf\xc3\xa9 \xe2\x82\xac");
    g_assert_cmpstr(spec_node_scalar(spec_node_lookup(root, "disks.#0.path")),
                    ==, "x");
}

/* "l: [1, 1, ...]" with n items: n + 2 nodes; extends: first if given. */
static char *list_spec(const char *extends, guint n)
{
    GString *out = g_string_new(NULL);

    if (extends) {
        g_string_append_printf(out, "extends: %s\n", extends);
    }
    g_string_append(out, "l: [1");
    for (guint i = 1; i < n; i++) {
        g_string_append(out, ",1");
    }
    g_string_append(out, "]\n");
    return g_string_free(out, FALSE);
}

/* All the files of a chain are in memory at once: together they get one
 * file's node budget, and the extends that passes it is the error. */
static void test_extends_node_budget(Fixture *f, gconstpointer data)
{
    guint third = SPEC_EXTENDS_MAX_NODES / 3;
    g_autofree char *a = list_spec("b.yaml", third);
    g_autofree char *b = list_spec("c.yaml", third);
    g_autofree char *c = list_spec(NULL, third);
    g_autofree char *d = list_spec(NULL, 10);
    g_autofree char *e = NULL;
    g_autofree char *expected = NULL;
    g_autofree char *s = NULL;

    put(f, "a.yaml", a);
    put(f, "b.yaml", b);
    put(f, "c.yaml", c);
    put(f, "d.yaml", d);
    /* Two thirds fit (a child's list replaces its base's), three don't. */
    s = load_ok("b.yaml", false);
    g_assert_true(g_str_has_prefix(s, "{l: [1, 1"));
    e = load_err("a.yaml");
    expected = g_strdup_printf("b.yaml:1:10: 'extends' chain too large: "
                               "more than %u nodes in all its files "
                               "(a.yaml -> b.yaml -> c.yaml)",
                               SPEC_EXTENDS_MAX_NODES);
    g_assert_cmpstr(e, ==, expected);
    /* A small base under a big child is fine. */
    g_free(a);
    a = list_spec("d.yaml", third * 2);
    put(f, "a.yaml", a);
    g_free(s);
    s = load_ok("a.yaml", false);
    g_assert_true(g_str_has_prefix(s, "{l: [1, 1"));
}

/* Maps past a few keys are indexed (node.c): merging, replacing, stealing
 * and looking up read the same either way. */
static void test_big_maps(Fixture *f, gconstpointer data)
{
    g_autoptr(GString) base = g_string_new(NULL);
    g_autoptr(GString) child = g_string_new("extends: base.yaml\n");
    g_autoptr(GString) want = g_string_new("{");
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) root = NULL;
    g_autofree char *s = NULL;

    for (int i = 0; i < 20; i++) {
        g_string_append_printf(base, "k%d: b%d\n", i, i);
    }
    for (int i = 10; i < 30; i++) {
        g_string_append_printf(child, "k%d: c%d\n", i, i);
    }
    for (int i = 0; i < 30; i++) {
        g_string_append_printf(want, "%sk%d: %c%d", i ? ", " : "", i,
                               i < 10 ? 'b' : 'c', i);
    }
    g_string_append_c(want, '}');
    put(f, "base.yaml", base->str);
    put(f, "child.yaml", child->str);
    root = spec_load_file("child.yaml", diags);
    g_assert_nonnull(root);
    s = spec_node_to_string(root, false);
    g_assert_cmpstr(s, ==, want->str);
    for (int i = 0; i < 30; i++) {
        g_autofree char *key = g_strdup_printf("k%d", i);
        g_autoptr(SpecNode) value = spec_node_map_steal(root, key);

        g_assert_nonnull(value);
        g_assert_null(spec_node_map_get(root, key));
        g_assert_cmpuint(spec_node_map_size(root), ==, 29 - i);
        if (i + 1 < 30) {
            g_autofree char *next = g_strdup_printf("k%d", i + 1);

            g_assert_nonnull(spec_node_map_get(root, next));
        }
    }
    g_assert_true(spec_apply_set(root, "k5=again", diags));
    g_assert_cmpstr(spec_node_scalar(spec_node_map_get(root, "k5")), ==,
                    "again");
}

static void test_merge_api(void)
{
    SpecNode *a = spec_node_new_map(NULL);
    SpecNode *b = spec_node_new_scalar("x", false, NULL);
    g_autoptr(SpecNode) r = NULL;
    g_autofree char *s = NULL;

    g_assert_true(spec_merge(NULL, NULL) == NULL);
    spec_node_map_set(a, "k", NULL, spec_node_new_scalar("1", false, NULL));
    /* A scalar over a map replaces it. */
    r = spec_merge(a, b);
    s = spec_node_to_string(r, false);
    g_assert_cmpstr(s, ==, "x");
}

#define ADD(path, fn) \
    g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ADD("/spec/merge/extends-maps", test_extends_maps);
    ADD("/spec/merge/extends-lists", test_extends_lists);
    ADD("/spec/merge/extends-chain-marks", test_extends_chain_and_marks);
    ADD("/spec/merge/extends-cycle", test_extends_cycle);
    ADD("/spec/merge/extends-missing", test_extends_missing);
    ADD("/spec/merge/extends-bad", test_extends_bad);
    ADD("/spec/merge/extends-too-long", test_extends_too_long);
    ADD("/spec/merge/extends-base-error", test_extends_base_error);
    ADD("/spec/merge/load-buffer", test_load_buffer);
    ADD("/spec/merge/set-good", test_set_good);
    ADD("/spec/merge/set-errors", test_set_errors);
    ADD("/spec/merge/set-ids-and-indexes", test_set_ids_and_indexes);
    ADD("/spec/merge/set-depth", test_set_depth);
    ADD("/spec/merge/set-utf8", test_set_utf8);
    ADD("/spec/merge/extends-node-budget", test_extends_node_budget);
    ADD("/spec/merge/big-maps", test_big_maps);
    g_test_add_func("/spec/merge/api", test_merge_api);
    return g_test_run();
}
