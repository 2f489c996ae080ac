/* test_codec_action.c — aftercare.actions (schemas/actions.avsc): the direct
 * encoder (codec_action.c) writes exactly what avro-c's generic encoder
 * writes, for fixtures and thousands of varied actions; its enum tables are
 * the schema's; what it writes decodes back to the same action. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "codec_int.h"
#include "codec_support.h" /* white-box: the generic reference encoder */
#include "err.h"
#include "rnd_support.h"

#define T0 INT64_C(1767434400000) /* 2026-01-03T10:00:00Z */

static struct ac_codec *codec;
static struct ac_buf out, ref;

static void setup(void)
{
    codec = ts_codec_new();
    ac_buf_init(&out);
    ac_buf_init(&ref);
}

static void teardown(void)
{
    ac_buf_fini(&out);
    ac_buf_fini(&ref);
    ac_codec_destroy(codec);
}

TestSuite(codec_action, .init = setup, .fini = teardown);

static void welcome(struct ac_action *a)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->action_id, sizeof(a->action_id), "0123456789abcdef0123456789abcdef");
    snprintf(a->customer_id, sizeof(a->customer_id), "cust-42");
    snprintf(a->rule_id, sizeof(a->rule_id), "welcome_2");
    a->kind = AC_KIND_MESSAGE;
    a->category = AC_CAT_MARKETING;
    snprintf(a->channel, sizeof(a->channel), "email");
    snprintf(a->template_name, sizeof(a->template_name), "welcome-2");
    a->n_vars = 2;
    snprintf(a->vars[0].key, sizeof(a->vars[0].key), "first_name");
    snprintf(a->vars[0].value, sizeof(a->vars[0].value), "Zo\xc3\xa9");
    snprintf(a->vars[1].key, sizeof(a->vars[1].key), "family");
    snprintf(a->vars[1].value, sizeof(a->vars[1].value), "coffee");
    a->not_before = T0 + 3600000;
    a->expires_at = T0 + 86400000;
    snprintf(a->experiment, sizeof(a->experiment), "subject_test");
    snprintf(a->variant, sizeof(a->variant), "b");
    snprintf(a->trigger_event_id, sizeof(a->trigger_event_id), "ev-9");
    snprintf(a->trigger_type, sizeof(a->trigger_type), "order_placed");
    a->n_signals = 1;
    snprintf(a->signals[0].key, sizeof(a->signals[0].key), "segment");
    snprintf(a->signals[0].value, sizeof(a->signals[0].value), "one_time");
    a->created_at = T0;
}

static void expect_same(const struct ac_action *a, int n)
{
    ac_buf_reset(&out);
    ac_buf_reset(&ref);
    cr_assert_eq(ac_codec_encode_action(codec, a, &out), 0, "case %d", n);
    cr_assert_eq(codec_encode_action_generic(codec, a, &ref), 0, "case %d", n);
    size_t at = 0;
    while (at < out.len && at < ref.len && out.data[at] == ref.data[at]) {
        at++;
    }
    cr_assert(at == out.len && at == ref.len,
              "case %d: the bytes differ at %zu (direct %zu bytes, generic %zu)", n, at, out.len,
              ref.len);
}

Test(codec_action, the_enum_tables_are_the_schemas)
{
    avro_schema_t rec = codec->own[AC_SCHEMA_ACTIONS - 1].schema;
    avro_schema_t kind = avro_schema_record_field_get(rec, "kind");
    avro_schema_t cat = avro_schema_record_field_get(rec, "category");
    cr_assert(kind && is_avro_enum(kind) && cat && is_avro_enum(cat));
    cr_assert_eq(avro_schema_enum_number_of_symbols(kind), AC_KIND_TEAM_NOTIFICATION + 1);
    cr_assert_eq(avro_schema_enum_number_of_symbols(cat), AC_CAT_SERVICE + 1);
    for (int i = 0; i <= AC_KIND_TEAM_NOTIFICATION; i++) {
        cr_assert_str_eq(ac_kind_name((enum ac_action_kind)i), avro_schema_enum_get(kind, i));
    }
    for (int i = 0; i <= AC_CAT_SERVICE; i++) {
        cr_assert_str_eq(ac_category_name((enum ac_category)i), avro_schema_enum_get(cat, i));
    }
}

Test(codec_action, a_fixture_decodes_back_to_itself)
{
    struct ac_action a, back;
    welcome(&a);
    cr_assert_eq(ac_codec_encode_action(codec, &a, &out), 0);
    cr_assert_eq(out.data[0], 0, "Confluent framing");
    cr_assert_eq(out.data[4], AC_SCHEMA_ACTIONS);
    cr_assert_eq(ac_codec_decode_action(codec, out.data, out.len, &back), 0);
    cr_expect_str_eq(back.action_id, a.action_id);
    cr_expect_str_eq(back.rule_id, "welcome_2");
    cr_expect_eq(back.category, AC_CAT_MARKETING);
    cr_expect_eq(back.n_vars, 2);
    cr_expect_str_eq(back.vars[0].value, "Zo\xc3\xa9");
    cr_expect_eq(back.expires_at, a.expires_at);
    cr_expect_str_eq(back.variant, "b");
    cr_expect_eq(back.n_signals, 1);
    cr_expect_eq(back.created_at, T0);
    expect_same(&a, 0);
}

Test(codec_action, bad_input_appends_nothing)
{
    struct ac_action a;
    welcome(&a);
    cr_assert_eq(ac_buf_append(&out, "kept", 4), 0);
    a.kind = (enum ac_action_kind)9;
    cr_expect_eq(ac_codec_encode_action(codec, &a, &out), AC_ERR_INVALID);
    welcome(&a);
    a.n_vars = AC_MAX_KV + 1;
    cr_expect_eq(ac_codec_encode_action(codec, &a, &out), AC_ERR_INVALID);
    welcome(&a);
    a.n_signals = -1;
    cr_expect_eq(ac_codec_encode_action(codec, &a, &out), AC_ERR_INVALID);
    cr_expect_eq(out.len, 4);
}

static void rnd_kv(struct ac_kv *kv, int n)
{
    static const char *const keys[] = {"segment", "family", "", "a", "first_name", "x"};
    for (int i = 0; i < n; i++) {
        if (rnd() % 3 == 0) {
            snprintf(kv[i].key, sizeof(kv[i].key), "%s", keys[rnd() % 6]); /* repeats */
        } else {
            rnd_str(kv[i].key, sizeof(kv[i].key));
        }
        rnd_str(kv[i].value, sizeof(kv[i].value));
    }
}

Test(codec_action, the_direct_encoder_writes_the_generic_encoders_bytes)
{
    struct ac_action a;
    int n = 1;
    welcome(&a);
    a.expires_at = AC_TS_NONE;
    a.experiment[0] = a.variant[0] = '\0';
    a.n_vars = a.n_signals = 0;
    expect_same(&a, n++);
    for (int i = 0; i < 5000; i++) {
        memset(&a, 0, sizeof(a));
        rnd_str(a.action_id, sizeof(a.action_id));
        rnd_str(a.customer_id, sizeof(a.customer_id));
        rnd_str(a.rule_id, sizeof(a.rule_id));
        a.kind = (enum ac_action_kind)(rnd() % (AC_KIND_TEAM_NOTIFICATION + 1));
        a.category = (enum ac_category)(rnd() % (AC_CAT_SERVICE + 1));
        rnd_str(a.channel, sizeof(a.channel));
        rnd_str(a.template_name, sizeof(a.template_name));
        a.n_vars = (int)(rnd() % (AC_MAX_KV + 1));
        rnd_kv(a.vars, a.n_vars);
        a.not_before = rnd_time();
        a.expires_at = rnd_time();
        rnd_str(a.experiment, sizeof(a.experiment));
        rnd_str(a.variant, sizeof(a.variant));
        rnd_str(a.trigger_event_id, sizeof(a.trigger_event_id));
        rnd_str(a.trigger_type, sizeof(a.trigger_type));
        a.n_signals = (int)(rnd() % (AC_MAX_REASON_SIGNALS + 1));
        rnd_kv(a.signals, a.n_signals);
        a.created_at = rnd_time();
        expect_same(&a, n++);
    }
}
