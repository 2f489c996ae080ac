/* Crash test (SPEC §6): kill -9 aftercare-orders at random moments while it
 * works through >= 10,000 order events, restart it each time, and compare
 * with a clean run over the same input: per-customer state must be equal and
 * the set of action ids on the action topic must be equal (repeats of an id
 * allowed; none missing, none extra).
 *
 * The kill moments are random (seed printed; AC_TEST_SEED=<n> repeats a run)
 * and are reached by waiting on progress, not on time: each kill happens once
 * a randomly chosen number of actions has appeared. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "customer.h"
#include "harness.h"
#include "record.h"
#include "store.h"

#define N_CUSTOMERS 1000
#define N_EVENTS 12000
#define N_KILLS 6
#define T0 1767225600000LL

static struct h_env env;

static void setup(void)
{
    h_start(&env, 4);
}

static void teardown(void)
{
    h_stop(&env);
}

TestSuite(crash, .init = setup, .fini = teardown, .timeout = 900);

static uint64_t rng_state;

static uint32_t rng(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

static struct ac_event *make_events(size_t *n_out)
{
    static const char *const types[] = {"order_placed",  "order_placed",     "order_placed",
                                        "order_placed",  "order_placed",     "order_placed",
                                        "order_placed",  "cart_abandoned",   "order_cancelled",
                                        "refund_issued", "return_requested", "contract_signed"};
    static const char *const families[] = {"coffee", "tea", "equipment", "cups", "filters"};
    struct ac_event *evs = calloc(N_EVENTS, sizeof(*evs));
    cr_assert_not_null(evs);
    rng_state = 42; /* the input is fixed; only the kill moments are random */
    for (size_t i = 0; i < N_EVENTS; i++) {
        if (i > 100 && rng() % 50 == 0) {
            evs[i] = evs[rng() % i]; /* an upstream duplicate: same event_id again */
            continue;
        }
        char id[32], cust[32];
        snprintf(id, sizeof(id), "ev-%zu", i);
        snprintf(cust, sizeof(cust), "cust-%u", rng() % N_CUSTOMERS);
        h_order_event(&evs[i], id, cust, types[rng() % 12], T0 + (int64_t)i * 60000,
                      500 + rng() % 40000, families[rng() % 5]);
    }
    *n_out = N_EVENTS;
    return evs;
}

static void config_for(const char *run, int batch, char *path, size_t len)
{
    char extra[512];
    snprintf(extra, sizeof(extra),
             "redis.prefix = %s\ngroup.id = %s\ntopic.actions = %s.actions\n"
             "topic.signals = %s.signals\ntopic.dlq = %s.dlq\nbatch.size = %d\n",
             run, run, run, run, run, batch);
    h_write_config(&env, run, extra, path, len);
    char topic[64];
    const char *kinds[] = {"actions", "signals", "dlq"};
    for (int i = 0; i < 3; i++) {
        snprintf(topic, sizeof(topic), "%s.%s", run, kinds[i]);
        ac_dev_kafka_topic(env.dk, topic, 4);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Distinct ids of a topic's records, sorted; *n_dup counts repeats. */
static char **read_ids(const char *topic, size_t *n_ids, size_t *n_dup)
{
    struct h_reader r;
    h_reader_read_all(&env, &r, topic);
    char **ids = calloc(r.n + 1, sizeof(char *));
    for (size_t i = 0; i < r.n; i++) {
        ids[i] = strdup(r.recs[i].id);
        cr_assert(ids[i][0] != '\0', "record without an id on %s", topic);
    }
    qsort(ids, r.n, sizeof(char *), cmp_str);
    size_t k = 0;
    *n_dup = 0;
    for (size_t i = 0; i < r.n; i++) {
        if (k > 0 && strcmp(ids[k - 1], ids[i]) == 0) {
            (*n_dup)++;
            free(ids[i]);
            continue;
        }
        ids[k++] = ids[i];
    }
    *n_ids = k;
    h_reader_close(&r);
    return ids;
}

static void compare_ids(const char *what, char **a, size_t na, char **b, size_t nb)
{
    size_t i = 0, j = 0, missing = 0, extra = 0;
    while (i < na || j < nb) {
        int c = i == na ? 1 : j == nb ? -1 : strcmp(a[i], b[j]);
        if (c == 0) {
            i++, j++;
        } else if (c < 0) {
            if (missing++ < 5) {
                cr_log_error("%s: id %s of the clean run is missing after crashes", what, a[i]);
            }
            i++;
        } else {
            if (extra++ < 5) {
                cr_log_error("%s: id %s appears only after crashes", what, b[j]);
            }
            j++;
        }
    }
    cr_expect_eq(missing, 0, "%s: %zu ids lost", what, missing);
    cr_expect_eq(extra, 0, "%s: %zu ids extra", what, extra);
}

/* The state of one customer hash, as the processors read it (absent field =
 * default), as JSON without the commit counter `v` (batching differs between
 * the runs), followed by its watermark fields. */
static void state_of(const char *key, const char *cid, struct ac_buf *out)
{
    struct ac_record rec;
    ac_record_init(&rec, cid);
    redisReply *r = h_redis(&env, "GET %s", key);
    cr_expect_eq(ac_record_decode(&rec, cid, r->str ? r->str : "", r->str ? r->len : 0), 0,
                 "%s decodes", key);
    freeReplyObject(r);
    ac_buf_reset(out);
    for (int k = 0; k < rec.n_wm; k++) {
        ac_buf_printf(out, "w:%d:%d=%lld;", rec.wm[k].topic, rec.wm[k].partition,
                      (long long)rec.wm[k].offset);
    }
    rec.state.version = 0;
    ac_customer_to_json(&rec.state, out);
    ac_record_fini(&rec);
}

/* Every customer of the clean run has the same state after the crashes. */
static size_t compare_states(void)
{
    size_t customers = 0, diffs = 0;
    char cursor[32] = "0", key2[300];
    struct ac_buf a, b;
    ac_buf_init(&a);
    ac_buf_init(&b);
    do {
        redisReply *r = h_redis(&env, "SCAN %s MATCH clean:{*}:c:* COUNT 1000", cursor);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            const char *key = r->element[1]->element[i]->str;
            const char *cid = strstr(key, "}:c:") + 4;
            snprintf(key2, sizeof(key2), "crash%s", key + strlen("clean"));
            state_of(key, cid, &a);
            state_of(key2, cid, &b);
            customers++;
            if (strcmp(a.data, b.data) != 0 && diffs++ < 5) {
                cr_log_error("state differs for %s:\n clean: %s\n crash: %s", cid, a.data, b.data);
            }
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    ac_buf_fini(&a);
    ac_buf_fini(&b);
    cr_expect_eq(diffs, 0, "%zu customers differ", diffs);
    return customers;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(ids[i]);
    }
    free(ids);
}

Test(crash, kill9_at_random_moments_loses_and_duplicates_nothing)
{
    size_t n;
    struct ac_event *evs = make_events(&n);
    h_produce_events(&env, "orders", evs, n);
    free(evs);
    int64_t input = h_topic_end(&env, "orders");
    cr_assert_eq(input, N_EVENTS);

    /* The clean run. */
    char conf[512];
    config_for("clean", 500, conf, sizeof(conf));
    pid_t pid = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "clean", "clean", "orders", 120000), "clean run unfinished");
    cr_assert_eq(h_terminate(pid), 0);
    int64_t clean_actions = h_topic_end(&env, "clean.actions");
    cr_assert_gt(clean_actions, N_EVENTS / 2);

    /* The crash run: small batches, so kills land between and inside them. */
    const char *seed_env = getenv("AC_TEST_SEED");
    uint64_t seed = seed_env ? strtoull(seed_env, NULL, 10) : (uint64_t)time(NULL);
    cr_log_info("crash test seed %llu (AC_TEST_SEED=%llu repeats it)", (unsigned long long)seed,
                (unsigned long long)seed);
    fprintf(stderr, "crash test seed %llu\n", (unsigned long long)seed);
    rng_state = seed;
    size_t targets[N_KILLS];
    for (int i = 0; i < N_KILLS; i++) {
        targets[i] = rng() % (size_t)clean_actions;
    }
    for (int i = 1; i < N_KILLS; i++) { /* sort ascending */
        for (int j = i; j > 0 && targets[j - 1] > targets[j]; j--) {
            size_t t = targets[j];
            targets[j] = targets[j - 1];
            targets[j - 1] = t;
        }
    }
    config_for("crash", 50, conf, sizeof(conf));
    struct h_reader seen;
    h_reader_open(&env, &seen, "crash.actions");
    int mid_work_kills = 0;
    for (int k = 0; k < N_KILLS; k++) {
        pid = h_spawn(&env, "orders", conf);
        h_reader_poll(&seen, targets[k], 120000);
        int64_t done = h_group_done(&env, "crash", "crash", "orders");
        h_kill9(pid);
        mid_work_kills += done < input;
        fprintf(stderr, "kill %d: after %zu actions seen, %lld/%lld events done\n", k + 1, seen.n,
                (long long)done, (long long)input);
    }
    h_reader_close(&seen);
    cr_expect_geq(mid_work_kills, 5, "only %d kills landed before the work was done",
                  mid_work_kills);
    /* The last kill may come after the work was done: then the positions are
     * at the end at once, and a SIGTERM sent before the process installed its
     * handlers would kill it. Wait for its "started". */
    int started = h_log_count(&env, "orders", "\"msg\":\"started");
    pid = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "crash", "crash", "orders", 180000), "crash run unfinished");
    cr_assert(h_wait_log(&env, "orders", "\"msg\":\"started", started + 1, 60000),
              "the last run never started");
    cr_assert_eq(h_terminate(pid), 0);

    size_t customers = compare_states();
    cr_expect_gt(customers, N_CUSTOMERS / 2);
    size_t na, nb, da, db;
    char **a = read_ids("clean.actions", &na, &da);
    char **b = read_ids("crash.actions", &nb, &db);
    cr_expect_eq(da, 0, "the clean run repeated %zu ids", da);
    compare_ids("actions", a, na, b, nb);
    fprintf(stderr, "crash test: %zu customers equal, %zu action ids equal, %zu repeats\n",
            customers, na, db);
    free_ids(a, na);
    free_ids(b, nb);
    a = read_ids("clean.signals", &na, &da);
    b = read_ids("crash.signals", &nb, &db);
    compare_ids("signals", a, na, b, nb);
    free_ids(a, na);
    free_ids(b, nb);
}
