/*
 * Did-you-mean: the closest of a list of names to a misspelt one, for
 * messages about unknown keys, types and commands.  Pure functions; any
 * thread.
 */
#ifndef VMSPEC_SPEC_SUGGEST_H
#define VMSPEC_SPEC_SUGGEST_H

#include <glib.h>

/*
 * The candidate closest to word by optimal-string-alignment distance
 * (Levenshtein plus adjacent transpositions; case-insensitive), or NULL when
 * none is close enough: the distance must be at most 1 for words of up to 3
 * characters, 2 up to 6, 3 beyond, and less than the word's length.  Ties go
 * to the earlier candidate; an exact match is never suggested (word is not a
 * typo of itself).  candidates holds n strings, or is NULL-terminated when n
 * is -1.  Returns one of the candidates (not a copy).
 */
const char *spec_suggest(const char *word, const char *const *candidates,
                         gssize n);

/* "a, b, c": the candidates in the order given, joined by ", ".  n as for
 * spec_suggest().  Caller g_free()s. */
char *spec_suggest_list(const char *const *candidates, gssize n);

/* "; did you mean 'x'?" when spec_suggest() finds x, else "" — to append to
 * a message.  Caller g_free()s. */
char *spec_suggest_hint(const char *word, const char *const *candidates,
                        gssize n);

#endif
