/*
 * Property tables: defaults, parsing from strings, formatting.
 */
#include <ctype.h>
#include <errno.h>
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

/* Digits only: strtoull alone would accept signs, spaces and "0x". */
static bool parse_decimal(const char *str, const char **end, uint64_t *out)
{
    uint64_t value = 0;
    const char *p = str;

    if (!isdigit((unsigned char)*p)) {
        return false;
    }
    for (; isdigit((unsigned char)*p); p++) {
        unsigned digit = *p - '0';

        if (value > (UINT64_MAX - digit) / 10) {
            errno = ERANGE;
            return false;
        }
        value = value * 10 + digit;
    }
    *end = p;
    *out = value;
    return true;
}

bool parse_size(const char *str, uint64_t *out, GError **errp)
{
    static const char suffixes[] = "KMGTP";
    const char *end;
    uint64_t value;
    unsigned shift = 0;

    if (*str == '-') {
        return invalid(errp, "'%s' is not a size: must not be negative", str);
    }
    errno = 0;
    if (!parse_decimal(str, &end, &value)) {
        if (errno == ERANGE) {
            return invalid(errp, "'%s' is too large for a size", str);
        }
        return invalid(errp, "'%s' is not a size: expected a number of "
                       "bytes with an optional K, M, G or T suffix "
                       "(512M, 2G)", str);
    }
    if (*end) {
        const char *s = strchr(suffixes, toupper((unsigned char)*end));

        /* "2G", "2GB" and "2GiB" all mean 2 * 2^30. */
        if (!s || !(end[1] == '\0' || strcmp(end + 1, "B") == 0 ||
                    strcmp(end + 1, "iB") == 0)) {
            return invalid(errp, "'%s' is not a size: unknown suffix '%s' "
                           "(expected K, M, G or T)", str, end);
        }
        shift = 10 * (unsigned)(s - suffixes + 1);
    }
    if (shift && value > (UINT64_MAX >> shift)) {
        return invalid(errp, "'%s' is too large for a size", str);
    }
    *out = value << shift;
    return true;
}

bool parse_int64(const char *str, int64_t *out, GError **errp)
{
    const char *p = str, *end;
    bool negative = false;
    uint64_t magnitude;
    int base = 10;

    if (*p == '-' || *p == '+') {
        negative = *p == '-';
        p++;
    }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
        isxdigit((unsigned char)p[2])) {
        char *hex_end;

        base = 16;
        errno = 0;
        magnitude = strtoull(p + 2, &hex_end, 16);
        end = hex_end;
    } else {
        errno = 0;
        if (!parse_decimal(p, &end, &magnitude) && errno != ERANGE) {
            return invalid(errp, "'%s' is not an integer", str);
        }
    }
    if (errno == ERANGE ||
        magnitude > (negative ? (uint64_t)INT64_MAX + 1 : INT64_MAX)) {
        return invalid(errp, "'%s' is out of range for an integer", str);
    }
    if (*end) {
        return invalid(errp, "'%s' is not an integer%s", str,
                       base == 16 ? "" : " (trailing characters)");
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
            return invalid(errp, "'%s' is not a MAC address: expected six "
                           "hex pairs like 52:54:00:12:34:56, or auto", str);
        }
        mac.bytes[i] = (uint8_t)(g_ascii_xdigit_value(p[0]) << 4 |
                                 g_ascii_xdigit_value(p[1]));
    }
    /* IEEE 802: bit 0 of the first octet marks a group address. */
    if (mac.bytes[0] & 1) {
        return invalid(errp, "'%s' is a multicast MAC address; a NIC needs "
                       "a unicast one", str);
    }
    if (!(mac.bytes[0] | mac.bytes[1] | mac.bytes[2] | mac.bytes[3] |
          mac.bytes[4] | mac.bytes[5])) {
        return invalid(errp, "'%s' is not a usable MAC address", str);
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
    }
    g_assert_not_reached();
}

/* --- Instances --------------------------------------------------------- */

static const Property *find_or_fail(Object *obj, const char *name,
                                    GError **errp)
{
    const Property *prop = object_class_find_property(obj->klass, name);

    if (!prop) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND,
                    "'%s' has no property '%s'", object_get_typename(obj),
                    name);
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
    return invalid(errp, "'%s' is not one of: %s", value, valid->str);
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
        return invalid(errp, "'%s' is not a boolean: expected true or false",
                       value);
    case PROP_KIND_ENUM:
        return set_enum(prop, field, value, errp);
    case PROP_KIND_SIZE: {
        uint64_t v;

        if (!parse_size(value, &v, errp)) {
            return false;
        }
        if (v < prop->size_min || v > prop->size_max) {
            g_autofree char *lo = format_size(prop->size_min);
            g_autofree char *hi = format_size(prop->size_max);

            return invalid(errp, "%s is out of range: %s must be between "
                           "%s and %s", value, name, lo, hi);
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
    }
    g_assert_not_reached();
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
        return invalid(errp, "'%s' is not a sha256: expected 64 hex digits",
                       sha256);
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
