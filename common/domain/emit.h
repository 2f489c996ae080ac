/* emit.h — what the domain code produces for one event or one timer round.
 *
 * Actions, signals, decisions and counters, appended by a processor's state
 * transition and by the engine, in caller's storage. Pure data: the runtime
 * encodes them and makes them durable with the state (runtime/README.md). */
#ifndef AC_EMIT_H
#define AC_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "customer.h"
#include "event.h"
#include "timer.h"

#define AC_EMIT_MAX_ACTIONS 64
#define AC_EMIT_MAX_SIGNALS 8
#define AC_EMIT_MAX_DECISIONS 512
#define AC_EMIT_MAX_COUNTERS 8

/* One decision about one action (SPEC §5): what happened and why. Kept in
 * the customer's audit trail, counted per rule and reason in /metrics, and
 * printed by `aftercare simulate`. */
struct ac_decision {
    int64_t at; /* when it was decided (the clock's time), ms */
    char rule_id[AC_NAME_MAX];
    int part;
    char decision[16]; /* enum ac_decision_kind's name */
    char reason[64];
    char action_id[AC_ACTION_ID_MAX];
    char channel[AC_TYPE_MAX];
    char template_name[AC_NAME_MAX];
    int64_t not_before; /* emitted: its not_before; scheduled, deferred: the due time */
    int64_t due;        /* emitted: when it was due (lateness = at - due) */
    char experiment[AC_NAME_MAX];
    char variant[AC_TYPE_MAX];
    char trigger_id[AC_ID_MAX];     /* the event (or signal) it was decided for */
    char trigger_type[AC_TYPE_MAX]; /* its type ("signal" for a signal) */
};

/* A counter to add to atomically with the state (experiment counters). */
struct ac_counter {
    char field[160];
    int64_t by;
};

/* Records produced by one event. Caller's storage; reset per event. */
struct ac_emit {
    struct ac_action actions[AC_EMIT_MAX_ACTIONS];
    int n_actions;
    struct ac_signal signals[AC_EMIT_MAX_SIGNALS];
    int n_signals;
    struct ac_decision decisions[AC_EMIT_MAX_DECISIONS];
    int n_decisions;
    struct ac_counter counters[AC_EMIT_MAX_COUNTERS];
    int n_counters;
    int tz_fallbacks;   /* customers' zones that were invalid (counted) */
    int tz_missing;     /* customers without a zone of their own (counted) */
    int decisions_lost; /* decisions past AC_EMIT_MAX_DECISIONS (counted, not audited) */
    /* Set by a processor's transition: the event repeats one applied before
     * under another event id (a ticket event for a state the ticket already
     * has) and changed nothing; the engine then runs no rule for it. */
    int repeat;
    /* The customer's pending timers, set by the caller before apply (not
     * reset); NULL: this caller keeps no timers. */
    struct ac_timerset *timers;
    /* What the engine is deciding for right now (set by the engine; copied
     * into each decision's trigger fields). */
    const struct ac_trigger *trigger;
};

void ac_emit_reset(struct ac_emit *out);

/* Appends a blank action for the rule, with its deterministic id
 * (ac_action_id(rule_id, ev->event_id, part)), customer, trigger, created_at
 * = now and not_before = the event time. Returns NULL if the emit is full. */
struct ac_action *ac_emit_action(struct ac_emit *out, const char *rule_id, int part,
                                 const struct ac_event *ev, int64_t now);
/* Appends signal = value (was previous, "" if none; score) caused by ev,
 * with its deterministic id. Returns NULL if the emit is full. */
struct ac_signal *ac_emit_signal(struct ac_emit *out, const char *signal, const struct ac_event *ev,
                                 const char *value, const char *previous, double score);
/* Adds key=value to an action's vars (silently bounded at AC_MAX_KV). */
void ac_action_var(struct ac_action *a, const char *key, const char *value);
void ac_action_var_i64(struct ac_action *a, const char *key, int64_t value);
void ac_action_reason_signal(struct ac_action *a, const char *key, const char *value);

/* Deterministic id: 32 hex digits from (rule_id, trigger id, part). The same
 * trigger always yields the same id, in every process and every run. */
void ac_action_id(char out[AC_ACTION_ID_MAX], const char *rule_id, const char *trigger_id,
                  int part);

#endif
