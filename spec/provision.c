/*
 * `provision:` and `cloud_init:` -> Provision (see provision.h).
 *
 * Every value is checked here, where its line is known, so that what the
 * guest's cloud-init gets is always well-formed: names cloud-init passes
 * to useradd are what useradd takes, modes are octal permission bits,
 * paths absolute, environment names shell names.  The JSON Schema of the
 * two keys is written from the same tables (spec_provision_schema).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "machine/qom/error.h"
#include "spec/provision.h"
#include "spec/readfile.h"
#include "spec/scalar.h"
#include "spec/suggest.h"

const char *const spec_provision_keys[] = { "provision", "cloud_init", NULL };

/* useradd's default NAME_REGEX (shadow's useradd(8)), less '$'. */
#define USER_PATTERN    "^[a-z_][a-z0-9_-]{0,31}$"
#define ENV_PATTERN     "^[A-Za-z_][A-Za-z0-9_]{0,127}$"
/* Debian Policy 5.6.1 package names, with an optional =VERSION. */
#define PACKAGE_PATTERN "^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+)?$"
#define UID_MIN 1
#define UID_MAX 60000           /* Debian's UID_MAX for ordinary users */
#define PROVISION_TEXT_MAX (1u << 20)

typedef struct {
    SpecProps *props;
    SpecDiags *diags;
    guint errors_at_start;
} Reader;

static const char *const provision_fields[] = {
    "user", "ssh_authorized_keys", "packages", "files", "run", "run_always",
    "env", NULL,
};
static const char *const user_fields[] = { "name", "uid", "groups", NULL };
static const char *const file_fields[] = { "path", "content", "mode",
                                           "owner", NULL };
static const char *const cloud_init_fields[] = { "user_data", NULL };

void provision_free(Provision *p)
{
    if (!p) {
        return;
    }
    g_free(p->user);
    g_strfreev(p->groups);
    g_strfreev(p->authorized_keys);
    g_strfreev(p->packages);
    g_ptr_array_unref(p->files);
    g_strfreev(p->run);
    g_strfreev(p->run_always);
    g_ptr_array_unref(p->env);
    g_free(p->user_data_path);
    g_free(p);
}

static void file_free(gpointer data)
{
    ProvisionFile *f = data;

    g_free(f->path);
    g_free(f->content);
    g_free(f->owner);
    g_free(f);
}

static void env_free(gpointer data)
{
    ProvisionEnv *e = data;

    g_free(e->key);
    g_free(e->value);
    g_free(e);
}

static bool matches(const char *pattern, const char *text)
{
    return g_regex_match_simple(pattern, text, G_REGEX_DEFAULT,
                                G_REGEX_MATCH_DEFAULT);
}

/* A map whose keys are all in fields; unknown keys get a suggestion. */
static bool expect_map(Reader *r, const SpecNode *node, const char *where,
                       const char *const *fields)
{
    if (node->kind != SPEC_NODE_MAP) {
        spec_diags_add(r->diags, &node->mark, "%s: expected a map", where);
        return false;
    }
    for (guint i = 0; i < spec_node_map_size(node); i++) {
        const SpecPair *pair = spec_node_map_pair(node, i);

        if (!g_strv_contains(fields, pair->key)) {
            g_autofree char *hint = spec_suggest_hint(pair->key, fields,
                                                      -1);
            g_autofree char *valid = spec_suggest_list(fields, -1);

            spec_diags_add(r->diags, &pair->key_mark,
                           "%s: unknown key '%s'%s (valid keys: %s)", where,
                           pair->key, hint, valid);
        }
    }
    return true;
}

/* A string (quoted or plain text that resolves as one), else NULL after a
 * diagnostic. */
static const char *expect_string(Reader *r, const SpecNode *node,
                                 const char *where)
{
    if (node->kind != SPEC_NODE_SCALAR ||
        spec_scalar_type(node) != SPEC_SCALAR_STRING) {
        spec_diags_add(r->diags, &node->mark, "%s: expected a string",
                       where);
        return NULL;
    }
    if (strlen(node->scalar.text) > PROVISION_TEXT_MAX) {
        spec_diags_add(r->diags, &node->mark, "%s: longer than %u bytes",
                       where, PROVISION_TEXT_MAX);
        return NULL;
    }
    return node->scalar.text;
}

static const char *expect_matching(Reader *r, const SpecNode *node,
                                   const char *where, const char *pattern,
                                   const char *what)
{
    const char *s = expect_string(r, node, where);

    if (s && !matches(pattern, s)) {
        spec_diags_add(r->diags, &node->mark, "%s: '%s' is not %s", where,
                       s, what);
        return NULL;
    }
    return s;
}

/* A list of strings, each matching pattern when one is given. */
static char **expect_strings(Reader *r, const SpecNode *node,
                             const char *where, const char *pattern,
                             const char *what)
{
    GPtrArray *out = g_ptr_array_new();

    if (node->kind != SPEC_NODE_SEQ) {
        spec_diags_add(r->diags, &node->mark, "%s: expected a list of "
                       "strings", where);
    } else {
        for (guint i = 0; i < spec_node_seq_len(node); i++) {
            const SpecNode *item = spec_node_seq_get(node, i);
            g_autofree char *at = g_strdup_printf("%s[%u]", where, i);
            const char *s = pattern
                ? expect_matching(r, item, at, pattern, what)
                : expect_string(r, item, at);

            if (s) {
                g_ptr_array_add(out, g_strdup(s));
            }
        }
    }
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

static void read_user(Reader *r, Provision *p, const SpecNode *node)
{
    const SpecNode *v;

    if (!expect_map(r, node, "provision.user", user_fields)) {
        return;
    }
    if (!(v = spec_node_map_get(node, "name"))) {
        spec_diags_add(r->diags, &node->mark,
                       "provision.user: 'name' is required");
    } else {
        const char *name = expect_matching(r, v, "provision.user.name",
                                           USER_PATTERN, "a user name "
                                           "(lowercase letters, digits, "
                                           "'_' and '-', at most 32)");
        if (name && strcmp(name, "root") == 0) {
            spec_diags_add(r->diags, &v->mark, "provision.user.name: root "
                           "exists already; name another user");
        } else if (name) {
            p->user = g_strdup(name);
        }
    }
    if ((v = spec_node_map_get(node, "uid"))) {
        SpecScalarType t = v->kind == SPEC_NODE_SCALAR
            ? spec_scalar_type(v) : SPEC_SCALAR_NULL;
        gint64 uid = 0;

        if (t == SPEC_SCALAR_STRING && strcmp(v->scalar.text, "host") == 0) {
            p->uid = PROVISION_UID_HOST;
        } else if (t == SPEC_SCALAR_INT &&
                   g_ascii_string_to_signed(v->scalar.text, 10, UID_MIN,
                                            UID_MAX, &uid, NULL)) {
            p->uid = uid;
        } else {
            spec_diags_add(r->diags, &v->mark, "provision.user.uid: "
                           "expected host or a number from %d to %d",
                           UID_MIN, UID_MAX);
        }
    }
    if ((v = spec_node_map_get(node, "groups"))) {
        p->groups = expect_strings(r, v, "provision.user.groups",
                                   USER_PATTERN, "a group name");
    }
}

/* "0644", "644", or a plain 644 that YAML 1.2 reads as decimal: the
 * digits are what the user meant. */
static bool parse_mode(const char *text, guint *mode)
{
    guint64 v;

    if (!matches("^0?[0-7]{3,4}$", text) ||
        !g_ascii_string_to_unsigned(text, 8, 0, 07777, &v, NULL)) {
        return false;
    }
    *mode = (guint)v;
    return true;
}

static void read_file_entry(Reader *r, Provision *p, const SpecNode *node,
                            guint i)
{
    g_autofree char *where = g_strdup_printf("provision.files[%u]", i);
    g_autofree char *at = NULL;
    ProvisionFile *f;
    const SpecNode *v;
    const char *s;

    if (!expect_map(r, node, where, file_fields)) {
        return;
    }
    f = g_new0(ProvisionFile, 1);
    f->mode = 0644;
    g_ptr_array_add(p->files, f);
    if (!(v = spec_node_map_get(node, "path"))) {
        spec_diags_add(r->diags, &node->mark, "%s: 'path' is required",
                       where);
    } else {
        at = g_strconcat(where, ".path", NULL);
        s = expect_matching(r, v, at, "^/[^\n]*$", "an absolute path");
        f->path = g_strdup(s);
    }
    if (!(v = spec_node_map_get(node, "content"))) {
        spec_diags_add(r->diags, &node->mark, "%s: 'content' is required",
                       where);
    } else if (v->kind == SPEC_NODE_SCALAR) {
        /* Any scalar is its text: `content: 42` means the file "42". */
        f->content = g_strdup(v->scalar.text);
    } else {
        spec_diags_add(r->diags, &v->mark, "%s.content: expected a string",
                       where);
    }
    if ((v = spec_node_map_get(node, "mode"))) {
        if (v->kind != SPEC_NODE_SCALAR || !parse_mode(v->scalar.text,
                                                       &f->mode)) {
            spec_diags_add(r->diags, &v->mark, "%s.mode: expected octal "
                           "permissions such as \"0644\"", where);
        }
    }
    if ((v = spec_node_map_get(node, "owner"))) {
        g_free(at);
        at = g_strconcat(where, ".owner", NULL);
        s = expect_matching(r, v, at, "^[a-z_][a-z0-9_-]{0,31}"
                            "(:[a-z_][a-z0-9_-]{0,31})?$",
                            "USER or USER:GROUP");
        f->owner = g_strdup(s);
    }
}

static void read_env(Reader *r, Provision *p, const SpecNode *node)
{
    if (node->kind != SPEC_NODE_MAP) {
        spec_diags_add(r->diags, &node->mark, "provision.env: expected a "
                       "map of NAME: value");
        return;
    }
    for (guint i = 0; i < spec_node_map_size(node); i++) {
        const SpecPair *pair = spec_node_map_pair(node, i);
        const SpecNode *v = pair->value;
        ProvisionEnv *e;

        if (!matches(ENV_PATTERN, pair->key)) {
            spec_diags_add(r->diags, &pair->key_mark, "provision.env: '%s' "
                           "is not a variable name", pair->key);
            continue;
        }
        if (v->kind != SPEC_NODE_SCALAR || spec_node_is_null(v) ||
            strchr(v->scalar.text, '\n') || strchr(v->scalar.text, '"') ||
            strchr(v->scalar.text, '\\')) {
            spec_diags_add(r->diags, &v->mark, "provision.env.%s: expected "
                           "a one-line value without '\"' or '\\'",
                           pair->key);
            continue;
        }
        e = g_new0(ProvisionEnv, 1);
        e->key = g_strdup(pair->key);
        e->value = g_strdup(v->scalar.text);
        g_ptr_array_add(p->env, e);
    }
}

static void read_provision(Reader *r, Provision *p, const SpecNode *node)
{
    const SpecNode *v;

    if (!expect_map(r, node, "provision", provision_fields)) {
        return;
    }
    if ((v = spec_node_map_get(node, "user"))) {
        read_user(r, p, v);
    }
    if ((v = spec_node_map_get(node, "ssh_authorized_keys"))) {
        p->authorized_keys = expect_strings(r, v,
                                            "provision.ssh_authorized_keys",
                                            "^(ssh|ecdsa|sk)-[^\n]+$",
                                            "an OpenSSH public key line");
    }
    if ((v = spec_node_map_get(node, "packages"))) {
        p->packages = expect_strings(r, v, "provision.packages",
                                     PACKAGE_PATTERN, "a Debian package "
                                     "name");
    }
    if ((v = spec_node_map_get(node, "files"))) {
        if (v->kind != SPEC_NODE_SEQ) {
            spec_diags_add(r->diags, &v->mark, "provision.files: expected "
                           "a list of {path, content, mode}");
        } else {
            for (guint i = 0; i < spec_node_seq_len(v); i++) {
                read_file_entry(r, p, spec_node_seq_get(v, i), i);
            }
        }
    }
    if ((v = spec_node_map_get(node, "run"))) {
        p->run = expect_strings(r, v, "provision.run", NULL, NULL);
    }
    if ((v = spec_node_map_get(node, "run_always"))) {
        p->run_always = expect_strings(r, v, "provision.run_always", NULL,
                                       NULL);
    }
    if ((v = spec_node_map_get(node, "env"))) {
        read_env(r, p, v);
    }
}

static void read_cloud_init(Reader *r, Provision *p, const SpecNode *node)
{
    const SpecNode *v;
    const char *path;

    if (!expect_map(r, node, "cloud_init", cloud_init_fields)) {
        return;
    }
    if (!(v = spec_node_map_get(node, "user_data"))) {
        spec_diags_add(r->diags, &node->mark,
                       "cloud_init: 'user_data' is required");
        return;
    }
    if (!(path = expect_string(r, v, "cloud_init.user_data"))) {
        return;
    }
    p->user_data_path = spec_props_resolve_path(r->props, &v->mark, path);
    if (r->props->check_files &&
        access(p->user_data_path, R_OK) != 0) {
        spec_diags_add_code(r->diags, VMSPEC_ERROR_NOT_FOUND, &v->mark,
                            "cloud_init.user_data: cannot read %s: %s",
                            p->user_data_path, g_strerror(errno));
    }
}

Provision *spec_provision_parse(const SpecNode *root, SpecProps *props,
                                SpecDiags *diags)
{
    Reader r = { .props = props, .diags = diags,
                 .errors_at_start = spec_diags_count(diags) };
    const SpecPair *prov = spec_node_map_get_pair(root, "provision");
    const SpecPair *ci = spec_node_map_get_pair(root, "cloud_init");
    g_autoptr(Provision) p = NULL;

    if (!prov && !ci) {
        return NULL;
    }
    p = g_new0(Provision, 1);
    p->uid = PROVISION_UID_GUEST;
    p->files = g_ptr_array_new_with_free_func(file_free);
    p->env = g_ptr_array_new_with_free_func(env_free);
    if (prov && ci) {
        spec_diags_add(diags, &ci->key_mark, "cloud_init: your own "
                       "user-data replaces provision: (line %u); give one "
                       "of the two", prov->key_mark.line);
    }
    if (prov && !spec_node_is_null(prov->value)) {
        read_provision(&r, p, prov->value);
    }
    if (ci) {
        read_cloud_init(&r, p, ci->value);
    }
    if (p->uid != PROVISION_UID_GUEST && !p->user) {
        spec_diags_add(diags, &prov->key_mark, "provision.user: uid "
                       "without a name");
    }
    if (spec_diags_count(diags) != r.errors_at_start) {
        return NULL;
    }
    return g_steal_pointer(&p);
}

/* --- JSON Schema --------------------------------------------------------- */

static void schema_closed(JsonWriter *w)
{
    json_member_bool(w, "additionalProperties", false);
}

static void schema_strings(JsonWriter *w, const char *key,
                           const char *description, const char *pattern)
{
    json_key(w, key);
    json_begin_object(w);
    json_member_string(w, "description", description);
    json_member_string(w, "type", "array");
    json_key(w, "items");
    json_begin_object(w);
    json_member_string(w, "type", "string");
    if (pattern) {
        json_member_string(w, "pattern", pattern);
    }
    json_end_object(w);
    json_end_object(w);
}

static void schema_string(JsonWriter *w, const char *key,
                          const char *description, const char *pattern)
{
    json_key(w, key);
    json_begin_object(w);
    json_member_string(w, "description", description);
    json_member_string(w, "type", "string");
    if (pattern) {
        json_member_string(w, "pattern", pattern);
    }
    json_end_object(w);
}

static void schema_user(JsonWriter *w)
{
    json_key(w, "user");
    json_begin_object(w);
    json_member_string(w, "description", "The user made at first boot, "
                       "with passwordless sudo; vmspec ssh logs in as it");
    json_member_string(w, "type", "object");
    json_key(w, "properties");
    json_begin_object(w);
    schema_string(w, "name", "User name", USER_PATTERN);
    json_key(w, "uid");
    json_begin_object(w);
    json_member_string(w, "description", "host: the uid of the user "
                       "running vmspec (SUDO_UID under sudo), so files in "
                       "shares keep their owner; or a number");
    json_key(w, "anyOf");
    json_begin_array(w);
    json_begin_object(w);
    json_member_string(w, "const", "host");
    json_end_object(w);
    json_begin_object(w);
    json_member_string(w, "type", "integer");
    json_member_int(w, "minimum", UID_MIN);
    json_member_int(w, "maximum", UID_MAX);
    json_end_object(w);
    json_end_array(w);
    json_end_object(w);
    schema_strings(w, "groups", "Supplementary groups", USER_PATTERN);
    json_end_object(w);
    json_key(w, "required");
    json_begin_array(w);
    json_string(w, "name");
    json_end_array(w);
    schema_closed(w);
    json_end_object(w);
}

static void schema_files(JsonWriter *w)
{
    json_key(w, "files");
    json_begin_object(w);
    json_member_string(w, "description", "Files written at first boot");
    json_member_string(w, "type", "array");
    json_key(w, "items");
    json_begin_object(w);
    json_member_string(w, "type", "object");
    json_key(w, "properties");
    json_begin_object(w);
    schema_string(w, "path", "Absolute path in the guest", "^/");
    schema_string(w, "content", "The file's text", NULL);
    json_key(w, "mode");
    json_begin_object(w);
    json_member_string(w, "description", "Octal permissions, \"0644\" by "
                       "default");
    json_key(w, "type");
    json_begin_array(w);
    json_string(w, "string");
    json_string(w, "integer");
    json_end_array(w);
    json_end_object(w);
    schema_string(w, "owner", "USER or USER:GROUP (root by default)", NULL);
    json_end_object(w);
    json_key(w, "required");
    json_begin_array(w);
    json_string(w, "path");
    json_string(w, "content");
    json_end_array(w);
    schema_closed(w);
    json_end_object(w);
    json_end_object(w);
}

void spec_provision_schema(JsonWriter *w)
{
    json_key(w, "provision");
    json_begin_object(w);
    json_member_string(w, "description", "What the guest is made into at "
                       "its first boot, through cloud-init's NoCloud seed");
    json_member_string(w, "type", "object");
    json_key(w, "properties");
    json_begin_object(w);
    schema_user(w);
    schema_strings(w, "ssh_authorized_keys", "Public keys for the user; "
                   "empty: a key vmspec makes for this VM, which vmspec "
                   "ssh uses", NULL);
    schema_strings(w, "packages", "Debian packages installed at first "
                   "boot (needs a reachable mirror)", PACKAGE_PATTERN);
    schema_files(w);
    schema_strings(w, "run", "Shell commands run once, at first boot, as "
                   "root; the first that fails fails the provisioning",
                   NULL);
    schema_strings(w, "run_always", "Shell commands run at every boot, as "
                   "root", NULL);
    json_key(w, "env");
    json_begin_object(w);
    json_member_string(w, "description", "Environment of every login "
                       "(/etc/environment)");
    json_member_string(w, "type", "object");
    json_key(w, "additionalProperties");
    json_begin_object(w);
    json_key(w, "type");
    json_begin_array(w);
    json_string(w, "string");
    json_string(w, "number");
    json_string(w, "boolean");
    json_end_array(w);
    json_end_object(w);
    json_end_object(w);
    json_end_object(w);
    schema_closed(w);
    json_end_object(w);

    json_key(w, "cloud_init");
    json_begin_object(w);
    json_member_string(w, "description", "Your own cloud-init user-data "
                       "instead of provision:");
    json_member_string(w, "type", "object");
    json_key(w, "properties");
    json_begin_object(w);
    schema_string(w, "user_data", "The user-data file, relative to the "
                  "spec", NULL);
    json_end_object(w);
    json_key(w, "required");
    json_begin_array(w);
    json_string(w, "user_data");
    json_end_array(w);
    schema_closed(w);
    json_end_object(w);
}
