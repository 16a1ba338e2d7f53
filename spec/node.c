/*
 * SpecNode: constructors, ownership, lookups and a flow-style dump.
 */
#include "spec/node.h"

#include <string.h>

void spec_mark_init(SpecMark *mark, const char *file, unsigned line,
                    unsigned column)
{
    mark->file = file ? g_ref_string_new_intern(file) : NULL;
    mark->line = line;
    mark->column = column;
}

void spec_mark_copy(SpecMark *dst, const SpecMark *src)
{
    /* Interning (not acquire) so that src may be a mark someone filled in
     * by hand with a plain string; an interned file just gains a ref. */
    dst->file = src->file ? g_ref_string_new_intern(src->file) : NULL;
    dst->line = src->line;
    dst->column = src->column;
}

void spec_mark_clear(SpecMark *mark)
{
    if (mark->file) {
        g_ref_string_release((char *)mark->file);
    }
    memset(mark, 0, sizeof(*mark));
}

char *spec_mark_to_origin(const SpecMark *mark)
{
    return g_strdup_printf("%s:%u:%u", mark->file ? mark->file : "?",
                           mark->line, mark->column);
}

static SpecNode *node_new(SpecNodeKind kind, const SpecMark *mark)
{
    SpecNode *node = g_new0(SpecNode, 1);

    node->kind = kind;
    if (mark) {
        spec_mark_copy(&node->mark, mark);
    }
    return node;
}

SpecNode *spec_node_new_scalar(const char *text, bool quoted,
                               const SpecMark *mark)
{
    SpecNode *node = node_new(SPEC_NODE_SCALAR, mark);

    node->scalar.text = g_strdup(text ? text : "");
    node->scalar.quoted = quoted;
    return node;
}

static void pair_free(gpointer p)
{
    SpecPair *pair = p;

    g_free(pair->key);
    spec_mark_clear(&pair->key_mark);
    spec_node_free(pair->value);
    g_free(pair);
}

SpecNode *spec_node_new_map(const SpecMark *mark)
{
    SpecNode *node = node_new(SPEC_NODE_MAP, mark);

    node->map.pairs = g_ptr_array_new_with_free_func(pair_free);
    return node;
}

SpecNode *spec_node_new_seq(const SpecMark *mark)
{
    SpecNode *node = node_new(SPEC_NODE_SEQ, mark);

    node->seq = g_ptr_array_new_with_free_func(
        (GDestroyNotify)spec_node_free);
    return node;
}

void spec_node_free(SpecNode *node)
{
    if (!node) {
        return;
    }
    switch (node->kind) {
    case SPEC_NODE_SCALAR:
        g_free(node->scalar.text);
        break;
    case SPEC_NODE_MAP:
        /* The index borrows the pairs' keys: drop it first. */
        g_clear_pointer(&node->map.index, g_hash_table_destroy);
        g_ptr_array_free(node->map.pairs, TRUE);
        break;
    case SPEC_NODE_SEQ:
        g_ptr_array_free(node->seq, TRUE);
        break;
    }
    spec_mark_clear(&node->mark);
    g_free(node);
}

SpecNode *spec_node_copy(const SpecNode *node)
{
    SpecNode *copy;

    if (!node) {
        return NULL;
    }
    switch (node->kind) {
    case SPEC_NODE_SCALAR:
        return spec_node_new_scalar(node->scalar.text, node->scalar.quoted,
                                    &node->mark);
    case SPEC_NODE_MAP:
        copy = spec_node_new_map(&node->mark);
        for (guint i = 0; i < node->map.pairs->len; i++) {
            SpecPair *pair = g_ptr_array_index(node->map.pairs, i);

            spec_node_map_set(copy, pair->key, &pair->key_mark,
                              spec_node_copy(pair->value));
        }
        return copy;
    case SPEC_NODE_SEQ:
        copy = spec_node_new_seq(&node->mark);
        for (guint i = 0; i < node->seq->len; i++) {
            spec_node_seq_append(copy, spec_node_copy(
                                     g_ptr_array_index(node->seq, i)));
        }
        return copy;
    }
    g_assert_not_reached();
}

gsize spec_node_count(const SpecNode *node)
{
    gsize n = 1;

    if (!node) {
        return 0;
    }
    if (node->kind == SPEC_NODE_MAP) {
        for (guint i = 0; i < node->map.pairs->len; i++) {
            SpecPair *pair = g_ptr_array_index(node->map.pairs, i);

            n += spec_node_count(pair->value);
        }
    } else if (node->kind == SPEC_NODE_SEQ) {
        for (guint i = 0; i < node->seq->len; i++) {
            n += spec_node_count(g_ptr_array_index(node->seq, i));
        }
    }
    return n;
}

const char *spec_node_kind_name(SpecNodeKind kind)
{
    switch (kind) {
    case SPEC_NODE_SCALAR:
        return "scalar";
    case SPEC_NODE_MAP:
        return "map";
    case SPEC_NODE_SEQ:
        return "list";
    }
    return "?";
}

bool spec_node_is_null(const SpecNode *node)
{
    static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

    if (!node || node->kind != SPEC_NODE_SCALAR || node->scalar.quoted) {
        return false;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(nulls); i++) {
        if (strcmp(node->scalar.text, nulls[i]) == 0) {
            return true;
        }
    }
    return false;
}

const char *spec_node_scalar(const SpecNode *node)
{
    if (!node || node->kind != SPEC_NODE_SCALAR) {
        return NULL;
    }
    return node->scalar.text;
}

/*
 * Most maps of a spec hold a handful of keys, for which comparing them all
 * costs less than hashing one, and a GHashTable per map would be most of
 * the tree's memory.  Past this many keys a map gets its index, so that a
 * big map (a hostile one: 100,000 keys) is still built and read in linear
 * time.
 */
#define MAP_INDEX_MIN_PAIRS 8

static SpecPair *map_find(const SpecNode *map, const char *key)
{
    if (map->map.index) {
        return g_hash_table_lookup(map->map.index, key);
    }
    for (guint i = 0; i < map->map.pairs->len; i++) {
        SpecPair *pair = g_ptr_array_index(map->map.pairs, i);

        if (strcmp(pair->key, key) == 0) {
            return pair;
        }
    }
    return NULL;
}

static void map_add(SpecNode *map, SpecPair *pair)
{
    GPtrArray *pairs = map->map.pairs;

    g_ptr_array_add(pairs, pair);
    if (map->map.index) {
        g_hash_table_insert(map->map.index, pair->key, pair);
    } else if (pairs->len > MAP_INDEX_MIN_PAIRS) {
        map->map.index = g_hash_table_new(g_str_hash, g_str_equal);
        for (guint i = 0; i < pairs->len; i++) {
            SpecPair *p = g_ptr_array_index(pairs, i);

            g_hash_table_insert(map->map.index, p->key, p);
        }
    }
}

void spec_node_map_set(SpecNode *map, const char *key,
                       const SpecMark *key_mark, SpecNode *value)
{
    SpecPair *pair;

    g_assert(map->kind == SPEC_NODE_MAP);
    pair = map_find(map, key);
    if (pair) {
        if (pair->value != value) {
            spec_node_free(pair->value);
        }
        pair->value = value;
    } else {
        pair = g_new0(SpecPair, 1);
        pair->key = g_strdup(key);
        pair->value = value;
        map_add(map, pair);
    }
    if (key_mark) {
        /* Copy first: key_mark may be &pair->key_mark. */
        SpecMark tmp;

        spec_mark_copy(&tmp, key_mark);
        spec_mark_clear(&pair->key_mark);
        pair->key_mark = tmp;
    }
}

SpecPair *spec_node_map_get_pair(const SpecNode *map, const char *key)
{
    if (!map || map->kind != SPEC_NODE_MAP) {
        return NULL;
    }
    return map_find(map, key);
}

SpecNode *spec_node_map_get(const SpecNode *map, const char *key)
{
    SpecPair *pair = spec_node_map_get_pair(map, key);

    return pair ? pair->value : NULL;
}

SpecNode *spec_node_map_steal(SpecNode *map, const char *key)
{
    SpecPair *pair = spec_node_map_get_pair(map, key);
    SpecNode *value;

    if (!pair) {
        return NULL;
    }
    value = pair->value;
    pair->value = NULL;
    if (map->map.index) {
        g_hash_table_remove(map->map.index, key);
    }
    g_ptr_array_remove(map->map.pairs, pair);   /* frees pair */
    return value;
}

guint spec_node_map_size(const SpecNode *map)
{
    g_assert(map->kind == SPEC_NODE_MAP);
    return map->map.pairs->len;
}

SpecPair *spec_node_map_pair(const SpecNode *map, guint i)
{
    g_assert(map->kind == SPEC_NODE_MAP && i < map->map.pairs->len);
    return g_ptr_array_index(map->map.pairs, i);
}

void spec_node_seq_append(SpecNode *seq, SpecNode *item)
{
    g_assert(seq->kind == SPEC_NODE_SEQ);
    g_ptr_array_add(seq->seq, item);
}

guint spec_node_seq_len(const SpecNode *seq)
{
    g_assert(seq->kind == SPEC_NODE_SEQ);
    return seq->seq->len;
}

SpecNode *spec_node_seq_get(const SpecNode *seq, guint i)
{
    g_assert(seq->kind == SPEC_NODE_SEQ && i < seq->seq->len);
    return g_ptr_array_index(seq->seq, i);
}

/* Parses a decimal list index: digits only, no sign, no overflow. */
static bool parse_index(const char *s, guint *out)
{
    guint64 v = 0;

    if (!*s) {
        return false;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return false;
        }
        v = v * 10 + (guint64)(*s - '0');
        if (v > G_MAXUINT) {
            return false;
        }
    }
    *out = (guint)v;
    return true;
}

const char *spec_node_item_id(const SpecNode *item)
{
    SpecNode *id = spec_node_map_get(item, "id");

    return id && !spec_node_is_null(id) ? spec_node_scalar(id) : NULL;
}

bool spec_node_seq_select(const SpecNode *seq, const char *component,
                          guint *index)
{
    guint idx;

    g_assert(seq->kind == SPEC_NODE_SEQ);
    if (component[0] == SPEC_PATH_INDEX_MARK) {
        if (!parse_index(component + 1, &idx) || idx >= seq->seq->len) {
            return false;
        }
        *index = idx;
        return true;
    }
    for (guint i = 0; i < seq->seq->len; i++) {
        const char *id = spec_node_item_id(g_ptr_array_index(seq->seq, i));

        if (id && strcmp(id, component) == 0) {
            *index = i;
            return true;
        }
    }
    if (parse_index(component, &idx) && idx < seq->seq->len) {
        *index = idx;
        return true;
    }
    return false;
}

SpecNode *spec_node_child(const SpecNode *node, const char *component)
{
    guint idx;

    if (!node) {
        return NULL;
    }
    if (node->kind == SPEC_NODE_MAP) {
        return spec_node_map_get(node, component);
    }
    if (node->kind != SPEC_NODE_SEQ ||
        !spec_node_seq_select(node, component, &idx)) {
        return NULL;
    }
    return g_ptr_array_index(node->seq, idx);
}

SpecNode *spec_node_lookup(const SpecNode *node, const char *path)
{
    g_auto(GStrv) parts = NULL;
    const SpecNode *cur = node;

    if (!path || !*path) {
        return (SpecNode *)node;
    }
    parts = g_strsplit(path, ".", -1);
    for (guint i = 0; parts[i] && cur; i++) {
        cur = spec_node_child(cur, parts[i]);
    }
    return (SpecNode *)cur;
}

static bool needs_quotes(const char *s)
{
    if (!*s) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (strchr(",:[]{}\"#\n", *p)) {
            return true;
        }
    }
    return false;
}

static void append_scalar(GString *out, const SpecNode *node)
{
    const char *s = node->scalar.text;

    if (!node->scalar.quoted && !*s) {
        g_string_append_c(out, '~');    /* an empty plain scalar is null */
        return;
    }
    if (!node->scalar.quoted && !needs_quotes(s)) {
        g_string_append(out, s);
        return;
    }
    g_string_append_c(out, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            g_string_append_c(out, '\\');
            g_string_append_c(out, *p);
        } else if (*p == '\n') {
            g_string_append(out, "\\n");
        } else {
            g_string_append_c(out, *p);
        }
    }
    g_string_append_c(out, '"');
}

static void append_node(GString *out, const SpecNode *node, bool with_marks)
{
    if (with_marks) {
        g_string_append_printf(out, "@%u:%u ", node->mark.line,
                               node->mark.column);
    }
    switch (node->kind) {
    case SPEC_NODE_SCALAR:
        append_scalar(out, node);
        break;
    case SPEC_NODE_MAP:
        g_string_append_c(out, '{');
        for (guint i = 0; i < node->map.pairs->len; i++) {
            SpecPair *pair = g_ptr_array_index(node->map.pairs, i);

            g_string_append(out, i ? ", " : "");
            if (with_marks) {
                g_string_append_printf(out, "@%u:%u ", pair->key_mark.line,
                                       pair->key_mark.column);
            }
            g_string_append_printf(out, "%s: ", pair->key);
            append_node(out, pair->value, with_marks);
        }
        g_string_append_c(out, '}');
        break;
    case SPEC_NODE_SEQ:
        g_string_append_c(out, '[');
        for (guint i = 0; i < node->seq->len; i++) {
            g_string_append(out, i ? ", " : "");
            append_node(out, g_ptr_array_index(node->seq, i), with_marks);
        }
        g_string_append_c(out, ']');
        break;
    }
}

char *spec_node_to_string(const SpecNode *node, bool with_marks)
{
    GString *out = g_string_new(NULL);

    if (node) {
        append_node(out, node, with_marks);
    }
    return g_string_free(out, FALSE);
}
