/* cli_events.c — sample events with times relative to now.
 *
 * The demo's sample (deploy/demo/journeys.jsonl) is never stale: a time
 * field written as an offset ("+2d6h", "-30m", "+0") means that long after
 * (or before) the moment the file is read. `aftercare dev --demo` and
 * `aftercare simulate` both read such files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "err.h"

int cli_parse_offset(const char *s, int64_t *ms)
{
    int sign = *s == '-' ? -1 : 1;
    if (*s != '+' && *s != '-') {
        return AC_ERR_INVALID;
    }
    s++;
    if (*s == '\0') {
        return AC_ERR_INVALID;
    }
    int64_t total = 0;
    while (*s) {
        char *end = NULL;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 0 || v > 100000) {
            return AC_ERR_INVALID;
        }
        int64_t unit = 0;
        switch (*end) {
        case 'w': unit = 7 * 86400000LL; break;
        case 'd': unit = 86400000LL; break;
        case 'h': unit = 3600000LL; break;
        case 'm': unit = 60000LL; break;
        case 's': unit = 1000LL; break;
        case '\0':
            if (v != 0) {
                return AC_ERR_INVALID; /* only "+0" goes without a unit */
            }
            break;
        default: return AC_ERR_INVALID;
        }
        total += (int64_t)v * unit;
        s = *end ? end + 1 : end;
    }
    *ms = sign * total;
    return 0;
}

/* ms as ISO-8601 UTC with milliseconds, as the codec reads it. */
static void events_iso(int64_t ms, char *out, size_t n)
{
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char b[32];
    strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", b, (int)(ms % 1000));
}

int cli_event_resolve(json_t *o, int64_t now, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        size_t len = strlen(key);
        const char *s = json_string_value(v);
        if (len < 3 || strcmp(key + len - 3, "_at") != 0 || !s || (*s != '+' && *s != '-')) {
            continue;
        }
        int64_t off;
        if (cli_parse_offset(s, &off) != 0) {
            snprintf(err, errlen,
                     "%s: expected an offset from now such as \"+2d6h\" or \"-30m\", got '%s'", key,
                     s);
            return AC_ERR_INVALID;
        }
        char iso[40];
        events_iso(now + off, iso, sizeof(iso));
        if (json_object_set_new(o, key, json_string(iso)) != 0) {
            snprintf(err, errlen, "out of memory");
            return AC_ERR_NOMEM;
        }
    }
    return 0;
}
