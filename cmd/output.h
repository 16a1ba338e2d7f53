/*
 * What vmspec writes for people: text that cannot drive the terminal it
 * lands on, and standard streams whose write errors are not lost.
 *
 * Specs, file names, --set values and a running VM's status replies are
 * user input, and the CLI echoes them (plan values, diagnostics, ps).  A
 * newline in them would forge lines of output; ESC, BEL and the C1
 * controls are terminal commands (ECMA-48: CSI, OSC, title changes).  So
 * every such text passes through cmd_escape_append() on its way out:
 *
 *   \n \t \r        as written here
 *   other C0, DEL   \xNN (ESC is \x1b)
 *   C1 U+0080..9F   \u00NN
 *   U+2028 U+2029   \uNNNN (line and paragraph separators, and the bidi
 *   U+202A..202E    embeddings, overrides and isolates, which reorder what
 *   U+2066..2069    a terminal shows: Unicode TR #9, "Trojan Source")
 *   invalid UTF-8   \xNN, one per byte that starts no valid sequence
 *
 * Printable UTF-8 (and backslash) stays as it is.  Main thread only.
 */
#ifndef VMSPEC_CMD_OUTPUT_H
#define VMSPEC_CMD_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

/* Appends text to out with the characters above escaped. */
void cmd_escape_append(GString *out, const char *text);
/* The same as a new string; caller g_free()s. */
char *cmd_escape(const char *text);

/*
 * Appends text as `plan` shows a string value: as it is when that reads
 * back unambiguously, else in double quotes with \" and \\ escaped as well
 * as the characters above.  Quoted are: the empty string (""), "~" (plan's
 * null), text with an escaped character, text starting with '"' or with
 * leading or trailing blanks, and text holding " #" (which would read as
 * plan's "  # sha256" comment).  A plain value never starts with '"', so
 * the output stays line-per-property and diffable.
 */
void cmd_quote_append(GString *out, const char *text);

/* Prints "vmspec: MESSAGE" (cmd NULL) or "vmspec CMD: MESSAGE" and a
 * newline to stderr, MESSAGE formatted from fmt and escaped as above (so
 * fmt holds one line). */
void cmd_error(const char *cmd, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Writes len bytes of data to stdout and flushes it; on a write error
 * prints "vmspec: writing standard output: REASON" and returns false (the
 * error is then reported: stdout's error flag is cleared for the check at
 * exit). */
bool cmd_write_stdout(const char *data, size_t len);

/*
 * Registers, once, at the start of main: at exit (main's return, or
 * exit() from GLib's --help) stdout is flushed and closed and a write error
 * on it ("vmspec: writing standard output: No space left on device"; the
 * reason is unknown when an earlier write failed and nothing was left to
 * flush), or a failed stderr, makes the exit status 1 - a shell's
 * `>/dev/full` or a full disk must not look like success (gnulib's
 * close_stdout does the same).  g_print() (GLib's --help) then writes
 * into stdout's buffer without flushing it.
 */
void cmd_check_std_streams_at_exit(void);

#endif
