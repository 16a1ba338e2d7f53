/* JSON writer: string literals are valid UTF-8 JSON whatever the bytes
 * (RFC 8259, 7 and 8.1), and the writer's separators and nesting.  The
 * nested reader (the control protocol's replies): what it keeps, the
 * order, and what RFC 8259 or its limits refuse. */
#include <string.h>
#include <glib.h>

#include "machine/qom/error.h"
#include "spec/json.h"

typedef struct {
    const char *in;
    const char *out;    /* the literal, quotes included */
} EscapeCase;

static const EscapeCase escape_cases[] = {
    { "plain text", "\"plain text\"" },
    { "", "\"\"" },
    { "q\"b\\s/", "\"q\\\"b\\\\s/\"" },
    { "a\nb\tc\rd", "\"a\\nb\\tc\\rd\"" },
    /* C0 controls, ESC, DEL */
    { "\x01\x1b[31m\x7f", "\"\\u0001\\u001b[31m\\u007f\"" },
    /* C1 controls (U+0085, U+009B as UTF-8), line/paragraph separators */
    { "\xc2\x85\xc2\x9b", "\"\\u0085\\u009b\"" },
    { "\xe2\x80\xa8\xe2\x80\xa9", "\"\\u2028\\u2029\"" },
    /* Printable UTF-8 is copied: U+00E9, U+00A0, U+20AC, U+1F600. */
    { "caf\xc3\xa9\xc2\xa0\xe2\x82\xac\xf0\x9f\x98\x80",
      "\"caf\xc3\xa9\xc2\xa0\xe2\x82\xac\xf0\x9f\x98\x80\"" },
    /* Each byte that starts no valid sequence is one U+FFFD. */
    { "bad\xff.yaml", "\"bad\\ufffd.yaml\"" },
    { "\x80x", "\"\\ufffdx\"" },                          /* stray */
    { "\xc0\xaf", "\"\\ufffd\\ufffd\"" },                 /* overlong '/' */
    { "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },      /* surrogate */
    { "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* >10FFFF */
    { "end\xe2\x82", "\"end\\ufffd\\ufffd\"" },           /* cut short */
};

static void test_escape(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(escape_cases); i++) {
        g_autoptr(GString) out = g_string_new(NULL);

        json_escape(out, escape_cases[i].in);
        g_assert_cmpstr(out->str, ==, escape_cases[i].out);
        g_assert_true(g_utf8_validate(out->str, -1, NULL));
    }
}

/* Keys go through the same escaping as values. */
static void test_key_escaped(void)
{
    g_autoptr(GString) out = g_string_new(NULL);
    JsonWriter w;

    json_writer_init(&w, out, false);
    json_begin_object(&w);
    json_member_string(&w, "k\xff\n", "v\x1b");
    json_end_object(&w);
    g_assert_cmpstr(out->str, ==, "{\"k\\ufffd\\n\":\"v\\u001b\"}");
}

static void test_nesting(void)
{
    g_autoptr(GString) out = g_string_new(NULL);
    JsonWriter w;

    json_writer_init(&w, out, true);
    json_begin_object(&w);
    json_member_int(&w, "a", -1);
    json_key(&w, "b");
    json_begin_array(&w);
    json_bool(&w, true);
    json_null(&w);
    json_end_array(&w);
    json_key(&w, "c");
    json_begin_object(&w);
    json_end_object(&w);
    json_end_object(&w);
    g_assert_cmpstr(out->str, ==,
                    "{\n  \"a\": -1,\n  \"b\": [\n    true,\n    null\n  ],\n"
                    "  \"c\": {}\n}");
}

/* What the writer escapes, the control protocol's reader unescapes. */
static void test_round_trip(void)
{
    const char *value = "x\x1b]0;\x07\xc2\x85\n\"\\";
    g_autoptr(GString) text = g_string_new(NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(GHashTable) obj = NULL;

    g_string_append(text, "{\"v\": ");
    json_escape(text, value);
    g_string_append(text, "}");
    obj = json_parse_flat_object(text->str, text->len, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(g_hash_table_lookup(obj, "v"), ==, value);
}

/* The control protocol's reply depth. */
#define DEPTH 8

static GHashTable *parse(const char *text, GError **errp)
{
    return json_parse_object(text, strlen(text), DEPTH, errp);
}

/* A status reply: strings unescaped, scalars as written, nested values as
 * compact JSON with their strings re-escaped. */
static void test_parse_nested(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GHashTable) obj = parse(
        " {\"ok\": true, \"pid\": 42, \"uptime_s\": -3.5e+2, \"gone\": null,"
        "\t\"name\": \"w\\u00e9b\\n1\\/\", \"\": \"\",\r\n"
        "\"forwards\": { \"net0\" : [ \"tcp:127.0.0.1:2222-10.0.2.15:22\" ],"
        " \"net1\": [], \"x\": {\"e\": \"\\u001b\\/\\u00e9\", \"o\": {}} }"
        "} ", &err);

    g_assert_no_error(err);
    g_assert_cmpuint(g_hash_table_size(obj), ==, 7);
    g_assert_cmpstr(g_hash_table_lookup(obj, "ok"), ==, "true");
    g_assert_cmpstr(g_hash_table_lookup(obj, "pid"), ==, "42");
    g_assert_cmpstr(g_hash_table_lookup(obj, "uptime_s"), ==, "-3.5e+2");
    g_assert_cmpstr(g_hash_table_lookup(obj, "gone"), ==, "null");
    g_assert_cmpstr(g_hash_table_lookup(obj, "name"), ==,
                    "w\xc3\xa9" "b\n1/");
    g_assert_cmpstr(g_hash_table_lookup(obj, ""), ==, "");
    g_assert_cmpstr(g_hash_table_lookup(obj, "forwards"), ==,
                    "{\"net0\":[\"tcp:127.0.0.1:2222-10.0.2.15:22\"],"
                    "\"net1\":[],\"x\":{\"e\":\"\\u001b/\xc3\xa9\",\"o\":{}}}");
}

/* json_parse_members(): the order written and which values were strings
 * (the table can't tell "1" from 1). */
static void test_parse_members(void)
{
    const char *text = "{\"b\": \"1\", \"a\": 1, \"c\": [ ], \"d\": \"[]\"}";
    static const char *const keys[] = { "b", "a", "c", "d" };
    static const char *const values[] = { "1", "1", "[]", "[]" };
    static const bool strings[] = { true, false, false, true };
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) members = json_parse_members(text, strlen(text),
                                                      DEPTH, &err);

    g_assert_no_error(err);
    g_assert_cmpuint(members->len, ==, G_N_ELEMENTS(keys));
    for (guint i = 0; i < members->len; i++) {
        JsonMember *m = members->pdata[i];

        g_assert_cmpstr(m->key, ==, keys[i]);
        g_assert_cmpstr(m->value, ==, values[i]);
        g_assert_cmpint(m->is_string, ==, strings[i]);
    }
}

/* Only len bytes are read: the text need not end there. */
static void test_parse_len(void)
{
    const char *text = "{\"a\": 1}\n{\"b\": 2}";
    g_autoptr(GError) err = NULL;
    g_autoptr(GHashTable) obj = json_parse_object(text, 8, DEPTH, &err);

    g_assert_no_error(err);
    g_assert_cmpstr(g_hash_table_lookup(obj, "a"), ==, "1");
    g_assert_false(g_hash_table_contains(obj, "b"));
}

/* Nesting: max_depth objects or arrays within the top-level object. */
static void test_parse_depth(void)
{
    g_autoptr(GString) eight = g_string_new("{\"x\": ");
    g_autoptr(GString) nine = NULL;
    g_autoptr(GHashTable) obj = NULL;
    g_autoptr(GError) err = NULL;
    const char *arr = "{\"a\": [1]}";

    for (int i = 0; i < DEPTH; i++) {
        g_string_append(eight, i % 2 ? "{\"k\": " : "[");
    }
    nine = g_string_new(eight->str);
    g_string_append(eight, "1");
    g_string_append(nine, "[]");
    for (int i = DEPTH - 1; i >= 0; i--) {
        g_string_append(eight, i % 2 ? "}" : "]");
        g_string_append(nine, i % 2 ? "}" : "]");
    }
    g_string_append_c(eight, '}');
    g_string_append_c(nine, '}');

    obj = parse(eight->str, &err);
    g_assert_no_error(err);
    g_clear_pointer(&obj, g_hash_table_unref);
    obj = parse(nine->str, &err);
    g_assert_null(obj);
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "nested too deep"));
    g_clear_error(&err);

    /* 0: a flat object; 1: one level. */
    obj = json_parse_object(arr, strlen(arr), 0, &err);
    g_assert_null(obj);
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);
    obj = json_parse_object(arr, strlen(arr), 1, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(g_hash_table_lookup(obj, "a"), ==, "[1]");
}

/* The error says why and where (bytes from the start of text). */
static void test_parse_error_position(void)
{
    static const struct {
        const char *text, *message;
    } cases[] = {
        { "{\"a\": 1, \"a\": 2}", "a duplicate key at byte 9" },
        { "{\"a\": {\"b\": 1, \"b\": 1}}", "a duplicate key at byte 15" },
        { "{\"a\": 1} x", "text after the object at byte 9" },
        { "{\"a\": 01}", "expected ',' or '}' at byte 7" },
        { "{\"a\": \"\\q\"}", "a bad escape at byte 9" },
        { "[]", "expected an object at byte 0" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(GHashTable) obj = parse(cases[i].text, &err);

        g_assert_null(obj);
        g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
        g_assert_cmpstr(err->message, ==, cases[i].message);
    }
}

/* What RFC 8259 (or the reader's limits) refuses, as a member's value, a
 * nested value or a key. */
static const char *const refused[] = {
    /* not one object */
    "", " ", "[]", "\"x\"", "1", "{", "}", "{\"a\"}", "{\"a\":}", "{,}",
    "{\"a\": 1,}", "{a: 1}", "{'a': 1}", "{\"a\" 1}", "{\"a\": 1 \"b\": 2}",
    "{\"a\": [1,]}", "{\"a\": [,1]}", "{\"a\": [1 2]}", "{\"a\": {\"b\"}}",
    "{\"a\": {1: 2}}", "{\"a\": [}", "{\"a\": {]}",
    /* trailing text */
    "{} x", "{\"a\": 1}}", "{\"a\": 1},", "{}{}", "{\"a\": 1}\x01",
    /* duplicate keys, at the top or within */
    "{\"ok\": true, \"ok\": true}", "{\"a\": 1, \"b\": 2, \"a\": 3}",
    "{\"a\": {\"k\": 1, \"k\": 2}}", "{\"a\": [{\"k\": 1, \"k\": 1}]}",
    "{\"\\u0061\": 1, \"a\": 2}",
    /* numbers (RFC 8259, 6) and literal names (3) */
    "{\"n\": 01}", "{\"n\": -01}", "{\"n\": +1}", "{\"n\": .5}",
    "{\"n\": 1.}", "{\"n\": 1.e3}", "{\"n\": 1e}", "{\"n\": 1e+}",
    "{\"n\": -}", "{\"n\": --1}", "{\"n\": 0x10}", "{\"n\": 1_000}",
    "{\"n\": Infinity}", "{\"n\": -Infinity}", "{\"n\": NaN}",
    "{\"n\": TRUE}", "{\"n\": True}", "{\"n\": nul}", "{\"n\": tru}",
    "{\"n\": nullx}", "{\"n\": [1e5.0]}", "{\"n\": [- 1]}", "{\"n\": x}",
    /* escapes and raw control characters (RFC 8259, 7) */
    "{\"s\": \"\\x\"}", "{\"s\": \"\\u12\"}", "{\"s\": \"\\u12G4\"}",
    "{\"s\": \"\\U0041\"}", "{\"s\": \"\\u0000\"}", "{\"s\": \"\\ud800\"}",
    "{\"s\": \"\\udfff\"}", "{\"s\": \"\\ud83d\\ude00\"}",
    "{\"s\": \"a\x01\"}", "{\"s\": \"a\tb\"}", "{\"s\": \"a\nb\"}",
    "{\"s\": \"abc}", "{\"s\": \"abc\\\"}", "{\"s\": \"\\",
    "{\"s\": [\"\\x\"]}", "{\"s\": {\"k\": \"\\u0000\"}}",
    "{\"\\x\": 1}", "{\"a\x01\": 1}", "{\"s\": {\"\\ud800\": 1}}",
};

static void test_parse_refused(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(refused); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(GHashTable) obj = parse(refused[i], &err);

        if (obj) {
            g_test_message("accepted: %s", refused[i]);
        }
        g_assert_null(obj);
        g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    }
}

/* The numbers RFC 8259, 6 allows, kept as written. */
static void test_parse_numbers(void)
{
    static const char *const numbers[] = {
        "0", "-0", "7", "-12", "0.5", "-0.0e-0", "1E+10", "12.5e3",
        "1e05", "123456789012345678901234567890",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(numbers); i++) {
        g_autofree char *text = g_strdup_printf("{\"n\": %s, \"a\": [%s]}",
                                                numbers[i], numbers[i]);
        g_autofree char *array = g_strdup_printf("[%s]", numbers[i]);
        g_autoptr(GError) err = NULL;
        g_autoptr(GHashTable) obj = parse(text, &err);

        g_assert_no_error(err);
        g_assert_cmpstr(g_hash_table_lookup(obj, "n"), ==, numbers[i]);
        g_assert_cmpstr(g_hash_table_lookup(obj, "a"), ==, array);
    }
}

/* Invalid UTF-8 in a string: a member's own string value and key are
 * passed on as the bytes were (the reader doesn't validate; vmspec's
 * writer never sends such bytes); within a nested value, where the text is
 * JSON again, json_escape() makes each bad byte \ufffd. */
static void test_parse_invalid_utf8(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GHashTable) obj = parse(
        "{\"s\": \"a\xff\", \"k\xc0\": 1, \"n\": [\"\xed\xa0\x80\"],"
        " \"o\": {\"\xfe\": 1}}", &err);

    g_assert_no_error(err);
    g_assert_cmpstr(g_hash_table_lookup(obj, "s"), ==, "a\xff");
    g_assert_cmpstr(g_hash_table_lookup(obj, "k\xc0"), ==, "1");
    g_assert_cmpstr(g_hash_table_lookup(obj, "n"), ==,
                    "[\"\\ufffd\\ufffd\\ufffd\"]");
    g_assert_cmpstr(g_hash_table_lookup(obj, "o"), ==, "{\"\\ufffd\":1}");
}

/* What the writer escapes, the nested reader unescapes, at the top level;
 * nested, the string comes back as the writer wrote it. */
static void test_parse_round_trip(void)
{
    const char *value = "x\x1b]0;\x07\xc2\x85\n\"\\\xe2\x80\xa8/";
    g_autoptr(GString) literal = g_string_new(NULL);
    g_autoptr(GString) text = g_string_new(NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(GHashTable) obj = NULL;
    g_autofree char *array = NULL;

    json_escape(literal, value);
    array = g_strdup_printf("[%s]", literal->str);
    g_string_printf(text, "{\"v\": %s, \"a\": [%s]}", literal->str,
                    literal->str);
    obj = parse(text->str, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(g_hash_table_lookup(obj, "v"), ==, value);
    g_assert_cmpstr(g_hash_table_lookup(obj, "a"), ==, array);
}

static void test_string_array(void)
{
    static const char *const bad[] = {
        "", "{}", "\"a\"", "[1]", "[\"a\", 1]", "[\"a\",]", "[,]",
        "[\"a\"] x", "[[\"a\"]]", "[\"\\x\"]", "[\"a\" \"b\"]", "[\"a\"",
        "[null]",
    };
    const char *text = " [ \"tcp:1-:2\" , \"b\\n\\u00e9\" ] ";
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) strings = json_parse_string_array(text, strlen(text), &err);

    g_assert_no_error(err);
    g_assert_cmpuint(g_strv_length(strings), ==, 2);
    g_assert_cmpstr(strings[0], ==, "tcp:1-:2");
    g_assert_cmpstr(strings[1], ==, "b\n\xc3\xa9");
    g_clear_pointer(&strings, g_strfreev);
    strings = json_parse_string_array("[]", 2, &err);
    g_assert_no_error(err);
    g_assert_nonnull(strings);
    g_assert_null(strings[0]);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char **got = json_parse_string_array(bad[i], strlen(bad[i]), &err);

        g_assert_null(got);
        g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
        g_clear_error(&err);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/json/escape", test_escape);
    g_test_add_func("/json/key-escaped", test_key_escaped);
    g_test_add_func("/json/nesting", test_nesting);
    g_test_add_func("/json/round-trip", test_round_trip);
    g_test_add_func("/json/parse/nested", test_parse_nested);
    g_test_add_func("/json/parse/members", test_parse_members);
    g_test_add_func("/json/parse/len", test_parse_len);
    g_test_add_func("/json/parse/depth", test_parse_depth);
    g_test_add_func("/json/parse/error-position", test_parse_error_position);
    g_test_add_func("/json/parse/refused", test_parse_refused);
    g_test_add_func("/json/parse/numbers", test_parse_numbers);
    g_test_add_func("/json/parse/invalid-utf8", test_parse_invalid_utf8);
    g_test_add_func("/json/parse/round-trip", test_parse_round_trip);
    g_test_add_func("/json/string-array", test_string_array);
    return g_test_run();
}
