/*
 * The error libyaml's parser stopped on, as a message for a placed
 * diagnostic: its problem and context, with a hint where the text shows a
 * common cause (a tab in the indentation, a plain value starting with '@'
 * or '`'), and bytes that are not text named as such.
 */
#ifndef VMSPEC_SPEC_YAML_ERROR_H
#define VMSPEC_SPEC_YAML_ERROR_H

#include <glib.h>
#include <yaml.h>

#include "spec/yaml-text.h"

/* The message for yaml's error (yaml_parser_parse() has failed on text);
 * *pos is set to where it is.  Caller frees. */
char *spec_yaml_error_describe(const yaml_parser_t *yaml, SpecYamlText *text,
                               SpecTextPos *pos);

#endif
