/* fire.c — one round of firing due timers (see fire.h). */
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
    size_t n_custs;
    char (*ids)[AC_ID_MAX];      /* [max] customer ids found due */
    size_t n_ids;
    char (*tids)[AC_ACTION_ID_MAX]; /* [max] the due timers' ids */
    size_t *tcust;               /* [max] their customer (index into ids) */
    const char **tptr;           /* [max] tids grouped by customer, for the load */
    size_t n_tids;
    size_t *map;                 /* [2 * max] customer index + 1 by id hash; 0 = empty */
    struct ac_emit *emits;       /* [max]: each customer's decisions, reported once durable */
    unsigned char *mine;         /* [max]: committed by this round */
    int *fired;                  /* [max]: timers decided for the customer, last attempt */
    struct ac_buf enc;
    ac_fire_decision_fn on_decision;
    void (*on_timer)(int64_t due, void *opaque);
    void *opaque;
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
    f->ids = calloc(f->max, sizeof(*f->ids));
    f->emits = calloc(f->max, sizeof(*f->emits));
    f->mine = calloc(f->max, 1);
    f->fired = calloc(f->max, sizeof(*f->fired));
    f->tids = calloc(f->max, sizeof(*f->tids));
    f->tcust = calloc(f->max, sizeof(*f->tcust));
    f->tptr = calloc(f->max, sizeof(*f->tptr));
    f->map = calloc(2 * f->max, sizeof(*f->map));
    ac_buf_init(&f->enc);
    if (!f->custs || !f->ids || !f->emits || !f->mine || !f->fired || !f->tids || !f->tcust ||
        !f->tptr || !f->map) {
        ac_fire_destroy(f);
        return NULL;
    }
    return f;
}

static void fire_release(struct ac_fire *f)
{
    for (size_t i = 0; i < f->n_custs; i++) {
        ac_store_cust_fini(&f->custs[i]);
    }
    f->n_custs = 0;
}

void ac_fire_destroy(struct ac_fire *f)
{
    if (!f) {
        return;
    }
    fire_release(f);
    free(f->custs);
    free(f->ids);
    free(f->emits);
    free(f->mine);
    free(f->fired);
    free(f->tids);
    free(f->tcust);
    free(f->tptr);
    free(f->map);
    ac_buf_fini(&f->enc);
    free(f);
}

void ac_fire_set_engine(struct ac_fire *f, struct ac_engine *en)
{
    f->en = en;
}

void ac_fire_on_decision(struct ac_fire *f, ac_fire_decision_fn fn, void *opaque)
{
    f->on_decision = fn;
    f->opaque = opaque;
}

static void fire_found(const char *customer_id, const char *timer_id, int64_t due, void *opaque)
{
    struct ac_fire *f = opaque;
    (void)due;
    if (f->n_tids >= f->max) {
        return;
    }
    size_t size = 2 * f->max, h = ac_store_hash(customer_id) % size, c = SIZE_MAX;
    for (; f->map[h]; h = (h + 1) % size) {
        if (strcmp(f->ids[f->map[h] - 1], customer_id) == 0) {
            c = f->map[h] - 1;
            break;
        }
    }
    if (c == SIZE_MAX) {
        c = f->n_ids++;
        snprintf(f->ids[c], AC_ID_MAX, "%s", customer_id);
        f->map[h] = c + 1;
    }
    snprintf(f->tids[f->n_tids], AC_ACTION_ID_MAX, "%s", timer_id);
    f->tcust[f->n_tids++] = c;
}

/* Points each customer at its due timers' ids (grouped in f->tptr by a
 * counting sort on the customer index). */
static void fire_group(struct ac_fire *f)
{
    for (size_t c = 0; c < f->n_ids; c++) {
        f->custs[c].n_timer_ids = 0;
    }
    for (size_t k = 0; k < f->n_tids; k++) {
        f->custs[f->tcust[k]].n_timer_ids++;
    }
    size_t at = 0;
    for (size_t c = 0; c < f->n_ids; c++) {
        f->custs[c].timer_ids = &f->tptr[at];
        at += (size_t)f->custs[c].n_timer_ids;
        f->custs[c].n_timer_ids = 0;
    }
    for (size_t k = 0; k < f->n_tids; k++) {
        struct ac_store_cust *sc = &f->custs[f->tcust[k]];
        sc->timer_ids[sc->n_timer_ids++] = f->tids[k];
    }
}

/* Puts the emit's actions and signals in the customer's outbox, and its
 * decisions and counters in the commit. */
static int fire_outputs(struct ac_fire *f, struct ac_store_cust *sc, const struct ac_emit *out)
{
    int rc = 0;
    for (int k = 0; f->codec && k < out->n_actions && rc == 0; k++) {
        ac_buf_reset(&f->enc);
        rc = ac_codec_encode_action(f->codec, &out->actions[k], &f->enc);
        if (rc == 0) {
            rc = ac_store_cust_add_out(sc, out->actions[k].action_id, 'a', f->enc.data,
                                       f->enc.len);
        }
    }
    for (int k = 0; f->codec && k < out->n_signals && rc == 0; k++) {
        ac_buf_reset(&f->enc);
        rc = ac_codec_encode_signal(f->codec, &out->signals[k], &f->enc);
        if (rc == 0) {
            rc = ac_store_cust_add_out(sc, out->signals[k].signal_id, 's', f->enc.data,
                                       f->enc.len);
        }
    }
    return rc ? rc : ac_store_cust_add_emit(sc, out);
}

/* Marks sc to be committed with the state change from before to after. */
static int fire_prepare(struct ac_store_cust *sc, const struct ac_customer *after)
{
    int n = ac_customer_diff(&sc->state, after, &sc->fields);
    if (n < 0) {
        return n;
    }
    sc->n_fields = n;
    sc->dirty = 1;
    sc->no_watermark = 1;
    return 0;
}

void ac_fire_on_timer(struct ac_fire *f, void (*fn)(int64_t due, void *opaque))
{
    f->on_timer = fn;
}

static void fire_report(struct ac_fire *f, const struct ac_store_cust *sc,
                        const struct ac_emit *out)
{
    for (int k = 0; f->on_decision && k < out->n_decisions; k++) {
        f->on_decision(sc->customer_id, &out->decisions[k], f->opaque);
    }
    for (int k = 0; f->on_timer && sc->timers && k < sc->timers->n; k++) {
        if (sc->timers->t[k].change == AC_TIMER_WRITE) {
            f->on_timer(sc->timers->t[k].due, f->opaque);
        }
    }
}

int ac_fire_round(struct ac_fire *f, int64_t now, unsigned start, struct ac_store_cust **custs,
                  size_t *n)
{
    fire_release(f);
    f->n_ids = 0;
    f->n_tids = 0;
    memset(f->map, 0, 2 * f->max * sizeof(*f->map));
    *custs = f->custs;
    *n = 0;
    int found = ac_store_due(f->st, now, start, f->max, fire_found, f);
    if (found <= 0) {
        return found;
    }
    for (size_t i = 0; i < f->n_ids; i++) {
        ac_store_cust_init(&f->custs[i], f->ids[i]);
        f->custs[i].status = AC_ERR_CONFLICT; /* = still to decide */
        f->mine[i] = 0;
    }
    /* Only the due timers are loaded: the others are not decided now, and
     * their exit conditions are checked when they come due. */
    fire_group(f);
    f->n_custs = f->n_ids;
    int decided = 0;
    for (int attempt = 0;; attempt++) {
        /* Reloading everyone also refreshes the committed customers' pending
         * records (their outbox), which is what the caller produces. */
        for (size_t i = 0; i < f->n_custs; i++) {
            int todo = f->custs[i].status == AC_ERR_CONFLICT;
            ac_store_cust_reset(&f->custs[i]);
            f->custs[i].status = todo ? AC_ERR_CONFLICT : 0;
        }
        int rc = ac_store_load(f->st, AC_TOPIC_ORDERS, f->custs, f->n_custs);
        if (rc != 0) {
            return rc;
        }
        for (size_t i = 0; i < f->n_custs; i++) {
            struct ac_store_cust *sc = &f->custs[i];
            struct ac_emit *out = &f->emits[i];
            if (sc->status != AC_ERR_CONFLICT) {
                continue;
            }
            struct ac_customer after = sc->state;
            ac_emit_reset(out);
            out->timers = sc->timers;
            int d = ac_engine_fire(f->en, &after, now, out);
            if (d <= 0 && out->n_decisions == 0 && sc->timers->n_removed == 0) {
                sc->status = 0; /* fired by someone else since the scan */
                continue;
            }
            f->fired[i] = d;
            if ((rc = fire_outputs(f, sc, out)) != 0 || (rc = fire_prepare(sc, &after)) != 0) {
                return rc;
            }
        }
        if ((rc = ac_store_commit(f->st, AC_TOPIC_ORDERS, f->custs, f->n_custs)) != 0) {
            return rc;
        }
        int conflicts = 0;
        for (size_t i = 0; i < f->n_custs; i++) {
            struct ac_store_cust *sc = &f->custs[i];
            if (!sc->dirty) {
                continue;
            }
            if (sc->status == AC_ERR_CONFLICT) {
                conflicts++;
            } else {
                fire_report(f, sc, &f->emits[i]);
                decided += f->fired[i]; /* counted once durable, not per attempt */
                /* A commit that only dropped stale due entries wrote no records:
                 * what its outbox holds is another writer's to deliver. */
                f->mine[i] = f->emits[i].n_actions > 0 || f->emits[i].n_signals > 0;
            }
        }
        if (conflicts == 0) {
            break;
        }
        AC_DEBUG("timer commit conflicts=%d attempt=%d; re-reading", conflicts, attempt);
    }
    /* Produce only what this round committed: a customer another replica
     * fired meanwhile has that replica's records in its outbox, which that
     * replica delivers (or the sweep, if it died). */
    for (size_t i = 0; i < f->n_custs; i++) {
        if (!f->mine[i]) {
            ac_buf_reset(&f->custs[i].pending);
            f->custs[i].n_pending = 0;
        }
    }
    *custs = f->custs;
    *n = f->n_custs;
    return decided;
}

int ac_fire_apply_event(struct ac_fire *f, const struct ac_processor *proc, void *ctx,
                        const struct ac_event *ev, int64_t now)
{
    struct ac_clock clock;
    char reason[sizeof(((struct ac_decision *)0)->reason)] = "";
    ac_clock_init_fixed(&clock, now);
    fire_release(f);
    ac_store_cust_init(&f->custs[0], ev->customer_id);
    f->n_custs = 1;
    struct ac_store_cust *sc = &f->custs[0];
    struct ac_emit *out = &f->emits[0];
    for (;;) {
        ac_store_cust_reset(sc);
        int rc = ac_store_load(f->st, proc->topic, sc, 1);
        if (rc != 0) {
            return rc;
        }
        struct ac_customer after = sc->state;
        ac_emit_reset(out);
        out->timers = sc->timers;
        if (proc->apply(ctx, &after, ev, &clock, out, reason, sizeof(reason)) != 0) {
            struct ac_decision d;
            memset(&d, 0, sizeof(d));
            d.at = now;
            snprintf(d.decision, sizeof(d.decision), "rejected");
            snprintf(d.reason, sizeof(d.reason), "%s", reason);
            if (f->on_decision) {
                f->on_decision(ev->customer_id, &d, f->opaque);
            }
            return AC_ERR_INVALID;
        }
        if ((rc = fire_outputs(f, sc, out)) != 0 || (rc = fire_prepare(sc, &after)) != 0) {
            return rc;
        }
        if ((rc = ac_store_commit(f->st, proc->topic, sc, 1)) != 0) {
            return rc;
        }
        if (sc->status != AC_ERR_CONFLICT) {
            fire_report(f, sc, out);
            return 0;
        }
    }
}
