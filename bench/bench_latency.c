/* bench_latency.c — from an event produced to its action on Kafka, at steady
 * rates, with the configuration a user gets by default (bench/README.md).
 *
 * Every rate gets a fresh dev stack (mock cluster, redis-server) and a fresh
 * aftercare-orders, configured with nothing but what points it at the stack
 * (brokers, Redis URL, /metrics port, log level) and a playbook, in the
 * environment `aftercare dev` gives its processors (devstack.h: the mock
 * broker needs a short fetch wait): batch.size, batch.ms and every other
 * librdkafka property keep their defaults. A "bare" run leaves that
 * environment out (librdkafka's 500 ms fetch wait). Then:
 *
 *   1. one event, its action awaited: the group join is over;
 *   2. a warm-up at 200 events/s (not measured);
 *   3. order_placed events of random customers at R per second for D
 *      seconds, each sent at its slot (t0 + i/R) with its Kafka timestamp
 *      (CreateTime) = the wall clock at produce(); a reader thread of this
 *      process consumes aftercare.actions and matches each action to its
 *      event by its aftercare_id header, ac_action_id("order_confirmation",
 *      event_id, 0). Latency = the action's CreateTime (the processor's
 *      librdkafka sets it at produce(): no timestamp is given) - the event's
 *      CreateTime, on the one machine's wall clock. Also: the event's own
 *      produce() -> ack, and when the reader got the action;
 *   4. over the rate, from the processor's /metrics: its own
 *      aftercare_processing_latency_seconds (read -> delivered) and batches;
 *   5. a table per playbook and one JSON line.
 *
 * Why a fresh stack per rate and linger.ms 5 for the events: the mock
 * cluster answers a fetch with at most one message set per partition, found
 * by walking the partition's log from its start (librdkafka 2.0.2,
 * rdkafka_mock.c: "FIXME: Maintain an index"). A long log of small message
 * sets makes the mock broker, not the processor, the bottleneck. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "clock.h"
#include "devstack.h"
#include "emit.h"
#include "err.h"

#define BL_RULE "order_confirmation"
#define BL_MAX_RATES 8
#define BL_WARM_RATE 200
/* The phases of a stack: the join event, the warm-up, the measured rate. */
#define BL_PH_JOIN 0
#define BL_PH_WARM 1
#define BL_PH_RATE 2
#define BL_PHASES 3
/* SPEC §8: event read -> action on Kafka, p99 <= 50 ms at 5,000 events/s. */
#define BL_BUDGET_MS 50.0
#define BL_BUDGET_RATE 5000

struct bl_opts {
    const char *rates, *processor, *playbook, *one_rule;
    long seconds, warmup_s, customers, partitions, linger_ms, seed, drain_s, join_s;
    int keep, skip_one_rule, skip_default, skip_bare;
    long rate[BL_MAX_RATES];
    int n_rates;
};

/* Every event of a run, known before the first is produced. */
struct bl_events {
    long n;
    long from[BL_PHASES + 1];      /* phase p: events [from[p], from[p + 1]) */
    char (*aid)[AC_ACTION_ID_MAX]; /* [n]: the id of the event's action */
    int64_t *ev_ts;                /* [n]: the event's CreateTime, ms */
    int64_t *act_ts;               /* [n]: the action's CreateTime, ms; -1: not seen */
    double *acked_ms;              /* [n]: the event's produce() -> the broker's ack */
    double *read_ms;               /* [n]: wall ms when the reader got the action */
    uint32_t *map;                 /* [map_size]: action id -> event index + 1 */
    size_t map_size;
    atomic_long matched[BL_PHASES];
    atomic_long unknown, repeats, not_create_time;
};

/* The reader thread: consumes the action topic, matches. */
struct bl_reader {
    rd_kafka_t *rk;
    struct bl_events *ev;
    atomic_int stop;
    pthread_t th;
    int started;
};

/* The processor's /metrics at one instant. */
struct bl_snap {
    struct ac_bench_hist lat;
    double batches, batch_s, state_s, produce_s, ack_s;
    double cpu, self, redis, mono;
};

/* One rate of one run. */
struct bl_row {
    long rate, events, matched;
    double sent_rate, behind_ms;      /* achieved send rate; worst lag behind the schedule */
    double p50, p90, p99, max;        /* ms: event CreateTime -> action CreateTime; missing = inf */
    double rd50, rd99;                /* ms: event CreateTime -> the reader got the action */
    double in50, in99;                /* ms: the event's produce() -> acknowledged by the broker */
    double ak50, ak99;                /* ms: the event acknowledged -> the action's CreateTime */
    double proc50, proc99, proc_mean; /* ms: the processor's histogram (bucket bounds) */
    double batches, per_batch, batch_ms, state_ms, produce_ms, ack_ms;
    double cpu;   /* the processor's CPU, share of one core */
    double self;  /* this process's: the mock broker, the producer, the reader */
    double redis; /* redis-server's */
    int done;     /* every action arrived within --drain-seconds */
    /* the stack's */
    double join_s;
    long unknown, repeats, not_create_time;
    int64_t dlq, actions_total;
    int ok;
};

/* A playbook and a configuration, one fresh stack per rate. */
struct bl_run {
    const char *playbook_name, *playbook;
    int bare; /* without the environment `aftercare dev` gives its processors */
    struct bl_row rows[BL_MAX_RATES];
    int ok;
};

/* What a run's phases share. */
struct bl_ctx {
    const struct bl_opts *o;
    struct ac_bench_env *env;
    struct bl_events *ev;
    struct ac_bench_child *ch;
    rd_kafka_t *producer;
    struct ac_event *event;
    struct ac_buf b;
    uint64_t rng;
    long failed; /* delivery reports with an error */
};

static double bl_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void bl_sleep_s(double s)
{
    if (s <= 0) {
        return;
    }
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    nanosleep(&ts, NULL);
}

/* --- options -------------------------------------------------------------------------------- */

static int bl_parse_rates(struct bl_opts *o)
{
    const char *p = o->rates;
    o->n_rates = 0;
    while (*p) {
        char *end = NULL;
        long r = strtol(p, &end, 10);
        if (end == p || r < 1 || r > 1000000 || o->n_rates >= BL_MAX_RATES ||
            (*end && *end != ',')) {
            ac_bench_err("--rates: expected up to %d comma-separated rates in [1, 1000000], got "
                         "'%s'",
                         BL_MAX_RATES, o->rates);
            return AC_ERR_INVALID;
        }
        o->rate[o->n_rates++] = r;
        p = *end ? end + 1 : end;
    }
    if (o->n_rates == 0) {
        ac_bench_err("--rates: no rate");
        return AC_ERR_INVALID;
    }
    return 0;
}

/* --- the events and their actions ----------------------------------------------------------- */

static uint64_t bl_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h;
}

static void bl_event_id(char *out, size_t len, long i)
{
    snprintf(out, len, "lat-%08ld", i);
}

static void bl_events_free(struct bl_events *ev)
{
    if (!ev) {
        return;
    }
    free(ev->aid);
    free(ev->ev_ts);
    free(ev->act_ts);
    free(ev->acked_ms);
    free(ev->read_ms);
    free(ev->map);
    free(ev);
}

/* Phases: one join event, the warm-up, rate * seconds measured events.
 * Every action id is computed and indexed here, before the reader starts. */
static struct bl_events *bl_events_new(const struct bl_opts *o, long rate)
{
    struct bl_events *ev = calloc(1, sizeof(*ev));
    if (!ev) {
        return NULL;
    }
    const long counts[BL_PHASES] = {1, BL_WARM_RATE * o->warmup_s, rate * o->seconds};
    for (int p = 0; p < BL_PHASES; p++) {
        ev->from[p] = ev->n;
        ev->n += counts[p];
        atomic_init(&ev->matched[p], 0);
    }
    ev->from[BL_PHASES] = ev->n;
    atomic_init(&ev->unknown, 0);
    atomic_init(&ev->repeats, 0);
    atomic_init(&ev->not_create_time, 0);
    ev->map_size = 1;
    while (ev->map_size < 2 * (size_t)ev->n) {
        ev->map_size *= 2;
    }
    ev->aid = calloc((size_t)ev->n, sizeof(*ev->aid));
    ev->ev_ts = calloc((size_t)ev->n, sizeof(*ev->ev_ts));
    ev->act_ts = calloc((size_t)ev->n, sizeof(*ev->act_ts));
    ev->acked_ms = calloc((size_t)ev->n, sizeof(*ev->acked_ms));
    ev->read_ms = calloc((size_t)ev->n, sizeof(*ev->read_ms));
    ev->map = calloc(ev->map_size, sizeof(*ev->map));
    if (!ev->aid || !ev->ev_ts || !ev->act_ts || !ev->acked_ms || !ev->read_ms || !ev->map) {
        bl_events_free(ev);
        return NULL;
    }
    for (long i = 0; i < ev->n; i++) {
        char id[32];
        bl_event_id(id, sizeof(id), i);
        ac_action_id(ev->aid[i], BL_RULE, id, 0);
        ev->act_ts[i] = -1;
        size_t mask = ev->map_size - 1;
        size_t h = (size_t)bl_hash(ev->aid[i]) & mask;
        while (ev->map[h]) {
            h = (h + 1) & mask;
        }
        ev->map[h] = (uint32_t)(i + 1);
    }
    return ev;
}

/* The event whose action has this id, or -1. */
static long bl_events_find(const struct bl_events *ev, const char *aid)
{
    size_t mask = ev->map_size - 1;
    for (size_t h = (size_t)bl_hash(aid) & mask; ev->map[h]; h = (h + 1) & mask) {
        long i = (long)ev->map[h] - 1;
        if (strcmp(ev->aid[i], aid) == 0) {
            return i;
        }
    }
    return -1;
}

static int bl_phase_of(const struct bl_events *ev, long i)
{
    int p = 0;
    while (p + 1 < BL_PHASES && i >= ev->from[p + 1]) {
        p++;
    }
    return p;
}

/* --- the reader ----------------------------------------------------------------------------- */

static void bl_match(struct bl_events *ev, const rd_kafka_message_t *m)
{
    char aid[AC_ACTION_ID_MAX];
    rd_kafka_headers_t *hdrs = NULL;
    const void *v = NULL;
    size_t vn = 0;
    if (rd_kafka_message_headers(m, &hdrs) != 0 ||
        rd_kafka_header_get_last(hdrs, "aftercare_id", &v, &vn) != 0 || !v || vn >= sizeof(aid)) {
        atomic_fetch_add(&ev->unknown, 1);
        return;
    }
    memcpy(aid, v, vn);
    aid[vn] = '\0';
    long i = bl_events_find(ev, aid);
    if (i < 0) {
        atomic_fetch_add(&ev->unknown, 1); /* another rule's action */
        return;
    }
    if (ev->act_ts[i] >= 0) {
        atomic_fetch_add(&ev->repeats, 1);
        return;
    }
    rd_kafka_timestamp_type_t tt;
    ev->act_ts[i] = rd_kafka_message_timestamp(m, &tt);
    ev->read_ms[i] = bl_wall_ms();
    if (tt != RD_KAFKA_TIMESTAMP_CREATE_TIME) {
        atomic_fetch_add(&ev->not_create_time, 1);
    }
    /* seq_cst: the main thread reads the arrays after joining this thread */
    atomic_fetch_add(&ev->matched[bl_phase_of(ev, i)], 1);
}

static void *bl_read(void *arg)
{
    struct bl_reader *r = arg;
    while (!atomic_load(&r->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 50);
        if (!m) {
            continue;
        }
        if (!m->err) {
            bl_match(r->ev, m);
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

static int bl_reader_start(struct bl_reader *r, struct ac_bench_env *env, int partitions,
                           struct bl_events *ev)
{
    memset(r, 0, sizeof(*r));
    atomic_init(&r->stop, 0);
    r->ev = ev;
    r->rk = ac_bench_consumer(env, "aftercare.actions", partitions);
    if (!r->rk) {
        return AC_ERR_IO;
    }
    if (pthread_create(&r->th, NULL, bl_read, r) != 0) {
        ac_bench_err("cannot start the reader thread");
        return AC_ERR_IO;
    }
    r->started = 1;
    return 0;
}

static void bl_reader_stop(struct bl_reader *r)
{
    if (r->started) {
        atomic_store(&r->stop, 1);
        pthread_join(r->th, NULL);
        r->started = 0;
    }
    if (r->rk) {
        rd_kafka_consumer_close(r->rk);
        rd_kafka_destroy(r->rk);
        r->rk = NULL;
    }
}

/* --- the producer --------------------------------------------------------------------------- */

static void bl_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct bl_ctx *c = opaque;
    long i = (long)(intptr_t)m->_private; /* the event's index (msg_opaque) */
    (void)rk;
    c->failed += m->err != 0;
    if (i >= 0 && i < c->ev->n) {
        /* librdkafka's own measure: produce() -> acknowledged, in us */
        c->ev->acked_ms[i] = (double)rd_kafka_message_latency(m) / 1e3;
    }
}

static rd_kafka_t *bl_producer(struct bl_ctx *c)
{
    char err[512], linger[24];
    snprintf(linger, sizeof(linger), "%ld", c->o->linger_ms);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", ac_dev_kafka_brokers(c->env->dk), err,
                          sizeof(err)) ||
        rd_kafka_conf_set(conf, "linger.ms", linger, err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "socket.nagle.disable", "true", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, sizeof(err))) {
        ac_bench_err("producer config: %s", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, bl_dr_cb);
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        ac_bench_err("producer: %s", err);
    }
    return rk;
}

/* Produces event i now: an order_placed of a random customer, its event time
 * and its Kafka timestamp the wall clock. */
static int bl_produce(struct bl_ctx *c, long i)
{
    char id[32];
    int64_t now = ac_clock_now(ac_clock_wall());
    long cust = (long)(ac_bench_rng(&c->rng) % (uint64_t)c->o->customers);
    bl_event_id(id, sizeof(id), i);
    memset(c->event, 0, sizeof(*c->event));
    ac_bench_order_event(c->event, cust, id, AC_BENCH_PLACED, now, ac_bench_rng(&c->rng), i);
    ac_buf_reset(&c->b);
    if (ac_codec_encode_event(c->env->codec, c->event, 1, &c->b) != 0) {
        ac_bench_err("cannot encode event %ld", i);
        return AC_ERR_INVALID;
    }
    c->ev->ev_ts[i] = now;
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            c->producer, RD_KAFKA_V_TOPIC("orders"),
            RD_KAFKA_V_KEY(c->event->customer_id, strlen(c->event->customer_id)),
            RD_KAFKA_V_VALUE(c->b.data, c->b.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_TIMESTAMP(now), RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(c->producer, 1);
            continue;
        }
        if (e) {
            ac_bench_err("produce: %s", rd_kafka_err2str(e));
            return AC_ERR_IO;
        }
        return 0;
    }
}

/* Sends the phase's events at `rate` per second from now, each at its slot;
 * a slot already past is sent at once (behind_ms: the worst lag). */
static int bl_send(struct bl_ctx *c, int phase, long rate, double *sent_rate, double *behind_ms)
{
    long from = c->ev->from[phase], n = c->ev->from[phase + 1] - from;
    double t0 = ac_clock_mono_s(), last = t0, behind = 0;
    for (long i = 0; i < n; i++) {
        double due = t0 + (double)i / (double)rate;
        double now = ac_clock_mono_s();
        if (due > now) {
            bl_sleep_s(due - now); /* pacing the producer, not waiting on a condition */
        } else if (now - due > behind) {
            behind = now - due;
        }
        if (bl_produce(c, from + i) != 0) {
            return AC_ERR_IO;
        }
        last = ac_clock_mono_s();
        rd_kafka_poll(c->producer, 0);
    }
    if (rd_kafka_flush(c->producer, 30000) != 0 || c->failed > 0) {
        ac_bench_err("event deliveries failed (%ld) or timed out", c->failed);
        return AC_ERR_IO;
    }
    if (sent_rate) {
        *sent_rate = n > 1 ? ac_bench_div((double)(n - 1), last - t0) : 0;
    }
    if (behind_ms) {
        *behind_ms = behind * 1e3;
    }
    return 0;
}

/* Until every action of the phase arrived. AC_ERR_TRANSIENT after timeout_s
 * (the rate is reported incomplete), AC_ERR_IO if the processor exited. */
static int bl_wait_actions(struct bl_ctx *c, int phase, double timeout_s)
{
    long n = c->ev->from[phase + 1] - c->ev->from[phase];
    double deadline = ac_clock_mono_s() + timeout_s;
    while (atomic_load(&c->ev->matched[phase]) < n) {
        if (ac_bench_child_check(c->ch) != 0) {
            return AC_ERR_IO;
        }
        if (ac_clock_mono_s() > deadline) {
            ac_bench_err("%ld of %ld actions after %.0f s; see %s",
                         atomic_load(&c->ev->matched[phase]), n, timeout_s, c->ch->log);
            return AC_ERR_TRANSIENT;
        }
        ac_bench_sleep_ms(10); /* polling a condition: the reader's count */
    }
    return 0;
}

/* --- the processor's /metrics --------------------------------------------------------------- */

static void bl_snap(redisContext *rc, int port, pid_t pid, struct bl_snap *s)
{
    memset(s, 0, sizeof(*s));
    s->mono = ac_clock_mono_s();
    s->cpu = ac_bench_cpu_pid(pid);
    s->self = ac_bench_cpu_self();
    s->redis = ac_bench_redis_cpu(rc);
    char *m = ac_bench_http_metrics(port);
    if (!m) {
        return;
    }
    ac_bench_metric_hist(m, "aftercare_processing_latency_seconds", "", &s->lat);
    s->batches = ac_bench_metric(m, "aftercare_batches_total");
    s->batch_s = ac_bench_metric(m, "aftercare_batch_duration_seconds_sum");
    s->state_s = ac_bench_metric(m, "aftercare_batch_phase_seconds_sum{phase=\"state\"}");
    s->produce_s = ac_bench_metric(m, "aftercare_batch_phase_seconds_sum{phase=\"produce\"}");
    s->ack_s = ac_bench_metric(m, "aftercare_batch_phase_seconds_sum{phase=\"ack\"}");
    free(m);
}

static void bl_row_proc(struct bl_row *r, const struct bl_snap *a, const struct bl_snap *b)
{
    double reads = b->lat.count - a->lat.count;
    r->proc50 = ac_bench_hist_quantile(&a->lat, &b->lat, 0.50) * 1e3;
    r->proc99 = ac_bench_hist_quantile(&a->lat, &b->lat, 0.99) * 1e3;
    r->proc_mean = ac_bench_div(b->lat.sum - a->lat.sum, reads) * 1e3;
    r->batches = b->batches - a->batches;
    r->per_batch = ac_bench_div(reads, r->batches);
    r->batch_ms = ac_bench_div(b->batch_s - a->batch_s, r->batches) * 1e3;
    r->state_ms = ac_bench_div(b->state_s - a->state_s, r->batches) * 1e3;
    r->produce_ms = ac_bench_div(b->produce_s - a->produce_s, r->batches) * 1e3;
    r->ack_ms = ac_bench_div(b->ack_s - a->ack_s, r->batches) * 1e3;
    r->cpu = ac_bench_div(b->cpu - a->cpu, b->mono - a->mono);
    r->self = ac_bench_div(b->self - a->self, b->mono - a->mono);
    r->redis = ac_bench_div(b->redis - a->redis, b->mono - a->mono);
}

/* --- the latencies -------------------------------------------------------------------------- */

static int bl_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest rank of sorted v[n]. */
static double bl_rank(const double *v, long n, double q)
{
    long k = (long)ceil(q * (double)n);
    return n > 0 ? v[k < 1 ? 0 : k - 1] : (double)NAN;
}

/* The row's latencies from the arrays (after the reader stopped); an
 * action that never came counts as infinitely late. */
static int bl_row_latency(const struct bl_events *ev, int phase, struct bl_row *r)
{
    long from = ev->from[phase], n = ev->from[phase + 1] - from;
    double *v = calloc((size_t)n + 1, sizeof(double));
    double *rd = calloc((size_t)n + 1, sizeof(double));
    double *in = calloc((size_t)n + 1, sizeof(double));
    double *ak = calloc((size_t)n + 1, sizeof(double));
    if (!v || !rd || !in || !ak) {
        free(v);
        free(rd);
        free(in);
        free(ak);
        return AC_ERR_NOMEM;
    }
    r->events = n;
    r->matched = 0;
    for (long i = 0; i < n; i++) {
        long e = from + i;
        in[i] = ev->acked_ms[e];
        if (ev->act_ts[e] < 0) {
            v[i] = rd[i] = ak[i] = INFINITY;
            continue;
        }
        r->matched++;
        v[i] = (double)(ev->act_ts[e] - ev->ev_ts[e]);
        rd[i] = ev->read_ms[e] - (double)ev->ev_ts[e];
        ak[i] = v[i] - ev->acked_ms[e];
    }
    qsort(v, (size_t)n, sizeof(double), bl_cmp_double);
    qsort(rd, (size_t)n, sizeof(double), bl_cmp_double);
    qsort(in, (size_t)n, sizeof(double), bl_cmp_double);
    qsort(ak, (size_t)n, sizeof(double), bl_cmp_double);
    r->p50 = bl_rank(v, n, 0.50);
    r->p90 = bl_rank(v, n, 0.90);
    r->p99 = bl_rank(v, n, 0.99);
    r->max = n > 0 ? v[n - 1] : (double)NAN;
    r->rd50 = bl_rank(rd, n, 0.50);
    r->rd99 = bl_rank(rd, n, 0.99);
    r->in50 = bl_rank(in, n, 0.50);
    r->in99 = bl_rank(in, n, 0.99);
    r->ak50 = bl_rank(ak, n, 0.50);
    r->ak99 = bl_rank(ak, n, 0.99);
    free(v);
    free(rd);
    free(in);
    free(ak);
    return 0;
}

/* --- one rate on a fresh stack ------------------------------------------------------------ */

/* A fresh dev stack and processor for one rate: the mock cluster answers a
 * fetch by walking its log from the start, so a log left by a previous rate
 * would slow it down. */
static int bl_stack(const struct bl_opts *o, const struct bl_run *run, struct bl_row *r)
{
    char config[700], logpath[700], url[96];
    struct ac_bench_env env;
    struct ac_bench_child ch = {.pid = -1};
    struct bl_reader reader;
    struct bl_ctx c;
    struct bl_snap before, after;
    int rc = AC_ERR_IO, port = ac_dev_free_port(), parts = 0, trunc = 0;
    memset(&reader, 0, sizeof(reader));
    memset(&c, 0, sizeof(c));
    c.o = o;
    c.env = &env;
    c.ch = &ch;
    c.rng = (uint64_t)o->seed;
    ac_buf_init(&c.b);
    fprintf(stderr, "%s: %s playbook, %s configuration, %ld events/s for %ld s\n", ac_bench_prog,
            run->playbook_name, run->bare ? "bare" : "default", r->rate, o->seconds);
    if (ac_bench_env_start(&env, (int)o->partitions, o->keep) != 0) {
        goto out;
    }
    if (!(c.ev = bl_events_new(o, r->rate)) || !(c.event = calloc(1, sizeof(*c.event)))) {
        ac_bench_err("out of memory");
        goto out;
    }
    /* The environment `aftercare dev` prints for its processors, or none. */
    if (run->bare) {
        unsetenv(AC_DEV_FETCH_WAIT_ENV);
    } else {
        setenv(AC_DEV_FETCH_WAIT_ENV, AC_DEV_FETCH_WAIT_MS, 1);
    }
    snprintf(config, sizeof(config), "%s/orders.conf", env.dir);
    snprintf(logpath, sizeof(logpath), "%s/orders.log", env.dir);
    ac_bench_redis_url(&env, 0, url, sizeof(url));
    /* Only what points it at the dev stack: every other key keeps its default. */
    if (ac_bench_write_file(config,
                            "kafka.brokers = %s\nredis.url = %s\nhttp.bind = 127.0.0.1\n"
                            "http.port = %d\nlog.level = warn\nplaybook = %s\n",
                            ac_dev_kafka_brokers(env.dk), url, port, run->playbook) != 0 ||
        bl_reader_start(&reader, &env, (int)o->partitions, c.ev) != 0 ||
        !(c.producer = bl_producer(&c)) ||
        ac_bench_child_start(&ch, o->processor, NULL, config, logpath) != 0) {
        goto out;
    }
    /* 1. the group join: one event, its action */
    if (bl_send(&c, BL_PH_JOIN, 1, NULL, NULL) != 0 ||
        bl_wait_actions(&c, BL_PH_JOIN, (double)o->join_s) != 0) {
        goto out;
    }
    r->join_s = ac_clock_mono_s() - ch.spawned;
    /* 2. warm-up */
    if (o->warmup_s > 0 && (bl_send(&c, BL_PH_WARM, BL_WARM_RATE, NULL, NULL) != 0 ||
                            bl_wait_actions(&c, BL_PH_WARM, (double)o->drain_s) != 0)) {
        goto out;
    }
    /* 3. the rate */
    bl_snap(env.rc, port, ch.pid, &before);
    if (bl_send(&c, BL_PH_RATE, r->rate, &r->sent_rate, &r->behind_ms) != 0) {
        goto out;
    }
    int w = bl_wait_actions(&c, BL_PH_RATE, (double)o->drain_s);
    if (w == AC_ERR_IO) {
        goto out;
    }
    r->done = w == 0;
    bl_snap(env.rc, port, ch.pid, &after);
    bl_row_proc(r, &before, &after);
    /* 4. what else came out */
    if (ac_bench_topic_marks(&env, "aftercare.dlq", &r->dlq, &trunc, &parts) != 0 ||
        ac_bench_topic_marks(&env, "aftercare.actions", &r->actions_total, &trunc, &parts) != 0) {
        goto out;
    }
    rc = 0;
out:
    bl_reader_stop(&reader);
    if (rc == 0) {
        rc = bl_row_latency(c.ev, BL_PH_RATE, r);
        r->unknown = atomic_load(&c.ev->unknown);
        r->repeats = atomic_load(&c.ev->repeats);
        r->not_create_time = atomic_load(&c.ev->not_create_time);
    }
    if (ch.pid > 0 && ac_bench_child_stop(&ch) != 0 && rc == 0) {
        rc = AC_ERR_IO;
    }
    if (c.producer) {
        rd_kafka_destroy(c.producer);
    }
    r->ok = rc == 0;
    ac_bench_env_stop(&env, rc == 0);
    bl_events_free(c.ev);
    free(c.event);
    ac_buf_fini(&c.b);
    return rc;
}

/* --- the report ----------------------------------------------------------------------------- */

/* "12.3", or "-" for a figure that is missing or infinite. */
static const char *bl_ms(char *out, size_t len, double v)
{
    if (!isfinite(v) || v < 0) {
        snprintf(out, len, "-");
    } else {
        snprintf(out, len, v < 10 ? "%.1f" : "%.0f", v);
    }
    return out;
}

static void bl_print_table(const struct bl_opts *o, const struct bl_run *runs, int n_runs,
                           const char *playbook_name)
{
    int any = 0;
    for (int i = 0; i < n_runs; i++) {
        any |= strcmp(runs[i].playbook_name, playbook_name) == 0;
    }
    if (!any) {
        return;
    }
    printf("\n%s playbook: event produced -> its %s action on Kafka, ms (%ld s per rate)\n",
           playbook_name, BL_RULE, o->seconds);
    printf("%-8s %5s %6s %6s %6s | %5s %5s %5s %5s | %5s | %5s %5s | %5s | %4s %4s %5s | %4s "
           "%5s | %4s %4s %5s | %s\n",
           "config", "rate", "sent/s", "events", "match", "p50", "p90", "p99", "max", "ack99",
           "fa50", "fa99", "rd99", "pr50", "pr99", "prAvg", "ev/b", "ms/b", "cpu", "mock", "redis",
           "p99<=50");
    for (int i = 0; i < n_runs; i++) {
        const struct bl_run *run = &runs[i];
        if (strcmp(run->playbook_name, playbook_name) != 0) {
            continue;
        }
        for (int k = 0; k < o->n_rates; k++) {
            const struct bl_row *r = &run->rows[k];
            char a[12][16];
            if (!r->ok) {
                printf("%-8s %5ld  failed (see above)\n", run->bare ? "bare" : "default", r->rate);
                continue;
            }
            printf("%-8s %5ld %6.0f %6ld %6ld | %5s %5s %5s %5s | %5s | %5s %5s | %5s | %4s %4s "
                   "%5s | %4.0f %5.1f | %3.0f%% %3.0f%%  %3.0f%% | %s%s\n",
                   run->bare ? "bare" : "default", r->rate, r->sent_rate, r->events, r->matched,
                   bl_ms(a[0], 16, r->p50), bl_ms(a[1], 16, r->p90), bl_ms(a[2], 16, r->p99),
                   bl_ms(a[3], 16, r->max), bl_ms(a[4], 16, r->in99), bl_ms(a[5], 16, r->ak50),
                   bl_ms(a[6], 16, r->ak99), bl_ms(a[7], 16, r->rd99), bl_ms(a[8], 16, r->proc50),
                   bl_ms(a[9], 16, r->proc99), bl_ms(a[10], 16, r->proc_mean), r->per_batch,
                   r->batch_ms, r->cpu * 100, r->self * 100, r->redis * 100,
                   r->p99 <= BL_BUDGET_MS ? "yes" : "no",
                   r->done ? "" : " (actions missing: counted as infinitely late)");
        }
    }
}

static void bl_print_details(const struct bl_opts *o, const struct bl_run *run)
{
    for (int k = 0; k < o->n_rates; k++) {
        const struct bl_row *r = &run->rows[k];
        if (!r->ok) {
            continue;
        }
        printf("  %s playbook, %s configuration, %ld/s: join %.1f s after the spawn; %.0f "
               "batches of %.1f events, %.1f ms each (state %.1f, produce %.1f, ack %.1f); the "
               "producer at worst %.1f ms behind its schedule; other rules' actions %ld, "
               "repeats %ld, not CreateTime %ld, aftercare.actions %lld records, aftercare.dlq "
               "%lld\n",
               run->playbook_name, run->bare ? "bare" : "default", r->rate, r->join_s, r->batches,
               r->per_batch, r->batch_ms, r->state_ms, r->produce_ms, r->ack_ms, r->behind_ms,
               r->unknown, r->repeats, r->not_create_time, (long long)r->actions_total,
               (long long)r->dlq);
    }
}

static void bl_json(const struct bl_opts *o, const struct bl_run *runs, int n_runs)
{
    struct ac_bench_json j;
    struct ac_buf rows;
    ac_buf_init(&rows);
    ac_buf_printf(&rows, "[");
    int first = 1;
    for (int i = 0; i < n_runs; i++) {
        const struct bl_run *run = &runs[i];
        for (int k = 0; k < o->n_rates; k++) {
            const struct bl_row *r = &run->rows[k];
            struct ac_bench_json x;
            if (!r->ok) {
                continue;
            }
            /* one object per row: the builder without its "bench" key */
            ac_buf_init(&x.b);
            ac_buf_printf(&x.b, "{\"playbook\":");
            ac_buf_json_str(&x.b, run->playbook_name);
            ac_bench_json_str(&x, "config", run->bare ? "bare" : "default");
            ac_bench_json_int(&x, "rate", r->rate);
            ac_bench_json_num(&x, "sent_rate", round(r->sent_rate));
            ac_bench_json_int(&x, "events", r->events);
            ac_bench_json_int(&x, "matched", r->matched);
            ac_bench_json_num(&x, "p50_ms", r->p50);
            ac_bench_json_num(&x, "p90_ms", r->p90);
            ac_bench_json_num(&x, "p99_ms", r->p99);
            ac_bench_json_num(&x, "max_ms", r->max);
            ac_bench_json_num(&x, "event_acked_p50_ms", round(r->in50 * 10) / 10);
            ac_bench_json_num(&x, "event_acked_p99_ms", round(r->in99 * 10) / 10);
            ac_bench_json_num(&x, "from_ack_p50_ms", round(r->ak50 * 10) / 10);
            ac_bench_json_num(&x, "from_ack_p99_ms", round(r->ak99 * 10) / 10);
            ac_bench_json_num(&x, "read_p50_ms", round(r->rd50 * 10) / 10);
            ac_bench_json_num(&x, "read_p99_ms", round(r->rd99 * 10) / 10);
            ac_bench_json_num(&x, "proc_p50_le_ms", r->proc50);
            ac_bench_json_num(&x, "proc_p99_le_ms", r->proc99);
            ac_bench_json_num(&x, "proc_mean_ms", round(r->proc_mean * 10) / 10);
            ac_bench_json_num(&x, "batches", r->batches);
            ac_bench_json_num(&x, "events_per_batch", round(r->per_batch * 10) / 10);
            ac_bench_json_num(&x, "batch_ms", round(r->batch_ms * 10) / 10);
            ac_bench_json_num(&x, "state_ms", round(r->state_ms * 10) / 10);
            ac_bench_json_num(&x, "produce_ms", round(r->produce_ms * 10) / 10);
            ac_bench_json_num(&x, "ack_ms", round(r->ack_ms * 10) / 10);
            ac_bench_json_num(&x, "cpu", round(r->cpu * 100) / 100);
            ac_bench_json_num(&x, "cpu_bench", round(r->self * 100) / 100);
            ac_bench_json_num(&x, "cpu_redis", round(r->redis * 100) / 100);
            ac_bench_json_num(&x, "join_s", round(r->join_s * 10) / 10);
            ac_bench_json_int(&x, "dlq", r->dlq);
            ac_bench_json_raw(&x, "complete", r->done ? "true" : "false");
            ac_bench_json_raw(&x, "p99_within_50ms", r->p99 <= BL_BUDGET_MS ? "true" : "false");
            ac_buf_printf(&x.b, "}");
            ac_buf_printf(&rows, "%s%.*s", first ? "" : ",", (int)x.b.len, x.b.data);
            ac_buf_fini(&x.b);
            first = 0;
        }
    }
    ac_buf_printf(&rows, "]");
    ac_buf_append(&rows, "", 1);
    ac_bench_json_begin(&j, "bench_latency");
    ac_bench_json_int(&j, "seconds_per_rate", o->seconds);
    ac_bench_json_int(&j, "warmup_seconds", o->warmup_s);
    ac_bench_json_int(&j, "customers", o->customers);
    ac_bench_json_int(&j, "partitions", o->partitions);
    ac_bench_json_int(&j, "producer_linger_ms", o->linger_ms);
    ac_bench_json_str(&j, "default_env", AC_DEV_FETCH_WAIT_ENV "=" AC_DEV_FETCH_WAIT_MS);
    ac_bench_json_raw(&j, "rows", rows.data);
    ac_bench_json_end(&j);
    ac_buf_fini(&rows);
}

int main(int argc, char **argv)
{
    struct bl_opts o = {
        .rates = "200,1000,5000",
        .seconds = 10,
        .warmup_s = 2,
        .customers = 100000,
        .partitions = 16,
        .linger_ms = 5,
        .seed = 42,
        .drain_s = 60,
        .join_s = 60,
        .processor = AC_BENCH_ORDERS_EXE,
        .playbook = AC_PLAYBOOK_DEFAULT,
        .one_rule = AC_SOURCE_DIR "/bench/one_rule.yaml",
    };
    const struct ac_bench_opt opts[] = {
        {"--rates", AC_BENCH_OPT_STR, &o.rates, 0, 0, "events/s, comma-separated"},
        {"--seconds", AC_BENCH_OPT_LONG, &o.seconds, 1, 3600, "seconds per rate"},
        {"--warmup-seconds", AC_BENCH_OPT_LONG, &o.warmup_s, 0, 600,
         "unmeasured seconds at 200 events/s after the join"},
        {"--customers", AC_BENCH_OPT_LONG, &o.customers, 1, 100000000,
         "customers the events are drawn from"},
        {"--partitions", AC_BENCH_OPT_LONG, &o.partitions, 1, AC_BENCH_MAX_PARTS,
         "partitions of every topic of the dev stack"},
        {"--linger-ms", AC_BENCH_OPT_LONG, &o.linger_ms, 0, 1000,
         "linger.ms of the bench's event producer (its wait is in the latency)"},
        {"--seed", AC_BENCH_OPT_LONG, &o.seed, 0, 1000000000, "customer RNG seed"},
        {"--drain-seconds", AC_BENCH_OPT_LONG, &o.drain_s, 1, 3600,
         "wait for a rate's last actions at most this long"},
        {"--join-seconds", AC_BENCH_OPT_LONG, &o.join_s, 1, 3600,
         "wait for the first action (group join) at most this long"},
        {"--processor", AC_BENCH_OPT_STR, &o.processor, 0, 0, "aftercare-orders binary"},
        {"--playbook", AC_BENCH_OPT_STR, &o.playbook, 0, 0, "the default playbook"},
        {"--one-rule", AC_BENCH_OPT_STR, &o.one_rule, 0, 0, "the one-rule playbook"},
        {"--skip-one-rule", AC_BENCH_OPT_FLAG, &o.skip_one_rule, 0, 0, "no one-rule runs"},
        {"--skip-default", AC_BENCH_OPT_FLAG, &o.skip_default, 0, 0, "no default-playbook runs"},
        {"--skip-bare", AC_BENCH_OPT_FLAG, &o.skip_bare, 0, 0,
         "no runs without " AC_DEV_FETCH_WAIT_ENV " (librdkafka's 500 ms fetch wait)"},
        {"--keep", AC_BENCH_OPT_FLAG, &o.keep, 0, 0, "keep the scratch directories"},
        {NULL, AC_BENCH_OPT_FLAG, NULL, 0, 0, NULL},
    };
    struct bl_run runs[4];
    int n_runs = 0, ok = 1;
    if (ac_bench_parse("bench_latency", opts, argc, argv) != 0 || bl_parse_rates(&o) != 0) {
        return 2;
    }
    memset(runs, 0, sizeof(runs));
    for (int p = 0; p < 2; p++) {
        if ((p == 0 && o.skip_one_rule) || (p == 1 && o.skip_default)) {
            continue;
        }
        for (int t = 0; t < 2; t++) {
            if (t == 1 && o.skip_bare) {
                continue;
            }
            runs[n_runs].playbook_name = p == 0 ? "one_rule" : "default";
            runs[n_runs].playbook = p == 0 ? o.one_rule : o.playbook;
            runs[n_runs].bare = t;
            n_runs++;
        }
    }
    for (int i = 0; i < n_runs; i++) {
        runs[i].ok = 1;
        for (int k = 0; k < o.n_rates; k++) {
            runs[i].rows[k].rate = o.rate[k];
            if (bl_stack(&o, &runs[i], &runs[i].rows[k]) != 0) {
                runs[i].ok = ok = 0;
            }
        }
    }

    printf("\naftercare-orders latency: order_placed events of %ld customers at steady rates, "
           "each rate for %ld s after a %ld s warm-up; %ld partitions per topic; the bench's "
           "producer linger.ms %ld\n",
           o.customers, o.seconds, o.warmup_s, o.partitions, o.linger_ms);
    printf("configuration: the defaults (batch.size 500, batch.ms 50) in the environment "
           "`aftercare dev` gives its processors (" AC_DEV_FETCH_WAIT_ENV "=" AC_DEV_FETCH_WAIT_MS
           "); bare: without it (librdkafka's fetch.wait.max.ms 500, which the mock broker "
           "waits out whenever a fetch finds nothing)\n");
    printf(
        "p50..max: the action's CreateTime - the event's CreateTime (ms resolution, one "
        "machine's wall clock; an action that never came counts as infinitely late)\n"
        "ack99: the event's produce() -> the mock broker's ack (librdkafka's message "
        "latency, p99); fa50/fa99: from that ack -> the action's CreateTime\n"
        "rd99: the event's CreateTime -> the bench's reader got the action (its own fetch "
        "wait, 10 ms, included)\n"
        "pr50/pr99/prAvg: the processor's own aftercare_processing_latency_seconds over the "
        "rate (read -> delivered; p50/p99 are bucket upper bounds)\n"
        "ev/b, ms/b: events and ms per batch; cpu: the processor's, mock: this process's "
        "(the mock broker, the producer, the reader), redis: redis-server's; shares of one core\n");
    bl_print_table(&o, runs, n_runs, "one_rule");
    bl_print_table(&o, runs, n_runs, "default");
    printf("\n");
    for (int i = 0; i < n_runs; i++) {
        bl_print_details(&o, &runs[i]);
    }
    printf("\nSPEC §8 (p99 <= %.0f ms at %d events/s):\n", BL_BUDGET_MS, BL_BUDGET_RATE);
    for (int i = 0; i < n_runs; i++) {
        for (int k = 0; k < o.n_rates; k++) {
            const struct bl_row *r = &runs[i].rows[k];
            char a[16];
            if (r->ok && r->rate == BL_BUDGET_RATE) {
                printf("  %s playbook, %s configuration: p99 %s ms: %s\n", runs[i].playbook_name,
                       runs[i].bare ? "bare" : "default", bl_ms(a, sizeof(a), r->p99),
                       r->p99 <= BL_BUDGET_MS ? "met" : "not met");
            }
        }
    }
    bl_json(&o, runs, n_runs);
    return ok ? 0 : 1;
}
