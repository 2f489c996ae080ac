/* orders.c — domain logic of the orders processor (pure: no I/O).
 *
 * State transitions per event type are in orders_transition(); the segment
 * signal is computed here; everything the playbook says to do about an
 * order (confirmations, onboarding, series, reminders, their timers and
 * policies) is the engine's (engine.h). */
#include "orders.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

struct orders_ctx {
    struct ac_orders_thresholds thresholds;
};

static const struct ac_cfg_entry orders_config[] = {
    {"segment.high_value_cents", AC_CFG_INT, "30000",
     "revenue (cents) at or above which a repeat customer is high_value_repeat", 0, INT64_MAX},
    {"segment.repeat_min_orders", AC_CFG_INT, "2", "orders that make a repeat customer", 2, 1000},
    {NULL, AC_CFG_STR, NULL, NULL, 0, 0},
};

/* --- state ----------------------------------------------------------------------------------- */

const char *ac_orders_segment(const struct ac_customer *c, const struct ac_orders_thresholds *t)
{
    if (c->order_count <= 0) {
        return "new";
    }
    if (c->order_count < t->repeat_min_orders) {
        return "one_time";
    }
    return c->revenue_cents >= t->high_value_cents ? "high_value_repeat" : "mid_value_repeat";
}

static int64_t orders_sub(int64_t a, int64_t b)
{
    return a > b ? a - b : 0;
}

/* *sum = a + b, or -1 (and *sum untouched) when that would overflow. */
static int orders_add(int64_t a, int64_t b, int64_t *sum)
{
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b)) {
        return -1;
    }
    *sum = a + b;
    return 0;
}

/* Sums kept in the state grow with every order, and no bound on single
 * amounts (the decoder's is 1e13 cents) bounds their count: an event whose
 * amount would overflow one is rejected, never wrapped. Checked before
 * anything changes. */
static int orders_check_sums(const struct ac_customer *c, const struct ac_event *ev, char *reason,
                             size_t rlen)
{
    int64_t sum;
    int64_t total = ev->u.order.total_cents;
    if (strcmp(ev->type, "order_placed") == 0 && orders_add(c->revenue_cents, total, &sum) != 0) {
        snprintf(reason, rlen, "overflow:revenue_cents");
        return AC_ERR_INVALID;
    }
    if (strcmp(ev->type, "refund_issued") == 0 && orders_add(c->refunded_cents, total, &sum) != 0) {
        snprintf(reason, rlen, "overflow:refunded_cents");
        return AC_ERR_INVALID;
    }
    return 0;
}

/* The sums were checked by orders_check_sums(). */
static void orders_transition(struct ac_customer *c, const struct ac_event *ev)
{
    const struct ac_order_fields *o = &ev->u.order;
    const char *type = ev->type;
    if (o->account_owner[0]) {
        snprintf(c->account_owner, sizeof(c->account_owner), "%s", o->account_owner);
    }
    if (o->renewal_at != AC_TS_NONE) {
        c->renewal_at = o->renewal_at;
    }
    if (strcmp(type, "cart_abandoned") == 0) {
        c->open_carts++;
    } else if (strcmp(type, "order_placed") == 0) {
        c->order_count++;
        (void)orders_add(c->revenue_cents, o->total_cents, &c->revenue_cents);
        if (c->first_order_at == AC_TS_NONE || ev->occurred_at < c->first_order_at) {
            c->first_order_at = ev->occurred_at;
        }
        if (c->last_order_at == AC_TS_NONE || ev->occurred_at > c->last_order_at) {
            c->last_order_at = ev->occurred_at;
        }
        for (int i = 0; i < o->n_items; i++) {
            /* A full family set only loses the rarest history; state stays valid. */
            (void)ac_customer_add_family(c, o->items[i].product_family);
        }
        c->open_carts = 0;
    } else if (strcmp(type, "order_cancelled") == 0) {
        c->cancelled_orders++;
        c->order_count = orders_sub(c->order_count, 1);
        c->revenue_cents = orders_sub(c->revenue_cents, o->total_cents);
    } else if (strcmp(type, "return_requested") == 0) {
        c->returns++;
    } else if (strcmp(type, "refund_issued") == 0) {
        (void)orders_add(c->refunded_cents, o->total_cents, &c->refunded_cents);
        c->revenue_cents = orders_sub(c->revenue_cents, o->total_cents);
    } else if (strcmp(type, "contract_signed") == 0) {
        if (c->contract_signed_at == AC_TS_NONE) {
            c->contract_signed_at = ev->occurred_at;
        }
        snprintf(c->subscription, sizeof(c->subscription), "active");
    } else if (strcmp(type, "subscription_renewed") == 0) {
        snprintf(c->subscription, sizeof(c->subscription), "active");
    } else if (strcmp(type, "subscription_cancelled") == 0) {
        snprintf(c->subscription, sizeof(c->subscription), "cancelled");
        c->renewal_at = AC_TS_NONE;
    }
}

/* --- the processor ---------------------------------------------------------------------------- */

static void *orders_init(const struct ac_config *cfg, char *errstr, size_t errlen)
{
    struct orders_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    ctx->thresholds.high_value_cents = ac_config_int(cfg, "segment.high_value_cents");
    ctx->thresholds.repeat_min_orders = ac_config_int(cfg, "segment.repeat_min_orders");
    return ctx;
}

static void orders_fini(void *opaque)
{
    struct orders_ctx *ctx = opaque;
    if (ctx) {
        free(ctx);
    }
}

static int orders_apply(void *opaque, struct ac_customer *c, const struct ac_event *ev,
                        const struct ac_clock *clock, struct ac_emit *out, char *reason,
                        size_t rlen)
{
    const struct orders_ctx *ctx = opaque;
    const struct ac_order_fields *o = &ev->u.order;
    if (strcmp(ev->type, "order_placed") == 0 && o->order_id[0] == '\0') {
        snprintf(reason, rlen, "missing_field:order_id");
        return AC_ERR_INVALID;
    }
    if (orders_check_sums(c, ev, reason, rlen) != 0) {
        return AC_ERR_INVALID;
    }
    struct ac_customer before = *c;
    orders_transition(c, ev);
    const char *seg = ac_orders_segment(c, &ctx->thresholds);
    int seg_changed = strcmp(seg, before.segment) != 0;
    snprintf(c->segment, sizeof(c->segment), "%s", seg);
    if (seg_changed) {
        ac_emit_signal(out, "segment", ev, seg, before.segment, (double)c->revenue_cents / 100.0);
    }
    return 0;
}

const struct ac_processor ac_orders_processor = {
    .name = "orders",
    .topic = AC_TOPIC_ORDERS,
    .description = "Order state, RFM segment, order confirmations and CRM onboarding.",
    .config = orders_config,
    .init = orders_init,
    .fini = orders_fini,
    .apply = orders_apply,
    .reload = NULL, /* the runtime owns the playbook */
};
