/*
 * Unit tests for spec/node, spec/diag, spec/suggest and spec/parse: good
 * documents give the expected tree and marks; each class of bad input gives
 * exactly the expected `file:line:col: message`.
 */
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "machine/qom/error.h"
#include "spec/diag.h"
#include "spec/node.h"
#include "spec/parse.h"
#include "spec/suggest.h"
#include "spec/yaml-text.h"

/* Parses text that must fail; returns all diagnostics, formatted. */
static char *parse_err_len(const char *text, gsize len)
{
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) node = spec_parse_buffer("t.yaml", text, len, diags);

    g_assert_null(node);
    g_assert_cmpuint(spec_diags_count(diags), >, 0);
    return spec_diags_format(diags);
}

static char *parse_err(const char *text)
{
    return parse_err_len(text, strlen(text));
}

/* Parses text that must succeed; returns its flow rendering. */
static char *parse_ok(const char *text, bool marks)
{
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) node = spec_parse_buffer("t.yaml", text,
                                                 strlen(text), diags);
    g_autofree char *errs = spec_diags_format(diags);

    g_assert_cmpstr(errs, ==, "");
    g_assert_nonnull(node);
    return spec_node_to_string(node, marks);
}

#define ASSERT_ERR(text, expected) do { \
        g_autofree char *got_ = parse_err(text); \
        g_assert_cmpstr(got_, ==, expected); \
    } while (0)

static void test_good_tree(void)
{
    const char *text =
        "vmspec: 1\n"
        "name: hello\n"
        "machine: {type: microvm, cpus: 2, memory: 512M}\n"
        "disks:\n"
        "  - id: root\n"
        "    path: root.ext4\n"
        "cmdline: console=ttyS0 quiet\n";
    g_autofree char *plain = parse_ok(text, false);
    g_autofree char *marked = parse_ok(text, true);

    g_assert_cmpstr(plain, ==,
                    "{vmspec: 1, name: hello, machine: {type: microvm, "
                    "cpus: 2, memory: 512M}, disks: [{id: root, path: "
                    "root.ext4}], cmdline: console=ttyS0 quiet}");
    g_assert_cmpstr(marked, ==,
                    "@1:1 {@1:1 vmspec: @1:9 1, @2:1 name: @2:7 hello, "
                    "@3:1 machine: @3:10 {@3:11 type: @3:17 microvm, "
                    "@3:26 cpus: @3:32 2, @3:35 memory: @3:43 512M}, "
                    "@4:1 disks: @5:3 [@5:5 {@5:5 id: @5:9 root, "
                    "@6:5 path: @6:11 root.ext4}], "
                    "@7:1 cmdline: @7:10 console=ttyS0 quiet}");
}

static void test_lookup_and_marks(void)
{
    const char *text =
        "machine:\n"
        "  memory: 512M\n"
        "disks:\n"
        "  - {id: root, path: a}\n"
        "  - {id: data, path: b}\n";
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) root = spec_parse_buffer("dir/x.yaml", text,
                                                 strlen(text), diags);
    SpecNode *mem, *b;
    SpecPair *pair;

    g_assert_nonnull(root);
    mem = spec_node_lookup(root, "machine.memory");
    g_assert_cmpstr(spec_node_scalar(mem), ==, "512M");
    g_assert_cmpstr(mem->mark.file, ==, "dir/x.yaml");
    g_assert_cmpuint(mem->mark.line, ==, 2);
    g_assert_cmpuint(mem->mark.column, ==, 11);
    pair = spec_node_map_get_pair(spec_node_map_get(root, "machine"),
                                  "memory");
    g_assert_cmpuint(pair->key_mark.line, ==, 2);
    g_assert_cmpuint(pair->key_mark.column, ==, 3);
    b = spec_node_lookup(root, "disks.data.path");
    g_assert_cmpstr(spec_node_scalar(b), ==, "b");
    g_assert_true(spec_node_lookup(root, "disks.1.path") == b);
    g_assert_null(spec_node_lookup(root, "disks.2.path"));
    g_assert_null(spec_node_lookup(root, "disks.nope"));
    g_assert_null(spec_node_lookup(root, "machine.memory.x"));
    g_assert_true(spec_node_lookup(root, "") == root);
}

static void test_scalar_styles(void)
{
    const char *text =
        "a: 1\nb: \"1\"\nc: '1'\nd: !!str 1\ne: |\n  x\nf:\ng: ~\n";
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) root = spec_parse_buffer("t.yaml", text,
                                                 strlen(text), diags);

    g_assert_nonnull(root);
    g_assert_false(spec_node_map_get(root, "a")->scalar.quoted);
    g_assert_true(spec_node_map_get(root, "b")->scalar.quoted);
    g_assert_true(spec_node_map_get(root, "c")->scalar.quoted);
    g_assert_true(spec_node_map_get(root, "d")->scalar.quoted);
    g_assert_cmpstr(spec_node_scalar(spec_node_map_get(root, "d")), ==, "1");
    g_assert_cmpstr(spec_node_scalar(spec_node_map_get(root, "e")), ==,
                    "x\n");
    g_assert_true(spec_node_is_null(spec_node_map_get(root, "f")));
    g_assert_true(spec_node_is_null(spec_node_map_get(root, "g")));
    g_assert_false(spec_node_is_null(spec_node_map_get(root, "b")));
}

static void test_node_api(void)
{
    SpecMark m = { 0 };
    g_autoptr(SpecNode) map = NULL;
    g_autoptr(SpecNode) copy = NULL;
    g_autoptr(SpecNode) stolen = NULL;
    g_autofree char *s1 = NULL;
    g_autofree char *s2 = NULL;
    SpecNode *seq;

    spec_mark_init(&m, "f.yaml", 3, 4);
    map = spec_node_new_map(&m);
    spec_node_map_set(map, "a", &m, spec_node_new_scalar("1", false, &m));
    spec_node_map_set(map, "b", NULL, spec_node_new_scalar("x y", true, &m));
    seq = spec_node_new_seq(NULL);
    spec_node_seq_append(seq, spec_node_new_scalar("q", false, NULL));
    spec_node_map_set(map, "c", NULL, seq);
    spec_node_map_set(map, "a", NULL, spec_node_new_scalar("2", false, &m));
    spec_mark_clear(&m);

    s1 = spec_node_to_string(map, false);
    g_assert_cmpstr(s1, ==, "{a: 2, b: \"x y\", c: [q]}");
    g_assert_cmpuint(spec_node_count(map), ==, 5);
    copy = spec_node_copy(map);
    stolen = spec_node_map_steal(map, "b");
    g_assert_cmpstr(spec_node_scalar(stolen), ==, "x y");
    g_assert_null(spec_node_map_steal(map, "b"));
    g_assert_cmpuint(spec_node_map_size(map), ==, 2);
    g_assert_cmpstr(spec_node_map_pair(map, 1)->key, ==, "c");
    s2 = spec_node_to_string(copy, true);
    g_assert_cmpstr(s2, ==, "@3:4 {@3:4 a: @3:4 2, @0:0 b: @3:4 \"x y\", "
                    "@0:0 c: @0:0 [@0:0 q]}");
    g_assert_cmpstr(copy->mark.file, ==, "f.yaml");

    /* A mark filled in by hand, with a plain string, is copied safely. */
    {
        char name[] = "hand.yaml";
        SpecMark hand = { name, 7, 8 };
        g_autoptr(SpecNode) n = spec_node_new_scalar("v", false, &hand);

        name[0] = 'H';
        g_assert_cmpstr(n->mark.file, ==, "hand.yaml");
        g_assert_cmpuint(n->mark.line, ==, 7);
    }
}

static void test_duplicate_keys(void)
{
    ASSERT_ERR("a: 1\nb: 2\na: 3\n",
               "t.yaml:3:1: duplicate key 'a' (first defined at line 1)");
    /* Every duplicate of the file is reported, nested ones too. */
    ASSERT_ERR("a: 1\nm:\n  x: 1\n  x: 2\na: 3\n",
               "t.yaml:4:3: duplicate key 'x' (first defined at line 3)\n"
               "t.yaml:5:1: duplicate key 'a' (first defined at line 1)");
    ASSERT_ERR("m: {k: 1, k: 2}\n",
               "t.yaml:1:11: duplicate key 'k' (first defined at line 1)");
}

static void test_bad_keys(void)
{
    ASSERT_ERR("? [a, b]\n: 1\n",
               "t.yaml:1:3: a map key must be a string, not a list");
    ASSERT_ERR("x:\n  {a: 1}: 2\n",
               "t.yaml:2:3: a map key must be a string, not a map");
    ASSERT_ERR("~: 1\n",
               "t.yaml:1:1: a map key must be a string, not null (empty)");
    ASSERT_ERR("base: &b {x: 1}\nc:\n  <<: *b\n",
               "t.yaml:3:3: merge keys ('<<') are not supported; use "
               "'extends:' or repeat the keys");
    /* A quoted "<<" is an ordinary key. */
    g_free(parse_ok("\"<<\": 1\n", false));
}

static void test_empty(void)
{
    ASSERT_ERR("", "t.yaml: empty spec (no YAML document)");
    ASSERT_ERR("# only a comment\n\n",
               "t.yaml: empty spec (no YAML document)");
    ASSERT_ERR("---\n",
               "t.yaml:2:1: empty document: a spec needs at least "
               "'vmspec: 1'");
    ASSERT_ERR("hello\n",
               "t.yaml:1:1: the top level of a spec must be a map of keys, "
               "not a scalar");
    ASSERT_ERR("- a\n- b\n",
               "t.yaml:1:1: the top level of a spec must be a map of keys, "
               "not a list");
}

static void test_two_documents(void)
{
    ASSERT_ERR("a: 1\n---\nb: 2\n",
               "t.yaml:2:1: a spec holds one YAML document; a second one "
               "starts here");
    ASSERT_ERR("a: 1\n...\n---\nb: 2\n",
               "t.yaml:3:1: a spec holds one YAML document; a second one "
               "starts here");
}

static void test_syntax_errors(void)
{
    ASSERT_ERR("a: 1\n b: 2\n",
               "t.yaml:2:3: mapping values are not allowed in this context");
    ASSERT_ERR("a: [1, 2\nb: 3\n",
               "t.yaml:2:2: did not find expected ',' or ']' "
               "(while parsing a flow sequence at 1:4)");
    ASSERT_ERR("a: \"abc\n",
               "t.yaml:2:1: found unexpected end of stream "
               "(while scanning a quoted scalar at 1:4)");
    ASSERT_ERR("machine:\n\tcpus: 2\n",
               "t.yaml:2:1: found character that cannot start any token "
               "(while scanning for the next token); tabs can't be "
               "used for indentation in YAML, use spaces");
    ASSERT_ERR("key: value\n\tother: 1\n",
               "t.yaml:2:1: found a tab character that violates indentation "
               "(while scanning a plain scalar at 1:6); tabs can't be used "
               "for indentation in YAML, use spaces");
    ASSERT_ERR("a: 1\nb: @x\n",
               "t.yaml:2:4: found character that cannot start any token "
               "(while scanning for the next token); '@' and '`' can't "
               "start a plain value, quote it");
    ASSERT_ERR("a: *nope\n", "t.yaml:1:4: unknown alias '*nope'");
    ASSERT_ERR("a: &x [1, *x]\n",
               "t.yaml:1:11: alias '*x' refers to a node that contains it");
    ASSERT_ERR("a: \"x\\0y\"\n",
               "t.yaml:1:4: NUL characters can't be used here");
}

static void test_encoding(void)
{
    ASSERT_ERR("a: 1\nb: \xff\n",
               "t.yaml:2:4: not valid UTF-8 text: invalid leading UTF-8 "
               "octet (0xff)");
    ASSERT_ERR("a: \xc3\n",
               "t.yaml:1:4: not valid UTF-8 text: invalid trailing UTF-8 "
               "octet (0x0a)");
    ASSERT_ERR("a: b\x01\n",
               "t.yaml:1:5: control characters are not allowed (0x01)");
    /* UTF-8 text is fine, and columns count characters. */
    {
        g_autofree char *s = parse_ok("\xc3\xa9t\xc3\xa9: x\n", true);

        g_assert_cmpstr(s, ==, "@1:1 {@1:1 \xc3\xa9t\xc3\xa9: @1:6 x}");
    }
}

#define TAGS_ALLOWED "(only the YAML 1.2 core schema's !!str, !!int, " \
    "!!float, !!bool, !!null, !!map and !!seq, and the non-specific !, " \
    "are allowed)"

static void test_unsupported_tags(void)
{
    ASSERT_ERR("a: !foo 1\n",
               "t.yaml:1:4: unsupported tag '!foo' " TAGS_ALLOWED);
    ASSERT_ERR("name: !!python/object:os.system t\n",
               "t.yaml:1:7: unsupported tag '!!python/object:os.system' "
               TAGS_ALLOWED);
    /* YAML 1.1's own types are not the 1.2 core schema's. */
    ASSERT_ERR("a: !!binary aGk=\nb: !!timestamp 2001-12-14\n",
               "t.yaml:1:4: unsupported tag '!!binary' " TAGS_ALLOWED "\n"
               "t.yaml:2:4: unsupported tag '!!timestamp' " TAGS_ALLOWED);
    /* A %TAG handle of one's own, and !! redefined. */
    ASSERT_ERR("%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n",
               "t.yaml:3:4: unsupported tag 'tag:example.com,2000:x' "
               TAGS_ALLOWED);
    ASSERT_ERR("%TAG !! tag:example.com,2000:\n---\na: !!str 1\n",
               "t.yaml:3:4: unsupported tag 'tag:example.com,2000:str' "
               TAGS_ALLOWED);
    ASSERT_ERR("a: !<tag:example.com,2000:x> 1\n",
               "t.yaml:1:4: unsupported tag 'tag:example.com,2000:x' "
               TAGS_ALLOWED);
    /* On maps, lists and keys too; every one is reported. */
    ASSERT_ERR("a: !foo {b: 1}\nc: !bar [1]\n!baz d: 1\n",
               "t.yaml:1:4: unsupported tag '!foo' " TAGS_ALLOWED "\n"
               "t.yaml:2:4: unsupported tag '!bar' " TAGS_ALLOWED "\n"
               "t.yaml:3:1: unsupported tag '!baz' " TAGS_ALLOWED);
    /* Placed at the tag, after an anchor and whatever separates them. */
    ASSERT_ERR("a: &x !foo 1\n",
               "t.yaml:1:7: unsupported tag '!foo' " TAGS_ALLOWED);
    ASSERT_ERR("a: &x\n  # why\n  !foo 1\n",
               "t.yaml:3:3: unsupported tag '!foo' " TAGS_ALLOWED);
    ASSERT_ERR("a: [&x  !foo 1]\n",
               "t.yaml:1:9: unsupported tag '!foo' " TAGS_ALLOWED);
    /* A long one is cut short. */
    {
        g_autofree char *name = g_strnfill(5000, 'x');
        g_autofree char *text = g_strdup_printf("a: !%s 1\n", name);
        g_autofree char *e = parse_err(text);

        g_assert_cmpstr(e, ==, "t.yaml:1:4: unsupported tag "
                        "'!xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'... "
                        "(5001 characters) " TAGS_ALLOWED);
    }
}

/* The core schema's tags mean what they say; `!` makes a string. */
static void test_core_tags(void)
{
    const char *text =
        "s: !!str 123\n"
        "i: !!int \"4\"\n"
        "h: !!int '0x10'\n"
        "f: !!float 1.5\n"
        "b: !!bool \"true\"\n"
        "n: !!null \"\"\n"
        "x: ! 2\n"
        "v: !<tag:yaml.org,2002:str> 5\n"
        "m: !!map {k: !!seq [1]}\n"
        "l: ! [1]\n"
        "e: !!str\n";
    g_autofree char *got = parse_ok(text, false);

    g_assert_cmpstr(got, ==, "{s: \"123\", i: 4, h: 0x10, f: 1.5, b: true, "
                    "n: ~, x: \"2\", v: \"5\", m: {k: [1]}, l: [1], "
                    "e: \"\"}");
    /* A tag's value must be written as its type, under the core schema. */
    ASSERT_ERR("a: !!int two\n",
               "t.yaml:1:4: tag '!!int' on 'two', which is not an integer");
    ASSERT_ERR("a: !!int 1.0\n",
               "t.yaml:1:4: tag '!!int' on '1.0', which is not an integer");
    ASSERT_ERR("a: !!float 0x10\n",
               "t.yaml:1:4: tag '!!float' on '0x10', which is not a number");
    ASSERT_ERR("a: !!bool yes\n",
               "t.yaml:1:4: tag '!!bool' on 'yes', which is not a boolean "
               "(true or false)");
    ASSERT_ERR("a: !!null none\n",
               "t.yaml:1:4: tag '!!null' on 'none', which is not null");
    ASSERT_ERR("a: !!map x\nb: !!seq\n",
               "t.yaml:1:4: tag '!!map' can't be used on a scalar\n"
               "t.yaml:2:4: tag '!!seq' can't be used on a scalar");
    ASSERT_ERR("a: !!str {b: 1}\nc: !!map [1]\nd: !!seq {e: 1}\n",
               "t.yaml:1:4: tag '!!str' can't be used on a map\n"
               "t.yaml:2:4: tag '!!map' can't be used on a list\n"
               "t.yaml:3:4: tag '!!seq' can't be used on a map");
}

/*
 * YAML 1.2 breaks lines at LF, CR LF and CR only (section 5.4); libyaml
 * also at NEL, LS and PS (YAML 1.1).  Marks must count lines the 1.2 way,
 * and a NEL in a comment must not end it.
 */
static void test_line_breaks(void)
{
    {
        /* After a NEL, LS and PS in comments: still line 3, column 4. */
        g_autofree char *s = parse_ok(
            "a: 1 # x\xc2\x85y: z\n# \xe2\x80\xa8 \xe2\x80\xa9 c: d\n"
            "b: 2\n", true);

        g_assert_cmpstr(s, ==, "@1:1 {@1:1 a: @1:4 1, @3:1 b: @3:4 2}");
    }
    ASSERT_ERR("# one\xc2\x85two\na: 1\na: 2\n",
               "t.yaml:3:1: duplicate key 'a' (first defined at line 2)");
    /* CR and CR LF are breaks; columns count characters. */
    {
        g_autofree char *s = parse_ok("a: 1\rb: 2\r\n\xc3\xa9: 3\r", true);

        g_assert_cmpstr(s, ==, "@1:1 {@1:1 a: @1:4 1, @2:1 b: @2:4 2, "
                        "@3:1 \xc3\xa9: @3:4 3}");
    }
    ASSERT_ERR("a: 1\rb: @x\r", "t.yaml:2:4: found character that cannot "
               "start any token (while scanning for the next token); '@' "
               "and '`' can't start a plain value, quote it");
    ASSERT_ERR("a: 1\r\nb: \x01\r\n",
               "t.yaml:2:4: control characters are not allowed (0x01)");
    /* In a value, where the two YAMLs read different text, they are
     * refused, at the character. */
    ASSERT_ERR("a: x\xc2\x85y\n",
               "t.yaml:1:5: U+0085 (NEL) can't be used in a value: YAML 1.1 "
               "reads it as a line break, YAML 1.2 as a character; write \\N "
               "in a double-quoted string");
    ASSERT_ERR("a: \"x\xe2\x80\xa8\"\nb: |\n  p\n  q\xe2\x80\xa9\n",
               "t.yaml:1:6: U+2028 (LS) can't be used in a value: YAML 1.1 "
               "reads it as a line break, YAML 1.2 as a character; write \\L "
               "in a double-quoted string\n"
               "t.yaml:4:4: U+2029 (PS) can't be used in a value: YAML 1.1 "
               "reads it as a line break, YAML 1.2 as a character; write \\P "
               "in a double-quoted string");
    ASSERT_ERR("k\xc2\x85: 1\n",
               "t.yaml:1:2: U+0085 (NEL) can't be used in a value: YAML 1.1 "
               "reads it as a line break, YAML 1.2 as a character; write \\N "
               "in a double-quoted string");
    /* The escapes give them. */
    {
        g_autoptr(SpecDiags) diags = spec_diags_new();
        const char *text = "a: \"x\\Ny\\Lz\\P\"\n";
        g_autoptr(SpecNode) root = spec_parse_buffer("t.yaml", text,
                                                     strlen(text), diags);

        g_assert_nonnull(root);
        g_assert_cmpstr(spec_node_scalar(spec_node_map_get(root, "a")), ==,
                        "x\xc2\x85y\xe2\x80\xa8z\xe2\x80\xa9");
    }
    /* A byte order mark is no column. */
    {
        g_autofree char *s = parse_ok("\xef\xbb\xbf" "a: 1\n", true);

        g_assert_cmpstr(s, ==, "@1:1 {@1:1 a: @1:4 1}");
    }
}

/* UTF-16 is read as the UTF-8 it converts to, NELs and marks alike. */
static void test_utf16(void)
{
    static const char le[] = "\xff\xfe" "#\0\x85\0x\0:\0 \0\n\0"
                             "a\0:\0 \0" "1\0\n\0" "a\0:\0 \0" "2\0\n\0";
    static const char be[] = "\xfe\xff" "\0#\0\x85\0x\0:\0 \0\n"
                             "\0\xe9\0:\0 \0" "1\0\n";
    static const char nul[] = "\xff\xfe" "a\0:\0 \0\0\0\n\0";
    g_autofree char *e_le = parse_err_len(le, sizeof(le) - 1);
    g_autofree char *e_nul = parse_err_len(nul, sizeof(nul) - 1);
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) root = spec_parse_buffer("t.yaml", be, sizeof(be) - 1,
                                                 diags);
    g_autofree char *s = NULL;

    g_assert_cmpstr(e_le, ==,
                    "t.yaml:3:1: duplicate key 'a' (first defined at line 2)");
    g_assert_nonnull(root);
    s = spec_node_to_string(root, true);
    g_assert_cmpstr(s, ==, "@2:1 {@2:1 \xc3\xa9: @2:4 1}");
    /* A U+0000 doesn't convert; libyaml reads and refuses it. */
    g_assert_true(strstr(e_nul, "control characters are not allowed"));
}

/* Position look-ups walk on from a cursor: a megabyte of NELs, or 50,000
 * misplaced tags on one line, each needing the tag's column, parse in
 * linear time. */
static void test_positions_linear(void)
{
    g_autoptr(GString) nels = g_string_new("a: 1\n# ");
    g_autoptr(GString) tags = g_string_new("a: [");
    gint64 start = g_get_monotonic_time();
    g_autofree char *e1 = NULL;
    g_autofree char *e2 = NULL;

    for (int i = 0; i < 500000; i++) {
        g_string_append(nels, "\xc2\x85");
    }
    g_string_append(nels, "\na: 2\n");
    for (int i = 0; i < 50000; i++) {
        g_string_append(tags, "&x !foo 1, ");
    }
    g_string_append(tags, "1]\n");
    e1 = parse_err(nels->str);
    e2 = parse_err(tags->str);
    g_assert_cmpstr(e1, ==, "t.yaml:3:1: duplicate key 'a' (first defined "
                    "at line 1)");
    g_assert_true(g_str_has_prefix(e2, "t.yaml:1:8: unsupported tag '!foo'"));
    g_assert_true(g_str_has_suffix(e2, "\n... and 49900 more errors"));
    g_assert_cmpint(g_get_monotonic_time() - start, <, G_USEC_PER_SEC);
}

/* SpecYamlText on its own: the copy, positions both ways, lines. */
static void test_yaml_text(void)
{
    static const char input[] = "\xef\xbb\xbf" "ab\r\nc\rd\xc2\x85" "e\n"
                                "\xc3\xa9\xe2\x80\xa9\n";
    SpecYamlText t;
    SpecReplacedBreak b;
    const char *line;
    gsize len;

    spec_yaml_text_init(&t, input, sizeof(input) - 1);
    g_assert_true(t.data != input);
    g_assert_cmpuint(t.len, ==, sizeof(input) - 1);
    g_assert_cmpuint(t.start, ==, 3);
    g_assert_cmpmem(t.data + 10, 2, "\xc2\xa0", 2);
    g_assert_cmpmem(t.data + 16, 3, "\xe2\x80\xa7", 3);
    g_assert_cmpuint(t.replaced, ==, 2);
    g_assert_true(t.unreplaced == input);

    /* Forwards, then backwards (the cursor starts over). */
    g_assert_cmpuint(spec_yaml_text_position(&t, 19).line, ==, 3);
    g_assert_cmpuint(spec_yaml_text_position(&t, 19).column, ==, 2);
    g_assert_cmpuint(spec_yaml_text_position(&t, 3).column, ==, 0);
    g_assert_cmpuint(spec_yaml_text_position(&t, 0).column, ==, 0);
    g_assert_cmpuint(spec_yaml_text_position(&t, 9).line, ==, 2);
    g_assert_cmpuint(spec_yaml_text_position(&t, 12).column, ==, 2);
    g_assert_cmpuint(spec_yaml_text_offset(&t, (SpecTextPos){ 2, 2 }), ==,
                     12);
    g_assert_cmpuint(spec_yaml_text_offset(&t, (SpecTextPos){ 0, 1 }), ==, 4);
    /* Past a line's end: its break; past the text: its end. */
    g_assert_cmpuint(spec_yaml_text_offset(&t, (SpecTextPos){ 0, 9 }), ==, 5);
    g_assert_cmpuint(spec_yaml_text_offset(&t, (SpecTextPos){ 9, 0 }), ==,
                     t.len);
    line = spec_yaml_text_line(&t, 2, &len);
    g_assert_cmpmem(line, len, "d\xc2\xa0" "e", 4);
    line = spec_yaml_text_line(&t, 1, &len);
    g_assert_cmpmem(line, len, "c", 1);
    line = spec_yaml_text_line(&t, 4, &len);
    g_assert_nonnull(line);
    g_assert_cmpuint(len, ==, 0);
    g_assert_null(spec_yaml_text_line(&t, 5, &len));

    /* Found in [start, end) only, in the unreplaced text. */
    g_assert_false(spec_yaml_text_find_replaced(&t, (SpecTextPos){ 0, 0 },
                                                (SpecTextPos){ 2, 1 }, &b));
    g_assert_true(spec_yaml_text_find_replaced(&t, (SpecTextPos){ 2, 1 },
                                               (SpecTextPos){ 2, 2 }, &b));
    g_assert_cmpuint(b.pos.line, ==, 2);
    g_assert_cmpuint(b.pos.column, ==, 1);
    g_assert_cmpstr(b.name, ==, "U+0085 (NEL)");
    g_assert_cmpstr(b.escape, ==, "\\N");
    g_assert_true(spec_yaml_text_find_replaced(&t, (SpecTextPos){ 2, 2 },
                                               (SpecTextPos){ 9, 0 }, &b));
    g_assert_cmpuint(b.pos.line, ==, 3);
    g_assert_cmpuint(b.pos.column, ==, 1);
    g_assert_cmpstr(b.name, ==, "U+2029 (PS)");
    g_assert_cmpstr(b.escape, ==, "\\P");
    g_assert_false(spec_yaml_text_find_replaced(&t, (SpecTextPos){ 3, 2 },
                                                (SpecTextPos){ 9, 0 }, &b));
    spec_yaml_text_clear(&t);

    /* Text that needs no change is used as it is. */
    {
        static const char plain[] = "a: 1\n";

        spec_yaml_text_init(&t, plain, sizeof(plain) - 1);
        g_assert_true(t.data == plain);
        g_assert_null(t.owned);
    }
    g_assert_cmpuint(t.replaced, ==, 0);
    spec_yaml_text_clear(&t);
}

/* Values in messages are cut short. */
static void test_long_values(void)
{
    g_autofree char *key = g_strnfill(10000, 'k');
    /* Explicit keys: an implicit one is at most 1024 characters. */
    g_autofree char *text = g_strdup_printf("? %s\n: 1\n? %s\n: 2\nb: *%s\n",
                                            key, key, key);
    g_autofree char *e = parse_err(text);

    g_assert_cmpstr(e, ==,
                    "t.yaml:3:3: duplicate key "
                    "'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk'... "
                    "(10000 characters) (first defined at line 1)\n"
                    "t.yaml:5:4: unknown alias "
                    "'*kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk'... "
                    "(10001 characters)");
}

static void test_binary_junk(void)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(42);

    for (int round = 0; round < 200; round++) {
        char buf[512];
        gsize len = (gsize)g_rand_int_range(rand, 1, sizeof(buf));
        g_autoptr(SpecDiags) diags = spec_diags_new();
        g_autoptr(SpecNode) node = NULL;

        for (gsize i = 0; i < len; i++) {
            buf[i] = (char)g_rand_int_range(rand, 0, 256);
        }
        buf[0] = (char)0xfe;    /* surely not a map */
        node = spec_parse_buffer("junk", buf, len, diags);
        g_assert_null(node);
        g_assert_cmpuint(spec_diags_count(diags), >, 0);
    }
    {
        /* NUL bytes in the text itself. */
        static const char nul[] = "a: 1\0b: 2\n";
        g_autofree char *e = parse_err_len(nul, sizeof(nul) - 1);

        g_assert_cmpstr(e, ==, "t.yaml:1:5: control characters are not "
                        "allowed (0x00)");
    }
}

static void test_alias(void)
{
    g_autofree char *s = parse_ok("x: &a {p: 1, q: [2]}\ny: *a\n", true);

    /* The copy's top is marked at the alias, its insides at the anchor. */
    g_assert_cmpstr(s, ==,
                    "@1:1 {@1:1 x: @1:4 {@1:8 p: @1:11 1, @1:14 q: @1:17 "
                    "[@1:18 2]}, @2:1 y: @2:4 {@1:8 p: @1:11 1, @1:14 q: "
                    "@1:17 [@1:18 2]}}");
}

static void test_billion_laughs(void)
{
    const char *text =
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
        "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
        "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
        "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
    gint64 start = g_get_monotonic_time();
    g_autofree char *e = parse_err(text);

    g_assert_cmpstr(e, ==, "t.yaml:6:8: alias expansion too large "
                    "(more than 100000 nodes)");
    g_assert_cmpint(g_get_monotonic_time() - start, <, G_USEC_PER_SEC);
}

static void test_deep_nesting(void)
{
    g_autoptr(GString) flow = g_string_new("a: ");
    g_autoptr(GString) block = g_string_new(NULL);
    g_autoptr(GString) huge = g_string_new("a: ");
    g_autofree char *e1 = NULL;
    g_autofree char *e2 = NULL;
    g_autofree char *e3 = NULL;

    /* Level 1 is the top map; the 64th '[' is level 65. */
    for (int i = 0; i < 100; i++) {
        g_string_append_c(flow, '[');
    }
    for (int i = 0; i < 100; i++) {
        g_string_append_c(flow, ']');
    }
    e1 = parse_err(flow->str);
    g_assert_cmpstr(e1, ==, "t.yaml:1:67: nesting too deep (more than 64 "
                    "levels)");

    for (int i = 0; i < 70; i++) {
        g_string_append_printf(block, "%*sk%d:\n", i, "", i);
    }
    e2 = parse_err(block->str);
    g_assert_cmpstr(e2, ==, "t.yaml:65:65: nesting too deep (more than 64 "
                    "levels)");

    /* A megabyte of '[' fails fast too. */
    for (int i = 0; i < (1 << 20); i++) {
        g_string_append_c(huge, '[');
    }
    e3 = parse_err(huge->str);
    g_assert_cmpstr(e3, ==, "t.yaml:1:67: nesting too deep (more than 64 "
                    "levels)");

    /* Aliases count their depth where they are used. */
    {
        g_autoptr(GString) deep = g_string_new("a: &x ");
        g_autofree char *e4 = NULL;

        for (int i = 0; i < 60; i++) {
            g_string_append_c(deep, '[');
        }
        for (int i = 0; i < 60; i++) {
            g_string_append_c(deep, ']');
        }
        g_string_append(deep, "\nb: [[[[[[*x]]]]]]\n");
        e4 = parse_err(deep->str);
        g_assert_cmpstr(e4, ==, "t.yaml:2:10: nesting too deep (more than "
                        "64 levels)");
    }
}

static void test_too_large(void)
{
    gsize len = SPEC_PARSE_MAX_BYTES + 1;
    g_autofree char *big = g_malloc(len);
    g_autofree char *e = NULL;

    memset(big, ' ', len);
    e = parse_err_len(big, len);
    g_assert_cmpstr(e, ==, "t.yaml: spec too large (4194305 bytes; the "
                    "limit is 4194304)");
}

static void test_file(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("spec-parse-XXXXXX", &err);
    g_autofree char *good = g_build_filename(dir, "good.yaml", NULL);
    g_autofree char *missing = g_build_filename(dir, "missing.yaml", NULL);
    g_autofree char *expect = NULL;
    g_autofree char *expect_dir = NULL;

    g_assert_no_error(err);
    g_assert_true(g_file_set_contents(good, "a: 1\n", -1, NULL));
    {
        g_autoptr(SpecDiags) diags = spec_diags_new();
        g_autoptr(SpecNode) node = spec_parse_file(good, diags);

        g_assert_nonnull(node);
        g_assert_cmpstr(node->mark.file, ==, good);
    }
    {
        g_autoptr(SpecDiags) diags = spec_diags_new();
        g_autoptr(SpecNode) node = spec_parse_file(missing, diags);
        g_autofree char *text = spec_diags_format(diags);
        g_autoptr(GError) e2 = NULL;

        g_assert_null(node);
        expect = g_strdup_printf("%s: cannot read spec: No such file or "
                                 "directory", missing);
        g_assert_cmpstr(text, ==, expect);
        g_assert_false(spec_diags_to_error(diags, &e2));
        g_assert_error(e2, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND);
    }
    {
        g_autoptr(SpecDiags) diags = spec_diags_new();
        g_autoptr(SpecNode) node = spec_parse_file(dir, diags);
        g_autofree char *text = spec_diags_format(diags);

        g_assert_null(node);
        expect_dir = g_strdup_printf("%s: cannot read spec: Is a directory",
                                     dir);
        g_assert_cmpstr(text, ==, expect_dir);
    }
    g_unlink(good);
    g_rmdir(dir);
}

static void test_diags(void)
{
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *all = NULL;
    g_autofree char *many = NULL;
    SpecMark m = { 0 };

    g_assert_true(spec_diags_to_error(diags, &err));
    g_assert_no_error(err);
    spec_mark_init(&m, "f.yaml", 2, 5);
    spec_diags_add(diags, &m, "bad %s", "value");
    spec_mark_clear(&m);
    spec_diags_add_at(diags, VMSPEC_ERROR_IO, "g.yaml", 7, 0, "no column");
    spec_diags_add_at(diags, VMSPEC_ERROR_IO, "--set a=b", 0, 0, "whole");
    spec_diags_add(diags, NULL, "nowhere");
    all = spec_diags_format(diags);
    g_assert_cmpstr(all, ==, "f.yaml:2:5: bad value\ng.yaml:7: no column\n"
                    "--set a=b: whole\nnowhere");
    g_assert_cmpuint(spec_diags_count(diags), ==, 4);
    g_assert_cmpuint(spec_diags_get(diags, 0)->line, ==, 2);
    g_assert_cmpstr(spec_diags_get(diags, 0)->message, ==, "bad value");
    g_assert_false(spec_diags_to_error(diags, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_assert_cmpstr(err->message, ==, all);

    for (int i = 0; i < 200; i++) {
        spec_diags_add_at(diags, VMSPEC_ERROR_INVALID, "h", 1, 1, "e%d", i);
    }
    g_assert_cmpuint(spec_diags_count(diags), ==, 204);
    g_assert_cmpuint(spec_diags_kept(diags), ==, SPEC_DIAGS_MAX);
    many = spec_diags_format(diags);
    g_assert_true(g_str_has_suffix(many, "\nh:1:1: e95\n... and 104 more "
                                   "errors"));
}

static void test_suggest(void)
{
    static const char *const keys[] = {
        "type", "cpus", "memory", "kernel", "initrd", "cmdline", NULL
    };
    g_autofree char *list = spec_suggest_list(keys, -1);
    g_autofree char *hint = spec_suggest_hint("memroy", keys, -1);
    g_autofree char *none = spec_suggest_hint("zzzzzz", keys, -1);

    g_assert_cmpstr(spec_suggest("memroy", keys, -1), ==, "memory");
    g_assert_cmpstr(spec_suggest("memory", keys, -1), ==, NULL);
    g_assert_cmpstr(spec_suggest("Memory", keys, -1), ==, "memory");
    g_assert_cmpstr(spec_suggest("cpu", keys, -1), ==, "cpus");
    g_assert_cmpstr(spec_suggest("kernal", keys, 6), ==, "kernel");
    g_assert_cmpstr(spec_suggest("commandline", keys, -1), ==, NULL);
    g_assert_cmpstr(spec_suggest("x", keys, -1), ==, NULL);
    g_assert_cmpstr(spec_suggest("tpye", keys, 1), ==, "type");
    g_assert_cmpstr(spec_suggest("initrd", keys, 0), ==, NULL);
    g_assert_cmpstr(list, ==, "type, cpus, memory, kernel, initrd, cmdline");
    g_assert_cmpstr(hint, ==, "; did you mean 'memory'?");
    g_assert_cmpstr(none, ==, "");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/spec/parse/good-tree", test_good_tree);
    g_test_add_func("/spec/parse/lookup-marks", test_lookup_and_marks);
    g_test_add_func("/spec/parse/scalar-styles", test_scalar_styles);
    g_test_add_func("/spec/node/api", test_node_api);
    g_test_add_func("/spec/parse/duplicate-keys", test_duplicate_keys);
    g_test_add_func("/spec/parse/bad-keys", test_bad_keys);
    g_test_add_func("/spec/parse/empty", test_empty);
    g_test_add_func("/spec/parse/two-documents", test_two_documents);
    g_test_add_func("/spec/parse/syntax-errors", test_syntax_errors);
    g_test_add_func("/spec/parse/encoding", test_encoding);
    g_test_add_func("/spec/parse/unsupported-tags", test_unsupported_tags);
    g_test_add_func("/spec/parse/core-tags", test_core_tags);
    g_test_add_func("/spec/parse/line-breaks", test_line_breaks);
    g_test_add_func("/spec/parse/utf16", test_utf16);
    g_test_add_func("/spec/parse/yaml-text", test_yaml_text);
    g_test_add_func("/spec/parse/positions-linear", test_positions_linear);
    g_test_add_func("/spec/parse/long-values", test_long_values);
    g_test_add_func("/spec/parse/binary-junk", test_binary_junk);
    g_test_add_func("/spec/parse/alias", test_alias);
    g_test_add_func("/spec/parse/billion-laughs", test_billion_laughs);
    g_test_add_func("/spec/parse/deep-nesting", test_deep_nesting);
    g_test_add_func("/spec/parse/too-large", test_too_large);
    g_test_add_func("/spec/parse/file", test_file);
    g_test_add_func("/spec/diag/collect-format", test_diags);
    g_test_add_func("/spec/suggest", test_suggest);
    return g_test_run();
}
