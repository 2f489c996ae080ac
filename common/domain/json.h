/* json.h — JSON string literals written by jansson, never by hand.
 *
 * Every JSON string the project writes (logs, customer state, the CLI's
 * JSON lines, the Avro -> JSON converter) goes through here, so all of it
 * is valid JSON whatever bytes come in. jansson refuses text that is not
 * UTF-8 (json_stringn() returns NULL; json_string_nocheck() would write it
 * out as it is, invalid), so the text is checked first (utf8.h) and, when
 * it is not UTF-8, each byte that does not start a well-formed sequence is
 * replaced by U+FFFD, as the log always did: the output stays readable and
 * a strict parser accepts it. NUL bytes are written as \u0000; control
 * characters as jansson escapes them (\b \f \n \r \t, else \u00XX);
 * anything else, non-ASCII included, as is (no JSON_ENSURE_ASCII). */
#ifndef AC_JSON_H
#define AC_JSON_H

#include <stddef.h>

/* Receives the output piece by piece; returns 0 to go on, else stops it. */
typedef int (*ac_json_write_fn)(const char *p, size_t len, void *opaque);

/* Writes s[0..n) as one JSON string literal, quotes included, through fn.
 * s may be NULL when n is 0. Returns 0, or -1 when fn stopped the output
 * or memory ran out (fn may then have received part of it). */
int ac_json_write_str(const char *s, size_t n, ac_json_write_fn fn, void *opaque);

#endif
