/* store.h — per-customer state, dedup, outbox and positions in Redis.
 *
 * Key layout (every key of one customer shares the hash tag of its bucket,
 * so one atomic call touches one Redis Cluster slot; see common/README.md):
 *
 *   <p>:{<b>}:c:<cid>   hash   the customer's state (customer.h fields),
 *                              version `v`, watermarks `w:<topic>:<partition>`
 *   <p>:{<b>}:e:<cid>   zset   applied event ids (score = event time), capped;
 *                              its size is kept in the state hash as `e.n`
 *   <p>:{<b>}:o:<cid>   hash   outbox: record id -> kind byte + Avro bytes
 *   <p>:{<b>}:t:<cid>   hash   pending timers: timer id -> JSON (timer.h)
 *   <p>:{<b>}:a:<cid>   list   audit trail: the newest decisions, JSON
 *   <p>:{<b>}:due       zset   the bucket's timers by due time (member:
 *                              timer id + customer id)
 *   <p>:{<b>}:ob        set    state keys of the bucket's customers with
 *                              outbox records (for the timer process's sweep)
 *   <p>:{<b>}:xc        hash   experiment counters "<exp>:<variant>:<what>"
 *   <p>:gen             string generation id: detects a Redis that lost data
 *   <p>:pos:<group>     hash   "<topic>:<partition>" -> next offset to read
 *
 * <p> is the key prefix (default "ac"), <b> = fnv1a32(customer id) mod 1024.
 *
 * All batch calls pipeline: one round trip per phase per batch, never one per
 * event. A store is not thread-safe. */
#ifndef AC_STORE_H
#define AC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "customer.h"
#include "processor.h"
#include "event.h"
#include "timer.h"

#define AC_STORE_BUCKETS 1024
#define AC_STORE_WM_MAX 8
#define AC_STORE_SEEN_CAP 512 /* event ids remembered per customer */
/* Customers per commit call: the fixed cost of a Redis Function call is
 * larger than one customer's work. All of a call's keys are declared; a
 * Redis Cluster port groups a call's customers by hash slot instead. */
#define AC_STORE_CUSTOMERS_PER_CALL 64

struct ac_store;

/* One outbox record: kind 'a' (aftercare.actions) or 's' (aftercare.signals). */
struct ac_outbox_rec {
    char id[AC_ACTION_ID_MAX];
    char kind;
    const char *payload; /* borrowed from the owning ac_store_cust */
    size_t len;
};

struct ac_store_wm {
    int32_t partition;
    int64_t offset;
};

/* One customer's share of a batch. ac_store_cust_init/fini own the buffers. */
struct ac_store_cust {
    char customer_id[AC_ID_MAX];
    unsigned bucket;
    /* in (load): event ids to check against the applied set; borrowed */
    const char **event_ids;
    int n_event_ids;
    /* in (load): load only these timers (the timer process: the due ones);
     * n_timer_ids == 0 loads all of them. Borrowed. */
    const char **timer_ids;
    int n_timer_ids;
    /* out (load) */
    struct ac_customer state;
    struct ac_store_wm wm[AC_STORE_WM_MAX]; /* of the loading topic */
    int n_wm;
    unsigned char *seen; /* [n_event_ids]; 1 = already applied. Owned. */
    int64_t n_applied;   /* size of the applied-id set (state field e.n) */
    int had_pending;     /* the load found outbox records */
    /* in (commit) */
    int dirty;              /* 1: commit this customer */
    struct ac_buf fields;   /* "name\0value\0" pairs (ac_customer_diff) */
    int n_fields;
    struct ac_buf seen_add; /* "score\0event_id\0" pairs */
    int n_seen_add;
    int32_t partition;      /* watermark to set: partition and highest offset */
    int64_t offset;
    struct ac_buf new_out;  /* new outbox records, serialized */
    int n_new_out;
    /* out (load and commit): the records pending in the outbox */
    struct ac_buf pending;  /* serialized; iterate with ac_store_pending_next */
    int n_pending;
    int status;             /* commit: 0 applied, AC_ERR_CONFLICT, 1 already applied */
    /* timers: loaded, changed in place by the domain code, written by the
     * commit (the changed ones and the removed ids). Owned. */
    struct ac_timerset *timers;
    struct ac_buf audit;    /* in (commit): audit entries, NUL-terminated JSON */
    int n_audit;
    struct ac_buf counters; /* in (commit): "field\0by\0" pairs */
    int n_counters;
    int no_watermark;       /* commit without a watermark (the timer process) */
};

void ac_store_cust_init(struct ac_store_cust *sc, const char *customer_id);
void ac_store_cust_fini(struct ac_store_cust *sc);
/* Clears the commit inputs and outputs, keeps the customer id. */
void ac_store_cust_reset(struct ac_store_cust *sc);
/* Adds one record to new_out. */
int ac_store_cust_add_out(struct ac_store_cust *sc, const char *id, char kind, const void *p,
                          size_t len);
/* Adds the decisions and counters of an emit to the commit inputs. */
int ac_store_cust_add_emit(struct ac_store_cust *sc, const struct ac_emit *out);
/* Iterates over pending records: *cursor starts at 0; returns 1 and fills
 * rec, or 0 at the end. rec->payload points into sc->pending. */
int ac_store_pending_next(const struct ac_store_cust *sc, size_t *cursor,
                          struct ac_outbox_rec *rec);
/* Highest applied offset of (topic, partition) for this customer, or -1. */
int64_t ac_store_cust_watermark(const struct ac_store_cust *sc, int32_t partition);

/* 32-bit FNV-1a of a string: the bucket hash, and the batch's customer map. */
uint32_t ac_store_hash(const char *s);
/* The customer's bucket: ac_store_hash(customer_id) mod AC_STORE_BUCKETS. Part
 * of the key layout: changing it moves every customer. */
unsigned ac_store_bucket(const char *customer_id);

/* url: redis://[[user]:password@]host[:port][/db]. prefix: key prefix.
 * Does not connect. Returns NULL and fills errstr on a bad URL. */
struct ac_store *ac_store_new(const char *url, const char *prefix, char *errstr, size_t errlen);
void ac_store_destroy(struct ac_store *st);

/* (Re)connects, authenticates, selects the db and loads the function
 * library. Returns 0 or AC_ERR_TRANSIENT with errstr filled. */
int ac_store_connect(struct ac_store *st, char *errstr, size_t errlen);
int ac_store_connected(const struct ac_store *st);
/* Redis run_id of the server last connected to (changes on restart). */
const char *ac_store_run_id(const struct ac_store *st);

/* Reads the generation id into out. If absent and create != 0, creates a new
 * one. Returns 0, AC_ERR_NOTFOUND (absent, create == 0), or AC_ERR_TRANSIENT. */
int ac_store_generation(struct ac_store *st, int create, char out[40]);
/* Remembers the generation every later batch must see; a batch that finds a
 * different one fails with AC_ERR_FATAL (Redis lost its data). */
void ac_store_expect_generation(struct ac_store *st, const char *gen);

/* Loads state, watermarks of topic, applied flags and pending outbox of n
 * customers in one pipeline. Returns 0, AC_ERR_TRANSIENT or AC_ERR_FATAL. */
int ac_store_load(struct ac_store *st, enum ac_topic topic, struct ac_store_cust *custs,
                  size_t n);
/* Commits every dirty customer atomically per customer (state, version,
 * watermark, applied ids, outbox) in one pipeline; sets each status and
 * refreshes pending. Returns 0 (check statuses), AC_ERR_TRANSIENT or FATAL. */
int ac_store_commit(struct ac_store *st, enum ac_topic topic, struct ac_store_cust *custs,
                    size_t n);
/* Removes delivered records (each customer's pending set) from the outboxes
 * and records the next offsets to read (parts/offsets of n_pos partitions)
 * for group, in one pipeline. */
int ac_store_ack(struct ac_store *st, struct ac_store_cust *custs, size_t n, const char *group,
                 enum ac_topic topic, const int32_t *parts, const int64_t *offsets, size_t n_pos);
/* Reads the next offsets of partitions; -1 where none is recorded. */
int ac_store_positions(struct ac_store *st, const char *group, enum ac_topic topic,
                       const int32_t *parts, int64_t *offsets, size_t n);

/* Round-trip time of the last pipeline, seconds. */
double ac_store_last_rtt(const struct ac_store *st);

/* Due timers: up to max (customer id, timer id) pairs with due <= now,
 * over every bucket, starting at bucket `start`. fn is called per pair. Returns the
 * number of pairs or a negative enum ac_err. */
int ac_store_due(struct ac_store *st, int64_t now, unsigned start, size_t max,
                 void (*fn)(const char *customer_id, const char *timer_id, int64_t due,
                            void *opaque),
                 void *opaque);
/* Number of pending timers, and of those due at or before now (for metrics). */
int ac_store_timer_counts(struct ac_store *st, int64_t now, int64_t *pending, int64_t *overdue);
/* Customers with records in their outbox, per the outbox index, up to max:
 * fn gets each customer id. Returns the count or a negative enum ac_err. */
int ac_store_outbox_customers(struct ac_store *st, unsigned start, size_t max,
                              void (*fn)(const char *customer_id, void *opaque), void *opaque);
/* Drops customers whose outbox is empty from the outbox index (ac_store_ack
 * does it for the customers it acknowledges). */
int ac_store_outbox_done(struct ac_store *st, struct ac_store_cust *custs, size_t n);

/* Raw access for tools and tests: a command, reply freed by the caller with
 * ac_store_reply_free(). NULL on a connection error. */
void *ac_store_command(struct ac_store *st, const char *fmt, ...);
void ac_store_reply_free(void *reply);
/* Key of a customer's state hash ("ac:{17}:c:cust-1") into out. */
void ac_store_state_key(const struct ac_store *st, const char *customer_id, char *out,
                        size_t outlen);

#endif
