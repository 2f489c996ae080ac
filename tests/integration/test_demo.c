/* The demo end to end: `aftercare dev --demo --attach` on this test's stack
 * runs every processor and aftercare-timers on one sped-up clock, feeds the
 * sample of deploy/demo/journeys.jsonl to the four input topics as that
 * clock reaches each event, and prints a timeline per customer. Each sample
 * customer's journey must have its key actions: on Kafka (by their
 * deterministic ids, decoded) and in the timeline the demo prints. The demo
 * waits on conditions itself (the processors joined, every input processed,
 * no timer due, outboxes empty); the test waits for it to exit. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emit.h"
#include "harness.h"

static struct h_env env;

static void setup(void)
{
    h_start(&env, 2);
}

static void teardown(void)
{
    h_stop(&env);
}

TestSuite(demo, .init = setup, .fini = teardown, .timeout = 600);

static size_t reader_find(const struct h_reader *rd, const char *id)
{
    for (size_t i = 0; i < rd->n; i++) {
        if (strcmp(rd->recs[i].id, id) == 0) {
            return i;
        }
    }
    return (size_t)-1;
}

/* The action of (rule, trigger event, part) from the actions read, decoded. */
static int find_action(const struct h_reader *rd, const char *rule, const char *event_id, int part,
                       struct ac_action *a)
{
    char id[AC_ACTION_ID_MAX];
    ac_action_id(id, rule, event_id, part);
    size_t i = reader_find(rd, id);
    if (i == (size_t)-1) {
        return 0;
    }
    cr_assert_eq(ac_codec_decode_action(env.codec, rd->recs[i].value, rd->recs[i].len, a), 0);
    return 1;
}

/* The lines of one customer's part of the timeline (from its header to the
 * next blank line), copied into out. */
static void section(const char *text, const char *customer_id, char *out, size_t len)
{
    char head[160];
    snprintf(head, sizeof(head), "\n%s: ", customer_id);
    const char *p = strstr(text, head);
    cr_assert_not_null(p, "no timeline for %s", customer_id);
    p++;
    const char *end = strstr(p, "\n\n");
    size_t n = end ? (size_t)(end - p) : strlen(p);
    cr_assert_lt(n, len);
    memcpy(out, p, n);
    out[n] = '\0';
}

/* A line of sec whose columns 5 and 6 (after the time) are what and rule,
 * and that contains more (NULL: anything). */
static int has_line(const char *sec, const char *what, const char *rule, const char *more)
{
    for (const char *line = sec; line && *line;) {
        const char *nl = strchr(line, '\n');
        char buf[512], w[64] = "", r[96] = "";
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        snprintf(buf, sizeof(buf), "%.*s", (int)(n < sizeof(buf) ? n : sizeof(buf) - 1), line);
        char day[8], mon[8], hm[8];
        int dd;
        if (sscanf(buf, " %7s %d %7s %7s %63s %95s", day, &dd, mon, hm, w, r) == 6 &&
            strcmp(w, what) == 0 && strcmp(r, rule) == 0 && (!more || strstr(buf, more))) {
            return 1;
        }
        line = nl ? nl + 1 : NULL;
    }
    return 0;
}

/* The lines of a section are in time order (the year may turn once). */
static void expect_sorted(const char *sec, const char *customer_id)
{
    static const char *const months = "JanFebMarAprMayJunJulAugSepOctNovDec";
    long last = -1, years = 0;
    int last_mon = -1;
    for (const char *line = sec; line && *line;) {
        const char *nl = strchr(line, '\n');
        char day[8], mon[8];
        int dd, hh, mm;
        if (sscanf(line, " %7s %d %3s %d:%d", day, &dd, mon, &hh, &mm) == 5) {
            const char *m = strstr(months, mon);
            cr_assert_not_null(m, "%s", line);
            int mi = (int)(m - months) / 3;
            if (last_mon == 11 && mi == 0) {
                years++;
            }
            last_mon = mi;
            long t = ((years * 12 + mi) * 31 + dd) * 1440L + hh * 60 + mm;
            cr_expect_geq(t, last, "%s: out of order at: %.80s", customer_id, line);
            last = t;
        }
        line = nl ? nl + 1 : NULL;
    }
}

Test(demo, every_sample_customer_has_the_key_actions_of_its_journey)
{
    static char out[1 << 18], err[1 << 14], sec[1 << 14];
    setenv("AFTERCARE_REDIS_URL", env.dr.url, 1);
    int rc = h_run_cli(&env, "dev --demo --attach", out, sizeof(out), err, sizeof(err));
    cr_assert_eq(rc, 0, "the demo failed:\n%s\n%s", out, err);
    cr_expect(strstr(out, "5 sample customers") != NULL, "%s", out);
    cr_expect(strstr(out, "every process exited 0 after SIGTERM") != NULL, "%s", out);

    /* On Kafka: the actions each journey hangs on, by their ids. */
    struct h_reader acts;
    h_reader_read_all(&env, &acts, "aftercare.actions");
    struct ac_action a;
    /* the first-time buyer: confirmation, the welcome series, delivery updates */
    cr_expect(find_action(&acts, "order_confirmation", "ada-o1", 0, &a), "ada's confirmation");
    static const char *const welcome[3][2] = {{"welcome_1", "welcome_1_tutorials"},
                                              {"welcome_2", "welcome_2_usage_tips"},
                                              {"welcome_3", "welcome_3_reassurance"}};
    for (int k = 0; k < 3; k++) {
        int found = find_action(&acts, welcome[k][0], "ada-o1", 0, &a);
        cr_expect(found, "ada's %s", welcome[k][0]);
        if (found) {
            cr_expect_str_eq(a.template_name, welcome[k][1]);
            cr_expect_str_eq(a.channel, "email");
        }
    }
    cr_expect(find_action(&acts, "delivery_updates", "ada-d3", 0, &a), "ada's delivered update");
    /* the repeat buyer: every order confirmed */
    cr_expect(find_action(&acts, "order_confirmation", "bo-o2", 0, &a), "bo's second order");
    cr_expect(find_action(&acts, "order_confirmation", "bo-o3", 0, &a), "bo's third order");
    /* the late delivery: the apology when the estimate passes, with its signal */
    int found = find_action(&acts, "delivery_delay_overdue", "cy-d2", 0, &a);
    cr_expect(found, "cy's apology");
    if (found) {
        cr_expect_str_eq(a.template_name, "delivery_delay_apology");
        cr_expect_eq(a.category, AC_CAT_TRANSACTIONAL);
    }
    /* the detractor: the call task for the team, and no marketing after the score */
    found = find_action(&acts, "feedback_routing", "dee-f1", 2, &a);
    cr_expect(found, "dee's call task");
    if (found) {
        cr_expect_eq(a.kind, AC_KIND_TEAM_TASK);
        cr_expect_str_eq(a.template_name, "detractor_call");
        cr_expect_str_eq(a.channel, "ticket");
    }
    /* (day 0's segment guide went before the score; the reorder on day 7, welcome_4
     * and the upsell on day 14 fall in the detractor's cool-off) */
    for (size_t i = 0; i < acts.n; i++) {
        cr_assert_eq(ac_codec_decode_action(env.codec, acts.recs[i].value, acts.recs[i].len, &a),
                     0);
        if (strcmp(a.customer_id, "cust-dee") == 0 && a.category == AC_CAT_MARKETING) {
            cr_expect_str_eq(a.rule_id, "segment_followup", "dee got %s after the detractor score",
                             a.rule_id);
        }
    }
    /* the renewal: the contract goes to the CRM */
    cr_expect(find_action(&acts, "crm_onboarding", "eve-o1", 0, &a), "eve's CRM update");
    h_reader_close(&acts);

    struct h_reader sigs;
    h_reader_read_all(&env, &sigs, "aftercare.signals");
    char overdue[AC_ACTION_ID_MAX], late[AC_ACTION_ID_MAX];
    ac_action_id(overdue, "delivery_delay_overdue", "cy-d2", 0);
    ac_action_id(late, "signal:late_delivery", overdue, 0);
    cr_expect_neq(reader_find(&sigs, late), (size_t)-1, "cy's late_delivery signal");
    h_reader_close(&sigs);

    /* In the timeline: each customer's key lines, in time order. */
    section(out, "cust-ada", sec, sizeof(sec));
    expect_sorted(sec, "cust-ada");
    cr_expect(has_line(sec, "in", "order_placed", "A-1001"), "%s", sec);
    cr_expect(has_line(sec, "signal", "segment", "new -> one_time"), "%s", sec);
    cr_expect(has_line(sec, "sent", "order_confirmation", "on order_placed"), "%s", sec);
    for (int k = 0; k < 3; k++) {
        cr_expect(has_line(sec, "sent", welcome[k][0], welcome[k][1]), "%s", sec);
    }
    cr_expect(has_line(sec, "cancelled", "onboarding_stall", "cancel_on:milestone"), "%s", sec);

    section(out, "cust-bo", sec, sizeof(sec));
    expect_sorted(sec, "cust-bo");
    cr_expect(has_line(sec, "cancelled", "cart_reminder", "cancel_on:order_placed"), "%s", sec);
    cr_expect(has_line(sec, "signal", "segment", "one_time -> mid_value_repeat"), "%s", sec);
    cr_expect(has_line(sec, "signal", "segment", "mid_value_repeat -> high_value_repeat"), "%s",
              sec);
    cr_expect(has_line(sec, "sent", "segment_followup", "segment_high_value_offer"), "%s", sec);

    section(out, "cust-cy", sec, sizeof(sec));
    expect_sorted(sec, "cust-cy");
    cr_expect(has_line(sec, "signal", "late_delivery", "estimate_passed"), "%s", sec);
    cr_expect(has_line(sec, "sent", "delivery_delay_overdue", "delivery_delay_apology"), "%s", sec);

    section(out, "cust-dee", sec, sizeof(sec));
    expect_sorted(sec, "cust-dee");
    cr_expect(has_line(sec, "signal", "nps_class", "detractor"), "%s", sec);
    cr_expect(has_line(sec, "sent", "feedback_routing", "detractor_call"), "%s", sec);
    cr_expect(has_line(sec, "in", "ticket_opened", "a complaint"), "%s", sec);

    section(out, "cust-eve", sec, sizeof(sec));
    expect_sorted(sec, "cust-eve");
    cr_expect(has_line(sec, "sent", "crm_onboarding", "on contract_signed"), "%s", sec);
    cr_expect(has_line(sec, "sent", "renewal_reminders", "renewal_reminder"), "%s", sec);
    cr_expect(has_line(sec, "sent", "service_milestone", "on milestone project_milestone"), "%s",
              sec);
    cr_expect(has_line(sec, "in", "subscription_renewed", NULL), "%s", sec);
}
