/* Every rule of SPEC §4 that needs no churn or SLA signal fires end to end,
 * through the real processes on the embedded stack with the default
 * playbook: aftercare-orders, -deliveries, -feedback and -usage apply a
 * handful of customers' histories (some of them dated in the past, so that
 * every rule comes due within a few weeks), then aftercare-timers runs on
 * an explicit clock, 43,200 times faster than the wall clock from now (a
 * day every 2 s). Each rule is read back from the audit log
 * (aftercare.decisions: emitted, or merged into the message that went), and
 * every emitted one from aftercare.actions, due when its timing says.
 *
 * The customers (times relative to now):
 *   buy-1  a first coffee order an hour ago, delivered half an hour ago:
 *          delivery_survey (+2 h), reorder (day 7, after the segment
 *          follow-up's week of the cap), replenish (day 21)
 *   chk-1  a first order 27 days ago: checkins and post_sale_waves' second
 *          wave (day 30)
 *   ann-1  a first order 362 days ago: anniversaries (1 year)
 *   ref-1  an order 2 hours ago, refunded 10 minutes ago: refund_feedback
 *   svc-1  a contract signed an hour ago: service_progress_report, weekly
 *   prom-1 an NPS 10 an hour ago: review_request, with referral_ask merged
 *   ms-1   a first_value milestone 20 minutes ago: milestone_checkin (its
 *          experiment's variant), review_request, referral_ask merged
 *   sup-1  a ticket opened now: support_sla after 15 business minutes of
 *          the team's hours (UTC, 09:00-17:00, Monday to Friday) */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "emit.h"
#include "harness.h"

#define MINUTE 60000LL
#define HOUR 3600000LL
#define DAY (24 * HOUR)

static struct h_env env;

static void setup(void)
{
    h_start(&env, 2);
}

static void teardown(void)
{
    h_stop(&env);
}

TestSuite(seed_rules, .init = setup, .fini = teardown, .timeout = 300);

static void default_playbook(char *extra, size_t n, const char *more)
{
    snprintf(extra, n, "playbook = %s/deploy/playbooks/default.yaml\n%s", h_source_dir(),
             more ? more : "");
}

static void order(struct ac_event *ev, const char *id, const char *cid, const char *type,
                  int64_t at, const char *order_id)
{
    h_order_event(ev, id, cid, type, at, 4990, "coffee");
    snprintf(ev->u.order.order_id, sizeof(ev->u.order.order_id), "%s", order_id);
}

static void feedback(struct ac_event *ev, const char *id, const char *cid, const char *type,
                     int64_t at)
{
    memset(ev, 0, sizeof(*ev));
    ev->topic = AC_TOPIC_FEEDBACK;
    snprintf(ev->event_id, sizeof(ev->event_id), "%s", id);
    snprintf(ev->customer_id, sizeof(ev->customer_id), "%s", cid);
    snprintf(ev->type, sizeof(ev->type), "%s", type);
    ev->occurred_at = at;
    ev->u.feedback.score = -1;
    ev->u.feedback.frequency_opt_in = -1;
}

/* One decision the audit log must hold, and what became of it. */
struct want {
    const char *customer;
    const char *rule;
    int part;
    const char *decision;       /* "emitted" or "merged" */
    const char *reason;         /* for a merge: "merged_into:<rule>" */
    const char *id_key;         /* the trigger key of its action id, or NULL (a signal's) */
    int64_t due;                /* when it is due (emitted ones), on the timers' clock */
    char got[AC_ACTION_ID_MAX]; /* the action id of the decision found, "" until then */
};

/* The string value of "key" in [obj, end) into out ("" when absent). */
static void json_str(const char *obj, const char *end, const char *key, char *out, size_t len)
{
    char pat[80];
    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    out[0] = '\0';
    const char *p = strstr(obj, pat);
    if (!p || p >= end) {
        return;
    }
    p += strlen(pat);
    const char *q = strchr(p, '"');
    if (!q || q > end) {
        return;
    }
    size_t n = (size_t)(q - p) < len - 1 ? (size_t)(q - p) : len - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

static long json_long(const char *obj, const char *end, const char *key)
{
    char pat[80];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(obj, pat);
    return p && p < end ? strtol(p + strlen(pat), NULL, 10) : -1;
}

/* Marks the wants one record of aftercare.decisions (as JSON) satisfies:
 * {"customer_id":"...","decisions":[{"decision_id":...,"rule_id":...}, ...]} */
static void match_record(const char *json, struct want *w, size_t n)
{
    char cid[AC_ID_MAX];
    json_str(json, json + strlen(json), "customer_id", cid, sizeof(cid));
    const char *obj = strstr(json, "{\"decision_id\":");
    while (obj) {
        const char *next = strstr(obj + 1, "{\"decision_id\":");
        const char *end = next ? next : obj + strlen(obj);
        char rule[AC_NAME_MAX], decision[32], reason[AC_NAME_MAX], id[AC_ACTION_ID_MAX];
        json_str(obj, end, "rule_id", rule, sizeof(rule));
        json_str(obj, end, "decision", decision, sizeof(decision));
        json_str(obj, end, "reason", reason, sizeof(reason));
        json_str(obj, end, "action_id", id, sizeof(id));
        long part = json_long(obj, end, "part");
        for (size_t k = 0; k < n; k++) {
            if (w[k].got[0] || strcmp(w[k].customer, cid) != 0 || strcmp(w[k].rule, rule) != 0 ||
                strcmp(w[k].decision, decision) != 0 || part != w[k].part ||
                (w[k].reason && strcmp(w[k].reason, reason) != 0)) {
                continue;
            }
            char want_id[AC_ACTION_ID_MAX];
            if (w[k].id_key) {
                ac_action_id(want_id, w[k].rule, w[k].id_key, w[k].part);
                if (strcmp(want_id, id) != 0) {
                    continue;
                }
            }
            snprintf(w[k].got, sizeof(w[k].got), "%s", id);
            break;
        }
        obj = next;
    }
}

/* Polls the decisions until every want is found or the deadline passed;
 * returns how many are missing. */
static int wait_decisions(struct h_reader *rd, struct want *w, size_t n, int deadline_ms)
{
    int64_t end = ac_clock_mono_ms() + deadline_ms;
    size_t seen = 0;
    struct ac_buf json;
    ac_buf_init(&json);
    for (;;) {
        for (; seen < rd->n; seen++) {
            char err[256];
            ac_buf_reset(&json);
            cr_assert_eq(ac_codec_avro_to_json(env.codec, "decisions", rd->recs[seen].value,
                                               rd->recs[seen].len, &json, err, sizeof(err)),
                         0, "%s", err);
            match_record(json.data, w, n);
        }
        int missing = 0;
        for (size_t k = 0; k < n; k++) {
            missing += w[k].got[0] == '\0';
        }
        int64_t left = end - ac_clock_mono_ms();
        if (missing == 0 || left <= 0) {
            ac_buf_fini(&json);
            return missing;
        }
        h_reader_poll(rd, rd->n + 1, left < 500 ? (int)left : 500);
    }
}

/* On a failure: what the audit log says about the customers of missing wants. */
static void dump_decisions(const struct h_reader *rd, const struct want *w, size_t n)
{
    struct ac_buf json;
    ac_buf_init(&json);
    for (size_t i = 0; i < rd->n; i++) {
        char err[256];
        ac_buf_reset(&json);
        if (ac_codec_avro_to_json(env.codec, "decisions", rd->recs[i].value, rd->recs[i].len, &json,
                                  err, sizeof(err)) != 0) {
            continue;
        }
        char cid[AC_ID_MAX];
        json_str(json.data, json.data + json.len, "customer_id", cid, sizeof(cid));
        for (size_t k = 0; k < n; k++) {
            if (!w[k].got[0] && strcmp(w[k].customer, cid) == 0) {
                cr_log_error("%s", json.data);
                break;
            }
        }
    }
    ac_buf_fini(&json);
}

static size_t reader_find(const struct h_reader *rd, const char *id)
{
    for (size_t i = 0; i < rd->n; i++) {
        if (strcmp(rd->recs[i].id, id) == 0) {
            return i;
        }
    }
    return (size_t)-1;
}

static int wait_id(struct h_reader *rd, const char *id, int deadline_ms)
{
    int64_t end = ac_clock_mono_ms() + deadline_ms;
    for (;;) {
        if (reader_find(rd, id) != (size_t)-1) {
            return 1;
        }
        int64_t left = end - ac_clock_mono_ms();
        if (left <= 0) {
            return 0;
        }
        h_reader_poll(rd, rd->n + 1, left < 500 ? (int)left : 500);
    }
}

static const char *var(const struct ac_action *a, const char *key)
{
    for (int k = 0; k < a->n_vars; k++) {
        if (strcmp(a->vars[k].key, key) == 0) {
            return a->vars[k].value;
        }
    }
    return "";
}

Test(seed_rules, every_seed_rule_without_a_churn_or_sla_signal_fires_through_the_processes)
{
    int64_t now = ac_clock_now(ac_clock_wall());

    struct ac_event ord[6];
    order(&ord[0], "ann-o1", "ann-1", "order_placed", now - 362 * DAY, "N-1");
    order(&ord[1], "buy-o1", "buy-1", "order_placed", now - HOUR, "B-1");
    order(&ord[2], "chk-o1", "chk-1", "order_placed", now - 27 * DAY, "K-1");
    order(&ord[3], "ref-o1", "ref-1", "order_placed", now - 2 * HOUR, "R-1");
    order(&ord[4], "ref-r1", "ref-1", "refund_issued", now - 10 * MINUTE, "R-1");
    order(&ord[5], "svc-o1", "svc-1", "contract_signed", now - HOUR, "S-1");
    snprintf(ord[5].u.order.items[0].product_family, sizeof(ord[5].u.order.items[0].product_family),
             "service");
    ord[5].u.order.total_cents = ord[5].u.order.items[0].unit_price_cents = 120000;

    struct ac_event dlv;
    memset(&dlv, 0, sizeof(dlv));
    dlv.topic = AC_TOPIC_DELIVERIES;
    snprintf(dlv.event_id, sizeof(dlv.event_id), "buy-d1");
    snprintf(dlv.customer_id, sizeof(dlv.customer_id), "buy-1");
    snprintf(dlv.type, sizeof(dlv.type), "delivered");
    dlv.occurred_at = now - 30 * MINUTE;
    snprintf(dlv.u.delivery.order_id, sizeof(dlv.u.delivery.order_id), "B-1");
    snprintf(dlv.u.delivery.carrier, sizeof(dlv.u.delivery.carrier), "dhl");
    dlv.u.delivery.estimated_delivery_at = AC_TS_NONE;
    dlv.u.delivery.new_estimated_delivery_at = AC_TS_NONE;

    struct ac_event fb[2];
    feedback(&fb[0], "prom-f1", "prom-1", "survey_response", now - HOUR);
    fb[0].u.feedback.score = 10;
    snprintf(fb[0].u.feedback.scale, sizeof(fb[0].u.feedback.scale), "nps_10");
    feedback(&fb[1], "sup-f1", "sup-1", "ticket_opened", now);
    snprintf(fb[1].u.feedback.ticket_id, sizeof(fb[1].u.feedback.ticket_id), "T-1");
    snprintf(fb[1].u.feedback.priority, sizeof(fb[1].u.feedback.priority), "high");

    struct ac_event use;
    memset(&use, 0, sizeof(use));
    use.topic = AC_TOPIC_USAGE;
    snprintf(use.event_id, sizeof(use.event_id), "ms-u1");
    snprintf(use.customer_id, sizeof(use.customer_id), "ms-1");
    snprintf(use.type, sizeof(use.type), "milestone");
    use.occurred_at = now - 20 * MINUTE;
    snprintf(use.u.usage.milestone, sizeof(use.u.usage.milestone), "first_value");

    h_produce_events(&env, "orders", ord, 6);
    h_produce_events(&env, "deliveries", &dlv, 1);
    h_produce_events(&env, "feedback", fb, 2);
    h_produce_events(&env, "usage", &use, 1);

    /* The four processors apply the histories on the wall clock. */
    static const char *const procs[4] = {"orders", "deliveries", "feedback", "usage"};
    char extra[1400], conf[512], tconf[512];
    pid_t pids[4];
    default_playbook(extra, sizeof(extra), NULL);
    for (int k = 0; k < 4; k++) {
        h_write_config(&env, procs[k], extra, conf, sizeof(conf));
        pids[k] = h_spawn(&env, procs[k], conf);
    }
    for (int k = 0; k < 4; k++) {
        char group[64];
        snprintf(group, sizeof(group), "aftercare-%s", procs[k]);
        cr_assert(h_wait_done(&env, "ac", group, procs[k], 60000), "%s", procs[k]);
    }

    /* The timer process from here on, a day every 2 s: the last rule (buy-1's
     * replenish, day 21 of its order) is due 42 s in. The clock starts now,
     * not when the histories were made: the seconds the processors took
     * would otherwise count 43,200 times and expire the short rules. */
    default_playbook(extra, sizeof(extra), NULL);
    snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
             "timers.event_time = false\nclock.speed = 43200\nclock.epoch_ms = %lld\n",
             (long long)ac_clock_now(ac_clock_wall()));
    h_write_timers_config(&env, extra, tconf, sizeof(tconf));
    int64_t started = ac_clock_mono_ms();
    pid_t timers = h_spawn(&env, "timers", tconf);

    /* one year after the first order, a calendar year */
    time_t first = (time_t)(ord[0].occurred_at / 1000);
    struct tm ftm;
    gmtime_r(&first, &ftm);
    ftm.tm_year++;
    int64_t anniversary = (int64_t)timegm(&ftm) * 1000 + ord[0].occurred_at % 1000;
    const char *promo = "merged_into:review_request";
    struct want w[] = {
        {"buy-1", "delivery_survey", 0, "emitted", NULL, "buy-d1", now + 90 * MINUTE, ""},
        {"buy-1", "reorder", 0, "emitted", NULL, "buy-o1/coffee", now + 7 * DAY - HOUR, ""},
        {"buy-1", "replenish", 0, "emitted", NULL, "buy-o1/coffee", now + 21 * DAY - HOUR, ""},
        {"chk-1", "checkins", 0, "emitted", NULL, "chk-o1", now + 3 * DAY, ""},
        {"chk-1", "post_sale_waves", 1, "emitted", NULL, "chk-o1", now + 3 * DAY, ""},
        {"ann-1", "anniversaries", 0, "emitted", NULL, "ann-o1", anniversary, ""},
        {"ref-1", "refund_feedback", 0, "emitted", NULL, "ref-r1", now + DAY - 10 * MINUTE, ""},
        {"svc-1", "service_progress_report", 0, "emitted", NULL, "svc-o1", now + 7 * DAY - HOUR,
         ""},
        {"svc-1", "service_progress_report", 0, "emitted", NULL, "svc-o1#1", now + 14 * DAY - HOUR,
         ""},
        {"prom-1", "review_request", 0, "emitted", NULL, "prom-f1", now + DAY - HOUR, ""},
        {"prom-1", "referral_ask", 0, "merged", promo, NULL, 0, ""},
        {"ms-1", "milestone_checkin", 0, "emitted", NULL, NULL, now + DAY - 20 * MINUTE, ""},
        {"ms-1", "review_request", 0, "emitted", NULL, NULL, now + DAY - 20 * MINUTE, ""},
        {"ms-1", "referral_ask", 0, "merged", promo, NULL, 0, ""},
        {"sup-1", "support_sla", 0, "emitted", NULL, "sup-f1", now + 15 * MINUTE, ""},
    };
    const size_t n = sizeof(w) / sizeof(w[0]);

    struct h_reader dec;
    h_reader_open(&env, &dec, "aftercare.decisions");
    int missing = wait_decisions(&dec, w, n, 120000);
    cr_log_info("seed rules decided in %.1f s (%zu decision records)",
                (double)(ac_clock_mono_ms() - started) / 1000.0, dec.n);
    for (size_t k = 0; k < n; k++) {
        cr_expect(w[k].got[0], "%s: no %s decision for %s (part %d)", w[k].customer, w[k].decision,
                  w[k].rule, w[k].part);
    }
    if (missing) {
        dump_decisions(&dec, w, n);
    }
    cr_assert_eq(missing, 0);
    h_reader_close(&dec);

    /* Every emitted one reached aftercare.actions, due when its timing says
     * (quiet hours may move a message by up to 11 h; the team's business
     * hours a task by a weekend). */
    struct h_reader acts;
    h_reader_open(&env, &acts, "aftercare.actions");
    for (size_t k = 0; k < n; k++) {
        if (strcmp(w[k].decision, "emitted") != 0) {
            continue;
        }
        cr_assert(wait_id(&acts, w[k].got, 30000), "%s's %s (%s) not on aftercare.actions",
                  w[k].customer, w[k].rule, w[k].got);
        size_t i = reader_find(&acts, w[k].got);
        struct ac_action a;
        cr_assert_eq(ac_codec_decode_action(env.codec, acts.recs[i].value, acts.recs[i].len, &a),
                     0);
        cr_expect_str_eq(a.rule_id, w[k].rule);
        cr_expect_str_eq(a.customer_id, w[k].customer);
        cr_expect_geq(a.not_before, w[k].due, "%s's %s came early", w[k].customer, w[k].rule);
        cr_expect_lt(a.not_before, w[k].due + 3 * DAY, "%s's %s came late", w[k].customer,
                     w[k].rule);
        if (strcmp(w[k].rule, "support_sla") == 0) {
            /* inside the team's hours: a weekday, 09:00 to 17:00 UTC (a ticket of
             * Friday 16:55 escalates on Monday at 09:10) */
            time_t s = (time_t)(a.not_before / 1000);
            struct tm tm;
            gmtime_r(&s, &tm);
            int min = tm.tm_hour * 60 + tm.tm_min;
            cr_expect(tm.tm_wday >= 1 && tm.tm_wday <= 5, "escalated on day %d", tm.tm_wday);
            cr_expect(min >= 9 * 60 && min <= 17 * 60, "escalated at %02d:%02d", tm.tm_hour,
                      tm.tm_min);
            cr_expect_eq(a.kind, AC_KIND_TEAM_TASK);
            cr_expect_str_eq(var(&a, "ticket_id"), "T-1");
        } else if (strcmp(w[k].rule, "milestone_checkin") == 0) {
            cr_expect_str_eq(a.experiment, "milestone_checkin_ab");
            cr_expect(strcmp(a.variant, "email") == 0 || strcmp(a.variant, "in_app") == 0,
                      "variant %s", a.variant);
        } else if (strcmp(w[k].rule, "review_request") == 0) {
            cr_expect(strstr(var(&a, "merged"), "referral_request") != NULL,
                      "%s's review request does not carry the referral ask (merged: %s)",
                      w[k].customer, var(&a, "merged"));
        } else if (strcmp(w[k].rule, "anniversaries") == 0) {
            cr_expect_str_eq(var(&a, "years"), "1");
        } else if (strcmp(w[k].rule, "reorder") == 0 || strcmp(w[k].rule, "replenish") == 0) {
            cr_expect_str_eq(var(&a, "family"), "coffee");
        }
    }
    h_reader_close(&acts);

    cr_expect_eq(h_terminate(timers), 0);
    for (int k = 0; k < 4; k++) {
        cr_expect_eq(h_terminate(pids[k]), 0, "%s", procs[k]);
    }
}
