/* timers.c — the timer process: a processor without input whose tick fires
 * due timers (rounds of due customers, produce, ack) and sweeps outboxes. */
#include "timers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "fire.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

/* Its own keys; the runtime adds the ones every processor reads (Kafka,
 * Redis, topics, schemas, playbook, log). */
static const struct ac_cfg_entry timers_config[] = {
    {"timers.batch", AC_CFG_INT, "2000", "most timers claimed per round", 1, 100000},
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
    {"http.port", AC_CFG_INT, "9105", "port of /metrics (0: any free port, -1: off)", -1, 65535},
    {NULL, AC_CFG_STR, NULL, NULL, 0, 0},
};

#define TIMERS_INPUTS_MAX 8

struct timers_wm {
    char topic[64];
    int partitions; /* from the cluster's metadata; 0: topic not there */
    int64_t *at;    /* [partitions] published event time, INT64_MIN: none */
};

struct timers {
    const struct ac_config *cfg;
    struct timers_wm inputs[TIMERS_INPUTS_MAX];
    int n_inputs;
    int64_t next_metadata; /* mono ms */
    int event_time;        /* timers.event_time, read once at start */
    int64_t max_hold;      /* timers.max_hold_ms */
    int hold_warned;
    int held_too_long; /* the last round fired past a held-back input */
    int64_t idle_ms, sweep_ms;
    int64_t next_sweep, next_gauge; /* mono ms */
    unsigned start;                 /* first bucket of the next round */
    struct ac_tick *tick;           /* the runtime's, during a call */
    struct ac_store *store;         /* the tick's */
    struct ac_fire *fire[2];        /* made on the first tick: rounds take turns, one
                                       building while the other is in flight */
    int cur;                        /* the fire context of the next round */
    int64_t speed, epoch;
    struct ac_store_cust *sweep; /* [sweep_cap] customers of the outbox sweep */
    int *sweep_stale;            /* [sweep_cap] found through a call old enough */
    size_t n_sweep, sweep_cap, batch;
    char (*swept)[AC_ID_MAX]; /* seen in the previous sweep */
    size_t n_swept;
    unsigned sweep_start; /* first bucket of the next sweep */
    int64_t *due[2];      /* due times of each round's emitted actions */
    size_t n_due[2], cap_due;
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
    if (rd_kafka_metadata(t->tick->kafka, 1, NULL, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
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

/* Produce, then remove from the outboxes (and emptied outboxes from the
 * index): the runtime's delivery. */
static int timers_deliver(struct timers *t, struct ac_store_cust *custs, size_t n, int swept)
{
    return ac_tick_deliver(t->tick, custs, n, swept);
}

static void timers_sweep_found(const char *customer_id, int stale, void *opaque)
{
    struct timers *t = opaque;
    for (size_t i = 0; i < t->n_sweep; i++) {
        if (strcmp(t->sweep[i].customer_id, customer_id) == 0) {
            t->sweep_stale[i] |= stale; /* in two calls, or in both indexes */
            return;
        }
    }
    if (t->n_sweep < t->sweep_cap) {
        t->sweep_stale[t->n_sweep] = stale;
        ac_store_cust_init(&t->sweep[t->n_sweep++], customer_id);
    }
}

/* The outbox sweep. A commit call older than a sweep period (timers.sweep_ms,
 * on Redis's clock) still in its bucket's call index has records its writer
 * did not deliver: it died, a delivery failed, or it is slow (then the
 * records go out twice, with the same ids). Its customers' outboxes are
 * produced and acknowledged, and the calls whose outboxes are all empty are
 * dropped. A customer of the previous version's per-customer index goes
 * when two sweeps in a row saw it. */
static int timers_sweep(struct timers *t)
{
    for (size_t i = 0; i < t->n_sweep; i++) {
        ac_store_cust_fini(&t->sweep[i]);
    }
    t->n_sweep = 0;
    /* Start where the last sweep stopped looking, so no bucket waits on the others. */
    int found = ac_store_outbox_customers(t->store, t->sweep_start, t->sweep_cap, t->sweep_ms,
                                          timers_sweep_found, t);
    t->sweep_start = (t->sweep_start + 257) % AC_STORE_BUCKETS;
    if (found < 0) {
        return found;
    }
    /* Those to deliver first; remember the previous index's for the next sweep. */
    size_t k = 0, n_now = 0;
    char(*now_ids)[AC_ID_MAX] = calloc(t->n_sweep + 1, AC_ID_MAX);
    if (!now_ids) {
        return AC_ERR_NOMEM;
    }
    for (size_t i = 0; i < t->n_sweep; i++) {
        int go = t->sweep_stale[i];
        if (!go) {
            memcpy(now_ids[n_now++], t->sweep[i].customer_id, AC_ID_MAX);
            for (size_t j = 0; j < t->n_swept && !go; j++) {
                go = strcmp(t->swept[j], t->sweep[i].customer_id) == 0;
            }
        }
        if (go) {
            struct ac_store_cust tmp = t->sweep[k];
            int tmp_stale = t->sweep_stale[k];
            t->sweep[k] = t->sweep[i];
            t->sweep_stale[k++] = t->sweep_stale[i];
            t->sweep[i] = tmp;
            t->sweep_stale[i] = tmp_stale;
        }
    }
    free(t->swept);
    t->swept = now_ids;
    t->n_swept = n_now;
    int rc = k > 0 ? ac_store_load_outbox(t->store, t->sweep, k) : 0;
    for (size_t i = 0; rc == 0 && i < k; i++) {
        ac_store_cust_take_found(&t->sweep[i]);
    }
    size_t recs = ac_store_swept_count(t->store);
    if (rc == 0 && (k > 0 || recs > 0)) {
        rc = timers_deliver(t, t->sweep, k, 1);
    }
    if (rc == 0) {
        /* emptied entries of the previous index, and every call found whose
         * outboxes are all empty (delivered now or by their writer) */
        rc = ac_store_outbox_done(t->store, t->sweep, k);
    }
    if (rc == 0 && (k > 0 || recs > 0)) {
        for (size_t i = 0; i < k; i++) {
            recs += (size_t)t->sweep[i].n_pending;
        }
        AC_INFO("outbox sweep delivered records=%zu", recs);
        ac_metrics_add("aftercare_outbox_swept_total", "", (double)recs);
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
        /* lateness is observed once the action is on Kafka (timers_tick) */
        if (t->n_due[t->cur] < t->cap_due) {
            t->due[t->cur][t->n_due[t->cur]++] = d->due;
        }
    }
}

/* The lateness of a round's emitted actions, once Kafka confirmed them
 * (in the clock's time: with clock.speed > 1 these are sped-up seconds). */
static void timers_lateness(struct timers *t, int round)
{
    int64_t on_kafka = timers_now(t);
    for (size_t i = 0; i < t->n_due[round]; i++) {
        ac_metrics_observe("aftercare_timer_lateness_seconds", "",
                           (double)(on_kafka - t->due[round][i]) / 1000.0);
    }
    t->n_due[round] = 0;
}

/* The round in flight, finished now (nothing more due, a sweep, a stop). */
static int timers_finish(struct timers *t)
{
    int rc = ac_tick_finish(t->tick);
    if (rc == 1) {
        timers_lateness(t, t->cur ^ 1);
    }
    return rc < 0 ? rc : 0;
}

/* One round: the sweep when it is time, the gauges every second, then the
 * timers due up to the inputs' event time. Rounds overlap: a round's
 * records go to the producer and the round stays in flight while the next
 * one is found, loaded, applied and committed; then it is finished (its
 * reports, its acknowledgement). */
static int timers_tick(void *ctx, struct ac_tick *tk)
{
    struct timers *t = ctx;
    int rc;
    t->tick = tk;
    t->store = tk->store;
    tk->wait_ms = t->idle_ms;
    for (int k = 0; k < 2; k++) {
        if (!t->fire[k]) {
            t->fire[k] = ac_fire_new(tk->store, tk->engine, tk->codec, t->batch);
            if (!t->fire[k]) {
                return AC_ERR_NOMEM;
            }
            ac_fire_on_decision(t->fire[k], timers_decision, t);
        }
    }
    int64_t mono = ac_clock_mono_ms();
    if (mono >= t->next_sweep) {
        if ((rc = timers_finish(t)) != 0) {
            return rc; /* the sweep runs on the next call, once Redis is back */
        }
        t->next_sweep = mono + t->sweep_ms;
        if ((rc = timers_sweep(t)) == AC_ERR_FATAL) {
            return rc;
        }
    }
    int64_t now = timers_now(t);
    if (mono >= t->next_gauge) {
        int64_t pending = 0, overdue = 0;
        t->next_gauge = mono + 1000;
        if (ac_store_timer_counts(t->store, now, &pending, &overdue) == 0) {
            ac_metrics_set("aftercare_timers_pending", "", (double)pending);
            ac_metrics_set("aftercare_timers_overdue", "", (double)overdue);
        }
    }
    struct ac_store_cust *custs = NULL;
    size_t n = 0;
    double t0 = ac_clock_mono_s();
    t->n_due[t->cur] = 0;
    int64_t upto = timers_fire_time(t, now);
    ac_tick_begin(tk);
    int decided = upto == INT64_MIN
                      ? AC_ERR_TRANSIENT
                      : ac_fire_round_upto(t->fire[t->cur], upto, now, t->start, &custs, &n);
    if (decided > 0 && t->held_too_long) {
        ac_metrics_add("aftercare_timers_fired_past_hold_total", "", (double)decided);
    }
    t->start = (t->start + 97) % AC_STORE_BUCKETS; /* replicas drift apart */
    if (decided < 0) {
        return decided; /* the runtime's to recover (the round in flight: the sweep's) */
    }
    if (n == 0) {
        return timers_finish(t); /* nothing due: wait */
    }
    /* a round may have committed records without firing a timer (exits) */
    if ((rc = ac_tick_deliver_later(tk, custs, n)) < 0) {
        return rc; /* the records wait in the outbox; the sweep delivers them */
    }
    if (rc == 1) {
        timers_lateness(t, t->cur ^ 1); /* the round before, finished just now */
    }
    t->cur ^= 1;
    ac_metrics_observe("aftercare_batch_duration_seconds", "", ac_clock_mono_s() - t0);
    ac_metrics_add("aftercare_timers_fired_total", "", (double)decided);
    return decided;
}

static void timers_declare_metrics(void)
{
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
                       "from a timer's due time to its round being finished (Kafka confirmed its "
                       "action; rounds overlap, so this can be one round later than the "
                       "confirmation)");
    ac_metrics_declare("aftercare_outbox_swept_total", "counter",
                       "records of commits their writer did not deliver, produced by the sweep");
}

static void timers_fini(void *ctx)
{
    struct timers *t = ctx;
    if (!t) {
        return;
    }
    for (size_t i = 0; i < t->n_sweep; i++) {
        ac_store_cust_fini(&t->sweep[i]);
    }
    free(t->sweep);
    free(t->sweep_stale);
    free(t->swept);
    free(t->due[0]);
    free(t->due[1]);
    for (int i = 0; i < t->n_inputs; i++) {
        free(t->inputs[i].at);
    }
    ac_fire_destroy(t->fire[0]);
    ac_fire_destroy(t->fire[1]);
    free(t);
}

static void *timers_init(const struct ac_config *cfg, char *err, size_t errlen)
{
    struct timers *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->cfg = cfg;
    t->speed = ac_config_int(cfg, "clock.speed");
    t->epoch = ac_config_int(cfg, "clock.epoch_ms");
    t->batch = (size_t)ac_config_int(cfg, "timers.batch");
    t->event_time = ac_config_bool(cfg, "timers.event_time");
    t->max_hold = ac_config_int(cfg, "timers.max_hold_ms");
    t->idle_ms = ac_config_int(cfg, "timers.idle_ms");
    t->sweep_ms = ac_config_int(cfg, "timers.sweep_ms");
    t->start = (unsigned)(ac_clock_mono_ms() % AC_STORE_BUCKETS);
    /* a call carries up to AC_STORE_CUSTOMERS_PER_CALL customers: room for one at least */
    t->sweep_cap = t->batch < AC_STORE_CUSTOMERS_PER_CALL ? AC_STORE_CUSTOMERS_PER_CALL : t->batch;
    t->sweep = calloc(t->sweep_cap, sizeof(*t->sweep));
    t->sweep_stale = calloc(t->sweep_cap, sizeof(*t->sweep_stale));
    t->cap_due = t->batch * AC_EMIT_MAX_ACTIONS;
    t->due[0] = calloc(t->cap_due, sizeof(*t->due[0]));
    t->due[1] = calloc(t->cap_due, sizeof(*t->due[1]));
    if (!t->sweep || !t->sweep_stale || !t->due[0] || !t->due[1]) {
        snprintf(err, errlen, "out of memory");
        timers_fini(t);
        return NULL;
    }
    timers_declare_metrics();
    AC_INFO("timers batch=%zu speed=%lld event_time=%d", t->batch, (long long)t->speed,
            t->event_time);
    return t;
}

const struct ac_processor ac_timers_processor = {
    .name = "timers",
    .topic = AC_TOPIC_ORDERS, /* none read: it has no input */
    .description =
        "Fires the durable timers the processors scheduled: re-checks each against the\n"
        "customer's current state and the playbook's policies, and emits its action\n"
        "through the outbox. A timer due at T fires once every input partition has been\n"
        "processed up to T (timers.event_time). Run any number of replicas. SIGHUP reloads\n"
        "the playbook; SIGTERM finishes the round and exits 0.",
    .config = timers_config,
    .init = timers_init,
    .fini = timers_fini,
    .tick = timers_tick,
};
