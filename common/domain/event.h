/* event.h — the in-memory form of the contracts in schemas/.
 *
 * Plain structs with bounded buffers: a value that does not fit is invalid
 * input (DLQ reason "too_long:<field>"), never truncated silently. Every
 * string is NUL-terminated; an absent nullable string is "" and an absent
 * nullable timestamp is AC_TS_NONE. */
#ifndef AC_EVENT_H
#define AC_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AC_TS_NONE INT64_MIN

#define AC_ID_MAX 128    /* event_id, customer_id, order_id, ticket_id ... */
#define AC_NAME_MAX 64   /* sku, family, category, carrier, feature ... */
#define AC_TYPE_MAX 32   /* enum symbols */
#define AC_TEXT_MAX 1024 /* comment, detail, tracking_url */
#define AC_MAX_ITEMS 64  /* order lines */
#define AC_MAX_KV 16     /* map entries (answers, consents, vars) */
#define AC_KV_KEY_MAX 64
#define AC_KV_VAL_MAX 256

enum ac_topic {
    AC_TOPIC_ORDERS = 0,
    AC_TOPIC_DELIVERIES,
    AC_TOPIC_FEEDBACK,
    AC_TOPIC_USAGE,
    AC_TOPIC__N
};

/* "orders", ... ; NULL for an out-of-range value. */
const char *ac_topic_name(enum ac_topic t);
/* Returns the topic or -1. */
int ac_topic_from_name(const char *name);

struct ac_kv {
    char key[AC_KV_KEY_MAX];
    char value[AC_KV_VAL_MAX];
};

struct ac_item {
    char sku[AC_NAME_MAX];
    char product_family[AC_NAME_MAX];
    char category[AC_NAME_MAX];
    int64_t unit_price_cents;
    int32_t quantity;
};

struct ac_order_fields {
    char order_id[AC_ID_MAX];
    int64_t total_cents;
    char currency[8];
    struct ac_item items[AC_MAX_ITEMS];
    int n_items;
    int64_t renewal_at; /* ms, AC_TS_NONE if null */
    char account_owner[AC_ID_MAX];
};

struct ac_delivery_fields {
    char order_id[AC_ID_MAX];
    char carrier[AC_NAME_MAX];
    char tracking_url[AC_TEXT_MAX];
    int64_t estimated_delivery_at;
    int64_t new_estimated_delivery_at;
};

struct ac_feedback_fields {
    int32_t score;           /* -1 if null */
    char scale[AC_TYPE_MAX]; /* "csat_5", "nps_10" or "" */
    struct ac_kv answers[AC_MAX_KV];
    int n_answers;
    char comment[AC_TEXT_MAX];
    char ticket_id[AC_ID_MAX];
    char priority[AC_TYPE_MAX];
    bool is_complaint;
    char action_id[AC_ID_MAX];
    char engagement[AC_TYPE_MAX];
    char channel[AC_TYPE_MAX];
    struct ac_kv consents[AC_MAX_KV]; /* value "true"/"false" */
    int n_consents;
    char preferred_channel[AC_TYPE_MAX];
    char timezone[AC_NAME_MAX];
    int32_t frequency_opt_in; /* -1 if null */
};

struct ac_usage_fields {
    char feature[AC_NAME_MAX];
    char milestone[AC_TYPE_MAX];
    char detail[AC_TEXT_MAX];
    int64_t quantity;
};

/* One input event; the envelope is common, the body depends on topic. */
struct ac_event {
    enum ac_topic topic;
    char event_id[AC_ID_MAX];
    char customer_id[AC_ID_MAX];
    char type[AC_TYPE_MAX]; /* enum symbol, e.g. "order_placed" */
    int type_index;         /* its index in the topic's enum */
    int64_t occurred_at;    /* ms since epoch, UTC */
    union {
        struct ac_order_fields order;
        struct ac_delivery_fields delivery;
        struct ac_feedback_fields feedback;
        struct ac_usage_fields usage;
    } u;
};

enum ac_action_kind {
    AC_KIND_MESSAGE = 0,
    AC_KIND_CRM_UPDATE,
    AC_KIND_TEAM_TASK,
    AC_KIND_TEAM_NOTIFICATION,
};

enum ac_category {
    AC_CAT_TRANSACTIONAL = 0,
    AC_CAT_MARKETING,
    AC_CAT_SERVICE,
};

const char *ac_kind_name(enum ac_action_kind k);
const char *ac_category_name(enum ac_category c);

#define AC_ACTION_ID_MAX 40
#define AC_MAX_REASON_SIGNALS 8

/* One record of aftercare.actions. */
struct ac_action {
    char action_id[AC_ACTION_ID_MAX]; /* 32 hex digits */
    char customer_id[AC_ID_MAX];
    char rule_id[AC_NAME_MAX];
    enum ac_action_kind kind;
    enum ac_category category;
    char channel[AC_TYPE_MAX];
    char template_name[AC_NAME_MAX];
    struct ac_kv vars[AC_MAX_KV];
    int n_vars;
    int64_t not_before;           /* ms */
    int64_t expires_at;           /* ms, AC_TS_NONE if none */
    char experiment[AC_NAME_MAX]; /* "" if none */
    char variant[AC_TYPE_MAX];    /* "" if none */
    char trigger_event_id[AC_ID_MAX];
    char trigger_type[AC_TYPE_MAX];
    struct ac_kv signals[AC_MAX_REASON_SIGNALS]; /* signal values that decided it */
    int n_signals;
    int64_t created_at; /* ms */
};

/* One record of aftercare.signals. */
struct ac_signal {
    char signal_id[AC_ACTION_ID_MAX]; /* deterministic, for the outbox */
    char customer_id[AC_ID_MAX];
    char signal[AC_TYPE_MAX]; /* segment, churn_risk, p_alive, nps_class, ... */
    char value[AC_NAME_MAX];
    double score;
    char previous[AC_NAME_MAX]; /* "" if none */
    int64_t occurred_at;
    char cause_event_id[AC_ID_MAX];
};

#endif
