/* playbook_int.h — internals shared by the playbook_*.c files.
 *
 * Private to the playbook module: other modules include playbook.h only and
 * never see libyaml types.
 *
 *   playbook.c         loading entry points, errors, indexes, accessors
 *   playbook_yaml.c    YAML node helpers: typed scalars, mappings with known keys,
 *                      durations, times of day, did-you-mean, the arena
 *   playbook_vocab.c   the vocabulary: event types, signals, channels, anchors,
 *                      kinds, categories, condition fields
 *   playbook_cond.c    conditions: the one place that calls the expr parser
 *   playbook_rules.c   rules: triggers, conditions, cancel_on, experiment reference
 *   playbook_action.c  a rule's actions: channels, template, timing, expiry, hours,
 *                      window, on_blocked
 *   playbook_policy.c  policies, global suppressions, families, experiments */
#ifndef AC_PLAYBOOK_INT_H
#define AC_PLAYBOOK_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "playbook.h"

#define PLAYBOOK_MAX_ERRORS 200

/* The vocabulary's sizes (playbook_vocab.c). */
#define PLAYBOOK_N_EVENTS 25
#define PLAYBOOK_N_SIGNALS 8

struct playbook_chunk {
    struct playbook_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

struct ac_playbook {
    char *name;
    struct playbook_chunk *arena; /* every struct and string below */
    struct ac_expr **exprs;       /* compiled conditions, heap (expr.h) */
    size_t n_exprs, cap_exprs;

    struct ac_pb_rule *rules;
    size_t n_rules;
    struct ac_pb_family *families; /* [0] is the "default" row */
    size_t n_families;
    int64_t price_threshold_cents;
    struct ac_pb_policies policies;
    struct ac_pb_experiment *experiments;
    size_t n_experiments;

    /* indexes, by the vocabulary's event / signal index */
    const struct ac_pb_rule **by_event[PLAYBOOK_N_EVENTS];
    size_t n_by_event[PLAYBOOK_N_EVENTS];
    const struct ac_pb_rule **by_signal[PLAYBOOK_N_SIGNALS];
    size_t n_by_signal[PLAYBOOK_N_SIGNALS];
    const struct ac_pb_rule **cancel_by_event[PLAYBOOK_N_EVENTS];
    size_t n_cancel_by_event[PLAYBOOK_N_EVENTS];
    /* rules by id: open addressing on FNV-1a, rule index + 1, 0 = empty */
    uint32_t *by_id;
    size_t by_id_mask;
};

struct playbook_diag {
    int line, column;
    size_t seq; /* report order, for a stable sort */
    char *message;
};

struct playbook_loader {
    const char *file;
    yaml_document_t doc;
    struct ac_playbook *pb;
    struct playbook_diag *diags;
    size_t n_diags, cap_diags;
    int oom;
};

/* --- playbook_yaml.c ------------------------------------------------------------------------- */

/* Zeroed memory from the playbook's arena; NULL (and ld->oom) on failure. */
void *playbook_alloc(struct playbook_loader *ld, size_t size);
const char *playbook_strdup(struct playbook_loader *ld, const char *s);

/* Records an error at a node's start / at a 1-based position. */
void playbook_error(struct playbook_loader *ld, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void playbook_error_at(struct playbook_loader *ld, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void playbook_verror_at(struct playbook_loader *ld, int line, int column, const char *fmt,
                        va_list ap) __attribute__((format(printf, 4, 0)));

int playbook_line(const yaml_node_t *node);
int playbook_column(const yaml_node_t *node);

const yaml_node_t *playbook_node(struct playbook_loader *ld, yaml_node_item_t item);

/* The node's text if it is a scalar; else an error "<what> must be a string"
 * and NULL. */
const char *playbook_scalar(struct playbook_loader *ld, const yaml_node_t *node, const char *what);

/* Checks that node is a mapping whose keys are all in keys[0..n-1]; stores
 * each value (and key) node in values[i] / key_nodes[i] (NULL if absent;
 * key_nodes may be NULL). Unknown keys (with did-you-mean) and duplicate
 * keys are errors. Returns 0, or -1 if node is not a mapping. */
int playbook_map(struct playbook_loader *ld, const yaml_node_t *node, const char *what,
                 const char *const *keys, size_t n, const yaml_node_t **values,
                 const yaml_node_t **key_nodes);

/* The items of a sequence, or the node itself as a one-item list if it is
 * not a sequence (when scalar_ok). Returns the count, or -1 with an error. */
long playbook_list(struct playbook_loader *ld, const yaml_node_t *node, const char *what,
                   int scalar_ok);
const yaml_node_t *playbook_list_at(struct playbook_loader *ld, const yaml_node_t *node, long i);

/* Typed scalars; each returns 0, or -1 after recording an error at node. */
int playbook_duration(struct playbook_loader *ld, const yaml_node_t *node, const char *what,
                      int allow_negative, int64_t *ms);
int playbook_int(struct playbook_loader *ld, const yaml_node_t *node, const char *what, int64_t min,
                 int64_t max, int64_t *out);
int playbook_bool(struct playbook_loader *ld, const yaml_node_t *node, const char *what, int *out);
int playbook_time_of_day(struct playbook_loader *ld, const yaml_node_t *node, const char *what,
                         int *minutes);
/* An identifier: [a-z0-9_]+, starting with a letter. */
const char *playbook_ident(struct playbook_loader *ld, const yaml_node_t *node, const char *what);

/* The closest of cands to word (edit distance <= 2 and < half its length),
 * or NULL. */
const char *playbook_suggest(const char *word, const char *const *cands, size_t n);
/* Formats " (did you mean 'x'?)" or "" into buf. */
const char *playbook_did_you_mean(const char *word, const char *const *cands, size_t n, char *buf,
                                  size_t len);

/* --- playbook_vocab.c ------------------------------------------------------------------------ */

extern const char *const playbook_event_names[PLAYBOOK_N_EVENTS];
extern const char *const playbook_signal_names[PLAYBOOK_N_SIGNALS];
extern const char *const playbook_channel_names[];
extern const size_t playbook_n_channels;
extern const char *const playbook_anchor_names[];
extern const size_t playbook_n_anchors;
extern const char *const playbook_kind_names[]; /* by enum ac_action_kind */
extern const size_t playbook_n_kinds;
extern const char *const playbook_category_names[]; /* by enum ac_category */
extern const size_t playbook_n_categories;
extern const char *const playbook_window_names[AC_PB_WINDOW__N];
extern const char *const playbook_day_names[7];

int playbook_event_index(const char *type);
int playbook_signal_index(const char *name);
/* Known values of a signal, NULL-terminated; NULL if any value is allowed. */
const char *const *playbook_signal_values(int signal);
int playbook_lookup(const char *name, const char *const *names, size_t n);

/* 1 if channel may carry an action of kind. */
int playbook_channel_fits(const char *channel, enum ac_action_kind kind);
/* Topics (bit per enum ac_topic) whose events carry an anchor date; 0 when
 * it comes from the customer's state (available to every trigger). */
unsigned playbook_anchor_event_topics(const char *anchor);
/* The ordinal of an event type in the life of one order / ticket, or -1. */
int playbook_lifecycle_stage(const char *type, enum ac_pb_scope scope);
/* 1 if events of this type carry the scope's key (order_id, items, ticket_id). */
int playbook_event_has_scope(const char *type, enum ac_pb_scope scope);
const char *playbook_scope_name(enum ac_pb_scope scope);

/* Where a field id may be used: PLAYBOOK_FIELD_EVENT with the topics (bit
 * per enum ac_topic) that set it, PLAYBOOK_FIELD_SIGNAL or _CUSTOMER. */
#define PLAYBOOK_FIELD_EVENT 1
#define PLAYBOOK_FIELD_SIGNAL 2
#define PLAYBOOK_FIELD_CUSTOMER 3
int playbook_field_class(int id, unsigned *topics);

/* --- playbook_cond.c ------------------------------------------------------------------------- */

/* What a condition can see. */
struct playbook_cond_ctx {
    const char *where;   /* for messages: "when", "exit_when", ... */
    int event_ok;        /* event.* available */
    int signal_ok;       /* signal.* available */
    unsigned topics;     /* the topics whose events can be `event` (bit per enum ac_topic) */
    const char *why_not; /* why event.* / signal.* are not available, for messages */
};

/* Compiles the condition in node; NULL (with errors) if it is not valid. */
const struct ac_pb_cond *playbook_cond(struct playbook_loader *ld, const yaml_node_t *node,
                                       const struct playbook_cond_ctx *ctx);
/* The same into caller's storage; returns 0 or -1. */
int playbook_cond_init(struct playbook_loader *ld, const yaml_node_t *node,
                       const struct playbook_cond_ctx *ctx, struct ac_pb_cond *cond);

/* --- playbook_rules.c, playbook_action.c ---------------------------------------------------- */

/* Keys an action may set; on a rule they are the defaults of its actions
 * (all but PLAYBOOK_A_WHEN, which is the rule's own `when` there). */
enum playbook_akey {
    PLAYBOOK_A_KIND = 0,
    PLAYBOOK_A_CATEGORY,
    PLAYBOOK_A_CHANNEL,
    PLAYBOOK_A_TEMPLATE,
    PLAYBOOK_A_VARS,
    PLAYBOOK_A_TIMING,
    PLAYBOOK_A_EXPIRES,
    PLAYBOOK_A_HOURS,
    PLAYBOOK_A_WINDOW,
    PLAYBOOK_A_ON_BLOCKED,
    PLAYBOOK_A_PRIORITY,
    PLAYBOOK_A_MERGE,
    PLAYBOOK_A_WHEN,
    PLAYBOOK_A__N
};

extern const char *const playbook_action_keys[PLAYBOOK_A__N];

/* A rule's triggers, summarised for the checks. */
struct playbook_triggers {
    const struct ac_pb_trigger *t;
    size_t n;
    int any_event, any_signal;
    unsigned topics; /* bit per enum ac_topic of the event triggers */
};

/* Builds r->actions: rv[0 .. PLAYBOOK_A_WHEN - 1] are the rule-level values
 * of the action keys (the defaults), list the rule's `actions:` (NULL: one
 * action from the defaults), node the rule (for positions). One action per
 * spec and listed delay or offset. Returns 0 or -1. */
int playbook_actions(struct playbook_loader *ld, const yaml_node_t *const *rv,
                     const yaml_node_t *list, const yaml_node_t *node,
                     const struct playbook_triggers *rt, struct ac_pb_rule *r);

/* --- playbook_policy.c, playbook_rules.c ----------------------------------------------------- */

void playbook_load_policies(struct playbook_loader *ld, const yaml_node_t *node);
void playbook_load_suppressions(struct playbook_loader *ld, const yaml_node_t *node);
void playbook_load_families(struct playbook_loader *ld, const yaml_node_t *node);
void playbook_load_experiments(struct playbook_loader *ld, const yaml_node_t *node);
void playbook_load_rules(struct playbook_loader *ld, const yaml_node_t *node);
/* Parses "mon" .. "sun" lists into a day mask; returns 0 or -1. */
int playbook_days(struct playbook_loader *ld, const yaml_node_t *node, unsigned *days);
/* A {from, to, days} window; returns 0 or -1. */
int playbook_daywin(struct playbook_loader *ld, const yaml_node_t *node, const char *what,
                    int days_ok, struct ac_pb_daywin *w);
/* Minutes of the week in both windows (a.days/b.days respected). */
int playbook_daywin_overlap(const struct ac_pb_daywin *a, const struct ac_pb_daywin *b);

#endif
