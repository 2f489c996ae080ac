/* The `aftercare` command: produce and consume JSON lines against the mock. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <jansson.h>

#include "harness.h"
#include "outbox.h"

static struct h_env env;

static void setup(void)
{
    h_start(&env, 2);
}

static void teardown(void)
{
    h_stop(&env);
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 120);

/* Runs the CLI through sh with the brokers in the environment; returns its
 * exit code and its stdout (and stderr, if err != NULL) in buffers. */
static int run_cli(const char *args, char *out, size_t outlen, char *err, size_t errlen)
{
    char cmd[2048], errpath[512];
    snprintf(errpath, sizeof(errpath), "%s/cli.err", env.dir);
    snprintf(cmd, sizeof(cmd),
             "AFTERCARE_KAFKA_BROKERS=%s AFTERCARE_SCHEMAS_DIR=%s/schemas %s/aftercare %s 2>%s",
             ac_dev_kafka_brokers(env.dk), h_source_dir(), h_bin_dir(), args, errpath);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    if (err) {
        FILE *f = fopen(errpath, "r");
        size_t m = f ? fread(err, 1, errlen - 1, f) : 0;
        err[m] = '\0';
        if (f) {
            fclose(f);
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(cli, produce_stops_at_a_bad_line_and_consume_reads_back)
{
    char path[512], args[1024], out[8192], err[2048];
    snprintf(path, sizeof(path), "%s/in.jsonl", env.dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"event_id\":\"c1\",\"customer_id\":\"a\",\"type\":\"order_placed\","
          "\"occurred_at\":\"2026-01-03T10:00:00Z\",\"order_id\":\"o1\",\"total_cents\":100,"
          "\"currency\":\"EUR\",\"items\":[]}\n"
          "# a comment line\n"
          "{\"event_id\":\"c2\",\"customer_id\":\"b\",\"type\":\"cart_abandoned\","
          "\"occurred_at\":1767434400000,\"order_id\":\"\",\"total_cents\":5,\"currency\":\"EUR\","
          "\"items\":[]}\n"
          "{\"event_id\":\"c3\",\"customer_id\":\"c\",\"type\":\"order_placed\","
          "\"occurred_at\":\"2026-01-03T10:00:00Z\",\"order_id\":\"o3\",\"total_cents\":\"ten\","
          "\"currency\":\"EUR\",\"items\":[]}\n"
          "{\"event_id\":\"c4\",\"customer_id\":\"d\",\"type\":\"order_placed\","
          "\"occurred_at\":\"2026-01-03T10:00:00Z\",\"order_id\":\"o4\",\"total_cents\":1,"
          "\"currency\":\"EUR\",\"items\":[]}\n",
          f);
    fclose(f);
    snprintf(args, sizeof(args), "produce orders %s", path);
    cr_expect_eq(run_cli(args, out, sizeof(out), err, sizeof(err)), 1);
    char want[600];
    snprintf(want, sizeof(want), "%s:4: ", path);
    cr_expect(strstr(err, want) != NULL, "error must name file:line, got: %s", err);
    cr_expect(strstr(err, "total_cents") != NULL, "error must name the field, got: %s", err);
    cr_expect_eq(h_topic_end(&env, "orders"), 2, "the lines before the bad one, nothing after");

    cr_expect_eq(
        run_cli("consume orders --from-beginning --max 2 --timeout 20", out, sizeof(out), NULL, 0),
        0);
    cr_expect(strstr(out, "\"event_id\":\"c1\"") != NULL, "consume output: %s", out);
    cr_expect(strstr(out, "\"event_id\":\"c2\"") != NULL);
    cr_expect(strstr(out, "\"occurred_at\":\"2026-01-03T10:00:00.000Z\"") != NULL,
              "timestamps come back as ISO-8601: %s", out);
    int lines = 0;
    for (const char *p = out; (p = strchr(p, '\n')); p++) {
        lines++;
    }
    cr_expect_eq(lines, 2);

    /* --timeout ends a consume that sees nothing new. */
    cr_expect_eq(run_cli("consume aftercare.actions --timeout 1", out, sizeof(out), NULL, 0), 0);
    cr_expect_str_eq(out, "");
}

Test(cli, usage_errors_and_help)
{
    char out[8192], err[2048];
    cr_expect_eq(run_cli("--help", out, sizeof(out), NULL, 0), 0);
    cr_expect(strstr(out, "produce TOPIC") != NULL);
    cr_expect_eq(run_cli("frobnicate", out, sizeof(out), err, sizeof(err)), 2);
    cr_expect(strstr(err, "unknown command 'frobnicate'") != NULL, "%s", err);
    cr_expect_eq(run_cli("produce nosuchtopic", out, sizeof(out), err, sizeof(err)), 2);
    cr_expect(strstr(err, "no schema for topic 'nosuchtopic'") != NULL, "%s", err);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* One first order, one unsubscribe from email, one cart two weeks later. */
static const char sim_events[] =
    "{\"topic\":\"orders\",\"event_id\":\"o1\",\"customer_id\":\"s1\",\"type\":\"order_placed\","
    "\"occurred_at\":\"2026-05-04T10:00:00Z\",\"order_id\":\"A1\",\"total_cents\":1000,"
    "\"currency\":\"EUR\",\"items\":[{\"sku\":\"b\",\"product_family\":\"coffee\",\"category\":"
    "\"c\",\"unit_price_cents\":1000,\"quantity\":1}]}\n"
    "{\"topic\":\"feedback\",\"event_id\":\"f1\",\"customer_id\":\"s1\",\"type\":"
    "\"message_engagement\",\"occurred_at\":\"2026-05-12T10:00:00Z\",\"engagement\":"
    "\"unsubscribed\",\"channel\":\"email\"}\n";

Test(cli, simulate_prints_every_decision_on_event_time)
{
    char events[512], out[1 << 16], err[4096];
    snprintf(events, sizeof(events), "%s/sim.jsonl", env.dir);
    write_text(events, sim_events);
    char args[4096];
    snprintf(args, sizeof(args), "simulate --events %s --until 2026-06-01T00:00:00Z", events);
    cr_assert_eq(run_cli(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    /* welcome_2 exactly two days after the order, by email */
    cr_expect(strstr(out, "\"time\":\"2026-05-06T10:00:00.000Z\",\"customer_id\":\"s1\","
                          "\"rule_id\":\"welcome_2\",\"decision\":\"emitted\"") != NULL,
              "%s", out);
    /* welcome_4 on day 14 comes after the unsubscribe: no channel is left */
    cr_expect(strstr(out, "\"rule_id\":\"welcome_4\",\"decision\":\"suppressed\","
                          "\"reason\":\"no_consent\"") != NULL,
              "%s", out);
    cr_expect(strstr(err, "2 events") != NULL, "%s", err);

    /* The same events against a playbook with welcome_2 a day later. */
    char changed[512], cmd[4096];
    snprintf(changed, sizeof(changed), "%s/changed.yaml", env.dir);
    snprintf(
        cmd, sizeof(cmd),
        "sed 's/timing: {delay: 2d}/timing: {delay: 3d}/' %s/deploy/playbooks/default.yaml > %s",
        h_source_dir(), changed);
    cr_assert_eq(system(cmd), 0);
    snprintf(args, sizeof(args),
             "simulate --events %s --until 2026-06-01T00:00:00Z --playbook %s --against "
             "%s/deploy/playbooks/default.yaml",
             events, changed, h_source_dir());
    cr_assert_eq(run_cli(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_expect(strstr(out, "{\"change\":\"move\"") != NULL, "%s", out);
    cr_expect(strstr(out, "\"rule_id\":\"welcome_2\",\"not_before\":\"2026-05-07T10:00:00.000Z\","
                          "\"was_not_before\":\"2026-05-06T10:00:00.000Z\"") != NULL,
              "%s", out);
    cr_expect(strstr(err, "0 appear, 0 vanish, 1 move") != NULL, "%s", err);

    /* Bad lines are reported with file:line and skipped, as the DLQ would get
     * them; the good ones still run. --strict stops at the first. */
    char bad[4096];
    snprintf(bad, sizeof(bad),
             "{\"topic\":\"orders\",\"event_id\":\"x\"}\n%s{\"topic\":\"nope\"}\n", sim_events);
    write_text(events, bad);
    snprintf(args, sizeof(args), "simulate --events %s --until 2026-06-01T00:00:00Z", events);
    cr_expect_eq(run_cli(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_expect(strstr(err, "sim.jsonl:1: ") != NULL, "%s", err);
    cr_expect(strstr(err, "sim.jsonl:4: ") != NULL, "%s", err);
    cr_expect(strstr(err, "2 line(s) skipped") != NULL, "%s", err);
    cr_expect(strstr(out, "\"rule_id\":\"welcome_2\",\"decision\":\"emitted\"") != NULL, "%s", out);
    snprintf(args, sizeof(args), "simulate --events %s --strict", events);
    cr_expect_eq(run_cli(args, out, sizeof(out), err, sizeof(err)), 1);
    cr_expect(strstr(err, "sim.jsonl:1: ") != NULL, "%s", err);
    cr_expect(strstr(err, "sim.jsonl:4: ") == NULL, "stopped at the first: %s", err);
}

/* --until bounds events as well as timers; decisions at one instant come out
 * in one order, run after run (by customer). */
Test(cli, simulate_until_bounds_events_and_its_output_is_ordered)
{
    char events[512], out[1 << 16], again[1 << 16], err[4096], args[4096], text[4096];
    snprintf(events, sizeof(events), "%s/sim2.jsonl", env.dir);
    size_t n = 0;
    static const char *const custs[] = {"zed", "amy", "kim"};
    for (int i = 0; i < 3; i++) {
        n += (size_t)snprintf(
            text + n, sizeof(text) - n,
            "{\"topic\":\"orders\",\"event_id\":\"e-%s\",\"customer_id\":\"%s\","
            "\"type\":\"order_placed\",\"occurred_at\":\"2026-05-04T10:00:00Z\","
            "\"order_id\":\"A-%s\",\"total_cents\":1000,\"currency\":\"EUR\",\"items\":[{\"sku\":"
            "\"b\",\"product_family\":\"coffee\",\"category\":\"c\",\"unit_price_cents\":1000,"
            "\"quantity\":1}]}\n",
            custs[i], custs[i], custs[i]);
    }
    n += (size_t)snprintf(
        text + n, sizeof(text) - n,
        "{\"topic\":\"orders\",\"event_id\":\"late\",\"customer_id\":\"late-1\","
        "\"type\":\"order_placed\",\"occurred_at\":\"2026-05-20T10:00:00Z\",\"order_id\":\"L\","
        "\"total_cents\":1000,\"currency\":\"EUR\",\"items\":[]}\n");
    write_text(events, text);
    snprintf(args, sizeof(args), "simulate --events %s --until 2026-05-10T00:00:00Z", events);
    cr_assert_eq(run_cli(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_expect(strstr(out, "late-1") == NULL, "an event after --until is not applied: %s", out);
    cr_expect(strstr(err, "1 event(s) after --until not applied") != NULL, "%s", err);
    /* at the order's instant: amy, kim, zed */
    const char *a = strstr(out, "\"customer_id\":\"amy\"");
    const char *k = strstr(out, "\"customer_id\":\"kim\"");
    const char *z = strstr(out, "\"customer_id\":\"zed\"");
    cr_assert(a && k && z, "%s", out);
    cr_expect(a < k && k < z, "ordered by customer at one instant: %s", out);
    cr_assert_eq(run_cli(args, again, sizeof(again), err, sizeof(err)), 0, "%s", err);
    cr_expect_str_eq(again, out, "the same output twice");
}

/* Signals are printed beside the decisions, in the same order (time,
 * customer, then as raised and decided): a processor's signal (segment) comes
 * before the decisions of its event, and a signal the timer path raises
 * (late_delivery when the estimate passes) before the apology it goes with. */
Test(cli, simulate_prints_signals_beside_decisions)
{
    static char out[1 << 16];
    char events[512], err[4096], args[1024];
    snprintf(events, sizeof(events), "%s/sim3.jsonl", env.dir);
    write_text(events,
               "{\"topic\":\"orders\",\"event_id\":\"o1\",\"customer_id\":\"s1\",\"type\":"
               "\"order_placed\",\"occurred_at\":\"2026-05-04T10:00:00Z\",\"order_id\":\"A1\","
               "\"total_cents\":1000,\"currency\":\"EUR\",\"items\":[{\"sku\":\"b\","
               "\"product_family\":\"coffee\",\"category\":\"c\",\"unit_price_cents\":1000,"
               "\"quantity\":1}]}\n"
               "{\"topic\":\"deliveries\",\"event_id\":\"d1\",\"customer_id\":\"s1\",\"type\":"
               "\"shipped\",\"occurred_at\":\"2026-05-04T12:00:00Z\",\"order_id\":\"A1\","
               "\"carrier\":\"dhl\",\"tracking_url\":\"\","
               "\"estimated_delivery_at\":\"2026-05-05T12:00:00Z\"}\n");
    snprintf(args, sizeof(args), "simulate --events %s --until 2026-05-06T00:00:00Z", events);
    cr_assert_eq(run_cli(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    const char *seg = strstr(out, "{\"time\":\"2026-05-04T10:00:00.000Z\",\"customer_id\":\"s1\","
                                  "\"signal\":\"segment\",\"value\":\"one_time\","
                                  "\"previous\":\"new\",\"score\":10,\"signal_id\":\"");
    const char *conf = strstr(out, "\"rule_id\":\"order_confirmation\",\"decision\":\"emitted\"");
    cr_assert(seg && conf, "%s", out);
    cr_expect(seg < conf, "the signal before its event's decisions: %s", out);
    cr_expect(strstr(seg, "\"cause_event_id\":\"o1\"}\n") != NULL, "%s", out);
    const char *late = strstr(out, "{\"time\":\"2026-05-05T13:00:00.000Z\",\"customer_id\":\"s1\","
                                   "\"signal\":\"late_delivery\",\"value\":\"estimate_passed\","
                                   "\"previous\":null,");
    const char *apology = strstr(out, "{\"time\":\"2026-05-05T13:00:00.000Z\",\"customer_id\":"
                                      "\"s1\",\"rule_id\":\"delivery_delay_overdue\","
                                      "\"decision\":\"emitted\"");
    cr_assert(late && apology, "%s", out);
    cr_expect(late < apology, "%s", out);
    /* every line is one JSON object with either "signal" or "decision" */
    long n_sig = 0, n_dec = 0;
    for (char *line = out, *nl; *line; line = nl + 1) {
        cr_assert((nl = strchr(line, '\n')) != NULL, "a line without its newline: %s", line);
        *nl = '\0';
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        cr_assert_not_null(o, "%s: %s", jerr.text, line);
        int is_sig = json_object_get(o, "signal") != NULL;
        int is_dec = json_object_get(o, "decision") != NULL;
        cr_expect(is_sig != is_dec, "%s", line);
        n_sig += is_sig;
        n_dec += is_dec;
        json_decref(o);
    }
    cr_expect_eq(n_sig, 2);
    cr_expect(strstr(err, "2 signals") != NULL, "%s", err);
    cr_expect(n_dec > 10, "%ld decisions", n_dec);
}

/* The demo's sample replays through simulate as well: times written as
 * offsets from now, comment lines skipped. Its two signals are as far apart
 * as the file says: cy's estimate (+1d12h) passes an hour late, ada's order
 * is at +10m. A bad offset is reported with its line and skipped. */
Test(cli, simulate_reads_offsets_from_now_like_the_demo)
{
    static char out[1 << 18];
    char err[4096], args[1024];
    snprintf(args, sizeof(args), "simulate --events %s/deploy/demo/journeys.jsonl --until +27d",
             h_source_dir());
    cr_assert_eq(run_cli(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_expect(strstr(err, "skipped") == NULL, "every line of the sample is an event: %s", err);
    cr_expect(strstr(err, "26 events") != NULL, "%s", err);
    int64_t seg = AC_TS_NONE, late = AC_TS_NONE;
    for (char *line = out, *nl; *line; line = nl + 1) {
        cr_assert((nl = strchr(line, '\n')) != NULL);
        *nl = '\0';
        json_t *o = json_loads(line, 0, NULL);
        cr_assert_not_null(o, "%s", line);
        const char *cust = json_string_value(json_object_get(o, "customer_id"));
        const char *sig = json_string_value(json_object_get(o, "signal"));
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        const char *t = json_string_value(json_object_get(o, "time"));
        cr_assert(t && strptime(t, "%Y-%m-%dT%H:%M:%S", &tm), "%s", line);
        int64_t at = (int64_t)timegm(&tm) * 1000 + strtol(t + 20, NULL, 10);
        if (sig && strcmp(cust, "cust-ada") == 0 && strcmp(sig, "segment") == 0) {
            seg = at;
        }
        if (sig && strcmp(cust, "cust-cy") == 0 && strcmp(sig, "late_delivery") == 0) {
            late = at;
        }
        json_decref(o);
    }
    cr_assert(seg != AC_TS_NONE && late != AC_TS_NONE, "both signals");
    cr_expect_eq(late - seg, (36 * 60 + 50) * 60000LL, "1d13h after day 0, less 10 minutes");

    char events[512];
    snprintf(events, sizeof(events), "%s/sim4.jsonl", env.dir);
    write_text(events, "# a comment\n"
                       "{\"topic\":\"orders\",\"event_id\":\"o1\",\"customer_id\":\"s1\",\"type\":"
                       "\"order_placed\",\"occurred_at\":\"+3x\",\"order_id\":\"A1\","
                       "\"total_cents\":1000,\"currency\":\"EUR\",\"items\":[]}\n");
    snprintf(args, sizeof(args), "simulate --events %s", events);
    cr_expect_eq(run_cli(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_expect(strstr(err, "sim4.jsonl:2: occurred_at: expected an offset from now") != NULL, "%s",
              err);
}

/* `aftercare consume aftercare.dlq` writes one JSON line per record that a
 * strict parser reads, whatever bytes the keys and headers hold: keys and
 * header values that were not UTF-8 were copied into the JSON (4 lines of
 * 12 failed to parse). The key is shown whole (not cut at a NUL). */
Test(cli, consume_dlq_lines_are_valid_json)
{
#define FFFD "\xef\xbf\xbd"
    static const struct {
        const char *key;
        size_t key_len;
        const char *want; /* the key as the JSON line shows it */
    } keys[] = {
        {"cust-1", 6, "cust-1"},
        {"py-garbage", 10, "py-garbage"},
        {"\xff\xfe", 2, FFFD FFFD},
        {"caf\xc3\xa9", 5, "caf\xc3\xa9"},
        {"caf\xe9", 4, "caf" FFFD},
        {"k\0ey", 4, "k\0ey"},
        {"q\"\\\n", 4, "q\"\\\n"},
        {"\xed\xa0\x80", 3, FFFD FFFD FFFD},
        {"", 0, ""},
        {NULL, 0, ""},
        {"\x01\x7f", 2, "\x01\x7f"},
        {"\xc3", 1, FFFD},
    };
    enum { N = sizeof(keys) / sizeof(keys[0]) };
    for (int i = 0; i < N; i++) {
        char value[16];
        snprintf(value, sizeof(value), "v%02d", i);
        rd_kafka_headers_t *h = ac_outbox_dlq_headers("orders", 0, i, "undecodable");
        rd_kafka_header_add(h, "note", -1, i % 2 ? "n\xff\x00te" : "ok", i % 2 ? 5 : 2);
        cr_assert_eq(ac_outbox_produce_keyed(env.producer, "aftercare.dlq", keys[i].key,
                                             keys[i].key_len, value, strlen(value), h),
                     0);
    }
    h_flush(&env);

    char out[1 << 15];
    cr_assert_eq(run_cli("consume aftercare.dlq --from-beginning --max 12 --timeout 20", out,
                         sizeof(out), NULL, 0),
                 0);
    int lines = 0;
    for (char *line = out, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = '\0';
        json_error_t jerr;
        json_t *j = json_loads(line, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
        cr_assert_not_null(j, "not valid JSON (%s): %s", jerr.text, line);
        lines++;
        /* which record: its value is "vNN", base64 "dk5O" style */
        const char *b64 = json_string_value(json_object_get(j, "value_base64"));
        cr_assert_not_null(b64, "%s", line);
        char value[8] = "";
        static const char tbl[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        unsigned v = 0;
        for (int k = 0; k < 4; k++) {
            v = v << 6 | (unsigned)(strchr(tbl, b64[k]) - tbl);
        }
        value[0] = (char)(v >> 16), value[1] = (char)(v >> 8), value[2] = (char)v;
        cr_assert(value[0] == 'v', "%s", line);
        int i = (value[1] - '0') * 10 + (value[2] - '0');
        cr_assert(i >= 0 && i < N, "%s", line);
        json_t *key = json_object_get(j, "key");
        cr_assert(json_is_string(key), "%s", line);
        size_t want_len = keys[i].key ? keys[i].key_len : 0;
        if (strcmp(keys[i].want, keys[i].key ? keys[i].key : "") != 0) {
            want_len = strlen(keys[i].want); /* replaced characters */
        }
        cr_expect_eq(json_string_length(key), want_len, "key %d: %s", i, line);
        cr_expect_eq(memcmp(json_string_value(key), keys[i].want, want_len), 0, "key %d: %s", i,
                     line);
        json_t *hdrs = json_object_get(j, "headers");
        cr_expect_str_eq(json_string_value(json_object_get(hdrs, "reason")), "undecodable");
        json_t *note = json_object_get(hdrs, "note");
        if (i % 2) {
            cr_expect_eq(json_string_length(note), 7, "%s", line); /* n FFFD \0 t e */
            cr_expect_eq(memcmp(json_string_value(note), "n" FFFD "\0te", 7), 0, "%s", line);
        } else {
            cr_expect_str_eq(json_string_value(note), "ok");
        }
        json_decref(j);
    }
    cr_expect_eq(lines, N);
#undef FFFD
}
