/*
 * JSON writer (RFC 8259).
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

/* --- Reading flat objects ---------------------------------------------- */

typedef struct {
    const char *p, *end;
} JsonReader;

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

/* A string literal at r->p (RFC 8259, 7), unescaped into a new string. */
static char *read_string(JsonReader *r)
{
    g_autoptr(GString) s = g_string_new(NULL);

    if (!expect_char(r, '"')) {
        return NULL;
    }
    while (r->p < r->end && *r->p != '"') {
        unsigned char c = (unsigned char)*r->p++;

        if (c < 0x20) {
            return NULL;
        }
        if (c != '\\') {
            g_string_append_c(s, (char)c);
            continue;
        }
        if (r->p >= r->end) {
            return NULL;
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
                    return NULL;
                }
                v = v << 4 | (unsigned)g_ascii_xdigit_value(*r->p++);
            }
            /* Surrogates would need a pair; control messages are ASCII. */
            if (v == 0 || (v >= 0xd800 && v <= 0xdfff)) {
                return NULL;
            }
            g_string_append_unichar(s, v);
            break;
        }
        default:
            return NULL;
        }
    }
    if (!expect_char(r, '"')) {
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
    JsonReader r = { text, text + len };

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
