/*
 * YAML 1.2 core schema tag resolution for plain scalars.
 */
#include <string.h>

#include "machine/qom/property.h"
#include "spec/scalar.h"

/* The core schema's tags are "tag:yaml.org,2002:" + name (YAML 1.2,
 * section 10.1); `!!name` is its shorthand (the default %TAG !!). */
#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

static const char *const nulls[] = { "null", "Null", "NULL", "~", "", NULL };
static const char *const bools[] = { "true", "True", "TRUE", "false",
                                     "False", "FALSE", NULL };

static bool is_one_of(const char *t, const char *const *words)
{
    for (; *words; words++) {
        if (strcmp(t, *words) == 0) {
            return true;
        }
    }
    return false;
}

/* Consumes [0-9]+ (or the class given by valid) and reports whether any. */
static bool eat_digits(const char **p, int (*valid)(int))
{
    const char *start = *p;

    while (**p && valid((unsigned char)**p)) {
        (*p)++;
    }
    return *p > start;
}

static int is_octal(int c)
{
    return c >= '0' && c <= '7';
}

static int is_dec(int c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(int c)
{
    return g_ascii_isxdigit(c);
}

/* [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+ */
static bool is_int(const char *t)
{
    const char *p = t;

    if (g_str_has_prefix(t, "0o")) {
        p += 2;
        return eat_digits(&p, is_octal) && !*p;
    }
    if (g_str_has_prefix(t, "0x")) {
        p += 2;
        return eat_digits(&p, is_hex) && !*p;
    }
    if (*p == '-' || *p == '+') {
        p++;
    }
    return eat_digits(&p, is_dec) && !*p;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
 * | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN) */
static bool is_float(const char *t)
{
    static const char *const specials[] = {
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf",
        "-.INF", ".nan", ".NaN", ".NAN", NULL,
    };
    const char *p = t;

    if (is_one_of(t, specials)) {
        return true;
    }
    if (*p == '-' || *p == '+') {
        p++;
    }
    if (*p == '.') {
        p++;
        if (!eat_digits(&p, is_dec)) {
            return false;
        }
    } else {
        if (!eat_digits(&p, is_dec)) {
            return false;
        }
        if (*p == '.') {
            p++;
            eat_digits(&p, is_dec);
        }
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+') {
            p++;
        }
        if (!eat_digits(&p, is_dec)) {
            return false;
        }
    }
    return !*p;
}

SpecScalarType spec_scalar_type(const SpecNode *node)
{
    const char *t;

    g_assert(node->kind == SPEC_NODE_SCALAR);
    if (node->scalar.quoted) {
        return SPEC_SCALAR_STRING;
    }
    /* The tag resolution of YAML 1.2, section 10.3.2. */
    t = node->scalar.text;
    if (is_one_of(t, nulls)) {
        return SPEC_SCALAR_NULL;
    }
    if (is_one_of(t, bools)) {
        return SPEC_SCALAR_BOOL;
    }
    if (is_int(t)) {
        return SPEC_SCALAR_INT;
    }
    if (is_float(t)) {
        return SPEC_SCALAR_FLOAT;
    }
    return SPEC_SCALAR_STRING;
}

const char *spec_scalar_type_name(SpecScalarType type)
{
    static const char *const names[] = {
        [SPEC_SCALAR_NULL] = "null",
        [SPEC_SCALAR_BOOL] = "a boolean",
        [SPEC_SCALAR_INT] = "an integer",
        [SPEC_SCALAR_FLOAT] = "a number",
        [SPEC_SCALAR_STRING] = "a string",
    };

    return names[type];
}

SpecTag spec_tag_lookup(const char *tag)
{
    static const char *const core[] = {
        [SPEC_TAG_STR] = "str", [SPEC_TAG_INT] = "int",
        [SPEC_TAG_FLOAT] = "float", [SPEC_TAG_BOOL] = "bool",
        [SPEC_TAG_NULL] = "null", [SPEC_TAG_MAP] = "map",
        [SPEC_TAG_SEQ] = "seq",
    };

    if (!tag) {
        return SPEC_TAG_NONE;
    }
    if (strcmp(tag, "!") == 0) {
        return SPEC_TAG_NON_SPECIFIC;
    }
    if (g_str_has_prefix(tag, YAML_TAG_PREFIX)) {
        for (SpecTag t = SPEC_TAG_STR; t <= SPEC_TAG_SEQ; t++) {
            if (strcmp(tag + strlen(YAML_TAG_PREFIX), core[t]) == 0) {
                return t;
            }
        }
    }
    return SPEC_TAG_UNSUPPORTED;
}

char *spec_tag_quote(const char *tag)
{
    g_autofree char *shown = g_str_has_prefix(tag, YAML_TAG_PREFIX)
        ? g_strconcat("!!", tag + strlen(YAML_TAG_PREFIX), NULL)
        : g_strdup(tag);

    return quote_value(shown);
}

bool spec_tag_accepts(SpecTag tag, const char *text)
{
    switch (tag) {
    case SPEC_TAG_STR:
        return true;
    case SPEC_TAG_INT:
        return is_int(text);
    case SPEC_TAG_FLOAT:
        return is_float(text);
    case SPEC_TAG_BOOL:
        return is_one_of(text, bools);
    case SPEC_TAG_NULL:
        return is_one_of(text, nulls);
    default:
        return false;
    }
}
