/*
 * Unit tests for spec/scalar: the core schema's tags, and that what it
 * resolves as an integer is exactly what the int and size properties take.
 */
#include <string.h>
#include <glib.h>

#include "machine/qom/property.h"
#include "spec/node.h"
#include "spec/scalar.h"

static void test_tag_lookup(void)
{
    static const struct {
        const char *tag;
        SpecTag want;
    } cases[] = {
        { NULL, SPEC_TAG_NONE },
        { "!", SPEC_TAG_NON_SPECIFIC },
        { "tag:yaml.org,2002:str", SPEC_TAG_STR },
        { "tag:yaml.org,2002:int", SPEC_TAG_INT },
        { "tag:yaml.org,2002:float", SPEC_TAG_FLOAT },
        { "tag:yaml.org,2002:bool", SPEC_TAG_BOOL },
        { "tag:yaml.org,2002:null", SPEC_TAG_NULL },
        { "tag:yaml.org,2002:map", SPEC_TAG_MAP },
        { "tag:yaml.org,2002:seq", SPEC_TAG_SEQ },
        { "tag:yaml.org,2002:python/object:os.system", SPEC_TAG_UNSUPPORTED },
        { "tag:yaml.org,2002:binary", SPEC_TAG_UNSUPPORTED },
        { "tag:yaml.org,2002:", SPEC_TAG_UNSUPPORTED },
        { "tag:yaml.org,2002:strx", SPEC_TAG_UNSUPPORTED },
        { "tag:example.com,2000:str", SPEC_TAG_UNSUPPORTED },
        { "!str", SPEC_TAG_UNSUPPORTED },
        { "!!", SPEC_TAG_UNSUPPORTED },
        { "", SPEC_TAG_UNSUPPORTED },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_assert_cmpint(spec_tag_lookup(cases[i].tag), ==, cases[i].want);
    }
}

static void test_tag_quote(void)
{
    g_autofree char *core = spec_tag_quote("tag:yaml.org,2002:python/name:x");
    g_autofree char *local = spec_tag_quote("!foo");
    g_autofree char *uri = spec_tag_quote("tag:example.com,2000:x");
    g_autofree char *name = g_strnfill(100, 'a');
    g_autofree char *long_tag = g_strconcat("tag:yaml.org,2002:", name, NULL);
    g_autofree char *cut = spec_tag_quote(long_tag);

    g_assert_cmpstr(core, ==, "'!!python/name:x'");
    g_assert_cmpstr(local, ==, "'!foo'");
    g_assert_cmpstr(uri, ==, "'tag:example.com,2000:x'");
    g_assert_cmpstr(cut, ==, "'!!aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'... "
                    "(102 characters)");
}

static void test_tag_accepts(void)
{
    static const struct {
        SpecTag tag;
        const char *text;
        bool want;
    } cases[] = {
        { SPEC_TAG_STR, "anything at all", true },
        { SPEC_TAG_STR, "", true },
        { SPEC_TAG_INT, "4", true },
        { SPEC_TAG_INT, "-4", true },
        { SPEC_TAG_INT, "0x1f", true },
        { SPEC_TAG_INT, "0o17", true },
        { SPEC_TAG_INT, "0X1F", false },
        { SPEC_TAG_INT, "4.0", false },
        { SPEC_TAG_INT, "four", false },
        { SPEC_TAG_INT, "", false },
        { SPEC_TAG_FLOAT, "1.5", true },
        { SPEC_TAG_FLOAT, "1e3", true },
        { SPEC_TAG_FLOAT, "1", true },
        { SPEC_TAG_FLOAT, ".inf", true },
        { SPEC_TAG_FLOAT, "-.INF", true },
        { SPEC_TAG_FLOAT, ".NaN", true },
        { SPEC_TAG_FLOAT, "0x10", false },
        { SPEC_TAG_FLOAT, "1,5", false },
        { SPEC_TAG_BOOL, "true", true },
        { SPEC_TAG_BOOL, "FALSE", true },
        { SPEC_TAG_BOOL, "yes", false },
        { SPEC_TAG_BOOL, "1", false },
        { SPEC_TAG_NULL, "", true },
        { SPEC_TAG_NULL, "~", true },
        { SPEC_TAG_NULL, "Null", true },
        { SPEC_TAG_NULL, "none", false },
        { SPEC_TAG_MAP, "", false },
        { SPEC_TAG_SEQ, "", false },
        { SPEC_TAG_NONE, "x", false },
        { SPEC_TAG_UNSUPPORTED, "x", false },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        if (spec_tag_accepts(cases[i].tag, cases[i].text) != cases[i].want) {
            g_error("tag %d, '%s': expected %s", cases[i].tag, cases[i].text,
                    cases[i].want ? "accepted" : "refused");
        }
    }
}

/*
 * A plain scalar the core schema resolves as an integer is one the int and
 * size properties take (but for range), and none else is: what a JSON
 * Schema validator sees as an integer, vmspec reads as one too.
 */
static void test_ints_agree_with_properties(void)
{
    static const char *const texts[] = {
        "0", "42", "-42", "+42", "007", "-0", "0x2a", "0x2A", "0xfF", "0o52",
        "0o0", "0X2a", "+0x2a", "-0x2a", "0o", "0x", "0o8", "0b101", "1_000",
        "4.0", "1e3", " 4", "4 ", "--4", "+", "-", "", "four", "0x2g",
        "9223372036854775807", "-9223372036854775808",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(texts); i++) {
        g_autoptr(SpecNode) node = spec_node_new_scalar(texts[i], false,
                                                        NULL);
        bool is_int = spec_scalar_type(node) == SPEC_SCALAR_INT;
        int64_t v;
        uint64_t size;
        bool parsed = parse_int64(texts[i], &v, NULL);

        if (is_int != parsed) {
            g_error("'%s': the core schema says %s an integer, parse_int64 "
                    "%s it", texts[i], is_int ? "is" : "is not",
                    parsed ? "takes" : "refuses");
        }
        /* A negative integer is one, and not a size. */
        if (is_int && v >= 0) {
            g_assert_true(parse_size(texts[i], &size, NULL));
            g_assert_cmpuint(size, ==, (uint64_t)v);
        }
    }
}

/* Quoted, a number is a string; tagged text is resolved by the parser,
 * which clears quoted for !!int "4" (tests/unit/test-spec-parse.c). */
static void test_quoted_is_string(void)
{
    g_autoptr(SpecNode) quoted = spec_node_new_scalar("0x10", true, NULL);
    g_autoptr(SpecNode) plain = spec_node_new_scalar("0x10", false, NULL);
    g_autoptr(SpecNode) octal = spec_node_new_scalar("0o2", false, NULL);

    g_assert_cmpint(spec_scalar_type(quoted), ==, SPEC_SCALAR_STRING);
    g_assert_cmpint(spec_scalar_type(plain), ==, SPEC_SCALAR_INT);
    g_assert_cmpint(spec_scalar_type(octal), ==, SPEC_SCALAR_INT);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/scalar/tag-lookup", test_tag_lookup);
    g_test_add_func("/scalar/tag-quote", test_tag_quote);
    g_test_add_func("/scalar/tag-accepts", test_tag_accepts);
    g_test_add_func("/scalar/ints-agree-with-properties",
                    test_ints_agree_with_properties);
    g_test_add_func("/scalar/quoted-is-string", test_quoted_is_string);
    return g_test_run();
}
