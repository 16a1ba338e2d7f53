/*
 * YAML text -> SpecNode tree (libyaml's event API), with 1-based line:column
 * marks and errors that point at the offending text.
 *
 * Lines are counted as YAML 1.2 counts them: LF, CR LF and CR end one;
 * NEL, LS and PS, which libyaml (YAML 1.1) also breaks at, are ordinary
 * characters (spec/yaml-text.h).
 *
 * What is rejected, each with a `file:line:col: message` diagnostic: syntax
 * errors libyaml finds (tabs in indentation get a hint), text that is not
 * UTF-8/UTF-16 or holds control characters, an empty file or empty
 * document, a top level that is not a map, a second document, duplicate keys
 * (at the second, naming the first's line), keys that are not strings (maps,
 * lists, null), merge keys `<<` (not supported: use `extends:`), tags other
 * than the YAML 1.2 core schema's and `!` (at the tag), a core tag on a
 * value it doesn't fit (`!!int two`, `!!map` on a scalar), a NEL, LS or PS
 * inside a value (YAML 1.1 and 1.2 read different values there), NUL
 * characters in strings, and inputs over the limits below.  Anchors and
 * aliases are supported: an alias is expanded into a deep copy of its
 * anchor's node, counted against the limits (so a "billion laughs" input
 * fails fast); the copy's top node is marked at the alias.  Any input,
 * however broken, gives diagnostics and NULL, never a crash or a hang.
 *
 * Scalars are kept as text (no int/bool resolution here, see
 * spec/scalar.h), with whether they resolve as strings: quoted ones, and
 * those tagged `!` or `!!str`.  A scalar tagged !!int, !!float, !!bool or
 * !!null resolves as its plain text, so `!!int "4"` is the integer 4.
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
