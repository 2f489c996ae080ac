/* test_tz.c — time zones: opening, local time, windows across DST, business time, cache.
 *
 * Expected instants are literal UTC ms, computed outside this code with GNU date, e.g.
 *   TZ=Europe/Berlin date -d '2026-03-29 08:00' +%s   -> 1774764000 (append 000)
 * and DST transitions with `zdump -v -c 2026,2027 ZONE`. The sweeps at the end compare
 * with the C library's own zone data (localtime_r), a second, independent source. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "playbook.h"
#include "tz.h"

#define MIN_MS INT64_C(60000)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)

/* policy defaults (common/playbook_policy.c): quiet 21:00-08:00 every day,
 * business Mon-Fri 09:00-17:00 */
static const struct ac_pb_daywin test_quiet = {21 * 60, 8 * 60, 0x7Fu};
static const struct ac_pb_daywin test_business = {9 * 60, 17 * 60, 0x1Fu};

static struct ac_tz *test_open(const char *name)
{
    struct ac_tz *tz = ac_tz_open(name);
    cr_assert_not_null(tz, "ac_tz_open(%s)", name);
    return tz;
}

Test(tz, open_rejects_unknown_and_malformed_names)
{
    static const char *const bad[] = {
        "",
        "Mars/Olympus",
        "Europe/Berlinn",
        "Etc/Unknown",
        "Europe/Berlin ",
        " Europe/Berlin",
        "GMT+05:00", /* a custom id, not an IANA zone */
        "Europe/B\xc3\xa9rlin",
        "Europe/Berlin/Europe/Berlin/Europe/Berlin/Europe/Berlin/Europe/Berlin",
    };
    cr_assert_null(ac_tz_open(NULL));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ac_tz *tz = ac_tz_open(bad[i]);
        cr_expect_null(tz, "'%s' was accepted", bad[i]);
        ac_tz_close(tz);
    }
    static const char *const good[] = {"Europe/Berlin", "America/New_York", "UTC",
                                       "Asia/Kolkata",  "Etc/GMT+5",        "US/Eastern"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct ac_tz *tz = ac_tz_open(good[i]);
        cr_expect_not_null(tz, "'%s' was refused", good[i]);
        if (tz) {
            cr_expect_str_eq(ac_tz_name(tz), good[i]);
        }
        ac_tz_close(tz);
    }
    ac_tz_close(NULL);
}

static void test_expect_local(struct ac_tz *tz, int64_t t, int wd, int minute)
{
    int got_wd = -1, got_min = -1;
    ac_tz_local(tz, t, &got_wd, &got_min);
    cr_expect_eq(got_wd, wd, "%s at %lld: weekday %d, want %d", ac_tz_name(tz), (long long)t,
                 got_wd, wd);
    cr_expect_eq(got_min, minute, "%s at %lld: minute %d, want %d", ac_tz_name(tz), (long long)t,
                 got_min, minute);
}

Test(tz, local_time_at_known_instants)
{
    struct ac_tz *berlin = test_open("Europe/Berlin");
    struct ac_tz *ny = test_open("America/New_York");
    /* TZ=Europe/Berlin date -d '2026-01-15 13:00' +%s: Thu, CET */
    test_expect_local(berlin, INT64_C(1768478400000), 3, 13 * 60);
    /* TZ=Europe/Berlin date -d '2026-07-01 14:00' +%s: Wed, CEST */
    test_expect_local(berlin, INT64_C(1782907200000), 2, 14 * 60);
    /* the same instant in New York is Wed 08:00 EDT */
    test_expect_local(ny, INT64_C(1782907200000), 2, 8 * 60);
    /* TZ=America/New_York date -d '2026-01-14 22:30' +%s: Wed, EST (Thu 04:30 in Berlin) */
    test_expect_local(ny, INT64_C(1768447800000), 2, 22 * 60 + 30);
    test_expect_local(berlin, INT64_C(1768447800000), 3, 4 * 60 + 30);
    /* TZ=America/New_York date -d '2026-07-04 08:15' +%s: Sat, EDT; +59.999 s is the same minute */
    test_expect_local(ny, INT64_C(1783167300000), 5, 8 * 60 + 15);
    test_expect_local(ny, INT64_C(1783167359999), 5, 8 * 60 + 15);
    /* Berlin springs forward (zdump): 2026-03-29 00:59:59Z is 01:59 CET, 01:00Z 03:00 CEST */
    test_expect_local(berlin, INT64_C(1774745999999), 6, 1 * 60 + 59);
    test_expect_local(berlin, INT64_C(1774746000000), 6, 3 * 60);
    /* and back: 2026-10-25 01:00:00Z is 02:00 CET again */
    test_expect_local(berlin, INT64_C(1792889999999), 6, 2 * 60 + 59);
    test_expect_local(berlin, INT64_C(1792890000000), 6, 2 * 60);
    /* before the epoch: 1969-12-31 23:00Z is Wed 00:00 in Berlin (CET) */
    test_expect_local(berlin, -HOUR_MS, 3, 0);
    /* far out of range: taken as UTC, no crash */
    int wd = -1, minute = -1;
    ac_tz_local(berlin, INT64_MAX, &wd, &minute);
    cr_expect(wd >= 0 && wd < 7 && minute >= 0 && minute < 1440);
    ac_tz_local(berlin, INT64_MIN, &wd, &minute);
    cr_expect(wd >= 0 && wd < 7 && minute >= 0 && minute < 1440);
    ac_tz_close(berlin);
    ac_tz_close(ny);
}

Test(tz, quiet_hours_defer_to_0800_next_day)
{
    struct ac_tz *berlin = test_open("Europe/Berlin");
    struct ac_tz *ny = test_open("America/New_York");
    /* Wed 2026-01-14 22:30 CET (1768426200000) -> Thu 2026-01-15 08:00 CET (1768460400000) */
    cr_expect_eq(ac_tz_next(berlin, &test_quiet, 0, INT64_C(1768426200000)),
                 INT64_C(1768460400000));
    /* Thu 07:59 CET (1768460340000) -> 08:00; 12:00 (1768474800000) is already fine */
    cr_expect_eq(ac_tz_next(berlin, &test_quiet, 0, INT64_C(1768460340000)),
                 INT64_C(1768460400000));
    cr_expect_eq(ac_tz_next(berlin, &test_quiet, 0, INT64_C(1768474800000)),
                 INT64_C(1768474800000));
    /* the inverse: from 12:00 the quiet hours begin at 21:00 CET (1768507200000) */
    cr_expect_eq(ac_tz_next(berlin, &test_quiet, 1, INT64_C(1768474800000)),
                 INT64_C(1768507200000));

    /* Berlin spring forward on 2026-03-29: the day before, 08:00 CET is 07:00Z
     * Fri 2026-03-27 22:30 CET (1774647000000) -> Sat 2026-03-28 08:00 CET (1774681200000) */
    cr_expect_eq(ac_tz_next(berlin, &test_quiet, 0, INT64_C(1774647000000)),
                 INT64_C(1774681200000));
    /* Sat 2026-03-28 22:30 CET (1774733400000) -> Sun 2026-03-29 08:00 CEST (1774764000000),
     * 06:00Z: an hour earlier in UTC */
    cr_expect_eq(ac_tz_next(berlin, &test_quiet, 0, INT64_C(1774733400000)),
                 INT64_C(1774764000000));

    /* Berlin fall back on 2026-10-25
     * Fri 2026-10-23 22:30 CEST (1792787400000) -> Sat 2026-10-24 08:00 CEST (1792821600000) */
    cr_expect_eq(ac_tz_next(berlin, &test_quiet, 0, INT64_C(1792787400000)),
                 INT64_C(1792821600000));
    /* Sat 2026-10-24 22:30 CEST (1792873800000) -> Sun 2026-10-25 08:00 CET (1792911600000) */
    cr_expect_eq(ac_tz_next(berlin, &test_quiet, 0, INT64_C(1792873800000)),
                 INT64_C(1792911600000));

    /* New York spring forward on 2026-03-08
     * Fri 2026-03-06 22:30 EST (1772854200000) -> Sat 2026-03-07 08:00 EST (1772888400000) */
    cr_expect_eq(ac_tz_next(ny, &test_quiet, 0, INT64_C(1772854200000)), INT64_C(1772888400000));
    /* Sat 2026-03-07 22:30 EST (1772940600000) -> Sun 2026-03-08 08:00 EDT (1772971200000) */
    cr_expect_eq(ac_tz_next(ny, &test_quiet, 0, INT64_C(1772940600000)), INT64_C(1772971200000));
    ac_tz_close(berlin);
    ac_tz_close(ny);
}

Test(tz, opening_minute_in_a_dst_gap_or_repeated_hour)
{
    struct ac_tz *berlin = test_open("Europe/Berlin");
    const struct ac_pb_daywin night = {2 * 60 + 30, 5 * 60, 0x7Fu}; /* 02:30-05:00 */
    /* 02:30 does not exist on 2026-03-29 in Berlin: from 01:30 CET (1774744200000) the window
     * opens at the first instant after the gap, 03:00 CEST = 01:00Z (1774746000000) */
    cr_expect_eq(ac_tz_next(berlin, &night, 1, INT64_C(1774744200000)), INT64_C(1774746000000));
    /* 02:30 happens twice on 2026-10-25: 00:30Z (CEST) and 01:30Z (CET). At 01:10Z it is
     * 02:10 CET (the window closed at the fall back, 01:00Z); it reopens at 02:30 CET,
     * 1792891800000 (date -u -d '2026-10-25 01:30Z' +%s), not a day later */
    cr_expect_eq(ac_tz_next(berlin, &night, 1, INT64_C(1792890600000)), INT64_C(1792891800000));
    /* inside at 00:45Z (02:45 CEST); leaves at the fall back, 01:00Z (1792890000000) */
    cr_expect_eq(ac_tz_next(berlin, &night, 0, INT64_C(1792889100000)), INT64_C(1792890000000));
    ac_tz_close(berlin);
}

Test(tz, business_hours_next_and_add_inside)
{
    struct ac_tz *berlin = test_open("Europe/Berlin");
    struct ac_tz *ny = test_open("America/New_York");
    /* Fri 2026-01-16 18:00 CET (1768582800000) -> Mon 2026-01-19 09:00 CET (1768809600000) */
    cr_expect_eq(ac_tz_next(berlin, &test_business, 1, INT64_C(1768582800000)),
                 INT64_C(1768809600000));
    /* Tue 2026-01-13 10:00 CET (1768294800000): inside now, closes at 17:00 (1768320000000) */
    cr_expect_eq(ac_tz_next(berlin, &test_business, 1, INT64_C(1768294800000)),
                 INT64_C(1768294800000));
    cr_expect_eq(ac_tz_next(berlin, &test_business, 0, INT64_C(1768294800000)),
                 INT64_C(1768320000000));

    /* 15 business minutes from Fri 2026-01-16 16:50 CET (1768578600000):
     * Mon 2026-01-19 09:05 CET (1768809900000) */
    cr_expect_eq(ac_tz_add_inside(berlin, &test_business, INT64_C(1768578600000), 15 * MIN_MS),
                 INT64_C(1768809900000));
    /* 10 minutes use the window up exactly: Fri 17:00 CET (1768579200000 = 16:50 + 600 s) */
    cr_expect_eq(ac_tz_add_inside(berlin, &test_business, INT64_C(1768578600000), 10 * MIN_MS),
                 INT64_C(1768579200000));
    /* across the spring forward: Fri 2026-03-27 16:50 CET (1774626600000) ->
     * Mon 2026-03-30 09:05 CEST (1774854300000) */
    cr_expect_eq(ac_tz_add_inside(berlin, &test_business, INT64_C(1774626600000), 15 * MIN_MS),
                 INT64_C(1774854300000));
    /* New York: Fri 2026-03-06 16:50 EST (1772833800000) -> Mon 2026-03-09 09:05 EDT
     * (1773061500000) */
    cr_expect_eq(ac_tz_add_inside(ny, &test_business, INT64_C(1772833800000), 15 * MIN_MS),
                 INT64_C(1773061500000));
    /* a business week from Mon 2026-03-23 09:00 CET (1774252800000) ends Fri 2026-03-27
     * 17:00 CET (1774627200000); one hour more is Mon 2026-03-30 10:00 CEST (1774857600000) */
    cr_expect_eq(ac_tz_add_inside(berlin, &test_business, INT64_C(1774252800000), 40 * HOUR_MS),
                 INT64_C(1774627200000));
    cr_expect_eq(ac_tz_add_inside(berlin, &test_business, INT64_C(1774252800000), 41 * HOUR_MS),
                 INT64_C(1774857600000));
    /* UTC has no transitions, so whole weeks are skipped in one step: 52 business weeks from
     * Thu 2026-01-01 00:07Z end when the last window closes, Wed 2026-12-30 17:00Z
     * (date -u -d '2026-12-30 17:00' +%s), not when the next one opens */
    struct ac_tz *utc = test_open("UTC");
    cr_expect_eq(ac_tz_add_inside(utc, &test_business, INT64_C(1767226020000), 52 * 40 * HOUR_MS),
                 INT64_C(1798650000000));
    ac_tz_close(utc);
    /* nothing to add: t itself, even outside the window */
    cr_expect_eq(ac_tz_add_inside(berlin, &test_business, INT64_C(1768582800000), 0),
                 INT64_C(1768582800000));
    ac_tz_close(berlin);
    ac_tz_close(ny);
}

Test(tz, add_inside_is_additive_over_a_year)
{
    /* one call of 52 business weeks (skips whole weeks inside a DST span) must land where
     * 52 calls of one week each land, and where 520 calls of 4 h land */
    static const char *const zones[] = {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                                        "UTC"};
    const struct ac_pb_daywin late = {22 * 60, 2 * 60 + 30, 0x55u}; /* wraps, some days */
    const struct ac_pb_daywin *wins[] = {&test_business, &test_quiet, &late};
    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        struct ac_tz *tz = test_open(zones[z]);
        for (size_t i = 0; i < sizeof(wins) / sizeof(wins[0]); i++) {
            int64_t t0 = INT64_C(1767225600000) + 7 * MIN_MS + 123; /* 2026-01-01 00:07:00.123Z */
            int64_t once = ac_tz_add_inside(tz, wins[i], t0, 52 * 40 * HOUR_MS);
            int64_t weekly = t0, small = t0;
            for (int k = 0; k < 52; k++) {
                weekly = ac_tz_add_inside(tz, wins[i], weekly, 40 * HOUR_MS);
            }
            for (int k = 0; k < 520; k++) {
                small = ac_tz_add_inside(tz, wins[i], small, 4 * HOUR_MS);
            }
            cr_expect_eq(once, weekly, "%s window %zu: %lld vs %lld", zones[z], i, (long long)once,
                         (long long)weekly);
            cr_expect_eq(once, small, "%s window %zu: %lld vs %lld", zones[z], i, (long long)once,
                         (long long)small);
            cr_expect(once > t0 + 52 * 40 * HOUR_MS && once < t0 + 3 * 365 * DAY_MS);
        }
        ac_tz_close(tz);
    }
}

Test(tz, windows_that_never_or_always_hold)
{
    struct ac_tz *berlin = test_open("Europe/Berlin");
    const int64_t t = INT64_C(1768426200000);
    const struct ac_pb_daywin never = {9 * 60, 17 * 60, 0};
    const struct ac_pb_daywin always = {0, 24 * 60, 0x7Fu};
    const struct ac_pb_daywin wrap_never = {21 * 60, 8 * 60, 0};
    cr_expect_eq(ac_tz_next(berlin, &never, 1, t), INT64_MAX);
    cr_expect_eq(ac_tz_next(berlin, &wrap_never, 1, t), INT64_MAX);
    cr_expect_eq(ac_tz_next(berlin, &never, 0, t), t);
    cr_expect_eq(ac_tz_next(berlin, &always, 0, t), INT64_MAX);
    cr_expect_eq(ac_tz_next(berlin, &always, 1, t), t);
    cr_expect_eq(ac_tz_add_inside(berlin, &never, t, MIN_MS), INT64_MAX);
    cr_expect_eq(ac_tz_add_inside(berlin, &always, t, 3 * DAY_MS), t + 3 * DAY_MS);
    /* the ends of the range neither overflow nor hang */
    cr_expect_eq(ac_tz_next(berlin, &never, 1, INT64_MAX - 1), INT64_MAX);
    /* INT64_MAX - 1 ms is 07:12 UTC, outside business hours; the next opening is beyond int64 */
    cr_expect_eq(ac_tz_next(berlin, &test_business, 1, INT64_MAX - 1), INT64_MAX);
    cr_expect_eq(ac_tz_add_inside(berlin, &test_business, t, INT64_MAX), INT64_MAX);
    int64_t lo = ac_tz_next(berlin, &test_business, 1, INT64_MIN);
    cr_expect(lo > INT64_MIN && lo < INT64_MIN + 8 * DAY_MS);
    ac_tz_close(berlin);
}

Test(tz, cache_opens_once_and_remembers_refusals)
{
    struct ac_tz_cache *c = ac_tz_cache_new();
    cr_assert_not_null(c);
    struct ac_tz *a = ac_tz_cache_get(c, "Europe/Berlin");
    cr_assert_not_null(a);
    cr_expect_str_eq(ac_tz_name(a), "Europe/Berlin");
    struct ac_tz *b = ac_tz_cache_get(c, "America/New_York");
    cr_assert_not_null(b);
    cr_expect_neq(a, b);
    cr_expect_eq(ac_tz_cache_get(c, "Europe/Berlin"), a);
    cr_expect_eq(ac_tz_cache_get(c, "America/New_York"), b);
    cr_expect_null(ac_tz_cache_get(c, "Not/AZone"));
    cr_expect_null(ac_tz_cache_get(c, "Not/AZone"));
    cr_expect_null(ac_tz_cache_get(c, ""));
    cr_expect_null(ac_tz_cache_get(c, NULL));
    cr_expect_eq(ac_tz_cache_get(c, "Europe/Berlin"), a);

    /* least recently used goes first: Berlin, used every 10 gets, survives 300 other names
     * (valid Etc/GMT zones and junk, so both are evicted and closed) */
    char name[32];
    for (int i = 0; i < 300; i++) {
        if (i % 2) {
            snprintf(name, sizeof(name), "Etc/GMT%+d", i % 25 - 12);
            if (strcmp(name, "Etc/GMT+0") == 0) {
                snprintf(name, sizeof(name), "Etc/GMT");
            }
            cr_expect_not_null(ac_tz_cache_get(c, name), "%s", name);
        } else {
            snprintf(name, sizeof(name), "Junk/Zone%d", i);
            cr_expect_null(ac_tz_cache_get(c, name));
        }
        if (i % 10 == 0) {
            /* use the old pointer first: freed by an eviction, ASan reports it */
            test_expect_local(a, INT64_C(1768478400000), 3, 13 * 60);
            cr_expect_eq(ac_tz_cache_get(c, "Europe/Berlin"), a);
        }
    }
    /* a zone evicted and opened again still works */
    struct ac_tz *ny = ac_tz_cache_get(c, "America/New_York");
    cr_assert_not_null(ny);
    test_expect_local(ny, INT64_C(1768447800000), 2, 22 * 60 + 30);
    test_expect_local(ac_tz_cache_get(c, "Europe/Berlin"), INT64_C(1768478400000), 3, 13 * 60);
    ac_tz_cache_destroy(c);
    ac_tz_cache_destroy(NULL);
}

/* --- sweeps against the C library's zone data --- */

/* Points the C library at zone; 0 if it has no data for it (the test is then skipped). */
static int test_libc_zone(const char *zone, time_t probe, long want_gmtoff)
{
    setenv("TZ", zone, 1);
    tzset();
    struct tm tm;
    return localtime_r(&probe, &tm) && tm.tm_gmtoff == want_gmtoff;
}

static int test_libc_inside(const struct ac_pb_daywin *w, int64_t t)
{
    time_t s = (time_t)(t / 1000);
    struct tm tm;
    cr_assert_not_null(localtime_r(&s, &tm));
    return ac_playbook_daywin_contains(w, (tm.tm_wday + 6) % 7, tm.tm_hour * 60 + tm.tm_min) != 0;
}

/* The earliest t' >= t with the wanted membership, minute by minute (all the zones tested
 * have whole-minute offsets, so local minutes start on UTC minutes). */
static int64_t test_libc_next(const struct ac_pb_daywin *w, int want, int64_t t)
{
    if (test_libc_inside(w, t) == want) {
        return t;
    }
    int64_t u = (t / MIN_MS + 1) * MIN_MS;
    for (int64_t end = t + 9 * DAY_MS; u < end; u += MIN_MS) {
        if (test_libc_inside(w, u) == want) {
            return u;
        }
    }
    return INT64_MAX;
}

struct test_zone {
    const char *name;
    int64_t probe_s;        /* 2026-01-15 12:00Z */
    long gmtoff;            /* at probe_s */
    int64_t transitions[2]; /* 2026's, from zdump */
};

static const struct test_zone test_zones[] = {
    {"Europe/Berlin", 1768478400, 3600, {INT64_C(1774746000000), INT64_C(1792890000000)}},
    {"America/New_York", 1768478400, -18000, {INT64_C(1772953200000), INT64_C(1793512800000)}},
    /* half-hour DST */
    {"Australia/Lord_Howe", 1768478400, 39600, {INT64_C(1775314800000), INT64_C(1791041400000)}},
};

Test(tz, local_time_matches_libc_through_2026)
{
    static const char *const zones[] = {"Europe/Berlin",       "America/New_York",
                                        "Asia/Kolkata",        "America/St_Johns",
                                        "Australia/Lord_Howe", "Pacific/Chatham"};
    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        setenv("TZ", zones[z], 1);
        tzset();
        struct tm probe;
        time_t probe_s = 1768478400;
        if (!localtime_r(&probe_s, &probe) || strcmp(probe.tm_zone, "UTC") == 0) {
            cr_skip_test("the C library has no zone data for %s", zones[z]);
        }
        struct ac_tz *tz = test_open(zones[z]);
        /* every 17 min 13 s through 2026 (2026-01-01Z .. 2027-01-01Z) */
        for (int64_t t = INT64_C(1767225600000); t < INT64_C(1798761600000); t += 1033000) {
            time_t s = (time_t)(t / 1000);
            struct tm tm;
            cr_assert_not_null(localtime_r(&s, &tm));
            int wd, minute;
            ac_tz_local(tz, t, &wd, &minute);
            if (wd != (tm.tm_wday + 6) % 7 || minute != tm.tm_hour * 60 + tm.tm_min) {
                cr_assert_fail("%s at %lld: %d %d, libc %d %d", zones[z], (long long)t, wd, minute,
                               (tm.tm_wday + 6) % 7, tm.tm_hour * 60 + tm.tm_min);
            }
        }
        ac_tz_close(tz);
    }
}

Test(tz, next_matches_a_minute_by_minute_search_around_dst)
{
    const struct ac_pb_daywin wins[] = {
        {21 * 60, 8 * 60, 0x7Fu},          /* quiet hours */
        {9 * 60, 17 * 60, 0x1Fu},          /* business hours */
        {2 * 60 + 30, 5 * 60, 0x7Fu},      /* inside Berlin's and New York's gaps */
        {1 * 60 + 45, 2 * 60 + 15, 0x7Fu}, /* inside Lord Howe's half-hour gap */
        {22 * 60, 1 * 60 + 30, 0x41u},     /* wraps, Monday and Sunday nights only */
        {0, 24 * 60, 0x40u},               /* Sundays */
    };
    for (size_t z = 0; z < sizeof(test_zones) / sizeof(test_zones[0]); z++) {
        const struct test_zone *zone = &test_zones[z];
        if (!test_libc_zone(zone->name, (time_t)zone->probe_s, zone->gmtoff)) {
            cr_skip_test("the C library has no zone data for %s", zone->name);
        }
        struct ac_tz *tz = test_open(zone->name);
        for (int k = 0; k < 2; k++) {
            /* 4 days either side of the transition, at irregular steps */
            int64_t from = zone->transitions[k] - 4 * DAY_MS;
            for (int64_t t = from; t < zone->transitions[k] + 4 * DAY_MS;
                 t += 3 * HOUR_MS + 7 * MIN_MS + 31000) {
                for (size_t i = 0; i < sizeof(wins) / sizeof(wins[0]); i++) {
                    for (int want = 0; want <= 1; want++) {
                        int64_t got = ac_tz_next(tz, &wins[i], want, t);
                        int64_t exp = test_libc_next(&wins[i], want, t);
                        if (got != exp) {
                            cr_assert_fail("%s window %zu want %d from %lld: %lld, expected %lld",
                                           zone->name, i, want, (long long)t, (long long)got,
                                           (long long)exp);
                        }
                    }
                }
            }
        }
        ac_tz_close(tz);
    }
}

Test(tz, add_inside_matches_minute_counting_around_dst)
{
    const struct ac_pb_daywin wins[] = {
        {9 * 60, 17 * 60, 0x1Fu},
        {1 * 60, 4 * 60, 0x7Fu}, /* holds the transitions */
        {23 * 60, 3 * 60, 0x60u},
    };
    for (size_t z = 0; z < sizeof(test_zones) / sizeof(test_zones[0]); z++) {
        const struct test_zone *zone = &test_zones[z];
        if (!test_libc_zone(zone->name, (time_t)zone->probe_s, zone->gmtoff)) {
            cr_skip_test("the C library has no zone data for %s", zone->name);
        }
        struct ac_tz *tz = test_open(zone->name);
        for (int k = 0; k < 2; k++) {
            int64_t from = (zone->transitions[k] - 3 * DAY_MS) / MIN_MS * MIN_MS;
            for (int64_t t = from; t < zone->transitions[k] + DAY_MS;
                 t += 5 * HOUR_MS + 11 * MIN_MS) {
                for (size_t i = 0; i < sizeof(wins) / sizeof(wins[0]); i++) {
                    const int64_t ms = 150 * MIN_MS;
                    /* count inside minutes from t until there are 150 */
                    int64_t u = t, n = 0;
                    while (n < ms / MIN_MS) {
                        n += test_libc_inside(&wins[i], u);
                        u += MIN_MS;
                    }
                    int64_t got = ac_tz_add_inside(tz, &wins[i], t, ms);
                    if (got != u) {
                        cr_assert_fail("%s window %zu from %lld: %lld, expected %lld", zone->name,
                                       i, (long long)t, (long long)got, (long long)u);
                    }
                }
            }
        }
        ac_tz_close(tz);
    }
}
