/* playbook_action.c — a rule's actions: kind, category, channels, template,
 * vars, timing (immediate, delay, anchor and offset, family window, every),
 * expiry, hours, send window and what to do when a policy blocks it, with
 * the checks that need them together (a window that can never open, a
 * defer bound past the expiry, an anchor the trigger never sets). */
#include <stdio.h>
#include <string.h>

#include "playbook_int.h"

#define ACTION_N(a) (sizeof(a) / sizeof((a)[0]))

const char *const playbook_action_keys[PLAYBOOK_A__N] = {
    "kind",    "category", "channel", "template",   "vars", "timing",
    "expires", "hours",    "window",  "on_blocked", "when"};

static const char *const action_hours_names[] = {"any", "quiet", "business"};

/* --- actions --------------------------------------------------------------------------------- */

/* Parses a timing node into up to *n timings (one per listed delay or
 * offset); returns 0 or -1. */
static int action_timing(struct playbook_loader *ld, const yaml_node_t *node,
                         const struct playbook_triggers *rt, struct ac_pb_timing **out, size_t *n)
{
    static const char *const keys[] = {"delay", "anchor", "offset", "family", "every", "clock"};
    const yaml_node_t *v[ACTION_N(keys)];
    *out = NULL;
    *n = 0;
    if (node && node->type == YAML_SCALAR_NODE) {
        const char *s = (const char *)node->data.scalar.value;
        if (strcmp(s, "immediate") != 0) {
            playbook_error(ld, node,
                           "timing must be 'immediate' or a mapping with delay, anchor "
                           "(and offset), family or every, not '%s'",
                           s);
            return -1;
        }
        *out = playbook_alloc(ld, sizeof(**out));
        *n = *out ? 1 : 0;
        return *out ? 0 : -1;
    }
    size_t errors = ld->n_diags;
    if (playbook_map(ld, node, "timing", keys, ACTION_N(keys), v, NULL) != 0) {
        return -1;
    }
    int kinds = (v[0] != NULL) + (v[1] != NULL) + (v[3] != NULL) + (v[4] != NULL);
    if (kinds != 1 && ld->n_diags > errors) {
        return -1; /* an unknown key said it already */
    }
    if (kinds != 1) {
        playbook_error(ld, node, "timing needs exactly one of delay, anchor, family and every");
        return -1;
    }
    if (v[2] && !v[1]) {
        playbook_error(ld, v[2], "offset applies to an anchor only");
        return -1;
    }
    int business = 0;
    if (v[5]) {
        const char *s = playbook_scalar(ld, v[5], "clock");
        if (!s) {
            return -1;
        }
        if (!v[0] || (strcmp(s, "business") != 0 && strcmp(s, "wall") != 0)) {
            playbook_error(ld, v[5], "clock must be 'wall' or 'business', with a delay");
            return -1;
        }
        business = strcmp(s, "business") == 0;
    }
    const yaml_node_t *list = v[0] ? v[0] : v[1] ? v[2] : NULL;
    long count = list ? playbook_list(ld, list, v[0] ? "delay" : "offset", 1) : 1;
    if (count <= 0) {
        if (count == 0) {
            playbook_error(ld, list, "the list of %s is empty", v[0] ? "delays" : "offsets");
        }
        return -1;
    }
    struct ac_pb_timing *t = playbook_alloc(ld, (size_t)count * sizeof(*t));
    if (!t) {
        return -1;
    }
    int rc = 0;
    const char *anchor = NULL;
    if (v[1]) {
        const char *s = playbook_scalar(ld, v[1], "anchor");
        if (s && playbook_lookup(s, playbook_anchor_names, playbook_n_anchors) < 0) {
            char dym[96];
            playbook_error(ld, v[1], "unknown anchor '%s'%s", s,
                           playbook_did_you_mean(s, playbook_anchor_names, playbook_n_anchors, dym,
                                                 sizeof(dym)));
            s = NULL;
        }
        unsigned need = s ? playbook_anchor_event_topics(s) : 0;
        for (size_t i = 0; s && need && i < rt->n; i++) {
            if (rt->t[i].source != AC_PB_EVENT || !((1u << rt->t[i].topic) & need)) {
                playbook_error(ld, v[1],
                               "anchor '%s' is never set for the trigger '%s' (only "
                               "deliveries events carry it)",
                               s, rt->t[i].name);
                s = NULL;
            }
        }
        anchor = s ? playbook_strdup(ld, s) : NULL;
        rc |= anchor ? 0 : -1;
    }
    for (long i = 0; i < count; i++) {
        if (v[0]) {
            const yaml_node_t *d = playbook_list_at(ld, v[0], i);
            t[i].kind = AC_PB_TIMING_DELAY;
            t[i].business_clock = business;
            if (playbook_duration(ld, d, "delay", 1, &t[i].delay_ms) != 0) {
                rc = -1;
            } else if (t[i].delay_ms < 0) {
                playbook_error(ld, d,
                               "delay '%s' is negative: only an anchor's offset may be "
                               "negative",
                               (const char *)d->data.scalar.value);
                rc = -1;
            }
        } else if (v[1]) {
            t[i].kind = AC_PB_TIMING_ANCHOR;
            t[i].anchor = anchor;
            if (v[2] && playbook_duration(ld, playbook_list_at(ld, v[2], i), "offset", 1,
                                          &t[i].delay_ms) != 0) {
                rc = -1;
            }
        } else if (v[3]) {
            const char *s = playbook_scalar(ld, v[3], "family");
            int k = s ? playbook_lookup(s, playbook_window_names, AC_PB_WINDOW__N) : -1;
            if (s && k < 0) {
                char dym[64];
                playbook_error(ld, v[3],
                               "unknown family window '%s' (use reorder, upsell or "
                               "replenish)%s",
                               s,
                               playbook_did_you_mean(s, playbook_window_names, AC_PB_WINDOW__N, dym,
                                                     sizeof(dym)));
            }
            for (size_t j = 0; k >= 0 && j < rt->n; j++) {
                if (rt->t[j].source != AC_PB_EVENT || rt->t[j].topic != AC_TOPIC_ORDERS) {
                    playbook_error(ld, v[3],
                                   "family timing needs an orders trigger with items; "
                                   "'%s' has none",
                                   rt->t[j].name);
                    k = -1;
                }
            }
            t[i].kind = AC_PB_TIMING_FAMILY;
            t[i].family_window = k >= 0 ? (enum ac_pb_window_kind)k : AC_PB_REORDER;
            rc |= k >= 0 ? 0 : -1;
        } else {
            t[i].kind = AC_PB_TIMING_EVERY;
            if (playbook_duration(ld, v[4], "every", 0, &t[i].delay_ms) != 0) {
                rc = -1;
            } else if (t[i].delay_ms <= 0) {
                playbook_error(ld, v[4], "every must be a positive duration");
                rc = -1;
            }
        }
    }
    *out = t;
    *n = (size_t)count;
    return rc;
}

static int action_channels(struct playbook_loader *ld, const yaml_node_t *node,
                           enum ac_action_kind kind, struct ac_pb_action *a)
{
    long n = playbook_list(ld, node, "channel", 1);
    if (n <= 0) {
        if (n == 0) {
            playbook_error(ld, node, "channel is empty: the action can never be sent");
        }
        return -1;
    }
    const char **ch = playbook_alloc(ld, (size_t)n * sizeof(*ch));
    int rc = ch ? 0 : -1;
    for (long i = 0; ch && i < n; i++) {
        const yaml_node_t *c = playbook_list_at(ld, node, i);
        const char *s = playbook_scalar(ld, c, "a channel");
        if (s && !ac_playbook_is_channel(s)) {
            char dym[64];
            playbook_error(ld, c, "unknown channel '%s'%s", s,
                           playbook_did_you_mean(s, playbook_channel_names, playbook_n_channels,
                                                 dym, sizeof(dym)));
            s = NULL;
        } else if (s && !playbook_channel_fits(s, kind)) {
            playbook_error(ld, c, "channel '%s' cannot carry a %s (%s)", s,
                           playbook_kind_names[kind],
                           kind == AC_KIND_MESSAGE      ? "use email, sms, push, in_app or phone"
                           : kind == AC_KIND_CRM_UPDATE ? "use crm"
                                                        : "use team_chat, ticket or crm");
            s = NULL;
        }
        ch[i] = s ? playbook_strdup(ld, s) : NULL;
        rc |= ch[i] ? 0 : -1;
    }
    a->channels = ch;
    a->n_channels = (size_t)n;
    return rc;
}

static int action_vars(struct playbook_loader *ld, const yaml_node_t *node, struct ac_pb_action *a)
{
    int is_map = node && node->type == YAML_MAPPING_NODE;
    long n = is_map ? (long)(node->data.mapping.pairs.top - node->data.mapping.pairs.start)
                    : playbook_list(ld, node, "vars", 0);
    if (n <= 0) {
        return n < 0 ? -1 : 0;
    }
    struct ac_pb_var *vars = playbook_alloc(ld, (size_t)n * sizeof(*vars));
    int rc = vars ? 0 : -1;
    for (long i = 0; vars && i < n; i++) {
        const yaml_node_t *k = is_map ? playbook_node(ld, node->data.mapping.pairs.start[i].key)
                                      : playbook_list_at(ld, node, i);
        vars[i].name = playbook_ident(ld, k, "variable name");
        rc |= vars[i].name ? 0 : -1;
        for (long j = 0; vars[i].name && j < i; j++) {
            if (vars[j].name && strcmp(vars[j].name, vars[i].name) == 0) {
                playbook_error(ld, k, "duplicate variable '%s'", vars[i].name);
                rc = -1;
            }
        }
        if (is_map) {
            const yaml_node_t *v = playbook_node(ld, node->data.mapping.pairs.start[i].value);
            const char *s = playbook_scalar(ld, v, "a variable's value");
            vars[i].value = s && *s ? playbook_strdup(ld, s) : NULL;
            rc |= s ? 0 : -1;
        }
    }
    a->vars = vars;
    a->n_vars = (size_t)n;
    return rc;
}

/* Blocked-action handling and the send window: checks against expiry and
 * policy hours. */
static int action_blocked(struct playbook_loader *ld, const yaml_node_t *const *v,
                          struct ac_pb_action *a)
{
    const struct ac_pb_policies *po = &ld->pb->policies;
    int rc = 0;
    const yaml_node_t *bound = NULL;
    a->on_blocked = AC_PB_DEFER;
    a->defer_max_ms = -1;
    const yaml_node_t *ob = v[PLAYBOOK_A_ON_BLOCKED];
    if (ob && ob->type == YAML_SCALAR_NODE) {
        const char *s = (const char *)ob->data.scalar.value;
        if (strcmp(s, "drop") == 0) {
            a->on_blocked = AC_PB_DROP;
            a->defer_max_ms = 0;
        } else if (strcmp(s, "defer") != 0) {
            playbook_error(ld, ob,
                           "on_blocked must be 'drop', 'defer' or {defer: DURATION}, not "
                           "'%s'",
                           s);
            rc = -1;
        }
    } else if (ob) {
        static const char *const keys[] = {"defer"};
        const yaml_node_t *d[1];
        if (playbook_map(ld, ob, "on_blocked", keys, 1, d, NULL) != 0 || !d[0]) {
            if (!d[0] && ob->type == YAML_MAPPING_NODE) {
                playbook_error(ld, ob, "on_blocked needs 'defer'");
            }
            rc = -1;
        } else if (playbook_duration(ld, d[0], "defer", 0, &a->defer_max_ms) != 0) {
            rc = -1;
        } else {
            bound = d[0];
        }
    }
    if (bound && a->expires_ms > 0 && a->defer_max_ms > a->expires_ms) {
        playbook_error(ld, bound,
                       "defer bound '%s' is longer than the expiry '%s': the action "
                       "expires first",
                       (const char *)bound->data.scalar.value,
                       (const char *)v[PLAYBOOK_A_EXPIRES]->data.scalar.value);
        rc = -1;
    }
    if (a->defer_max_ms < 0) {
        a->defer_max_ms = a->expires_ms > 0 && a->expires_ms < po->max_defer_ms ? a->expires_ms
                                                                                : po->max_defer_ms;
    }
    if (!v[PLAYBOOK_A_WINDOW]) {
        return rc;
    }
    struct ac_pb_daywin *w = playbook_alloc(ld, sizeof(*w));
    if (!w || playbook_daywin(ld, v[PLAYBOOK_A_WINDOW], "window", 1, w) != 0) {
        return -1;
    }
    a->window = w;
    if (a->hours == AC_PB_HOURS_QUIET) {
        struct ac_pb_daywin open = po->quiet_hours;
        /* outside quiet hours = the complement window on every day */
        open.from_min = po->quiet_hours.to_min;
        open.to_min = po->quiet_hours.from_min;
        open.days = 0x7Fu;
        if (playbook_daywin_overlap(w, &open) == 0) {
            playbook_error(ld, v[PLAYBOOK_A_WINDOW],
                           "window lies entirely within the quiet hours "
                           "(%02d:%02d-%02d:%02d): it can never open",
                           po->quiet_hours.from_min / 60, po->quiet_hours.from_min % 60,
                           po->quiet_hours.to_min / 60, po->quiet_hours.to_min % 60);
            rc = -1;
        }
    } else if (a->hours == AC_PB_HOURS_BUSINESS &&
               playbook_daywin_overlap(w, a->kind == AC_KIND_TEAM_TASK ||
                                                  a->kind == AC_KIND_TEAM_NOTIFICATION
                                              ? &po->team_hours
                                              : &po->business_hours) == 0) {
        playbook_error(ld, v[PLAYBOOK_A_WINDOW],
                       "window never overlaps the business hours: it can "
                       "never open");
        rc = -1;
    }
    return rc;
}

/* One action spec — a rule's defaults (rv) overridden by an actions[] item
 * (iv, NULL if the rule has no actions list) — as one action per listed
 * delay or offset, in *out. Returns 0 or -1. */
static int action_action_spec(struct playbook_loader *ld, const yaml_node_t *const *rv,
                              const yaml_node_t *const *iv, const yaml_node_t *at,
                              const struct playbook_triggers *rt, struct ac_pb_action **out,
                              size_t *n)
{
    const yaml_node_t *v[PLAYBOOK_A__N];
    struct ac_pb_action a;
    memset(&a, 0, sizeof(a));
    *out = NULL;
    *n = 0;
    for (int k = 0; k < PLAYBOOK_A_WHEN; k++) {
        v[k] = iv && iv[k] ? iv[k] : rv[k];
    }
    v[PLAYBOOK_A_WHEN] = iv ? iv[PLAYBOOK_A_WHEN] : NULL;
    int rc = 0;
    a.kind = AC_KIND_MESSAGE;
    if (v[PLAYBOOK_A_KIND]) {
        const char *s = playbook_scalar(ld, v[PLAYBOOK_A_KIND], "kind");
        int k = s ? playbook_lookup(s, playbook_kind_names, playbook_n_kinds) : -1;
        if (s && k < 0) {
            char dym[64];
            playbook_error(
                ld, v[PLAYBOOK_A_KIND], "unknown kind '%s'%s", s,
                playbook_did_you_mean(s, playbook_kind_names, playbook_n_kinds, dym, sizeof(dym)));
        }
        a.kind = k >= 0 ? (enum ac_action_kind)k : AC_KIND_MESSAGE;
        rc |= k >= 0 ? 0 : -1;
    }
    a.category = AC_CAT_SERVICE;
    if (v[PLAYBOOK_A_CATEGORY]) {
        const char *s = playbook_scalar(ld, v[PLAYBOOK_A_CATEGORY], "category");
        int k = s ? playbook_lookup(s, playbook_category_names, playbook_n_categories) : -1;
        if (s && k < 0) {
            char dym[64];
            playbook_error(ld, v[PLAYBOOK_A_CATEGORY], "unknown category '%s'%s", s,
                           playbook_did_you_mean(s, playbook_category_names, playbook_n_categories,
                                                 dym, sizeof(dym)));
        }
        a.category = k >= 0 ? (enum ac_category)k : AC_CAT_SERVICE;
        rc |= k >= 0 ? 0 : -1;
    } else if (a.kind == AC_KIND_MESSAGE) {
        playbook_error(ld, at,
                       "a message needs a category (transactional, service or "
                       "marketing)");
        rc = -1;
    }
    if (!v[PLAYBOOK_A_CHANNEL]) {
        playbook_error(ld, at, "an action needs a channel");
        rc = -1;
    } else {
        rc |= action_channels(ld, v[PLAYBOOK_A_CHANNEL], a.kind, &a);
    }
    if (!v[PLAYBOOK_A_TEMPLATE]) {
        playbook_error(ld, at, "an action needs a template");
        rc = -1;
    } else {
        a.template_name = playbook_ident(ld, v[PLAYBOOK_A_TEMPLATE], "template");
        rc |= a.template_name ? 0 : -1;
    }
    if (v[PLAYBOOK_A_VARS]) {
        rc |= action_vars(ld, v[PLAYBOOK_A_VARS], &a);
    }
    if (v[PLAYBOOK_A_EXPIRES]) {
        if (playbook_duration(ld, v[PLAYBOOK_A_EXPIRES], "expires", 0, &a.expires_ms) != 0) {
            rc = -1;
        } else if (a.expires_ms <= 0) {
            playbook_error(ld, v[PLAYBOOK_A_EXPIRES], "expires must be a positive duration");
            rc = -1;
        }
    }
    a.hours = a.category == AC_CAT_TRANSACTIONAL || a.kind == AC_KIND_CRM_UPDATE ? AC_PB_HOURS_ANY
              : a.kind == AC_KIND_MESSAGE                                        ? AC_PB_HOURS_QUIET
                                          : AC_PB_HOURS_BUSINESS;
    if (v[PLAYBOOK_A_HOURS]) {
        const char *s = playbook_scalar(ld, v[PLAYBOOK_A_HOURS], "hours");
        int k = s ? playbook_lookup(s, action_hours_names, ACTION_N(action_hours_names)) : -1;
        if (s && k < 0) {
            char dym[64];
            playbook_error(ld, v[PLAYBOOK_A_HOURS],
                           "unknown hours '%s' (use any, quiet or business)%s", s,
                           playbook_did_you_mean(s, action_hours_names,
                                                 ACTION_N(action_hours_names), dym, sizeof(dym)));
        }
        a.hours = k >= 0 ? (enum ac_pb_hours)k : a.hours;
        rc |= k >= 0 ? 0 : -1;
    }
    rc |= action_blocked(ld, v, &a);
    if (v[PLAYBOOK_A_WHEN]) {
        struct playbook_cond_ctx ctx = {"an action's when", rt->any_event, rt->any_signal,
                                        rt->topics,
                                        rt->any_event ? "the rule is triggered by events only"
                                                      : "the rule is triggered by signals only"};
        a.when = playbook_cond(ld, v[PLAYBOOK_A_WHEN], &ctx);
        rc |= a.when ? 0 : -1;
    }
    struct ac_pb_timing *t = NULL;
    size_t nt = 1;
    if (v[PLAYBOOK_A_TIMING]) {
        rc |= action_timing(ld, v[PLAYBOOK_A_TIMING], rt, &t, &nt);
    }
    if (nt == 0) {
        return -1;
    }
    struct ac_pb_action *acts = playbook_alloc(ld, nt * sizeof(*acts));
    if (!acts) {
        return -1;
    }
    for (size_t i = 0; i < nt; i++) {
        acts[i] = a;
        if (t) {
            acts[i].timing = t[i];
        }
    }
    *out = acts;
    *n = nt;
    return rc;
}

int playbook_actions(struct playbook_loader *ld, const yaml_node_t *const *rv,
                     const yaml_node_t *list, const yaml_node_t *node,
                     const struct playbook_triggers *rt, struct ac_pb_rule *r)
{
    long n_specs = list ? playbook_list(ld, list, "actions", 0) : 1;
    if (n_specs <= 0) {
        if (n_specs == 0) {
            playbook_error(ld, list, "actions is empty: the rule does nothing");
        }
        return -1;
    }
    struct ac_pb_action **spec = playbook_alloc(ld, (size_t)n_specs * sizeof(*spec));
    size_t *count = playbook_alloc(ld, (size_t)n_specs * sizeof(*count));
    if (!spec || !count) {
        return -1;
    }
    int rc = 0;
    size_t total = 0;
    for (long i = 0; i < n_specs; i++) {
        if (!list) {
            rc |= action_action_spec(ld, rv, NULL, node, rt, &spec[i], &count[i]);
        } else {
            const yaml_node_t *item = playbook_list_at(ld, list, i);
            const yaml_node_t *iv[PLAYBOOK_A__N];
            if (playbook_map(ld, item, "an action", playbook_action_keys, PLAYBOOK_A__N, iv,
                             NULL) != 0) {
                rc = -1;
                continue;
            }
            rc |= action_action_spec(ld, rv, iv, item, rt, &spec[i], &count[i]);
        }
        total += count[i];
    }
    struct ac_pb_action *acts = total ? playbook_alloc(ld, total * sizeof(*acts)) : NULL;
    if (!acts) {
        return -1;
    }
    size_t k = 0;
    for (long i = 0; i < n_specs; i++) {
        for (size_t j = 0; j < count[i]; j++) {
            acts[k] = spec[i][j];
            acts[k].part = (int)k;
            k++;
        }
    }
    r->actions = acts;
    r->n_actions = total;
    return rc;
}
