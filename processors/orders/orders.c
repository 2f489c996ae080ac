/* orders.c — domain logic of the orders processor (pure: no I/O).
 *
 * State transitions per event type are in orders_transition(); what to emit
 * is data (orders_rules[]), evaluated against the event and the state before
 * and after it. The playbook (SPEC §4) will load the same shape from a file. */
#include "orders.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

struct orders_ctx {
    struct ac_orders_thresholds thresholds;
    char default_owner[AC_ID_MAX];
    char channel[AC_TYPE_MAX];
};

static const struct ac_cfg_entry orders_config[] = {
    {"segment.high_value_cents", AC_CFG_INT, "30000",
     "revenue (cents) at or above which a repeat customer is high_value_repeat", 0, INT64_MAX},
    {"segment.repeat_min_orders", AC_CFG_INT, "2", "orders that make a repeat customer", 2,
     1000},
    {"orders.default_owner", AC_CFG_STR, "customer-success",
     "who is notified of a new customer without an account owner", 0, 0},
    {"orders.channel", AC_CFG_STR, "email", "channel of order confirmations", 0, 0},
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
        c->revenue_cents += o->total_cents;
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
        c->refunded_cents += o->total_cents;
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

/* --- rules as data ----------------------------------------------------------------------------- */

enum orders_when {
    ORDERS_ALWAYS,
    ORDERS_FIRST_ORDER_OR_CONTRACT, /* a new customer relationship begins */
};

struct orders_rule {
    const char *id;
    const char *triggers[3]; /* event types, NULL-terminated */
    enum orders_when when;
    int part; /* several actions of one rule: 0, 1, ... (part of the action id) */
    enum ac_action_kind kind;
    enum ac_category category;
    const char *channel; /* NULL: the processor's configured channel */
    const char *template_name;
    const char *vars[6]; /* names for orders_var(), NULL-terminated */
};

static const struct orders_rule orders_rules[] = {
    {"order_confirmation", {"order_placed"}, ORDERS_ALWAYS, 0, AC_KIND_MESSAGE,
     AC_CAT_TRANSACTIONAL, NULL, "order_confirmation",
     {"order_id", "total_cents", "currency", "items", "account_link"}},
    {"crm_onboarding", {"order_placed", "contract_signed"}, ORDERS_FIRST_ORDER_OR_CONTRACT, 0,
     AC_KIND_CRM_UPDATE, AC_CAT_SERVICE, "crm", "crm_stage_onboarding",
     {"order_id", "stage_from", "stage_to"}},
    {"crm_onboarding", {"order_placed", "contract_signed"}, ORDERS_FIRST_ORDER_OR_CONTRACT, 1,
     AC_KIND_TEAM_NOTIFICATION, AC_CAT_SERVICE, "team_chat", "new_customer_owner",
     {"assignee", "order_id"}},
};

#define ORDERS_NRULES (sizeof(orders_rules) / sizeof(orders_rules[0]))

static int orders_rule_triggers(const struct orders_rule *r, const struct ac_event *ev,
                                const struct ac_customer *before)
{
    int hit = 0;
    for (int i = 0; i < 3 && r->triggers[i]; i++) {
        hit |= strcmp(r->triggers[i], ev->type) == 0;
    }
    if (!hit) {
        return 0;
    }
    switch (r->when) {
    case ORDERS_ALWAYS: return 1;
    case ORDERS_FIRST_ORDER_OR_CONTRACT:
        return strcmp(ev->type, "contract_signed") == 0 ? before->contract_signed_at == AC_TS_NONE
                                                        : before->order_count == 0;
    }
    return 0;
}

static void orders_var(struct ac_action *a, const char *name, const struct orders_ctx *ctx,
                       const struct ac_event *ev, const struct ac_customer *c)
{
    const struct ac_order_fields *o = &ev->u.order;
    if (strcmp(name, "order_id") == 0) {
        if (o->order_id[0]) {
            ac_action_var(a, name, o->order_id);
        }
    } else if (strcmp(name, "total_cents") == 0) {
        ac_action_var_i64(a, name, o->total_cents);
    } else if (strcmp(name, "currency") == 0) {
        ac_action_var(a, name, o->currency);
    } else if (strcmp(name, "items") == 0) {
        ac_action_var_i64(a, name, o->n_items);
    } else if (strcmp(name, "account_link") == 0) {
        ac_action_var(a, name, "account/orders");
    } else if (strcmp(name, "stage_from") == 0) {
        ac_action_var(a, name, "closed");
    } else if (strcmp(name, "stage_to") == 0) {
        ac_action_var(a, name, "onboarding");
    } else if (strcmp(name, "assignee") == 0) {
        ac_action_var(a, name, c->account_owner[0] ? c->account_owner : ctx->default_owner);
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
    snprintf(ctx->default_owner, sizeof(ctx->default_owner), "%s",
             ac_config_str(cfg, "orders.default_owner"));
    snprintf(ctx->channel, sizeof(ctx->channel), "%s", ac_config_str(cfg, "orders.channel"));
    return ctx;
}

static void orders_fini(void *ctx)
{
    free(ctx);
}

static int orders_apply(void *opaque, struct ac_customer *c, const struct ac_event *ev,
                        const struct ac_clock *clock, struct ac_emit *out, char *reason,
                        size_t rlen)
{
    const struct orders_ctx *ctx = opaque;
    const struct ac_order_fields *o = &ev->u.order;
    int64_t now = ac_clock_now(clock);
    if (strcmp(ev->type, "order_placed") == 0 && o->order_id[0] == '\0') {
        snprintf(reason, rlen, "missing_field:order_id");
        return AC_ERR_INVALID;
    }
    struct ac_customer before = *c;
    orders_transition(c, ev);
    const char *seg = ac_orders_segment(c, &ctx->thresholds);
    int seg_changed = strcmp(seg, before.segment) != 0;
    snprintf(c->segment, sizeof(c->segment), "%s", seg);

    for (size_t i = 0; i < ORDERS_NRULES; i++) {
        const struct orders_rule *r = &orders_rules[i];
        if (!orders_rule_triggers(r, ev, &before)) {
            continue;
        }
        struct ac_action *a = ac_emit_action(out, r->id, r->part, ev, now);
        if (!a) {
            break;
        }
        a->kind = r->kind;
        a->category = r->category;
        snprintf(a->channel, sizeof(a->channel), "%s", r->channel ? r->channel : ctx->channel);
        snprintf(a->template_name, sizeof(a->template_name), "%s", r->template_name);
        for (int v = 0; v < 6 && r->vars[v]; v++) {
            orders_var(a, r->vars[v], ctx, ev, c);
        }
        ac_action_reason_signal(a, "segment", c->segment);
        char n[24];
        snprintf(n, sizeof(n), "%lld", (long long)c->order_count);
        ac_action_reason_signal(a, "order_count", n);
    }
    if (seg_changed) {
        struct ac_signal *s = ac_emit_signal(out, "segment", ev);
        if (s) {
            snprintf(s->value, sizeof(s->value), "%s", seg);
            snprintf(s->previous, sizeof(s->previous), "%s", before.segment);
            s->score = (double)c->revenue_cents / 100.0;
        }
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
};
