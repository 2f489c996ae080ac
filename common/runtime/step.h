/* step.h — load → apply → commit, the one copy.
 *
 * A step takes a set of customers, each with its new events (any number, in
 * offset order) and/or the instruction to fire its due timers; it loads
 * their records and outboxes in one pipeline, applies through the domain's
 * one apply path (apply.h), puts what the change produced in the outbox as
 * encoded records (actions, signals, decisions, rejected events), and
 * commits every changed customer atomically. A customer another writer
 * changed since the load (a processor of another topic, the timer process,
 * a second replica) is re-read and re-applied until its commit holds.
 *
 * The consumer loop (batch.c), the timer process (fire.c), `aftercare
 * simulate` and the benchmarks all run their customers through a step. */
#ifndef AC_STEP_H
#define AC_STEP_H

#include <stddef.h>
#include <stdint.h>

#include "apply.h"
#include "codec.h"
#include "store.h"

struct ac_step_opts {
    struct ac_store *st;
    struct ac_codec *codec;      /* NULL: decide, but write no outbox records (simulate) */
    int topic;                   /* enum ac_topic of the events, for the watermarks */
    ac_transition_fn transition; /* the processor's apply, or NULL (timers only) */
    void *ctx;
    struct ac_engine *engine; /* decides due timers; NULL: events only */
    /* An event the domain rejected: append its DLQ record to sc (optional). */
    int (*rejected)(void *opaque, struct ac_store_cust *sc, const struct ac_apply_in *in,
                    const char *reason);
    void *opaque;
    /* Called once per customer as soon as its commit holds (optional; with
     * opaque): the consumer loop hands the customer's records to the
     * producer from here, while the step goes on with the next part. A
     * non-zero return stops the step with that error. */
    int (*committed)(void *opaque, struct ac_store_cust *sc);
};

/* One customer's input: its events (borrowed) and whether to fire timers. */
struct ac_step_in {
    const struct ac_apply_in *in;
    size_t n;
    int fire_due;
    int64_t fire_upto; /* with fire_due: timers due at or before it (0: the clock's now) */
};

#define AC_STEP_PART 128

struct ac_step;

struct ac_step *ac_step_new(const struct ac_step_opts *opts);
void ac_step_destroy(struct ac_step *s);
/* Changes what the step runs (a reloaded playbook's engine). */
void ac_step_set_engine(struct ac_step *s, struct ac_engine *en);

/* Runs custs[0..n) (each initialised with ac_store_cust_init and reset) with
 * inputs ins[0..n) at the clock's time, in parts of AC_STEP_PART customers
 * pipelined on the store's connection: while Redis commits one part and
 * loads the one after the next, the step applies the next (conflicts and
 * customers of the previous layout are then run again on their own). On return each committed
 * customer has status 0 and its new records in pending; a customer whose record did not change is
 * not committed (dirty 0), and a customer whose input was a redelivery has the records found in its
 * outbox in pending too (they were this step's before a crash). Stats are of the attempts that
 * committed. Returns 0, AC_ERR_TRANSIENT (Redis; retry the step) or AC_ERR_FATAL. */
int ac_step_run(struct ac_step *s, struct ac_store_cust *custs, const struct ac_step_in *ins,
                size_t n, const struct ac_clock *clock, struct ac_apply_stats *stats);

/* Deterministic id of a decision record on aftercare.decisions: the same
 * decision about the same action at the same moment always has the same id. */
void ac_step_decision_id(char out[AC_ACTION_ID_MAX], const struct ac_decision *d);

#endif
