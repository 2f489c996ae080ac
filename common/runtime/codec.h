/* codec.h — Avro encoding and decoding of the contracts in schemas/.
 *
 * Input may be Confluent-framed (magic byte 0, 4-byte big-endian schema id,
 * Avro binary) or plain Avro binary written with the project's own schema.
 * Framed input is decoded with the writer schema registered under its id and
 * resolved against the project's reader schema (Avro schema resolution), so a
 * newer writer that adds optional fields is read.
 *
 * Writer schemas are registered from files named <id>.avsc (or
 * <id>-<anything>.avsc) in the registry directory given to ac_codec_new().
 * The project's own schemas have the fixed ids below; they need no file.
 *
 * A plain (unframed) message never starts with byte 0: that would be an
 * empty first string (event_id, action_id, signal_id), which is invalid
 * anyway. So a leading 0 always means Confluent framing.
 *
 * Writers are resolved onto the project's reader schema with avro-c's
 * resolved reader, built on first use per (writer id, reader) and cached.
 * avro-c 1.11 does not apply reader defaults: a writer must carry every
 * field of the reader (newer writers may add fields; see schemas/README.md).
 * Enum symbols are matched by name, not index.
 *
 * Every message is checked against its writer schema before avro-c reads
 * it (lengths, enum and union indexes, no trailing bytes), so hostile input
 * cannot make avro-c allocate or leak.
 *
 * A codec is not thread-safe; use one per thread. */
#ifndef AC_CODEC_H
#define AC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "decision_rec.h"
#include "event.h"

/* Schema ids of the project's own schemas (as written by `aftercare produce`). */
enum ac_schema {
    AC_SCHEMA_ORDERS = 1, /* ids 1..4 follow enum ac_topic + 1 */
    AC_SCHEMA_DELIVERIES = 2,
    AC_SCHEMA_FEEDBACK = 3,
    AC_SCHEMA_USAGE = 4,
    AC_SCHEMA_ACTIONS = 5,
    AC_SCHEMA_SIGNALS = 6,
    AC_SCHEMA_DECISIONS = 7,
};

#define AC_MAX_MESSAGE_BYTES (256 * 1024) /* larger input: DLQ "oversize" */

/* Event times the decoder accepts: [1990-01-01T00:00:00Z, 2100-01-01T00:00:00Z).
 * The lower bound rejects zero-ish epochs (a 1970 timestamp is a bug
 * upstream, not an event) yet keeps old order history replayable (the
 * CDNOW sample the models are fitted on is from 1997-98); the upper bound
 * keeps every time far from int64 overflow in the arithmetic done on it
 * (durations up to 100 years are added to event times). The runtime also
 * refuses events too far ahead of its wall clock (max_future_ms). */
#define AC_EVENT_TS_MIN INT64_C(631152000000)  /* 1990-01-01T00:00:00Z */
#define AC_EVENT_TS_MAX INT64_C(4102444800000) /* 2100-01-01T00:00:00Z, excluded */

/* Largest money amount the decoder accepts (total_cents, unit_price_cents):
 * 1e13 cents, 100 billion units of any currency: far above any real order,
 * far below int64 (900,000 orders of that size still fit in a revenue).
 * Sums kept in customer state are checked for overflow anyway
 * (processors/orders). */
#define AC_MAX_MONEY_CENTS INT64_C(10000000000000)

struct ac_codec;

/* Loads the schemas from schema_dir (orders.avsc, deliveries.avsc,
 * feedback.avsc, usage.avsc, actions.avsc, signals.avsc, decisions.avsc) and
 * the extra writer schemas from registry_dir (may be NULL). Returns NULL and
 * fills errstr on failure. The caller owns the codec: free with ac_codec_destroy(). */
struct ac_codec *ac_codec_new(const char *schema_dir, const char *registry_dir, char *errstr,
                              size_t errlen);
void ac_codec_destroy(struct ac_codec *codec);

/* Decodes one message of topic t into *ev (caller's storage, fully
 * overwritten). Returns 0, or AC_ERR_INVALID with a short machine-readable
 * reason in reason[]: "oversize", "empty", "unknown_schema_id:<id>",
 * "undecodable", "missing_field:<name>", "too_long:<name>",
 * "absurd_value:<name>", "bad_utf8:<name>", "bad_type:<symbol>", and
 * "incompatible_schema_id:<id>" when the framed writer schema is known but
 * is another contract (or cannot be resolved onto this topic's schema).
 * Fields inside order lines are named "items.<field>" (e.g.
 * "absurd_value:items.quantity"); a map or array with more entries than the
 * struct holds is "too_long:<field>". Absent nullable values come back as
 * "" / AC_TS_NONE / -1 (score, frequency_opt_in). The entries of an
 * array past its count (items, answers, consents) are not cleared: they keep
 * what *ev held (zeroing the whole 14 KB struct per event was 7 % of a
 * processor's CPU).
 *
 * Checked here:
 * - non-empty event_id and customer_id;
 * - every string (map keys and values included) is well-formed UTF-8
 *   ("bad_utf8:<field>", e.g. "bad_utf8:items.sku") without NUL bytes
 *   ("absurd_value:<field>") and fits its struct field ("too_long:<field>");
 * - occurred_at and every non-null timestamp (renewal_at,
 *   estimated_delivery_at, new_estimated_delivery_at) within
 *   [AC_EVENT_TS_MIN, AC_EVENT_TS_MAX), i.e. 1990 to 2099 UTC
 *   ("absurd_value:<field>");
 * - 0 <= total_cents, unit_price_cents <= AC_MAX_MONEY_CENTS (1e13);
 * - 0 < quantity <= 1e6 per item; usage quantity >= 0;
 * - score within its scale (a score without a scale is "missing_field:scale").
 * Not checked here: event time against the clock (the runtime does), the
 * Kafka key (ac_codec_check_key()). */
int ac_codec_decode_event(struct ac_codec *codec, enum ac_topic t, const void *buf, size_t len,
                          struct ac_event *ev, char *reason, size_t rlen);

/* Checks a consumed message's Kafka key against the event it carries:
 * per-customer ordering rests on the key, so it must be present, non-empty
 * and byte for byte the customer id. key may be NULL (a null key). Returns
 * 0, or AC_ERR_INVALID with reason "missing_key" (NULL or empty key) or
 * "key_mismatch" (any other difference, an embedded NUL included). */
int ac_codec_check_key(const struct ac_event *ev, const void *key, size_t key_len, char *reason,
                       size_t rlen);

/* Encodes *ev as Confluent-framed Avro (schema id 1..4) when framed != 0,
 * else plain Avro binary. Appends to out. Returns 0 or a negative ac_err
 * (AC_ERR_INVALID for an enum symbol the schema does not have, e.g. an
 * empty ev->type). The encoder does not apply the decoder's checks. */
int ac_codec_encode_event(struct ac_codec *codec, const struct ac_event *ev, int framed,
                          struct ac_buf *out);

/* Encode an action / a signal as Confluent-framed Avro. */
int ac_codec_encode_action(struct ac_codec *codec, const struct ac_action *a, struct ac_buf *out);
int ac_codec_encode_signal(struct ac_codec *codec, const struct ac_signal *s, struct ac_buf *out);
/* aftercare.decisions (schema id 7, codec_decision.c): one record per
 * customer and change (an applied event, a timer round) holding the n
 * decisions it made, in order. Written in three calls appending to out:
 * _begin (the framing, the customer id, the array's count n > 0), exactly n
 * _add, then _end. Each returns 0, AC_ERR_INVALID (n <= 0; a decision
 * symbol the schema does not have; a negative or too large n_signals) or
 * AC_ERR_NOMEM; after an error the record in out is unusable. _add ignores
 * d->customer_id (the record's is _begin's). */
int ac_codec_decisions_begin(struct ac_buf *out, const char *customer_id, int n);
int ac_codec_decisions_add(struct ac_buf *out, const struct ac_decision_rec *d);
int ac_codec_decisions_end(struct ac_buf *out);
/* A record of one decision, d->customer_id's. On an error nothing is
 * appended. */
int ac_codec_encode_decision(struct ac_codec *codec, const struct ac_decision_rec *d,
                             struct ac_buf *out);

/* Decode an action (framed or plain). Returns 0 or AC_ERR_INVALID. */
int ac_codec_decode_action(struct ac_codec *codec, const void *buf, size_t len,
                           struct ac_action *a);

/* Schema named by `name` ("orders", ..., "actions", "signals", "decisions"): converts one
 * JSON object (a line of `aftercare produce`) into Confluent-framed Avro.
 * Timestamps may be ISO-8601 strings or epoch ms; money is integer cents;
 * missing nullable fields are null, other missing fields take the schema's
 * default. ISO-8601 means "YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm|+hhmm]"; a zone
 * is required and digits past the millisecond are dropped. Unknown keys and
 * duplicate keys are errors. On error returns AC_ERR_INVALID with a human
 * message in err[] naming the field, e.g. "items[2].quantity: expected
 * integer" or "unknown field 'colour'". Values are not checked the way
 * ac_codec_decode_event() checks them, so bad events can be produced on
 * purpose. */
int ac_codec_json_to_avro(struct ac_codec *codec, const char *name, const char *json,
                          struct ac_buf *out, char *err, size_t errlen);

/* Converts one framed or plain Avro record of schema `name` into one line of
 * JSON (no newline), timestamps as ISO-8601 UTC with milliseconds (as
 * epoch ms outside the years 0000..9999, which ISO-8601 strings of this
 * form cannot hold: the line always converts back). Fields in
 * the order of the writer's schema: a newer writer's extra fields are shown.
 * Unions are written as their plain value, doubles in the shortest form
 * that reads back (NaN and infinities as null). Returns 0, or
 * AC_ERR_INVALID with the DLQ-style reason in err[]; nothing is appended to
 * json on failure. */
int ac_codec_avro_to_json(struct ac_codec *codec, const char *name, const void *buf, size_t len,
                          struct ac_buf *json, char *err, size_t errlen);

#endif
