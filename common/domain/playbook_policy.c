/* playbook_policy.c — the playbook's policies (frequency caps, quiet and
 * business hours, consent, the default zone), global suppressions, the
 * product-family table and experiments. */
#include <stdio.h>
#include <string.h>

#include "playbook_int.h"

#define POLICY_N(a) (sizeof(a) / sizeof((a)[0]))
#define POLICY_ALL_DAYS 0x7Fu

/* --- days and time-of-day windows ------------------------------------------------------------ */

int playbook_days(struct playbook_loader *ld, const yaml_node_t *node, unsigned *days)
{
    long n = playbook_list(ld, node, "days", 0);
    if (n < 0) {
        return -1;
    }
    unsigned mask = 0;
    int rc = 0;
    for (long i = 0; i < n; i++) {
        const yaml_node_t *d = playbook_list_at(ld, node, i);
        const char *s = playbook_scalar(ld, d, "a day");
        if (!s) {
            rc = -1;
            continue;
        }
        int k = playbook_lookup(s, playbook_day_names, 7);
        if (k < 0) {
            char dym[64];
            playbook_error(ld, d, "unknown day '%s' (use mon, tue, wed, thu, fri, sat, sun)%s", s,
                           playbook_did_you_mean(s, playbook_day_names, 7, dym, sizeof(dym)));
            rc = -1;
            continue;
        }
        mask |= 1u << k;
    }
    if (rc == 0 && mask == 0) {
        playbook_error(ld, node, "days is empty: the window can never open");
        return -1;
    }
    *days = mask;
    return rc;
}

int playbook_daywin(struct playbook_loader *ld, const yaml_node_t *node, const char *what,
                    int days_ok, struct ac_pb_daywin *w)
{
    static const char *const keys[] = {"from", "to", "days"};
    const yaml_node_t *v[3] = {NULL, NULL, NULL};
    char label[64];
    snprintf(label, sizeof(label), "%s", what);
    if (playbook_map(ld, node, label, keys, days_ok ? 3 : 2, v, NULL) != 0) {
        return -1;
    }
    int rc = 0;
    w->days = POLICY_ALL_DAYS;
    for (int i = 0; i < 2; i++) {
        if (!v[i]) {
            playbook_error(ld, node, "%s needs '%s'", what, keys[i]);
            rc = -1;
        }
    }
    if (rc == 0) {
        rc |= playbook_time_of_day(ld, v[0], "from", &w->from_min);
        rc |= playbook_time_of_day(ld, v[1], "to", &w->to_min);
    }
    if (v[2] && playbook_days(ld, v[2], &w->days) != 0) {
        rc = -1;
    }
    if (rc == 0 && w->from_min % 1440 == w->to_min % 1440) {
        playbook_error(ld, v[1], "%s from %s to %s is empty: the window can never open", what,
                       (const char *)v[0]->data.scalar.value,
                       (const char *)v[1]->data.scalar.value);
        rc = -1;
    }
    return rc == 0 ? 0 : -1;
}

int ac_playbook_daywin_contains(const struct ac_pb_daywin *w, int wd, int m)
{
    int prev = (wd + 6) % 7;
    if (w->from_min < w->to_min) {
        return (w->days >> wd & 1u) && m >= w->from_min && m < w->to_min;
    }
    /* wraps midnight: the evening belongs to wd, the morning to the day before */
    return ((w->days >> wd & 1u) && m >= w->from_min) || ((w->days >> prev & 1u) && m < w->to_min);
}

int playbook_daywin_overlap(const struct ac_pb_daywin *a, const struct ac_pb_daywin *b)
{
    int n = 0;
    for (int wd = 0; wd < 7; wd++) {
        for (int m = 0; m < 1440; m++) {
            n += ac_playbook_daywin_contains(a, wd, m) && ac_playbook_daywin_contains(b, wd, m);
        }
    }
    return n;
}

/* --- policies -------------------------------------------------------------------------------- */

static int policy_cap(struct playbook_loader *ld, const yaml_node_t *node, const char *what,
                      struct ac_pb_cap *cap)
{
    static const char *const keys[] = {"max", "per"};
    const yaml_node_t *v[2];
    if (playbook_map(ld, node, what, keys, 2, v, NULL) != 0) {
        return -1;
    }
    int64_t max = 0;
    int rc = 0;
    if (!v[0] || !v[1]) {
        playbook_error(ld, node, "%s needs 'max' and 'per'", what);
        return -1;
    }
    rc |= playbook_int(ld, v[0], "max", 0, 1000, &max);
    rc |= playbook_duration(ld, v[1], "per", 0, &cap->per_ms);
    if (rc == 0 && cap->per_ms <= 0) {
        playbook_error(ld, v[1], "per must be a positive duration");
        rc = -1;
    }
    cap->max = (int)max;
    return rc == 0 ? 0 : -1;
}

static void policy_timezone(struct playbook_loader *ld, const yaml_node_t *node, const char **out)
{
    const char *tz = playbook_scalar(ld, node, "timezone");
    if (!tz) {
        return;
    }
    /* An IANA name: "UTC" or Area/Location; existence is checked by the
     * time-zone database at run time (a bad zone falls back and is counted). */
    int ok = tz[0] >= 'A' && tz[0] <= 'Z' && strlen(tz) < AC_NAME_MAX && !strstr(tz, "..") &&
             !strstr(tz, "//");
    for (const char *p = tz; ok && *p; p++) {
        ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
             *p == '/' || *p == '_' || *p == '-' || *p == '+';
    }
    if (!ok || tz[strlen(tz) - 1] == '/') {
        playbook_error(ld, node, "bad time zone '%s': expected an IANA name such as Europe/Paris",
                       tz);
        return;
    }
    *out = playbook_strdup(ld, tz);
}

/* team: {timezone, business_hours}: the hours of team work. */
static void policy_team(struct playbook_loader *ld, const yaml_node_t *node)
{
    static const char *const keys[] = {"timezone", "business_hours"};
    const yaml_node_t *v[2];
    struct ac_pb_policies *po = &ld->pb->policies;
    if (playbook_map(ld, node, "team", keys, 2, v, NULL) != 0) {
        return;
    }
    if (v[0]) {
        policy_timezone(ld, v[0], &po->team_timezone);
    }
    if (v[1]) {
        (void)playbook_daywin(ld, v[1], "business_hours", 1, &po->team_hours);
    }
}

static int policy_categories(struct playbook_loader *ld, const yaml_node_t *node, unsigned *mask);

static void policy_frequency(struct playbook_loader *ld, const yaml_node_t *node)
{
    static const char *const keys[] = {"max", "per", "opted_in", "channels", "categories"};
    const yaml_node_t *v[5];
    struct ac_pb_policies *po = &ld->pb->policies;
    if (playbook_map(ld, node, "frequency_cap", keys, 5, v, NULL) != 0) {
        return;
    }
    if (v[4]) {
        (void)policy_categories(ld, v[4], &po->cap_categories);
        if (po->cap_categories & (1u << AC_CAT_TRANSACTIONAL)) {
            playbook_error(ld, v[4], "transactional messages are never capped");
        }
    }
    int64_t max = po->cap.max;
    if (v[0] && playbook_int(ld, v[0], "max", 0, 1000, &max) == 0) {
        po->cap.max = (int)max;
    }
    if (v[1] && playbook_duration(ld, v[1], "per", 0, &po->cap.per_ms) == 0 &&
        po->cap.per_ms <= 0) {
        playbook_error(ld, v[1], "per must be a positive duration");
    }
    if (v[2]) {
        (void)policy_cap(ld, v[2], "opted_in", &po->cap_opted_in);
    }
    if (!v[3]) {
        return;
    }
    if (v[3]->type != YAML_MAPPING_NODE) {
        playbook_error(ld, v[3], "channels must be a mapping of channel to {max, per}");
        return;
    }
    size_t n = (size_t)(v[3]->data.mapping.pairs.top - v[3]->data.mapping.pairs.start);
    struct ac_pb_cap *caps = playbook_alloc(ld, (n ? n : 1) * sizeof(*caps));
    if (!caps) {
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *p = &v[3]->data.mapping.pairs.start[i];
        const yaml_node_t *key = playbook_node(ld, p->key);
        const char *ch = playbook_scalar(ld, key, "a channel");
        if (!ch) {
            continue;
        }
        if (!ac_playbook_is_channel(ch)) {
            char dym[64];
            playbook_error(ld, key, "unknown channel '%s'%s", ch,
                           playbook_did_you_mean(ch, playbook_channel_names, playbook_n_channels,
                                                 dym, sizeof(dym)));
            continue;
        }
        for (size_t j = 0; j < k; j++) {
            if (strcmp(caps[j].channel, ch) == 0) {
                playbook_error(ld, key, "duplicate key '%s' in channels", ch);
                ch = NULL;
                break;
            }
        }
        if (ch && policy_cap(ld, playbook_node(ld, p->value), ch, &caps[k]) == 0) {
            caps[k++].channel = playbook_strdup(ld, ch);
        }
    }
    po->channel_caps = caps;
    po->n_channel_caps = k;
}

static void policy_consent(struct playbook_loader *ld, const yaml_node_t *node)
{
    static const char *const keys[] = {"required", "prefer_customer_channel", "unsubscribe"};
    const yaml_node_t *v[3];
    struct ac_pb_policies *po = &ld->pb->policies;
    if (playbook_map(ld, node, "consent", keys, 3, v, NULL) != 0) {
        return;
    }
    if (v[2]) {
        (void)policy_categories(ld, v[2], &po->unsubscribe_categories);
        if (po->unsubscribe_categories & (1u << AC_CAT_TRANSACTIONAL)) {
            playbook_error(ld, v[2], "an unsubscribe never stops transactional messages");
        }
    }
    if (v[0]) {
        (void)playbook_bool(ld, v[0], "required", &po->require_consent);
    }
    if (v[1]) {
        (void)playbook_bool(ld, v[1], "prefer_customer_channel", &po->prefer_customer_channel);
    }
}

void playbook_load_policies(struct playbook_loader *ld, const yaml_node_t *node)
{
    static const char *const keys[] = {"timezone", "frequency_cap", "quiet_hours", "business_hours",
                                       "consent",  "max_defer",     "team"};
    const yaml_node_t *v[POLICY_N(keys)];
    struct ac_pb_policies *po = &ld->pb->policies;
    /* Defaults (SPEC §5): 1 non-transactional message per 7 days, 3 if opted
     * in, quiet 21:00-08:00, business Mon-Fri 09:00-17:00, consent required. */
    po->timezone = "UTC";
    po->cap = (struct ac_pb_cap){NULL, 1, 7 * AC_PB_DAY_MS};
    po->cap_categories = (1u << AC_CAT_MARKETING) | (1u << AC_CAT_SERVICE); /* non-transactional */
    po->cap_opted_in = (struct ac_pb_cap){NULL, 3, 7 * AC_PB_DAY_MS};
    po->quiet_hours = (struct ac_pb_daywin){21 * 60, 8 * 60, POLICY_ALL_DAYS};
    po->business_hours = (struct ac_pb_daywin){9 * 60, 17 * 60, 0x1Fu};
    po->team_timezone = NULL; /* the playbook's zone */
    po->team_hours = po->business_hours;
    po->require_consent = 1;
    po->unsubscribe_categories = 1u << AC_CAT_MARKETING; /* consent by purpose */
    po->prefer_customer_channel = 1;
    po->max_defer_ms = 7 * AC_PB_DAY_MS;
    if (!node || playbook_map(ld, node, "policies", keys, POLICY_N(keys), v, NULL) != 0) {
        return;
    }
    if (v[0]) {
        policy_timezone(ld, v[0], &po->timezone);
    }
    if (v[1]) {
        policy_frequency(ld, v[1]);
    }
    if (v[2]) {
        (void)playbook_daywin(ld, v[2], "quiet_hours", 0, &po->quiet_hours);
    }
    if (v[3]) {
        (void)playbook_daywin(ld, v[3], "business_hours", 1, &po->business_hours);
    }
    if (v[4]) {
        policy_consent(ld, v[4]);
    }
    if (v[5] && playbook_duration(ld, v[5], "max_defer", 0, &po->max_defer_ms) == 0 &&
        po->max_defer_ms <= 0) {
        playbook_error(ld, v[5], "max_defer must be a positive duration");
    }
    /* The team's hours default to the playbook's zone and business hours. */
    po->team_hours = po->business_hours;
    if (v[6]) {
        policy_team(ld, v[6]);
    }
}

/* Categories as a bit mask; returns 0 or -1. */
static int policy_categories(struct playbook_loader *ld, const yaml_node_t *node, unsigned *mask)
{
    long n = playbook_list(ld, node, "categories", 1);
    int rc = n < 0 ? -1 : 0;
    *mask = 0;
    for (long i = 0; i < n; i++) {
        const yaml_node_t *c = playbook_list_at(ld, node, i);
        const char *s = playbook_scalar(ld, c, "a category");
        int k = s ? playbook_lookup(s, playbook_category_names, playbook_n_categories) : -1;
        if (s && k < 0) {
            char dym[64];
            playbook_error(ld, c,
                           "unknown category '%s' (use transactional, service or "
                           "marketing)%s",
                           s,
                           playbook_did_you_mean(s, playbook_category_names, playbook_n_categories,
                                                 dym, sizeof(dym)));
        }
        if (k < 0) {
            rc = -1;
            continue;
        }
        *mask |= 1u << k;
    }
    return rc;
}

void playbook_load_suppressions(struct playbook_loader *ld, const yaml_node_t *node)
{
    static const char *const keys[] = {"id", "when", "categories", "description"};
    static const struct playbook_cond_ctx ctx = {
        "suppression", 0, 0, 0,
        "global suppressions are checked against the customer's state only"};
    long n = playbook_list(ld, node, "suppressions", 0);
    if (n <= 0) {
        return;
    }
    struct ac_pb_suppression *s = playbook_alloc(ld, (size_t)n * sizeof(*s));
    if (!s) {
        return;
    }
    size_t k = 0;
    for (long i = 0; i < n; i++) {
        const yaml_node_t *item = playbook_list_at(ld, node, i);
        const yaml_node_t *v[POLICY_N(keys)];
        if (playbook_map(ld, item, "a suppression", keys, POLICY_N(keys), v, NULL) != 0) {
            continue;
        }
        if (!v[0] || !v[1]) {
            playbook_error(ld, item, "a suppression needs 'id' and 'when'");
            continue;
        }
        struct ac_pb_suppression *one = &s[k];
        one->id = playbook_ident(ld, v[0], "suppression id");
        for (size_t j = 0; one->id && j < k; j++) {
            if (strcmp(s[j].id, one->id) == 0) {
                playbook_error(ld, v[0], "duplicate suppression id '%s' (first defined on line %d)",
                               one->id, s[j].when.line);
                one->id = NULL;
            }
        }
        /* default: everything but transactional messages */
        one->categories = (1u << AC_CAT_MARKETING) | (1u << AC_CAT_SERVICE);
        int rc = v[2] ? policy_categories(ld, v[2], &one->categories) : 0;
        rc |= playbook_cond_init(ld, v[1], &ctx, &one->when);
        if (one->id && rc == 0) {
            k++;
        }
    }
    ld->pb->policies.suppressions = s;
    ld->pb->policies.n_suppressions = k;
}

/* --- families -------------------------------------------------------------------------------- */

static void family_windows(struct playbook_loader *ld, const yaml_node_t *node, const char *what,
                           int64_t *ms, int required)
{
    static const char *const keys[] = {"reorder", "upsell", "replenish"};
    const yaml_node_t *v[3];
    if (playbook_map(ld, node, what, keys, 3, v, NULL) != 0) {
        return;
    }
    for (int w = 0; w < AC_PB_WINDOW__N; w++) {
        if (!v[w]) {
            if (required) {
                playbook_error(ld, node, "%s needs '%s'", what, keys[w]);
            }
            continue;
        }
        if (playbook_duration(ld, v[w], keys[w], 0, &ms[w]) == 0 && ms[w] <= 0) {
            playbook_error(ld, v[w], "%s must be a positive duration", keys[w]);
        }
    }
}

static void family_row(struct playbook_loader *ld, const yaml_node_t *node, const char *name,
                       struct ac_pb_family *f, int is_default)
{
    static const char *const keys[] = {"reorder", "upsell", "replenish", "extended", "cross_sell"};
    const yaml_node_t *v[POLICY_N(keys)];
    char what[96];
    snprintf(what, sizeof(what), "family '%s'", name);
    if (playbook_map(ld, node, what, keys, POLICY_N(keys), v, NULL) != 0) {
        return;
    }
    for (int w = 0; w < AC_PB_WINDOW__N; w++) {
        if (!v[w]) {
            if (is_default) {
                playbook_error(ld, node, "%s needs '%s'", what, playbook_window_names[w]);
            }
            continue;
        }
        if (playbook_duration(ld, v[w], playbook_window_names[w], 0, &f->window_ms[w]) == 0 &&
            f->window_ms[w] <= 0) {
            playbook_error(ld, v[w], "%s must be a positive duration", playbook_window_names[w]);
        }
    }
    if (v[3]) {
        snprintf(what, sizeof(what), "extended windows of family '%s'", name);
        family_windows(ld, v[3], what, f->extended_ms, is_default);
    } else if (is_default) {
        playbook_error(ld, node, "family 'default' needs 'extended' windows");
    }
    if (v[4]) {
        long n = playbook_list(ld, v[4], "cross_sell", 1);
        const char **cs = n > 0 ? playbook_alloc(ld, (size_t)n * sizeof(*cs)) : NULL;
        size_t k = 0;
        for (long i = 0; cs && i < n; i++) {
            const char *s = playbook_ident(ld, playbook_list_at(ld, v[4], i), "family name");
            if (s) {
                cs[k++] = s;
            }
        }
        f->cross_sell = cs;
        f->n_cross_sell = k;
    }
}

void playbook_load_families(struct playbook_loader *ld, const yaml_node_t *node)
{
    static const char *const keys[] = {"price_threshold_cents", "default", "table"};
    const yaml_node_t *v[3];
    struct ac_playbook *pb = ld->pb;
    size_t n_table = 0;
    if (node && playbook_map(ld, node, "families", keys, 3, v, NULL) != 0) {
        return;
    }
    if (!node) {
        memset(v, 0, sizeof(v));
    }
    if (v[2] && v[2]->type == YAML_MAPPING_NODE) {
        n_table = (size_t)(v[2]->data.mapping.pairs.top - v[2]->data.mapping.pairs.start);
    } else if (v[2]) {
        playbook_error(ld, v[2], "table must be a mapping of family name to windows");
    }
    pb->families = playbook_alloc(ld, (1 + n_table) * sizeof(*pb->families));
    if (!pb->families) {
        return;
    }
    /* SPEC §4 defaults: 7 / 14 / 28 days; 21 / 28 / 35 above the threshold. */
    struct ac_pb_family *def = &pb->families[0];
    def->name = "default";
    def->window_ms[AC_PB_REORDER] = 7 * AC_PB_DAY_MS;
    def->window_ms[AC_PB_UPSELL] = 14 * AC_PB_DAY_MS;
    def->window_ms[AC_PB_REPLENISH] = 28 * AC_PB_DAY_MS;
    def->extended_ms[AC_PB_REORDER] = 21 * AC_PB_DAY_MS;
    def->extended_ms[AC_PB_UPSELL] = 28 * AC_PB_DAY_MS;
    def->extended_ms[AC_PB_REPLENISH] = 35 * AC_PB_DAY_MS;
    pb->n_families = 1;
    pb->price_threshold_cents = 20000;
    if (v[0]) {
        (void)playbook_int(ld, v[0], "price_threshold_cents", 0, INT64_MAX / 2,
                           &pb->price_threshold_cents);
    }
    if (v[1]) {
        family_row(ld, v[1], "default", def, 1);
    }
    for (size_t i = 0; i < n_table; i++) {
        yaml_node_pair_t *p = &v[2]->data.mapping.pairs.start[i];
        const yaml_node_t *key = playbook_node(ld, p->key);
        const char *name = playbook_ident(ld, key, "family name");
        if (!name) {
            continue;
        }
        int dup = strcmp(name, "default") == 0;
        for (size_t j = 1; !dup && j < pb->n_families; j++) {
            dup = strcmp(pb->families[j].name, name) == 0;
        }
        if (dup) {
            playbook_error(ld, key, "duplicate family '%s'", name);
            continue;
        }
        struct ac_pb_family *f = &pb->families[pb->n_families++];
        *f = *def; /* a row inherits what it does not set */
        f->name = name;
        f->cross_sell = NULL;
        f->n_cross_sell = 0;
        family_row(ld, playbook_node(ld, p->value), name, f, 0);
    }
}

/* --- experiments ----------------------------------------------------------------------------- */

static void experiment_outcome(struct playbook_loader *ld, const yaml_node_t *node,
                               struct ac_pb_experiment *x)
{
    static const char *const keys[] = {"event", "within"};
    const yaml_node_t *v[2];
    if (playbook_map(ld, node, "outcome", keys, 2, v, NULL) != 0) {
        return;
    }
    if (!v[0] || !v[1]) {
        playbook_error(ld, node, "outcome needs 'event' and 'within'");
        return;
    }
    const char *ev = playbook_scalar(ld, v[0], "event");
    if (ev && playbook_event_index(ev) < 0) {
        char dym[96];
        playbook_error(
            ld, v[0], "unknown event type '%s'%s", ev,
            playbook_did_you_mean(ev, playbook_event_names, PLAYBOOK_N_EVENTS, dym, sizeof(dym)));
    } else if (ev) {
        x->outcome_event = playbook_strdup(ld, ev);
    }
    if (playbook_duration(ld, v[1], "within", 0, &x->outcome_window_ms) == 0 &&
        x->outcome_window_ms <= 0) {
        playbook_error(ld, v[1], "within must be a positive duration");
    }
}

static void experiment_variants(struct playbook_loader *ld, const yaml_node_t *node,
                                struct ac_pb_experiment *x, int64_t *sum)
{
    static const char *const keys[] = {"name", "weight", "template"};
    long n = playbook_list(ld, node, "variants", 0);
    if (n <= 0) {
        if (n == 0) {
            playbook_error(ld, node, "an experiment needs at least one variant");
        }
        return;
    }
    struct ac_pb_variant *vs = playbook_alloc(ld, (size_t)n * sizeof(*vs));
    if (!vs) {
        return;
    }
    size_t k = 0;
    for (long i = 0; i < n; i++) {
        const yaml_node_t *item = playbook_list_at(ld, node, i);
        const yaml_node_t *v[3];
        if (playbook_map(ld, item, "a variant", keys, 3, v, NULL) != 0) {
            continue;
        }
        if (!v[0] || !v[1]) {
            playbook_error(ld, item, "a variant needs 'name' and 'weight'");
            continue;
        }
        struct ac_pb_variant *one = &vs[k];
        int64_t w = 0;
        one->name = playbook_ident(ld, v[0], "variant name");
        for (size_t j = 0; one->name && j < k; j++) {
            if (strcmp(vs[j].name, one->name) == 0) {
                playbook_error(ld, v[0], "duplicate variant '%s'", one->name);
                one->name = NULL;
            }
        }
        if (playbook_int(ld, v[1], "weight", 0, 100, &w) == 0) {
            one->weight = (int)w;
            *sum += w;
        }
        if (v[2]) {
            one->template_name = playbook_ident(ld, v[2], "template");
        }
        if (one->name) {
            k++;
        }
    }
    x->variants = vs;
    x->n_variants = k;
}

void playbook_load_experiments(struct playbook_loader *ld, const yaml_node_t *node)
{
    static const char *const keys[] = {"id", "variants", "holdout", "outcome", "description"};
    long n = playbook_list(ld, node, "experiments", 0);
    if (n <= 0) {
        return;
    }
    struct ac_playbook *pb = ld->pb;
    pb->experiments = playbook_alloc(ld, (size_t)n * sizeof(*pb->experiments));
    if (!pb->experiments) {
        return;
    }
    for (long i = 0; i < n; i++) {
        const yaml_node_t *item = playbook_list_at(ld, node, i);
        const yaml_node_t *v[POLICY_N(keys)];
        if (playbook_map(ld, item, "an experiment", keys, POLICY_N(keys), v, NULL) != 0) {
            continue;
        }
        if (!v[0] || !v[1]) {
            playbook_error(ld, item, "an experiment needs 'id' and 'variants'");
            continue;
        }
        struct ac_pb_experiment *x = &pb->experiments[pb->n_experiments];
        x->id = playbook_ident(ld, v[0], "experiment id");
        if (x->id && ac_playbook_experiment_find(pb, x->id)) {
            playbook_error(ld, v[0], "duplicate experiment id '%s'", x->id);
            x->id = NULL;
        }
        int64_t sum = 0, holdout = 0;
        experiment_variants(ld, v[1], x, &sum);
        if (v[2] && playbook_int(ld, v[2], "holdout", 0, 100, &holdout) == 0) {
            x->holdout = (int)holdout;
        }
        if (sum + holdout != 100) {
            playbook_error(ld, v[1],
                           "variant weights (%lld) and holdout (%lld) add up to %lld, not 100",
                           (long long)sum, (long long)holdout, (long long)(sum + holdout));
        }
        if (v[3]) {
            experiment_outcome(ld, v[3], x);
        }
        if (x->id) {
            pb->n_experiments++;
        }
    }
}
