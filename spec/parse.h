/*
 * YAML text -> SpecNode tree (libyaml's event API), with 1-based line:column
 * marks and errors that point at the offending text.
 *
 * What is rejected, each with a `file:line:col: message` diagnostic: syntax
 * errors libyaml finds (tabs in indentation get a hint), text that is not
 * UTF-8/UTF-16 or holds control characters, an empty file or empty
 * document, a top level that is not a map, a second document, duplicate keys
 * (at the second, naming the first's line), keys that are not strings (maps,
 * lists, null), merge keys `<<` (not supported: use `extends:`), tags other
 * than YAML's own (!!str, !!int, ...), NUL characters in strings, and inputs
 * over the limits below.  Anchors and aliases are supported: an alias is
 * expanded into a deep copy of its anchor's node, counted against the limits
 * (so a "billion laughs" input fails fast); the copy's top node is marked at
 * the alias.  Any input, however broken, gives diagnostics and NULL, never a
 * crash or a hang.
 *
 * Scalars are kept as text (no int/bool resolution here), with whether they
 * were quoted.  `!!str` counts as quoted.
 */
#ifndef VMSPEC_SPEC_PARSE_H
#define VMSPEC_SPEC_PARSE_H

#include <glib.h>

#include "spec/diag.h"
#include "spec/node.h"

#define SPEC_PARSE_MAX_BYTES (4u << 20)  /* input size */
#define SPEC_PARSE_MAX_NODES 100000u     /* nodes, aliases expanded */
#define SPEC_PARSE_MAX_DEPTH 64u         /* nested maps/lists */

/*
 * Parses len bytes of data (need not be NUL-terminated) as one spec
 * document.  name is the display name used in marks and messages (usually
 * the path).  Returns the root map, owned by the caller, or NULL after adding
 * one or more diagnostics to diags (several when, e.g., a file has several
 * duplicate keys).  Any thread; diags is not locked.
 */
SpecNode *spec_parse_buffer(const char *name, const char *data, gsize len,
                            SpecDiags *diags);

/*
 * Reads the file at path and parses it as above, with path as the name.
 * An unreadable file is one diagnostic "PATH: cannot read spec: REASON"
 * (code VMSPEC_ERROR_NOT_FOUND when it does not exist, else _IO).
 */
SpecNode *spec_parse_file(const char *path, SpecDiags *diags);

#endif
