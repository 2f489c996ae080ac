/* bench_orders.c — aftercare-orders against its ceilings, and Redis bytes per
 * customer (bench/README.md).
 *
 * One run: the order workload is produced to `orders` on the mock cluster;
 * then, each on fresh Redis keys (its own db):
 *
 *   1. raw consume: a plain consumer reads every message (no processing);
 *   2. aftercare-orders with the default playbook (db 0), then with the
 *      one-rule playbook bench/one_rule.yaml (db 1): events/s from its first
 *      finished batch until its positions reach the input's end; Redis
 *      bytes per customer and MEMORY USAGE of sampled records and of the due
 *      index;
 *   3. the ceiling: the same events, batch by batch, through the production
 *      path in this process (ac_step_run: load -> apply -> commit, then
 *      ac_store_ack with positions) for each playbook (db 2, db 3): the
 *      whole step and ack are timed, not only the store calls;
 *   4. the long-lived customer: one customer fed 1,000 mixed events (each in
 *      its own step, its due timers fired before each, as aftercare-timers
 *      would), then MEMORY USAGE of its record (db 4);
 *   5. a table and one JSON line. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "clock.h"
#include "err.h"
#include "orders.h"
#include "rules.h"

#define BO_PREFIX "ac"
#define BO_LONG_ID "cust-long-lived"

/* Figures of the previous core (bench/README.md), for the "previous" column. */
#define BO_PREV_DEFAULT "prev 2,472"
#define BO_PREV_ONE_RULE "prev 7,033 (issue)"
#define BO_PREV_CEILING "prev 2,607 (store calls only)"
#define BO_PREV_BYTES "prev 11.8-12.3 KB"

struct bo_opts {
    long customers, events, partitions, out_partitions, batch_size, seed, timeout;
    long long_events, samples, spacing_ms;
    const char *processor, *wrap, *playbook, *one_rule;
    int keep, skip_one_rule, skip_ceiling, skip_long_lived;
};

/* One event in compact form; bo_event() expands it the same way every time. */
struct bo_ev {
    uint32_t cust;
    uint8_t type;
    uint64_t r;
};

struct bo_workload {
    const struct bo_opts *o;
    struct bo_ev *evs;
    long counts[AC_BENCH__N];
    int64_t base_ms;
    int64_t now_ms; /* the processors' clock when they start (bo_daytime) */
    int32_t *part;  /* where each event went */
    int64_t *off;
    struct ac_codec *codec;
    struct ac_event *ev;
    struct ac_buf b;
};

/* A processor run on its own db. */
struct bo_run {
    const char *name, *playbook;
    int db;
    struct ac_bench_window w;
    int64_t actions, signals, decisions;
    int truncated;           /* partitions of actions and signals the mock cut */
    int truncated_decisions; /* counts stay exact: they are high watermarks */
    double mem_before, mem_after;
    long long keys;
    double rec_avg, rec_len_avg; /* MEMORY USAGE / STRLEN of sampled records */
    long long rec_min, rec_max;
    double due_bytes, ob_bytes; /* all due zsets, all outbox indexes */
    long long outboxes;         /* outbox hashes left (should be 0) */
    /* the processor's own /metrics at the end: seconds per phase, batches */
    double ph_state, ph_produce, ph_ack, ph_batch, batches;
    int ok;
};

/* The same events through ac_step_run in this process. */
struct bo_ceiling {
    int db;
    double step_s, ack_s, commit_s, build_s;
    double rate; /* events / (step_s + ack_s) */
    long actions, signals, decisions, rejected;
    struct ac_apply_stats stats;
    double cpu_redis, cpu_self;
    double mem_delta;
    struct ac_bench_cmdstats cmds;
    int ok;
};

struct bo_long {
    long events, fire_steps;
    long long bytes, strlen_bytes;
    int timers, seen, recent, wm;
    struct ac_apply_stats stats;
    long actions;
    int ok;
};

/* --- the workload --------------------------------------------------------------------------- */

/* Every customer gets one event; the rest go to random customers; the
 * sequence is shuffled. Mix: 80 % order_placed (1-3 items), 10 %
 * cart_abandoned, 5 % order_cancelled, 5 % refund_issued. */
/* The latest Wednesday 12:00 UTC at or before now: outside every quiet hour
 * and inside the business hours of the default playbook. */
static int64_t bo_daytime(int64_t now)
{
    const int64_t week = 7 * AC_BENCH_DAY_MS;
    const int64_t wed_noon = 6 * AC_BENCH_DAY_MS + 12 * 3600000LL; /* 1970-01-07 12:00 UTC */
    return wed_noon + (now - wed_noon) / week * week;
}

static int bo_workload(struct bo_workload *w, const struct bo_opts *o)
{
    uint64_t s = (uint64_t)o->seed;
    w->o = o;
    w->evs = calloc((size_t)o->events, sizeof(*w->evs));
    w->part = calloc((size_t)o->events, sizeof(*w->part));
    w->off = calloc((size_t)o->events, sizeof(*w->off));
    w->ev = calloc(1, sizeof(*w->ev));
    ac_buf_init(&w->b);
    if (!w->evs || !w->part || !w->off || !w->ev) {
        return AC_ERR_NOMEM;
    }
    for (long i = 0; i < o->events; i++) {
        w->evs[i].cust =
            i < o->customers ? (uint32_t)i : (uint32_t)(ac_bench_rng(&s) % (uint64_t)o->customers);
    }
    for (long i = o->events - 1; i > 0; i--) {
        long j = (long)(ac_bench_rng(&s) % (uint64_t)(i + 1));
        uint32_t t = w->evs[i].cust;
        w->evs[i].cust = w->evs[j].cust;
        w->evs[j].cust = t;
    }
    for (long i = 0; i < o->events; i++) {
        unsigned r = (unsigned)(ac_bench_rng(&s) % 100);
        w->evs[i].type = r < 80   ? AC_BENCH_PLACED
                         : r < 90 ? AC_BENCH_CART
                         : r < 95 ? AC_BENCH_CANCELLED
                                  : AC_BENCH_REFUND;
        w->evs[i].r = ac_bench_rng(&s);
        w->counts[w->evs[i].type]++;
    }
    /* Event times: spacing_ms apart, the last a minute before the
     * processors' now. Every delay of the default playbook is 1 h or more,
     * so every timer a rule asks for is still pending when the processor and
     * the ceiling apply the events (both see the same outcome), as with live
     * traffic. That now is a fixed daytime hour (bo_daytime), not the wall
     * clock's: run in the quiet hours, the immediate messages would wait as
     * timers (fewer actions, bigger records) and the figures would depend on
     * the time of day. */
    w->now_ms = bo_daytime(ac_clock_now(ac_clock_wall()));
    w->base_ms = w->now_ms - o->events * o->spacing_ms - 60000;
    return 0;
}

static void bo_event(struct ac_event *ev, const struct bo_workload *w, long i)
{
    char id[32];
    const struct bo_ev *e = &w->evs[i];
    snprintf(id, sizeof(id), "ev-%09ld", i);
    ac_bench_order_event(ev, (long)e->cust, id, (enum ac_bench_order_type)e->type,
                         w->base_ms + i * w->o->spacing_ms, e->r,
                         e->type == AC_BENCH_PLACED ? i : i / 2);
}

static int bo_record(void *opaque, long i, const char **key, size_t *klen, const void **value,
                     size_t *vlen)
{
    struct bo_workload *w = opaque;
    memset(w->ev, 0, sizeof(*w->ev));
    bo_event(w->ev, w, i);
    ac_buf_reset(&w->b);
    if (ac_codec_encode_event(w->codec, w->ev, 1, &w->b) != 0) {
        return AC_ERR_INVALID;
    }
    *key = w->ev->customer_id;
    *klen = strlen(w->ev->customer_id);
    *value = w->b.data;
    *vlen = w->b.len;
    return 0;
}

/* --- Redis figures -------------------------------------------------------------------------- */

static void bo_select(redisContext *rc, int db)
{
    freeReplyObject(ac_bench_redis(rc, "SELECT %d", db));
}

/* MEMORY USAGE of sampled records, of the due zsets and outbox indexes. */
static void bo_sample_memory(redisContext *rc, const struct bo_opts *o, struct bo_run *run)
{
    char cid[AC_ID_MAX], key[256];
    long n = 0;
    double sum = 0, sum_len = 0;
    run->rec_min = -1;
    run->rec_max = 0;
    for (long k = 0; k < o->samples; k++) {
        ac_bench_customer_id(cid, sizeof(cid), k * (o->customers / o->samples));
        snprintf(key, sizeof(key), BO_PREFIX ":{%u}:c:%s", ac_store_bucket(cid), cid);
        long long b = ac_bench_memory_usage(rc, key);
        if (b <= 0) {
            continue;
        }
        n++;
        sum += (double)b;
        sum_len += (double)ac_bench_redis_int(rc, "STRLEN %s", key);
        run->rec_min = run->rec_min < 0 || b < run->rec_min ? b : run->rec_min;
        run->rec_max = b > run->rec_max ? b : run->rec_max;
    }
    run->rec_avg = ac_bench_div(sum, (double)n);
    run->rec_len_avg = ac_bench_div(sum_len, (double)n);
    run->due_bytes = 0;
    run->ob_bytes = 0;
    for (unsigned b = 0; b < AC_STORE_BUCKETS; b++) {
        snprintf(key, sizeof(key), BO_PREFIX ":{%u}:due", b);
        run->due_bytes += (double)ac_bench_memory_usage(rc, key);
        snprintf(key, sizeof(key), BO_PREFIX ":{%u}:ob", b);
        run->ob_bytes += (double)ac_bench_memory_usage(rc, key);
        snprintf(key, sizeof(key), BO_PREFIX ":{%u}:oc", b);
        run->ob_bytes += (double)ac_bench_memory_usage(rc, key);
        snprintf(key, sizeof(key), BO_PREFIX ":{%u}:oz", b);
        run->ob_bytes += (double)ac_bench_memory_usage(rc, key);
    }
    run->keys = ac_bench_redis_int(rc, "DBSIZE");
    /* outbox hashes and calls left behind: every ack should have removed them */
    run->outboxes = 0;
    long long cursor = 0;
    do {
        redisReply *r =
            ac_bench_redis(rc, "SCAN %lld MATCH " BO_PREFIX ":*:[ok]:* COUNT 10000", cursor);
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            break;
        }
        cursor = strtoll(r->element[0]->str, NULL, 10);
        run->outboxes += (long long)r->element[1]->elements;
        freeReplyObject(r);
    } while (cursor != 0);
}

/* --- the processor -------------------------------------------------------------------------- */

/* Seconds spent per batch phase, from aftercare_batch_phase_seconds. */
static void bo_phases(int port, struct bo_run *run)
{
    char *m = ac_bench_http_metrics(port);
    if (!m) {
        return;
    }
    run->ph_state = ac_bench_metric(m, "aftercare_batch_phase_seconds_sum{phase=\"state\"}");
    run->ph_produce = ac_bench_metric(m, "aftercare_batch_phase_seconds_sum{phase=\"produce\"}");
    run->ph_ack = ac_bench_metric(m, "aftercare_batch_phase_seconds_sum{phase=\"ack\"}");
    run->ph_batch = ac_bench_metric(m, "aftercare_batch_duration_seconds_sum");
    run->batches = ac_bench_metric(m, "aftercare_batches_total");
    free(m);
}

static int bo_run_processor(struct ac_bench_env *env, const struct bo_opts *o,
                            const struct bo_workload *w, const char *wrap, struct bo_run *run)
{
    char config[700], logpath[700], url[96], topics[64], group[64];
    struct ac_bench_child ch;
    int trunc_s = 0, parts = 0, port = ac_dev_free_port();
    snprintf(config, sizeof(config), "%s/orders-%s.conf", env->dir, run->name);
    snprintf(logpath, sizeof(logpath), "%s/orders-%s.log", env->dir, run->name);
    snprintf(topics, sizeof(topics), "bench.%s", run->name);
    snprintf(group, sizeof(group), "bench-orders-%s", run->name);
    ac_bench_redis_url(env, run->db, url, sizeof(url));
    if (ac_bench_out_topics(env, topics, (int)o->out_partitions) != 0 ||
        ac_bench_write_file(
            config,
            "kafka.brokers = %s\nredis.url = %s\nredis.prefix = " BO_PREFIX "\n"
            "group.id = %s\nschemas.dir = %s\nplaybook = %s\n"
            "http.bind = 127.0.0.1\nhttp.port = %d\n"
            "log.level = warn\nbatch.size = %ld\nbatch.ms = 20\nkafka.fetch.wait.max.ms = 10\n"
            "kafka.session.timeout.ms = 6000\nkafka.heartbeat.interval.ms = 500\n"
            "topic.actions = %s.actions\ntopic.signals = %s.signals\ntopic.dlq = %s.dlq\n"
            "topic.decisions = %s.decisions\n"
            /* its clock reads the workload's now when it starts (bo_daytime),
             * running twice as fast as the wall clock from there */
            "clock.speed = 2\nclock.epoch_ms = %lld\n",
            ac_dev_kafka_brokers(env->dk), url, group, AC_SCHEMA_DIR, run->playbook, port,
            o->batch_size, topics, topics, topics, topics,
            (long long)(2 * ac_clock_now(ac_clock_wall()) - w->now_ms)) != 0) {
        return AC_ERR_IO;
    }
    bo_select(env->rc, run->db);
    run->mem_before = ac_bench_info(env->rc, "memory", "used_memory");
    fprintf(stderr, "%s: aftercare-orders, %s playbook (the group join takes a few seconds)\n",
            ac_bench_prog, run->name);
    if (ac_bench_child_start(&ch, o->processor, wrap, config, logpath) != 0) {
        return AC_ERR_IO;
    }
    int rc = ac_bench_wait_positions(env->rc, &ch, BO_PREFIX, group, "orders", o->events,
                                     (int)o->timeout, &run->w);
    if (rc == 0) {
        char t[160];
        snprintf(t, sizeof(t), "%s.actions", topics);
        rc = ac_bench_topic_marks(env, t, &run->actions, &run->truncated, &parts);
        snprintf(t, sizeof(t), "%s.signals", topics);
        if (rc == 0) {
            rc = ac_bench_topic_marks(env, t, &run->signals, &trunc_s, &parts);
        }
        run->truncated += trunc_s;
        snprintf(t, sizeof(t), "%s.decisions", topics);
        if (rc == 0) {
            rc = ac_bench_topic_marks(env, t, &run->decisions, &run->truncated_decisions, &parts);
        }
        bo_phases(port, run);
    }
    if (ac_bench_child_stop(&ch) != 0 && rc == 0) {
        rc = AC_ERR_IO;
    }
    if (rc == 0) {
        run->mem_after = ac_bench_info(env->rc, "memory", "used_memory");
        bo_sample_memory(env->rc, o, run);
        run->ok = 1;
    }
    bo_select(env->rc, 0);
    return rc;
}

/* --- the ceiling ---------------------------------------------------------------------------- */

static int bo_ceiling(struct ac_bench_env *env, const struct bo_opts *o,
                      const struct bo_workload *w, const char *playbook, struct bo_ceiling *c)
{
    char url[96], err[512], gen[40];
    int ret = AC_ERR_IO;
    struct ac_config *cfg = NULL;
    void *ctx = ac_bench_orders_ctx(playbook, &cfg);
    struct ac_store *st = NULL;
    struct ac_bench_stepper *bs = NULL;
    int32_t parts[AC_BENCH_MAX_PARTS];
    int64_t offs[AC_BENCH_MAX_PARTS];
    struct ac_bench_cpu cpu0, cpu;
    ac_bench_redis_url(env, c->db, url, sizeof(url));
    if (!ctx || !(st = ac_store_new(url, BO_PREFIX, err, sizeof(err))) ||
        ac_store_connect(st, err, sizeof(err)) != 0 || ac_store_generation(st, 1, gen) != 0) {
        ac_bench_err("ceiling store: %s", ctx ? err : "no processor context");
        goto out;
    }
    ac_store_expect_generation(st, gen);
    bs = ac_bench_stepper_new(st, env->codec, &ac_orders_processor, ctx, ac_bench_engine(playbook),
                              (size_t)o->batch_size);
    if (!bs) {
        ac_bench_err("out of memory");
        goto out;
    }
    bo_select(env->rc, c->db);
    double mem0 = ac_bench_info(env->rc, "memory", "used_memory");
    freeReplyObject(ac_bench_redis(env->rc, "CONFIG RESETSTAT"));
    ac_bench_cpu_sample(env->rc, -1, &cpu0);
    for (long from = 0; from < o->events; from += o->batch_size) {
        long to = from + o->batch_size < o->events ? from + o->batch_size : o->events;
        size_t n_pos = 0;
        double t0 = ac_clock_mono_s();
        for (long i = from; i < to; i++) {
            struct ac_event *ev = ac_bench_stepper_event(bs);
            bo_event(ev, w, i);
            ac_bench_stepper_push(bs, w->part[i], w->off[i]);
            /* next offset to read per partition, as batch.c records it */
            size_t k = 0;
            while (k < n_pos && parts[k] != w->part[i]) {
                k++;
            }
            if (k == n_pos) {
                parts[n_pos] = w->part[i];
                offs[n_pos++] = w->off[i] + 1;
            } else if (w->off[i] + 1 > offs[k]) {
                offs[k] = w->off[i] + 1;
            }
        }
        double t1 = ac_clock_mono_s();
        struct ac_clock at;
        ac_clock_init_fixed(&at, w->now_ms); /* the processor's now (bo_daytime) */
        if (ac_bench_stepper_run(bs, &at, &c->stats) != 0) {
            goto out;
        }
        double t2 = ac_clock_mono_s();
        c->commit_s += ac_store_last_rtt(st);
        size_t n = 0;
        struct ac_store_cust *custs = ac_bench_stepper_custs(bs, &n);
        ac_bench_count_pending(custs, n, &c->actions, &c->signals, &c->decisions);
        if (ac_bench_stepper_ack(bs, "bench-ceiling", AC_TOPIC_ORDERS, parts, offs, n_pos) != 0) {
            goto out;
        }
        double t3 = ac_clock_mono_s();
        c->build_s += t1 - t0;
        c->step_s += t2 - t1;
        c->ack_s += t3 - t2;
        ac_bench_stepper_clear(bs);
    }
    ac_bench_cpu_since(env->rc, -1, &cpu0, &cpu);
    c->cpu_redis = cpu.redis;
    c->cpu_self = cpu.self;
    ac_bench_commandstats(env->rc, &c->cmds);
    c->mem_delta = ac_bench_info(env->rc, "memory", "used_memory") - mem0;
    c->rate = ac_bench_div((double)o->events, c->step_s + c->ack_s);
    c->rejected = ac_bench_stepper_rejected(bs);
    c->ok = 1;
    ret = 0;
out:
    bo_select(env->rc, 0);
    ac_bench_stepper_destroy(bs);
    ac_store_destroy(st);
    if (ctx) {
        ac_orders_processor.fini(ctx);
    }
    ac_config_destroy(cfg);
    return ret;
}

/* --- the long-lived customer ---------------------------------------------------------------- */

/* n mixed events over about three years, each in its own step at its own
 * time; before each, a timer step fires what fell due (aftercare-timers'
 * job). Mix: 55 % orders, 20 % carts, 8 % cancellations, 10 % refunds,
 * 7 % returns. */
static int bo_long_lived(struct ac_bench_env *env, const struct bo_opts *o, struct bo_long *l)
{
    char url[96], err[512], gen[40], key[256];
    int ret = AC_ERR_IO;
    struct ac_config *cfg = NULL;
    void *ctx = ac_bench_orders_ctx(o->playbook, &cfg);
    struct ac_engine_opts eopts = {"customer-success"};
    struct ac_rules *rules = ac_rules_open(o->playbook, &eopts, err, sizeof(err));
    struct ac_store *st = NULL;
    struct ac_bench_stepper *ev_step = NULL, *fire_step = NULL;
    struct ac_apply_stats fire_stats;
    struct ac_clock clock;
    uint64_t s = (uint64_t)o->seed ^ 0x10f3;
    memset(&fire_stats, 0, sizeof(fire_stats));
    ac_bench_redis_url(env, 4, url, sizeof(url));
    if (!ctx || !rules || !(st = ac_store_new(url, BO_PREFIX, err, sizeof(err))) ||
        ac_store_connect(st, err, sizeof(err)) != 0 || ac_store_generation(st, 1, gen) != 0) {
        ac_bench_err("long-lived customer: %s", err);
        goto out;
    }
    ac_store_expect_generation(st, gen);
    ev_step =
        ac_bench_stepper_new(st, env->codec, &ac_orders_processor, ctx, ac_rules_engine(rules), 1);
    fire_step = ac_bench_stepper_new(st, env->codec, NULL, NULL, ac_rules_engine(rules), 1);
    if (!ev_step || !fire_step) {
        goto out;
    }
    int64_t at = ac_clock_now(ac_clock_wall()) - 3 * 365 * AC_BENCH_DAY_MS;
    long last_order = -1;
    for (long i = 0; i < o->long_events; i++) {
        char id[48];
        at += (int64_t)(ac_bench_rng(&s) % (2 * AC_BENCH_DAY_MS)) + 60000;
        ac_clock_init_fixed(&clock, at);
        if (ac_bench_stepper_fire(fire_step, BO_LONG_ID) != 0 ||
            ac_bench_stepper_run(fire_step, &clock, &fire_stats) != 0 ||
            ac_bench_stepper_ack(fire_step, "bench-long", AC_TOPIC_ORDERS, NULL, NULL, 0) != 0) {
            goto out;
        }
        ac_bench_stepper_clear(fire_step);
        l->fire_steps++;
        unsigned r = (unsigned)(ac_bench_rng(&s) % 100);
        enum ac_bench_order_type type = r < 55   ? AC_BENCH_PLACED
                                        : r < 75 ? AC_BENCH_CART
                                        : r < 83 ? AC_BENCH_CANCELLED
                                        : r < 93 ? AC_BENCH_REFUND
                                                 : AC_BENCH_RETURN;
        if (type != AC_BENCH_PLACED && type != AC_BENCH_CART && last_order < 0) {
            type = AC_BENCH_PLACED; /* nothing to cancel yet */
        }
        if (type == AC_BENCH_PLACED) {
            last_order = i;
        }
        struct ac_event *ev = ac_bench_stepper_event(ev_step);
        snprintf(id, sizeof(id), "long-%06ld", i);
        ac_bench_order_event(ev, 0, id, type, at, ac_bench_rng(&s),
                             last_order < 0 ? i : last_order);
        snprintf(ev->customer_id, sizeof(ev->customer_id), "%s", BO_LONG_ID);
        ac_bench_stepper_push(ev_step, 0, i);
        int32_t part = 0;
        int64_t next = i + 1;
        long decisions = 0, signals = 0;
        if (ac_bench_stepper_run(ev_step, &clock, &l->stats) != 0) {
            goto out;
        }
        size_t n = 0;
        struct ac_store_cust *custs = ac_bench_stepper_custs(ev_step, &n);
        ac_bench_count_pending(custs, n, &l->actions, &signals, &decisions);
        if (ac_bench_stepper_ack(ev_step, "bench-long", AC_TOPIC_ORDERS, &part, &next, 1) != 0) {
            goto out;
        }
        ac_bench_stepper_clear(ev_step);
        l->events++;
    }
    l->stats.fired += fire_stats.fired;
    ac_store_state_key(st, BO_LONG_ID, key, sizeof(key));
    bo_select(env->rc, 4);
    l->bytes = ac_bench_memory_usage(env->rc, key);
    l->strlen_bytes = ac_bench_redis_int(env->rc, "STRLEN %s", key);
    /* what the record holds */
    redisReply *rep = ac_bench_redis(env->rc, "GET %s", key);
    if (rep->type == REDIS_REPLY_STRING) {
        struct ac_record rec;
        ac_record_init(&rec, BO_LONG_ID);
        if (ac_record_decode(&rec, BO_LONG_ID, rep->str, rep->len) == 0) {
            l->timers = rec.timers.n;
            l->seen = rec.n_seen;
            l->recent = rec.n_recent;
            l->wm = rec.n_wm;
        }
        ac_record_fini(&rec);
    }
    freeReplyObject(rep);
    bo_select(env->rc, 0);
    l->ok = 1;
    ret = 0;
out:
    ac_bench_stepper_destroy(ev_step);
    ac_bench_stepper_destroy(fire_step);
    ac_store_destroy(st);
    if (rules) {
        ac_rules_close(rules);
    }
    if (ctx) {
        ac_orders_processor.fini(ctx);
    }
    ac_config_destroy(cfg);
    return ret;
}

/* --- the report ----------------------------------------------------------------------------- */

static void bo_note_ratio(char *out, size_t len, const char *prev, double ratio_raw,
                          double ratio_ceiling)
{
    if (ratio_ceiling > 0) {
        snprintf(out, len, "%s; /raw %.3f, /ceiling %.2f", prev, ratio_raw, ratio_ceiling);
    } else {
        snprintf(out, len, "%s; /raw %.3f", prev, ratio_raw);
    }
}

static void bo_print_run(const struct bo_opts *o, const struct bo_run *r)
{
    if (!r->ok) {
        return;
    }
    double per_cust = ac_bench_div(r->mem_after - r->mem_before, (double)o->customers);
    printf("%s playbook: join %.1f s, %lld events done at the first observation; CPU in %.2f s: "
           "aftercare-orders %.2f s (%.0f%%), bench + mock cluster %.2f s (%.0f%%), "
           "redis-server %.2f s (%.0f%%)\n",
           r->name, r->w.join_s, (long long)r->w.done0, r->w.seconds, r->w.cpu.proc,
           100 * ac_bench_div(r->w.cpu.proc, r->w.seconds), r->w.cpu.self,
           100 * ac_bench_div(r->w.cpu.self, r->w.seconds), r->w.cpu.redis,
           100 * ac_bench_div(r->w.cpu.redis, r->w.seconds));
    printf("  its batches (whole run, /metrics): %.0f batches, %.1f ms each: state (load + apply + "
           "commit) %.1f ms, produce %.1f ms, ack %.1f ms\n",
           r->batches, 1000 * ac_bench_div(r->ph_batch, r->batches),
           1000 * ac_bench_div(r->ph_state, r->batches),
           1000 * ac_bench_div(r->ph_produce, r->batches),
           1000 * ac_bench_div(r->ph_ack, r->batches));
    printf("  redis commands: %s\n", r->w.cmds.text);
    printf("  Redis: %.0f B/customer (used_memory delta), %lld keys; record MEMORY USAGE avg "
           "%.0f B (min %lld, max %lld, STRLEN avg %.0f B, %ld samples); due zsets %.0f B/customer "
           "(%.0f%% of the delta); outbox indexes %.0f B; outbox hashes left %lld\n",
           per_cust, r->keys, r->rec_avg, r->rec_min, r->rec_max, r->rec_len_avg, o->samples,
           ac_bench_div(r->due_bytes, (double)o->customers),
           100 * ac_bench_div(r->due_bytes, r->mem_after - r->mem_before), r->ob_bytes,
           r->outboxes);
}

static void bo_json_run(struct ac_bench_json *j, const struct bo_opts *o, const char *p,
                        const struct bo_run *r, const struct bo_ceiling *c, double raw)
{
    char k[96];
#define BO_K(name) (snprintf(k, sizeof(k), "%s_%s", p, name), k)
    ac_bench_json_num(j, BO_K("events_per_s"), r->w.rate);
    ac_bench_json_num(j, BO_K("seconds"), r->w.seconds);
    ac_bench_json_num(j, BO_K("join_s"), r->w.join_s);
    ac_bench_json_num(j, BO_K("ceiling_events_per_s"), c->rate);
    ac_bench_json_num(j, BO_K("ceiling_step_s"), c->step_s);
    ac_bench_json_num(j, BO_K("ceiling_ack_s"), c->ack_s);
    ac_bench_json_num(j, BO_K("ceiling_cpu_bench_s"), c->cpu_self);
    ac_bench_json_num(j, BO_K("ceiling_cpu_redis_s"), c->cpu_redis);
    ac_bench_json_num(j, BO_K("ceiling_by_cpu_events_per_s"),
                      ac_bench_div((double)o->events, c->cpu_self + c->cpu_redis));
    ac_bench_json_num(j, BO_K("ratio_ceiling"), ac_bench_div(r->w.rate, c->rate));
    ac_bench_json_num(j, BO_K("ratio_raw"), ac_bench_div(r->w.rate, raw));
    ac_bench_json_num(j, BO_K("cpu_proc_s"), r->w.cpu.proc);
    ac_bench_json_num(j, BO_K("cpu_mock_bench_s"), r->w.cpu.self);
    ac_bench_json_num(j, BO_K("cpu_redis_s"), r->w.cpu.redis);
    ac_bench_json_num(j, BO_K("batches"), r->batches);
    ac_bench_json_num(j, BO_K("phase_state_s"), r->ph_state);
    ac_bench_json_num(j, BO_K("phase_produce_s"), r->ph_produce);
    ac_bench_json_num(j, BO_K("phase_ack_s"), r->ph_ack);
    ac_bench_json_num(j, BO_K("redis_bytes_per_customer"),
                      ac_bench_div(r->mem_after - r->mem_before, (double)o->customers));
    ac_bench_json_num(j, BO_K("record_memory_usage_avg"), r->rec_avg);
    ac_bench_json_num(j, BO_K("due_bytes_per_customer"),
                      ac_bench_div(r->due_bytes, (double)o->customers));
    ac_bench_json_int(j, BO_K("actions"), (long long)r->actions);
    ac_bench_json_int(j, BO_K("signals"), (long long)r->signals);
    ac_bench_json_int(j, BO_K("decisions"), (long long)r->decisions);
    ac_bench_json_int(j, BO_K("truncated_partitions"), r->truncated);
    ac_bench_json_int(j, BO_K("ceiling_actions"), c->actions);
    ac_bench_json_int(j, BO_K("ceiling_signals"), c->signals);
    ac_bench_json_int(j, BO_K("ceiling_decisions"), c->decisions);
    ac_bench_json_raw(j, BO_K("redis_cmds"), r->w.cmds.json[0] ? r->w.cmds.json : "{}");
    ac_bench_json_raw(j, BO_K("ceiling_redis_cmds"), c->cmds.json[0] ? c->cmds.json : "{}");
#undef BO_K
}

int main(int argc, char **argv)
{
    struct bo_opts o = {
        .customers = 100000,
        .events = 200000,
        .partitions = 16,
        .out_partitions = 64,
        .batch_size = 1000,
        .seed = 42,
        .timeout = 900,
        .long_events = 1000,
        .samples = 20,
        .spacing_ms = 5,
        .processor = AC_BENCH_ORDERS_EXE,
        .playbook = AC_PLAYBOOK_DEFAULT,
        .one_rule = AC_SOURCE_DIR "/bench/one_rule.yaml",
    };
    const struct ac_bench_opt opts[] = {
        {"--customers", AC_BENCH_OPT_LONG, &o.customers, 1, 10000000, "distinct customers"},
        {"--events", AC_BENCH_OPT_LONG, &o.events, 1, 100000000, "order events"},
        {"--partitions", AC_BENCH_OPT_LONG, &o.partitions, 1, AC_BENCH_MAX_PARTS,
         "partitions of orders"},
        {"--out-partitions", AC_BENCH_OPT_LONG, &o.out_partitions, 1, AC_BENCH_MAX_PARTS,
         "partitions of each output topic"},
        {"--batch-size", AC_BENCH_OPT_LONG, &o.batch_size, 1, 10000,
         "batch.size of the processor and of the ceiling's steps"},
        {"--seed", AC_BENCH_OPT_LONG, &o.seed, 0, LONG_MAX, "workload RNG seed"},
        {"--spacing-ms", AC_BENCH_OPT_LONG, &o.spacing_ms, 0, 3600000,
         "event time between two events (the last is a minute old)"},
        {"--timeout", AC_BENCH_OPT_LONG, &o.timeout, 1, 86400, "seconds per processor run"},
        {"--long-events", AC_BENCH_OPT_LONG, &o.long_events, 1, 100000,
         "events of the long-lived customer"},
        {"--samples", AC_BENCH_OPT_LONG, &o.samples, 1, 10000, "records sampled for MEMORY USAGE"},
        {"--processor", AC_BENCH_OPT_STR, &o.processor, 0, 0, "aftercare-orders binary"},
        {"--playbook", AC_BENCH_OPT_STR, &o.playbook, 0, 0, "the default playbook"},
        {"--one-rule", AC_BENCH_OPT_STR, &o.one_rule, 0, 0, "the one-rule playbook"},
        {"--wrap", AC_BENCH_OPT_STR, &o.wrap, 0, 0,
         "command prefix of the default-playbook processor run, e.g. a profiler"},
        {"--skip-one-rule", AC_BENCH_OPT_FLAG, &o.skip_one_rule, 0, 0, "no one-rule runs"},
        {"--skip-ceiling", AC_BENCH_OPT_FLAG, &o.skip_ceiling, 0, 0, "no in-process ceilings"},
        {"--skip-long-lived", AC_BENCH_OPT_FLAG, &o.skip_long_lived, 0, 0,
         "no long-lived customer"},
        {"--keep", AC_BENCH_OPT_FLAG, &o.keep, 0, 0, "keep the scratch directory"},
        {NULL, AC_BENCH_OPT_FLAG, NULL, 0, 0, NULL},
    };
    struct ac_bench_env env;
    struct bo_workload w;
    struct ac_bench_produced in;
    struct bo_run run[2];
    struct bo_ceiling ceil[2];
    struct bo_long lng;
    double raw = 0, raw_s = 0;
    int ok = 0;
    memset(&w, 0, sizeof(w));
    memset(run, 0, sizeof(run));
    memset(ceil, 0, sizeof(ceil));
    memset(&lng, 0, sizeof(lng));
    if (ac_bench_parse("bench_orders", opts, argc, argv) != 0) {
        return 2;
    }
    if (o.customers > o.events || o.samples > o.customers) {
        ac_bench_err("--customers must not exceed --events, nor --samples --customers");
        return 2;
    }
    run[0] = (struct bo_run){.name = "default", .playbook = o.playbook, .db = 0};
    run[1] = (struct bo_run){.name = "one_rule", .playbook = o.one_rule, .db = 1};
    ceil[0].db = 2;
    ceil[1].db = 3;
    if (ac_bench_env_start(&env, (int)o.partitions, o.keep) != 0 || bo_workload(&w, &o) != 0) {
        goto out;
    }
    w.codec = env.codec;

    fprintf(stderr, "%s: producing %ld events for %ld customers to %ld partitions\n", ac_bench_prog,
            o.events, o.customers, o.partitions);
    int64_t hi = 0;
    int trunc = 0, parts = 0;
    if (ac_bench_produce(&env, "orders", o.events, bo_record, &w, w.part, w.off, &in) != 0 ||
        ac_bench_topic_marks(&env, "orders", &hi, &trunc, &parts) != 0) {
        goto out;
    }
    if (hi != o.events || trunc != 0) {
        ac_bench_err("input incomplete: high watermarks %lld, %d partitions truncated (mock cap "
                     "%d B per partition; the fullest has %lld B): use more --partitions",
                     (long long)hi, trunc, AC_BENCH_MOCK_PART_BYTES, (long long)in.max_part_bytes);
        goto out;
    }
    fprintf(stderr, "%s: raw consume\n", ac_bench_prog);
    if (ac_bench_raw_consume(&env, "orders", (int)o.partitions, o.events, (int)o.timeout, &raw,
                             &raw_s) != 0) {
        goto out;
    }
    for (int k = 0; k < 2; k++) {
        if (k == 1 && o.skip_one_rule) {
            continue;
        }
        if (bo_run_processor(&env, &o, &w, k == 0 ? o.wrap : NULL, &run[k]) != 0) {
            goto out;
        }
    }
    for (int k = 0; k < 2 && !o.skip_ceiling; k++) {
        if (k == 1 && o.skip_one_rule) {
            continue;
        }
        fprintf(stderr, "%s: ceiling, %s playbook (ac_step_run + ac_store_ack in process)\n",
                ac_bench_prog, run[k].name);
        if (bo_ceiling(&env, &o, &w, run[k].playbook, &ceil[k]) != 0) {
            goto out;
        }
    }
    if (!o.skip_long_lived) {
        fprintf(stderr, "%s: long-lived customer (%ld events)\n", ac_bench_prog, o.long_events);
        if (bo_long_lived(&env, &o, &lng) != 0) {
            goto out;
        }
    }

    /* --- report --- */
    char note[160];
    printf("\naftercare-orders benchmark: %ld events (%ld order_placed, %ld cart_abandoned, "
           "%ld order_cancelled, %ld refund_issued), %ld customers\n",
           o.events, w.counts[AC_BENCH_PLACED], w.counts[AC_BENCH_CART],
           w.counts[AC_BENCH_CANCELLED], w.counts[AC_BENCH_REFUND], o.customers);
    printf("orders: %ld partitions, %.1f MiB (%.0f B/event, fullest partition %.2f MiB); "
           "batch.size %ld\n",
           o.partitions, (double)in.bytes / 1048576.0,
           ac_bench_div((double)in.bytes, (double)o.events), (double)in.max_part_bytes / 1048576.0,
           o.batch_size);
    ac_bench_table_head("throughput");
    ac_bench_table_row("raw consume (librdkafka, no processing)", raw, "msg/s", raw_s, "");
    for (int k = 0; k < 2; k++) {
        char label[96];
        if (!run[k].ok) {
            continue;
        }
        bo_note_ratio(note, sizeof(note), k == 0 ? BO_PREV_DEFAULT : BO_PREV_ONE_RULE,
                      ac_bench_div(run[k].w.rate, raw), ac_bench_div(run[k].w.rate, ceil[k].rate));
        snprintf(label, sizeof(label), "aftercare-orders, %s playbook", run[k].name);
        ac_bench_table_row(label, run[k].w.rate, "ev/s", run[k].w.seconds, note);
    }
    for (int k = 0; k < 2; k++) {
        char label[96];
        if (!ceil[k].ok) {
            continue;
        }
        snprintf(label, sizeof(label), "ceiling, %s: whole ac_step_run + ack", run[k].name);
        ac_bench_table_row(label, ceil[k].rate, "ev/s", ceil[k].step_s + ceil[k].ack_s,
                           k == 0 ? BO_PREV_CEILING : "");
        /* The ceiling is serial (one thread, one connection): on an idle
         * machine its time is the bench's CPU plus redis-server's. */
        snprintf(label, sizeof(label), "  the same, by CPU (bench + redis-server)");
        ac_bench_table_row(
            label, ac_bench_div((double)o.events, ceil[k].cpu_self + ceil[k].cpu_redis), "ev/s",
            ceil[k].cpu_self + ceil[k].cpu_redis, "what a quiet machine would give");
    }
    ac_bench_table_head("Redis memory");
    for (int k = 0; k < 2; k++) {
        char label[96];
        if (!run[k].ok) {
            continue;
        }
        snprintf(label, sizeof(label), "per customer, %s (used_memory delta)", run[k].name);
        ac_bench_table_row(label,
                           ac_bench_div(run[k].mem_after - run[k].mem_before, (double)o.customers),
                           "B", -1, k == 0 ? BO_PREV_BYTES "; budget <= 1 KB" : "budget <= 1 KB");
        snprintf(label, sizeof(label), "  record MEMORY USAGE, %s (avg of %ld)", run[k].name,
                 o.samples);
        ac_bench_table_row(label, run[k].rec_avg, "B", -1, "");
        snprintf(label, sizeof(label), "  due zsets per customer, %s", run[k].name);
        ac_bench_table_row(label, ac_bench_div(run[k].due_bytes, (double)o.customers), "B", -1, "");
    }
    if (lng.ok) {
        snprintf(note, sizeof(note), "budget <= 4 KB; %lld B encoded, %d timers", lng.strlen_bytes,
                 lng.timers);
        ac_bench_table_row("long-lived customer: record MEMORY USAGE", (double)lng.bytes, "B", -1,
                           note);
    }
    printf("\n");
    for (int k = 0; k < 2; k++) {
        bo_print_run(&o, &run[k]);
    }
    int consistent = 1;
    for (int k = 0; k < 2; k++) {
        const struct bo_ceiling *c = &ceil[k];
        if (!c->ok) {
            continue;
        }
        printf("ceiling, %s: %.2f s in ac_step_run (of which the commit pipelines %.2f s), "
               "%.2f s in ac_store_ack, %.2f s building events (not counted); CPU: bench %.2f s, "
               "redis-server %.2f s; %.0f B/customer; %ld applied, %ld replayed, %ld duplicates, "
               "%ld rejected\n",
               run[k].name, c->step_s, c->commit_s, c->ack_s, c->build_s, c->cpu_self, c->cpu_redis,
               ac_bench_div(c->mem_delta, (double)o.customers), c->stats.applied, c->stats.replayed,
               c->stats.duplicates, c->rejected);
        printf("  redis commands: %s\n", c->cmds.text);
        if (run[k].ok) {
            int same = run[k].actions == c->actions && run[k].signals == c->signals &&
                       run[k].decisions == c->decisions && run[k].truncated == 0;
            consistent &= same;
            printf("  outputs: the processor %lld actions, %lld signals, %lld decision records "
                   "(partitions "
                   "the mock cut: %d of actions and signals, %d of decisions); the ceiling %ld, "
                   "%ld, %ld -> %s\n",
                   (long long)run[k].actions, (long long)run[k].signals,
                   (long long)run[k].decisions, run[k].truncated, run[k].truncated_decisions,
                   c->actions, c->signals, c->decisions, same ? "equal" : "DIFFERENT");
        }
    }
    if (lng.ok) {
        printf("long-lived customer: %ld events (%ld applied), %ld fire steps (%ld timers "
               "decided), %ld actions; record: %d timers, %d event ids, %d decisions, "
               "%d watermarks\n",
               lng.events, lng.stats.applied, lng.fire_steps, lng.stats.fired, lng.actions,
               lng.timers, lng.seen, lng.recent, lng.wm);
    }
    struct ac_bench_json j;
    ac_bench_json_begin(&j, "orders");
    ac_bench_json_int(&j, "events", o.events);
    ac_bench_json_int(&j, "customers", o.customers);
    ac_bench_json_int(&j, "partitions", o.partitions);
    ac_bench_json_int(&j, "batch_size", o.batch_size);
    ac_bench_json_int(&j, "seed", o.seed);
    ac_bench_json_int(&j, "input_bytes", (long long)in.bytes);
    ac_bench_json_num(&j, "raw_consume_msgs_per_s", raw);
    bo_json_run(&j, &o, "default", &run[0], &ceil[0], raw);
    if (run[1].ok) {
        bo_json_run(&j, &o, "one_rule", &run[1], &ceil[1], raw);
    }
    if (lng.ok) {
        ac_bench_json_int(&j, "long_lived_events", lng.events);
        ac_bench_json_int(&j, "long_lived_record_bytes", lng.bytes);
        ac_bench_json_int(&j, "long_lived_record_strlen", lng.strlen_bytes);
        ac_bench_json_int(&j, "long_lived_timers", lng.timers);
    }
    ac_bench_json_raw(&j, "consistent", consistent ? "true" : "false");
    ac_bench_json_end(&j);
    ok = consistent;
out:
    free(w.evs);
    free(w.part);
    free(w.off);
    free(w.ev);
    ac_buf_fini(&w.b);
    ac_bench_env_stop(&env, ok);
    return ok ? 0 : 1;
}
