/* bench_orders.c — throughput of aftercare-orders against its two ceilings.
 *
 * One run, one process (plus the processor as a child and a redis-server):
 *
 *   1. generates N order events for C customers (fixed-seed RNG), encodes
 *      them as framed Avro and produces them all to `orders` on the
 *      in-process mock cluster;
 *   2. raw consume: a plain librdkafka consumer reads every input message
 *      (assign from the beginning, no processing): msgs/s;
 *   3. processor: spawns aftercare-orders and times from its first finished
 *      batch (the position hash appears in Redis, i.e. after the group join)
 *      until the positions sum to the input's high watermarks: events/s;
 *      checks the action and signal topics against the replay's counts and
 *      that no mock partition was truncated;
 *   4. Redis ceiling: replays the same events through the store API
 *      (ac_store_load / ac_store_commit / ac_store_ack, batches of
 *      batch.size events) with the real orders handler building the state
 *      diffs and outbox records, under a fresh key prefix; events/s counted
 *      over the time spent in the three store calls only;
 *   5. prints a table and one JSON line.
 *
 * See bench/README.md. */
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "build.h"
#include "codec.h"
#include "devstack.h"
#include "err.h"
#include "log.h"
#include "orders.h"
#include "store.h"

#define BENCH_MAX_PARTS 256
#define BENCH_MOCK_PART_BYTES (5 * 1024 * 1024) /* the mock cluster's per-partition cap */
#define BENCH_GROUP "aftercare-orders"
#define BENCH_ACTIONS "bench.actions"
#define BENCH_SIGNALS "bench.signals"

/* --- options ------------------------------------------------------------------------------ */

struct bench_opts {
    long customers;
    long events;
    int partitions;     /* orders */
    int out_partitions; /* bench.actions, bench.signals */
    int batch_size;
    uint64_t seed;
    int timeout_s;
    int keep;
    const char *processor;
    const char *wrap; /* command prefix for the processor, e.g. a profiler */
};

static int bench_parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        return -1;
    }
    *out = (long)v;
    return 0;
}

static void bench_usage(FILE *f)
{
    fprintf(f,
            "usage: bench_orders [--customers N] [--events N] [--partitions N]\n"
            "                    [--out-partitions N] [--batch-size N] [--seed N]\n"
            "                    [--timeout S] [--processor PATH] [--wrap \"CMD ARGS --\"] "
            "[--keep]\n"
            "defaults: 100000 customers, 200000 events, 16 partitions, 64 output partitions,\n"
            "          batch size 1000, seed 42, timeout 900 s\n");
}

static int bench_parse_args(int argc, char **argv, struct bench_opts *o)
{
    o->customers = 100000;
    o->events = 200000;
    o->partitions = 16;
    o->out_partitions = 64;
    o->batch_size = 1000;
    o->seed = 42;
    o->timeout_s = 900;
    o->keep = 0;
    o->processor = AC_BENCH_ORDERS_EXE;
    o->wrap = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            bench_usage(stdout);
            exit(0);
        } else if (strcmp(a, "--keep") == 0) {
            o->keep = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "bench_orders: %s needs a value\n", a);
            return -1;
        }
        i++;
        if (strcmp(a, "--processor") == 0) {
            o->processor = v;
        } else if (strcmp(a, "--wrap") == 0) {
            o->wrap = v;
        } else if (strcmp(a, "--customers") == 0 && bench_parse_long(v, 1, 10000000, &n) == 0) {
            o->customers = n;
        } else if (strcmp(a, "--events") == 0 && bench_parse_long(v, 1, 100000000, &n) == 0) {
            o->events = n;
        } else if (strcmp(a, "--partitions") == 0 &&
                   bench_parse_long(v, 1, BENCH_MAX_PARTS, &n) == 0) {
            o->partitions = (int)n;
        } else if (strcmp(a, "--out-partitions") == 0 &&
                   bench_parse_long(v, 1, BENCH_MAX_PARTS, &n) == 0) {
            o->out_partitions = (int)n;
        } else if (strcmp(a, "--batch-size") == 0 && bench_parse_long(v, 1, 10000, &n) == 0) {
            o->batch_size = (int)n;
        } else if (strcmp(a, "--seed") == 0 && bench_parse_long(v, 0, INT64_MAX, &n) == 0) {
            o->seed = (uint64_t)n;
        } else if (strcmp(a, "--timeout") == 0 && bench_parse_long(v, 1, 86400, &n) == 0) {
            o->timeout_s = (int)n;
        } else {
            fprintf(stderr, "bench_orders: bad option or value: %s %s\n", a, v);
            return -1;
        }
    }
    if (o->customers > o->events) {
        fprintf(stderr, "bench_orders: --customers must not exceed --events\n");
        return -1;
    }
    return 0;
}

/* --- the workload -------------------------------------------------------------------------- */

enum bench_type { BT_PLACED, BT_CART, BT_CANCELLED, BT_REFUND, BT__N };

static const char *const bench_type_names[BT__N] = {"order_placed", "cart_abandoned",
                                                    "order_cancelled", "refund_issued"};
static const char *const bench_families[] = {"apparel", "shoes", "electronics", "home",
                                             "beauty",  "toys",  "books",       "garden"};
#define BENCH_N_FAMILIES (sizeof(bench_families) / sizeof(bench_families[0]))

/* One event in compact form; bench_event() expands it deterministically. */
struct bench_ev {
    uint32_t cust;
    uint8_t type;
    uint8_t n_items;
    uint8_t fam[3];
    int32_t total_cents;
};

static uint64_t bench_rng(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Every customer gets at least one event; the rest go to random customers;
 * the sequence is shuffled. Mix: 80% order_placed, 10% cart_abandoned,
 * 5% order_cancelled, 5% refund_issued. */
static struct bench_ev *bench_workload(const struct bench_opts *o, long counts[BT__N])
{
    uint64_t s = o->seed;
    struct bench_ev *evs = calloc((size_t)o->events, sizeof(*evs));
    if (!evs) {
        return NULL;
    }
    for (long i = 0; i < o->events; i++) {
        evs[i].cust = i < o->customers ? (uint32_t)i
                                       : (uint32_t)(bench_rng(&s) % (uint64_t)o->customers);
    }
    for (long i = o->events - 1; i > 0; i--) {
        long j = (long)(bench_rng(&s) % (uint64_t)(i + 1));
        uint32_t t = evs[i].cust;
        evs[i].cust = evs[j].cust;
        evs[j].cust = t;
    }
    for (long i = 0; i < o->events; i++) {
        struct bench_ev *e = &evs[i];
        unsigned r = (unsigned)(bench_rng(&s) % 100);
        e->type = r < 80 ? BT_PLACED : r < 90 ? BT_CART : r < 95 ? BT_CANCELLED : BT_REFUND;
        e->total_cents = (int32_t)(500 + bench_rng(&s) % 40000);
        e->n_items = (uint8_t)(1 + bench_rng(&s) % 3);
        for (int k = 0; k < 3; k++) {
            e->fam[k] = (uint8_t)(bench_rng(&s) % BENCH_N_FAMILIES);
        }
        counts[e->type]++;
    }
    return evs;
}

static void bench_customer_id(char *out, size_t len, uint32_t cust)
{
    snprintf(out, len, "cust-%07u", (unsigned)cust);
}

static void bench_event_id(char *out, size_t len, long i)
{
    snprintf(out, len, "ev-%09ld", i);
}

/* Expands event i into *ev (caller's storage). */
static void bench_event(struct ac_event *ev, const struct bench_ev *e, long i, int64_t base_ms)
{
    ev->topic = AC_TOPIC_ORDERS;
    bench_event_id(ev->event_id, sizeof(ev->event_id), i);
    bench_customer_id(ev->customer_id, sizeof(ev->customer_id), e->cust);
    snprintf(ev->type, sizeof(ev->type), "%s", bench_type_names[e->type]);
    ev->type_index = 0;
    ev->occurred_at = base_ms + (int64_t)i * 50;
    struct ac_order_fields *of = &ev->u.order;
    snprintf(of->order_id, sizeof(of->order_id), "o-%09ld", e->type == BT_PLACED ? i : i / 2);
    of->total_cents = e->total_cents;
    snprintf(of->currency, sizeof(of->currency), "EUR");
    of->renewal_at = AC_TS_NONE;
    of->account_owner[0] = '\0';
    of->n_items = e->type == BT_CART || e->type == BT_PLACED ? e->n_items : 0;
    for (int k = 0; k < of->n_items; k++) {
        struct ac_item *it = &of->items[k];
        const char *fam = bench_families[e->fam[k]];
        snprintf(it->sku, sizeof(it->sku), "sku-%s-%d", fam, (int)(e->total_cents % 97));
        snprintf(it->product_family, sizeof(it->product_family), "%s", fam);
        snprintf(it->category, sizeof(it->category), "cat-%s", fam);
        it->unit_price_cents = e->total_cents / of->n_items;
        it->quantity = 1;
    }
}

/* --- small helpers ------------------------------------------------------------------------- */

static double bench_cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of a process in seconds, or -1. */
static double bench_cpu_pid(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1.0;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* after the command name */
    if (!p) {
        return -1.0;
    }
    p++;
    /* fields after ')': state(3) ... utime(14) stime(15) */
    unsigned long long ut = 0, st = 0;
    int field = 2;
    char *tok = p;
    while (*tok && field < 15) {
        while (*tok == ' ') {
            tok++;
        }
        field++;
        char *end = NULL;
        if (field == 14) {
            ut = strtoull(tok, &end, 10);
        } else if (field == 15) {
            st = strtoull(tok, &end, 10);
        }
        while (*tok && *tok != ' ') {
            tok++;
        }
    }
    long hz = sysconf(_SC_CLK_TCK);
    return (double)(ut + st) / (double)(hz > 0 ? hz : 100);
}

static redisReply *bench_redis(redisContext *rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static redisReply *bench_redis(redisContext *rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(rc, fmt, ap);
    va_end(ap);
    if (!r) {
        fprintf(stderr, "bench_orders: redis: %s\n", rc->errstr);
        exit(1);
    }
    return r;
}

/* A numeric field of INFO <section>, or -1. */
static double bench_redis_info(redisContext *rc, const char *section, const char *field)
{
    redisReply *r = bench_redis(rc, "INFO %s", section);
    double v = -1.0;
    size_t fl = strlen(field);
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
        for (const char *p = r->str; p && *p;) {
            if (strncmp(p, field, fl) == 0 && p[fl] == ':') {
                v = strtod(p + fl + 1, NULL);
                break;
            }
            p = strchr(p, '\n');
            p = p ? p + 1 : NULL;
        }
    }
    freeReplyObject(r);
    return v;
}

static double bench_redis_cpu(redisContext *rc)
{
    return bench_redis_info(rc, "cpu", "used_cpu_sys") +
           bench_redis_info(rc, "cpu", "used_cpu_user");
}

/* INFO commandstats since the last CONFIG RESETSTAT: the commands with the
 * most server time, "name calls usec_per_call total_s; ..." into text and as
 * a JSON object into json. Lua's redis.call()s are listed too (their time is
 * also inside fcall's). */
struct bench_cmdstat {
    char name[48];
    long long calls;
    double usec;
};

static void bench_commandstats(redisContext *rc, char *text, size_t tlen, char *json,
                               size_t jlen)
{
    struct bench_cmdstat cs[64];
    int n = 0;
    redisReply *r = bench_redis(rc, "INFO commandstats");
    for (const char *p = r->type == REDIS_REPLY_STRING ? r->str : NULL; p && *p && n < 64;) {
        const char *eol = strchr(p, '\n');
        if (strncmp(p, "cmdstat_", 8) == 0) {
            const char *colon = strchr(p, ':');
            const char *calls = strstr(p, "calls=");
            const char *usec = strstr(p, ",usec=");
            if (colon && calls && usec && (!eol || usec < eol)) {
                snprintf(cs[n].name, sizeof(cs[n].name), "%.*s", (int)(colon - p - 8), p + 8);
                cs[n].calls = strtoll(calls + 6, NULL, 10);
                cs[n].usec = strtod(usec + 6, NULL);
                n++;
            }
        }
        p = eol ? eol + 1 : NULL;
    }
    freeReplyObject(r);
    for (int i = 1; i < n; i++) { /* by total time, descending */
        for (int j = i; j > 0 && cs[j].usec > cs[j - 1].usec; j--) {
            struct bench_cmdstat t = cs[j];
            cs[j] = cs[j - 1];
            cs[j - 1] = t;
        }
    }
    size_t tat = 0, jat = 0;
    text[0] = '\0';
    jat += (size_t)snprintf(json, jlen, "{");
    for (int i = 0; i < n && i < 8; i++) {
        if (tat < tlen) {
            tat += (size_t)snprintf(text + tat, tlen - tat, "%s%s %lld calls %.1f us/call %.2f s",
                                    i ? "; " : "", cs[i].name, cs[i].calls,
                                    cs[i].calls ? cs[i].usec / (double)cs[i].calls : 0.0,
                                    cs[i].usec / 1e6);
        }
        if (jat < jlen) {
            jat += (size_t)snprintf(json + jat, jlen - jat,
                                    "%s\"%s\":{\"calls\":%lld,\"usec\":%.0f}", i ? "," : "",
                                    cs[i].name, cs[i].calls, cs[i].usec);
        }
    }
    if (jat < jlen) {
        snprintf(json + jat, jlen - jat, "}");
    }
}

/* Sum of the positions recorded for topic orders; -1 while the hash is absent. */
static int64_t bench_positions(redisContext *rc, const char *prefix, const char *group)
{
    redisReply *r = bench_redis(rc, "HGETALL %s:pos:%s", prefix, group);
    int64_t sum = -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        sum = 0;
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            if (strncmp(r->element[i]->str, "orders:", 7) == 0) {
                sum += strtoll(r->element[i + 1]->str, NULL, 10);
            }
        }
    }
    freeReplyObject(r);
    return sum;
}

/* Sums the high watermarks of topic; counts partitions whose low watermark
 * is not 0 (the mock cluster dropped their oldest message sets). */
static int bench_topic_marks(rd_kafka_t *rk, const char *topic, int64_t *sum_hi,
                             int *truncated, int *parts)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, 10000);
    rd_kafka_topic_destroy(t);
    if (err || md->topic_cnt != 1 || md->topics[0].err) {
        fprintf(stderr, "bench_orders: metadata of %s failed\n", topic);
        if (md) {
            rd_kafka_metadata_destroy(md);
        }
        return -1;
    }
    *sum_hi = 0;
    *truncated = 0;
    *parts = md->topics[0].partition_cnt;
    for (int i = 0; i < md->topics[0].partition_cnt; i++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, topic, md->topics[0].partitions[i].id, &lo, &hi,
                                             10000) != 0) {
            rd_kafka_metadata_destroy(md);
            return -1;
        }
        *sum_hi += hi;
        *truncated += lo != 0;
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

static void bench_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* --- 1. produce the input ------------------------------------------------------------------ */

struct bench_dr {
    long ok, failed;
    int64_t bytes[BENCH_MAX_PARTS];
};

static void bench_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct bench_dr *d = opaque;
    (void)rk;
    if (m->err) {
        d->failed++;
        return;
    }
    d->ok++;
    if (m->partition >= 0 && m->partition < BENCH_MAX_PARTS) {
        d->bytes[m->partition] += (int64_t)(m->len + m->key_len);
    }
}

struct bench_input {
    int64_t bytes;
    int64_t max_part_bytes;
    double seconds;
};

static int bench_produce(const struct bench_opts *o, struct ac_dev_kafka *dk,
                         struct ac_codec *codec, const struct bench_ev *evs, int64_t base_ms,
                         struct bench_input *in)
{
    char err[512];
    static struct bench_dr dr;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", ac_dev_kafka_brokers(dk), err,
                          sizeof(err)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, sizeof(err))) {
        fprintf(stderr, "bench_orders: producer config: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    memset(&dr, 0, sizeof(dr));
    rd_kafka_conf_set_dr_msg_cb(conf, bench_dr_cb);
    rd_kafka_conf_set_opaque(conf, &dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "bench_orders: producer: %s\n", err);
        return -1;
    }
    struct ac_event *ev = calloc(1, sizeof(*ev));
    struct ac_buf b;
    ac_buf_init(&b);
    double t0 = ac_clock_mono_s();
    int rc = 0;
    for (long i = 0; i < o->events && rc == 0; i++) {
        bench_event(ev, &evs[i], i, base_ms);
        ac_buf_reset(&b);
        if (ac_codec_encode_event(codec, ev, 1, &b) != 0) {
            fprintf(stderr, "bench_orders: cannot encode event %ld\n", i);
            rc = -1;
            break;
        }
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC("orders"),
                RD_KAFKA_V_KEY(ev->customer_id, strlen(ev->customer_id)),
                RD_KAFKA_V_VALUE(b.data, b.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 10);
                continue;
            }
            if (e) {
                fprintf(stderr, "bench_orders: produce: %s\n", rd_kafka_err2str(e));
                rc = -1;
            }
            break;
        }
        rd_kafka_poll(rk, 0);
    }
    if (rc == 0 && rd_kafka_flush(rk, 120000) != 0) {
        fprintf(stderr, "bench_orders: producer flush timed out\n");
        rc = -1;
    }
    in->seconds = ac_clock_mono_s() - t0;
    if (rc == 0 && (dr.failed > 0 || dr.ok != o->events)) {
        fprintf(stderr, "bench_orders: %ld deliveries failed, %ld ok of %ld\n", dr.failed, dr.ok,
                o->events);
        rc = -1;
    }
    in->bytes = 0;
    in->max_part_bytes = 0;
    for (int p = 0; p < BENCH_MAX_PARTS; p++) {
        in->bytes += dr.bytes[p];
        if (dr.bytes[p] > in->max_part_bytes) {
            in->max_part_bytes = dr.bytes[p];
        }
    }
    ac_buf_fini(&b);
    free(ev);
    rd_kafka_destroy(rk);
    return rc;
}

/* --- 2. raw consume ------------------------------------------------------------------------ */

static rd_kafka_t *bench_consumer(struct ac_dev_kafka *dk, const char *group, const char *topic,
                                  int partitions)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", ac_dev_kafka_brokers(dk), err,
                          sizeof(err)) ||
        rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof(err))) {
        fprintf(stderr, "bench_orders: consumer config: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "bench_orders: consumer: %s\n", err);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++) {
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return rk;
}

struct bench_raw {
    long msgs;
    double seconds; /* assignment to the last message */
    double rate;
};

static int bench_raw_consume(const struct bench_opts *o, struct ac_dev_kafka *dk,
                             struct bench_raw *raw)
{
    rd_kafka_t *rk = bench_consumer(dk, "bench-raw", "orders", o->partitions);
    if (!rk) {
        return -1;
    }
    /* From the assignment (the consumer is connected by then) to the last
     * message: timing from the first message would miss the prefetch. */
    double first = ac_clock_mono_s(), last = 0, deadline = first + o->timeout_s;
    long n = 0;
    while (n < o->events && ac_clock_mono_s() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            continue;
        }
        if (m->err == 0) {
            n++;
            last = ac_clock_mono_s();
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    raw->msgs = n;
    raw->seconds = last - first;
    raw->rate = raw->seconds > 0 ? (double)n / raw->seconds : 0;
    if (n < o->events) {
        fprintf(stderr, "bench_orders: raw consumer read %ld of %ld messages\n", n, o->events);
        return -1;
    }
    return 0;
}

/* --- 3. the processor ---------------------------------------------------------------------- */

static int bench_write_config(const char *path, const struct bench_opts *o,
                              struct ac_dev_kafka *dk, const struct ac_dev_redis *dr)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench_orders: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f,
            "kafka.brokers = %s\nredis.url = %s\nschemas.dir = %s\nhttp.port = -1\n"
            "log.level = warn\nbatch.size = %d\nbatch.ms = 20\nkafka.fetch.wait.max.ms = 10\n"
            "kafka.session.timeout.ms = 6000\nkafka.heartbeat.interval.ms = 500\n"
            "topic.actions = %s\ntopic.signals = %s\n",
            ac_dev_kafka_brokers(dk), dr->url, AC_SCHEMA_DIR, o->batch_size, BENCH_ACTIONS,
            BENCH_SIGNALS);
    return fclose(f) == 0 ? 0 : -1;
}

static pid_t bench_spawn(const struct bench_opts *o, const char *config, const char *logpath)
{
    char wrap[1024];
    char *argv[40];
    int argc = 0;
    if (o->wrap) {
        snprintf(wrap, sizeof(wrap), "%s", o->wrap);
        /* split on spaces (no quoting: a profiler command line) */
        for (char *t = wrap; *t && argc < 32;) {
            while (*t == ' ') {
                *t++ = '\0';
            }
            if (!*t) {
                break;
            }
            argv[argc++] = t;
            while (*t && *t != ' ') {
                t++;
            }
        }
    }
    argv[argc++] = (char *)o->processor;
    argv[argc++] = (char *)"--config";
    argv[argc++] = (char *)config;
    argv[argc] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

struct bench_proc {
    double join_s;      /* spawn to first position */
    int64_t done0;      /* messages done at the first observation */
    double seconds;     /* first observation to all done */
    double rate;
    double cpu_proc;    /* processor CPU seconds in the timed window */
    double cpu_self;    /* this process (mock cluster) */
    double cpu_redis;
    int64_t actions, signals;
    int trunc_actions, trunc_signals, trunc_input;
    int out_parts;
    char cmd_text[1024], cmd_json[1024];
};

static int bench_run_processor(const struct bench_opts *o, struct ac_dev_kafka *dk,
                               const struct ac_dev_redis *dr, redisContext *rc, const char *dir,
                               struct bench_proc *bp, pid_t *pid_out)
{
    char config[640], logpath[640];
    snprintf(config, sizeof(config), "%s/orders.conf", dir);
    snprintf(logpath, sizeof(logpath), "%s/orders.log", dir);
    if (bench_write_config(config, o, dk, dr) != 0) {
        return -1;
    }
    double spawned = ac_clock_mono_s();
    pid_t pid = bench_spawn(o, config, logpath);
    if (pid < 0) {
        fprintf(stderr, "bench_orders: fork: %s\n", strerror(errno));
        return -1;
    }
    *pid_out = pid;
    double deadline = spawned + o->timeout_s, t0 = 0;
    int seen_first = 0;
    double cpu_p0 = 0, cpu_s0 = 0, cpu_r0 = 0;
    int64_t done = -1;
    for (;;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            *pid_out = -1;
            fprintf(stderr, "bench_orders: the processor exited (status %d); see %s\n", status,
                    logpath);
            return -1;
        }
        if (ac_clock_mono_s() > deadline) {
            fprintf(stderr,
                    "bench_orders: timeout: %lld of %ld events processed after %d s; see %s\n",
                    (long long)done, o->events, o->timeout_s, logpath);
            return -1;
        }
        done = bench_positions(rc, "ac", BENCH_GROUP);
        if (done >= 0 && !seen_first) {
            seen_first = 1;
            t0 = ac_clock_mono_s();
            cpu_p0 = bench_cpu_pid(pid);
            cpu_s0 = bench_cpu_self();
            cpu_r0 = bench_redis_cpu(rc);
            freeReplyObject(bench_redis(rc, "CONFIG RESETSTAT"));
            bp->done0 = done;
            bp->join_s = t0 - spawned;
        }
        if (done >= o->events) {
            break;
        }
        bench_sleep_ms(5); /* polling a condition (the positions in Redis) */
    }
    double t1 = ac_clock_mono_s();
    bp->seconds = t1 - t0;
    bp->rate = bp->seconds > 0 ? (double)(o->events - bp->done0) / bp->seconds : 0;
    bp->cpu_proc = bench_cpu_pid(pid) - cpu_p0;
    bp->cpu_self = bench_cpu_self() - cpu_s0;
    bp->cpu_redis = bench_redis_cpu(rc) - cpu_r0;
    bench_commandstats(rc, bp->cmd_text, sizeof(bp->cmd_text), bp->cmd_json,
                       sizeof(bp->cmd_json));
    return 0;
}

/* --- 4. the Redis ceiling ------------------------------------------------------------------ */

struct bench_replay {
    double store_s;   /* time inside ac_store_load/commit/ack */
    double total_s;   /* including building the batches (handler, Avro encoding) */
    double rate;      /* events / store_s */
    double cpu_redis; /* redis-server CPU seconds during the replay */
    int64_t actions, signals;
    long conflicts;
    char cmd_text[1024], cmd_json[1024];
};

struct bench_batch {
    struct ac_store_cust *custs;
    int *first, *next, *last; /* per customer: first event; per event: next */
    int *map;                 /* open addressing: customer index + 1 */
    size_t map_size;
    char (*ids)[AC_ID_MAX];
    const char **idp;
    long *ev_index;
    size_t n_custs, n_evs;
};

static size_t bench_batch_customer(struct bench_batch *bb, const struct bench_ev *evs, long i)
{
    uint32_t cust = evs[i].cust;
    size_t mask = bb->map_size - 1;
    for (size_t h = (cust * 2654435761u) & mask;; h = (h + 1) & mask) {
        int slot = bb->map[h];
        if (slot == 0) {
            size_t c = bb->n_custs++;
            char cid[AC_ID_MAX];
            bench_customer_id(cid, sizeof(cid), cust);
            ac_store_cust_init(&bb->custs[c], cid);
            bb->first[c] = -1;
            bb->map[h] = (int)c + 1;
            return c;
        }
        if (evs[bb->ev_index[bb->first[slot - 1]]].cust == cust) {
            return (size_t)slot - 1;
        }
    }
}

static int bench_replay_run(const struct bench_opts *o, const struct bench_ev *evs,
                            int64_t base_ms, const char *redis_url, redisContext *redis,
                            struct ac_codec *codec, struct bench_replay *rp)
{
    char err[512], gen[40];
    int ret = -1;
    size_t bs = (size_t)o->batch_size;
    struct bench_batch bb;
    memset(&bb, 0, sizeof(bb));
    memset(rp, 0, sizeof(*rp));
    /* the runtime's keys the processor reads: the same playbook as the process */
    static const struct ac_cfg_entry runtime_keys[] = {
        {"playbook", AC_CFG_STR, AC_PLAYBOOK_DEFAULT, "", 0, 0},
        {"team.default_owner", AC_CFG_STR, "customer-success", "", 0, 0},
        {NULL, AC_CFG_STR, NULL, NULL, 0, 0},
    };
    const struct ac_cfg_entry *tables[] = {ac_orders_processor.config, runtime_keys};
    struct ac_config *cfg = ac_config_load(tables, 2, NULL, err, sizeof(err));
    void *ctx = cfg ? ac_orders_processor.init(cfg, err, sizeof(err)) : NULL;
    struct ac_store *st = ac_store_new(redis_url, "bench", err, sizeof(err));
    struct ac_event *ev = calloc(1, sizeof(*ev));
    struct ac_emit *emit = calloc(1, sizeof(*emit));
    struct ac_buf enc;
    ac_buf_init(&enc);
    bb.map_size = 1;
    while (bb.map_size < bs * 2) {
        bb.map_size *= 2;
    }
    bb.custs = calloc(bs, sizeof(*bb.custs));
    bb.first = calloc(bs, sizeof(int));
    bb.last = calloc(bs, sizeof(int));
    bb.next = calloc(bs, sizeof(int));
    bb.map = calloc(bb.map_size, sizeof(int));
    bb.ids = calloc(bs, sizeof(*bb.ids));
    bb.idp = calloc(bs, sizeof(*bb.idp));
    bb.ev_index = calloc(bs, sizeof(long));
    if (!cfg || !ctx || !st || !ev || !emit || !bb.custs || !bb.first || !bb.last || !bb.next ||
        !bb.map || !bb.ids || !bb.idp || !bb.ev_index) {
        fprintf(stderr, "bench_orders: replay setup: %s\n", err);
        goto out;
    }
    if (ac_store_connect(st, err, sizeof(err)) != 0 ||
        ac_store_generation(st, 1, gen) != 0) {
        fprintf(stderr, "bench_orders: replay store: %s\n", err);
        goto out;
    }
    ac_store_expect_generation(st, gen);
    freeReplyObject(bench_redis(redis, "CONFIG RESETSTAT"));
    double cpu_r0 = bench_redis_cpu(redis), started = ac_clock_mono_s();
    for (long from = 0; from < o->events; from += (long)bs) {
        long to = from + (long)bs < o->events ? from + (long)bs : o->events;
        /* group the batch by customer, in event order */
        bb.n_custs = 0;
        bb.n_evs = 0;
        memset(bb.map, 0, bb.map_size * sizeof(int));
        for (long i = from; i < to; i++) {
            int k = (int)bb.n_evs++;
            bb.ev_index[k] = i;
            bb.next[k] = -1;
            bench_event_id(bb.ids[k], sizeof(bb.ids[k]), i);
            size_t c = bench_batch_customer(&bb, evs, i);
            if (bb.first[c] < 0) {
                bb.first[c] = k;
            } else {
                bb.next[bb.last[c]] = k;
            }
            bb.last[c] = k;
        }
        size_t at = 0;
        for (size_t c = 0; c < bb.n_custs; c++) {
            bb.custs[c].event_ids = &bb.idp[at];
            bb.custs[c].n_event_ids = 0;
            for (int k = bb.first[c]; k >= 0; k = bb.next[k]) {
                bb.idp[at++] = bb.ids[k];
                bb.custs[c].n_event_ids++;
            }
        }
        for (int attempt = 0;; attempt++) {
            for (size_t c = 0; c < bb.n_custs; c++) {
                ac_store_cust_reset(&bb.custs[c]);
                bb.custs[c].offset = -1;
            }
            double t = ac_clock_mono_s();
            if (ac_store_load(st, AC_TOPIC_ORDERS, bb.custs, bb.n_custs) != 0) {
                fprintf(stderr, "bench_orders: replay load failed\n");
                goto out;
            }
            rp->store_s += ac_clock_mono_s() - t;
            /* apply: what common/batch.c does per customer */
            for (size_t c = 0; c < bb.n_custs; c++) {
                struct ac_store_cust *sc = &bb.custs[c];
                struct ac_customer after = sc->state, trial;
                int j = 0;
                for (int k = bb.first[c]; k >= 0; k = bb.next[k], j++) {
                    long i = bb.ev_index[k];
                    char reason[128];
                    sc->dirty = 1;
                    sc->partition = (int32_t)(evs[i].cust % (uint32_t)o->partitions);
                    sc->offset = i;
                    if (sc->seen[j]) {
                        continue;
                    }
                    bench_event(ev, &evs[i], i, base_ms);
                    trial = after;
                    ac_emit_reset(emit);
                    emit->timers = sc->timers;
                    if (ac_orders_processor.apply(ctx, &trial, ev, ac_clock_wall(), emit, reason,
                                                  sizeof(reason)) != 0) {
                        fprintf(stderr, "bench_orders: handler rejected event %ld: %s\n", i,
                                reason);
                        goto out;
                    }
                    after = trial;
                    for (int a = 0; a < emit->n_actions; a++) {
                        ac_buf_reset(&enc);
                        if (ac_codec_encode_action(codec, &emit->actions[a], &enc) != 0 ||
                            ac_store_cust_add_out(sc, emit->actions[a].action_id, 'a',
                                                  enc.data, enc.len) != 0) {
                            goto out;
                        }
                    }
                    for (int s = 0; s < emit->n_signals; s++) {
                        ac_buf_reset(&enc);
                        if (ac_codec_encode_signal(codec, &emit->signals[s], &enc) != 0 ||
                            ac_store_cust_add_out(sc, emit->signals[s].signal_id, 's',
                                                  enc.data, enc.len) != 0) {
                            goto out;
                        }
                    }
                    if (ac_store_cust_add_emit(sc, emit) != 0) {
                        goto out;
                    }
                    ac_buf_printf(&sc->seen_add, "%lld", (long long)ev->occurred_at);
                    ac_buf_append(&sc->seen_add, "", 1);
                    ac_buf_append(&sc->seen_add, ev->event_id, strlen(ev->event_id) + 1);
                    sc->n_seen_add++;
                }
                int nf = ac_customer_diff(&sc->state, &after, &sc->fields);
                if (nf < 0) {
                    goto out;
                }
                sc->n_fields = nf;
            }
            t = ac_clock_mono_s();
            if (ac_store_commit(st, AC_TOPIC_ORDERS, bb.custs, bb.n_custs) != 0) {
                fprintf(stderr, "bench_orders: replay commit failed\n");
                goto out;
            }
            rp->store_s += ac_clock_mono_s() - t;
            long conflicts = 0;
            for (size_t c = 0; c < bb.n_custs; c++) {
                conflicts += bb.custs[c].status == AC_ERR_CONFLICT;
            }
            if (conflicts == 0) {
                break;
            }
            rp->conflicts += conflicts;
        }
        int32_t parts[BENCH_MAX_PARTS];
        int64_t offs[BENCH_MAX_PARTS];
        size_t n_pos = 0;
        for (int p = 0; p < o->partitions && p < 64; p++) {
            parts[n_pos] = p;
            offs[n_pos++] = to;
        }
        for (size_t c = 0; c < bb.n_custs; c++) {
            size_t cursor = 0;
            struct ac_outbox_rec rec;
            while (ac_store_pending_next(&bb.custs[c], &cursor, &rec)) {
                rp->actions += rec.kind == 'a';
                rp->signals += rec.kind == 's';
            }
        }
        double t = ac_clock_mono_s();
        if (ac_store_ack(st, bb.custs, bb.n_custs, "bench-redis", AC_TOPIC_ORDERS, parts, offs,
                         n_pos) != 0) {
            fprintf(stderr, "bench_orders: replay ack failed\n");
            goto out;
        }
        rp->store_s += ac_clock_mono_s() - t;
        for (size_t c = 0; c < bb.n_custs; c++) {
            ac_store_cust_fini(&bb.custs[c]);
        }
        bb.n_custs = 0;
    }
    rp->total_s = ac_clock_mono_s() - started;
    rp->cpu_redis = bench_redis_cpu(redis) - cpu_r0;
    bench_commandstats(redis, rp->cmd_text, sizeof(rp->cmd_text), rp->cmd_json,
                       sizeof(rp->cmd_json));
    rp->rate = rp->store_s > 0 ? (double)o->events / rp->store_s : 0;
    ret = 0;
out:
    for (size_t c = 0; c < bb.n_custs; c++) {
        ac_store_cust_fini(&bb.custs[c]);
    }
    free(bb.custs);
    free(bb.first);
    free(bb.last);
    free(bb.next);
    free(bb.map);
    free(bb.ids);
    free(bb.idp);
    free(bb.ev_index);
    ac_buf_fini(&enc);
    free(emit);
    free(ev);
    if (st) {
        ac_store_destroy(st);
    }
    if (ctx) {
        ac_orders_processor.fini(ctx);
    }
    if (cfg) {
        ac_config_destroy(cfg);
    }
    return ret;
}

/* --- main ---------------------------------------------------------------------------------- */

static double bench_div(double a, double b)
{
    return b > 0 ? a / b : 0;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    char err[512], dir[512], rdir[600];
    int status = 1;
    pid_t pid = -1;
    struct ac_dev_kafka *dk = NULL;
    struct ac_dev_redis dr;
    struct ac_codec *codec = NULL;
    redisContext *rc = NULL;
    struct bench_ev *evs = NULL;
    long counts[BT__N] = {0};
    struct bench_input in = {0};
    struct bench_raw raw = {0};
    struct bench_proc bp;
    struct bench_replay rp;
    int redis_started = 0;
    memset(&bp, 0, sizeof(bp));
    memset(&rp, 0, sizeof(rp));
    memset(&dr, 0, sizeof(dr));
    if (bench_parse_args(argc, argv, &o) != 0) {
        bench_usage(stderr);
        return 2;
    }
    ac_log_init("bench_orders");
    ac_log_set_level(AC_LOG_WARN);
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/aftercare-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "bench_orders: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    snprintf(rdir, sizeof(rdir), "%s/redis", dir);
    if (ac_dev_redis_start(&dr, rdir, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_orders: redis: %s\n", err);
        goto out;
    }
    redis_started = 1;
    struct timeval tv = {10, 0};
    rc = redisConnectWithTimeout("127.0.0.1", dr.port, tv);
    if (!rc || rc->err) {
        fprintf(stderr, "bench_orders: cannot connect to redis\n");
        goto out;
    }
    dk = ac_dev_kafka_start(1, o.partitions, err, sizeof(err));
    if (!dk || ac_dev_kafka_topic(dk, BENCH_ACTIONS, o.out_partitions) != 0 ||
        ac_dev_kafka_topic(dk, BENCH_SIGNALS, o.out_partitions) != 0) {
        fprintf(stderr, "bench_orders: mock cluster: %s\n", dk ? "topic creation failed" : err);
        goto out;
    }
    codec = ac_codec_new(AC_SCHEMA_DIR, NULL, err, sizeof(err));
    if (!codec) {
        fprintf(stderr, "bench_orders: codec: %s\n", err);
        goto out;
    }
    evs = bench_workload(&o, counts);
    if (!evs) {
        fprintf(stderr, "bench_orders: out of memory\n");
        goto out;
    }
    /* Event times: a week ago onward, 50 ms apart (never "in the future"). */
    int64_t base_ms = ac_clock_now(ac_clock_wall()) - 7LL * 24 * 3600 * 1000;

    fprintf(stderr, "bench_orders: producing %ld events for %ld customers to %d partitions\n",
            o.events, o.customers, o.partitions);
    if (bench_produce(&o, dk, codec, evs, base_ms, &in) != 0) {
        goto out;
    }
    /* The input must be complete: nothing dropped by the mock's partition cap. */
    rd_kafka_t *admin = NULL;
    {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "bootstrap.servers", ac_dev_kafka_brokers(dk), err, sizeof(err));
        admin = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        if (!admin) {
            fprintf(stderr, "bench_orders: %s\n", err);
            goto out;
        }
    }
    int64_t in_hi = 0;
    int parts = 0;
    if (bench_topic_marks(admin, "orders", &in_hi, &bp.trunc_input, &parts) != 0 ||
        in_hi != o.events || bp.trunc_input != 0) {
        fprintf(stderr,
                "bench_orders: input incomplete: high watermarks %lld, %d partitions "
                "truncated (mock cap %d bytes per partition; largest %lld)\n",
                (long long)in_hi, bp.trunc_input, BENCH_MOCK_PART_BYTES,
                (long long)in.max_part_bytes);
        rd_kafka_destroy(admin);
        goto out;
    }

    fprintf(stderr, "bench_orders: raw consume\n");
    if (bench_raw_consume(&o, dk, &raw) != 0) {
        rd_kafka_destroy(admin);
        goto out;
    }

    double mem0 = bench_redis_info(rc, "memory", "used_memory");
    fprintf(stderr, "bench_orders: running aftercare-orders (group join takes a few seconds)\n");
    if (bench_run_processor(&o, dk, &dr, rc, dir, &bp, &pid) != 0) {
        rd_kafka_destroy(admin);
        goto out;
    }
    double mem1 = bench_redis_info(rc, "memory", "used_memory");
    double keys = -1;
    {
        redisReply *r = bench_redis(rc, "DBSIZE");
        keys = r->type == REDIS_REPLY_INTEGER ? (double)r->integer : -1;
        freeReplyObject(r);
    }
    if (bench_topic_marks(admin, BENCH_ACTIONS, &bp.actions, &bp.trunc_actions,
                          &bp.out_parts) != 0 ||
        bench_topic_marks(admin, BENCH_SIGNALS, &bp.signals, &bp.trunc_signals, &parts) != 0) {
        rd_kafka_destroy(admin);
        goto out;
    }
    rd_kafka_destroy(admin);
    int st = 0;
    kill(pid, SIGTERM);
    waitpid(pid, &st, 0);
    pid = -1;

    fprintf(stderr, "bench_orders: Redis replay (store API, prefix \"bench\")\n");
    if (bench_replay_run(&o, evs, base_ms, dr.url, rc, codec, &rp) != 0) {
        goto out;
    }

    int consistent = bp.trunc_actions == 0 && bp.trunc_signals == 0 &&
                     bp.actions == rp.actions && bp.signals == rp.signals;
    double per_cust = bench_div(mem1, (double)o.customers);
    double per_cust_delta = bench_div(mem1 - mem0, (double)o.customers);
    double r_raw = bench_div(bp.rate, raw.rate), r_redis = bench_div(bp.rate, rp.rate);

    printf("\naftercare-orders benchmark: %ld events (%ld placed, %ld cart_abandoned, "
           "%ld cancelled, %ld refund), %ld customers\n",
           o.events, counts[BT_PLACED], counts[BT_CART], counts[BT_CANCELLED], counts[BT_REFUND],
           o.customers);
    printf("orders: %d partitions, %.1f MiB (%.0f B/event, largest partition %.2f MiB); "
           "batch.size %d\n\n",
           o.partitions, (double)in.bytes / 1048576.0, bench_div((double)in.bytes, (double)o.events),
           (double)in.max_part_bytes / 1048576.0, o.batch_size);
    printf("%-44s %14s %10s\n", "measurement", "rate", "seconds");
    printf("%-44s %10.0f ev/s %10.2f\n", "aftercare-orders (after group join)", bp.rate,
           bp.seconds);
    printf("%-44s %10.0f msg/s %9.2f\n", "raw consume (librdkafka, no processing)", raw.rate,
           raw.seconds);
    printf("%-44s %10.0f ev/s %10.2f\n", "Redis ceiling (store calls only)", rp.rate,
           rp.store_s);
    printf("%-44s %10.0f ev/s %10.2f\n", "Redis replay incl. handler + Avro encode",
           bench_div((double)o.events, rp.total_s), rp.total_s);
    printf("\nprocessor / raw consume   %6.3f\n", r_raw);
    printf("processor / Redis ceiling %6.3f\n", r_redis);
    printf("group join (spawn to first batch) %.2f s; %lld events done at first observation\n",
           bp.join_s, (long long)bp.done0);
    printf("CPU in the timed window (%.2f s wall): aftercare-orders %.2f s (%.0f%%), "
           "mock cluster + bench %.2f s (%.0f%%), redis-server %.2f s (%.0f%%)\n",
           bp.seconds, bp.cpu_proc, 100.0 * bench_div(bp.cpu_proc, bp.seconds), bp.cpu_self,
           100.0 * bench_div(bp.cpu_self, bp.seconds), bp.cpu_redis,
           100.0 * bench_div(bp.cpu_redis, bp.seconds));
    printf("redis-server CPU during the replay: %.2f s of %.2f s in store calls\n", rp.cpu_redis,
           rp.store_s);
    printf("redis commands, processor run: %s\n", bp.cmd_text);
    printf("redis commands, replay:        %s\n", rp.cmd_text);
    printf("Redis used_memory after the processor run: %.1f MiB, %.0f keys: %.0f B/customer "
           "(%.0f B/customer above the empty server)\n",
           mem1 / 1048576.0, keys, per_cust, per_cust_delta);
    printf("outputs: %lld actions, %lld signals on %d partitions each (replay expects %lld, "
           "%lld); truncated partitions: actions %d, signals %d -> %s\n",
           (long long)bp.actions, (long long)bp.signals, bp.out_parts, (long long)rp.actions,
           (long long)rp.signals, bp.trunc_actions, bp.trunc_signals,
           consistent ? "consistent" : "INCONSISTENT");
    printf("{\"bench\":\"orders\",\"events\":%ld,\"customers\":%ld,\"partitions\":%d,"
           "\"batch_size\":%d,\"seed\":%llu,\"input_bytes\":%lld,"
           "\"processor_events_per_s\":%.0f,\"processor_seconds\":%.3f,\"join_seconds\":%.2f,"
           "\"raw_consume_msgs_per_s\":%.0f,\"raw_consume_seconds\":%.3f,"
           "\"redis_ceiling_events_per_s\":%.0f,\"redis_store_seconds\":%.3f,"
           "\"redis_replay_total_seconds\":%.3f,"
           "\"ratio_processor_raw\":%.4f,\"ratio_processor_redis\":%.4f,"
           "\"cpu_processor_s\":%.2f,\"cpu_mock_bench_s\":%.2f,\"cpu_redis_s\":%.2f,"
           "\"cpu_redis_replay_s\":%.2f,"
           "\"redis_used_memory_bytes\":%.0f,\"redis_keys\":%.0f,"
           "\"redis_bytes_per_customer\":%.0f,\"redis_bytes_per_customer_delta\":%.0f,"
           "\"actions\":%lld,\"signals\":%lld,\"expected_actions\":%lld,"
           "\"expected_signals\":%lld,\"consistent\":%s,"
           "\"redis_cmds_processor\":%s,\"redis_cmds_replay\":%s}\n",
           o.events, o.customers, o.partitions, o.batch_size, (unsigned long long)o.seed,
           (long long)in.bytes, bp.rate, bp.seconds, bp.join_s, raw.rate, raw.seconds, rp.rate,
           rp.store_s, rp.total_s, r_raw, r_redis, bp.cpu_proc, bp.cpu_self, bp.cpu_redis,
           rp.cpu_redis, mem1, keys, per_cust, per_cust_delta, (long long)bp.actions,
           (long long)bp.signals, (long long)rp.actions, (long long)rp.signals,
           consistent ? "true" : "false", bp.cmd_json, rp.cmd_json);
    fflush(stdout);
    status = consistent ? 0 : 1;
out:
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    free(evs);
    if (rc) {
        redisFree(rc);
    }
    ac_codec_destroy(codec);
    if (dk) {
        ac_dev_kafka_stop(dk);
    }
    if (redis_started) {
        ac_dev_redis_stop(&dr, SIGTERM);
    }
    if (o.keep || status != 0) {
        fprintf(stderr, "bench_orders: kept %s\n", dir);
    } else {
        char cmd[700];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        int r = system(cmd);
        (void)r;
    }
    return status;
}
