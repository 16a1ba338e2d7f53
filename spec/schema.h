/*
 * JSON Schema export of the spec format (see schema.c for its shape).
 */
#ifndef VMSPEC_SPEC_SCHEMA_H
#define VMSPEC_SPEC_SCHEMA_H

/* Returns the schema as JSON text ending in a newline; caller frees.
 * Deterministic for a given registry.  Main thread, after
 * module_call_init(). */
char *spec_schema_generate(void);

#endif
