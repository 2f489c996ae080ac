/* codec_decision.c — struct ac_decision_rec to Avro (schemas/decisions.avsc):
 * one record per customer and change, an array of the decisions it made.
 *
 * Its own file so the audit-log contract can change without touching the
 * event codec. Every event writes about a dozen decisions, so this encoder
 * writes the Avro binary itself instead of going through avro-c's generic
 * value API: the fields in the order of decisions.avsc, ints and longs as
 * zigzag varints, strings as their length then their bytes, a ["null", X]
 * union as its branch index (a long) then the value, the enum as its index,
 * the map as one block (count, entries, then the 0 that ends it).
 *
 * It writes exactly the bytes the generic API wrote (tests/unit/
 * test_codec_decision.c keeps that reference and compares the two), so:
 * - a string is its bytes up to the first NUL (never past its field), as
 *   they are: not checked for UTF-8, as avro-c did not check them either, so
 *   the caller must pass well-formed UTF-8 (utf8.h);
 * - a signal key given twice is one map entry, at the key's first place,
 *   with the last value given (avro-c's map semantics).
 * A change to decisions.avsc's fields needs the same change here; the enum
 * table below is checked against the schema by the unit test. */
#include <string.h>

#include "codec_int.h"
#include "err.h"

/* Largest encoding: the header, every string of the struct at its full
 * size (their sum is below sizeof the struct), and at most
 * DECISION_VARINTS varints of at most 10 bytes each: 6 strings' lengths,
 * part, the enum, 6 unions' indexes, 4 optional strings' lengths, 2
 * optional timestamps, the map's count, 2 lengths per entry, its ending 0
 * and decided_at. */
#define DECISION_VARINTS (6 + 1 + 1 + 6 + 4 + 2 + 1 + 2 * AC_DECISION_REC_SIGNALS_MAX + 1 + 1)
#define DECISION_BYTES_MAX (sizeof(struct ac_decision_rec) + 10 * DECISION_VARINTS)

/* The symbols of DecisionKind in the order of decisions.avsc: the index
 * written is the position here. */
const char *const codec_decision_symbols[CODEC_DECISION_N_SYMBOLS] = {
    "emitted",    "scheduled", "deferred", "rescheduled", "merged", "capped",
    "suppressed", "held_out",  "expired",  "cancelled",   "exited", "dropped"};

static int decision_symbol(const char *sym)
{
    for (int i = 0; i < CODEC_DECISION_N_SYMBOLS; i++) {
        /* the first byte rules out most symbols without a call */
        if (sym[0] == codec_decision_symbols[i][0] && strcmp(sym, codec_decision_symbols[i]) == 0) {
            return i;
        }
    }
    return -1;
}

/* Writes x as a zigzag varint (an Avro int or long) at p; returns the new
 * end. An int32 sign-extended gives the bytes Avro's int encoding gives. */
static unsigned char *decision_put_long(unsigned char *p, int64_t x)
{
    uint64_t z = ((uint64_t)x << 1) ^ (0 - ((uint64_t)x >> 63));
    while (z > 0x7f) {
        *p++ = (unsigned char)(z | 0x80);
        z >>= 7;
    }
    *p++ = (unsigned char)z;
    return p;
}

/* A string field of size bytes: its length, then its bytes up to the NUL,
 * never past the field. The bytes are copied while they are counted, one
 * byte after p: a length below 64 is one byte of varint; a longer string is
 * moved up to make room for its longer length (rare: ids and names are short). */
static unsigned char *decision_put_str(unsigned char *p, const char *s, size_t size)
{
    size_t n = 0;
    while (n < size && s[n] != '\0') {
        p[1 + n] = (unsigned char)s[n];
        n++;
    }
    if (n < 64) {
        p[0] = (unsigned char)(n << 1);
        return p + 1 + n;
    }
    unsigned char len[10];
    size_t k = (size_t)(decision_put_long(len, (int64_t)n) - len);
    memmove(p + k, p + 1, n);
    memcpy(p, len, k);
    return p + k + n;
}

/* ["null", "string"]: "" is null (branch 0), else branch 1 and the string. */
static unsigned char *decision_put_opt_str(unsigned char *p, const char *s, size_t size)
{
    if (s[0] == '\0') {
        return decision_put_long(p, 0);
    }
    return decision_put_str(decision_put_long(p, 1), s, size);
}

/* ["null", timestamp-millis]: AC_TS_NONE is null. */
static unsigned char *decision_put_opt_ts(unsigned char *p, int64_t ms)
{
    if (ms == AC_TS_NONE) {
        return decision_put_long(p, 0);
    }
    return decision_put_long(decision_put_long(p, 1), ms);
}

static int decision_same_key(const struct ac_kv *a, const struct ac_kv *b)
{
    return a->key[0] == b->key[0] && strncmp(a->key, b->key, sizeof(a->key)) == 0;
}

/* 1 when signal i's key is also the key of an earlier signal. */
static int decision_key_seen(const struct ac_kv *kv, int i)
{
    for (int j = 0; j < i; j++) {
        if (decision_same_key(&kv[j], &kv[i])) {
            return 1;
        }
    }
    return 0;
}

/* map<string>: one block of the distinct keys (each with the last value
 * given for it), then the 0 that ends the map; an empty map is the 0 alone. */
static unsigned char *decision_put_map(unsigned char *p, const struct ac_kv *kv, int n)
{
    int distinct = 0;
    for (int i = 0; i < n; i++) {
        distinct += !decision_key_seen(kv, i);
    }
    if (distinct > 0) {
        p = decision_put_long(p, distinct);
        for (int i = 0; i < n; i++) {
            if (distinct < n && decision_key_seen(kv, i)) {
                continue;
            }
            const char *value = kv[i].value;
            for (int j = i + 1; distinct < n && j < n; j++) {
                if (decision_same_key(&kv[j], &kv[i])) {
                    value = kv[j].value;
                }
            }
            p = decision_put_str(p, kv[i].key, sizeof(kv[i].key));
            p = decision_put_str(p, value, sizeof(kv[i].value));
        }
    }
    return decision_put_long(p, 0);
}

/* Appends bytes [buf, p) to out, keeping the NUL ac_buf promises. */
static int decision_flush(struct ac_buf *out, const unsigned char *buf, const unsigned char *p)
{
    return ac_buf_append(out, buf, (size_t)(p - buf));
}

int ac_codec_decisions_begin(struct ac_buf *out, const char *customer_id, int n)
{
    unsigned char buf[5 + 10 + AC_ID_MAX + 10];
    unsigned char *p = buf;
    if (n <= 0) {
        return AC_ERR_INVALID;
    }
    /* Confluent framing: magic byte 0, schema id as 4 bytes big-endian. */
    *p++ = 0;
    *p++ = (unsigned char)((uint32_t)AC_SCHEMA_DECISIONS >> 24);
    *p++ = (unsigned char)((uint32_t)AC_SCHEMA_DECISIONS >> 16);
    *p++ = (unsigned char)((uint32_t)AC_SCHEMA_DECISIONS >> 8);
    *p++ = (unsigned char)AC_SCHEMA_DECISIONS;
    p = decision_put_str(p, customer_id, AC_ID_MAX);
    /* the array as one block of n items */
    p = decision_put_long(p, n);
    return decision_flush(out, buf, p);
}

int ac_codec_decisions_add(struct ac_buf *out, const struct ac_decision_rec *d)
{
    unsigned char buf[DECISION_BYTES_MAX];
    unsigned char *p = buf;
    int sym = decision_symbol(d->decision);
    if (sym < 0 || d->n_signals < 0 || d->n_signals > AC_DECISION_REC_SIGNALS_MAX) {
        return AC_ERR_INVALID;
    }
    p = decision_put_str(p, d->decision_id, sizeof(d->decision_id));
    p = decision_put_str(p, d->rule_id, sizeof(d->rule_id));
    p = decision_put_long(p, d->part);
    p = decision_put_str(p, d->action_id, sizeof(d->action_id));
    p = decision_put_long(p, sym);
    p = decision_put_str(p, d->reason, sizeof(d->reason));
    p = decision_put_str(p, d->trigger_event_id, sizeof(d->trigger_event_id));
    p = decision_put_str(p, d->trigger_type, sizeof(d->trigger_type));
    p = decision_put_opt_str(p, d->channel, sizeof(d->channel));
    p = decision_put_opt_str(p, d->template_name, sizeof(d->template_name));
    p = decision_put_opt_ts(p, d->not_before);
    p = decision_put_opt_ts(p, d->due);
    p = decision_put_opt_str(p, d->experiment, sizeof(d->experiment));
    p = decision_put_opt_str(p, d->variant, sizeof(d->variant));
    p = decision_put_map(p, d->signals, d->n_signals);
    p = decision_put_long(p, d->decided_at);
    return decision_flush(out, buf, p);
}

int ac_codec_decisions_end(struct ac_buf *out)
{
    static const unsigned char end = 0; /* the block count 0 that ends the array */
    return ac_buf_append(out, &end, 1);
}

int ac_codec_encode_decision(struct ac_codec *codec, const struct ac_decision_rec *d,
                             struct ac_buf *out)
{
    size_t had = out->len;
    (void)codec; /* the layout is decisions.avsc's, fixed at compile time */
    int rc = ac_codec_decisions_begin(out, d->customer_id, 1);
    if (rc == 0) {
        rc = ac_codec_decisions_add(out, d);
    }
    if (rc == 0) {
        rc = ac_codec_decisions_end(out);
    }
    if (rc != 0 && out->data) {
        /* out is left as it was */
        out->len = had;
        out->data[had] = '\0';
    }
    return rc;
}
