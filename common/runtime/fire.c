/* fire.c — one round of firing due timers (see fire.h), on the step. */
#include "fire.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

struct ac_fire {
    struct ac_store *st;
    struct ac_engine *en;
    struct ac_codec *codec;
    size_t max;
    struct ac_store_cust *custs; /* [max] */
    struct ac_step_in *ins;      /* [max] */
    size_t n_custs;
    size_t *map; /* [2 * max] customer index + 1 by id hash; 0 = empty */
    ac_fire_decision_fn on_decision;
    ac_fire_signal_fn on_signal;
    void (*on_timer)(int64_t due, void *opaque);
    void *opaque;
    int64_t upto; /* the round's timers: due at or before it */
    int64_t now;  /* the step's time, for the reports */
    /* one step per kind of work, made once: [0] timer rounds, [1 + topic] a
     * processor's events (simulate) */
    struct ac_step *steps[1 + AC_TOPIC__N];
    void *step_ctx[1 + AC_TOPIC__N];
    int rejected; /* ac_fire_apply_event: the event was rejected */
    char reason[sizeof(((struct ac_decision *)0)->reason)];
};

struct ac_fire *ac_fire_new(struct ac_store *st, struct ac_engine *en, struct ac_codec *codec,
                            size_t max)
{
    struct ac_fire *f = calloc(1, sizeof(*f));
    if (!f) {
        return NULL;
    }
    f->st = st;
    f->en = en;
    f->codec = codec;
    f->max = max ? max : 1;
    f->custs = calloc(f->max, sizeof(*f->custs));
    f->ins = calloc(f->max, sizeof(*f->ins));
    f->map = calloc(2 * f->max, sizeof(*f->map));
    if (!f->custs || !f->ins || !f->map) {
        ac_fire_destroy(f);
        return NULL;
    }
    return f;
}

/* The customer slots keep their memory from round to round (destroy frees it). */
static void fire_release(struct ac_fire *f)
{
    f->n_custs = 0;
}

void ac_fire_destroy(struct ac_fire *f)
{
    if (!f) {
        return;
    }
    fire_release(f);
    for (size_t i = 0; f->custs && i < f->max; i++) {
        ac_store_cust_fini(&f->custs[i]);
    }
    for (int k = 0; k < 1 + AC_TOPIC__N; k++) {
        ac_step_destroy(f->steps[k]);
    }
    free(f->custs);
    free(f->ins);
    free(f->map);
    free(f);
}

void ac_fire_set_engine(struct ac_fire *f, struct ac_engine *en)
{
    f->en = en;
    for (int k = 0; k < 1 + AC_TOPIC__N; k++) {
        if (f->steps[k]) {
            ac_step_set_engine(f->steps[k], en);
        }
    }
}

void ac_fire_on_decision(struct ac_fire *f, ac_fire_decision_fn fn, void *opaque)
{
    f->on_decision = fn;
    f->opaque = opaque;
}

void ac_fire_on_signal(struct ac_fire *f, ac_fire_signal_fn fn)
{
    f->on_signal = fn;
}

void ac_fire_on_timer(struct ac_fire *f, void (*fn)(int64_t due, void *opaque))
{
    f->on_timer = fn;
}

static void fire_found(const char *customer_id, int64_t due, void *opaque)
{
    struct ac_fire *f = opaque;
    if (f->n_custs >= f->max) {
        return;
    }
    size_t size = 2 * f->max, h = ac_store_hash(customer_id) % size;
    for (; f->map[h]; h = (h + 1) % size) {
        if (strcmp(f->custs[f->map[h] - 1].customer_id, customer_id) == 0) {
            return; /* listed twice (the previous layout's members) */
        }
    }
    size_t c = f->n_custs++;
    ac_store_cust_rebind(&f->custs[c], customer_id);
    f->custs[c].index_due = due;
    f->ins[c] = (struct ac_step_in){NULL, 0, 1, f->upto};
    f->map[h] = c + 1;
}

/* Reports what the committed customers decided and scheduled. */
static void fire_report(struct ac_fire *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct ac_store_cust *sc = &f->custs[i];
        if (!sc->dirty) {
            continue;
        }
        for (int k = 0; f->on_signal && k < sc->n_sigs; k++) {
            f->on_signal(sc->customer_id, &sc->sigs[k], f->now, f->opaque);
        }
        for (int k = 0; f->on_decision && k < sc->n_decs; k++) {
            f->on_decision(sc->customer_id, &sc->decs[k], f->opaque);
        }
        for (int k = 0; f->on_timer && k < sc->rec.timers.n; k++) {
            if (sc->rec.timers.t[k].change == AC_TIMER_WRITE) {
                f->on_timer(sc->rec.timers.t[k].due, f->opaque);
            }
        }
    }
}

static int fire_rejected(void *opaque, struct ac_store_cust *sc, const struct ac_apply_in *in,
                         const char *reason)
{
    struct ac_fire *f = opaque;
    (void)sc;
    (void)in;
    f->rejected = 1;
    snprintf(f->reason, sizeof(f->reason), "%s", reason);
    return 0;
}

/* The step for proc's events (NULL: timer rounds), made on first use. */
static struct ac_step *fire_step_get(struct ac_fire *f, const struct ac_processor *proc, void *ctx)
{
    int k = proc ? 1 + (int)proc->topic : 0;
    if (f->steps[k] && f->step_ctx[k] == ctx) {
        return f->steps[k];
    }
    ac_step_destroy(f->steps[k]);
    const struct ac_step_opts o = {
        .st = f->st,
        .codec = f->codec,
        .topic = proc ? (int)proc->topic : -1,
        .transition = proc ? proc->apply : NULL,
        .ctx = ctx,
        .engine = f->en,
        .rejected = fire_rejected,
        .opaque = f,
    };
    f->steps[k] = ac_step_new(&o);
    f->step_ctx[k] = ctx;
    return f->steps[k];
}

static int fire_step(struct ac_fire *f, const struct ac_processor *proc, void *ctx, int64_t now,
                     struct ac_apply_stats *stats)
{
    struct ac_clock clock;
    struct ac_step *s = fire_step_get(f, proc, ctx);
    if (!s) {
        return AC_ERR_NOMEM;
    }
    ac_clock_init_fixed(&clock, now);
    f->now = now;
    return ac_step_run(s, f->custs, f->ins, f->n_custs, &clock, stats);
}

int ac_fire_round(struct ac_fire *f, int64_t now, unsigned start, struct ac_store_cust **custs,
                  size_t *n)
{
    return ac_fire_round_upto(f, now, now, start, custs, n);
}

int ac_fire_round_upto(struct ac_fire *f, int64_t upto, int64_t now, unsigned start,
                       struct ac_store_cust **custs, size_t *n)
{
    struct ac_apply_stats stats;
    fire_release(f);
    memset(f->map, 0, 2 * f->max * sizeof(*f->map));
    memset(&stats, 0, sizeof(stats));
    *custs = f->custs;
    *n = 0;
    f->upto = upto;
    int found = ac_store_due(f->st, upto, start, f->max, fire_found, f);
    if (found <= 0) {
        return found;
    }
    int rc = fire_step(f, NULL, NULL, now, &stats);
    if (rc != 0 || (rc = ac_store_due_forget_legacy(f->st)) != 0) {
        return rc;
    }
    fire_report(f, f->n_custs);
    /* Produce only what this round committed: what else an outbox holds is
     * another writer's to deliver (or the sweep's, if it died). */
    for (size_t i = 0; i < f->n_custs; i++) {
        if (!f->custs[i].dirty) {
            ac_buf_reset(&f->custs[i].pending);
            f->custs[i].n_pending = 0;
            ac_buf_reset(&f->custs[i].pending_ids);
            f->custs[i].n_pending_ids = 0;
        }
    }
    *n = f->n_custs;
    return (int)stats.fired;
}

int ac_fire_apply_event(struct ac_fire *f, const struct ac_processor *proc, void *ctx,
                        const struct ac_event *ev, int64_t now)
{
    const struct ac_apply_in in = {ev, -1, -1, 0};
    fire_release(f);
    ac_store_cust_rebind(&f->custs[0], ev->customer_id);
    f->ins[0] = (struct ac_step_in){&in, 1, 0, 0};
    f->n_custs = 1;
    f->rejected = 0;
    int rc = fire_step(f, proc, ctx, now, NULL);
    if (rc != 0) {
        return rc;
    }
    fire_report(f, 1);
    if (f->rejected) {
        struct ac_decision d;
        memset(&d, 0, sizeof(d));
        d.at = now;
        snprintf(d.decision, sizeof(d.decision), "rejected");
        snprintf(d.reason, sizeof(d.reason), "%s", f->reason);
        snprintf(d.trigger_id, sizeof(d.trigger_id), "%s", ev->event_id);
        snprintf(d.trigger_type, sizeof(d.trigger_type), "%s", ev->type);
        if (f->on_decision) {
            f->on_decision(ev->customer_id, &d, f->opaque);
        }
        return AC_ERR_INVALID;
    }
    return 0;
}
