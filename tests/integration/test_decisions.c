/* aftercare.decisions, the audit log: the dev stack creates the topic, and
 * `aftercare consume aftercare.decisions` shows its records as JSON lines,
 * whether written by the codec or by `aftercare produce`. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decision_rec.h"
#include "harness.h"

#define T0 1767434400000LL /* 2026-01-03T10:00:00Z */

static struct h_env env;

static void setup(void)
{
    h_start(&env, 2);
}

static void teardown(void)
{
    h_stop(&env);
}

TestSuite(decisions, .init = setup, .fini = teardown, .timeout = 120);

Test(decisions, consume_prints_the_audit_log_as_json_lines)
{
    struct ac_decision_rec d;
    struct ac_buf b;
    char out[8192], err[2048], path[512], args[1024];
    memset(&d, 0, sizeof(d));
    snprintf(d.decision_id, sizeof(d.decision_id), "d-1");
    snprintf(d.customer_id, sizeof(d.customer_id), "cust-1");
    snprintf(d.rule_id, sizeof(d.rule_id), "welcome_2");
    snprintf(d.action_id, sizeof(d.action_id), "a-1");
    snprintf(d.decision, sizeof(d.decision), "capped");
    snprintf(d.reason, sizeof(d.reason), "frequency_cap");
    snprintf(d.trigger_event_id, sizeof(d.trigger_event_id), "ev-1");
    snprintf(d.trigger_type, sizeof(d.trigger_type), "order_placed");
    d.not_before = d.due = AC_TS_NONE;
    d.decided_at = T0;
    ac_buf_init(&b);
    cr_assert_eq(ac_codec_encode_decision(env.codec, &d, &b), 0);
    h_produce_raw(&env, "aftercare.decisions", d.customer_id, b.data, b.len);
    h_flush(&env);
    ac_buf_fini(&b);

    snprintf(path, sizeof(path), "%s/decisions.jsonl", env.dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"customer_id\":\"cust-2\",\"decisions\":[{\"decision_id\":\"d-2\","
          "\"rule_id\":\"nudge\",\"part\":0,"
          "\"action_id\":\"a-2\",\"decision\":\"merged\",\"reason\":\"same_template\","
          "\"trigger_event_id\":\"ev-2\",\"trigger_type\":\"cart_abandoned\","
          "\"due\":\"2026-01-03T10:00:00Z\",\"decided_at\":1767434400001}]}\n",
          f);
    fclose(f);
    snprintf(args, sizeof(args), "produce aftercare.decisions %s", path);
    cr_assert_eq(h_run_cli(&env, args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);

    cr_assert_eq(h_run_cli(&env,
                           "consume aftercare.decisions --from-beginning --max 2 --timeout 20", out,
                           sizeof(out), err, sizeof(err)),
                 0, "%s", err);
    cr_expect(
        strstr(out,
               "{\"customer_id\":\"cust-1\",\"decisions\":[{\"decision_id\":\"d-1\","
               "\"rule_id\":\"welcome_2\",\"part\":0,\"action_id\":\"a-1\",\"decision\":\"capped\","
               "\"reason\":\"frequency_cap\",\"trigger_event_id\":\"ev-1\","
               "\"trigger_type\":\"order_placed\",\"channel\":null,\"template\":null,"
               "\"not_before\":null,\"due\":null,\"experiment\":null,\"variant\":null,"
               "\"signals\":{},\"decided_at\":\"2026-01-03T10:00:00.000Z\"}]}\n"),
        "consume output: %s", out);
    cr_expect(strstr(out, "\"decision\":\"merged\"") != NULL, "%s", out);
    cr_expect(strstr(out, "\"due\":\"2026-01-03T10:00:00.000Z\"") != NULL, "%s", out);
    cr_expect_str_eq(err, "", "nothing on stderr");
}
