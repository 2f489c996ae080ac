/* batch.c — one batch, end to end.
 *
 *   decode ─▶ group by customer ─▶ load (1 pipeline) ─▶ apply (pure) ─▶
 *   commit (1 pipeline of FCALLs: state + watermark + applied ids + outbox,
 *   atomic per customer) ─▶ produce outbox + DLQ, wait for delivery ─▶
 *   ack outbox + positions (1 pipeline) ─▶ commit Kafka offsets.
 *
 * A crash anywhere leaves Redis consistent (each customer's FCALL is atomic)
 * and Kafka's committed offset at or before the batch; the redelivered
 * events are skipped by the watermark/applied-id checks and the outbox
 * records still pending are produced again under the same ids. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "runtime_int.h"
#include "step.h"

/* Index of the customer's slot in rt->custs, adding it if new. */
static size_t batch_customer(struct runtime *rt, const char *cid)
{
    size_t mask = rt->map_size - 1;
    for (size_t i = ac_store_hash(cid) & mask;; i = (i + 1) & mask) {
        int slot = rt->map[i];
        if (slot == 0) {
            size_t c = rt->n_custs++;
            ac_store_cust_rebind(&rt->custs[c], cid);
            rt->cust_first[c] = -1;
            rt->map[i] = (int)c + 1;
            return c;
        }
        if (strcmp(rt->custs[slot - 1].customer_id, cid) == 0) {
            return (size_t)slot - 1;
        }
    }
}

static void batch_dlq(struct runtime *rt, size_t msg, const char *reason)
{
    struct rt_dlq *d = &rt->dlq[rt->n_dlq++];
    d->msg = msg;
    snprintf(d->reason, sizeof(d->reason), "%s", reason);
}

/* Decodes every message; groups the good ones by customer, in offset order. */
static void batch_decode(struct runtime *rt)
{
    int *last = rt->cust_last; /* [batch_size]: last event of each customer so far */
    int64_t now = ac_clock_now(&rt->clock);
    rt->n_custs = 0;
    rt->n_dlq = 0;
    memset(rt->map, 0, rt->map_size * sizeof(*rt->map));
    for (size_t i = 0; i < rt->n_msgs; i++) {
        const rd_kafka_message_t *m = rt->msgs[i];
        struct ac_event *ev = &rt->events[i];
        char reason[128];
        rt->ev_ok[i] = 0;
        rt->ev_next[i] = -1;
        if (ac_codec_decode_event(rt->codec, rt->proc->topic, m->payload, m->len, ev, reason,
                                  sizeof(reason)) != 0) {
            batch_dlq(rt, i, reason);
            continue;
        }
        if (ev->occurred_at > now + rt->max_future_ms) {
            batch_dlq(rt, i, "absurd_value:occurred_at");
            continue;
        }
        /* Ordering per customer rests on the key: refuse a missing or other one. */
        if (ac_codec_check_key(ev, m->key, m->key_len, reason, sizeof(reason)) != 0) {
            batch_dlq(rt, i, reason);
            continue;
        }
        rt->ev_ok[i] = 1;
        size_t c = batch_customer(rt, ev->customer_id);
        if (rt->cust_first[c] < 0) {
            rt->cust_first[c] = (int)i;
        } else {
            rt->ev_next[last[c]] = (int)i;
        }
        last[c] = (int)i;
    }
    /* Each customer's events, in offset order, for the step. */
    size_t at = 0;
    for (size_t c = 0; c < rt->n_custs; c++) {
        rt->ins[c].in = &rt->apply_in[at];
        rt->ins[c].n = 0;
        rt->ins[c].fire_due = 0;
        for (int e = rt->cust_first[c]; e >= 0; e = rt->ev_next[e]) {
            const rd_kafka_message_t *m = rt->msgs[e];
            rt->apply_in[at++] =
                (struct ac_apply_in){&rt->events[e], m->partition, m->offset, (size_t)e};
            rt->ins[c].n++;
        }
    }
}

/* An event the domain code rejected: its DLQ record goes through the outbox
 * so it is as durable as the state change that skipped it. */
int rt_batch_rejected(void *opaque, struct ac_store_cust *sc, const struct ac_apply_in *in,
                      const char *reason)
{
    struct runtime *rt = opaque;
    size_t i = in->index;
    const rd_kafka_message_t *m = rt->msgs[i];
    char id[AC_ACTION_ID_MAX];
    ac_action_id(id, "dlq", rt->events[i].event_id, (int)m->offset);
    ac_buf_reset(&rt->enc);
    int rc = ac_outbox_rejected(&rt->enc, rt->topic_in, m->partition, m->offset, reason, m->payload,
                                m->len);
    return rc ? rc : ac_store_cust_add_out(sc, id, 'D', rt->enc.data, rt->enc.len);
}

static void batch_tally(struct rt_tally *t, int *n, const char *label)
{
    for (int i = 0; i < *n; i++) {
        if (strcmp(t[i].label, label) == 0) {
            t[i].n++;
            return;
        }
    }
    if (*n < RT_TALLY_MAX) {
        snprintf(t[*n].label, sizeof(t[*n].label), "%s", label);
        t[*n].key = 0;
        t[(*n)++].n = 1;
    }
}

/* FNV-1a over s up to its NUL or the first `stop` byte (0: none); *len is
 * the length hashed. Then a field separator. */
static uint64_t batch_key(uint64_t h, const char *s, char stop, size_t *len)
{
    size_t i = 0;
    for (; s[i] != '\0' && s[i] != stop; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    if (len) {
        *len = i;
    }
    return (h ^ 0xff) * 0x100000001b3ULL;
}

/* Counts a decision under its (rule, decision, reason) label; the label is
 * built only the first time that combination is seen in the batch. */
static void batch_tally_decision(struct rt_tally *t, int *n, const struct ac_decision *d,
                                 int rule_only)
{
    size_t rlen = 0; /* the detail after ':' is not a label value */
    uint64_t key = batch_key(0xcbf29ce484222325ULL, d->rule_id, 0, NULL);
    if (!rule_only) {
        key = batch_key(key, d->decision, 0, NULL);
        key = batch_key(key, d->reason, ':', &rlen);
    }
    key |= 1; /* 0 marks a tally counted by label */
    for (int i = 0; i < *n; i++) {
        if (t[i].key == key) {
            t[i].n++;
            return;
        }
    }
    if (*n < RT_TALLY_MAX) {
        if (rule_only) {
            snprintf(t[*n].label, sizeof(t[*n].label), "rule=\"%s\"", d->rule_id);
        } else {
            snprintf(t[*n].label, sizeof(t[*n].label),
                     "rule=\"%s\",decision=\"%s\",reason=\"%.*s\"", d->rule_id, d->decision,
                     (int)rlen, d->reason);
        }
        t[*n].key = key;
        t[(*n)++].n = 1;
    }
}

void rt_tally_decisions(struct runtime *rt, const struct ac_store_cust *sc)
{
    for (int k = 0; k < sc->n_decs; k++) {
        const struct ac_decision *d = &sc->decs[k];
        batch_tally_decision(rt->decisions, &rt->n_decisions, d, 0);
        if (strcmp(d->decision, "emitted") == 0) {
            batch_tally_decision(rt->rules, &rt->n_rules, d, 1);
        }
    }
    rt->tz_fallbacks += sc->tz_fallbacks;
    rt->tz_missing += sc->tz_missing;
    rt->decisions_lost += sc->decisions_lost;
}

/* Load, apply and commit every customer of the batch: the step pipelines
 * them in parts, retries conflicts, and hands each committed customer to
 * rt_batch_committed. */
static int batch_state(struct runtime *rt, struct ac_apply_stats *stats)
{
    int rc = ac_step_run(rt->step, rt->custs, rt->ins, rt->n_custs, &rt->clock, stats);
    if (rc != 0) {
        return rc;
    }
    ac_metrics_observe("aftercare_redis_rtt_seconds", "", ac_store_last_rtt(rt->store));
    return 0;
}

static void batch_state_stats(struct runtime *rt, const struct ac_apply_stats *stats)
{
    rt->skipped_replayed = stats->replayed;
    rt->skipped_duplicate = stats->duplicates;
    if (stats->seen_evicted > 0 || stats->wm_evicted > 0) {
        /* Bounds of the record reached: older duplicates could apply again. */
        ac_metrics_add("aftercare_dedupe_evicted_total", "what=\"event_id\"",
                       (double)stats->seen_evicted);
        ac_metrics_add("aftercare_dedupe_evicted_total", "what=\"watermark\"",
                       (double)stats->wm_evicted);
    }
}

static void batch_dr(struct runtime *rt, const rd_kafka_message_t *m)
{
    if (m->err && ac_outbox_refused_note(&rt->refused, m)) {
        rt->dr_refused++; /* its DLQ copy goes instead (batch_produce_finish) */
        return;
    }
    if (m->err) {
        rt->dr_fail++;
        AC_WARN("delivery failed topic=%s: %s", rd_kafka_topic_name(m->rkt),
                rd_kafka_err2str(m->err));
    } else {
        rt->dr_ok++;
    }
}

void rt_batch_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
void rt_batch_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    batch_dr(opaque, m);
}

/* Hands one outbox record to the producer, without waiting, and counts it. */
static int batch_produce_one(struct runtime *rt, const char *customer_id,
                             const struct ac_outbox_rec *rec)
{
    const struct ac_outbox_topics topics = {rt->topic_actions, rt->topic_signals, rt->topic_dlq,
                                            rt->topic_decisions};
    int rc = ac_outbox_produce_rec(rt->producer, &topics, customer_id, rec);
    if (rc == 0) {
        rt->sent++;
        rt->sent_actions += rec->kind == 'a';
        rt->sent_signals += rec->kind == 's';
    }
    return rc;
}

/* Hands a committed customer's records to the producer: their delivery
 * overlaps the state work on the rest of the batch. */
static int batch_produce_pending(struct runtime *rt, const struct ac_store_cust *sc)
{
    size_t cursor = 0;
    struct ac_outbox_rec rec;
    int rc = 0;
    while (rc == 0 && ac_store_pending_next(sc, &cursor, &rec)) {
        rc = batch_produce_one(rt, sc->customer_id, &rec);
    }
    return rc;
}

/* Hands the swept records (a dead writer's calls, found by a replay or the
 * sweep) to the producer. */
static int batch_produce_swept(struct runtime *rt)
{
    size_t cursor = 0;
    const char *cid;
    struct ac_outbox_rec rec;
    int rc = 0;
    while (rc == 0 && ac_store_swept_next(rt->store, &cursor, &cid, &rec)) {
        rc = batch_produce_one(rt, cid, &rec);
    }
    return rc;
}

int rt_batch_committed(void *opaque, struct ac_store_cust *sc)
{
    struct runtime *rt = opaque;
    int rc = batch_produce_pending(rt, sc);
    if (rc == 0) {
        rt_tally_decisions(rt, sc);
    }
    return rc;
}

/* The undecodable messages to the DLQ, then waits for every delivery report
 * of the batch. */
static int batch_produce_finish(struct runtime *rt, long sent)
{
    for (size_t i = 0; i < rt->n_dlq; i++) {
        int rc = ac_outbox_produce_dlq(rt->producer, rt->topic_dlq, rt->topic_in,
                                       rt->msgs[rt->dlq[i].msg], rt->dlq[i].reason);
        if (rc != 0) {
            return rc;
        }
        sent++;
    }
    for (;;) {
        while (rd_kafka_outq_len(rt->producer) > 0) {
            rd_kafka_flush(rt->producer, 1000);
            if (*rt->stop && rd_kafka_outq_len(rt->producer) > 0) {
                AC_WARN("stopping with %d records unconfirmed; they stay in the outbox",
                        rd_kafka_outq_len(rt->producer));
                return AC_ERR_TRANSIENT;
            }
        }
        if (rt->refused.n == 0) {
            break;
        }
        /* Records the broker refused for good: their DLQ copies instead. */
        int rc = ac_outbox_refused_send(&rt->refused, rt->producer, rt->topic_dlq, &sent);
        if (rc != 0) {
            return rc;
        }
    }
    if (rt->dr_fail > 0 || rt->dr_ok + rt->dr_refused < sent) {
        AC_WARN("batch delivery incomplete ok=%ld failed=%ld sent=%ld; retrying", rt->dr_ok,
                rt->dr_fail, sent);
        ac_metrics_add("aftercare_produce_retries_total", "", 1);
        return AC_ERR_TRANSIENT;
    }
    return 0;
}

/* A tick's delivery starts: the counters of the batch path, zeroed once. */
static void batch_tick_open(struct runtime *rt)
{
    if (rt->tick_open) {
        return;
    }
    rt->tick_open = 1;
    rt->dr_ok = rt->dr_fail = rt->dr_refused = 0;
    ac_outbox_refused_fini(&rt->refused);
    rt->sent = rt->sent_actions = rt->sent_signals = 0;
    rt->n_dlq = 0;
}

void ac_tick_begin(struct ac_tick *t)
{
    struct runtime *rt = t->rt;
    rt->tick_open = 0; /* what a failed round produced counts no more */
}

int ac_tick_produce(struct ac_tick *t, struct ac_store_cust *sc)
{
    struct runtime *rt = t->rt;
    batch_tick_open(rt);
    sc->produced = 1;
    return batch_produce_pending(rt, sc);
}

int ac_tick_deliver(struct ac_tick *t, struct ac_store_cust *custs, size_t n, int swept)
{
    struct runtime *rt = t->rt;
    batch_tick_open(rt);
    rt->tick_open = 0; /* whatever the outcome, the next tick starts afresh */
    for (size_t c = 0; c < n; c++) {
        int rc = custs[c].produced ? 0 : batch_produce_pending(rt, &custs[c]);
        if (rc != 0) {
            return rc;
        }
    }
    int rc = swept ? batch_produce_swept(rt) : 0;
    if (rc != 0) {
        return rc;
    }
    rc = batch_produce_finish(rt, rt->sent);
    if (rc == 0) {
        rc = ac_store_ack(rt->store, custs, n, rt->group, rt->proc->topic, NULL, NULL, 0);
    }
    if (rc == 0) {
        ac_metrics_add("aftercare_records_out_total", "topic=\"actions\"",
                       (double)rt->sent_actions);
        ac_metrics_add("aftercare_records_out_total", "topic=\"signals\"",
                       (double)rt->sent_signals);
    }
    return rc;
}

/* Next offsets per partition of the batch (highest offset + 1). */
static size_t batch_positions(struct runtime *rt, int32_t *parts, int64_t *offs, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < rt->n_msgs; i++) {
        const rd_kafka_message_t *m = rt->msgs[i];
        size_t k = 0;
        while (k < n && parts[k] != m->partition) {
            k++;
        }
        if (k == n) {
            if (n == max) {
                continue;
            }
            parts[n] = m->partition;
            offs[n++] = m->offset + 1;
        } else if (m->offset + 1 > offs[k]) {
            offs[k] = m->offset + 1;
        }
    }
    return n;
}

/* How far in event time each partition of the batch has got: the newest event
 * time applied, or now when the partition has been read to its end. */
static void batch_event_time(struct runtime *rt, const int32_t *parts, const int64_t *offs,
                             size_t n)
{
    int64_t now = ac_clock_now(&rt->clock);
    int64_t *times = calloc(n + 1, sizeof(*times));
    if (!times) {
        return;
    }
    for (size_t k = 0; k < n; k++) {
        int64_t lo = -1, hi = -1;
        times[k] = INT64_MIN;
        if (rd_kafka_get_watermark_offsets(rt->consumer, rt->topic_in, parts[k], &lo, &hi) ==
                RD_KAFKA_RESP_ERR_NO_ERROR &&
            hi >= 0 && offs[k] >= hi) {
            times[k] = now;
            continue;
        }
        for (size_t i = 0; i < rt->n_msgs; i++) {
            if (rt->ev_ok[i] && rt->msgs[i]->partition == parts[k] &&
                rt->events[i].occurred_at > times[k]) {
                times[k] = rt->events[i].occurred_at < now ? rt->events[i].occurred_at : now;
            }
        }
    }
    /* partitions with nothing decodable keep their value */
    size_t m = 0;
    int32_t *keep = calloc(n + 1, sizeof(*keep));
    for (size_t k = 0; keep && k < n; k++) {
        if (times[k] != INT64_MIN) {
            keep[m] = parts[k];
            times[m++] = times[k];
        }
    }
    if (keep && ac_store_event_time_publish(rt->store, rt->topic_in, keep, times, m) != 0) {
        AC_DEBUG("event time not published; next batch");
    }
    free(keep);
    free(times);
}

static void batch_commit_offsets(struct runtime *rt, const int32_t *parts, const int64_t *offs,
                                 size_t n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_topic_partition_list_add(l, rt->topic_in, parts[i])->offset = offs[i];
    }
    rd_kafka_resp_err_t err = rd_kafka_commit(rt->consumer, l, 1);
    if (err) {
        /* Redis holds the position; Kafka's commit is for lag monitoring. */
        AC_WARN("offset commit failed: %s", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* delivered: when the batch's records were confirmed by Kafka (ac_clock_mono_s). */
static void batch_metrics(struct runtime *rt, double started, double delivered)
{
    char label[320];
    struct rt_tally types[RT_TALLY_MAX];
    int n_types = 0;
    int64_t now = ac_clock_now(&rt->clock);
    double mono = ac_clock_mono_s();
    size_t n_obs = 0;
    /* counted by the type's index first: a label per event is a snprintf per event */
    enum { BATCH_TYPES = 64 };
    size_t by_type[BATCH_TYPES] = {0};
    size_t first_of[BATCH_TYPES];
    for (size_t i = 0; i < rt->n_msgs; i++) {
        if (!rt->ev_ok[i]) {
            continue;
        }
        int k = rt->events[i].type_index;
        if (k >= 0 && k < BATCH_TYPES) {
            if (by_type[k]++ == 0) {
                first_of[k] = i;
            }
            continue;
        }
        snprintf(label, sizeof(label), "topic=\"%s\",type=\"%s\"", rt->topic_in,
                 rt->events[i].type);
        batch_tally(types, &n_types, label);
    }
    for (int k = 0; k < BATCH_TYPES; k++) {
        if (by_type[k] > 0) {
            snprintf(label, sizeof(label), "topic=\"%s\",type=\"%s\"", rt->topic_in,
                     rt->events[first_of[k]].type);
            ac_metrics_add("aftercare_events_in_total", label, (double)by_type[k]);
        }
    }
    for (int i = 0; i < n_types; i++) {
        ac_metrics_add("aftercare_events_in_total", types[i].label, (double)types[i].n);
    }
    for (int i = 0; i < rt->n_rules; i++) {
        ac_metrics_add("aftercare_actions_out_total", rt->rules[i].label, (double)rt->rules[i].n);
    }
    for (int i = 0; i < rt->n_decisions; i++) {
        ac_metrics_add("aftercare_decisions_total", rt->decisions[i].label,
                       (double)rt->decisions[i].n);
    }
    if (rt->tz_fallbacks > 0) {
        ac_metrics_add("aftercare_timezone_fallbacks_total", "reason=\"invalid\"",
                       (double)rt->tz_fallbacks);
    }
    if (rt->tz_missing > 0) {
        ac_metrics_add("aftercare_timezone_fallbacks_total", "reason=\"missing\"",
                       (double)rt->tz_missing);
    }
    if (rt->decisions_lost > 0) {
        AC_WARN("decisions past the per-event limit were not audited count=%ld",
                rt->decisions_lost);
        ac_metrics_add("aftercare_decisions_unaudited_total", "", (double)rt->decisions_lost);
    }
    if (rt->skipped_replayed > 0) {
        snprintf(label, sizeof(label), "topic=\"%s\",reason=\"replayed\"", rt->topic_in);
        ac_metrics_add("aftercare_events_skipped_total", label, (double)rt->skipped_replayed);
    }
    if (rt->skipped_duplicate > 0) {
        snprintf(label, sizeof(label), "topic=\"%s\",reason=\"duplicate_event_id\"", rt->topic_in);
        ac_metrics_add("aftercare_events_skipped_total", label, (double)rt->skipped_duplicate);
    }
    /* Ours: read from Kafka -> the batch's records confirmed, for every
     * message. Not ours: event time -> read (upstream delay, replays), for
     * every decoded event; a clock ahead of ours counts as 0. */
    for (size_t i = 0; i < rt->n_msgs; i++) {
        rt->obs[n_obs++] = delivered - rt->read_at[i];
    }
    ac_metrics_observe_many("aftercare_processing_latency_seconds", "", rt->obs, n_obs);
    n_obs = 0;
    for (size_t i = 0; i < rt->n_msgs; i++) {
        if (rt->ev_ok[i]) {
            double age =
                (double)(now - rt->events[i].occurred_at) / 1000.0 - (mono - rt->read_at[i]);
            rt->obs[n_obs++] = age > 0 ? age : 0;
        }
    }
    ac_metrics_observe_many("aftercare_event_age_seconds", "", rt->obs, n_obs);
    ac_metrics_add("aftercare_records_out_total", "topic=\"actions\"", (double)rt->sent_actions);
    ac_metrics_add("aftercare_records_out_total", "topic=\"signals\"", (double)rt->sent_signals);
    ac_metrics_observe("aftercare_batch_duration_seconds", "", ac_clock_mono_s() - started);
    ac_metrics_add("aftercare_batches_total", "", 1);
}

static void batch_release(struct runtime *rt)
{
    for (size_t i = 0; i < rt->n_msgs; i++) {
        rd_kafka_message_destroy(rt->msgs[i]);
    }
    /* the customer slots keep their memory for the next batch (runtime_free) */
    rt->n_msgs = 0;
    rt->n_custs = 0;
}

int rt_batch_process(struct runtime *rt)
{
    int rc = 0, backoff = 0;
    int32_t *parts = rt->pos_parts;
    int64_t *offs = rt->pos_offs;
    if (rt->n_msgs == 0) {
        return 0;
    }
    double started = ac_clock_mono_s(), delivered = 0;
    batch_decode(rt);
    for (;;) {
        struct ac_apply_stats stats;
        uint64_t seq0 = ac_store_call_seq(rt->store);
        int recovered = 0;
        memset(&stats, 0, sizeof(stats));
        rt->n_rules = rt->n_decisions = 0;
        rt->tz_fallbacks = rt->tz_missing = rt->decisions_lost = 0;
        rt->dr_ok = rt->dr_fail = rt->dr_refused = 0;
        ac_outbox_refused_fini(&rt->refused); /* a retried batch's notes */
        rt->sent = rt->sent_actions = rt->sent_signals = 0;
        double ts = ac_clock_mono_s();
        rc = batch_state(rt, &stats);
        double t0 = ac_clock_mono_s();
        if (rc == 0) {
            batch_state_stats(rt, &stats);
            ac_metrics_observe("aftercare_batch_phase_seconds", "phase=\"state\"", t0 - ts);
        }
        if (rc == 0 && stats.replayed > 0) {
            /* redelivered events: what their first processing committed may
             * not have reached Kafka (a crash between commit and delivery) */
            rc = ac_store_outbox_replayed(rt->store, rt->custs, rt->n_custs, seq0);
            recovered = rc > 0 ? rc : 0;
            rc = rc > 0 ? batch_produce_swept(rt) : rc;
        }
        if (rc == 0) {
            rc = batch_produce_finish(rt, rt->sent);
        }
        double t1 = ac_clock_mono_s();
        size_t n_pos = batch_positions(rt, parts, offs, (size_t)rt->batch_size);
        if (rc == 0) {
            rc = ac_store_ack(rt->store, rt->custs, rt->n_custs, rt->group, rt->proc->topic, parts,
                              offs, n_pos);
        }
        if (rc == 0 && recovered) {
            rc = ac_store_outbox_done(rt->store, NULL, 0);
            AC_INFO("records of an earlier commit delivered again after a replay records=%d",
                    recovered);
        }
        if (rc == 0) {
            delivered = t1;
            ac_metrics_observe("aftercare_batch_phase_seconds", "phase=\"produce\"", t1 - t0);
            ac_metrics_observe("aftercare_batch_phase_seconds", "phase=\"ack\"",
                               ac_clock_mono_s() - t1);
        }
        if (rc == 0) {
            batch_commit_offsets(rt, parts, offs, n_pos);
            batch_event_time(rt, parts, offs, n_pos);
            break;
        }
        if (rc == AC_ERR_FATAL || rc == AC_ERR_NOMEM || rc == AC_ERR_INVALID) {
            /* INVALID: a record that can never be encoded or produced as it is:
             * stop with the error logged rather than retry the batch for ever */
            rt->fatal = 1;
            break;
        }
        if ((rc = rt_redis_recover(rt, &backoff)) != 0) {
            break;
        }
    }
    if (rc == 0) {
        batch_metrics(rt, started, delivered);
    }
    batch_release(rt);
    return rc;
}
