/*
 * Provision -> NoCloud seed files (see cloud-config.h).
 */
#include <string.h>
#include <yaml.h>

#include "machine/qom/error.h"
#include "spec/cloud-config.h"

#define USER_DATA_MAX (1u << 20)

/* The readiness reporter, run by python3 (a dependency of cloud-init, so
 * present wherever cloud-init is).  %u is the vsock port. */
static const char reporter_template[] =
    "import socket, subprocess, time\n"
    "r = subprocess.run(['cloud-init', 'status', '--wait', '--long'],\n"
    "                   capture_output=True, text=True)\n"
    "ok = r.returncode == 0 and 'status: done' in r.stdout\n"
    "for _ in range(120 if ok else 0):\n"
    "    try:\n"
    "        socket.create_connection(('127.0.0.1', 22), 1).close()\n"
    "        break\n"
    "    except OSError:\n"
    "        time.sleep(0.5)\n"
    "msg = '" CLOUD_CONFIG_READY "\\n' if ok else '" CLOUD_CONFIG_FAILED
    "\\n' + r.stdout\n"
    "if not ok:\n"
    "    try:\n"
    "        with open('/var/log/cloud-init-output.log', errors='replace') "
    "as f:\n"
    "            msg += ''.join(f.readlines()[-40:])\n"
    "    except OSError:\n"
    "        pass\n"
    "for _ in range(600):\n"
    "    try:\n"
    "        s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)\n"
    "        s.connect((2, %u))\n"
    "        s.sendall(msg.encode())\n"
    "        s.close()\n"
    "        break\n"
    "    except OSError:\n"
    "        time.sleep(1)\n";

typedef struct {
    yaml_emitter_t emitter;
    GString *out;
    bool failed;
} Emitter;

static int emit_write(void *data, unsigned char *buffer, size_t size)
{
    g_string_append_len(((Emitter *)data)->out, (const char *)buffer,
                        (gssize)size);
    return 1;
}

static void emit(Emitter *e, yaml_event_t *ev)
{
    if (e->failed || !yaml_emitter_emit(&e->emitter, ev)) {
        e->failed = true;
    }
}

static void emit_scalar_style(Emitter *e, const char *text,
                              yaml_scalar_style_t style)
{
    yaml_event_t ev;

    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text,
                                 (int)strlen(text), 1, 1, style);
    emit(e, &ev);
}

/* Whether YAML 1.1 (PyYAML's safe_load, which cloud-init reads with)
 * takes text written plain for the same string: words that start with a
 * letter, '/' or '_' and are none of 1.1's booleans and nulls.  Anything
 * else is quoted: 0644 would be an octal int, 52:54:00:12:34:56 a base 60
 * one, `yes` or `on` a boolean. */
static bool plain_is_string(const char *text)
{
    static const char *const words[] = {
        "y", "yes", "n", "no", "true", "false", "on", "off", "null", NULL,
    };
    g_autofree char *lower = g_ascii_strdown(text, -1);

    return g_regex_match_simple("^[A-Za-z/_][A-Za-z0-9/_.+=@,()-]*$", text,
                                G_REGEX_DEFAULT, G_REGEX_MATCH_DEFAULT) &&
        !g_strv_contains(words, lower);
}

/* Strings plain where that reads back as the same string, else quoted;
 * multi-line text as a literal block. */
static void emit_str(Emitter *e, const char *text)
{
    emit_scalar_style(e, text, strchr(text, '\n')
                      ? YAML_LITERAL_SCALAR_STYLE
                      : plain_is_string(text) ? YAML_PLAIN_SCALAR_STYLE
                                              : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

/* A value YAML must read as an integer or boolean, not a string. */
static void emit_plain(Emitter *e, const char *text)
{
    emit_scalar_style(e, text, YAML_PLAIN_SCALAR_STYLE);
}

static void emit_map(Emitter *e, bool begin)
{
    yaml_event_t ev;

    if (begin) {
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                            YAML_BLOCK_MAPPING_STYLE);
    } else {
        yaml_mapping_end_event_initialize(&ev);
    }
    emit(e, &ev);
}

static void emit_seq(Emitter *e, bool begin, bool flow)
{
    yaml_event_t ev;

    if (begin) {
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, flow
                                             ? YAML_FLOW_SEQUENCE_STYLE
                                             : YAML_BLOCK_SEQUENCE_STYLE);
    } else {
        yaml_sequence_end_event_initialize(&ev);
    }
    emit(e, &ev);
}

static void emit_kv(Emitter *e, const char *key, const char *value)
{
    emit_str(e, key);
    emit_str(e, value);
}

static void emit_strv(Emitter *e, const char *key, const char *const *v,
                      bool flow)
{
    emit_str(e, key);
    emit_seq(e, true, flow);
    for (; v && *v; v++) {
        emit_str(e, *v);
    }
    emit_seq(e, false, flow);
}

static void emitter_begin(Emitter *e, GString *out)
{
    yaml_event_t ev;

    memset(e, 0, sizeof(*e));
    e->out = out;
    yaml_emitter_initialize(&e->emitter);
    yaml_emitter_set_output(&e->emitter, emit_write, e);
    yaml_emitter_set_unicode(&e->emitter, 1);
    yaml_emitter_set_width(&e->emitter, 100);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    emit(e, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    emit(e, &ev);
}

/* Ends the document; the text, or NULL if libyaml refused an event (a
 * bug here: every input string is UTF-8 the parser checked). */
static char *emitter_end(Emitter *e)
{
    yaml_event_t ev;

    yaml_document_end_event_initialize(&ev, 1);
    emit(e, &ev);
    yaml_stream_end_event_initialize(&ev);
    emit(e, &ev);
    yaml_emitter_flush(&e->emitter);
    yaml_emitter_delete(&e->emitter);
    if (e->failed) {
        g_string_free(e->out, TRUE);
        return NULL;
    }
    return g_string_free(e->out, FALSE);
}

static gint64 user_uid(const Provision *p, const CloudConfigHost *h)
{
    if (p->uid == PROVISION_UID_HOST) {
        return h->host_uid > 0 ? h->host_uid : PROVISION_UID_GUEST;
    }
    return p->uid;
}

static void emit_reporter_cmd(Emitter *e, guint port)
{
    g_autofree char *script = g_strdup_printf(reporter_template, port);

    emit_seq(e, true, false);
    emit_str(e, "systemd-run");
    emit_str(e, "--no-block");
    emit_str(e, "--collect");
    emit_str(e, "--unit=vmspec-ready");
    emit_str(e, "python3");
    emit_str(e, "-c");
    emit_str(e, script);
    emit_seq(e, false, false);
}

static void emit_user(Emitter *e, const Provision *p,
                      const CloudConfigHost *h, gint64 uid)
{
    g_autofree char *uid_text = g_strdup_printf("%" G_GINT64_FORMAT, uid);
    g_autoptr(GPtrArray) keys = g_ptr_array_new();

    emit_str(e, "users");
    emit_seq(e, true, false);
    emit_map(e, true);
    emit_kv(e, "name", p->user);
    if (uid > 0) {
        emit_str(e, "uid");
        emit_plain(e, uid_text);
        emit_kv(e, "primary_group", p->user);
    }
    if (p->groups && *p->groups) {
        emit_strv(e, "groups", (const char *const *)p->groups, true);
    }
    emit_kv(e, "shell", "/bin/bash");
    emit_kv(e, "sudo", "ALL=(ALL) NOPASSWD:ALL");
    emit_str(e, "lock_passwd");
    emit_plain(e, "true");
    for (char **k = p->authorized_keys; k && *k; k++) {
        g_ptr_array_add(keys, *k);
    }
    if (keys->len == 0 && h->generated_key) {
        g_ptr_array_add(keys, (gpointer)h->generated_key);
    }
    g_ptr_array_add(keys, NULL);
    emit_strv(e, "ssh_authorized_keys", (const char *const *)keys->pdata,
              false);
    emit_map(e, false);
    emit_seq(e, false, false);
}

static void emit_file(Emitter *e, const char *path, const char *content,
                      guint mode, const char *owner, bool append)
{
    g_autofree char *perm = g_strdup_printf("%04o", mode);
    g_autofree char *own = owner && !strchr(owner, ':')
        ? g_strconcat(owner, ":", owner, NULL) : g_strdup(owner);

    emit_map(e, true);
    emit_kv(e, "path", path);
    emit_kv(e, "content", content);
    emit_kv(e, "permissions", perm);
    if (own) {
        emit_kv(e, "owner", own);
        emit_str(e, "defer");
        emit_plain(e, "true");
    }
    if (append) {
        emit_str(e, "append");
        emit_plain(e, "true");
    }
    emit_map(e, false);
}

/* "#!/bin/sh\nset -e\n" and one command per line. */
static char *shell_script(char **commands)
{
    GString *s = g_string_new("#!/bin/sh\nset -e\n");

    for (char **c = commands; c && *c; c++) {
        g_string_append_printf(s, "%s\n", *c);
    }
    return g_string_free(s, FALSE);
}

static void emit_files(Emitter *e, const Provision *p)
{
    bool any = p->files->len || p->env->len ||
        (p->run_always && *p->run_always);

    if (!any) {
        return;
    }
    emit_str(e, "write_files");
    emit_seq(e, true, false);
    for (guint i = 0; i < p->files->len; i++) {
        const ProvisionFile *f = p->files->pdata[i];

        emit_file(e, f->path, f->content, f->mode, f->owner, false);
    }
    if (p->env->len) {
        GString *env = g_string_new(NULL);

        for (guint i = 0; i < p->env->len; i++) {
            const ProvisionEnv *v = p->env->pdata[i];

            g_string_append_printf(env, "%s=\"%s\"\n", v->key, v->value);
        }
        emit_file(e, "/etc/environment", env->str, 0644, NULL, true);
        g_string_free(env, TRUE);
    }
    if (p->run_always && *p->run_always) {
        g_autofree char *script = shell_script(p->run_always);

        emit_file(e, "/var/lib/cloud/scripts/per-boot/50-vmspec-run-always",
                  script, 0755, NULL, false);
    }
    emit_seq(e, false, false);
}

static char *render_user_data(const Provision *p, const CloudConfigHost *h)
{
    GString *out = g_string_new("#cloud-config\n");
    gint64 uid = p->user ? user_uid(p, h) : PROVISION_UID_GUEST;
    Emitter e;

    emitter_begin(&e, out);
    emit_map(&e, true);
    emit_kv(&e, "hostname", h->vm_name);
    if (uid > 0 || h->ready_port) {
        emit_str(&e, "bootcmd");
        emit_seq(&e, true, false);
        if (uid > 0) {
            g_autofree char *cmd = g_strdup_printf(
                "getent group %s >/dev/null || groupadd -g %" G_GINT64_FORMAT
                " %s", p->user, h->host_gid > 0 && uid == h->host_uid
                ? h->host_gid : uid, p->user);

            emit_str(&e, cmd);
        }
        if (h->ready_port) {
            emit_reporter_cmd(&e, h->ready_port);
        }
        emit_seq(&e, false, false);
    }
    if (p->user) {
        emit_user(&e, p, h, uid);
    }
    emit_str(&e, "ssh_pwauth");
    emit_plain(&e, "false");
    if (p->packages && *p->packages) {
        emit_str(&e, "package_update");
        emit_plain(&e, "true");
        emit_strv(&e, "packages", (const char *const *)p->packages, false);
    }
    emit_files(&e, p);
    if (h->n_mounts) {
        emit_str(&e, "mounts");
        emit_seq(&e, true, false);
        for (guint i = 0; i < h->n_mounts; i++) {
            const char *entry[] = { h->mounts[i].tag, h->mounts[i].dir,
                                    "virtiofs", "defaults,nofail", "0", "0",
                                    NULL };

            emit_seq(&e, true, true);
            for (const char **w = entry; *w; w++) {
                emit_scalar_style(&e, *w, YAML_DOUBLE_QUOTED_SCALAR_STYLE);
            }
            emit_seq(&e, false, true);
        }
        emit_seq(&e, false, false);
    }
    if (p->run && *p->run) {
        g_autofree char *script = shell_script(p->run);

        emit_str(&e, "runcmd");
        emit_seq(&e, true, false);
        /* One item: runcmd's items become the lines of one sh script,
         * whose status is its last line's; set -e makes it the first
         * failure's. */
        emit_str(&e, strchr(script, '\n') + 1);
        emit_seq(&e, false, false);
    }
    emit_map(&e, false);
    return emitter_end(&e);
}

static char *render_vendor_data(guint ready_port)
{
    Emitter e;

    emitter_begin(&e, g_string_new("#cloud-config\n"));
    emit_map(&e, true);
    emit_str(&e, "bootcmd");
    emit_seq(&e, true, false);
    emit_reporter_cmd(&e, ready_port);
    emit_seq(&e, false, false);
    emit_map(&e, false);
    return emitter_end(&e);
}

static char *render_network_config(const char *const *macs)
{
    Emitter e;

    if (!macs || !*macs) {
        return NULL;
    }
    emitter_begin(&e, g_string_new(NULL));
    emit_map(&e, true);
    emit_str(&e, "version");
    emit_plain(&e, "2");
    emit_str(&e, "ethernets");
    emit_map(&e, true);
    for (guint i = 0; macs[i]; i++) {
        g_autofree char *id = g_strdup_printf("nic%u", i);

        emit_str(&e, id);
        emit_map(&e, true);
        emit_str(&e, "match");
        emit_map(&e, true);
        emit_kv(&e, "macaddress", macs[i]);
        emit_map(&e, false);
        emit_str(&e, "dhcp4");
        emit_plain(&e, "true");
        emit_map(&e, false);
    }
    emit_map(&e, false);
    emit_map(&e, false);
    return emitter_end(&e);
}

static char *read_user_data(const char *path, GError **errp)
{
    g_autofree char *text = NULL;
    gsize len;

    if (!g_file_get_contents(path, &text, &len, errp)) {
        return NULL;
    }
    if (len > USER_DATA_MAX || !g_utf8_validate(text, (gssize)len, NULL) ||
        strlen(text) != len) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "cloud_init.user_data: %s is not UTF-8 text of at most "
                    "1 MiB", path);
        return NULL;
    }
    return g_steal_pointer(&text);
}

void cloud_seed_free(CloudSeed *seed)
{
    if (!seed) {
        return;
    }
    g_free(seed->user_data);
    g_free(seed->vendor_data);
    g_free(seed->meta_data);
    g_free(seed->network_config);
    g_free(seed->instance_id);
    g_free(seed);
}

const char *cloud_seed_file(const CloudSeed *seed, const char *name)
{
    if (strcmp(name, "user-data") == 0) {
        return seed->user_data;
    }
    if (strcmp(name, "vendor-data") == 0) {
        return seed->vendor_data;
    }
    if (strcmp(name, "meta-data") == 0) {
        return seed->meta_data;
    }
    if (strcmp(name, "network-config") == 0) {
        return seed->network_config;
    }
    return NULL;
}

CloudSeed *cloud_config_render(const Provision *p, const CloudConfigHost *h,
                               GError **errp)
{
    g_autoptr(CloudSeed) seed = g_new0(CloudSeed, 1);
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    const char *parts[3];

    if (p->user_data_path) {
        if (!(seed->user_data = read_user_data(p->user_data_path, errp))) {
            return NULL;
        }
        if (h->ready_port) {
            seed->vendor_data = render_vendor_data(h->ready_port);
        }
    } else {
        seed->user_data = render_user_data(p, h);
    }
    seed->network_config = render_network_config(h->dhcp_macs);
    if (!seed->user_data || (h->ready_port && p->user_data_path &&
                             !seed->vendor_data)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "cannot write the cloud-init user-data (libyaml's "
                    "emitter refused it)");
        return NULL;
    }
    parts[0] = seed->user_data;
    parts[1] = seed->vendor_data ? seed->vendor_data : "";
    parts[2] = seed->network_config ? seed->network_config : "";
    for (guint i = 0; i < G_N_ELEMENTS(parts); i++) {
        g_checksum_update(sum, (const guchar *)parts[i],
                          (gssize)strlen(parts[i]) + 1);
    }
    g_checksum_update(sum, (const guchar *)h->vm_name, -1);
    seed->instance_id = g_strdup_printf("vmspec-%s-%.16s", h->vm_name,
                                        g_checksum_get_string(sum));
    seed->meta_data = g_strdup_printf("instance-id: %s\nlocal-hostname: "
                                      "%s\n", seed->instance_id,
                                      h->vm_name);
    return g_steal_pointer(&seed);
}
