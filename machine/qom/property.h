/*
 * Typed properties declared on classes as tables.
 *
 * A class lists its properties in a static table, each row naming a field
 * of the instance struct, its kind, default and a one-line description:
 *
 *     static const Property virtio_blk_props[] = {
 *         PROP_PATH("path", VirtioBlk, image, true, "Raw disk image"),
 *         PROP_BOOL("readonly", VirtioBlk, readonly, false, "..."),
 *         PROP_END,
 *     };
 *     ... in class_init: oc->props = virtio_blk_props;
 *
 * Extra designated initializers may follow the description, e.g.
 * `.group = "boot"` or `.required = true`.
 *
 * Defaults are applied before instance_init.  Values set from strings are
 * parsed and checked per kind; the error text names the value and what was
 * expected, and callers (the spec loader) prefix where it came from.
 * `vmspec describe` and `vmspec schema` read the same tables.
 */
#ifndef VMSPEC_QOM_PROPERTY_H
#define VMSPEC_QOM_PROPERTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "machine/qom/object.h"

typedef enum {
    PROP_KIND_INT,      /* int64_t, with an inclusive range */
    PROP_KIND_BOOL,     /* bool: true | false */
    PROP_KIND_STRING,   /* char * (owned) */
    PROP_KIND_SIZE,     /* uint64_t bytes: 4096, 512K, 2G, 1T */
    PROP_KIND_ENUM,     /* int: index into enum_names */
    PROP_KIND_PATH,     /* FilePath: a host file, optionally sha256-pinned */
    PROP_KIND_MAC,      /* MacAddr: 52:54:00:12:34:56 or auto */
    PROP_KIND_STRV,     /* char ** (owned, NULL-terminated; NULL = empty): a list of strings */
} PropertyKind;

/* A host file named in a spec.  path is as written until the spec loader
 * resolves it against the spec's directory; sha256 is an optional pin
 * (64 lowercase hex digits). */
typedef struct FilePath {
    char *path;
    char *sha256;
} FilePath;

/* A unicast Ethernet address, or "auto": derived later from stable names. */
typedef struct MacAddr {
    uint8_t bytes[6];
    bool is_auto;
} MacAddr;

struct Property {
    const char *name;
    PropertyKind kind;
    size_t offset;
    const char *description;
    /* Spec map the key appears in, relative to the object's own ("boot"
     * for the machine's kernel); NULL for the object's own map. */
    const char *group;
    bool required;              /* string/path: no default, must be set */
    bool directory;             /* PATH: names a directory, not a file */
    int64_t def_int;            /* INT, BOOL (0/1), ENUM (index) */
    int64_t min, max;           /* INT range */
    uint64_t def_size, size_min, size_max;
    const char *def_str;        /* STRING, MAC ("auto") */
    const char *const *enum_names;  /* ENUM: NULL-terminated */
    /* STRING: optional validator for values set from text; STRV: for each
     * item of the list. */
    bool (*check)(const char *value, GError **errp);
    /* STRING, STRV: a regular expression that a value (each item of a
     * list) matches, which `vmspec schema` gives editors as the JSON Schema
     * "pattern" ("^(stdio|none|file:.+)$"); the check stays the rule. */
    const char *format;
};

/* offsetof(State, field), checking at compile time that the field is T. */
#define PROP_OFFSET(T, State, field)                                        \
    (offsetof(State, field) + 0 * sizeof(struct {                           \
        _Static_assert(__builtin_types_compatible_p(                        \
                           T, __typeof__(((State *)0)->field)),             \
                       "property field " #field " is not " #T);             \
        int unused;                                                         \
    }))

#define PROP_INT(_name, State, field, _def, _min, _max, _desc, ...)         \
    { .name = (_name), .kind = PROP_KIND_INT,                               \
      .offset = PROP_OFFSET(int64_t, State, field), .def_int = (_def),      \
      .min = (_min), .max = (_max), .description = (_desc),                 \
      __VA_ARGS__ }
#define PROP_STRING_CHECKED(_name, State, field, _def, _check, _format,     \
                            _desc, ...)                                     \
    { .name = (_name), .kind = PROP_KIND_STRING,                            \
      .offset = PROP_OFFSET(char *, State, field), .def_str = (_def),       \
      .check = (_check), .format = (_format), .description = (_desc),       \
      __VA_ARGS__ }
#define PROP_BOOL(_name, State, field, _def, _desc, ...)                    \
    { .name = (_name), .kind = PROP_KIND_BOOL,                              \
      .offset = PROP_OFFSET(bool, State, field), .def_int = (_def),         \
      .description = (_desc), __VA_ARGS__ }
#define PROP_STRING(_name, State, field, _def, _desc, ...)                  \
    { .name = (_name), .kind = PROP_KIND_STRING,                            \
      .offset = PROP_OFFSET(char *, State, field), .def_str = (_def),       \
      .description = (_desc), __VA_ARGS__ }
#define PROP_SIZE(_name, State, field, _def, _min, _max, _desc, ...)        \
    { .name = (_name), .kind = PROP_KIND_SIZE,                              \
      .offset = PROP_OFFSET(uint64_t, State, field), .def_size = (_def),    \
      .size_min = (_min), .size_max = (_max), .description = (_desc),       \
      __VA_ARGS__ }
#define PROP_ENUM(_name, State, field, _def, _names, _desc, ...)            \
    { .name = (_name), .kind = PROP_KIND_ENUM,                              \
      .offset = PROP_OFFSET(int, State, field), .def_int = (_def),          \
      .enum_names = (_names), .description = (_desc), __VA_ARGS__ }
#define PROP_PATH(_name, State, field, _required, _desc, ...)               \
    { .name = (_name), .kind = PROP_KIND_PATH,                              \
      .offset = PROP_OFFSET(FilePath, State, field),                        \
      .required = (_required), .description = (_desc), __VA_ARGS__ }
/* A PATH property naming a host directory (a shared folder). */
#define PROP_DIR(_name, State, field, _required, _desc, ...)                \
    PROP_PATH(_name, State, field, _required, _desc, .directory = true,     \
              __VA_ARGS__)
#define PROP_MAC(_name, State, field, _desc, ...)                           \
    { .name = (_name), .kind = PROP_KIND_MAC,                               \
      .offset = PROP_OFFSET(MacAddr, State, field), .def_str = "auto",      \
      .description = (_desc), __VA_ARGS__ }
/* A list of strings, empty by default (a YAML sequence of string scalars
 * in a spec); _check (or NULL) validates each item, _format (or NULL) is
 * the pattern of one item, as for PROP_STRING_CHECKED. */
#define PROP_STRV(_name, State, field, _check, _format, _desc, ...)         \
    { .name = (_name), .kind = PROP_KIND_STRV,                              \
      .offset = PROP_OFFSET(char **, State, field),                         \
      .check = (_check), .format = (_format), .description = (_desc),       \
      __VA_ARGS__ }
#define PROP_END { .name = NULL }

/* "int", "bool", "string", "size", "enum", "path", "mac", "list". */
const char *property_kind_name(PropertyKind kind);

/* Returns the default as a spec would write it ("512M", "false", "auto",
 * "[]" for a list), or NULL when the property has none (required, or empty).  Caller frees. */
char *property_default_str(const Property *prop);

/* Finds name among klass's properties and its ancestors', or NULL. */
const Property *object_class_find_property(ObjectClass *klass,
                                           const char *name);

/* Calls fn for every property of klass, ancestors' first, each class's
 * in table order; owner is the class that declared it. */
void object_class_foreach_property(ObjectClass *klass,
                                   void (*fn)(const Property *prop,
                                              ObjectClass *owner,
                                              void *opaque),
                                   void *opaque);

/* All properties of klass and its ancestors (borrowed), in foreach order:
 * for a caller that needs the object too, which foreach's fn isn't given. */
GPtrArray *object_class_properties(ObjectClass *klass);

/* Names of all properties of klass (borrowed strings), in foreach order;
 * only those of group (NULL: the object's own map). */
GPtrArray *object_class_property_names(ObjectClass *klass, const char *group);

/* Parses value per the property's kind and stores it.  Errors: unknown
 * property, and every parse or range error with the offending value; a
 * list property takes no single string (set it with _set_strv).
 * Main thread; not after the object is frozen (see ObjectClass hooks). */
bool object_property_set_str(Object *obj, const char *name,
                             const char *value, GError **errp);

/* Sets a list property to a copy of values (NULL-terminated; NULL or
 * { NULL } for the empty list).  Every item goes through the property's
 * check first; on any error -- unknown property, not a list, an item the
 * check refuses ("item 1: 'x' is not ...") -- nothing changes.  Same
 * threading and freezing rules as object_property_set_str. */
bool object_property_set_strv(Object *obj, const char *name,
                              const char *const *values, GError **errp);

/* The items of a list property, borrowed until it is next set or the
 * object is finalized; never NULL (the empty list is { NULL }). */
const char *const *object_property_get_strv(Object *obj, const char *name);

/* Sets a path property's sha256 pin (64 hex digits). */
bool object_property_set_path_pin(Object *obj, const char *name,
                                  const char *sha256, GError **errp);

/* Formats the current value as a spec would write it; NULL for an unset
 * string or path.  A list is written in YAML flow style with every item
 * double-quoted and escaped as JSON does it (\" \\ \n \t \r, other C0
 * controls and DEL as \u00NN): ["a", "b\"c"], [] when empty.
 * Caller frees. */
char *object_property_get_str(Object *obj, const char *name);

/* Direct access for code that already holds a Property. */
void *object_property_field(Object *obj, const Property *prop);

/* False for a string or path property that holds no value.  A list is
 * always set (an empty list is a value). */
bool object_property_is_set(Object *obj, const Property *prop);

/* Fails, naming the first one, if a required property is still unset. */
bool object_check_required_properties(Object *obj, GError **errp);

/*
 * Parsers shared with the CLI and the spec loader.
 *
 * parse_int64 takes what the YAML 1.2 core schema reads as an integer
 * (section 10.3.2): [-+]?[0-9]+, 0o[0-7]+ (octal) or 0x[0-9a-fA-F]+ (hex).
 * parse_size takes such an integer, not negative (-0 is 0), or decimal
 * digits and a suffix for a power of 1024 -- K, M, G, T or P in either
 * case, optionally followed by B or iB in any case (512M, 2g, 4GiB,
 * 1tb) -- and nothing else.  PROP_SIZE_PATTERN matches exactly the
 * strings parse_size takes (for the JSON Schema: a size written as a YAML
 * string must match it; one written as a YAML integer is an integer).
 */
#define PROP_SIZE_PATTERN                                                   \
    "^(\\+?[0-9]+|-0+|0o[0-7]+|0x[0-9a-fA-F]+|[0-9]+[KMGTPkmgtp]([Ii]?[Bb])?)$"
bool parse_size(const char *str, uint64_t *out, GError **errp);
bool parse_int64(const char *str, int64_t *out, GError **errp);
bool parse_mac(const char *str, MacAddr *out, GError **errp);
/*
 * A value from a user as an error message shows it: in single quotes, and
 * when longer than QUOTE_VALUE_MAX characters, its first QUOTE_VALUE_KEEP
 * and its length: 'aaaa'... (10000 characters) -- so that one huge value
 * can't bury the message.  Every message that echoes a value goes through
 * this.  Counts bytes for text that is not UTF-8.  Caller frees.
 */
#define QUOTE_VALUE_MAX 60
#define QUOTE_VALUE_KEEP 40
char *quote_value(const char *value);

/* Writes "52:54:00:12:34:56" into buf (at least 18 bytes). */
void format_mac(const MacAddr *mac, char *buf);
/* "512M" when exact, else the byte count.  Caller frees. */
char *format_size(uint64_t bytes);

/* Used by object.c: apply klass's own defaults to obj / free its values. */
void object_class_apply_prop_defaults(ObjectClass *klass, Object *obj);
void object_class_free_prop_values(ObjectClass *klass, Object *obj);

#endif
