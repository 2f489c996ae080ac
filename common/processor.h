/* processor.h — what a processor hands to the runtime.
 *
 * A processor is a const struct of callbacks (fluent-bit's plugin shape). Its
 * apply() is pure domain code: it reads one event and the customer's state,
 * changes the state and appends actions and signals to an ac_emit. It does no
 * I/O and reads time only from the clock it is given. The runtime does all
 * Kafka and Redis work, in batches, and makes the state change and the
 * emitted records durable atomically (common/README.md). */
#ifndef AC_PROCESSOR_H
#define AC_PROCESSOR_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "config.h"
#include "customer.h"
#include "event.h"
#include "timer.h"

#define AC_EMIT_MAX_ACTIONS 16
#define AC_EMIT_MAX_SIGNALS 8
#define AC_EMIT_MAX_DECISIONS 64
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
    /* The customer's pending timers, set by the caller before apply (not
     * reset); NULL: this caller keeps no timers. */
    struct ac_timerset *timers;
};

void ac_emit_reset(struct ac_emit *out);

/* Appends a blank action for the rule, with its deterministic id
 * (ac_action_id(rule_id, ev->event_id, part)), customer, trigger, created_at
 * = now and not_before = the event time. Returns NULL if the emit is full. */
struct ac_action *ac_emit_action(struct ac_emit *out, const char *rule_id, int part,
                                 const struct ac_event *ev, int64_t now);
/* Appends signal = value (was previous, "" if none; score) caused by ev,
 * with its deterministic id. Returns NULL if the emit is full. */
struct ac_signal *ac_emit_signal(struct ac_emit *out, const char *signal,
                                 const struct ac_event *ev, const char *value,
                                 const char *previous, double score);
/* Adds key=value to an action's vars (silently bounded at AC_MAX_KV). */
void ac_action_var(struct ac_action *a, const char *key, const char *value);
void ac_action_var_i64(struct ac_action *a, const char *key, int64_t value);
void ac_action_reason_signal(struct ac_action *a, const char *key, const char *value);

/* Deterministic id: 32 hex digits from (rule_id, trigger id, part). The same
 * trigger always yields the same id, in every process and every run. */
void ac_action_id(char out[AC_ACTION_ID_MAX], const char *rule_id, const char *trigger_id,
                  int part);

struct ac_processor {
    const char *name;         /* "orders": process aftercare-orders, group aftercare-orders */
    enum ac_topic topic;      /* the input topic it consumes */
    const char *description;  /* one line for --help */
    const struct ac_cfg_entry *config; /* its own keys, or NULL */

    /* Builds the processor's context from the config. Returns NULL and fills
     * errstr on a bad config. */
    void *(*init)(const struct ac_config *cfg, char *errstr, size_t errlen);
    void (*fini)(void *ctx);

    /* Applies ev to *c (and to out->timers, through the engine). Returns 0,
     * or AC_ERR_INVALID with reason[] filled when the event is semantically
     * invalid: it then goes to the DLQ and the state is left as it was. So
     * validate before ac_engine_on_event(): the runtime restores the state
     * of a rejected event, not the timers the engine may have changed. */
    int (*apply)(void *ctx, struct ac_customer *c, const struct ac_event *ev,
                 const struct ac_clock *clock, struct ac_emit *out, char *reason, size_t rlen);

    /* Re-reads what may change while running (the playbook), on SIGHUP,
     * between batches. Returns 0, or AC_ERR_INVALID when the new version was
     * refused (the old one stays). NULL: nothing to reload. */
    int (*reload)(void *ctx);
};

/* Runs a processor as a service: parses argv (--config, --help, --version),
 * loads config, connects, consumes until SIGTERM/SIGINT. Returns the exit
 * code: 0 after a clean shutdown, 1 on a start-up error, 2 on a usage error,
 * 3 when Redis lost its data. */
int ac_runtime_main(const struct ac_processor *proc, int argc, char **argv);

#endif
