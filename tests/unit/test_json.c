/* test_json.c — every JSON string the project writes is valid JSON, whatever
 * bytes it is given: a strict parser (jansson's json_loads, which refuses
 * text that is not UTF-8) reads back each output. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "codec.h"
#include "codec_support.h"
#include "customer.h"
#include "err.h"
#include "json.h"
#include "utf8.h"

#define T0 INT64_C(1767434400000) /* 2026-01-03T10:00:00Z */
#define FFFD "\xef\xbf\xbd"

/* Input bytes, and the text a parser must read back from their JSON. */
static const struct {
    const char *in;
    size_t len;
    const char *want;
} json_cases[] = {
    {"plain", 5, "plain"},
    {"caf\xc3\xa9 \xf0\x9f\x98\x80", 10, "caf\xc3\xa9 \xf0\x9f\x98\x80"},
    {"q\"b\\s/", 6, "q\"b\\s/"},
    {"\x01\x08\x0c\n\r\t\x1f\x7f", 8, "\x01\x08\x0c\n\r\t\x1f\x7f"},
    {"\xff", 1, FFFD},
    {"bad=\xff\xc3", 6, "bad=" FFFD FFFD},
    {"\xc3(", 2, FFFD "("},
    {"\x80\xbf", 2, FFFD FFFD},
    {"\xc0\xaf", 2, FFFD FFFD},                   /* overlong '/' */
    {"\xe0\x80\xaf", 3, FFFD FFFD FFFD},          /* overlong, 3 bytes */
    {"\xed\xa0\x80", 3, FFFD FFFD FFFD},          /* a surrogate */
    {"\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD}, /* past U+10FFFF */
    {"ok\xe2\x82", 4, "ok" FFFD FFFD},            /* cut short */
    {"py-garbage\x1e\x02\xff\xff", 14, "py-garbage\x1e\x02" FFFD FFFD},
    {"", 0, ""},
};

#define N_CASES (sizeof(json_cases) / sizeof(json_cases[0]))

/* Parses text strictly as one JSON value; fails the test if it is not. */
static json_t *strict_parse(const char *text, size_t flags)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | flags, &jerr);
    cr_assert_not_null(j, "not valid JSON (%s at column %d): %s", jerr.text, jerr.column, text);
    return j;
}

Test(json, buf_strings_are_valid_json_whatever_the_bytes)
{
    struct ac_buf b;
    ac_buf_init(&b);
    for (size_t i = 0; i < N_CASES; i++) {
        ac_buf_reset(&b);
        cr_assert_eq(ac_buf_json_strn(&b, json_cases[i].in, json_cases[i].len), 0);
        cr_assert(ac_utf8_valid(b.data, b.len), "case %zu: output is not UTF-8", i);
        json_t *j = strict_parse(b.data, 0);
        cr_assert(json_is_string(j));
        cr_expect_str_eq(json_string_value(j), json_cases[i].want, "case %zu: %s", i, b.data);
        json_decref(j);
        if (strlen(json_cases[i].in) == json_cases[i].len) { /* the NUL-terminated form */
            ac_buf_reset(&b);
            cr_assert_eq(ac_buf_json_str(&b, json_cases[i].in), 0);
            j = strict_parse(b.data, 0);
            cr_expect_str_eq(json_string_value(j), json_cases[i].want, "case %zu", i);
            json_decref(j);
        }
    }
    /* NUL bytes are kept, as \u0000 */
    ac_buf_reset(&b);
    cr_assert_eq(ac_buf_json_strn(&b, "k\0ey", 4), 0);
    cr_expect_str_eq(b.data, "\"k\\u0000ey\"");
    json_t *j = strict_parse(b.data, JSON_ALLOW_NUL);
    cr_expect_eq(json_string_length(j), 4);
    cr_expect_eq(memcmp(json_string_value(j), "k\0ey", 4), 0);
    json_decref(j);
    /* appended, not overwritten */
    ac_buf_reset(&b);
    ac_buf_append(&b, "[", 1);
    ac_buf_json_str(&b, "a");
    ac_buf_append(&b, ",", 1);
    ac_buf_json_strn(&b, NULL, 0);
    ac_buf_append(&b, "]", 1);
    cr_expect_str_eq(b.data, "[\"a\",\"\"]");
    ac_buf_fini(&b);
}

static int count_put(const char *p, size_t n, void *opaque)
{
    (void)p;
    *(size_t *)opaque += n;
    return 0;
}

static int refuse_put(const char *p, size_t n, void *opaque)
{
    (void)p;
    (void)n;
    (void)opaque;
    return -1;
}

Test(json, writer_reports_a_stopped_output)
{
    size_t n = 0;
    cr_expect_eq(ac_json_write_str("abc", 3, count_put, &n), 0);
    cr_expect_eq(n, 5);
    cr_expect_eq(ac_json_write_str("abc", 3, refuse_put, NULL), -1);
}

Test(json, utf8_sequences)
{
    cr_expect_eq(ac_utf8_seq_len("a", 1), 1);
    cr_expect_eq(ac_utf8_seq_len("", 1), 1); /* NUL is U+0000 */
    cr_expect_eq(ac_utf8_seq_len("\xc3\xa9", 2), 2);
    cr_expect_eq(ac_utf8_seq_len("\xc3\xa9", 1), 0, "cut by n");
    cr_expect_eq(ac_utf8_seq_len("\xe2\x82\xac", 3), 3);
    cr_expect_eq(ac_utf8_seq_len("\xf0\x9f\x98\x80", 4), 4);
    cr_expect_eq(ac_utf8_seq_len("\xf4\x8f\xbf\xbf", 4), 4); /* U+10FFFF */
    cr_expect_eq(ac_utf8_seq_len("\xf4\x90\x80\x80", 4), 0);
    cr_expect_eq(ac_utf8_seq_len("\xed\x9f\xbf", 3), 3); /* U+D7FF */
    cr_expect_eq(ac_utf8_seq_len("\xed\xa0\x80", 3), 0);
    cr_expect_eq(ac_utf8_seq_len("\xc1\xbf", 2), 0);
    cr_expect_eq(ac_utf8_seq_len("a", 0), 0);
    cr_expect(ac_utf8_valid("", 0));
    cr_expect(ac_utf8_valid("k\0ey", 4));
    cr_expect(!ac_utf8_valid("abc\x80", 4));
}

/* The Avro -> JSON converter copied string bytes into its output as they
 * were: `aftercare consume` wrote lines a strict parser refused. */
Test(json, avro_to_json_output_is_valid_with_invalid_utf8_inside)
{
    char errstr[256] = "";
    struct ac_codec *codec = ts_codec_new();

    /* The encoder does not check text: an action and a signal carrying bytes
     * that are not UTF-8, as a buggy or hostile writer could send them. */
    struct ac_action a;
    memset(&a, 0, sizeof(a));
    snprintf(a.action_id, sizeof(a.action_id), "act-\xff");
    snprintf(a.customer_id, sizeof(a.customer_id), "c\xc3");
    snprintf(a.rule_id, sizeof(a.rule_id), "r");
    a.kind = AC_KIND_MESSAGE;
    a.category = AC_CAT_SERVICE;
    snprintf(a.channel, sizeof(a.channel), "email");
    snprintf(a.template_name, sizeof(a.template_name), "t\x01\x7f");
    a.n_vars = 1;
    snprintf(a.vars[0].key, sizeof(a.vars[0].key), "n\xe9");
    snprintf(a.vars[0].value, sizeof(a.vars[0].value), "\xed\xa0\x80\"q\"");
    a.not_before = T0;
    a.expires_at = AC_TS_NONE;
    a.created_at = T0;
    snprintf(a.trigger_event_id, sizeof(a.trigger_event_id), "e");
    snprintf(a.trigger_type, sizeof(a.trigger_type), "order_placed");

    struct ac_buf bin;
    struct ac_buf json;
    ac_buf_init(&bin);
    ac_buf_init(&json);
    cr_assert_eq(ac_codec_encode_action(codec, &a, &bin), 0);
    cr_assert_eq(
        ac_codec_avro_to_json(codec, "actions", bin.data, bin.len, &json, errstr, sizeof(errstr)),
        0, "%s", errstr);
    json_t *j = strict_parse(json.data, 0);
    cr_expect_str_eq(json_string_value(json_object_get(j, "action_id")), "act-" FFFD);
    cr_expect_str_eq(json_string_value(json_object_get(j, "customer_id")), "c" FFFD);
    cr_expect_str_eq(json_string_value(json_object_get(j, "template")), "t\x01\x7f");
    json_t *vars = json_object_get(j, "vars");
    cr_expect_str_eq(json_string_value(json_object_get(vars, "n" FFFD)), FFFD FFFD FFFD "\"q\"",
                     "%s", json.data);
    json_decref(j);

    struct ac_signal sg;
    memset(&sg, 0, sizeof(sg));
    snprintf(sg.signal_id, sizeof(sg.signal_id), "s");
    snprintf(sg.customer_id, sizeof(sg.customer_id), "\x80");
    snprintf(sg.signal, sizeof(sg.signal), "segment");
    snprintf(sg.value, sizeof(sg.value), "v\xf8");
    snprintf(sg.cause_event_id, sizeof(sg.cause_event_id), "e");
    sg.occurred_at = T0;
    ac_buf_reset(&bin);
    ac_buf_reset(&json);
    cr_assert_eq(ac_codec_encode_signal(codec, &sg, &bin), 0);
    cr_assert_eq(
        ac_codec_avro_to_json(codec, "signals", bin.data, bin.len, &json, errstr, sizeof(errstr)),
        0, "%s", errstr);
    j = strict_parse(json.data, 0);
    cr_expect_str_eq(json_string_value(json_object_get(j, "value")), "v" FFFD);
    json_decref(j);

    ac_buf_fini(&bin);
    ac_buf_fini(&json);
    ac_codec_destroy(codec);
}

Test(json, customer_state_json_is_valid)
{
    struct ac_customer c;
    struct ac_buf b;
    ac_customer_init(&c, "cust-\xff\xfe");
    snprintf(c.account_owner, sizeof(c.account_owner), "ma\xe9ria");
    ac_buf_init(&b);
    cr_assert_eq(ac_customer_to_json(&c, &b), 0);
    json_t *j = strict_parse(b.data, 0);
    cr_expect_str_eq(json_string_value(json_object_get(j, "customer_id")), "cust-" FFFD FFFD);
    json_decref(j);
    ac_buf_fini(&b);
}

/* Avro bytes are written as Avro's JSON encoding says: one code point per
 * byte. A writer schema with a bytes field (none of ours has one) shows it. */
Test(json, avro_bytes_are_one_code_point_per_byte)
{
    char dir[] = "/tmp/ac-test-json-XXXXXX";
    char path[256];
    char schemas[1024];
    char errstr[256] = "";
    const char *src = getenv("AC_SOURCE_DIR");
    cr_assert(src, "AC_SOURCE_DIR is not set (run through ctest)");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/900-usage-bytes.avsc", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"type\":\"record\",\"name\":\"UsageEvent\",\"namespace\":\"aftercare\","
          "\"fields\":[{\"name\":\"blob\",\"type\":\"bytes\"}]}",
          f);
    fclose(f);
    snprintf(schemas, sizeof(schemas), "%s/schemas", src);
    struct ac_codec *codec = ac_codec_new(schemas, dir, errstr, sizeof(errstr));
    unlink(path);
    rmdir(dir);
    cr_assert(codec, "%s", errstr);

    /* framed with id 900: a bytes field of 6 bytes */
    static const unsigned char msg[] = {0, 0, 0, 0x03, 0x84, 12, 'A', 0, '"', 0x7f, 0x80, 0xff};
    struct ac_buf json;
    ac_buf_init(&json);
    cr_assert_eq(
        ac_codec_avro_to_json(codec, "usage", msg, sizeof(msg), &json, errstr, sizeof(errstr)), 0,
        "%s", errstr);
    json_t *j = strict_parse(json.data, JSON_ALLOW_NUL);
    json_t *blob = json_object_get(j, "blob");
    /* U+0041 U+0000 U+0022 U+007F U+0080 U+00FF in UTF-8 */
    static const char want[] = "A\0\"\x7f\xc2\x80\xc3\xbf";
    cr_expect_eq(json_string_length(blob), sizeof(want) - 1, "%s", json.data);
    cr_expect_eq(memcmp(json_string_value(blob), want, sizeof(want) - 1), 0, "%s", json.data);
    json_decref(j);
    ac_buf_fini(&json);
    ac_codec_destroy(codec);
}
