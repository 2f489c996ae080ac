/* Timer crash test (SPEC §6: no action lost, none twice under different ids):
 * aftercare-orders schedules >= 50,000 durable timers from 25,000 orders
 * (tests/data/playbooks/timer_crash.yaml: two per order, at its renewal date
 * and a day later), then aftercare-timers fires them on a sped-up clock
 * (a simulated week in about a minute) and is killed with SIGKILL at random
 * moments while it fires, and restarted each time.
 *
 * Afterwards the action ids on the action topic must be exactly the ids the
 * model computes (ac_action_id of every order x part): none missing, none
 * extra; repeats of an id are allowed (at-least-once) and counted. No timer
 * may be left pending and no action left in an outbox.
 *
 * The kill moments are random (seed printed; AC_TEST_SEED=<n> repeats a run)
 * and are reached by waiting on progress, not on time: each kill happens once
 * a randomly chosen number of actions has appeared on the topic, or of timers
 * has been claimed (left the due index). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "harness.h"
#include "processor.h"
#include "record.h"
#include "store.h"

#define N_CUSTOMERS 3000
#define N_EVENTS 25000
#define N_PARTS 2 /* actions per order: offsets 0 and 1d */
#define N_TIMERS (N_EVENTS * N_PARTS)
#define N_KILLS 6
#define RULE "renewal_notice"
#define PREFIX "tc"
#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)
/* A simulated week passes in 60 s of wall time. */
#define SPEED (7 * DAY_MS / 60000)
#define ACTION_PARTITIONS 8 /* the mock keeps <= 5 MiB per partition */

static struct h_env env;

static void setup(void)
{
    h_start(&env, 4);
}

static void teardown(void)
{
    h_stop(&env);
}

TestSuite(timer_crash, .init = setup, .fini = teardown, .timeout = 600);

static uint64_t rng_state;

static uint32_t rng(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

/* N_EVENTS orders of N_CUSTOMERS customers; renewal dates spread over the
 * week after epoch, starting an hour in (so that none is due before the
 * orders processor has scheduled it). Fills the sorted expected action ids. */
static struct ac_event *make_events(int64_t epoch, char **want, int64_t *last_due)
{
    struct ac_event *evs = calloc(N_EVENTS, sizeof(*evs));
    int per_customer[N_CUSTOMERS] = {0};
    cr_assert_not_null(evs);
    rng_state = 42; /* the input is fixed; only the kill moments are random */
    *last_due = 0;
    for (size_t i = 0; i < N_EVENTS; i++) {
        char id[32], cust[32];
        uint32_t c = rng() % N_CUSTOMERS;
        per_customer[c]++;
        snprintf(id, sizeof(id), "tev-%05zu", i);
        snprintf(cust, sizeof(cust), "cust-%04u", c);
        h_order_event(&evs[i], id, cust, "order_placed", epoch - DAY_MS + (int64_t)i * 1000,
                      500 + rng() % 40000, "coffee");
        int64_t span = 7 * DAY_MS - HOUR_MS;
        int64_t r = (int64_t)(((uint64_t)rng() << 31 | rng()) % (uint64_t)span);
        evs[i].u.order.renewal_at = epoch + HOUR_MS + r;
        if (evs[i].u.order.renewal_at + DAY_MS > *last_due) {
            *last_due = evs[i].u.order.renewal_at + DAY_MS;
        }
        for (int p = 0; p < N_PARTS; p++) {
            want[i * N_PARTS + (size_t)p] = malloc(AC_ACTION_ID_MAX);
            ac_action_id(want[i * N_PARTS + (size_t)p], RULE, id, p);
        }
    }
    for (int c = 0; c < N_CUSTOMERS; c++) {
        cr_assert_leq(per_customer[c] * N_PARTS, AC_TIMERS_MAX,
                      "customer %d would exceed the timer limit", c);
    }
    return evs;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Timers pending: the sum over every customer of the timers in its record
 * (the due index holds one entry per customer, not per timer), pipelined. */
static long long due_pending(void)
{
    long long sum = 0;
    char cust[32], key[128];
    struct ac_record rec;
    ac_record_init(&rec, "");
    for (unsigned c = 0; c < N_CUSTOMERS; c++) {
        snprintf(cust, sizeof(cust), "cust-%04u", c);
        snprintf(key, sizeof(key), "%s:{%u}:c:%s", PREFIX, ac_store_bucket(cust), cust);
        redisAppendCommand(env.redis, "GET %s", key);
    }
    for (unsigned c = 0; c < N_CUSTOMERS; c++) {
        redisReply *r = NULL;
        cr_assert_eq(redisGetReply(env.redis, (void **)&r), REDIS_OK, "redis: %s",
                     env.redis->errstr);
        if (r->type == REDIS_REPLY_STRING) {
            cr_assert_eq(ac_record_decode(&rec, "c", r->str, r->len), 0);
            sum += rec.timers.n;
        }
        freeReplyObject(r);
    }
    ac_record_fini(&rec);
    return sum;
}

/* Action records waiting in the outbox: in the calls listed in the
 * buckets' call indexes (a call's value: per customer its id, NUL, a 4-byte
 * big-endian length and its records of kind, id length, id, u32 length,
 * payload), pipelined. */
static long long undelivered_actions(void)
{
    long long sum = 0;
    char key[128];
    for (unsigned b = 0; b < AC_STORE_BUCKETS; b++) {
        snprintf(key, sizeof(key), "%s:{%u}:oz", PREFIX, b);
        redisAppendCommand(env.redis, "ZRANGE %s 0 -1", key);
    }
    size_t n_calls = 0;
    for (unsigned b = 0; b < AC_STORE_BUCKETS; b++) {
        redisReply *r = NULL;
        cr_assert_eq(redisGetReply(env.redis, (void **)&r), REDIS_OK, "redis: %s",
                     env.redis->errstr);
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
            snprintf(key, sizeof(key), "%s:{%u}:k:%s", PREFIX, b, r->element[i]->str);
            redisAppendCommand(env.redis, "GET %s", key);
            n_calls++;
        }
        freeReplyObject(r);
    }
    for (size_t c = 0; c < n_calls; c++) {
        redisReply *r = NULL;
        cr_assert_eq(redisGetReply(env.redis, (void **)&r), REDIS_OK, "redis: %s",
                     env.redis->errstr);
        if (r->type == REDIS_REPLY_STRING) {
            const char *p = r->str, *end = r->str + r->len;
            while (p < end) {
                const unsigned char *q = (const unsigned char *)p + strnlen(p, end - p) + 1;
                cr_assert((const char *)q + 4 <= end);
                size_t len = (size_t)q[0] << 24 | (size_t)q[1] << 16 | (size_t)q[2] << 8 | q[3];
                struct ac_buf bb = {.data = (char *)q + 4, .len = len, .cap = len};
                size_t cursor = 0;
                struct ac_outbox_rec rec;
                while (ac_store_records_next(&bb, &cursor, &rec)) {
                    sum += rec.kind == 'a';
                }
                cr_assert_eq(cursor, len, "a bundle read whole");
                p = (const char *)q + 4 + len;
            }
        }
        freeReplyObject(r);
    }
    return sum;
}

static void timers_config(int64_t epoch, char *path, size_t len)
{
    char extra[1024];
    snprintf(extra, sizeof(extra),
             "redis.prefix = " PREFIX "\nplaybook = %s/tests/data/playbooks/timer_crash.yaml\n"
             "topic.actions = " PREFIX ".actions\ntopic.signals = " PREFIX ".signals\n"
             "topic.dlq = " PREFIX ".dlq\n"
             /* small rounds, so kills land inside and between them */
             "timers.batch = 200\ntimers.idle_ms = 20\ntimers.sweep_ms = 500\n"
             "clock.speed = %lld\nclock.epoch_ms = %lld\n",
             h_source_dir(), (long long)SPEED, (long long)epoch);
    h_write_timers_config(&env, extra, path, len);
}

/* Marks the ids of records [from, r->n) found in want (sorted); returns how
 * many were newly marked. */
static size_t mark_seen(const struct h_reader *r, size_t from, char **want, unsigned char *seen)
{
    size_t fresh = 0;
    for (size_t i = from; i < r->n; i++) {
        const char *id = r->recs[i].id;
        char **hit = bsearch(&id, want, N_TIMERS, sizeof(char *), cmp_str);
        if (hit && !seen[hit - want]) {
            seen[hit - want] = 1;
            fresh++;
        }
    }
    return fresh;
}

Test(timer_crash, kill9_while_firing_loses_and_duplicates_nothing)
{
    /* The test's epoch: the wall clock at its start, whole seconds. */
    int64_t epoch = ac_clock_now(ac_clock_wall()) / 1000 * 1000;
    char **want = calloc(N_TIMERS, sizeof(char *));
    unsigned char *seen = calloc(N_TIMERS, 1);
    cr_assert(want && seen);
    int64_t last_due;
    struct ac_event *evs = make_events(epoch, want, &last_due);
    qsort(want, N_TIMERS, sizeof(char *), cmp_str);
    for (size_t i = 1; i < N_TIMERS; i++) {
        cr_assert_str_neq(want[i - 1], want[i], "the model's action ids are not distinct");
    }
    cr_assert_eq(ac_dev_kafka_topic(env.dk, PREFIX ".actions", ACTION_PARTITIONS), 0);
    h_produce_events(&env, "orders", evs, N_EVENTS);
    free(evs);
    cr_assert_eq(h_topic_end(&env, "orders"), N_EVENTS);

    /* Scheduling: the orders processor applies every order. */
    char conf[512], extra[1024];
    snprintf(extra, sizeof(extra),
             "redis.prefix = " PREFIX "\ngroup.id = " PREFIX "\n"
             "topic.actions = " PREFIX ".actions\ntopic.signals = " PREFIX ".signals\n"
             "topic.dlq = " PREFIX ".dlq\nbatch.size = 1000\n"
             "playbook = %s/tests/data/playbooks/timer_crash.yaml\n",
             h_source_dir());
    h_write_config(&env, "orders", extra, conf, sizeof(conf));
    int64_t t0 = ac_clock_mono_ms();
    pid_t pid = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, PREFIX, PREFIX, "orders", 120000), "orders run unfinished");
    cr_assert_eq(h_terminate(pid), 0);
    long long pending = due_pending(), hashed = pending;
    fprintf(stderr,
            "timer crash: %d orders applied in %.1f s: %lld timers in the records, "
            "%lld counted\n",
            N_EVENTS, (double)(ac_clock_mono_ms() - t0) / 1000.0, pending, hashed);
    cr_assert_eq(pending, N_TIMERS, "due index holds %lld timers, want %d", pending, N_TIMERS);
    cr_assert_eq(hashed, N_TIMERS, "timers hashes hold %lld timers, want %d", hashed, N_TIMERS);
    cr_assert_eq(h_topic_end(&env, PREFIX ".actions"), 0, "an action went out before its time");

    /* Firing: kill -9 at random moments, each once a random amount of work
     * (5 % to 95 %) is done. Even kills wait for that many actions on the
     * topic: they land after a round's produce, mostly in its ack. Odd kills
     * wait for that many timers to leave the due index: they land just after
     * a round's commit, mostly before its records were produced. */
    const char *seed_env = getenv("AC_TEST_SEED");
    uint64_t seed = seed_env ? strtoull(seed_env, NULL, 10) : (uint64_t)time(NULL);
    cr_log_info("timer crash test seed %llu (AC_TEST_SEED=%llu repeats it)",
                (unsigned long long)seed, (unsigned long long)seed);
    fprintf(stderr, "timer crash test seed %llu\n", (unsigned long long)seed);
    rng_state = seed;
    size_t targets[N_KILLS];
    for (int i = 0; i < N_KILLS; i++) {
        targets[i] = N_TIMERS / 20 + rng() % (N_TIMERS * 9 / 10);
    }
    for (int i = 1; i < N_KILLS; i++) { /* sort ascending */
        for (int j = i; j > 0 && targets[j - 1] > targets[j]; j--) {
            size_t t = targets[j];
            targets[j] = targets[j - 1];
            targets[j - 1] = t;
        }
    }
    timers_config(epoch, conf, sizeof(conf));
    struct h_reader rd;
    h_reader_open(&env, &rd, PREFIX ".actions");
    size_t marked = 0, read = 0;
    int mid_firing = 0, with_outbox = 0;
    for (int k = 0; k < N_KILLS; k++) {
        pid = h_spawn(&env, "timers", conf);
        if (k % 2 == 0) {
            h_reader_poll(&rd, targets[k], 120000);
        } else {
            int64_t until = ac_clock_mono_ms() + 120000;
            while (due_pending() > (long long)(N_TIMERS - targets[k]) &&
                   ac_clock_mono_ms() < until) {
                struct timespec ts = {0, 2 * 1000000L}; /* polling a condition */
                nanosleep(&ts, NULL);
            }
        }
        h_kill9(pid);
        h_reader_poll(&rd, rd.n + 100000, 100); /* what has arrived so far */
        double day = (double)((ac_clock_now(ac_clock_wall()) - epoch) * SPEED) / (double)DAY_MS;
        marked += mark_seen(&rd, read, want, seen);
        read = rd.n;
        /* What the dead process left: timers still pending, and actions
         * committed to an outbox but not (known to be) delivered. */
        long long left = due_pending(), undelivered = undelivered_actions();
        mid_firing += left > 0;
        with_outbox += undelivered > 0;
        fprintf(stderr,
                "kill %d (%s): simulated day %.2f, after %zu actions seen (%zu distinct), "
                "%lld timers pending, %lld actions in outboxes\n",
                k + 1, k % 2 == 0 ? "on actions seen" : "on timers claimed", day, rd.n, marked,
                left, undelivered);
    }
    cr_expect_geq(mid_firing, 5, "only %d kills landed while timers were pending", mid_firing);

    /* The last run: until every expected id arrived and no timer is left,
     * or 60 s after the last timer fell due (wall time). */
    int started = h_log_count(&env, "timers", "\"msg\":\"started");
    pid = h_spawn(&env, "timers", conf);
    int64_t deadline = ac_clock_mono_ms() +
                       (epoch + (last_due - epoch) / SPEED - ac_clock_now(ac_clock_wall())) + 60000;
    while (ac_clock_mono_ms() < deadline) {
        h_reader_poll(&rd, rd.n + 1000, 200);
        marked += mark_seen(&rd, read, want, seen);
        read = rd.n;
        if (marked == N_TIMERS && due_pending() == 0 && undelivered_actions() == 0) {
            break;
        }
    }
    /* everything may have been delivered before this run: SIGTERM only once
     * it installed its handlers */
    cr_assert(h_wait_log(&env, "timers", "\"msg\":\"started", started + 1, 60000),
              "the last run never started");
    cr_assert_eq(h_terminate(pid), 0, "aftercare-timers did not stop cleanly");
    h_reader_close(&rd);

    /* The whole topic against the model. */
    struct h_reader all;
    h_reader_read_all(&env, &all, PREFIX ".actions");
    char **got = h_reader_ids(&all);
    struct h_id_diff d;
    h_id_diff(want, N_TIMERS, got, all.n, &d);
    size_t shown = 0;
    for (size_t i = 0; i < N_TIMERS && shown < 5; i++) {
        if (!bsearch(&want[i], got, all.n, sizeof(char *), cmp_str)) {
            cr_log_error("action %s never arrived", want[i]);
            shown++;
        }
    }
    shown = 0;
    for (size_t j = 0; j < all.n && shown < 5; j++) {
        if (!bsearch(&got[j], want, N_TIMERS, sizeof(char *), cmp_str)) {
            cr_log_error("action %s is not in the model", got[j]);
            shown++;
        }
    }
    pending = due_pending();
    hashed = 0; /* timers live in the records only */
    long long undelivered = undelivered_actions();
    fprintf(stderr,
            "timer crash: %zu records, %zu of %d action ids, %zu missing, %zu extra, "
            "%zu repeats; %d of %d kills left timers pending, %d left actions in an outbox; "
            "after: %lld timers pending, %lld in hashes, %lld actions in outboxes\n",
            all.n, d.matched, N_TIMERS, d.missing, d.extra, d.repeats, mid_firing, N_KILLS,
            with_outbox, pending, hashed, undelivered);
    cr_expect_eq(d.missing, 0, "%zu actions lost", d.missing);
    cr_expect_eq(d.extra, 0, "%zu actions with ids not in the model", d.extra);
    cr_expect_eq(d.matched, N_TIMERS);
    cr_expect_eq(pending, 0, "%lld timers left in the due indexes", pending);
    cr_expect_eq(hashed, 0, "%lld timers left in the timers hashes", hashed);
    cr_expect_eq(undelivered, 0, "%lld actions left in outboxes", undelivered);
    free(got);
    h_reader_close(&all);
    for (size_t i = 0; i < N_TIMERS; i++) {
        free(want[i]);
    }
    free(want);
    free(seen);
}
