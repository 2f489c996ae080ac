/* utf8.h — UTF-8 validation as RFC 3629 defines it: no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing past U+10FFFF. The JSON writers
 * (buf.h, log.c) and the decoder's input checks (codec.h) share it. Pure. */
#ifndef AC_UTF8_H
#define AC_UTF8_H

#include <stddef.h>

/* Length (1..4) of the well-formed UTF-8 sequence at the start of s[0..n),
 * or 0 when s[0..n) does not start with one (n == 0 included). A NUL byte
 * is U+0000, a sequence of length 1. */
size_t ac_utf8_seq_len(const char *s, size_t n);

/* 1 when all of s[0..n) is well-formed UTF-8, else 0. */
int ac_utf8_valid(const char *s, size_t n);

#endif
