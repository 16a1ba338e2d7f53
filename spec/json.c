/*
 * JSON writer (RFC 8259).
 */
#include <inttypes.h>

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

void json_escape(GString *out, const char *value)
{
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        switch (*p) {
        case '"':
            g_string_append(out, "\\\"");
            break;
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        case '\r':
            g_string_append(out, "\\r");
            break;
        default:
            if (*p < 0x20) {
                g_string_append_printf(out, "\\u%04x", *p);
            } else {
                g_string_append_c(out, (char)*p);
            }
        }
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
