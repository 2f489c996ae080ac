/* tz.c — time zones over ICU's C API.
 *
 * ICU answers one question here: the UTC offset at t, and the zone
 * transitions either side of t. Between two transitions (a span) local time
 * is t + offset, so weekday, minute and window boundaries are arithmetic.
 * Window membership changes only at local midnight, from_min or to_min (the
 * breakpoints) and at a span's end, so ac_tz_next() steps from one of those to
 * the next instead of minute by minute. */
#include "tz.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "playbook.h"

#define TZ_MINUTE INT64_C(60000)
#define TZ_DAY (1440 * TZ_MINUTE)
#define TZ_WEEK (7 * TZ_DAY)
/* ICU's own range is wider; this one keeps doubles exact and arithmetic safe. */
#define TZ_T_MAX INT64_C(8640000000000000)
/* ac_tz_next gives up after this long; any satisfiable window is met within 8
 * days, or a week more when a DST gap swallows it. */
#define TZ_HORIZON (35 * TZ_DAY)

struct ac_tz {
    UCalendar *cal;
    int64_t lo, hi; /* the span last looked at: [lo, hi) has UTC offset off */
    int64_t off;    /* ms */
    char name[AC_TZ_NAME_MAX];
};

/* Copies an ASCII zone name into id; its length, or -1 if it cannot be one. */
static int32_t tz_uname(const char *name, UChar *id, size_t cap)
{
    size_t len = strlen(name);
    if (len == 0 || len >= cap) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= ' ' || c > '~') {
            return -1;
        }
        id[i] = (UChar)c;
    }
    id[len] = 0;
    return (int32_t)len;
}

/* 1 if the zone ID in id (len UChars) is "Etc/Unknown", ICU's answer for junk. */
static int tz_is_unknown(const UChar *id, int32_t len)
{
    static const char unknown[] = UCAL_UNKNOWN_ZONE_ID;
    if (len != (int32_t)(sizeof(unknown) - 1)) {
        return 0;
    }
    for (int32_t i = 0; i < len; i++) {
        if (id[i] != (UChar)unknown[i]) {
            return 0;
        }
    }
    return 1;
}

struct ac_tz *ac_tz_open(const char *name)
{
    struct ac_tz *tz = NULL;
    UChar id[AC_TZ_NAME_MAX];
    UChar canon[2 * AC_TZ_NAME_MAX];
    int32_t cap = (int32_t)(sizeof(canon) / sizeof(canon[0]));
    UErrorCode st = U_ZERO_ERROR;
    UBool system_id = 0;
    int32_t len = name ? tz_uname(name, id, AC_TZ_NAME_MAX) : -1;
    if (len < 0) {
        goto out;
    }
    /* ucal_open() silently gives GMT as "Etc/Unknown" for a zone it does not
     * know; the canonical lookup fails instead. Custom ids ("GMT+05:00") are not
     * IANA zones: refused too. */
    int32_t clen = ucal_getCanonicalTimeZoneID(id, len, canon, cap, &system_id, &st);
    if (U_FAILURE(st) || !system_id || clen <= 0 || tz_is_unknown(canon, clen)) {
        goto out;
    }
    tz = calloc(1, sizeof(*tz));
    if (!tz) {
        goto out;
    }
    tz->cal = ucal_open(id, len, "en_US_POSIX", UCAL_GREGORIAN, &st);
    if (U_FAILURE(st) || !tz->cal) {
        goto out;
    }
    clen = ucal_getTimeZoneID(tz->cal, canon, cap, &st);
    if (U_FAILURE(st) || tz_is_unknown(canon, clen)) {
        goto out;
    }
    memcpy(tz->name, name, (size_t)len + 1);
    tz->lo = 1; /* an empty span: the first use asks ICU */
    tz->hi = 0;
    return tz;
out:
    ac_tz_close(tz);
    return NULL;
}

void ac_tz_close(struct ac_tz *tz)
{
    if (!tz) {
        return;
    }
    if (tz->cal) {
        ucal_close(tz->cal);
    }
    free(tz);
}

const char *ac_tz_name(const struct ac_tz *tz)
{
    return tz->name;
}

/* Makes [tz->lo, tz->hi) the span holding t, asking ICU only when t left it. */
static void tz_span(struct ac_tz *tz, int64_t t)
{
    if (t >= tz->lo && t < tz->hi) {
        return;
    }
    tz->off = 0;
    if (t > TZ_T_MAX) {
        tz->lo = TZ_T_MAX + 1;
        tz->hi = INT64_MAX;
        return;
    }
    if (t < -TZ_T_MAX) {
        tz->lo = INT64_MIN;
        tz->hi = -TZ_T_MAX;
        return;
    }
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(tz->cal, (UDate)t, &st);
    int64_t off = (int64_t)ucal_get(tz->cal, UCAL_ZONE_OFFSET, &st);
    off += ucal_get(tz->cal, UCAL_DST_OFFSET, &st);
    if (U_FAILURE(st) || off <= -TZ_DAY || off >= TZ_DAY) {
        /* not expected from ICU; UTC for this instant only */
        tz->lo = t;
        tz->hi = t + 1;
        return;
    }
    tz->off = off;
    tz->lo = -TZ_T_MAX;
    tz->hi = TZ_T_MAX + 1;
    UDate d = 0;
    st = U_ZERO_ERROR;
    if (ucal_getTimeZoneTransitionDate(tz->cal, UCAL_TZ_TRANSITION_NEXT, &d, &st) &&
        U_SUCCESS(st) && d <= (UDate)TZ_T_MAX) {
        tz->hi = (int64_t)d;
    }
    st = U_ZERO_ERROR;
    if (ucal_getTimeZoneTransitionDate(tz->cal, UCAL_TZ_TRANSITION_PREVIOUS_INCLUSIVE, &d, &st) &&
        U_SUCCESS(st) && d >= (UDate)-TZ_T_MAX) {
        tz->lo = (int64_t)d;
    }
    if (!(tz->lo <= t && t < tz->hi)) {
        tz->lo = t;
        tz->hi = t + 1;
    }
}

/* Local weekday (0 = Monday) and ms since local midnight at t. */
static void tz_split(struct ac_tz *tz, int64_t t, int *wd, int64_t *msd)
{
    tz_span(tz, t);
    int64_t local = t + tz->off; /* off is 0 near the int64 limits */
    int64_t day = local / TZ_DAY;
    int64_t rem = local % TZ_DAY;
    if (rem < 0) {
        rem += TZ_DAY;
        day--;
    }
    /* 1970-01-01 was a Thursday (3) */
    *wd = (int)((day % 7 + 7 + 3) % 7);
    *msd = rem;
}

void ac_tz_local(struct ac_tz *tz, int64_t t, int *weekday, int *minute)
{
    int wd;
    int64_t msd;
    tz_split(tz, t, &wd, &msd);
    if (weekday) {
        *weekday = wd;
    }
    if (minute) {
        *minute = (int)(msd / TZ_MINUTE);
    }
}

/* The minutes of day at which w's membership may change, ascending, from 0. */
static int tz_breakpoints(const struct ac_pb_daywin *w, int bp[3])
{
    int n = 0;
    int cand[3] = {0, w->from_min, w->to_min};
    for (int i = 0; i < 3; i++) {
        int m = (cand[i] % 1440 + 1440) % 1440;
        int j = n;
        while (j > 0 && bp[j - 1] > m) {
            j--;
        }
        if (j > 0 && bp[j - 1] == m) {
            continue;
        }
        memmove(&bp[j + 1], &bp[j], (size_t)(n - j) * sizeof(bp[0]));
        bp[j] = m;
        n++;
    }
    return n;
}

static int tz_inside(const struct ac_pb_daywin *w, int wd, int minute)
{
    return ac_playbook_daywin_contains(w, wd, minute) != 0;
}

/* ms of a local week (no DST) inside w: membership is constant between breakpoints. */
static int64_t tz_week_inside(const struct ac_pb_daywin *w, const int *bp, int n)
{
    int64_t sum = 0;
    for (int wd = 0; wd < 7; wd++) {
        for (int i = 0; i < n; i++) {
            int end = i + 1 < n ? bp[i + 1] : 1440;
            if (tz_inside(w, wd, bp[i])) {
                sum += (end - bp[i]) * TZ_MINUTE;
            }
        }
    }
    return sum;
}

int64_t ac_tz_next(struct ac_tz *tz, const struct ac_pb_daywin *w, int want_inside, int64_t t)
{
    assert(tz && w);
    int want = want_inside != 0;
    int bp[3];
    int n = tz_breakpoints(w, bp);
    int64_t inside = tz_week_inside(w, bp, n);
    if (inside == (want ? 0 : TZ_WEEK)) {
        return INT64_MAX; /* the weekly pattern never shows want */
    }
    /* keeps cur + a day's step from overflowing */
    int64_t limit =
        t > INT64_MAX - TZ_HORIZON - 2 * TZ_DAY ? INT64_MAX - 2 * TZ_DAY : t + TZ_HORIZON;
    int64_t cur = t;
    for (;;) {
        int wd;
        int64_t msd;
        tz_split(tz, cur, &wd, &msd);
        if (tz_inside(w, wd, (int)(msd / TZ_MINUTE)) == want) {
            return cur;
        }
        if (cur > limit) {
            return INT64_MAX;
        }
        /* walk the breakpoints of this span; a span's end is one too */
        int64_t hi = tz->hi;
        for (;;) {
            int m = (int)(msd / TZ_MINUTE);
            int b = 1440;
            for (int i = 0; i < n; i++) {
                if (bp[i] > m) {
                    b = bp[i];
                    break;
                }
            }
            int64_t next = cur + (b * TZ_MINUTE - msd);
            if (next >= hi) {
                cur = hi;
                break;
            }
            if (next > limit) {
                return INT64_MAX;
            }
            cur = next;
            if (b == 1440) {
                wd = (wd + 1) % 7;
                msd = 0;
            } else {
                msd = b * TZ_MINUTE;
            }
            if (tz_inside(w, wd, (int)(msd / TZ_MINUTE)) == want) {
                return cur;
            }
        }
    }
}

int64_t ac_tz_add_inside(struct ac_tz *tz, const struct ac_pb_daywin *w, int64_t t, int64_t ms)
{
    assert(tz && w);
    if (ms <= 0) {
        return t;
    }
    int bp[3];
    int n = tz_breakpoints(w, bp);
    int64_t week = tz_week_inside(w, bp, n);
    if (week == 0) {
        return INT64_MAX;
    }
    int64_t cur = t;
    for (;;) {
        /* inside time accrues no faster than time itself */
        if (cur > TZ_T_MAX || (cur >= 0 && ms > TZ_T_MAX - cur)) {
            return INT64_MAX;
        }
        /* whole local weeks within one span hold exactly `week` each; skip them,
         * leaving at least 1 ms so the end lands inside a window */
        tz_span(tz, cur);
        if (ms > week) {
            int64_t k = (ms - 1) / week;
            int64_t room = (tz->hi - cur) / TZ_WEEK;
            if (k > room) {
                k = room;
            }
            cur += k * TZ_WEEK;
            ms -= k * week;
        }
        int64_t open = ac_tz_next(tz, w, 1, cur);
        if (open == INT64_MAX) {
            return INT64_MAX;
        }
        int64_t close = ac_tz_next(tz, w, 0, open);
        if (close == INT64_MAX || close - open >= ms) {
            return open > TZ_T_MAX - ms ? INT64_MAX : open + ms;
        }
        ms -= close - open;
        cur = close;
    }
}

/* The cache: a small array searched by hash, least recently used evicted. */
struct tz_cache_entry {
    char name[AC_TZ_NAME_MAX];
    uint32_t hash;
    uint64_t used;    /* the cache's tick at the last get */
    struct ac_tz *tz; /* NULL: a name ac_tz_open() refused */
};

struct ac_tz_cache {
    struct tz_cache_entry entries[AC_TZ_CACHE_MAX];
    int n;
    uint64_t tick;
    struct tz_cache_entry *last; /* the last hit: most messages repeat a zone */
};

static uint32_t tz_cache_hash(const char *s, size_t *len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    size_t i = 0;
    for (; s[i]; i++) {
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    }
    *len = i;
    return h;
}

struct ac_tz_cache *ac_tz_cache_new(void)
{
    return calloc(1, sizeof(struct ac_tz_cache));
}

void ac_tz_cache_destroy(struct ac_tz_cache *c)
{
    if (!c) {
        return;
    }
    for (int i = 0; i < c->n; i++) {
        ac_tz_close(c->entries[i].tz);
    }
    free(c);
}

struct ac_tz *ac_tz_cache_get(struct ac_tz_cache *c, const char *name)
{
    if (!name) {
        return NULL;
    }
    if (c->last && strcmp(c->last->name, name) == 0) {
        c->last->used = ++c->tick;
        return c->last->tz;
    }
    size_t len;
    uint32_t hash = tz_cache_hash(name, &len);
    if (len == 0 || len >= AC_TZ_NAME_MAX) {
        return NULL; /* never a zone; not worth a slot */
    }
    struct tz_cache_entry *e = NULL;
    for (int i = 0; i < c->n; i++) {
        if (c->entries[i].hash == hash && strcmp(c->entries[i].name, name) == 0) {
            e = &c->entries[i];
            break;
        }
    }
    if (!e) {
        if (c->n < AC_TZ_CACHE_MAX) {
            e = &c->entries[c->n++];
        } else {
            e = &c->entries[0];
            for (int i = 1; i < c->n; i++) {
                if (c->entries[i].used < e->used) {
                    e = &c->entries[i];
                }
            }
            ac_tz_close(e->tz);
        }
        memcpy(e->name, name, len + 1);
        e->hash = hash;
        e->tz = ac_tz_open(name);
    }
    e->used = ++c->tick;
    c->last = e;
    return e->tz;
}
