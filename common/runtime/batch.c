/* batch.c — one batch, end to end.
 *
 *   decode ─▶ group by customer ─▶ load (1 pipeline) ─▶ apply (pure) ─▶
 *   commit (1 pipeline of FCALLs: state + watermark + applied ids + outbox,
 *   atomic per customer) ─▶ produce outbox + DLQ, wait for delivery ─▶
 *   ack outbox + positions (1 pipeline) ─▶ commit Kafka offsets.
 *
 * The wait for delivery overlaps the next batch: a batch whose state work is
 * done and whose records are handed to the producer stays in flight while
 * the next one is gathered, decoded, loaded, applied and committed; then it
 * is finished (its delivery reports, the acknowledgement, the offsets). A
 * consumer with nothing more to read finishes it at once.
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

/* Index of the customer's slot in b->custs, adding it if new. */
static size_t batch_customer(struct runtime *rt, struct rt_batch *b, const char *cid)
{
    size_t mask = rt->map_size - 1;
    for (size_t i = ac_store_hash(cid) & mask;; i = (i + 1) & mask) {
        int slot = rt->map[i];
        if (slot == 0) {
            size_t c = b->n_custs++;
            ac_store_cust_rebind(&b->custs[c], cid);
            b->cust_first[c] = -1;
            rt->map[i] = (int)c + 1;
            return c;
        }
        if (strcmp(b->custs[slot - 1].customer_id, cid) == 0) {
            return (size_t)slot - 1;
        }
    }
}

static void batch_dlq(struct rt_batch *b, size_t msg, const char *reason)
{
    struct rt_dlq *d = &b->dlq[b->n_dlq++];
    d->msg = msg;
    snprintf(d->reason, sizeof(d->reason), "%s", reason);
}

/* Decodes every message; groups the good ones by customer, in offset order. */
static void batch_decode(struct runtime *rt, struct rt_batch *b)
{
    int *last = rt->cust_last; /* [batch_size]: last event of each customer so far */
    int64_t now = ac_clock_now(&rt->clock);
    b->n_custs = 0;
    b->n_dlq = 0;
    memset(rt->map, 0, rt->map_size * sizeof(*rt->map));
    for (size_t i = 0; i < b->n_msgs; i++) {
        const rd_kafka_message_t *m = b->msgs[i];
        struct ac_event *ev = &b->events[i];
        char reason[128];
        b->ev_ok[i] = 0;
        b->ev_next[i] = -1;
        if (ac_codec_decode_event(rt->codec, rt->proc->topic, m->payload, m->len, ev, reason,
                                  sizeof(reason)) != 0) {
            batch_dlq(b, i, reason);
            continue;
        }
        if (ev->occurred_at > now + rt->max_future_ms) {
            batch_dlq(b, i, "absurd_value:occurred_at");
            continue;
        }
        /* Ordering per customer rests on the key: refuse a missing or other one. */
        if (ac_codec_check_key(ev, m->key, m->key_len, reason, sizeof(reason)) != 0) {
            batch_dlq(b, i, reason);
            continue;
        }
        b->ev_ok[i] = 1;
        size_t c = batch_customer(rt, b, ev->customer_id);
        if (b->cust_first[c] < 0) {
            b->cust_first[c] = (int)i;
        } else {
            b->ev_next[last[c]] = (int)i;
        }
        last[c] = (int)i;
    }
    /* Each customer's events, in offset order, for the step. */
    size_t at = 0;
    for (size_t c = 0; c < b->n_custs; c++) {
        b->ins[c].in = &b->apply_in[at];
        b->ins[c].n = 0;
        b->ins[c].fire_due = 0;
        for (int e = b->cust_first[c]; e >= 0; e = b->ev_next[e]) {
            const rd_kafka_message_t *m = b->msgs[e];
            b->apply_in[at++] =
                (struct ac_apply_in){&b->events[e], m->partition, m->offset, (size_t)e};
            b->ins[c].n++;
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
    const rd_kafka_message_t *m = rt->cur->msgs[i];
    char id[AC_ACTION_ID_MAX];
    ac_action_id(id, "dlq", rt->cur->events[i].event_id, (int)m->offset);
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
    struct rt_batch *b = rt->cur;
    for (int k = 0; k < sc->n_decs; k++) {
        const struct ac_decision *d = &sc->decs[k];
        batch_tally_decision(b->decisions, &b->n_decisions, d, 0);
        if (strcmp(d->decision, "emitted") == 0) {
            batch_tally_decision(b->rules, &b->n_rules, d, 1);
        }
    }
    b->tz_fallbacks += sc->tz_fallbacks;
    b->tz_missing += sc->tz_missing;
    b->decisions_lost += sc->decisions_lost;
}

/* Load, apply and commit every customer of the batch: the step pipelines
 * them in parts, retries conflicts, and hands each committed customer to
 * rt_batch_committed. */
static int batch_state(struct runtime *rt, struct rt_batch *b, struct ac_apply_stats *stats)
{
    int rc = ac_step_run(rt->step, b->custs, b->ins, b->n_custs, &rt->clock, stats);
    if (rc != 0) {
        return rc;
    }
    ac_metrics_observe("aftercare_redis_rtt_seconds", "", ac_store_last_rtt(rt->store));
    return 0;
}

static void batch_state_stats(struct rt_batch *b, const struct ac_apply_stats *stats)
{
    b->skipped_replayed = stats->replayed;
    b->skipped_duplicate = stats->duplicates;
    if (stats->seen_evicted > 0 || stats->wm_evicted > 0) {
        /* Bounds of the record reached: older duplicates could apply again. */
        ac_metrics_add("aftercare_dedupe_evicted_total", "what=\"event_id\"",
                       (double)stats->seen_evicted);
        ac_metrics_add("aftercare_dedupe_evicted_total", "what=\"watermark\"",
                       (double)stats->wm_evicted);
    }
}

/* --- delivery -------------------------------------------------------------------------------- */

static void batch_dl_reset(struct rt_delivery *dl)
{
    dl->sent = dl->sent_actions = dl->sent_signals = 0;
    dl->dr_ok = dl->dr_fail = dl->dr_refused = 0;
    ac_outbox_refused_fini(&dl->refused);
}

/* Every record handed to the producer has its report. */
static int batch_dl_complete(const struct rt_delivery *dl)
{
    return dl->dr_ok + dl->dr_fail + dl->dr_refused >= dl->sent;
}

/* Records produced from now on count toward dl. */
static void batch_dl_use(struct runtime *rt, struct rt_delivery *dl)
{
    rt->dl = dl;
    ac_outbox_set_msg_opaque(dl);
}

static void batch_dr(struct runtime *rt, const rd_kafka_message_t *m)
{
    struct rt_delivery *dl = m->_private ? m->_private : rt->tick_dl;
    if (m->err && ac_outbox_refused_note(&dl->refused, m)) {
        dl->dr_refused++; /* its DLQ copy goes instead (batch_delivered) */
        return;
    }
    if (m->err) {
        dl->dr_fail++;
        AC_WARN("delivery failed topic=%s: %s", rd_kafka_topic_name(m->rkt),
                rd_kafka_err2str(m->err));
    } else {
        dl->dr_ok++;
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
        rt->dl->sent++;
        rt->dl->sent_actions += rec->kind == 'a';
        rt->dl->sent_signals += rec->kind == 's';
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

/* The undecodable messages of b to the DLQ. */
static int batch_produce_dlq(struct runtime *rt, struct rt_batch *b)
{
    for (size_t i = 0; i < b->n_dlq; i++) {
        int rc = ac_outbox_produce_dlq(rt->producer, rt->topic_dlq, rt->topic_in,
                                       b->msgs[b->dlq[i].msg], b->dlq[i].reason);
        if (rc != 0) {
            return rc;
        }
        rt->dl->sent++;
    }
    return 0;
}

/* Waits for every delivery report of dl. While another batch's records are
 * in flight too, only dl's are waited for (polling); otherwise the
 * producer is flushed, which sends at once whatever lingers. The records the
 * broker refused for good go to the DLQ, and are waited for in turn. */
static int batch_delivered(struct runtime *rt, struct rt_delivery *dl, int others_in_flight)
{
    int64_t give_up = -1;
    batch_dl_use(rt, dl);
    for (;;) {
        while (!batch_dl_complete(dl)) {
            if (others_in_flight) {
                rd_kafka_poll(rt->producer, 10);
            } else {
                rd_kafka_flush(rt->producer, 10);
            }
            if (*rt->stop) {
                int64_t now = ac_clock_mono_ms();
                give_up = give_up < 0 ? now + 1000 : give_up;
                if (now >= give_up && !batch_dl_complete(dl)) {
                    AC_WARN("stopping with %ld records unconfirmed; they stay in the outbox",
                            dl->sent - dl->dr_ok - dl->dr_fail - dl->dr_refused);
                    return AC_ERR_TRANSIENT;
                }
            }
        }
        if (dl->refused.n == 0) {
            break;
        }
        /* Records the broker refused for good: their DLQ copies instead. */
        int rc = ac_outbox_refused_send(&dl->refused, rt->producer, rt->topic_dlq, &dl->sent);
        if (rc != 0) {
            return rc;
        }
    }
    if (dl->dr_fail > 0 || dl->dr_ok + dl->dr_refused < dl->sent) {
        AC_WARN("batch delivery incomplete ok=%ld failed=%ld sent=%ld; retrying", dl->dr_ok,
                dl->dr_fail, dl->sent);
        ac_metrics_add("aftercare_produce_retries_total", "", 1);
        return AC_ERR_TRANSIENT;
    }
    return 0;
}

/* --- timer rounds (ac_tick_*) --------------------------------------------------------------- */

/* A tick's delivery starts: its counters, zeroed once. Of the two, the
 * one not holding the round in flight. */
static void batch_tick_open(struct runtime *rt)
{
    if (rt->tick_open) {
        return;
    }
    rt->tick_open = 1;
    if (rt->tick_dl == rt->tick_flying) {
        rt->tick_dl = rt->tick_dl == &rt->tick_dls[0] ? &rt->tick_dls[1] : &rt->tick_dls[0];
    }
    /* a round that failed may have records still in flight: their reports
     * would count as this round's */
    while (!batch_dl_complete(rt->tick_dl) && rd_kafka_outq_len(rt->producer) > 0 && !*rt->stop) {
        rd_kafka_flush(rt->producer, 100);
    }
    batch_dl_reset(rt->tick_dl);
    batch_dl_use(rt, rt->tick_dl);
}

void ac_tick_begin(struct ac_tick *t)
{
    struct runtime *rt = t->rt;
    rt->tick_open = 0; /* what a failed round produced counts no more */
}

/* Waits for dl's reports, then acknowledges custs (their calls leave the
 * outbox); others_in_flight: records of another round are on their way
 * (poll, do not flush them too). */
static int batch_tick_ack(struct runtime *rt, struct rt_delivery *dl, struct ac_store_cust *custs,
                          size_t n, int others_in_flight)
{
    int rc = batch_delivered(rt, dl, others_in_flight);
    batch_dl_use(rt, rt->tick_dl); /* new records count toward the round being built */
    if (rc == 0) {
        rc = ac_store_ack(rt->store, custs, n, rt->group, rt->proc->topic, NULL, NULL, 0);
    }
    if (rc == 0) {
        ac_metrics_add("aftercare_records_out_total", "topic=\"actions\"",
                       (double)dl->sent_actions);
        ac_metrics_add("aftercare_records_out_total", "topic=\"signals\"",
                       (double)dl->sent_signals);
    }
    return rc;
}

void rt_tick_forget(struct runtime *rt)
{
    rt->tick_flying = NULL; /* its calls stay in the outbox: the sweep's */
    rt->tick_custs = NULL;
    rt->tick_n = 0;
}

/* Finishes the round in flight, if any: 1 when one was, 0 when none, or an
 * error (the round is then the sweep's). others_in_flight: another round's
 * records are on their way too (batch_delivered polls, not flushes). */
static int batch_tick_finish_flying(struct runtime *rt, int others_in_flight)
{
    if (!rt->tick_flying) {
        return 0;
    }
    struct rt_delivery *dl = rt->tick_flying;
    struct ac_store_cust *custs = rt->tick_custs;
    size_t n = rt->tick_n;
    rt_tick_forget(rt);
    int rc = batch_tick_ack(rt, dl, custs, n, others_in_flight);
    return rc != 0 ? rc : 1;
}

int ac_tick_finish(struct ac_tick *t)
{
    return batch_tick_finish_flying(t->rt, 0);
}

/* Hands the round's records to the producer. */
static int batch_tick_produce_all(struct runtime *rt, struct ac_store_cust *custs, size_t n)
{
    for (size_t c = 0; c < n; c++) {
        int rc = custs[c].produced ? 0 : batch_produce_pending(rt, &custs[c]);
        if (rc != 0) {
            return rc;
        }
        custs[c].produced = 1;
    }
    return 0;
}

int ac_tick_deliver(struct ac_tick *t, struct ac_store_cust *custs, size_t n, int swept)
{
    struct runtime *rt = t->rt;
    int rc = batch_tick_finish_flying(rt, 0);
    if (rc < 0) {
        return rc;
    }
    batch_tick_open(rt);
    rt->tick_open = 0; /* whatever the outcome, the next tick starts afresh */
    rc = batch_tick_produce_all(rt, custs, n);
    if (rc == 0 && swept) {
        rc = batch_produce_swept(rt);
    }
    return rc != 0 ? rc : batch_tick_ack(rt, rt->tick_dl, custs, n, 0);
}

int ac_tick_deliver_later(struct ac_tick *t, struct ac_store_cust *custs, size_t n)
{
    struct runtime *rt = t->rt;
    batch_tick_open(rt);
    rt->tick_open = 0;
    int rc = batch_tick_produce_all(rt, custs, n);
    if (rc != 0) {
        return rc;
    }
    /* the round before, in flight since the last call: its reports have
     * had this round's time to come in */
    int finished = batch_tick_finish_flying(rt, 1);
    if (finished < 0) {
        return finished; /* this round's records are out; its calls wait for the sweep */
    }
    rt->tick_flying = rt->tick_dl;
    rt->tick_custs = custs;
    rt->tick_n = n;
    return finished;
}

/* --- positions, event time, offsets, metrics ------------------------------------------------ */

/* Next offsets per partition of the batch (highest offset + 1). */
static size_t batch_positions(const struct rt_batch *b, int32_t *parts, int64_t *offs, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n_msgs; i++) {
        const rd_kafka_message_t *m = b->msgs[i];
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
static void batch_event_time(struct runtime *rt, const struct rt_batch *b)
{
    const int32_t *parts = b->pos_parts;
    const int64_t *offs = b->pos_offs;
    size_t n = b->n_pos;
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
        for (size_t i = 0; i < b->n_msgs; i++) {
            if (b->ev_ok[i] && b->msgs[i]->partition == parts[k] &&
                b->events[i].occurred_at > times[k]) {
                times[k] = b->events[i].occurred_at < now ? b->events[i].occurred_at : now;
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

static void batch_commit_offsets(struct runtime *rt, const struct rt_batch *b)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)b->n_pos);
    for (size_t i = 0; i < b->n_pos; i++) {
        rd_kafka_topic_partition_list_add(l, rt->topic_in, b->pos_parts[i])->offset =
            b->pos_offs[i];
    }
    rd_kafka_resp_err_t err = rd_kafka_commit(rt->consumer, l, 1);
    if (err) {
        /* Redis holds the position; Kafka's commit is for lag monitoring. */
        AC_WARN("offset commit failed: %s", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* delivered: when the batch's records were confirmed by Kafka (ac_clock_mono_s). */
static void batch_metrics(struct runtime *rt, const struct rt_batch *b, double delivered)
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
    for (size_t i = 0; i < b->n_msgs; i++) {
        if (!b->ev_ok[i]) {
            continue;
        }
        int k = b->events[i].type_index;
        if (k >= 0 && k < BATCH_TYPES) {
            if (by_type[k]++ == 0) {
                first_of[k] = i;
            }
            continue;
        }
        snprintf(label, sizeof(label), "topic=\"%s\",type=\"%s\"", rt->topic_in, b->events[i].type);
        batch_tally(types, &n_types, label);
    }
    for (int k = 0; k < BATCH_TYPES; k++) {
        if (by_type[k] > 0) {
            snprintf(label, sizeof(label), "topic=\"%s\",type=\"%s\"", rt->topic_in,
                     b->events[first_of[k]].type);
            ac_metrics_add("aftercare_events_in_total", label, (double)by_type[k]);
        }
    }
    for (int i = 0; i < n_types; i++) {
        ac_metrics_add("aftercare_events_in_total", types[i].label, (double)types[i].n);
    }
    for (int i = 0; i < b->n_rules; i++) {
        ac_metrics_add("aftercare_actions_out_total", b->rules[i].label, (double)b->rules[i].n);
    }
    for (int i = 0; i < b->n_decisions; i++) {
        ac_metrics_add("aftercare_decisions_total", b->decisions[i].label,
                       (double)b->decisions[i].n);
    }
    if (b->tz_fallbacks > 0) {
        ac_metrics_add("aftercare_timezone_fallbacks_total", "reason=\"invalid\"",
                       (double)b->tz_fallbacks);
    }
    if (b->tz_missing > 0) {
        ac_metrics_add("aftercare_timezone_fallbacks_total", "reason=\"missing\"",
                       (double)b->tz_missing);
    }
    if (b->decisions_lost > 0) {
        AC_WARN("decisions past the per-event limit were not audited count=%ld", b->decisions_lost);
        ac_metrics_add("aftercare_decisions_unaudited_total", "", (double)b->decisions_lost);
    }
    if (b->skipped_replayed > 0) {
        snprintf(label, sizeof(label), "topic=\"%s\",reason=\"replayed\"", rt->topic_in);
        ac_metrics_add("aftercare_events_skipped_total", label, (double)b->skipped_replayed);
    }
    if (b->skipped_duplicate > 0) {
        snprintf(label, sizeof(label), "topic=\"%s\",reason=\"duplicate_event_id\"", rt->topic_in);
        ac_metrics_add("aftercare_events_skipped_total", label, (double)b->skipped_duplicate);
    }
    /* Ours: read from Kafka -> the batch's records confirmed, for every
     * message. Not ours: event time -> read (upstream delay, replays), for
     * every decoded event; a clock ahead of ours counts as 0. */
    for (size_t i = 0; i < b->n_msgs; i++) {
        rt->obs[n_obs++] = delivered - b->read_at[i];
    }
    ac_metrics_observe_many("aftercare_processing_latency_seconds", "", rt->obs, n_obs);
    n_obs = 0;
    for (size_t i = 0; i < b->n_msgs; i++) {
        if (b->ev_ok[i]) {
            double age = (double)(now - b->events[i].occurred_at) / 1000.0 - (mono - b->read_at[i]);
            rt->obs[n_obs++] = age > 0 ? age : 0;
        }
    }
    ac_metrics_observe_many("aftercare_event_age_seconds", "", rt->obs, n_obs);
    ac_metrics_add("aftercare_records_out_total", "topic=\"actions\"", (double)b->dl.sent_actions);
    ac_metrics_add("aftercare_records_out_total", "topic=\"signals\"", (double)b->dl.sent_signals);
    ac_metrics_observe("aftercare_batch_duration_seconds", "", ac_clock_mono_s() - b->started);
    ac_metrics_add("aftercare_batches_total", "", 1);
}

/* --- one batch ------------------------------------------------------------------------------ */

void rt_batch_release(struct rt_batch *b)
{
    for (size_t i = 0; i < b->n_msgs; i++) {
        rd_kafka_message_destroy(b->msgs[i]);
    }
    /* the customer slots keep their memory for the next batch (rt_batch_free) */
    b->n_msgs = 0;
    b->n_custs = 0;
}

/* The state work of b (load, apply, commit; its records handed to the
 * producer as each part commits), the records of an earlier commit if
 * events were replayed, and its undecodable messages to the DLQ. */
static int batch_attempt(struct runtime *rt, struct rt_batch *b)
{
    struct ac_apply_stats stats;
    uint64_t seq0 = ac_store_call_seq(rt->store);
    memset(&stats, 0, sizeof(stats));
    b->n_rules = b->n_decisions = 0;
    b->tz_fallbacks = b->tz_missing = b->decisions_lost = 0;
    b->recovered = 0;
    ac_buf_reset(&b->replayed.list);
    b->replayed.n = 0;
    batch_dl_reset(&b->dl);
    batch_dl_use(rt, &b->dl);
    rt->cur = b;
    double ts = ac_clock_mono_s();
    int rc = batch_state(rt, b, &stats);
    b->state_at = ac_clock_mono_s();
    if (rc == 0) {
        batch_state_stats(b, &stats);
        ac_metrics_observe("aftercare_batch_phase_seconds", "phase=\"state\"", b->state_at - ts);
    }
    if (rc == 0 && stats.replayed > 0) {
        /* redelivered events: what their first processing committed may
         * not have reached Kafka (a crash between commit and delivery) */
        rc = ac_store_outbox_replayed(rt->store, b->custs, b->n_custs, seq0);
        b->recovered = rc > 0 ? rc : 0;
        rc = rc > 0 ? batch_produce_swept(rt) : rc;
        /* the calls stay with this batch: a replay of the next batch (or a
         * redo of the one in flight) finds its own in the store */
        ac_store_swept_calls_swap(rt->store, &b->replayed);
    }
    if (rc == 0) {
        rc = batch_produce_dlq(rt, b);
    }
    if (rc == 0) {
        b->n_pos = batch_positions(b, b->pos_parts, b->pos_offs, (size_t)rt->batch_size);
    }
    return rc;
}

/* The end of b, once its state work is done: its delivery reports, the
 * acknowledgement of its outbox and positions, its offsets and metrics. */
static int batch_finish(struct runtime *rt, struct rt_batch *b, int others_in_flight)
{
    double t0 = ac_clock_mono_s();
    int rc = batch_delivered(rt, &b->dl, others_in_flight);
    double t1 = ac_clock_mono_s();
    if (rc == 0) {
        rc = ac_store_ack(rt->store, b->custs, b->n_custs, rt->group, rt->proc->topic, b->pos_parts,
                          b->pos_offs, b->n_pos);
    }
    if (rc == 0 && b->recovered) {
        ac_store_swept_calls_swap(rt->store, &b->replayed); /* back, to be dropped */
        rc = ac_store_outbox_done(rt->store, NULL, 0);
        AC_INFO("records of an earlier commit delivered again after a replay records=%d",
                b->recovered);
    }
    if (rc != 0) {
        return rc;
    }
    /* produce: from the end of the state work (the other batch's state
     * work, when this one was in flight, is not counted) */
    ac_metrics_observe("aftercare_batch_phase_seconds", "phase=\"produce\"", t1 - t0);
    ac_metrics_observe("aftercare_batch_phase_seconds", "phase=\"ack\"", ac_clock_mono_s() - t1);
    batch_commit_offsets(rt, b);
    batch_event_time(rt, b);
    batch_metrics(rt, b, t1);
    return 0;
}

/* After a failure (rc), until b is done: recovers Redis, then runs the whole
 * batch again — its events now replayed, so what their first run committed
 * is delivered again under the same ids — and finishes it. */
static int batch_redo(struct runtime *rt, struct rt_batch *b, int rc)
{
    int backoff = 0;
    for (;;) {
        if (rc == AC_ERR_FATAL || rc == AC_ERR_NOMEM || rc == AC_ERR_INVALID) {
            /* INVALID: a record that can never be encoded or produced as it is:
             * stop with the error logged rather than retry the batch for ever */
            rt->fatal = 1;
            return rc;
        }
        if ((rc = rt_redis_recover(rt, &backoff)) != 0) {
            return rc;
        }
        /* the reports of the failed attempt's records first: they would count
         * as this attempt's */
        while (rd_kafka_outq_len(rt->producer) > 0 && !*rt->stop) {
            rd_kafka_flush(rt->producer, 100);
        }
        rc = batch_attempt(rt, b);
        if (rc == 0) {
            rc = batch_finish(rt, b, 0);
        }
        if (rc == 0) {
            return 0;
        }
    }
}

/* Finishes the batch in flight (redoing it on a failure) and releases it. */
static int batch_finish_inflight(struct runtime *rt, int others_in_flight)
{
    struct rt_batch *b = rt->inflight;
    if (!b) {
        return 0;
    }
    int rc = batch_finish(rt, b, others_in_flight);
    if (rc != 0) {
        AC_WARN("the batch in flight did not finish (%s); doing it again messages=%zu",
                ac_err_str(rc), b->n_msgs);
        rc = batch_redo(rt, b, rc);
    }
    rt_batch_release(b);
    rt->inflight = NULL;
    return rc;
}

int rt_batch_drain(struct runtime *rt)
{
    return batch_finish_inflight(rt, 0);
}

int rt_batch_process(struct runtime *rt, int finish_now)
{
    struct rt_batch *b = rt->b;
    if (b->n_msgs == 0) {
        return finish_now ? rt_batch_drain(rt) : 0;
    }
    b->started = ac_clock_mono_s();
    batch_decode(rt, b);
    int rc = batch_attempt(rt, b);
    /* the previous batch's records had this batch's state work to arrive */
    int prc = batch_finish_inflight(rt, rc == 0 ? b->dl.sent > 0 : 0);
    if (prc != 0) {
        /* it stopped or failed for good: this batch is not finished either
         * (what it committed is delivered when its events come again) */
        rt_batch_release(b);
        return prc;
    }
    if (rc == 0 && !finish_now) {
        rt->inflight = b;
        rt->b = b == &rt->batches[0] ? &rt->batches[1] : &rt->batches[0];
        return 0;
    }
    if (rc == 0) {
        rc = batch_finish(rt, b, 0);
    }
    if (rc != 0) {
        rc = batch_redo(rt, b, rc);
    }
    rt_batch_release(b);
    return rc;
}

int rt_batch_alloc(struct rt_batch *b, size_t n)
{
    memset(b, 0, sizeof(*b));
    b->msgs = calloc(n, sizeof(*b->msgs));
    b->read_at = calloc(n, sizeof(*b->read_at));
    b->events = calloc(n, sizeof(*b->events));
    b->ev_ok = calloc(n, sizeof(int));
    b->ev_next = calloc(n, sizeof(int));
    b->custs = calloc(n, sizeof(*b->custs));
    b->cust_first = calloc(n, sizeof(int));
    b->ins = calloc(n, sizeof(*b->ins));
    b->apply_in = calloc(n, sizeof(*b->apply_in));
    b->dlq = calloc(n, sizeof(*b->dlq));
    b->pos_parts = calloc(n, sizeof(*b->pos_parts));
    b->pos_offs = calloc(n, sizeof(*b->pos_offs));
    ac_outbox_refused_init(&b->dl.refused);
    ac_buf_init(&b->replayed.list);
    return b->msgs && b->read_at && b->events && b->ev_ok && b->ev_next && b->custs &&
                   b->cust_first && b->ins && b->apply_in && b->dlq && b->pos_parts && b->pos_offs
               ? 0
               : AC_ERR_NOMEM;
}

void rt_batch_free(struct rt_batch *b, size_t n)
{
    rt_batch_release(b);
    free(b->msgs);
    free(b->read_at);
    free(b->events);
    free(b->ev_ok);
    free(b->ev_next);
    for (size_t c = 0; b->custs && c < n; c++) {
        ac_store_cust_fini(&b->custs[c]);
    }
    free(b->custs);
    free(b->cust_first);
    free(b->ins);
    free(b->apply_in);
    free(b->dlq);
    free(b->pos_parts);
    free(b->pos_offs);
    ac_outbox_refused_fini(&b->dl.refused);
    ac_buf_fini(&b->replayed.list);
    memset(b, 0, sizeof(*b));
}
