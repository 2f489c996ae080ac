/* timers.c — the timer process: rounds of due timers, produce, ack, sweep. */
#include "timers.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build.h"
#include "clock.h"
#include "codec.h"
#include "config.h"
#include "engine.h"
#include "err.h"
#include "fire.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "rules.h"
#include "store.h"

static const struct ac_cfg_entry timers_config[] = {
    {"kafka.brokers", AC_CFG_STR, "localhost:9092", "Kafka bootstrap servers", 0, 0},
    {"redis.url", AC_CFG_STR, "redis://127.0.0.1:6379",
     "Redis URL: redis://[[user]:password@]host[:port][/db]", 0, 0},
    {"redis.prefix", AC_CFG_STR, "ac", "prefix of every Redis key", 0, 0},
    {"topic.actions", AC_CFG_STR, "aftercare.actions", "action topic", 0, 0},
    {"topic.signals", AC_CFG_STR, "aftercare.signals", "signal topic", 0, 0},
    {"topic.dlq", AC_CFG_STR, "aftercare.dlq", "dead-letter topic", 0, 0},
    {"topic.decisions", AC_CFG_STR, "aftercare.decisions", "the audit log of decisions", 0, 0},
    {"schemas.dir", AC_CFG_STR, AC_SCHEMA_DIR, "directory of the Avro schemas", 0, 0},
    {"playbook", AC_CFG_STR, AC_PLAYBOOK_DEFAULT,
     "the playbook (YAML); SIGHUP reloads it, a bad new one is refused and the old one stays", 0,
     0},
    {"team.default_owner", AC_CFG_STR, "customer-success",
     "who gets team work for a customer without an account owner", 0, 0},
    {"timers.batch", AC_CFG_INT, "1000", "most timers claimed per round", 1, 100000},
    {"timers.idle_ms", AC_CFG_INT, "100", "wait between rounds when nothing is due (ms)", 1, 60000},
    {"timers.sweep_ms", AC_CFG_INT, "30000",
     "how often outboxes left by a dead process are produced (ms)", 100, 3600000},
    {"timers.event_time", AC_CFG_BOOL, "true",
     "fire a timer due at T only once every input partition has been processed up to T "
     "(false: on the wall clock alone)",
     0, 0},
    {"timers.inputs", AC_CFG_STR, "orders,deliveries,feedback,usage",
     "input topics whose progress holds timers back (leave out a topic no processor reads)", 0, 0},
    {"timers.max_hold_ms", AC_CFG_INT, "3600000",
     "a timer held back longer than this by a lagging or stopped processor fires anyway "
     "(counted and logged)",
     0, INT64_MAX},
    {"clock.speed", AC_CFG_INT, "1",
     "testing only: the clock runs this many times faster than the wall clock, from "
     "clock.epoch_ms",
     1, 1000000},
    {"clock.epoch_ms", AC_CFG_INT, "0", "testing only: where a sped-up clock starts (ms)", 0,
     INT64_MAX},
    {"http.bind", AC_CFG_STR, "0.0.0.0", "address of /metrics /healthz /readyz", 0, 0},
    {"http.port", AC_CFG_INT, "9105", "port of /metrics (0: any free port, -1: off)", -1, 65535},
    {"log.level", AC_CFG_STR, "info", "debug, info, warn or error", 0, 0},
    {NULL, AC_CFG_STR, NULL, NULL, 0, 0},
};

static volatile sig_atomic_t timers_stop, timers_reload;

static void timers_on_signal(int sig)
{
    if (sig == SIGHUP) {
        timers_reload = 1;
    } else {
        timers_stop = 1;
    }
}

#define TIMERS_INPUTS_MAX 8

struct timers_wm {
    char topic[64];
    int partitions; /* from the cluster's metadata; 0: topic not there */
    int64_t *at;    /* [partitions] published event time, INT64_MIN: none */
};

struct timers {
    struct ac_config *cfg;
    struct timers_wm inputs[TIMERS_INPUTS_MAX];
    int n_inputs;
    int64_t next_metadata; /* mono ms */
    int event_time;        /* timers.event_time, read once at start */
    int64_t max_hold;      /* timers.max_hold_ms */
    int hold_warned;
    int held_too_long; /* the last round fired past a held-back input */
    struct ac_store *store;
    struct ac_codec *codec;
    struct ac_rules *rules;
    struct ac_fire *fire;
    rd_kafka_t *producer;
    struct ac_outbox_topics topics;
    char gen[40];
    long dr_ok, dr_fail, dr_refused;
    struct ac_outbox_refused refused; /* records the broker refused: to the DLQ */
    int64_t speed, epoch;
    struct ac_store_cust *sweep; /* [batch] customers of the outbox sweep */
    size_t n_sweep, batch;
    char (*swept)[AC_ID_MAX]; /* seen in the previous sweep */
    size_t n_swept;
    unsigned sweep_start; /* first bucket of the next sweep */
    int64_t *due;         /* due times of the round's emitted actions */
    size_t n_due, cap_due;
};

static int64_t timers_now(const struct timers *t)
{
    int64_t wall = ac_clock_now(ac_clock_wall());
    if (t->speed <= 1) {
        return wall;
    }
    return t->epoch + (wall - t->epoch) * t->speed;
}

/* --- event time --------------------------------------------------------------------------------
 */

/* The input topics to wait for (timers.inputs), and their partition counts
 * from the cluster (refreshed every minute; a topic absent there holds
 * nothing back). */
static void timers_inputs_refresh(struct timers *t)
{
    int64_t mono = ac_clock_mono_ms();
    if (mono < t->next_metadata) {
        return;
    }
    t->next_metadata = mono + 60000;
    if (t->n_inputs == 0) {
        const char *p = ac_config_str(t->cfg, "timers.inputs");
        while (*p && t->n_inputs < TIMERS_INPUTS_MAX) {
            size_t len = strcspn(p, ", ");
            if (len > 0 && len < sizeof(t->inputs[0].topic)) {
                struct timers_wm *w = &t->inputs[t->n_inputs++];
                memcpy(w->topic, p, len);
                w->topic[len] = '\0';
            }
            p += len;
            p += strspn(p, ", ");
        }
    }
    /* Every topic's metadata, looked up by name: asking for one topic by name
     * would create it where auto-creation is on. */
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(t->producer, 1, NULL, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        t->next_metadata = mono + 1000;
        return;
    }
    for (int i = 0; i < t->n_inputs; i++) {
        struct timers_wm *w = &t->inputs[i];
        int n = 0;
        for (int k = 0; k < md->topic_cnt; k++) {
            if (strcmp(md->topics[k].topic, w->topic) == 0 && !md->topics[k].err) {
                n = md->topics[k].partition_cnt;
            }
        }
        if (n != w->partitions) {
            free(w->at);
            w->at = n > 0 ? calloc((size_t)n, sizeof(*w->at)) : NULL;
            w->partitions = w->at ? n : 0;
        }
    }
    rd_kafka_metadata_destroy(md);
}

static void timers_wm_field(const char *field, int64_t at, void *opaque)
{
    struct timers *t = opaque;
    const char *colon = strrchr(field, ':');
    if (!colon) {
        return;
    }
    for (int i = 0; i < t->n_inputs; i++) {
        struct timers_wm *w = &t->inputs[i];
        if (strlen(w->topic) == (size_t)(colon - field) &&
            strncmp(w->topic, field, (size_t)(colon - field)) == 0) {
            long p = strtol(colon + 1, NULL, 10);
            if (p >= 0 && p < w->partitions) {
                w->at[p] = at;
            }
        }
    }
}

/* The time up to which timers may fire: the wall clock, held back to the
 * slowest input partition's event-time progress, but never more than
 * timers.max_hold_ms. */
static int64_t timers_fire_time(struct timers *t, int64_t now)
{
    if (!t->event_time) {
        return now;
    }
    timers_inputs_refresh(t);
    for (int i = 0; i < t->n_inputs; i++) {
        for (int p = 0; p < t->inputs[i].partitions; p++) {
            t->inputs[i].at[p] = INT64_MIN;
        }
    }
    if (ac_store_event_times(t->store, timers_wm_field, t) != 0) {
        return INT64_MIN; /* Redis: the round fails anyway */
    }
    int64_t w = now;
    const char *slowest = NULL;
    int slowest_p = -1;
    for (int i = 0; i < t->n_inputs; i++) {
        for (int p = 0; p < t->inputs[i].partitions; p++) {
            if (t->inputs[i].at[p] < w) {
                w = t->inputs[i].at[p];
                slowest = t->inputs[i].topic;
                slowest_p = p;
            }
        }
    }
    int64_t hold = t->max_hold;
    double lag = w == INT64_MIN ? -1.0 : (double)(now - w) / 1000.0;
    ac_metrics_set("aftercare_timer_watermark_lag_seconds", "", lag);
    if (w == INT64_MIN || now - w > hold) {
        if (!t->hold_warned) {
            AC_WARN("input topic=%s partition=%d has not reached the time of due timers for "
                    "longer than timers.max_hold_ms=%lld; firing them anyway",
                    slowest ? slowest : "?", slowest_p, (long long)hold);
            t->hold_warned = 1;
        }
        t->held_too_long = 1;
        return now - hold;
    }
    t->hold_warned = 0;
    t->held_too_long = 0;
    return w;
}

static void timers_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct timers *t = opaque;
    (void)rk;
    if (m->err && ac_outbox_refused_note(&t->refused, m)) {
        t->dr_refused++; /* its DLQ copy goes instead (timers_produce) */
    } else if (m->err) {
        t->dr_fail++;
        AC_WARN("delivery failed: %s", rd_kafka_err2str(m->err));
    } else {
        t->dr_ok++;
    }
}

/* Produces every pending record of custs and waits for all of them. */
static int timers_produce(struct timers *t, struct ac_store_cust *custs, size_t n)
{
    long sent = 0;
    t->dr_ok = t->dr_fail = t->dr_refused = 0;
    ac_outbox_refused_fini(&t->refused);
    for (size_t c = 0; c < n; c++) {
        size_t cursor = 0;
        struct ac_outbox_rec rec;
        while (ac_store_pending_next(&custs[c], &cursor, &rec)) {
            if (ac_outbox_produce_rec(t->producer, &t->topics, custs[c].customer_id, &rec) != 0) {
                return AC_ERR_TRANSIENT;
            }
            sent++;
            if (rec.kind == 'a') {
                ac_metrics_add("aftercare_records_out_total", "topic=\"actions\"", 1);
            }
        }
    }
    for (;;) {
        while (rd_kafka_outq_len(t->producer) > 0) {
            rd_kafka_flush(t->producer, 1000);
            if (timers_stop && rd_kafka_outq_len(t->producer) > 0) {
                return AC_ERR_TRANSIENT; /* the records stay in the outbox */
            }
        }
        if (t->refused.n == 0) {
            break;
        }
        if (ac_outbox_refused_send(&t->refused, t->producer, t->topics.dlq, &sent) != 0) {
            return AC_ERR_TRANSIENT;
        }
    }
    if (t->dr_fail > 0 || t->dr_ok + t->dr_refused < sent) {
        ac_metrics_add("aftercare_produce_retries_total", "", 1);
        return AC_ERR_TRANSIENT;
    }
    return 0;
}

/* Produce, then remove from the outboxes (and emptied outboxes from the index). */
static int timers_deliver(struct timers *t, struct ac_store_cust *custs, size_t n)
{
    int rc = timers_produce(t, custs, n);
    if (rc == 0) {
        rc = ac_store_ack(t->store, custs, n, "aftercare-timers", AC_TOPIC_ORDERS, NULL, NULL, 0);
    }
    return rc;
}

static void timers_sweep_found(const char *customer_id, void *opaque)
{
    struct timers *t = opaque;
    if (t->n_sweep < t->batch) {
        ac_store_cust_init(&t->sweep[t->n_sweep++], customer_id);
    }
}

/* The outbox sweep: a customer listed in the outbox index at two sweeps in
 * a row has records its writer did not deliver (it died, or it is slow:
 * then the records go out twice, with the same ids). */
static int timers_sweep(struct timers *t)
{
    for (size_t i = 0; i < t->n_sweep; i++) {
        ac_store_cust_fini(&t->sweep[i]);
    }
    t->n_sweep = 0;
    /* Start where the last sweep stopped looking, so no bucket waits on the others. */
    int found =
        ac_store_outbox_customers(t->store, t->sweep_start, t->batch, timers_sweep_found, t);
    t->sweep_start = (t->sweep_start + 257) % AC_STORE_BUCKETS;
    if (found < 0) {
        return found;
    }
    /* Keep only those seen last time; remember this sweep's for the next. */
    size_t k = 0, n_now = t->n_sweep;
    char(*now_ids)[AC_ID_MAX] = calloc(n_now + 1, AC_ID_MAX);
    if (!now_ids) {
        return AC_ERR_NOMEM;
    }
    for (size_t i = 0; i < t->n_sweep; i++) {
        memcpy(now_ids[i], t->sweep[i].customer_id, AC_ID_MAX);
        int seen = 0;
        for (size_t j = 0; j < t->n_swept && !seen; j++) {
            seen = strcmp(t->swept[j], t->sweep[i].customer_id) == 0;
        }
        if (seen) {
            struct ac_store_cust tmp = t->sweep[k];
            t->sweep[k++] = t->sweep[i];
            t->sweep[i] = tmp;
        }
    }
    free(t->swept);
    t->swept = now_ids;
    t->n_swept = n_now;
    if (k == 0) {
        return 0;
    }
    int rc = ac_store_load(t->store, t->sweep, k);
    for (size_t i = 0; rc == 0 && i < k; i++) {
        ac_store_cust_take_found(&t->sweep[i]);
    }
    if (rc == 0) {
        rc = timers_deliver(t, t->sweep, k);
    }
    if (rc == 0) {
        rc = ac_store_outbox_done(t->store, t->sweep, k); /* entries whose outbox was empty */
    }
    if (rc == 0) {
        AC_INFO("outbox sweep delivered customers=%zu", k);
        ac_metrics_add("aftercare_outbox_swept_total", "", (double)k);
    }
    return rc;
}

static void timers_decision(const char *customer_id, const struct ac_decision *d, void *opaque)
{
    struct timers *t = opaque;
    char label[320];
    (void)customer_id;
    snprintf(label, sizeof(label), "rule=\"%s\",decision=\"%s\",reason=\"%.*s\"", d->rule_id,
             d->decision, (int)strcspn(d->reason, ":"), d->reason);
    ac_metrics_add("aftercare_decisions_total", label, 1);
    if (strcmp(d->decision, "emitted") == 0) {
        snprintf(label, sizeof(label), "rule=\"%s\"", d->rule_id);
        ac_metrics_add("aftercare_actions_out_total", label, 1);
        /* lateness is observed once the action is on Kafka (timers_loop) */
        if (t->n_due < t->cap_due) {
            t->due[t->n_due++] = d->due;
        }
    }
}

/* Waits for Redis and checks it still holds the data it held. */
static int timers_redis(struct timers *t, int *backoff)
{
    char err[256], gen[40];
    if (ac_store_connected(t->store)) {
        return 0;
    }
    ac_metrics_set_ready(0);
    while (!timers_stop) {
        if (ac_store_connect(t->store, err, sizeof(err)) == 0) {
            /* Its own generation: created at the first start, and a loss of
             * it later is a Redis that lost its data. */
            int rc = ac_store_generation(t->store, t->gen[0] == '\0', gen);
            if (rc == 0 && t->gen[0] == '\0') {
                memcpy(t->gen, gen, sizeof(gen));
                ac_store_expect_generation(t->store, gen);
            }
            if (rc == 0 && strcmp(gen, t->gen) == 0) {
                ac_metrics_set_ready(1);
                *backoff = 0;
                return 0;
            }
            if (rc == 0 || (rc == AC_ERR_NOTFOUND && t->gen[0])) {
                AC_ERROR("redis lost its data: generation %s, expected %s; stopping",
                         rc == 0 ? gen : "missing", t->gen);
                return AC_ERR_FATAL;
            }
            if (rc == AC_ERR_FATAL) {
                return rc;
            }
        } else {
            AC_WARN("redis unavailable, retrying: %s", err);
        }
        *backoff = *backoff ? (*backoff * 2 > 5000 ? 5000 : *backoff * 2) : 100;
        struct timespec ts = {*backoff / 1000, (long)(*backoff % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return AC_ERR_TRANSIENT;
}

static int timers_loop(struct timers *t)
{
    int backoff = 0;
    int64_t idle_ms = ac_config_int(t->cfg, "timers.idle_ms");
    int64_t sweep_ms = ac_config_int(t->cfg, "timers.sweep_ms");
    int64_t next_sweep = 0, next_gauge = 0;
    unsigned start = (unsigned)(ac_clock_mono_ms() % AC_STORE_BUCKETS);
    while (!timers_stop) {
        int rc = timers_redis(t, &backoff);
        if (rc == AC_ERR_FATAL) {
            return rc;
        }
        if (rc != 0) {
            break;
        }
        if (timers_reload) {
            timers_reload = 0;
            rc = ac_rules_reload(t->rules);
            ac_metrics_add("aftercare_reloads_total",
                           rc == 0 ? "result=\"ok\"" : "result=\"refused\"", 1);
        }
        int64_t mono = ac_clock_mono_ms();
        if (mono >= next_sweep) {
            next_sweep = mono + sweep_ms;
            if ((rc = timers_sweep(t)) == AC_ERR_FATAL) {
                return rc;
            }
        }
        int64_t now = timers_now(t);
        if (mono >= next_gauge) {
            int64_t pending = 0, overdue = 0;
            char gen[40];
            next_gauge = mono + 1000;
            /* Every second, due timers or not: a Redis that lost its data
             * (FLUSHALL, a restart without persistence) stops the process. */
            rc = ac_store_generation(t->store, 0, gen);
            if (rc == AC_ERR_NOTFOUND || (rc == 0 && strcmp(gen, t->gen) != 0)) {
                AC_ERROR("redis lost its data: generation %s, expected %s; stopping",
                         rc == 0 ? gen : "missing", t->gen);
                return AC_ERR_FATAL;
            }
            if (rc == AC_ERR_FATAL) {
                return rc;
            }
            if (ac_store_timer_counts(t->store, now, &pending, &overdue) == 0) {
                ac_metrics_set("aftercare_timers_pending", "", (double)pending);
                ac_metrics_set("aftercare_timers_overdue", "", (double)overdue);
            }
        }
        struct ac_store_cust *custs = NULL;
        size_t n = 0;
        double t0 = ac_clock_mono_s();
        t->n_due = 0;
        int64_t upto = timers_fire_time(t, now);
        int decided = upto == INT64_MIN ? AC_ERR_TRANSIENT
                                        : ac_fire_round_upto(t->fire, upto, now, start, &custs, &n);
        if (decided > 0 && t->held_too_long) {
            ac_metrics_add("aftercare_timers_fired_past_hold_total", "", (double)decided);
        }
        start = (start + 97) % AC_STORE_BUCKETS; /* replicas drift apart */
        if (decided == AC_ERR_FATAL) {
            return decided;
        }
        int round_rc = decided < 0 ? decided : 0;
        if (decided >= 0 && n > 0) {
            rc = round_rc = timers_deliver(t, custs, n);
            if (rc == AC_ERR_FATAL) {
                return rc;
            }
            /* Due time -> acknowledged by Kafka (in the clock's time: with
             * clock.speed > 1 these are sped-up seconds). */
            int64_t on_kafka = timers_now(t);
            for (size_t i = 0; rc == 0 && i < t->n_due; i++) {
                ac_metrics_observe("aftercare_timer_lateness_seconds", "",
                                   (double)(on_kafka - t->due[i]) / 1000.0);
            }
            ac_metrics_observe("aftercare_batch_duration_seconds", "", ac_clock_mono_s() - t0);
            ac_metrics_add("aftercare_timers_fired_total", "", (double)decided);
        }
        /* /readyz: the last round succeeded. A failed one left its records in
         * the outbox (the sweep delivers them) or Redis down (timers_redis). */
        ac_metrics_set_ready(round_rc == 0);
        if (decided <= 0) {
            struct timespec ts = {idle_ms / 1000, (long)(idle_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}

static void timers_usage(FILE *out)
{
    const struct ac_cfg_entry *tables[1] = {timers_config};
    fprintf(out, "usage: aftercare-timers [--config FILE] [--set KEY=VALUE]...\n"
                 "       aftercare-timers --help | --version\n\n"
                 "Fires the durable timers the processors scheduled: re-checks each against the\n"
                 "customer's current state and the playbook's policies, and emits its action\n"
                 "through the outbox. Run any number of replicas. SIGHUP reloads the playbook;\n"
                 "SIGTERM finishes the round and exits 0.\n\n"
                 "Configuration keys (file `key = value`, or environment AFTERCARE_<KEY>;\n"
                 "kafka.<property> passes any librdkafka property through):\n\n");
    ac_config_print_help(tables, 1, out);
}

int ac_timers_main(int argc, char **argv)
{
    struct timers t;
    char err[512];
    const char *config_path = NULL;
    int exit_code = 1;
    const struct ac_cfg_entry *tables[1] = {timers_config};
    memset(&t, 0, sizeof(t));
    ac_outbox_refused_init(&t.refused);
    ac_log_init("aftercare-timers");
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = timers_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            timers_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("aftercare-timers %s\n", AC_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
            i++;
        } else {
            fprintf(stderr, "aftercare-timers: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    t.cfg = ac_config_load(tables, 1, config_path, err, sizeof(err));
    if (!t.cfg) {
        fprintf(stderr, "aftercare-timers: %s\n", err);
        return 1;
    }
    if (ac_config_apply_sets(t.cfg, argc, argv, err, sizeof(err)) != 0) {
        fprintf(stderr, "aftercare-timers: %s\n", err);
        goto out;
    }
    int level = ac_log_level_from_name(ac_config_str(t.cfg, "log.level"));
    if (level < 0) {
        fprintf(stderr, "aftercare-timers: log.level: expected debug, info, warn or error\n");
        goto out;
    }
    ac_log_set_level((enum ac_log_level)level);
    t.speed = ac_config_int(t.cfg, "clock.speed");
    t.epoch = ac_config_int(t.cfg, "clock.epoch_ms");
    t.batch = (size_t)ac_config_int(t.cfg, "timers.batch");
    t.event_time = ac_config_bool(t.cfg, "timers.event_time");
    t.max_hold = ac_config_int(t.cfg, "timers.max_hold_ms");
    t.topics = (struct ac_outbox_topics){
        ac_config_str(t.cfg, "topic.actions"), ac_config_str(t.cfg, "topic.signals"),
        ac_config_str(t.cfg, "topic.dlq"), ac_config_str(t.cfg, "topic.decisions")};
    struct ac_engine_opts opts = {ac_config_str(t.cfg, "team.default_owner")};
    if (!(t.rules = ac_rules_open(ac_config_str(t.cfg, "playbook"), &opts, err, sizeof(err)))) {
        fprintf(stderr, "aftercare-timers: %s\n", err);
        goto out;
    }
    t.codec = ac_codec_new(ac_config_str(t.cfg, "schemas.dir"), NULL, err, sizeof(err));
    t.store = t.codec ? ac_store_new(ac_config_str(t.cfg, "redis.url"),
                                     ac_config_str(t.cfg, "redis.prefix"), err, sizeof(err))
                      : NULL;
    if (t.store) {
        ac_store_set_generation_name(t.store, "aftercare-timers");
    }
    if (!t.codec || !t.store) {
        fprintf(stderr, "aftercare-timers: %s\n", err);
        goto out;
    }
    t.fire = ac_fire_new(t.store, ac_rules_engine(t.rules), t.codec, t.batch);
    t.sweep = calloc(t.batch, sizeof(*t.sweep));
    t.cap_due = t.batch * AC_EMIT_MAX_ACTIONS;
    t.due = calloc(t.cap_due, sizeof(*t.due));
    if (!t.fire || !t.sweep || !t.due) {
        fprintf(stderr, "aftercare-timers: out of memory\n");
        goto out;
    }
    ac_fire_on_decision(t.fire, timers_decision, &t);
    t.producer = ac_kafka_producer_new(ac_config_str(t.cfg, "kafka.brokers"), t.cfg, timers_dr, &t,
                                       err, sizeof(err));
    if (!t.producer) {
        fprintf(stderr, "aftercare-timers: %s\n", err);
        goto out;
    }
    ac_metrics_declare("aftercare_timers_pending", "gauge",
                       "customers with timers waiting in Redis (the due index)");
    ac_metrics_declare("aftercare_timers_overdue", "gauge",
                       "customers with a timer due now or earlier");
    ac_metrics_declare("aftercare_timer_watermark_lag_seconds", "gauge",
                       "how far the slowest input partition is behind the clock in event time "
                       "(timers due after it wait); -1: an input partition never reported");
    ac_metrics_declare("aftercare_timers_fired_past_hold_total", "counter",
                       "timers fired although an input was behind (held past timers.max_hold_ms)");
    ac_metrics_declare("aftercare_timers_fired_total", "counter", "timers decided");
    ac_metrics_declare("aftercare_timer_lateness_seconds", "histogram",
                       "from a timer's due time to its action acknowledged by Kafka");
    ac_metrics_declare("aftercare_decisions_total", "counter",
                       "playbook decisions by rule and reason");
    ac_metrics_declare("aftercare_actions_out_total", "counter", "actions emitted, by rule");
    ac_metrics_declare("aftercare_outbox_swept_total", "counter",
                       "customers whose undelivered outbox the sweep produced");
    ac_metrics_declare("aftercare_reloads_total", "counter", "playbook reloads by result");
    /* Shared with the processors' runtime: every family used here is declared
     * here, or /metrics shows it without HELP (promtool refuses that). */
    ac_metrics_declare("aftercare_records_out_total", "counter",
                       "records produced from the outbox, by topic");
    ac_metrics_declare("aftercare_produce_retries_total", "counter", "rounds produced again");
    ac_metrics_declare("aftercare_dlq_total", "counter",
                       "records sent to the DLQ (rejected events the sweep found, records the "
                       "broker refused), by topic and reason");
    ac_metrics_declare("aftercare_dlq_truncated_total", "counter",
                       "DLQ records larger than the broker accepts, sent as their first 16 KiB");
    ac_metrics_declare("aftercare_records_refused_total", "counter",
                       "DLQ records the broker refused even as their first 16 KiB, by topic");
    ac_metrics_declare("aftercare_batch_duration_seconds", "histogram",
                       "time of one round that fired timers, end to end");
    int port = (int)ac_config_int(t.cfg, "http.port"), bound = 0;
    if (port >= 0) {
        if (ac_http_start(ac_config_str(t.cfg, "http.bind"), port, &bound, err, sizeof(err)) != 0) {
            fprintf(stderr, "aftercare-timers: %s\n", err);
            goto out;
        }
        AC_INFO("http listening port=%d (/metrics /healthz /readyz)", bound);
    }
    AC_INFO("started version=%s batch=%zu speed=%lld", AC_VERSION, t.batch, (long long)t.speed);
    int rc = timers_loop(&t);
    ac_metrics_set_ready(0);
    exit_code = rc == AC_ERR_FATAL ? 3 : 0;
    if (t.producer) {
        rd_kafka_flush(t.producer, 10000);
    }
    AC_INFO("stopped exit=%d", exit_code);
out:
    if (t.producer) {
        rd_kafka_destroy(t.producer);
    }
    ac_http_stop();
    for (size_t i = 0; i < t.n_sweep; i++) {
        ac_store_cust_fini(&t.sweep[i]);
    }
    free(t.sweep);
    free(t.swept);
    free(t.due);
    for (int i = 0; i < t.n_inputs; i++) {
        free(t.inputs[i].at);
    }
    ac_fire_destroy(t.fire);
    ac_outbox_refused_fini(&t.refused);
    ac_store_destroy(t.store);
    ac_codec_destroy(t.codec);
    ac_rules_close(t.rules);
    ac_config_destroy(t.cfg);
    return exit_code;
}
