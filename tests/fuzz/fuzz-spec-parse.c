/*
 * libFuzzer target for the spec YAML layer: the bytes are parsed as a spec
 * (spec_parse_buffer).  When they parse, the tree is also walked the ways
 * the rest of vmspec walks it: every comment line "#--set OPTION" is applied
 * as a --set override, the tree is copied, merged onto its copy (as extends
 * would), dumped, and its keys are fed to the did-you-mean helper.
 *
 * Build and run: `make fuzz`, `make fuzz-smoke` (see the Makefile).
 */
#include <stdint.h>
#include <string.h>
#include <glib.h>

#include "spec/diag.h"
#include "spec/merge.h"
#include "spec/node.h"
#include "spec/parse.h"
#include "spec/suggest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SET_PREFIX "#--set "
#define MAX_SETS 32

static void apply_sets(SpecNode *root, const char *text, gsize len,
                       SpecDiags *diags)
{
    const char *p = text, *end = text + len;
    int n = 0;

    while (p < end && n < MAX_SETS) {
        const char *nl = memchr(p, '\n', (gsize)(end - p));
        gsize line_len = nl ? (gsize)(nl - p) : (gsize)(end - p);

        if (line_len > strlen(SET_PREFIX) &&
            memcmp(p, SET_PREFIX, strlen(SET_PREFIX)) == 0) {
            g_autofree char *opt = g_strndup(p + strlen(SET_PREFIX),
                                             line_len - strlen(SET_PREFIX));

            spec_apply_set(root, opt, diags);
            n++;
        }
        p = nl ? nl + 1 : end;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) root = NULL;
    g_autofree char *errors = NULL;
    g_autofree char *dump = NULL;
    g_autofree char *hint = NULL;
    g_autoptr(GPtrArray) keys = g_ptr_array_new();
    SpecNode *copy;

    root = spec_parse_buffer("fuzz.yaml", (const char *)data, size, diags);
    errors = spec_diags_format(diags);
    if (!root) {
        /* A failed parse always says why. */
        g_assert(spec_diags_count(diags) > 0);
        return 0;
    }
    g_assert(root->kind == SPEC_NODE_MAP);
    apply_sets(root, (const char *)data, size, diags);

    copy = spec_node_copy(root);
    g_assert(spec_node_count(copy) == spec_node_count(root));
    root = spec_merge(copy, g_steal_pointer(&root));
    dump = spec_node_to_string(root, true);

    for (guint i = 0; i < spec_node_map_size(root); i++) {
        g_ptr_array_add(keys, spec_node_map_pair(root, i)->key);
    }
    if (keys->len) {
        hint = spec_suggest_hint(g_ptr_array_index(keys, 0),
                                 (const char *const *)keys->pdata,
                                 keys->len);
        (void)spec_node_lookup(root, g_ptr_array_index(keys, 0));
    }
    return 0;
}
