/*
 * vmspec types: the type registry as a tree.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/output.h"
#include "machine/qom/object.h"

static void print_type(const char *name, const char *prefix, bool last,
                       bool root)
{
    ObjectClass *klass = object_class_by_name(name);
    g_autoptr(GPtrArray) children = type_get_children(name);
    g_autofree char *label = g_strdup_printf(
        "%s%s", name, object_class_is_abstract(klass) ? " (abstract)" : "");
    g_autofree char *child_prefix = g_strdup_printf(
        "%s%s", prefix, root ? "" : last ? "    " : "|   ");
    int width = 36 - (int)strlen(prefix) - (root ? 0 : 4);

    printf("%s%s%-*s %s\n", prefix, root ? "" : last ? "`-- " : "|-- ",
           width > 0 ? width : 0, label,
           object_class_get_description(klass) ?
               object_class_get_description(klass) : "");
    for (guint i = 0; i < children->len; i++) {
        print_type(children->pdata[i], child_prefix, i + 1 == children->len,
                   false);
    }
}

int cmd_types(int argc, char **argv)
{
    if (!cmd_parse_options("types", "",
                           "List the registered types as a tree; abstract "
                           "types cannot be used in a spec.",
                           NULL, &argc, &argv)) {
        return EXIT_USAGE;
    }
    if (argc > 1) {
        cmd_error("types", "takes no arguments");
        return EXIT_USAGE;
    }
    print_type(TYPE_OBJECT, "", true, true);
    return EXIT_OK;
}
