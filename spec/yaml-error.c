/*
 * libyaml's parse errors as messages (see yaml-error.h).
 */
#include "spec/yaml-error.h"

#include <stdbool.h>
#include <string.h>

/* True when the line holding ym starts with whitespace that has a tab. */
static bool tab_indented(SpecYamlText *text, const yaml_mark_t *ym)
{
    gsize len;
    const char *s = spec_yaml_text_line(text, ym->line, &len);

    for (gsize i = 0; s && i < len && (s[i] == ' ' || s[i] == '\t'); i++) {
        if (s[i] == '\t') {
            return true;
        }
    }
    return false;
}

/* The ASCII character at ym, or 0 (past the end, or not ASCII). */
static char char_at(SpecYamlText *text, const yaml_mark_t *ym)
{
    SpecTextPos pos = { ym->line, ym->column };
    gsize off = spec_yaml_text_offset(text, pos);

    if (off >= text->len || text->cursor_pos.column != ym->column) {
        return 0;
    }
    return (guchar)text->data[off] < 0x80 ? text->data[off] : 0;
}

/* The reader's errors: bytes that are not UTF-8 (or UTF-16) text, or are
 * control characters.  problem_offset is a byte offset in text. */
static char *describe_reader_error(const yaml_parser_t *y, SpecYamlText *text,
                                   SpecTextPos *pos)
{
    const char *problem = y->problem ? y->problem : "unknown error";
    gsize off = MIN(y->problem_offset, text->len);
    g_autofree char *value = y->problem_value != -1
        ? g_strdup_printf(" (0x%02x)", (unsigned)y->problem_value)
        : g_strdup("");

    /* A bad trailing octet: point at the character it breaks, at most 3
     * bytes back (RFC 3629: sequences are up to 4 bytes). */
    if (strstr(problem, "trailing")) {
        for (gsize k = 1; k <= 3 && k <= off; k++) {
            if (((guchar)text->data[off - k] & 0xc0) == 0xc0) {
                off -= k;
                break;
            }
        }
    }
    *pos = spec_yaml_text_position(text, off);
    if (strstr(problem, "UTF") || strstr(problem, "Unicode")) {
        return g_strdup_printf("not valid UTF-8 text: %s%s", problem, value);
    }
    return g_strdup_printf("%s%s", problem, value);
}

char *spec_yaml_error_describe(const yaml_parser_t *y, SpecYamlText *text,
                               SpecTextPos *pos)
{
    const char *problem = y->problem ? y->problem : "unknown error";
    const yaml_mark_t *at = &y->problem_mark;
    const char *hint = "";
    char c;

    switch (y->error) {
    case YAML_READER_ERROR:
        return describe_reader_error(y, text, pos);
    case YAML_SCANNER_ERROR:
    case YAML_PARSER_ERROR:
        break;
    default:
        *pos = (SpecTextPos){ y->mark.line, y->mark.column };
        return g_strdup_printf("YAML error: %s", problem);
    }
    *pos = (SpecTextPos){ at->line, at->column };
    c = char_at(text, at);
    if (tab_indented(text, at) || c == '\t') {
        hint = "; tabs can't be used for indentation in YAML, use spaces";
    } else if (c == '@' || c == '`') {
        hint = "; '@' and '`' can't start a plain value, quote it";
    }
    if (y->context && y->context_mark.line == at->line &&
        y->context_mark.column == at->column) {
        return g_strdup_printf("%s (%s)%s", problem, y->context, hint);
    }
    if (y->context) {
        return g_strdup_printf("%s (%s at %zu:%zu)%s", problem, y->context,
                               y->context_mark.line + 1,
                               y->context_mark.column + 1, hint);
    }
    return g_strdup_printf("%s%s", problem, hint);
}
