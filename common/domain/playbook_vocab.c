/* playbook_vocab.c — what a playbook may name: event types (the enums in the
 * schemas directory; tests/unit/test_playbook.c checks the two stay in sync), signals and their
 * values, channels, kinds, categories, anchor dates, and the fields of the
 * condition language. */
#include <string.h>

#include "playbook_int.h"

#define VOCAB_ORDERS (1u << AC_TOPIC_ORDERS)
#define VOCAB_DELIVERIES (1u << AC_TOPIC_DELIVERIES)
#define VOCAB_FEEDBACK (1u << AC_TOPIC_FEEDBACK)
#define VOCAB_USAGE (1u << AC_TOPIC_USAGE)
#define VOCAB_ALL (VOCAB_ORDERS | VOCAB_DELIVERIES | VOCAB_FEEDBACK | VOCAB_USAGE)
#define VOCAB_N(a) (sizeof(a) / sizeof((a)[0]))

const char *const playbook_event_names[PLAYBOOK_N_EVENTS] = {
    /* orders */
    "cart_abandoned", "order_placed", "order_cancelled", "return_requested", "refund_issued",
    "contract_signed", "subscription_renewed", "subscription_cancelled",
    /* deliveries */
    "packed", "shipped", "out_for_delivery", "delivered", "delayed", "delivery_failed", "returned",
    /* feedback */
    "survey_response", "review_posted", "ticket_opened", "ticket_first_response", "ticket_resolved",
    "message_engagement", "preferences_updated",
    /* usage */
    "session", "feature_used", "milestone"};

static const signed char vocab_event_topic[PLAYBOOK_N_EVENTS] = {
    AC_TOPIC_ORDERS,     AC_TOPIC_ORDERS,     AC_TOPIC_ORDERS,     AC_TOPIC_ORDERS,
    AC_TOPIC_ORDERS,     AC_TOPIC_ORDERS,     AC_TOPIC_ORDERS,     AC_TOPIC_ORDERS,
    AC_TOPIC_DELIVERIES, AC_TOPIC_DELIVERIES, AC_TOPIC_DELIVERIES, AC_TOPIC_DELIVERIES,
    AC_TOPIC_DELIVERIES, AC_TOPIC_DELIVERIES, AC_TOPIC_DELIVERIES, AC_TOPIC_FEEDBACK,
    AC_TOPIC_FEEDBACK,   AC_TOPIC_FEEDBACK,   AC_TOPIC_FEEDBACK,   AC_TOPIC_FEEDBACK,
    AC_TOPIC_FEEDBACK,   AC_TOPIC_FEEDBACK,   AC_TOPIC_USAGE,      AC_TOPIC_USAGE,
    AC_TOPIC_USAGE};

const char *const playbook_signal_names[PLAYBOOK_N_SIGNALS] = {
    "segment",       "churn_risk", "p_alive",       "nps_class",
    "late_delivery", "sla_breach", "usage_decline", "milestone"};

static const char *const vocab_segment_values[] = {"new", "one_time", "mid_value_repeat",
                                                   "high_value_repeat", NULL};
static const char *const vocab_nps_values[] = {"promoter", "passive", "detractor", NULL};
static const char *const vocab_milestone_values[] = {"onboarding_completed", "feature_activated",
                                                     "first_value", "project_milestone", NULL};

/* Customer-facing channels first; then the team's. */
const char *const playbook_channel_names[] = {"email", "sms", "push",      "in_app",
                                              "phone", "crm", "team_chat", "ticket"};
const size_t playbook_n_channels = VOCAB_N(playbook_channel_names);
#define VOCAB_N_CUSTOMER_CHANNELS 5

const char *const playbook_anchor_names[] = {"renewal_at",
                                             "first_order_at",
                                             "last_order_at",
                                             "contract_signed_at",
                                             "customer_since",
                                             "estimated_delivery_at",
                                             "new_estimated_delivery_at",
                                             "delivery_estimate"};
const size_t playbook_n_anchors = VOCAB_N(playbook_anchor_names);

const char *const playbook_kind_names[] = {"message", "crm_update", "team_task",
                                           "team_notification"};
const size_t playbook_n_kinds = VOCAB_N(playbook_kind_names);
const char *const playbook_category_names[] = {"transactional", "marketing", "service"};
const size_t playbook_n_categories = VOCAB_N(playbook_category_names);
const char *const playbook_window_names[AC_PB_WINDOW__N] = {"reorder", "upsell", "replenish"};
const char *const playbook_day_names[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

int playbook_lookup(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (names[i] && strcmp(name, names[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int playbook_event_index(const char *type)
{
    return playbook_lookup(type, playbook_event_names, PLAYBOOK_N_EVENTS);
}

int playbook_signal_index(const char *name)
{
    return playbook_lookup(name, playbook_signal_names, PLAYBOOK_N_SIGNALS);
}

int ac_playbook_event_topic(const char *type)
{
    int i = playbook_event_index(type);
    return i < 0 ? -1 : vocab_event_topic[i];
}

int ac_playbook_is_signal(const char *name)
{
    return playbook_signal_index(name) >= 0;
}

int ac_playbook_is_channel(const char *name)
{
    return playbook_lookup(name, playbook_channel_names, playbook_n_channels) >= 0;
}

const char *const *playbook_signal_values(int signal)
{
    const char *name =
        signal >= 0 && signal < PLAYBOOK_N_SIGNALS ? playbook_signal_names[signal] : "";
    if (strcmp(name, "segment") == 0) {
        return vocab_segment_values;
    }
    if (strcmp(name, "nps_class") == 0) {
        return vocab_nps_values;
    }
    if (strcmp(name, "milestone") == 0) {
        return vocab_milestone_values;
    }
    return NULL;
}

int playbook_channel_fits(const char *channel, enum ac_action_kind kind)
{
    int i = playbook_lookup(channel, playbook_channel_names, playbook_n_channels);
    if (i < 0) {
        return 0;
    }
    switch (kind) {
    case AC_KIND_MESSAGE: return i < VOCAB_N_CUSTOMER_CHANNELS;
    case AC_KIND_CRM_UPDATE: return strcmp(channel, "crm") == 0;
    case AC_KIND_TEAM_TASK:
    case AC_KIND_TEAM_NOTIFICATION: return i >= VOCAB_N_CUSTOMER_CHANNELS;
    }
    return 0;
}

unsigned playbook_anchor_event_topics(const char *anchor)
{
    if (strcmp(anchor, "estimated_delivery_at") == 0 ||
        strcmp(anchor, "new_estimated_delivery_at") == 0 ||
        strcmp(anchor, "delivery_estimate") == 0) {
        return VOCAB_DELIVERIES;
    }
    return 0;
}

int playbook_lifecycle_stage(const char *type, enum ac_pb_scope scope)
{
    static const char *const order_life[] = {"order_placed",     "packed",    "shipped",
                                             "out_for_delivery", "delivered", "returned"};
    static const char *const ticket_life[] = {"ticket_opened", "ticket_first_response",
                                              "ticket_resolved"};
    switch (scope) {
    case AC_PB_SAME_ORDER: return playbook_lookup(type, order_life, VOCAB_N(order_life));
    case AC_PB_SAME_TICKET: return playbook_lookup(type, ticket_life, VOCAB_N(ticket_life));
    case AC_PB_SAME_CUSTOMER:
    case AC_PB_SAME_FAMILY: return -1;
    }
    return -1;
}

int playbook_event_has_scope(const char *type, enum ac_pb_scope scope)
{
    int topic = ac_playbook_event_topic(type);
    switch (scope) {
    case AC_PB_SAME_CUSTOMER: return topic >= 0;
    case AC_PB_SAME_ORDER: return topic == AC_TOPIC_ORDERS || topic == AC_TOPIC_DELIVERIES;
    case AC_PB_SAME_FAMILY: return topic == AC_TOPIC_ORDERS;
    case AC_PB_SAME_TICKET: return strncmp(type, "ticket_", 7) == 0;
    }
    return 0;
}

const char *playbook_scope_name(enum ac_pb_scope scope)
{
    switch (scope) {
    case AC_PB_SAME_CUSTOMER: return "customer";
    case AC_PB_SAME_ORDER: return "order";
    case AC_PB_SAME_FAMILY: return "family";
    case AC_PB_SAME_TICKET: return "ticket";
    }
    return "?";
}

/* --- condition fields ------------------------------------------------------------------------ */

/* One row per field: name, type, id, class, topics that set it. */
#define VOCAB_FIELDS(X)                                                                            \
    X("event.type", AC_EXPR_STR, AC_PB_F_EVENT_TYPE, PLAYBOOK_FIELD_EVENT, VOCAB_ALL)              \
    X("event.occurred_at", AC_EXPR_INT, AC_PB_F_EVENT_OCCURRED_AT, PLAYBOOK_FIELD_EVENT,           \
      VOCAB_ALL)                                                                                   \
    X("event.order_id", AC_EXPR_STR, AC_PB_F_EVENT_ORDER_ID, PLAYBOOK_FIELD_EVENT,                 \
      VOCAB_ORDERS | VOCAB_DELIVERIES)                                                             \
    X("event.total_cents", AC_EXPR_INT, AC_PB_F_EVENT_TOTAL_CENTS, PLAYBOOK_FIELD_EVENT,           \
      VOCAB_ORDERS)                                                                                \
    X("event.currency", AC_EXPR_STR, AC_PB_F_EVENT_CURRENCY, PLAYBOOK_FIELD_EVENT, VOCAB_ORDERS)   \
    X("event.n_items", AC_EXPR_INT, AC_PB_F_EVENT_N_ITEMS, PLAYBOOK_FIELD_EVENT, VOCAB_ORDERS)     \
    X("event.max_unit_price_cents", AC_EXPR_INT, AC_PB_F_EVENT_MAX_UNIT_PRICE_CENTS,               \
      PLAYBOOK_FIELD_EVENT, VOCAB_ORDERS)                                                          \
    X("event.renewal_at", AC_EXPR_INT, AC_PB_F_EVENT_RENEWAL_AT, PLAYBOOK_FIELD_EVENT,             \
      VOCAB_ORDERS)                                                                                \
    X("event.account_owner", AC_EXPR_STR, AC_PB_F_EVENT_ACCOUNT_OWNER, PLAYBOOK_FIELD_EVENT,       \
      VOCAB_ORDERS)                                                                                \
    X("event.carrier", AC_EXPR_STR, AC_PB_F_EVENT_CARRIER, PLAYBOOK_FIELD_EVENT, VOCAB_DELIVERIES) \
    X("event.estimated_delivery_at", AC_EXPR_INT, AC_PB_F_EVENT_ESTIMATED_DELIVERY_AT,             \
      PLAYBOOK_FIELD_EVENT, VOCAB_DELIVERIES)                                                      \
    X("event.new_estimated_delivery_at", AC_EXPR_INT, AC_PB_F_EVENT_NEW_ESTIMATED_DELIVERY_AT,     \
      PLAYBOOK_FIELD_EVENT, VOCAB_DELIVERIES)                                                      \
    X("event.score", AC_EXPR_INT, AC_PB_F_EVENT_SCORE, PLAYBOOK_FIELD_EVENT, VOCAB_FEEDBACK)       \
    X("event.scale", AC_EXPR_STR, AC_PB_F_EVENT_SCALE, PLAYBOOK_FIELD_EVENT, VOCAB_FEEDBACK)       \
    X("event.ticket_id", AC_EXPR_STR, AC_PB_F_EVENT_TICKET_ID, PLAYBOOK_FIELD_EVENT,               \
      VOCAB_FEEDBACK)                                                                              \
    X("event.priority", AC_EXPR_STR, AC_PB_F_EVENT_PRIORITY, PLAYBOOK_FIELD_EVENT, VOCAB_FEEDBACK) \
    X("event.is_complaint", AC_EXPR_BOOL, AC_PB_F_EVENT_IS_COMPLAINT, PLAYBOOK_FIELD_EVENT,        \
      VOCAB_FEEDBACK)                                                                              \
    X("event.engagement", AC_EXPR_STR, AC_PB_F_EVENT_ENGAGEMENT, PLAYBOOK_FIELD_EVENT,             \
      VOCAB_FEEDBACK)                                                                              \
    X("event.channel", AC_EXPR_STR, AC_PB_F_EVENT_CHANNEL, PLAYBOOK_FIELD_EVENT, VOCAB_FEEDBACK)   \
    X("event.feature", AC_EXPR_STR, AC_PB_F_EVENT_FEATURE, PLAYBOOK_FIELD_EVENT, VOCAB_USAGE)      \
    X("event.milestone", AC_EXPR_STR, AC_PB_F_EVENT_MILESTONE, PLAYBOOK_FIELD_EVENT, VOCAB_USAGE)  \
    X("event.quantity", AC_EXPR_INT, AC_PB_F_EVENT_QUANTITY, PLAYBOOK_FIELD_EVENT, VOCAB_USAGE)    \
    X("signal.name", AC_EXPR_STR, AC_PB_F_SIGNAL_NAME, PLAYBOOK_FIELD_SIGNAL, 0)                   \
    X("signal.value", AC_EXPR_STR, AC_PB_F_SIGNAL_VALUE, PLAYBOOK_FIELD_SIGNAL, 0)                 \
    X("signal.previous", AC_EXPR_STR, AC_PB_F_SIGNAL_PREVIOUS, PLAYBOOK_FIELD_SIGNAL, 0)           \
    X("customer.order_count", AC_EXPR_INT, AC_PB_F_CUSTOMER_ORDER_COUNT, VOCAB_CU, 0)              \
    X("customer.first_order_at", AC_EXPR_INT, AC_PB_F_CUSTOMER_FIRST_ORDER_AT, VOCAB_CU, 0)        \
    X("customer.last_order_at", AC_EXPR_INT, AC_PB_F_CUSTOMER_LAST_ORDER_AT, VOCAB_CU, 0)          \
    X("customer.revenue_cents", AC_EXPR_INT, AC_PB_F_CUSTOMER_REVENUE_CENTS, VOCAB_CU, 0)          \
    X("customer.aov_cents", AC_EXPR_INT, AC_PB_F_CUSTOMER_AOV_CENTS, VOCAB_CU, 0)                  \
    X("customer.open_carts", AC_EXPR_INT, AC_PB_F_CUSTOMER_OPEN_CARTS, VOCAB_CU, 0)                \
    X("customer.cancelled_orders", AC_EXPR_INT, AC_PB_F_CUSTOMER_CANCELLED_ORDERS, VOCAB_CU, 0)    \
    X("customer.returns", AC_EXPR_INT, AC_PB_F_CUSTOMER_RETURNS, VOCAB_CU, 0)                      \
    X("customer.renewal_at", AC_EXPR_INT, AC_PB_F_CUSTOMER_RENEWAL_AT, VOCAB_CU, 0)                \
    X("customer.contract_signed_at", AC_EXPR_INT, AC_PB_F_CUSTOMER_CONTRACT_SIGNED_AT, VOCAB_CU,   \
      0)                                                                                           \
    X("customer.subscription", AC_EXPR_STR, AC_PB_F_CUSTOMER_SUBSCRIPTION, VOCAB_CU, 0)            \
    X("customer.account_owner", AC_EXPR_STR, AC_PB_F_CUSTOMER_ACCOUNT_OWNER, VOCAB_CU, 0)          \
    X("customer.segment", AC_EXPR_STR, AC_PB_F_CUSTOMER_SEGMENT, VOCAB_CU, 0)                      \
    X("customer.deliveries_in_flight", AC_EXPR_INT, AC_PB_F_CUSTOMER_DELIVERIES_IN_FLIGHT,         \
      VOCAB_CU, 0)                                                                                 \
    X("customer.late_deliveries", AC_EXPR_INT, AC_PB_F_CUSTOMER_LATE_DELIVERIES, VOCAB_CU, 0)      \
    X("customer.last_score", AC_EXPR_INT, AC_PB_F_CUSTOMER_LAST_SCORE, VOCAB_CU, 0)                \
    X("customer.nps_class", AC_EXPR_STR, AC_PB_F_CUSTOMER_NPS_CLASS, VOCAB_CU, 0)                  \
    X("customer.last_survey_at", AC_EXPR_INT, AC_PB_F_CUSTOMER_LAST_SURVEY_AT, VOCAB_CU, 0)        \
    X("customer.open_tickets", AC_EXPR_INT, AC_PB_F_CUSTOMER_OPEN_TICKETS, VOCAB_CU, 0)            \
    X("customer.open_complaints", AC_EXPR_INT, AC_PB_F_CUSTOMER_OPEN_COMPLAINTS, VOCAB_CU, 0)      \
    X("customer.last_activity_at", AC_EXPR_INT, AC_PB_F_CUSTOMER_LAST_ACTIVITY_AT, VOCAB_CU, 0)    \
    X("customer.usage_trend", AC_EXPR_STR, AC_PB_F_CUSTOMER_USAGE_TREND, VOCAB_CU, 0)              \
    X("customer.onboarding_completed", AC_EXPR_BOOL, AC_PB_F_CUSTOMER_ONBOARDING_COMPLETED,        \
      VOCAB_CU, 0)                                                                                 \
    X("customer.churn_risk", AC_EXPR_STR, AC_PB_F_CUSTOMER_CHURN_RISK, VOCAB_CU, 0)                \
    X("customer.p_alive_pct", AC_EXPR_INT, AC_PB_F_CUSTOMER_P_ALIVE_PCT, VOCAB_CU, 0)              \
    X("customer.frequency_opt_in", AC_EXPR_BOOL, AC_PB_F_CUSTOMER_FREQUENCY_OPT_IN, VOCAB_CU, 0)   \
    X("customer.preferred_channel", AC_EXPR_STR, AC_PB_F_CUSTOMER_PREFERRED_CHANNEL, VOCAB_CU, 0)  \
    X("customer.timezone", AC_EXPR_STR, AC_PB_F_CUSTOMER_TIMEZONE, VOCAB_CU, 0)

#define VOCAB_CU PLAYBOOK_FIELD_CUSTOMER
#define VOCAB_EXPR_FIELD(name, type, id, klass, topics) {name, type, id},
#define VOCAB_FIELD_USE(name, type, id, klass, topics) [id] = {klass, topics},

static const struct ac_expr_field vocab_expr_fields[] = {VOCAB_FIELDS(VOCAB_EXPR_FIELD)};

static const struct {
    int klass;
    unsigned topics;
} vocab_field_use[AC_PB_F__N] = {VOCAB_FIELDS(VOCAB_FIELD_USE)};

_Static_assert(sizeof(vocab_expr_fields) / sizeof(vocab_expr_fields[0]) == AC_PB_F__N,
               "one row per enum ac_pb_field");

const struct ac_expr_field *ac_playbook_fields(size_t *n)
{
    *n = AC_PB_F__N;
    return vocab_expr_fields;
}

int playbook_field_class(int id, unsigned *topics)
{
    if (id < 0 || id >= AC_PB_F__N) {
        *topics = 0;
        return 0;
    }
    *topics = vocab_field_use[id].topics;
    return vocab_field_use[id].klass;
}
