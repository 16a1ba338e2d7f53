/*
 * Escaped text and checked standard streams (cmd/output.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/output.h"

/* Room for the longest escape, "\u2028", and its NUL. */
#define ESCAPE_MAX 8

/* Line and paragraph separators, bidi embeddings, overrides and isolates
 * (Unicode TR #9, 2.1-2.4): each changes the layout of what follows. */
static bool is_layout_control(gunichar c)
{
    return (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/*
 * The character at p (before end): returns how many bytes it takes and
 * writes into esc how it is shown, or "" when it shows as it is.  A byte
 * that starts no valid UTF-8 sequence (stray continuation bytes, overlong
 * forms, surrogates, a sequence cut short) is one character of its own.
 */
static size_t next_char(const char *p, const char *end, char esc[ESCAPE_MAX])
{
    unsigned char byte = (unsigned char)*p;
    gunichar c;

    esc[0] = '\0';
    if (byte < 0x80) {
        switch (byte) {
        case '\n': strcpy(esc, "\\n"); break;
        case '\t': strcpy(esc, "\\t"); break;
        case '\r': strcpy(esc, "\\r"); break;
        default:
            if (byte < 0x20 || byte == 0x7f) {
                g_snprintf(esc, ESCAPE_MAX, "\\x%02x", byte);
            }
        }
        return 1;
    }
    c = g_utf8_get_char_validated(p, end - p);
    if (c == (gunichar)-1 || c == (gunichar)-2) {
        g_snprintf(esc, ESCAPE_MAX, "\\x%02x", byte);
        return 1;
    }
    if (c <= 0x9f || is_layout_control(c)) {
        g_snprintf(esc, ESCAPE_MAX, "\\u%04x", c);
    }
    return g_utf8_next_char(p) - p;
}

/* Appends text escaped; with quoted, '"' and '\\' are escaped too.
 * Returns whether anything was escaped but those two. */
static bool append_escaped(GString *out, const char *text, bool quoted)
{
    const char *end = text + strlen(text);
    bool escaped = false;

    for (const char *p = text; p < end;) {
        char esc[ESCAPE_MAX];
        size_t len = next_char(p, end, esc);

        if (*esc) {
            g_string_append(out, esc);
            escaped = true;
        } else if (quoted && (*p == '"' || *p == '\\')) {
            g_string_append_c(out, '\\');
            g_string_append_c(out, *p);
        } else {
            g_string_append_len(out, p, (gssize)len);
        }
        p += len;
    }
    return escaped;
}

void cmd_escape_append(GString *out, const char *text)
{
    append_escaped(out, text, false);
}

char *cmd_escape(const char *text)
{
    GString *out = g_string_sized_new(strlen(text));

    cmd_escape_append(out, text);
    return g_string_free(out, FALSE);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

void cmd_quote_append(GString *out, const char *text)
{
    size_t len = strlen(text);
    gsize start = out->len;

    if (len > 0 && text[0] != '"' && strcmp(text, "~") != 0 &&
        !is_blank(text[0]) && !is_blank(text[len - 1]) &&
        !strstr(text, " #") && !append_escaped(out, text, false)) {
        return;
    }
    g_string_truncate(out, start);
    g_string_append_c(out, '"');
    append_escaped(out, text, true);
    g_string_append_c(out, '"');
}

void cmd_error(const char *cmd, const char *fmt, ...)
{
    g_autofree char *message = NULL;
    g_autoptr(GString) line = g_string_new("vmspec");
    va_list ap;

    va_start(ap, fmt);
    message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (cmd) {
        g_string_append_printf(line, " %s", cmd);
    }
    g_string_append(line, ": ");
    cmd_escape_append(line, message);
    g_string_append_c(line, '\n');
    fputs(line->str, stderr);
}

bool cmd_write_stdout(const char *data, size_t len)
{
    if (fwrite(data, 1, len, stdout) == len && fflush(stdout) == 0) {
        return true;
    }
    cmd_error(NULL, "writing standard output: %s", g_strerror(errno));
    clearerr(stdout);
    return false;
}

/*
 * Closes stream; returns 0, or the errno of its write error (-1 when that
 * is no longer known: an earlier write failed and set the error flag).
 * Like gnulib's close_stream, a stream with nothing to write whose file
 * descriptor was closed (`vmspec types >&-` before it printed anything)
 * did not fail.
 */
static int close_stream(FILE *stream)
{
    bool pending = __fpending(stream) != 0;
    bool failed_before = ferror(stream) != 0;
    int close_errno = fclose(stream) == 0 ? 0 : errno;

    if (failed_before) {
        return close_errno ? close_errno : -1;
    }
    if (close_errno && (pending || close_errno != EBADF)) {
        return close_errno;
    }
    return 0;
}

static void check_std_streams(void)
{
    int err = close_stream(stdout);

    if (err > 0) {
        cmd_error(NULL, "writing standard output: %s", g_strerror(err));
    } else if (err) {
        cmd_error(NULL, "writing standard output failed");
    }
    /* Nowhere is left to say that stderr failed: the status says it. */
    if (close_stream(stderr) != 0 || err) {
        _exit(EXIT_ERROR);
    }
}

/* GLib's own g_print flushes stdout after each call, so a failed write
 * of its --help text would leave nothing to flush at exit and its reason
 * lost; through stdout's buffer, the check at exit sees it. */
static void print_buffered(const char *text)
{
    fputs(text, stdout);
}

void cmd_check_std_streams_at_exit(void)
{
    g_set_print_handler(print_buffered);
    if (atexit(check_std_streams) != 0) {
        /* Only with no memory left for the registration: say so now. */
        cmd_error(NULL, "cannot check standard output at exit");
    }
}
