/* customer.h — one customer's state (SPEC §3), as kept in a Redis hash.
 *
 * The struct is plain data; ac_customer_parse() and ac_customer_diff() map it
 * to and from the hash's fields through one table (customer.c), so adding a
 * field is one line there. Each processor changes only its own fields, but
 * every commit is guarded by the version field `v` (optimistic concurrency),
 * so processors of different topics may update the same customer safely. */
#ifndef AC_CUSTOMER_H
#define AC_CUSTOMER_H

#include <stdint.h>

#include "buf.h"
#include "event.h"

#define AC_FAMILIES_MAX 512
#define AC_CONSENTS_MAX 128
#define AC_SENDS_MAX 512
#define AC_EXPERIMENTS_MAX 256
/* Tickets by ticket_id (feedback.c): at most AC_TICKETS_MAX entries of a
 * 12-hex-digit hash of the id and its flags, "3f09a1c2b7e4cr,..." */
#define AC_TICKETS_MAX 8
#define AC_TICKETS_STR_MAX 136
#define AC_COOLOFFS_MAX 160

struct ac_customer {
    char customer_id[AC_ID_MAX];
    int64_t version; /* bumped by every commit */

    /* orders */
    int64_t first_order_at; /* AC_TS_NONE before the first order */
    int64_t last_order_at;
    int64_t order_count;
    int64_t revenue_cents;
    char families[AC_FAMILIES_MAX]; /* product families bought, comma-separated */
    int64_t open_carts;
    int64_t cancelled_orders;
    int64_t returns;
    int64_t refunded_cents;
    int64_t renewal_at; /* AC_TS_NONE if none */
    int64_t contract_signed_at;
    char subscription[16]; /* "", "active", "cancelled" */
    char account_owner[AC_ID_MAX];
    char segment[24]; /* new, one_time, mid_value_repeat, high_value_repeat */

    /* deliveries */
    int64_t deliveries_in_flight;
    int64_t late_deliveries;
    /* feedback */
    int64_t last_score;      /* -1 before the first survey */
    char nps_class[16];      /* promoter, passive, detractor or "" */
    int64_t last_survey_at;  /* AC_TS_NONE before the first survey */
    int64_t open_tickets;    /* open tickets, each counted once (by ticket_id) */
    int64_t open_complaints; /* the open ones that are complaints */
    /* usage */
    int64_t last_activity_at;
    char usage_trend[16];
    int64_t onboarding_completed; /* 0 or 1 */
    char milestones[128];         /* reached, comma-separated */
    /* scores (signals) */
    char churn_risk[16];
    int64_t p_alive_pct; /* -1 unknown */
    /* preferences and policy clocks (SPEC §5) */
    char consents[AC_CONSENTS_MAX]; /* explicit answers, "email=0,sms=1,push=u,*=u" (below) */
    char preferred_channel[AC_TYPE_MAX];
    char timezone[AC_NAME_MAX];
    int64_t frequency_opt_in;             /* 0 or 1 */
    char sends[AC_SENDS_MAX];             /* recent non-transactional messages, "ms:channel,..." */
    char experiments[AC_EXPERIMENTS_MAX]; /* "exp=variant@ms[+]," + marks a conversion */
    /* appended after format 1's first fields (the table is append-only) */
    char tickets[AC_TICKETS_STR_MAX]; /* recent tickets by id: hash + flags c, r, x (feedback.c) */
    char cooloffs[AC_COOLOFFS_MAX];   /* "rule=ms,...": last emission of rules with a cooloff */
};

/* Resets *c to the state of a customer never seen (segment "new"). */
void ac_customer_init(struct ac_customer *c, const char *customer_id);
/* The same for c already zeroed (a record reset zeroes it with the rest). */
void ac_customer_init_zeroed(struct ac_customer *c, const char *customer_id);

/* Average order value in cents (derived, never stored); 0 before the first order. */
int64_t ac_customer_aov_cents(const struct ac_customer *c);

/* True if family is in c->families. */
int ac_customer_has_family(const struct ac_customer *c, const char *family);
/* Adds family to the set; returns 0, or AC_ERR_INVALID if the set is full
 * (the family is then not recorded and the caller may log it). */
int ac_customer_add_family(struct ac_customer *c, const char *family);

/* Sets one field from its hash form. Unknown names are ignored (they belong
 * to other parts of the state: watermarks, a newer version's fields).
 * Returns 0, or AC_ERR_INVALID for a malformed value. */
int ac_customer_parse_field(struct ac_customer *c, const char *name, const char *value);

/* Appends to out the fields that differ between before and after, as
 * NUL-separated "name\0value\0" pairs, and returns how many pairs. */
int ac_customer_diff(const struct ac_customer *before, const struct ac_customer *after,
                     struct ac_buf *out);

/* Consent by purpose (SPEC §5). c->consents holds the customer's answers,
 * one per channel: "1" granted and "0" refused (preferences_updated: the
 * channel for every purpose), "u" unsubscribed (an unsubscribe or a spam
 * complaint on that channel: the purposes of the playbook's
 * consent.unsubscribe, marketing by default), and "*=u" an unsubscribe
 * without a channel (every channel without an answer of its own). No answer
 * is consent. unsub_categories is the bit set (1u << enum ac_category) an
 * unsubscribe stops; transactional is never in it. Returns 1 if channel may
 * carry a message of category. */
int ac_customer_consented(const struct ac_customer *c, const char *channel,
                          enum ac_category category, unsigned unsub_categories);

struct ac_wire;

/* Compact encoding (part of the customer record, record.h): the fields that
 * differ from a new customer's, each as a varint key and its value, then a
 * 0. Appends to out. Returns 0 or AC_ERR_NOMEM. */
int ac_customer_encode(const struct ac_customer *c, struct ac_buf *out);
/* Reads what ac_customer_encode wrote (fields of a newer version are
 * skipped). Returns 0 or AC_ERR_INVALID. */
int ac_customer_decode(struct ac_customer *c, const char *customer_id, struct ac_wire *r);

/* One field by its short name ("o.count", "seg", "v" ...) as text; "" for
 * an absent timestamp. Returns 0 or AC_ERR_NOTFOUND. */
int ac_customer_field(const struct ac_customer *c, const char *name, char *out, size_t outlen);

/* Writes the state as one JSON object (for `aftercare inspect` and tests). */
int ac_customer_to_json(const struct ac_customer *c, struct ac_buf *out);

#endif
