/*
 * Spec composition: `extends:` (a spec deep-merged onto a base spec) and
 * `--set key.path=value` overrides, both on SpecNode trees.
 *
 * extends
 *   A top-level `extends: PATH` names a base spec; a relative PATH is
 *   relative to the directory of the spec that says it.  Bases may extend
 *   further bases (up to SPEC_EXTENDS_MAX_DEPTH files, which together hold
 *   at most SPEC_EXTENDS_MAX_NODES nodes).  The base is loaded
 *   (and its own extends resolved) first, then the child is merged onto it
 *   with spec_merge(); the `extends` key does not appear in the result.  A
 *   cycle (a.yaml -> b.yaml -> a.yaml), a base that can't be read, or an
 *   `extends` that is not a file name is an error at the `extends:` value,
 *   whose message shows the chain.  Errors inside a base point into the
 *   base, and nodes inherited from a base keep their marks there.
 *
 * Merge rules (spec_merge)
 *   - map onto map: key by key, recursively; keys new in the child go after
 *     the base's keys, in the child's order.
 *   - list onto list: when both lists are non-empty and every item of both
 *     is a map with a scalar `id`, items merge by id (same id: the maps
 *     merge; new ids are appended in the child's order).  Otherwise the
 *     child's list replaces the base's wholesale (so `disks: []` clears).
 *   - anything else (scalar over anything, or a kind mismatch such as a map
 *     over a scalar): the child's value replaces the base's.  This is
 *     deliberate: `kernel: PATH` and `kernel: {path, sha256}` are both valid,
 *     so a child may change the form.  The object builder rejects a kind
 *     that doesn't fit, pointing at the child's text.
 *   - a merged map or list takes the child's mark; keys keep the mark of the
 *     file that last wrote them.
 *
 * --set KEY.PATH=VALUE
 *   The option must be UTF-8 (whatever the locale).  Everything before the
 *   first '=' is the path, everything after it the value (which may hold
 *   '=' and be empty).  Components are separated by '.', at most
 *   SPEC_SET_MAX_COMPONENTS of them (a file can't nest deeper either); on
 *   a map a component is a key (created, with any missing maps on the way,
 *   when absent); on a list it selects an item by the rule of
 *   spec_node_seq_select() (node.h): `#N` is the item at 0-based index N,
 *   any other component the item whose `id` it is
 *   (`disks.root.readonly=true`), and a number that is no item's id the
 *   item at that index (`disks.0.path=x`).  Keys containing '.' can't be
 *   addressed, nor can `extends` (bases are merged when the spec is loaded,
 *   before any --set).  The value is a plain YAML scalar (so `true`,
 *   `512M`, `~` mean what they would in the file) and replaces whatever was
 *   there.  New keys and values are marked with file "--set KEY.PATH=VALUE"
 *   and line 0, so any later error about them formats as
 *   "--set machine.memory=1X: message".  Apply overrides to the result of
 *   spec_load_file(), after extends.
 */
#ifndef VMSPEC_SPEC_MERGE_H
#define VMSPEC_SPEC_MERGE_H

#include <glib.h>
#include <stdbool.h>

#include "spec/diag.h"
#include "spec/node.h"
#include "spec/parse.h"

#define SPEC_EXTENDS_MAX_DEPTH 16   /* files in one extends chain */
/* Nodes in all the files of one chain, which are in memory at once: one
 * file's worth, so that 16 files can't take 16 times the memory. */
#define SPEC_EXTENDS_MAX_NODES SPEC_PARSE_MAX_NODES
/* Components of one --set key path: the nesting a file may have. */
#define SPEC_SET_MAX_COMPONENTS SPEC_PARSE_MAX_DEPTH

/*
 * Parses the spec at path, resolves its extends chain and returns the merged
 * root map (caller owns), or NULL after adding diagnostics to diags.
 */
SpecNode *spec_load_file(const char *path, SpecDiags *diags);

/*
 * Same for a spec held in memory; name is its display name, and its
 * directory is where a relative `extends` is looked up.
 */
SpecNode *spec_load_buffer(const char *name, const char *data, gsize len,
                           SpecDiags *diags);

/*
 * Deep-merges over onto base by the rules above.  Consumes both; returns
 * the result (caller owns), which may be base or over.  Either may be NULL
 * (then the other is returned).
 */
SpecNode *spec_merge(SpecNode *base, SpecNode *over);

/*
 * Applies one `--set` option (its argument, "KEY.PATH=VALUE") to root, a
 * map.  Returns false after adding a diagnostic (not UTF-8, no '=', empty
 * path or component, a path too deep, `extends`, a component that indexes
 * a scalar, an index out of range, no list item with that id); root is
 * then unchanged.
 */
bool spec_apply_set(SpecNode *root, const char *option, SpecDiags *diags);

/* Applies n options in order (n -1: NULL-terminated), reporting every bad
 * one; returns false if any failed. */
bool spec_apply_sets(SpecNode *root, const char *const *options, gssize n,
                     SpecDiags *diags);

#endif
