/* The playbook engine through the real code path: the orders processor's
 * apply() runs the engine on each event, and ac_engine_fire() decides the
 * customer's due timers, all with an explicit clock and no Redis or Kafka.
 * The default playbook (deploy/playbooks/default.yaml) is used unless a test
 * needs a rule the orders processor cannot trigger there; those small
 * playbooks are tests/data/playbooks/engine_*.yaml. Needs AC_SOURCE_DIR (set
 * by ctest) for them.
 *
 * Times are ms since the epoch, UTC; T0 is Monday 2026-01-05 10:00 UTC, so
 * every +N days of it is daytime in the playbook's default zone (UTC). */
#include <criterion/criterion.h>

#include "apply_support.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "config.h"
#include "customer.h"
#include "engine.h"
#include "err.h"
#include "orders.h"
#include "playbook.h"
#include "processor.h"
#include "rules.h"
#include "timer.h"

#define MIN 60000LL
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define YEAR (365 * DAY)
#define T0 1767607200000LL      /* Monday 2026-01-05 10:00 UTC */
#define MAR27 1774569600000LL   /* Friday 2026-03-27 00:00 UTC (Berlin: CET, UTC+1) */
#define FRI1650 1767977400000LL /* Friday 2026-01-09 16:50 UTC */

static struct ac_config *test_cfg;
static void *test_ctx;              /* the orders processor's */
static struct ac_rules *test_rules; /* our own engine on the same playbook, to fire timers */
static struct ac_engine *test_en;
static struct ac_clock test_clock;
static struct ac_emit test_out;
static struct ac_timerset test_timers;
static struct ac_customer test_c;

/* Opens the orders processor and a firing engine on playbook (NULL: the
 * default; else a file under tests/data/playbooks/), and a fresh customer. */
static void test_open(const char *playbook)
{
    static const struct ac_cfg_entry pb_table[] = {
        {"playbook", AC_CFG_STR, AC_PLAYBOOK_DEFAULT, "", 0, 0},
        {"team.default_owner", AC_CFG_STR, "customer-success", "", 0, 0},
        {NULL, AC_CFG_STR, NULL, NULL, 0, 0},
    };
    const struct ac_cfg_entry *tables[] = {ac_orders_processor.config, pb_table};
    char err[512], path[1024];
    if (playbook) {
        const char *src = getenv("AC_SOURCE_DIR");
#ifdef AC_SOURCE_DIR
        if (!src || !*src) {
            src = AC_SOURCE_DIR; /* run by hand: the tree it was built from */
        }
#endif
        cr_assert(src && *src, "AC_SOURCE_DIR must point at the source tree (run through ctest)");
        snprintf(path, sizeof(path), "%s/tests/data/playbooks/%s", src, playbook);
    } else {
        snprintf(path, sizeof(path), "%s", AC_PLAYBOOK_DEFAULT);
    }
    test_cfg = ac_config_load(tables, 2, NULL, err, sizeof(err));
    cr_assert_not_null(test_cfg, "%s", err);
    cr_assert_eq(ac_config_set(test_cfg, "playbook", path, err, sizeof(err)), 0, "%s", err);
    test_ctx = ac_orders_processor.init(test_cfg, err, sizeof(err));
    cr_assert_not_null(test_ctx, "%s", err);
    struct ac_engine_opts opts = {"customer-success"};
    test_rules = ac_rules_open(path, &opts, err, sizeof(err));
    cr_assert_not_null(test_rules, "%s", err);
    test_en = ac_rules_engine(test_rules);
    ac_clock_init_fixed(&test_clock, T0);
    ac_customer_init(&test_c, "c1");
    ac_timerset_fini(&test_timers);
    ac_emit_reset(&test_out);
    test_out.timers = &test_timers;
}

static void test_close(void)
{
    if (test_ctx) {
        ac_orders_processor.fini(test_ctx);
    }
    ac_rules_close(test_rules);
    ac_config_destroy(test_cfg);
    test_ctx = NULL;
    test_rules = NULL;
    test_cfg = NULL;
}

TestSuite(engine, .fini = test_close);

/* A customer never seen, with no timers. */
static void test_fresh(const char *customer_id)
{
    ac_customer_init(&test_c, customer_id);
    ac_timerset_fini(&test_timers);
}

/* An orders event without items; test_item() adds some. */
static void test_event(struct ac_event *ev, const char *id, const char *type, int64_t at,
                       const char *order_id)
{
    memset(ev, 0, sizeof(*ev));
    ev->topic = AC_TOPIC_ORDERS;
    snprintf(ev->event_id, sizeof(ev->event_id), "%s", id);
    snprintf(ev->customer_id, sizeof(ev->customer_id), "%s", test_c.customer_id);
    snprintf(ev->type, sizeof(ev->type), "%s", type);
    ev->occurred_at = at;
    snprintf(ev->u.order.order_id, sizeof(ev->u.order.order_id), "%s", order_id);
    ev->u.order.total_cents = 4990;
    snprintf(ev->u.order.currency, sizeof(ev->u.order.currency), "EUR");
    ev->u.order.renewal_at = AC_TS_NONE;
}

static void test_item(struct ac_event *ev, const char *family, int64_t unit_price_cents)
{
    struct ac_item *it = &ev->u.order.items[ev->u.order.n_items++];
    snprintf(it->sku, sizeof(it->sku), "sku-%s", family);
    snprintf(it->product_family, sizeof(it->product_family), "%s", family);
    it->quantity = 1;
    it->unit_price_cents = unit_price_cents;
}

/* The timer set as the timer process sees it: every timer through its JSON
 * form (the value in the customer's timers hash) and back, nothing to write. */
static void test_reload_timers(void)
{
    struct ac_buf json;
    ac_buf_init(&json);
    for (int i = 0; i < test_timers.n; i++) {
        struct ac_timer *tm = &test_timers.t[i], back;
        ac_buf_reset(&json);
        cr_assert_eq(ac_timer_to_json(tm, &json), 0);
        cr_assert_eq(ac_timer_from_json(&back, tm->id, json.data, json.len), 0, "%s", json.data);
        cr_assert_str_eq(back.rule_id, tm->rule_id);
        cr_assert_eq(back.part, tm->part);
        cr_assert_eq(back.due, tm->due);
        cr_assert_eq(back.first_due, tm->first_due);
        cr_assert_eq(back.expires_at, tm->expires_at);
        cr_assert_eq(back.seq, tm->seq);
        cr_assert_str_eq(back.reason, tm->reason);
        cr_assert_eq(memcmp(&back.trigger, &tm->trigger, sizeof(back.trigger)), 0,
                     "the trigger of %s/%d changed in %s", tm->rule_id, tm->part, json.data);
        *tm = back;
    }
    test_timers.n_removed = 0;
    ac_buf_fini(&json);
}

/* Applies ev through the orders processor with the clock at now, to the
 * timers as loaded from their stored form. */
static void test_apply(const struct ac_event *ev, int64_t now)
{
    char reason[128] = "";
    ac_clock_set(&test_clock, now);
    test_reload_timers();
    ac_emit_reset(&test_out);
    test_out.timers = &test_timers;
    int rc = ts_apply(&ac_orders_processor, test_ctx, test_en, &test_c, ev, &test_clock, &test_out,
                      reason, sizeof(reason));
    cr_assert_eq(rc, 0, "apply %s: %d %s", ev->type, rc, reason);
}

/* Shorthand: an event without items applied at its own time. */
static void test_simple(const char *id, const char *type, int64_t at, const char *order_id)
{
    struct ac_event ev;
    test_event(&ev, id, type, at, order_id);
    test_apply(&ev, at);
}

/* Fires the customer's due timers at now, as loaded from their stored form;
 * returns how many were decided. */
static int test_fire(int64_t now)
{
    test_reload_timers();
    ac_emit_reset(&test_out);
    test_out.timers = &test_timers;
    return ac_engine_fire(test_en, &test_c, now, &test_out);
}

/* Fires every timer due before t, each at its own due time (a timer process
 * that is always on time). */
static void test_run_until(int64_t t)
{
    for (int guard = 0; guard < 10000; guard++) {
        int i = ac_timerset_next(&test_timers);
        if (i < 0 || test_timers.t[i].due >= t) {
            return;
        }
        int64_t due = test_timers.t[i].due;
        cr_assert_gt(test_fire(due), 0, "a due timer was not decided at %lld", (long long)due);
    }
    cr_assert_fail("timers keep falling due before %lld", (long long)t);
}

/* The last decision about (rule, part) in test_out, or NULL. */
static const struct ac_decision *test_decision(const char *rule, int part)
{
    for (int i = test_out.n_decisions - 1; i >= 0; i--) {
        const struct ac_decision *d = &test_out.decisions[i];
        if (strcmp(d->rule_id, rule) == 0 && d->part == part) {
            return d;
        }
    }
    return NULL;
}

static int test_n_decisions(const char *rule, const char *decision)
{
    int n = 0;
    for (int i = 0; i < test_out.n_decisions; i++) {
        const struct ac_decision *d = &test_out.decisions[i];
        n += strcmp(d->rule_id, rule) == 0 && strcmp(d->decision, decision) == 0;
    }
    return n;
}

/* The action emitted for (rule, part) in test_out, or NULL. */
static const struct ac_action *test_action(const char *rule, int part)
{
    const struct ac_decision *d = NULL;
    for (int i = 0; i < test_out.n_decisions; i++) {
        const struct ac_decision *x = &test_out.decisions[i];
        if (strcmp(x->rule_id, rule) == 0 && x->part == part &&
            strcmp(x->decision, "emitted") == 0) {
            d = x;
        }
    }
    for (int i = 0; d && i < test_out.n_actions; i++) {
        if (strcmp(test_out.actions[i].action_id, d->action_id) == 0) {
            return &test_out.actions[i];
        }
    }
    return NULL;
}

static int test_n_actions(const char *rule)
{
    int n = 0;
    for (int i = 0; i < test_out.n_actions; i++) {
        n += strcmp(test_out.actions[i].rule_id, rule) == 0;
    }
    return n;
}

/* The pending timer of (rule, part) — of that product family if family is
 * not NULL — or NULL. */
static const struct ac_timer *test_timer(const char *rule, int part, const char *family)
{
    for (int i = 0; i < test_timers.n; i++) {
        const struct ac_timer *tm = &test_timers.t[i];
        if (strcmp(tm->rule_id, rule) == 0 && tm->part == part &&
            (!family || strcmp(tm->trigger.family, family) == 0)) {
            return tm;
        }
    }
    return NULL;
}

static int test_n_timers(const char *rule)
{
    int n = 0;
    for (int i = 0; i < test_timers.n; i++) {
        n += strcmp(test_timers.t[i].rule_id, rule) == 0;
    }
    return n;
}

/* The same, for a test that cannot go on without it. */
static const struct ac_decision *test_must_decision(const char *rule, int part)
{
    const struct ac_decision *d = test_decision(rule, part);
    cr_assert_not_null(d, "no decision about %s/%d", rule, part);
    return d;
}

static const struct ac_timer *test_must_timer(const char *rule, int part, const char *family)
{
    const struct ac_timer *tm = test_timer(rule, part, family);
    cr_assert_not_null(tm, "%s/%d%s%s is not pending", rule, part, family ? "/" : "",
                       family ? family : "");
    return tm;
}

static const struct ac_action *test_must_action(const char *rule, int part)
{
    const struct ac_action *a = test_action(rule, part);
    cr_assert_not_null(a, "%s/%d was not emitted", rule, part);
    return a;
}

/* The timer is no longer pending (cancelled, fired, expired). */
static int test_was_removed(const char *timer_id)
{
    return ac_timerset_find(&test_timers, timer_id) < 0;
}

static const char *test_var(const struct ac_action *a, const char *key)
{
    for (int i = 0; i < a->n_vars; i++) {
        if (strcmp(a->vars[i].key, key) == 0) {
            return a->vars[i].value;
        }
    }
    return NULL;
}

static int test_counter(const char *field)
{
    int64_t n = 0;
    for (int i = 0; i < test_out.n_counters; i++) {
        if (strcmp(test_out.counters[i].field, field) == 0) {
            n += test_out.counters[i].by;
        }
    }
    return (int)n;
}

/* The timer of (rule, part[, family]) is pending, due at due: not emitted at
 * due - 1 ms, emitted at due (and then gone). Returns the action. */
static const struct ac_action *test_fires_exactly_at(const char *rule, int part, const char *family,
                                                     int64_t due)
{
    const struct ac_timer *tm = test_timer(rule, part, family);
    cr_assert_not_null(tm, "%s/%d is not pending", rule, part);
    cr_assert_eq(tm->due, due, "%s/%d due %lld, expected %lld", rule, part, (long long)tm->due,
                 (long long)due);
    char id[AC_ACTION_ID_MAX];
    snprintf(id, sizeof(id), "%s", tm->id);
    test_run_until(due - 1);
    test_fire(due - 1);
    cr_assert_null(test_action(rule, part), "%s/%d went out a ms early", rule, part);
    cr_assert_geq(ac_timerset_find(&test_timers, id), 0, "%s/%d vanished early", rule, part);
    test_fire(due);
    const struct ac_action *a = test_action(rule, part);
    cr_assert_not_null(a, "%s/%d not emitted at its due time", rule, part);
    cr_assert_str_eq(a->action_id, id);
    cr_assert_eq(a->not_before, due);
    cr_assert_eq(ac_timerset_find(&test_timers, id), -1, "%s/%d still pending", rule, part);
    return a;
}

/* A customer who bought twice long ago: a new order changes no segment (no
 * segment_followup) and starts no welcome series. */
static void test_repeat_customer(void)
{
    test_c.order_count = 2;
    test_c.revenue_cents = 10000;
    test_c.first_order_at = T0 - 100 * DAY;
    test_c.last_order_at = T0 - 50 * DAY;
    snprintf(test_c.segment, sizeof(test_c.segment), "mid_value_repeat");
}

/* --- confirmation, onboarding, welcome series ------------------------------------------------- */

Test(engine, first_order_emits_confirmation_onboarding_and_welcome_1_at_once)
{
    struct ac_event ev;
    test_open(NULL);
    test_event(&ev, "e1", "order_placed", T0, "o1");
    test_item(&ev, "coffee", 4990);
    test_apply(&ev, T0);

    const struct ac_action *a = test_action("order_confirmation", 0);
    cr_assert_not_null(a);
    cr_expect_eq(a->category, AC_CAT_TRANSACTIONAL);
    cr_expect_str_eq(a->channel, "email");
    cr_expect_eq(a->not_before, T0);
    cr_expect_str_eq(test_var(a, "order_id"), "o1");
    a = test_action("crm_onboarding", 0);
    cr_assert_not_null(a);
    cr_expect_eq(a->kind, AC_KIND_CRM_UPDATE);
    cr_expect_str_eq(a->channel, "crm");
    a = test_action("crm_onboarding", 1);
    cr_assert_not_null(a);
    cr_expect_eq(a->kind, AC_KIND_TEAM_NOTIFICATION);
    cr_expect_str_eq(test_var(a, "assignee"), "customer-success");
    a = test_action("welcome_1", 0);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->template_name, "welcome_1_tutorials");
    cr_expect_eq(a->not_before, T0);
    cr_expect_eq(a->expires_at, T0 + DAY);
    cr_expect_str_eq(test_must_decision("welcome_1", 0)->reason, "");
    a = test_action("segment_followup", 2);
    cr_assert_not_null(a, "the new one_time segment gets its guide");
    cr_expect_str_eq(a->template_name, "segment_one_time_guide");
    cr_expect_eq(test_out.n_actions, 5);

    /* Only the marketing message counts towards the frequency cap. */
    char sends[64];
    snprintf(sends, sizeof(sends), "%lld:email", (long long)T0);
    cr_expect_str_eq(test_c.sends, sends);
}

Test(engine, welcome_series_goes_out_at_exactly_2_7_and_14_days)
{
    test_open(NULL);
    test_simple("e1", "order_placed", T0, "o1");
    static const struct {
        const char *rule;
        int64_t due, expires;
    } want[] = {{"welcome_2", T0 + 2 * DAY, DAY},
                {"welcome_3", T0 + 7 * DAY, 2 * DAY},
                {"welcome_4", T0 + 14 * DAY, 2 * DAY}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct ac_decision *d = test_decision(want[i].rule, 0);
        cr_assert_not_null(d, "%s: no decision", want[i].rule);
        cr_expect_str_eq(d->decision, "scheduled");
        cr_expect_str_eq(d->reason, "delay");
        cr_expect_eq(d->not_before, want[i].due);
        const struct ac_timer *tm = test_timer(want[i].rule, 0, NULL);
        cr_assert_not_null(tm);
        cr_expect_eq(tm->first_due, want[i].due);
        cr_expect_eq(tm->expires_at, want[i].due + want[i].expires);
    }
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct ac_action *a = test_fires_exactly_at(want[i].rule, 0, NULL, want[i].due);
        cr_expect_str_eq(a->channel, "email");
        cr_expect_str_eq(test_must_decision(want[i].rule, 0)->reason, "");
    }
}

static void test_cancel_welcome(const char *type)
{
    test_open(NULL);
    test_simple("e1", "order_placed", T0, "o1");
    static const struct {
        const char *rule;
        int part;
    } series[] = {{"welcome_2", 0},       {"welcome_3", 0},       {"welcome_4", 0},
                  {"post_sale_waves", 0}, {"post_sale_waves", 1}, {"post_sale_waves", 2}};
    char ids[6][AC_ACTION_ID_MAX];
    for (int i = 0; i < 6; i++) {
        const struct ac_timer *tm = test_timer(series[i].rule, series[i].part, NULL);
        cr_assert_not_null(tm, "%s/%d not pending", series[i].rule, series[i].part);
        snprintf(ids[i], sizeof(ids[i]), "%s", tm->id);
    }
    int others = test_timers.n - 6;

    /* Another order's refund or cancellation leaves them alone (a refund
     * schedules its own feedback ask). */
    test_simple("e2", type, T0 + HOUR, "o-other");
    cr_expect_eq(test_n_decisions("welcome_2", "cancelled"), 0);
    cr_expect_eq(test_timers.n - test_n_timers("refund_feedback"), others + 6);

    char why[64];
    snprintf(why, sizeof(why), "cancel_on:%s", type);
    test_simple("e3", type, T0 + 3 * HOUR, "o1");
    for (int i = 0; i < 6; i++) {
        const struct ac_decision *d = test_decision(series[i].rule, series[i].part);
        cr_assert_not_null(d, "%s/%d: no decision", series[i].rule, series[i].part);
        cr_expect_str_eq(d->decision, "cancelled");
        cr_expect_str_eq(d->reason, why);
        cr_expect_str_eq(d->action_id, ids[i]);
        cr_expect_eq(d->at, T0 + 3 * HOUR, "cancelled at once");
        cr_expect_eq(ac_timerset_find(&test_timers, ids[i]), -1);
        cr_expect(test_was_removed(ids[i]), "the commit must delete %s", ids[i]);
    }
    cr_expect_eq(test_timers.n - test_n_timers("refund_feedback"), others,
                 "checkins, anniversaries, onboarding_stall stay");
    test_run_until(T0 + 15 * DAY);
    test_fire(T0 + 15 * DAY);
    cr_expect_eq(
        test_n_actions("welcome_2") + test_n_actions("welcome_3") + test_n_actions("welcome_4"), 0);
}

Test(engine, refund_of_the_order_cancels_pending_welcome_timers_at_once)
{
    test_cancel_welcome("refund_issued");
}

Test(engine, cancellation_of_the_order_cancels_pending_welcome_timers_at_once)
{
    test_cancel_welcome("order_cancelled");
}

/* --- reorder / upsell / replenish by product family ------------------------------------------- */

Test(engine, family_windows_follow_the_family_table_and_the_price_threshold)
{
    struct ac_event ev;
    test_open(NULL);
    test_event(&ev, "e1", "order_placed", T0, "o1");
    test_item(&ev, "coffee", 4990);
    test_item(&ev, "skincare", 2500);
    test_item(&ev, "tea", 20000);     /* at the threshold: not above it */
    test_item(&ev, "grinder", 25000); /* above: extended windows */
    test_item(&ev, "coffee", 1990);   /* a second coffee line: still one action per family */
    test_apply(&ev, T0);
    static const struct {
        const char *family;
        int64_t reorder, upsell, replenish;
    } want[] = {{"coffee", 7, 14, 21},
                {"skincare", 10, 14, 28},
                {"tea", 7, 14, 28},
                {"grinder", 21, 28, 35}};
    static const char *const rules[] = {"reorder", "upsell", "replenish"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const int64_t days[] = {want[i].reorder, want[i].upsell, want[i].replenish};
        for (int r = 0; r < 3; r++) {
            const struct ac_timer *tm = test_timer(rules[r], 0, want[i].family);
            cr_assert_not_null(tm, "%s/%s not pending", rules[r], want[i].family);
            cr_expect_eq(tm->due, T0 + days[r] * DAY, "%s/%s due after %lld days, not %lld",
                         rules[r], want[i].family, (long long)((tm->due - T0) / DAY),
                         (long long)days[r]);
            cr_expect_eq(tm->expires_at, tm->due + 3 * DAY);
        }
    }
    for (int r = 0; r < 3; r++) {
        cr_expect_eq(test_n_timers(rules[r]), 4, "one %s per family", rules[r]);
        cr_expect_eq(test_n_decisions(rules[r], "scheduled"), 4);
        cr_expect_str_eq(test_must_decision(rules[r], 0)->reason, "family");
    }

    /* Coffee's premium line is extended too, from the default row (35 d). */
    test_fresh("c2");
    test_event(&ev, "e2", "order_placed", T0, "o2");
    test_item(&ev, "coffee", 20001);
    test_apply(&ev, T0);
    cr_expect_eq(test_must_timer("reorder", 0, "coffee")->due, T0 + 21 * DAY);
    cr_expect_eq(test_must_timer("replenish", 0, "coffee")->due, T0 + 35 * DAY);

    /* An order without items schedules no family action. */
    test_fresh("c3");
    test_simple("e3", "order_placed", T0, "o3");
    cr_expect_eq(test_n_timers("reorder") + test_n_timers("upsell") + test_n_timers("replenish"),
                 0);
}

Test(engine, family_actions_go_out_with_family_vars_at_their_time)
{
    struct ac_event ev;
    test_open(NULL);
    test_repeat_customer();
    test_event(&ev, "e1", "order_placed", T0, "o1");
    test_item(&ev, "coffee", 4990);
    test_apply(&ev, T0);
    cr_expect_str_eq(test_c.sends, "", "no marketing at the order of a repeat customer");
    const struct ac_action *a = test_fires_exactly_at("reorder", 0, "coffee", T0 + 7 * DAY);
    cr_expect_str_eq(a->template_name, "reorder_reminder");
    cr_expect_str_eq(test_var(a, "family"), "coffee");
    a = test_fires_exactly_at("upsell", 0, "coffee", T0 + 14 * DAY);
    cr_expect_str_eq(test_var(a, "family"), "coffee");
    cr_expect_str_eq(test_var(a, "cross_sell"), "brewing_gear,mugs");
    a = test_fires_exactly_at("replenish", 0, "coffee", T0 + 21 * DAY);
    cr_expect_str_eq(a->template_name, "replenish_nudge");
}

Test(engine, new_order_of_the_family_cancels_its_pending_family_actions_now)
{
    struct ac_event ev;
    test_open(NULL);
    test_event(&ev, "e1", "order_placed", T0, "o1");
    test_item(&ev, "coffee", 4990);
    test_item(&ev, "tea", 3000);
    test_apply(&ev, T0);
    static const char *const rules[] = {"reorder", "upsell", "replenish"};
    char coffee[3][AC_ACTION_ID_MAX];
    for (int r = 0; r < 3; r++) {
        snprintf(coffee[r], sizeof(coffee[r]), "%s", test_must_timer(rules[r], 0, "coffee")->id);
    }

    test_event(&ev, "e2", "order_placed", T0 + 3 * DAY, "o2");
    test_item(&ev, "coffee", 4990);
    test_apply(&ev, T0 + 3 * DAY);
    for (int r = 0; r < 3; r++) {
        cr_expect_eq(test_n_decisions(rules[r], "cancelled"), 1, "%s", rules[r]);
        cr_expect_eq(ac_timerset_find(&test_timers, coffee[r]), -1, "%s/coffee of e1", rules[r]);
        cr_expect(test_was_removed(coffee[r]));
        const struct ac_timer *tea = test_timer(rules[r], 0, "tea");
        cr_expect_not_null(tea, "another family's %s stays", rules[r]);
        const struct ac_timer *c2 = test_timer(rules[r], 0, "coffee");
        cr_assert_not_null(c2, "e2 schedules its own %s", rules[r]);
        cr_expect_str_eq(c2->trigger.id, "e2");
    }
    for (int i = 0; i < test_out.n_decisions; i++) {
        const struct ac_decision *d = &test_out.decisions[i];
        if (strcmp(d->decision, "cancelled") == 0) {
            cr_expect_str_eq(d->reason, "cancel_on:order_placed");
            cr_expect_eq(d->at, T0 + 3 * DAY);
        }
    }
    cr_expect_eq(test_must_timer("reorder", 0, "coffee")->due, T0 + 10 * DAY);

    /* On day 7 only tea's reorder is due (coffee's of e1 is gone); it reaches
     * the customer in the one message of that day: e2's segment follow-up,
     * which the cap moved to day 7, with tea's reorder and coffee's of e2
     * (due on day 10) riding along (merged). */
    char tea[AC_ACTION_ID_MAX];
    snprintf(tea, sizeof(tea), "%s", test_must_timer("reorder", 0, "tea")->id);
    test_run_until(T0 + 7 * DAY);
    test_fire(T0 + 7 * DAY);
    cr_expect_eq(test_n_decisions("reorder", "emitted") + test_n_decisions("reorder", "merged"), 2);
    const struct ac_action *a = test_must_action("segment_followup", 1);
    cr_expect_str_eq(test_var(a, "family"), "tea,coffee");
    int seen_tea = 0;
    for (int i = 0; i < test_out.n_decisions; i++) {
        const struct ac_decision *d = &test_out.decisions[i];
        seen_tea |= strcmp(d->action_id, tea) == 0 && strcmp(d->decision, "merged") == 0;
        for (int r = 0; r < 3; r++) {
            cr_expect_str_neq(d->action_id, coffee[r], "e1's coffee actions were cancelled");
        }
    }
    cr_expect(seen_tea, "tea's reorder rides along in the follow-up");
}

/* --- carts ------------------------------------------------------------------------------------ */

Test(engine, cart_reminder_goes_out_one_hour_after_the_cart)
{
    test_open(NULL);
    test_simple("e1", "cart_abandoned", T0, "");
    const struct ac_decision *d = test_decision("cart_reminder", 0);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "scheduled");
    cr_expect_eq(d->not_before, T0 + HOUR);
    const struct ac_action *a = test_fires_exactly_at("cart_reminder", 0, NULL, T0 + HOUR);
    cr_expect_str_eq(a->channel, "email");
    cr_expect_eq(a->category, AC_CAT_MARKETING);
    cr_expect_eq(a->expires_at, T0 + 24 * HOUR);
}

Test(engine, an_order_cancels_the_pending_cart_reminder)
{
    test_open(NULL);
    test_simple("e1", "cart_abandoned", T0, "");
    char id[AC_ACTION_ID_MAX];
    snprintf(id, sizeof(id), "%s", test_must_timer("cart_reminder", 0, NULL)->id);
    test_simple("e2", "order_placed", T0 + 30 * MIN, "o1");
    const struct ac_decision *d = test_decision("cart_reminder", 0);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "cancelled");
    cr_expect_str_eq(d->reason, "cancel_on:order_placed");
    cr_expect_eq(ac_timerset_find(&test_timers, id), -1);
    cr_expect(test_was_removed(id));
    test_fire(T0 + HOUR);
    cr_expect_null(test_action("cart_reminder", 0));
}

/* --- the 90-day plan, check-ins, renewals, anniversaries -------------------------------------- */

Test(engine, post_sale_waves_on_days_1_30_60_and_checkins_on_days_30_90)
{
    test_open(NULL);
    test_simple("e1", "order_placed", T0, "o1");
    const struct ac_action *a = test_fires_exactly_at("post_sale_waves", 0, NULL, T0 + DAY);
    cr_expect_str_eq(a->template_name, "wave_onboarding");
    cr_expect_eq(a->category, AC_CAT_SERVICE);
    /* Day 30: the second wave and the first check-in, both service messages. */
    cr_assert_eq(test_must_timer("checkins", 0, NULL)->due, T0 + 30 * DAY);
    a = test_fires_exactly_at("post_sale_waves", 1, NULL, T0 + 30 * DAY);
    cr_expect_str_eq(a->template_name, "wave_usage_optimisation");
    a = test_action("checkins", 0);
    cr_assert_not_null(a, "the day-30 check-in goes out with the second wave");
    cr_expect_str_eq(a->template_name, "satisfaction_checkin");
    a = test_fires_exactly_at("post_sale_waves", 2, NULL, T0 + 60 * DAY);
    cr_expect_str_eq(a->template_name, "wave_loyalty_offer");
    cr_expect_eq(a->category, AC_CAT_MARKETING);
    a = test_fires_exactly_at("checkins", 1, NULL, T0 + 90 * DAY);
    cr_expect_str_eq(a->template_name, "satisfaction_checkin");
}

static void test_contract(const char *id, int64_t at, int64_t renewal_at)
{
    struct ac_event ev;
    test_event(&ev, id, "contract_signed", at, "");
    ev.u.order.renewal_at = renewal_at;
    test_apply(&ev, at);
}

Test(engine, renewal_reminders_90_30_and_7_days_before_renewal)
{
    const int64_t renewal = T0 + 365 * DAY;
    test_open(NULL);
    test_contract("e1", T0, renewal);
    static const int64_t before[] = {90, 30, 7};
    for (int p = 0; p < 3; p++) {
        const struct ac_decision *d = test_decision("renewal_reminders", p);
        cr_assert_not_null(d);
        cr_expect_str_eq(d->decision, "scheduled");
        cr_expect_str_eq(d->reason, "anchor");
        cr_expect_eq(d->not_before, renewal - before[p] * DAY);
    }
    for (int p = 0; p < 3; p++) {
        const struct ac_action *a =
            test_fires_exactly_at("renewal_reminders", p, NULL, renewal - before[p] * DAY);
        cr_expect_str_eq(a->template_name, "renewal_reminder");
        char want[32];
        snprintf(want, sizeof(want), "%lld", (long long)renewal);
        cr_expect_str_eq(test_var(a, "renewal_at"), want);
    }
}

Test(engine, subscription_cancelled_cancels_pending_renewal_reminders)
{
    const int64_t renewal = T0 + 365 * DAY;
    test_open(NULL);
    test_contract("e1", T0, renewal);
    cr_assert_eq(test_n_timers("renewal_reminders"), 3);
    test_simple("e2", "subscription_cancelled", T0 + 10 * DAY, "");
    cr_expect_eq(test_n_timers("renewal_reminders"), 0);
    cr_expect_eq(test_n_decisions("renewal_reminders", "cancelled"), 3);
    cr_expect_str_eq(test_must_decision("renewal_reminders", 2)->reason,
                     "cancel_on:subscription_cancelled");
    cr_expect_eq(test_n_timers("service_progress_report"), 0, "the weekly report stops too");
    test_run_until(renewal);
    test_fire(renewal);
    cr_expect_eq(test_n_actions("renewal_reminders"), 0);
}

Test(engine, exit_when_drops_a_pending_renewal_reminder_once_the_subscription_is_cancelled)
{
    const int64_t renewal = T0 + 365 * DAY;
    test_open("engine_exit.yaml"); /* renewal_reminders without cancel_on */
    test_contract("e1", T0, renewal);
    cr_assert_eq(test_n_timers("renewal_reminders"), 3);
    /* A renewal with the same date leaves the reminders pending. */
    test_simple("e2", "subscription_renewed", T0 + DAY, "");
    cr_assert_eq(test_n_decisions("renewal_reminders", "exited"), 0);
    cr_assert_eq(test_n_timers("renewal_reminders"), 3);

    test_simple("e3", "subscription_cancelled", T0 + 10 * DAY, "");
    cr_expect_eq(test_n_decisions("renewal_reminders", "exited"), 3);
    const struct ac_decision *d = test_decision("renewal_reminders", 0);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "exited");
    cr_expect_str_eq(d->reason, "exit_when");
    cr_expect_eq(d->at, T0 + 10 * DAY);
    cr_expect_eq(test_n_timers("renewal_reminders"), 0);
    test_fire(renewal);
    cr_expect_eq(test_out.n_actions, 0);
}

Test(engine, exit_when_is_checked_again_when_the_timer_fires)
{
    const int64_t renewal = T0 + 365 * DAY;
    test_open(NULL);
    test_contract("e1", T0, renewal);
    test_run_until(renewal - 90 * DAY);
    /* The state changed without an event this engine saw (a restore, an
     * erase of the renewal date): the reminder is not sent. */
    test_c.renewal_at = AC_TS_NONE;
    test_fire(renewal - 90 * DAY);
    cr_expect_null(test_action("renewal_reminders", 0));
    cr_expect_eq(test_n_decisions("renewal_reminders", "exited"), 3);
    cr_expect_str_eq(test_must_decision("renewal_reminders", 0)->reason, "exit_when");
    cr_expect_eq(test_n_timers("renewal_reminders"), 0);
}

/* Anniversaries count calendar years: the same date, leap days or not. */
static void test_anniversaries(const char *cid, int64_t first_order, const int64_t due[3])
{
    test_fresh(cid);
    test_simple("e1", "order_placed", first_order, "o1");
    static const int years[] = {1, 3, 5};
    for (int p = 0; p < 3; p++) {
        const struct ac_decision *d = test_must_decision("anniversaries", p);
        cr_expect_str_eq(d->decision, "scheduled");
        cr_expect_str_eq(d->reason, "anchor");
        cr_expect_eq(d->not_before, due[p], "%s: %d years", cid, years[p]);
    }
    for (int p = 0; p < 3; p++) {
        const struct ac_action *a = test_fires_exactly_at("anniversaries", p, NULL, due[p]);
        char want[8];
        snprintf(want, sizeof(want), "%d", years[p]);
        cr_expect_str_eq(test_var(a, "years"), want);
        cr_expect_str_eq(a->template_name, "anniversary");
    }
    cr_expect_eq(test_timers.n, 0, "nothing is left after five years");
}

Test(engine, anniversaries_after_1_3_and_5_years)
{
    test_open(NULL);
    /* 2027-01-05, 2029-01-05 and 2031-01-05 10:00 UTC (2028 has 366 days). */
    static const int64_t jan5[] = {1799143200000LL, 1862301600000LL, 1925373600000LL};
    cr_assert_eq(jan5[0], T0 + YEAR);
    cr_assert_eq(jan5[1], T0 + 3 * YEAR + DAY);
    test_anniversaries("c1", T0, jan5);
    /* A first order on 2028-02-29: 1 March of 2029, 2031, 2033. */
    static const int64_t feb29[] = {1867053600000LL, 1930125600000LL, 1993284000000LL};
    test_anniversaries("c2", 1835431200000LL, feb29);
}

/* --- frequency cap ---------------------------------------------------------------------------- */

Test(engine, second_marketing_message_within_7_days_expires_past_its_bound)
{
    test_open(NULL);
    test_simple("e1", "cart_abandoned", T0, "");
    test_fire(T0 + HOUR);
    cr_assert_not_null(test_action("cart_reminder", 0));
    test_simple("e2", "cart_abandoned", T0 + DAY, "");
    test_fire(T0 + DAY + HOUR);
    cr_expect_eq(test_out.n_actions, 0);
    const struct ac_decision *d = test_decision("cart_reminder", 0);
    cr_assert_not_null(d);
    /* The cap lifts at T0 + 7d + 1h, past the reminder's 23 h expiry. */
    cr_expect_str_eq(d->decision, "expired");
    cr_expect_str_eq(d->reason, "defer_bound:frequency_cap");
    cr_expect_eq(test_timers.n, 0);
    char sends[64];
    snprintf(sends, sizeof(sends), "%lld:email", (long long)(T0 + HOUR));
    cr_expect_str_eq(test_c.sends, sends);
}

Test(engine, capped_message_is_deferred_to_when_the_first_leaves_the_7_day_window)
{
    struct ac_event ev;
    test_open(NULL);
    test_repeat_customer();
    test_event(&ev, "e1", "order_placed", T0, "o1");
    test_item(&ev, "coffee", 4990);
    test_apply(&ev, T0);
    test_simple("e2", "cart_abandoned", T0 + 2 * DAY, "");
    test_fire(T0 + 2 * DAY + HOUR);
    cr_assert_not_null(test_action("cart_reminder", 0), "the first marketing message");

    const int64_t lifts = T0 + 2 * DAY + HOUR + 7 * DAY;
    test_run_until(T0 + 7 * DAY);
    test_fire(T0 + 7 * DAY);
    const struct ac_decision *d = test_decision("reorder", 0);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "rescheduled");
    cr_expect_str_eq(d->reason, "frequency_cap");
    cr_expect_eq(d->not_before, lifts);
    const struct ac_timer *tm = test_timer("reorder", 0, "coffee");
    cr_assert_not_null(tm);
    cr_expect_eq(tm->due, lifts);
    cr_expect_eq(tm->first_due, T0 + 7 * DAY);
    cr_expect_eq(tm->change, AC_TIMER_WRITE, "the new due time must be written");

    const struct ac_action *a = test_fires_exactly_at("reorder", 0, "coffee", lifts);
    cr_expect_str_eq(test_must_decision("reorder", 0)->reason, "after_deferral");
    cr_expect_str_eq(test_var(a, "family"), "coffee");
}

Test(engine, frequency_opt_in_allows_three_marketing_messages_per_7_days)
{
    test_open(NULL);
    test_c.frequency_opt_in = 1;
    static const char *const ids[] = {"e1", "e2", "e3", "e4"};
    for (int i = 0; i < 4; i++) {
        test_simple(ids[i], "cart_abandoned", T0 + i * DAY, "");
        test_fire(T0 + i * DAY + HOUR);
        const struct ac_decision *d = test_decision("cart_reminder", 0);
        cr_assert_not_null(d);
        if (i < 3) {
            cr_expect_str_eq(d->decision, "emitted", "message %d of 3", i + 1);
        } else {
            cr_expect_str_eq(d->decision, "expired", "the fourth within 7 days");
            cr_expect_str_eq(d->reason, "defer_bound:frequency_cap");
        }
    }

    /* Without the opt-in the second is already capped. */
    test_fresh("c2");
    test_simple("e5", "cart_abandoned", T0, "");
    test_fire(T0 + HOUR);
    test_simple("e6", "cart_abandoned", T0 + DAY, "");
    test_fire(T0 + DAY + HOUR);
    cr_expect_str_eq(test_must_decision("cart_reminder", 0)->decision, "expired");
}

Test(engine, transactional_messages_are_never_capped)
{
    test_open(NULL);
    test_simple("e1", "cart_abandoned", T0, "");
    test_fire(T0 + HOUR);
    cr_assert_not_null(test_action("cart_reminder", 0), "the cap is now used up");
    char sends[AC_SENDS_MAX];
    snprintf(sends, sizeof(sends), "%s", test_c.sends);
    test_simple("e2", "order_placed", T0 + 2 * HOUR, "o1");
    cr_expect_not_null(test_action("order_confirmation", 0));
    cr_expect_not_null(test_action("welcome_1", 0), "service messages are not capped either");
    const struct ac_decision *d = test_decision("segment_followup", 2);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "rescheduled", "the marketing follow-up waits for the cap");
    cr_expect_eq(d->not_before, T0 + 7 * DAY + HOUR, "the cap's next free slot");
    test_simple("e3", "order_placed", T0 + 3 * HOUR, "o2");
    cr_expect_not_null(test_action("order_confirmation", 0), "and again");
    cr_expect_str_eq(test_c.sends, sends, "transactional sends do not count");
}

/* --- quiet hours and time zones --------------------------------------------------------------- */

/* A cart at 21:30 Berlin time on day d (from Friday 2026-03-27): its
 * reminder falls due at 22:30 local, in the quiet hours. Returns the time it
 * was deferred to, after checking it goes out exactly then. */
static int64_t test_quiet_night(int d, int64_t cart_utc)
{
    char id[16];
    test_fresh("c-berlin");
    snprintf(test_c.timezone, sizeof(test_c.timezone), "Europe/Berlin");
    snprintf(id, sizeof(id), "cart%d", d);
    test_simple(id, "cart_abandoned", cart_utc, "");
    test_fire(cart_utc + HOUR);
    const struct ac_decision *dd = test_decision("cart_reminder", 0);
    cr_assert_not_null(dd);
    cr_assert_str_eq(dd->decision, "deferred", "22:30 local is quiet");
    cr_expect_str_eq(dd->reason, "quiet_hours");
    cr_expect_eq(test_out.tz_fallbacks, 0);
    int64_t morning = dd->not_before;
    const struct ac_action *a = test_fires_exactly_at("cart_reminder", 0, NULL, morning);
    cr_expect_str_eq(test_must_decision("cart_reminder", 0)->reason, "after_deferral");
    cr_expect_eq(a->not_before, morning);
    return morning;
}

Test(engine, quiet_hours_defer_to_8_in_the_customers_zone_across_the_dst_change)
{
    test_open(NULL);
    /* Friday 21:30 CET = 20:30 UTC; Saturday 08:00 CET = 07:00 UTC. */
    int64_t fri = test_quiet_night(0, MAR27 + 20 * HOUR + 30 * MIN);
    cr_expect_eq(fri, MAR27 + DAY + 7 * HOUR);
    /* Saturday 21:30 CET = 20:30 UTC; the clocks go forward that night, so
     * Sunday 2026-03-29 08:00 CEST = 06:00 UTC. */
    int64_t sat = test_quiet_night(1, MAR27 + DAY + 20 * HOUR + 30 * MIN);
    cr_expect_eq(sat, MAR27 + 2 * DAY + 6 * HOUR);
    cr_expect_eq(sat - fri, DAY - HOUR);
}

Test(engine, transactional_messages_ignore_quiet_hours)
{
    test_open(NULL);
    snprintf(test_c.timezone, sizeof(test_c.timezone), "Europe/Berlin");
    /* 23:00 CET */
    test_simple("e1", "order_placed", MAR27 + 22 * HOUR, "o1");
    const struct ac_action *a = test_action("order_confirmation", 0);
    cr_assert_not_null(a);
    cr_expect_eq(a->not_before, MAR27 + 22 * HOUR);
    const struct ac_decision *d = test_decision("welcome_1", 0);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "deferred");
    cr_expect_str_eq(d->reason, "quiet_hours");
    cr_expect_eq(d->not_before, MAR27 + DAY + 7 * HOUR);
}

Test(engine, an_invalid_zone_falls_back_to_the_playbook_default_and_is_counted)
{
    test_open(NULL);
    snprintf(test_c.timezone, sizeof(test_c.timezone), "Mars/Olympus_Mons");
    /* Due at 21:30 UTC: quiet in UTC (the default zone), not yet in Berlin. */
    test_simple("e1", "cart_abandoned", MAR27 + 20 * HOUR + 30 * MIN, "");
    cr_expect_eq(test_out.tz_fallbacks, 0, "nothing was decided yet");
    test_fire(MAR27 + 21 * HOUR + 30 * MIN);
    const struct ac_decision *d = test_decision("cart_reminder", 0);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "deferred", "never dropped for a bad zone");
    cr_expect_str_eq(d->reason, "quiet_hours");
    cr_expect_eq(d->not_before, MAR27 + DAY + 8 * HOUR, "08:00 UTC");
    cr_expect_eq(test_out.tz_fallbacks, 1);
    test_fire(MAR27 + DAY + 8 * HOUR);
    cr_expect_not_null(test_action("cart_reminder", 0));
    cr_expect_eq(test_out.tz_fallbacks, 1);
}

/* --- consent and channels --------------------------------------------------------------------- */

Test(engine, revoked_email_consent_suppresses_email_only_actions_and_uses_the_next_channel)
{
    test_open(NULL);
    snprintf(test_c.consents, sizeof(test_c.consents), "email=0");
    test_simple("e1", "order_placed", T0, "o1");
    cr_expect_null(test_action("welcome_1", 0));
    const struct ac_decision *d = test_decision("welcome_1", 0);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "suppressed");
    cr_expect_str_eq(d->reason, "no_consent");
    cr_expect_eq(ac_timerset_find(&test_timers, d->action_id), -1, "not retried");
    const struct ac_action *a = test_action("order_confirmation", 0);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->channel, "sms");
    a = test_action("segment_followup", 2);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->channel, "push");

    /* A delayed one is decided at its time, with the consents of then. */
    test_fire(T0 + DAY);
    d = test_decision("post_sale_waves", 0);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "suppressed");
    cr_expect_str_eq(d->reason, "no_consent");
    snprintf(test_c.consents, sizeof(test_c.consents), "email=1");
    test_run_until(T0 + 2 * DAY);
    test_fire(T0 + 2 * DAY);
    a = test_action("welcome_2", 0);
    cr_assert_not_null(a, "consent given again");
    cr_expect_str_eq(a->channel, "email");
}

Test(engine, the_preferred_channel_goes_first_when_consented)
{
    static const struct {
        const char *preferred, *consents, *channel;
    } cases[] = {
        {"", "", "email"},           {"push", "", "push"},
        {"sms", "", "email"}, /* not a channel of the rule */
        {"push", "push=0", "email"}, {"email", "email=0,push=1", "push"},
    };
    test_open(NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char cid[16];
        snprintf(cid, sizeof(cid), "c%zu", i);
        test_fresh(cid);
        snprintf(test_c.preferred_channel, sizeof(test_c.preferred_channel), "%s",
                 cases[i].preferred);
        snprintf(test_c.consents, sizeof(test_c.consents), "%s", cases[i].consents);
        test_simple("e1", "cart_abandoned", T0, "");
        test_fire(T0 + HOUR);
        const struct ac_action *a = test_action("cart_reminder", 0);
        cr_assert_not_null(a, "case %zu", i);
        cr_expect_str_eq(a->channel, cases[i].channel, "case %zu: preferred '%s', consents '%s'", i,
                         cases[i].preferred, cases[i].consents);
    }
}

/* Consent is looked at before the frequency cap (engine.h, the playbook
 * README): an action the customer cannot be reached for is suppressed at
 * once, not deferred for a cap and then expired under the wrong reason. */
Test(engine, no_consented_channel_is_suppressed_before_the_frequency_cap)
{
    test_open(NULL);
    snprintf(test_c.consents, sizeof(test_c.consents), "email=0");
    test_simple("e1", "order_placed", T0, "o1");
    cr_expect_str_eq(test_must_action("segment_followup", 2)->channel, "push");
    test_simple("e2", "cart_abandoned", T0 + 13 * DAY, "");
    test_fire(T0 + 13 * DAY + HOUR);
    cr_assert_str_eq(test_must_action("cart_reminder", 0)->channel, "push", "the cap is used up");
    test_run_until(T0 + 14 * DAY);
    test_fire(T0 + 14 * DAY);
    const struct ac_decision *d = test_must_decision("welcome_4", 0); /* email only */
    cr_expect_str_eq(d->decision, "suppressed");
    cr_expect_str_eq(d->reason, "no_consent");
    cr_expect_null(test_timer("welcome_4", 0, NULL));
}

/* --- suppressions ----------------------------------------------------------------------------- */

Test(engine, an_open_complaint_blocks_marketing_but_not_transactional_or_service)
{
    test_open(NULL);
    test_c.open_complaints = 1;
    test_simple("e1", "order_placed", T0, "o1");
    cr_expect_not_null(test_action("order_confirmation", 0));
    cr_expect_not_null(test_action("welcome_1", 0));
    cr_expect_null(test_action("segment_followup", 2));
    const struct ac_decision *d = test_decision("segment_followup", 2);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "deferred");
    cr_expect_str_eq(d->reason, "open_complaint");
    cr_expect_eq(d->not_before, T0 + HOUR, "looked at again in an hour");

    /* Still open: deferred hour by hour, and dropped at the 7-day expiry. */
    test_run_until(T0 + 7 * DAY);
    test_fire(T0 + 7 * DAY);
    d = test_decision("segment_followup", 2);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "expired");
    cr_expect_str_eq(d->reason, "defer_bound:open_complaint");
    cr_expect_null(test_timer("segment_followup", 2, NULL));
    cr_expect_str_eq(test_c.sends, "");
}

Test(engine, a_suppressed_message_goes_out_once_the_complaint_is_closed)
{
    test_open(NULL);
    test_c.open_complaints = 1;
    test_simple("e1", "cart_abandoned", T0, "");
    test_fire(T0 + HOUR);
    const struct ac_decision *d = test_decision("cart_reminder", 0);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "deferred");
    cr_expect_str_eq(d->reason, "open_complaint");
    cr_expect_eq(d->not_before, T0 + 2 * HOUR);
    test_c.open_complaints = 0;
    const struct ac_action *a = test_fires_exactly_at("cart_reminder", 0, NULL, T0 + 2 * HOUR);
    cr_expect_str_eq(a->template_name, "cart_reminder");
    cr_expect_str_eq(test_must_decision("cart_reminder", 0)->reason, "after_deferral");
}

/* --- experiments ------------------------------------------------------------------------------ */

static const struct ac_pb_experiment *test_experiment(void)
{
    const struct ac_pb_experiment *x =
        ac_playbook_experiment_find(ac_engine_playbook(test_en), "milestone_checkin_ab");
    cr_assert_not_null(x);
    return x;
}

Test(engine, experiment_assignment_is_deterministic_and_follows_the_weights)
{
    test_open(NULL);
    const struct ac_pb_experiment *x = test_experiment();
    int email = 0, in_app = 0, holdout = 0;
    for (int i = 0; i < 10000; i++) {
        char id[32];
        snprintf(id, sizeof(id), "cust-%d", i);
        const char *v = ac_engine_assign(x, id);
        cr_assert_str_eq(v, ac_engine_assign(x, id), "%s", id);
        if (strcmp(v, "email") == 0) {
            email++;
        } else if (strcmp(v, "in_app") == 0) {
            in_app++;
        } else if (strcmp(v, "holdout") == 0) {
            holdout++;
        } else {
            cr_assert_fail("unknown variant %s", v);
        }
    }
    cr_expect(email >= 4300 && email <= 4700, "email %d of 10000, expected 45%% +- 2", email);
    cr_expect(in_app >= 4300 && in_app <= 4700, "in_app %d of 10000", in_app);
    cr_expect(holdout >= 800 && holdout <= 1200, "holdout %d of 10000", holdout);
    /* Pinned: a changed function would move running experiments' customers. */
    cr_expect_str_eq(ac_engine_assign(x, "cust-0"), "holdout");
    cr_expect_str_eq(ac_engine_assign(x, "cust-1"), "email");
    cr_expect_str_eq(ac_engine_assign(x, "cust-7"), "in_app");
}

/* A customer id that ac_engine_assign() puts in variant v. */
static void test_id_in(const struct ac_pb_experiment *x, const char *v, char *id, size_t n)
{
    for (int i = 0; i < 1000; i++) {
        snprintf(id, n, "cust-%d", i);
        if (strcmp(ac_engine_assign(x, id), v) == 0) {
            return;
        }
    }
    cr_assert_fail("no customer in %s", v);
}

Test(engine, holdout_customers_get_nothing_but_are_assigned_and_counted)
{
    char cid[32], want[96];
    test_open("engine_experiment.yaml");
    test_id_in(test_experiment(), "holdout", cid, sizeof(cid));
    test_fresh(cid);
    test_simple("e1", "order_placed", T0, "o1");
    cr_expect_null(test_action("first_order_checkin", 0));
    const struct ac_decision *d = test_decision("first_order_checkin", 0);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "held_out");
    cr_expect_str_eq(d->reason, "holdout");
    cr_expect_str_eq(d->experiment, "milestone_checkin_ab");
    cr_expect_str_eq(d->variant, "holdout");
    cr_expect_eq(test_counter("milestone_checkin_ab:holdout:assigned"), 1);
    cr_expect_eq(test_out.n_counters, 1);
    snprintf(want, sizeof(want), "milestone_checkin_ab=holdout@%lld", (long long)T0);
    cr_expect_str_eq(test_c.experiments, want);
    cr_expect_eq(test_timers.n, 0, "nothing left to send later");
}

Test(engine, variant_customers_get_the_variants_template_and_convert_once)
{
    char cid[32], want[96];
    test_open("engine_experiment.yaml");
    const struct ac_pb_experiment *x = test_experiment();
    test_id_in(x, "in_app", cid, sizeof(cid));
    test_fresh(cid);
    test_simple("e1", "order_placed", T0, "o1");
    const struct ac_action *a = test_action("first_order_checkin", 0);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->template_name, "milestone_checkin_in_app");
    cr_expect_str_eq(a->experiment, "milestone_checkin_ab");
    cr_expect_str_eq(a->variant, "in_app");
    cr_expect_eq(test_counter("milestone_checkin_ab:in_app:assigned"), 1);
    cr_expect_eq(test_counter("milestone_checkin_ab:in_app:converted"), 0,
                 "the order that assigned it is no outcome");
    snprintf(want, sizeof(want), "milestone_checkin_ab=in_app@%lld", (long long)T0);
    cr_expect_str_eq(test_c.experiments, want);

    /* The same assignment as the default playbook's experiment. */
    test_close();
    test_open(NULL);
    cr_expect_str_eq(ac_engine_assign(test_experiment(), cid), "in_app");
    test_close();
    test_open("engine_experiment.yaml");
    test_fresh(cid);
    test_simple("e1", "order_placed", T0, "o1");

    /* A repeat purchase within 90 days converts, once. */
    test_simple("e2", "order_placed", T0 + 89 * DAY, "o2");
    cr_expect_eq(test_counter("milestone_checkin_ab:in_app:converted"), 1);
    cr_expect_eq(test_counter("milestone_checkin_ab:in_app:assigned"), 0, "assigned once");
    snprintf(want, sizeof(want), "milestone_checkin_ab=in_app@%lld+", (long long)T0);
    cr_expect_str_eq(test_c.experiments, want);
    test_simple("e3", "order_placed", T0 + 89 * DAY + HOUR, "o3");
    cr_expect_eq(test_out.n_counters, 0, "converted already");
    cr_expect_str_eq(test_c.experiments, want);

    /* Past the 90 days: no conversion. */
    test_id_in(test_experiment(), "email", cid, sizeof(cid));
    test_fresh(cid);
    test_simple("e4", "order_placed", T0, "o4");
    cr_expect_str_eq(test_must_action("first_order_checkin", 0)->variant, "email");
    test_simple("e5", "order_placed", T0 + 90 * DAY + 1, "o5");
    cr_expect_eq(test_out.n_counters, 0);
    cr_expect_null(strchr(test_c.experiments, '+'));
}

/* --- business clock --------------------------------------------------------------------------- */

struct business_case {
    const char *zone; /* the customer's */
    int64_t at, due;
};

/* Each case's escalation is scheduled and fires exactly at its due time. */
static void test_business_cases(const struct business_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char cid[32];
        snprintf(cid, sizeof(cid), "c%zu", i);
        test_fresh(cid);
        snprintf(test_c.timezone, sizeof(test_c.timezone), "%s", cases[i].zone);
        test_simple("e1", "order_placed", cases[i].at, "o1");
        const struct ac_decision *d = test_decision("order_escalation", 0);
        cr_assert_not_null(d, "case %zu", i);
        cr_expect_str_eq(d->decision, "scheduled");
        cr_expect_eq(d->not_before, cases[i].due, "case %zu: due %lld, expected %lld", i,
                     (long long)d->not_before, (long long)cases[i].due);
        const struct ac_action *a =
            test_fires_exactly_at("order_escalation", 0, NULL, cases[i].due);
        cr_expect_eq(a->kind, AC_KIND_TEAM_TASK);
        cr_expect_str_eq(a->channel, "team_chat");
    }
}

/* support_sla itself is triggered by ticket_opened, which the orders
 * processor never sees; engine_business.yaml puts its timing on an order. A
 * team task follows the team's hours: without policies.team, the playbook's
 * zone (UTC) and business hours, whatever the customer's zone. */
Test(engine, business_clock_counts_15_minutes_of_business_hours_only)
{
    static const struct business_case cases[] = {
        /* Tuesday 10:00 UTC -> 10:15 */
        {"", T0 + DAY, T0 + DAY + 15 * MIN},
        /* Friday 16:50 UTC: 10 minutes on Friday, 5 on Monday 09:00 -> 09:05 */
        {"", FRI1650, FRI1650 + 3 * DAY - 7 * HOUR - 45 * MIN},
        /* A Tokyo customer's Monday 10:00 UTC (19:00 in Tokyo) -> 10:15 UTC, not
         * Tuesday 00:15 UTC (09:15 in Tokyo) */
        {"Asia/Tokyo", T0, T0 + 15 * MIN},
        /* A Berlin customer's Friday 15:50 UTC -> 16:05 UTC, the team's Friday */
        {"Europe/Berlin", FRI1650 - HOUR, FRI1650 - HOUR + 15 * MIN},
    };
    test_open("engine_business.yaml");
    test_business_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* policies.team sets the team's zone and hours (08:00-16:00 in Berlin here). */
Test(engine, team_work_follows_the_teams_zone_and_hours_not_the_customers)
{
    static const struct business_case cases[] = {
        /* Friday 16:50 UTC = 17:50 in Berlin, after hours -> Monday 08:15 CET (07:15 UTC) */
        {"Asia/Tokyo", FRI1650, FRI1650 + 3 * DAY - 9 * HOUR - 35 * MIN},
        /* Friday 2026-03-27 15:50 CET: 10 minutes on Friday, 5 on Monday 08:00 CEST
         * after the DST change -> 08:05 CEST (06:05 UTC) */
        {"America/New_York", MAR27 + 14 * HOUR + 50 * MIN, MAR27 + 3 * DAY + 6 * HOUR + 5 * MIN},
        /* Monday 10:00 UTC = 11:00 in Berlin -> 10:15 UTC, whatever the customer's zone */
        {"", T0, T0 + 15 * MIN},
    };
    test_open("engine_business_team.yaml");
    test_business_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* --- without a timer store, with a full one --------------------------------------------------- */

/* "scheduled" means a timer was created: an action that could not be kept
 * is only "dropped" (README: dropped = could not be scheduled at all). */
static void test_expect_only_dropped(const char *rule, int part, const char *reason)
{
    int n = 0;
    for (int i = 0; i < test_out.n_decisions; i++) {
        const struct ac_decision *d = &test_out.decisions[i];
        if (strcmp(d->rule_id, rule) == 0 && d->part == part) {
            n++;
            cr_expect_str_eq(d->decision, "dropped", "%s/%d", rule, part);
            cr_expect_str_eq(d->reason, reason, "%s/%d", rule, part);
        }
    }
    cr_expect_eq(n, 1, "%s/%d: %d decisions", rule, part, n);
}

Test(engine, without_a_timer_store_delayed_actions_are_dropped_not_scheduled)
{
    struct ac_event ev;
    char reason[128] = "";
    test_open(NULL);
    test_event(&ev, "e1", "order_placed", T0, "o1");
    ac_emit_reset(&test_out);
    test_out.timers = NULL;
    cr_assert_eq(ts_apply(&ac_orders_processor, test_ctx, test_en, &test_c, &ev, &test_clock,
                          &test_out, reason, sizeof(reason)),
                 0);
    cr_expect_not_null(test_action("welcome_1", 0), "immediate actions still go out");
    test_expect_only_dropped("welcome_2", 0, "no_timer_store");
    test_expect_only_dropped("anniversaries", 2, "no_timer_store");

    /* A weekly report decided late: its next occurrence is not lost silently. */
    test_fresh("c2");
    test_event(&ev, "e2", "contract_signed", T0, "");
    ac_clock_set(&test_clock, T0 + 8 * DAY);
    ac_emit_reset(&test_out);
    test_out.timers = NULL;
    cr_assert_eq(ts_apply(&ac_orders_processor, test_ctx, test_en, &test_c, &ev, &test_clock,
                          &test_out, reason, sizeof(reason)),
                 0);
    cr_assert_not_null(test_action("service_progress_report", 0));
    cr_expect_eq(test_n_decisions("service_progress_report", "scheduled"), 0);
    cr_expect_eq(test_n_decisions("service_progress_report", "dropped"), 1);
}

Test(engine, a_full_timer_set_drops_new_timers_without_scheduling_them)
{
    test_open(NULL);
    for (int i = 0; i < AC_TIMERS_MAX; i++) {
        struct ac_timer tm;
        char key[16];
        memset(&tm, 0, sizeof(tm));
        snprintf(key, sizeof(key), "old-%d", i);
        ac_action_id(tm.id, "checkins", key, 0);
        snprintf(tm.rule_id, sizeof(tm.rule_id), "checkins");
        tm.due = tm.first_due = T0 + 300 * DAY;
        tm.expires_at = AC_TS_NONE;
        ac_trigger_from_event(&tm.trigger, &(struct ac_event){.topic = AC_TOPIC_ORDERS});
        cr_assert_eq(ac_timerset_put(&test_timers, &tm), 0);
    }
    test_simple("e1", "order_placed", T0, "o1");
    cr_expect_not_null(test_action("order_confirmation", 0));
    test_expect_only_dropped("welcome_2", 0, "timer_limit");
    cr_expect_eq(test_timers.n, AC_TIMERS_MAX);
}

/* --- a whole plan ----------------------------------------------------------------------------- */

#define TEST_PLAN_MAX 128

Test(engine, a_whole_plan_respects_the_cap_and_hours_and_decides_every_timer_once)
{
    struct ac_event ev;
    static char ids[TEST_PLAN_MAX][AC_ACTION_ID_MAX];
    static int ends[TEST_PLAN_MAX];
    int n_ids = 0;
    int64_t marketing[TEST_PLAN_MAX];
    int n_marketing = 0;
    test_open(NULL);
    test_event(&ev, "e1", "order_placed", T0, "o1");
    test_item(&ev, "coffee", 4990);
    test_item(&ev, "tea", 3000);
    ev.u.order.renewal_at = T0 + 400 * DAY;
    test_apply(&ev, T0);
    for (int round = 0;; round++) {
        cr_assert_lt(round, 1000);
        for (int k = 0; k < test_out.n_decisions; k++) {
            const struct ac_decision *d = &test_out.decisions[k];
            int j = 0;
            while (j < n_ids && strcmp(ids[j], d->action_id) != 0) {
                j++;
            }
            if (j == n_ids) {
                cr_assert_lt(n_ids, TEST_PLAN_MAX);
                snprintf(ids[n_ids++], AC_ACTION_ID_MAX, "%s", d->action_id);
            }
            if (strcmp(d->decision, "scheduled") != 0 && strcmp(d->decision, "deferred") != 0) {
                ends[j]++;
            }
        }
        for (int k = 0; k < test_out.n_actions; k++) {
            const struct ac_action *a = &test_out.actions[k];
            if (a->category == AC_CAT_MARKETING) {
                cr_assert_lt(n_marketing, TEST_PLAN_MAX);
                marketing[n_marketing++] = a->not_before;
            }
            if (a->kind == AC_KIND_MESSAGE && a->category != AC_CAT_TRANSACTIONAL) {
                int64_t minute = (a->not_before % DAY) / MIN;
                cr_expect(minute >= 8 * 60 && minute < 21 * 60, "%s/%s at %lld: quiet hours",
                          a->rule_id, a->template_name, (long long)minute);
            }
        }
        int i = ac_timerset_next(&test_timers);
        if (i < 0) {
            break;
        }
        cr_assert_gt(test_fire(test_timers.t[i].due), 0);
    }
    for (int j = 0; j < n_ids; j++) {
        cr_expect_eq(ends[j], 1, "action %s ended %d times", ids[j], ends[j]);
    }
    for (int k = 1; k < n_marketing; k++) {
        cr_expect_geq(marketing[k] - marketing[k - 1], 7 * DAY, "marketing %d and %d", k - 1, k);
    }
}

Test(engine, a_later_order_with_a_renewal_date_replaces_the_reminders_instead_of_adding)
{
    const int64_t renewal = T0 + 365 * DAY;
    test_open(NULL);
    test_contract("c1", T0, renewal);
    cr_expect_eq(test_n_timers("renewal_reminders"), 3);
    struct ac_event ev;
    test_event(&ev, "o2", "order_placed", T0 + DAY, "A2");
    ev.u.order.renewal_at = renewal;
    test_apply(&ev, T0 + DAY);
    cr_expect_eq(test_n_decisions("renewal_reminders", "cancelled"), 3);
    cr_expect_eq(test_n_timers("renewal_reminders"), 3, "one set of reminders, not two");
    /* An order without a date leaves them alone. */
    test_simple("o3", "order_placed", T0 + 2 * DAY, "A3");
    cr_expect_eq(test_n_decisions("renewal_reminders", "cancelled"), 0);
    cr_expect_eq(test_n_timers("renewal_reminders"), 3);
}

Test(engine, a_refund_that_lowers_the_segment_sends_no_offer)
{
    test_open(NULL);
    struct ac_event ev;
    test_event(&ev, "o1", "order_placed", T0, "A1");
    ev.u.order.total_cents = 20000;
    test_apply(&ev, T0);
    test_event(&ev, "o2", "order_placed", T0 + 8 * DAY, "A2");
    ev.u.order.total_cents = 20000;
    test_apply(&ev, T0 + 8 * DAY);
    cr_assert_str_eq(test_c.segment, "high_value_repeat");
    cr_expect_eq(test_n_actions("segment_followup"), 1, "an upgrade is an occasion");
    test_event(&ev, "r1", "refund_issued", T0 + 16 * DAY, "A2");
    ev.u.order.total_cents = 20000;
    test_apply(&ev, T0 + 16 * DAY);
    cr_assert_str_eq(test_c.segment, "mid_value_repeat");
    cr_expect_eq(test_n_actions("segment_followup"), 0, "a refund is not");
    cr_expect_null(test_decision("segment_followup", 1), "not even considered");
}

Test(engine, actions_due_at_the_same_time_are_decided_in_playbook_order)
{
    /* welcome_4 and upsell are both marketing and both due 14 days after a
     * first order: the cap lets one through, and it is the earlier rule of
     * the file, whatever their ids. */
    test_open(NULL);
    struct ac_event ev;
    for (int k = 0; k < 20; k++) {
        char cid[16], oid[16];
        snprintf(cid, sizeof(cid), "tie-%d", k);
        snprintf(oid, sizeof(oid), "O-%d", k);
        test_fresh(cid);
        test_event(&ev, oid, "order_placed", T0, oid);
        test_item(&ev, "tea", 1000);
        test_apply(&ev, T0);
        test_run_until(T0 + 14 * DAY);
        test_fire(T0 + 14 * DAY);
        cr_expect_eq(test_n_actions("welcome_4"), 1, "%s: welcome_4 comes first in the file", cid);
        cr_expect_eq(test_n_actions("upsell"), 0, "%s", cid);
    }
}

Test(engine, a_channel_closed_by_a_cap_of_zero_drops_without_a_bogus_retry_time)
{
    test_open("engine_closed_channel.yaml");
    test_simple("o1", "order_placed", T0, "A1");
    const struct ac_decision *d = test_decision("sms_only", 0);
    cr_assert_not_null(d);
    /* No send ever lifts a cap of 0: nothing to defer to, so it ends now. */
    cr_expect_str_eq(d->decision, "expired");
    cr_expect_str_eq(d->reason, "defer_bound:channel_cap");
    cr_expect_eq(test_n_timers("sms_only"), 0, "no timer left behind (due at INT64_MIN before)");
    cr_expect_eq(test_n_actions("sms_only"), 0);
}

/* A first order of 25 product families: every family gets its reminders, the
 * welcome series and the anniversaries are all there, and no bound of the
 * engine (timers per customer, decisions per event) is reached. */
Test(engine, a_basket_of_25_families_hits_no_bound)
{
    struct ac_event ev;
    char fam[32];
    test_open(NULL);
    test_fresh("big-basket");
    test_event(&ev, "o-25", "order_placed", T0, "ord-25");
    for (int i = 0; i < 25; i++) {
        snprintf(fam, sizeof(fam), "family_%02d", i);
        test_item(&ev, fam, 1000 + i);
    }
    test_apply(&ev, T0);
    cr_expect_eq(test_out.decisions_lost, 0);
    for (int k = 0; k < test_out.n_decisions; k++) {
        const struct ac_decision *d = &test_out.decisions[k];
        cr_expect(strcmp(d->decision, "dropped") != 0, "%s/%d dropped: %s", d->rule_id, d->part,
                  d->reason);
    }
    int families_with_timers = 0;
    for (int i = 0; i < 25; i++) {
        snprintf(fam, sizeof(fam), "family_%02d", i);
        int found = 0;
        for (int t = 0; t < test_timers.n && !found; t++) {
            found = strcmp(test_timers.t[t].trigger.family, fam) == 0;
        }
        families_with_timers += found;
    }
    cr_expect_eq(families_with_timers, 25, "every family has its reminders");
    int anniversaries = 0;
    for (int t = 0; t < test_timers.n; t++) {
        anniversaries += strcmp(test_timers.t[t].rule_id, "anniversaries") == 0;
    }
    cr_expect_eq(anniversaries, 3, "1, 3 and 5 years");
}
