/* test_codec_decision.c — aftercare.decisions (schemas/decisions.avsc):
 * struct ac_decision_rec -> framed Avro (schema id 7) -> JSON lines, nullable
 * fields, the enum, and the encoder agreeing with the JSON writer. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "decision_rec.h"
#include "err.h"

#define T0 INT64_C(1767434400000) /* 2026-01-03T10:00:00Z */

static struct ac_codec *codec;
static struct ac_buf out;
static struct ac_buf json;

static void setup(void)
{
    char schemas[1024];
    char errstr[256] = "";
    const char *src = getenv("AC_SOURCE_DIR");
    cr_assert(src, "AC_SOURCE_DIR is not set (run through ctest)");
    snprintf(schemas, sizeof(schemas), "%s/schemas", src);
    codec = ac_codec_new(schemas, NULL, errstr, sizeof(errstr));
    cr_assert(codec, "ac_codec_new: %s", errstr);
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
                     "{\"decision_id\":\"0123456789abcdef0123456789abcdef\","
                     "\"customer_id\":\"cust-42\",\"rule_id\":\"welcome_2\",\"part\":1,"
                     "\"action_id\":\"fedcba9876543210fedcba9876543210\","
                     "\"decision\":\"deferred\",\"reason\":\"quiet_hours\","
                     "\"trigger_event_id\":\"ev-9\",\"trigger_type\":\"order_placed\","
                     "\"channel\":\"email\",\"template\":\"welcome-2\","
                     "\"not_before\":\"2026-01-03T11:00:00.000Z\","
                     "\"due\":\"2026-01-03T10:00:00.000Z\",\"experiment\":\"subject_test\","
                     "\"variant\":\"b\",\"signals\":{\"segment\":\"one_time\","
                     "\"nps_class\":\"caf\xc3\xa9 \\\"q\\\"\"},"
                     "\"decided_at\":\"2026-01-03T10:00:00.005Z\"}");
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
