/* fire.h — one round of firing due timers (the timer process, simulate).
 *
 * A round finds up to `max` customers with a due timer across every bucket
 * (the due index holds one entry per customer: its earliest due time) and
 * runs them through a step (step.h) with fire_due set: the engine decides
 * every due timer against the customer's current state, and the record,
 * its next due time and the produced records are committed atomically. The
 * version check makes the claim: of two replicas (or a processor and a
 * replica) that loaded the same customer, one commit wins and the other
 * re-reads and finds the timer gone. A process killed mid-round loses
 * nothing: before the commit nothing changed; after it, the records wait in
 * the outbox.
 *
 * The caller then produces each customer's pending records and acks them
 * (ac_store_ack), exactly as a processor does after a batch. */
#ifndef AC_FIRE_H
#define AC_FIRE_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "engine.h"
#include "processor.h"
#include "step.h"
#include "store.h"

struct ac_fire;

/* Called once per decision after it is durable. */
typedef void (*ac_fire_decision_fn)(const char *customer_id, const struct ac_decision *d,
                                    void *opaque);

/* Called once per signal after it is durable, with the time of the change
 * that raised it (the clock's now). */
typedef void (*ac_fire_signal_fn)(const char *customer_id, const struct ac_signal *s, int64_t at,
                                  void *opaque);

/* codec NULL: actions are decided but not written to the outbox (simulate). */
struct ac_fire *ac_fire_new(struct ac_store *st, struct ac_engine *en, struct ac_codec *codec,
                            size_t max);
void ac_fire_destroy(struct ac_fire *f);
void ac_fire_set_engine(struct ac_fire *f, struct ac_engine *en);
void ac_fire_on_decision(struct ac_fire *f, ac_fire_decision_fn fn, void *opaque);
/* Signals too, with the opaque of ac_fire_on_decision; each customer's
 * signals are reported before its decisions (they come first: a processor's
 * transition raises them, then the engine decides). */
void ac_fire_on_signal(struct ac_fire *f, ac_fire_signal_fn fn);
/* Called once per timer written (scheduled or moved) after it is durable,
 * with its due time: simulate visits these times in order. */
void ac_fire_on_timer(struct ac_fire *f, void (*fn)(int64_t due, void *opaque));

/* One round at time now, scanning from bucket start. Returns the number of
 * timers decided (0: none due), or AC_ERR_TRANSIENT / AC_ERR_FATAL /
 * AC_ERR_NOMEM. *custs and *n are the customers committed by the round
 * (with their pending records), valid until the next round (a timer
 * process keeps two contexts, so a round stays valid while in flight). */
int ac_fire_round(struct ac_fire *f, int64_t now, unsigned start, struct ac_store_cust **custs,
                  size_t *n);

/* The same for the timers due at or before upto, decided at now (the timer
 * process holds timers back to its inputs' event time, and decides them at
 * the time they go out). */
int ac_fire_round_upto(struct ac_fire *f, int64_t upto, int64_t now, unsigned start,
                       struct ac_store_cust **custs, size_t *n);

/* Applies one event of proc's topic through a step, without Kafka (no input
 * position: duplicates are caught by event id): simulate and tests.
 * Returns 0, AC_ERR_INVALID (rejected; reported as a decision "rejected"),
 * or a store error. */
int ac_fire_apply_event(struct ac_fire *f, const struct ac_processor *proc, void *ctx,
                        const struct ac_event *ev, int64_t now);

#endif
