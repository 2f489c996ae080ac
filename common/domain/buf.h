/* buf.h — a growable byte buffer (caller's storage). */
#ifndef AC_BUF_H
#define AC_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct ac_buf {
    char *data; /* owned; always NUL-terminated when len > 0 */
    size_t len;
    size_t cap;
};

void ac_buf_init(struct ac_buf *b);
void ac_buf_fini(struct ac_buf *b);
void ac_buf_reset(struct ac_buf *b); /* len = 0, keeps memory */
int ac_buf_append(struct ac_buf *b, const void *p, size_t n);
int ac_buf_printf(struct ac_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s[0..n) as a JSON string literal, quotes included, written by
 * jansson (json.h): always valid JSON, bytes that are not UTF-8 become
 * U+FFFD, NUL bytes \u0000. Returns 0 or AC_ERR_NOMEM. */
int ac_buf_json_strn(struct ac_buf *b, const char *s, size_t n);
/* The same for the NUL-terminated s. */
int ac_buf_json_str(struct ac_buf *b, const char *s);

/* Copies src into dst[size] (size > 0), cut to fit and NUL-terminated, as
 * snprintf(dst, size, "%s", src) without its format parsing (the hot path
 * copies a few dozen strings per event). Returns the length copied. */
size_t ac_str_copy(char *dst, size_t size, const char *src);
/* Writes v in decimal at p (at most 21 bytes), NUL-terminated; returns the
 * length. */
size_t ac_i64_dec(char *p, long long v);

#endif
