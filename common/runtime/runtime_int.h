/* runtime_int.h — the runtime's private state, shared by runtime.c (service
 * life cycle, consumer, rebalance) and batch.c (one batch, end to end). */
#ifndef AC_RUNTIME_INT_H
#define AC_RUNTIME_INT_H

#include <signal.h>
#include <stdint.h>

#include "codec.h"
#include "config.h"
#include "kafka.h"
#include "outbox.h"
#include "processor.h"
#include "step.h"
#include "store.h"

struct ac_rules;

struct rt_dlq {
    size_t msg; /* index into msgs */
    char reason[128];
};

/* Per-batch counts, added to the metrics once the batch is durable. */
#define RT_TALLY_MAX 64
struct rt_tally {
    uint64_t key; /* hash of what the label is made of: compared before the label */
    char label[320];
    long n;
};

/* The delivery of one batch's records (or one timer round's): each record
 * carries its delivery as the message's opaque, so two batches can be in
 * flight and each counts only its own reports. */
struct rt_delivery {
    long sent;                       /* records handed to the producer */
    long sent_actions, sent_signals; /* of which actions, signals (for /metrics) */
    long dr_ok;
    long dr_fail;
    long dr_refused;                  /* refused for good: noted in refused */
    struct ac_outbox_refused refused; /* what the broker refused: to the DLQ */
};

/* One batch of consumed messages, from gathering to its acknowledgement.
 * There are two: while one's records are on their way to Kafka (in flight),
 * the next is gathered and its state work done. */
struct rt_batch {
    rd_kafka_message_t **msgs;
    double *read_at; /* [batch_size] when each was polled (ac_clock_mono_s) */
    size_t n_msgs;
    struct ac_event *events;     /* [batch_size] */
    int *ev_ok;                  /* [batch_size] 1 = decoded */
    int *ev_next;                /* [batch_size] next event of the same customer, -1 */
    struct ac_store_cust *custs; /* [batch_size] */
    int *cust_first;             /* [batch_size] first event index of customer */
    size_t n_custs;
    struct ac_step_in *ins;       /* [batch_size] each customer's events, for the step */
    struct ac_apply_in *apply_in; /* [batch_size] the events, grouped per customer */
    struct rt_dlq *dlq;           /* [batch_size] undecodable messages */
    size_t n_dlq;
    int32_t *pos_parts; /* [batch_size] partitions of the batch */
    int64_t *pos_offs;  /* [batch_size] their next offsets */
    size_t n_pos;

    struct rt_tally rules[RT_TALLY_MAX]; /* actions by rule of the batch */
    int n_rules;
    struct rt_tally decisions[RT_TALLY_MAX]; /* decisions by rule, decision, reason */
    int n_decisions;
    long tz_fallbacks;
    long tz_missing;
    long decisions_lost;
    long skipped_replayed;          /* events of the batch already applied (offset) */
    long skipped_duplicate;         /* events of the batch with an applied event_id */
    int recovered;                  /* calls of an earlier commit delivered again (a replay) */
    struct ac_store_calls replayed; /* ...those calls, acknowledged when the batch is */

    struct rt_delivery dl;
    double started;  /* ac_clock_mono_s() when its processing began */
    double state_at; /* ... and when its state work ended */
};

struct runtime {
    int tick_open; /* a tick's delivery counters are running */
    const struct ac_processor *proc;
    void *ctx;
    struct ac_rules *playbook; /* the playbook and its engine (SIGHUP reloads it) */
    struct ac_config *cfg;
    struct ac_codec *codec;
    struct ac_store *store;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    char group[128];
    char topic_in[128];
    char topic_actions[128];
    char topic_signals[128];
    char topic_dlq[128];
    char topic_decisions[128];
    char gen[40];
    int rebuild;
    int64_t max_future_ms;
    struct ac_clock clock; /* the wall clock, or a sped-up one (clock.speed) */
    int batch_size;
    int batch_ms;

    struct rt_batch batches[2];
    struct rt_batch *b;             /* the batch being gathered */
    struct rt_batch *inflight;      /* done but for its delivery: finished after the next
                                       batch's state work, or when the consumer is idle */
    struct rt_batch *cur;           /* the batch the step works on (its hooks' target) */
    struct rt_delivery *dl;         /* where produced records count: cur's, or the tick's */
    struct rt_delivery tick_dls[2]; /* a tick's rounds: the one built, the one in flight */
    struct rt_delivery *tick_dl;    /* the round being built: one of tick_dls */
    /* the round in flight (ac_tick_deliver_later): its customers, its counters */
    struct ac_store_cust *tick_custs;
    size_t tick_n;
    struct rt_delivery *tick_flying; /* NULL: none */

    /* scratch shared by both batches */
    double *obs;    /* [batch_size] a histogram's observations */
    int *cust_last; /* [batch_size] last event index of customer (decode) */
    int *map;       /* open addressing: customer index + 1, 0 = empty */
    size_t map_size;
    struct ac_step *step;
    struct ac_buf enc;

    volatile sig_atomic_t *stop;
    int fatal;

    /* readiness while idle (runtime.c): Redis is asked when no batch ran lately */
    int64_t redis_check_at; /* ac_clock_mono_ms() of the next check */
    int redis_down;         /* the last check failed (logged once) */
    int64_t event_time_at;  /* ac_clock_mono_ms() of the next caught-up report */
};

/* The step's hook for a customer whose commit held: its records go to the
 * producer (their delivery overlaps the rest of the batch's state work). */
int rt_batch_committed(void *opaque, struct ac_store_cust *sc);
/* Drops the tick's round in flight without acknowledging it (a failed tick). */
void rt_tick_forget(struct runtime *rt);
/* Adds a committed customer's decisions to the batch's tallies. */
void rt_tally_decisions(struct runtime *rt, const struct ac_store_cust *sc);
/* The step's hook for an event the domain rejected: its DLQ record goes
 * through the outbox, as durable as the state change that skipped it. */
int rt_batch_rejected(void *opaque, struct ac_store_cust *sc, const struct ac_apply_in *in,
                      const char *reason);

/* Processes the gathered batch (rt->b): decode, load, apply, commit, its
 * records handed to the producer; then finishes the batch in flight, if any
 * (waits for its delivery reports, acknowledges its outbox and positions,
 * commits its offsets). The gathered batch becomes the one in flight, or,
 * with finish_now, is finished too. Retries transient failures until they
 * clear or a stop is requested. Returns 0, AC_ERR_TRANSIENT (stopped before
 * a batch was done: what it committed is delivered on redelivery) or
 * AC_ERR_FATAL. */
int rt_batch_process(struct runtime *rt, int finish_now);
/* Finishes the batch in flight, if any (the consumer is idle, a rebalance
 * or a stop). Returns as rt_batch_process. */
int rt_batch_drain(struct runtime *rt);
/* Destroys a batch's messages (before the consumer is destroyed). */
void rt_batch_release(struct rt_batch *b);
/* Allocates and frees a batch's arrays (batch_size entries each). */
int rt_batch_alloc(struct rt_batch *b, size_t n);
void rt_batch_free(struct rt_batch *b, size_t n);

/* Waits with backoff and reconnects to Redis. Returns 0 once connected,
 * AC_ERR_TRANSIENT if a stop was requested, AC_ERR_FATAL if Redis lost data.
 * Not ready meanwhile; readiness comes back with the next batch that
 * succeeds, or the next idle check. */
int rt_redis_recover(struct runtime *rt, int *backoff_ms);

#endif
