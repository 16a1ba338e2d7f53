/*
 * JSON Schema export of the spec format (see schema.c for its shape).
 */
#ifndef VMSPEC_SPEC_SCHEMA_H
#define VMSPEC_SPEC_SCHEMA_H

#include <stdint.h>

#include "machine/qom/object.h"
#include "machine/qom/property.h"

/* Returns the schema as JSON text ending in a newline; caller frees.
 * Deterministic for a given registry.  Main thread, after
 * module_call_init(). */
char *spec_schema_generate(void);

/* An int property's maximum for objects of class oc (prop is oc's or an
 * ancestor's): MachineClass.max_cpus narrows the base machine's `cpus`
 * range for machine types that take fewer.  What `vmspec check`
 * enforces, so the schema and `vmspec describe` say it too. */
int64_t spec_property_max(ObjectClass *oc, const Property *prop);

#endif
