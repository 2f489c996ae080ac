/* tz.h — IANA time zones (backed by ICU): local time, windows and business time.
 *
 * Times are ms since the Unix epoch, UTC; minute of day 0..1439; weekday
 * 0 = Monday .. 6 = Sunday (bit wd of struct ac_pb_daywin.days). A window's
 * membership is ac_playbook_daywin_contains() on the local weekday and minute,
 * so a wrapping window (21:00-08:00) belongs to the day it starts on.
 *
 * An opened zone remembers the UTC-offset span (between two zone transitions)
 * it last looked at, so the hot path touches ICU about once per DST change.
 * Neither struct ac_tz nor struct ac_tz_cache is thread-safe: one per thread.
 * Times beyond ±8.64e15 ms (±273,000 years) are taken as UTC. */
#ifndef AC_TZ_H
#define AC_TZ_H

#include <stdint.h>

struct ac_pb_daywin;
struct ac_tz;
struct ac_tz_cache;

/* Longest zone name accepted, with its NUL (IANA names are at most ~32). */
#define AC_TZ_NAME_MAX 64
/* Zones (and rejected names) a struct ac_tz_cache keeps; least recently used goes first. */
#define AC_TZ_CACHE_MAX 64

/* Opens zone `name` ("Europe/Berlin"). NULL if name is NULL, empty, longer than
 * AC_TZ_NAME_MAX - 1, not a zone ICU knows (including "Etc/Unknown"), or on
 * allocation failure. The caller owns the result: ac_tz_close() it. */
struct ac_tz *ac_tz_open(const char *name);
/* Frees tz; NULL is fine. */
void ac_tz_close(struct ac_tz *tz);
/* The name tz was opened with. Borrowed: lives as long as tz. */
const char *ac_tz_name(const struct ac_tz *tz);

/* Local weekday (0 = Monday) and minute of day (0..1439) at t. Either out pointer
 * may be NULL. */
void ac_tz_local(struct ac_tz *tz, int64_t t, int *weekday, int *minute);

/* The earliest t' >= t at which "w contains the local time at t'" equals
 * want_inside (1: a send window or business hours, 0: leave quiet hours).
 * DST-correct: a window opens at its local wall-clock minute whatever the UTC
 * offset that day; an opening minute that does not exist (spring-forward gap)
 * opens at the first instant after the gap, and a repeated one (fall-back)
 * counts each time the local clock shows it. INT64_MAX if never: w->days == 0
 * with want_inside, a window covering the whole week without it, or nothing
 * within 35 days. w is borrowed for the call; from_min/to_min are 0..1440. */
int64_t ac_tz_next(struct ac_tz *tz, const struct ac_pb_daywin *w, int want_inside, int64_t t);

/* t plus ms of elapsed time counted only while inside w: 15 business minutes
 * from Friday 16:50 land on Monday 09:05. ms <= 0 returns t. A result that uses up
 * the window exactly is its closing instant (10 minutes from 16:50 is 17:00).
 * INT64_MAX if w never opens or the result lies beyond the supported range. */
int64_t ac_tz_add_inside(struct ac_tz *tz, const struct ac_pb_daywin *w, int64_t t, int64_t ms);

/* A cache of opened zones keyed by name, for the per-message path. The caller
 * owns it: ac_tz_cache_destroy() closes every zone it holds. NULL on allocation
 * failure. */
struct ac_tz_cache *ac_tz_cache_new(void);
void ac_tz_cache_destroy(struct ac_tz_cache *c);
/* The zone for name, opened on first use; NULL for a name ac_tz_open() refuses
 * (remembered too, so a bad name is not looked up again). Borrowed: valid until
 * the cache is destroyed or evicts it; eviction takes least recently used first,
 * so a zone survives at least AC_TZ_CACHE_MAX - 1 gets of other names. */
struct ac_tz *ac_tz_cache_get(struct ac_tz_cache *c, const char *name);

#endif
