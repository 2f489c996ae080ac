/* rnd_support.h — a small deterministic generator for the unit tests that
 * compare an encoder with a reference over many varied cases: the same
 * cases every run (xorshift64*), strings with JSON escapes, control bytes,
 * multi-byte UTF-8 and, rarely, bytes that are not UTF-8, and times at the
 * edges (AC_TS_NONE, varint byte boundaries, the JSON writer's extremes). */
#ifndef AC_RND_SUPPORT_H
#define AC_RND_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

void rnd_seed(uint64_t seed);
uint64_t rnd(void);
/* A string for a field of `size` bytes: empty, full, or short. */
void rnd_str(char *s, size_t size);
int64_t rnd_time(void);

#endif
