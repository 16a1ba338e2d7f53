/*
 * A small JSON writer for vmspec's machine-readable output (`plan
 * --format json`, `check --format json`, `schema`).  Output is
 * deterministic: keys in the order written, two-space indentation when
 * pretty, one line otherwise.  And the readers of the control protocol's
 * messages: flat requests, replies that may nest.
 */
#ifndef VMSPEC_SPEC_JSON_H
#define VMSPEC_SPEC_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#define JSON_MAX_DEPTH 32

typedef struct JsonWriter {
    GString *out;
    bool pretty;
    int depth;
    bool first[JSON_MAX_DEPTH];     /* no element written yet at depth */
    bool after_key;
} JsonWriter;

/* Starts writing into out (appended to; not owned). */
void json_writer_init(JsonWriter *w, GString *out, bool pretty);

void json_begin_object(JsonWriter *w);
void json_end_object(JsonWriter *w);
void json_begin_array(JsonWriter *w);
void json_end_array(JsonWriter *w);
/* The next value is the member key of the current object. */
void json_key(JsonWriter *w, const char *key);
void json_string(JsonWriter *w, const char *value);
void json_int(JsonWriter *w, int64_t value);
void json_uint(JsonWriter *w, uint64_t value);
void json_bool(JsonWriter *w, bool value);
void json_null(JsonWriter *w);
/* A value already in JSON form (a number as text). */
void json_raw(JsonWriter *w, const char *json);

/* Shorthands: key then value. */
void json_member_string(JsonWriter *w, const char *key, const char *value);
void json_member_int(JsonWriter *w, const char *key, int64_t value);
void json_member_bool(JsonWriter *w, const char *key, bool value);

/* Appends value to out as a JSON string literal, quotes included.  The
 * literal is valid UTF-8 whatever value holds: control characters (C0,
 * DEL, C1, U+2028/U+2029) become \uXXXX escapes and each byte of invalid
 * UTF-8 becomes \ufffd (json.c says why). */
void json_escape(GString *out, const char *value);

/*
 * Reads len bytes of text as one JSON object whose values are scalars
 * (strings, numbers, true/false, null) - the shape of vmspec's control
 * protocol messages.  Returns a new table key -> value (strings unescaped,
 * other scalars as written, null as "null"); NULL with an error for
 * anything else (nesting, trailing text, bad escapes, duplicate keys).
 */
GHashTable *json_parse_flat_object(const char *text, size_t len,
                                   GError **errp);

/* One member of an object, as json_parse_members() reads it. */
typedef struct JsonMember {
    char *key;
    char *value;        /* as json_parse_object() has it */
    bool is_string;     /* value was a string literal (now unescaped) */
} JsonMember;

/*
 * Reads len bytes of text as one JSON object whose values may nest
 * (RFC 8259): a new array of its members in the order written (freeing
 * them).  A string value is unescaped (the bytes between escapes as they
 * were, even invalid UTF-8); any other value is compact JSON text - no
 * blanks, numbers and true/false/null as written, the strings within
 * re-escaped by json_escape(), so valid UTF-8.  Refused, NULL with an
 * error saying what and at which byte: anything that is not one object
 * (trailing text included), numbers beyond RFC 8259's grammar, bad
 * escapes, \u0000 and surrogate escapes, raw control characters in
 * strings, a duplicate key in any object, objects or arrays more than
 * max_depth levels within the top-level object (0: scalar values only).
 * No size limit of its own: the caller bounds len.
 */
GPtrArray *json_parse_members(const char *text, size_t len,
                              unsigned max_depth, GError **errp);
/* The same as a new table key -> value, for callers that need neither the
 * order nor whether a value was a string. */
GHashTable *json_parse_object(const char *text, size_t len,
                              unsigned max_depth, GError **errp);
/* Reads len bytes of text as one JSON array of strings: a new
 * NULL-terminated array of them, unescaped as json_parse_members() does;
 * NULL with an error for anything else. */
char **json_parse_string_array(const char *text, size_t len, GError **errp);

#endif
