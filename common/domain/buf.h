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
/* Appends s as a JSON string literal, quotes included. */
int ac_buf_json_str(struct ac_buf *b, const char *s);

#endif
