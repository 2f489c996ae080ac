/* processor.h — what a processor hands to the runtime.
 *
 * A processor is a const struct of callbacks (fluent-bit's plugin shape): its
 * state transition and nothing else. apply() is pure domain code: it reads one
 * event and the customer's state, changes the state and appends the signals
 * the change raises to an ac_emit. It does no I/O and reads time only from the
 * clock it is given. The runtime owns the playbook (loads it, reloads it on
 * SIGHUP) and runs its engine after each transition, in the one apply path
 * (domain/apply.h); it does all Kafka and Redis work, in batches, and makes
 * the change and what it produced durable atomically (runtime/README.md). */
#ifndef AC_PROCESSOR_H
#define AC_PROCESSOR_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "config.h"
#include "customer.h"
#include "emit.h"
#include "event.h"
#include "timer.h"

struct ac_codec;
struct ac_engine;
struct ac_store;
struct ac_store_cust;
struct rd_kafka_s;

/* What the runtime lends a processor without an input topic during one call
 * of its tick (valid for that call). */
struct ac_tick {
    struct ac_store *store; /* connected; the generation was checked */
    struct ac_codec *codec;
    struct ac_engine *engine; /* the playbook's (SIGHUP reloads it in place) */
    struct rd_kafka_s *kafka; /* the producer: metadata only, records go by ac_tick_deliver */
    int64_t wait_ms;          /* out: how long to wait before the next call when tick returns 0 */
    void *rt;                 /* the runtime's */
};

/* Produces every pending record of custs[0..n) (and with swept, the store's
 * swept records: ac_store_swept_next) through the runtime's producer
 * (records the broker refuses for good go to the DLQ), waits until
 * Kafka confirmed each, then removes them from the outboxes: the same
 * delivery as after a consumer batch. Returns 0, AC_ERR_TRANSIENT (a
 * record was not confirmed, or a stop was asked: the records stay in the
 * outbox) or AC_ERR_FATAL. A round in flight (ac_tick_deliver_later) is
 * finished first. */
int ac_tick_deliver(struct ac_tick *t, struct ac_store_cust *custs, size_t n, int swept);
/* Overlapped rounds: hands custs' pending records to the producer and
 * returns without waiting for Kafka, leaving the round in flight; the round
 * in flight before it, if any, is finished first (its reports — which had
 * this round's time to come in — then its acknowledgement). custs must stay
 * as they are until their round is finished: by the next call, by
 * ac_tick_finish, or by ac_tick_deliver. Returns 1 when it finished a round
 * in flight, 0 when there was none, or an error as ac_tick_deliver (for the
 * round it finished). A tick that fails leaves the round in flight to the
 * outbox sweep (delivered again under the same ids). */
int ac_tick_deliver_later(struct ac_tick *t, struct ac_store_cust *custs, size_t n);
/* Finishes the round in flight, if any (idle, before a sweep; the runtime
 * calls it when the process stops): 1 when there was one, 0 when none, or
 * an error. */
int ac_tick_finish(struct ac_tick *t);
/* A round starts: delivery counts of an earlier round that failed before
 * ac_tick_deliver are dropped. */
void ac_tick_begin(struct ac_tick *t);

struct ac_processor {
    const char *name;        /* "orders": process aftercare-orders, group aftercare-orders */
    enum ac_topic topic;     /* the input topic it consumes (with apply) */
    const char *description; /* one line for --help */
    const struct ac_cfg_entry *config; /* its own keys, or NULL */

    /* Builds the processor's context from its config keys (NULL: it has
     * none). Returns NULL and fills errstr on a bad config. */
    void *(*init)(const struct ac_config *cfg, char *errstr, size_t errlen);
    void (*fini)(void *ctx);

    /* Applies ev to *c and appends the signals it raises. Returns 0, or
     * AC_ERR_INVALID with reason[] filled when the event is semantically
     * invalid: it then goes to the DLQ and the state is restored (the engine
     * does not run for it). */
    int (*apply)(void *ctx, struct ac_customer *c, const struct ac_event *ev,
                 const struct ac_clock *clock, struct ac_emit *out, char *reason, size_t rlen);

    /* Re-reads what of its own may change while running, on SIGHUP, between
     * batches (the runtime reloads the playbook itself). Returns 0, or
     * AC_ERR_INVALID when refused (the old one stays). NULL: nothing. */
    int (*reload)(void *ctx);

    /* A processor without an input topic (the timer process) has tick
     * instead of apply, and no consumer: the runtime calls it in its loop
     * with everything else a processor gets (arguments, config, signals,
     * Redis recovery and loss detection, the producer, /metrics, readiness,
     * SIGHUP). Returns > 0 when it did work (called again at once), 0 when
     * there was nothing to do (called again after t->wait_ms, or sooner on a
     * signal), AC_ERR_TRANSIENT (the runtime waits for Redis and calls again)
     * or AC_ERR_FATAL / AC_ERR_NOMEM (the process stops, exit 3). /readyz
     * tells whether the last call succeeded. */
    int (*tick)(void *ctx, struct ac_tick *t);
};

/* Runs a processor as a service: parses argv (--config, --help, --version),
 * loads config, connects, consumes (or ticks) until SIGTERM/SIGINT. Returns the exit
 * code: 0 after a clean shutdown, 1 on a start-up error, 2 on a usage error,
 * 3 when Redis lost its data. */
int ac_runtime_main(const struct ac_processor *proc, int argc, char **argv);

#endif
