/*
 * Property tables: defaults, parsing from strings, formatting.
 */
#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#include "machine/qom/property.h"
#include "machine/qom/error.h"

static const char *const kind_names[] = {
    [PROP_KIND_INT] = "int",
    [PROP_KIND_BOOL] = "bool",
    [PROP_KIND_STRING] = "string",
    [PROP_KIND_SIZE] = "size",
    [PROP_KIND_ENUM] = "enum",
    [PROP_KIND_PATH] = "path",
    [PROP_KIND_MAC] = "mac",
    [PROP_KIND_STRV] = "list",
};

const char *property_kind_name(PropertyKind kind)
{
    g_assert((size_t)kind < G_N_ELEMENTS(kind_names));
    return kind_names[kind];
}

void *object_property_field(Object *obj, const Property *prop)
{
    return (char *)obj + prop->offset;
}

/* --- Parsers ----------------------------------------------------------- */

char *quote_value(const char *value)
{
    bool utf8 = g_utf8_validate(value, -1, NULL);
    gsize n = utf8 ? (gsize)g_utf8_strlen(value, -1) : strlen(value);
    const char *cut;

    if (n <= QUOTE_VALUE_MAX) {
        return g_strdup_printf("'%s'", value);
    }
    cut = utf8 ? g_utf8_offset_to_pointer(value, QUOTE_VALUE_KEEP)
               : value + QUOTE_VALUE_KEEP;
    return g_strdup_printf("'%.*s'... (%zu %s)", (int)(cut - value), value, n,
                           utf8 ? "characters" : "bytes");
}

/* Fails with "'VALUE' " + the formatted rest: every parser's error names
 * the value it was given, cut short by quote_value(). */
static bool invalid_value(GError **errp, const char *value, const char *fmt,
                          ...) G_GNUC_PRINTF(3, 4);

static bool invalid_value(GError **errp, const char *value, const char *fmt,
                          ...)
{
    g_autofree char *quoted = quote_value(value);
    g_autofree char *rest = NULL;
    va_list ap;

    va_start(ap, fmt);
    rest = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID, "%s %s", quoted,
                rest);
    return false;
}

static bool invalid(GError **errp, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static bool invalid(GError **errp, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_propagate_error(errp, g_error_new_valist(VMSPEC_ERROR,
                                               VMSPEC_ERROR_INVALID, fmt, ap));
    va_end(ap);
    return false;
}

/* Digits of base (8, 10 or 16) from *p on, at least one, into *out; moves
 * *p past them.  False without digits, or with *overflow set when the value
 * doesn't fit 64 bits. */
static bool parse_digits(const char **p, unsigned base, uint64_t *out,
                         bool *overflow)
{
    const char *s = *p;
    uint64_t value = 0;

    for (int d; (d = g_ascii_xdigit_value(*s)) >= 0 && (unsigned)d < base;
         s++) {
        if (value > (UINT64_MAX - (unsigned)d) / base) {
            *overflow = true;
        }
        value = value * base + (unsigned)d;
    }
    if (s == *p) {
        return false;
    }
    *p = s;
    *out = value;
    return true;
}

/*
 * An integer as the YAML 1.2 core schema writes one (section 10.3.2):
 * [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+, nothing else (no spaces, no
 * 0X, no sign before 0x).  Sets the magnitude and sign; false when str is
 * not one, with *overflow set when only its size is wrong.
 */
static bool parse_core_int(const char *str, bool *negative,
                           uint64_t *magnitude, bool *overflow)
{
    const char *p = str;
    unsigned base = 10;

    *negative = false;
    *overflow = false;
    if (p[0] == '0' && (p[1] == 'o' || p[1] == 'x')) {
        base = p[1] == 'o' ? 8 : 16;
        p += 2;
    } else if (*p == '-' || *p == '+') {
        *negative = *p == '-';
        p++;
    }
    if (!parse_digits(&p, base, magnitude, overflow) || *p) {
        *overflow = false;      /* not an integer at all */
        return false;
    }
    return !*overflow;
}

bool parse_size(const char *str, uint64_t *out, GError **errp)
{
    static const char suffixes[] = "KMGTP";
    const char *end = str, *s;
    uint64_t value;
    bool negative, overflow;
    unsigned shift;

    /* A size is a YAML integer (4096, 0x1000, 0o10000)... */
    if (parse_core_int(str, &negative, &value, &overflow)) {
        if (negative && value) {
            return invalid_value(errp, str, "is not a size: must not be "
                                 "negative");
        }
        *out = value;
        return true;
    }
    if (*str == '-') {
        return invalid_value(errp, str, "is not a size: must not be "
                             "negative");
    }
    if (overflow) {
        return invalid_value(errp, str, "is too large for a size");
    }
    /* ... or decimal digits and a suffix: 2G, 2g, 2GB, 2GiB all mean
     * 2 * 2^30. */
    overflow = false;
    if (!parse_digits(&end, 10, &value, &overflow)) {
        return invalid_value(errp, str, "is not a size: expected a number "
                             "of bytes, optionally with a K, M, G, T or P "
                             "suffix (512M, 2G)");
    }
    s = strchr(suffixes, g_ascii_toupper(*end));
    if (!*end || !s || !(end[1] == '\0' ||
                         g_ascii_strcasecmp(end + 1, "B") == 0 ||
                         g_ascii_strcasecmp(end + 1, "iB") == 0)) {
        g_autofree char *suffix = quote_value(end);

        return invalid_value(errp, str, "is not a size: unknown suffix %s "
                             "(expected K, M, G, T or P, optionally followed "
                             "by B or iB)", suffix);
    }
    shift = 10 * (unsigned)(s - suffixes + 1);
    if (overflow || value > (UINT64_MAX >> shift)) {
        return invalid_value(errp, str, "is too large for a size");
    }
    *out = value << shift;
    return true;
}

bool parse_int64(const char *str, int64_t *out, GError **errp)
{
    bool negative, overflow;
    uint64_t magnitude;

    if (!parse_core_int(str, &negative, &magnitude, &overflow)) {
        return overflow
            ? invalid_value(errp, str, "is out of range for an integer")
            : invalid_value(errp, str, "is not an integer (YAML 1.2: 42, "
                            "-42, 0x2a or 0o52)");
    }
    if (magnitude > (negative ? (uint64_t)INT64_MAX + 1 : INT64_MAX)) {
        return invalid_value(errp, str, "is out of range for an integer");
    }
    *out = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
    return true;
}

bool parse_mac(const char *str, MacAddr *out, GError **errp)
{
    MacAddr mac = { .is_auto = false };

    if (strcmp(str, "auto") == 0) {
        *out = (MacAddr){ .is_auto = true };
        return true;
    }
    for (int i = 0; i < 6; i++) {
        const char *p = str + i * 3;

        if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
            p[2] != (i == 5 ? '\0' : ':')) {
            return invalid_value(errp, str, "is not a MAC address: expected "
                                 "six hex pairs like 52:54:00:12:34:56, or "
                                 "auto");
        }
        mac.bytes[i] = (uint8_t)(g_ascii_xdigit_value(p[0]) << 4 |
                                 g_ascii_xdigit_value(p[1]));
    }
    /* IEEE 802: bit 0 of the first octet marks a group address. */
    if (mac.bytes[0] & 1) {
        return invalid_value(errp, str, "is a multicast MAC address; a NIC "
                             "needs a unicast one");
    }
    if (!(mac.bytes[0] | mac.bytes[1] | mac.bytes[2] | mac.bytes[3] |
          mac.bytes[4] | mac.bytes[5])) {
        return invalid_value(errp, str, "is not a usable MAC address");
    }
    *out = mac;
    return true;
}

void format_mac(const MacAddr *mac, char *buf)
{
    g_snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac->bytes[0],
               mac->bytes[1], mac->bytes[2], mac->bytes[3], mac->bytes[4],
               mac->bytes[5]);
}

char *format_size(uint64_t bytes)
{
    static const char suffixes[] = "KMGTP";

    for (int i = (int)sizeof(suffixes) - 2; i >= 0; i--) {
        unsigned shift = 10 * (unsigned)(i + 1);

        if (bytes && (bytes & ((UINT64_C(1) << shift) - 1)) == 0) {
            return g_strdup_printf("%" PRIu64 "%c", bytes >> shift,
                                   suffixes[i]);
        }
    }
    return g_strdup_printf("%" PRIu64, bytes);
}

static bool is_sha256_hex(const char *str)
{
    size_t len = 0;

    for (; str[len]; len++) {
        if (!isxdigit((unsigned char)str[len])) {
            return false;
        }
    }
    return len == 64;
}

/* --- Class tables ------------------------------------------------------ */

const Property *object_class_find_property(ObjectClass *klass,
                                           const char *name)
{
    for (; klass; klass = object_class_get_parent(klass)) {
        for (const Property *p = klass->props; p && p->name; p++) {
            if (strcmp(p->name, name) == 0) {
                return p;
            }
        }
    }
    return NULL;
}

void object_class_foreach_property(ObjectClass *klass,
                                   void (*fn)(const Property *prop,
                                              ObjectClass *owner,
                                              void *opaque),
                                   void *opaque)
{
    ObjectClass *parent = object_class_get_parent(klass);

    if (parent) {
        object_class_foreach_property(parent, fn, opaque);
    }
    for (const Property *p = klass->props; p && p->name; p++) {
        fn(p, klass, opaque);
    }
}

static void collect_property(const Property *prop, ObjectClass *owner,
                             void *opaque)
{
    g_ptr_array_add(opaque, (gpointer)prop);
}

GPtrArray *object_class_properties(ObjectClass *klass)
{
    GPtrArray *props = g_ptr_array_new();

    object_class_foreach_property(klass, collect_property, props);
    return props;
}

GPtrArray *object_class_property_names(ObjectClass *klass, const char *group)
{
    g_autoptr(GPtrArray) props = object_class_properties(klass);
    GPtrArray *names = g_ptr_array_new();

    for (guint i = 0; i < props->len; i++) {
        const Property *prop = props->pdata[i];

        if (g_strcmp0(prop->group, group) == 0) {
            g_ptr_array_add(names, (gpointer)prop->name);
        }
    }
    return names;
}

void object_class_apply_prop_defaults(ObjectClass *klass, Object *obj)
{
    for (const Property *p = klass->props; p && p->name; p++) {
        void *field = object_property_field(obj, p);

        switch (p->kind) {
        case PROP_KIND_INT:
            *(int64_t *)field = p->def_int;
            break;
        case PROP_KIND_BOOL:
            *(bool *)field = p->def_int != 0;
            break;
        case PROP_KIND_ENUM:
            *(int *)field = (int)p->def_int;
            break;
        case PROP_KIND_SIZE:
            *(uint64_t *)field = p->def_size;
            break;
        case PROP_KIND_STRING:
            *(char **)field = g_strdup(p->def_str);
            break;
        case PROP_KIND_PATH:
            *(FilePath *)field = (FilePath){ NULL, NULL };
            break;
        case PROP_KIND_MAC:
            *(MacAddr *)field = (MacAddr){ .is_auto = true };
            break;
        case PROP_KIND_STRV:
            *(char ***)field = NULL;
            break;
        }
    }
}

void object_class_free_prop_values(ObjectClass *klass, Object *obj)
{
    for (const Property *p = klass->props; p && p->name; p++) {
        void *field = object_property_field(obj, p);

        if (p->kind == PROP_KIND_STRING) {
            g_clear_pointer((char **)field, g_free);
        } else if (p->kind == PROP_KIND_PATH) {
            g_clear_pointer(&((FilePath *)field)->path, g_free);
            g_clear_pointer(&((FilePath *)field)->sha256, g_free);
        } else if (p->kind == PROP_KIND_STRV) {
            g_clear_pointer((char ***)field, g_strfreev);
        }
    }
}

char *property_default_str(const Property *prop)
{
    switch (prop->kind) {
    case PROP_KIND_INT:
        return g_strdup_printf("%" PRId64, prop->def_int);
    case PROP_KIND_BOOL:
        return g_strdup(prop->def_int ? "true" : "false");
    case PROP_KIND_ENUM:
        return g_strdup(prop->enum_names[prop->def_int]);
    case PROP_KIND_SIZE:
        return format_size(prop->def_size);
    case PROP_KIND_STRING:
    case PROP_KIND_MAC:
        return g_strdup(prop->def_str);
    case PROP_KIND_PATH:
        return NULL;
    case PROP_KIND_STRV:
        return g_strdup("[]");
    }
    g_assert_not_reached();
}

/* --- Instances --------------------------------------------------------- */

static const Property *find_or_fail(Object *obj, const char *name,
                                    GError **errp)
{
    const Property *prop = object_class_find_property(obj->klass, name);

    if (!prop) {
        g_autofree char *quoted = quote_value(name);

        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND,
                    "'%s' has no property %s", object_get_typename(obj),
                    quoted);
    }
    return prop;
}

static bool set_enum(const Property *prop, int *field, const char *value,
                     GError **errp)
{
    g_autoptr(GString) valid = g_string_new(NULL);

    for (int i = 0; prop->enum_names[i]; i++) {
        if (strcmp(prop->enum_names[i], value) == 0) {
            *field = i;
            return true;
        }
        g_string_append_printf(valid, "%s%s", i ? ", " : "",
                               prop->enum_names[i]);
    }
    return invalid_value(errp, value, "is not one of: %s", valid->str);
}

bool object_property_set_str(Object *obj, const char *name,
                             const char *value, GError **errp)
{
    const Property *prop = find_or_fail(obj, name, errp);
    void *field;

    if (!prop) {
        return false;
    }
    if (obj->klass->property_set_allowed &&
        !obj->klass->property_set_allowed(obj, errp)) {
        return false;
    }
    field = object_property_field(obj, prop);
    switch (prop->kind) {
    case PROP_KIND_INT: {
        int64_t v;

        if (!parse_int64(value, &v, errp)) {
            return false;
        }
        if (v < prop->min || v > prop->max) {
            return invalid(errp, "%" PRId64 " is out of range: %s must be "
                           "between %" PRId64 " and %" PRId64, v, name,
                           prop->min, prop->max);
        }
        *(int64_t *)field = v;
        return true;
    }
    case PROP_KIND_BOOL:
        if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0) {
            *(bool *)field = value[0] == 't';
            return true;
        }
        return invalid_value(errp, value, "is not a boolean: expected true or "
                             "false");
    case PROP_KIND_ENUM:
        return set_enum(prop, field, value, errp);
    case PROP_KIND_SIZE: {
        uint64_t v;

        if (!parse_size(value, &v, errp)) {
            return false;
        }
        if (v < prop->size_min || v > prop->size_max) {
            g_autofree char *given = format_size(v);
            g_autofree char *lo = format_size(prop->size_min);
            g_autofree char *hi = format_size(prop->size_max);

            return invalid(errp, "%s is out of range: %s must be between "
                           "%s and %s", given, name, lo, hi);
        }
        *(uint64_t *)field = v;
        return true;
    }
    case PROP_KIND_STRING:
        if (prop->check && !prop->check(value, errp)) {
            return false;
        }
        g_free(*(char **)field);
        *(char **)field = g_strdup(value);
        return true;
    case PROP_KIND_PATH:
        if (!*value) {
            return invalid(errp, "a path must not be empty");
        }
        g_free(((FilePath *)field)->path);
        ((FilePath *)field)->path = g_strdup(value);
        return true;
    case PROP_KIND_MAC:
        return parse_mac(value, field, errp);
    case PROP_KIND_STRV:
        return invalid(errp, "'%s' is a list of strings, not a single value",
                       name);
    }
    g_assert_not_reached();
}

bool object_property_set_strv(Object *obj, const char *name,
                              const char *const *values, GError **errp)
{
    const Property *prop = find_or_fail(obj, name, errp);
    char ***field;

    if (!prop) {
        return false;
    }
    if (prop->kind != PROP_KIND_STRV) {
        return invalid(errp, "'%s' is not a list of strings", name);
    }
    if (obj->klass->property_set_allowed &&
        !obj->klass->property_set_allowed(obj, errp)) {
        return false;
    }
    for (guint i = 0; prop->check && values && values[i]; i++) {
        g_autoptr(GError) err = NULL;

        if (!prop->check(values[i], &err)) {
            return invalid(errp, "item %u: %s", i, err->message);
        }
    }
    field = object_property_field(obj, prop);
    g_strfreev(*field);
    *field = values && values[0] ? g_strdupv((char **)values) : NULL;
    return true;
}

const char *const *object_property_get_strv(Object *obj, const char *name)
{
    static const char *const empty[] = { NULL };
    const Property *prop = object_class_find_property(obj->klass, name);
    char **items;

    g_assert(prop && prop->kind == PROP_KIND_STRV);
    items = *(char ***)object_property_field(obj, prop);
    return items ? (const char *const *)items : empty;
}

/* ["a", "b"]: each item a JSON string, which YAML reads back the same. */
static char *format_strv(const char *const *items)
{
    GString *out = g_string_new("[");

    for (guint i = 0; items && items[i]; i++) {
        g_string_append(out, i ? ", \"" : "\"");
        for (const char *c = items[i]; *c; c++) {
            unsigned char ch = (unsigned char)*c;

            if (ch == '"' || ch == '\\') {
                g_string_append_printf(out, "\\%c", ch);
            } else if (ch == '\n' || ch == '\t' || ch == '\r') {
                g_string_append_c(out, '\\');
                g_string_append_c(out, ch == '\n' ? 'n'
                                       : ch == '\t' ? 't' : 'r');
            } else if (ch < 0x20 || ch == 0x7f) {
                g_string_append_printf(out, "\\u%04x", ch);
            } else {
                g_string_append_c(out, (char)ch);
            }
        }
        g_string_append_c(out, '"');
    }
    g_string_append_c(out, ']');
    return g_string_free(out, FALSE);
}

bool object_property_set_path_pin(Object *obj, const char *name,
                                  const char *sha256, GError **errp)
{
    const Property *prop = find_or_fail(obj, name, errp);
    FilePath *fp;

    if (!prop) {
        return false;
    }
    if (prop->kind != PROP_KIND_PATH) {
        return invalid(errp, "'%s' is not a path and cannot take a sha256 "
                       "pin", name);
    }
    if (!is_sha256_hex(sha256)) {
        return invalid_value(errp, sha256, "is not a sha256: expected 64 hex "
                             "digits");
    }
    fp = object_property_field(obj, prop);
    g_free(fp->sha256);
    fp->sha256 = g_ascii_strdown(sha256, -1);
    return true;
}

char *object_property_get_str(Object *obj, const char *name)
{
    const Property *prop = object_class_find_property(obj->klass, name);
    void *field;

    g_assert(prop);
    field = object_property_field(obj, prop);
    switch (prop->kind) {
    case PROP_KIND_INT:
        return g_strdup_printf("%" PRId64, *(int64_t *)field);
    case PROP_KIND_BOOL:
        return g_strdup(*(bool *)field ? "true" : "false");
    case PROP_KIND_ENUM:
        return g_strdup(prop->enum_names[*(int *)field]);
    case PROP_KIND_SIZE:
        return format_size(*(uint64_t *)field);
    case PROP_KIND_STRING:
        return g_strdup(*(char **)field);
    case PROP_KIND_PATH:
        return g_strdup(((FilePath *)field)->path);
    case PROP_KIND_MAC: {
        char buf[18];

        if (((MacAddr *)field)->is_auto) {
            return g_strdup("auto");
        }
        format_mac(field, buf);
        return g_strdup(buf);
    }
    case PROP_KIND_STRV:
        return format_strv(*(const char *const **)field);
    }
    g_assert_not_reached();
}

bool object_property_is_set(Object *obj, const Property *prop)
{
    void *field = object_property_field(obj, prop);

    switch (prop->kind) {
    case PROP_KIND_STRING:
        return *(char **)field != NULL;
    case PROP_KIND_PATH:
        return ((FilePath *)field)->path != NULL;
    default:
        return true;    /* the others always hold a value */
    }
}

typedef struct {
    Object *obj;
    const Property *missing;
} RequiredCheck;

static void check_required(const Property *prop, ObjectClass *owner,
                           void *opaque)
{
    RequiredCheck *c = opaque;

    if (prop->required && !object_property_is_set(c->obj, prop) &&
        !c->missing) {
        c->missing = prop;
    }
}

bool object_check_required_properties(Object *obj, GError **errp)
{
    RequiredCheck c = { obj, NULL };

    object_class_foreach_property(obj->klass, check_required, &c);
    if (c.missing) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "missing required property '%s'", c.missing->name);
        return false;
    }
    return true;
}
