/* apply.h — the one apply path.
 *
 * A customer's loaded record, its new events (any number, in offset order)
 * and, optionally, the time at which its due timers fire, go in; the changed
 * record and what the change produced come out: actions, signals, decisions
 * and counters through the hooks, one call per event or timer round, in
 * order. Every program applies events through this function: the consumer
 * loop, the timer process, `aftercare simulate`, the benchmarks and the
 * tests. The exactly-once rules live here and nowhere else:
 *
 *   - an input at or below the record's watermark for its topic and
 *     partition was applied before (a redelivery): skipped, counted;
 *   - an event id in the record's recent window (or earlier in the same
 *     call) is an upstream duplicate: skipped, counted; the watermark moves;
 *   - an event the transition rejects goes to the `rejected` hook with its
 *     reason, and the state and timers stay as they were before it.
 *
 * Pure: no I/O; the time is the clock's. */
#ifndef AC_APPLY_H
#define AC_APPLY_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "emit.h"
#include "engine.h"
#include "event.h"
#include "record.h"

/* One input event and where it came from. */
struct ac_apply_in {
    const struct ac_event *ev;
    int32_t partition; /* -1: no input position (a tool feeding events by hand) */
    int64_t offset;
    size_t index; /* the caller's, handed back in the hooks */
};

/* A processor's state transition (processor.h's apply): changes *c for ev and
 * appends to out; or AC_ERR_INVALID with reason filled for an event that is
 * semantically invalid. */
typedef int (*ac_transition_fn)(void *ctx, struct ac_customer *c, const struct ac_event *ev,
                                const struct ac_clock *clock, struct ac_emit *out, char *reason,
                                size_t rlen);

struct ac_apply_hooks {
    /* What one event (in != NULL) or one timer round (in == NULL) produced. */
    int (*emitted)(void *opaque, const struct ac_apply_in *in, const struct ac_emit *out);
    /* An event the transition rejected, with its reason. */
    int (*rejected)(void *opaque, const struct ac_apply_in *in, const char *reason);
    void *opaque;
};

struct ac_apply_stats {
    long applied;
    long replayed;   /* offset at or below the watermark */
    long duplicates; /* event id already applied */
    long rejected;
    long fired;        /* timers decided */
    long seen_evicted; /* event ids forgotten inside the dedupe window (bound reached) */
    long wm_evicted;   /* watermarks forgotten (more partitions than the record keeps) */
};

/* Scratch of one thread (emit and a copy of the timers; about 100 KB). */
struct ac_apply;

struct ac_apply *ac_apply_new(void);
void ac_apply_destroy(struct ac_apply *ap);

/* Applies the events of one topic (tr/ctx: its transition; NULL when n is 0)
 * in order, each followed by the engine en (the playbook: cancellations,
 * exits, rules; NULL: the transition alone), then, unless fire_upto is AC_TS_NONE, decides with
 * engine en every timer due at or before fire_upto (INT64_MAX: the clock's now), at the clock's
 * now. Returns 1 if the record changed (commit it), 0 if not, or a negative enum ac_err (a hook's
 * error, AC_ERR_NOMEM). Stats are added to (may be NULL). */
int ac_apply_customer(struct ac_apply *ap, struct ac_record *rec, int topic, ac_transition_fn tr,
                      void *ctx, const struct ac_apply_in *in, size_t n, struct ac_engine *en,
                      int64_t fire_upto, const struct ac_clock *clock,
                      const struct ac_apply_hooks *hooks, struct ac_apply_stats *stats);

#endif
