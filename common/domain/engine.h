/* engine.h — the playbook at work: rules, timers, policies, experiments.
 *
 * Pure domain code, shared by every processor, the timer process and
 * `aftercare simulate`: it reads an event (or the clock) and one customer's
 * state and timers, and changes them and appends actions, decisions and
 * counters to an ac_emit. No I/O; time comes only from the `now` it is given.
 *
 * For each action a rule asks for, the engine computes its due time (the
 * trigger's time, a delay, an anchor date plus an offset, a family window or
 * a period). Due later: it becomes a timer. Due now: it is decided now:
 *
 *   expired?  exit_when?  conditions still true?  experiment (held out?)
 *   suppressions (the rule's and the global ones)   consent and channel
 *   frequency cap   quiet / business hours / send window   -> emitted
 *
 * A block defers the action (a timer at the time the block lifts) up to the
 * rule's bound, or drops it, per the rule; every outcome is a decision with
 * a reason code (engine.c lists them). Capped messages that compete for one
 * window of the frequency cap collide: the higher priority goes, the other
 * is rescheduled to the next free slot while its expiry allows, or merged
 * into the one that goes (engine.c, "collisions"). A contrary event cancels matching
 * timers at once; an exit condition that becomes true drops them.
 *
 * An engine is not thread-safe (it caches time zones); one per thread. */
#ifndef AC_ENGINE_H
#define AC_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "customer.h"
#include "emit.h"
#include "event.h"
#include "playbook.h"

enum ac_decision_kind {
    AC_DECISION_EMITTED = 0,
    AC_DECISION_SCHEDULED,   /* a timer was created */
    AC_DECISION_DEFERRED,    /* a policy blocked it; retried at not_before */
    AC_DECISION_RESCHEDULED, /* the frequency cap's window is taken: moved to the next free slot */
    AC_DECISION_MERGED, /* rides along in another message of its window (reason merged_into:<rule>)
                         */
    AC_DECISION_CAPPED, /* frequency cap, dropped */
    AC_DECISION_SUPPRESSED, /* suppression or consent, dropped */
    AC_DECISION_HELD_OUT,   /* experiment holdout: nothing sent, counted */
    AC_DECISION_EXPIRED,    /* its expiry or defer bound passed */
    AC_DECISION_CANCELLED,  /* a contrary event */
    AC_DECISION_EXITED,     /* the rule's exit condition or its conditions no longer hold */
    AC_DECISION_DROPPED,    /* cannot be scheduled (no anchor date, too many timers, rule gone) */
    AC_DECISION__N
};

const char *ac_decision_name(enum ac_decision_kind k);

struct ac_engine_opts {
    const char *default_owner; /* assignee of team work when the customer has no owner */
};

struct ac_engine;

/* The engine borrows pb until ac_engine_set_playbook() or destroy. */
struct ac_engine *ac_engine_new(const struct ac_playbook *pb, const struct ac_engine_opts *opts);
void ac_engine_destroy(struct ac_engine *en);
void ac_engine_set_playbook(struct ac_engine *en, const struct ac_playbook *pb);
const struct ac_playbook *ac_engine_playbook(const struct ac_engine *en);

/* After a processor applied ev to the state (before -> *c) and appended its
 * signals to out: cancels and exits pending timers, counts experiment
 * conversions, and runs the rules triggered by ev and by out's signals.
 * out->timers may be NULL (then nothing can be scheduled: delayed actions
 * are dropped with reason "no_timer_store"). Does nothing for an event the
 * processor marked a repeat (out->repeat). Returns 0 or AC_ERR_NOMEM. */
int ac_engine_on_event(struct ac_engine *en, struct ac_customer *c,
                       const struct ac_customer *before, const struct ac_event *ev, int64_t now,
                       struct ac_emit *out);

/* Decides every timer of out->timers due at or before now (earliest first,
 * as many as out has room for). Returns how many were decided. */
int ac_engine_fire(struct ac_engine *en, struct ac_customer *c, int64_t now, struct ac_emit *out);
/* The same for the timers due at or before upto (<= now), decided at now: the
 * timer process holds timers back to the inputs' event time (upto) but
 * decides them at the time they go out (quiet hours, caps, expiry). */
int ac_engine_fire_upto(struct ac_engine *en, struct ac_customer *c, int64_t upto, int64_t now,
                        struct ac_emit *out);

/* Deterministic experiment assignment: the variant name, or "holdout". */
const char *ac_engine_assign(const struct ac_pb_experiment *x, const char *customer_id);

#endif
