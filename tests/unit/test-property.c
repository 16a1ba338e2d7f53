/*
 * Property tables: defaults, every kind's parser and its errors, range
 * checks, required properties, freezing after realize, inheritance.
 */
#include <string.h>

#include "machine/qom/device.h"
#include "machine/qom/error.h"
#include "machine/qom/property.h"

#define TYPE_TEST_DEV "test-prop-device"
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)

typedef struct {
    DeviceState parent_obj;
    int64_t queues;
    bool readonly;
    char *serial;
    uint64_t size;
    int mode;
    FilePath image;
    MacAddr mac;
    char **forward;
    int realize_calls;
} TestDev;

#define TEST_DEV(obj) OBJECT_CHECK(TestDev, (obj), TYPE_TEST_DEV)

static const char *const test_modes[] = { "exit", "restart", NULL };

/* An item of "forward": PROTO:PORT, PROTO tcp or udp. */
static bool test_forward_check(const char *value, GError **errp)
{
    if (!g_str_has_prefix(value, "tcp:") && !g_str_has_prefix(value, "udp:")) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "'%s' is not a forward: expected tcp:PORT or udp:PORT",
                    value);
        return false;
    }
    return true;
}

static const Property test_dev_props[] = {
    PROP_INT("queues", TestDev, queues, 1, 1, 16, "Queues"),
    PROP_BOOL("readonly", TestDev, readonly, false, "Read-only"),
    PROP_STRING("serial", TestDev, serial, "none", "Serial number"),
    PROP_SIZE("size", TestDev, size, 64 * MiB, 4096, 2 * GiB, "Size"),
    PROP_ENUM("mode", TestDev, mode, 1, test_modes, "Mode"),
    PROP_PATH("image", TestDev, image, true, "Image file"),
    PROP_MAC("mac", TestDev, mac, "MAC address"),
    PROP_STRV("forward", TestDev, forward, test_forward_check,
              "^(tcp|udp):", "Forwards"),
    PROP_END,
};

static bool test_dev_realize(DeviceState *dev, const DeviceContext *ctx,
                             GError **errp)
{
    TEST_DEV(dev)->realize_calls++;
    return true;
}

static void test_dev_class_init(ObjectClass *oc, const void *data)
{
    oc->props = test_dev_props;
    DEVICE_CLASS(oc)->realize = test_dev_realize;
}

static const TypeInfo test_dev_info = {
    .name = TYPE_TEST_DEV,
    .parent = TYPE_DEVICE,
    .instance_size = sizeof(TestDev),
    .class_init = test_dev_class_init,
};

static void register_test_dev(void)
{
    type_register_static(&test_dev_info);
}

type_init(register_test_dev)

/* Sets name=value on a fresh device and returns the error text, or NULL. */
static char *set_error(const char *name, const char *value)
{
    g_autoptr(Object) obj = object_new(TYPE_TEST_DEV);
    g_autoptr(GError) err = NULL;

    if (object_property_set_str(obj, name, value, &err)) {
        return NULL;
    }
    g_assert_error(err, VMSPEC_ERROR, err->code);
    return g_strdup(err->message);
}

static void assert_set_error(const char *name, const char *value,
                             const char *expected)
{
    g_autofree char *msg = set_error(name, value);

    g_assert_cmpstr(msg, ==, expected);
}

/* Sets name=value and returns the value read back. */
static char *roundtrip(const char *name, const char *value)
{
    g_autoptr(Object) obj = object_new(TYPE_TEST_DEV);

    g_assert_true(object_property_set_str(obj, name, value, NULL));
    return object_property_get_str(obj, name);
}

static void assert_roundtrip(const char *name, const char *value,
                             const char *expected)
{
    g_autofree char *got = roundtrip(name, value);

    g_assert_cmpstr(got, ==, expected);
}

static void test_defaults(void)
{
    g_autoptr(Object) obj = object_new(TYPE_TEST_DEV);
    TestDev *d = TEST_DEV(obj);

    g_assert_cmpint(d->queues, ==, 1);
    g_assert_false(d->readonly);
    g_assert_cmpstr(d->serial, ==, "none");
    g_assert_cmpuint(d->size, ==, 64 * MiB);
    g_assert_cmpint(d->mode, ==, 1);
    g_assert_null(d->image.path);
    g_assert_true(d->mac.is_auto);
    g_assert_null(d->forward);
    g_assert_null(d->parent_obj.id);
}

static void test_default_strings(void)
{
    ObjectClass *oc = object_class_by_name(TYPE_TEST_DEV);
    static const struct { const char *name, *def; } cases[] = {
        { "queues", "1" }, { "readonly", "false" }, { "serial", "none" },
        { "size", "64M" }, { "mode", "restart" }, { "image", NULL },
        { "mac", "auto" }, { "forward", "[]" }, { "id", NULL },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const Property *p = object_class_find_property(oc, cases[i].name);
        g_autofree char *def = NULL;

        g_assert_nonnull(p);
        g_assert_nonnull(p->description);
        def = property_default_str(p);
        g_assert_cmpstr(def, ==, cases[i].def);
    }
}

static void test_inherited(void)
{
    ObjectClass *oc = object_class_by_name(TYPE_TEST_DEV);
    g_autoptr(GPtrArray) names = object_class_property_names(oc, NULL);

    /* The base's "id" first, then the class's own in table order. */
    g_assert_cmpuint(names->len, ==, 9);
    g_assert_cmpstr(names->pdata[0], ==, "id");
    g_assert_cmpstr(names->pdata[1], ==, "queues");
    g_assert_cmpstr(names->pdata[7], ==, "mac");
    g_assert_cmpstr(names->pdata[8], ==, "forward");
    assert_roundtrip("id", "disk0", "disk0");
}

static void test_int(void)
{
    /* The YAML 1.2 core schema's integers: decimal, 0x hex, 0o octal. */
    assert_roundtrip("queues", "16", "16");
    assert_roundtrip("queues", "+16", "16");
    assert_roundtrip("queues", "0x4", "4");
    assert_roundtrip("queues", "0xF", "15");
    assert_roundtrip("queues", "0o2", "2");
    assert_roundtrip("queues", "0o17", "15");
    assert_roundtrip("queues", "007", "7");
    assert_set_error("queues", "17",
                     "17 is out of range: queues must be between 1 and 16");
    assert_set_error("queues", "0o21",
                     "17 is out of range: queues must be between 1 and 16");
    assert_set_error("queues", "-3",
                     "-3 is out of range: queues must be between 1 and 16");
    assert_set_error("queues", "4x", "'4x' is not an integer (YAML 1.2: 42, "
                     "-42, 0x2a or 0o52)");
    assert_set_error("queues", "", "'' is not an integer (YAML 1.2: 42, "
                     "-42, 0x2a or 0o52)");
    /* Not the core schema's: spaces, 0X, a sign before 0x, 0o8, 0b1. */
    static const char *const not_ints[] = {
        " 4", "4 ", "0X4", "+0x4", "-0x4", "0o8", "0o", "0x", "0b1", "-",
        "1_000", "4.0",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(not_ints); i++) {
        g_autofree char *want = g_strdup_printf(
            "'%s' is not an integer (YAML 1.2: 42, -42, 0x2a or 0o52)",
            not_ints[i]);

        assert_set_error("queues", not_ints[i], want);
    }
    assert_set_error("queues", "99999999999999999999",
                     "'99999999999999999999' is out of range for an "
                     "integer");
    assert_set_error("queues", "0x10000000000000000",
                     "'0x10000000000000000' is out of range for an "
                     "integer");
}

static void test_int_parser(void)
{
    int64_t v;

    g_assert_true(parse_int64("9223372036854775807", &v, NULL));
    g_assert_cmpint(v, ==, INT64_MAX);
    g_assert_true(parse_int64("-9223372036854775808", &v, NULL));
    g_assert_cmpint(v, ==, INT64_MIN);
    g_assert_false(parse_int64("9223372036854775808", &v, NULL));
    g_assert_true(parse_int64("0x7fffffffffffffff", &v, NULL));
    g_assert_cmpint(v, ==, INT64_MAX);
    g_assert_false(parse_int64("0x8000000000000000", &v, NULL));
    g_assert_true(parse_int64("0o777", &v, NULL));
    g_assert_cmpint(v, ==, 511);
    g_assert_true(parse_int64("-0", &v, NULL));
    g_assert_cmpint(v, ==, 0);
}

static void test_bool(void)
{
    assert_roundtrip("readonly", "true", "true");
    assert_roundtrip("readonly", "false", "false");
    assert_set_error("readonly", "yes",
                     "'yes' is not a boolean: expected true or false");
}

static void test_string(void)
{
    assert_roundtrip("serial", "abc 123", "abc 123");
    assert_roundtrip("serial", "", "");
}

static void test_size(void)
{
    assert_roundtrip("size", "4096", "4K");
    assert_roundtrip("size", "512M", "512M");
    assert_roundtrip("size", "2G", "2G");
    assert_roundtrip("size", "1536M", "1536M");
    assert_roundtrip("size", "1g", "1G");
    assert_roundtrip("size", "100000", "100000");
    assert_roundtrip("size", "1GiB", "1G");
    /* Suffixes in either case, with B or iB in any case. */
    assert_roundtrip("size", "512mb", "512M");
    assert_roundtrip("size", "512MB", "512M");
    assert_roundtrip("size", "512Mib", "512M");
    assert_roundtrip("size", "1gIB", "1G");
    /* A YAML integer in any of the core schema's notations. */
    assert_roundtrip("size", "0x10000000", "256M");
    assert_roundtrip("size", "0o10000", "4K");
    assert_roundtrip("size", "+4096", "4K");
    assert_set_error("size", "-1", "'-1' is not a size: must not be "
                     "negative");
    assert_set_error("size", "-4K", "'-4K' is not a size: must not be "
                     "negative");
    assert_set_error("size", "-99999999999999999999", "'-999999999999999999"
                     "99' is not a size: must not be negative");
    assert_set_error("size", "12Q", "'12Q' is not a size: unknown suffix "
                     "'Q' (expected K, M, G, T or P, optionally followed by "
                     "B or iB)");
    assert_set_error("size", "1.5G", "'1.5G' is not a size: unknown suffix "
                     "'.5G' (expected K, M, G, T or P, optionally followed by "
                     "B or iB)");
    assert_set_error("size", "2GBB", "'2GBB' is not a size: unknown suffix "
                     "'GBB' (expected K, M, G, T or P, optionally followed by "
                     "B or iB)");
    assert_set_error("size", "0x10M", "'0x10M' is not a size: unknown suffix "
                     "'x10M' (expected K, M, G, T or P, optionally followed by "
                     "B or iB)");
    assert_set_error("size", "G", "'G' is not a size: expected a number of "
                     "bytes, optionally with a K, M, G, T or P suffix (512M, "
                     "2G)");
    assert_set_error("size", "0x1P", "'0x1P' is not a size: unknown suffix "
                     "'x1P' (expected K, M, G, T or P, optionally followed by "
                     "B or iB)");
    assert_set_error("size", "18446744073709551616",
                     "'18446744073709551616' is too large for a size");
    assert_set_error("size", "17179869184G",
                     "'17179869184G' is too large for a size");
    assert_set_error("size", "4G", "4G is out of range: size must be "
                     "between 4K and 2G");
    assert_set_error("size", "100", "100 is out of range: size must be "
                     "between 4K and 2G");
    /* Out of range names the size, not the text, however it was written. */
    assert_set_error("size", "0x100000000", "4G is out of range: size must "
                     "be between 4K and 2G");
    assert_set_error("size", "00000000000000000000000000000000000000000000000"
                     "000000000000000000001", "1 is out of range: size must "
                     "be between 4K and 2G");
}

static void test_size_parser(void)
{
    uint64_t v;

    g_assert_true(parse_size("18446744073709551615", &v, NULL));
    g_assert_cmpuint(v, ==, UINT64_MAX);
    g_assert_true(parse_size("16383P", &v, NULL));
    g_assert_false(parse_size("16384P", &v, NULL));
    g_assert_false(parse_size("", &v, NULL));
    g_assert_false(parse_size("1 G", &v, NULL));
    g_assert_true(parse_size("0x10", &v, NULL));
    g_assert_cmpuint(v, ==, 16);
    g_assert_true(parse_size("0xffffffffffffffff", &v, NULL));
    g_assert_cmpuint(v, ==, UINT64_MAX);
    g_assert_false(parse_size("0x10000000000000000", &v, NULL));
    g_assert_true(parse_size("-0", &v, NULL));
    g_assert_cmpuint(v, ==, 0);
    g_assert_true(parse_size("1p", &v, NULL));
    g_assert_cmpuint(v, ==, UINT64_C(1) << 50);
}

/* PROP_SIZE_PATTERN, which the JSON Schema carries, matches exactly what
 * parse_size takes: editors and `vmspec check` agree on every string. */
static void test_size_pattern(void)
{
    static const char *const cases[] = {
        "0", "4096", "+4096", "-0", "-00", "-1", "+-1", "--0", "0x1000",
        "0X1000", "0xfffFFF", "+0x10", "-0x0", "0o17", "0o8", "0O17", "0b1",
        "512M", "512m", "512MB", "512mb", "512Mb", "512MiB", "512mib",
        "512MIB", "512iB", "512MiiB", "512MBB", "512 M", " 512", "512M ",
        "1P", "1p", "1E", "1.5G", "1e3", "0x10M", "0o10K", "+1K", "-1K", "",
        "K", "B", "iB", "KB", "1_000", "16383P", "99999999999999999999",
        "\xef\xbc\x91M",
    };
    g_autoptr(GRegex) re = g_regex_new(PROP_SIZE_PATTERN, 0, 0, NULL);

    g_assert_nonnull(re);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint64_t v;
        bool parsed = parse_size(cases[i], &v, NULL);
        bool matched = g_regex_match(re, cases[i], 0, NULL);

        /* Too large for 64 bits is the one thing a pattern can't see. */
        if (strcmp(cases[i], "99999999999999999999") == 0) {
            g_assert_false(parsed);
            g_assert_true(matched);
            continue;
        }
        if (parsed != matched) {
            g_error("'%s': parse_size %s, the pattern %s", cases[i],
                    parsed ? "takes it" : "refuses it",
                    matched ? "matches" : "doesn't match");
        }
    }
}

static void test_quote_value(void)
{
    g_autofree char *big = g_strnfill(10000, 'x');
    g_autofree char *sixty = g_strnfill(QUOTE_VALUE_MAX, 'y');
    g_autofree char *sixty_one = g_strnfill(QUOTE_VALUE_MAX + 1, 'y');
    g_autofree char *want_sixty = g_strdup_printf("'%s'", sixty);
    g_autofree char *q_big = quote_value(big);
    g_autofree char *q_sixty = quote_value(sixty);
    g_autofree char *q_sixty_one = quote_value(sixty_one);
    g_autoptr(GString) accents = g_string_new(NULL);
    g_autofree char *q_accents = NULL;
    g_autofree char *q_bad = NULL;
    g_autofree char *q_empty = quote_value("");
    g_autofree char *bad_utf8 = g_strnfill(100, '\xff');
    g_autoptr(Object) obj = object_new(TYPE_TEST_DEV);
    g_autoptr(GError) err = NULL;
    g_autofree char *big_size = g_strconcat("1", big, NULL);

    g_assert_cmpstr(q_empty, ==, "''");
    g_assert_cmpstr(q_sixty, ==, want_sixty);
    g_assert_cmpstr(q_sixty_one, ==,
                    "'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy'... "
                    "(61 characters)");
    g_assert_cmpstr(q_big, ==, "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'"
                    "... (10000 characters)");
    /* Cut between characters, never inside one. */
    for (int i = 0; i < 100; i++) {
        g_string_append(accents, "\xc3\xa9");
    }
    q_accents = quote_value(accents->str);
    g_assert_true(g_utf8_validate(q_accents, -1, NULL));
    g_assert_true(g_str_has_suffix(q_accents, "'... (100 characters)"));
    g_assert_cmpuint(g_utf8_strlen(q_accents, -1), ==,
                     QUOTE_VALUE_KEEP + strlen("''... (100 characters)"));
    q_bad = quote_value(bad_utf8);
    g_assert_true(g_str_has_suffix(q_bad, "'... (100 bytes)"));

    /* Every parser's message quotes through it. */
    g_assert_false(object_property_set_str(obj, "size", big_size, &err));
    g_assert_cmpstr(err->message, ==, "'1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                    "xxxx'... (10001 characters) is not a size: unknown "
                    "suffix 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'... "
                    "(10000 characters) (expected K, M, G, T or P, "
                    "optionally followed by B or iB)");
    g_clear_error(&err);
    g_assert_false(object_property_set_str(obj, "mode", big, &err));
    g_assert_true(g_str_has_prefix(err->message, q_big));
    g_assert_cmpuint(strlen(err->message), <, 200);
    g_clear_error(&err);
    g_assert_false(object_property_set_str(obj, "queues", big, &err));
    g_assert_cmpuint(strlen(err->message), <, 200);
    g_clear_error(&err);
    g_assert_false(object_property_set_str(obj, "mac", big, &err));
    g_assert_cmpuint(strlen(err->message), <, 200);
    g_clear_error(&err);
    g_assert_false(object_property_set_str(obj, "readonly", big, &err));
    g_assert_cmpuint(strlen(err->message), <, 200);
    g_clear_error(&err);
    g_assert_false(object_property_set_str(obj, big, "1", &err));
    g_assert_cmpuint(strlen(err->message), <, 200);
}

static void test_enum(void)
{
    assert_roundtrip("mode", "exit", "exit");
    assert_set_error("mode", "restrat",
                     "'restrat' is not one of: exit, restart");
    assert_set_error("mode", "", "'' is not one of: exit, restart");
}

static void test_path(void)
{
    g_autoptr(Object) obj = object_new(TYPE_TEST_DEV);
    g_autoptr(GError) err = NULL;
    TestDev *d = TEST_DEV(obj);

    assert_roundtrip("image", "disk.img", "disk.img");
    assert_set_error("image", "", "a path must not be empty");
    g_assert_true(object_property_set_path_pin(obj, "image",
        "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        NULL));
    g_assert_cmpstr(d->image.sha256, ==,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    g_assert_false(object_property_set_path_pin(obj, "image", "abc", &err));
    g_assert_cmpstr(err->message, ==,
                    "'abc' is not a sha256: expected 64 hex digits");
    g_clear_error(&err);
    g_assert_false(object_property_set_path_pin(obj, "serial",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        &err));
}

static void test_mac(void)
{
    g_autoptr(Object) obj = object_new(TYPE_TEST_DEV);
    TestDev *d = TEST_DEV(obj);

    assert_roundtrip("mac", "52:54:00:AB:cd:01", "52:54:00:ab:cd:01");
    assert_roundtrip("mac", "auto", "auto");
    g_assert_true(object_property_set_str(obj, "mac", "02:00:00:00:00:07",
                                          NULL));
    g_assert_false(d->mac.is_auto);
    g_assert_cmpuint(d->mac.bytes[5], ==, 7);
    assert_set_error("mac", "52:54:00:12:34", "'52:54:00:12:34' is not a MAC "
                     "address: expected six hex pairs like "
                     "52:54:00:12:34:56, or auto");
    assert_set_error("mac", "52:54:00:12:34:5g", "'52:54:00:12:34:5g' is not "
                     "a MAC address: expected six hex pairs like "
                     "52:54:00:12:34:56, or auto");
    assert_set_error("mac", "52-54-00-12-34-56", "'52-54-00-12-34-56' is not "
                     "a MAC address: expected six hex pairs like "
                     "52:54:00:12:34:56, or auto");
    assert_set_error("mac", "52:54:00:12:34:56:78", "'52:54:00:12:34:56:78' "
                     "is not a MAC address: expected six hex pairs like "
                     "52:54:00:12:34:56, or auto");
    assert_set_error("mac", "01:00:5e:00:00:01", "'01:00:5e:00:00:01' is a "
                     "multicast MAC address; a NIC needs a unicast one");
    assert_set_error("mac", "00:00:00:00:00:00", "'00:00:00:00:00:00' is not "
                     "a usable MAC address");
}

static void test_strv(void)
{
    g_autoptr(Object) obj = object_new(TYPE_TEST_DEV);
    g_autoptr(GError) err = NULL;
    const char *const two[] = { "tcp:22", "udp:53", NULL };
    const char *const bad[] = { "tcp:80", "sctp:1", "udp:2", NULL };
    const char *const none[] = { NULL };
    const char *const odd[] = { "tcp:\"q\"\\", "tcp:\n\x1b", NULL };
    const char *const *got;
    TestDev *d = TEST_DEV(obj);
    char *text;

    g_assert_cmpstr(property_kind_name(PROP_KIND_STRV), ==, "list");

    /* Empty by default: NULL in the field, { NULL } to a reader. */
    got = object_property_get_strv(obj, "forward");
    g_assert_nonnull(got);
    g_assert_null(got[0]);
    text = object_property_get_str(obj, "forward");
    g_assert_cmpstr(text, ==, "[]");
    g_free(text);
    g_assert_true(object_property_is_set(
        obj, object_class_find_property(obj->klass, "forward")));

    /* A copy is kept: the caller's array is not borrowed. */
    g_assert_true(object_property_set_strv(obj, "forward", two, NULL));
    g_assert_true((const char *const *)d->forward != two);
    got = object_property_get_strv(obj, "forward");
    g_assert_cmpuint(g_strv_length((char **)got), ==, 2);
    g_assert_cmpstr(got[0], ==, "tcp:22");
    g_assert_cmpstr(got[1], ==, "udp:53");
    text = object_property_get_str(obj, "forward");
    g_assert_cmpstr(text, ==, "[\"tcp:22\", \"udp:53\"]");
    g_free(text);

    /* Every item is checked; one bad item changes nothing. */
    g_assert_false(object_property_set_strv(obj, "forward", bad, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_assert_cmpstr(err->message, ==, "item 1: 'sctp:1' is not a forward: "
                    "expected tcp:PORT or udp:PORT");
    g_clear_error(&err);
    got = object_property_get_strv(obj, "forward");
    g_assert_cmpuint(g_strv_length((char **)got), ==, 2);
    g_assert_cmpstr(got[1], ==, "udp:53");

    /* Shown as JSON strings, which YAML reads back the same. */
    g_assert_true(object_property_set_strv(obj, "forward", odd, NULL));
    text = object_property_get_str(obj, "forward");
    g_assert_cmpstr(text, ==,
                    "[\"tcp:\\\"q\\\"\\\\\", \"tcp:\\n\\u001b\"]");
    g_free(text);

    /* The empty list, either way, is NULL in the field. */
    g_assert_true(object_property_set_strv(obj, "forward", none, NULL));
    g_assert_null(d->forward);
    g_assert_true(object_property_set_strv(obj, "forward", two, NULL));
    g_assert_true(object_property_set_strv(obj, "forward", NULL, NULL));
    g_assert_null(d->forward);

    /* A list takes no single string, and a string no list. */
    g_assert_false(object_property_set_str(obj, "forward", "tcp:1", &err));
    g_assert_cmpstr(err->message, ==, "'forward' is a list of strings, not "
                    "a single value");
    g_clear_error(&err);
    g_assert_false(object_property_set_strv(obj, "serial", two, &err));
    g_assert_cmpstr(err->message, ==, "'serial' is not a list of strings");
    g_clear_error(&err);
    g_assert_false(object_property_set_strv(obj, "forwrd", two, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND);
    g_clear_error(&err);

    /* Frozen once realized, like every property. */
    g_assert_true(object_property_set_str(obj, "image", "x.img", NULL));
    g_assert_true(object_property_set_strv(obj, "forward", two, NULL));
    g_assert_true(device_realize(DEVICE(obj), NULL));
    g_assert_false(object_property_set_strv(obj, "forward", none, &err));
    g_assert_cmpstr(err->message, ==,
                    "cannot change a property of a realized device");
    g_assert_nonnull(d->forward);
    device_unrealize(DEVICE(obj));
    /* finalize frees the list (the leak check of ASan builds sees it) */
}

static void test_unknown_property(void)
{
    assert_set_error("qeues", "1", "'test-prop-device' has no property "
                     "'qeues'");
}

static void test_required_and_realize(void)
{
    g_autoptr(Object) obj = object_new(TYPE_TEST_DEV);
    g_autoptr(GError) err = NULL;
    TestDev *d = TEST_DEV(obj);

    object_property_set_str(obj, "id", "root", NULL);
    device_set_origin(DEVICE(obj), "vm.yaml:7:5");
    g_assert_false(device_realize(DEVICE(obj), &err));
    g_assert_cmpstr(err->message, ==, "device 'root' (test-prop-device, "
                    "vm.yaml:7:5): missing required property 'image'");
    g_assert_cmpint(d->realize_calls, ==, 0);
    g_clear_error(&err);

    g_assert_true(object_property_set_str(obj, "image", "x.img", NULL));
    g_assert_true(device_realize(DEVICE(obj), NULL));
    g_assert_true(DEVICE(obj)->realized);
    g_assert_true(device_realize(DEVICE(obj), NULL));
    g_assert_cmpint(d->realize_calls, ==, 1);

    /* Frozen once realized. */
    g_assert_false(object_property_set_str(obj, "queues", "2", &err));
    g_assert_cmpstr(err->message, ==,
                    "cannot change a property of a realized device");
    device_unrealize(DEVICE(obj));
    g_assert_false(DEVICE(obj)->realized);
    g_assert_true(object_property_set_str(obj, "queues", "2", NULL));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_true(module_call_init(MODULE_INIT_QOM, NULL));

    g_test_add_func("/property/defaults", test_defaults);
    g_test_add_func("/property/default-strings", test_default_strings);
    g_test_add_func("/property/inherited", test_inherited);
    g_test_add_func("/property/int", test_int);
    g_test_add_func("/property/int-parser", test_int_parser);
    g_test_add_func("/property/bool", test_bool);
    g_test_add_func("/property/string", test_string);
    g_test_add_func("/property/size", test_size);
    g_test_add_func("/property/size-parser", test_size_parser);
    g_test_add_func("/property/size-pattern", test_size_pattern);
    g_test_add_func("/property/quote-value", test_quote_value);
    g_test_add_func("/property/enum", test_enum);
    g_test_add_func("/property/path", test_path);
    g_test_add_func("/property/mac", test_mac);
    g_test_add_func("/property/strv", test_strv);
    g_test_add_func("/property/unknown", test_unknown_property);
    g_test_add_func("/property/required-and-realize",
                    test_required_and_realize);
    return g_test_run();
}
