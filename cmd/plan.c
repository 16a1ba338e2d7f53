/*
 * vmspec plan SPEC: the resolved object tree, every property shown with
 * defaults and derived values filled in.  The output depends only on the
 * spec (and the files it names), so it can be diffed and checked in.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/output.h"
#include "machine/qom/machine.h"
#include "machine/qom/property.h"
#include "machine/qom/vm.h"
#include "spec/json.h"
#include "spec/loader.h"
#include "spec/provision-seed.h"

typedef struct {
    Object *obj;
    GString *out;
    JsonWriter *json;
} PlanPrinter;

static void print_text_property(const Property *prop, ObjectClass *owner,
                                void *opaque)
{
    PlanPrinter *p = opaque;
    g_autofree char *value = object_property_get_str(p->obj, prop->name);
    const FilePath *fp = prop->kind == PROP_KIND_PATH
        ? object_property_field(p->obj, prop) : NULL;

    g_string_append_printf(p->out, "  %s%s%s: ", prop->group ? prop->group
                                                             : "",
                           prop->group ? "." : "", prop->name);
    if (prop->kind == PROP_KIND_STRV) {
        /* ["a", "b"]: items as JSON strings (object_property_get_str),
         * on one line, with what could drive a terminal escaped too. */
        cmd_escape_append(p->out, value);
    } else if (value) {
        cmd_quote_append(p->out, value);
    } else {
        g_string_append_c(p->out, '~');
    }
    if (fp && fp->sha256) {
        g_string_append_printf(p->out, "  # sha256 %s", fp->sha256);
    }
    g_string_append_c(p->out, '\n');
}

static void print_json_property(const Property *prop, ObjectClass *owner,
                                void *opaque)
{
    PlanPrinter *p = opaque;
    void *field = object_property_field(p->obj, prop);
    g_autofree char *key = prop->group
        ? g_strdup_printf("%s.%s", prop->group, prop->name)
        : g_strdup(prop->name);
    g_autofree char *value = object_property_get_str(p->obj, prop->name);

    json_key(p->json, key);
    switch (prop->kind) {
    case PROP_KIND_INT:
        json_int(p->json, *(int64_t *)field);
        break;
    case PROP_KIND_BOOL:
        json_bool(p->json, *(bool *)field);
        break;
    case PROP_KIND_SIZE:
        json_uint(p->json, *(uint64_t *)field);
        break;
    case PROP_KIND_PATH: {
        const FilePath *fp = field;

        if (!fp->path) {
            json_null(p->json);
        } else if (fp->sha256) {
            json_begin_object(p->json);
            json_member_string(p->json, "path", fp->path);
            json_member_string(p->json, "sha256", fp->sha256);
            json_end_object(p->json);
        } else {
            json_string(p->json, fp->path);
        }
        break;
    }
    case PROP_KIND_STRV: {
        const char *const *items = object_property_get_strv(p->obj,
                                                            prop->name);

        json_begin_array(p->json);
        for (guint i = 0; items[i]; i++) {
            json_string(p->json, items[i]);
        }
        json_end_array(p->json);
        break;
    }
    default:
        if (value) {
            json_string(p->json, value);
        } else {
            json_null(p->json);
        }
    }
}

/* What the resource assignment pass gave a device: what realize wires. */
static const DeviceResources *assigned_resources(Object *obj)
{
    DeviceState *dev = (DeviceState *)object_dynamic_cast(obj, TYPE_DEVICE);

    return dev && dev->res.assigned ? &dev->res : NULL;
}

/* The device's backend process or socket (DeviceClass.describe_backend),
 * or NULL. */
static char *backend_of(Object *obj)
{
    DeviceState *dev = (DeviceState *)object_dynamic_cast(obj, TYPE_DEVICE);

    return dev && DEVICE_GET_CLASS(dev)->describe_backend
        ? DEVICE_GET_CLASS(dev)->describe_backend(dev) : NULL;
}

static const char *const seed_file_names[] = {
    "meta-data", "user-data", "vendor-data", "network-config",
};

/* The seed's files, as `vmspec run` would write them now. */
static CloudSeed *seed_of(Object *obj, ProvisionSeed **ps, GError **errp)
{
    Object *vm = obj->parent;

    if (!object_dynamic_cast(obj, TYPE_PROVISION_SEED) || !vm) {
        return NULL;
    }
    *ps = provision_seed_of(VM(vm));
    return provision_seed_render(*ps, VM(vm), errp);
}

static void print_text_seed(Object *obj, GString *out)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(CloudSeed) seed = NULL;
    ProvisionSeed *ps = NULL;

    if (!(seed = seed_of(obj, &ps, &err))) {
        if (err) {
            g_string_append_printf(out, "  # the seed: %s\n", err->message);
        }
        return;
    }
    g_string_append(out, "  seed: ");
    cmd_escape_append(out, provision_seed_image(ps));
    g_string_append(out, " (disk " PROVISION_SEED_DISK ", written by each "
                    "run)\n");
    if (provision_seed_identity(ps)) {
        g_string_append(out, "  ssh key: ");
        cmd_escape_append(out, provision_seed_identity(ps));
        g_string_append_c(out, '\n');
    }
    for (guint i = 0; i < G_N_ELEMENTS(seed_file_names); i++) {
        const char *name = seed_file_names[i];
        const char *text = cloud_seed_file(seed, name);
        g_auto(GStrv) lines = NULL;

        if (!text) {
            continue;
        }
        g_string_append_printf(out, "  %s: |\n", name);
        lines = g_strsplit(text, "\n", -1);
        for (guint l = 0; lines[l]; l++) {
            if (!lines[l][0] && !lines[l + 1]) {
                break;
            }
            g_string_append(out, "    ");
            cmd_escape_append(out, lines[l]);
            g_string_append_c(out, '\n');
        }
    }
}

static bool print_text_object(Object *obj, void *opaque)
{
    GString *out = opaque;
    g_autofree char *path = object_get_canonical_path(obj);
    g_autofree char *backend = backend_of(obj);
    const DeviceResources *res = assigned_resources(obj);
    PlanPrinter p = { obj, out, NULL };

    /* Object names come from spec ids: escaped like every echo of input. */
    cmd_escape_append(out, path);
    g_string_append_printf(out, " (%s)\n", object_get_typename(obj));
    object_class_foreach_property(obj->klass, print_text_property, &p);
    if (res) {
        g_autofree char *text = device_resources_describe(res);

        if (*text) {
            g_string_append_printf(out, "  # %s\n", text);
        }
    }
    if (backend) {
        g_string_append(out, "  # backend: ");
        cmd_escape_append(out, backend);
        g_string_append_c(out, '\n');
    }
    print_text_seed(obj, out);
    return object_child_foreach(obj, print_text_object, out);
}

static void print_json_resources(JsonWriter *w, const DeviceResources *res)
{
    json_key(w, "resources");
    json_begin_object(w);
    if (res->mmio_size) {
        json_key(w, "mmio_base");
        json_uint(w, res->mmio_base);
        json_key(w, "mmio_size");
        json_uint(w, res->mmio_size);
    }
    if (res->pio_count) {
        json_key(w, "pio_base");
        json_uint(w, res->pio_base);
        json_key(w, "pio_count");
        json_uint(w, res->pio_count);
    }
    if (res->irq >= 0) {
        json_key(w, "irq");
        json_int(w, res->irq);
    }
    if (res->slot >= 0) {
        json_key(w, "slot");
        json_int(w, res->slot);
    }
    json_end_object(w);
}

static void print_json_seed(Object *obj, JsonWriter *w)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(CloudSeed) seed = NULL;
    ProvisionSeed *ps = NULL;

    if (!(seed = seed_of(obj, &ps, &err))) {
        if (err) {
            json_member_string(w, "seed_error", err->message);
        }
        return;
    }
    json_key(w, "seed");
    json_begin_object(w);
    json_member_string(w, "image", provision_seed_image(ps));
    for (guint i = 0; i < G_N_ELEMENTS(seed_file_names); i++) {
        const char *text = cloud_seed_file(seed, seed_file_names[i]);

        if (text) {
            json_member_string(w, seed_file_names[i], text);
        }
    }
    json_end_object(w);
}

static bool print_json_object(Object *obj, void *opaque)
{
    JsonWriter *w = opaque;
    g_autofree char *path = object_get_canonical_path(obj);
    g_autofree char *backend = backend_of(obj);
    const DeviceResources *res = assigned_resources(obj);
    PlanPrinter p = { obj, NULL, w };

    json_begin_object(w);
    json_member_string(w, "path", path);
    json_member_string(w, "type", object_get_typename(obj));
    json_key(w, "properties");
    json_begin_object(w);
    object_class_foreach_property(obj->klass, print_json_property, &p);
    json_end_object(w);
    if (res) {
        print_json_resources(w, res);
    }
    if (backend) {
        json_member_string(w, "backend", backend);
    }
    print_json_seed(obj, w);
    json_key(w, "children");
    json_begin_array(w);
    object_child_foreach(obj, print_json_object, w);
    json_end_array(w);
    json_end_object(w);
    return true;
}

/* Writes len bytes of data to fd; false with errno set on error. */
static bool write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return false;
        }
        data += n;
        len -= (size_t)n;
    }
    return true;
}

/*
 * Writes data into the file at path the way a shell's `>` does: opened for
 * writing, created if missing, truncated, symlinks followed.  So a device
 * (/dev/null) is written to, /dev/stdout reaches whatever stdout is, and a
 * symlink or a file others hold open keeps its identity - not replaced by
 * a new file renamed over it (g_file_set_contents), which as root turned
 * --dtb /dev/null into a regular file.
 */
static bool write_file(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    bool ok;

    if (fd < 0) {
        return false;
    }
    ok = write_all(fd, data, len);
    if (!ok) {
        int saved = errno;

        close(fd);
        errno = saved;
        return false;
    }
    /* close(2) reports what a network file system could not write. */
    return close(fd) == 0;
}

/* plan --dtb: the tree the machine would give its guest (arm64 virt). */
static int write_dtb(Vm *vm, const char *path)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) dtb = machine_build_dtb(vm_get_machine(vm), &err);
    gsize len;
    const char *data;

    if (!dtb) {
        cmd_error("plan", "%s", err->message);
        return EXIT_ERROR;
    }
    data = g_bytes_get_data(dtb, &len);
    if (strcmp(path, "-") == 0) {
        return cmd_write_stdout(data, len) ? EXIT_OK : EXIT_ERROR;
    }
    if (!write_file(path, data, len)) {
        cmd_error("plan", "writing the device tree to %s: %s", path,
                  g_strerror(errno));
        return EXIT_ERROR;
    }
    return EXIT_OK;
}

int cmd_plan(int argc, char **argv)
{
    g_auto(GStrv) sets = NULL;
    g_autofree char *format = NULL;
    g_autofree char *dtb_path = NULL;
    GOptionEntry entries[] = {
        CMD_OPTION_SET(sets),
        CMD_OPTION_FORMAT(format, "Output format: text (default) or json"),
        { "dtb", 0, 0, G_OPTION_ARG_FILENAME, &dtb_path,
          "Write the machine's device tree blob to FILE (- for stdout) "
          "instead of the plan", "FILE" },
        G_OPTION_ENTRY_NULL,
    };
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(Object) vm = NULL;
    bool json;

    if (!cmd_parse_options("plan", "SPEC",
                           "Print the resolved object tree of a spec, with "
                           "defaults and derived values.",
                           entries, &argc, &argv) ||
        !cmd_parse_format("plan", format, &json)) {
        return EXIT_USAGE;
    }
    if (argc != 2) {
        cmd_error("plan", "expected one SPEC");
        return EXIT_USAGE;
    }
    vm = cmd_load_spec(argv[1], sets);
    if (!vm) {
        return EXIT_ERROR;
    }
    if (dtb_path) {
        return write_dtb(VM(vm), dtb_path);
    }
    if (json) {
        JsonWriter w;

        json_writer_init(&w, out, true);
        print_json_object(vm, &w);
        g_string_append_c(out, '\n');
    } else {
        print_text_object(vm, out);
    }
    return cmd_write_stdout(out->str, out->len) ? EXIT_OK : EXIT_ERROR;
}
