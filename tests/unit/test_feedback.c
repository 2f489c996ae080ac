/* The feedback processor's domain code, pure: score classes, tickets and
 * complaints, unsubscribes and preferences, and what the playbook then does
 * with them. No Kafka, no Redis; an explicit clock. */
#include <criterion/criterion.h>

#include "apply_support.h"
#include <stdio.h>
#include <string.h>

#include "build.h"
#include "config.h"
#include "customer.h"
#include "err.h"
#include "feedback.h"
#include "orders.h"
#include "processor.h"

#define T0 1774864800000LL /* 2026-03-30T10:00:00Z, a Monday (team tasks keep business hours) */
#define DAY 86400000LL

static struct ac_config *cfg;
static void *fb, *orders;
static struct ac_clock clk;
static struct ac_emit out;
static struct ac_timerset timers;
static struct ac_customer c;

static void setup(void)
{
    fb = NULL; /* the feedback processor has no config of its own */
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

TestSuite(feedback, .init = setup, .fini = teardown);

static void fb_event(struct ac_event *ev, const char *id, const char *type, int64_t at)
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

static int apply(const struct ac_processor *p, void *ctx, const struct ac_event *ev)
{
    char reason[128] = "";
    ac_emit_reset(&out);
    out.timers = &timers;
    ac_clock_set(&clk, ev->occurred_at);
    return ts_apply(p, ctx, ts_engine(NULL), &c, ev, &clk, &out, reason, sizeof(reason));
}

static const struct ac_decision *decision_of(const char *rule)
{
    for (int i = 0; i < out.n_decisions; i++) {
        if (strcmp(out.decisions[i].rule_id, rule) == 0) {
            return &out.decisions[i];
        }
    }
    return NULL;
}

Test(feedback, score_classes_follow_the_spec)
{
    cr_expect_str_eq(ac_feedback_class("nps_10", 10), "promoter");
    cr_expect_str_eq(ac_feedback_class("nps_10", 9), "promoter");
    cr_expect_str_eq(ac_feedback_class("nps_10", 8), "passive");
    cr_expect_str_eq(ac_feedback_class("nps_10", 7), "passive");
    cr_expect_str_eq(ac_feedback_class("nps_10", 6), "detractor");
    cr_expect_str_eq(ac_feedback_class("nps_10", 0), "detractor");
    cr_expect_str_eq(ac_feedback_class("csat_5", 5), "promoter");
    cr_expect_str_eq(ac_feedback_class("csat_5", 4), "passive");
    cr_expect_str_eq(ac_feedback_class("csat_5", 3), "detractor");
    cr_expect_str_eq(ac_feedback_class("csat_5", 1), "detractor");
    cr_expect_str_eq(ac_feedback_class("stars", 5), "");
}

Test(feedback, a_detractor_gets_a_call_task_and_a_class_signal)
{
    struct ac_event ev;
    fb_event(&ev, "s1", "survey_response", T0);
    ev.u.feedback.score = 3;
    snprintf(ev.u.feedback.scale, sizeof(ev.u.feedback.scale), "nps_10");
    cr_assert_eq(apply(&ac_feedback_processor, fb, &ev), 0);
    cr_expect_str_eq(c.nps_class, "detractor");
    cr_expect_eq(c.last_score, 3);
    cr_expect_eq(c.last_survey_at, T0);
    cr_assert_eq(out.n_signals, 1);
    cr_expect_str_eq(out.signals[0].signal, "nps_class");
    cr_expect_str_eq(out.signals[0].value, "detractor");
    cr_assert_eq(out.n_actions, 1, "only the detractor branch of feedback_routing, got %d (%s)",
                 out.n_actions, out.n_actions > 1 ? out.actions[1].rule_id : "");
    cr_expect_str_eq(out.actions[0].template_name, "detractor_call");
    cr_expect_eq(out.actions[0].kind, AC_KIND_TEAM_TASK);
    /* The same class again: no new signal. */
    fb_event(&ev, "s2", "survey_response", T0 + DAY);
    ev.u.feedback.score = 5;
    snprintf(ev.u.feedback.scale, sizeof(ev.u.feedback.scale), "nps_10");
    cr_assert_eq(apply(&ac_feedback_processor, fb, &ev), 0);
    cr_expect_eq(out.n_signals, 0);
}

Test(feedback, a_survey_without_a_score_is_rejected_and_changes_nothing)
{
    struct ac_event ev;
    struct ac_customer before = c;
    fb_event(&ev, "s1", "survey_response", T0);
    cr_expect_eq(apply(&ac_feedback_processor, fb, &ev), AC_ERR_INVALID);
    cr_expect_eq(memcmp(&before, &c, sizeof(c)), 0);
}

Test(feedback, complaints_open_and_close_and_suppress_marketing_meanwhile)
{
    struct ac_event ev;
    fb_event(&ev, "t1", "ticket_opened", T0);
    snprintf(ev.u.feedback.ticket_id, sizeof(ev.u.feedback.ticket_id), "T1");
    ev.u.feedback.is_complaint = true;
    cr_assert_eq(apply(&ac_feedback_processor, fb, &ev), 0);
    cr_expect_eq(c.open_tickets, 1);
    cr_expect_eq(c.open_complaints, 1);
    /* A first order now: the one-time segment follow-up (marketing) is held. */
    struct ac_event o;
    memset(&o, 0, sizeof(o));
    o.topic = AC_TOPIC_ORDERS;
    snprintf(o.event_id, sizeof(o.event_id), "o1");
    snprintf(o.customer_id, sizeof(o.customer_id), "c1");
    snprintf(o.type, sizeof(o.type), "order_placed");
    o.occurred_at = T0 + 1000;
    snprintf(o.u.order.order_id, sizeof(o.u.order.order_id), "A1");
    o.u.order.total_cents = 1000;
    o.u.order.renewal_at = AC_TS_NONE;
    cr_assert_eq(apply(&ac_orders_processor, orders, &o), 0);
    const struct ac_decision *d = decision_of("segment_followup");
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "deferred");
    cr_expect_str_eq(d->reason, "open_complaint");
    fb_event(&ev, "t2", "ticket_resolved", T0 + 2000);
    snprintf(ev.u.feedback.ticket_id, sizeof(ev.u.feedback.ticket_id), "T1");
    ev.u.feedback.is_complaint = true;
    cr_assert_eq(apply(&ac_feedback_processor, fb, &ev), 0);
    cr_expect_eq(c.open_tickets, 0);
    cr_expect_eq(c.open_complaints, 0);
    cr_expect(decision_of("support_sla") &&
                  strcmp(decision_of("support_sla")->decision, "cancelled") == 0,
              "resolving the ticket cancels its SLA escalation at once");
}

Test(feedback, an_unsubscribe_holds_for_every_later_marketing_action_on_that_channel)
{
    struct ac_event ev;
    fb_event(&ev, "p1", "preferences_updated", T0);
    snprintf(ev.u.feedback.preferred_channel, sizeof(ev.u.feedback.preferred_channel), "push");
    snprintf(ev.u.feedback.timezone, sizeof(ev.u.feedback.timezone), "Europe/Berlin");
    ev.u.feedback.frequency_opt_in = 1;
    ev.u.feedback.n_consents = 1;
    snprintf(ev.u.feedback.consents[0].key, AC_KV_KEY_MAX, "sms");
    snprintf(ev.u.feedback.consents[0].value, AC_KV_VAL_MAX, "true");
    cr_assert_eq(apply(&ac_feedback_processor, fb, &ev), 0);
    cr_expect_str_eq(c.preferred_channel, "push");
    cr_expect_str_eq(c.timezone, "Europe/Berlin");
    cr_expect_eq(c.frequency_opt_in, 1);
    cr_expect_str_eq(c.consents, "sms=1");
    fb_event(&ev, "m1", "message_engagement", T0 + 1000);
    snprintf(ev.u.feedback.engagement, sizeof(ev.u.feedback.engagement), "unsubscribed");
    snprintf(ev.u.feedback.channel, sizeof(ev.u.feedback.channel), "email");
    cr_assert_eq(apply(&ac_feedback_processor, fb, &ev), 0);
    cr_expect_str_eq(c.consents, "sms=1,email=u");
    cr_expect(!ac_customer_consented(&c, "email", AC_CAT_MARKETING, 1u << AC_CAT_MARKETING));
    cr_expect(ac_customer_consented(&c, "email", AC_CAT_TRANSACTIONAL, 1u << AC_CAT_MARKETING));
    cr_expect(ac_customer_consented(&c, "email", AC_CAT_SERVICE, 1u << AC_CAT_MARKETING),
              "an unsubscribe from marketing leaves service messages (default playbook)");
    /* Later marketing on email goes elsewhere or not at all; the order's
     * confirmation and welcome still go by email. */
    struct ac_event o;
    memset(&o, 0, sizeof(o));
    o.topic = AC_TOPIC_ORDERS;
    snprintf(o.event_id, sizeof(o.event_id), "o1");
    snprintf(o.customer_id, sizeof(o.customer_id), "c1");
    snprintf(o.type, sizeof(o.type), "order_placed");
    o.occurred_at = T0 + 2000;
    snprintf(o.u.order.order_id, sizeof(o.u.order.order_id), "A1");
    o.u.order.renewal_at = AC_TS_NONE;
    cr_assert_eq(apply(&ac_orders_processor, orders, &o), 0);
    for (int i = 0; i < out.n_actions; i++) {
        if (out.actions[i].category == AC_CAT_MARKETING) {
            cr_expect_str_neq(out.actions[i].channel, "email", "%s went to email",
                              out.actions[i].rule_id);
        }
    }
    const struct ac_decision *d = decision_of("welcome_1");
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "emitted", "welcome_1 is a service message");
    cr_expect_str_eq(d->channel, "email");
    d = decision_of("order_confirmation");
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "emitted");
    cr_expect_str_eq(d->channel, "email", "transactional: the unsubscribe does not move it");
    /* A later opt-in restores the channel. */
    fb_event(&ev, "p2", "preferences_updated", T0 + 3000);
    ev.u.feedback.n_consents = 1;
    snprintf(ev.u.feedback.consents[0].key, AC_KV_KEY_MAX, "email");
    snprintf(ev.u.feedback.consents[0].value, AC_KV_VAL_MAX, "true");
    cr_assert_eq(apply(&ac_feedback_processor, fb, &ev), 0);
    cr_expect_str_eq(c.consents, "sms=1,email=1");
}
