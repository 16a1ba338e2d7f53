/*
 * SpecNode: the YAML layer's document tree.  A spec file parses into a tree
 * of scalars, maps and sequences; every node (and every map key) remembers
 * where it was written (SpecMark: file, 1-based line and column), so that an
 * error found later, however far from the parser, can point at the text the
 * user has to change.
 *
 * Nodes are plain owned trees (no sharing, no refcount): a parent owns its
 * children; spec_node_free() frees a whole subtree.  None of this is
 * thread-safe; a tree belongs to one thread at a time.
 */
#ifndef VMSPEC_SPEC_NODE_H
#define VMSPEC_SPEC_NODE_H

#include <glib.h>
#include <stdbool.h>

/*
 * Where a node was written.  In marks that nodes own, `file` is an interned
 * GRefString holding one reference, taken by spec_mark_init() or
 * spec_mark_copy() and dropped by spec_mark_clear(); a caller may pass a
 * mark it filled in by hand (plain string, no reference) to any function
 * that takes `const SpecMark *`, which copies it.  Columns count characters,
 * not bytes.  `line` and `column` are 1-based; line 0 means "the whole
 * file" (or, for --set overrides, the whole option, whose text is the
 * `file`).  A zeroed SpecMark (file NULL) is "nowhere".
 */
typedef struct SpecMark {
    const char *file;
    unsigned line;
    unsigned column;
} SpecMark;

/* Sets *mark to file:line:column, taking a reference on (or interning) file.
 * file may be NULL.  *mark must be clear (zeroed) or it leaks. */
void spec_mark_init(SpecMark *mark, const char *file, unsigned line,
                    unsigned column);
/* *dst = *src with its own file reference; *dst must be clear. */
void spec_mark_copy(SpecMark *dst, const SpecMark *src);
/* Drops the file reference and zeroes *mark.  Idempotent. */
void spec_mark_clear(SpecMark *mark);
/* "file:line:col" (a device's origin, machine/qom/device.h); "?" for no
 * file.  Caller frees. */
char *spec_mark_to_origin(const SpecMark *mark);

typedef enum SpecNodeKind {
    SPEC_NODE_SCALAR,
    SPEC_NODE_MAP,
    SPEC_NODE_SEQ,
} SpecNodeKind;

typedef struct SpecNode SpecNode;

/* One key: value entry of a map, in document order. */
typedef struct SpecPair {
    char *key;
    SpecMark key_mark;      /* where the key itself was written */
    SpecNode *value;
} SpecPair;

struct SpecNode {
    SpecNodeKind kind;
    SpecMark mark;          /* start of the node's text */
    union {
        struct {
            char *text;     /* never NULL; "" for an empty value */
            bool quoted;    /* resolves as a string: not plain, or tagged
                             * ! or !!str (a quoted !!int "4" is not) */
        } scalar;
        struct {
            GPtrArray *pairs;   /* SpecPair *, document order */
            /* key -> SpecPair *, the same pairs; NULL (lookups compare
             * every key) until the map grows past a few keys */
            GHashTable *index;
        } map;
        GPtrArray *seq;         /* SpecNode * */
    };
};

/* Constructors.  Each returns a new node the caller owns; mark may be NULL
 * (the node then has no location).  text is copied. */
SpecNode *spec_node_new_scalar(const char *text, bool quoted,
                               const SpecMark *mark);
SpecNode *spec_node_new_map(const SpecMark *mark);
SpecNode *spec_node_new_seq(const SpecMark *mark);

/* Frees node and everything below it.  NULL is fine. */
void spec_node_free(SpecNode *node);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpecNode, spec_node_free)

/* A deep copy, marks included.  NULL gives NULL. */
SpecNode *spec_node_copy(const SpecNode *node);

/* Number of nodes in the subtree (node itself included; keys not counted). */
gsize spec_node_count(const SpecNode *node);

/* "scalar", "map" or "list", for messages. */
const char *spec_node_kind_name(SpecNodeKind kind);

/* True for a plain (unquoted) scalar "", "~", "null", "Null" or "NULL":
 * YAML's null. */
bool spec_node_is_null(const SpecNode *node);

/* The text of a scalar node; NULL when node is NULL or not a scalar. */
const char *spec_node_scalar(const SpecNode *node);

/*
 * Maps.  Keys are unique within a map.  spec_node_map_set() takes ownership
 * of value and replaces (frees) an existing value under the same key, keeping
 * the key's position (and its mark, when key_mark is NULL); a new key goes
 * last.  key_mark may be NULL.
 */
void spec_node_map_set(SpecNode *map, const char *key,
                       const SpecMark *key_mark, SpecNode *value);
/* The value under key, or NULL (also when map is NULL or not a map).  The
 * node stays owned by the map. */
SpecNode *spec_node_map_get(const SpecNode *map, const char *key);
/* The whole entry (for the key's mark), or NULL. */
SpecPair *spec_node_map_get_pair(const SpecNode *map, const char *key);
/* Removes key and returns its value, now owned by the caller; NULL if the
 * key is absent. */
SpecNode *spec_node_map_steal(SpecNode *map, const char *key);
/* Number of entries and the i-th entry in document order (i < size). */
guint spec_node_map_size(const SpecNode *map);
SpecPair *spec_node_map_pair(const SpecNode *map, guint i);

/* Sequences: append takes ownership of item. */
void spec_node_seq_append(SpecNode *seq, SpecNode *item);
guint spec_node_seq_len(const SpecNode *seq);
SpecNode *spec_node_seq_get(const SpecNode *seq, guint i);

/*
 * How one component of a path (the syntax --set uses, see merge.h) selects
 * an item of a list, in this order:
 *   - "#N" (N decimal) is the item at 0-based index N;
 *   - otherwise the first item whose `id` (spec_node_item_id()) is the
 *     component;
 *   - otherwise, when the component is a decimal number, the item at that
 *     index, so that `disks.0` works wherever no item has id "0".
 * Valid ids never start with '#', so "#N" always means an index.
 */
#define SPEC_PATH_INDEX_MARK '#'

/* The `id` of a list item: the text of its non-null scalar `id` key, or
 * NULL (also when item is not a map). */
const char *spec_node_item_id(const SpecNode *item);

/* Selects the item of seq (a sequence) that component names by the rule
 * above: true with its index in *index, false when none matches. */
bool spec_node_seq_select(const SpecNode *seq, const char *component,
                          guint *index);

/* One step of a path: on a map, the value under `component`; on a
 * sequence, the item spec_node_seq_select() picks.  NULL when there is no
 * such child or node is a scalar. */
SpecNode *spec_node_child(const SpecNode *node, const char *component);

/* Follows a dotted path ("machine.memory", "disks.root.path",
 * "disks.#0.path") from node with spec_node_child().  "" gives node itself.
 * NULL if any step is missing. */
SpecNode *spec_node_lookup(const SpecNode *node, const char *path);

/*
 * A compact, single-line flow rendering for tests and debug output:
 * {a: 1, b: [x, "y"]}.  Quoted scalars (and plain ones holding flow
 * syntax) are written in double quotes, an empty plain scalar as ~.  With
 * with_marks, every node is prefixed by @LINE:COL.  Caller g_free()s.
 */
char *spec_node_to_string(const SpecNode *node, bool with_marks);

#endif
