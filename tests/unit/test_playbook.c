/* The playbook: every error class with its exact file:line:column message,
 * several errors at once, the default playbook (every SPEC §4 row, sample
 * timings), durations, and the event vocabulary against schemas/. Needs
 * AC_SOURCE_DIR (set by ctest). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "playbook.h"

static char test_src[512];
static struct ac_buf test_out;

static void test_setup(void)
{
    const char *src = getenv("AC_SOURCE_DIR");
    cr_assert(src && *src, "AC_SOURCE_DIR must point at the source tree");
    snprintf(test_src, sizeof(test_src), "%s", src);
    ac_buf_init(&test_out);
}

static void test_teardown(void)
{
    ac_buf_fini(&test_out);
}

TestSuite(playbook, .init = test_setup, .fini = test_teardown);

/* Collects "file:line:column: message" lines, with the data directory cut
 * off the file so expectations stay free of machine paths. */
static void test_collect(const struct ac_pb_diag *diag, void *opaque)
{
    const char *cut = opaque;
    const char *text = diag->text;
    size_t n = strlen(cut);
    if (strncmp(text, cut, n) == 0) {
        text += n;
    }
    ac_buf_printf(&test_out, "%s\n", text);
}

static struct ac_playbook *test_load(const char *rel)
{
    char path[1024], dir[600];
    snprintf(dir, sizeof(dir), "%s/tests/data/playbooks/", test_src);
    snprintf(path, sizeof(path), "%s%s", dir, rel);
    ac_buf_reset(&test_out);
    struct ac_playbook *pb = ac_playbook_load(path, test_collect, dir);
    if (test_out.len == 0) {
        ac_buf_printf(&test_out, "%s", "");
    }
    return pb;
}

static void test_expect(const char *rel, const char *expected)
{
    struct ac_playbook *pb = test_load(rel);
    cr_assert_null(pb, "%s loaded but should not", rel);
    cr_assert_str_eq(test_out.data ? test_out.data : "", expected);
}

static const char *test_buffer(const char *text)
{
    ac_buf_reset(&test_out);
    struct ac_playbook *pb =
        ac_playbook_load_buffer("t.yaml", text, strlen(text), test_collect, (void *)"");
    ac_playbook_destroy(pb);
    return test_out.len ? test_out.data : "";
}

/* --- one error class per file ---------------------------------------------------------------- */

Test(playbook, unknown_key)
{
    test_expect("unknown_key.yaml",
                "unknown_key.yaml:8:14: unknown key 'delya' in timing (did you mean 'delay'?)\n");
}

Test(playbook, bad_duration)
{
    test_expect("bad_duration.yaml",
                "bad_duration.yaml:8:21: bad duration '7x' for delay: unknown unit 'x' (use s, m, "
                "h, d, w or y)\n"
                "bad_duration.yaml:9:14: bad duration '99999999y' for expires: out of range (at "
                "most 100y)\n");
}

Test(playbook, unknown_event)
{
    test_expect("unknown_event.yaml", "unknown_event.yaml:4:14: unknown event type 'order_placd' "
                                      "(did you mean 'order_placed'?)\n");
}

Test(playbook, unknown_signal)
{
    test_expect("unknown_signal.yaml", "unknown_signal.yaml:4:23: unknown signal 'churn_rsk' (did "
                                       "you mean 'churn_risk'?)\n");
}

Test(playbook, unknown_channel)
{
    test_expect("unknown_channel.yaml", "unknown_channel.yaml:6:15: unknown channel 'emial' (did "
                                        "you mean 'email'?)\n");
}

Test(playbook, cancel_on_that_can_never_happen)
{
    test_expect("cancel_never.yaml",
                "cancel_never.yaml:9:40: cancel_on 'shipped' can never happen after the trigger: "
                "for the same order, 'shipped' always comes before 'delivered'\n");
}

Test(playbook, window_that_can_never_open)
{
    test_expect("window_never.yaml", "window_never.yaml:10:13: window lies entirely within the "
                                     "quiet hours (21:00-08:00): it can never open\n");
}

Test(playbook, business_hours_without_days)
{
    test_expect("business_no_days.yaml",
                "business_no_days.yaml:3:54: days is empty: the window can never open\n");
}

Test(playbook, experiment_weights)
{
    test_expect("experiment_weights.yaml", "experiment_weights.yaml:5:7: variant weights (90) and "
                                           "holdout (5) add up to 95, not 100\n");
}

Test(playbook, duplicate_rule_id)
{
    test_expect("duplicate_rule.yaml", "duplicate_rule.yaml:8:9: duplicate rule id 'confirm' "
                                       "(first defined on line 3)\n");
}

Test(playbook, defer_bound_past_expiry)
{
    test_expect("defer_expiry.yaml", "defer_expiry.yaml:9:25: defer bound '48h' is longer than "
                                     "the expiry '24h': the action expires first\n");
}

Test(playbook, negative_delay)
{
    test_expect("negative_delay.yaml", "negative_delay.yaml:8:21: delay '-1d' is negative: only "
                                       "an anchor's offset may be negative\n");
}

Test(playbook, bad_conditions)
{
    test_expect("bad_condition.yaml",
                "bad_condition.yaml:5:11: in when: unknown field 'customer.oder_count' (did you "
                "mean 'customer.order_count'?)\n"
                "bad_condition.yaml:11:16: 'event.total_cents' is not available in exit_when: it "
                "is checked when a pending action falls due, against the customer's state only\n");
}

Test(playbook, yaml_syntax)
{
    test_expect("yaml_syntax.yaml", "yaml_syntax.yaml:5:12: YAML: did not find expected ',' or "
                                    "']' while parsing a flow sequence\n");
}

Test(playbook, every_error_is_reported)
{
    test_expect("multiple_errors.yaml",
                "multiple_errors.yaml:4:32: bad duration '7days' for per: unknown unit 'days' "
                "(use s, m, h, d, w or y)\n"
                "multiple_errors.yaml:8:15: unknown category 'marketting' (did you mean "
                "'marketing'?)\n"
                "multiple_errors.yaml:12:14: unknown event type 'delivred' (did you mean "
                "'delivered'?)\n"
                "multiple_errors.yaml:14:14: unknown channel 'fax'\n"
                "multiple_errors.yaml:21:22: unknown anchor 'renewal_date' (did you mean "
                "'renewal_at'?)\n");
}

Test(playbook, missing_file)
{
    test_expect("no_such.yaml", "no_such.yaml: cannot open: No such file or directory\n");
}

/* --- positions inside conditions and other checks, from memory ------------------------------- */

#define TEST_RULE_HEAD                                                                             \
    "version: 1\n"                                                                                 \
    "rules:\n"                                                                                     \
    "  - id: r\n"                                                                                  \
    "    category: service\n"                                                                      \
    "    channel: email\n"                                                                         \
    "    template: t\n"

Test(playbook, condition_column_in_quoted_scalar)
{
    /* at 'customer.bogus': the opening quote (column 11) + 1 + its offset (30) */
    cr_assert_str_eq(test_buffer(TEST_RULE_HEAD "    trigger: order_placed\n"
                                                "    when: \"customer.order_count == 1 and "
                                                "customer.bogus\"\n"),
                     "t.yaml:8:42: in when: unknown field 'customer.bogus'\n");
}

Test(playbook, event_field_the_trigger_never_sets)
{
    cr_assert_str_eq(test_buffer(TEST_RULE_HEAD "    trigger: order_placed\n"
                                                "    when: event.milestone == \"first_value\"\n"),
                     "t.yaml:8:11: 'event.milestone' is never set by the events this when sees "
                     "(they carry no such field)\n");
}

Test(playbook, cancel_scope_the_event_does_not_carry)
{
    cr_assert_str_eq(test_buffer(TEST_RULE_HEAD
                                 "    trigger: ticket_opened\n"
                                 "    timing: {delay: 1d}\n"
                                 "    cancel_on: [{event: session, same: ticket}]\n"),
                     "t.yaml:9:40: cancel_on 'session' can never happen: it carries no ticket to "
                     "match\n");
}

Test(playbook, cancel_on_an_action_never_pending)
{
    cr_assert_str_eq(test_buffer(TEST_RULE_HEAD "    trigger: cart_abandoned\n"
                                                "    on_blocked: drop\n"
                                                "    cancel_on: order_placed\n"),
                     "t.yaml:9:16: cancel_on can never happen: every action of this rule is sent "
                     "at once and dropped if blocked, so nothing is ever pending\n");
}

Test(playbook, anchor_the_trigger_never_sets)
{
    cr_assert_str_eq(test_buffer(TEST_RULE_HEAD "    trigger: order_placed\n"
                                                "    timing: {anchor: estimated_delivery_at}\n"),
                     "t.yaml:8:22: anchor 'estimated_delivery_at' is never set for the trigger "
                     "'order_placed' (only deliveries events carry it)\n");
}

Test(playbook, repeating_without_an_end)
{
    cr_assert_str_eq(test_buffer(TEST_RULE_HEAD "    trigger: contract_signed\n"
                                                "    timing: {every: 7d}\n"),
                     "t.yaml:8:13: a repeating action (every) needs cancel_on or exit_when to "
                     "ever stop\n");
}

Test(playbook, channel_must_fit_the_kind)
{
    cr_assert_str_eq(test_buffer("version: 1\nrules:\n  - id: r\n    kind: crm_update\n"
                                 "    channel: sms\n    template: t\n    trigger: order_placed\n"),
                     "t.yaml:5:14: channel 'sms' cannot carry a crm_update (use crm)\n");
}

Test(playbook, duplicate_key)
{
    cr_assert_str_eq(test_buffer(TEST_RULE_HEAD "    trigger: order_placed\n"
                                                "    template: u\n"),
                     "t.yaml:8:5: duplicate key 'template' in a rule (first set on line 6)\n");
}

Test(playbook, unknown_top_level_key_and_version)
{
    cr_assert_str_eq(test_buffer("version: 1\nrule: []\n"),
                     "t.yaml:1:1: the playbook needs 'rules'\n"
                     "t.yaml:2:1: unknown key 'rule' in the playbook (did you mean 'rules'?)\n");
    cr_assert_str_eq(test_buffer("version: 2\nrules: []\n"),
                     "t.yaml:1:10: version must be between 1 and 1, not 2\n");
}

Test(playbook, unknown_signal_value)
{
    cr_assert_str_eq(
        test_buffer(TEST_RULE_HEAD "    trigger: {signal: nps_class, value: promotor}\n"),
        "t.yaml:7:41: unknown value 'promotor' of signal 'nps_class' (did you mean "
        "'promoter'?)\n");
}

/* --- the default playbook -------------------------------------------------------------------- */

static struct ac_playbook *test_default(void)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/deploy/playbooks/default.yaml", test_src);
    ac_buf_reset(&test_out);
    struct ac_playbook *pb = ac_playbook_load(path, test_collect, (void *)"");
    cr_assert_not_null(pb, "default.yaml:\n%s", test_out.data ? test_out.data : "");
    return pb;
}

Test(playbook, default_has_every_spec_row)
{
    static const char *const ids[] = {"order_confirmation",
                                      "crm_onboarding",
                                      "welcome_1",
                                      "welcome_2",
                                      "welcome_3",
                                      "welcome_4",
                                      "segment_followup",
                                      "cart_reminder",
                                      "reorder",
                                      "upsell",
                                      "replenish",
                                      "post_sale_waves",
                                      "delivery_updates",
                                      "delivery_delay",
                                      "delivery_survey",
                                      "feedback_routing",
                                      "review_request",
                                      "referral_ask",
                                      "support_sla",
                                      "milestone_checkin",
                                      "onboarding_stall",
                                      "service_milestone",
                                      "checkins",
                                      "renewal_reminders",
                                      "anniversaries",
                                      "churn_outreach",
                                      "return_instructions",
                                      "return_received",
                                      "refund_confirmation",
                                      "refund_feedback"};
    struct ac_playbook *pb = test_default();
    cr_assert_eq(ac_playbook_rule_count(pb), 33);
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        cr_assert_not_null(ac_playbook_rule_find(pb, ids[i]), "missing rule %s", ids[i]);
    }
    ac_playbook_destroy(pb);
}

Test(playbook, default_timings)
{
    struct ac_playbook *pb = test_default();
    const int64_t D = AC_PB_DAY_MS;

    const struct ac_pb_rule *r = ac_playbook_rule_find(pb, "order_confirmation");
    cr_assert_eq(r->n_actions, 1);
    cr_assert_eq(r->actions[0].timing.kind, AC_PB_TIMING_IMMEDIATE);
    cr_assert_eq(r->actions[0].category, AC_CAT_TRANSACTIONAL);
    cr_assert_eq(r->actions[0].hours, AC_PB_HOURS_ANY);
    cr_assert_str_eq(r->actions[0].channels[0], "email");

    static const int64_t welcome[4] = {0, 2, 7, 14};
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof(id), "welcome_%d", i + 1);
        r = ac_playbook_rule_find(pb, id);
        cr_assert_eq(r->actions[0].timing.delay_ms, welcome[i] * D, "%s", id);
        cr_assert_eq(r->n_cancel_on, 2);
        cr_assert_eq(r->cancel_on[0].same, AC_PB_SAME_ORDER);
        cr_assert_not_null(r->when);
    }

    r = ac_playbook_rule_find(pb, "renewal_reminders");
    cr_assert_eq(r->n_actions, 3);
    static const int64_t renewal[3] = {-90, -30, -7};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(r->actions[i].part, i);
        cr_assert_eq(r->actions[i].timing.kind, AC_PB_TIMING_ANCHOR);
        cr_assert_str_eq(r->actions[i].timing.anchor, "renewal_at");
        cr_assert_eq(r->actions[i].timing.delay_ms, renewal[i] * D);
    }

    r = ac_playbook_rule_find(pb, "anniversaries");
    cr_assert_eq(r->n_actions, 3);
    cr_assert_eq(r->actions[2].timing.delay_ms, 5 * AC_PB_YEAR_MS);

    r = ac_playbook_rule_find(pb, "post_sale_waves");
    cr_assert_eq(r->n_actions, 3);
    cr_assert_eq(r->actions[1].timing.delay_ms, 30 * D);
    cr_assert_eq(r->actions[2].category, AC_CAT_MARKETING);

    r = ac_playbook_rule_find(pb, "support_sla");
    cr_assert_eq(r->actions[0].kind, AC_KIND_TEAM_TASK);
    cr_assert_eq(r->actions[0].timing.delay_ms, 15 * AC_PB_MINUTE_MS);
    cr_assert(r->actions[0].timing.business_clock);
    cr_assert_eq(r->actions[0].hours, AC_PB_HOURS_BUSINESS);
    cr_assert_eq(r->cancel_on[0].same, AC_PB_SAME_TICKET);

    r = ac_playbook_rule_find(pb, "delivery_survey");
    cr_assert_eq(r->actions[0].expires_ms, 22 * AC_PB_HOUR_MS);
    cr_assert_eq(r->actions[0].defer_max_ms, 22 * AC_PB_HOUR_MS);
    cr_assert_not_null(r->suppress_when);

    r = ac_playbook_rule_find(pb, "crm_onboarding");
    cr_assert_eq(r->n_actions, 2);
    cr_assert_eq(r->actions[0].kind, AC_KIND_CRM_UPDATE);
    cr_assert_eq(r->actions[1].kind, AC_KIND_TEAM_NOTIFICATION);
    cr_assert_str_eq(r->actions[0].vars[2].name, "stage_to");
    cr_assert_str_eq(r->actions[0].vars[2].value, "onboarding");
    cr_assert_null(r->actions[0].vars[0].value);

    r = ac_playbook_rule_find(pb, "milestone_checkin");
    cr_assert_not_null(r->experiment);
    cr_assert_eq(r->experiment->holdout, 10);
    cr_assert_eq(r->experiment->n_variants, 2);
    cr_assert_eq(r->experiment->variants[0].weight + r->experiment->variants[1].weight, 90);
    cr_assert_eq(r->experiment->outcome_window_ms, 90 * D);
    ac_playbook_destroy(pb);
}

Test(playbook, default_families_policies_indexes)
{
    struct ac_playbook *pb = test_default();
    const int64_t D = AC_PB_DAY_MS;
    cr_assert_eq(ac_playbook_family_window(pb, "unknown", AC_PB_REORDER, 100), 7 * D);
    cr_assert_eq(ac_playbook_family_window(pb, "unknown", AC_PB_UPSELL, 100), 14 * D);
    cr_assert_eq(ac_playbook_family_window(pb, "unknown", AC_PB_REPLENISH, 100), 28 * D);
    cr_assert_eq(ac_playbook_family_window(pb, "unknown", AC_PB_REORDER, 50000), 21 * D);
    cr_assert_eq(ac_playbook_family_window(pb, "unknown", AC_PB_REPLENISH, 50000), 35 * D);
    cr_assert_eq(ac_playbook_family_window(pb, "coffee", AC_PB_REPLENISH, 100), 21 * D);
    cr_assert_eq(ac_playbook_family_window(pb, "coffee", AC_PB_REORDER, 100), 7 * D);
    cr_assert_eq(ac_playbook_family(pb, "coffee")->n_cross_sell, 2);

    const struct ac_pb_policies *po = ac_playbook_policies(pb);
    cr_assert_eq(po->cap.max, 1);
    cr_assert_eq(po->cap.per_ms, 7 * D);
    cr_assert_eq(po->quiet_hours.from_min, 21 * 60);
    cr_assert_eq(po->quiet_hours.to_min, 8 * 60);
    cr_assert_eq(po->business_hours.days, 0x1Fu);
    cr_assert_eq(po->n_suppressions, 3);
    cr_assert_str_eq(po->suppressions[0].id, "open_complaint");
    cr_assert_eq(po->suppressions[0].categories, 1u << AC_CAT_MARKETING);
    cr_assert_eq(po->n_channel_caps, 2);

    size_t n = 0;
    const struct ac_pb_rule *const *rs = ac_playbook_rules_cancelled_by(pb, "order_placed", &n);
    int cart = 0, reorder = 0;
    for (size_t i = 0; i < n; i++) {
        cart |= strcmp(rs[i]->id, "cart_reminder") == 0;
        reorder |= strcmp(rs[i]->id, "reorder") == 0;
    }
    cr_assert(cart && reorder);
    rs = ac_playbook_rules_for_signal(pb, "milestone", &n);
    cr_assert_eq(n, 4); /* review_request, referral_ask, milestone_checkin, service_milestone */
    rs = ac_playbook_rules_for_event(pb, "order_placed", &n);
    cr_assert_str_eq(rs[0]->id, "order_confirmation");
    cr_assert_null(ac_playbook_rules_for_event(pb, "no_such_type", &n));
    cr_assert_eq(n, 0);
    ac_playbook_destroy(pb);
}

/* --- helpers --------------------------------------------------------------------------------- */

Test(playbook, durations)
{
    static const struct {
        const char *s;
        int neg;
        int64_t ms;
    } ok[] = {
        {"15m", 0, 15 * AC_PB_MINUTE_MS},
        {"24h", 0, 24 * AC_PB_HOUR_MS},
        {"7d", 0, 7 * AC_PB_DAY_MS},
        {"90d", 0, 90 * AC_PB_DAY_MS},
        {"1y", 0, 365 * AC_PB_DAY_MS},
        {"-90d", 1, -90 * AC_PB_DAY_MS},
        {"30s", 0, 30000},
        {"2w", 0, 14 * AC_PB_DAY_MS},
        {"0", 0, 0},
        {"100y", 0, AC_PB_DURATION_MAX},
    };
    static const char *const bad[] = {
        "", "d", "7", "7x", "7dd", "1.5h", "-", "101y", "99999999999999999999d", " 7d", "7 d"};
    char why[128];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t ms = -1;
        cr_assert_eq(ac_playbook_duration_parse(ok[i].s, ok[i].neg, &ms, why, sizeof(why)), 0,
                     "%s: %s", ok[i].s, why);
        cr_assert_eq(ms, ok[i].ms, "%s", ok[i].s);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = 0;
        cr_assert_eq(ac_playbook_duration_parse(bad[i], 1, &ms, why, sizeof(why)), AC_ERR_INVALID,
                     "'%s' accepted", bad[i]);
    }
    int64_t ms = 0;
    cr_assert_eq(ac_playbook_duration_parse("-1d", 0, &ms, why, sizeof(why)), AC_ERR_INVALID);
    cr_assert_str_eq(why, "must not be negative");
}

Test(playbook, daywin_wraps_midnight)
{
    struct ac_pb_daywin quiet = {21 * 60, 8 * 60, 0x7Fu};
    cr_assert(ac_playbook_daywin_contains(&quiet, 0, 22 * 60));
    cr_assert(ac_playbook_daywin_contains(&quiet, 0, 7 * 60));
    cr_assert_not(ac_playbook_daywin_contains(&quiet, 0, 12 * 60));
    struct ac_pb_daywin friday_night = {22 * 60, 2 * 60, 1u << 4};
    cr_assert(ac_playbook_daywin_contains(&friday_night, 5, 60)); /* Saturday 01:00 */
    cr_assert_not(ac_playbook_daywin_contains(&friday_night, 4, 60));
}

/* Every event type in the schemas' type enums is known, on its topic, and nothing else is. */
Test(playbook, vocabulary_matches_schemas)
{
    static const char *const topics[] = {"orders", "deliveries", "feedback", "usage"};
    size_t total = 0;
    for (int t = 0; t < 4; t++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/schemas/%s.avsc", test_src, topics[t]);
        json_error_t jerr;
        json_t *schema = json_load_file(path, 0, &jerr);
        cr_assert_not_null(schema, "%s: %s", path, jerr.text);
        json_t *fields = json_object_get(schema, "fields");
        size_t i;
        json_t *f;
        int found = 0;
        json_array_foreach(fields, i, f)
        {
            if (strcmp(json_string_value(json_object_get(f, "name")), "type") != 0) {
                continue;
            }
            json_t *syms = json_object_get(json_object_get(f, "type"), "symbols");
            size_t j;
            json_t *s;
            json_array_foreach(syms, j, s)
            {
                cr_assert_eq(ac_playbook_event_topic(json_string_value(s)), t, "%s",
                             json_string_value(s));
                total++;
                found = 1;
            }
        }
        cr_assert(found, "%s has no type enum", topics[t]);
        json_decref(schema);
    }
    cr_assert_eq(total, 25);
}

Test(playbook, frequency_cap_categories)
{
#define CAP_RULES                                                                                  \
    "rules:\n"                                                                                     \
    "  - {id: r, trigger: order_placed, category: transactional, channel: [email],\n"              \
    "     template: t, timing: immediate}\n"
    cr_expect_str_eq(
        test_buffer("version: 1\n"
                    "policies:\n"
                    "  frequency_cap: {max: 1, per: 7d, categories: [transactional]}\n" CAP_RULES),
        "t.yaml:3:48: transactional messages are never capped\n");
    cr_expect_str_eq(test_buffer("version: 1\n"
                                 "policies:\n"
                                 "  frequency_cap: {categories: [marketting]}\n" CAP_RULES),
                     "t.yaml:3:32: unknown category 'marketting' (use transactional, service or "
                     "marketing) (did you mean 'marketing'?)\n");
#undef CAP_RULES
    struct ac_playbook *pb = test_load("../../../deploy/playbooks/default.yaml");
    cr_assert_not_null(pb);
    cr_expect_eq(ac_playbook_policies(pb)->cap_categories, 1u << AC_CAT_MARKETING,
                 "the default playbook caps solicitations only");
    ac_playbook_destroy(pb);
}

Test(playbook, a_cooloff_must_be_positive)
{
    cr_assert_str_eq(test_buffer(TEST_RULE_HEAD "    trigger: survey_response\n"
                                                "    cooloff: 0\n"),
                     "t.yaml:8:14: cooloff must be a positive duration\n");
    cr_assert_str_eq(test_buffer(TEST_RULE_HEAD "    trigger: survey_response\n"
                                                "    cooloff: 30d\n"),
                     "");
}

Test(playbook, a_rules_signal_must_be_known)
{
    cr_assert_str_eq(test_buffer(TEST_RULE_HEAD "    trigger: shipped\n"
                                                "    signal: {name: late_delivry, value: x}\n"),
                     "t.yaml:8:20: unknown signal 'late_delivry' (did you mean "
                     "'late_delivery'?)\n");
    cr_assert_str_eq(test_buffer(TEST_RULE_HEAD
                                 "    trigger: shipped\n"
                                 "    signal: {name: milestone, value: firstvalue}\n"),
                     "t.yaml:8:38: unknown value 'firstvalue' of signal 'milestone' (did you mean "
                     "'first_value'?)\n");
    cr_assert_str_eq(test_buffer(TEST_RULE_HEAD "    trigger: shipped\n"
                                                "    signal: {name: late_delivery}\n"),
                     "t.yaml:8:13: signal needs a 'name' and a 'value'\n");
}

Test(playbook, an_unsubscribe_never_stops_transactional_messages)
{
    cr_assert_str_eq(test_buffer("version: 1\n"
                                 "policies:\n"
                                 "  consent: {unsubscribe: [marketing, transactional]}\n"
                                 "rules:\n  - id: r\n    category: service\n    channel: email\n"
                                 "    template: t\n"
                                 "    trigger: order_placed\n"),
                     "t.yaml:3:26: an unsubscribe never stops transactional messages\n");
}

Test(playbook, delivery_estimate_is_an_anchor_of_deliveries_events_only)
{
    cr_assert_str_eq(test_buffer(TEST_RULE_HEAD "    trigger: [shipped, delayed]\n"
                                                "    timing: {anchor: delivery_estimate}\n"),
                     "");
    cr_assert_str_eq(test_buffer(TEST_RULE_HEAD "    trigger: order_placed\n"
                                                "    timing: {anchor: delivery_estimate}\n"),
                     "t.yaml:8:22: anchor 'delivery_estimate' is never set for the trigger "
                     "'order_placed' (only deliveries events carry it)\n");
}

Test(playbook, team_hours_are_checked_like_the_others)
{
    cr_assert_str_eq(test_buffer("version: 1\npolicies:\n  team: {zone: Europe/Berlin}\n"
                                 "rules: []\n"),
                     "t.yaml:3:10: unknown key 'zone' in team\nt.yaml:4:8: rules is empty\n");
    cr_assert_str_eq(test_buffer("version: 1\npolicies:\n  team: {timezone: berlin}\n"
                                 "rules: []\n"),
                     "t.yaml:3:20: bad time zone 'berlin': expected an IANA name such as "
                     "Europe/Paris\nt.yaml:4:8: rules is empty\n");
}
