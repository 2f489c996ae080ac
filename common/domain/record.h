/* record.h — one customer's whole durable record, and its compact encoding.
 *
 * Everything aftercare keeps about a customer travels together: the state
 * (customer.h), the pending timers (timer.h), the input positions already
 * applied (a watermark per topic and partition), a bounded window of recent
 * event-id hashes (upstream duplicates), and a short ring of the newest
 * decisions (for `aftercare inspect`; the full audit log is the
 * aftercare.decisions topic). The runtime stores the encoding as one Redis
 * string per customer and writes it whole, atomically, with the outbox
 * records the change produced.
 *
 * Encoding, format 1 (all integers varints, signed ones zigzag; wire.h):
 *
 *   0xAC, format byte (1), version (8 bytes, big-endian: the optimistic-
 *   concurrency counter, at a fixed offset so a Redis Function can compare
 *   it without decoding), then sections, each "id, length, bytes" (a reader
 *   skips an id it does not know, so a newer version's sections are
 *   harmless), then a 0:
 *     1 state      customer fields that differ from a new customer's
 *     2 watermarks n × (topic, partition, highest offset applied)
 *     3 seen       n × (8-byte event-id hash, event time)
 *     4 strings    n × string: rule ids, reasons and families, each once
 *     5 triggers   n × trigger (the event a timer was scheduled from), each
 *                  once however many timers share it
 *     6 timers     n × (flags, [id], rule, part, trigger, due - trigger time,
 *                  due - first due, [expiry - first due], [seq], [reason],
 *                  [family, price]); the deltas in whole seconds when they are
 *     7 recent     n × (time delta, rule, decision, reason); the full decision,
 *                  with its action id, is on aftercare.decisions
 *
 * A timer's id is left out when it is the one the engine derives from its
 * rule, trigger, part and seq (ac_action_id), which it nearly always is.
 * Bound: a record never holds more than AC_TIMERS_MAX timers,
 * AC_RECORD_WM_MAX watermarks, AC_RECORD_SEEN_MAX hashes and
 * AC_RECORD_RECENT_MAX decisions, so a customer with 1,000 events of history
 * costs no more than one with ten plus its pending timers. */
#ifndef AC_RECORD_H
#define AC_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "customer.h"
#include "emit.h"
#include "timer.h"

#define AC_RECORD_MAGIC 0xAC
#define AC_RECORD_FORMAT 1
#define AC_RECORD_VERSION_AT 2 /* byte offset of the 8-byte version */

#define AC_RECORD_WM_MAX 16
#define AC_RECORD_SEEN_MAX 64
/* Event ids are remembered for this long in event time after the customer's
 * newest event (and at most AC_RECORD_SEEN_MAX of them): upstream duplicates
 * (a producer's retry, a re-sent export) arrive close together. */
#define AC_RECORD_SEEN_WINDOW_MS (30LL * 24 * 3600 * 1000)
#define AC_RECORD_RECENT_MAX 8

struct ac_record_wm {
    int topic; /* enum ac_topic */
    int32_t partition;
    int64_t offset;
};

struct ac_record_seen {
    uint64_t hash; /* of the event id */
    int64_t at;    /* its event time */
};

struct ac_record_recent {
    int64_t at;
    char rule_id[AC_NAME_MAX];
    char decision[16];
    char reason[64];
    char action_id[AC_ACTION_ID_MAX];
};

struct ac_record {
    struct ac_customer state; /* state.version is the record's version */
    struct ac_timerset timers;
    struct ac_record_wm wm[AC_RECORD_WM_MAX];
    int n_wm;
    struct ac_record_seen seen[AC_RECORD_SEEN_MAX];
    int n_seen;
    struct ac_record_recent recent[AC_RECORD_RECENT_MAX]; /* oldest first */
    int n_recent;
    /* bounds reached while applying (not stored; the caller counts them) */
    int seen_evicted;
    int wm_evicted;
};

/* A new customer's record. Free with ac_record_fini(). */
void ac_record_init(struct ac_record *rec, const char *customer_id);
void ac_record_fini(struct ac_record *rec);
/* Back to a new customer's record, keeping the memory. */
void ac_record_reset(struct ac_record *rec, const char *customer_id);

/* Appends the encoding to out. Returns 0, AC_ERR_NOMEM, or AC_ERR_INVALID
 * if a string the format cannot hold is present. */
int ac_record_encode(const struct ac_record *rec, struct ac_buf *out);
/* The same with the scratch memory of a previous encoding (the store's hot
 * path: no allocation once the scratch has grown to the records seen). */
struct ac_record_enc;
struct ac_record_enc *ac_record_enc_new(void);
void ac_record_enc_free(struct ac_record_enc *e);
int ac_record_encode_with(struct ac_record_enc *e, const struct ac_record *rec, struct ac_buf *out);
/* Reads an encoding (len 0: a new customer). Returns 0, or AC_ERR_INVALID
 * for bytes that are not a record of a known format (rec is then a new
 * customer's record). */
int ac_record_decode(struct ac_record *rec, const char *customer_id, const void *p, size_t len);

/* The 8 bytes at AC_RECORD_VERSION_AT for a version. */
void ac_record_version_bytes(int64_t version, unsigned char out[8]);

/* Highest offset of (topic, partition) applied, or -1. */
int64_t ac_record_watermark(const struct ac_record *rec, int topic, int32_t partition);
/* Raises the watermark (evicting the lowest one when full: counted). */
void ac_record_set_watermark(struct ac_record *rec, int topic, int32_t partition, int64_t offset);

/* 1 if the event id is in the window. */
int ac_record_seen_has(const struct ac_record *rec, const char *event_id);
/* Remembers an event id; forgets those older than the window, and the
 * oldest when full (counted in rec->seen_evicted). */
void ac_record_seen_add(struct ac_record *rec, const char *event_id, int64_t at);

/* Adds a decision to the ring (the oldest falls out). */
void ac_record_recent_add(struct ac_record *rec, const struct ac_decision *d);

#endif
