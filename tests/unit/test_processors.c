/* The deliveries and usage processors' domain code, pure: their state,
 * their signals, and the playbook rules those trigger. An explicit clock. */
#include <criterion/criterion.h>

#include "apply_support.h"
#include <stdio.h>
#include <string.h>

#include "build.h"
#include "config.h"
#include "customer.h"
#include "deliveries.h"
#include "err.h"
#include "processor.h"
#include "usage.h"

#define T0 1778493600000LL /* 2026-05-11T10:00:00Z, a Monday */
#define HOUR 3600000LL

static struct ac_config *cfg;
static void *dl, *us;
static struct ac_clock clk;
static struct ac_emit out;
static struct ac_timerset timers;
static struct ac_customer c;

static void setup(void)
{
    char err[256];
    static const struct ac_cfg_entry pb_table[] = {
        {"playbook", AC_CFG_STR, AC_PLAYBOOK_DEFAULT, "", 0, 0},
        {"team.default_owner", AC_CFG_STR, "customer-success", "", 0, 0},
        {NULL, AC_CFG_STR, NULL, NULL, 0, 0},
    };
    const struct ac_cfg_entry *tables[] = {pb_table};
    cfg = ac_config_load(tables, 1, NULL, err, sizeof(err));
    cr_assert_not_null(cfg, "%s", err);
    dl = us = NULL; /* no config of their own: the playbook is the runtime's */
    ac_clock_init_fixed(&clk, T0);
    ac_timerset_fini(&timers);
    ac_customer_init(&c, "c1");
}

static void teardown(void)
{
    ac_config_destroy(cfg);
}

TestSuite(processors, .init = setup, .fini = teardown);

static int apply(const struct ac_processor *p, void *ctx, const struct ac_event *ev)
{
    char reason[128] = "";
    ac_emit_reset(&out);
    out.timers = &timers;
    ac_clock_set(&clk, ev->occurred_at);
    return ts_apply(p, ctx, ts_engine(NULL), &c, ev, &clk, &out, reason, sizeof(reason));
}

static void delivery(struct ac_event *ev, const char *id, const char *type, int64_t at)
{
    memset(ev, 0, sizeof(*ev));
    ev->topic = AC_TOPIC_DELIVERIES;
    snprintf(ev->event_id, sizeof(ev->event_id), "%s", id);
    snprintf(ev->customer_id, sizeof(ev->customer_id), "c1");
    snprintf(ev->type, sizeof(ev->type), "%s", type);
    ev->occurred_at = at;
    snprintf(ev->u.delivery.order_id, sizeof(ev->u.delivery.order_id), "A1");
    ev->u.delivery.estimated_delivery_at = AC_TS_NONE;
    ev->u.delivery.new_estimated_delivery_at = AC_TS_NONE;
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

Test(processors, a_shipment_schedules_the_overdue_apology_and_the_delivery_cancels_it)
{
    struct ac_event ev;
    delivery(&ev, "d1", "shipped", T0);
    ev.u.delivery.estimated_delivery_at = T0 + 48 * HOUR;
    cr_assert_eq(apply(&ac_deliveries_processor, dl, &ev), 0);
    cr_expect_eq(c.deliveries_in_flight, 1);
    const struct ac_decision *d = decision_of("delivery_delay_overdue");
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "scheduled");
    cr_expect_eq(d->not_before, T0 + 49 * HOUR, "the estimate + 1 h");
    cr_expect_eq(timers.n, 1);
    delivery(&ev, "d2", "delivered", T0 + 24 * HOUR);
    cr_assert_eq(apply(&ac_deliveries_processor, dl, &ev), 0);
    cr_expect_eq(c.deliveries_in_flight, 0);
    d = decision_of("delivery_delay_overdue");
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "cancelled");
    d = decision_of("delivery_survey");
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "scheduled");
    cr_expect_eq(d->not_before, T0 + 26 * HOUR, "the survey goes 2 h after delivery");
    cr_expect_eq(timers.n, 1, "only the survey is pending");
}

Test(processors, a_delay_is_late_with_a_signal_and_an_apology)
{
    struct ac_event ev;
    delivery(&ev, "d1", "delayed", T0);
    cr_assert_eq(apply(&ac_deliveries_processor, dl, &ev), 0);
    cr_expect_eq(c.late_deliveries, 1);
    cr_assert_eq(out.n_signals, 1);
    cr_expect_str_eq(out.signals[0].signal, "late_delivery");
    cr_expect_str_eq(out.signals[0].value, "delayed");
    cr_assert_eq(out.n_actions, 1);
    cr_expect_str_eq(out.actions[0].rule_id, "delivery_delay");
    cr_expect_eq(out.actions[0].category, AC_CAT_TRANSACTIONAL);
}

Test(processors, a_delivery_event_without_an_order_is_rejected)
{
    struct ac_event ev;
    delivery(&ev, "d1", "shipped", T0);
    ev.u.delivery.order_id[0] = '\0';
    struct ac_customer before = c;
    cr_expect_eq(apply(&ac_deliveries_processor, dl, &ev), AC_ERR_INVALID);
    cr_expect_eq(memcmp(&before, &c, sizeof(c)), 0);
}

static void usage(struct ac_event *ev, const char *id, const char *type, const char *milestone,
                  int64_t at)
{
    memset(ev, 0, sizeof(*ev));
    ev->topic = AC_TOPIC_USAGE;
    snprintf(ev->event_id, sizeof(ev->event_id), "%s", id);
    snprintf(ev->customer_id, sizeof(ev->customer_id), "c1");
    snprintf(ev->type, sizeof(ev->type), "%s", type);
    snprintf(ev->u.usage.milestone, sizeof(ev->u.usage.milestone), "%s", milestone);
    ev->occurred_at = at;
}

Test(processors, a_milestone_signals_once_and_schedules_the_check_in)
{
    struct ac_event ev;
    usage(&ev, "u1", "session", "", T0);
    cr_assert_eq(apply(&ac_usage_processor, us, &ev), 0);
    cr_expect_eq(c.last_activity_at, T0);
    cr_expect_eq(out.n_signals, 0);
    usage(&ev, "u2", "milestone", "onboarding_completed", T0 + HOUR);
    cr_assert_eq(apply(&ac_usage_processor, us, &ev), 0);
    cr_expect_eq(c.onboarding_completed, 1);
    cr_expect_str_eq(c.milestones, "onboarding_completed");
    cr_assert_eq(out.n_signals, 1);
    cr_expect_str_eq(out.signals[0].signal, "milestone");
    cr_expect_str_eq(out.signals[0].value, "onboarding_completed");
    const struct ac_decision *d = decision_of("milestone_checkin");
    cr_assert_not_null(d);
    cr_expect_str_eq(d->decision, "scheduled");
    cr_expect_eq(d->not_before, T0 + 25 * HOUR, "within 48 h: one day after");
    usage(&ev, "u3", "milestone", "onboarding_completed", T0 + 2 * HOUR);
    cr_assert_eq(apply(&ac_usage_processor, us, &ev), 0);
    cr_expect_eq(out.n_signals, 0, "a milestone is reached once");
    usage(&ev, "u4", "milestone", "", T0 + 3 * HOUR);
    cr_expect_eq(apply(&ac_usage_processor, us, &ev), AC_ERR_INVALID);
}
