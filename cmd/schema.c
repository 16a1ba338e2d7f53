/*
 * vmspec schema: the JSON Schema of the spec format, for editors and CI.
 */
#include <stdio.h>

#include <string.h>

#include "cmd/cmd.h"
#include "cmd/output.h"
#include "spec/schema.h"

int cmd_schema(int argc, char **argv)
{
    g_autofree char *schema = NULL;

    if (!cmd_parse_options("schema", "",
                           "Print the JSON Schema (draft 2020-12) of the "
                           "spec format, generated from the registered "
                           "types.", NULL, &argc, &argv)) {
        return EXIT_USAGE;
    }
    if (argc > 1) {
        cmd_error("schema", "takes no arguments");
        return EXIT_USAGE;
    }
    schema = spec_schema_generate();
    return cmd_write_stdout(schema, strlen(schema)) ? EXIT_OK : EXIT_ERROR;
}
