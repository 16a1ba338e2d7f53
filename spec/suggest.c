/*
 * Did-you-mean by optimal string alignment distance.
 */
#include "spec/suggest.h"

#include <string.h>

/* Words longer than this are never typos of a key; it also bounds the
 * quadratic distance computation. */
#define SUGGEST_MAX_LEN 64

static gsize count_candidates(const char *const *candidates, gssize n)
{
    gsize len = 0;

    if (n >= 0) {
        return (gsize)n;
    }
    while (candidates && candidates[len]) {
        len++;
    }
    return len;
}

/* Optimal string alignment distance, case-insensitive.  Both strings are
 * at most SUGGEST_MAX_LEN bytes. */
static unsigned osa_distance(const char *a, gsize la, const char *b, gsize lb)
{
    unsigned d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];

    for (gsize i = 0; i <= la; i++) {
        d[i][0] = (unsigned)i;
    }
    for (gsize j = 0; j <= lb; j++) {
        d[0][j] = (unsigned)j;
    }
    for (gsize i = 1; i <= la; i++) {
        for (gsize j = 1; j <= lb; j++) {
            char ca = g_ascii_tolower(a[i - 1]);
            char cb = g_ascii_tolower(b[j - 1]);
            unsigned cost = ca == cb ? 0 : 1;
            unsigned v = MIN(d[i - 1][j] + 1, d[i][j - 1] + 1);

            v = MIN(v, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 &&
                ca == g_ascii_tolower(b[j - 2]) &&
                g_ascii_tolower(a[i - 2]) == cb) {
                v = MIN(v, d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

const char *spec_suggest(const char *word, const char *const *candidates,
                         gssize n)
{
    gsize count = count_candidates(candidates, n);
    gsize lw = strlen(word);
    unsigned limit = lw <= 3 ? 1 : lw <= 6 ? 2 : 3;
    const char *best = NULL;
    unsigned best_d = G_MAXUINT;

    if (lw == 0 || lw > SUGGEST_MAX_LEN) {
        return NULL;
    }
    if (limit >= lw) {
        limit = (unsigned)lw - 1;
    }
    for (gsize i = 0; i < count; i++) {
        const char *c = candidates[i];
        gsize lc = c ? strlen(c) : 0;
        unsigned dist;

        if (!c || lc > SUGGEST_MAX_LEN || strcmp(c, word) == 0) {
            continue;
        }
        if ((lc > lw ? lc - lw : lw - lc) > limit) {
            continue;
        }
        dist = osa_distance(word, lw, c, lc);
        if (dist <= limit && dist < best_d) {
            best = c;
            best_d = dist;
        }
    }
    return best;
}

char *spec_suggest_list(const char *const *candidates, gssize n)
{
    gsize count = count_candidates(candidates, n);
    GString *out = g_string_new(NULL);

    for (gsize i = 0; i < count; i++) {
        if (i) {
            g_string_append(out, ", ");
        }
        g_string_append(out, candidates[i] ? candidates[i] : "");
    }
    return g_string_free(out, FALSE);
}

char *spec_suggest_hint(const char *word, const char *const *candidates,
                        gssize n)
{
    const char *best = spec_suggest(word, candidates, n);

    return best ? g_strdup_printf("; did you mean '%s'?", best)
                : g_strdup("");
}
