/* buf.c — growable byte buffer. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"

void ac_buf_init(struct ac_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void ac_buf_fini(struct ac_buf *b)
{
    free(b->data);
    ac_buf_init(b);
}

void ac_buf_reset(struct ac_buf *b)
{
    b->len = 0;
    if (b->data) {
        b->data[0] = '\0';
    }
}

static int buf_reserve(struct ac_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return 0;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        return AC_ERR_NOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int ac_buf_append(struct ac_buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) != 0) {
        return AC_ERR_NOMEM;
    }
    if (n) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int ac_buf_printf(struct ac_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) != 0) {
        return AC_ERR_NOMEM;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

static int buf_json_put(const char *p, size_t n, void *opaque)
{
    return ac_buf_append(opaque, p, n);
}

int ac_buf_json_strn(struct ac_buf *b, const char *s, size_t n)
{
    return ac_json_write_str(s, n, buf_json_put, b) == 0 ? 0 : AC_ERR_NOMEM;
}

int ac_buf_json_str(struct ac_buf *b, const char *s)
{
    return ac_buf_json_strn(b, s, strlen(s));
}

size_t ac_str_copy(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
    return n;
}

size_t ac_i64_dec(char *p, long long v)
{
    char tmp[24];
    size_t n = 0, len = 0;
    unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        p[len++] = '-';
    }
    while (n > 0) {
        p[len++] = tmp[--n];
    }
    p[len] = '\0';
    return len;
}
