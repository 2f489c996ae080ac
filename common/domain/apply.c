/* apply.c — the one apply path (apply.h). */
#include "apply.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

struct ac_apply {
    struct ac_emit emit;
};

struct ac_apply *ac_apply_new(void)
{
    return calloc(1, sizeof(struct ac_apply));
}

void ac_apply_destroy(struct ac_apply *ap)
{
    free(ap);
}

/* Outcomes go to the record's recent ring; "scheduled" is a plan. */
static void apply_remember(struct ac_record *rec, const struct ac_emit *out)
{
    for (int k = 0; k < out->n_decisions; k++) {
        if (strcmp(out->decisions[k].decision, "scheduled") != 0) {
            ac_record_recent_add(rec, &out->decisions[k]);
        }
    }
}

/* 1 if an event earlier in this call has the same id. */
static int apply_dup_in_call(const struct ac_apply_in *in, size_t i)
{
    for (size_t k = 0; k < i; k++) {
        if (strcmp(in[k].ev->event_id, in[i].ev->event_id) == 0) {
            return 1;
        }
    }
    return 0;
}

static int apply_event(struct ac_apply *ap, struct ac_record *rec, ac_transition_fn tr, void *ctx,
                       struct ac_engine *en, const struct ac_apply_in *in,
                       const struct ac_clock *clock, const struct ac_apply_hooks *hooks,
                       struct ac_apply_stats *st)
{
    char reason[128] = "";
    struct ac_customer before = rec->state;
    ac_emit_reset(&ap->emit);
    ap->emit.timers = &rec->timers;
    /* A transition validates before the engine runs (processor.h), so a
     * rejected event has changed the state at most: that is restored. */
    if (tr(ctx, &rec->state, in->ev, clock, &ap->emit, reason, sizeof(reason)) != 0) {
        rec->state = before;
        st->rejected++;
        return hooks->rejected ? hooks->rejected(hooks->opaque, in, reason) : 0;
    }
    /* The playbook's turn: cancellations, exits, the rules this event and its
     * signals trigger (the processor's transition decides nothing else). */
    if (en) {
        int rc =
            ac_engine_on_event(en, &rec->state, &before, in->ev, ac_clock_now(clock), &ap->emit);
        if (rc != 0) {
            return rc;
        }
    }
    st->applied++;
    apply_remember(rec, &ap->emit);
    return hooks->emitted ? hooks->emitted(hooks->opaque, in, &ap->emit) : 0;
}

static int apply_fire(struct ac_apply *ap, struct ac_record *rec, struct ac_engine *en,
                      int64_t upto, const struct ac_clock *clock,
                      const struct ac_apply_hooks *hooks, struct ac_apply_stats *st, int *changed)
{
    int64_t now = ac_clock_now(clock);
    upto = upto < now ? upto : now;
    for (int round = 0; round < 2 * AC_TIMERS_MAX; round++) {
        int removed = rec->timers.n_removed;
        ac_emit_reset(&ap->emit);
        ap->emit.timers = &rec->timers;
        int d = ac_engine_fire_upto(en, &rec->state, upto, now, &ap->emit);
        if (d < 0) {
            return d;
        }
        if (d == 0 && ap->emit.n_decisions == 0 && rec->timers.n_removed == removed) {
            return 0;
        }
        *changed = 1;
        st->fired += d;
        apply_remember(rec, &ap->emit);
        if (hooks->emitted) {
            int rc = hooks->emitted(hooks->opaque, NULL, &ap->emit);
            if (rc != 0) {
                return rc;
            }
        }
        if (d == 0) {
            return 0;
        }
    }
    return 0;
}

int ac_apply_customer(struct ac_apply *ap, struct ac_record *rec, int topic, ac_transition_fn tr,
                      void *ctx, const struct ac_apply_in *in, size_t n, struct ac_engine *en,
                      int64_t fire_upto, const struct ac_clock *clock,
                      const struct ac_apply_hooks *hooks, struct ac_apply_stats *stats)
{
    struct ac_apply_stats local;
    struct ac_apply_stats *st = stats ? stats : &local;
    int changed = 0, rc = 0;
    memset(&local, 0, sizeof(local));
    rec->seen_evicted = rec->wm_evicted = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ac_apply_in *e = &in[i];
        if (e->partition >= 0) {
            if (e->offset <= ac_record_watermark(rec, topic, e->partition)) {
                st->replayed++;
                continue;
            }
            ac_record_set_watermark(rec, topic, e->partition, e->offset);
        }
        changed = 1;
        if (ac_record_seen_has(rec, e->ev->event_id) || apply_dup_in_call(in, i)) {
            st->duplicates++;
            continue;
        }
        if ((rc = apply_event(ap, rec, tr, ctx, en, e, clock, hooks, st)) != 0) {
            return rc;
        }
        ac_record_seen_add(rec, e->ev->event_id, e->ev->occurred_at);
    }
    if (fire_upto != AC_TS_NONE && en &&
        (rc = apply_fire(ap, rec, en, fire_upto, clock, hooks, st, &changed)) != 0) {
        return rc;
    }
    st->seen_evicted += rec->seen_evicted;
    st->wm_evicted += rec->wm_evicted;
    return changed;
}
