/*
 * Spec values -> object properties: each key of a map set as the property
 * of that name, its YAML scalar type checked against the property's kind
 * (an int is not a quoted '2', a bool is not `yes`), paths resolved
 * against the directory of the file that wrote them, and, on request, the
 * files they name checked once the whole map is set: present; a regular
 * file (a block device too for a device's backing store, a file its own
 * host claims name); readable, and writable where those claims say it is
 * written, by the user who runs vmspec; matching their sha256 pin.
 * Every problem is a diagnostic at the offending key or value.
 */
#ifndef VMSPEC_SPEC_PROPS_H
#define VMSPEC_SPEC_PROPS_H

#include <stdbool.h>

#include "machine/qom/object.h"
#include "spec/diag.h"
#include "spec/file-probes.h"
#include "spec/node.h"

typedef struct SpecProps {
    SpecDiags *diags;
    bool check_files;   /* check path properties' files, verify pins */
    SpecFileProbes *probes; /* answers about files kept for a run, or NULL */
    /* The last spec file a path was resolved against, and its absolute
     * directory: finding it costs a getcwd() and stats. */
    char *dir_of_file;
    char *abs_dir;
} SpecProps;

/* Sets every key of map as a property of obj in group (NULL: ungrouped),
 * except those in skip (NULL-terminated, or NULL).  where names the map in
 * messages ("machine", "disks[0]"). */
void spec_props_set(SpecProps *p, Object *obj, const char *group,
                    const SpecNode *map, const char *const *skip,
                    const char *where);

/* Reports each required property of obj in group that map leaves unset. */
void spec_props_check_required(SpecProps *p, Object *obj, const char *group,
                               const SpecNode *map, const char *where);

/* path as written at mark, absolute: relative to the directory of mark's
 * file, or for --set options (line 0) to the working directory.  Caller
 * frees. */
char *spec_props_resolve_path(SpecProps *p, const SpecMark *mark,
                              const char *path);

/* Frees the directory cache. */
void spec_props_clear(SpecProps *p);

#endif
