/* JSON writer: string literals are valid UTF-8 JSON whatever the bytes
 * (RFC 8259, 7 and 8.1), and the writer's separators and nesting. */
#include <glib.h>

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

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/json/escape", test_escape);
    g_test_add_func("/json/key-escaped", test_key_escaped);
    g_test_add_func("/json/nesting", test_nesting);
    g_test_add_func("/json/round-trip", test_round_trip);
    return g_test_run();
}
