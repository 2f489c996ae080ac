/* timer.c — triggers, a customer's timer set, and the timers' JSON form. */
#include "timer.h"

#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

#define TIMER_HEX 32 /* length of an action id */

static void timer_copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

static void trigger_blank(struct ac_trigger *t)
{
    memset(t, 0, sizeof(*t));
    t->topic = -1;
    t->renewal_at = AC_TS_NONE;
    t->estimated_delivery_at = AC_TS_NONE;
    t->new_estimated_delivery_at = AC_TS_NONE;
    t->score = -1;
    t->max_unit_price_cents = AC_TS_NONE;
    t->total_cents = AC_TS_NONE;
    t->n_items = AC_TS_NONE;
    t->quantity = AC_TS_NONE;
}

void ac_trigger_from_event(struct ac_trigger *t, const struct ac_event *ev)
{
    trigger_blank(t);
    t->source = AC_TRIGGER_EVENT;
    t->topic = (int)ev->topic;
    timer_copy(t->id, sizeof(t->id), ev->event_id);
    timer_copy(t->type, sizeof(t->type), ev->type);
    t->occurred_at = ev->occurred_at;
    switch (ev->topic) {
    case AC_TOPIC_ORDERS: {
        const struct ac_order_fields *o = &ev->u.order;
        timer_copy(t->order_id, sizeof(t->order_id), o->order_id);
        t->total_cents = o->total_cents;
        timer_copy(t->currency, sizeof(t->currency), o->currency);
        t->n_items = o->n_items;
        for (int i = 0; i < o->n_items; i++) {
            if (t->max_unit_price_cents == AC_TS_NONE ||
                o->items[i].unit_price_cents > t->max_unit_price_cents) {
                t->max_unit_price_cents = o->items[i].unit_price_cents;
            }
        }
        t->renewal_at = o->renewal_at;
        break;
    }
    case AC_TOPIC_DELIVERIES: {
        const struct ac_delivery_fields *d = &ev->u.delivery;
        timer_copy(t->order_id, sizeof(t->order_id), d->order_id);
        timer_copy(t->carrier, sizeof(t->carrier), d->carrier);
        t->estimated_delivery_at = d->estimated_delivery_at;
        t->new_estimated_delivery_at = d->new_estimated_delivery_at;
        break;
    }
    case AC_TOPIC_FEEDBACK: {
        const struct ac_feedback_fields *f = &ev->u.feedback;
        t->score = f->score;
        timer_copy(t->scale, sizeof(t->scale), f->scale);
        timer_copy(t->ticket_id, sizeof(t->ticket_id), f->ticket_id);
        timer_copy(t->priority, sizeof(t->priority), f->priority);
        t->is_complaint = f->is_complaint;
        timer_copy(t->engagement, sizeof(t->engagement), f->engagement);
        timer_copy(t->channel, sizeof(t->channel), f->channel);
        break;
    }
    case AC_TOPIC_USAGE: {
        const struct ac_usage_fields *u = &ev->u.usage;
        timer_copy(t->feature, sizeof(t->feature), u->feature);
        timer_copy(t->milestone, sizeof(t->milestone), u->milestone);
        t->quantity = u->quantity;
        break;
    }
    case AC_TOPIC__N: break;
    }
}

void ac_trigger_from_signal(struct ac_trigger *t, const struct ac_signal *s)
{
    trigger_blank(t);
    t->source = AC_TRIGGER_SIGNAL;
    timer_copy(t->id, sizeof(t->id), s->signal_id);
    timer_copy(t->type, sizeof(t->type), "signal");
    t->occurred_at = s->occurred_at;
    timer_copy(t->signal, sizeof(t->signal), s->signal);
    timer_copy(t->value, sizeof(t->value), s->value);
    timer_copy(t->previous, sizeof(t->previous), s->previous);
}

/* --- the set -------------------------------------------------------------------------------- */

void ac_timerset_init(struct ac_timerset *ts)
{
    ts->n = 0;
    ts->n_removed = 0;
}

int ac_timerset_find(const struct ac_timerset *ts, const char *id)
{
    for (int i = 0; i < ts->n; i++) {
        if (strcmp(ts->t[i].id, id) == 0) {
            return i;
        }
    }
    return -1;
}

/* Forgets a pending removal of id; returns 1 if there was one. */
static int timerset_unremove(struct ac_timerset *ts, const char *id)
{
    for (int i = 0; i < ts->n_removed; i++) {
        if (strcmp(ts->removed[i], id) == 0) {
            memmove(ts->removed[i], ts->removed[ts->n_removed - 1], AC_ACTION_ID_MAX);
            ts->n_removed--;
            return 1;
        }
    }
    return 0;
}

int ac_timerset_put(struct ac_timerset *ts, const struct ac_timer *t)
{
    int i = ac_timerset_find(ts, t->id);
    int stored = t->stored;
    if (i < 0) {
        if (ts->n >= AC_TIMERS_MAX) {
            return AC_ERR_INVALID;
        }
        i = ts->n++;
    } else {
        stored |= ts->t[i].stored;
    }
    stored |= timerset_unremove(ts, t->id);
    ts->t[i] = *t;
    ts->t[i].change = AC_TIMER_WRITE;
    ts->t[i].stored = stored;
    return 0;
}

void ac_timerset_remove(struct ac_timerset *ts, int i)
{
    if (i < 0 || i >= ts->n) {
        return;
    }
    /* At most one pending removal per stored timer, and at most
     * AC_TIMERS_MAX timers are loaded: the list cannot overflow. */
    if (ts->t[i].stored && ts->n_removed < AC_TIMERS_MAX) {
        memcpy(ts->removed[ts->n_removed++], ts->t[i].id, AC_ACTION_ID_MAX);
    }
    ts->t[i] = ts->t[ts->n - 1];
    ts->n--;
}

int ac_timerset_next(const struct ac_timerset *ts)
{
    int best = -1;
    for (int i = 0; i < ts->n; i++) {
        if (best < 0 || ts->t[i].due < ts->t[best].due ||
            (ts->t[i].due == ts->t[best].due && strcmp(ts->t[i].id, ts->t[best].id) < 0)) {
            best = i;
        }
    }
    return best;
}

/* --- JSON ----------------------------------------------------------------------------------- */

/* One table maps the JSON keys to the trigger's members. */
enum timer_ftype { TF_STR, TF_I64, TF_INT };
struct timer_field {
    const char *key;
    enum timer_ftype type;
    size_t off, size;
};
#define TS(key, m) {key, TF_STR, offsetof(struct ac_trigger, m), sizeof(((struct ac_trigger *)0)->m)}
#define TI(key, m) {key, TF_I64, offsetof(struct ac_trigger, m), 0}
#define TN(key, m) {key, TF_INT, offsetof(struct ac_trigger, m), 0}
static const struct timer_field trigger_fields[] = {
    TN("src", source),        TN("topic", topic),
    TS("id", id),             TS("type", type),
    TI("at", occurred_at),    TS("order", order_id),
    TI("total", total_cents), TS("cur", currency),
    TI("items", n_items),     TI("maxp", max_unit_price_cents),
    TI("renew", renewal_at),  TS("carrier", carrier),
    TI("eta", estimated_delivery_at), TI("neta", new_estimated_delivery_at),
    TI("score", score),       TS("scale", scale),
    TS("ticket", ticket_id),  TS("prio", priority),
    TN("complaint", is_complaint), TS("eng", engagement),
    TS("chan", channel),      TS("feature", feature),
    TS("mile", milestone),    TI("qty", quantity),
    TS("sig", signal),        TS("val", value),
    TS("prev", previous),     TS("fam", family),
    TI("famp", family_price_cents),
};
#define TRIGGER_NFIELDS (sizeof(trigger_fields) / sizeof(trigger_fields[0]))

int ac_timer_to_json(const struct ac_timer *t, struct ac_buf *out)
{
    json_t *o = json_object();
    json_t *g = json_object();
    if (!o || !g) {
        json_decref(o);
        json_decref(g);
        return AC_ERR_NOMEM;
    }
    json_object_set_new(o, "rule", json_string(t->rule_id));
    json_object_set_new(o, "part", json_integer(t->part));
    json_object_set_new(o, "due", json_integer(t->due));
    json_object_set_new(o, "first", json_integer(t->first_due));
    if (t->expires_at != AC_TS_NONE) {
        json_object_set_new(o, "exp", json_integer(t->expires_at));
    }
    if (t->seq) {
        json_object_set_new(o, "seq", json_integer(t->seq));
    }
    if (t->reason[0]) {
        json_object_set_new(o, "why", json_string(t->reason));
    }
    for (size_t i = 0; i < TRIGGER_NFIELDS; i++) {
        const struct timer_field *f = &trigger_fields[i];
        const char *p = (const char *)&t->trigger + f->off;
        if (f->type == TF_STR) {
            if (*p) {
                json_object_set_new(g, f->key, json_string(p));
            }
        } else if (f->type == TF_I64) {
            int64_t v = *(const int64_t *)(const void *)p;
            if (v != AC_TS_NONE) {
                json_object_set_new(g, f->key, json_integer(v));
            }
        } else {
            json_object_set_new(g, f->key, json_integer(*(const int *)(const void *)p));
        }
    }
    json_object_set_new(o, "trigger", g);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!s) {
        return AC_ERR_NOMEM;
    }
    int rc = ac_buf_append(out, s, strlen(s));
    free(s);
    return rc;
}

int ac_timer_from_json(struct ac_timer *t, const char *id, const char *json, size_t len)
{
    memset(t, 0, sizeof(*t));
    trigger_blank(&t->trigger);
    t->expires_at = AC_TS_NONE;
    if (strlen(id) != TIMER_HEX) {
        return AC_ERR_INVALID;
    }
    memcpy(t->id, id, TIMER_HEX + 1);
    json_t *o = json_loadb(json, len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return AC_ERR_INVALID;
    }
    int rc = 0;
    json_t *v;
    const char *rule = json_string_value(json_object_get(o, "rule"));
    if (!rule || strlen(rule) >= sizeof(t->rule_id)) {
        rc = AC_ERR_INVALID;
    } else {
        memcpy(t->rule_id, rule, strlen(rule) + 1);
    }
    t->part = (int)json_integer_value(json_object_get(o, "part"));
    t->due = json_integer_value(json_object_get(o, "due"));
    t->first_due = json_integer_value(json_object_get(o, "first"));
    if ((v = json_object_get(o, "exp")) != NULL) {
        t->expires_at = json_integer_value(v);
    }
    t->seq = (int)json_integer_value(json_object_get(o, "seq"));
    timer_copy(t->reason, sizeof(t->reason), json_string_value(json_object_get(o, "why")));
    json_t *g = json_object_get(o, "trigger");
    for (size_t i = 0; rc == 0 && g && i < TRIGGER_NFIELDS; i++) {
        const struct timer_field *f = &trigger_fields[i];
        char *p = (char *)&t->trigger + f->off;
        if ((v = json_object_get(g, f->key)) == NULL) {
            continue;
        }
        if (f->type == TF_STR) {
            const char *s = json_string_value(v);
            if (!s || strlen(s) >= f->size) {
                rc = AC_ERR_INVALID;
            } else {
                memcpy(p, s, strlen(s) + 1);
            }
        } else if (f->type == TF_I64) {
            *(int64_t *)(void *)p = json_integer_value(v);
        } else {
            *(int *)(void *)p = (int)json_integer_value(v);
        }
    }
    json_decref(o);
    t->change = AC_TIMER_SAME;
    t->stored = 1;
    return rc;
}

int ac_timer_member(char *out, size_t outlen, const char *timer_id, const char *customer_id)
{
    int n = snprintf(out, outlen, "%s%s", timer_id, customer_id);
    return n < 0 || (size_t)n >= outlen ? AC_ERR_INVALID : n;
}

int ac_timer_member_split(const char *member, size_t len, char id[AC_ACTION_ID_MAX],
                          char customer_id[AC_ID_MAX])
{
    if (len <= TIMER_HEX || len - TIMER_HEX >= AC_ID_MAX) {
        return AC_ERR_INVALID;
    }
    memcpy(id, member, TIMER_HEX);
    id[TIMER_HEX] = '\0';
    memcpy(customer_id, member + TIMER_HEX, len - TIMER_HEX);
    customer_id[len - TIMER_HEX] = '\0';
    return 0;
}
