/*
 * The text libyaml reads, and YAML 1.2 positions in it (see yaml-text.h).
 */
#include "spec/yaml-text.h"

#include <stdbool.h>
#include <string.h>

/* The UTF-8 of the breaks YAML 1.1 has and YAML 1.2 doesn't, and of what
 * replaces each: a printable non-break, non-space character for both
 * (YAML 1.2, 5.1 and 5.5) of the same length, so byte offsets hold. */
static const struct {
    const char *utf8, *replacement, *name, *escape;
} odd_breaks[] = {
    { "\xc2\x85", "\xc2\xa0", "U+0085 (NEL)", "\\N" },
    { "\xe2\x80\xa8", "\xe2\x80\xa7", "U+2028 (LS)", "\\L" },
    { "\xe2\x80\xa9", "\xe2\x80\xa7", "U+2029 (PS)", "\\P" },
};

/* Moves *off past the character there and *pos with it: LF, CR LF and CR
 * end a line; anything else is one column (a UTF-8 sequence is one
 * character, and so is a broken one, which libyaml refuses anyway). */
static void step(const char *data, gsize len, gsize *off, SpecTextPos *pos)
{
    char c = data[*off];

    if (c == '\r' || c == '\n') {
        *off += c == '\r' && *off + 1 < len && data[*off + 1] == '\n' ? 2 : 1;
        pos->line++;
        pos->column = 0;
        return;
    }
    (*off)++;
    while (*off < len && ((guchar)data[*off] & 0xc0) == 0x80) {
        (*off)++;
    }
    pos->column++;
}

/* UTF-16 with a byte order mark (libyaml's only way of telling it) as
 * UTF-8 without one, or NULL when it doesn't convert whole: an odd length,
 * a lone surrogate, or a U+0000, at which GLib would stop. */
static char *utf16_to_utf8(const char *input, gsize len, gsize *out_len)
{
    bool big_endian = (guchar)input[0] == 0xfe;
    gsize n = (len - 2) / 2;
    g_autofree gunichar2 *units = NULL;
    glong read = 0, written = 0;
    char *utf8;

    if (len % 2) {
        return NULL;
    }
    units = g_new(gunichar2, n + 1);
    for (gsize i = 0; i < n; i++) {
        guchar b0 = (guchar)input[2 + 2 * i], b1 = (guchar)input[3 + 2 * i];

        units[i] = big_endian ? (gunichar2)(b0 << 8 | b1)
                              : (gunichar2)(b1 << 8 | b0);
    }
    utf8 = g_utf16_to_utf8(units, (glong)n, &read, &written, NULL);
    if (!utf8 || (gsize)read != n) {
        g_free(utf8);
        return NULL;
    }
    *out_len = (gsize)written;
    return utf8;
}

static bool has_utf16_bom(const char *input, gsize len)
{
    guchar b0 = len >= 2 ? (guchar)input[0] : 0;
    guchar b1 = len >= 2 ? (guchar)input[1] : 0;

    return (b0 == 0xfe && b1 == 0xff) || (b0 == 0xff && b1 == 0xfe);
}

/* The odd break that starts at data[off], or -1. */
static int odd_break_at(const char *data, gsize len, gsize off)
{
    if ((guchar)data[off] != 0xc2 && (guchar)data[off] != 0xe2) {
        return -1;              /* the lead bytes of all three */
    }
    for (gsize i = 0; i < G_N_ELEMENTS(odd_breaks); i++) {
        gsize n = strlen(odd_breaks[i].utf8);

        if (len - off >= n && memcmp(data + off, odd_breaks[i].utf8, n) == 0) {
            return (int)i;
        }
    }
    return -1;
}

void spec_yaml_text_init(SpecYamlText *text, const char *input, gsize len)
{
    *text = (SpecYamlText){ .data = input, .unreplaced = input, .len = len };
    if (has_utf16_bom(input, len)) {
        gsize utf8_len;
        char *utf8 = utf16_to_utf8(input, len, &utf8_len);

        if (!utf8) {
            return;             /* libyaml reports it */
        }
        text->owned_unreplaced = utf8;
        text->unreplaced = text->data = utf8;
        text->len = utf8_len;
    }
    if (text->len >= 3 && memcmp(text->data, "\xef\xbb\xbf", 3) == 0) {
        text->start = 3;
    }
    text->cursor = text->start;
    for (gsize off = text->start; off < text->len; off++) {
        int i = odd_break_at(text->unreplaced, text->len, off);

        if (i < 0) {
            continue;
        }
        if (!text->owned) {
            text->owned = g_memdup2(text->unreplaced, text->len);
            text->data = text->owned;
        }
        memcpy(text->owned + off, odd_breaks[i].replacement,
               strlen(odd_breaks[i].replacement));
        text->replaced++;
    }
}

void spec_yaml_text_clear(SpecYamlText *text)
{
    g_free(text->owned);
    g_free(text->owned_unreplaced);
    *text = (SpecYamlText){ 0 };
}

static bool pos_before(SpecTextPos a, SpecTextPos b)
{
    return a.line < b.line || (a.line == b.line && a.column < b.column);
}

/* Moves the cursor back to the start when it is past what is wanted. */
static void rewind_to(SpecYamlText *text, bool past)
{
    if (past) {
        text->cursor = text->start;
        text->cursor_pos = (SpecTextPos){ 0, 0 };
    }
}

SpecTextPos spec_yaml_text_position(SpecYamlText *text, gsize offset)
{
    offset = MAX(MIN(offset, text->len), text->start);
    rewind_to(text, text->cursor > offset);
    while (text->cursor < offset) {
        step(text->data, text->len, &text->cursor, &text->cursor_pos);
    }
    return text->cursor_pos;
}

gsize spec_yaml_text_offset(SpecYamlText *text, SpecTextPos want)
{
    gsize *off = &text->cursor;
    SpecTextPos *pos = &text->cursor_pos;

    rewind_to(text, pos_before(want, *pos));
    while (*off < text->len && pos->line < want.line) {
        step(text->data, text->len, off, pos);
    }
    while (*off < text->len && pos->line == want.line &&
           pos->column < want.column && text->data[*off] != '\n' &&
           text->data[*off] != '\r') {
        step(text->data, text->len, off, pos);
    }
    return pos->line < want.line ? text->len : *off;
}

const char *spec_yaml_text_line(SpecYamlText *text, gsize line, gsize *len)
{
    SpecTextPos start = { line, 0 };
    gsize off = spec_yaml_text_offset(text, start), end = off;

    if (text->cursor_pos.line != line) {
        return NULL;
    }
    while (end < text->len && text->data[end] != '\n' &&
           text->data[end] != '\r') {
        end++;
    }
    *len = end - off;
    return text->data + off;
}

bool spec_yaml_text_find_replaced(SpecYamlText *text, SpecTextPos start,
                                  SpecTextPos end, SpecReplacedBreak *found)
{
    gsize off;
    SpecTextPos pos;

    if (!text->replaced) {
        return false;
    }
    off = spec_yaml_text_offset(text, start);
    pos = text->cursor_pos;
    while (off < text->len && pos_before(pos, end)) {
        int i = odd_break_at(text->unreplaced, text->len, off);

        if (i >= 0) {
            *found = (SpecReplacedBreak){ pos, odd_breaks[i].name,
                                          odd_breaks[i].escape };
            return true;
        }
        step(text->data, text->len, &off, &pos);
    }
    return false;
}
