/* bench_timers.c — fire rate and lateness of aftercare-timers with more than a
 * million timers pending, against its in-process ceiling (bench/README.md).
 *
 * One run:
 *
 *   1. seeds the timers the production way: each customer's first order goes
 *      through ac_step_run in this process with the default playbook (about
 *      15 timers per order), at event times on an explicit clock; the
 *      customers fall in four groups by the time of their first timer, the
 *      one-day onboarding wave: a warm-up, a steady phase (--rate timers
 *      falling due per second for --steady-seconds), the burst (--burst
 *      timers all due at one instant X) and far customers (nothing due);
 *      then it publishes every input partition's event-time progress past X
 *      (the processors are caught up: nothing is held back);
 *   2. copies the keys to a second db for the ceiling;
 *   3. runs aftercare-timers on a sped-up clock (clock.speed, clock.epoch_ms)
 *      placed so that the steady phase starts a few seconds after it starts
 *      and X comes --gap-seconds after the steady phase, and polls its /metrics until
 *      every timer that fell due was decided;
 *   4. reads the action topic: each record's aftercare_id names its timer,
 *      its timestamp (CreateTime) the emission: lateness per phase in wall
 *      time, and the burst's fire rate;
 *   5. the ceiling: the same burst (with the steady phase's timers) decided
 *      in this process on the copy with ac_fire_round + ac_store_ack, the
 *      timer process's code without Kafka;
 *   6. a table and one JSON line. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "clock.h"
#include "err.h"
#include "fire.h"
#include "orders.h"
#include "rules.h"

#define BT_PREFIX "ac"
#define BT_TOPICS "bench.timers"
#define BT_WARMUP 200
#define BT_LEAD_MS 5000 /* wall time from the spawn to the steady phase */
#define BT_SEED_BATCH 1000
#define BT_PARTITIONS 16 /* of every input topic of the dev stack */

/* Figures of the previous core (bench/README.md), for the "previous" column. */
#define BT_PREV_FIRE "prev 7,133 (batch 1000)"
#define BT_PREV_CEILING "prev 14,070"
#define BT_PREV_BYTES "prev 12.3 KB per customer"

enum bt_phase { BT_STEADY = 0, BT_BURST, BT_WARM, BT_FAR };

struct bt_opts {
    long burst, rate, steady_s, gap_s, far, batch, idle_ms, speed, out_partitions, timeout, seed;
    const char *processor, *playbook, *wrap;
    int keep, skip_ceiling;
};

/* A timer that falls due during the run. */
struct bt_due {
    char id[AC_ACTION_ID_MAX];
    int64_t due; /* the process's (sped-up) clock */
    int phase;
};

struct bt_plan {
    long n_warm, n_steady, n_burst, n_far, customers;
    int64_t x;           /* the burst's due time (sim) */
    int64_t steady_at;   /* first steady due time (sim) */
    int64_t warm_at;     /* the warm-up's due time (sim) */
    long rate, speed;    /* steady timers per wall second; the clock's speed */
    struct bt_due *dues; /* sorted by id */
    long n_dues;
    long long pending; /* timers after seeding */
    double seed_s, mem_delta;
    long long rec_avg; /* MEMORY USAGE of sampled records */
    double due_bytes;
};

struct bt_run {
    int64_t epoch, burst_wall; /* wall ms of X */
    double burst_mono, end_mono;
    double fired;
    int steady_before_burst, warm_before_steady;
    struct ac_bench_cpu cpu;
    struct ac_bench_cmdstats cmds;
    /* from the records */
    long records, matched, repeats, unknown, n_late[3];
    int64_t *late[3];
    int64_t burst_last_ts;
    int truncated;
    int64_t decisions; /* records on the decisions topic */
    long long left;    /* timers pending after the run */
};

struct bt_ceiling {
    long decided, rounds, customers;
    double fire_s, ack_s, scan_ms, rate;
    double cpu_redis, cpu_self;
    struct ac_bench_cmdstats cmds;
};

/* --- 1. seeding ------------------------------------------------------------------------------ */

/* The customers' groups, in customer-number order: warm-up, steady, burst, far. */
static int bt_phase_of(const struct bt_plan *p, long cust)
{
    if (cust < p->n_warm) {
        return BT_WARM;
    }
    cust -= p->n_warm;
    if (cust < p->n_steady) {
        return BT_STEADY;
    }
    cust -= p->n_steady;
    return cust < p->n_burst ? BT_BURST : BT_FAR;
}

/* When the customer's first timer (the onboarding wave, one day after the
 * order) falls due, in sim time. */
static int64_t bt_first_due(const struct bt_plan *p, long cust)
{
    switch (bt_phase_of(p, cust)) {
    case BT_WARM: return p->warm_at;
    case BT_STEADY: return p->steady_at + (cust - p->n_warm) * 1000 * p->speed / p->rate;
    case BT_BURST: return p->x;
    default: return p->x + 3 * AC_BENCH_DAY_MS;
    }
}

static int bt_cmp_due(const void *a, const void *b)
{
    return strcmp(((const struct bt_due *)a)->id, ((const struct bt_due *)b)->id);
}

/* Collects the timers of a committed step that are due at or before X. */
static int bt_collect(struct bt_plan *p, struct ac_store_cust *custs, size_t n, long cap)
{
    for (size_t c = 0; c < n; c++) {
        const struct ac_store_cust *sc = &custs[c];
        long cust = strtol(sc->customer_id + 5, NULL, 10); /* "cust-NNNNNNN" */
        int due_here = 0;
        p->pending += sc->rec.timers.n;
        for (int k = 0; k < sc->rec.timers.n; k++) {
            const struct ac_timer *t = &sc->rec.timers.t[k];
            if (t->due > p->x) {
                continue;
            }
            if (p->n_dues >= cap) {
                ac_bench_err("more timers due than planned");
                return AC_ERR_INVALID;
            }
            struct bt_due *d = &p->dues[p->n_dues++];
            snprintf(d->id, sizeof(d->id), "%s", t->id);
            d->due = t->due;
            d->phase = bt_phase_of(p, cust);
            due_here++;
        }
        if (due_here != (bt_phase_of(p, cust) == BT_FAR ? 0 : 1)) {
            ac_bench_err("customer %s has %d timers due by X (want one: its onboarding wave)",
                         sc->customer_id, due_here);
            return AC_ERR_INVALID;
        }
    }
    return 0;
}

/* Every customer's first order, through the production step, at its own
 * event time: the timers are exactly what aftercare-orders would write. */
static int bt_seed(struct ac_bench_env *env, const struct bt_opts *o, struct bt_plan *p)
{
    char url[96], err[512], gen[40];
    int ret = AC_ERR_IO;
    struct ac_config *cfg = NULL;
    void *ctx = ac_bench_orders_ctx(o->playbook, &cfg);
    struct ac_store *st = NULL;
    struct ac_bench_stepper *bs = NULL;
    struct ac_clock clock;
    int64_t offsets[BT_PARTITIONS] = {0};
    uint64_t s = (uint64_t)o->seed;
    long cap = p->n_warm + p->n_steady + p->n_burst;
    p->dues = calloc((size_t)cap + 1, sizeof(*p->dues));
    ac_bench_redis_url(env, 0, url, sizeof(url));
    if (!ctx || !p->dues || !(st = ac_store_new(url, BT_PREFIX, err, sizeof(err))) ||
        ac_store_connect(st, err, sizeof(err)) != 0 || ac_store_generation(st, 1, gen) != 0) {
        ac_bench_err("seeding: %s", err);
        goto out;
    }
    ac_store_expect_generation(st, gen);
    bs = ac_bench_stepper_new(st, env->codec, &ac_orders_processor, ctx,
                              ac_bench_engine(o->playbook), BT_SEED_BATCH);
    if (!bs) {
        goto out;
    }
    double mem0 = ac_bench_info(env->rc, "memory", "used_memory");
    double t0 = ac_clock_mono_s();
    for (long from = 0; from < p->customers; from += BT_SEED_BATCH) {
        long to = from + BT_SEED_BATCH < p->customers ? from + BT_SEED_BATCH : p->customers;
        int64_t at = 0;
        int32_t parts[BT_PARTITIONS];
        int64_t next[BT_PARTITIONS];
        size_t n_pos = 0;
        for (long c = from; c < to; c++) {
            char id[32];
            struct ac_event *ev = ac_bench_stepper_event(bs);
            int32_t part = (int32_t)(c % BT_PARTITIONS);
            at = bt_first_due(p, c) - AC_BENCH_DAY_MS;
            snprintf(id, sizeof(id), "seed-%07ld", c);
            ac_bench_order_event(ev, c, id, AC_BENCH_PLACED, at, ac_bench_rng(&s), c);
            ac_bench_stepper_push(bs, part, offsets[part]++);
        }
        for (int32_t k = 0; k < BT_PARTITIONS; k++) {
            if (offsets[k] > 0) {
                parts[n_pos] = k;
                next[n_pos++] = offsets[k];
            }
        }
        /* the clock of the batch: its last event's time (they are close) */
        ac_clock_init_fixed(&clock, at);
        size_t n = 0;
        struct ac_store_cust *custs = NULL;
        if (ac_bench_stepper_run(bs, &clock, NULL) != 0) {
            goto out;
        }
        custs = ac_bench_stepper_custs(bs, &n);
        if (bt_collect(p, custs, n, cap) != 0 ||
            ac_bench_stepper_ack(bs, "bench-seed", AC_TOPIC_ORDERS, parts, next, n_pos) != 0) {
            goto out;
        }
        ac_bench_stepper_clear(bs);
        if ((from / BT_SEED_BATCH) % 50 == 49) {
            fprintf(stderr, "%s: seeded %ld of %ld customers (%lld timers)\n", ac_bench_prog, to,
                    p->customers, p->pending);
        }
    }
    p->seed_s = ac_clock_mono_s() - t0;
    /* The processors are caught up: every input partition's event-time
     * progress is past X, so aftercare-timers (timers.event_time, the
     * default) holds nothing back. */
    for (int topic = AC_TOPIC_ORDERS; topic < AC_TOPIC__N; topic++) {
        int32_t parts[BT_PARTITIONS];
        int64_t times[BT_PARTITIONS];
        for (int k = 0; k < BT_PARTITIONS; k++) {
            parts[k] = k;
            times[k] = p->x + AC_BENCH_DAY_MS;
        }
        if (ac_store_event_time_publish(st, ac_topic_name((enum ac_topic)topic), parts, times,
                                        BT_PARTITIONS) != 0) {
            ac_bench_err("cannot publish the inputs' event-time progress");
            goto out;
        }
    }
    p->mem_delta = ac_bench_info(env->rc, "memory", "used_memory") - mem0;
    qsort(p->dues, (size_t)p->n_dues, sizeof(*p->dues), bt_cmp_due);
    /* MEMORY USAGE of a few records and of the due index */
    char cid[AC_ID_MAX], key[256];
    long long sum = 0;
    for (long k = 0; k < 20; k++) {
        ac_bench_customer_id(cid, sizeof(cid), k * (p->customers / 20));
        ac_store_state_key(st, cid, key, sizeof(key));
        sum += ac_bench_memory_usage(env->rc, key);
    }
    p->rec_avg = sum / 20;
    for (unsigned b = 0; b < AC_STORE_BUCKETS; b++) {
        snprintf(key, sizeof(key), BT_PREFIX ":{%u}:due", b);
        p->due_bytes += (double)ac_bench_memory_usage(env->rc, key);
    }
    ret = 0;
out:
    ac_bench_stepper_destroy(bs);
    ac_store_destroy(st);
    if (ctx) {
        ac_orders_processor.fini(ctx);
    }
    ac_config_destroy(cfg);
    return ret;
}

/* Copies every key of db 0 into db `to` (COPY ... DB, pipelined). */
static int bt_copy_db(redisContext *rc, int to)
{
    long long cursor = 0, copied = 0;
    do {
        redisReply *r = ac_bench_redis(rc, "SCAN %lld COUNT 5000", cursor);
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            return AC_ERR_IO;
        }
        cursor = strtoll(r->element[0]->str, NULL, 10);
        const redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            redisAppendCommand(rc, "COPY %b %b DB %d REPLACE", keys->element[i]->str,
                               keys->element[i]->len, keys->element[i]->str, keys->element[i]->len,
                               to);
        }
        for (size_t i = 0; i < keys->elements; i++) {
            redisReply *c = NULL;
            if (redisGetReply(rc, (void **)&c) != REDIS_OK) {
                ac_bench_err("redis: %s", rc->errstr);
                freeReplyObject(r);
                return AC_ERR_IO;
            }
            copied += c->type == REDIS_REPLY_INTEGER && c->integer == 1;
            freeReplyObject(c);
        }
        freeReplyObject(r);
    } while (cursor != 0);
    return copied > 0 ? 0 : AC_ERR_IO;
}

/* Timers left in every record of db (GET pipelined, decoded). */
static long long bt_count_timers(redisContext *rc, const struct bt_plan *p)
{
    char cid[AC_ID_MAX];
    long long n = 0;
    struct ac_record rec;
    ac_record_init(&rec, "");
    for (long from = 0; from < p->customers; from += 1000) {
        long to = from + 1000 < p->customers ? from + 1000 : p->customers;
        for (long c = from; c < to; c++) {
            ac_bench_customer_id(cid, sizeof(cid), c);
            redisAppendCommand(rc, "GET " BT_PREFIX ":{%u}:c:%s", ac_store_bucket(cid), cid);
        }
        for (long c = from; c < to; c++) {
            redisReply *r = NULL;
            if (redisGetReply(rc, (void **)&r) != REDIS_OK) {
                ac_record_fini(&rec);
                return -1;
            }
            ac_bench_customer_id(cid, sizeof(cid), c);
            if (r->type == REDIS_REPLY_STRING && ac_record_decode(&rec, cid, r->str, r->len) == 0) {
                n += rec.timers.n;
            }
            freeReplyObject(r);
        }
    }
    ac_record_fini(&rec);
    return n;
}

/* --- 3. the process ------------------------------------------------------------------------- */

static int bt_run_process(struct ac_bench_env *env, const struct bt_opts *o,
                          const struct bt_plan *p, struct bt_run *run)
{
    char config[700], logpath[700], url[96];
    struct ac_bench_child ch;
    struct ac_bench_cpu cpu0;
    int port = ac_dev_free_port(), rc = AC_ERR_IO, burst_started = 0, warm_done = 0;
    int steady_done = 0;
    long total = p->n_dues;
    memset(&cpu0, 0, sizeof(cpu0));
    snprintf(config, sizeof(config), "%s/timers.conf", env->dir);
    snprintf(logpath, sizeof(logpath), "%s/timers.log", env->dir);
    ac_bench_redis_url(env, 0, url, sizeof(url));
    /* The process's clock: sim(wall) = epoch + (wall - epoch) * speed, with
     * sim(burst_wall) = X. */
    int64_t now = ac_clock_now(ac_clock_wall());
    int64_t steady_wall = now + BT_LEAD_MS;
    run->burst_wall = steady_wall + (o->steady_s + o->gap_s) * 1000;
    run->epoch = (run->burst_wall * o->speed - p->x) / (o->speed - 1);
    if (port <= 0 ||
        ac_bench_write_file(config,
                            "kafka.brokers = %s\nredis.url = %s\nredis.prefix = " BT_PREFIX "\n"
                            "schemas.dir = %s\nplaybook = %s\n"
                            "topic.actions = " BT_TOPICS ".actions\n"
                            "topic.signals = " BT_TOPICS ".signals\n"
                            "topic.dlq = " BT_TOPICS ".dlq\n"
                            "topic.decisions = " BT_TOPICS ".decisions\n"
                            "http.bind = 127.0.0.1\nhttp.port = %d\nlog.level = warn\n"
                            "timers.batch = %ld\ntimers.idle_ms = %ld\n"
                            "clock.speed = %ld\nclock.epoch_ms = %lld\n"
                            /* no processor runs: the sped-up clock alone decides */
                            "timers.event_time = false\n",
                            ac_dev_kafka_brokers(env->dk), url, AC_SCHEMA_DIR, o->playbook, port,
                            o->batch, o->idle_ms, o->speed, (long long)run->epoch) != 0) {
        return AC_ERR_IO;
    }
    if (ac_bench_child_start(&ch, o->processor, o->wrap, config, logpath) != 0) {
        return AC_ERR_IO;
    }
    double deadline = ch.spawned + (double)o->timeout, last_print = 0;
    for (;;) {
        if (ac_bench_child_check(&ch) != 0) {
            goto out;
        }
        double mono = ac_clock_mono_s();
        int64_t wall = ac_clock_now(ac_clock_wall());
        if (mono > deadline) {
            ac_bench_err("timeout: %.0f of %ld timers decided after %ld s; see %s", run->fired,
                         total, o->timeout, logpath);
            goto out;
        }
        if (!burst_started && wall >= run->burst_wall) {
            burst_started = 1;
            run->burst_mono = mono - (double)(wall - run->burst_wall) / 1000.0;
            ac_bench_cpu_sample(env->rc, ch.pid, &cpu0);
            freeReplyObject(ac_bench_redis(env->rc, "CONFIG RESETSTAT"));
        }
        char *m = ac_bench_http_metrics(port);
        if (m) {
            double f = ac_bench_metric(m, "aftercare_timers_fired_total");
            free(m);
            run->fired = f > 0 ? f : 0;
            if (!warm_done && run->fired >= (double)p->n_warm) {
                warm_done = 1;
                run->warm_before_steady = wall < steady_wall;
            }
            if (!steady_done && run->fired >= (double)(p->n_warm + p->n_steady)) {
                steady_done = 1;
                run->steady_before_burst = !burst_started;
            }
            if (burst_started && run->fired >= (double)total) {
                run->end_mono = ac_clock_mono_s();
                ac_bench_cpu_since(env->rc, ch.pid, &cpu0, &run->cpu);
                ac_bench_commandstats(env->rc, &run->cmds);
                break;
            }
        }
        if (mono - last_print >= 5) {
            last_print = mono;
            fprintf(stderr, "%s: %.0f of %ld timers decided\n", ac_bench_prog, run->fired, total);
        }
        ac_bench_sleep_ms(20); /* polling a condition: the process's counter */
    }
    rc = 0;
out:
    if (ac_bench_child_stop(&ch) != 0 && rc == 0) {
        rc = AC_ERR_IO;
    }
    return rc;
}

/* --- 4. the records ------------------------------------------------------------------------- */

static int bt_read_actions(struct ac_bench_env *env, const struct bt_opts *o,
                           const struct bt_plan *p, struct bt_run *run)
{
    int64_t end = 0;
    int parts = 0;
    int trunc_decisions = 0, dparts = 0;
    if (ac_bench_topic_marks(env, BT_TOPICS ".actions", &end, &run->truncated, &parts) != 0 ||
        ac_bench_topic_marks(env, BT_TOPICS ".decisions", &run->decisions, &trunc_decisions,
                             &dparts) != 0) {
        return AC_ERR_IO;
    }
    rd_kafka_t *rk = ac_bench_consumer(env, BT_TOPICS ".actions", parts);
    unsigned char *seen = calloc((size_t)p->n_dues + 1, 1);
    for (int k = 0; k < 3; k++) {
        run->late[k] = calloc((size_t)p->n_dues + 1, sizeof(int64_t));
    }
    if (!rk || !seen || !run->late[0] || !run->late[1] || !run->late[2]) {
        free(seen);
        if (rk) {
            rd_kafka_destroy(rk);
        }
        return AC_ERR_NOMEM;
    }
    double deadline = ac_clock_mono_s() + 120;
    while (run->records < end && ac_clock_mono_s() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            continue;
        }
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        run->records++;
        struct bt_due key;
        rd_kafka_headers_t *hdrs = NULL;
        const void *v = NULL;
        size_t vn = 0;
        memset(&key, 0, sizeof(key));
        if (rd_kafka_message_headers(m, &hdrs) == 0 &&
            rd_kafka_header_get_last(hdrs, "aftercare_id", &v, &vn) == 0 && v &&
            vn < sizeof(key.id)) {
            memcpy(key.id, v, vn);
        }
        struct bt_due *d = bsearch(&key, p->dues, (size_t)p->n_dues, sizeof(*p->dues), bt_cmp_due);
        if (!d) {
            run->unknown++;
        } else if (seen[d - p->dues]) {
            run->repeats++;
        } else {
            seen[d - p->dues] = 1;
            run->matched++;
            rd_kafka_timestamp_type_t tt;
            int64_t ts = rd_kafka_message_timestamp(m, &tt);
            /* the due time on the wall clock */
            int64_t due_wall = (d->due + (o->speed - 1) * run->epoch) / o->speed;
            if (d->phase <= BT_WARM) {
                run->late[d->phase][run->n_late[d->phase]++] = ts - due_wall;
            }
            if (d->phase == BT_BURST && ts > run->burst_last_ts) {
                run->burst_last_ts = ts;
            }
        }
        rd_kafka_message_destroy(m);
    }
    free(seen);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (run->records < end) {
        ac_bench_err("read %ld of %lld action records", run->records, (long long)end);
        return AC_ERR_IO;
    }
    return 0;
}

static int bt_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Quantile q of a sorted array, in seconds; -1 if empty. */
static double bt_q(const int64_t *v, long n, double q)
{
    if (n <= 0) {
        return -1;
    }
    return (double)v[(long)(q * (double)(n - 1) + 0.5)] / 1000.0;
}

/* --- 5. the ceiling ------------------------------------------------------------------------- */

static void bt_scan_found(const char *customer_id, int64_t due, void *opaque)
{
    (void)customer_id;
    (void)due;
    (void)opaque;
}

static int bt_ceiling(struct ac_bench_env *env, const struct bt_opts *o, const struct bt_plan *p,
                      struct bt_ceiling *c)
{
    char url[96], err[512], gen[40];
    int ret = AC_ERR_IO;
    struct ac_engine_opts eopts = {"customer-success"};
    struct ac_rules *rules = ac_rules_open(o->playbook, &eopts, err, sizeof(err));
    struct ac_store *st = NULL;
    struct ac_fire *f = NULL;
    struct ac_bench_cpu cpu0, cpu;
    ac_bench_redis_url(env, 1, url, sizeof(url));
    if (!rules || !(st = ac_store_new(url, BT_PREFIX, err, sizeof(err))) ||
        ac_store_connect(st, err, sizeof(err)) != 0 || ac_store_generation(st, 0, gen) != 0) {
        ac_bench_err("ceiling: %s", err);
        goto out;
    }
    ac_store_expect_generation(st, gen);
    if (!(f = ac_fire_new(st, ac_rules_engine(rules), env->codec, (size_t)o->batch))) {
        goto out;
    }
    /* the due scan alone, when nothing is due */
    double t = ac_clock_mono_s();
    for (int i = 0; i < 20; i++) {
        if (ac_store_due(st, p->warm_at - 1000, 0, (size_t)o->batch, bt_scan_found, NULL) < 0) {
            goto out;
        }
    }
    c->scan_ms = (ac_clock_mono_s() - t) * 1000.0 / 20;
    freeReplyObject(ac_bench_redis(env->rc, "SELECT 1"));
    freeReplyObject(ac_bench_redis(env->rc, "CONFIG RESETSTAT"));
    ac_bench_cpu_sample(env->rc, -1, &cpu0);
    unsigned start = 0;
    for (;;) {
        struct ac_store_cust *custs = NULL;
        size_t n = 0;
        t = ac_clock_mono_s();
        int d = ac_fire_round(f, p->x, start, &custs, &n);
        c->fire_s += ac_clock_mono_s() - t;
        start = (start + 97) % AC_STORE_BUCKETS; /* as timers.c moves on */
        if (d < 0) {
            ac_bench_err("ceiling: fire round failed: %s", ac_err_str(d));
            goto out;
        }
        if (d == 0) {
            break;
        }
        c->decided += d;
        c->customers += (long)n;
        c->rounds++;
        t = ac_clock_mono_s();
        if (ac_store_ack(st, custs, n, "aftercare-timers", AC_TOPIC_ORDERS, NULL, NULL, 0) != 0) {
            ac_bench_err("ceiling: ack failed");
            goto out;
        }
        c->ack_s += ac_clock_mono_s() - t;
    }
    ac_bench_cpu_since(env->rc, -1, &cpu0, &cpu);
    c->cpu_redis = cpu.redis;
    c->cpu_self = cpu.self;
    ac_bench_commandstats(env->rc, &c->cmds);
    c->rate = ac_bench_div((double)c->decided, c->fire_s + c->ack_s);
    ret = 0;
out:
    freeReplyObject(ac_bench_redis(env->rc, "SELECT 0"));
    ac_fire_destroy(f);
    ac_store_destroy(st);
    if (rules) {
        ac_rules_close(rules);
    }
    return ret;
}

/* --- main ----------------------------------------------------------------------------------- */

/* A Tuesday 10:00 UTC at least two days from now: the burst falls due on
 * the Wednesday at 10:00, outside quiet hours, on a business day. */
static int64_t bt_tuesday(void)
{
    int64_t day = ac_clock_now(ac_clock_wall()) / AC_BENCH_DAY_MS + 2;
    while ((day + 4) % 7 != 2) { /* 1970-01-01 was a Thursday (4) */
        day++;
    }
    return day * AC_BENCH_DAY_MS + 10 * 3600000LL;
}

int main(int argc, char **argv)
{
    struct bt_opts o = {
        .burst = 100000,
        .rate = 20000,
        .steady_s = 2,
        .gap_s = 8,
        .far = 0,
        .batch = 2000,
        .idle_ms = 100,
        .speed = 2,
        .out_partitions = 64,
        .timeout = 600,
        .seed = 7,
        .processor = AC_BENCH_TIMERS_EXE,
        .playbook = AC_PLAYBOOK_DEFAULT,
    };
    const struct ac_bench_opt opts[] = {
        {"--burst", AC_BENCH_OPT_LONG, &o.burst, 1, 10000000,
         "timers due at one instant (one customer each)"},
        {"--rate", AC_BENCH_OPT_LONG, &o.rate, 1, 1000000,
         "steady phase: timers falling due per wall second"},
        {"--steady-seconds", AC_BENCH_OPT_LONG, &o.steady_s, 0, 600, "steady phase length"},
        {"--gap-seconds", AC_BENCH_OPT_LONG, &o.gap_s, 1, 600,
         "from the steady phase's end to the burst (room to drain it)"},
        {"--far", AC_BENCH_OPT_LONG, &o.far, 0, 10000000,
         "more customers, none of whose timers falls due"},
        {"--batch", AC_BENCH_OPT_LONG, &o.batch, 1, 100000, "timers.batch"},
        {"--idle-ms", AC_BENCH_OPT_LONG, &o.idle_ms, 1, 60000, "timers.idle_ms"},
        {"--speed", AC_BENCH_OPT_LONG, &o.speed, 2, 1000, "clock.speed of aftercare-timers"},
        {"--out-partitions", AC_BENCH_OPT_LONG, &o.out_partitions, 1, AC_BENCH_MAX_PARTS,
         "partitions of the output topics"},
        {"--timeout", AC_BENCH_OPT_LONG, &o.timeout, 1, 86400, "seconds for the process run"},
        {"--seed", AC_BENCH_OPT_LONG, &o.seed, 0, LONG_MAX, "workload RNG seed"},
        {"--processor", AC_BENCH_OPT_STR, &o.processor, 0, 0, "aftercare-timers binary"},
        {"--playbook", AC_BENCH_OPT_STR, &o.playbook, 0, 0, "the playbook"},
        {"--wrap", AC_BENCH_OPT_STR, &o.wrap, 0, 0, "command prefix of the process (a profiler)"},
        {"--skip-ceiling", AC_BENCH_OPT_FLAG, &o.skip_ceiling, 0, 0, "no in-process ceiling"},
        {"--keep", AC_BENCH_OPT_FLAG, &o.keep, 0, 0, "keep the scratch directory"},
        {NULL, AC_BENCH_OPT_FLAG, NULL, 0, 0, NULL},
    };
    struct ac_bench_env env;
    struct bt_plan p;
    struct bt_run run;
    struct bt_ceiling ceil;
    int ok = 0;
    memset(&p, 0, sizeof(p));
    memset(&run, 0, sizeof(run));
    memset(&ceil, 0, sizeof(ceil));
    if (ac_bench_parse("bench_timers", opts, argc, argv) != 0) {
        return 2;
    }
    p.n_warm = BT_WARMUP;
    p.n_steady = o.rate * o.steady_s;
    p.n_burst = o.burst;
    p.n_far = o.far;
    p.customers = p.n_warm + p.n_steady + p.n_burst + p.n_far;
    p.x = bt_tuesday() + AC_BENCH_DAY_MS;
    p.rate = o.rate;
    p.speed = o.speed;
    p.steady_at = p.x - (o.steady_s + o.gap_s) * 1000 * o.speed;
    p.warm_at = p.steady_at - 2000 * o.speed;
    if (ac_bench_env_start(&env, BT_PARTITIONS, o.keep) != 0 ||
        ac_bench_out_topics(&env, BT_TOPICS, (int)o.out_partitions) != 0) {
        goto out;
    }

    /* 1, 2. */
    fprintf(stderr, "%s: seeding %ld customers' first orders through ac_step_run\n", ac_bench_prog,
            p.customers);
    if (bt_seed(&env, &o, &p) != 0) {
        goto out;
    }
    fprintf(stderr, "%s: %lld timers pending on %ld customers (%ld fall due) in %.1f s\n",
            ac_bench_prog, p.pending, p.customers, p.n_dues, p.seed_s);
    if (!o.skip_ceiling && bt_copy_db(env.rc, 1) != 0) {
        ac_bench_err("cannot copy the keys for the ceiling");
        goto out;
    }

    /* 3, 4. */
    fprintf(stderr, "%s: running aftercare-timers (clock.speed %ld)\n", ac_bench_prog, o.speed);
    if (bt_run_process(&env, &o, &p, &run) != 0 || bt_read_actions(&env, &o, &p, &run) != 0) {
        goto out;
    }
    run.left = bt_count_timers(env.rc, &p);
    for (int k = 0; k < 3; k++) {
        qsort(run.late[k], (size_t)run.n_late[k], sizeof(int64_t), bt_cmp_i64);
    }

    /* 5. */
    if (!o.skip_ceiling) {
        fprintf(stderr, "%s: ceiling (ac_fire_round + ac_store_ack in process, no Kafka)\n",
                ac_bench_prog);
        if (bt_ceiling(&env, &o, &p, &ceil) != 0) {
            goto out;
        }
    }

    /* 6. */
    double burst_s = (double)(run.burst_last_ts - run.burst_wall) / 1000.0;
    double fire_rate = ac_bench_div((double)run.n_late[BT_BURST], burst_s);
    double polled_s = run.end_mono - run.burst_mono;
    double polled_rate = ac_bench_div((double)p.n_burst, polled_s);
    int consistent = run.matched == p.n_dues && run.unknown == 0 && run.repeats == 0 &&
                     run.truncated == 0 && run.left == p.pending - p.n_dues;
    char note[160];
    printf("\naftercare-timers benchmark: %lld timers pending on %ld customers (about %.1f per "
           "first order, default playbook); %ld fall due: %d warm-up, %ld steady (%ld/s for %ld "
           "s), %ld burst; batch %ld, clock.speed %ld\n",
           p.pending, p.customers, ac_bench_div((double)p.pending, (double)p.customers), p.n_dues,
           BT_WARMUP, p.n_steady, o.rate, o.steady_s, p.n_burst, o.batch, o.speed);
    printf("seeding through ac_step_run: %.1f s (%.0f customers/s); Redis %.0f B per customer, "
           "%.0f B per pending timer; record MEMORY USAGE avg %lld B; due zsets %.1f B per "
           "customer\n",
           p.seed_s, ac_bench_div((double)p.customers, p.seed_s),
           ac_bench_div(p.mem_delta, (double)p.customers),
           ac_bench_div(p.mem_delta, (double)p.pending), p.rec_avg,
           ac_bench_div(p.due_bytes, (double)p.customers));
    ac_bench_table_head("fire rate");
    snprintf(note, sizeof(note), "%s; budget >= 50,000", BT_PREV_FIRE);
    ac_bench_table_row("aftercare-timers, burst (due -> last record)", fire_rate, "timers/s",
                       burst_s, note);
    ac_bench_table_row("aftercare-timers, burst (due -> counter, polled)", polled_rate, "timers/s",
                       polled_s, "");
    if (!o.skip_ceiling) {
        snprintf(note, sizeof(note), "%s; process/ceiling %.2f", BT_PREV_CEILING,
                 ac_bench_div(fire_rate, ceil.rate));
        ac_bench_table_row("ceiling: ac_fire_round + ac_store_ack, no Kafka", ceil.rate, "timers/s",
                           ceil.fire_s + ceil.ack_s, note);
        ac_bench_table_row("  the same, by CPU (bench + redis-server)",
                           ac_bench_div((double)ceil.decided, ceil.cpu_self + ceil.cpu_redis),
                           "timers/s", ceil.cpu_self + ceil.cpu_redis,
                           "what a quiet machine would give");
    }
    ac_bench_table_head("lateness (record timestamp - due, wall)");
    static const char *const names[3] = {"steady", "burst", "warm-up"};
    for (int k = 0; k < 3; k++) {
        char label[96];
        snprintf(label, sizeof(label), "%s: p50 / p99 / max (%ld timers)", names[k], run.n_late[k]);
        snprintf(note, sizeof(note), "p99 %.3f s, max %.3f s%s",
                 bt_q(run.late[k], run.n_late[k], 0.99), bt_q(run.late[k], run.n_late[k], 1.0),
                 k == BT_STEADY ? "; budget p99 <= 1 s at 20,000/s" : "");
        ac_bench_table_row(label, bt_q(run.late[k], run.n_late[k], 0.5), "s p50", -1, note);
    }
    printf("\nsteady phase %s before the burst; warm-up %s before the steady phase\n",
           run.steady_before_burst ? "decided" : "NOT decided",
           run.warm_before_steady ? "decided" : "NOT decided");
    printf("CPU during the burst (%.2f s): aftercare-timers %.2f s (%.0f%%), bench + mock "
           "cluster %.2f s (%.0f%%), redis-server %.2f s (%.0f%%)\n",
           polled_s, run.cpu.proc, 100 * ac_bench_div(run.cpu.proc, polled_s), run.cpu.self,
           100 * ac_bench_div(run.cpu.self, polled_s), run.cpu.redis,
           100 * ac_bench_div(run.cpu.redis, polled_s));
    printf("redis commands, process burst: %s\n", run.cmds.text);
    if (!o.skip_ceiling) {
        printf("ceiling: %ld timers of %ld customers in %ld rounds: %.2f s in ac_fire_round, "
               "%.2f s in ac_store_ack; due scan alone %.1f ms; CPU bench %.2f s, redis-server "
               "%.2f s\n",
               ceil.decided, ceil.customers, ceil.rounds, ceil.fire_s, ceil.ack_s, ceil.scan_ms,
               ceil.cpu_self, ceil.cpu_redis);
        printf("redis commands, ceiling: %s\n", ceil.cmds.text);
    }
    printf("outputs: %lld decision records; %ld action records, %ld of %ld timers matched, %ld "
           "repeats, %ld unknown, "
           "%d partitions truncated; %lld timers pending after (want %lld) -> %s\n",
           (long long)run.decisions, run.records, run.matched, p.n_dues, run.repeats, run.unknown,
           run.truncated, run.left, p.pending - p.n_dues,
           consistent ? "consistent" : "INCONSISTENT");
    struct ac_bench_json j;
    ac_bench_json_begin(&j, "timers");
    ac_bench_json_int(&j, "pending", p.pending);
    ac_bench_json_int(&j, "customers", p.customers);
    ac_bench_json_int(&j, "burst", p.n_burst);
    ac_bench_json_int(&j, "steady_rate", o.rate);
    ac_bench_json_int(&j, "steady_seconds", o.steady_s);
    ac_bench_json_int(&j, "batch", o.batch);
    ac_bench_json_int(&j, "speed", o.speed);
    ac_bench_json_num(&j, "fire_rate", fire_rate);
    ac_bench_json_num(&j, "fire_rate_polled", polled_rate);
    ac_bench_json_num(&j, "burst_seconds", burst_s);
    ac_bench_json_num(&j, "ceiling", ceil.rate);
    ac_bench_json_num(&j, "ratio_ceiling", ac_bench_div(fire_rate, ceil.rate));
    ac_bench_json_num(&j, "ceiling_by_cpu",
                      ac_bench_div((double)ceil.decided, ceil.cpu_self + ceil.cpu_redis));
    ac_bench_json_num(&j, "steady_p50_s", bt_q(run.late[BT_STEADY], run.n_late[BT_STEADY], 0.5));
    ac_bench_json_num(&j, "steady_p99_s", bt_q(run.late[BT_STEADY], run.n_late[BT_STEADY], 0.99));
    ac_bench_json_num(&j, "burst_p50_s", bt_q(run.late[BT_BURST], run.n_late[BT_BURST], 0.5));
    ac_bench_json_num(&j, "burst_p99_s", bt_q(run.late[BT_BURST], run.n_late[BT_BURST], 0.99));
    ac_bench_json_num(&j, "redis_bytes_per_customer",
                      ac_bench_div(p.mem_delta, (double)p.customers));
    ac_bench_json_num(&j, "redis_bytes_per_timer", ac_bench_div(p.mem_delta, (double)p.pending));
    ac_bench_json_num(&j, "cpu_proc_s", run.cpu.proc);
    ac_bench_json_num(&j, "cpu_mock_bench_s", run.cpu.self);
    ac_bench_json_num(&j, "cpu_redis_s", run.cpu.redis);
    ac_bench_json_raw(&j, "redis_cmds", run.cmds.json[0] ? run.cmds.json : "{}");
    ac_bench_json_raw(&j, "consistent", consistent ? "true" : "false");
    ac_bench_json_end(&j);
    ok = consistent;
out:
    free(p.dues);
    for (int k = 0; k < 3; k++) {
        free(run.late[k]);
    }
    ac_bench_env_stop(&env, ok);
    return ok ? 0 : 1;
}
