/* rnd_support.c — the unit tests' deterministic generator (rnd_support.h). */
#include "rnd_support.h"

#include <string.h>

#include "event.h"

#define T0 INT64_C(1767434400000) /* 2026-01-03T10:00:00Z */

/* A small deterministic generator (xorshift64*): the same cases every run. */
static uint64_t rng = UINT64_C(0x9e3779b97f4a7c15);

void rnd_seed(uint64_t seed)
{
    rng = seed ? seed : UINT64_C(0x9e3779b97f4a7c15);
}

uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * UINT64_C(2685821657736338717);
}

/* A string for a field of `size` bytes: empty, full, or short; ASCII, JSON
 * escapes, control bytes, 2- to 4-byte UTF-8 and, rarely, bytes that are not
 * UTF-8 (the encoder writes strings as they are, as avro-c did). */
void rnd_str(char *s, size_t size)
{
    /* one byte each: ASCII, JSON escapes, control bytes */
    static const char ascii[] = "abzQ09-_: \"\\/\n\t\x01\x7f";
    /* multi-byte UTF-8, then two pieces that are not UTF-8 */
    static const char *const pieces[] = {"\xc3\xa9",     "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                         "\xef\xbf\xbf", "\xff",         "\xc3"};
    size_t npieces = sizeof(pieces) / sizeof(pieces[0]);
    size_t len = 0;
    size_t want = 0;
    switch (rnd() % 8) {
    case 0: want = 0; break;
    case 1: want = size - 1; break;
    default: want = (size_t)(rnd() % (size < 41 ? size : 41)); break;
    }
    while (len < want) {
        uint64_t r = rnd() % 100;
        /* not UTF-8 one time in a hundred, multi-byte UTF-8 one in five */
        const char *piece = r == 0   ? pieces[npieces - 1 - rnd() % 2]
                            : r < 20 ? pieces[rnd() % (npieces - 2)]
                                     : &ascii[rnd() % (sizeof(ascii) - 1)];
        size_t n = r < 20 ? strlen(piece) : 1;
        if (len + n > want) {
            piece = "a";
            n = 1;
        }
        memcpy(s + len, piece, n);
        len += n;
    }
    s[len] = '\0';
}

int64_t rnd_time(void)
{
    /* AC_TS_NONE (null where nullable), extremes, varint byte boundaries,
     * just before year 1 and at year 10000 (the JSON writer's epoch-ms form) */
    static const int64_t edges[] = {
        AC_TS_NONE, AC_TS_NONE + 1,  INT64_MAX,      0, -1, 1, 63, 64, -64, -65, T0,
        -T0,        -62135596800001, 253402300800000};
    switch (rnd() % 4) {
    case 0: return edges[rnd() % (sizeof(edges) / sizeof(edges[0]))];
    case 1: return (int64_t)rnd();
    case 2: return T0 + (int64_t)(rnd() % INT64_C(100000000000)) - INT64_C(50000000000);
    default: return -(int64_t)(rnd() % INT64_C(1000000));
    }
}
