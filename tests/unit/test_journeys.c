/* Seed journeys through the domain apply path (every processor's transition,
 * then the default playbook's engine), with an explicit clock: returns and
 * refunds, consent by purpose, tickets and complaints by ticket_id, delivery
 * estimates that move or pass, repeated milestones and promoter scores. Each
 * test fails without the fix it names (issue 8). */
#include <criterion/criterion.h>

#include "apply_support.h"
#include <stdio.h>
#include <string.h>

#include "build.h"
#include "config.h"
#include "customer.h"
#include "deliveries.h"
#include "emit.h"
#include "err.h"
#include "feedback.h"
#include "orders.h"
#include "processor.h"
#include "usage.h"

#define T0 1778493600000LL /* 2026-05-11T10:00:00Z, a Monday */
#define HOUR 3600000LL
#define DAY (24 * HOUR)

static struct ac_config *cfg;
static void *orders;
static struct ac_clock clk;
static struct ac_emit out;
static struct ac_timerset timers;
static struct ac_customer c;

static void setup(void)
{
    orders = ts_processor_open(&ac_orders_processor, &cfg);
    ac_clock_init_fixed(&clk, T0);
    ac_timerset_fini(&timers);
    ac_customer_init(&c, "c1");
}

static void teardown(void)
{
    ac_orders_processor.fini(orders);
    ac_config_destroy(cfg);
}

TestSuite(journeys, .init = setup, .fini = teardown);

/* --- events ---------------------------------------------------------------------------------- */

static void envelope(struct ac_event *ev, enum ac_topic topic, const char *id, const char *type,
                     int64_t at)
{
    memset(ev, 0, sizeof(*ev));
    ev->topic = topic;
    snprintf(ev->event_id, sizeof(ev->event_id), "%s", id);
    snprintf(ev->customer_id, sizeof(ev->customer_id), "c1");
    snprintf(ev->type, sizeof(ev->type), "%s", type);
    ev->occurred_at = at;
}

static void order(struct ac_event *ev, const char *id, const char *type, int64_t at,
                  const char *order_id)
{
    envelope(ev, AC_TOPIC_ORDERS, id, type, at);
    snprintf(ev->u.order.order_id, sizeof(ev->u.order.order_id), "%s", order_id);
    ev->u.order.total_cents = 4990;
    snprintf(ev->u.order.currency, sizeof(ev->u.order.currency), "EUR");
    ev->u.order.renewal_at = AC_TS_NONE;
}

static void feedback(struct ac_event *ev, const char *id, const char *type, int64_t at)
{
    envelope(ev, AC_TOPIC_FEEDBACK, id, type, at);
    ev->u.feedback.score = -1;
    ev->u.feedback.frequency_opt_in = -1;
}

static void delivery(struct ac_event *ev, const char *id, const char *type, int64_t at,
                     const char *order_id)
{
    envelope(ev, AC_TOPIC_DELIVERIES, id, type, at);
    snprintf(ev->u.delivery.order_id, sizeof(ev->u.delivery.order_id), "%s", order_id);
    snprintf(ev->u.delivery.carrier, sizeof(ev->u.delivery.carrier), "dhl");
    ev->u.delivery.estimated_delivery_at = AC_TS_NONE;
    ev->u.delivery.new_estimated_delivery_at = AC_TS_NONE;
}

/* Applies ev at its own time through its topic's processor and the default
 * playbook; out holds what it produced. */
static int apply(const struct ac_event *ev)
{
    static const struct ac_processor *const by_topic[AC_TOPIC__N] = {
        &ac_orders_processor, &ac_deliveries_processor, &ac_feedback_processor,
        &ac_usage_processor};
    char reason[128] = "";
    ac_emit_reset(&out);
    out.timers = &timers;
    ac_clock_set(&clk, ev->occurred_at);
    const struct ac_processor *p = by_topic[ev->topic];
    return ts_apply(p, p == &ac_orders_processor ? orders : NULL, ts_engine(NULL), &c, ev, &clk,
                    &out, reason, sizeof(reason));
}

static void must_apply(const struct ac_event *ev)
{
    cr_assert_eq(apply(ev), 0, "%s %s rejected", ev->type, ev->event_id);
}

/* Decides every timer due at or before now, at now. */
static int fire(int64_t now)
{
    ac_emit_reset(&out);
    out.timers = &timers;
    return ac_engine_fire(ts_engine(NULL), &c, now, &out);
}

static void ticket(const char *id, const char *type, const char *ticket_id, int complaint,
                   int64_t at)
{
    struct ac_event ev;
    feedback(&ev, id, type, at);
    snprintf(ev.u.feedback.ticket_id, sizeof(ev.u.feedback.ticket_id), "%s", ticket_id);
    ev.u.feedback.is_complaint = complaint != 0;
    must_apply(&ev);
}

static void unsubscribe(const char *id, const char *channel, int64_t at)
{
    struct ac_event ev;
    feedback(&ev, id, "message_engagement", at);
    snprintf(ev.u.feedback.engagement, sizeof(ev.u.feedback.engagement), "unsubscribed");
    snprintf(ev.u.feedback.channel, sizeof(ev.u.feedback.channel), "%s", channel);
    must_apply(&ev);
}

static void survey(const char *id, int score, int64_t at)
{
    struct ac_event ev;
    feedback(&ev, id, "survey_response", at);
    ev.u.feedback.score = score;
    snprintf(ev.u.feedback.scale, sizeof(ev.u.feedback.scale), "nps_10");
    must_apply(&ev);
}

/* --- what came out --------------------------------------------------------------------------- */

/* The decision of this kind about rule in out (NULL kind: the last one). */
static const struct ac_decision *decision(const char *rule, const char *kind)
{
    for (int i = out.n_decisions - 1; i >= 0; i--) {
        const struct ac_decision *d = &out.decisions[i];
        if (strcmp(d->rule_id, rule) == 0 && (!kind || strcmp(d->decision, kind) == 0)) {
            return d;
        }
    }
    return NULL;
}

static const struct ac_action *action(const char *rule)
{
    for (int i = 0; i < out.n_actions; i++) {
        if (strcmp(out.actions[i].rule_id, rule) == 0) {
            return &out.actions[i];
        }
    }
    return NULL;
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

static const struct ac_signal *signal_of(const char *name, const char *value)
{
    for (int i = 0; i < out.n_signals; i++) {
        if (strcmp(out.signals[i].signal, name) == 0 && strcmp(out.signals[i].value, value) == 0) {
            return &out.signals[i];
        }
    }
    return NULL;
}

static const struct ac_action *must_action(const char *rule)
{
    const struct ac_action *a = action(rule);
    const struct ac_decision *d = decision(rule, NULL);
    cr_assert_not_null(a, "no %s action (last decision: %s %s)", rule, d ? d->decision : "none",
                       d ? d->reason : "");
    return a;
}

/* --- returns and refunds (SPEC §4) ----------------------------------------------------------- */

Test(journeys, a_return_gets_instructions_a_receipt_a_refund_confirmation_and_a_feedback_ask)
{
    struct ac_event ev;
    order(&ev, "o1", "order_placed", T0, "A1");
    must_apply(&ev);

    order(&ev, "r1", "return_requested", T0 + 2 * DAY, "A1");
    must_apply(&ev);
    const struct ac_action *a = must_action("return_instructions");
    cr_expect_eq(a->category, AC_CAT_TRANSACTIONAL);
    cr_expect_str_eq(a->template_name, "return_instructions");
    cr_expect_str_eq(var(a, "order_id"), "A1");
    cr_expect_str_eq(var(a, "return_window"), "30d", "the instructions carry the return window");

    delivery(&ev, "d1", "returned", T0 + 5 * DAY, "A1");
    must_apply(&ev);
    a = must_action("return_received");
    cr_expect_eq(a->category, AC_CAT_TRANSACTIONAL);
    cr_expect_str_eq(a->template_name, "return_receipt");
    cr_expect_str_eq(var(a, "order_id"), "A1");

    order(&ev, "f1", "refund_issued", T0 + 6 * DAY, "A1");
    must_apply(&ev);
    a = must_action("refund_confirmation");
    cr_expect_eq(a->category, AC_CAT_TRANSACTIONAL);
    cr_expect_str_eq(var(a, "order_id"), "A1");
    cr_expect_str_eq(var(a, "total_cents"), "4990");
    const struct ac_decision *d = decision("refund_feedback", "scheduled");
    cr_assert_not_null(d, "the feedback ask follows the refund");
    cr_expect_eq(d->not_before, T0 + 7 * DAY);

    fire(T0 + 7 * DAY);
    a = must_action("refund_feedback");
    cr_expect_eq(a->category, AC_CAT_SERVICE);
    cr_expect_str_eq(a->channel, "email");
}

Test(journeys, the_refund_feedback_ask_waits_while_a_complaint_is_open)
{
    struct ac_event ev;
    order(&ev, "o1", "order_placed", T0, "A1");
    must_apply(&ev);
    ticket("t1", "ticket_opened", "T-1", 1, T0 + HOUR);
    order(&ev, "f1", "refund_issued", T0 + DAY, "A1");
    must_apply(&ev);
    cr_assert_not_null(action("refund_confirmation"), "a complaint never holds a confirmation");

    fire(T0 + 2 * DAY);
    const struct ac_decision *d = decision("refund_feedback", NULL);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "deferred");
    /* named by its predicate, the rule's suppress_when */
    cr_expect_str_eq(d->reason, "rule_suppression:customer.open_complaints > 0");
    cr_expect_str_eq(d->template_name, "refund_feedback", "a deferred decision names its template");
    cr_expect_str_eq(d->channel, "email", "and its channel");
    cr_expect_null(action("refund_feedback"));

    /* The complaint's ticket is resolved (without repeating is_complaint). */
    ticket("t2", "ticket_resolved", "T-1", 0, T0 + 2 * DAY + 10 * 60000);
    fire(T0 + 2 * DAY + HOUR);
    must_action("refund_feedback");
}

/* --- consent by purpose (SPEC §5) ------------------------------------------------------------ */

Test(journeys, email_and_sms_unsubscribes_never_stop_confirmations_or_delivery_updates)
{
    unsubscribe("u1", "email", T0);
    unsubscribe("u2", "sms", T0 + 1000);
    cr_expect_str_eq(c.consents, "email=u,sms=u");

    struct ac_event ev;
    order(&ev, "o1", "order_placed", T0 + 2000, "A1");
    must_apply(&ev);
    const struct ac_action *a = must_action("order_confirmation");
    cr_expect_str_eq(a->channel, "email", "transactional: the first channel of the rule");
    cr_expect_null(decision("order_confirmation", "suppressed"));
    /* Marketing goes by a channel the customer did not unsubscribe from. */
    a = must_action("segment_followup");
    cr_expect_str_eq(a->channel, "push", "an unsubscribe stops the channels it names");

    delivery(&ev, "d1", "shipped", T0 + HOUR, "A1");
    must_apply(&ev);
    a = must_action("delivery_updates");
    cr_expect_str_eq(a->channel, "email");
}

Test(journeys, an_unsubscribe_without_a_channel_stops_marketing_on_every_channel)
{
    unsubscribe("u1", "", T0);
    cr_expect_str_eq(c.consents, "*=u");

    struct ac_event ev;
    order(&ev, "o1", "order_placed", T0 + 1000, "A1");
    must_apply(&ev);
    const struct ac_decision *d = decision("segment_followup", NULL);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "suppressed");
    cr_expect_str_eq(d->reason, "no_consent");
    cr_expect_null(action("segment_followup"));
    must_action("order_confirmation");
    must_action("welcome_1"); /* service: not what the customer unsubscribed from */

    /* A later explicit opt-in to e-mail brings marketing back there only. */
    struct ac_event p;
    feedback(&p, "p1", "preferences_updated", T0 + DAY);
    p.u.feedback.n_consents = 1;
    snprintf(p.u.feedback.consents[0].key, AC_KV_KEY_MAX, "email");
    snprintf(p.u.feedback.consents[0].value, AC_KV_VAL_MAX, "true");
    must_apply(&p);
    cr_expect(ac_customer_consented(&c, "email", AC_CAT_MARKETING, 1u << AC_CAT_MARKETING));
    cr_expect(!ac_customer_consented(&c, "push", AC_CAT_MARKETING, 1u << AC_CAT_MARKETING));
    /* ... until the next unsubscribe from everything. */
    unsubscribe("u2", "", T0 + 2 * DAY);
    cr_expect_str_eq(c.consents, "*=u");
}

Test(journeys, a_refused_channel_stays_refused_for_every_purpose)
{
    struct ac_event p;
    feedback(&p, "p1", "preferences_updated", T0);
    p.u.feedback.n_consents = 1;
    snprintf(p.u.feedback.consents[0].key, AC_KV_KEY_MAX, "email");
    snprintf(p.u.feedback.consents[0].value, AC_KV_VAL_MAX, "false");
    must_apply(&p);
    unsubscribe("u1", "", T0 + 1000);
    cr_expect_str_eq(c.consents, "email=0,*=u", "an unsubscribe keeps the refusal");
    struct ac_event ev;
    order(&ev, "o1", "order_placed", T0 + 2000, "A1");
    must_apply(&ev);
    cr_expect_str_eq(must_action("order_confirmation")->channel, "sms");
}

/* --- tickets and complaints by ticket_id ----------------------------------------------------- */

Test(journeys, a_complaint_closes_when_its_ticket_is_resolved_without_the_flag)
{
    ticket("t1", "ticket_opened", "T-1", 1, T0);
    cr_expect_eq(c.open_tickets, 1);
    cr_expect_eq(c.open_complaints, 1);
    ticket("t2", "ticket_first_response", "T-1", 0, T0 + HOUR);
    cr_expect_eq(c.open_complaints, 1, "a first response does not close it");
    ticket("t3", "ticket_resolved", "T-1", 0, T0 + DAY);
    cr_expect_eq(c.open_tickets, 0);
    cr_expect_eq(c.open_complaints, 0, "the complaint stayed open: marketing suppressed for good");
}

Test(journeys, a_retried_resolution_of_complaint_a_does_not_close_complaint_b)
{
    ticket("t1", "ticket_opened", "A", 1, T0);
    ticket("t2", "ticket_opened", "B", 1, T0 + HOUR);
    ticket("t3", "ticket_resolved", "A", 1, T0 + DAY);
    cr_expect_eq(c.open_complaints, 1);
    ticket("t3-retry", "ticket_resolved", "A", 1, T0 + DAY + 1000);
    cr_expect_eq(c.open_tickets, 1, "B is still open");
    cr_expect_eq(c.open_complaints, 1, "B is still a complaint");
    ticket("t4", "ticket_resolved", "B", 0, T0 + 2 * DAY);
    cr_expect_eq(c.open_tickets, 0);
    cr_expect_eq(c.open_complaints, 0);
}

Test(journeys, a_retried_ticket_event_changes_nothing)
{
    ticket("t1", "ticket_opened", "A", 0, T0);
    ticket("t2", "ticket_first_response", "A", 0, T0 + 60000);
    struct ac_customer before = c;
    int n_timers = timers.n;
    ticket("t1-retry", "ticket_opened", "A", 0, T0 + 1000);
    ticket("t2-retry", "ticket_first_response", "A", 0, T0 + 61000);
    cr_expect_eq(memcmp(&before, &c, sizeof(c)), 0, "a retry changed the state");
    cr_expect_eq(c.open_tickets, 1);
    cr_expect_eq(timers.n, n_timers);
    ticket("t3", "ticket_resolved", "A", 0, T0 + HOUR);
    before = c;
    ticket("t1-late", "ticket_opened", "A", 0, T0 + 2 * HOUR);
    ticket("t3-retry", "ticket_resolved", "A", 0, T0 + 3 * HOUR);
    cr_expect_eq(memcmp(&before, &c, sizeof(c)), 0, "a resolved ticket came back");
    cr_expect_eq(c.open_tickets, 0);
}

Test(journeys, tickets_past_the_bound_are_counted_with_a_visible_dropped_decision)
{
    char id[32], tid[32];
    for (int i = 1; i <= AC_TICKETS_MAX; i++) {
        snprintf(id, sizeof(id), "t%d", i);
        snprintf(tid, sizeof(tid), "T-%d", i);
        ticket(id, "ticket_opened", tid, i == 1, T0 + i * 1000);
        cr_expect_null(decision("tickets", "dropped"));
    }
    ticket("t9", "ticket_opened", "T-9", 1, T0 + 9000);
    const struct ac_decision *d = decision("tickets", "dropped");
    cr_assert_not_null(d, "the ninth open ticket cannot be tracked by id: visibly");
    cr_expect_str_eq(d->reason, "ticket_limit");
    cr_expect_str_eq(d->trigger_id, "t9");
    cr_expect_eq(c.open_tickets, 9, "still counted: marketing stays suppressed");
    cr_expect_eq(c.open_complaints, 2);
    cr_expect_lt(strlen(c.tickets), sizeof(c.tickets));

    /* A resolved ticket makes room; the untracked one closes by its resolution. */
    ticket("r3", "ticket_resolved", "T-3", 0, T0 + DAY);
    ticket("t10", "ticket_opened", "T-10", 0, T0 + DAY + 1000);
    cr_expect_null(decision("tickets", "dropped"));
    cr_expect_eq(c.open_tickets, 9);
    ticket("r9", "ticket_resolved", "T-9", 1, T0 + 2 * DAY);
    cr_expect_eq(c.open_tickets, 8);
    cr_expect_eq(c.open_complaints, 1);
    ticket("r9-retry", "ticket_resolved", "T-9", 1, T0 + 2 * DAY + 1000);
    cr_expect_eq(c.open_tickets, 8, "the retry closes nothing else");
    cr_expect_eq(c.open_complaints, 1);
}

Test(journeys, a_ticket_event_without_a_ticket_id_is_rejected)
{
    struct ac_event ev;
    feedback(&ev, "t1", "ticket_opened", T0);
    struct ac_customer before = c;
    cr_expect_eq(apply(&ev), AC_ERR_INVALID);
    cr_expect_eq(memcmp(&before, &c, sizeof(c)), 0);
}

/* --- deliveries ------------------------------------------------------------------------------ */

Test(journeys, a_delay_with_a_new_estimate_rearms_the_overdue_apology_at_the_new_estimate)
{
    struct ac_event ev;
    delivery(&ev, "d1", "shipped", T0, "A1");
    ev.u.delivery.estimated_delivery_at = T0 + 48 * HOUR;
    must_apply(&ev);
    char old_id[AC_ACTION_ID_MAX], new_id[AC_ACTION_ID_MAX];
    ac_action_id(old_id, "delivery_delay_overdue", "d1", 0);
    ac_action_id(new_id, "delivery_delay_overdue", "d2", 0);

    delivery(&ev, "d2", "delayed", T0 + 24 * HOUR, "A1");
    ev.u.delivery.estimated_delivery_at = T0 + 48 * HOUR;
    ev.u.delivery.new_estimated_delivery_at = T0 + 72 * HOUR;
    must_apply(&ev);
    must_action("delivery_delay");
    const struct ac_decision *d = decision("delivery_delay_overdue", "cancelled");
    cr_assert_not_null(d);
    cr_expect_str_eq(d->action_id, old_id);
    d = decision("delivery_delay_overdue", "scheduled");
    cr_assert_not_null(d, "the new estimate re-arms the overdue apology");
    cr_expect_str_eq(d->action_id, new_id);
    cr_expect_eq(d->not_before, T0 + 73 * HOUR, "the new estimate + 1 h");

    cr_expect_eq(fire(T0 + 49 * HOUR), 0, "the old estimate no longer counts");
    cr_expect_eq(fire(T0 + 73 * HOUR), 1);
    const struct ac_action *a = must_action("delivery_delay_overdue");
    cr_expect_str_eq(a->action_id, new_id);
    cr_expect_str_eq(var(a, "order_id"), "A1");
    cr_expect_not_null(signal_of("late_delivery", "estimate_passed"));
    cr_expect_eq(c.late_deliveries, 2, "the delay, then the new estimate passed");
}

Test(journeys, an_estimate_that_passes_without_a_delivery_signals_late_delivery_once)
{
    struct ac_event ev;
    delivery(&ev, "d1", "shipped", T0, "A1");
    ev.u.delivery.estimated_delivery_at = T0 + 48 * HOUR;
    must_apply(&ev);
    cr_expect_eq(c.late_deliveries, 0);
    cr_expect_eq(fire(T0 + 48 * HOUR), 0, "the hour of grace");
    cr_expect_eq(fire(T0 + 49 * HOUR), 1);
    const struct ac_signal *s = signal_of("late_delivery", "estimate_passed");
    cr_assert_not_null(s, "no late_delivery signal when the estimate passed");
    cr_expect_str_eq(s->customer_id, "c1");
    cr_expect_str_eq(s->cause_event_id, "d1");
    cr_expect_eq(s->occurred_at, T0 + 49 * HOUR);
    char id[AC_ACTION_ID_MAX], tid[AC_ACTION_ID_MAX];
    ac_action_id(tid, "delivery_delay_overdue", "d1", 0);
    ac_action_id(id, "signal:late_delivery", tid, 0);
    cr_expect_str_eq(s->signal_id, id, "deterministic: the same in every run");
    cr_expect_eq(c.late_deliveries, 1);
    must_action("delivery_delay_overdue");
    cr_expect_eq(fire(T0 + 60 * HOUR), 0);
    cr_expect_eq(out.n_signals, 0);
    cr_expect_eq(c.late_deliveries, 1);

    /* Delivered in time: no signal at all. */
    ac_customer_init(&c, "c1");
    ac_timerset_fini(&timers);
    delivery(&ev, "d3", "shipped", T0, "B1");
    ev.u.delivery.estimated_delivery_at = T0 + 48 * HOUR;
    must_apply(&ev);
    delivery(&ev, "d4", "delivered", T0 + 40 * HOUR, "B1");
    must_apply(&ev);
    fire(T0 + 49 * HOUR);
    cr_expect_null(signal_of("late_delivery", "estimate_passed"));
    cr_expect_eq(c.late_deliveries, 0);
}

/* --- repeats --------------------------------------------------------------------------------- */

Test(journeys, every_project_milestone_is_notified)
{
    struct ac_event ev;
    char ids[3][AC_ACTION_ID_MAX];
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "m%d", i);
        envelope(&ev, AC_TOPIC_USAGE, id, "milestone", T0 + i * DAY);
        snprintf(ev.u.usage.milestone, sizeof(ev.u.usage.milestone), "project_milestone");
        must_apply(&ev);
        const struct ac_signal *s = signal_of("milestone", "project_milestone");
        cr_assert_not_null(s, "milestone %d", i);
        const struct ac_action *a = must_action("service_milestone");
        char want[AC_ACTION_ID_MAX];
        ac_action_id(want, "service_milestone", s->signal_id, 0);
        cr_expect_str_eq(a->action_id, want, "one notification per milestone, by its event");
        snprintf(ids[i], sizeof(ids[i]), "%s", a->action_id);
        for (int k = 0; k < i; k++) {
            cr_expect_str_neq(ids[k], ids[i]);
        }
    }
    cr_expect_str_eq(c.milestones, "project_milestone", "the set holds it once");
    /* A once-in-a-lifetime milestone still signals once. */
    envelope(&ev, AC_TOPIC_USAGE, "f1", "milestone", T0 + 5 * DAY);
    snprintf(ev.u.usage.milestone, sizeof(ev.u.usage.milestone), "first_value");
    must_apply(&ev);
    cr_expect_not_null(signal_of("milestone", "first_value"));
    envelope(&ev, AC_TOPIC_USAGE, "f2", "milestone", T0 + 6 * DAY);
    snprintf(ev.u.usage.milestone, sizeof(ev.u.usage.milestone), "first_value");
    must_apply(&ev);
    cr_expect_eq(out.n_signals, 0);
}

Test(journeys, a_repeat_promoter_is_asked_again_once_the_cooloff_has_passed)
{
    struct ac_event p;
    feedback(&p, "p1", "preferences_updated", T0 - HOUR);
    p.u.feedback.frequency_opt_in = 1; /* the cap leaves room for every ask */
    must_apply(&p);

    survey("s1", 10, T0);
    cr_assert_not_null(decision("review_request", "scheduled"));
    fire(T0 + DAY);
    must_action("review_request");
    /* The referral ask (due on day 3) rides along in it (merge: promoter). */
    const struct ac_decision *m = decision("referral_ask", "merged");
    cr_assert_not_null(m);
    cr_expect_str_eq(m->reason, "merged_into:review_request");
    fire(T0 + 3 * DAY);
    cr_expect_null(action("referral_ask"), "it went out with the review request");

    /* A second promoter score within the cool-off: scheduled, not sent. */
    survey("s2", 9, T0 + 10 * DAY);
    cr_expect_eq(out.n_signals, 0, "the class did not change");
    cr_assert_not_null(decision("review_request", "scheduled"),
                       "asks follow every promoter score, not only a class change");
    fire(T0 + 11 * DAY);
    cr_expect_null(action("review_request"));
    const struct ac_decision *d = decision("review_request", NULL);
    cr_assert_not_null(d);
    cr_expect(strstr(d->reason, "cooloff") != NULL, "%s %s", d->decision, d->reason);
    fire(T0 + 13 * DAY);
    cr_expect_null(action("referral_ask"));

    /* Past the review request's cool-off (30 d), a promoter is asked again. */
    survey("s3", 10, T0 + 40 * DAY);
    fire(T0 + 41 * DAY);
    must_action("review_request");
    fire(T0 + 43 * DAY);
    cr_expect_null(action("referral_ask"), "its own cool-off (60 d) still runs");

    /* A detractor score is no occasion for an ask. */
    survey("s4", 3, T0 + 80 * DAY);
    cr_expect_null(decision("review_request", "scheduled"));
}

/* simulate for people: every decision names its rule's template and channel,
 * not only the emitted ones: scheduled, and cancelled by the order's own
 * cancellation. */
Test(journeys, every_decision_names_its_template_and_channel)
{
    struct ac_event ev;
    order(&ev, "o1", "order_placed", T0, "A1");
    must_apply(&ev);
    const struct ac_decision *d = decision("welcome_2", "scheduled");
    cr_assert_not_null(d, "the welcome series is scheduled");
    cr_expect_str_eq(d->template_name, "welcome_2_usage_tips");
    cr_expect_str_eq(d->channel, "email");
    order(&ev, "o2", "order_cancelled", T0 + HOUR, "A1");
    must_apply(&ev);
    int ended = 0;
    for (int i = 0; i < out.n_decisions; i++) {
        const struct ac_decision *x = &out.decisions[i];
        if (strcmp(x->decision, "cancelled") == 0 || strcmp(x->decision, "exited") == 0) {
            ended++;
            cr_expect(x->template_name[0] != '\0', "%s %s without a template", x->rule_id,
                      x->decision);
            cr_expect(x->channel[0] != '\0', "%s %s without a channel", x->rule_id, x->decision);
        }
    }
    cr_expect_gt(ended, 0, "the cancellation ends some of the order's timers");
}
