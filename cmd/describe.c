/*
 * vmspec describe TYPE: a type's properties, inherited ones included.
 */
#include <inttypes.h>
#include <stdio.h>

#include "cmd/cmd.h"
#include "cmd/output.h"
#include "machine/qom/object.h"
#include "machine/qom/property.h"
#include "spec/schema.h"
#include "spec/suggest.h"

/* "int 1..255", "enum exit|restart", "size 16M..64T": the ranges that
 * `check` applies to objects of klass (and the schema says). */
static char *describe_kind(ObjectClass *klass, const Property *prop)
{
    switch (prop->kind) {
    case PROP_KIND_INT:
        return g_strdup_printf("int %" PRId64 "..%" PRId64, prop->min,
                               spec_property_max(klass, prop));
    case PROP_KIND_SIZE: {
        g_autofree char *lo = format_size(prop->size_min);
        g_autofree char *hi = format_size(prop->size_max);

        return g_strdup_printf("size %s..%s", lo, hi);
    }
    case PROP_KIND_ENUM: {
        g_autofree char *names = g_strjoinv("|", (char **)prop->enum_names);

        return g_strdup_printf("enum %s", names);
    }
    default:
        return g_strdup(property_kind_name(prop->kind));
    }
}

static void print_property(const Property *prop, ObjectClass *owner,
                           void *opaque)
{
    ObjectClass *klass = opaque;
    g_autofree char *kind = describe_kind(klass, prop);
    g_autofree char *def = property_default_str(prop);
    g_autofree char *name = prop->group
        ? g_strdup_printf("%s.%s", prop->group, prop->name)
        : g_strdup(prop->name);
    g_autofree char *inherited = owner != klass
        ? g_strdup_printf(" (from %s)", object_class_get_name(owner))
        : g_strdup("");

    printf("  %-14s %-22s %-10s %s%s\n", name, kind,
           prop->required ? "(required)" : def ? def : "-",
           prop->description, inherited);
}

static char **all_type_names(void)
{
    GSList *list = object_class_get_list(TYPE_OBJECT, true);
    GPtrArray *names = g_ptr_array_new();

    for (GSList *l = list; l; l = l->next) {
        g_ptr_array_add(names, g_strdup(object_class_get_name(l->data)));
    }
    g_slist_free(list);
    g_ptr_array_add(names, NULL);
    return (char **)g_ptr_array_free(names, FALSE);
}

int cmd_describe(int argc, char **argv)
{
    ObjectClass *klass, *parent;

    if (!cmd_parse_options("describe", "TYPE",
                           "Show a type's properties: name, kind, default "
                           "and description, inherited ones included.",
                           NULL, &argc, &argv)) {
        return EXIT_USAGE;
    }
    if (argc != 2) {
        fprintf(stderr, "vmspec describe: expected one TYPE\n"
                "Try 'vmspec types' for the list.\n");
        return EXIT_USAGE;
    }
    klass = object_class_by_name(argv[1]);
    if (!klass) {
        g_auto(GStrv) names = all_type_names();
        g_autofree char *hint =
            spec_suggest_hint(argv[1], (const char *const *)names, -1);

        cmd_error(NULL, "unknown type '%s'%s", argv[1], hint);
        fputs("Try 'vmspec types' for the list.\n", stderr);
        return EXIT_ERROR;
    }

    parent = object_class_get_parent(klass);
    printf("%s%s: %s\n", argv[1],
           object_class_is_abstract(klass) ? " (abstract)" : "",
           object_class_get_description(klass) ?
               object_class_get_description(klass) : "");
    if (parent) {
        printf("parent: %s\n", object_class_get_name(parent));
    }
    printf("\n  %-14s %-22s %-10s %s\n", "PROPERTY", "TYPE", "DEFAULT",
           "DESCRIPTION");
    object_class_foreach_property(klass, print_property, klass);
    return EXIT_OK;
}
