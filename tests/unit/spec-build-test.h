/*
 * Building a spec from text, for the loader's tests: no files are read,
 * so the spec's file name only places the diagnostics.  Each test file
 * defines SPEC_BUILD_FILE (the name the text goes by) before including.
 */
#ifndef VMSPEC_TESTS_SPEC_BUILD_TEST_H
#define VMSPEC_TESTS_SPEC_BUILD_TEST_H

#include <glib.h>
#include <string.h>

#include "spec/loader.h"
#include "spec/merge.h"

/* Builds text as the spec SPEC_BUILD_FILE; returns the vm or NULL, and the
 * formatted diagnostics in *errors. */
static inline Vm *build(const char *text, char **errors)
{
    g_autoptr(SpecDiags) diags = spec_diags_new();
    g_autoptr(SpecNode) root = spec_load_buffer(SPEC_BUILD_FILE, text,
                                                strlen(text), diags);
    Vm *vm = root ? spec_build_vm(root, NULL, diags) : NULL;

    *errors = spec_diags_format(diags);
    return vm;
}

/* text does not build, and its diagnostics are exactly expected. */
static inline void assert_error(const char *text, const char *expected)
{
    g_autofree char *errors = NULL;
    Vm *vm = build(text, &errors);

    g_assert_null(vm);
    g_assert_cmpstr(errors, ==, expected);
}

#endif
