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

struct ac_processor {
    const char *name;        /* "orders": process aftercare-orders, group aftercare-orders */
    enum ac_topic topic;     /* the input topic it consumes */
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
};

/* Runs a processor as a service: parses argv (--config, --help, --version),
 * loads config, connects, consumes until SIGTERM/SIGINT. Returns the exit
 * code: 0 after a clean shutdown, 1 on a start-up error, 2 on a usage error,
 * 3 when Redis lost its data. */
int ac_runtime_main(const struct ac_processor *proc, int argc, char **argv);

#endif
