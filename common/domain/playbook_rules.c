/* playbook_rules.c — rules: triggers, conditions, cancel_on, actions and
 * their timing, with the semantic checks that need the whole rule (a
 * cancel_on that can never happen, a window that can never open, a defer
 * bound past the expiry, an anchor the trigger never sets). */
#include <stdio.h>
#include <string.h>

#include "playbook_int.h"

#define RULES_N(a) (sizeof(a) / sizeof((a)[0]))

enum rules_rkey {
    RULES_ID = PLAYBOOK_A__N - 1, /* rule keys: the action keys but "when", then these */
    RULES_DESCRIPTION,
    RULES_TRIGGER,
    RULES_WHEN,
    RULES_EXIT_WHEN,
    RULES_SUPPRESS_WHEN,
    RULES_CANCEL_ON,
    RULES_EXPERIMENT,
    RULES_ACTIONS,
    RULES_COOLOFF,
    RULES_SIGNAL,
    RULES__NR
};

static const char *const rules_rule_keys[RULES__NR] = {
    "kind",      "category",    "channel", "template",   "vars",      "timing",
    "expires",   "hours",       "window",  "on_blocked", "priority",  "merge",
    "id",        "description", "trigger", "when",       "exit_when", "suppress_when",
    "cancel_on", "experiment",  "actions", "cooloff",    "signal"};

static const char *const rules_scope_names[] = {"customer", "order", "family", "ticket"};

/* --- triggers and cancel_on ------------------------------------------------------------------ */

static void rules_unknown_event(struct playbook_loader *ld, const yaml_node_t *node,
                                const char *name)
{
    char dym[96];
    if (ac_playbook_is_signal(name)) {
        playbook_error(ld, node, "'%s' is a signal, not an event type: write {signal: %s}", name,
                       name);
        return;
    }
    playbook_error(
        ld, node, "unknown event type '%s'%s", name,
        playbook_did_you_mean(name, playbook_event_names, PLAYBOOK_N_EVENTS, dym, sizeof(dym)));
}

/* An event type (scalar) or {event: X} / {signal: X, value: V|[V...]}; extra
 * keys (same, when) are handled by the caller through keys_extra. Returns 0
 * or -1. */
static int rules_occurrence(struct playbook_loader *ld, const yaml_node_t *node, const char *what,
                            struct ac_pb_trigger *t, const yaml_node_t **extra, size_t n_extra,
                            const char *const *extra_keys)
{
    const char *name = NULL;
    const yaml_node_t *name_node = node;
    const yaml_node_t *values = NULL;
    t->source = AC_PB_EVENT;
    t->topic = -1;
    if (node && node->type == YAML_SCALAR_NODE) {
        name = (const char *)node->data.scalar.value;
    } else {
        const char *keys[8] = {"event", "signal", "value"};
        const yaml_node_t *v[8];
        for (size_t i = 0; i < n_extra && i < 5; i++) {
            keys[3 + i] = extra_keys[i];
        }
        if (playbook_map(ld, node, what, keys, 3 + n_extra, v, NULL) != 0) {
            return -1;
        }
        for (size_t i = 0; i < n_extra; i++) {
            extra[i] = v[3 + i];
        }
        if ((v[0] != NULL) == (v[1] != NULL)) {
            playbook_error(ld, node, "%s needs exactly one of 'event' and 'signal'", what);
            return -1;
        }
        name_node = v[0] ? v[0] : v[1];
        name = playbook_scalar(ld, name_node, v[0] ? "event" : "signal");
        if (!name) {
            return -1;
        }
        if (v[0] && v[2]) {
            playbook_error(ld, v[2], "'value' applies to signals only");
            return -1;
        }
        t->source = v[1] ? AC_PB_SIGNAL : AC_PB_EVENT;
        values = v[2];
    }
    if (t->source == AC_PB_EVENT) {
        t->topic = ac_playbook_event_topic(name);
        if (t->topic < 0) {
            rules_unknown_event(ld, name_node, name);
            return -1;
        }
        t->name = playbook_strdup(ld, name);
        return t->name ? 0 : -1;
    }
    int sig = playbook_signal_index(name);
    if (sig < 0) {
        char dym[96];
        playbook_error(ld, name_node, "unknown signal '%s'%s", name,
                       playbook_did_you_mean(name, playbook_signal_names, PLAYBOOK_N_SIGNALS, dym,
                                             sizeof(dym)));
        return -1;
    }
    t->name = playbook_strdup(ld, name);
    if (!values) {
        return t->name ? 0 : -1;
    }
    long n = playbook_list(ld, values, "value", 1);
    const char **vals = n > 0 ? playbook_alloc(ld, (size_t)n * sizeof(*vals)) : NULL;
    const char *const *known = playbook_signal_values(sig);
    size_t n_known = 0;
    while (known && known[n_known]) {
        n_known++;
    }
    int rc = vals ? 0 : -1;
    for (long i = 0; vals && i < n; i++) {
        const yaml_node_t *vn = playbook_list_at(ld, values, i);
        const char *s = playbook_scalar(ld, vn, "value");
        if (s && known && playbook_lookup(s, known, n_known) < 0) {
            char dym[96];
            playbook_error(ld, vn, "unknown value '%s' of signal '%s'%s", s, name,
                           playbook_did_you_mean(s, known, n_known, dym, sizeof(dym)));
            s = NULL;
        }
        vals[i] = s ? playbook_strdup(ld, s) : NULL;
        rc |= vals[i] ? 0 : -1;
    }
    t->values = vals;
    t->n_values = n > 0 ? (size_t)n : 0;
    return rc;
}

static int rules_triggers(struct playbook_loader *ld, const yaml_node_t *node,
                          struct playbook_triggers *rt)
{
    long n = playbook_list(ld, node, "trigger", 1);
    if (n < 0) {
        return -1;
    }
    if (n == 0) {
        playbook_error(ld, node, "trigger is empty: the rule can never fire");
        return -1;
    }
    struct ac_pb_trigger *t = playbook_alloc(ld, (size_t)n * sizeof(*t));
    int rc = t ? 0 : -1;
    size_t k = 0; /* the valid ones, so that the checks that follow can still run */
    for (long i = 0; t && i < n; i++) {
        const yaml_node_t *item = playbook_list_at(ld, node, i);
        if (rules_occurrence(ld, item, "a trigger", &t[k], NULL, 0, NULL) != 0) {
            rc = -1;
            memset(&t[k], 0, sizeof(t[k]));
            continue;
        }
        size_t cur = k++;
        if (t[cur].source == AC_PB_EVENT) {
            rt->any_event = 1;
            rt->topics |= 1u << t[cur].topic;
        } else {
            rt->any_signal = 1;
        }
        for (size_t j = 0; j < cur; j++) {
            if (t[j].source == t[cur].source && strcmp(t[j].name, t[cur].name) == 0 &&
                t[cur].n_values == 0 && t[j].n_values == 0) {
                playbook_error(ld, item, "duplicate trigger '%s'", t[cur].name);
                rc = -1;
            }
        }
    }
    rt->t = t;
    rt->n = k;
    return rc;
}

/* Is a cancel by `on` within `scope` possible after trigger t? Returns NULL
 * or why not. */
static const char *rules_cancel_never(const struct ac_pb_trigger *t, const struct ac_pb_trigger *on,
                                      enum ac_pb_scope scope, char *buf, size_t len)
{
    if (scope == AC_PB_SAME_CUSTOMER) {
        return NULL;
    }
    if (t->source != AC_PB_EVENT || !playbook_event_has_scope(t->name, scope)) {
        snprintf(buf, len, "the trigger '%s' has no %s to match", t->name,
                 playbook_scope_name(scope));
        return buf;
    }
    int ts = playbook_lifecycle_stage(t->name, scope);
    int cs = playbook_lifecycle_stage(on->name, scope);
    if (ts >= 0 && cs >= 0 && cs <= ts) {
        snprintf(buf, len, "for the same %s, '%s' %s '%s'", playbook_scope_name(scope), on->name,
                 cs == ts ? "does not happen again after" : "always comes before", t->name);
        return buf;
    }
    return NULL;
}

static int rules_cancel(struct playbook_loader *ld, const yaml_node_t *item,
                        const struct playbook_triggers *rt, int family_timing,
                        struct ac_pb_cancel *c)
{
    static const char *const extra_keys[] = {"same", "when"};
    const yaml_node_t *extra[2] = {NULL, NULL};
    if (rules_occurrence(ld, item, "a cancel_on entry", &c->on, extra, 2, extra_keys) != 0) {
        return -1;
    }
    c->same = AC_PB_SAME_CUSTOMER;
    if (extra[0]) {
        const char *s = playbook_scalar(ld, extra[0], "same");
        int k = s ? playbook_lookup(s, rules_scope_names, RULES_N(rules_scope_names)) : -1;
        if (s && k < 0) {
            char dym[64];
            playbook_error(ld, extra[0],
                           "unknown scope '%s' (use customer, order, family or "
                           "ticket)%s",
                           s,
                           playbook_did_you_mean(s, rules_scope_names, RULES_N(rules_scope_names),
                                                 dym, sizeof(dym)));
        }
        if (k < 0) {
            return -1;
        }
        c->same = (enum ac_pb_scope)k;
    }
    const yaml_node_t *at = extra[0] ? extra[0] : item;
    if (c->same != AC_PB_SAME_CUSTOMER &&
        (c->on.source != AC_PB_EVENT || !playbook_event_has_scope(c->on.name, c->same))) {
        playbook_error(ld, at, "cancel_on '%s' can never happen: it carries no %s to match",
                       c->on.name, playbook_scope_name(c->same));
        return -1;
    }
    if (c->same == AC_PB_SAME_FAMILY && !family_timing) {
        playbook_error(ld, at,
                       "cancel_on '%s' with same: family can never happen: no action "
                       "of this rule is timed by a product family",
                       c->on.name);
        return -1;
    }
    /* It must be able to happen after at least one of the triggers. */
    char why[192] = "";
    size_t never = 0;
    for (size_t i = 0; i < rt->n; i++) {
        char buf[192];
        const char *w = rules_cancel_never(&rt->t[i], &c->on, c->same, buf, sizeof(buf));
        if (w) {
            never++;
            snprintf(why, sizeof(why), "%s", w);
        }
    }
    if (rt->n > 0 && never == rt->n) {
        playbook_error(ld, at, "cancel_on '%s' can never happen after the trigger: %s", c->on.name,
                       why);
        return -1;
    }
    if (extra[1]) {
        struct playbook_cond_ctx ctx = {
            "cancel_on's when", c->on.source == AC_PB_EVENT, c->on.source == AC_PB_SIGNAL,
            c->on.topic >= 0 ? 1u << c->on.topic : 0,
            c->on.source == AC_PB_EVENT ? "it sees the cancelling event, not a signal"
                                        : "it sees the cancelling signal, not an event"};
        c->when = playbook_cond(ld, extra[1], &ctx);
        if (!c->when) {
            return -1;
        }
    }
    return 0;
}

/* signal: {name: late_delivery, value: estimate_passed} */
static void rules_signal(struct playbook_loader *ld, const yaml_node_t *node, struct ac_pb_rule *r)
{
    static const char *const keys[] = {"name", "value"};
    const yaml_node_t *v[2];
    if (playbook_map(ld, node, "signal", keys, 2, v, NULL) != 0) {
        return;
    }
    if (!v[0] || !v[1]) {
        playbook_error(ld, node, "signal needs a 'name' and a 'value'");
        return;
    }
    const char *name = playbook_scalar(ld, v[0], "name");
    const char *value = playbook_scalar(ld, v[1], "value");
    if (!name || !value) {
        return;
    }
    int sig = playbook_signal_index(name);
    if (sig < 0) {
        char dym[96];
        playbook_error(ld, v[0], "unknown signal '%s'%s", name,
                       playbook_did_you_mean(name, playbook_signal_names, PLAYBOOK_N_SIGNALS, dym,
                                             sizeof(dym)));
        return;
    }
    const char *const *known = playbook_signal_values(sig);
    size_t n_known = 0;
    while (known && known[n_known]) {
        n_known++;
    }
    if (known && playbook_lookup(value, known, n_known) < 0) {
        char dym[96];
        playbook_error(ld, v[1], "unknown value '%s' of signal '%s'%s", value, name,
                       playbook_did_you_mean(value, known, n_known, dym, sizeof(dym)));
        return;
    }
    if (value[0] == '\0') {
        playbook_error(ld, v[1], "a signal's value must not be empty");
        return;
    }
    r->signal = playbook_strdup(ld, name);
    r->signal_value = playbook_strdup(ld, value);
}

static void rules_rule(struct playbook_loader *ld, const yaml_node_t *node, struct ac_pb_rule *r,
                       size_t index)
{
    const yaml_node_t *v[RULES__NR];
    if (playbook_map(ld, node, "a rule", rules_rule_keys, RULES__NR, v, NULL) != 0) {
        return;
    }
    r->line = playbook_line(node);
    r->description = "";
    if (!v[RULES_ID]) {
        playbook_error(ld, node, "a rule needs an 'id'");
    } else if ((r->id = playbook_ident(ld, v[RULES_ID], "rule id")) != NULL) {
        for (size_t i = 0; i < index; i++) {
            if (ld->pb->rules[i].id && strcmp(ld->pb->rules[i].id, r->id) == 0) {
                playbook_error(ld, v[RULES_ID], "duplicate rule id '%s' (first defined on line %d)",
                               r->id, ld->pb->rules[i].line);
                break;
            }
        }
    }
    if (v[RULES_DESCRIPTION]) {
        const char *s = playbook_scalar(ld, v[RULES_DESCRIPTION], "description");
        r->description = s ? playbook_strdup(ld, s) : "";
    }
    struct playbook_triggers rt;
    memset(&rt, 0, sizeof(rt));
    if (!v[RULES_TRIGGER]) {
        playbook_error(ld, node, "a rule needs a 'trigger'");
        return;
    }
    /* On a bad trigger, go on with the valid ones: the other errors still show. */
    (void)rules_triggers(ld, v[RULES_TRIGGER], &rt);
    if (!rt.any_event && !rt.any_signal) {
        rt.any_event = rt.any_signal = 1; /* unknown: do not blame the conditions */
        rt.topics = (1u << AC_TOPIC__N) - 1;
    }
    r->triggers = rt.t;
    r->n_triggers = rt.n;
    if (v[RULES_WHEN]) {
        struct playbook_cond_ctx ctx = {"when", rt.any_event, rt.any_signal, rt.topics,
                                        rt.any_event ? "the rule is triggered by events only"
                                                     : "the rule is triggered by signals only"};
        r->when = playbook_cond(ld, v[RULES_WHEN], &ctx);
    }
    static const struct playbook_cond_ctx state_only[2] = {
        {"exit_when", 0, 0, 0,
         "it is checked when a pending action falls due, against the customer's state only"},
        {"suppress_when", 0, 0, 0,
         "it is checked when an action is due, against the customer's state only"},
    };
    if (v[RULES_EXIT_WHEN]) {
        r->exit_when = playbook_cond(ld, v[RULES_EXIT_WHEN], &state_only[0]);
    }
    if (v[RULES_SUPPRESS_WHEN]) {
        r->suppress_when = playbook_cond(ld, v[RULES_SUPPRESS_WHEN], &state_only[1]);
    }
    if (v[RULES_EXPERIMENT]) {
        const char *s = playbook_scalar(ld, v[RULES_EXPERIMENT], "experiment");
        r->experiment = s ? ac_playbook_experiment_find(ld->pb, s) : NULL;
        if (s && !r->experiment) {
            const char *ids[64];
            size_t n = 0;
            for (size_t i = 0; i < ld->pb->n_experiments && n < 64; i++) {
                ids[n++] = ld->pb->experiments[i].id;
            }
            char dym[96];
            playbook_error(ld, v[RULES_EXPERIMENT], "unknown experiment '%s'%s", s,
                           playbook_did_you_mean(s, ids, n, dym, sizeof(dym)));
        }
    }
    if (v[RULES_COOLOFF] &&
        playbook_duration(ld, v[RULES_COOLOFF], "cooloff", 0, &r->cooloff_ms) == 0 &&
        r->cooloff_ms <= 0) {
        playbook_error(ld, v[RULES_COOLOFF], "cooloff must be a positive duration");
    }
    if (v[RULES_SIGNAL]) {
        rules_signal(ld, v[RULES_SIGNAL], r);
    }
    if (playbook_actions(ld, v, v[RULES_ACTIONS], node, &rt, r) != 0) {
        return;
    }
    int family = 0, every = 0, pending = 0;
    for (size_t i = 0; i < r->n_actions; i++) {
        const struct ac_pb_action *a = &r->actions[i];
        family |= a->timing.kind == AC_PB_TIMING_FAMILY;
        every |= a->timing.kind == AC_PB_TIMING_EVERY;
        pending |= a->timing.kind != AC_PB_TIMING_IMMEDIATE || a->on_blocked == AC_PB_DEFER;
    }
    if (every && !v[RULES_CANCEL_ON] && !v[RULES_EXIT_WHEN]) {
        playbook_error(ld, v[PLAYBOOK_A_TIMING] ? v[PLAYBOOK_A_TIMING] : node,
                       "a repeating action (every) needs cancel_on or exit_when to ever stop");
    }
    if (!v[RULES_CANCEL_ON]) {
        return;
    }
    long n = playbook_list(ld, v[RULES_CANCEL_ON], "cancel_on", 1);
    if (n <= 0) {
        return;
    }
    if (!pending) {
        playbook_error(ld, v[RULES_CANCEL_ON],
                       "cancel_on can never happen: every action of this rule is sent at once "
                       "and dropped if blocked, so nothing is ever pending");
        return;
    }
    struct ac_pb_cancel *c = playbook_alloc(ld, (size_t)n * sizeof(*c));
    size_t k = 0;
    for (long i = 0; c && i < n; i++) {
        if (rules_cancel(ld, playbook_list_at(ld, v[RULES_CANCEL_ON], i), &rt, family, &c[k]) ==
            0) {
            k++;
        }
    }
    r->cancel_on = c;
    r->n_cancel_on = k;
}

void playbook_load_rules(struct playbook_loader *ld, const yaml_node_t *node)
{
    long n = playbook_list(ld, node, "rules", 0);
    if (n <= 0) {
        if (n == 0) {
            playbook_error(ld, node, "rules is empty");
        }
        return;
    }
    struct ac_playbook *pb = ld->pb;
    pb->rules = playbook_alloc(ld, (size_t)n * sizeof(*pb->rules));
    if (!pb->rules) {
        return;
    }
    for (long i = 0; i < n; i++) {
        rules_rule(ld, playbook_list_at(ld, node, i), &pb->rules[i], (size_t)i);
    }
    pb->n_rules = (size_t)n;
}
