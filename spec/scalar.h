/*
 * What a scalar means under the YAML 1.2 core schema (section 10.3.2):
 * plain `42` is an integer, `true` a boolean, `~` null, `1.5` a float,
 * anything quoted or else plain a string.  The object builder uses this to
 * reject, say, `cpus: "2"` or `name: 123`, exactly as a JSON Schema
 * validator reading the same file with a YAML 1.2 loader would.
 */
#ifndef VMSPEC_SPEC_SCALAR_H
#define VMSPEC_SPEC_SCALAR_H

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

#endif
