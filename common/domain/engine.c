/* engine.c — rules, timers, policies and experiments (see engine.h); the
 * collisions of capped messages are engine_collide.c.
 *
 * Reason codes of the decisions:
 *   emitted     "" | "deferred:<why>" (sent after a deferral)
 *   scheduled   "delay" | "anchor" | "family" | "every"
 *   deferred    quiet_hours | business_hours | send_window | <suppression id> | cooloff
 *   rescheduled frequency_cap | channel_cap (the next free slot) |
 *               collision:<rule> (gives way to a higher priority, after its slot) |
 *               merge:<rule> (waits for a higher priority to ride along in it)
 *   merged      merged_into:<rule> (its vars carried along in that rule's message)
 *   capped      frequency_cap | channel_cap
 *   suppressed  <suppression id> | rule_suppression:<its predicate> | cooloff | no_consent
 *   held_out    holdout
 *   expired     expired | defer_bound:<why> | <hours reason> (the next window is past expiry)
 *   cancelled   cancel_on:<event type>
 *   exited      exit_when | conditions
 *   dropped     no_anchor | no_window | timer_limit | rule_removed | no_timer_store
 */
#include "engine.h"
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "tz.h"
#include "utf8.h"

static const char *const engine_decision_names[AC_DECISION__N] = {
    "emitted",    "scheduled", "deferred", "rescheduled", "merged", "capped",
    "suppressed", "held_out",  "expired",  "cancelled",   "exited", "dropped"};

const char *ac_decision_name(enum ac_decision_kind k)
{
    return (unsigned)k < AC_DECISION__N ? engine_decision_names[k] : "?";
}

static void engine_index_exits(struct ac_engine *en)
{
    en->n_exit_rules = 0;
    en->exit_rules_all = 0;
    for (size_t i = 0; en->pb && i < ac_playbook_rule_count(en->pb); i++) {
        const struct ac_pb_rule *r = ac_playbook_rule(en->pb, i);
        if (r && r->exit_when) {
            if (en->n_exit_rules == ENGINE_EXIT_RULES_MAX) {
                en->exit_rules_all = 1;
                return;
            }
            en->exit_rules[en->n_exit_rules++] = r;
        }
    }
}

struct ac_engine *ac_engine_new(const struct ac_playbook *pb, const struct ac_engine_opts *opts)
{
    struct ac_engine *en = calloc(1, sizeof(*en));
    if (!en) {
        return NULL;
    }
    en->pb = pb;
    engine_index_exits(en);
    en->tz = ac_tz_cache_new();
    if (!en->tz) {
        free(en);
        return NULL;
    }
    snprintf(en->default_owner, sizeof(en->default_owner), "%s",
             opts && opts->default_owner ? opts->default_owner : "customer-success");
    return en;
}

void ac_engine_destroy(struct ac_engine *en)
{
    if (en) {
        ac_tz_cache_destroy(en->tz);
        free(en);
    }
}

void ac_engine_set_playbook(struct ac_engine *en, const struct ac_playbook *pb)
{
    en->pb = pb;
    engine_index_exits(en);
}

const struct ac_playbook *ac_engine_playbook(const struct ac_engine *en)
{
    return en->pb;
}

/* Bounded copy (hot: no snprintf). */
void engine_copy(char *dst, size_t n, const char *src)
{
    size_t len = src ? strnlen(src, n - 1) : 0;
    if (len > 0) {
        memcpy(dst, src, len);
    }
    dst[len] = '\0';
}

/* --- conditions ------------------------------------------------------------------------------ */

struct engine_view {
    const struct ac_trigger *t;
    const struct ac_customer *c;
};

static void engine_ts(struct ac_expr_value *out, int64_t v)
{
    if (v == AC_TS_NONE) {
        ac_expr_set_null(out);
    } else {
        ac_expr_set_int(out, v);
    }
}

static void engine_str(struct ac_expr_value *out, const char *s)
{
    ac_expr_set_str(out, s && *s ? s : NULL);
}

static int engine_get_trigger(const struct ac_trigger *t, int id, struct ac_expr_value *out)
{
    int ev = t->source == AC_TRIGGER_EVENT;
    int sig = t->source == AC_TRIGGER_SIGNAL;
    ac_expr_set_null(out);
    switch (id) {
    case AC_PB_F_EVENT_TYPE: engine_str(out, ev ? t->type : NULL); break;
    case AC_PB_F_EVENT_OCCURRED_AT: engine_ts(out, ev ? t->occurred_at : AC_TS_NONE); break;
    case AC_PB_F_EVENT_ORDER_ID: engine_str(out, t->order_id); break;
    case AC_PB_F_EVENT_TOTAL_CENTS: engine_ts(out, t->total_cents); break;
    case AC_PB_F_EVENT_CURRENCY: engine_str(out, t->currency); break;
    case AC_PB_F_EVENT_N_ITEMS: engine_ts(out, t->n_items); break;
    case AC_PB_F_EVENT_MAX_UNIT_PRICE_CENTS: engine_ts(out, t->max_unit_price_cents); break;
    case AC_PB_F_EVENT_RENEWAL_AT: engine_ts(out, t->renewal_at); break;
    case AC_PB_F_EVENT_ACCOUNT_OWNER: break;
    case AC_PB_F_EVENT_CARRIER: engine_str(out, t->carrier); break;
    case AC_PB_F_EVENT_ESTIMATED_DELIVERY_AT: engine_ts(out, t->estimated_delivery_at); break;
    case AC_PB_F_EVENT_NEW_ESTIMATED_DELIVERY_AT:
        engine_ts(out, t->new_estimated_delivery_at);
        break;
    case AC_PB_F_EVENT_SCORE: engine_ts(out, t->score < 0 ? AC_TS_NONE : t->score); break;
    case AC_PB_F_EVENT_SCALE: engine_str(out, t->scale); break;
    case AC_PB_F_EVENT_TICKET_ID: engine_str(out, t->ticket_id); break;
    case AC_PB_F_EVENT_PRIORITY: engine_str(out, t->priority); break;
    case AC_PB_F_EVENT_IS_COMPLAINT:
        if (t->topic == AC_TOPIC_FEEDBACK) {
            ac_expr_set_bool(out, t->is_complaint);
        }
        break;
    case AC_PB_F_EVENT_ENGAGEMENT: engine_str(out, t->engagement); break;
    case AC_PB_F_EVENT_CHANNEL: engine_str(out, t->channel); break;
    case AC_PB_F_EVENT_FEATURE: engine_str(out, t->feature); break;
    case AC_PB_F_EVENT_MILESTONE: engine_str(out, t->milestone); break;
    case AC_PB_F_EVENT_QUANTITY: engine_ts(out, t->quantity); break;
    case AC_PB_F_SIGNAL_NAME: engine_str(out, sig ? t->signal : NULL); break;
    case AC_PB_F_SIGNAL_VALUE: engine_str(out, sig ? t->value : NULL); break;
    case AC_PB_F_SIGNAL_PREVIOUS: engine_str(out, sig ? t->previous : NULL); break;
    default: return 0;
    }
    return 1;
}

static int engine_get(const void *opaque, int id, struct ac_expr_value *out)
{
    const struct engine_view *v = opaque;
    const struct ac_customer *c = v->c;
    if (engine_get_trigger(v->t, id, out)) {
        return 0;
    }
    switch (id) {
    case AC_PB_F_CUSTOMER_ORDER_COUNT: ac_expr_set_int(out, c->order_count); break;
    case AC_PB_F_CUSTOMER_FIRST_ORDER_AT: engine_ts(out, c->first_order_at); break;
    case AC_PB_F_CUSTOMER_LAST_ORDER_AT: engine_ts(out, c->last_order_at); break;
    case AC_PB_F_CUSTOMER_REVENUE_CENTS: ac_expr_set_int(out, c->revenue_cents); break;
    case AC_PB_F_CUSTOMER_AOV_CENTS: ac_expr_set_int(out, ac_customer_aov_cents(c)); break;
    case AC_PB_F_CUSTOMER_OPEN_CARTS: ac_expr_set_int(out, c->open_carts); break;
    case AC_PB_F_CUSTOMER_CANCELLED_ORDERS: ac_expr_set_int(out, c->cancelled_orders); break;
    case AC_PB_F_CUSTOMER_RETURNS: ac_expr_set_int(out, c->returns); break;
    case AC_PB_F_CUSTOMER_RENEWAL_AT: engine_ts(out, c->renewal_at); break;
    case AC_PB_F_CUSTOMER_CONTRACT_SIGNED_AT: engine_ts(out, c->contract_signed_at); break;
    case AC_PB_F_CUSTOMER_SUBSCRIPTION: engine_str(out, c->subscription); break;
    case AC_PB_F_CUSTOMER_ACCOUNT_OWNER: engine_str(out, c->account_owner); break;
    case AC_PB_F_CUSTOMER_SEGMENT: engine_str(out, c->segment); break;
    case AC_PB_F_CUSTOMER_DELIVERIES_IN_FLIGHT:
        ac_expr_set_int(out, c->deliveries_in_flight);
        break;
    case AC_PB_F_CUSTOMER_LATE_DELIVERIES: ac_expr_set_int(out, c->late_deliveries); break;
    case AC_PB_F_CUSTOMER_LAST_SCORE:
        engine_ts(out, c->last_score < 0 ? AC_TS_NONE : c->last_score);
        break;
    case AC_PB_F_CUSTOMER_NPS_CLASS: engine_str(out, c->nps_class); break;
    case AC_PB_F_CUSTOMER_LAST_SURVEY_AT: engine_ts(out, c->last_survey_at); break;
    case AC_PB_F_CUSTOMER_OPEN_TICKETS: ac_expr_set_int(out, c->open_tickets); break;
    case AC_PB_F_CUSTOMER_OPEN_COMPLAINTS: ac_expr_set_int(out, c->open_complaints); break;
    case AC_PB_F_CUSTOMER_LAST_ACTIVITY_AT: engine_ts(out, c->last_activity_at); break;
    case AC_PB_F_CUSTOMER_USAGE_TREND: engine_str(out, c->usage_trend); break;
    case AC_PB_F_CUSTOMER_ONBOARDING_COMPLETED:
        ac_expr_set_bool(out, c->onboarding_completed != 0);
        break;
    case AC_PB_F_CUSTOMER_CHURN_RISK: engine_str(out, c->churn_risk); break;
    case AC_PB_F_CUSTOMER_P_ALIVE_PCT:
        engine_ts(out, c->p_alive_pct < 0 ? AC_TS_NONE : c->p_alive_pct);
        break;
    case AC_PB_F_CUSTOMER_FREQUENCY_OPT_IN: ac_expr_set_bool(out, c->frequency_opt_in != 0); break;
    case AC_PB_F_CUSTOMER_PREFERRED_CHANNEL: engine_str(out, c->preferred_channel); break;
    case AC_PB_F_CUSTOMER_TIMEZONE: engine_str(out, c->timezone); break;
    default: ac_expr_set_null(out); break;
    }
    return 0;
}

/* A condition: NULL is true; an evaluation error counts as false (the
 * loader typed every condition, so only absent data can cause one). */
int engine_cond(const struct ac_pb_cond *cond, const struct ac_trigger *t,
                const struct ac_customer *c, int64_t now)
{
    if (!cond || !cond->expr) {
        return 1;
    }
    struct engine_view v = {t, c};
    struct ac_expr_env env = {now, engine_get, &v};
    return ac_expr_eval(cond->expr, &env) == 1;
}

/* --- decisions ------------------------------------------------------------------------------- */

struct ac_decision *engine_decide(struct ac_emit *out, int64_t now, const char *rule_id, int part,
                                  enum ac_decision_kind k, const char *reason,
                                  const char *action_id, int64_t not_before)
{
    if (out->n_decisions >= AC_EMIT_MAX_DECISIONS) {
        out->decisions_lost++;
        return NULL;
    }
    if (out->n_decisions == AC_EMIT_MAX_DECISIONS - 1) {
        /* The last slot says that the bound was reached, visibly: a dropped
         * decision on the decisions topic, and the rest counted. */
        out->decisions_lost++;
        k = AC_DECISION_DROPPED;
        reason = "decision_limit";
    }
    struct ac_decision *d = &out->decisions[out->n_decisions++];
    memset(d, 0, sizeof(*d));
    d->at = now;
    engine_copy(d->rule_id, sizeof(d->rule_id), rule_id);
    d->part = part;
    engine_copy(d->decision, sizeof(d->decision), ac_decision_name(k));
    engine_copy(d->reason, sizeof(d->reason), reason);
    engine_copy(d->action_id, sizeof(d->action_id), action_id);
    d->not_before = not_before;
    if (out->trigger) {
        engine_copy(d->trigger_id, sizeof(d->trigger_id), out->trigger->id);
        engine_copy(d->trigger_type, sizeof(d->trigger_type), out->trigger->type);
    }
    return d;
}

static void engine_counter(struct ac_emit *out, const char *exp, const char *variant,
                           const char *what)
{
    if (out->n_counters >= AC_EMIT_MAX_COUNTERS) {
        return;
    }
    struct ac_counter *k = &out->counters[out->n_counters++];
    snprintf(k->field, sizeof(k->field), "%s:%s:%s", exp, variant, what);
    k->by = 1;
}

/* --- time zones and windows ------------------------------------------------------------------ */

static struct ac_tz *engine_zone(struct ac_engine *en, const struct ac_customer *c,
                                 struct ac_emit *out)
{
    if (c->timezone[0]) {
        struct ac_tz *z = ac_tz_cache_get(en->tz, c->timezone);
        if (z) {
            return z;
        }
        out->tz_fallbacks++;
    } else {
        out->tz_missing++;
    }
    const struct ac_pb_policies *po = ac_playbook_policies(en->pb);
    struct ac_tz *z = ac_tz_cache_get(en->tz, po->timezone ? po->timezone : "UTC");
    return z ? z : ac_tz_cache_get(en->tz, "UTC");
}

/* Team work (tasks and notifications for the team) follows the team's zone
 * and hours; everything else the customer's. */
static int engine_team_work(const struct ac_pb_action *pa)
{
    return pa->kind == AC_KIND_TEAM_TASK || pa->kind == AC_KIND_TEAM_NOTIFICATION;
}

static struct ac_tz *engine_zone_for(struct ac_engine *en, const struct ac_pb_action *pa,
                                     const struct ac_customer *c, struct ac_emit *out)
{
    if (!engine_team_work(pa)) {
        return engine_zone(en, c, out);
    }
    const struct ac_pb_policies *po = ac_playbook_policies(en->pb);
    const char *name = po->team_timezone ? po->team_timezone : po->timezone;
    struct ac_tz *z = ac_tz_cache_get(en->tz, name ? name : "UTC");
    return z ? z : ac_tz_cache_get(en->tz, "UTC");
}

static const struct ac_pb_daywin *engine_business_hours(const struct ac_engine *en,
                                                        const struct ac_pb_action *pa)
{
    const struct ac_pb_policies *po = ac_playbook_policies(en->pb);
    return engine_team_work(pa) ? &po->team_hours : &po->business_hours;
}

/* --- experiments ----------------------------------------------------------------------------- */

const char *ac_engine_assign(const struct ac_pb_experiment *x, const char *customer_id)
{
    uint32_t h = 2166136261u;
    for (const char *p = x->id; *p; p++) {
        h = (h ^ (unsigned char)*p) * 16777619u;
    }
    h = (h ^ 0xffu) * 16777619u;
    for (const char *p = customer_id; *p; p++) {
        h = (h ^ (unsigned char)*p) * 16777619u;
    }
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    int slot = (int)(h % 100u);
    if (slot < x->holdout) {
        return "holdout";
    }
    slot -= x->holdout;
    for (size_t i = 0; i < x->n_variants; i++) {
        if (slot < x->variants[i].weight) {
            return x->variants[i].name;
        }
        slot -= x->variants[i].weight;
    }
    return x->n_variants ? x->variants[x->n_variants - 1].name : "holdout";
}

/* Finds "exp=" in the assignments; returns a pointer to the entry or NULL. */
static const char *engine_assignment(const struct ac_customer *c, const char *exp)
{
    size_t n = strlen(exp);
    for (const char *p = c->experiments; *p;) {
        if (strncmp(p, exp, n) == 0 && p[n] == '=') {
            return p;
        }
        const char *comma = strchr(p, ',');
        if (!comma) {
            break;
        }
        p = comma + 1;
    }
    return NULL;
}

/* The variant of c in x, assigning (and recording, and counting) it the first time. */
static void engine_variant(const struct ac_pb_experiment *x, struct ac_customer *c, int64_t now,
                           struct ac_emit *out, char *variant, size_t vlen)
{
    const char *e = engine_assignment(c, x->id);
    if (e) {
        const char *v = e + strlen(x->id) + 1;
        size_t n = strcspn(v, "@,");
        snprintf(variant, vlen, "%.*s", (int)n, v);
        return;
    }
    const char *v = ac_engine_assign(x, c->customer_id);
    ac_str_copy(variant, vlen, v);
    size_t used = strlen(c->experiments);
    int n = snprintf(c->experiments + used, sizeof(c->experiments) - used, "%s%s=%s@%lld",
                     used ? "," : "", x->id, v, (long long)now);
    if (n < 0 || (size_t)n >= sizeof(c->experiments) - used) {
        c->experiments[used] = '\0'; /* full: assignment stays deterministic, unrecorded */
    }
    engine_counter(out, x->id, v, "assigned");
}

/* An outcome event converts every assignment it is the first outcome of. */
static void engine_conversions(struct ac_engine *en, struct ac_customer *c,
                               const struct ac_event *ev, struct ac_emit *out)
{
    for (size_t i = 0; i < ac_playbook_experiment_count(en->pb); i++) {
        const struct ac_pb_experiment *x = ac_playbook_experiment(en->pb, i);
        if (!x->outcome_event || strcmp(x->outcome_event, ev->type) != 0) {
            continue;
        }
        const char *e = engine_assignment(c, x->id);
        if (!e) {
            continue;
        }
        char *p = c->experiments + (e - c->experiments);
        char *at = strchr(p, '@');
        if (!at) {
            continue;
        }
        char *end = NULL;
        long long assigned = strtoll(at + 1, &end, 10);
        if (!end || *end == '+') {
            continue; /* converted already */
        }
        if (ev->occurred_at < assigned || ev->occurred_at - assigned > x->outcome_window_ms) {
            continue;
        }
        size_t used = strlen(c->experiments);
        if (used + 1 >= sizeof(c->experiments)) {
            continue;
        }
        memmove(end + 1, end, strlen(end) + 1);
        *end = '+';
        char variant[AC_TYPE_MAX];
        size_t vn = strcspn(p + strlen(x->id) + 1, "@");
        snprintf(variant, sizeof(variant), "%.*s", (int)vn, p + strlen(x->id) + 1);
        engine_counter(out, x->id, variant, "converted");
    }
}

/* --- frequency cap clock --------------------------------------------------------------------- */

/* Sends of channel (NULL: all) within [at - per, at], and the oldest of them. */
int engine_sends(const struct ac_customer *c, const char *channel, int64_t at, int64_t per,
                 int64_t *oldest)
{
    int n = 0;
    *oldest = INT64_MAX;
    for (const char *p = c->sends; *p;) {
        char *end = NULL;
        long long ts = strtoll(p, &end, 10);
        const char *ch = end && *end == ':' ? end + 1 : "";
        size_t chlen = strcspn(ch, ",");
        if (ts <= at && ts > at - per &&
            (!channel || (strlen(channel) == chlen && strncmp(ch, channel, chlen) == 0))) {
            n++;
            if (ts < *oldest) {
                *oldest = ts;
            }
        }
        const char *comma = strchr(p, ',');
        if (!comma) {
            break;
        }
        p = comma + 1;
    }
    return n;
}

static int64_t engine_cap_horizon(const struct ac_pb_policies *po)
{
    int64_t h = po->cap.per_ms > po->cap_opted_in.per_ms ? po->cap.per_ms : po->cap_opted_in.per_ms;
    for (size_t i = 0; i < po->n_channel_caps; i++) {
        if (po->channel_caps[i].per_ms > h) {
            h = po->channel_caps[i].per_ms;
        }
    }
    return h;
}

/* Appends entry to the comma-separated list kept[0..used) (cap bytes, the
 * entries kept so far), dropping the oldest entries until it fits, and
 * writes the list to dst (cap bytes too). */
static void engine_list_push(char *kept, size_t cap, size_t used, const char *entry, char *dst)
{
    size_t n = strlen(entry);
    while (used && used + n + 2 > cap) {
        char *comma = strchr(kept, ',');
        if (!comma) {
            used = 0;
            kept[0] = '\0';
            break;
        }
        memmove(kept, comma + 1, strlen(comma + 1) + 1);
        used = strlen(kept);
    }
    snprintf(kept + used, cap - used, "%s%s", used ? "," : "", entry);
    memcpy(dst, kept, cap);
}

/* Records a send at `at`, forgetting sends older than the longest cap period. */
static void engine_record_send(const struct ac_pb_policies *po, struct ac_customer *c,
                               const char *channel, int64_t at)
{
    char kept[AC_SENDS_MAX];
    size_t used = 0;
    int64_t horizon = engine_cap_horizon(po);
    kept[0] = '\0';
    for (const char *p = c->sends; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        long long ts = strtoll(p, NULL, 10);
        if (ts > at - horizon && used + len + 2 < sizeof(kept)) {
            used += (size_t)snprintf(kept + used, sizeof(kept) - used, "%s%.*s", used ? "," : "",
                                     (int)len, p);
        }
        if (!comma) {
            break;
        }
        p = comma + 1;
    }
    char entry[64];
    snprintf(entry, sizeof(entry), "%lld:%s", (long long)at, channel);
    engine_list_push(kept, sizeof(kept), used, entry, c->sends);
}

/* --- consent and channel --------------------------------------------------------------------- */

/* Consent by purpose (customer.h): a refusal of the channel stops every
 * message on it; an unsubscribe only the playbook's consent.unsubscribe
 * categories, never a transactional message. */
int engine_consented(const struct ac_pb_policies *po, const struct ac_customer *c,
                     const char *channel, enum ac_category category)
{
    return ac_customer_consented(c, channel, category, po->unsubscribe_categories);
}

int engine_is_customer_channel(const char *ch)
{
    static const char *const names[] = {"email", "sms", "push", "in_app", "phone"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(ch, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* --- cool-offs ------------------------------------------------------------------------------- */

/* The last emission of rule_id in c->cooloffs ("rule=ms,..."), or AC_TS_NONE. */
int64_t engine_cooloff_last(const struct ac_customer *c, const char *rule_id)
{
    size_t n = strlen(rule_id);
    for (const char *p = c->cooloffs; *p;) {
        if (strncmp(p, rule_id, n) == 0 && p[n] == '=') {
            return (int64_t)strtoll(p + n + 1, NULL, 10);
        }
        const char *comma = strchr(p, ',');
        if (!comma) {
            break;
        }
        p = comma + 1;
    }
    return AC_TS_NONE;
}

/* Records at as rule_id's last emission. Entries whose cool-off has passed
 * (or whose rule is gone or has none now) are forgotten; when the new one
 * still does not fit, the oldest are. */
void engine_cooloff_record(const struct ac_engine *en, struct ac_customer *c, const char *rule_id,
                           int64_t at)
{
    char kept[AC_COOLOFFS_MAX];
    char entry[AC_NAME_MAX + 24];
    size_t used = 0;
    int n = snprintf(entry, sizeof(entry), "%s=%lld", rule_id, (long long)at);
    if (n < 0 || (size_t)n >= sizeof(kept)) {
        return;
    }
    kept[0] = '\0';
    for (const char *p = c->cooloffs; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        char id[AC_NAME_MAX];
        if (eq && (size_t)(eq - p) < sizeof(id)) {
            memcpy(id, p, (size_t)(eq - p));
            id[eq - p] = '\0';
            const struct ac_pb_rule *r = ac_playbook_rule_find(en->pb, id);
            long long last = strtoll(eq + 1, NULL, 10);
            if (strcmp(id, rule_id) != 0 && r && r->cooloff_ms > 0 && at - last < r->cooloff_ms &&
                used + len + 2 <= sizeof(kept)) {
                used += (size_t)snprintf(kept + used, sizeof(kept) - used, "%s%.*s",
                                         used ? "," : "", (int)len, p);
            }
        }
        if (!comma) {
            break;
        }
        p = comma + 1;
    }
    engine_list_push(kept, sizeof(kept), used, entry, c->cooloffs);
}

/* --- a rule's signal ------------------------------------------------------------------------- */

/* The rule's signal, for the timer that came due (its id makes the
 * signal's: once per timer, in every run). A late_delivery signal counts
 * in the customer's late deliveries, as the deliveries processor's do. */
static void engine_rule_signal(const struct ac_pb_rule *r, struct ac_customer *c,
                               const struct ac_timer *tm, struct ac_emit *out)
{
    char key[AC_NAME_MAX + 8];
    struct ac_signal *s = &out->signals[out->n_signals++];
    memset(s, 0, sizeof(*s));
    snprintf(key, sizeof(key), "signal:%s", r->signal);
    ac_action_id(s->signal_id, key, tm->id, 0);
    engine_copy(s->customer_id, sizeof(s->customer_id), c->customer_id);
    engine_copy(s->signal, sizeof(s->signal), r->signal);
    engine_copy(s->value, sizeof(s->value), r->signal_value);
    engine_copy(s->cause_event_id, sizeof(s->cause_event_id), tm->trigger.id);
    s->occurred_at = tm->first_due;
    if (strcmp(r->signal, "late_delivery") == 0) {
        c->late_deliveries++;
        s->score = (double)c->late_deliveries;
    }
}

/* --- vars ------------------------------------------------------------------------------------ */

static void engine_var_i64(struct ac_action *a, const char *name, int64_t v)
{
    if (v != AC_TS_NONE) {
        ac_action_var_i64(a, name, v);
    }
}

static void engine_var(struct ac_engine *en, struct ac_action *a, const char *name,
                       const struct ac_trigger *t, const struct ac_customer *c,
                       const struct ac_timer *tm)
{
    if (strcmp(name, "order_id") == 0) {
        if (t->order_id[0]) {
            ac_action_var(a, name, t->order_id);
        }
    } else if (strcmp(name, "total_cents") == 0) {
        engine_var_i64(a, name, t->total_cents);
    } else if (strcmp(name, "currency") == 0) {
        ac_action_var(a, name, t->currency);
    } else if (strcmp(name, "items") == 0) {
        engine_var_i64(a, name, t->n_items);
    } else if (strcmp(name, "estimated_delivery_at") == 0) {
        engine_var_i64(a, name, t->estimated_delivery_at);
    } else if (strcmp(name, "new_estimated_delivery_at") == 0) {
        engine_var_i64(a, name, t->new_estimated_delivery_at);
    } else if (strcmp(name, "account_link") == 0) {
        ac_action_var(a, name, "account/orders");
    } else if (strcmp(name, "assignee") == 0) {
        ac_action_var(a, name, c->account_owner[0] ? c->account_owner : en->default_owner);
    } else if (strcmp(name, "family") == 0) {
        ac_action_var(a, name, t->family);
    } else if (strcmp(name, "cross_sell") == 0) {
        const struct ac_pb_family *f = ac_playbook_family(en->pb, t->family);
        char list[AC_KV_VAL_MAX] = "";
        size_t used = 0;
        for (size_t i = 0; f && i < f->n_cross_sell && used < sizeof(list); i++) {
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? "," : "",
                                     f->cross_sell[i]);
        }
        ac_action_var(a, name, list);
    } else if (strcmp(name, "related_categories") == 0) {
        ac_action_var(a, name, c->families);
    } else if (strcmp(name, "renewal_at") == 0) {
        engine_var_i64(a, name, c->renewal_at);
    } else if (strcmp(name, "years") == 0) {
        const struct ac_pb_rule *r = ac_playbook_rule_find(en->pb, tm->rule_id);
        if (r && tm->part < (int)r->n_actions) {
            engine_var_i64(a, name, r->actions[tm->part].timing.delay_ms / AC_PB_YEAR_MS);
        }
    } else if (strcmp(name, "status") == 0) {
        ac_action_var(a, name, t->type);
    } else if (strcmp(name, "carrier") == 0) {
        ac_action_var(a, name, t->carrier);
    } else if (strcmp(name, "ticket_id") == 0) {
        ac_action_var(a, name, t->ticket_id);
    } else if (strcmp(name, "priority") == 0) {
        ac_action_var(a, name, t->priority);
    } else if (strcmp(name, "score") == 0) {
        engine_var_i64(a, name, t->score < 0 ? AC_TS_NONE : t->score);
    } else if (strcmp(name, "detail") == 0 || strcmp(name, "milestone") == 0) {
        ac_action_var(a, name, t->milestone[0] ? t->milestone : t->value);
    } else if (strcmp(name, "usage_trend") == 0) {
        ac_action_var(a, name, c->usage_trend);
    } else if (strcmp(name, "churn_score") == 0) {
        ac_action_var(a, name, c->churn_risk);
    }
    /* Names without a value here (fees, comment, results_summary, ...) are
     * the sender's to fill from its own systems. */
}

/* The action's vars: literals, and the names filled from the trigger and state. */
void engine_fill_vars(struct ac_engine *en, struct ac_action *a, const struct ac_pb_action *pa,
                      const struct ac_trigger *t, const struct ac_customer *c,
                      const struct ac_timer *tm)
{
    for (size_t i = 0; i < pa->n_vars; i++) {
        if (pa->vars[i].value) {
            ac_action_var(a, pa->vars[i].name, pa->vars[i].value);
        } else {
            engine_var(en, a, pa->vars[i].name, t, c, tm);
        }
    }
}

/* --- deciding one due action ----------------------------------------------------------------- */

/* The earliest time >= at the action's hours and window allow, in c's zone
 * (the team's for team work). */
int64_t engine_hours(struct ac_engine *en, const struct ac_pb_action *pa,
                     const struct ac_customer *c, int64_t at, struct ac_emit *out, const char **why)
{
    const struct ac_pb_policies *po = ac_playbook_policies(en->pb);
    struct ac_tz *z = NULL;
    int64_t t = at;
    for (int round = 0; round < 4; round++) {
        int64_t before = t;
        if (pa->hours != AC_PB_HOURS_ANY || pa->window) {
            if (!z) {
                z = engine_zone_for(en, pa, c, out);
            }
            if (!z) {
                return t;
            }
        }
        if (pa->hours == AC_PB_HOURS_QUIET) {
            int64_t n = ac_tz_next(z, &po->quiet_hours, 0, t);
            if (n > t) {
                *why = "quiet_hours";
                t = n;
            }
        } else if (pa->hours == AC_PB_HOURS_BUSINESS) {
            int64_t n = ac_tz_next(z, engine_business_hours(en, pa), 1, t);
            if (n > t) {
                *why = "business_hours";
                t = n;
            }
        }
        if (pa->window) {
            int64_t n = ac_tz_next(z, pa->window, 1, t);
            if (n > t) {
                *why = "send_window";
                t = n;
            }
        }
        if (t == before || t == INT64_MAX) {
            break;
        }
    }
    return t;
}

/* The bound of a deferral: the rule's own, else the policies'. */
int64_t engine_defer_bound(const struct ac_engine *en, const struct ac_pb_action *pa,
                           const struct ac_timer *tm)
{
    const struct ac_pb_policies *po = ac_playbook_policies(en->pb);
    int64_t max = pa->defer_max_ms > 0 ? pa->defer_max_ms : po->max_defer_ms;
    int64_t b = max > 0 ? tm->first_due + max : INT64_MAX;
    if (tm->expires_at != AC_TS_NONE && tm->expires_at < b) {
        b = tm->expires_at;
    }
    return b;
}

/* The bound of a reschedule for the frequency cap: the rule's own defer
 * bound if it wrote one, else its expiry (a message waits for the cap's
 * next free slot as long as it is worth sending), else the policies'
 * max_defer. */
int64_t engine_slot_bound(const struct ac_engine *en, const struct ac_pb_action *pa,
                          const struct ac_timer *tm)
{
    if (!pa->defer_explicit && tm->expires_at != AC_TS_NONE) {
        return tm->expires_at;
    }
    return engine_defer_bound(en, pa, tm);
}

/* Blocked by a policy that may lift at `retry`: defer within the bound, or drop. */
static int engine_blocked(struct ac_engine *en, const struct ac_pb_action *pa, struct ac_timer *tm,
                          int64_t now, int64_t retry, enum ac_decision_kind drop_as,
                          const char *why, struct ac_emit *out)
{
    int64_t bound = drop_as == AC_DECISION_CAPPED ? engine_slot_bound(en, pa, tm)
                                                  : engine_defer_bound(en, pa, tm);
    if (pa->on_blocked == AC_PB_DEFER && retry != INT64_MAX && retry <= bound) {
        tm->due = retry;
        /* Deferred again for the same reason: one decision (the first) is
         * enough for the audit trail and the counts. A cap's block moves it
         * to the cap's next free slot: rescheduled. */
        if (strcmp(tm->reason, why) != 0) {
            engine_decide(out, now, tm->rule_id, tm->part,
                          drop_as == AC_DECISION_CAPPED ? AC_DECISION_RESCHEDULED
                                                        : AC_DECISION_DEFERRED,
                          why, tm->id, retry);
        }
        engine_copy(tm->reason, sizeof(tm->reason), why);
        return ENGINE_KEEP;
    }
    const char *reason = why;
    enum ac_decision_kind k = drop_as;
    if (pa->on_blocked == AC_PB_DEFER) {
        k = AC_DECISION_EXPIRED;
        reason = "defer_bound";
    }
    struct ac_decision *d = engine_decide(out, now, tm->rule_id, tm->part, k, reason, tm->id, 0);
    if (d && k == AC_DECISION_EXPIRED) {
        snprintf(d->reason, sizeof(d->reason), "defer_bound:%s", why);
    }
    return ENGINE_DONE;
}

/* Decides a due action. Returns ENGINE_KEEP if *tm stays pending (deferred,
 * or no room to emit), ENGINE_DONE if it is finished (emitted or dropped). */
static int engine_decide_one(struct ac_engine *en, struct ac_customer *c, struct ac_timer *tm,
                             int64_t now, struct ac_emit *out)
{
    const struct ac_pb_policies *po = ac_playbook_policies(en->pb);
    const struct ac_pb_rule *r = ac_playbook_rule_find(en->pb, tm->rule_id);
    if (!r || tm->part < 0 || (size_t)tm->part >= r->n_actions) {
        engine_decide(out, now, tm->rule_id, tm->part, AC_DECISION_DROPPED, "rule_removed", tm->id,
                      0);
        return ENGINE_DONE;
    }
    const struct ac_pb_action *pa = &r->actions[tm->part];
    const struct ac_trigger *t = &tm->trigger;
    int64_t at = tm->due > now ? tm->due : now;
    if (tm->expires_at != AC_TS_NONE && at > tm->expires_at) {
        engine_decide(out, now, r->id, tm->part, AC_DECISION_EXPIRED,
                      tm->reason[0] ? tm->reason : "expired", tm->id, 0);
        return ENGINE_DONE;
    }
    if (r->exit_when && engine_cond(r->exit_when, t, c, at)) {
        engine_decide(out, now, r->id, tm->part, AC_DECISION_EXITED, "exit_when", tm->id, 0);
        return ENGINE_DONE;
    }
    if (!engine_cond(r->when, t, c, at) || !engine_cond(pa->when, t, c, at)) {
        engine_decide(out, now, r->id, tm->part, AC_DECISION_EXITED, "conditions", tm->id, 0);
        return ENGINE_DONE;
    }
    /* The rule's signal, the first time the action comes due (a deferred
     * timer carries its reason); with room for the action too, so that a
     * timer kept for lack of room never signals twice. */
    if (r->signal && tm->reason[0] == '\0') {
        if (out->n_signals >= AC_EMIT_MAX_SIGNALS || out->n_actions >= AC_EMIT_MAX_ACTIONS) {
            return ENGINE_KEEP;
        }
        engine_rule_signal(r, c, tm, out);
    }
    char variant[AC_TYPE_MAX] = "";
    const char *template_name = pa->template_name;
    if (r->experiment) {
        engine_variant(r->experiment, c, at, out, variant, sizeof(variant));
        if (strcmp(variant, "holdout") == 0) {
            struct ac_decision *d = engine_decide(out, now, r->id, tm->part, AC_DECISION_HELD_OUT,
                                                  "holdout", tm->id, at);
            if (d) {
                engine_copy(d->experiment, sizeof(d->experiment), r->experiment->id);
                engine_copy(d->variant, sizeof(d->variant), variant);
            }
            return ENGINE_DONE;
        }
        for (size_t i = 0; i < r->experiment->n_variants; i++) {
            const struct ac_pb_variant *v = &r->experiment->variants[i];
            if (strcmp(v->name, variant) == 0 && v->template_name) {
                template_name = v->template_name;
            }
        }
    }
    /* Suppressions: the rule's own, then the global ones of its category. */
    const char *suppressed = NULL;
    char own[sizeof(tm->reason)]; /* the timer keeps it: the same bound */
    if (r->suppress_when && engine_cond(r->suppress_when, t, c, at)) {
        /* named by its predicate (a detail after ':' is not a metric label) */
        snprintf(own, sizeof(own), "rule_suppression:%s",
                 r->suppress_when->text ? r->suppress_when->text : "");
        /* cut at a character, never inside one (the reason goes to Avro and JSON) */
        size_t len = strlen(own);
        for (int k = 0; k < 3 && len > 0 && !ac_utf8_valid(own, len); k++) {
            own[--len] = '\0';
        }
        suppressed = own;
    }
    for (size_t i = 0; !suppressed && i < po->n_suppressions; i++) {
        const struct ac_pb_suppression *s = &po->suppressions[i];
        if ((s->categories & (1u << pa->category)) && engine_cond(&s->when, t, c, at)) {
            suppressed = s->id;
        }
    }
    if (suppressed) {
        /* A suppression lifts when the state changes: look again in an hour. */
        return engine_blocked(en, pa, tm, now, at + AC_PB_HOUR_MS, AC_DECISION_SUPPRESSED,
                              suppressed, out);
    }
    /* The rule's cool-off: nothing from it within cooloff of its last message. */
    int64_t last = r->cooloff_ms > 0 ? engine_cooloff_last(c, r->id) : AC_TS_NONE;
    if (last != AC_TS_NONE && at < last + r->cooloff_ms) {
        return engine_blocked(en, pa, tm, now, last + r->cooloff_ms, AC_DECISION_SUPPRESSED,
                              "cooloff", out);
    }
    /* Channel: the preferred one first, then the rule's order; consented only. */
    const char *channel = NULL;
    int message = pa->kind == AC_KIND_MESSAGE;
    int capped_kind = message && pa->category != AC_CAT_TRANSACTIONAL &&
                      (po->cap_categories & (1u << pa->category));
    const struct ac_pb_cap *cap = c->frequency_opt_in ? &po->cap_opted_in : &po->cap;
    int64_t oldest = 0, retry = INT64_MAX;
    /* Consent before the caps: an action none of whose channels may be used
     * is suppressed now, not deferred for a cap it could never get past. */
    int any_consented = 0;
    for (size_t i = 0; i < pa->n_channels && !any_consented; i++) {
        const char *ch = pa->channels[i];
        any_consented = !(message && engine_is_customer_channel(ch) && po->require_consent &&
                          !engine_consented(po, c, ch, pa->category));
    }
    if (!any_consented) {
        engine_decide(out, now, r->id, tm->part, AC_DECISION_SUPPRESSED, "no_consent", tm->id, 0);
        return ENGINE_DONE;
    }
    if (capped_kind && cap->max > 0 &&
        engine_sends(c, NULL, at, cap->per_ms, &oldest) >= cap->max) {
        return engine_blocked(en, pa, tm, now, oldest + cap->per_ms, AC_DECISION_CAPPED,
                              "frequency_cap", out);
    }
    for (int pass = 0; pass < 2 && !channel; pass++) {
        for (size_t i = 0; i < pa->n_channels && !channel; i++) {
            const char *ch = pa->channels[i];
            int preferred = po->prefer_customer_channel && c->preferred_channel[0] &&
                            strcmp(ch, c->preferred_channel) == 0;
            if (pass == 0 && !preferred) {
                continue; /* pass 0 looks for the preferred channel only */
            }
            if (message && engine_is_customer_channel(ch) && po->require_consent &&
                !engine_consented(po, c, ch, pa->category)) {
                continue;
            }
            if (capped_kind) {
                int capped = 0;
                for (size_t k = 0; k < po->n_channel_caps; k++) {
                    const struct ac_pb_cap *cc = &po->channel_caps[k];
                    if (cc->channel && strcmp(cc->channel, ch) == 0 &&
                        engine_sends(c, ch, at, cc->per_ms, &oldest) >= cc->max) {
                        capped = 1;
                        /* max 0 closes the channel for good: no retry time */
                        if (oldest != INT64_MAX && oldest + cc->per_ms < retry) {
                            retry = oldest + cc->per_ms;
                        }
                    }
                }
                if (capped) {
                    continue;
                }
            }
            channel = ch;
        }
    }
    if (!channel) {
        return engine_blocked(en, pa, tm, now, retry, AC_DECISION_CAPPED, "channel_cap", out);
    }
    /* Quiet hours, business hours and the rule's send window defer (never drop)
     * until the expiry. */
    const char *why = NULL;
    int64_t open = engine_hours(en, pa, c, at, out, &why);
    if (open > at) {
        if (open == INT64_MAX || (tm->expires_at != AC_TS_NONE && open > tm->expires_at)) {
            engine_decide(out, now, r->id, tm->part, AC_DECISION_EXPIRED, why, tm->id, 0);
            return ENGINE_DONE;
        }
        tm->due = open;
        if (strcmp(tm->reason, why) != 0) {
            engine_decide(out, now, r->id, tm->part, AC_DECISION_DEFERRED, why, tm->id, open);
        }
        engine_copy(tm->reason, sizeof(tm->reason), why);
        return ENGINE_KEEP;
    }
    /* Collisions: a higher priority pending in the window goes first. */
    if (capped_kind) {
        char yield[AC_NAME_MAX + 16];
        int64_t to = engine_give_way(en, c, tm, pa, cap, at, out, yield, sizeof(yield));
        if (to != AC_TS_NONE) {
            tm->due = to;
            if (strcmp(tm->reason, yield) != 0) {
                engine_decide(out, now, r->id, tm->part, AC_DECISION_RESCHEDULED, yield, tm->id,
                              to);
            }
            engine_copy(tm->reason, sizeof(tm->reason), yield);
            return ENGINE_KEEP;
        }
    }
    if (out->n_actions >= AC_EMIT_MAX_ACTIONS) {
        return ENGINE_KEEP; /* fired on the next round */
    }
    struct ac_action *a = &out->actions[out->n_actions++];
    memset(a, 0, sizeof(*a));
    engine_copy(a->action_id, sizeof(a->action_id), tm->id);
    engine_copy(a->customer_id, sizeof(a->customer_id), c->customer_id);
    engine_copy(a->rule_id, sizeof(a->rule_id), r->id);
    a->kind = pa->kind;
    a->category = pa->category;
    engine_copy(a->channel, sizeof(a->channel), channel);
    engine_copy(a->template_name, sizeof(a->template_name), template_name);
    engine_fill_vars(en, a, pa, t, c, tm);
    a->not_before = at;
    a->expires_at = tm->expires_at;
    if (r->experiment) {
        engine_copy(a->experiment, sizeof(a->experiment), r->experiment->id);
        engine_copy(a->variant, sizeof(a->variant), variant);
    }
    engine_copy(a->trigger_event_id, sizeof(a->trigger_event_id), t->id);
    engine_copy(a->trigger_type, sizeof(a->trigger_type),
                t->source == AC_TRIGGER_SIGNAL ? t->signal : t->type);
    if (t->source == AC_TRIGGER_SIGNAL) {
        ac_action_reason_signal(a, t->signal, t->value);
    }
    ac_action_reason_signal(a, "segment", c->segment);
    if (c->nps_class[0]) {
        ac_action_reason_signal(a, "nps_class", c->nps_class);
    }
    a->created_at = now;
    if (capped_kind) {
        engine_record_send(po, c, channel, at);
    }
    if (r->cooloff_ms > 0) {
        engine_cooloff_record(en, c, r->id, at);
    }
    struct ac_decision *d = engine_decide(out, now, r->id, tm->part, AC_DECISION_EMITTED,
                                          tm->reason[0] ? "after_deferral" : "", tm->id, at);
    if (d) {
        d->due = tm->due;
        engine_copy(d->channel, sizeof(d->channel), channel);
        engine_copy(d->template_name, sizeof(d->template_name), template_name);
        engine_copy(d->experiment, sizeof(d->experiment), a->experiment);
        engine_copy(d->variant, sizeof(d->variant), a->variant);
    }
    if (capped_kind) {
        engine_carry(en, c, tm, r, pa, cap, a, at, now, out);
    }
    return ENGINE_DONE;
}

/* The same, and a periodic rule's next occurrence once this one is done
 * (sent or blocked; not once the series exited or the rule is gone). */
int engine_decide_due(struct ac_engine *en, struct ac_customer *c, struct ac_timer *tm, int64_t now,
                      struct ac_emit *out)
{
    int n0 = out->n_decisions;
    const struct ac_trigger *saved = out->trigger;
    out->trigger = &tm->trigger;
    int rc = engine_decide_one(en, c, tm, now, out);
    out->trigger = saved;
    if (rc != ENGINE_DONE || out->n_decisions == n0) {
        return rc;
    }
    const char *last = out->decisions[out->n_decisions - 1].decision;
    const struct ac_pb_rule *r = ac_playbook_rule_find(en->pb, tm->rule_id);
    if (r && (size_t)tm->part < r->n_actions &&
        r->actions[tm->part].timing.kind == AC_PB_TIMING_EVERY &&
        strcmp(last, ac_decision_name(AC_DECISION_EXITED)) != 0 &&
        strcmp(last, ac_decision_name(AC_DECISION_DROPPED)) != 0) {
        engine_schedule_next(en, r, &r->actions[tm->part], tm, now, out);
    }
    return rc;
}

/* --- scheduling ------------------------------------------------------------------------------ */

static int64_t engine_anchor(const char *anchor, const struct ac_trigger *t,
                             const struct ac_customer *c)
{
    if (strcmp(anchor, "renewal_at") == 0) {
        return t->renewal_at != AC_TS_NONE ? t->renewal_at : c->renewal_at;
    }
    if (strcmp(anchor, "first_order_at") == 0) {
        return c->first_order_at;
    }
    if (strcmp(anchor, "last_order_at") == 0) {
        return c->last_order_at;
    }
    if (strcmp(anchor, "contract_signed_at") == 0) {
        return c->contract_signed_at;
    }
    if (strcmp(anchor, "customer_since") == 0) {
        int64_t a = c->first_order_at, b = c->contract_signed_at;
        if (a == AC_TS_NONE) {
            return b;
        }
        return b == AC_TS_NONE || a < b ? a : b;
    }
    if (strcmp(anchor, "estimated_delivery_at") == 0) {
        return t->estimated_delivery_at;
    }
    if (strcmp(anchor, "new_estimated_delivery_at") == 0) {
        return t->new_estimated_delivery_at;
    }
    if (strcmp(anchor, "delivery_estimate") == 0) { /* the newest estimate the event carries */
        return t->new_estimated_delivery_at != AC_TS_NONE ? t->new_estimated_delivery_at
                                                          : t->estimated_delivery_at;
    }
    return AC_TS_NONE;
}

/* An anchor plus an offset. Whole years are calendar years (an anniversary
 * falls on the same date, leap days or not; 29 February moves to 1 March);
 * any other offset is exact milliseconds. */
static int64_t engine_add_offset(int64_t base, int64_t offset)
{
    if (offset == 0 || offset % AC_PB_YEAR_MS != 0) {
        return base + offset;
    }
    time_t s = (time_t)(base / 1000);
    int64_t ms = base % 1000;
    struct tm tm;
    if (!gmtime_r(&s, &tm)) {
        return base + offset;
    }
    tm.tm_year += (int)(offset / AC_PB_YEAR_MS);
    time_t moved = timegm(&tm);
    return moved == (time_t)-1 ? base + offset : (int64_t)moved * 1000 + ms;
}

/* Decides now, or keeps as a timer, one action due at tm->due. */
static void engine_place(struct ac_engine *en, struct ac_customer *c, struct ac_timer *tm,
                         int64_t now, const char *how, struct ac_emit *out)
{
    int later = tm->due > now;
    const struct ac_pb_rule *r;
    const struct ac_pb_action *pa = engine_timer_action(en, tm, &r);
    if (!later && en->collecting && out->timers && en->n_now < ENGINE_NOW_MAX && pa &&
        engine_is_capped(ac_playbook_policies(en->pb), pa)) {
        tm->change = AC_TIMER_WRITE;
        if (ac_timerset_put(out->timers, tm) == 0) {
            engine_copy(en->now_ids[en->n_now], sizeof(en->now_ids[0]), tm->id);
            en->n_now++;
            return; /* decided by engine_decide_now */
        }
    }
    if (!later && engine_decide_due(en, c, tm, now, out) == ENGINE_DONE) {
        return;
    }
    /* "scheduled" only once the timer exists: one that cannot be kept is "dropped". */
    if (!out->timers) {
        engine_decide(out, now, tm->rule_id, tm->part, AC_DECISION_DROPPED, "no_timer_store",
                      tm->id, 0);
        return;
    }
    tm->change = AC_TIMER_WRITE;
    if (ac_timerset_put(out->timers, tm) != 0) {
        engine_decide(out, now, tm->rule_id, tm->part, AC_DECISION_DROPPED, "timer_limit", tm->id,
                      0);
        return;
    }
    if (later) {
        engine_decide(out, now, tm->rule_id, tm->part, AC_DECISION_SCHEDULED, how, tm->id, tm->due);
    }
}

static void engine_timer_init(struct ac_timer *tm, const struct ac_pb_rule *r,
                              const struct ac_pb_action *pa, const struct ac_trigger *t,
                              const char *id_key, int64_t due)
{
    memset(tm, 0, sizeof(*tm));
    ac_action_id(tm->id, r->id, id_key, pa->part);
    engine_copy(tm->rule_id, sizeof(tm->rule_id), r->id);
    tm->part = pa->part;
    tm->due = due;
    tm->first_due = due;
    tm->expires_at = pa->expires_ms <= 0                ? AC_TS_NONE
                     : due > INT64_MAX - pa->expires_ms ? INT64_MAX
                                                        : due + pa->expires_ms;
    tm->trigger = *t;
}

void engine_schedule_next(struct ac_engine *en, const struct ac_pb_rule *r,
                          const struct ac_pb_action *pa, const struct ac_timer *tm, int64_t now,
                          struct ac_emit *out)
{
    (void)en;
    struct ac_timer next;
    char key[AC_ID_MAX + 16];
    int seq = tm->seq + 1;
    snprintf(key, sizeof(key), "%s#%d", tm->trigger.id, seq);
    engine_timer_init(&next, r, pa, &tm->trigger, key,
                      tm->trigger.occurred_at + pa->timing.delay_ms * (seq + 1));
    next.seq = seq;
    if (!out->timers) {
        engine_decide(out, now, r->id, pa->part, AC_DECISION_DROPPED, "no_timer_store", next.id, 0);
        return;
    }
    if (ac_timerset_put(out->timers, &next) != 0) {
        engine_decide(out, now, r->id, pa->part, AC_DECISION_DROPPED, "timer_limit", next.id, 0);
        return;
    }
    engine_decide(out, now, r->id, pa->part, AC_DECISION_SCHEDULED, "every", next.id, next.due);
}

/* Runs one rule for a trigger (the state is already the state after it). */
static void engine_rule(struct ac_engine *en, const struct ac_pb_rule *r, struct ac_customer *c,
                        const struct ac_trigger *t, const struct ac_event *ev, int64_t now,
                        struct ac_emit *out)
{
    if (!engine_cond(r->when, t, c, t->occurred_at)) {
        return;
    }
    for (size_t i = 0; i < r->n_actions; i++) {
        const struct ac_pb_action *pa = &r->actions[i];
        if (!engine_cond(pa->when, t, c, t->occurred_at)) {
            continue;
        }
        struct ac_timer tm;
        const struct ac_pb_timing *tg = &pa->timing;
        switch (tg->kind) {
        case AC_PB_TIMING_IMMEDIATE:
            engine_timer_init(&tm, r, pa, t, t->id, t->occurred_at);
            engine_place(en, c, &tm, now, "immediate", out);
            break;
        case AC_PB_TIMING_DELAY: {
            int64_t due = t->occurred_at + tg->delay_ms;
            if (tg->business_clock) {
                struct ac_tz *z = engine_zone_for(en, pa, c, out);
                if (z) {
                    due = ac_tz_add_inside(z, engine_business_hours(en, pa), t->occurred_at,
                                           tg->delay_ms);
                }
            }
            if (due == INT64_MAX) {
                char id[AC_ACTION_ID_MAX];
                ac_action_id(id, r->id, t->id, pa->part);
                engine_decide(out, now, r->id, pa->part, AC_DECISION_DROPPED, "no_window", id, 0);
                break;
            }
            engine_timer_init(&tm, r, pa, t, t->id, due);
            engine_place(en, c, &tm, now, "delay", out);
            break;
        }
        case AC_PB_TIMING_ANCHOR: {
            int64_t base = engine_anchor(tg->anchor, t, c);
            char id[AC_ACTION_ID_MAX];
            if (base == AC_TS_NONE) {
                ac_action_id(id, r->id, t->id, pa->part);
                engine_decide(out, now, r->id, pa->part, AC_DECISION_DROPPED, "no_anchor", id, 0);
                break;
            }
            engine_timer_init(&tm, r, pa, t, t->id, engine_add_offset(base, tg->delay_ms));
            engine_place(en, c, &tm, now, "anchor", out);
            break;
        }
        case AC_PB_TIMING_FAMILY: {
            /* One action per product family of the order, keyed by the family. */
            if (!ev || ev->topic != AC_TOPIC_ORDERS) {
                break;
            }
            const struct ac_order_fields *o = &ev->u.order;
            for (int k = 0; k < o->n_items; k++) {
                const char *fam =
                    o->items[k].product_family[0] ? o->items[k].product_family : "default";
                int seen = 0;
                int64_t price = o->items[k].unit_price_cents;
                for (int j = 0; j < o->n_items; j++) {
                    const char *f2 =
                        o->items[j].product_family[0] ? o->items[j].product_family : "default";
                    if (strcmp(f2, fam) == 0) {
                        if (j < k) {
                            seen = 1;
                        }
                        if (o->items[j].unit_price_cents > price) {
                            price = o->items[j].unit_price_cents;
                        }
                    }
                }
                if (seen) {
                    continue;
                }
                struct ac_trigger ft = *t;
                engine_copy(ft.family, sizeof(ft.family), fam);
                ft.family_price_cents = price;
                char key[AC_ID_MAX + AC_NAME_MAX + 2];
                snprintf(key, sizeof(key), "%s/%s", t->id, fam);
                int64_t win = ac_playbook_family_window(en->pb, fam, tg->family_window, price);
                engine_timer_init(&tm, r, pa, &ft, key, t->occurred_at + win);
                engine_place(en, c, &tm, now, "family", out);
            }
            break;
        }
        case AC_PB_TIMING_EVERY:
            engine_timer_init(&tm, r, pa, t, t->id, t->occurred_at + tg->delay_ms);
            engine_place(en, c, &tm, now, "every", out);
            break;
        }
    }
}

/* --- cancellation and exits ------------------------------------------------------------------ */

static int engine_in_scope(const struct ac_pb_cancel *cn, const struct ac_timer *tm,
                           const struct ac_event *ev)
{
    const struct ac_trigger *t = &tm->trigger;
    switch (cn->same) {
    case AC_PB_SAME_CUSTOMER: return 1;
    case AC_PB_SAME_ORDER: {
        const char *oid = ev->topic == AC_TOPIC_ORDERS       ? ev->u.order.order_id
                          : ev->topic == AC_TOPIC_DELIVERIES ? ev->u.delivery.order_id
                                                             : "";
        return oid[0] && strcmp(oid, t->order_id) == 0;
    }
    case AC_PB_SAME_FAMILY:
        if (ev->topic != AC_TOPIC_ORDERS) {
            return 0;
        }
        for (int i = 0; i < ev->u.order.n_items; i++) {
            const char *f = ev->u.order.items[i].product_family;
            if (strcmp(f[0] ? f : "default", t->family) == 0) {
                return 1;
            }
        }
        return 0;
    case AC_PB_SAME_TICKET:
        return ev->topic == AC_TOPIC_FEEDBACK && ev->u.feedback.ticket_id[0] &&
               strcmp(ev->u.feedback.ticket_id, t->ticket_id) == 0;
    }
    return 0;
}

static void engine_cancel(struct ac_engine *en, struct ac_customer *c, const struct ac_event *ev,
                          const struct ac_trigger *evt, int64_t now, struct ac_emit *out)
{
    size_t n = 0;
    const struct ac_pb_rule *const *rules = ac_playbook_rules_cancelled_by(en->pb, ev->type, &n);
    for (size_t k = 0; k < n; k++) {
        const struct ac_pb_rule *r = rules[k];
        for (size_t j = 0; j < r->n_cancel_on; j++) {
            const struct ac_pb_cancel *cn = &r->cancel_on[j];
            if (cn->on.source != AC_PB_EVENT || strcmp(cn->on.name, ev->type) != 0 ||
                !engine_cond(cn->when, evt, c, ev->occurred_at)) {
                continue;
            }
            struct ac_timerset *ts = out->timers;
            for (int i = 0; ts && i < ts->n;) {
                struct ac_timer *tm = &ts->t[i];
                if (strcmp(tm->rule_id, r->id) == 0 && strcmp(tm->trigger.id, ev->event_id) != 0 &&
                    engine_in_scope(cn, tm, ev)) {
                    char why[64];
                    snprintf(why, sizeof(why), "cancel_on:%s", ev->type);
                    engine_decide(out, now, tm->rule_id, tm->part, AC_DECISION_CANCELLED, why,
                                  tm->id, 0);
                    ac_timerset_remove(ts, i);
                    continue;
                }
                i++;
            }
        }
    }
}

/* Pending actions of rules whose exit condition holds now are dropped. */
static void engine_exits(struct ac_engine *en, struct ac_customer *c, int64_t at,
                         struct ac_emit *out)
{
    struct ac_timerset *ts = out->timers;
    if (en->n_exit_rules == 0 && !en->exit_rules_all) {
        return;
    }
    for (int i = 0; ts && i < ts->n;) {
        struct ac_timer *tm = &ts->t[i];
        const struct ac_pb_rule *r = NULL;
        if (en->exit_rules_all) {
            r = ac_playbook_rule_find(en->pb, tm->rule_id);
        }
        for (size_t k = 0; !r && k < en->n_exit_rules; k++) {
            if (strcmp(en->exit_rules[k]->id, tm->rule_id) == 0) {
                r = en->exit_rules[k];
            }
        }
        if (r && r->exit_when && engine_cond(r->exit_when, &tm->trigger, c, at)) {
            engine_decide(out, at, tm->rule_id, tm->part, AC_DECISION_EXITED, "exit_when", tm->id,
                          0);
            ac_timerset_remove(ts, i);
            continue;
        }
        i++;
    }
}

/* --- entry points ---------------------------------------------------------------------------- */

/* Every decision names its rule's template and channel (the action's first
 * channel when none was chosen): the audit log says what would have gone,
 * also for what was scheduled, cancelled, expired or suppressed. */
static void engine_name_decisions(const struct ac_engine *en, struct ac_emit *out, int from)
{
    const struct ac_pb_rule *r = NULL;
    for (int i = from; i < out->n_decisions; i++) {
        struct ac_decision *d = &out->decisions[i];
        if (d->template_name[0] && d->channel[0]) {
            continue;
        }
        if (!r || strcmp(r->id, d->rule_id) != 0) {
            r = ac_playbook_rule_find(en->pb, d->rule_id);
        }
        if (!r || d->part < 0 || (size_t)d->part >= r->n_actions) {
            continue;
        }
        const struct ac_pb_action *pa = &r->actions[d->part];
        if (!d->template_name[0] && pa->template_name) {
            engine_copy(d->template_name, sizeof(d->template_name), pa->template_name);
        }
        if (!d->channel[0] && pa->n_channels > 0) {
            engine_copy(d->channel, sizeof(d->channel), pa->channels[0]);
        }
    }
}

int ac_engine_on_event(struct ac_engine *en, struct ac_customer *c,
                       const struct ac_customer *before, const struct ac_event *ev, int64_t now,
                       struct ac_emit *out)
{
    (void)before;
    if (out->repeat) {
        return 0; /* a repeat of an event applied before: nothing new to decide */
    }
    struct ac_trigger t;
    int from = out->n_decisions;
    ac_trigger_from_event(&t, ev);
    out->trigger = &t;
    engine_cancel(en, c, ev, &t, now, out);
    engine_exits(en, c, now, out);
    engine_conversions(en, c, ev, out);
    en->collecting = 1;
    en->n_now = 0;
    size_t n = 0;
    const struct ac_pb_rule *const *rules = ac_playbook_rules_for_event(en->pb, ev->type, &n);
    for (size_t i = 0; i < n; i++) {
        engine_rule(en, rules[i], c, &t, ev, now, out);
    }
    /* Signals the processor emitted for this event trigger their rules too. */
    int n_signals = out->n_signals;
    for (int s = 0; s < n_signals; s++) {
        const struct ac_signal *sg = &out->signals[s];
        ac_trigger_from_signal(&t, sg);
        rules = ac_playbook_rules_for_signal(en->pb, sg->signal, &n);
        for (size_t i = 0; i < n; i++) {
            const struct ac_pb_rule *r = rules[i];
            int match = 0;
            for (size_t k = 0; k < r->n_triggers && !match; k++) {
                const struct ac_pb_trigger *tr = &r->triggers[k];
                if (tr->source != AC_PB_SIGNAL || strcmp(tr->name, sg->signal) != 0) {
                    continue;
                }
                match = tr->n_values == 0;
                for (size_t v = 0; v < tr->n_values && !match; v++) {
                    match = strcmp(tr->values[v], sg->value) == 0;
                }
            }
            if (match) {
                engine_rule(en, r, c, &t, NULL, now, out);
            }
        }
    }
    engine_decide_now(en, c, now, out);
    out->trigger = NULL; /* t ends here */
    engine_name_decisions(en, out, from);
    return 0;
}

/* The timer to decide next: the earliest; among timers due at the same
 * time, the higher priority (it wins the frequency cap), then the playbook's
 * order, then the part, then the id. */
static int engine_next(const struct ac_engine *en, const struct ac_timerset *ts)
{
    int best = -1;
    for (int i = 0; i < ts->n; i++) {
        if (best < 0 ||
            (ts->t[i].due <= ts->t[best].due && engine_before(en, &ts->t[i], &ts->t[best]))) {
            best = i;
        }
    }
    return best;
}

int ac_engine_fire_upto(struct ac_engine *en, struct ac_customer *c, int64_t upto, int64_t now,
                        struct ac_emit *out)
{
    struct ac_timerset *ts = out->timers;
    int decided = 0, from = out->n_decisions;
    if (!ts) {
        return 0;
    }
    engine_exits(en, c, now, out);
    /* Earliest first; a deferred timer moves past now, so the loop ends. */
    for (int guard = 0; guard < 2 * AC_TIMERS_MAX; guard++) {
        int i = engine_next(en, ts);
        if (i < 0 || ts->t[i].due > upto || out->n_actions >= AC_EMIT_MAX_ACTIONS ||
            out->n_decisions + 4 > AC_EMIT_MAX_DECISIONS) {
            break;
        }
        struct ac_timer tm = ts->t[i];
        tm.change = AC_TIMER_SAME;
        int rc = engine_decide_due(en, c, &tm, now, out);
        decided++;
        i = ac_timerset_find(ts, tm.id); /* scheduling the next occurrence may have moved it */
        if (rc == ENGINE_DONE) {
            ac_timerset_remove(ts, i);
        } else if (tm.due > upto) {
            tm.change = AC_TIMER_WRITE;
            ts->t[i] = tm;
        } else {
            break; /* no room to emit: the next round */
        }
    }
    engine_name_decisions(en, out, from);
    return decided;
}

int ac_engine_fire(struct ac_engine *en, struct ac_customer *c, int64_t now, struct ac_emit *out)
{
    return ac_engine_fire_upto(en, c, now, now, out);
}
