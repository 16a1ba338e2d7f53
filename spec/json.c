/*
 * JSON writer and readers (RFC 8259).
 */
#include <inttypes.h>
#include <string.h>

#include "machine/qom/error.h"
#include "spec/json.h"

void json_writer_init(JsonWriter *w, GString *out, bool pretty)
{
    *w = (JsonWriter){ .out = out, .pretty = pretty };
    w->first[0] = true;
}

static void newline(JsonWriter *w)
{
    if (w->pretty) {
        g_string_append_c(w->out, '\n');
        for (int i = 0; i < w->depth; i++) {
            g_string_append(w->out, "  ");
        }
    }
}

/* Separator and indentation before a value (or a key). */
static void before_value(JsonWriter *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth]) {
        g_string_append_c(w->out, ',');
    }
    w->first[w->depth] = false;
    if (w->depth > 0) {
        newline(w);
    }
}

static void open_container(JsonWriter *w, char c)
{
    before_value(w);
    g_string_append_c(w->out, c);
    g_assert(w->depth + 1 < JSON_MAX_DEPTH);
    w->depth++;
    w->first[w->depth] = true;
}

static void close_container(JsonWriter *w, char c)
{
    bool empty = w->first[w->depth];

    g_assert(w->depth > 0);
    w->depth--;
    if (!empty) {
        newline(w);
    }
    g_string_append_c(w->out, c);
}

void json_begin_object(JsonWriter *w)
{
    open_container(w, '{');
}

void json_end_object(JsonWriter *w)
{
    close_container(w, '}');
}

void json_begin_array(JsonWriter *w)
{
    open_container(w, '[');
}

void json_end_array(JsonWriter *w)
{
    close_container(w, ']');
}

/* The two-character escape of an ASCII byte, or NULL. */
static const char *short_escape(unsigned char byte)
{
    switch (byte) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\t': return "\\t";
    case '\r': return "\\r";
    default: return NULL;
    }
}

/*
 * RFC 8259, 7 and 8.1: JSON text is UTF-8 and a string escapes U+0000 to
 * U+001F.  Escaped as well, so that JSON Lines read on a terminal are as
 * inert as vmspec's text output: DEL and the C1 controls (U+007F..U+009F)
 * and U+2028/U+2029 (line breaks to JavaScript before ES2019).  Names and
 * paths on Linux are bytes, not UTF-8: each byte that starts no valid
 * sequence (a stray continuation byte, an overlong form, a surrogate, a
 * sequence cut short) becomes one U+FFFD, the replacement character, so
 * the output is always valid JSON - at the price of not naming such a
 * file exactly.
 */
void json_escape(GString *out, const char *value)
{
    const char *end = value + strlen(value);

    g_string_append_c(out, '"');
    for (const char *p = value; p < end;) {
        unsigned char byte = (unsigned char)*p;
        const char *esc = short_escape(byte);
        gunichar c;

        if (esc) {
            g_string_append(out, esc);
            p++;
            continue;
        }
        c = byte < 0x80 ? byte : g_utf8_get_char_validated(p, end - p);
        if (c == (gunichar)-1 || c == (gunichar)-2) {
            g_string_append(out, "\\ufffd");
            p++;
            continue;
        }
        if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 ||
            c == 0x2029) {
            g_string_append_printf(out, "\\u%04x", c);
        } else {
            g_string_append_len(out, p, g_utf8_next_char(p) - p);
        }
        p = g_utf8_next_char(p);
    }
    g_string_append_c(out, '"');
}

void json_key(JsonWriter *w, const char *key)
{
    before_value(w);
    json_escape(w->out, key);
    g_string_append(w->out, w->pretty ? ": " : ":");
    w->after_key = true;
}

void json_string(JsonWriter *w, const char *value)
{
    before_value(w);
    json_escape(w->out, value);
}

void json_int(JsonWriter *w, int64_t value)
{
    before_value(w);
    g_string_append_printf(w->out, "%" PRId64, value);
}

void json_uint(JsonWriter *w, uint64_t value)
{
    before_value(w);
    g_string_append_printf(w->out, "%" PRIu64, value);
}

void json_bool(JsonWriter *w, bool value)
{
    before_value(w);
    g_string_append(w->out, value ? "true" : "false");
}

void json_null(JsonWriter *w)
{
    before_value(w);
    g_string_append(w->out, "null");
}

void json_raw(JsonWriter *w, const char *json)
{
    before_value(w);
    g_string_append(w->out, json);
}

void json_member_string(JsonWriter *w, const char *key, const char *value)
{
    json_key(w, key);
    json_string(w, value);
}

void json_member_int(JsonWriter *w, const char *key, int64_t value)
{
    json_key(w, key);
    json_int(w, value);
}

void json_member_bool(JsonWriter *w, const char *key, bool value)
{
    json_key(w, key);
    json_bool(w, value);
}

/* --- Reading ------------------------------------------------------------ */

typedef struct {
    const char *p, *end;
    /* The first failure: what was wrong (a phrase for the error message)
     * and where; NULL while none.  Later failures, met while unwinding,
     * keep the first, which is the one that explains. */
    const char *why;
    const char *why_at;
} JsonReader;

/* Notes why reading stopped (the first reason only); returns false so
 * that callers can `return fail(r, ...)`. */
static bool fail(JsonReader *r, const char *why)
{
    if (!r->why) {
        r->why = why;
        r->why_at = r->p;
    }
    return false;
}

/* RFC 8259, 2: the blanks allowed around structural characters. */
static void skip_space(JsonReader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' ||
                             *r->p == '\n' || *r->p == '\r')) {
        r->p++;
    }
}

static bool expect_char(JsonReader *r, char c)
{
    skip_space(r);
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return true;
    }
    return false;
}

/* A string literal at r->p (RFC 8259, 7), unescaped into a new string.
 * The bytes between escapes are copied as they are, valid UTF-8 or not:
 * the readers pass on what the writer sent (json_escape() never sends
 * invalid UTF-8). */
static char *read_string(JsonReader *r)
{
    g_autoptr(GString) s = g_string_new(NULL);

    if (!expect_char(r, '"')) {
        fail(r, "expected a string");
        return NULL;
    }
    while (r->p < r->end && *r->p != '"') {
        unsigned char c = (unsigned char)*r->p++;

        if (c < 0x20) {
            fail(r, "a control character in a string");
            return NULL;
        }
        if (c != '\\') {
            g_string_append_c(s, (char)c);
            continue;
        }
        if (r->p >= r->end) {
            break;
        }
        switch (*r->p++) {
        case '"': g_string_append_c(s, '"'); break;
        case '\\': g_string_append_c(s, '\\'); break;
        case '/': g_string_append_c(s, '/'); break;
        case 'b': g_string_append_c(s, '\b'); break;
        case 'f': g_string_append_c(s, '\f'); break;
        case 'n': g_string_append_c(s, '\n'); break;
        case 'r': g_string_append_c(s, '\r'); break;
        case 't': g_string_append_c(s, '\t'); break;
        case 'u': {
            unsigned v = 0;

            for (int i = 0; i < 4; i++) {
                if (r->p >= r->end || !g_ascii_isxdigit(*r->p)) {
                    fail(r, "a bad \\u escape");
                    return NULL;
                }
                v = v << 4 | (unsigned)g_ascii_xdigit_value(*r->p++);
            }
            /* Surrogates would need a pair; control messages are ASCII.
             * U+0000 would cut the C string short. */
            if (v == 0 || (v >= 0xd800 && v <= 0xdfff)) {
                fail(r, "a \\u0000 or surrogate escape");
                return NULL;
            }
            g_string_append_unichar(s, v);
            break;
        }
        default:
            fail(r, "a bad escape");
            return NULL;
        }
    }
    if (!expect_char(r, '"')) {
        fail(r, "an unterminated string");
        return NULL;
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

/* A number, true, false or null, returned as written. */
static char *read_bare_scalar(JsonReader *r)
{
    const char *start;

    skip_space(r);
    start = r->p;
    while (r->p < r->end && (g_ascii_isalnum(*r->p) || *r->p == '-' ||
                             *r->p == '+' || *r->p == '.')) {
        r->p++;
    }
    if (r->p == start) {
        return NULL;
    }
    return g_strndup(start, r->p - start);
}

GHashTable *json_parse_flat_object(const char *text, size_t len,
                                   GError **errp)
{
    g_autoptr(GHashTable) obj = g_hash_table_new_full(g_str_hash,
                                                      g_str_equal, g_free,
                                                      g_free);
    JsonReader r = { .p = text, .end = text + len };

    if (!expect_char(&r, '{')) {
        goto bad;
    }
    if (!expect_char(&r, '}')) {
        do {
            g_autofree char *key = read_string(&r);
            char *value;

            if (!key || !expect_char(&r, ':')) {
                goto bad;
            }
            skip_space(&r);
            value = r.p < r.end && *r.p == '"' ? read_string(&r)
                                               : read_bare_scalar(&r);
            if (!value || g_hash_table_contains(obj, key)) {
                g_free(value);
                goto bad;
            }
            g_hash_table_insert(obj, g_steal_pointer(&key), value);
        } while (expect_char(&r, ','));
        if (!expect_char(&r, '}')) {
            goto bad;
        }
    }
    skip_space(&r);
    if (r.p != r.end) {
        goto bad;
    }
    return g_steal_pointer(&obj);

bad:
    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                "not a JSON object of scalar values (at byte %ld)",
                (long)(r.p - text));
    return NULL;
}

/* --- Reading nested objects --------------------------------------------
 *
 * Strict where the flat reader is lenient with bare scalars, since a
 * value that is copied on as JSON text must be JSON: numbers, true, false
 * and null as RFC 8259 has them, nesting bounded by the caller, no
 * duplicate keys.
 */

static void json_member_free(gpointer p)
{
    JsonMember *m = p;

    g_free(m->key);
    g_free(m->value);
    g_free(m);
}

/* Skips the digits at r->p; whether there was one. */
static bool skip_digits(JsonReader *r)
{
    const char *start = r->p;

    while (r->p < r->end && g_ascii_isdigit(*r->p)) {
        r->p++;
    }
    return r->p > start;
}

/* RFC 8259, 6: number = [ "-" ] int [ frac ] [ exp ], where int is 0 or
 * starts with 1-9 (no leading zeros), frac is "." and digits, exp is e or
 * E, an optional sign and digits.  Nothing else (no "+1", ".5", "1.",
 * hex, Infinity, NaN). */
static bool skip_number(JsonReader *r)
{
    bool minus = r->p < r->end && *r->p == '-';

    if (minus) {
        r->p++;
    }
    if (r->p < r->end && *r->p == '0') {
        r->p++;
    } else if (!skip_digits(r)) {
        return fail(r, minus ? "a bad number" : "expected a value");
    }
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (!skip_digits(r)) {
            return fail(r, "a bad number");
        }
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-')) {
            r->p++;
        }
        if (!skip_digits(r)) {
            return fail(r, "a bad number");
        }
    }
    return true;
}

/* A number, true, false or null, appended to out as written.  RFC 8259,
 * 3: the literal names are lower case. */
static bool read_scalar(JsonReader *r, GString *out)
{
    static const char *const names[] = { "true", "false", "null" };
    const char *start = r->p;

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        size_t n = strlen(names[i]);

        if ((size_t)(r->end - r->p) >= n && memcmp(r->p, names[i], n) == 0) {
            r->p += n;
            g_string_append(out, names[i]);
            return true;
        }
    }
    if (!skip_number(r)) {
        return false;
    }
    g_string_append_len(out, start, r->p - start);
    return true;
}

/*
 * Any value at r->p, appended to out as compact JSON: no blanks, strings
 * re-escaped by json_escape() (so the text is valid UTF-8 whatever the
 * input held), numbers and literal names as written.  level is how deep
 * an object or array here would be within the top-level object (1 for a
 * member's value); deeper than max_depth is refused, which also bounds
 * this function's recursion (RFC 8259, 9 lets a parser limit nesting).
 */
static bool read_value(JsonReader *r, unsigned level, unsigned max_depth,
                       GString *out)
{
    g_autoptr(GHashTable) keys = NULL;
    bool object;
    char close;

    skip_space(r);
    if (r->p < r->end && *r->p == '"') {
        g_autofree char *s = read_string(r);

        if (!s) {
            return false;
        }
        json_escape(out, s);
        return true;
    }
    if (r->p >= r->end || (*r->p != '{' && *r->p != '[')) {
        return read_scalar(r, out);
    }
    if (level > max_depth) {
        return fail(r, "objects or arrays nested too deep");
    }
    object = *r->p == '{';
    close = object ? '}' : ']';
    g_string_append_c(out, *r->p++);
    if (expect_char(r, close)) {
        g_string_append_c(out, close);
        return true;
    }
    keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (bool first = true; first || expect_char(r, ','); first = false) {
        if (!first) {
            g_string_append_c(out, ',');
        }
        if (object) {
            const char *key_at;
            g_autofree char *key = NULL;

            skip_space(r);
            key_at = r->p;
            key = read_string(r);
            if (!key) {
                return false;
            }
            /* RFC 8259, 4: names SHOULD be unique; which one a reader
             * keeps varies, so a duplicate is refused, not guessed. */
            if (g_hash_table_contains(keys, key)) {
                r->p = key_at;
                return fail(r, "a duplicate key");
            }
            if (!expect_char(r, ':')) {
                return fail(r, "expected ':'");
            }
            json_escape(out, key);
            g_string_append_c(out, ':');
            g_hash_table_add(keys, g_steal_pointer(&key));
        }
        if (!read_value(r, level + 1, max_depth, out)) {
            return false;
        }
    }
    if (!expect_char(r, close)) {
        return fail(r, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    g_string_append_c(out, close);
    return true;
}

static void set_read_error(GError **errp, const JsonReader *r,
                           const char *text)
{
    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID, "%s at byte %ld",
                r->why, (long)(r->why_at - text));
}

GPtrArray *json_parse_members(const char *text, size_t len,
                              unsigned max_depth, GError **errp)
{
    g_autoptr(GPtrArray) members =
        g_ptr_array_new_with_free_func(json_member_free);
    /* The keys seen, borrowed from members. */
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    JsonReader r = { .p = text, .end = text + len };

    if (!expect_char(&r, '{')) {
        fail(&r, "expected an object");
        goto bad;
    }
    if (!expect_char(&r, '}')) {
        do {
            g_autofree char *key = NULL;
            const char *key_at;
            JsonMember *m;

            skip_space(&r);
            key_at = r.p;
            key = read_string(&r);
            if (!key) {
                goto bad;
            }
            if (g_hash_table_contains(seen, key)) {
                r.p = key_at;
                fail(&r, "a duplicate key");     /* RFC 8259, 4 */
                goto bad;
            }
            if (!expect_char(&r, ':')) {
                fail(&r, "expected ':'");
                goto bad;
            }
            m = g_new0(JsonMember, 1);
            m->key = g_steal_pointer(&key);
            g_ptr_array_add(members, m);
            g_hash_table_add(seen, m->key);
            skip_space(&r);
            m->is_string = r.p < r.end && *r.p == '"';
            if (m->is_string) {
                m->value = read_string(&r);
            } else {
                GString *json = g_string_new(NULL);
                bool ok = read_value(&r, 1, max_depth, json);

                m->value = g_string_free(json, !ok);
            }
            if (!m->value) {
                goto bad;
            }
        } while (expect_char(&r, ','));
        if (!expect_char(&r, '}')) {
            fail(&r, "expected ',' or '}'");
            goto bad;
        }
    }
    skip_space(&r);
    if (r.p != r.end) {
        fail(&r, "text after the object");
        goto bad;
    }
    return g_steal_pointer(&members);

bad:
    set_read_error(errp, &r, text);
    return NULL;
}

GHashTable *json_parse_object(const char *text, size_t len,
                              unsigned max_depth, GError **errp)
{
    g_autoptr(GPtrArray) members = json_parse_members(text, len, max_depth,
                                                      errp);
    GHashTable *obj;

    if (!members) {
        return NULL;
    }
    obj = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint i = 0; i < members->len; i++) {
        JsonMember *m = members->pdata[i];

        g_hash_table_insert(obj, g_steal_pointer(&m->key),
                            g_steal_pointer(&m->value));
    }
    return obj;
}

char **json_parse_string_array(const char *text, size_t len, GError **errp)
{
    g_autoptr(GPtrArray) strings = g_ptr_array_new_with_free_func(g_free);
    JsonReader r = { .p = text, .end = text + len };

    if (!expect_char(&r, '[')) {
        fail(&r, "expected an array");
        goto bad;
    }
    if (!expect_char(&r, ']')) {
        do {
            char *s = read_string(&r);

            if (!s) {
                goto bad;
            }
            g_ptr_array_add(strings, s);
        } while (expect_char(&r, ','));
        if (!expect_char(&r, ']')) {
            fail(&r, "expected ',' or ']'");
            goto bad;
        }
    }
    skip_space(&r);
    if (r.p != r.end) {
        fail(&r, "text after the array");
        goto bad;
    }
    g_ptr_array_add(strings, NULL);
    return (char **)g_ptr_array_free(g_steal_pointer(&strings), FALSE);

bad:
    set_read_error(errp, &r, text);
    return NULL;
}
