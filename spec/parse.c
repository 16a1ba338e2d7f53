/*
 * YAML -> SpecNode with libyaml's event API.  A small recursive-descent
 * builder over the event stream; recursion is bounded by
 * SPEC_PARSE_MAX_DEPTH, tree size by SPEC_PARSE_MAX_NODES.
 */
#include "spec/parse.h"

#include <stdint.h>
#include <string.h>
#include <yaml.h>

#include "machine/qom/error.h"
#include "machine/qom/property.h"
#include "spec/readfile.h"
#include "spec/scalar.h"
#include "spec/yaml-error.h"
#include "spec/yaml-text.h"

/* A completed anchor: the node it names (owned by the tree being built) and
 * what a copy of it would cost. */
typedef struct Anchor {
    SpecNode *node;
    gsize count;        /* nodes in the subtree */
    unsigned height;    /* nesting levels in the subtree, 1 for a scalar */
} Anchor;

typedef struct Parser {
    yaml_parser_t yaml;
    const char *name;           /* GRefString, for marks */
    SpecYamlText text;          /* what libyaml reads */
    SpecDiags *diags;
    GHashTable *anchors;        /* name -> Anchor *, completed anchors */
    GHashTable *pending;        /* name -> count of open nodes so named */
    GPtrArray *graveyard;       /* nodes dropped mid-parse, freed at end */
    gsize nodes;
    bool failed;                /* a diagnostic was added */
} Parser;

static void mark_from_yaml(Parser *p, SpecMark *mark, const yaml_mark_t *ym)
{
    mark->file = p->name;
    mark->line = (unsigned)MIN(ym->line, G_MAXUINT - 1) + 1;
    mark->column = (unsigned)MIN(ym->column, G_MAXUINT - 1) + 1;
}

static void G_GNUC_PRINTF(3, 4)
error_at(Parser *p, const yaml_mark_t *ym, const char *fmt, ...)
{
    SpecMark mark;
    va_list ap;
    g_autofree char *msg = NULL;

    mark_from_yaml(p, &mark, ym);
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    spec_diags_add(p->diags, &mark, "%s", msg);
    p->failed = true;
}

/* Reports the error libyaml's parser stopped on. */
static void report_yaml_error(Parser *p)
{
    SpecTextPos pos;
    g_autofree char *message = spec_yaml_error_describe(&p->yaml, &p->text,
                                                        &pos);
    yaml_mark_t ym = { .line = pos.line, .column = pos.column };

    error_at(p, &ym, "%s", message);
}

/* Fetches the next event into *ev; on a syntax error reports it and
 * returns false (*ev then needs no delete). */
static bool next_event(Parser *p, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&p->yaml, ev)) {
        report_yaml_error(p);
        return false;
    }
    return true;
}

/*
 * Where a node's tag was written.  The event's start mark is at the node's
 * first property, which may be its anchor: `&a !!str x`, the tag after the
 * anchor's name and the spaces, breaks and comments that may follow it
 * (YAML 1.2, 6.9).
 */
static yaml_mark_t tag_mark(Parser *p, const yaml_event_t *ev)
{
    SpecTextPos start = { ev->start_mark.line, ev->start_mark.column };
    const char *d = p->text.data;
    gsize len = p->text.len, off = spec_yaml_text_offset(&p->text, start);
    yaml_mark_t mark = ev->start_mark;

    if (off < len && d[off] == '&') {
        while (off < len && !strchr(" \t\r\n,[]{}", d[off])) {
            off++;
        }
        while (off < len && d[off] &&
               (strchr(" \t\r\n", d[off]) || d[off] == '#')) {
            if (d[off] == '#') {
                off += strcspn(d + off, "\r\n");
            } else {
                off++;
            }
        }
    }
    if (off < len && d[off] == '!') {
        SpecTextPos pos = spec_yaml_text_position(&p->text, off);

        mark.line = pos.line;
        mark.column = pos.column;
    }
    return mark;
}

/* Reports a tag that is not the core schema's, at the tag. */
static void unsupported_tag(Parser *p, const yaml_event_t *ev,
                            const char *tag)
{
    g_autofree char *shown = spec_tag_quote(tag);
    yaml_mark_t mark = tag_mark(p, ev);

    error_at(p, &mark, "unsupported tag %s (only the YAML 1.2 core "
             "schema's !!str, !!int, !!float, !!bool, !!null, !!map and "
             "!!seq, and the non-specific !, are allowed)", shown);
}

/* A map or list may be tagged ! or with the core tag of its kind; a wrong
 * tag is reported and the node kept as written. */
static void check_collection_tag(Parser *p, const yaml_event_t *ev,
                                 const char *tag, bool is_map)
{
    SpecTag t = spec_tag_lookup(tag);

    if (t == SPEC_TAG_UNSUPPORTED) {
        unsupported_tag(p, ev, tag);
    } else if (t != SPEC_TAG_NONE && t != SPEC_TAG_NON_SPECIFIC &&
               t != (is_map ? SPEC_TAG_MAP : SPEC_TAG_SEQ)) {
        g_autofree char *shown = spec_tag_quote(tag);
        yaml_mark_t mark = tag_mark(p, ev);

        error_at(p, &mark, "tag %s can't be used on a %s", shown,
                 is_map ? "map" : "list");
    }
}

/*
 * Whether a scalar resolves as a string: when quoted (any style but plain)
 * or tagged ! or !!str.  A scalar tagged !!int, !!float, !!bool or !!null
 * must be written as one (see spec_tag_accepts) and then resolves as plain
 * text, whatever its style.  A wrong tag is reported.
 */
static bool scalar_is_string(Parser *p, const yaml_event_t *ev)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    const char *text = (const char *)ev->data.scalar.value;
    SpecTag t = spec_tag_lookup(tag);
    g_autofree char *shown = NULL;
    yaml_mark_t mark;

    switch (t) {
    case SPEC_TAG_NONE:
        return ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    case SPEC_TAG_NON_SPECIFIC:
    case SPEC_TAG_STR:
        return true;
    case SPEC_TAG_UNSUPPORTED:
        unsupported_tag(p, ev, tag);
        return false;
    default:
        break;
    }
    if (spec_tag_accepts(t, text)) {
        return false;
    }
    shown = spec_tag_quote(tag);
    mark = tag_mark(p, ev);
    if (t == SPEC_TAG_MAP || t == SPEC_TAG_SEQ) {
        error_at(p, &mark, "tag %s can't be used on a scalar", shown);
    } else {
        g_autofree char *value = quote_value(text);
        static const char *const what[] = {
            [SPEC_TAG_INT] = "an integer", [SPEC_TAG_FLOAT] = "a number",
            [SPEC_TAG_BOOL] = "a boolean (true or false)",
            [SPEC_TAG_NULL] = "null",
        };

        error_at(p, &mark, "tag %s on %s, which is not %s", shown, value,
                 what[t]);
    }
    return false;
}

static SpecNode *parse_node(Parser *p, yaml_event_t *ev, unsigned depth,
                            unsigned *height);

/* Counts one more node against the limit. */
static bool count_node(Parser *p, const yaml_event_t *ev)
{
    if (p->nodes >= SPEC_PARSE_MAX_NODES) {
        error_at(p, &ev->start_mark,
                 "document too large (more than %u nodes)",
                 SPEC_PARSE_MAX_NODES);
        return false;
    }
    p->nodes++;
    return true;
}

static SpecNode *parse_alias(Parser *p, yaml_event_t *ev, unsigned depth,
                             unsigned *height)
{
    const char *name = (const char *)ev->data.alias.anchor;
    Anchor *a = g_hash_table_lookup(p->anchors, name);
    SpecMark mark;
    SpecNode *copy;

    if (!a) {
        g_autofree char *alias = g_strconcat("*", name, NULL);
        g_autofree char *quoted = quote_value(alias);

        if (g_hash_table_contains(p->pending, name)) {
            error_at(p, &ev->start_mark,
                     "alias %s refers to a node that contains it", quoted);
        } else {
            error_at(p, &ev->start_mark, "unknown alias %s", quoted);
        }
        return NULL;
    }
    if (a->count > SPEC_PARSE_MAX_NODES - p->nodes) {
        error_at(p, &ev->start_mark,
                 "alias expansion too large (more than %u nodes)",
                 SPEC_PARSE_MAX_NODES);
        return NULL;
    }
    if (depth - 1 + a->height > SPEC_PARSE_MAX_DEPTH) {
        error_at(p, &ev->start_mark,
                 "nesting too deep (more than %u levels)",
                 SPEC_PARSE_MAX_DEPTH);
        return NULL;
    }
    p->nodes += a->count;
    *height = a->height;
    copy = spec_node_copy(a->node);
    /* The copy's top node is where the alias was written. */
    spec_mark_clear(&copy->mark);
    mark_from_yaml(p, &mark, &ev->start_mark);
    spec_mark_copy(&copy->mark, &mark);
    return copy;
}

static SpecNode *parse_scalar(Parser *p, yaml_event_t *ev)
{
    SpecMark mark;
    const char *text = (const char *)ev->data.scalar.value;
    SpecTextPos start = { ev->start_mark.line, ev->start_mark.column };
    SpecTextPos end = { ev->end_mark.line, ev->end_mark.column };
    SpecReplacedBreak odd;
    bool is_str;

    if (strlen(text) != ev->data.scalar.length) {
        error_at(p, &ev->start_mark, "NUL characters can't be used here");
        return NULL;
    }
    /* Before the tag: both look in the text from start on. */
    if (spec_yaml_text_find_replaced(&p->text, start, end, &odd)) {
        yaml_mark_t at = { .line = odd.pos.line, .column = odd.pos.column };

        error_at(p, &at, "%s can't be used in a value: YAML 1.1 reads it "
                 "as a line break, YAML 1.2 as a character; write %s in a "
                 "double-quoted string", odd.name, odd.escape);
    }
    is_str = scalar_is_string(p, ev);
    mark_from_yaml(p, &mark, &ev->start_mark);
    return spec_node_new_scalar(text, is_str, &mark);
}

/* Reads one key: value entry after the key's first event; adds it to map.
 * Returns false on a fatal error. */
static bool parse_entry(Parser *p, SpecNode *map, yaml_event_t *kev,
                        unsigned depth, unsigned *height)
{
    yaml_mark_t kmark = kev->start_mark;
    yaml_event_t vev;
    unsigned kh, vh;
    SpecNode *key, *value;
    SpecMark key_mark;
    const char *text = NULL;

    key = parse_node(p, kev, depth, &kh);
    if (!key) {
        return false;
    }
    /* Anchors may point into the key: it lives until the parse ends. */
    g_ptr_array_add(p->graveyard, key);
    mark_from_yaml(p, &key_mark, &kmark);
    if (key->kind != SPEC_NODE_SCALAR) {
        error_at(p, &kmark, "a map key must be a string, not a %s",
                 spec_node_kind_name(key->kind));
    } else if (spec_node_is_null(key)) {
        error_at(p, &kmark, "a map key must be a string, not null (empty)");
    } else if (!key->scalar.quoted && strcmp(key->scalar.text, "<<") == 0) {
        error_at(p, &kmark, "merge keys ('<<') are not supported; use "
                 "'extends:' or repeat the keys");
    } else {
        text = key->scalar.text;
    }

    if (!next_event(p, &vev)) {
        return false;
    }
    value = parse_node(p, &vev, depth, &vh);
    if (!value) {
        return false;
    }
    *height = MAX(*height, vh);
    if (text) {
        SpecPair *first = spec_node_map_get_pair(map, text);

        if (first) {
            g_autofree char *quoted = quote_value(text);

            error_at(p, &kmark, "duplicate key %s (first defined at "
                     "line %u)", quoted, first->key_mark.line);
            text = NULL;
        }
    }
    if (text) {
        spec_node_map_set(map, text, &key_mark, value);
    } else {
        g_ptr_array_add(p->graveyard, value);
    }
    return true;
}

static SpecNode *parse_collection(Parser *p, yaml_event_t *ev,
                                  unsigned depth, unsigned *height)
{
    bool is_map = ev->type == YAML_MAPPING_START_EVENT;
    yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT
                                   : YAML_SEQUENCE_END_EVENT;
    g_autoptr(SpecNode) node = NULL;
    SpecMark mark;
    unsigned inner = 0;

    check_collection_tag(p, ev, (const char *)(is_map
                                 ? ev->data.mapping_start.tag
                                 : ev->data.sequence_start.tag), is_map);
    if (depth > SPEC_PARSE_MAX_DEPTH) {
        error_at(p, &ev->start_mark, "nesting too deep (more than %u levels)",
                 SPEC_PARSE_MAX_DEPTH);
        return NULL;
    }
    mark_from_yaml(p, &mark, &ev->start_mark);
    node = is_map ? spec_node_new_map(&mark) : spec_node_new_seq(&mark);

    for (;;) {
        yaml_event_t item;
        unsigned h = 0;

        if (!next_event(p, &item)) {
            return NULL;
        }
        if (item.type == end) {
            yaml_event_delete(&item);
            break;
        }
        if (is_map) {
            if (!parse_entry(p, node, &item, depth + 1, &h)) {
                return NULL;
            }
        } else {
            SpecNode *child = parse_node(p, &item, depth + 1, &h);

            if (!child) {
                return NULL;
            }
            spec_node_seq_append(node, child);
        }
        inner = MAX(inner, h);
    }
    *height = inner + 1;
    return g_steal_pointer(&node);
}

static const yaml_char_t *event_anchor(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return ev->data.scalar.anchor;
    case YAML_MAPPING_START_EVENT:
        return ev->data.mapping_start.anchor;
    case YAML_SEQUENCE_START_EVENT:
        return ev->data.sequence_start.anchor;
    default:
        return NULL;
    }
}

static void anchor_open(Parser *p, const char *name, int delta)
{
    gpointer n = g_hash_table_lookup(p->pending, name);
    int count = GPOINTER_TO_INT(n) + delta;

    if (count > 0) {
        g_hash_table_replace(p->pending, g_strdup(name),
                             GINT_TO_POINTER(count));
    } else {
        g_hash_table_remove(p->pending, name);
    }
}

/*
 * Builds the node that starts with *ev (consumed, deleted here) at nesting
 * level depth (the document's top node is 1).  *height is set to the
 * subtree's height.  Returns NULL after reporting a fatal error; the caller
 * stops.
 */
static SpecNode *parse_node(Parser *p, yaml_event_t *ev, unsigned depth,
                            unsigned *height)
{
    g_autofree char *anchor = g_strdup((const char *)event_anchor(ev));
    gsize before = p->nodes;
    SpecNode *node = NULL;

    *height = 1;
    if (ev->type == YAML_ALIAS_EVENT) {
        node = parse_alias(p, ev, depth, height);
        yaml_event_delete(ev);
        return node;
    }
    if (!count_node(p, ev)) {
        yaml_event_delete(ev);
        return NULL;
    }
    if (anchor) {
        anchor_open(p, anchor, 1);
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        node = parse_scalar(p, ev);
        break;
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT:
        node = parse_collection(p, ev, depth, height);
        break;
    default:
        /* libyaml only gives node events here. */
        error_at(p, &ev->start_mark, "unexpected YAML event %d", ev->type);
        break;
    }
    yaml_event_delete(ev);
    if (anchor) {
        anchor_open(p, anchor, -1);
    }
    if (node && anchor) {
        Anchor *a = g_new0(Anchor, 1);

        a->node = node;
        a->count = p->nodes - before;
        a->height = *height;
        g_hash_table_replace(p->anchors, g_steal_pointer(&anchor), a);
    }
    return node;
}

/* Stream -> one document -> root map. */
static SpecNode *parse_stream(Parser *p)
{
    yaml_event_t ev;
    g_autoptr(SpecNode) root = NULL;
    unsigned height;
    yaml_mark_t start;

    if (!next_event(p, &ev)) {          /* STREAM-START */
        return NULL;
    }
    yaml_event_delete(&ev);
    if (!next_event(p, &ev)) {
        return NULL;
    }
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        spec_diags_add_at(p->diags, VMSPEC_ERROR_INVALID, p->name, 0, 0,
                          "empty spec (no YAML document)");
        p->failed = true;
        return NULL;
    }
    yaml_event_delete(&ev);             /* DOCUMENT-START */
    if (!next_event(p, &ev)) {
        return NULL;
    }
    start = ev.start_mark;
    root = parse_node(p, &ev, 1, &height);
    if (!root) {
        return NULL;
    }
    if (spec_node_is_null(root)) {
        error_at(p, &start, "empty document: a spec needs at least "
                 "'vmspec: 1'");
        return NULL;
    }
    if (root->kind != SPEC_NODE_MAP) {
        error_at(p, &start, "the top level of a spec must be a map of "
                 "keys, not a %s", spec_node_kind_name(root->kind));
        return NULL;
    }
    if (!next_event(p, &ev)) {          /* DOCUMENT-END */
        return NULL;
    }
    yaml_event_delete(&ev);
    if (!next_event(p, &ev)) {
        return NULL;
    }
    if (ev.type != YAML_STREAM_END_EVENT) {
        error_at(p, &ev.start_mark, "a spec holds one YAML document; a "
                 "second one starts here");
        yaml_event_delete(&ev);
        return NULL;
    }
    yaml_event_delete(&ev);
    return p->failed ? NULL : g_steal_pointer(&root);
}

SpecNode *spec_parse_buffer(const char *name, const char *data, gsize len,
                            SpecDiags *diags)
{
    Parser p = { 0 };
    SpecNode *root = NULL;

    p.name = g_ref_string_new_intern(name ? name : "<input>");
    p.diags = diags;
    if (len > SPEC_PARSE_MAX_BYTES) {
        spec_diags_add_at(diags, VMSPEC_ERROR_INVALID, p.name, 0, 0,
                          "spec too large (%zu bytes; the limit is %u)",
                          len, SPEC_PARSE_MAX_BYTES);
        g_ref_string_release((char *)p.name);
        return NULL;
    }
    if (!yaml_parser_initialize(&p.yaml)) {
        spec_diags_add_at(diags, VMSPEC_ERROR_FAILED, p.name, 0, 0,
                          "out of memory");
        g_ref_string_release((char *)p.name);
        return NULL;
    }
    spec_yaml_text_init(&p.text, data, len);
    yaml_parser_set_input_string(&p.yaml, (const unsigned char *)p.text.data,
                                 p.text.len);
    p.anchors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                      g_free);
    p.pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    p.graveyard = g_ptr_array_new_with_free_func(
        (GDestroyNotify)spec_node_free);

    root = parse_stream(&p);

    g_hash_table_destroy(p.anchors);
    g_hash_table_destroy(p.pending);
    g_ptr_array_free(p.graveyard, TRUE);
    yaml_parser_delete(&p.yaml);
    spec_yaml_text_clear(&p.text);
    g_ref_string_release((char *)p.name);
    return root;
}

SpecNode *spec_parse_file(const char *path, SpecDiags *diags)
{
    gsize len = 0;
    g_autofree char *data = spec_read_file(path, &len, diags);

    if (!data) {
        return NULL;
    }
    return spec_parse_buffer(path, data, len, diags);
}
