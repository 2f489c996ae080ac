/* test_codec_decision.c — aftercare.decisions (schemas/decisions.avsc):
 * struct ac_decision_rec -> framed Avro (schema id 7: a customer and the
 * array of its decisions) -> JSON lines, nullable fields, the enum, records
 * of several decisions, and the encoder agreeing with the JSON writer.
 *
 * ac_codec_encode_decision() writes the Avro binary by hand; the encoder it
 * replaced, through avro-c's generic value API, lives on here as the
 * reference (generic_encode) it must agree with byte for byte. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "codec_int.h"
#include "codec_support.h" /* white-box: the enum table, the reference encoder */
#include "decision_rec.h"
#include "err.h"
#include "rnd_support.h"

#define T0 INT64_C(1767434400000) /* 2026-01-03T10:00:00Z */

static struct ac_codec *codec;
static struct ac_buf out;
static struct ac_buf json;

static void setup(void)
{
    codec = ts_codec_new();
    ac_buf_init(&out);
    ac_buf_init(&json);
}

static void teardown(void)
{
    ac_buf_fini(&out);
    ac_buf_fini(&json);
    ac_codec_destroy(codec);
}

TestSuite(codec_decision, .init = setup, .fini = teardown);

static void deferred(struct ac_decision_rec *d)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->decision_id, sizeof(d->decision_id), "0123456789abcdef0123456789abcdef");
    snprintf(d->customer_id, sizeof(d->customer_id), "cust-42");
    snprintf(d->rule_id, sizeof(d->rule_id), "welcome_2");
    d->part = 1;
    snprintf(d->action_id, sizeof(d->action_id), "fedcba9876543210fedcba9876543210");
    snprintf(d->decision, sizeof(d->decision), "deferred");
    snprintf(d->reason, sizeof(d->reason), "quiet_hours");
    snprintf(d->trigger_event_id, sizeof(d->trigger_event_id), "ev-9");
    snprintf(d->trigger_type, sizeof(d->trigger_type), "order_placed");
    snprintf(d->channel, sizeof(d->channel), "email");
    snprintf(d->template_name, sizeof(d->template_name), "welcome-2");
    d->not_before = T0 + 3600000;
    d->due = T0;
    snprintf(d->experiment, sizeof(d->experiment), "subject_test");
    snprintf(d->variant, sizeof(d->variant), "b");
    d->n_signals = 2;
    snprintf(d->signals[0].key, sizeof(d->signals[0].key), "segment");
    snprintf(d->signals[0].value, sizeof(d->signals[0].value), "one_time");
    snprintf(d->signals[1].key, sizeof(d->signals[1].key), "nps_class");
    snprintf(d->signals[1].value, sizeof(d->signals[1].value), "caf\xc3\xa9 \"q\"");
    d->decided_at = T0 + 5;
}

static void to_json(void)
{
    char err[128] = "";
    ac_buf_reset(&json);
    cr_assert_eq(
        ac_codec_avro_to_json(codec, "decisions", out.data, out.len, &json, err, sizeof(err)), 0,
        "%s", err);
}

Test(codec_decision, every_field_reaches_the_json_line)
{
    struct ac_decision_rec d;
    deferred(&d);
    cr_assert_eq(ac_codec_encode_decision(codec, &d, &out), 0);
    cr_assert_eq(out.data[0], 0, "Confluent framing");
    cr_assert_eq(out.data[1] | out.data[2] | out.data[3], 0);
    cr_assert_eq(out.data[4], AC_SCHEMA_DECISIONS);
    to_json();
    cr_assert_str_eq(json.data,
                     "{\"customer_id\":\"cust-42\",\"decisions\":["
                     "{\"decision_id\":\"0123456789abcdef0123456789abcdef\","
                     "\"rule_id\":\"welcome_2\",\"part\":1,"
                     "\"action_id\":\"fedcba9876543210fedcba9876543210\","
                     "\"decision\":\"deferred\",\"reason\":\"quiet_hours\","
                     "\"trigger_event_id\":\"ev-9\",\"trigger_type\":\"order_placed\","
                     "\"channel\":\"email\",\"template\":\"welcome-2\","
                     "\"not_before\":\"2026-01-03T11:00:00.000Z\","
                     "\"due\":\"2026-01-03T10:00:00.000Z\",\"experiment\":\"subject_test\","
                     "\"variant\":\"b\",\"signals\":{\"segment\":\"one_time\","
                     "\"nps_class\":\"caf\xc3\xa9 \\\"q\\\"\"},"
                     "\"decided_at\":\"2026-01-03T10:00:00.005Z\"}]}");
}

Test(codec_decision, absent_values_are_null_and_every_symbol_is_known)
{
    static const char *const symbols[] = {"emitted", "scheduled", "deferred",   "rescheduled",
                                          "merged",  "capped",    "suppressed", "held_out",
                                          "expired", "cancelled", "exited",     "dropped"};
    struct ac_decision_rec d;
    deferred(&d);
    d.channel[0] = d.template_name[0] = d.experiment[0] = d.variant[0] = '\0';
    d.not_before = d.due = AC_TS_NONE;
    d.n_signals = 0;
    for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
        snprintf(d.decision, sizeof(d.decision), "%s", symbols[i]);
        ac_buf_reset(&out);
        cr_assert_eq(ac_codec_encode_decision(codec, &d, &out), 0, "%s", symbols[i]);
        to_json();
        char want[64];
        snprintf(want, sizeof(want), "\"decision\":\"%s\"", symbols[i]);
        cr_assert(strstr(json.data, want), "%s", json.data);
    }
    cr_assert(strstr(json.data, "\"channel\":null,\"template\":null,\"not_before\":null,"
                                "\"due\":null,\"experiment\":null,\"variant\":null,"
                                "\"signals\":{},"),
              "%s", json.data);
}

Test(codec_decision, bad_input_appends_nothing)
{
    struct ac_decision_rec d;
    deferred(&d);
    snprintf(d.decision, sizeof(d.decision), "postponed");
    cr_assert_eq(ac_codec_encode_decision(codec, &d, &out), AC_ERR_INVALID);
    d.decision[0] = '\0';
    cr_assert_eq(ac_codec_encode_decision(codec, &d, &out), AC_ERR_INVALID);
    deferred(&d);
    d.n_signals = AC_DECISION_REC_SIGNALS_MAX + 1;
    cr_assert_eq(ac_codec_encode_decision(codec, &d, &out), AC_ERR_INVALID);
    d.n_signals = -1;
    cr_assert_eq(ac_codec_encode_decision(codec, &d, &out), AC_ERR_INVALID);
    cr_assert_eq(out.len, 0);
    /* and the codec is still good for the next one */
    deferred(&d);
    cr_assert_eq(ac_codec_encode_decision(codec, &d, &out), 0);
    to_json();
    cr_assert(strstr(json.data, "\"decision\":\"deferred\""), "%s", json.data);
}

Test(codec_decision, the_encoder_and_the_json_writer_agree)
{
    struct ac_decision_rec d;
    char err[256] = "";
    deferred(&d);
    cr_assert_eq(ac_codec_encode_decision(codec, &d, &out), 0);
    to_json();
    struct ac_buf again;
    ac_buf_init(&again);
    cr_assert_eq(ac_codec_json_to_avro(codec, "decisions", json.data, &again, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_eq(again.len, out.len);
    cr_assert_eq(memcmp(again.data, out.data, out.len), 0, "the same bytes both ways");
    ac_buf_fini(&again);
}

/* The reference: the generic avro-c encoder ac_codec_encode_decision() had
 * before it wrote the bytes itself (fields set by name on the codec's value
 * for schema 7, then avro_value_write). Same contract. */
static int generic_field(avro_value_t *rec, const char *name, avro_value_t *f)
{
    return avro_value_get_by_name(rec, name, f, NULL) != 0 ? AC_ERR_INVALID : 0;
}

static int generic_str(avro_value_t *rec, const char *name, const char *s)
{
    avro_value_t f;
    return generic_field(rec, name, &f) || avro_value_set_string(&f, s) ? AC_ERR_INVALID : 0;
}

/* ["null", X]: branch 1 when present (*b is then the X to set), else null. */
static int generic_branch(avro_value_t *rec, const char *name, int present, avro_value_t *b)
{
    avro_value_t u;
    if (generic_field(rec, name, &u) != 0 || avro_value_set_branch(&u, present ? 1 : 0, b)) {
        return AC_ERR_INVALID;
    }
    return present || avro_value_set_null(b) == 0 ? 0 : AC_ERR_INVALID;
}

static int generic_opt_str(avro_value_t *rec, const char *name, const char *s)
{
    avro_value_t b;
    int present = s[0] != '\0';
    if (generic_branch(rec, name, present, &b) != 0) {
        return AC_ERR_INVALID;
    }
    return present && avro_value_set_string(&b, s) != 0 ? AC_ERR_INVALID : 0;
}

static int generic_opt_ts(avro_value_t *rec, const char *name, int64_t ms)
{
    avro_value_t b;
    int present = ms != AC_TS_NONE;
    if (generic_branch(rec, name, present, &b) != 0) {
        return AC_ERR_INVALID;
    }
    return present && avro_value_set_long(&b, ms) != 0 ? AC_ERR_INVALID : 0;
}

static int generic_long(avro_value_t *rec, const char *name, int64_t x)
{
    avro_value_t f;
    return generic_field(rec, name, &f) || avro_value_set_long(&f, x) ? AC_ERR_INVALID : 0;
}

static int generic_int(avro_value_t *rec, const char *name, int32_t x)
{
    avro_value_t f;
    return generic_field(rec, name, &f) || avro_value_set_int(&f, x) ? AC_ERR_INVALID : 0;
}

static int generic_enum(avro_value_t *rec, const char *name, const char *sym)
{
    avro_value_t f;
    if (generic_field(rec, name, &f) != 0) {
        return AC_ERR_INVALID;
    }
    int idx = avro_schema_enum_get_by_name(avro_value_get_schema(&f), sym);
    return idx < 0 || avro_value_set_enum(&f, idx) != 0 ? AC_ERR_INVALID : 0;
}

static int generic_map(avro_value_t *rec, const char *name, const struct ac_kv *kv, int n)
{
    avro_value_t map;
    if (generic_field(rec, name, &map) != 0) {
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

/* A record of the n decisions ds[0..n), ds[0]'s customer's. */
static int generic_encode_n(const struct ac_decision_rec *ds, int n, struct ac_buf *b)
{
    avro_value_t *top = &codec->own[AC_SCHEMA_DECISIONS - 1].value;
    avro_value_t arr;
    avro_value_reset(top);
    if (generic_str(top, "customer_id", ds[0].customer_id) ||
        generic_field(top, "decisions", &arr)) {
        return AC_ERR_INVALID;
    }
    for (int i = 0; i < n; i++) {
        const struct ac_decision_rec *d = &ds[i];
        avro_value_t item, *r = &item;
        if (d->n_signals < 0 || d->n_signals > AC_DECISION_REC_SIGNALS_MAX ||
            avro_value_append(&arr, &item, NULL) != 0) {
            return AC_ERR_INVALID;
        }
        if (generic_str(r, "decision_id", d->decision_id) ||
            generic_str(r, "rule_id", d->rule_id) || generic_int(r, "part", d->part) ||
            generic_str(r, "action_id", d->action_id) || generic_enum(r, "decision", d->decision) ||
            generic_str(r, "reason", d->reason) ||
            generic_str(r, "trigger_event_id", d->trigger_event_id) ||
            generic_str(r, "trigger_type", d->trigger_type) ||
            generic_opt_str(r, "channel", d->channel) ||
            generic_opt_str(r, "template", d->template_name) ||
            generic_opt_ts(r, "not_before", d->not_before) || generic_opt_ts(r, "due", d->due) ||
            generic_opt_str(r, "experiment", d->experiment) ||
            generic_opt_str(r, "variant", d->variant) ||
            generic_map(r, "signals", d->signals, d->n_signals) ||
            generic_long(r, "decided_at", d->decided_at)) {
            return AC_ERR_INVALID;
        }
    }
    return codec_write(codec, top, AC_SCHEMA_DECISIONS, b);
}

static int generic_encode(const struct ac_decision_rec *d, struct ac_buf *b)
{
    return generic_encode_n(d, 1, b);
}

/* Encodes d with both encoders, each appending to a buffer that already
 * holds `prefix`, and checks the bytes are the same and convert to JSON. */
static void expect_same_bytes(const struct ac_decision_rec *d, const char *prefix, int n)
{
    struct ac_buf ref;
    size_t plen = strlen(prefix);
    ac_buf_init(&ref);
    ac_buf_reset(&out);
    cr_assert_eq(ac_buf_append(&out, prefix, plen), 0);
    cr_assert_eq(ac_buf_append(&ref, prefix, plen), 0);
    cr_assert_eq(ac_codec_encode_decision(codec, d, &out), 0, "case %d", n);
    cr_assert_eq(generic_encode(d, &ref), 0, "case %d", n);
    size_t at = 0;
    while (at < out.len && at < ref.len && out.data[at] == ref.data[at]) {
        at++;
    }
    cr_assert(at == out.len && at == ref.len,
              "case %d: %zu bytes, the reference's %zu; first difference at byte %zu", n, out.len,
              ref.len, at);
    ac_buf_fini(&ref);

    char err[128] = "";
    char want[64];
    ac_buf_reset(&json);
    cr_assert_eq(ac_codec_avro_to_json(codec, "decisions", out.data + plen, out.len - plen, &json,
                                       err, sizeof(err)),
                 0, "case %d: %s", n, err);
    snprintf(want, sizeof(want), "\"decision\":\"%s\"", d->decision);
    cr_assert(strstr(json.data, want), "case %d: %s", n, json.data);
}

Test(codec_decision, the_symbol_table_is_the_schemas)
{
    avro_schema_t top = codec->own[AC_SCHEMA_DECISIONS - 1].schema;
    avro_schema_t arr = avro_schema_record_field_get(top, "decisions");
    cr_assert(arr && is_avro_array(arr), "decisions.avsc: field decisions is an array");
    avro_schema_t rec = avro_schema_array_items(arr);
    avro_schema_t e = avro_schema_record_field_get(rec, "decision");
    cr_assert(e && is_avro_enum(e), "decisions.avsc: field decision is an enum");
    cr_assert_eq(avro_schema_enum_number_of_symbols(e), CODEC_DECISION_N_SYMBOLS,
                 "codec_decision.c has %d symbols, decisions.avsc %d", CODEC_DECISION_N_SYMBOLS,
                 (int)avro_schema_enum_number_of_symbols(e));
    for (int i = 0; i < CODEC_DECISION_N_SYMBOLS; i++) {
        cr_assert_str_eq(codec_decision_symbols[i], avro_schema_enum_get(e, i), "symbol %d", i);
    }
}

/* Bytes worked out by hand from the Avro spec, not from avro-c: every string
 * empty, every nullable null, no signals. */
Test(codec_decision, the_smallest_record_byte_by_byte)
{
    static const unsigned char want[] = {
        0,    0,    0,    0,    7, /* magic byte, schema id 7 */
        0,                         /* customer_id "" */
        2,                         /* decisions: a block of 1 item */
        0,    0,                   /* decision_id, rule_id: "" */
        1,                         /* part -1, zigzag */
        0,                         /* action_id "" */
        22,                        /* decision: dropped, index 11 */
        0,    0,    0,             /* reason, trigger_event_id, trigger_type: "" */
        0,    0,    0,    0,       /* channel, template, not_before, due: null */
        0,    0,                   /* experiment, variant: null */
        0,                         /* signals: {} */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, /* decided_at INT64_MIN */
        0                                                           /* the end of the array */
    };
    struct ac_decision_rec d;
    memset(&d, 0, sizeof(d));
    d.part = -1;
    snprintf(d.decision, sizeof(d.decision), "dropped");
    d.not_before = d.due = AC_TS_NONE;
    d.decided_at = AC_TS_NONE;
    cr_assert_eq(ac_codec_encode_decision(codec, &d, &out), 0);
    cr_assert_eq(out.len, sizeof(want));
    cr_assert_eq(memcmp(out.data, want, sizeof(want)), 0);
    expect_same_bytes(&d, "", 0);
}

/* One change's decisions in one record: begin, one add per decision, end —
 * the bytes avro-c writes for the same array, and each item in the JSON line
 * in order. */
Test(codec_decision, several_decisions_are_one_record_in_order)
{
    struct ac_decision_rec ds[3];
    static const char *const kinds[] = {"scheduled", "capped", "emitted"};
    struct ac_buf ref;
    for (int i = 0; i < 3; i++) {
        deferred(&ds[i]);
        snprintf(ds[i].decision, sizeof(ds[i].decision), "%s", kinds[i]);
        ds[i].part = i;
        ds[i].n_signals = i; /* 0, 1 and 2 signals */
    }
    cr_assert_eq(ac_codec_decisions_begin(&out, "cust-42", 3), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(ac_codec_decisions_add(&out, &ds[i]), 0);
    }
    cr_assert_eq(ac_codec_decisions_end(&out), 0);
    ac_buf_init(&ref);
    cr_assert_eq(generic_encode_n(ds, 3, &ref), 0);
    cr_assert_eq(out.len, ref.len);
    cr_assert_eq(memcmp(out.data, ref.data, ref.len), 0, "the bytes avro-c writes");
    ac_buf_fini(&ref);
    to_json();
    const char *p = json.data;
    for (int i = 0; i < 3; i++) {
        char want[64];
        snprintf(want, sizeof(want), "\"part\":%d,", i);
        p = strstr(p, want);
        cr_assert_not_null(p, "item %d in order: %s", i, json.data);
        snprintf(want, sizeof(want), "\"decision\":\"%s\"", kinds[i]);
        cr_assert_not_null(strstr(p, want), "%s", json.data);
    }
    static const char head[] = "{\"customer_id\":\"cust-42\",\"decisions\":[{";
    cr_assert_eq(strncmp(json.data, head, sizeof(head) - 1), 0, "%s", json.data);
    cr_assert_eq(ac_codec_decisions_begin(&out, "cust-42", 0), AC_ERR_INVALID,
                 "a record of no decisions is refused");
}

Test(codec_decision, a_key_given_twice_is_one_entry_with_the_last_value)
{
    struct ac_decision_rec d;
    deferred(&d);
    d.n_signals = 4;
    snprintf(d.signals[0].key, sizeof(d.signals[0].key), "a");
    snprintf(d.signals[0].value, sizeof(d.signals[0].value), "1");
    snprintf(d.signals[1].key, sizeof(d.signals[1].key), "b");
    snprintf(d.signals[1].value, sizeof(d.signals[1].value), "2");
    snprintf(d.signals[2].key, sizeof(d.signals[2].key), "a");
    snprintf(d.signals[2].value, sizeof(d.signals[2].value), "3");
    snprintf(d.signals[3].key, sizeof(d.signals[3].key), "b");
    snprintf(d.signals[3].value, sizeof(d.signals[3].value), "4");
    expect_same_bytes(&d, "", 0);
    cr_assert(strstr(json.data, "\"signals\":{\"a\":\"3\",\"b\":\"4\"},"), "%s", json.data);
}

Test(codec_decision, bad_input_leaves_a_used_buffer_as_it_was)
{
    struct ac_decision_rec d;
    deferred(&d);
    cr_assert_eq(ac_buf_append(&out, "kept", 4), 0);
    snprintf(d.decision, sizeof(d.decision), "Emitted");
    cr_assert_eq(ac_codec_encode_decision(codec, &d, &out), AC_ERR_INVALID);
    snprintf(d.decision, sizeof(d.decision), "emitted ");
    cr_assert_eq(ac_codec_encode_decision(codec, &d, &out), AC_ERR_INVALID);
    snprintf(d.decision, sizeof(d.decision), "emitted");
    d.n_signals = INT32_MIN;
    cr_assert_eq(ac_codec_encode_decision(codec, &d, &out), AC_ERR_INVALID);
    cr_assert_eq(out.len, 4);
    cr_assert_str_eq(out.data, "kept");
}

static void rnd_decision(struct ac_decision_rec *d, int n)
{
    static const int32_t parts[] = {0, 1, -1, 63, 64, -64, -65, 8191, 8192, INT32_MAX, INT32_MIN};
    static const char *const keys[] = {"segment", "nps_class", "", "a", "ltv_band", "x"};
    memset(d, 0, sizeof(*d));
    rnd_str(d->decision_id, sizeof(d->decision_id));
    rnd_str(d->customer_id, sizeof(d->customer_id));
    rnd_str(d->rule_id, sizeof(d->rule_id));
    d->part = rnd() % 2 ? parts[rnd() % (sizeof(parts) / sizeof(parts[0]))] : (int32_t)rnd();
    rnd_str(d->action_id, sizeof(d->action_id));
    snprintf(d->decision, sizeof(d->decision), "%s",
             codec_decision_symbols[(n + rnd() % 2) % CODEC_DECISION_N_SYMBOLS]);
    rnd_str(d->reason, sizeof(d->reason));
    rnd_str(d->trigger_event_id, sizeof(d->trigger_event_id));
    rnd_str(d->trigger_type, sizeof(d->trigger_type));
    rnd_str(d->channel, sizeof(d->channel));
    rnd_str(d->template_name, sizeof(d->template_name));
    d->not_before = rnd_time();
    d->due = rnd_time();
    rnd_str(d->experiment, sizeof(d->experiment));
    rnd_str(d->variant, sizeof(d->variant));
    d->n_signals = n % (AC_DECISION_REC_SIGNALS_MAX + 1);
    for (int i = 0; i < d->n_signals; i++) {
        /* often a key from a short list, so keys repeat now and then */
        if (rnd() % 2) {
            snprintf(d->signals[i].key, sizeof(d->signals[i].key), "%s",
                     keys[rnd() % (sizeof(keys) / sizeof(keys[0]))]);
        } else {
            rnd_str(d->signals[i].key, sizeof(d->signals[i].key));
        }
        rnd_str(d->signals[i].value, sizeof(d->signals[i].value));
    }
    d->decided_at = rnd_time();
}

Test(codec_decision, the_encoder_writes_the_generic_encoders_bytes)
{
    struct ac_decision_rec d;
    int n = 0;

    /* the fixtures above, every symbol, every nullable field absent */
    deferred(&d);
    expect_same_bytes(&d, "", n++);
    d.channel[0] = d.template_name[0] = d.experiment[0] = d.variant[0] = '\0';
    d.not_before = d.due = AC_TS_NONE;
    for (int i = 0; i < CODEC_DECISION_N_SYMBOLS; i++) {
        snprintf(d.decision, sizeof(d.decision), "%s", codec_decision_symbols[i]);
        expect_same_bytes(&d, "", n++);
    }
    /* every string at its longest, 0..8 signals */
    for (int k = 0; k <= AC_DECISION_REC_SIGNALS_MAX; k++) {
        rnd_decision(&d, k);
        char *full[] = {d.decision_id,   d.customer_id,      d.rule_id,      d.action_id,
                        d.reason,        d.trigger_event_id, d.trigger_type, d.channel,
                        d.template_name, d.experiment,       d.variant};
        size_t sizes[] = {sizeof(d.decision_id),  sizeof(d.customer_id), sizeof(d.rule_id),
                          sizeof(d.action_id),    sizeof(d.reason),      sizeof(d.trigger_event_id),
                          sizeof(d.trigger_type), sizeof(d.channel),     sizeof(d.template_name),
                          sizeof(d.experiment),   sizeof(d.variant)};
        for (size_t f = 0; f < sizeof(sizes) / sizeof(sizes[0]); f++) {
            memset(full[f], 'x', sizes[f] - 1);
            full[f][sizes[f] - 1] = '\0';
        }
        for (int i = 0; i < k; i++) {
            snprintf(d.signals[i].key, sizeof(d.signals[i].key), "%d", i);
            memset(d.signals[i].key + 1, 'k', sizeof(d.signals[i].key) - 2);
            d.signals[i].key[sizeof(d.signals[i].key) - 1] = '\0';
            memset(d.signals[i].value, 'v', sizeof(d.signals[i].value) - 1);
            d.signals[i].value[sizeof(d.signals[i].value) - 1] = '\0';
        }
        expect_same_bytes(&d, "", n++);
    }
    /* then varied ones, some appended after earlier content */
    for (int i = 0; i < 5000; i++) {
        rnd_decision(&d, i);
        expect_same_bytes(&d, i % 3 == 0 ? "earlier record" : "", n++);
    }
}
