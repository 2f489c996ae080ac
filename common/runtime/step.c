/* step.c — load → apply → commit, the one copy (step.h). */
#include "step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "decision_rec.h"
#include "err.h"
#include "log.h"
#include "metrics.h"

struct ac_step {
    struct ac_step_opts o;
    struct ac_apply *ap;
    struct ac_buf enc;
    struct ac_store_cust *cur;    /* the customer the hooks write to */
    struct ac_apply_stats *stats; /* [cap]: per customer, of the last attempt */
    struct ac_decision_rec drec;
    size_t cap;
    struct ac_store_ticket tickets[2]; /* the commits in flight */
};

struct ac_step *ac_step_new(const struct ac_step_opts *opts)
{
    struct ac_step *s = calloc(1, sizeof(*s));
    if (!s) {
        return NULL;
    }
    s->o = *opts;
    s->ap = ac_apply_new();
    ac_buf_init(&s->enc);
    if (!s->ap) {
        ac_step_destroy(s);
        return NULL;
    }
    return s;
}

void ac_step_destroy(struct ac_step *s)
{
    if (!s) {
        return;
    }
    ac_apply_destroy(s->ap);
    ac_buf_fini(&s->enc);
    free(s->stats);
    ac_store_ticket_fini(&s->tickets[0]);
    ac_store_ticket_fini(&s->tickets[1]);
    free(s);
}

void ac_step_set_engine(struct ac_step *s, struct ac_engine *en)
{
    s->o.engine = en;
}

void ac_step_decision_id(char out[AC_ACTION_ID_MAX], const struct ac_decision *d)
{
    /* "<action id>|<reason>|<at>|<not_before>" */
    char key[AC_ACTION_ID_MAX + sizeof(d->reason) + 64];
    char *p = key;
    p += ac_str_copy(p, AC_ACTION_ID_MAX, d->action_id);
    *p++ = '|';
    p += ac_str_copy(p, sizeof(d->reason), d->reason);
    *p++ = '|';
    p += ac_i64_dec(p, (long long)d->at);
    *p++ = '|';
    p += ac_i64_dec(p, (long long)d->not_before);
    *p = '\0';
    ac_action_id(out, d->decision, key, d->part);
}

/* The decisions of one change as one record of aftercare.decisions. The
 * signal values that decided a decision are those its action carries, when
 * it emitted one. The record's id (its aftercare_id header) is the first
 * decision's id. */
static int step_out_decisions(struct ac_step *s, struct ac_store_cust *sc,
                              const struct ac_emit *out)
{
    struct ac_decision_rec *r = &s->drec;
    char first[AC_ACTION_ID_MAX] = "";
    ac_buf_reset(&s->enc);
    int rc = ac_codec_decisions_begin(&s->enc, sc->customer_id, out->n_decisions);
    for (int i = 0; i < out->n_decisions && rc == 0; i++) {
        const struct ac_decision *d = &out->decisions[i];
        r->n_signals = 0;
        ac_step_decision_id(r->decision_id, d);
        ac_str_copy(r->rule_id, sizeof(r->rule_id), d->rule_id);
        r->part = d->part;
        ac_str_copy(r->action_id, sizeof(r->action_id), d->action_id);
        ac_str_copy(r->decision, sizeof(r->decision), d->decision);
        ac_str_copy(r->reason, sizeof(r->reason), d->reason);
        ac_str_copy(r->trigger_event_id, sizeof(r->trigger_event_id), d->trigger_id);
        ac_str_copy(r->trigger_type, sizeof(r->trigger_type), d->trigger_type);
        ac_str_copy(r->channel, sizeof(r->channel), d->channel);
        ac_str_copy(r->template_name, sizeof(r->template_name), d->template_name);
        ac_str_copy(r->experiment, sizeof(r->experiment), d->experiment);
        ac_str_copy(r->variant, sizeof(r->variant), d->variant);
        r->not_before = d->not_before ? d->not_before : AC_TS_NONE;
        r->due = d->due ? d->due : AC_TS_NONE;
        r->decided_at = d->at;
        for (int k = 0; k < out->n_actions; k++) {
            const struct ac_action *a = &out->actions[k];
            if (strcmp(a->action_id, d->action_id) != 0) {
                continue;
            }
            for (int j = 0; j < a->n_signals && j < AC_DECISION_REC_SIGNALS_MAX; j++) {
                r->signals[r->n_signals++] = a->signals[j];
            }
            break;
        }
        if (i == 0) {
            ac_str_copy(first, sizeof(first), r->decision_id);
        }
        rc = ac_codec_decisions_add(&s->enc, r);
    }
    if (rc == 0) {
        rc = ac_codec_decisions_end(&s->enc);
    }
    return rc ? rc : ac_store_cust_add_out(sc, first, 'c', s->enc.data, s->enc.len);
}

static int step_emitted(void *opaque, const struct ac_apply_in *in, const struct ac_emit *out)
{
    struct ac_step *s = opaque;
    struct ac_store_cust *sc = s->cur;
    int rc = 0;
    (void)in;
    for (int k = 0; s->o.codec && k < out->n_actions && rc == 0; k++) {
        ac_buf_reset(&s->enc);
        rc = ac_codec_encode_action(s->o.codec, &out->actions[k], &s->enc);
        if (rc == 0) {
            rc = ac_store_cust_add_out(sc, out->actions[k].action_id, 'a', s->enc.data, s->enc.len);
        }
    }
    for (int k = 0; s->o.codec && k < out->n_signals && rc == 0; k++) {
        ac_buf_reset(&s->enc);
        rc = ac_codec_encode_signal(s->o.codec, &out->signals[k], &s->enc);
        if (rc == 0) {
            rc = ac_store_cust_add_out(sc, out->signals[k].signal_id, 's', s->enc.data, s->enc.len);
        }
    }
    if (s->o.codec && out->n_decisions > 0 && rc == 0) {
        rc = step_out_decisions(s, sc, out);
    }
    return rc ? rc : ac_store_cust_add_emit(sc, out);
}

static int step_rejected(void *opaque, const struct ac_apply_in *in, const char *reason)
{
    struct ac_step *s = opaque;
    return s->o.rejected ? s->o.rejected(s->o.opaque, s->cur, in, reason) : 0;
}

static void step_add_stats(struct ac_apply_stats *to, const struct ac_apply_stats *from)
{
    to->applied += from->applied;
    to->replayed += from->replayed;
    to->duplicates += from->duplicates;
    to->rejected += from->rejected;
    to->fired += from->fired;
    to->seen_evicted += from->seen_evicted;
    to->wm_evicted += from->wm_evicted;
}

/* Applies one loaded customer; marks it dirty if its record changed. */
static int step_apply(struct ac_step *s, struct ac_store_cust *sc, const struct ac_step_in *in,
                      const struct ac_clock *clock, struct ac_apply_stats *st)
{
    const struct ac_apply_hooks hooks = {step_emitted, step_rejected, s};
    if (sc->exists < 0) {
        AC_ERROR("customer=%s has a record this version cannot read; refusing to overwrite it",
                 sc->customer_id);
        return AC_ERR_FATAL;
    }
    memset(st, 0, sizeof(*st));
    s->cur = sc;
    int rc = ac_apply_customer(s->ap, &sc->rec, s->o.topic, s->o.transition, s->o.ctx, in->in,
                               in->n, s->o.engine,
                               !in->fire_due   ? AC_TS_NONE
                               : in->fire_upto ? in->fire_upto
                                               : INT64_MAX,
                               clock, &hooks, st);
    s->cur = NULL;
    if (rc < 0) {
        AC_ERROR("cannot apply customer=%s: %s", sc->customer_id, ac_err_str(rc));
        return rc == AC_ERR_NOMEM ? rc : AC_ERR_FATAL;
    }
    /* A due entry that no longer matches the record (the timer was fired or
     * moved by a writer that did not know the entry) is corrected. */
    int stale =
        in->fire_due && sc->index_due != AC_TS_NONE && sc->index_due != ac_store_next_due(&sc->rec);
    sc->dirty = rc == 1 || sc->legacy || stale;
    sc->replayed = st->replayed > 0;
    return 0;
}

/* A customer whose commit held (or who had nothing to commit). */
static int step_done(struct ac_step *s, struct ac_store_cust *sc, const struct ac_apply_stats *st,
                     struct ac_apply_stats *stats)
{
    sc->done = 1;
    if (stats) {
        step_add_stats(stats, st);
    }
    return s->o.committed ? s->o.committed(s->o.opaque, sc) : 0;
}

/* Reads part [from, to)'s commit replies and finishes its customers: those
 * in conflict, and those of the previous layout (not loaded yet), stay
 * undone for the serial rounds. */
static int step_part_done(struct ac_step *s, struct ac_store_cust *custs, size_t from, size_t to,
                          const struct ac_store_ticket *t, struct ac_apply_stats *stats)
{
    int rc = ac_store_commit_recv(s->o.st, custs + from, to - from, t);
    for (size_t i = from; rc == 0 && i < to; i++) {
        struct ac_store_cust *sc = &custs[i];
        if (sc->legacy || (sc->dirty && sc->status == AC_ERR_CONFLICT)) {
            continue;
        }
        rc = step_done(s, sc, &s->stats[i], stats);
    }
    return rc;
}

/* The first round: parts of AC_STEP_PART customers, two loads ahead and one
 * commit behind. Commands go out in the order L0 L1 C0 L2 C1 L3 ... and
 * replies are read in that order: part k's load is read, the part applied,
 * its commit and part k+2's load sent, and then part k-1's commit read —
 * Redis works on one part while this process applies the next. Each load is
 * watched and its commit optimistic (store.h): part k goes on the store's
 * lane k % 2, so no other part's EXEC comes between a part's load and its
 * commit on one connection. */
static int step_pipelined(struct ac_step *s, struct ac_store_cust *custs,
                          const struct ac_step_in *ins, size_t n, const struct ac_clock *clock,
                          struct ac_apply_stats *stats)
{
    struct ac_store *st = s->o.st;
    size_t np = (n + AC_STEP_PART - 1) / AC_STEP_PART;
#define STEP_FROM(k) ((k)*AC_STEP_PART)
#define STEP_TO(k) ((k)*AC_STEP_PART + AC_STEP_PART < n ? (k)*AC_STEP_PART + AC_STEP_PART : n)
#define STEP_PART_ARGS(k) custs + STEP_FROM(k), STEP_TO(k) - STEP_FROM(k)
#define STEP_LANE(k) ac_store_lane(st, (int)((k) % 2))
    STEP_LANE(0);
    int rc = ac_store_load_send_watch(st, STEP_PART_ARGS(0));
    if (rc == 0) {
        rc = ac_store_flush(st);
    }
    if (rc == 0 && np > 1) {
        STEP_LANE(1);
        rc = ac_store_load_send_watch(st, STEP_PART_ARGS(1));
        if (rc == 0) {
            rc = ac_store_flush(st);
        }
    }
    for (size_t k = 0; rc == 0 && k < np; k++) {
        STEP_LANE(k);
        rc = ac_store_load_recv(st, STEP_PART_ARGS(k), 0);
        for (size_t i = STEP_FROM(k); rc == 0 && i < STEP_TO(k); i++) {
            if (custs[i].legacy) {
                custs[i].dirty = 0; /* read on its own in the serial rounds */
                continue;
            }
            rc = step_apply(s, &custs[i], &ins[i], clock, &s->stats[i]);
        }
        if (rc == 0) {
            rc = ac_store_commit_send(st, STEP_PART_ARGS(k), &s->tickets[k % 2]);
        }
        if (rc == 0 && k + 2 < np) {
            rc = ac_store_load_send_watch(st, STEP_PART_ARGS(k + 2));
        }
        if (rc == 0) {
            rc = ac_store_flush(st);
        }
        if (rc == 0 && k > 0) {
            STEP_LANE(k - 1);
            rc = step_part_done(s, custs, STEP_FROM(k - 1), STEP_TO(k - 1),
                                &s->tickets[(k - 1) % 2], stats);
        }
    }
    if (rc == 0) {
        STEP_LANE(np - 1);
        rc = step_part_done(s, custs, STEP_FROM(np - 1), STEP_TO(np - 1), &s->tickets[(np - 1) % 2],
                            stats);
    }
    STEP_LANE(0);
#undef STEP_LANE
#undef STEP_PART_ARGS
#undef STEP_TO
#undef STEP_FROM
    if (rc != 0) {
        /* commands may be in flight or unsent, whatever the error (out of
         * memory too): their replies would answer later commands */
        ac_store_drop(st);
    }
    return rc;
}

int ac_step_run(struct ac_step *s, struct ac_store_cust *custs, const struct ac_step_in *ins,
                size_t n, const struct ac_clock *clock, struct ac_apply_stats *stats)
{
    if (n > s->cap) {
        struct ac_apply_stats *p = realloc(s->stats, n * sizeof(*p));
        if (!p) {
            return AC_ERR_NOMEM;
        }
        s->stats = p;
        s->cap = n;
    }
    if (n == 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        custs[i].done = 0;
        ac_store_cust_reset(&custs[i]);
    }
    int rc = step_pipelined(s, custs, ins, n, clock, stats);
    if (rc != 0) {
        return rc;
    }
    /* Then, one pipeline at a time, what is left: conflicts (another writer
     * committed since the load: re-read and re-apply) and customers of the
     * previous layout. */
    for (int attempt = 1;; attempt++) {
        size_t left = 0, conflicts = 0;
        for (size_t i = 0; i < n; i++) {
            if (!custs[i].done) {
                conflicts += custs[i].dirty && custs[i].status == AC_ERR_CONFLICT;
                ac_store_cust_reset(&custs[i]);
                left++;
            }
        }
        if (conflicts > 0) {
            ac_metrics_add("aftercare_commit_conflicts_total", "", (double)conflicts);
        }
        if (left == 0) {
            return 0;
        }
        AC_DEBUG("customers left=%zu attempt=%d; re-reading", left, attempt);
        if ((rc = ac_store_load(s->o.st, custs, n)) != 0) {
            return rc;
        }
        for (size_t i = 0; i < n; i++) {
            if (!custs[i].done && (rc = step_apply(s, &custs[i], &ins[i], clock, &s->stats[i]))) {
                return rc;
            }
        }
        if ((rc = ac_store_commit(s->o.st, custs, n)) != 0) {
            return rc;
        }
        for (size_t i = 0; i < n; i++) {
            struct ac_store_cust *sc = &custs[i];
            if (sc->done || (sc->dirty && sc->status == AC_ERR_CONFLICT)) {
                continue;
            }
            if ((rc = step_done(s, sc, &s->stats[i], stats)) != 0) {
                return rc;
            }
        }
    }
}
