/* wire.h — the bytes of the compact record encoding (record.h).
 *
 * Unsigned LEB128 varints, zigzag for signed values, length-prefixed bytes.
 * A reader is a cursor over borrowed bytes; every get checks the bounds and
 * sets r->err instead of reading past the end, so a truncated or hostile
 * record decodes to an error, never to a crash. */
#ifndef AC_WIRE_H
#define AC_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

struct ac_wire {
    const unsigned char *p;
    size_t len;
    size_t at;
    int err;
};

static inline void ac_wire_init(struct ac_wire *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->at = 0;
    r->err = 0;
}

static inline int ac_wire_put_u64(struct ac_buf *b, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    do {
        unsigned char c = (unsigned char)(v & 0x7f);
        v >>= 7;
        tmp[n++] = (unsigned char)(c | (v ? 0x80 : 0));
    } while (v);
    return ac_buf_append(b, tmp, n);
}

static inline int ac_wire_put_i64(struct ac_buf *b, int64_t v)
{
    return ac_wire_put_u64(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static inline int ac_wire_put_bytes(struct ac_buf *b, const void *p, size_t n)
{
    int rc = ac_wire_put_u64(b, n);
    return rc ? rc : ac_buf_append(b, p, n);
}

static inline int ac_wire_put_str(struct ac_buf *b, const char *s)
{
    return ac_wire_put_bytes(b, s, strlen(s));
}

static inline uint64_t ac_wire_get_u64(struct ac_wire *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->at >= r->len) {
            r->err = 1;
            return 0;
        }
        unsigned char c = r->p[r->at++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            return v;
        }
    }
    r->err = 1;
    return 0;
}

static inline int64_t ac_wire_get_i64(struct ac_wire *r)
{
    uint64_t u = ac_wire_get_u64(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* Borrowed bytes of a length-prefixed value; NULL (and err) past the end. */
static inline const unsigned char *ac_wire_get_bytes(struct ac_wire *r, size_t *n)
{
    uint64_t len = ac_wire_get_u64(r);
    if (r->err || len > r->len - r->at) {
        r->err = 1;
        *n = 0;
        return NULL;
    }
    const unsigned char *p = r->p + r->at;
    r->at += (size_t)len;
    *n = (size_t)len;
    return p;
}

/* A length-prefixed string into dst (size dstlen); too long or containing
 * a NUL is an error. */
static inline void ac_wire_get_str(struct ac_wire *r, char *dst, size_t dstlen)
{
    size_t n = 0;
    const unsigned char *p = ac_wire_get_bytes(r, &n);
    if (!p || n >= dstlen || memchr(p, 0, n)) {
        r->err = 1;
        dst[0] = '\0';
        return;
    }
    memcpy(dst, p, n);
    dst[n] = '\0';
}

static inline const unsigned char *ac_wire_get_raw(struct ac_wire *r, size_t n)
{
    if (r->err || n > r->len - r->at) {
        r->err = 1;
        return NULL;
    }
    const unsigned char *p = r->p + r->at;
    r->at += n;
    return p;
}

#endif
