/* Collisions without loss (issue 8, SPEC §5): capped messages that compete
 * for one window of the frequency cap. Through the domain apply path (every
 * processor's transition, then the engine) with an explicit clock: the
 * default playbook's journeys for a customer who never opted in, and one
 * who did; a small playbook for priorities (tests/data/playbooks/
 * engine_collide.yaml). Each test fails without the fix it names. */
#include <criterion/criterion.h>

#include "apply_support.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "config.h"
#include "customer.h"
#include "emit.h"
#include "err.h"
#include "feedback.h"
#include "orders.h"
#include "processor.h"

#define T0 1778493600000LL /* 2026-05-11T10:00:00Z, a Monday */
#define HOUR 3600000LL
#define DAY (24 * HOUR)

#define LOG_DECISIONS 4096
#define LOG_ACTIONS 512

static struct ac_config *cfg;
static void *orders;
static struct ac_engine *en;
static struct ac_clock clk;
static struct ac_emit out;
static struct ac_timerset timers;
static struct ac_customer c;

/* Everything decided since the customer was opened, in order. */
static struct ac_decision *log_d;
static int n_log_d;
static struct ac_action *log_a;
static int n_log_a;

/* A fresh customer c1 on playbook (NULL: the default; else a file under
 * tests/data/playbooks/). */
static void open_customer(const char *playbook)
{
    char path[1024];
    if (playbook) {
        const char *src = getenv("AC_SOURCE_DIR");
#ifdef AC_SOURCE_DIR
        if (!src || !*src) {
            src = AC_SOURCE_DIR;
        }
#endif
        cr_assert(src && *src, "AC_SOURCE_DIR must point at the source tree (run through ctest)");
        snprintf(path, sizeof(path), "%s/tests/data/playbooks/%s", src, playbook);
    }
    en = ts_engine(playbook ? path : NULL);
    ac_timerset_fini(&timers);
    ac_customer_init(&c, "c1");
    n_log_d = n_log_a = 0;
}

static void setup(void)
{
    orders = ts_processor_open(&ac_orders_processor, &cfg);
    ac_clock_init_fixed(&clk, T0);
    log_d = calloc(LOG_DECISIONS, sizeof(*log_d));
    log_a = calloc(LOG_ACTIONS, sizeof(*log_a));
    cr_assert(log_d && log_a);
    open_customer(NULL);
}

static void teardown(void)
{
    ac_orders_processor.fini(orders);
    ac_config_destroy(cfg);
    ac_timerset_fini(&timers);
    free(log_d);
    free(log_a);
}

TestSuite(collisions, .init = setup, .fini = teardown);

static void keep(void)
{
    for (int i = 0; i < out.n_decisions; i++) {
        cr_assert_lt(n_log_d, LOG_DECISIONS);
        log_d[n_log_d++] = out.decisions[i];
    }
    for (int i = 0; i < out.n_actions; i++) {
        cr_assert_lt(n_log_a, LOG_ACTIONS);
        log_a[n_log_a++] = out.actions[i];
    }
}

/* --- events ---------------------------------------------------------------------------------- */

static void apply(const struct ac_event *ev)
{
    static const struct ac_processor *const by_topic[AC_TOPIC__N] = {&ac_orders_processor, NULL,
                                                                     &ac_feedback_processor, NULL};
    char reason[128] = "";
    ac_emit_reset(&out);
    out.timers = &timers;
    ac_clock_set(&clk, ev->occurred_at);
    const struct ac_processor *p = by_topic[ev->topic];
    cr_assert_not_null(p);
    int rc = ts_apply(p, p == &ac_orders_processor ? orders : NULL, en, &c, ev, &clk, &out, reason,
                      sizeof(reason));
    cr_assert_eq(rc, 0, "%s %s rejected: %s", ev->type, ev->event_id, reason);
    keep();
}

/* Decides every timer due before t, each at its own due time (a timer
 * process that is always on time). */
static void run_until(int64_t t)
{
    for (int guard = 0; guard < 10000; guard++) {
        int i = ac_timerset_next(&timers);
        if (i < 0 || timers.t[i].due >= t) {
            return;
        }
        int64_t due = timers.t[i].due;
        ac_emit_reset(&out);
        out.timers = &timers;
        cr_assert_gt(ac_engine_fire(en, &c, due, &out), 0, "nothing decided at %lld",
                     (long long)due);
        keep();
    }
    cr_assert_fail("timers keep falling due before %lld", (long long)t);
}

/* An order of one item per family (a NULL-terminated list), at total. */
static void order_total(const char *id, int64_t at, int64_t total, const char *const *families)
{
    struct ac_event ev;
    run_until(at);
    memset(&ev, 0, sizeof(ev));
    ev.topic = AC_TOPIC_ORDERS;
    snprintf(ev.event_id, sizeof(ev.event_id), "%s", id);
    snprintf(ev.customer_id, sizeof(ev.customer_id), "c1");
    snprintf(ev.type, sizeof(ev.type), "order_placed");
    ev.occurred_at = at;
    snprintf(ev.u.order.order_id, sizeof(ev.u.order.order_id), "o-%s", id);
    ev.u.order.total_cents = total;
    snprintf(ev.u.order.currency, sizeof(ev.u.order.currency), "EUR");
    ev.u.order.renewal_at = AC_TS_NONE;
    for (int i = 0; families && families[i]; i++) {
        struct ac_item *it = &ev.u.order.items[ev.u.order.n_items++];
        snprintf(it->sku, sizeof(it->sku), "sku-%d", i);
        snprintf(it->product_family, sizeof(it->product_family), "%s", families[i]);
        it->unit_price_cents = 2500;
        it->quantity = 1;
    }
    apply(&ev);
}

static void order(const char *id, int64_t at, const char *const *families)
{
    order_total(id, at, 4990, families);
}

static void feedback(struct ac_event *ev, const char *id, const char *type, int64_t at)
{
    memset(ev, 0, sizeof(*ev));
    ev->topic = AC_TOPIC_FEEDBACK;
    snprintf(ev->event_id, sizeof(ev->event_id), "%s", id);
    snprintf(ev->customer_id, sizeof(ev->customer_id), "c1");
    snprintf(ev->type, sizeof(ev->type), "%s", type);
    ev->occurred_at = at;
    ev->u.feedback.score = -1;
    ev->u.feedback.frequency_opt_in = -1;
}

static void promoter(const char *id, int64_t at)
{
    struct ac_event ev;
    run_until(at);
    feedback(&ev, id, "survey_response", at);
    ev.u.feedback.score = 10;
    snprintf(ev.u.feedback.scale, sizeof(ev.u.feedback.scale), "nps_10");
    apply(&ev);
}

static void opt_in(int64_t at)
{
    struct ac_event ev;
    feedback(&ev, "opt-in", "preferences_updated", at);
    ev.u.feedback.frequency_opt_in = 1;
    apply(&ev);
}

/* --- what came out --------------------------------------------------------------------------- */

/* The n-th (0: first) decision of this kind about rule (part -1: any) in the log. */
static const struct ac_decision *nth(const char *rule, int part, const char *kind, int n)
{
    for (int i = 0; i < n_log_d; i++) {
        const struct ac_decision *d = &log_d[i];
        if (strcmp(d->rule_id, rule) == 0 && (part < 0 || d->part == part) &&
            strcmp(d->decision, kind) == 0 && n-- == 0) {
            return d;
        }
    }
    return NULL;
}

static int count(const char *rule, int part, const char *kind)
{
    int n = 0;
    while (nth(rule, part, kind, n)) {
        n++;
    }
    return n;
}

static const struct ac_action *action_of(const struct ac_decision *d)
{
    for (int i = 0; d && i < n_log_a; i++) {
        if (strcmp(log_a[i].action_id, d->action_id) == 0) {
            return &log_a[i];
        }
    }
    return NULL;
}

/* The action emitted for rule/part, or a failed test naming its last decision. */
static const struct ac_action *must_emit(const char *rule, int part)
{
    const struct ac_action *a = action_of(nth(rule, part, "emitted", 0));
    if (!a) {
        const struct ac_decision *last = NULL;
        for (int i = 0; i < n_log_d; i++) {
            if (strcmp(log_d[i].rule_id, rule) == 0 && (part < 0 || log_d[i].part == part)) {
                last = &log_d[i];
            }
        }
        cr_assert_fail("%s/%d was not emitted (last decision: %s %s)", rule, part,
                       last ? last->decision : "none", last ? last->reason : "");
    }
    return a;
}

static const char *var(const struct ac_action *a, const char *key)
{
    for (int i = 0; i < a->n_vars; i++) {
        if (strcmp(a->vars[i].key, key) == 0) {
            return a->vars[i].value;
        }
    }
    return "";
}

/* The comma-separated lists hold the same items (in any order). */
static int same_items(const char *list, const char *want)
{
    size_t n = 0, m = 0;
    for (const char *p = want; *p;) {
        size_t len = strcspn(p, ",");
        int found = 0;
        for (const char *q = list; *q && !found;) {
            size_t k = strcspn(q, ",");
            found = k == len && strncmp(p, q, len) == 0;
            q += k + (q[k] == ',');
        }
        if (!found) {
            return 0;
        }
        n++;
        p += len + (p[len] == ',');
    }
    for (const char *q = list; *q; q += strcspn(q, ",") + (q[strcspn(q, ",")] == ',')) {
        m++;
    }
    return n == m;
}

/* The rule/part reached the customer: emitted, or merged into a message
 * that was; *how says which. */
static int reached(const char *rule, int part)
{
    return count(rule, part, "emitted") + count(rule, part, "merged");
}

/* The frequency cap of SPEC §5 held: the customer's capped messages (the
 * sends it recorded are the emitted marketing ones) are at least per apart,
 * at most max in any window. */
static void expect_cap_held(int max, int64_t per)
{
    int64_t at[LOG_ACTIONS];
    int n = 0;
    for (int i = 0; i < n_log_a; i++) {
        if (log_a[i].kind == AC_KIND_MESSAGE && log_a[i].category == AC_CAT_MARKETING) {
            at[n++] = log_a[i].not_before;
        }
    }
    for (int i = 0; i + max < n; i++) {
        cr_expect_geq(at[i + max] - at[i], per, "%d marketing messages within %lld ms (%d, %d)",
                      max + 1, (long long)per, i, i + max);
    }
}

/* --- the default playbook, a customer who never opted in ------------------------------------ */

/* The day-14 upsell always met welcome_4 and expired: it rides along in it. */
Test(collisions, the_day_14_upsell_rides_along_in_welcome_4)
{
    static const char *const coffee[] = {"coffee", NULL};
    order("e1", T0, coffee);
    run_until(T0 + 15 * DAY);
    const struct ac_action *a = must_emit("welcome_4", 0);
    cr_expect_eq(a->not_before, T0 + 14 * DAY);
    const struct ac_decision *m = nth("upsell", 0, "merged", 0);
    cr_assert_not_null(m, "the upsell %s", count("upsell", 0, "expired") ? "expired" : "is lost");
    cr_expect_str_eq(m->reason, "merged_into:welcome_4");
    cr_expect_eq(m->at, T0 + 14 * DAY);
    cr_expect_str_eq(m->template_name, "upsell_offer");
    cr_expect_str_eq(var(a, "family"), "coffee", "its vars carried along");
    cr_expect_str_eq(var(a, "cross_sell"), "brewing_gear,mugs");
    cr_expect_str_eq(var(a, "merged"), "upsell_offer");
    cr_expect_eq(count("upsell", 0, "expired"), 0);
    cr_expect_eq(count("upsell", 0, "emitted"), 0, "one message, not two");
    expect_cap_held(1, 7 * DAY);
}

/* A promoter's review request expired behind the cross-sell: the cross-sell
 * waits a day and rides along in it, with the referral ask. */
Test(collisions, a_promoters_review_request_goes_with_the_cross_sell_and_referral_in_it)
{
    static const char *const tea[] = {"tea", NULL};
    order("e1", T0, tea);
    promoter("s1", T0 + 22 * DAY + HOUR); /* the window is free: welcome_4 went on day 14 */
    const struct ac_decision *d = nth("feedback_routing", 0, "rescheduled", 0);
    cr_assert_not_null(d, "the cross-sell went first");
    cr_expect_str_eq(d->reason, "merge:review_request");
    cr_expect_eq(d->not_before, T0 + 23 * DAY + HOUR);
    run_until(T0 + 30 * DAY);
    const struct ac_action *a = must_emit("review_request", 0);
    cr_expect_eq(a->not_before, T0 + 23 * DAY + HOUR);
    d = nth("feedback_routing", 0, "merged", 0);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->reason, "merged_into:review_request");
    d = nth("referral_ask", 0, "merged", 0);
    cr_assert_not_null(d, "the referral ask (due on day 25) rides along too");
    cr_expect_str_eq(d->reason, "merged_into:review_request");
    cr_expect_str_eq(var(a, "merged"), "promoter_cross_sell,referral_request");
    cr_expect(strstr(c.cooloffs, "referral_ask=") != NULL, "the referral's cool-off runs");
    expect_cap_held(1, 7 * DAY);
}

/* Right after another solicitation the review request waits for the next
 * free slot (it expired at 3 days), and the asks still go as one. */
Test(collisions, a_review_request_after_a_recent_solicitation_waits_for_the_next_free_slot)
{
    static const char *const tea[] = {"tea", NULL};
    order("e1", T0, tea);
    promoter("s1", T0 + 15 * DAY); /* welcome_4 went yesterday */
    run_until(T0 + 30 * DAY);
    const struct ac_decision *d = nth("review_request", 0, "rescheduled", 0);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->reason, "frequency_cap");
    const struct ac_action *a = must_emit("review_request", 0);
    cr_expect_eq(a->not_before, T0 + 21 * DAY, "the cap's next free slot");
    cr_expect_eq(reached("feedback_routing", 0), 1);
    cr_expect_eq(reached("referral_ask", 0), 1);
    cr_expect_eq(count("review_request", 0, "expired"), 0);
    expect_cap_held(1, 7 * DAY);
}

/* A second purchase's segment follow-up expired on 25 of the first 60 days:
 * on any day it now goes at the cap's next free slot, before anything of
 * lower priority. */
Test(collisions, a_second_purchases_follow_up_reaches_the_customer_on_any_of_the_first_60_days)
{
    static const char *const tea[] = {"tea", NULL};
    static const char *const mugs[] = {"mugs", NULL};
    int lost = 0;
    for (int day = 1; day <= 60; day++) {
        open_customer(NULL);
        order("e1", T0, tea);
        order("e2", T0 + day * DAY + 5 * HOUR, mugs); /* 15:00, a new segment */
        run_until(T0 + (day + 9) * DAY);
        const struct ac_decision *d = NULL;
        for (int i = 0; i < n_log_d && !d; i++) {
            const struct ac_decision *x = &log_d[i];
            /* part 2 is the first purchase's (one_time); 0 and 1 a repeat buyer's */
            if (strcmp(x->rule_id, "segment_followup") == 0 && x->part != 2 &&
                (strcmp(x->decision, "emitted") == 0 || strcmp(x->decision, "merged") == 0)) {
                d = x;
            }
        }
        if (!d) {
            lost++;
            cr_log_error("day %d: the follow-up of the second purchase is lost", day);
            continue;
        }
        cr_expect_leq(d->at - (T0 + day * DAY + 5 * HOUR), 7 * DAY, "day %d: within a window", day);
        expect_cap_held(1, 7 * DAY);
    }
    cr_expect_eq(lost, 0, "lost on %d of 60 days", lost);
}

/* The first purchase's journey with a second purchase and a promoter score:
 * every seed behaviour that applies reaches the customer, one solicitation
 * a week at most; and the same inputs decide the same, to the action id. */
static void whole_journey(void)
{
    static const char *const first[] = {"tea", "coffee", NULL};
    static const char *const second[] = {"mugs", NULL};
    order("e1", T0, first);
    order("e2", T0 + 10 * DAY + 5 * HOUR, second);
    promoter("s1", T0 + 22 * DAY + HOUR);
    run_until(T0 + 70 * DAY);
}

Test(collisions, every_seed_behaviour_reaches_a_customer_who_never_opted_in)
{
    whole_journey();
    static const char *const series[] = {"welcome_1", "welcome_2", "welcome_3", "welcome_4"};
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(reached(series[i], 0), 1, "%s", series[i]);
    }
    cr_expect_eq(reached("segment_followup", 2), 1, "the first purchase's guide");
    cr_expect_eq(reached("segment_followup", 1), 1, "the second purchase's follow-up");
    cr_expect_eq(reached("reorder", 0), 3, "tea, coffee and mugs");
    cr_expect_eq(reached("upsell", 0), 3);
    cr_expect_eq(reached("replenish", 0), 3);
    cr_expect_eq(reached("review_request", 0), 1);
    cr_expect_eq(reached("referral_ask", 0), 1);
    cr_expect_eq(reached("feedback_routing", 0), 1, "the promoter's cross-sell");
    cr_expect_eq(reached("post_sale_waves", 2), 1, "the loyalty wave");
    for (int i = 0; i < n_log_d; i++) {
        const struct ac_decision *d = &log_d[i];
        cr_expect(strcmp(d->decision, "expired") != 0 && strcmp(d->decision, "capped") != 0,
                  "%s/%d %s %s", d->rule_id, d->part, d->decision, d->reason);
    }
    expect_cap_held(1, 7 * DAY);

    /* again: the same decisions, the same ids */
    int n = n_log_d;
    struct ac_decision *first = malloc((size_t)n * sizeof(*first));
    cr_assert_not_null(first);
    memcpy(first, log_d, (size_t)n * sizeof(*first));
    open_customer(NULL);
    whole_journey();
    cr_expect_eq(n_log_d, n);
    for (int i = 0; i < n && i < n_log_d; i++) {
        cr_expect_str_eq(log_d[i].action_id, first[i].action_id, "decision %d", i);
        cr_expect_str_eq(log_d[i].decision, first[i].decision, "decision %d", i);
        cr_expect_str_eq(log_d[i].reason, first[i].reason, "decision %d", i);
    }
    free(first);
}

/* --- a customer who opted in ----------------------------------------------------------------- */

/* Three families made three reorder e-mails on one morning and three
 * upsells a week later: one message each, the families carried along. */
Test(collisions, three_families_make_one_reorder_and_one_offer_message)
{
    static const char *const basket[] = {"tea", "coffee", "chocolate", NULL};
    opt_in(T0 - DAY);
    order("e1", T0, basket);
    run_until(T0 + 15 * DAY);
    cr_expect_eq(count("reorder", 0, "emitted"), 1, "one reorder message");
    cr_expect_eq(count("reorder", 0, "merged"), 2);
    const struct ac_action *a = must_emit("reorder", 0);
    cr_expect_eq(a->not_before, T0 + 7 * DAY);
    cr_expect(same_items(var(a, "family"), "chocolate,coffee,tea"), "%s", var(a, "family"));
    cr_expect_str_eq(var(a, "merged"), "", "one template");
    cr_expect_eq(count("upsell", 0, "emitted"), 0);
    cr_expect_eq(count("upsell", 0, "merged"), 3, "the upsells ride along in welcome_4");
    a = must_emit("welcome_4", 0);
    cr_expect(same_items(var(a, "family"), "chocolate,coffee,tea"), "%s", var(a, "family"));
    cr_expect_str_eq(var(a, "cross_sell"), "brewing_gear,mugs");
    const struct ac_decision *d = nth("upsell", 0, "merged", 0);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->reason, "merged_into:welcome_4");
}

/* --- priorities (engine_collide.yaml: a cap of one a week) ---------------------------------- */

/* A message due first gives way to a higher priority due within its window,
 * and goes at the next free slot: its expiry allows it. */
Test(collisions, a_lower_priority_gives_way_and_goes_at_the_next_free_slot)
{
    open_customer("engine_collide.yaml");
    order_total("e1", T0, 100, NULL);
    run_until(T0 + 20 * DAY);
    const struct ac_decision *d = nth("early_offer", 0, "rescheduled", 0);
    cr_assert_not_null(d, "early_offer went first and capped key_message");
    cr_expect_str_eq(d->reason, "collision:key_message");
    cr_expect_eq(d->at, T0 + DAY);
    cr_expect_eq(d->not_before, T0 + 9 * DAY, "key_message's slot ends on day 9");
    cr_expect_eq(must_emit("key_message", 0)->not_before, T0 + 2 * DAY);
    cr_expect_eq(must_emit("early_offer", 0)->not_before, T0 + 9 * DAY);
    expect_cap_held(1, 7 * DAY);
}

/* One that cannot wait that long waits for the higher priority and rides
 * along in it, its vars carried. */
Test(collisions, a_lower_priority_that_cannot_wait_a_window_rides_along)
{
    open_customer("engine_collide.yaml");
    order_total("e1", T0, 200, NULL);
    run_until(T0 + 20 * DAY);
    const struct ac_decision *d = nth("short_offer", 0, "rescheduled", 0);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->reason, "merge:key_message");
    cr_expect_eq(d->not_before, T0 + 2 * DAY);
    const struct ac_action *a = must_emit("key_message", 0);
    d = nth("short_offer", 0, "merged", 0);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->reason, "merged_into:key_message");
    cr_expect_str_eq(var(a, "coupon"), "SHORT");
    cr_expect_str_eq(var(a, "order_id"), "o-e1");
    cr_expect_str_eq(var(a, "merged"), "short_offer");
}

/* Due at the same time, the higher priority goes, whatever the file order. */
Test(collisions, at_the_same_time_the_higher_priority_goes)
{
    open_customer("engine_collide.yaml");
    order_total("e1", T0, 300, NULL);
    run_until(T0 + 20 * DAY);
    must_emit("key_message", 0);
    const struct ac_decision *d = nth("first_in_file", 0, "merged", 0);
    cr_assert_not_null(d, "first_in_file went first");
    cr_expect_str_eq(d->reason, "merged_into:key_message");
    cr_expect_eq(count("first_in_file", 0, "emitted"), 0);
}
