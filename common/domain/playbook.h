/* playbook.h — the playbook: rules, product families, policies, experiments.
 *
 * A playbook is a YAML file (reference: deploy/playbooks/README.md) loaded
 * once into an immutable in-memory form. Loading collects every error, each
 * as "file:line:column: message" with the 1-based position of the offending
 * key or value, and returns NULL if there was any; a process refuses to
 * start on a bad playbook, and a SIGHUP reload keeps the old one.
 *
 * Everything reachable from a struct ac_playbook is owned by it, read-only,
 * and lives until ac_playbook_destroy(): the accessors below never allocate
 * and may be called from any number of threads at once. A reload builds a
 * new playbook and swaps the pointer; the old one is destroyed when no
 * evaluation uses it any more.
 *
 * Durations are int64 milliseconds throughout; times of day are minutes
 * after local midnight (0..1439) in the customer's time zone. */
#ifndef AC_PLAYBOOK_H
#define AC_PLAYBOOK_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "expr.h"

#define AC_PB_MINUTE_MS 60000LL
#define AC_PB_HOUR_MS (60 * AC_PB_MINUTE_MS)
#define AC_PB_DAY_MS (24 * AC_PB_HOUR_MS)
#define AC_PB_YEAR_MS (365 * AC_PB_DAY_MS)
#define AC_PB_DURATION_MAX (100 * AC_PB_YEAR_MS) /* longest duration accepted: 100y */

/* --- conditions ----------------------------------------------------------------------------- */

/* Field ids of the condition language (expr.h) as the playbook declares
 * them; an evaluator's get() switches on these. The table with names and
 * types is ac_playbook_fields(). event.* fields are null when the event
 * does not carry them; signal.* fields exist only for signal triggers. */
enum ac_pb_field {
    /* the triggering (or cancelling) event */
    AC_PB_F_EVENT_TYPE = 0,
    AC_PB_F_EVENT_OCCURRED_AT,
    AC_PB_F_EVENT_ORDER_ID,
    AC_PB_F_EVENT_TOTAL_CENTS,
    AC_PB_F_EVENT_CURRENCY,
    AC_PB_F_EVENT_N_ITEMS,
    AC_PB_F_EVENT_MAX_UNIT_PRICE_CENTS,
    AC_PB_F_EVENT_RENEWAL_AT,
    AC_PB_F_EVENT_ACCOUNT_OWNER,
    AC_PB_F_EVENT_CARRIER,
    AC_PB_F_EVENT_ESTIMATED_DELIVERY_AT,
    AC_PB_F_EVENT_NEW_ESTIMATED_DELIVERY_AT,
    AC_PB_F_EVENT_SCORE,
    AC_PB_F_EVENT_SCALE,
    AC_PB_F_EVENT_TICKET_ID,
    AC_PB_F_EVENT_PRIORITY,
    AC_PB_F_EVENT_IS_COMPLAINT,
    AC_PB_F_EVENT_ENGAGEMENT,
    AC_PB_F_EVENT_CHANNEL,
    AC_PB_F_EVENT_FEATURE,
    AC_PB_F_EVENT_MILESTONE,
    AC_PB_F_EVENT_QUANTITY,
    /* the signal of a signal trigger */
    AC_PB_F_SIGNAL_NAME,
    AC_PB_F_SIGNAL_VALUE,
    AC_PB_F_SIGNAL_PREVIOUS,
    /* the customer's state (SPEC §3), after the event was applied */
    AC_PB_F_CUSTOMER_ORDER_COUNT,
    AC_PB_F_CUSTOMER_FIRST_ORDER_AT,
    AC_PB_F_CUSTOMER_LAST_ORDER_AT,
    AC_PB_F_CUSTOMER_REVENUE_CENTS,
    AC_PB_F_CUSTOMER_AOV_CENTS,
    AC_PB_F_CUSTOMER_OPEN_CARTS,
    AC_PB_F_CUSTOMER_CANCELLED_ORDERS,
    AC_PB_F_CUSTOMER_RETURNS,
    AC_PB_F_CUSTOMER_RENEWAL_AT,
    AC_PB_F_CUSTOMER_CONTRACT_SIGNED_AT,
    AC_PB_F_CUSTOMER_SUBSCRIPTION,
    AC_PB_F_CUSTOMER_ACCOUNT_OWNER,
    AC_PB_F_CUSTOMER_SEGMENT,
    AC_PB_F_CUSTOMER_DELIVERIES_IN_FLIGHT,
    AC_PB_F_CUSTOMER_LATE_DELIVERIES,
    AC_PB_F_CUSTOMER_LAST_SCORE,
    AC_PB_F_CUSTOMER_NPS_CLASS,
    AC_PB_F_CUSTOMER_LAST_SURVEY_AT,
    AC_PB_F_CUSTOMER_OPEN_TICKETS,
    AC_PB_F_CUSTOMER_OPEN_COMPLAINTS,
    AC_PB_F_CUSTOMER_LAST_ACTIVITY_AT,
    AC_PB_F_CUSTOMER_USAGE_TREND,
    AC_PB_F_CUSTOMER_ONBOARDING_COMPLETED,
    AC_PB_F_CUSTOMER_CHURN_RISK,
    AC_PB_F_CUSTOMER_P_ALIVE_PCT,
    AC_PB_F_CUSTOMER_FREQUENCY_OPT_IN,
    AC_PB_F_CUSTOMER_PREFERRED_CHANNEL,
    AC_PB_F_CUSTOMER_TIMEZONE,
    AC_PB_F__N
};

/* The field table handed to ac_expr_new() (static; *n set to its length). */
const struct ac_expr_field *ac_playbook_fields(size_t *n);

/* A condition as written, with the position of its first character, and its
 * compiled program (never NULL in a loaded playbook). */
struct ac_pb_cond {
    const char *text;
    int line, column;
    const struct ac_expr *expr;
};

/* --- rules ----------------------------------------------------------------------------------- */

enum ac_pb_source { AC_PB_EVENT = 0, AC_PB_SIGNAL };

/* A trigger or a cancelling occurrence: an input event type, or a signal
 * (optionally only to some values). */
struct ac_pb_trigger {
    enum ac_pb_source source;
    const char *name;          /* event type ("order_placed") or signal ("nps_class") */
    int topic;                 /* enum ac_topic of an event type; -1 for a signal */
    const char *const *values; /* signal values that match; n_values == 0: any */
    size_t n_values;
};

/* What must match between a cancelling event and the rule's trigger. */
enum ac_pb_scope {
    AC_PB_SAME_CUSTOMER = 0, /* any such event of the customer */
    AC_PB_SAME_ORDER,        /* same order_id */
    AC_PB_SAME_FAMILY,       /* an order with an item of the pending action's product family */
    AC_PB_SAME_TICKET,       /* same ticket_id */
};

struct ac_pb_cancel {
    struct ac_pb_trigger on;
    enum ac_pb_scope same;
    const struct ac_pb_cond *when; /* NULL: always */
};

enum ac_pb_timing_kind {
    AC_PB_TIMING_IMMEDIATE = 0, /* at the trigger */
    AC_PB_TIMING_DELAY,         /* trigger's occurred_at + delay_ms */
    AC_PB_TIMING_ANCHOR,        /* the anchor date + delay_ms (may be negative) */
    AC_PB_TIMING_FAMILY,        /* trigger + the family table's window (see families) */
    AC_PB_TIMING_EVERY,         /* every delay_ms after the trigger, until cancelled/exited */
};

enum ac_pb_window_kind { AC_PB_REORDER = 0, AC_PB_UPSELL, AC_PB_REPLENISH, AC_PB_WINDOW__N };

struct ac_pb_timing {
    enum ac_pb_timing_kind kind;
    int64_t delay_ms;                     /* DELAY, ANCHOR (offset), EVERY (period); 0 otherwise */
    const char *anchor;                   /* ANCHOR: renewal_at, first_order_at, ... */
    enum ac_pb_window_kind family_window; /* FAMILY */
    int business_clock; /* DELAY: counts business hours only ("15 business minutes") */
};

enum ac_pb_hours {
    AC_PB_HOURS_ANY = 0, /* any time of day */
    AC_PB_HOURS_QUIET,   /* not in the policies' quiet hours */
    AC_PB_HOURS_BUSINESS /* only in the policies' business hours */
};

/* A time-of-day window on some days of the week, in the customer's zone.
 * from > to wraps midnight (21:00-08:00). days: bit 0 = Monday .. bit 6 = Sunday. */
struct ac_pb_daywin {
    int from_min, to_min;
    unsigned days;
};

enum ac_pb_blocked { AC_PB_DEFER = 0, AC_PB_DROP };

struct ac_pb_var {
    const char *name;
    const char *value; /* a literal, or NULL: the processor fills it from its context */
};

/* One action a rule emits. A rule with offsets [-90d, -30d, -7d] has three
 * actions; part is the action's index in its rule (part of the action id). */
struct ac_pb_action {
    int part;
    const struct ac_pb_cond *when; /* NULL: always */
    enum ac_action_kind kind;
    enum ac_category category;
    const char *const *channels; /* in order of preference (>= 1) */
    size_t n_channels;
    const char *template_name;
    const struct ac_pb_var *vars;
    size_t n_vars;
    struct ac_pb_timing timing;
    int64_t expires_ms; /* after the due time; 0: never expires */
    enum ac_pb_hours hours;
    const struct ac_pb_daywin *window; /* the rule's own send window, NULL: none */
    enum ac_pb_blocked on_blocked;     /* when a policy blocks it */
    int64_t defer_max_ms;              /* DEFER: longest deferral, then drop ("expired") */
};

struct ac_pb_experiment;

struct ac_pb_rule {
    const char *id;
    const char *description; /* "" if none */
    int line;                /* where the rule starts in the file */
    const struct ac_pb_trigger *triggers;
    size_t n_triggers;
    const struct ac_pb_cond *when;          /* NULL: always */
    const struct ac_pb_cond *exit_when;     /* pending actions are dropped once true */
    const struct ac_pb_cond *suppress_when; /* the rule's own suppression, NULL: none */
    const struct ac_pb_cancel *cancel_on;
    size_t n_cancel_on;
    const struct ac_pb_action *actions;
    size_t n_actions;
    const struct ac_pb_experiment *experiment; /* NULL: none */
    int64_t cooloff_ms; /* > 0: no emission within this long of the rule's last one */
    /* NULL: none. Else the signal (and its value) emitted when one of the
     * rule's actions first comes due and still applies (not expired,
     * exited or out of conditions), whatever the policies then decide. */
    const char *signal;
    const char *signal_value;
};

/* --- families, policies, experiments -----------------------------------------------------------
 */

struct ac_pb_family {
    const char *name; /* "default" for the fallback row */
    int64_t window_ms[AC_PB_WINDOW__N];
    int64_t extended_ms[AC_PB_WINDOW__N]; /* items priced above the threshold */
    const char *const *cross_sell;
    size_t n_cross_sell;
};

struct ac_pb_cap {
    const char *channel; /* NULL: all channels */
    int max;             /* messages ... */
    int64_t per_ms;      /* ... per this rolling period */
};

struct ac_pb_suppression {
    const char *id; /* the reason code of what it suppresses */
    struct ac_pb_cond when;
    unsigned categories; /* bit (1u << enum ac_category) for each category it applies to */
};

struct ac_pb_policies {
    const char *timezone;          /* IANA zone used when the customer has none */
    struct ac_pb_cap cap;          /* non-transactional messages, all channels */
    struct ac_pb_cap cap_opted_in; /* the same for customers who opted in to more */
    unsigned cap_categories;       /* bit (1u << enum ac_category) of the capped categories */
    const struct ac_pb_cap *channel_caps;
    size_t n_channel_caps;
    struct ac_pb_daywin quiet_hours;
    struct ac_pb_daywin business_hours;
    /* Whose hours: team work (team tasks and notifications, and their
     * business-clock delays) follows the team's zone and hours; messages to
     * the customer follow the customer's zone. */
    const char *team_timezone;       /* default: timezone */
    struct ac_pb_daywin team_hours;  /* default: business_hours */
    int require_consent;             /* only consented channels */
    unsigned unsubscribe_categories; /* bit (1u << enum ac_category) an unsubscribe stops */
    int prefer_customer_channel;     /* the customer's preferred channel first */
    int64_t max_defer_ms;            /* defer bound of rules that set none */
    const struct ac_pb_suppression *suppressions; /* global: apply to every rule */
    size_t n_suppressions;
};

struct ac_pb_variant {
    const char *name;
    int weight;                /* percent */
    const char *template_name; /* NULL: the rule's template */
};

struct ac_pb_experiment {
    const char *id;
    const struct ac_pb_variant *variants;
    size_t n_variants;
    int holdout;               /* percent; holdout + weights == 100 */
    const char *outcome_event; /* event type that counts as a conversion */
    int64_t outcome_window_ms; /* counted if within this long after the assignment */
};

/* --- loading --------------------------------------------------------------------------------- */

struct ac_playbook; /* opaque */

/* One error. file is the path given to the loader; text is the whole
 * "file:line:column: message" line. All strings are borrowed for the
 * duration of the callback. */
struct ac_pb_diag {
    const char *file;
    int line, column;
    const char *message;
    const char *text;
};

/* Loads and validates the playbook at path. Every error is handed to fn
 * (may be NULL), sorted by position; returns NULL if there was any, else the
 * playbook, owned by the caller (ac_playbook_destroy()). */
struct ac_playbook *ac_playbook_load(const char *path,
                                     void (*fn)(const struct ac_pb_diag *diag, void *opaque),
                                     void *opaque);

/* The same from memory; name is used as the file in messages. */
struct ac_playbook *ac_playbook_load_buffer(const char *name, const char *text, size_t len,
                                            void (*fn)(const struct ac_pb_diag *diag, void *opaque),
                                            void *opaque);

/* Frees the playbook and everything it owns; NULL is a no-op. */
void ac_playbook_destroy(struct ac_playbook *pb);

/* --- reading (borrowed pointers, valid until ac_playbook_destroy()) -------------------------- */

size_t ac_playbook_rule_count(const struct ac_playbook *pb);
const struct ac_pb_rule *ac_playbook_rule(const struct ac_playbook *pb, size_t i);
const struct ac_pb_rule *ac_playbook_rule_find(const struct ac_playbook *pb, const char *id);

/* Rules triggered by an event type / a signal, in file order; *n set to
 * their number (0 and NULL for an unknown or unused name). */
const struct ac_pb_rule *const *ac_playbook_rules_for_event(const struct ac_playbook *pb,
                                                            const char *type, size_t *n);
const struct ac_pb_rule *const *ac_playbook_rules_for_signal(const struct ac_playbook *pb,
                                                             const char *signal, size_t *n);
/* Rules with a cancel_on entry for this event type (their pending actions
 * must be checked when it arrives). */
const struct ac_pb_rule *const *ac_playbook_rules_cancelled_by(const struct ac_playbook *pb,
                                                               const char *type, size_t *n);

/* The row of family (the "default" row if the family is not in the table). */
const struct ac_pb_family *ac_playbook_family(const struct ac_playbook *pb, const char *family);
size_t ac_playbook_family_count(const struct ac_playbook *pb);
const struct ac_pb_family *ac_playbook_family_at(const struct ac_playbook *pb, size_t i);
int64_t ac_playbook_price_threshold_cents(const struct ac_playbook *pb);
/* The delay of window w for an item of family priced unit_price_cents:
 * the extended window above the price threshold. */
int64_t ac_playbook_family_window(const struct ac_playbook *pb, const char *family,
                                  enum ac_pb_window_kind w, int64_t unit_price_cents);

const struct ac_pb_policies *ac_playbook_policies(const struct ac_playbook *pb);

size_t ac_playbook_experiment_count(const struct ac_playbook *pb);
const struct ac_pb_experiment *ac_playbook_experiment(const struct ac_playbook *pb, size_t i);
const struct ac_pb_experiment *ac_playbook_experiment_find(const struct ac_playbook *pb,
                                                           const char *id);

/* The path or name it was loaded from. */
const char *ac_playbook_name(const struct ac_playbook *pb);

/* --- vocabulary and helpers ------------------------------------------------------------------ */

/* Parses "15m", "24h", "7d", "1y" (= 365d), "30s", "2w", "0"; a leading '-'
 * only if allow_negative. Returns 0 with *ms set, or AC_ERR_INVALID with why
 * filled ("unknown unit 'x' ...", "out of range ..."). */
int ac_playbook_duration_parse(const char *s, int allow_negative, int64_t *ms, char *why,
                               size_t whylen);
/* The topic of an event type (enum ac_topic), or -1 if there is none. */
int ac_playbook_event_topic(const char *type);
/* 1 if name is a known signal. */
int ac_playbook_is_signal(const char *name);
/* 1 if name is a known channel. */
int ac_playbook_is_channel(const char *name);
/* 1 if the daywin contains minute-of-day m on weekday wd (0 = Monday). */
int ac_playbook_daywin_contains(const struct ac_pb_daywin *w, int wd, int m);

#endif
