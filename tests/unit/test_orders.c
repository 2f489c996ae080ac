/* The orders processor's domain code, pure: state transitions, RFM segment,
 * rules, deterministic ids. No Kafka, no Redis; an explicit clock. */
#include <criterion/criterion.h>

#include "apply_support.h"
#include <stdio.h>
#include <string.h>

#include "build.h"
#include "config.h"
#include "customer.h"
#include "err.h"
#include "orders.h"
#include "processor.h"

#define T0 1767225600000LL
#define DAY 86400000LL

static struct ac_config *cfg;
static void *ctx;
static struct ac_clock clk;
static struct ac_emit out;

static void setup(void)
{
    ctx = ts_processor_open(&ac_orders_processor, &cfg);
    ac_clock_init_fixed(&clk, T0 + 100 * DAY);
}

static void teardown(void)
{
    ac_orders_processor.fini(ctx);
    ac_config_destroy(cfg);
}

TestSuite(orders, .init = setup, .fini = teardown);

static void event(struct ac_event *ev, const char *id, const char *type, int64_t at, int64_t cents,
                  const char *family)
{
    memset(ev, 0, sizeof(*ev));
    ev->topic = AC_TOPIC_ORDERS;
    snprintf(ev->event_id, sizeof(ev->event_id), "%s", id);
    snprintf(ev->customer_id, sizeof(ev->customer_id), "c1");
    snprintf(ev->type, sizeof(ev->type), "%s", type);
    ev->occurred_at = at;
    snprintf(ev->u.order.order_id, sizeof(ev->u.order.order_id), "o-%s", id);
    ev->u.order.total_cents = cents;
    snprintf(ev->u.order.currency, sizeof(ev->u.order.currency), "EUR");
    ev->u.order.renewal_at = AC_TS_NONE;
    if (family) {
        ev->u.order.n_items = 1;
        snprintf(ev->u.order.items[0].product_family, AC_NAME_MAX, "%s", family);
        ev->u.order.items[0].quantity = 1;
        ev->u.order.items[0].unit_price_cents = cents;
    }
}

static int apply(struct ac_customer *c, const struct ac_event *ev)
{
    char reason[128] = "";
    ac_emit_reset(&out);
    return ts_apply(&ac_orders_processor, ctx, ts_engine(NULL), c, ev, &clk, &out, reason,
                    sizeof(reason));
}

static const struct ac_action *find(const char *rule, int part)
{
    for (int i = 0; i < out.n_actions; i++) {
        char id[AC_ACTION_ID_MAX];
        ac_action_id(id, rule, out.actions[i].trigger_event_id, part);
        if (strcmp(out.actions[i].rule_id, rule) == 0 &&
            strcmp(out.actions[i].action_id, id) == 0) {
            return &out.actions[i];
        }
    }
    return NULL;
}

Test(orders, first_order_sets_state_and_emits_confirmation_and_onboarding)
{
    struct ac_customer c;
    struct ac_event ev;
    ac_customer_init(&c, "c1");
    event(&ev, "e1", "order_placed", T0, 4990, "coffee");
    cr_assert_eq(apply(&c, &ev), 0);
    cr_expect_eq(c.order_count, 1);
    cr_expect_eq(c.revenue_cents, 4990);
    cr_expect_eq(c.first_order_at, T0);
    cr_expect_eq(c.last_order_at, T0);
    cr_expect_str_eq(c.families, "coffee");
    cr_expect_str_eq(c.segment, "one_time");
    cr_expect_eq(ac_customer_aov_cents(&c), 4990);

    cr_assert_eq(out.n_actions, 3);
    const struct ac_action *a = find("order_confirmation", 0);
    cr_assert_not_null(a);
    cr_expect_eq(a->kind, AC_KIND_MESSAGE);
    cr_expect_eq(a->category, AC_CAT_TRANSACTIONAL);
    cr_expect_str_eq(a->template_name, "order_confirmation");
    cr_expect_eq(a->not_before, T0 + 100 * DAY, "decided late: not before the decision");
    cr_expect_eq(a->created_at, T0 + 100 * DAY, "created_at comes from the clock");
    cr_expect_str_eq(a->trigger_type, "order_placed");
    const struct ac_action *crm = find("crm_onboarding", 0);
    const struct ac_action *note = find("crm_onboarding", 1);
    cr_assert_not_null(crm);
    cr_assert_not_null(note);
    cr_expect_eq(crm->kind, AC_KIND_CRM_UPDATE);
    cr_expect_eq(note->kind, AC_KIND_TEAM_NOTIFICATION);
    cr_expect_str_eq(note->vars[0].key, "assignee");
    cr_expect_str_eq(note->vars[0].value, "customer-success", "no owner: the default team");

    cr_assert_eq(out.n_signals, 1);
    cr_expect_str_eq(out.signals[0].signal, "segment");
    cr_expect_str_eq(out.signals[0].value, "one_time");
    cr_expect_str_eq(out.signals[0].previous, "new");
}

Test(orders, rfm_segment_follows_thresholds)
{
    struct ac_orders_thresholds t = {30000, 2};
    struct ac_customer c;
    ac_customer_init(&c, "c");
    cr_expect_str_eq(ac_orders_segment(&c, &t), "new");
    c.order_count = 1, c.revenue_cents = 100000;
    cr_expect_str_eq(ac_orders_segment(&c, &t), "one_time", "one order is one_time, however big");
    c.order_count = 2, c.revenue_cents = 29999;
    cr_expect_str_eq(ac_orders_segment(&c, &t), "mid_value_repeat");
    c.revenue_cents = 30000;
    cr_expect_str_eq(ac_orders_segment(&c, &t), "high_value_repeat");
}

Test(orders, second_order_changes_segment_but_not_onboarding)
{
    struct ac_customer c;
    struct ac_event ev;
    ac_customer_init(&c, "c1");
    event(&ev, "e1", "order_placed", T0, 20000, "coffee");
    apply(&c, &ev);
    event(&ev, "e2", "order_placed", T0 + DAY, 15000, "equipment");
    cr_assert_eq(apply(&c, &ev), 0);
    cr_expect_str_eq(c.segment, "high_value_repeat");
    cr_expect_str_eq(c.families, "coffee,equipment");
    cr_expect_eq(c.last_order_at, T0 + DAY);
    cr_expect_eq(ac_customer_aov_cents(&c), 17500);
    cr_expect_eq(out.n_actions, 1, "only the confirmation");
    cr_expect_not_null(find("order_confirmation", 0));
    cr_expect_eq(out.n_signals, 1);
    cr_expect_str_eq(out.signals[0].previous, "one_time");
}

Test(orders, cart_cancel_refund_and_contract_transitions)
{
    struct ac_customer c;
    struct ac_event ev;
    ac_customer_init(&c, "c1");
    event(&ev, "e1", "cart_abandoned", T0, 1000, "coffee");
    apply(&c, &ev);
    cr_expect_eq(c.open_carts, 1);
    cr_expect_eq(out.n_actions, 0);
    event(&ev, "e2", "order_placed", T0 + 1, 5000, "coffee");
    apply(&c, &ev);
    cr_expect_eq(c.open_carts, 0, "an order closes open carts");
    event(&ev, "e3", "refund_issued", T0 + 2, 2000, NULL);
    apply(&c, &ev);
    cr_expect_eq(c.revenue_cents, 3000);
    cr_expect_eq(c.refunded_cents, 2000);
    event(&ev, "e4", "order_cancelled", T0 + 3, 9000, NULL);
    apply(&c, &ev);
    cr_expect_eq(c.order_count, 0);
    cr_expect_eq(c.revenue_cents, 0, "revenue never goes negative");
    cr_expect_str_eq(c.segment, "new");

    event(&ev, "e5", "contract_signed", T0 + 4, 0, NULL);
    snprintf(ev.u.order.account_owner, AC_ID_MAX, "jonas");
    ev.u.order.renewal_at = T0 + 365 * DAY;
    apply(&c, &ev);
    cr_expect_eq(c.contract_signed_at, T0 + 4);
    cr_expect_eq(c.renewal_at, T0 + 365 * DAY);
    cr_expect_str_eq(c.subscription, "active");
    cr_expect_str_eq(c.account_owner, "jonas");
    const struct ac_action *note = find("crm_onboarding", 1);
    cr_assert_not_null(note, "a contract starts the CRM onboarding");
    cr_expect_str_eq(note->vars[0].value, "jonas");
    event(&ev, "e6", "subscription_cancelled", T0 + 5, 0, NULL);
    apply(&c, &ev);
    cr_expect_str_eq(c.subscription, "cancelled");
    cr_expect_eq(c.renewal_at, AC_TS_NONE);
}

Test(orders, invalid_event_is_rejected_and_state_untouched)
{
    struct ac_customer c, before;
    struct ac_event ev;
    char reason[128] = "";
    ac_customer_init(&c, "c1");
    before = c;
    event(&ev, "e1", "order_placed", T0, 1000, "coffee");
    ev.u.order.order_id[0] = '\0';
    ac_emit_reset(&out);
    cr_expect_eq(ts_apply(&ac_orders_processor, ctx, ts_engine(NULL), &c, &ev, &clk, &out, reason,
                          sizeof(reason)),
                 AC_ERR_INVALID);
    cr_expect_str_eq(reason, "missing_field:order_id");
    cr_expect_eq(memcmp(&c, &before, sizeof(c)), 0);
    cr_expect_eq(out.n_actions, 0);
}

/* Two orders of 5e18 cents (past the decoder's bound, but sums must not
 * rely on it) used to wrap the revenue negative: the second is rejected. */
Test(orders, revenue_and_refunds_never_overflow)
{
    struct ac_customer c, before;
    struct ac_event ev;
    char reason[128] = "";
    const int64_t huge = INT64_C(5000000000000000000);
    ac_customer_init(&c, "c1");
    event(&ev, "e1", "order_placed", T0, huge, "coffee");
    cr_assert_eq(apply(&c, &ev), 0);
    cr_assert_eq(c.revenue_cents, huge);

    event(&ev, "e2", "order_placed", T0 + 1, huge, "coffee");
    before = c;
    ac_emit_reset(&out);
    cr_assert_eq(ts_apply(&ac_orders_processor, ctx, ts_engine(NULL), &c, &ev, &clk, &out, reason,
                          sizeof(reason)),
                 AC_ERR_INVALID);
    cr_expect_str_eq(reason, "overflow:revenue_cents");
    cr_expect_eq(memcmp(&c, &before, sizeof(c)), 0, "a rejected event changes nothing");
    cr_expect_eq(out.n_actions, 0);
    cr_expect_eq(out.n_signals, 0);

    /* up to the last cent is fine */
    event(&ev, "e3", "order_placed", T0 + 2, INT64_MAX - huge, "coffee");
    cr_assert_eq(apply(&c, &ev), 0);
    cr_expect_eq(c.revenue_cents, INT64_MAX);
    event(&ev, "e4", "order_placed", T0 + 3, 1, "coffee");
    cr_expect_eq(apply(&c, &ev), AC_ERR_INVALID);
    cr_expect_eq(c.revenue_cents, INT64_MAX);

    /* refunds are a sum too */
    event(&ev, "r1", "refund_issued", T0 + 4, huge, NULL);
    cr_assert_eq(apply(&c, &ev), 0);
    cr_expect_eq(c.refunded_cents, huge);
    event(&ev, "r2", "refund_issued", T0 + 5, huge, NULL);
    before = c;
    ac_emit_reset(&out);
    cr_assert_eq(ts_apply(&ac_orders_processor, ctx, ts_engine(NULL), &c, &ev, &clk, &out, reason,
                          sizeof(reason)),
                 AC_ERR_INVALID);
    cr_expect_str_eq(reason, "overflow:refunded_cents");
    cr_expect_eq(memcmp(&c, &before, sizeof(c)), 0);
}

Test(orders, action_ids_are_deterministic_and_distinct)
{
    char a[AC_ACTION_ID_MAX], b[AC_ACTION_ID_MAX], c[AC_ACTION_ID_MAX], d[AC_ACTION_ID_MAX];
    ac_action_id(a, "order_confirmation", "e1", 0);
    ac_action_id(b, "order_confirmation", "e1", 0);
    ac_action_id(c, "order_confirmation", "e1", 1);
    ac_action_id(d, "order_confirmation", "e2", 0);
    cr_expect_str_eq(a, b);
    cr_expect_str_neq(a, c);
    cr_expect_str_neq(a, d);
    cr_expect_eq(strlen(a), 32);
    /* Pinned: the id function is a contract with the sender. */
    cr_expect_str_eq(a, "6dcc2373b67482ed02d5cf7c3e7d2318", "the action id function changed");
}
