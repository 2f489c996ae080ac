/* runtime.c — a processor's service life cycle: arguments, config, Kafka and
 * Redis set-up, the consumer loop, rebalances, statistics, shutdown. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "build.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "rules.h"
#include "runtime_int.h"
#include "step.h"

/* The keys every processor reads; a processor adds its own table. */
static const struct ac_cfg_entry runtime_config[] = {
    {"kafka.brokers", AC_CFG_STR, "localhost:9092", "Kafka bootstrap servers", 0, 0},
    {"redis.url", AC_CFG_STR, "redis://127.0.0.1:6379",
     "Redis URL: redis://[[user]:password@]host[:port][/db]", 0, 0},
    {"redis.prefix", AC_CFG_STR, "ac", "prefix of every Redis key", 0, 0},
    {"topic.actions", AC_CFG_STR, "aftercare.actions", "action topic", 0, 0},
    {"topic.signals", AC_CFG_STR, "aftercare.signals", "signal topic", 0, 0},
    {"topic.dlq", AC_CFG_STR, "aftercare.dlq", "dead-letter topic", 0, 0},
    {"topic.decisions", AC_CFG_STR, "aftercare.decisions",
     "the audit log: every decision about an action, with its reason", 0, 0},
    {"schemas.dir", AC_CFG_STR, AC_SCHEMA_DIR, "directory of the Avro schemas", 0, 0},
    {"http.bind", AC_CFG_STR, "0.0.0.0", "address of /metrics /healthz /readyz", 0, 0},
    {"log.level", AC_CFG_STR, "info", "debug, info, warn or error", 0, 0},
    {"playbook", AC_CFG_STR, AC_PLAYBOOK_DEFAULT,
     "the playbook (YAML); SIGHUP reloads it, a bad new one is refused and the old one stays", 0,
     0},
    {"team.default_owner", AC_CFG_STR, "customer-success",
     "who gets team work for a customer without an account owner", 0, 0},
    {NULL, AC_CFG_STR, NULL, NULL, 0, 0},
};

/* The keys of a processor with an input topic (not of a ticking one: the
 * timer process declares its own http.port). */
static const struct ac_cfg_entry runtime_consumer_config[] = {
    {"group.id", AC_CFG_STR, "", "consumer group (default: aftercare-<processor>)", 0, 0},
    {"topic.input", AC_CFG_STR, "", "input topic (default: the processor's topic)", 0, 0},
    {"batch.size", AC_CFG_INT, "500", "max messages per batch", 1, 10000},
    {"batch.ms", AC_CFG_INT, "50", "max time gathering a batch (ms)", 1, 60000},
    {"schemas.registry_dir", AC_CFG_STR, "",
     "directory of extra writer schemas, files <id>.avsc (Confluent schema ids)", 0, 0},
    {"events.max_future_ms", AC_CFG_INT, "86400000",
     "events further in the future than this go to the DLQ", 0, INT64_MAX},
    {"clock.speed", AC_CFG_INT, "1",
     "testing only: the clock runs this many times faster than the wall clock, from "
     "clock.epoch_ms (as aftercare-timers' keys of the same names)",
     1, 1000000},
    {"clock.epoch_ms", AC_CFG_INT, "0", "testing only: where a sped-up clock starts (ms)", 0,
     INT64_MAX},
    {"http.port", AC_CFG_INT, "9100", "port of /metrics (0: any free port, -1: off)", -1, 65535},
    {"stats.interval_ms", AC_CFG_INT, "5000", "librdkafka statistics (consumer lag) interval", 0,
     3600000},
    {"recovery.rebuild", AC_CFG_BOOL, "false",
     "Redis lost its data: rebuild state by replaying the input from the earliest offset", 0, 0},
    {NULL, AC_CFG_STR, NULL, NULL, 0, 0},
};

/* The config tables of proc: the common keys, a consumer's, its own. */
static size_t runtime_tables(const struct ac_processor *proc, const struct ac_cfg_entry **tables)
{
    size_t n = 0;
    tables[n++] = runtime_config;
    if (!proc->tick) {
        tables[n++] = runtime_consumer_config;
    }
    if (proc->config) {
        tables[n++] = proc->config;
    }
    return n;
}

/* An idle processor asks Redis this often; a successful batch counts as an answer. */
#define RUNTIME_REDIS_CHECK_MS 1000

static volatile sig_atomic_t runtime_stop;
static volatile sig_atomic_t runtime_reload;

static void runtime_on_signal(int sig)
{
    if (sig == SIGHUP) {
        runtime_reload = 1;
    } else {
        runtime_stop = 1;
    }
}

static void runtime_usage(const struct ac_processor *proc, FILE *out)
{
    const struct ac_cfg_entry *tables[3];
    size_t n = runtime_tables(proc, tables);
    if (proc->tick) {
        fprintf(out,
                "usage: aftercare-%s [--config FILE] [--set KEY=VALUE]...\n"
                "       aftercare-%s --help | --version\n\n"
                "%s\n\n",
                proc->name, proc->name, proc->description);
    } else {
        fprintf(out,
                "usage: aftercare-%s [--config FILE] [--set KEY=VALUE]... [--rebuild]\n"
                "       aftercare-%s --help | --version\n\n"
                "%s\n\n"
                "Consumes topic '%s', keeps customer state in Redis, emits actions and\n"
                "signals. SIGTERM finishes the batch, commits and leaves the group.\n\n",
                proc->name, proc->name, proc->description, ac_topic_name(proc->topic));
    }
    fprintf(out, "Configuration keys (file `key = value`, or environment AFTERCARE_<KEY>;\n"
                 "kafka.<property> passes any librdkafka property through, also as\n"
                 "AFTERCARE_KAFKA_<PROPERTY>, e.g. AFTERCARE_KAFKA_CONSUMER_FETCH_WAIT_MAX_MS;\n"
                 "the environment wins over the file):\n\n");
    ac_config_print_help(tables, n, out);
}

static void runtime_lost_data(const struct runtime *rt, int rc, const char *gen)
{
    AC_ERROR("redis lost its data: generation %s, expected %s (run_id=%s); stopping. "
             "Restore Redis from its backup, or restart with --rebuild to replay the "
             "input from the earliest offset",
             rc == 0 ? gen : "missing", rt->gen, ac_store_run_id(rt->store));
}

int rt_redis_recover(struct runtime *rt, int *backoff_ms)
{
    char err[256], gen[40];
    for (;;) {
        if (runtime_stop) {
            return AC_ERR_TRANSIENT;
        }
        *backoff_ms = *backoff_ms ? (*backoff_ms * 2 > 5000 ? 5000 : *backoff_ms * 2) : 100;
        ac_metrics_set_ready(0);
        struct timespec ts = {*backoff_ms / 1000, (long)(*backoff_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (ac_store_connected(rt->store)) {
            return 0; /* the failure was elsewhere (Kafka): just retry */
        }
        if (ac_store_connect(rt->store, err, sizeof(err)) != 0) {
            AC_WARN("redis unavailable, retrying in %d ms: %s", *backoff_ms, err);
            ac_metrics_add("aftercare_redis_errors_total", "", 1);
            continue;
        }
        if (rt->gen[0] == '\0') {
            return 0; /* still starting: runtime_check_generation decides */
        }
        int rc = ac_store_generation(rt->store, 0, gen);
        if (rc == AC_ERR_TRANSIENT) {
            continue;
        }
        if (rc != 0 || strcmp(gen, rt->gen) != 0) {
            runtime_lost_data(rt, rc, gen);
            return AC_ERR_FATAL;
        }
        AC_INFO("redis reconnected run_id=%s", ac_store_run_id(rt->store));
        return 0;
    }
}

/* --- readiness: the last batch succeeded, or an idle check found Redis ---------------------- */

/* Processes the gathered batch; /readyz then tells whether it succeeded. */
static int runtime_batch(struct runtime *rt, int finish_now)
{
    if (rt->b->n_msgs == 0 && (!finish_now || !rt->inflight)) {
        return 0;
    }
    int rc = rt_batch_process(rt, finish_now);
    ac_metrics_set_ready(rc == 0);
    if (rc == 0) {
        rt->redis_check_at = ac_clock_mono_ms() + RUNTIME_REDIS_CHECK_MS;
    }
    return rc;
}

/* No batch has spoken to Redis lately: ask it for the generation (which
 * also catches a Redis that lost its data) and set readiness from the
 * answer. One attempt, no waiting: the consumer keeps polling meanwhile. */
/* An idle processor that has read every assigned partition to its end says
 * so: those partitions count as "now" in event time for the timer process. A
 * partition with unread messages keeps its last published value. */
static void runtime_idle_event_time(struct runtime *rt)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(rt->consumer, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || !l) {
        return;
    }
    if (l->cnt > 0 && rd_kafka_position(rt->consumer, l) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        int32_t *parts = calloc((size_t)l->cnt, sizeof(*parts));
        int64_t *times = calloc((size_t)l->cnt, sizeof(*times));
        size_t n = 0;
        int64_t now = ac_clock_now(&rt->clock);
        for (int i = 0; parts && times && i < l->cnt; i++) {
            int64_t lo = -1, hi = -1;
            const rd_kafka_topic_partition_t *tp = &l->elems[i];
            if (rd_kafka_get_watermark_offsets(rt->consumer, tp->topic, tp->partition, &lo, &hi) !=
                RD_KAFKA_RESP_ERR_NO_ERROR) {
                continue;
            }
            int64_t pos = tp->offset;
            if ((pos >= 0 && pos >= hi) || (pos < 0 && hi >= 0 && hi == lo)) {
                parts[n] = tp->partition;
                times[n++] = now;
            }
        }
        if (n > 0 && ac_store_event_time_publish(rt->store, rt->topic_in, parts, times, n) != 0) {
            AC_DEBUG("event time not published; next time");
        }
        free(parts);
        free(times);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static void runtime_idle_check(struct runtime *rt)
{
    char err[256], gen[40];
    int rc = AC_ERR_TRANSIENT;

    rt->redis_check_at = ac_clock_mono_ms() + RUNTIME_REDIS_CHECK_MS;
    if (!ac_store_connected(rt->store) && ac_store_connect(rt->store, err, sizeof(err)) != 0) {
        ac_metrics_add("aftercare_redis_errors_total", "", 1);
        goto out;
    }
    snprintf(err, sizeof(err), "cannot read the generation key");
    rc = ac_store_generation(rt->store, 0, gen);
    if (rc == 0 && ac_store_ping_lanes(rt->store) != 0) {
        snprintf(err, sizeof(err), "the second connection was closed");
        rc = AC_ERR_TRANSIENT;
    }
    if (rc == AC_ERR_NOTFOUND || (rc == 0 && strcmp(gen, rt->gen) != 0)) {
        runtime_lost_data(rt, rc, gen);
        rt->fatal = 1;
        rc = AC_ERR_FATAL;
        goto out;
    }
out:
    if (rc == 0 && rt->redis_down) {
        AC_INFO("redis available again run_id=%s", ac_store_run_id(rt->store));
    } else if (rc == AC_ERR_TRANSIENT && !rt->redis_down) {
        AC_WARN("redis unavailable while idle, not ready: %s", err);
    }
    rt->redis_down = rc != 0;
    ac_metrics_set_ready(rc == 0);
}

/* --- rebalance ------------------------------------------------------------------------------ */

static void runtime_assign(struct runtime *rt, rd_kafka_topic_partition_list_t *parts)
{
    size_t n = (size_t)parts->cnt;
    int32_t *pids = calloc(n + 1, sizeof(*pids));
    int64_t *offs = calloc(n + 1, sizeof(*offs));
    int backoff = 0;
    if (!pids || !offs) {
        AC_ERROR("out of memory on assignment");
        rt->fatal = 1;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        pids[i] = parts->elems[i].partition;
        offs[i] = -1;
    }
    while (ac_store_positions(rt->store, rt->group, rt->proc->topic, pids, offs, n) != 0) {
        if (rt_redis_recover(rt, &backoff) != 0) {
            rt->fatal = runtime_stop ? rt->fatal : 1;
            for (size_t i = 0; i < n; i++) {
                offs[i] = -1;
            }
            break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        /* Redis holds the position that matches the state; without one, a
         * rebuild starts at the beginning, otherwise Kafka's committed
         * offset (or auto.offset.reset) decides. */
        parts->elems[i].offset = offs[i] >= 0  ? offs[i]
                                 : rt->rebuild ? RD_KAFKA_OFFSET_BEGINNING
                                               : RD_KAFKA_OFFSET_INVALID;
        AC_INFO("partition assigned topic=%s partition=%d offset=%lld", parts->elems[i].topic,
                parts->elems[i].partition, (long long)parts->elems[i].offset);
    }
out:
    free(pids);
    free(offs);
}

static void runtime_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct runtime *rt = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        runtime_assign(rt, parts);
        if (cooperative) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
            if (e) {
                AC_ERROR("incremental assign failed: %s", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
            }
        } else {
            rd_kafka_assign(rk, parts);
        }
        ac_metrics_set("aftercare_assigned_partitions", "", parts->cnt);
        return;
    }
    /* Revoked or lost: finish the batches we hold before giving partitions up. */
    if (runtime_batch(rt, 1) == AC_ERR_FATAL) {
        rt->fatal = 1;
    }
    for (int i = 0; i < parts->cnt; i++) {
        AC_INFO("partition revoked topic=%s partition=%d", parts->elems[i].topic,
                parts->elems[i].partition);
    }
    if (cooperative) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
        if (e) {
            rd_kafka_error_destroy(e);
        }
    } else {
        rd_kafka_assign(rk, NULL);
    }
    ac_metrics_set("aftercare_assigned_partitions", "", 0);
}

/* --- statistics: consumer lag per partition -------------------------------------------------- */

static int runtime_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    struct runtime *rt = opaque;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    (void)rk;
    if (!root) {
        return 0;
    }
    json_t *parts = json_object_get(json_object_get(json_object_get(root, "topics"), rt->topic_in),
                                    "partitions");
    const char *pid;
    json_t *p;
    char label[512];
    ac_metrics_clear("kafka_consumergroup_group_lag");
    json_object_foreach(parts, pid, p)
    {
        if (strcmp(pid, "-1") == 0) {
            continue;
        }
        json_int_t lag = json_integer_value(json_object_get(p, "consumer_lag"));
        if (lag < 0 || strcmp(json_string_value(json_object_get(p, "fetch_state"))
                                  ? json_string_value(json_object_get(p, "fetch_state"))
                                  : "",
                              "active") != 0) {
            continue;
        }
        snprintf(label, sizeof(label), "group=\"%s\",topic=\"%s\",partition=\"%s\"", rt->group,
                 rt->topic_in, pid);
        ac_metrics_set("kafka_consumergroup_group_lag", label, (double)lag);
    }
    json_decref(root);
    return 0;
}

/* --- set-up ---------------------------------------------------------------------------------- */

/* The families every processor uses (a ticking one declares its own besides). */
static void runtime_declare_metrics(void)
{
    ac_metrics_declare("aftercare_actions_out_total", "counter", "actions emitted, by rule");
    ac_metrics_declare("aftercare_decisions_total", "counter",
                       "playbook decisions (emitted, scheduled, deferred, rescheduled, merged, "
                       "capped, suppressed, held_out, expired, cancelled, exited, dropped) by "
                       "rule and reason");
    ac_metrics_declare("aftercare_reloads_total", "counter",
                       "playbook reloads on SIGHUP, by result (ok, refused)");
    ac_metrics_declare("aftercare_records_out_total", "counter",
                       "records produced from the outbox, by topic");
    ac_metrics_declare("aftercare_dlq_total", "counter", "messages sent to the DLQ, by reason");
    ac_metrics_declare("aftercare_dlq_truncated_total", "counter",
                       "DLQ records larger than the producer accepts, sent as their first 16 KiB");
    ac_metrics_declare("aftercare_records_refused_total", "counter",
                       "DLQ records the broker refused even as their first 16 KiB, by topic");
    ac_metrics_declare("aftercare_batch_duration_seconds", "histogram",
                       "time to process one batch (a timer round) end to end; a batch whose "
                       "delivery overlapped the next one counts until it was finished");
    ac_metrics_declare("aftercare_redis_errors_total", "counter", "failed Redis connects");
    ac_metrics_declare("aftercare_produce_retries_total", "counter",
                       "batches (timer rounds) produced again");
    ac_metrics_declare("aftercare_commit_conflicts_total", "counter",
                       "customers re-read and applied again because their record changed "
                       "since the load (another writer); a part's optimistic commit counts "
                       "each of its customers");
}

/* The families of a processor with an input topic. */
static void runtime_declare_consumer_metrics(void)
{
    ac_metrics_declare("aftercare_events_in_total", "counter",
                       "events consumed, by topic and type");
    ac_metrics_declare("aftercare_dedupe_evicted_total", "counter",
                       "event ids (what=event_id) or partition watermarks (what=watermark) "
                       "a customer's record forgot inside its bounds");
    ac_metrics_declare("aftercare_events_skipped_total", "counter",
                       "events not applied again: replayed offsets and duplicate event ids");
    ac_metrics_declare("aftercare_timezone_fallbacks_total", "counter",
                       "the playbook's default zone was used: the customer's was invalid or "
                       "missing");
    ac_metrics_declare("aftercare_decisions_unaudited_total", "counter",
                       "decisions beyond the per-event limit: counted here, not in the audit "
                       "trail");
    ac_metrics_declare("aftercare_batch_phase_seconds", "histogram",
                       "time per batch phase: state (load, apply, commit), produce (the wait "
                       "for the delivery reports once the state work is done), ack");
    ac_metrics_declare("aftercare_redis_rtt_seconds", "histogram",
                       "round-trip time of one pipelined Redis phase");
    ac_metrics_declare("aftercare_processing_latency_seconds", "histogram",
                       "from reading an event from Kafka to its batch's records confirmed by "
                       "Kafka, as seen when the batch is finished (the event's age is not in "
                       "it)");
    static const double age_bounds[] = {0.1, 0.5,  1,     5,     15,     60,     300,
                                        900, 3600, 21600, 86400, 604800, 2592000};
    ac_metrics_declare_histogram("aftercare_event_age_seconds",
                                 "from an event's time (occurred_at) to reading it from Kafka",
                                 age_bounds, sizeof(age_bounds) / sizeof(age_bounds[0]));
    ac_metrics_declare("kafka_consumergroup_group_lag", "gauge",
                       "consumer lag in messages per partition (librdkafka statistics)");
    ac_metrics_declare("aftercare_batches_total", "counter", "batches completed");
    ac_metrics_declare("aftercare_assigned_partitions", "gauge", "partitions assigned");
}

static rd_kafka_t *runtime_consumer(struct runtime *rt, const char *brokers, char *err,
                                    size_t errlen)
{
    char num[24];
    snprintf(num, sizeof(num), "%lld", (long long)ac_config_int(rt->cfg, "stats.interval_ms"));
    /* Our defaults go first so that the operator's kafka.* keys win... */
    const char *defaults[] = {
        "auto.offset.reset",    "earliest", "group.id", rt->group, "statistics.interval.ms", num,
        "socket.nagle.disable", "true",     NULL};
    rd_kafka_conf_t *conf =
        ac_kafka_conf_new(brokers, AC_KAFKA_CONSUMER, defaults, rt->cfg, err, errlen);
    if (!conf) {
        return NULL;
    }
    /* ...except these: positions follow durable work, never a timer. */
    if (ac_kafka_conf_set(conf, "enable.auto.commit", "false", err, errlen) != 0 ||
        ac_kafka_conf_set(conf, "enable.auto.offset.store", "false", err, errlen) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, runtime_rebalance);
    rd_kafka_conf_set_stats_cb(conf, runtime_stats);
    rd_kafka_conf_set_opaque(conf, rt);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* Redis without our generation while Kafka has committed offsets for the
 * group means Redis lost its data: never continue silently from there. */
static int runtime_check_generation(struct runtime *rt)
{
    int backoff = 0;
    for (;;) {
        int rc = ac_store_generation(rt->store, 0, rt->gen);
        if (rc == 0) {
            break;
        }
        if (rc == AC_ERR_NOTFOUND) {
            /* A processor without input (the timer process) has no offsets
             * to tell its first start from a loss: it creates its key. */
            const struct rd_kafka_metadata *md = NULL;
            rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__NOENT;
            if (rt->consumer) {
                rd_kafka_topic_t *t = rd_kafka_topic_new(rt->consumer, rt->topic_in, NULL);
                e = rd_kafka_metadata(rt->consumer, 0, t, &md, 10000);
                rd_kafka_topic_destroy(t);
            }
            int committed = 0;
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1) {
                rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
                for (int i = 0; i < md->topics[0].partition_cnt; i++) {
                    rd_kafka_topic_partition_list_add(l, rt->topic_in,
                                                      md->topics[0].partitions[i].id);
                }
                if (rd_kafka_committed(rt->consumer, l, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                    for (int i = 0; i < l->cnt; i++) {
                        committed |= l->elems[i].offset >= 0;
                    }
                }
                rd_kafka_topic_partition_list_destroy(l);
            }
            if (md) {
                rd_kafka_metadata_destroy(md);
            }
            if (committed && !rt->rebuild) {
                AC_ERROR("redis has no aftercare data but group %s has committed offsets on "
                         "%s: Redis lost its data. Restore it from its backup, or restart "
                         "with --rebuild to replay the input from the earliest offset",
                         rt->group, rt->topic_in);
                return AC_ERR_FATAL;
            }
            if (committed) {
                AC_WARN("rebuilding: replaying %s from the earliest offset", rt->topic_in);
            }
            if ((rc = ac_store_generation(rt->store, 1, rt->gen)) == 0) {
                AC_INFO("redis generation created gen=%s", rt->gen);
                break;
            }
        }
        if (rt_redis_recover(rt, &backoff) != 0 && runtime_stop) {
            return AC_ERR_TRANSIENT;
        }
    }
    ac_store_expect_generation(rt->store, rt->gen);
    return 0;
}

static int runtime_alloc(struct runtime *rt)
{
    size_t n = (size_t)rt->batch_size;
    int rc = rt_batch_alloc(&rt->batches[0], n);
    rc |= rt_batch_alloc(&rt->batches[1], n);
    rt->b = &rt->batches[0];
    rt->inflight = NULL;
    rt->cur = rt->b;
    rt->tick_dl = &rt->tick_dls[0];
    rt->dl = rt->tick_dl;
    rt->obs = calloc(n, sizeof(*rt->obs));
    rt->cust_last = calloc(n, sizeof(int));
    rt->map_size = 16;
    while (rt->map_size < n * 2) {
        rt->map_size *= 2;
    }
    rt->map = calloc(rt->map_size, sizeof(int));
    ac_buf_init(&rt->enc);
    ac_outbox_refused_init(&rt->tick_dls[0].refused);
    ac_outbox_refused_init(&rt->tick_dls[1].refused);
    return rc == 0 && rt->obs && rt->cust_last && rt->map ? 0 : AC_ERR_NOMEM;
}

static void runtime_free(struct runtime *rt)
{
    rt_batch_free(&rt->batches[0], (size_t)rt->batch_size);
    rt_batch_free(&rt->batches[1], (size_t)rt->batch_size);
    free(rt->obs);
    free(rt->cust_last);
    ac_step_destroy(rt->step);
    free(rt->map);
    ac_buf_fini(&rt->enc);
    ac_outbox_refused_fini(&rt->tick_dls[0].refused);
    ac_outbox_refused_fini(&rt->tick_dls[1].refused);
}

void rt_batch_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

/* --- the loop -------------------------------------------------------------------------------- */

/* SIGHUP: the playbook again (the engine object stays the same), then the
 * processor's own. A bad new playbook is refused and the old one stays. */
static void runtime_reload_now(struct runtime *rt)
{
    runtime_reload = 0;
    int rrc = ac_rules_ctx_reload(rt->playbook);
    if (rrc == 0 && rt->proc->reload) {
        rrc = rt->proc->reload(rt->ctx);
    }
    ac_metrics_add("aftercare_reloads_total", rrc == 0 ? "result=\"ok\"" : "result=\"refused\"", 1);
}

/* A processor without input: its tick, over and over. Every second, work
 * or not, Redis is asked for the generation (a Redis that lost its data
 * stops the process; one that is down makes it not ready). */
static int runtime_tick_loop(struct runtime *rt)
{
    int backoff = 0;
    struct ac_tick t = {
        .store = rt->store,
        .codec = rt->codec,
        .engine = ac_rules_engine(rt->playbook),
        .kafka = rt->producer,
        .rt = rt,
    };
    while (!runtime_stop && !rt->fatal) {
        if (runtime_reload) {
            runtime_reload_now(rt);
        }
        if (ac_clock_mono_ms() >= rt->redis_check_at) {
            runtime_idle_check(rt);
            if (rt->fatal) {
                break;
            }
        }
        t.wait_ms = 100;
        rd_kafka_poll(rt->producer, 0); /* delivery reports of a stopped call */
        int rc = rt->proc->tick(rt->ctx, &t);
        if (rc == AC_ERR_FATAL || rc == AC_ERR_NOMEM || rc == AC_ERR_INVALID) {
            rt->fatal = 1;
            break;
        }
        if (rc < 0) {
            /* Redis or Kafka: wait (not ready), reconnect, check the generation;
             * a round in flight is left to the outbox sweep */
            rt_tick_forget(rt);
            ac_metrics_set_ready(0);
            if (rt_redis_recover(rt, &backoff) == AC_ERR_FATAL) {
                rt->fatal = 1;
            }
            continue;
        }
        backoff = 0;
        ac_metrics_set_ready(!rt->redis_down);
        if (rc == 0 && t.wait_ms > 0 && !runtime_stop && !runtime_reload) {
            struct timespec ts = {t.wait_ms / 1000, (long)(t.wait_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL); /* a signal ends it early */
        }
    }
    if (!rt->fatal && ac_tick_finish(&t) < 0) {
        AC_WARN("stopping with the last round unacknowledged; the outbox sweep delivers it");
    }
    return rt->fatal ? AC_ERR_FATAL : 0;
}

static int runtime_loop(struct runtime *rt)
{
    int64_t batch_started = 0;
    while (!runtime_stop && !rt->fatal) {
        /* A batch is what has arrived: once the local queue is drained the
         * batch goes, without waiting for more (low latency when the load is
         * low; batches grow by themselves when it is high). batch.size and
         * batch.ms bound it. */
        struct rt_batch *b = rt->b;
        int timeout = b->n_msgs > 0 || rt->inflight ? 0 : 100;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rt->consumer, timeout);
        int idle = m == NULL;
        if (m) {
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                    AC_WARN("consumer error: %s", rd_kafka_message_errstr(m));
                }
                rd_kafka_message_destroy(m);
            } else {
                if (b->n_msgs == 0) {
                    batch_started = ac_clock_mono_ms();
                }
                b->read_at[b->n_msgs] = ac_clock_mono_s();
                b->msgs[b->n_msgs++] = m;
            }
        }
        if (b->n_msgs > 0 && (idle || (int)b->n_msgs >= rt->batch_size ||
                              ac_clock_mono_ms() - batch_started >= rt->batch_ms)) {
            if (runtime_batch(rt, 0) == AC_ERR_FATAL) {
                rt->fatal = 1;
            }
        } else if (idle && rt->inflight) {
            /* nothing more to read: the batch in flight is finished now */
            if (runtime_batch(rt, 1) == AC_ERR_FATAL) {
                rt->fatal = 1;
            }
        }
        b = rt->b;
        if (idle && b->n_msgs == 0 && !rt->inflight && ac_clock_mono_ms() >= rt->redis_check_at) {
            runtime_idle_check(rt);
        }
        /* Every second, busy or idle: the assigned partitions read to their
         * end count as "now" for the timer process (a busy processor's quiet
         * partitions would otherwise hold every timer back). */
        if (b->n_msgs == 0 && !rt->inflight && ac_clock_mono_ms() >= rt->event_time_at) {
            rt->event_time_at = ac_clock_mono_ms() + 1000;
            if (ac_store_connected(rt->store)) {
                runtime_idle_event_time(rt);
            }
        }
        /* Between batches: no evaluation uses the old playbook any more. */
        if (runtime_reload && b->n_msgs == 0) {
            runtime_reload_now(rt);
        }
    }
    if (!rt->fatal && (rt->b->n_msgs > 0 || rt->inflight)) {
        AC_INFO("finishing the current batch before exit messages=%zu", rt->b->n_msgs);
        rt_batch_process(rt, 1);
    }
    return rt->fatal ? AC_ERR_FATAL : 0;
}

int ac_runtime_main(const struct ac_processor *proc, int argc, char **argv)
{
    struct runtime rt;
    char err[512], procname[64];
    const char *config_path = NULL;
    int exit_code = 1, rebuild_flag = 0;
    const struct ac_cfg_entry *tables[3];
    size_t n_tables = runtime_tables(proc, tables);
    memset(&rt, 0, sizeof(rt));
    rt.proc = proc;
    rt.stop = &runtime_stop;
    snprintf(procname, sizeof(procname), "aftercare-%s", proc->name);
    ac_log_init(procname);
    /* First of all: a SIGTERM during start-up must also end cleanly. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = runtime_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            runtime_usage(proc, stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("%s %s\n", procname, AC_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else if (strcmp(argv[i], "--rebuild") == 0 && !proc->tick) {
            rebuild_flag = 1;
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
            i++; /* applied after the config is loaded */
        } else {
            fprintf(stderr, "%s: unknown argument '%s' (try --help)\n", procname, argv[i]);
            return 2;
        }
    }
    rt.cfg = ac_config_load(tables, n_tables, config_path, err, sizeof(err));
    if (!rt.cfg) {
        fprintf(stderr, "%s: %s\n", procname, err);
        return 1;
    }
    if (ac_config_apply_sets(rt.cfg, argc, argv, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", procname, err);
        goto out;
    }
    int level = ac_log_level_from_name(ac_config_str(rt.cfg, "log.level"));
    if (level < 0) {
        fprintf(stderr, "%s: log.level: expected debug, info, warn or error\n", procname);
        goto out;
    }
    ac_log_set_level((enum ac_log_level)level);
    snprintf(rt.group, sizeof(rt.group), "%s", procname);
    ac_clock_init_scaled(&rt.clock, 0, 1); /* the wall clock (a ticking processor keeps its own) */
    if (!proc->tick) {
        rt.rebuild = rebuild_flag || ac_config_bool(rt.cfg, "recovery.rebuild");
        rt.batch_size = (int)ac_config_int(rt.cfg, "batch.size");
        rt.batch_ms = (int)ac_config_int(rt.cfg, "batch.ms");
        rt.max_future_ms = ac_config_int(rt.cfg, "events.max_future_ms");
        ac_clock_init_scaled(&rt.clock, ac_config_int(rt.cfg, "clock.epoch_ms"),
                             ac_config_int(rt.cfg, "clock.speed"));
        const char *g = ac_config_str(rt.cfg, "group.id");
        snprintf(rt.group, sizeof(rt.group), "%s", *g ? g : procname);
        const char *t = ac_config_str(rt.cfg, "topic.input");
        snprintf(rt.topic_in, sizeof(rt.topic_in), "%s", *t ? t : ac_topic_name(proc->topic));
    }
    snprintf(rt.topic_actions, sizeof(rt.topic_actions), "%s",
             ac_config_str(rt.cfg, "topic.actions"));
    snprintf(rt.topic_signals, sizeof(rt.topic_signals), "%s",
             ac_config_str(rt.cfg, "topic.signals"));
    snprintf(rt.topic_dlq, sizeof(rt.topic_dlq), "%s", ac_config_str(rt.cfg, "topic.dlq"));
    snprintf(rt.topic_decisions, sizeof(rt.topic_decisions), "%s",
             ac_config_str(rt.cfg, "topic.decisions"));
    if (proc->tick) {
        ac_buf_init(&rt.enc);
        ac_outbox_refused_init(&rt.tick_dls[0].refused);
        ac_outbox_refused_init(&rt.tick_dls[1].refused);
        rt.tick_dl = &rt.tick_dls[0];
        rt.dl = rt.tick_dl;
    } else if (runtime_alloc(&rt) != 0) {
        fprintf(stderr, "%s: out of memory\n", procname);
        goto out;
    }
    /* The playbook (and its engine) is the runtime's: a processor is its
     * state transition; the step runs the engine after it. */
    if (!(rt.playbook = ac_rules_ctx_new(rt.cfg, err, sizeof(err)))) {
        fprintf(stderr, "%s: %s\n", procname, err);
        goto out;
    }
    if (proc->init && !(rt.ctx = proc->init(rt.cfg, err, sizeof(err)))) {
        fprintf(stderr, "%s: %s\n", procname, err);
        goto out;
    }
    const char *reg = proc->tick ? "" : ac_config_str(rt.cfg, "schemas.registry_dir");
    rt.codec =
        ac_codec_new(ac_config_str(rt.cfg, "schemas.dir"), *reg ? reg : NULL, err, sizeof(err));
    if (!rt.codec) {
        fprintf(stderr, "%s: %s\n", procname, err);
        goto out;
    }
    rt.store = ac_store_new(ac_config_str(rt.cfg, "redis.url"),
                            ac_config_str(rt.cfg, "redis.prefix"), err, sizeof(err));
    if (rt.store && proc->tick) {
        ac_store_set_generation_name(rt.store, rt.group);
    } else if (rt.store) {
        ac_store_set_generation_name(rt.store, rt.group);
        const struct ac_step_opts so = {
            .st = rt.store,
            .codec = rt.codec,
            .topic = (int)proc->topic,
            .transition = proc->apply,
            .ctx = rt.ctx,
            .engine = ac_rules_engine(rt.playbook),
            .rejected = rt_batch_rejected,
            .opaque = &rt,
            .committed = rt_batch_committed,
        };
        if (!(rt.step = ac_step_new(&so))) {
            fprintf(stderr, "%s: out of memory\n", procname);
            goto out;
        }
    }
    if (!rt.store) {
        fprintf(stderr, "%s: %s\n", procname, err);
        goto out;
    }
    const char *brokers = ac_config_str(rt.cfg, "kafka.brokers");
    rt.producer = ac_kafka_producer_new(brokers, rt.cfg, rt_batch_dr_cb, &rt, err, sizeof(err));
    if (!rt.producer ||
        (!proc->tick && !(rt.consumer = runtime_consumer(&rt, brokers, err, sizeof(err))))) {
        fprintf(stderr, "%s: %s\n", procname, err);
        goto out;
    }

    runtime_declare_metrics();
    if (!proc->tick) {
        runtime_declare_consumer_metrics();
    }
    int port = (int)ac_config_int(rt.cfg, "http.port"), bound = 0;
    if (port >= 0) {
        if (ac_http_start(ac_config_str(rt.cfg, "http.bind"), port, &bound, err, sizeof(err)) !=
            0) {
            fprintf(stderr, "%s: %s\n", procname, err);
            goto out;
        }
        AC_INFO("http listening port=%d (/metrics /healthz /readyz)", bound);
    }
    if (ac_store_connect(rt.store, err, sizeof(err)) != 0) {
        AC_WARN("redis unavailable at start, retrying: %s", err);
    }
    int rc = runtime_check_generation(&rt);
    if (rc == AC_ERR_FATAL) {
        exit_code = 3;
        goto out;
    }
    if (rc != 0) {
        exit_code = 0;
        goto out;
    }
    if (proc->tick) {
        AC_INFO("started version=%s redis_run_id=%s gen=%s", AC_VERSION, ac_store_run_id(rt.store),
                rt.gen);
        ac_metrics_set_ready(1);
        rc = runtime_tick_loop(&rt);
        ac_metrics_set_ready(0);
        if (rc == AC_ERR_FATAL) {
            AC_ERROR("stopping after a fatal error; what was committed waits in the outbox");
        }
        rd_kafka_flush(rt.producer, 10000);
        exit_code = rc == AC_ERR_FATAL ? 3 : 0;
        AC_INFO("stopped exit=%d", exit_code);
        goto out;
    }
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, rt.topic_in, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t kerr = rd_kafka_subscribe(rt.consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (kerr) {
        fprintf(stderr, "%s: subscribe to %s: %s\n", procname, rt.topic_in, rd_kafka_err2str(kerr));
        goto out;
    }
    AC_INFO("started version=%s group=%s topic=%s redis_run_id=%s gen=%s", AC_VERSION, rt.group,
            rt.topic_in, ac_store_run_id(rt.store), rt.gen);
    ac_metrics_set_ready(1);

    rc = runtime_loop(&rt);
    ac_metrics_set_ready(0);
    if (rc == AC_ERR_FATAL) {
        AC_ERROR("stopping after a fatal error; nothing past the last durable batch was "
                 "committed");
        exit_code = 3;
        rd_kafka_consumer_close(rt.consumer);
        goto out;
    }
    AC_INFO("shutting down: leaving the group");
    rd_kafka_consumer_close(rt.consumer); /* revoke → finishes any batch, leaves the group */
    rd_kafka_flush(rt.producer, 10000);
    exit_code = rt.fatal ? 3 : 0;
    AC_INFO("stopped exit=%d", exit_code);
out:
    /* messages still held (a fatal error) go before their consumer */
    rt_batch_release(&rt.batches[0]);
    rt_batch_release(&rt.batches[1]);
    if (rt.consumer) {
        rd_kafka_destroy(rt.consumer);
    }
    if (rt.producer) {
        rd_kafka_destroy(rt.producer);
    }
    ac_http_stop();
    ac_store_destroy(rt.store);
    ac_codec_destroy(rt.codec);
    if (rt.ctx && proc->fini) {
        proc->fini(rt.ctx);
    }
    ac_rules_ctx_free(rt.playbook);
    ac_config_destroy(rt.cfg);
    runtime_free(&rt);
    ac_metrics_reset();
    return exit_code;
}
