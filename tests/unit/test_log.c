/* test_log.c — JSON lines on stderr: validity, escaping, levels, rate limit. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define TEST_MAX_LINES 1024

static FILE *test_capture_file;
static int test_saved_stderr = -1;
static char *test_lines[TEST_MAX_LINES];
static size_t test_n_lines;
static char *test_text;

static void test_capture_begin(void)
{
    test_capture_file = tmpfile();
    cr_assert_not_null(test_capture_file);
    test_saved_stderr = dup(STDERR_FILENO);
    cr_assert_geq(test_saved_stderr, 0);
    cr_assert_geq(dup2(fileno(test_capture_file), STDERR_FILENO), 0);
}

/* Restores stderr and splits what was captured into test_lines. */
static void test_capture_end(void)
{
    dup2(test_saved_stderr, STDERR_FILENO);
    close(test_saved_stderr);
    fseek(test_capture_file, 0, SEEK_END);
    long size = ftell(test_capture_file);
    cr_assert_geq(size, 0);
    rewind(test_capture_file);
    free(test_text);
    test_text = calloc(1, (size_t)size + 1);
    cr_assert_not_null(test_text);
    cr_assert_eq(fread(test_text, 1, (size_t)size, test_capture_file), (size_t)size);
    fclose(test_capture_file);

    test_n_lines = 0;
    char *p = test_text;
    while (*p) {
        char *nl = strchr(p, '\n');
        cr_assert_not_null(nl, "every line ends with a newline: %s", p);
        *nl = '\0';
        cr_assert_lt(test_n_lines, TEST_MAX_LINES);
        test_lines[test_n_lines++] = p;
        p = nl + 1;
    }
}

/* Parses captured line i; the caller decrefs. */
static json_t *test_line_json(size_t i)
{
    json_error_t jerr;
    cr_assert_lt(i, test_n_lines);
    json_t *j = json_loads(test_lines[i], JSON_REJECT_DUPLICATES, &jerr);
    cr_assert_not_null(j, "line %zu is not JSON (%s): %s", i, jerr.text, test_lines[i]);
    cr_assert(json_is_object(j));
    cr_assert_eq(json_object_size(j), 4, "%s", test_lines[i]);
    return j;
}

static const char *test_field(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    cr_assert(json_is_string(v), "field %s", key);
    return json_string_value(v);
}

static void test_setup(void)
{
    ac_log_init("aftercare-test");
    ac_log_set_level(AC_LOG_INFO);
    ac_log_set_clock(NULL);
}

static void test_teardown(void)
{
    free(test_text);
    test_text = NULL;
}

TestSuite(log, .init = test_setup, .fini = test_teardown);

Test(log, json_line_fields)
{
    test_capture_begin();
    AC_INFO("partition assigned topic=%s partition=%d offset=%lld", "orders", 3, 1200LL);
    test_capture_end();

    cr_assert_eq(test_n_lines, 1);
    json_t *j = test_line_json(0);
    cr_assert_str_eq(test_field(j, "level"), "info");
    cr_assert_str_eq(test_field(j, "proc"), "aftercare-test");
    cr_assert_str_eq(test_field(j, "msg"),
                     "partition assigned topic=orders partition=3 offset=1200");

    const char *ts = test_field(j, "ts");
    int y, mo, d, h, mi, s, ms;
    char z = 0;
    cr_assert_eq(strlen(ts), 24, "%s", ts);
    cr_assert_eq(sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &s, &ms, &z), 8,
                 "%s", ts);
    cr_assert_eq(z, 'Z');
    cr_assert(y >= 2024 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31, "%s", ts);
    /* Keys come in a fixed order. */
    cr_assert_eq(strncmp(test_lines[0], "{\"ts\":\"", 7), 0, "%s", test_lines[0]);
    json_decref(j);
}

Test(log, escaping)
{
    test_capture_begin();
    AC_WARN("quote\" backslash\\ nl\n tab\t cr\r ctl\x01 del\x7f utf8=%s bad=%s", "caf\xc3\xa9",
            "\xff\xc3");
    test_capture_end();

    cr_assert_eq(test_n_lines, 1, "a newline in the message stays inside the line");
    json_t *j = test_line_json(0);
    cr_assert_str_eq(test_field(j, "level"), "warn");
    cr_assert_str_eq(test_field(j, "msg"), "quote\" backslash\\ nl\n tab\t cr\r ctl\x01 del\x7f "
                                           "utf8=caf\xc3\xa9 bad=\xef\xbf\xbd\xef\xbf\xbd");
    cr_assert_not_null(strstr(test_lines[0], "\\u0001"), "%s", test_lines[0]);
    json_decref(j);
}

Test(log, proc_is_escaped_and_copied)
{
    char proc[32];
    snprintf(proc, sizeof(proc), "we\"ird");
    ac_log_init(proc);
    proc[0] = 'X';
    test_capture_begin();
    AC_ERROR("boom");
    test_capture_end();
    json_t *j = test_line_json(0);
    cr_assert_str_eq(test_field(j, "proc"), "we\"ird");
    cr_assert_str_eq(test_field(j, "level"), "error");
    json_decref(j);
}

Test(log, level_filtering)
{
    cr_assert_eq(ac_log_get_level(), AC_LOG_INFO);
    test_capture_begin();
    AC_DEBUG("hidden debug");
    AC_INFO("shown info");
    ac_log_set_level(AC_LOG_WARN);
    AC_INFO("hidden info");
    ac_log_write(AC_LOG_INFO, "hidden direct info");
    AC_WARN("shown warn");
    AC_ERROR("shown error");
    ac_log_set_level(AC_LOG_DEBUG);
    AC_DEBUG("shown debug");
    test_capture_end();

    cr_assert_eq(test_n_lines, 4, "%s", test_text);
    const char *want[][2] = {{"info", "shown info"},
                             {"warn", "shown warn"},
                             {"error", "shown error"},
                             {"debug", "shown debug"}};
    for (size_t i = 0; i < 4; i++) {
        json_t *j = test_line_json(i);
        cr_assert_str_eq(test_field(j, "level"), want[i][0]);
        cr_assert_str_eq(test_field(j, "msg"), want[i][1]);
        json_decref(j);
    }
}

Test(log, level_names)
{
    cr_assert_eq(ac_log_level_from_name("debug"), AC_LOG_DEBUG);
    cr_assert_eq(ac_log_level_from_name("info"), AC_LOG_INFO);
    cr_assert_eq(ac_log_level_from_name("WARN"), AC_LOG_WARN);
    cr_assert_eq(ac_log_level_from_name("warning"), AC_LOG_WARN);
    cr_assert_eq(ac_log_level_from_name("error"), AC_LOG_ERROR);
    cr_assert_eq(ac_log_level_from_name("verbose"), -1);
    cr_assert_eq(ac_log_level_from_name(NULL), -1);
}

static int64_t test_now;

static int64_t test_clock(void)
{
    return test_now;
}

static void test_tick(const char *host)
{
    AC_WARN("redis unavailable host=%s", host);
}

Test(log, rate_limit_identical_messages)
{
    ac_log_set_clock(test_clock);
    test_now = 10000;
    test_capture_begin();
    test_tick("r1");              /* written */
    for (int i = 0; i < 5; i++) { /* 5 suppressed */
        test_now += 100;
        test_tick("r1");
    }
    test_tick("r2");                             /* different text: written */
    AC_INFO("another call site");                /* written */
    AC_ERROR("redis unavailable host=%s", "r1"); /* other level: written */
    test_now = 10999;
    test_tick("r1"); /* still within the second: suppressed */
    test_now = 11000;
    test_tick("r1"); /* written, with the count */
    test_tick("r1"); /* suppressed again */
    test_now = 13000;
    test_tick("r1"); /* written with 1 */
    test_now = 20000;
    test_tick("r1"); /* written, nothing to report */
    test_capture_end();

    const char *want[][2] = {{"warn", "redis unavailable host=r1"},
                             {"warn", "redis unavailable host=r2"},
                             {"info", "another call site"},
                             {"error", "redis unavailable host=r1"},
                             {"warn", "redis unavailable host=r1 (repeated 6 times)"},
                             {"warn", "redis unavailable host=r1 (repeated 1 times)"},
                             {"warn", "redis unavailable host=r1"}};
    size_t n = sizeof(want) / sizeof(want[0]);
    cr_assert_eq(test_n_lines, n, "%s", test_text);
    for (size_t i = 0; i < n; i++) {
        json_t *j = test_line_json(i);
        cr_assert_str_eq(test_field(j, "level"), want[i][0]);
        cr_assert_str_eq(test_field(j, "msg"), want[i][1]);
        json_decref(j);
    }
}

Test(log, same_call_site_different_text_not_limited)
{
    ac_log_set_clock(test_clock);
    test_now = 0;
    test_capture_begin();
    for (int p = 0; p < 12; p++) {
        AC_INFO("partition assigned topic=%s partition=%d", "orders", p);
    }
    test_capture_end();
    cr_assert_eq(test_n_lines, 12, "%s", test_text);
}

Test(log, many_distinct_messages_evict_quietly)
{
    ac_log_set_clock(test_clock);
    test_now = 0;
    test_capture_begin();
    for (int i = 0; i < 200; i++) { /* more than the table holds */
        AC_INFO("distinct %d", i);
    }
    AC_INFO("distinct %d", 199); /* still remembered: suppressed */
    test_capture_end();
    cr_assert_eq(test_n_lines, 200, "%s", test_text);
}

Test(log, filtered_lines_do_not_count_for_rate_limit)
{
    ac_log_set_clock(test_clock);
    test_now = 0;
    ac_log_set_level(AC_LOG_ERROR);
    test_capture_begin();
    test_tick("r1"); /* filtered by level */
    ac_log_set_level(AC_LOG_INFO);
    test_tick("r1"); /* the first that counts */
    test_capture_end();
    cr_assert_eq(test_n_lines, 1, "%s", test_text);
    json_t *j = test_line_json(0);
    cr_assert_str_eq(test_field(j, "msg"), "redis unavailable host=r1");
    json_decref(j);
}

Test(log, long_message_truncated)
{
    size_t n = 10000;
    char *big = malloc(n + 1);
    cr_assert_not_null(big);
    memset(big, '"', n); /* escaping doubles it */
    big[n] = '\0';
    test_capture_begin();
    AC_INFO("big=%s", big);
    test_capture_end();
    free(big);

    cr_assert_eq(test_n_lines, 1);
    json_t *j = test_line_json(0);
    const char *msg = test_field(j, "msg");
    cr_assert_eq(strncmp(msg, "big=\"\"", 6), 0);
    cr_assert_eq(strlen(msg), 4095);
    cr_assert_str_eq(msg + strlen(msg) - 3, "...");
    json_decref(j);
}

/* A message whose escapes overflow the line is cut between two escapes or
 * characters, never inside one: the line stays valid JSON. */
Test(log, escaped_message_cut_between_escapes)
{
    /* the first two grow past the line (6 bytes an escape) and are cut */
    static const char *fills[] = {"\x01", "\x01\x01\x01\x01\x01\xc3\xa9", "\xff",
                                  "\x01\xff\"\xc3\xa9"};
    for (size_t f = 0; f < sizeof(fills) / sizeof(fills[0]); f++) {
        char big[4000];
        size_t n = 0;
        size_t step = strlen(fills[f]);
        while (n + step < sizeof(big)) {
            memcpy(big + n, fills[f], step);
            n += step;
        }
        big[n] = '\0';
        for (size_t shift = 0; shift < 6; shift++) { /* every cut position */
            test_capture_begin();
            AC_INFO("%.*s%s", (int)shift, "xxxxx", big);
            test_capture_end();
            cr_assert_eq(test_n_lines, 1);
            json_t *j = test_line_json(0); /* asserts it parses */
            const char *msg = test_field(j, "msg");
            cr_assert_geq(strlen(msg), 1000, "fill %zu shift %zu", f, shift);
            if (f < 2) {
                cr_assert_lt(strlen(msg), shift + n, "fill %zu was not cut", f);
            }
            cr_assert_lt(strlen(test_lines[0]), 16384);
            json_decref(j);
        }
    }
}

Test(log, errno_preserved)
{
    test_capture_begin();
    errno = EAGAIN;
    AC_INFO("errno check");
    int saved = errno;
    test_capture_end();
    cr_assert_eq(saved, EAGAIN);
}

static atomic_llong test_atomic_now;

static int64_t test_advancing_clock(void)
{
    return atomic_fetch_add(&test_atomic_now, 2000);
}

static void *test_thread(void *arg)
{
    int id = *(int *)arg;
    for (int i = 0; i < 200; i++) {
        AC_INFO("thread=%d i=%d padding=%s", id, i,
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    }
    return NULL;
}

Test(log, threads_never_interleave)
{
    pthread_t th[4];
    int ids[4] = {0, 1, 2, 3};
    ac_log_set_clock(test_advancing_clock); /* every call is a second later: no limiting */
    test_capture_begin();
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(pthread_create(&th[i], NULL, test_thread, &ids[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
    }
    test_capture_end();
    cr_assert_eq(test_n_lines, 800);
    int seen[4] = {0};
    for (size_t i = 0; i < test_n_lines; i++) {
        json_t *j = test_line_json(i);
        int id = -1;
        int k = -1;
        cr_assert_eq(sscanf(test_field(j, "msg"), "thread=%d i=%d", &id, &k), 2);
        cr_assert(id >= 0 && id < 4);
        cr_assert_eq(k, seen[id], "per-thread order kept");
        seen[id]++;
        json_decref(j);
    }
}
