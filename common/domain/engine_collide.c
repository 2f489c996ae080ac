/* engine_collide.c — collisions: capped messages that compete for one
 * window of the frequency cap (see engine.h, and Collisions in the playbook
 * README). Part of the engine: its internals are engine_int.h. */
#include <stdio.h>
#include <string.h>

#include "engine_int.h"

/* Capped messages compete for one window of the frequency cap: a message
 * that goes out at `at` takes [at, at + per). Around its emission:
 *
 * - before, it gives way to a pending message of higher priority in that
 *   window that its send would cap (or of its own merge group): rescheduled
 *   after that one's slot while its own bound allows (collision:<rule>), else
 *   rescheduled to that one's due time to ride along in it (merge:<rule>);
 *   if it can wait for neither, it goes now;
 * - after, pending messages of the window ride along in it (merged, reason
 *   merged_into:<rule>, their vars carried): those of its merge group, and
 *   those its send caps and that could not be rescheduled within their bound.
 *
 * Only what a pending message's rule and the customer's state say now is
 * looked at (conditions, suppressions, cool-off); experiments and rules with
 * a signal are decided on their own. At most ENGINE_MERGE_MAX ride along in
 * one message; the rest stay pending and are decided on their own. */

#define ENGINE_MERGE_MAX 8

/* Position of a rule in the playbook (ties of due times go in file order). */
size_t engine_rule_pos(const struct ac_engine *en, const char *rule_id)
{
    size_t n = ac_playbook_rule_count(en->pb);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ac_playbook_rule(en->pb, i)->id, rule_id) == 0) {
            return i;
        }
    }
    return n;
}

/* The playbook action of a timer (and its rule), or NULL if it is gone. */
const struct ac_pb_action *engine_timer_action(const struct ac_engine *en,
                                               const struct ac_timer *tm,
                                               const struct ac_pb_rule **rp)
{
    const struct ac_pb_rule *r = ac_playbook_rule_find(en->pb, tm->rule_id);
    *rp = r;
    if (!r || tm->part < 0 || (size_t)tm->part >= r->n_actions) {
        return NULL;
    }
    return &r->actions[tm->part];
}

/* A message the frequency cap counts. */
int engine_is_capped(const struct ac_pb_policies *po, const struct ac_pb_action *pa)
{
    return pa->kind == AC_KIND_MESSAGE && pa->category != AC_CAT_TRANSACTIONAL &&
           (po->cap_categories & (1u << pa->category));
}

static int engine_priority(const struct ac_engine *en, const struct ac_timer *tm)
{
    const struct ac_pb_rule *r;
    const struct ac_pb_action *pa = engine_timer_action(en, tm, &r);
    return pa ? pa->priority : -1;
}

/* The order in which due timers are decided: earliest first; at the same
 * time the higher priority, then the playbook's order, the part, the id. */
int engine_before(const struct ac_engine *en, const struct ac_timer *a, const struct ac_timer *b)
{
    if (a->due != b->due) {
        return a->due < b->due;
    }
    int pa = engine_priority(en, a), pb = engine_priority(en, b);
    if (pa != pb) {
        return pa > pb;
    }
    size_t ra = engine_rule_pos(en, a->rule_id), rb = engine_rule_pos(en, b->rule_id);
    if (ra != rb) {
        return ra < rb;
    }
    if (a->part != b->part) {
        return a->part < b->part;
    }
    return strcmp(a->id, b->id) < 0;
}

static int engine_same_group(const struct ac_pb_action *a, const struct ac_pb_action *b)
{
    return a->merge && b->merge && strcmp(a->merge, b->merge) == 0;
}

static int engine_has_channel(const struct ac_pb_action *pa, const char *ch)
{
    for (size_t i = 0; i < pa->n_channels; i++) {
        if (strcmp(pa->channels[i], ch) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The earliest t >= from at which the cap has room: fewer than cap->max
 * sends in (t - per, t], counting one more at extra (AC_TS_NONE: none).
 * INT64_MAX if never. */
static int64_t engine_cap_free(const struct ac_customer *c, int64_t extra, int64_t from,
                               const struct ac_pb_cap *cap)
{
    int64_t t = from;
    for (int round = 0; cap->max > 0 && round < 64; round++) {
        int64_t oldest = INT64_MAX;
        int n = engine_sends(c, NULL, t, cap->per_ms, &oldest);
        if (extra != AC_TS_NONE && extra <= t && extra > t - cap->per_ms) {
            n++;
            oldest = extra < oldest ? extra : oldest;
        }
        if (n < cap->max) {
            return t;
        }
        t = oldest + cap->per_ms;
    }
    return INT64_MAX;
}

/* The first time >= at that the action's hours allow, without counting a
 * time-zone fallback again (it is counted when the action is decided). */
static int64_t engine_hours_quiet(struct ac_engine *en, const struct ac_pb_action *pa,
                                  const struct ac_customer *c, int64_t at, struct ac_emit *out)
{
    const char *why = NULL;
    int fallbacks = out->tz_fallbacks, missing = out->tz_missing;
    int64_t t = at == INT64_MAX ? at : engine_hours(en, pa, c, at, out, &why);
    out->tz_fallbacks = fallbacks;
    out->tz_missing = missing;
    return t;
}

/* The customer may be reached on ch for pa's purpose (consent by purpose). */
static int engine_may_use(const struct ac_pb_policies *po, const struct ac_customer *c,
                          const struct ac_pb_action *pa, const char *ch)
{
    return !(pa->kind == AC_KIND_MESSAGE && engine_is_customer_channel(ch) && po->require_consent &&
             !engine_consented(po, c, ch, pa->category));
}

/* A channel both may use, so that one can ride along in the other. */
static int engine_share_channel(const struct ac_pb_policies *po, const struct ac_customer *c,
                                const struct ac_pb_action *a, const struct ac_pb_action *b)
{
    for (size_t i = 0; i < a->n_channels; i++) {
        const char *ch = a->channels[i];
        if (engine_has_channel(b, ch) && engine_may_use(po, c, a, ch) &&
            engine_may_use(po, c, b, ch)) {
            return 1;
        }
    }
    return 0;
}

/* Would the pending message b still go out at `at`, as far as its rule and
 * the customer's state say (conditions, suppressions, cool-off; not the caps)? */
static int engine_still_applies(const struct ac_engine *en, const struct ac_customer *c,
                                const struct ac_timer *b, const struct ac_pb_rule *r,
                                const struct ac_pb_action *pa, int64_t at)
{
    const struct ac_pb_policies *po = ac_playbook_policies(en->pb);
    const struct ac_trigger *t = &b->trigger;
    if (r->experiment || r->signal) {
        return 0; /* assigned and signalled when it comes due itself */
    }
    if (b->expires_at != AC_TS_NONE && at > b->expires_at) {
        return 0;
    }
    if ((r->exit_when && engine_cond(r->exit_when, t, c, at)) || !engine_cond(r->when, t, c, at) ||
        !engine_cond(pa->when, t, c, at) ||
        (r->suppress_when && engine_cond(r->suppress_when, t, c, at))) {
        return 0;
    }
    for (size_t i = 0; i < po->n_suppressions; i++) {
        const struct ac_pb_suppression *s = &po->suppressions[i];
        if ((s->categories & (1u << pa->category)) && engine_cond(&s->when, t, c, at)) {
            return 0;
        }
    }
    int64_t last = r->cooloff_ms > 0 ? engine_cooloff_last(c, r->id) : AC_TS_NONE;
    if (last != AC_TS_NONE && at < last + r->cooloff_ms) {
        return 0;
    }
    for (size_t i = 0; i < pa->n_channels; i++) {
        if (engine_may_use(po, c, pa, pa->channels[i])) {
            return 1;
        }
    }
    return 0; /* no consented channel */
}

/* Before tm (action pa) goes out at `at`: the time it gives way to, with the
 * reason in why, or AC_TS_NONE: it goes now. */
int64_t engine_give_way(struct ac_engine *en, const struct ac_customer *c,
                        const struct ac_timer *tm, const struct ac_pb_action *pa,
                        const struct ac_pb_cap *cap, int64_t at, struct ac_emit *out, char *why,
                        size_t whylen)
{
    const struct ac_pb_policies *po = ac_playbook_policies(en->pb);
    const struct ac_timerset *ts = out->timers;
    if (!ts || pa->on_blocked == AC_PB_DROP || cap->max <= 0) {
        return AC_TS_NONE;
    }
    int64_t bound = engine_slot_bound(en, pa, tm);
    const struct ac_timer *best = NULL;
    const struct ac_pb_action *best_pa = NULL;
    int64_t best_to = AC_TS_NONE;
    const char *best_kind = "";
    for (int i = 0; i < ts->n; i++) {
        const struct ac_timer *b = &ts->t[i];
        const struct ac_pb_rule *rb;
        const struct ac_pb_action *pb = engine_timer_action(en, b, &rb);
        if (!pb || strcmp(b->id, tm->id) == 0 || !engine_is_capped(po, pb) ||
            pb->priority <= pa->priority || b->due <= at || b->due - at >= cap->per_ms ||
            !engine_still_applies(en, c, b, rb, pb, at)) {
            continue;
        }
        int64_t to = AC_TS_NONE;
        const char *kind = "merge";
        if (engine_same_group(pa, pb)) {
            to = b->due <= bound && engine_share_channel(po, c, pa, pb) ? b->due : AC_TS_NONE;
        } else {
            int64_t oldest = 0;
            if (engine_sends(c, NULL, b->due, cap->per_ms, &oldest) + 1 < cap->max) {
                continue; /* room for both */
            }
            int64_t slot =
                engine_hours_quiet(en, pa, c, engine_cap_free(c, b->due, b->due, cap), out);
            if (slot != INT64_MAX && slot <= bound) {
                to = slot;
                kind = "collision";
            } else if (b->due <= bound && engine_share_channel(po, c, pa, pb)) {
                to = b->due;
            }
        }
        if (to == AC_TS_NONE) {
            continue;
        }
        if (!best || pb->priority > best_pa->priority ||
            (pb->priority == best_pa->priority && engine_before(en, b, best))) {
            best = b;
            best_pa = pb;
            best_to = to;
            best_kind = kind;
        }
    }
    if (best) {
        snprintf(why, whylen, "%s:%s", best_kind, best->rule_id);
    }
    return best_to;
}

/* Adds value to the action's var key: a new var, or each of value's
 * comma-separated items that the list lacks, appended (while it fits). */
static void engine_var_join(struct ac_action *a, const char *key, const char *value)
{
    struct ac_kv *kv = NULL;
    for (int i = 0; i < a->n_vars && !kv; i++) {
        kv = strcmp(a->vars[i].key, key) == 0 ? &a->vars[i] : NULL;
    }
    if (!kv) {
        ac_action_var(a, key, value);
        return;
    }
    for (const char *p = value; *p;) {
        size_t n = strcspn(p, ",");
        int seen = 0;
        for (const char *q = kv->value; *q && !seen;) {
            size_t m = strcspn(q, ",");
            seen = m == n && strncmp(p, q, n) == 0;
            q += m + (q[m] == ',');
        }
        size_t used = strlen(kv->value);
        if (!seen && n > 0 && used + n + 2 <= sizeof(kv->value)) {
            snprintf(kv->value + used, sizeof(kv->value) - used, "%s%.*s", used ? "," : "", (int)n,
                     p);
        }
        p += n + (p[n] == ',');
    }
}

/* Would b, pending, ride along in the message that just went out at `at`
 * (rule r, action pa, channel ch; its send already counted)? */
static int engine_rides_along(struct ac_engine *en, const struct ac_customer *c,
                              const struct ac_timer *b, const struct ac_pb_action *pa,
                              const char *ch, const struct ac_pb_cap *cap, int64_t at,
                              struct ac_emit *out)
{
    const struct ac_pb_policies *po = ac_playbook_policies(en->pb);
    const struct ac_pb_rule *rb;
    const struct ac_pb_action *pb = engine_timer_action(en, b, &rb);
    if (!pb || !engine_is_capped(po, pb) || b->due - at >= cap->per_ms ||
        !engine_has_channel(pb, ch) || !engine_may_use(po, c, pb, ch) ||
        !engine_still_applies(en, c, b, rb, pb, at)) {
        return 0;
    }
    if (engine_same_group(pa, pb)) {
        return 1;
    }
    int64_t from = b->due > at ? b->due : at, oldest = 0;
    if (engine_sends(c, NULL, from, cap->per_ms, &oldest) < cap->max) {
        return 0; /* not capped by it */
    }
    if (pb->on_blocked == AC_PB_DROP) {
        return 1;
    }
    int64_t slot = engine_hours_quiet(en, pb, c, engine_cap_free(c, AC_TS_NONE, from, cap), out);
    return slot == INT64_MAX || slot > engine_slot_bound(en, pb, b);
}

/* After a (of tm's rule r, action pa) went out at `at` on ch: the pending
 * messages of its window that ride along in it. */
void engine_carry(struct ac_engine *en, struct ac_customer *c, const struct ac_timer *tm,
                  const struct ac_pb_rule *r, const struct ac_pb_action *pa,
                  const struct ac_pb_cap *cap, struct ac_action *a, int64_t at, int64_t now,
                  struct ac_emit *out)
{
    struct ac_timerset *ts = out->timers;
    if (!ts || cap->max <= 0) {
        return;
    }
    /* The riders, in the order they would be decided, at most ENGINE_MERGE_MAX. */
    char ids[ENGINE_MERGE_MAX][AC_ACTION_ID_MAX];
    const struct ac_timer *pick[ENGINE_MERGE_MAX];
    int n = 0;
    for (int i = 0; i < ts->n; i++) {
        const struct ac_timer *b = &ts->t[i];
        if (strcmp(b->id, tm->id) == 0 ||
            !engine_rides_along(en, c, b, pa, a->channel, cap, at, out)) {
            continue;
        }
        int k = n < ENGINE_MERGE_MAX ? n++ : ENGINE_MERGE_MAX;
        while (k > 0 && engine_before(en, b, pick[k - 1])) {
            if (k < ENGINE_MERGE_MAX) {
                pick[k] = pick[k - 1];
            }
            k--;
        }
        if (k < ENGINE_MERGE_MAX) {
            pick[k] = b;
        }
    }
    for (int k = 0; k < n; k++) {
        engine_copy(ids[k], sizeof(ids[k]), pick[k]->id);
    }
    const struct ac_trigger *saved = out->trigger;
    for (int k = 0; k < n && out->n_decisions + 2 < AC_EMIT_MAX_DECISIONS; k++) {
        int i = ac_timerset_find(ts, ids[k]);
        if (i < 0) {
            continue;
        }
        struct ac_timer b = ts->t[i];
        const struct ac_pb_rule *rb;
        const struct ac_pb_action *pb = engine_timer_action(en, &b, &rb);
        struct ac_action extra;
        memset(&extra, 0, sizeof(extra));
        engine_fill_vars(en, &extra, pb, &b.trigger, c, &b);
        for (int v = 0; v < extra.n_vars; v++) {
            engine_var_join(a, extra.vars[v].key, extra.vars[v].value);
        }
        if (pb->template_name && strcmp(pb->template_name, a->template_name) != 0) {
            engine_var_join(a, "merged", pb->template_name);
        }
        if (rb->cooloff_ms > 0) {
            engine_cooloff_record(en, c, rb->id, at);
        }
        out->trigger = &b.trigger;
        struct ac_decision *d =
            engine_decide(out, now, b.rule_id, b.part, AC_DECISION_MERGED, "", b.id, at);
        out->trigger = saved;
        if (d) {
            snprintf(d->reason, sizeof(d->reason), "merged_into:%s", r->id);
            d->due = b.due;
            engine_copy(d->channel, sizeof(d->channel), a->channel);
            engine_copy(d->template_name, sizeof(d->template_name), pb->template_name);
        }
        ac_timerset_remove(ts, i);
        if (pb->timing.kind == AC_PB_TIMING_EVERY) {
            engine_schedule_next(en, rb, pb, &b, now, out);
        }
    }
}

/* The capped messages the event made due at once, in the order of
 * engine_before (one merged into another is gone by its turn). */
void engine_decide_now(struct ac_engine *en, struct ac_customer *c, int64_t now,
                       struct ac_emit *out)
{
    struct ac_timerset *ts = out->timers;
    int n = en->n_now;
    en->collecting = 0;
    en->n_now = 0;
    for (int k = 1; ts && k < n; k++) { /* a few: insertion sort */
        for (int j = k; j > 0; j--) {
            int a = ac_timerset_find(ts, en->now_ids[j]),
                b = ac_timerset_find(ts, en->now_ids[j - 1]);
            if (a < 0 || b < 0 || !engine_before(en, &ts->t[a], &ts->t[b])) {
                break;
            }
            char tmp[AC_ACTION_ID_MAX];
            memcpy(tmp, en->now_ids[j], sizeof(tmp));
            memcpy(en->now_ids[j], en->now_ids[j - 1], sizeof(tmp));
            memcpy(en->now_ids[j - 1], tmp, sizeof(tmp));
        }
    }
    for (int k = 0; ts && k < n; k++) {
        int i = ac_timerset_find(ts, en->now_ids[k]);
        if (i < 0) {
            continue;
        }
        struct ac_timer tm = ts->t[i];
        int rc = engine_decide_due(en, c, &tm, now, out);
        i = ac_timerset_find(ts, tm.id);
        if (i < 0) {
            continue;
        }
        if (rc == ENGINE_DONE) {
            ac_timerset_remove(ts, i);
        } else {
            tm.change = AC_TIMER_WRITE;
            ts->t[i] = tm;
        }
    }
}
