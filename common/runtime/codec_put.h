/* codec_put.h — writing Avro binary straight into a byte buffer (private to
 * the codec): the encoders of the records written for every event
 * (codec_decision.c, codec_action.c) use these instead of avro-c's generic
 * value API. Ints and longs are zigzag varints, a string is its length then
 * its bytes, a ["null", X] union its branch index then the value, a map one
 * block (count, entries) then the 0 that ends it.
 *
 * They write exactly what avro-c writes for the same values, so:
 * - a string is its bytes up to the first NUL (never past its field), as
 *   they are: not checked for UTF-8 (avro-c did not either), so callers pass
 *   well-formed UTF-8 (utf8.h);
 * - a map key given twice is one entry, at the key's first place, with the
 *   last value given (avro-c's map semantics).
 * The caller's buffer must have room for the largest encoding. */
#ifndef AC_CODEC_PUT_H
#define AC_CODEC_PUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "event.h"

/* Writes x as a zigzag varint (an Avro int or long) at p; returns the new
 * end. An int32 sign-extended gives the bytes Avro's int encoding gives. */
static inline unsigned char *cput_long(unsigned char *p, int64_t x)
{
    uint64_t z = ((uint64_t)x << 1) ^ (0 - ((uint64_t)x >> 63));
    while (z > 0x7f) {
        *p++ = (unsigned char)(z | 0x80);
        z >>= 7;
    }
    *p++ = (unsigned char)z;
    return p;
}

/* A string field of size bytes: its length, then its bytes up to the NUL,
 * never past the field. The bytes are copied while they are counted, one
 * byte after p: a length below 64 is one byte of varint; a longer string is
 * moved up to make room for its longer length (rare: ids and names are short). */
static inline unsigned char *cput_str(unsigned char *p, const char *s, size_t size)
{
    size_t n = 0;
    while (n < size && s[n] != '\0') {
        p[1 + n] = (unsigned char)s[n];
        n++;
    }
    if (n < 64) {
        p[0] = (unsigned char)(n << 1);
        return p + 1 + n;
    }
    unsigned char len[10];
    size_t k = (size_t)(cput_long(len, (int64_t)n) - len);
    memmove(p + k, p + 1, n);
    memcpy(p, len, k);
    return p + k + n;
}

/* ["null", "string"]: "" is null (branch 0), else branch 1 and the string. */
static inline unsigned char *cput_opt_str(unsigned char *p, const char *s, size_t size)
{
    if (s[0] == '\0') {
        return cput_long(p, 0);
    }
    return cput_str(cput_long(p, 1), s, size);
}

/* ["null", timestamp-millis]: AC_TS_NONE is null. */
static inline unsigned char *cput_opt_ts(unsigned char *p, int64_t ms)
{
    if (ms == AC_TS_NONE) {
        return cput_long(p, 0);
    }
    return cput_long(cput_long(p, 1), ms);
}

static inline int cput_same_key(const struct ac_kv *a, const struct ac_kv *b)
{
    return a->key[0] == b->key[0] && strncmp(a->key, b->key, sizeof(a->key)) == 0;
}

/* 1 when signal i's key is also the key of an earlier signal. */
static inline int cput_key_seen(const struct ac_kv *kv, int i)
{
    for (int j = 0; j < i; j++) {
        if (cput_same_key(&kv[j], &kv[i])) {
            return 1;
        }
    }
    return 0;
}

/* map<string>: one block of the distinct keys (each with the last value
 * given for it), then the 0 that ends the map; an empty map is the 0 alone. */
static inline unsigned char *cput_map(unsigned char *p, const struct ac_kv *kv, int n)
{
    int distinct = 0;
    for (int i = 0; i < n; i++) {
        distinct += !cput_key_seen(kv, i);
    }
    if (distinct > 0) {
        p = cput_long(p, distinct);
        for (int i = 0; i < n; i++) {
            if (distinct < n && cput_key_seen(kv, i)) {
                continue;
            }
            const char *value = kv[i].value;
            for (int j = i + 1; distinct < n && j < n; j++) {
                if (cput_same_key(&kv[j], &kv[i])) {
                    value = kv[j].value;
                }
            }
            p = cput_str(p, kv[i].key, sizeof(kv[i].key));
            p = cput_str(p, value, sizeof(kv[i].value));
        }
    }
    return cput_long(p, 0);
}

/* Confluent framing: magic byte 0, schema id as 4 bytes big-endian. */
static inline unsigned char *cput_frame(unsigned char *p, int schema_id)
{
    *p++ = 0;
    *p++ = (unsigned char)((uint32_t)schema_id >> 24);
    *p++ = (unsigned char)((uint32_t)schema_id >> 16);
    *p++ = (unsigned char)((uint32_t)schema_id >> 8);
    *p++ = (unsigned char)schema_id;
    return p;
}

#endif
