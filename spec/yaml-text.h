/*
 * The text of a spec as libyaml is given it, and positions in that text
 * counted the YAML 1.2 way.
 *
 * libyaml follows YAML 1.1, where U+0085 (NEL), U+2028 (LS) and U+2029 (PS)
 * are line breaks.  YAML 1.2 (section 5.4) breaks lines only at LF, CR LF
 * and CR, and reads the other three as ordinary characters: a NEL in a
 * comment is part of the comment, and every line:col after it is where a
 * YAML 1.2 editor shows it.  So libyaml is given a copy in which each of
 * the three is replaced by a character of the same UTF-8 length that is
 * printable and neither a break nor white space for it (U+00A0 for NEL,
 * U+2027 for LS and PS); its marks then count lines and columns as YAML
 * 1.2 does.  The parser refuses one inside a value (the copy would change
 * the value, and YAML 1.1 tools read it as a line break anyway), and finds
 * them in the unchanged text.
 *
 * UTF-16 input (libyaml tells it by its byte order mark) is converted to
 * UTF-8 first, so that positions are counted in one encoding; input that
 * doesn't convert is handed to libyaml as it is, to report.
 *
 * Positions are 0-based, as in libyaml's marks; columns count characters,
 * and a UTF-8 byte order mark at the start is not one.
 */
#ifndef VMSPEC_SPEC_YAML_TEXT_H
#define VMSPEC_SPEC_YAML_TEXT_H

#include <glib.h>
#include <stdbool.h>

typedef struct SpecTextPos {
    gsize line;
    gsize column;
} SpecTextPos;

/* A NEL, LS or PS of the input, replaced in the text libyaml reads. */
typedef struct SpecReplacedBreak {
    SpecTextPos pos;
    const char *name;   /* "U+0085 (NEL)", "U+2028 (LS)", "U+2029 (PS)" */
    const char *escape; /* its double-quoted escape: \N, \L, \P */
} SpecReplacedBreak;

typedef struct SpecYamlText {
    const char *data;   /* what libyaml reads: the input, or owned */
    gsize len;
    gsize start;        /* bytes of a UTF-8 byte order mark, 0 or 3 */
    const char *unreplaced;     /* data before the replacing */
    gsize replaced;             /* how many were replaced */
    char *owned;                /* data, when it had to differ from input */
    char *owned_unreplaced;     /* unreplaced, when converted from UTF-16 */
    /* Where the last look-up ended: the parser asks in text order, so
     * every look-up walks on from here, and all of a parse's together walk
     * the text about once (a look-up backwards starts over). */
    gsize cursor;
    SpecTextPos cursor_pos;
} SpecYamlText;

/* Fills *text for len bytes of input (kept borrowed when nothing needs to
 * change, so it must outlive *text).  Free with spec_yaml_text_clear(). */
void spec_yaml_text_init(SpecYamlText *text, const char *input, gsize len);
void spec_yaml_text_clear(SpecYamlText *text);

/* The position of the character at byte offset (at most len) of data.
 * Look-ups move the cursor: fast in text order, O(offset) backwards. */
SpecTextPos spec_yaml_text_position(SpecYamlText *text, gsize offset);

/* The byte offset of pos in data; a column past its line's end gives the
 * offset of that line's break, a line past the end len. */
gsize spec_yaml_text_offset(SpecYamlText *text, SpecTextPos pos);

/* Line `line` of data up to its break (*len bytes, not NUL-terminated);
 * NULL when the text has fewer lines. */
const char *spec_yaml_text_line(SpecYamlText *text, gsize line, gsize *len);

/* Finds the first replaced break at or after start and before end: false
 * when there is none.  Leaves the cursor at start. */
bool spec_yaml_text_find_replaced(SpecYamlText *text, SpecTextPos start,
                                  SpecTextPos end, SpecReplacedBreak *found);

#endif
