/*
 * What a scalar means under the YAML 1.2 core schema (section 10.3.2):
 * plain `42` is an integer, `true` a boolean, `~` null, `1.5` a float,
 * anything quoted or else plain a string.  The object builder uses this to
 * reject, say, `cpus: "2"` or `name: 123`, exactly as a JSON Schema
 * validator reading the same file with a YAML 1.2 loader would.
 */
#ifndef VMSPEC_SPEC_SCALAR_H
#define VMSPEC_SPEC_SCALAR_H

#include <stdbool.h>

#include "spec/node.h"

typedef enum {
    SPEC_SCALAR_NULL,
    SPEC_SCALAR_BOOL,
    SPEC_SCALAR_INT,
    SPEC_SCALAR_FLOAT,
    SPEC_SCALAR_STRING,
} SpecScalarType;

/* The resolved type of a scalar node (which must be a scalar). */
SpecScalarType spec_scalar_type(const SpecNode *node);

/* "null", "a boolean", "an integer", "a number", "a string". */
const char *spec_scalar_type_name(SpecScalarType type);

/*
 * The tags a spec may carry: the YAML 1.2 core schema's (section 10.3,
 * tag:yaml.org,2002:NAME, written !!NAME) and the non-specific "!", which
 * makes a scalar a string (section 6.9.1).  Anything else -- a local tag
 * `!foo`, !!python/object:..., YAML 1.1's !!binary or !!timestamp, a
 * %TAG handle's own URIs -- is unsupported.
 */
typedef enum {
    SPEC_TAG_NONE,          /* untagged */
    SPEC_TAG_NON_SPECIFIC,  /* ! */
    SPEC_TAG_STR,
    SPEC_TAG_INT,
    SPEC_TAG_FLOAT,
    SPEC_TAG_BOOL,
    SPEC_TAG_NULL,
    SPEC_TAG_MAP,
    SPEC_TAG_SEQ,
    SPEC_TAG_UNSUPPORTED,
} SpecTag;

/* The tag as libyaml resolved it (handles expanded; NULL: untagged). */
SpecTag spec_tag_lookup(const char *tag);

/* A tag as messages show it: !!NAME for the core schema's URIs, others as
 * written (!foo) or resolved.  Quoted and cut short (quote_value()).
 * Caller frees. */
char *spec_tag_quote(const char *tag);

/* Whether text, read as a plain scalar, is a value of a scalar tag's type
 * under the core schema's resolution (section 10.3.2): `!!int 0x1f`,
 * `!!bool true`, `!!null ~`, `!!float 1e3` (and `!!float 1`: the float
 * form covers integers).  Any text is a !!str.  A node that passes is
 * then resolved as plain text, so `!!int "4"` is the integer 4. */
bool spec_tag_accepts(SpecTag tag, const char *text);

#endif
