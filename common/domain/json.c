/* json.c — JSON string literals written by jansson (see json.h). */
#include "json.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* A copy of s[0..n) with each byte that starts no well-formed UTF-8
 * sequence replaced by U+FFFD; caller frees. *out_len gets its length. */
static char *json_replace_invalid(const char *s, size_t n, size_t *out_len)
{
    static const char replacement[] = "\xef\xbf\xbd";
    char *copy = malloc(n * 3 + 1); /* at worst every byte becomes 3 */
    size_t o = 0;
    if (!copy) {
        return NULL;
    }
    for (size_t i = 0; i < n;) {
        size_t len = ac_utf8_seq_len(s + i, n - i);
        if (len == 0) {
            memcpy(copy + o, replacement, 3);
            o += 3;
            i++;
        } else {
            memcpy(copy + o, s + i, len);
            o += len;
            i += len;
        }
    }
    copy[o] = '\0';
    *out_len = o;
    return copy;
}

int ac_json_write_str(const char *s, size_t n, ac_json_write_fn fn, void *opaque)
{
    int rc = -1;
    char *copy = NULL;
    json_t *j = NULL;
    if (n == 0) {
        s = "";
    }
    if (!ac_utf8_valid(s, n)) {
        size_t clean_len = 0;
        copy = json_replace_invalid(s, n, &clean_len);
        if (!copy) {
            goto out;
        }
        s = copy;
        n = clean_len;
    }
    j = json_stringn(s, n); /* checks UTF-8 again: never writes invalid text */
    if (!j) {
        goto out;
    }
    rc = json_dump_callback(j, fn, opaque, JSON_ENCODE_ANY) == 0 ? 0 : -1;
out:
    json_decref(j);
    free(copy);
    return rc;
}
