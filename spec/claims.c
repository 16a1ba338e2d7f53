/*
 * Host resource claims of specs, and their clashes (see claims.h).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "machine/qom/error.h"
#include "machine/qom/property.h"
#include "spec/claims.h"

/* --- Collecting -------------------------------------------------------- */

typedef struct {
    GHashTable *seen;
    GPtrArray *files;       /* borrowed from the marks, in tree order */
} SpecFiles;

static void add_file(SpecFiles *f, const char *file)
{
    if (file && g_hash_table_add(f->seen, (gpointer)file)) {
        g_ptr_array_add(f->files, (gpointer)file);
    }
}

/* Every file a node of the tree came from; --set values (line 0) come
 * from no file. */
static void find_spec_files(const SpecNode *node, SpecFiles *f)
{
    if (node->mark.line) {
        add_file(f, node->mark.file);
    }
    if (node->kind == SPEC_NODE_MAP) {
        for (guint i = 0; i < spec_node_map_size(node); i++) {
            SpecPair *pair = spec_node_map_pair(node, i);

            if (pair->key_mark.line) {
                add_file(f, pair->key_mark.file);
            }
            find_spec_files(pair->value, f);
        }
    } else if (node->kind == SPEC_NODE_SEQ) {
        for (guint i = 0; i < spec_node_seq_len(node); i++) {
            find_spec_files(spec_node_seq_get(node, i), f);
        }
    }
}

/* The spec and its bases.  A base all of whose keys a child overrides
 * leaves no mark in the merged tree, and so is not found: it is then read
 * by no value the VM uses. */
static void claim_spec_files(const SpecNode *root, HostClaims *claims)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GPtrArray) files = g_ptr_array_new();
    SpecFiles f = { seen, files };

    find_spec_files(root, &f);
    for (guint i = 0; i < files->len; i++) {
        const char *file = files->pdata[i];
        g_autofree char *path = g_canonicalize_filename(file, NULL);

        host_claims_add(claims, &(HostClaim){
            .kind = HOST_CLAIM_FILE, .value = path, .noun = "the spec file",
        });
    }
}

typedef struct {
    Object *obj;
    const char *key_prefix;     /* "machine." for ungrouped keys, or "" */
    const SpecNode *root;
    HostClaims *claims;
} PathClaimer;

/* A file property of the vm or the machine (boot.kernel) is read. */
static void claim_path_property(const Property *prop, ObjectClass *owner,
                                void *opaque)
{
    PathClaimer *c = opaque;
    const FilePath *fp;
    g_autofree char *key = NULL, *noun = NULL, *origin = NULL;
    const SpecNode *node;

    if (prop->kind != PROP_KIND_PATH) {
        return;
    }
    fp = object_property_field(c->obj, prop);
    if (!fp->path || !*fp->path) {
        return;
    }
    key = prop->group ? g_strdup_printf("%s.%s", prop->group, prop->name)
                      : g_strdup_printf("%s%s", c->key_prefix, prop->name);
    noun = g_strdup_printf("the %s", prop->name);
    node = spec_node_lookup(c->root, key);
    origin = node ? spec_mark_to_origin(&node->mark) : NULL;
    host_claims_add(c->claims, &(HostClaim){
        .kind = HOST_CLAIM_FILE, .value = fp->path, .noun = noun,
        .who = key, .origin = origin,
    });
}

static void claim_path_properties(Object *obj, const char *key_prefix,
                                  const SpecNode *root, HostClaims *claims)
{
    PathClaimer c = { obj, key_prefix, root, claims };

    object_class_foreach_property(obj->klass, claim_path_property, &c);
}

void spec_collect_claims(Vm *vm, const SpecNode *root, HostClaims *claims)
{
    MachineState *ms = vm_get_machine(vm);
    const SpecNode *console = spec_node_map_get(root, "console");

    claim_spec_files(root, claims);
    claim_path_properties(OBJECT(vm), "", root, claims);
    if (ms) {
        claim_path_properties(OBJECT(ms), "machine.", root, claims);
        host_claims_collect(OBJECT(ms), claims);
    }
    /* Last, so that a console on a file the spec uses otherwise is
     * reported at the console. */
    if (vm->console && g_str_has_prefix(vm->console, "file:")) {
        g_autofree char *origin = console
            ? spec_mark_to_origin(&console->mark) : NULL;

        host_claims_add(claims, &(HostClaim){
            .kind = HOST_CLAIM_FILE, .value = vm->console + 5,
            .writes = true, .noun = "the console file",
            .who = "the console", .origin = origin,
        });
    }
}

/* --- Clashes ----------------------------------------------------------- */

typedef struct {
    const HostClaim *claim;
    const char *owner;
} TableEntry;

struct ClaimTable {
    GHashTable *by_key;     /* identity -> GArray of TableEntry */
    SpecFileProbes *probes;
};

/* One file, however it is spelled: its inode when it exists, else its
 * path with the directory's symlinks resolved. */
static char *claim_key(ClaimTable *table, const HostClaim *claim)
{
    g_autofree char *path = NULL, *dir = NULL, *base = NULL;
    char *real_dir;
    struct stat st;
    char *key;

    switch (claim->kind) {
    case HOST_CLAIM_TAP:
        return g_strdup_printf("tap %s", claim->value);
    case HOST_CLAIM_MAC:
        return g_strdup_printf("mac %s", claim->value);
    case HOST_CLAIM_PORT:
        return g_strdup_printf("port %s", claim->value);
    case HOST_CLAIM_GUEST_NAME:
        return g_strdup_printf("guest %s", claim->value);
    case HOST_CLAIM_FILE:
        break;
    }
    if (spec_file_probe_stat(table->probes, claim->value, &st) == 0) {
        return g_strdup_printf("inode %ju:%ju", (uintmax_t)st.st_dev,
                               (uintmax_t)st.st_ino);
    }
    path = g_canonicalize_filename(claim->value, NULL);
    dir = g_path_get_dirname(path);
    base = g_path_get_basename(path);
    real_dir = realpath(dir, NULL);
    key = g_strdup_printf("path %s/%s", real_dir ? real_dir : dir, base);
    free(real_dir);
    return key;
}

ClaimTable *claim_table_new(SpecFileProbes *probes)
{
    ClaimTable *table = g_new0(ClaimTable, 1);

    table->probes = probes;
    table->by_key = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify)g_array_unref);
    return table;
}

void claim_table_free(ClaimTable *table)
{
    if (table) {
        g_hash_table_unref(table->by_key);
        g_free(table);
    }
}

static bool clash(const HostClaim *a, const HostClaim *b)
{
    return a->kind != HOST_CLAIM_FILE || a->writes || b->writes;
}

const HostClaim *claim_table_add(ClaimTable *table, const HostClaim *claim,
                                 const char *owner,
                                 const char **other_owner)
{
    char *key = claim_key(table, claim);
    GArray *entries = g_hash_table_lookup(table->by_key, key);
    TableEntry entry = { claim, owner };

    if (!entries) {
        entries = g_array_new(false, false, sizeof(TableEntry));
        g_hash_table_insert(table->by_key, key, entries);
    } else {
        g_free(key);
    }
    for (guint i = 0; i < entries->len; i++) {
        TableEntry *e = &g_array_index(entries, TableEntry, i);

        if (clash(e->claim, claim)) {
            if (other_owner) {
                *other_owner = e->owner;
            }
            return e->claim;
        }
    }
    g_array_append_val(entries, entry);
    return NULL;
}

char *spec_claim_display(const HostClaim *claim)
{
    char *real = claim->kind == HOST_CLAIM_FILE
        ? realpath(claim->value, NULL) : NULL;
    char *out = g_strdup(real ? real : claim->value);

    free(real);
    return out;
}

/* Adds a diagnostic at origin "FILE:LINE:COL" (the file may hold ':'). */
static void G_GNUC_PRINTF(3, 4)
add_at_origin(SpecDiags *diags, const char *origin, const char *fmt, ...)
{
    g_autofree char *file = g_strdup(origin), *msg = NULL;
    char *col = file ? strrchr(file, ':') : NULL;
    char *line = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (col) {
        *col++ = '\0';
        line = strrchr(file, ':');
    }
    if (!line) {
        spec_diags_add_at(diags, VMSPEC_ERROR_INVALID, file, 0, 0, "%s", msg);
        return;
    }
    *line++ = '\0';
    spec_diags_add_at(diags, VMSPEC_ERROR_INVALID, file,
                      (unsigned)strtoul(line, NULL, 10),
                      (unsigned)strtoul(col, NULL, 10), "%s", msg);
}

/* " (disk 'd', vm.yaml:6:5)", " (vm.yaml:6:5)" or "". */
static char *where(const HostClaim *claim)
{
    if (claim->who && claim->origin) {
        return g_strdup_printf(" (%s, %s)", claim->who, claim->origin);
    }
    if (claim->who || claim->origin) {
        return g_strdup_printf(" (%s)", claim->who ? claim->who
                                                   : claim->origin);
    }
    return g_strdup("");
}

static const char *who(const HostClaim *claim)
{
    return claim->who ? claim->who : claim->noun;
}

/* later clashes with earlier: one message, placed at later. */
static void report_clash(SpecDiags *diags, const HostClaim *later,
                         const HostClaim *earlier)
{
    g_autofree char *value = spec_claim_display(later);
    g_autofree char *first = g_strdup_printf(
        " (%s)", earlier->origin ? earlier->origin : "?");

    if (later->kind != HOST_CLAIM_FILE) {
        add_at_origin(diags, later->origin, "%s and %s%s both use %s %s",
                      who(later), who(earlier), first, later->noun, value);
    } else if (later->writes && earlier->writes) {
        add_at_origin(diags, later->origin, "%s and %s%s both write %s",
                      who(later), who(earlier), first, value);
    } else if (later->writes) {
        g_autofree char *at = where(earlier);

        add_at_origin(diags, later->origin, "%s writes %s %s%s", who(later),
                      earlier->noun, value, at);
    } else {
        add_at_origin(diags, later->origin, "%s reads %s, which %s%s "
                      "writes", who(later), value, who(earlier), first);
    }
}

void spec_check_claims(const HostClaims *claims, SpecFileProbes *probes,
                       SpecDiags *diags)
{
    g_autoptr(ClaimTable) table = claim_table_new(probes);

    for (guint i = 0; i < host_claims_len(claims); i++) {
        const HostClaim *claim = host_claims_get(claims, i);
        const HostClaim *earlier;
        struct stat st;

        if (claim->kind == HOST_CLAIM_FILE && claim->writes &&
            spec_file_probe_stat(probes, claim->value, &st) == 0 &&
            S_ISDIR(st.st_mode)) {
            add_at_origin(diags, claim->origin, "%s writes %s, which is a "
                          "directory", who(claim), claim->value);
            continue;
        }
        earlier = claim_table_add(table, claim, NULL, NULL);
        if (earlier) {
            report_clash(diags, claim, earlier);
        }
    }
}
