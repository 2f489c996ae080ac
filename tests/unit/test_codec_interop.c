/* test_codec_interop.c — the C codec against Apache's Python Avro, both ways.
 *
 * Runs /usr/bin/python3 (Debian's python3-avro) with tests/tools/avro_interop.py.
 * Without the avro module every test is skipped, visibly. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codec.h"
#include "decision_rec.h"
#include "err.h"

#define PYTHON "/usr/bin/python3"
#define T0 INT64_C(1767434400000) /* 2026-01-03T10:00:00Z */

static struct ac_codec *codec;
static const char *src;
static char script[1024];
static char tmpdir[1024];

static void setup(void)
{
    char schemas[1024];
    char registry[1024];
    char errstr[256] = "";
    const char *tmp = getenv("TMPDIR");
    src = getenv("AC_SOURCE_DIR");
    cr_assert(src, "AC_SOURCE_DIR is not set (run through ctest)");
    snprintf(schemas, sizeof(schemas), "%s/schemas", src);
    snprintf(registry, sizeof(registry), "%s/tests/data/registry", src);
    snprintf(script, sizeof(script), "%s/tests/tools/avro_interop.py", src);
    codec = ac_codec_new(schemas, registry, errstr, sizeof(errstr));
    cr_assert(codec, "ac_codec_new: %s", errstr);
    snprintf(tmpdir, sizeof(tmpdir), "%s/ac-interop-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    cr_assert(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

static void teardown(void)
{
    ac_codec_destroy(codec);
    /* the files each test wrote are removed by the test itself */
    rmdir(tmpdir);
}

TestSuite(interop, .init = setup, .fini = teardown);

/* Runs python with args (NULL-terminated), capturing stdout into out.
 * Returns the exit status, or -1 if it could not run. */
static int run_python(const char *const args[], struct ac_buf *out)
{
    int fds[2];
    if (pipe(fds) != 0) {
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(PYTHON, (char *const *)args); /* execv does not modify them */
        _exit(127);
    }
    close(fds[1]);
    char chunk[4096];
    ssize_t n;
    while ((n = read(fds[0], chunk, sizeof(chunk))) > 0) {
        ac_buf_append(out, chunk, (size_t)n);
    }
    close(fds[0]);
    int status = 0;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) {
        return -1;
    }
    return WEXITSTATUS(status);
}

static void require_python_avro(void)
{
    struct ac_buf out;
    ac_buf_init(&out);
    const char *args[] = {PYTHON, script, "check", NULL};
    int rc = access(PYTHON, X_OK) == 0 ? run_python(args, &out) : -1;
    ac_buf_fini(&out);
    if (rc != 0) {
        cr_skip_test("SKIPPED: %s with the avro module (python3-avro) is not available", PYTHON);
    }
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void read_file(const char *path, struct ac_buf *b)
{
    char chunk[4096];
    size_t n;
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s: %s", path, strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        ac_buf_append(b, chunk, n);
    }
    fclose(f);
}

/* Python decodes bytes the C codec wrote; returns its JSON line in out. */
static void python_decode(const char *schema, const struct ac_buf *bytes, struct ac_buf *out)
{
    char schema_path[1024];
    char data_path[1100];
    snprintf(schema_path, sizeof(schema_path), "%s/schemas/%s.avsc", src, schema);
    snprintf(data_path, sizeof(data_path), "%s/%s.bin", tmpdir, schema);
    write_file(data_path, bytes->data, bytes->len);
    const char *args[] = {PYTHON, script, "decode", schema_path, data_path, NULL};
    int rc = run_python(args, out);
    unlink(data_path);
    cr_assert_eq(rc, 0, "python decode of %s failed (%d): %s", schema, rc,
                 out->data ? out->data : "");
}

static void expect_has(const struct ac_buf *json, const char *needle)
{
    cr_assert(json->data && strstr(json->data, needle), "missing %s in %s", needle,
              json->data ? json->data : "(nothing)");
}

Test(interop, python_reads_our_actions)
{
    require_python_avro();
    struct ac_action a;
    memset(&a, 0, sizeof(a));
    snprintf(a.action_id, sizeof(a.action_id), "00112233445566778899aabbccddeeff");
    snprintf(a.customer_id, sizeof(a.customer_id), "cust-7");
    snprintf(a.rule_id, sizeof(a.rule_id), "feedback_routing");
    a.kind = AC_KIND_CRM_UPDATE;
    a.category = AC_CAT_MARKETING;
    snprintf(a.channel, sizeof(a.channel), "crm");
    snprintf(a.template_name, sizeof(a.template_name), "stage-onboarding");
    a.n_vars = 2;
    snprintf(a.vars[0].key, sizeof(a.vars[0].key), "stage");
    snprintf(a.vars[0].value, sizeof(a.vars[0].value), "onboarding");
    snprintf(a.vars[1].key, sizeof(a.vars[1].key), "note");
    snprintf(a.vars[1].value, sizeof(a.vars[1].value), "caf\xc3\xa9 \"quoted\"");
    a.not_before = T0;
    a.expires_at = T0 + 86400000;
    snprintf(a.trigger_event_id, sizeof(a.trigger_event_id), "ev-77");
    snprintf(a.trigger_type, sizeof(a.trigger_type), "survey_response");
    a.n_signals = 1;
    snprintf(a.signals[0].key, sizeof(a.signals[0].key), "nps_class");
    snprintf(a.signals[0].value, sizeof(a.signals[0].value), "detractor");
    a.created_at = T0 + 1;

    struct ac_buf bytes;
    struct ac_buf json;
    ac_buf_init(&bytes);
    ac_buf_init(&json);
    cr_assert_eq(ac_codec_encode_action(codec, &a, &bytes), 0);
    python_decode("actions", &bytes, &json);
    expect_has(&json, "\"action_id\":\"00112233445566778899aabbccddeeff\"");
    expect_has(&json, "\"kind\":\"crm_update\"");
    expect_has(&json, "\"category\":\"marketing\"");
    expect_has(&json, "\"template\":\"stage-onboarding\"");
    expect_has(&json, "\"vars\":{\"note\":\"caf\\u00e9 \\\"quoted\\\"\",\"stage\":\"onboarding\"}");
    expect_has(&json, "\"not_before\":1767434400000");
    expect_has(&json, "\"expires_at\":1767520800000");
    expect_has(&json, "\"created_at\":1767434400001");
    expect_has(&json, "\"experiment\":null");
    expect_has(&json, "\"reason\":{\"signals\":{\"nps_class\":\"detractor\"},"
                      "\"trigger_event_id\":\"ev-77\",\"trigger_type\":\"survey_response\"}");
    ac_buf_fini(&bytes);
    ac_buf_fini(&json);
}

Test(interop, python_reads_our_events_and_signals)
{
    require_python_avro();
    struct ac_event e;
    memset(&e, 0, sizeof(e));
    e.topic = AC_TOPIC_FEEDBACK;
    snprintf(e.event_id, sizeof(e.event_id), "ev-f");
    snprintf(e.customer_id, sizeof(e.customer_id), "cust-f");
    snprintf(e.type, sizeof(e.type), "survey_response");
    e.occurred_at = T0;
    e.u.feedback.score = 4;
    snprintf(e.u.feedback.scale, sizeof(e.u.feedback.scale), "csat_5");
    e.u.feedback.frequency_opt_in = -1;
    e.u.feedback.n_consents = 1;
    snprintf(e.u.feedback.consents[0].key, sizeof(e.u.feedback.consents[0].key), "push");
    snprintf(e.u.feedback.consents[0].value, sizeof(e.u.feedback.consents[0].value), "true");

    struct ac_buf bytes;
    struct ac_buf json;
    ac_buf_init(&bytes);
    ac_buf_init(&json);
    cr_assert_eq(ac_codec_encode_event(codec, &e, 0, &bytes), 0); /* plain this time */
    python_decode("feedback", &bytes, &json);
    expect_has(&json, "\"score\":4,");
    expect_has(&json, "\"scale\":\"csat_5\"");
    expect_has(&json, "\"consents\":{\"push\":true}");
    expect_has(&json, "\"frequency_opt_in\":null");
    expect_has(&json, "\"is_complaint\":false");

    struct ac_signal s;
    memset(&s, 0, sizeof(s));
    snprintf(s.signal_id, sizeof(s.signal_id), "sig-9");
    snprintf(s.customer_id, sizeof(s.customer_id), "cust-f");
    snprintf(s.signal, sizeof(s.signal), "p_alive");
    snprintf(s.value, sizeof(s.value), "0.42");
    s.score = 0.421875;
    s.occurred_at = T0;
    snprintf(s.cause_event_id, sizeof(s.cause_event_id), "ev-f");
    ac_buf_reset(&bytes);
    ac_buf_reset(&json);
    cr_assert_eq(ac_codec_encode_signal(codec, &s, &bytes), 0);
    python_decode("signals", &bytes, &json);
    expect_has(&json, "\"score\":0.421875");
    expect_has(&json, "\"previous\":null");
    expect_has(&json, "\"signal\":\"p_alive\"");
    ac_buf_fini(&bytes);
    ac_buf_fini(&json);
}

Test(interop, we_read_python_orders_plain_and_v2_framed)
{
    require_python_avro();
    char v1[1024];
    char v2[1024];
    char plain_path[1100];
    char framed_path[1100];
    char reason[128] = "";
    snprintf(v1, sizeof(v1), "%s/schemas/orders.avsc", src);
    snprintf(v2, sizeof(v2), "%s/tests/data/registry/101-orders-v2.avsc", src);
    snprintf(plain_path, sizeof(plain_path), "%s/plain.bin", tmpdir);
    snprintf(framed_path, sizeof(framed_path), "%s/framed.bin", tmpdir);
    struct ac_buf out;
    ac_buf_init(&out);
    const char *args[] = {PYTHON, script, "write-orders", v1, v2, plain_path, framed_path, NULL};
    cr_assert_eq(run_python(args, &out), 0, "python write-orders failed");

    const char *paths[] = {plain_path, framed_path};
    for (int i = 0; i < 2; i++) {
        struct ac_buf bytes;
        struct ac_event ev;
        ac_buf_init(&bytes);
        read_file(paths[i], &bytes);
        unlink(paths[i]);
        cr_assert_eq(bytes.data[0] == 0, i == 1, "framing of %s", paths[i]);
        int rc = ac_codec_decode_event(codec, AC_TOPIC_ORDERS, bytes.data, bytes.len, &ev, reason,
                                       sizeof(reason));
        cr_assert_eq(rc, 0, "%s: %s", paths[i], reason);
        cr_assert_str_eq(ev.event_id, "py-ev-1");
        cr_assert_str_eq(ev.customer_id, "py-cust");
        cr_assert_str_eq(ev.type, "subscription_renewed");
        cr_assert_eq(ev.type_index, 6);
        cr_assert_eq(ev.occurred_at, T0);
        cr_assert_str_eq(ev.u.order.order_id, "py-ord");
        cr_assert_eq(ev.u.order.total_cents, 4200);
        cr_assert_str_eq(ev.u.order.currency, "SEK");
        cr_assert_eq(ev.u.order.n_items, 1);
        cr_assert_str_eq(ev.u.order.items[0].product_family, "tea");
        cr_assert_eq(ev.u.order.items[0].unit_price_cents, 2100);
        cr_assert_eq(ev.u.order.items[0].quantity, 2);
        cr_assert_eq(ev.u.order.renewal_at, T0 + INT64_C(365) * 86400000);
        cr_assert_str_eq(ev.u.order.account_owner, "");
        ac_buf_fini(&bytes);
    }
    ac_buf_fini(&out);
}

Test(interop, python_reads_our_decisions)
{
    require_python_avro();
    struct ac_decision_rec d;
    memset(&d, 0, sizeof(d));
    snprintf(d.decision_id, sizeof(d.decision_id), "0123456789abcdef0123456789abcdef");
    snprintf(d.customer_id, sizeof(d.customer_id), "cust-7");
    snprintf(d.rule_id, sizeof(d.rule_id), "detractor_callback");
    d.part = 2;
    snprintf(d.action_id, sizeof(d.action_id), "00112233445566778899aabbccddeeff");
    snprintf(d.decision, sizeof(d.decision), "rescheduled");
    snprintf(d.reason, sizeof(d.reason), "business_hours");
    snprintf(d.trigger_event_id, sizeof(d.trigger_event_id), "ev-77");
    snprintf(d.trigger_type, sizeof(d.trigger_type), "survey_response");
    snprintf(d.channel, sizeof(d.channel), "phone");
    d.not_before = T0 + 60000;
    d.due = AC_TS_NONE;
    d.n_signals = 1;
    snprintf(d.signals[0].key, sizeof(d.signals[0].key), "nps_class");
    snprintf(d.signals[0].value, sizeof(d.signals[0].value), "detractor");
    d.decided_at = T0;

    struct ac_buf bytes;
    struct ac_buf json;
    ac_buf_init(&bytes);
    ac_buf_init(&json);
    cr_assert_eq(ac_codec_encode_decision(codec, &d, &bytes), 0);
    python_decode("decisions", &bytes, &json);
    expect_has(&json, "\"decision\":\"rescheduled\"");
    expect_has(&json, "\"decision_id\":\"0123456789abcdef0123456789abcdef\"");
    expect_has(&json, "\"part\":2,");
    expect_has(&json, "\"reason\":\"business_hours\"");
    expect_has(&json, "\"channel\":\"phone\"");
    expect_has(&json, "\"template\":null");
    expect_has(&json, "\"not_before\":1767434460000");
    expect_has(&json, "\"due\":null");
    expect_has(&json, "\"signals\":{\"nps_class\":\"detractor\"}");
    expect_has(&json, "\"decided_at\":1767434400000");
    ac_buf_fini(&bytes);
    ac_buf_fini(&json);
}
