/*
 * extends: resolution, deep merge and --set overrides.
 */
#include "spec/merge.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/qom/error.h"
#include "spec/parse.h"
#include "spec/readfile.h"
#include "spec/suggest.h"

/* ---- deep merge ---- */

/* True when seq is non-empty and every item is a map with a scalar id. */
static bool merges_by_id(const SpecNode *seq)
{
    if (seq->seq->len == 0) {
        return false;
    }
    for (guint i = 0; i < seq->seq->len; i++) {
        if (!spec_node_item_id(g_ptr_array_index(seq->seq, i))) {
            return false;
        }
    }
    return true;
}

static void take_mark(SpecNode *dst, const SpecNode *src)
{
    spec_mark_clear(&dst->mark);
    spec_mark_copy(&dst->mark, &src->mark);
}

static SpecNode *merge_maps(SpecNode *base, SpecNode *over)
{
    for (guint i = 0; i < over->map.pairs->len; i++) {
        SpecPair *op = g_ptr_array_index(over->map.pairs, i);
        SpecPair *bp = spec_node_map_get_pair(base, op->key);
        SpecNode *value = op->value;

        op->value = NULL;
        if (bp) {
            bp->value = spec_merge(bp->value, value);
            spec_mark_clear(&bp->key_mark);
            spec_mark_copy(&bp->key_mark, &op->key_mark);
        } else {
            spec_node_map_set(base, op->key, &op->key_mark, value);
        }
    }
    take_mark(base, over);
    spec_node_free(over);
    return base;
}

static SpecNode *merge_lists(SpecNode *base, SpecNode *over)
{
    /* id -> index into base->seq.  Keys are copies: merging replaces the
     * base item's id node. */
    g_autoptr(GHashTable) by_id = g_hash_table_new_full(g_str_hash,
                                                        g_str_equal,
                                                        g_free, NULL);

    for (guint i = 0; i < base->seq->len; i++) {
        const char *id = spec_node_item_id(g_ptr_array_index(base->seq, i));

        if (!g_hash_table_contains(by_id, id)) {
            g_hash_table_insert(by_id, g_strdup(id), GUINT_TO_POINTER(i));
        }
    }
    for (guint i = 0; i < over->seq->len; i++) {
        SpecNode *item = g_ptr_array_index(over->seq, i);
        const char *id = spec_node_item_id(item);
        gpointer idx;

        over->seq->pdata[i] = NULL;
        if (g_hash_table_lookup_extended(by_id, id, NULL, &idx)) {
            guint j = GPOINTER_TO_UINT(idx);
            base->seq->pdata[j] = spec_merge(base->seq->pdata[j], item);
        } else {
            spec_node_seq_append(base, item);
            g_hash_table_insert(by_id, g_strdup(id),
                                GUINT_TO_POINTER(base->seq->len - 1));
        }
    }
    take_mark(base, over);
    spec_node_free(over);
    return base;
}

SpecNode *spec_merge(SpecNode *base, SpecNode *over)
{
    if (!base) {
        return over;
    }
    if (!over) {
        return base;
    }
    if (base->kind == SPEC_NODE_MAP && over->kind == SPEC_NODE_MAP) {
        return merge_maps(base, over);
    }
    if (base->kind == SPEC_NODE_SEQ && over->kind == SPEC_NODE_SEQ &&
        merges_by_id(base) && merges_by_id(over)) {
        return merge_lists(base, over);
    }
    spec_node_free(base);
    return over;
}

/* ---- extends ---- */

/* What is known about one file of the chain. */
typedef struct Chain {
    GPtrArray *names;   /* display paths, outermost first */
    GPtrArray *keys;    /* canonical paths, same order; NULL for a file
                         * without extends (nothing is compared with it) */
    gsize nodes;        /* nodes of every file parsed so far */
} Chain;

static char *canonical_path(const char *path)
{
    char *real = realpath(path, NULL);

    if (real) {
        char *copy = g_strdup(real);

        free(real);
        return copy;
    }
    return g_canonicalize_filename(path, NULL);
}

/* "a.yaml -> b.yaml" plus, when next is given, " -> next". */
static char *chain_text(const Chain *chain, const char *next)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < chain->names->len; i++) {
        g_string_append_printf(out, "%s%s", i ? " -> " : "",
                               (char *)g_ptr_array_index(chain->names, i));
    }
    if (next) {
        g_string_append_printf(out, " -> %s", next);
    }
    return g_string_free(out, FALSE);
}

/* The path of base as seen from the spec at child. */
static char *base_path(const char *child, const char *base)
{
    g_autofree char *dir = NULL;

    if (g_path_is_absolute(base)) {
        return g_strdup(base);
    }
    dir = spec_path_dir(child);
    if (strcmp(dir, ".") == 0) {
        return g_strdup(base);
    }
    return g_build_filename(dir, base, NULL);
}

static SpecNode *load_chain(const char *path, SpecNode *node, Chain *chain,
                            SpecDiags *diags);

/* Resolves node's extends (node is the spec at path, last in chain). */
static SpecNode *resolve_extends(const char *path, SpecNode *node,
                                 Chain *chain, SpecDiags *diags)
{
    SpecNode *ext = spec_node_map_get(node, "extends");
    g_autofree char *next = NULL;
    g_autofree char *key = NULL;
    g_autofree char *shown = NULL;
    SpecNode *base;
    struct stat st;
    int err = 0;

    if (!ext) {
        return node;
    }
    if (ext->kind != SPEC_NODE_SCALAR || spec_node_is_null(ext) ||
        !*ext->scalar.text) {
        const char *what = spec_node_is_null(ext) ? "null"
            : ext->kind == SPEC_NODE_SCALAR ? "an empty string"
            : ext->kind == SPEC_NODE_MAP ? "a map" : "a list";

        spec_diags_add(diags, &ext->mark, "'extends' must name a spec "
                       "file, not %s", what);
        goto fail;
    }
    next = base_path(path, ext->scalar.text);
    key = canonical_path(next);
    shown = chain_text(chain, next);
    for (guint i = 0; i < chain->keys->len; i++) {
        const char *seen = g_ptr_array_index(chain->keys, i);

        if (seen && strcmp(seen, key) == 0) {
            spec_diags_add(diags, &ext->mark, "'extends' cycle: %s", shown);
            goto fail;
        }
    }
    if (chain->names->len >= SPEC_EXTENDS_MAX_DEPTH) {
        spec_diags_add(diags, &ext->mark, "'extends' chain longer than %d "
                       "files: %s", SPEC_EXTENDS_MAX_DEPTH, shown);
        goto fail;
    }
    if (stat(next, &st) < 0 || access(next, R_OK) < 0) {
        err = errno;
    } else if (S_ISDIR(st.st_mode)) {
        err = EISDIR;
    } else if (!S_ISREG(st.st_mode)) {
        /* Refused here, at the extends: that names it, rather than by the
         * reader, at the FIFO or device itself. */
        spec_diags_add(diags, &ext->mark, "can't read base spec '%s': not a "
                       "regular file (%s)", next, shown);
        goto fail;
    }
    if (err) {
        spec_diags_add_code(diags, err == ENOENT ? VMSPEC_ERROR_NOT_FOUND
                                                 : VMSPEC_ERROR_IO,
                            &ext->mark, "can't read base spec '%s': %s "
                            "(%s)", next, g_strerror(err), shown);
        goto fail;
    }
    base = spec_parse_file(next, diags);
    if (!base) {
        goto fail;
    }
    /* Each file is held until its base is merged under it, so the whole
     * chain is in memory at once: it gets one file's budget. */
    chain->nodes += spec_node_count(base);
    if (chain->nodes > SPEC_EXTENDS_MAX_NODES) {
        spec_diags_add(diags, &ext->mark, "'extends' chain too large: more "
                       "than %u nodes in all its files (%s)",
                       SPEC_EXTENDS_MAX_NODES, shown);
        spec_node_free(base);
        goto fail;
    }
    base = load_chain(next, base, chain, diags);
    if (!base) {
        goto fail;
    }
    spec_node_free(spec_node_map_steal(node, "extends"));
    return spec_merge(base, node);

fail:
    spec_node_free(node);
    return NULL;
}

/* Loads path, already parsed into node, with its extends, pushing it onto
 * chain for the duration. */
static SpecNode *load_chain(const char *path, SpecNode *node, Chain *chain,
                            SpecDiags *diags)
{
    SpecNode *result;

    g_ptr_array_add(chain->names, g_strdup(path));
    /* Keys only serve to find cycles, which need extends: a spec without
     * one (the common case) costs no realpath() and its readlink() calls. */
    g_ptr_array_add(chain->keys, spec_node_map_get(node, "extends")
                                 ? canonical_path(path) : NULL);
    result = resolve_extends(path, node, chain, diags);
    g_ptr_array_remove_index(chain->names, chain->names->len - 1);
    g_ptr_array_remove_index(chain->keys, chain->keys->len - 1);
    return result;
}

/* Loads the spec name, parsed into node (consumed; NULL after a parse
 * error). */
static SpecNode *load(const char *name, SpecNode *node, SpecDiags *diags)
{
    Chain chain = {
        .names = g_ptr_array_new_with_free_func(g_free),
        .keys = g_ptr_array_new_with_free_func(g_free),
    };
    SpecNode *result;

    if (!node) {
        return NULL;
    }
    /* A spec without extends (the common case) needs no count. */
    if (spec_node_map_get(node, "extends")) {
        chain.nodes = spec_node_count(node);
    }
    result = load_chain(name, node, &chain, diags);

    g_ptr_array_free(chain.names, TRUE);
    g_ptr_array_free(chain.keys, TRUE);
    return result;
}

SpecNode *spec_load_file(const char *path, SpecDiags *diags)
{
    return load(path, spec_parse_file(path, diags), diags);
}

SpecNode *spec_load_buffer(const char *name, const char *data, gsize len,
                           SpecDiags *diags)
{
    return load(name, spec_parse_buffer(name, data, len, diags), diags);
}

/* ---- --set ---- */

/* The index of the item of seq that component selects (node.h gives the
 * rule), or -1 after a diagnostic; where is the path up to seq. */
static gssize select_item(SpecNode *seq, const char *component,
                          const char *where, const SpecMark *mark,
                          SpecDiags *diags)
{
    g_autoptr(GPtrArray) ids = NULL;
    g_autofree char *hint = NULL;
    guint len = seq->seq->len;
    guint idx;

    if (spec_node_seq_select(seq, component, &idx)) {
        return idx;
    }
    if (component[0] == SPEC_PATH_INDEX_MARK) {
        const char *digits = component + 1;

        if (!*digits || strspn(digits, "0123456789") != strlen(digits)) {
            spec_diags_add(diags, mark, "'%s' is not an index: write #N, "
                           "N a decimal number from 0", component);
        } else {
            spec_diags_add(diags, mark, "index %s is out of range: '%s' "
                           "has %u item%s", component, where, len,
                           len == 1 ? "" : "s");
        }
        return -1;
    }
    if (g_ascii_isdigit(component[0]) &&
        strspn(component, "0123456789") == strlen(component)) {
        spec_diags_add(diags, mark, "'%s' has no item with id '%s', nor "
                       "one at index %s: it has %u item%s", where, component,
                       component, len, len == 1 ? "" : "s");
        return -1;
    }
    ids = g_ptr_array_new();
    for (guint i = 0; i < len; i++) {
        const char *id = spec_node_item_id(g_ptr_array_index(seq->seq, i));

        if (id) {
            g_ptr_array_add(ids, (gpointer)id);
        }
    }
    hint = spec_suggest_hint(component, (const char *const *)ids->pdata,
                             ids->len);
    spec_diags_add(diags, mark, "'%s' has no item with id '%s'%s", where,
                   component, hint);
    return -1;
}

/* Checks the key path (the text before '=') and splits it into its
 * components; NULL after a diagnostic. */
static char **split_path(const char *path, const SpecMark *mark,
                         SpecDiags *diags)
{
    char **parts;
    guint n = 1;

    if (!*path) {
        spec_diags_add(diags, mark, "empty key path before '='");
        return NULL;
    }
    /* Counted before splitting: a hostile path of 100,000 components is
     * refused without building them. */
    for (const char *p = path; *p; p++) {
        n += *p == '.';
    }
    if (n > SPEC_SET_MAX_COMPONENTS) {
        spec_diags_add(diags, mark, "key path too deep: %u components "
                       "(limit %u)", n, SPEC_SET_MAX_COMPONENTS);
        return NULL;
    }
    parts = g_strsplit(path, ".", -1);
    for (guint i = 0; parts[i]; i++) {
        if (!*parts[i]) {
            spec_diags_add(diags, mark, "empty component in key path '%s'",
                           path);
            g_strfreev(parts);
            return NULL;
        }
    }
    if (strcmp(parts[0], "extends") == 0) {
        /* Bases are merged when the spec is loaded, before any --set: a
         * new extends would be dropped without a word. */
        spec_diags_add(diags, mark, "'extends' can't be set with --set "
                       "(bases are merged before overrides apply); write "
                       "it in the spec");
        g_strfreev(parts);
        return NULL;
    }
    return parts;
}

static bool apply_set(SpecNode *root, const char *option,
                      const SpecMark *mark, SpecDiags *diags)
{
    const char *eq = strchr(option, '=');
    g_autofree char *path = NULL;
    g_auto(GStrv) parts = NULL;
    SpecNode *cur = root;
    gsize where_len = 0;    /* of the path up to cur */

    if (!g_utf8_validate(option, -1, NULL)) {
        spec_diags_add(diags, mark, "not valid UTF-8");
        return false;
    }
    if (!eq) {
        spec_diags_add(diags, mark, "expected KEY.PATH=VALUE");
        return false;
    }
    path = g_strndup(option, (gsize)(eq - option));
    parts = split_path(path, mark, diags);
    if (!parts) {
        return false;
    }
    for (guint i = 0; parts[i]; i++) {
        bool last = !parts[i + 1];
        g_autofree char *where = NULL;

        if (cur->kind == SPEC_NODE_MAP) {
            SpecNode *child = last ? NULL : spec_node_map_get(cur, parts[i]);

            if (last) {
                spec_node_map_set(cur, parts[i], mark,
                                  spec_node_new_scalar(eq + 1, false, mark));
                return true;
            }
            if (!child) {
                child = spec_node_new_map(mark);
                spec_node_map_set(cur, parts[i], mark, child);
            }
            cur = child;
        } else if (cur->kind == SPEC_NODE_SEQ) {
            gssize j;

            where = g_strndup(path, where_len);
            j = select_item(cur, parts[i], where, mark, diags);
            if (j < 0) {
                return false;
            }
            if (last) {
                spec_node_free(cur->seq->pdata[j]);
                cur->seq->pdata[j] = spec_node_new_scalar(eq + 1, false,
                                                          mark);
                return true;
            }
            cur = cur->seq->pdata[j];
        } else {
            where = g_strndup(path, where_len);
            spec_diags_add(diags, mark, "'%s' is a scalar ('%s'), so it "
                           "has no '%s'", where, cur->scalar.text, parts[i]);
            return false;
        }
        where_len += (i ? 1 : 0) + strlen(parts[i]);
    }
    g_assert_not_reached();
}

bool spec_apply_set(SpecNode *root, const char *option, SpecDiags *diags)
{
    /* Invalid UTF-8 is refused, but the option still names itself in the
     * message, which must be text. */
    g_autofree char *text = g_utf8_make_valid(option, -1);
    g_autofree char *file = g_strdup_printf("--set %s", text);
    SpecMark mark = { 0 };
    bool ok;

    g_assert(root->kind == SPEC_NODE_MAP);
    spec_mark_init(&mark, file, 0, 0);
    ok = apply_set(root, option, &mark, diags);
    spec_mark_clear(&mark);
    return ok;
}

bool spec_apply_sets(SpecNode *root, const char *const *options, gssize n,
                     SpecDiags *diags)
{
    bool ok = true;

    for (gssize i = 0; n < 0 ? options[i] != NULL : i < n; i++) {
        ok &= spec_apply_set(root, options[i], diags);
    }
    return ok;
}
