/* bench_timers.c — fire rate and lateness of aftercare-timers with >= 1,000,000
 * timers pending, against two ceilings measured in the same run.
 *
 * One run, one process (plus aftercare-timers as a child and a redis-server):
 *
 *   1. populates Redis directly in the store's format (common/store.h): C
 *      customers with a state hash and K far-future timers each (due in 30+
 *      days: pending, never due during the run), the generation key;
 *   2. adds the timers that fall due during the run: a steady phase (R timers
 *      per second for W seconds from a start P a few seconds after the
 *      population) and a burst (B timers all due at one instant Q after the
 *      steady phase);
 *   3. runs aftercare-timers (real wall clock, speed 1) and waits until every
 *      one of them was decided (aftercare_timers_fired_total on /metrics),
 *      keeping its lateness histogram at the end of the steady phase;
 *   4. reads bench.actions: every record's id gives its timer's due time, its
 *      Kafka timestamp (producer CreateTime) the emission: exact lateness
 *      percentiles per phase, and the burst's fire rate (B / (last burst
 *      record - Q));
 *   5. ceilings: (a) raw produce: B records of the actions' size with the
 *      process's producer settings, flushed per round of timers.batch as the
 *      process does (and once at the end); (b) Redis + engine without Kafka:
 *      a second burst of B timers drained in this process with the process's
 *      own code (ac_fire_round, ac_store_ack, ac_store_outbox_done);
 *   6. prints a table and one JSON line.
 *
 * See bench/README.md. */
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "codec.h"
#include "devstack.h"
#include "engine.h"
#include "rules.h"
#include "err.h"
#include "fire.h"
#include "log.h"
#include "processor.h"
#include "store.h"
#include "timer.h"

#define BENCH_PREFIX "bench"
#define BENCH_RULE "renewal_notice" /* bench/timers.yaml */
#define BENCH_ACTIONS "bench.actions"
#define BENCH_RAW "bench.raw"
#define BENCH_MAX_PARTS 256
#define BENCH_DAY_MS 86400000LL
#define BENCH_PIPE 4000 /* commands in flight while populating */
#define BENCH_HBUCKETS 16 /* the metrics histogram's buckets (common/metrics.c) */
/* Timers due 1.5 s before the steady phase: the process's producer learns
 * the topic's metadata and its producer id with them, not with the first
 * measured round. */
#define BENCH_WARMUP 200

/* --- options ------------------------------------------------------------------------------ */

struct bench_opts {
    long customers;
    long per_customer; /* far-future timers per customer */
    long rate;         /* steady phase: timers falling due per second */
    long steady_s;
    long burst;
    long batch;        /* timers.batch */
    long idle_ms;      /* timers.idle_ms */
    int out_partitions;
    int timeout_s;
    int keep;
    const char *processor;
    const char *playbook;
    const char *wrap;
    const char *dump; /* file for one line per decided timer */
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
    fprintf(f, "usage: bench_timers [--customers N] [--per-customer N] [--rate N]\n"
               "                    [--steady-seconds N] [--burst N] [--batch N] [--idle-ms N]\n"
               "                    [--out-partitions N] [--timeout S] [--processor PATH]\n"
               "                    [--playbook FILE] [--wrap \"CMD ARGS --\"] [--dump FILE] "
               "[--keep]\n"
               "defaults: 250000 customers x 4 far-future timers, steady phase 2000 timers/s\n"
               "          for 10 s, burst 100000, batch 1000, idle 100 ms, 64 output partitions,\n"
               "          timeout 900 s\n");
}

static int bench_parse_args(int argc, char **argv, struct bench_opts *o)
{
    o->customers = 250000;
    o->per_customer = 4;
    o->rate = 2000;
    o->steady_s = 10;
    o->burst = 100000;
    o->batch = 1000;
    o->idle_ms = 100;
    o->out_partitions = 64;
    o->timeout_s = 900;
    o->keep = 0;
    o->processor = AC_BENCH_TIMERS_EXE;
    o->playbook = AC_SOURCE_DIR "/bench/timers.yaml";
    o->wrap = NULL;
    o->dump = NULL;
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
            fprintf(stderr, "bench_timers: %s needs a value\n", a);
            return -1;
        }
        i++;
        if (strcmp(a, "--processor") == 0) {
            o->processor = v;
        } else if (strcmp(a, "--playbook") == 0) {
            o->playbook = v;
        } else if (strcmp(a, "--wrap") == 0) {
            o->wrap = v;
        } else if (strcmp(a, "--dump") == 0) {
            o->dump = v;
        } else if (strcmp(a, "--customers") == 0 && bench_parse_long(v, 1, 10000000, &n) == 0) {
            o->customers = n;
        } else if (strcmp(a, "--per-customer") == 0 &&
                   bench_parse_long(v, 0, AC_TIMERS_MAX - 8, &n) == 0) {
            o->per_customer = n;
        } else if (strcmp(a, "--rate") == 0 && bench_parse_long(v, 1, 10000000, &n) == 0) {
            o->rate = n;
        } else if (strcmp(a, "--steady-seconds") == 0 && bench_parse_long(v, 0, 3600, &n) == 0) {
            o->steady_s = n;
        } else if (strcmp(a, "--burst") == 0 && bench_parse_long(v, 1, 10000000, &n) == 0) {
            o->burst = n;
        } else if (strcmp(a, "--batch") == 0 && bench_parse_long(v, 1, 100000, &n) == 0) {
            o->batch = n;
        } else if (strcmp(a, "--idle-ms") == 0 && bench_parse_long(v, 1, 60000, &n) == 0) {
            o->idle_ms = n;
        } else if (strcmp(a, "--out-partitions") == 0 &&
                   bench_parse_long(v, 1, BENCH_MAX_PARTS, &n) == 0) {
            o->out_partitions = (int)n;
        } else if (strcmp(a, "--timeout") == 0 && bench_parse_long(v, 1, 86400, &n) == 0) {
            o->timeout_s = (int)n;
        } else {
            fprintf(stderr, "bench_timers: bad option or value: %s %s\n", a, v);
            return -1;
        }
    }
    /* Each timer falling due gets a customer of its own, so that one round's
     * claim is one timer per customer (AC_EMIT_MAX_ACTIONS never limits). */
    if (o->rate * o->steady_s + o->burst + BENCH_WARMUP > o->customers) {
        fprintf(stderr, "bench_timers: --rate x --steady-seconds + --burst + %d must not exceed "
                        "--customers\n",
                BENCH_WARMUP);
        return -1;
    }
    return 0;
}

/* --- small helpers ------------------------------------------------------------------------- */

static int64_t bench_wall_ms(void)
{
    return ac_clock_now(ac_clock_wall());
}

static void bench_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double bench_div(double a, double b)
{
    return b > 0 ? a / b : 0;
}

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
    const char *p = strrchr(buf, ')'); /* after the command name */
    if (!p) {
        return -1.0;
    }
    /* fields after ')': state is field 3; utime 14, stime 15 */
    unsigned long long ut = 0, st = 0;
    int field = 2;
    for (const char *t = p + 1; *t && field < 15;) {
        while (*t == ' ') {
            t++;
        }
        field++;
        if (field == 14) {
            ut = strtoull(t, NULL, 10);
        } else if (field == 15) {
            st = strtoull(t, NULL, 10);
        }
        while (*t && *t != ' ') {
            t++;
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
        fprintf(stderr, "bench_timers: redis: %s\n", rc->errstr);
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
    for (const char *p = r->type == REDIS_REPLY_STRING ? r->str : NULL; p && *p;) {
        if (strncmp(p, field, fl) == 0 && p[fl] == ':') {
            v = strtod(p + fl + 1, NULL);
            break;
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    freeReplyObject(r);
    return v;
}

static double bench_redis_cpu(redisContext *rc)
{
    return bench_redis_info(rc, "cpu", "used_cpu_sys") +
           bench_redis_info(rc, "cpu", "used_cpu_user");
}

/* Timers in the due indexes: pending (all) and due at or before now. */
static void bench_due_counts(redisContext *rc, int64_t now, long long *pending,
                             long long *overdue)
{
    *pending = *overdue = 0;
    for (unsigned b = 0; b < AC_STORE_BUCKETS; b++) {
        redisAppendCommand(rc, "ZCARD " BENCH_PREFIX ":{%u}:due", b);
        redisAppendCommand(rc, "ZCOUNT " BENCH_PREFIX ":{%u}:due -inf %lld", b, (long long)now);
    }
    for (unsigned b = 0; b < 2 * AC_STORE_BUCKETS; b++) {
        redisReply *r = NULL;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK) {
            fprintf(stderr, "bench_timers: redis: %s\n", rc->errstr);
            exit(1);
        }
        if (r->type == REDIS_REPLY_INTEGER) {
            *(b % 2 ? overdue : pending) += r->integer;
        }
        freeReplyObject(r);
    }
}

/* --- 1, 2. the timers, written in the store's format ---------------------------------------- */

static void bench_customer_id(char *out, size_t len, long cust)
{
    snprintf(out, len, "cust-%07ld", cust);
}

struct bench_writer {
    redisContext *rc;
    long inflight;
    long timers;
    struct ac_buf json;
    struct ac_event ev;
};

static int bench_drain(struct bench_writer *w, long keep)
{
    while (w->inflight > keep) {
        redisReply *r = NULL;
        if (redisGetReply(w->rc, (void **)&r) != REDIS_OK) {
            fprintf(stderr, "bench_timers: redis: %s\n", w->rc->errstr);
            return -1;
        }
        int bad = r->type == REDIS_REPLY_ERROR;
        if (bad) {
            fprintf(stderr, "bench_timers: redis: %s\n", r->str);
        }
        freeReplyObject(r);
        w->inflight--;
        if (bad) {
            return -1;
        }
    }
    return 0;
}

/* A customer's state hash: one order, version 1. */
static int bench_put_customer(struct bench_writer *w, long cust, int64_t now)
{
    char cid[AC_ID_MAX];
    bench_customer_id(cid, sizeof(cid), cust);
    redisAppendCommand(w->rc, "HSET " BENCH_PREFIX ":{%u}:c:%s v 1 o.count 1 o.first %lld",
                       ac_store_bucket(cid), cid, (long long)(now - 60 * BENCH_DAY_MS));
    w->inflight++;
    return w->inflight >= BENCH_PIPE ? bench_drain(w, BENCH_PIPE / 2) : 0;
}

/* One pending timer of the bench rule for customer cust, as the orders
 * processor would have scheduled it from an order with renewal_at = due:
 * its JSON in the customer's timers hash, its member in the bucket's due
 * index. *id gets the action id it will emit. */
static int bench_put_timer(struct bench_writer *w, long cust, const char *trigger_id, int64_t due,
                           char id[AC_ACTION_ID_MAX])
{
    char cid[AC_ID_MAX], member[AC_ACTION_ID_MAX + AC_ID_MAX];
    struct ac_timer t;
    struct ac_event *ev = &w->ev;
    bench_customer_id(cid, sizeof(cid), cust);
    memset(ev, 0, sizeof(*ev));
    ev->topic = AC_TOPIC_ORDERS;
    snprintf(ev->event_id, sizeof(ev->event_id), "%s", trigger_id);
    snprintf(ev->customer_id, sizeof(ev->customer_id), "%s", cid);
    snprintf(ev->type, sizeof(ev->type), "order_placed");
    ev->occurred_at = due - 30 * BENCH_DAY_MS;
    snprintf(ev->u.order.order_id, sizeof(ev->u.order.order_id), "o-%s", trigger_id);
    ev->u.order.total_cents = 4900;
    snprintf(ev->u.order.currency, sizeof(ev->u.order.currency), "EUR");
    ev->u.order.renewal_at = due;
    ev->u.order.n_items = 1;
    snprintf(ev->u.order.items[0].sku, sizeof(ev->u.order.items[0].sku), "sku-plan");
    snprintf(ev->u.order.items[0].product_family, sizeof(ev->u.order.items[0].product_family),
             "subscription");
    ev->u.order.items[0].unit_price_cents = 4900;
    ev->u.order.items[0].quantity = 1;
    memset(&t, 0, sizeof(t));
    ac_action_id(t.id, BENCH_RULE, trigger_id, 0);
    snprintf(t.rule_id, sizeof(t.rule_id), BENCH_RULE);
    t.part = 0;
    t.due = due;
    t.first_due = due;
    t.expires_at = AC_TS_NONE;
    ac_trigger_from_event(&t.trigger, ev);
    ac_buf_reset(&w->json);
    if (ac_timer_to_json(&t, &w->json) != 0 ||
        ac_timer_member(member, sizeof(member), t.id, cid) < 0) {
        fprintf(stderr, "bench_timers: cannot serialise a timer\n");
        return -1;
    }
    unsigned b = ac_store_bucket(cid);
    redisAppendCommand(w->rc, "HSET " BENCH_PREFIX ":{%u}:t:%s %s %b", b, cid, t.id,
                       w->json.data, w->json.len);
    redisAppendCommand(w->rc, "ZADD " BENCH_PREFIX ":{%u}:due %lld %s", b, (long long)due,
                       member);
    w->inflight += 2;
    w->timers++;
    if (id) {
        memcpy(id, t.id, AC_ACTION_ID_MAX);
    }
    return w->inflight >= BENCH_PIPE ? bench_drain(w, BENCH_PIPE / 2) : 0;
}

/* A timer that falls due during the run: its action id, due time, phase. */
struct bench_due {
    char id[AC_ACTION_ID_MAX];
    int64_t due;
    int phase; /* 0 steady, 1 burst, 2 warm-up */
};

static int bench_cmp_due(const void *a, const void *b)
{
    return strcmp(((const struct bench_due *)a)->id, ((const struct bench_due *)b)->id);
}

/* --- 3. the process ------------------------------------------------------------------------ */

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

/* GET http://127.0.0.1:port/metrics into a malloc'd string, or NULL. */
static char *bench_metrics(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    static const char req[] = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
        close(fd);
        return NULL;
    }
    size_t cap = 1 << 16, got = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while (buf && (r = read(fd, buf + got, cap - 1 - got)) > 0) {
        got += (size_t)r;
        if (got + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    close(fd);
    if (buf) {
        buf[got] = '\0';
    }
    return buf;
}

/* The value of the first sample whose line starts with `series` followed by
 * a space, or -1. */
static double bench_metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            return strtod(p + n + 1, NULL);
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return -1.0;
}

/* The lateness histogram: cumulative counts per upper bound. */
struct bench_hist {
    double le[BENCH_HBUCKETS]; /* the last is +Inf */
    double cum[BENCH_HBUCKETS];
    int n;
    double count, sum;
};

static void bench_hist_parse(const char *text, struct bench_hist *h)
{
    static const char name[] = "aftercare_timer_lateness_seconds_bucket{le=\"";
    memset(h, 0, sizeof(*h));
    for (const char *p = text; p && *p && h->n < BENCH_HBUCKETS;) {
        if (strncmp(p, name, sizeof(name) - 1) == 0) {
            const char *v = p + sizeof(name) - 1;
            h->le[h->n] = strncmp(v, "+Inf", 4) == 0 ? 1e300 : strtod(v, NULL);
            const char *sp = strchr(v, ' ');
            h->cum[h->n++] = sp ? strtod(sp + 1, NULL) : 0;
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    h->count = bench_metric(text, "aftercare_timer_lateness_seconds_count");
    h->sum = bench_metric(text, "aftercare_timer_lateness_seconds_sum");
}

/* b - a, bucket by bucket. */
static void bench_hist_sub(struct bench_hist *b, const struct bench_hist *a)
{
    for (int i = 0; i < b->n && i < a->n; i++) {
        b->cum[i] -= a->cum[i];
    }
    b->count -= a->count;
    b->sum -= a->sum;
}

/* Upper bound of the bucket holding quantile q (seconds; 1e300 = +Inf), or -1. */
static double bench_hist_q(const struct bench_hist *h, double q)
{
    if (h->n == 0 || h->cum[h->n - 1] <= 0) {
        return -1;
    }
    double want = q * h->cum[h->n - 1];
    for (int i = 0; i < h->n; i++) {
        if (h->cum[i] >= want) {
            return h->le[i];
        }
    }
    return h->le[h->n - 1];
}

static void bench_fmt_le(char *out, size_t len, double le)
{
    if (le < 0) {
        snprintf(out, len, "n/a");
    } else if (le > 1e299) {
        snprintf(out, len, "> 60 s");
    } else {
        snprintf(out, len, "<= %g s", le);
    }
}

struct bench_run {
    double start_s;           /* spawn */
    double burst_s;           /* mono time of Q */
    double end_s;             /* every timer decided */
    double cpu_proc, cpu_self, cpu_redis; /* over the burst: Q to the end */
    int warm_done, steady_done; /* the warm-up, the steady phase were decided */
    int warm_before_steady;   /* 1 if the warm-up ended before the steady phase began */
    int steady_before_burst;  /* 1 if the steady phase ended before Q */
    struct bench_hist h_warm, h_steady, h_all;
    char cmd_text[1024];
};

static int bench_write_config(const char *path, const struct bench_opts *o,
                              struct ac_dev_kafka *dk, const struct ac_dev_redis *dr, int port)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench_timers: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f,
            "kafka.brokers = %s\nredis.url = %s\nredis.prefix = " BENCH_PREFIX "\n"
            "schemas.dir = %s\nplaybook = %s\ntopic.actions = " BENCH_ACTIONS "\n"
            "topic.signals = bench.signals\ntopic.dlq = bench.dlq\n"
            "http.bind = 127.0.0.1\nhttp.port = %d\nlog.level = warn\n"
            "timers.batch = %ld\ntimers.idle_ms = %ld\n",
            ac_dev_kafka_brokers(dk), dr->url, AC_SCHEMA_DIR, o->playbook, port, o->batch,
            o->idle_ms);
    return fclose(f) == 0 ? 0 : -1;
}

/* INFO commandstats since the last CONFIG RESETSTAT: the five commands with
 * the most server time, "name calls usec/call" into text. */
struct bench_cmdstat {
    char name[48];
    long long calls;
    double usec;
};

static void bench_commandstats(redisContext *rc, char *text, size_t tlen)
{
    struct bench_cmdstat cs[64];
    int n = 0;
    redisReply *r = bench_redis(rc, "INFO commandstats");
    for (const char *p = r->type == REDIS_REPLY_STRING ? r->str : NULL; p && *p && n < 64;) {
        const char *eol = strchr(p, '\n');
        const char *colon = strchr(p, ':');
        const char *calls = strstr(p, "calls="), *usec = strstr(p, ",usec=");
        if (strncmp(p, "cmdstat_", 8) == 0 && colon && calls && usec && (!eol || usec < eol)) {
            snprintf(cs[n].name, sizeof(cs[n].name), "%.*s", (int)(colon - p - 8), p + 8);
            cs[n].calls = strtoll(calls + 6, NULL, 10);
            cs[n].usec = strtod(usec + 6, NULL);
            n++;
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
    size_t at = 0;
    text[0] = '\0';
    for (int i = 0; i < n && i < 6 && at < tlen; i++) {
        at += (size_t)snprintf(text + at, tlen - at, "%s%s %lld x %.1f us = %.2f s",
                               i ? "; " : "", cs[i].name, cs[i].calls,
                               bench_div(cs[i].usec, (double)cs[i].calls), cs[i].usec / 1e6);
    }
}

static int bench_run_process(const struct bench_opts *o, struct ac_dev_kafka *dk,
                             const struct ac_dev_redis *dr, redisContext *rc, const char *dir,
                             long n_steady, int64_t steady_at, int64_t burst_at,
                             struct bench_run *run)
{
    char config[640], logpath[640];
    int port = ac_dev_free_port();
    snprintf(config, sizeof(config), "%s/timers.conf", dir);
    snprintf(logpath, sizeof(logpath), "%s/timers.log", dir);
    if (port <= 0 || bench_write_config(config, o, dk, dr, port) != 0) {
        return -1;
    }
    run->start_s = ac_clock_mono_s();
    pid_t pid = bench_spawn(o, config, logpath);
    if (pid < 0) {
        fprintf(stderr, "bench_timers: fork: %s\n", strerror(errno));
        return -1;
    }
    double deadline = run->start_s + o->timeout_s, last_print = 0;
    double cpu_p0 = 0, cpu_s0 = 0, cpu_r0 = 0;
    long total = BENCH_WARMUP + n_steady + o->burst;
    int burst_started = 0, rc_out = -1;
    double fired = 0;
    for (;;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            pid = -1;
            fprintf(stderr, "bench_timers: aftercare-timers exited (status %d); see %s\n", status,
                    logpath);
            goto out;
        }
        double now_s = ac_clock_mono_s();
        if (now_s > deadline) {
            fprintf(stderr,
                    "bench_timers: timeout: %.0f of %ld timers decided after %d s; see %s\n", fired,
                    total, o->timeout_s, logpath);
            goto out;
        }
        if (!burst_started && bench_wall_ms() >= burst_at) {
            burst_started = 1;
            run->burst_s = now_s;
            cpu_p0 = bench_cpu_pid(pid);
            cpu_s0 = bench_cpu_self();
            cpu_r0 = bench_redis_cpu(rc);
            freeReplyObject(bench_redis(rc, "CONFIG RESETSTAT"));
        }
        char *m = bench_metrics(port);
        if (m) {
            double f = bench_metric(m, "aftercare_timers_fired_total");
            fired = f > 0 ? f : 0;
            if (!run->warm_done && fired >= (double)BENCH_WARMUP) {
                run->warm_done = 1;
                run->warm_before_steady = bench_wall_ms() < steady_at;
                bench_hist_parse(m, &run->h_warm);
            }
            if (!run->steady_done && fired >= (double)(BENCH_WARMUP + n_steady)) {
                /* The steady phase is decided: its share of the histogram. */
                run->steady_done = 1;
                run->steady_before_burst = !burst_started;
                bench_hist_parse(m, &run->h_steady);
            }
            if (burst_started && fired >= (double)total) {
                run->end_s = ac_clock_mono_s();
                run->cpu_proc = bench_cpu_pid(pid) - cpu_p0;
                run->cpu_self = bench_cpu_self() - cpu_s0;
                run->cpu_redis = bench_redis_cpu(rc) - cpu_r0;
                bench_commandstats(rc, run->cmd_text, sizeof(run->cmd_text));
                bench_hist_parse(m, &run->h_all);
                free(m);
                break;
            }
            free(m);
        }
        if (now_s - last_print >= 5) {
            last_print = now_s;
            fprintf(stderr, "bench_timers: %.0f of %ld timers decided\n", fired, total);
        }
        bench_sleep_ms(100); /* polling a condition (the process's counters) */
    }
    rc_out = 0;
out:
    if (pid > 0) {
        int status = 0;
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
        /* A wrapper (perf) reports its own exit status: only warn then. */
        if (rc_out == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            fprintf(stderr, "bench_timers: aftercare-timers%s exited with status %d\n",
                    o->wrap ? " (wrapped)" : "", status);
            rc_out = o->wrap ? 0 : -1;
        }
    }
    return rc_out;
}

/* --- 4. the records ------------------------------------------------------------------------ */

struct bench_out {
    long records, matched, repeats, unknown;
    long steady, burst;
    int64_t *late[2]; /* ms per phase, emission time - due */
    long n_late[2];
    int64_t burst_last_ts;
    int64_t bytes;
    void *sample;     /* one action record's value, for the raw produce */
    size_t sample_len;
    int truncated;
    FILE *dump;       /* "phase due_ms emitted_ms" per timer, or NULL */
};

static int bench_read_actions(struct ac_dev_kafka *dk, int partitions, struct bench_due *dues,
                              long n_dues, struct bench_out *out)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", ac_dev_kafka_brokers(dk), err,
                          sizeof(err)) ||
        rd_kafka_conf_set(conf, "group.id", "bench-reader", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof(err))) {
        fprintf(stderr, "bench_timers: consumer config: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "bench_timers: consumer: %s\n", err);
        return -1;
    }
    rd_kafka_poll_set_consumer(rk);
    int64_t end = 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, BENCH_ACTIONS, p, &lo, &hi, 10000) != 0) {
            fprintf(stderr, "bench_timers: no watermarks for %s\n", BENCH_ACTIONS);
            rd_kafka_topic_partition_list_destroy(l);
            rd_kafka_destroy(rk);
            return -1;
        }
        out->truncated += lo != 0; /* the mock dropped the oldest message sets */
        end += hi;
        rd_kafka_topic_partition_list_add(l, BENCH_ACTIONS, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    unsigned char *seen = calloc((size_t)n_dues, 1);
    out->late[0] = calloc((size_t)n_dues + 1, sizeof(int64_t));
    out->late[1] = calloc((size_t)n_dues + 1, sizeof(int64_t));
    if (!seen || !out->late[0] || !out->late[1]) {
        free(seen);
        rd_kafka_destroy(rk);
        return -1;
    }
    double deadline = ac_clock_mono_s() + 120;
    while (out->records < end && ac_clock_mono_s() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            continue;
        }
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        out->records++;
        out->bytes += (int64_t)m->len;
        if (!out->sample) {
            out->sample = malloc(m->len);
            if (out->sample) {
                memcpy(out->sample, m->payload, m->len);
                out->sample_len = m->len;
            }
        }
        struct bench_due key;
        rd_kafka_headers_t *hdrs = NULL;
        const void *v = NULL;
        size_t vn = 0;
        memset(&key, 0, sizeof(key));
        if (rd_kafka_message_headers(m, &hdrs) == 0 &&
            rd_kafka_header_get_last(hdrs, "aftercare_id", &v, &vn) == 0 && v &&
            vn < sizeof(key.id)) {
            memcpy(key.id, v, vn);
        }
        struct bench_due *d = bsearch(&key, dues, (size_t)n_dues, sizeof(*dues), bench_cmp_due);
        if (!d) {
            out->unknown++;
        } else if (seen[d - dues]) {
            out->repeats++;
        } else {
            seen[d - dues] = 1;
            out->matched++;
            rd_kafka_timestamp_type_t tt;
            int64_t ts = rd_kafka_message_timestamp(m, &tt);
            if (d->phase < 2) {
                out->late[d->phase][out->n_late[d->phase]++] = ts - d->due;
            }
            if (out->dump) {
                fprintf(out->dump, "%d %lld %lld\n", d->phase, (long long)d->due, (long long)ts);
            }
            if (d->phase == 1 && ts > out->burst_last_ts) {
                out->burst_last_ts = ts;
            }
        }
        rd_kafka_message_destroy(m);
    }
    free(seen);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (out->records < end) {
        fprintf(stderr, "bench_timers: read %ld of %lld action records\n", out->records,
                (long long)end);
        return -1;
    }
    return 0;
}

static int bench_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double bench_mean(const int64_t *v, long n)
{
    double sum = 0;
    for (long i = 0; i < n; i++) {
        sum += (double)v[i];
    }
    return n > 0 ? sum / (double)n : -1;
}

/* Quantile q of a sorted array, ms; -1 if empty. */
static double bench_q(const int64_t *v, long n, double q)
{
    if (n <= 0) {
        return -1;
    }
    long i = (long)(q * (double)(n - 1) + 0.5);
    return (double)v[i];
}

/* --- 5a. raw produce ----------------------------------------------------------------------- */

struct bench_dr {
    long ok, failed;
};

static void bench_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct bench_dr *d = opaque;
    (void)rk;
    if (m->err) {
        d->failed++;
    } else {
        d->ok++;
    }
}

/* Produces n records of the sample's size to BENCH_RAW with the process's
 * producer settings (common/kafka.c), flushing every `round` records (as
 * the process flushes each round); returns records/s or -1. */
static double bench_raw_produce(struct ac_dev_kafka *dk, const void *p, size_t len, long n,
                                long round)
{
    char err[512], key[AC_ID_MAX];
    static struct bench_dr dr;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", ac_dev_kafka_brokers(dk), err,
                          sizeof(err)) ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "acks", "all", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err))) {
        fprintf(stderr, "bench_timers: producer config: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    memset(&dr, 0, sizeof(dr));
    rd_kafka_conf_set_dr_msg_cb(conf, bench_dr_cb);
    rd_kafka_conf_set_opaque(conf, &dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "bench_timers: producer: %s\n", err);
        return -1;
    }
    /* connect first: the timers process has its connections up too */
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(rk, 1, NULL, &md, 10000) == 0) {
        rd_kafka_metadata_destroy(md);
    }
    double t0 = ac_clock_mono_s();
    int rc = 0;
    for (long i = 0; i < n && rc == 0; i++) {
        bench_customer_id(key, sizeof(key), i);
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(BENCH_RAW), RD_KAFKA_V_KEY(key, strlen(key)),
                RD_KAFKA_V_VALUE((void *)p, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_HEADER("aftercare_id", key, -1), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 10);
                continue;
            }
            rc = e ? -1 : 0;
            break;
        }
        if ((i + 1) % round == 0 && rd_kafka_flush(rk, 60000) != 0) {
            rc = -1;
        }
    }
    if (rc == 0 && rd_kafka_flush(rk, 60000) != 0) {
        rc = -1;
    }
    double s = ac_clock_mono_s() - t0;
    rd_kafka_destroy(rk);
    if (rc != 0 || dr.failed || dr.ok != n) {
        fprintf(stderr, "bench_timers: raw produce failed (%ld ok, %ld failed)\n", dr.ok,
                dr.failed);
        return -1;
    }
    return bench_div((double)n, s);
}

/* --- 5b. Redis + engine, no Kafka ---------------------------------------------------------- */

static void bench_scan_found(const char *customer_id, const char *timer_id, int64_t due,
                             void *opaque)
{
    (void)customer_id;
    (void)timer_id;
    (void)due;
    (void)opaque;
}

struct bench_ceiling {
    long decided, rounds;
    double seconds, fire_s, ack_s, scan_ms;
    double cpu_redis;
    char cmd_text[1024];
};

static int bench_ceiling_run(const struct bench_opts *o, const struct ac_dev_redis *dr,
                             redisContext *rc, struct ac_codec *codec, struct bench_ceiling *c)
{
    char err[512];
    int ret = -1;
    struct ac_engine_opts eopts = {"customer-success"};
    struct ac_rules *rules = ac_rules_open(o->playbook, &eopts, err, sizeof(err));
    struct ac_store *st = rules ? ac_store_new(dr->url, BENCH_PREFIX, err, sizeof(err)) : NULL;
    struct ac_fire *f = NULL;
    char gen[40];
    if (!st || ac_store_connect(st, err, sizeof(err)) != 0 ||
        ac_store_generation(st, 0, gen) != 0) {
        fprintf(stderr, "bench_timers: ceiling: %s\n", err);
        goto out;
    }
    ac_store_expect_generation(st, gen);
    f = ac_fire_new(st, ac_rules_engine(rules), codec, (size_t)o->batch);
    if (!f) {
        goto out;
    }
    /* The due scan alone (1024 ZRANGE BYSCORE), on the idle data set. */
    double t = ac_clock_mono_s();
    for (int i = 0; i < 20; i++) {
        if (ac_store_due(st, bench_wall_ms() - 3600000, 0, (size_t)o->batch, bench_scan_found,
                         NULL) < 0) {
            goto out;
        }
    }
    c->scan_ms = (ac_clock_mono_s() - t) * 1000.0 / 20;
    double cpu_r0 = bench_redis_cpu(rc);
    freeReplyObject(bench_redis(rc, "CONFIG RESETSTAT"));
    int64_t now = bench_wall_ms();
    double t0 = ac_clock_mono_s();
    unsigned start = 0;
    for (;;) {
        struct ac_store_cust *custs = NULL;
        size_t n = 0;
        t = ac_clock_mono_s();
        int d = ac_fire_round(f, now, start, &custs, &n);
        c->fire_s += ac_clock_mono_s() - t;
        start = (start + 97) % AC_STORE_BUCKETS;
        if (d < 0) {
            fprintf(stderr, "bench_timers: ceiling: fire round failed (%d)\n", d);
            goto out;
        }
        if (d == 0) {
            break;
        }
        c->decided += d;
        c->rounds++;
        t = ac_clock_mono_s();
        if (ac_store_ack(st, custs, n, "bench", AC_TOPIC_ORDERS, NULL, NULL, 0) != 0 ||
            ac_store_outbox_done(st, custs, n) != 0) {
            fprintf(stderr, "bench_timers: ceiling: ack failed\n");
            goto out;
        }
        c->ack_s += ac_clock_mono_s() - t;
    }
    c->seconds = ac_clock_mono_s() - t0;
    c->cpu_redis = bench_redis_cpu(rc) - cpu_r0;
    bench_commandstats(rc, c->cmd_text, sizeof(c->cmd_text));
    ret = 0;
out:
    ac_fire_destroy(f);
    if (st) {
        ac_store_destroy(st);
    }
    if (rules) {
        ac_rules_close(rules);
    }
    return ret;
}

/* --- main ---------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    struct bench_opts o;
    char err[512], dir[512], rdir[600], gen[40];
    int status = 1, redis_started = 0;
    struct ac_dev_kafka *dk = NULL;
    struct ac_dev_redis dr;
    struct ac_codec *codec = NULL;
    struct ac_store *st = NULL;
    redisContext *rc = NULL;
    struct bench_due *dues = NULL;
    struct bench_writer w;
    struct bench_run run;
    struct bench_out out;
    struct bench_ceiling ceil;
    memset(&dr, 0, sizeof(dr));
    memset(&w, 0, sizeof(w));
    memset(&run, 0, sizeof(run));
    memset(&out, 0, sizeof(out));
    memset(&ceil, 0, sizeof(ceil));
    ac_buf_init(&w.json);
    if (bench_parse_args(argc, argv, &o) != 0) {
        bench_usage(stderr);
        return 2;
    }
    ac_log_init("bench_timers");
    ac_log_set_level(AC_LOG_WARN);
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/aftercare-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "bench_timers: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    snprintf(rdir, sizeof(rdir), "%s/redis", dir);
    if (ac_dev_redis_start(&dr, rdir, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_timers: redis: %s\n", err);
        goto out;
    }
    redis_started = 1;
    struct timeval tv = {30, 0};
    rc = redisConnectWithTimeout("127.0.0.1", dr.port, tv);
    dk = ac_dev_kafka_start(1, 4, err, sizeof(err));
    codec = ac_codec_new(AC_SCHEMA_DIR, NULL, err, sizeof(err));
    st = ac_store_new(dr.url, BENCH_PREFIX, err, sizeof(err));
    if (!rc || rc->err || !dk || !codec || !st || ac_store_connect(st, err, sizeof(err)) != 0 ||
        ac_store_generation(st, 1, gen) != 0 ||
        ac_dev_kafka_topic(dk, BENCH_ACTIONS, o.out_partitions) != 0 ||
        ac_dev_kafka_topic(dk, BENCH_RAW, o.out_partitions) != 0) {
        fprintf(stderr, "bench_timers: set-up failed: %s\n", err);
        goto out;
    }
    w.rc = rc;
    long n_far = o.customers * o.per_customer;
    long n_steady = o.rate * o.steady_s;
    long n_dues = n_steady + o.burst + BENCH_WARMUP;
    dues = calloc((size_t)n_dues + 1, sizeof(*dues));
    if (!dues) {
        goto out;
    }

    /* 1. Customers and far-future timers (due 30 to 60 days from now). */
    fprintf(stderr, "bench_timers: writing %ld customers with %ld far-future timers\n",
            o.customers, n_far);
    int64_t now = bench_wall_ms();
    double t0 = ac_clock_mono_s();
    char trig[64];
    for (long c = 0; c < o.customers; c++) {
        if (bench_put_customer(&w, c, now) != 0) {
            goto out;
        }
        for (long k = 0; k < o.per_customer; k++) {
            snprintf(trig, sizeof(trig), "bf-%ld-%ld", c, k);
            int64_t due = now + 30 * BENCH_DAY_MS + (c * o.per_customer + k) % (30 * 86400) * 1000;
            if (bench_put_timer(&w, c, trig, due, NULL) != 0) {
                goto out;
            }
        }
    }
    if (bench_drain(&w, 0) != 0) {
        goto out;
    }
    double pop_s = ac_clock_mono_s() - t0;
    double write_rate = bench_div((double)w.timers, pop_s);

    /* 2. The timers that fall due: steady from P, the burst at Q. P leaves
     * room to write them (at the rate just measured) and to start the process. */
    int64_t steady_at = bench_wall_ms() + (int64_t)(1500.0 * (double)n_dues / write_rate) + 3000;
    int64_t burst_at = steady_at + o.steady_s * 1000 + 3000;
    fprintf(stderr, "bench_timers: writing %ld steady (%ld/s from +%.1f s) and %ld burst timers\n",
            n_steady, o.rate, (double)(steady_at - bench_wall_ms()) / 1000.0, o.burst);
    for (long i = 0; i < n_dues; i++) {
        struct bench_due *d = &dues[i];
        long cust = i;
        d->phase = i < n_steady ? 0 : i < n_steady + o.burst ? 1 : 2;
        if (d->phase == 0) {
            d->due = steady_at + i * 1000 / o.rate;
        } else if (d->phase == 1) {
            d->due = burst_at;
        } else {
            d->due = steady_at - 1500;
            cust = o.customers - 1 - (i - n_steady - o.burst);
        }
        snprintf(trig, sizeof(trig), "b%c-%ld", "sbw"[d->phase], i);
        if (bench_put_timer(&w, cust, trig, d->due, d->id) != 0) {
            goto out;
        }
    }
    if (bench_drain(&w, 0) != 0) {
        goto out;
    }
    long long pending = 0, overdue = 0;
    bench_due_counts(rc, bench_wall_ms(), &pending, &overdue);
    double mem = bench_redis_info(rc, "memory", "used_memory");
    if (pending != n_far + n_dues || overdue > 0) {
        fprintf(stderr, "bench_timers: %lld timers pending (want %ld), %lld already due: "
                        "population too slow for the planned start\n",
                pending, n_far + n_dues, overdue);
        goto out;
    }
    qsort(dues, (size_t)n_dues, sizeof(*dues), bench_cmp_due);

    /* 3. The process. */
    fprintf(stderr, "bench_timers: %lld timers pending (%.0f B of Redis memory each); running "
                    "aftercare-timers\n",
            pending, bench_div(mem, (double)pending));
    if (bench_run_process(&o, dk, &dr, rc, dir, n_steady, steady_at, burst_at, &run) != 0) {
        goto out;
    }
    long long left = 0;
    bench_due_counts(rc, bench_wall_ms(), &left, &overdue);

    /* 4. The records. */
    fprintf(stderr, "bench_timers: reading %s\n", BENCH_ACTIONS);
    if (o.dump && !(out.dump = fopen(o.dump, "w"))) {
        fprintf(stderr, "bench_timers: %s: %s\n", o.dump, strerror(errno));
        goto out;
    }
    if (bench_read_actions(dk, o.out_partitions, dues, n_dues, &out) != 0) {
        goto out;
    }
    qsort(out.late[0], (size_t)out.n_late[0], sizeof(int64_t), bench_cmp_i64);
    qsort(out.late[1], (size_t)out.n_late[1], sizeof(int64_t), bench_cmp_i64);
    double burst_s = (double)(out.burst_last_ts - burst_at) / 1000.0;
    double fire_rate = bench_div((double)out.n_late[1], burst_s);

    /* 5a. Raw produce of the same records. */
    fprintf(stderr, "bench_timers: raw produce\n");
    double raw_round = -1, raw_once = -1;
    if (out.sample) {
        raw_round = bench_raw_produce(dk, out.sample, out.sample_len, o.burst, o.batch);
        raw_once = bench_raw_produce(dk, out.sample, out.sample_len, o.burst, o.burst);
    }
    if (raw_round < 0 || raw_once < 0) {
        goto out;
    }

    /* 5b. Redis + engine: a second burst, due now, drained in this process. */
    fprintf(stderr, "bench_timers: Redis + engine ceiling (%ld timers, no Kafka)\n", o.burst);
    now = bench_wall_ms();
    for (long i = 0; i < o.burst; i++) {
        snprintf(trig, sizeof(trig), "bc-%ld", i);
        if (bench_put_timer(&w, n_steady + o.burst + i < o.customers ? n_steady + o.burst + i : i,
                            trig, now - 1000,
                            NULL) != 0) {
            goto out;
        }
    }
    if (bench_drain(&w, 0) != 0 || bench_ceiling_run(&o, &dr, rc, codec, &ceil) != 0) {
        goto out;
    }
    double ceil_rate = bench_div((double)ceil.decided, ceil.seconds);

    /* 6. Report. */
    struct bench_hist h_burst = run.h_all;
    bench_hist_sub(&h_burst, &run.h_steady);
    bench_hist_sub(&run.h_steady, &run.h_warm);
    char hs50[32], hs99[32], hb50[32], hb99[32];
    bench_fmt_le(hs50, sizeof(hs50), bench_hist_q(&run.h_steady, 0.50));
    bench_fmt_le(hs99, sizeof(hs99), bench_hist_q(&run.h_steady, 0.99));
    bench_fmt_le(hb50, sizeof(hb50), bench_hist_q(&h_burst, 0.50));
    bench_fmt_le(hb99, sizeof(hb99), bench_hist_q(&h_burst, 0.99));
    double s50 = bench_q(out.late[0], out.n_late[0], 0.50) / 1000.0;
    double s99 = bench_q(out.late[0], out.n_late[0], 0.99) / 1000.0;
    double smax = bench_q(out.late[0], out.n_late[0], 1.0) / 1000.0;
    double b50 = bench_q(out.late[1], out.n_late[1], 0.50) / 1000.0;
    double b99 = bench_q(out.late[1], out.n_late[1], 0.99) / 1000.0;
    double proc_s = run.end_s - run.burst_s;
    int consistent = out.matched == n_dues && out.unknown == 0 && out.truncated == 0 &&
                     left == n_far;

    printf("\naftercare-timers benchmark: %lld timers pending at the start (%ld customers x %ld "
           "far-future + %ld falling due), batch %ld, idle %ld ms\n",
           pending, o.customers, o.per_customer, n_dues, o.batch, o.idle_ms);
    printf("Redis: %.0f MiB used, %.0f B per pending timer; population %.0f timers/s\n\n",
           mem / 1048576.0, bench_div(mem, (double)pending), write_rate);
    printf("%-58s %12s %8s %8s\n", "fire rate", "timers/s", "seconds", "vs proc");
    printf("%-58s %12.0f %8.2f %8s\n", "aftercare-timers, burst (due at once -> last emitted)",
           fire_rate, burst_s, "1.00");
    printf("%-58s %12.0f %8.2f %8.2f\n", "  ceiling: Redis + engine, no Kafka (same code, 1 conn)",
           ceil_rate, ceil.seconds, bench_div(ceil_rate, fire_rate));
    printf("%-58s %12.0f %8s %8.2f\n", "  ceiling: raw produce, flush per batch", raw_round, "",
           bench_div(raw_round, fire_rate));
    printf("%-58s %12.0f %8s %8.2f\n", "  ceiling: raw produce, one flush", raw_once, "",
           bench_div(raw_once, fire_rate));
    double smean = bench_mean(out.late[0], out.n_late[0]) / 1000.0;
    double bmean = bench_mean(out.late[1], out.n_late[1]) / 1000.0;
    printf("\n%-30s %8s %8s %8s %8s %8s %11s %11s %9s\n", "lateness (emitted - due)", "timers",
           "p50 s", "p99 s", "max s", "mean s", "hist p50", "hist p99", "hist mean");
    printf("%-30s %8ld %8.3f %8.3f %8.3f %8.3f %11s %11s %9.3f\n", "steady phase", out.n_late[0],
           s50, s99, smax, smean, hs50, hs99, bench_div(run.h_steady.sum, run.h_steady.count));
    printf("%-30s %8ld %8.3f %8.3f %8.3f %8.3f %11s %11s %9.3f\n", "burst (queueing)",
           out.n_late[1], b50, b99, bench_q(out.late[1], out.n_late[1], 1.0) / 1000.0, bmean,
           hb50, hb99, bench_div(h_burst.sum, h_burst.count));
    printf("\nsteady phase: %ld timers/s for %ld s; %s; %d warm-up timers %s\n", o.rate,
           o.steady_s,
           run.steady_before_burst ? "all decided before the burst fell due"
                                    : "NOT all decided before the burst fell due",
           BENCH_WARMUP,
           run.warm_before_steady ? "decided before it began" : "NOT decided before it began");
    printf("CPU during the burst (%.2f s wall): aftercare-timers %.2f s (%.0f%%), "
           "mock cluster + bench %.2f s (%.0f%%), redis-server %.2f s (%.0f%%)\n",
           proc_s, run.cpu_proc, 100.0 * bench_div(run.cpu_proc, proc_s), run.cpu_self,
           100.0 * bench_div(run.cpu_self, proc_s), run.cpu_redis,
           100.0 * bench_div(run.cpu_redis, proc_s));
    printf("ceiling run: %ld rounds, %.2f s in ac_fire_round, %.2f s in ack + outbox index; "
           "due scan alone %.1f ms per round; redis-server CPU %.2f s\n",
           ceil.rounds, ceil.fire_s, ceil.ack_s, ceil.scan_ms, ceil.cpu_redis);
    printf("redis commands, process burst: %s\n", run.cmd_text);
    printf("redis commands, ceiling run:   %s\n", ceil.cmd_text);
    printf("outputs: %ld action records (%.0f B avg), %ld of %ld ids, %ld repeats, %ld unknown, "
           "%d truncated partitions; %lld timers pending after (want %ld) -> %s\n",
           out.records, bench_div((double)out.bytes, (double)out.records), out.matched, n_dues,
           out.repeats, out.unknown, out.truncated, left, n_far,
           consistent ? "consistent" : "INCONSISTENT");
    printf("{\"bench\":\"timers\",\"pending\":%lld,\"customers\":%ld,\"per_customer\":%ld,"
           "\"batch\":%ld,\"idle_ms\":%ld,\"steady_rate\":%ld,\"steady_seconds\":%ld,"
           "\"burst\":%ld,\"fire_rate\":%.0f,\"burst_seconds\":%.3f,"
           "\"ceiling_redis_engine\":%.0f,\"ceiling_raw_produce_per_batch\":%.0f,"
           "\"ceiling_raw_produce_once\":%.0f,\"steady_p50_s\":%.3f,\"steady_p99_s\":%.3f,"
           "\"steady_max_s\":%.3f,\"burst_p50_s\":%.3f,\"burst_p99_s\":%.3f,"
           "\"steady_before_burst\":%s,\"cpu_proc_s\":%.2f,\"cpu_mock_bench_s\":%.2f,"
           "\"cpu_redis_s\":%.2f,\"redis_bytes_per_timer\":%.0f,\"repeats\":%ld,"
           "\"consistent\":%s}\n",
           pending, o.customers, o.per_customer, o.batch, o.idle_ms, o.rate, o.steady_s, o.burst,
           fire_rate, burst_s, ceil_rate, raw_round, raw_once, s50, s99, smax, b50, b99,
           run.steady_before_burst ? "true" : "false", run.cpu_proc, run.cpu_self, run.cpu_redis,
           bench_div(mem, (double)pending), out.repeats, consistent ? "true" : "false");
    fflush(stdout);
    status = consistent ? 0 : 1;
out:
    if (out.dump) {
        fclose(out.dump);
    }
    free(dues);
    free(out.late[0]);
    free(out.late[1]);
    free(out.sample);
    ac_buf_fini(&w.json);
    if (st) {
        ac_store_destroy(st);
    }
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
        fprintf(stderr, "bench_timers: kept %s\n", dir);
    } else {
        char cmd[700];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        int r = system(cmd);
        (void)r;
    }
    return status;
}
