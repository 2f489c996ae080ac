/* codec_decision.c — struct ac_decision_rec to Avro (schemas/decisions.avsc):
 * one record per customer and change, an array of the decisions it made.
 *
 * Its own file so the audit-log contract can change without touching the
 * event codec. Every event writes about a dozen decisions, so this encoder
 * writes the Avro binary itself (codec_put.h) instead of going through
 * avro-c's generic value API: the fields in the order of decisions.avsc,
 * the enum as its index. It writes exactly the bytes the generic API writes
 * (tests/unit/test_codec_decision.c keeps that reference and compares the
 * two). A change to decisions.avsc's fields needs the same change here; the enum
 * table below is checked against the schema by the unit test. */
#include <string.h>

#include "codec_int.h"
#include "codec_put.h"
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
    p = cput_frame(p, AC_SCHEMA_DECISIONS);
    p = cput_str(p, customer_id, AC_ID_MAX);
    /* the array as one block of n items */
    p = cput_long(p, n);
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
    p = cput_str(p, d->decision_id, sizeof(d->decision_id));
    p = cput_str(p, d->rule_id, sizeof(d->rule_id));
    p = cput_long(p, d->part);
    p = cput_str(p, d->action_id, sizeof(d->action_id));
    p = cput_long(p, sym);
    p = cput_str(p, d->reason, sizeof(d->reason));
    p = cput_str(p, d->trigger_event_id, sizeof(d->trigger_event_id));
    p = cput_str(p, d->trigger_type, sizeof(d->trigger_type));
    p = cput_opt_str(p, d->channel, sizeof(d->channel));
    p = cput_opt_str(p, d->template_name, sizeof(d->template_name));
    p = cput_opt_ts(p, d->not_before);
    p = cput_opt_ts(p, d->due);
    p = cput_opt_str(p, d->experiment, sizeof(d->experiment));
    p = cput_opt_str(p, d->variant, sizeof(d->variant));
    p = cput_map(p, d->signals, d->n_signals);
    p = cput_long(p, d->decided_at);
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
