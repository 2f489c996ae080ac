/* codec_decision.c — struct ac_decision_rec to Avro (schemas/decisions.avsc).
 *
 * Its own file so the audit-log contract can change without touching the
 * event codec; the few field setters it needs are the same as codec_event.c's. */
#include <string.h>

#include "codec_int.h"
#include "err.h"

static int decision_field(avro_value_t *rec, const char *name, avro_value_t *out)
{
    return avro_value_get_by_name(rec, name, out, NULL) != 0 ? AC_ERR_INVALID : 0;
}

static int decision_str(avro_value_t *rec, const char *name, const char *s)
{
    avro_value_t f;
    if (decision_field(rec, name, &f) != 0 || avro_value_set_string(&f, s) != 0) {
        return AC_ERR_INVALID;
    }
    return 0;
}

/* A field of type ["null", X]: branch 1 when present (*out is then the X
 * to set), else null. */
static int decision_branch(avro_value_t *rec, const char *name, int present, avro_value_t *out)
{
    avro_value_t u;
    if (decision_field(rec, name, &u) != 0 || avro_value_set_branch(&u, present ? 1 : 0, out)) {
        return AC_ERR_INVALID;
    }
    return present || avro_value_set_null(out) == 0 ? 0 : AC_ERR_INVALID;
}

/* ["null", "string"]: "" is null. */
static int decision_opt_str(avro_value_t *rec, const char *name, const char *s)
{
    avro_value_t b;
    int present = s[0] != '\0';
    if (decision_branch(rec, name, present, &b) != 0) {
        return AC_ERR_INVALID;
    }
    return present && avro_value_set_string(&b, s) != 0 ? AC_ERR_INVALID : 0;
}

/* ["null", timestamp-millis]: AC_TS_NONE is null. */
static int decision_opt_ts(avro_value_t *rec, const char *name, int64_t ms)
{
    avro_value_t b;
    int present = ms != AC_TS_NONE;
    if (decision_branch(rec, name, present, &b) != 0) {
        return AC_ERR_INVALID;
    }
    return present && avro_value_set_long(&b, ms) != 0 ? AC_ERR_INVALID : 0;
}

static int decision_long(avro_value_t *rec, const char *name, int64_t x)
{
    avro_value_t f;
    if (decision_field(rec, name, &f) != 0 || avro_value_set_long(&f, x) != 0) {
        return AC_ERR_INVALID;
    }
    return 0;
}

static int decision_int(avro_value_t *rec, const char *name, int32_t x)
{
    avro_value_t f;
    if (decision_field(rec, name, &f) != 0 || avro_value_set_int(&f, x) != 0) {
        return AC_ERR_INVALID;
    }
    return 0;
}

static int decision_enum(avro_value_t *rec, const char *name, const char *sym)
{
    avro_value_t f;
    if (decision_field(rec, name, &f) != 0) {
        return AC_ERR_INVALID;
    }
    int idx = avro_schema_enum_get_by_name(avro_value_get_schema(&f), sym);
    if (idx < 0 || avro_value_set_enum(&f, idx) != 0) {
        return AC_ERR_INVALID;
    }
    return 0;
}

static int decision_map(avro_value_t *rec, const char *name, const struct ac_kv *kv, int n)
{
    avro_value_t map;
    if (decision_field(rec, name, &map) != 0) {
        return AC_ERR_INVALID;
    }
    for (int i = 0; i < n; i++) {
        avro_value_t v;
        if (avro_value_add(&map, kv[i].key, &v, NULL, NULL) != 0 ||
            avro_value_set_string(&v, kv[i].value) != 0) {
            return AC_ERR_INVALID;
        }
    }
    return 0;
}

int ac_codec_encode_decision(struct ac_codec *codec, const struct ac_decision_rec *d,
                             struct ac_buf *out)
{
    int rc = AC_ERR_INVALID;
    avro_value_t *r = &codec->own[AC_SCHEMA_DECISIONS - 1].value;

    if (d->n_signals < 0 || d->n_signals > AC_DECISION_REC_SIGNALS_MAX) {
        goto out;
    }
    avro_value_reset(r);
    if (decision_str(r, "decision_id", d->decision_id) ||
        decision_str(r, "customer_id", d->customer_id) || decision_str(r, "rule_id", d->rule_id) ||
        decision_int(r, "part", d->part) || decision_str(r, "action_id", d->action_id) ||
        decision_enum(r, "decision", d->decision) || decision_str(r, "reason", d->reason) ||
        decision_str(r, "trigger_event_id", d->trigger_event_id) ||
        decision_str(r, "trigger_type", d->trigger_type) ||
        decision_opt_str(r, "channel", d->channel) ||
        decision_opt_str(r, "template", d->template_name) ||
        decision_opt_ts(r, "not_before", d->not_before) || decision_opt_ts(r, "due", d->due) ||
        decision_opt_str(r, "experiment", d->experiment) ||
        decision_opt_str(r, "variant", d->variant) ||
        decision_map(r, "signals", d->signals, d->n_signals) ||
        decision_long(r, "decided_at", d->decided_at)) {
        goto out;
    }
    rc = codec_write(codec, r, AC_SCHEMA_DECISIONS, out);
out:
    return rc;
}
