/* store.h — customers' records, the outbox, positions and the due index in Redis.
 *
 * Key layout (every key of one customer shares the hash tag of its bucket,
 * so one atomic call touches one Redis Cluster slot; see README.md):
 *
 *   <p>:{<b>}:c:<cid>   string  the customer's record (domain/record.h): state,
 *                               timers, watermarks, recent event ids and
 *                               decisions, in one compact binary value
 *   <p>:{<b>}:due       zset    one member per customer with timers (the
 *                               customer id), scored by its earliest due time
 *   <p>:{<b>}:k:<call>  string  a commit call whose records are not yet
 *                               confirmed by Kafka: per customer with records
 *                               its id, NUL, a 4-byte big-endian length and
 *                               its records (actions, signals, decisions,
 *                               rejected events); absent once delivered
 *   <p>:{<b>}:oz        zset    the bucket's call index: ids of such calls,
 *                               scored by Redis's time at the commit (ms):
 *                               the sweep finds what a dead writer left
 *   <p>:{<b>}:oc        set     the previous version's call index (a call's
 *                               value: its time, then outbox keys)
 *   <p>:{<b>}:o:<cid>   hash    an outbox of the previous versions (commit
 *                               version -> bundle of records), with
 *   <p>:{<b>}:ob        set     the oldest per-customer index: the previous
 *                               versions' keys are read by the sweep (and the
 *                               outbox by a replay), never written
 *   <p>:{<b>}:xc        hash    experiment counters "<exp>:<variant>:<what>"
 *   <p>:gen             string  generation id: detects a Redis that lost data
 *   <p>:pos:<group>     hash    "<topic>:<partition>" -> next offset to read
 *
 * <p> is the key prefix (default "ac"), <b> = fnv1a32(customer id) mod 1024.
 * Records of the previous layout (a state hash with separate timer, applied-id
 * and audit keys) are read and rewritten in the new form on their first commit.
 *
 * All batch calls pipeline: one round trip per phase per batch, never one per
 * customer. A store is not thread-safe. */
#ifndef AC_STORE_H
#define AC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "event.h"
#include "processor.h"
#include "record.h"

#define AC_STORE_BUCKETS 1024
/* Customers per commit call: the fixed cost of a Redis Function call is
 * larger than one customer's work. A Redis Cluster port groups a call's
 * customers by hash slot. */
#define AC_STORE_CUSTOMERS_PER_CALL 64

struct ac_store;

/* One outbox record: kind 'a' (aftercare.actions), 's' (aftercare.signals),
 * 'c' (aftercare.decisions), 'D' (a rejected event: aftercare.dlq). */
struct ac_outbox_rec {
    char id[AC_ACTION_ID_MAX];
    char kind;
    const char *payload; /* borrowed from the owning ac_store_cust */
    size_t len;
};

/* One customer's share of a load → apply → commit step. init/fini own the
 * buffers. */
struct ac_store_cust {
    char customer_id[AC_ID_MAX];
    unsigned bucket;
    /* out (load), in (commit): the record, changed in place by the domain */
    struct ac_record rec;
    int64_t loaded_version; /* the record's version at load: the commit's check */
    int exists;             /* the load found a record */
    int legacy;             /* the load found the previous layout */
    int64_t loaded_due;     /* earliest due time at load, AC_TS_NONE: none */
    int64_t index_due;      /* in: its score in the due index, when known (the
                               timer process); AC_TS_NONE: as the record says */
    /* out (ac_store_load_outbox): the records found in its outbox of an
     * earlier version (other commits' bundles) */
    struct ac_buf found;
    int n_found;
    struct ac_buf found_ids; /* their outbox fields, NUL-terminated */
    int n_found_ids;
    /* in (commit) */
    int dirty;             /* 1: commit this customer */
    struct ac_buf new_out; /* this step's records, serialized */
    int n_new_out;
    struct ac_buf counters; /* "field\0by\0" pairs */
    int n_counters;
    int status;  /* commit: 0 applied, AC_ERR_CONFLICT */
    int watched; /* loaded by ac_store_load_send_watch: the commit is optimistic */
    /* out (commit): what to produce and then acknowledge */
    struct ac_buf pending; /* serialized records; iterate with ac_store_pending_next */
    int n_pending;
    struct ac_buf pending_ids; /* their outbox fields, NUL-terminated */
    int n_pending_ids;
    /* the step's decisions, kept for metrics and reports once durable */
    struct ac_decision *decs;
    int n_decs, cap_decs;
    /* and its signals, for reports (simulate) */
    struct ac_signal *sigs;
    int n_sigs, cap_sigs;
    int tz_fallbacks, tz_missing, decisions_lost;
    int replayed;         /* the step skipped a redelivered input of this customer */
    int done;             /* the step is done with it: load and commit skip it */
    int produced;         /* its pending records went to the producer (a tick's round) */
    int inited;           /* ac_store_cust_init ran on this storage */
    uint64_t call_seq;    /* out (commit): the store's call that wrote its bundle, 0: none */
    unsigned call_bucket; /* that call's bucket */
    struct ac_buf blob;   /* scratch: the encoded record */
    char due[24];         /* scratch (commit): its due-index change, "" none, "-" remove, else
                             the new score */
    int pristine;         /* scratch (commit): nothing to keep, no record to write */
};

void ac_store_cust_init(struct ac_store_cust *sc, const char *customer_id);
void ac_store_cust_fini(struct ac_store_cust *sc);
/* Makes sc another customer's, keeping its memory (a batch's slots are
 * reused batch after batch). sc was initialised, or zeroed storage. */
void ac_store_cust_rebind(struct ac_store_cust *sc, const char *customer_id);
/* Clears the commit inputs and outputs, keeps the customer id and memory. */
void ac_store_cust_reset(struct ac_store_cust *sc);
/* Adds one record to new_out. */
int ac_store_cust_add_out(struct ac_store_cust *sc, const char *id, char kind, const void *p,
                          size_t len);
/* Adds an emit's counters and keeps its decisions and signals (for metrics and reports). */
int ac_store_cust_add_emit(struct ac_store_cust *sc, const struct ac_emit *out);
/* Makes the records found at load part of what is produced and acknowledged
 * (a redelivery after a crash, the outbox sweep). */
void ac_store_cust_take_found(struct ac_store_cust *sc);
/* The record's earliest due time (its due-index score), AC_TS_NONE if none. */
int64_t ac_store_next_due(const struct ac_record *rec);
/* Iterates over serialized records: *cursor starts at 0; returns 1 and fills
 * rec, or 0 at the end. rec->payload points into the buffer. */
int ac_store_pending_next(const struct ac_store_cust *sc, size_t *cursor,
                          struct ac_outbox_rec *rec);
int ac_store_records_next(const struct ac_buf *b, size_t *cursor, struct ac_outbox_rec *rec);

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
 * library. Returns 0, AC_ERR_TRANSIENT with errstr filled (retry), or
 * AC_ERR_FATAL when Redis refused the credentials (errstr never shows the
 * password). */
int ac_store_connect(struct ac_store *st, char *errstr, size_t errlen);
int ac_store_connected(const struct ac_store *st);
/* Redis run_id of the server last connected to (changes on restart). */
const char *ac_store_run_id(const struct ac_store *st);

/* Each consumer group keeps its own generation, <prefix>:gen:<group>, so a
 * process that never committed cannot hide another group's loss by creating
 * a fresh shared key (README: recovering from Redis data loss). Without a
 * name, the key is <prefix>:gen (tools and tests). */
void ac_store_set_generation_name(struct ac_store *st, const char *group);
/* Reads the generation id into out. If absent and create != 0, creates a new
 * one; a group without its own key takes over the shared key of the previous
 * version. Returns 0, AC_ERR_NOTFOUND (absent, create == 0), AC_ERR_TRANSIENT
 * or AC_ERR_FATAL (an error reply). */
int ac_store_generation(struct ac_store *st, int create, char out[40]);
/* Remembers the generation every later batch must see; a batch that finds a
 * different one fails with AC_ERR_FATAL (Redis lost its data). */
void ac_store_expect_generation(struct ac_store *st, const char *gen);

/* Loads the records of n customers in one pipeline. Returns 0,
 * AC_ERR_TRANSIENT (connection; retry) or AC_ERR_FATAL (lost data, an
 * error reply: a bug or a misconfigured Redis). */
int ac_store_load(struct ac_store *st, struct ac_store_cust *custs, size_t n);
/* The same, and their outboxes of earlier versions into found (the sweep). */
int ac_store_load_outbox(struct ac_store *st, struct ac_store_cust *custs, size_t n);
/* Commits every dirty customer atomically per customer (record, due entry,
 * outbox bundle, counters), checking the version it loaded; sets each
 * status (AC_ERR_CONFLICT: another writer got there first, reload) and, for
 * the applied ones, adds the new records to pending. Returns 0 (check the
 * statuses), AC_ERR_TRANSIENT or AC_ERR_FATAL. */
int ac_store_commit(struct ac_store *st, struct ac_store_cust *custs, size_t n);

/* The same in halves, so that several pipelines can be in flight on the
 * connection while the caller computes (step.c overlaps Redis's work on
 * one part with the apply of the next). _send appends the commands,
 * ac_store_flush writes them out without waiting, _recv reads the replies:
 * replies come back in the order the commands were sent, so the _recv calls
 * must follow the _send calls' order. After an error the connection is in an
 * unknown state: drop it (ac_store_drop) and start again. With legacy == 0,
 * _load_recv leaves a customer of the previous layout unread (legacy set):
 * reading it needs commands of its own, so load it again with
 * ac_store_load once nothing else is in flight.
 *
 * The optimistic commit. ac_store_load_send_watch loads under WATCH of the
 * customers' records (and reads Redis's clock); their commit then goes as
 * one MULTI ... EXEC of plain commands — the call's bundles and its entry
 * in the call index, every record in one MSET, the due entries, the
 * counters — which Redis runs only if no record was written since the load
 * (any writer, any process). If one was, nothing is written and every
 * customer of the commit comes back AC_ERR_CONFLICT (re-read and retried
 * through the function, which checks each customer's version on its own).
 * No byte of a record passes through Lua on this path. EXEC forgets every
 * watch of its connection, so a watched load and its commit must not have
 * another watched part's commit between them on one connection: the store
 * has two connections (lanes, ac_store_lane), and a step keeps parts k and
 * k+1 on different lanes. A watched load's commit always ends its watches
 * (EXEC, or UNWATCH when nothing was dirty). */
struct ac_store_ticket {
    size_t *calls_n;     /* customers per call of one commit */
    uint64_t *calls_seq; /* each call's sequence number (its id) */
    unsigned *calls_bucket;
    unsigned char *calls_tx; /* 1: the call went as MULTI, SET bundles, FCALL, EXEC */
    size_t n_calls, cap;
    int watched;     /* 1: one MULTI ... EXEC after a watched load; 2: only UNWATCH */
    size_t n_queued; /* watched: commands between MULTI and EXEC */
};
int ac_store_load_send(struct ac_store *st, struct ac_store_cust *custs, size_t n);
int ac_store_load_send_watch(struct ac_store *st, struct ac_store_cust *custs, size_t n);
int ac_store_load_recv(struct ac_store *st, struct ac_store_cust *custs, size_t n, int legacy);
int ac_store_commit_send(struct ac_store *st, struct ac_store_cust *custs, size_t n,
                         struct ac_store_ticket *t);
int ac_store_commit_recv(struct ac_store *st, struct ac_store_cust *custs, size_t n,
                         const struct ac_store_ticket *t);
void ac_store_ticket_fini(struct ac_store_ticket *t);
/* Makes lane 0 or 1 the connection every call uses until the next switch.
 * A dropped store is back on lane 0. ac_store_connected is true only with
 * both lanes up. */
void ac_store_lane(struct ac_store *st, int lane);
/* PINGs the lane not in use (the idle check): 0, or AC_ERR_TRANSIENT with
 * both dropped. */
int ac_store_ping_lanes(struct ac_store *st);
int ac_store_flush(struct ac_store *st);
/* Closes the connection (the next call reconnects). */
void ac_store_drop(struct ac_store *st);

/* Removes each customer's pending outbox fields (delivered), and the calls
 * of this store that wrote them from the call index, and records the next
 * offsets to read (parts/offsets of n_pos partitions) for group, in one
 * pipeline of plain commands. */
int ac_store_ack(struct ac_store *st, struct ac_store_cust *custs, size_t n, const char *group,
                 enum ac_topic topic, const int32_t *parts, const int64_t *offsets, size_t n_pos);
/* Reads the next offsets of partitions; -1 where none is recorded. */
int ac_store_positions(struct ac_store *st, const char *group, enum ac_topic topic,
                       const int32_t *parts, int64_t *offsets, size_t n);

/* Round-trip time of the last pipeline, seconds. */
double ac_store_last_rtt(const struct ac_store *st);

/* Customers with a timer due at or before now: up to max, over every
 * bucket starting at `start`; fn gets each customer id and its earliest due
 * time. Returns the number found or a negative enum ac_err. */
int ac_store_due(struct ac_store *st, int64_t now, unsigned start, size_t max,
                 void (*fn)(const char *customer_id, int64_t due, void *opaque), void *opaque);
/* Removes the due members of the previous layout the last ac_store_due
 * found (call it once their customers went through a step). */
int ac_store_due_forget_legacy(struct ac_store *st);
/* Event-time progress per input partition (<prefix>:ewm, "<Kafka topic>:<partition>"
 * -> ms): how far in event time the partition's processor has got; "now" when
 * it is caught up. Raised, never lowered. The timer process fires a timer due
 * at T only once every input partition has reached T (README: timers on
 * event time). */
int ac_store_event_time_publish(struct ac_store *st, const char *topic, const int32_t *parts,
                                const int64_t *times, size_t n);
/* Calls fn for every partition's published event time. */
int ac_store_event_times(struct ac_store *st,
                         void (*fn)(const char *field, int64_t at, void *opaque), void *opaque);
/* Customers with pending timers, and of those with one due at or before now. */
int ac_store_timer_counts(struct ac_store *st, int64_t now, int64_t *pending, int64_t *overdue);
/* Records their writer did not deliver, in the commit calls at least
 * min_age_ms old (on Redis's clock) still in the call indexes: a call of
 * this version hands its records to the swept records (ac_store_swept_next),
 * one of the previous version its customers to fn (stale = 1); then the
 * customers of the oldest per-customer index (stale = 0: the caller
 * decides, e.g. seen by two sweeps). Up to max customers of each, a call's
 * all or none. fn's customers are read with ac_store_load_outbox. Remembers
 * the calls handed out for ac_store_outbox_done. Returns the count or a
 * negative enum ac_err. */
int ac_store_outbox_customers(struct ac_store *st, unsigned start, size_t max, int64_t min_age_ms,
                              void (*fn)(const char *customer_id, int stale, void *opaque),
                              void *opaque);
/* After the sweep delivered custs[0..n) and the swept records: drops them
 * from the oldest outbox index where their outbox is empty, drops the calls
 * of this version the last scan handed out (delivered whole), and those of
 * the previous version whose outboxes are all empty. */
int ac_store_outbox_done(struct ac_store *st, struct ac_store_cust *custs, size_t n);
/* After a step that skipped redelivered events (custs[i].replayed), whose
 * records may be undelivered (the writer died after its commit): the calls
 * holding a bundle of those customers (except this store's calls numbered
 * above since_seq: the step's own) become swept records, whole, and the
 * outboxes of earlier versions of those customers too (their fields join
 * the customers' pending_ids, acknowledged by ac_store_ack). Deliver the
 * swept records, then ac_store_outbox_done(st, NULL, 0). Returns how many
 * records, or a negative enum ac_err. A live writer's call found this way
 * goes out twice, under the same ids. */
int ac_store_outbox_replayed(struct ac_store *st, struct ac_store_cust *custs, size_t n,
                             uint64_t since_seq);
/* The calls a replay found (ac_store_outbox_replayed), for a writer with
 * more than one step unacknowledged (two batches in flight): it takes them
 * out of the store after delivering their records, and hands them back just
 * before its ac_store_outbox_done. The list's format is the store's. */
struct ac_store_calls {
    struct ac_buf list;
    size_t n;
};
/* Exchanges the store's list of found calls with *c (both stay owned: the
 * store's buffer is freed with it, c's by its owner). */
void ac_store_swept_calls_swap(struct ac_store *st, struct ac_store_calls *c);
/* The number of this store's last commit call (before a step: its since_seq). */
uint64_t ac_store_call_seq(const struct ac_store *st);
/* The records of the calls the last ac_store_outbox_customers or
 * ac_store_outbox_replayed handed out: their count, and each with its
 * customer (*cursor starts at 0; returns 0 at the end). */
size_t ac_store_swept_count(const struct ac_store *st);
int ac_store_swept_next(const struct ac_store *st, size_t *cursor, const char **customer_id,
                        struct ac_outbox_rec *rec);

/* Raw access for tools and tests: a command, reply freed by the caller with
 * ac_store_reply_free(). NULL on a connection error. */
void *ac_store_command(struct ac_store *st, const char *fmt, ...);
void ac_store_reply_free(void *reply);
/* Key of a customer's record ("ac:{17}:c:cust-1") into out. */
void ac_store_state_key(const struct ac_store *st, const char *customer_id, char *out,
                        size_t outlen);

#endif
