/* timer.c — triggers, a customer's timer set, and the timers' JSON form. */
#include "timer.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "wire.h"

#define TIMER_HEX 32 /* length of an action id */

/* Bounded copy (hot: no snprintf). */
static void timer_copy(char *dst, size_t n, const char *src)
{
    size_t len = src ? strnlen(src, n - 1) : 0;
    if (len > 0) {
        memcpy(dst, src, len);
    }
    dst[len] = '\0';
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
    ts->t = NULL;
    ts->n = 0;
    ts->cap = 0;
    ts->n_removed = 0;
}

void ac_timerset_fini(struct ac_timerset *ts)
{
    free(ts->t);
    ac_timerset_init(ts);
}

void ac_timerset_clear(struct ac_timerset *ts)
{
    ts->n = 0;
    ts->n_removed = 0;
}

static int timerset_reserve(struct ac_timerset *ts, int need)
{
    if (need <= ts->cap) {
        return 0;
    }
    int cap = ts->cap ? ts->cap : 8;
    while (cap < need) {
        cap *= 2;
    }
    struct ac_timer *t = realloc(ts->t, (size_t)cap * sizeof(*t));
    if (!t) {
        return AC_ERR_NOMEM;
    }
    ts->t = t;
    ts->cap = cap;
    return 0;
}

int ac_timerset_copy(struct ac_timerset *dst, const struct ac_timerset *src)
{
    if (timerset_reserve(dst, src->n) != 0) {
        return AC_ERR_NOMEM;
    }
    if (src->n > 0) {
        memcpy(dst->t, src->t, (size_t)src->n * sizeof(*src->t));
    }
    dst->n = src->n;
    dst->n_removed = src->n_removed;
    return 0;
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

struct ac_timer *ac_timerset_slot(struct ac_timerset *ts)
{
    if (ts->n >= AC_TIMERS_MAX || timerset_reserve(ts, ts->n + 1) != 0) {
        return NULL;
    }
    return &ts->t[ts->n];
}

int ac_timerset_put(struct ac_timerset *ts, const struct ac_timer *t)
{
    int i = ac_timerset_find(ts, t->id);
    if (i < 0) {
        if (ts->n >= AC_TIMERS_MAX) {
            return AC_ERR_INVALID;
        }
        if (timerset_reserve(ts, ts->n + 1) != 0) {
            return AC_ERR_NOMEM;
        }
        i = ts->n++;
    }
    ts->t[i] = *t;
    ts->t[i].change = AC_TIMER_WRITE;
    return 0;
}

void ac_timerset_remove(struct ac_timerset *ts, int i)
{
    if (i < 0 || i >= ts->n) {
        return;
    }
    ts->t[i] = ts->t[ts->n - 1];
    ts->n--;
    ts->n_removed++;
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
#define TS(key, m)                                                                                 \
    {                                                                                              \
        key, TF_STR, offsetof(struct ac_trigger, m), sizeof(((struct ac_trigger *)0)->m)           \
    }
#define TI(key, m)                                                                                 \
    {                                                                                              \
        key, TF_I64, offsetof(struct ac_trigger, m), 0                                             \
    }
#define TN(key, m)                                                                                 \
    {                                                                                              \
        key, TF_INT, offsetof(struct ac_trigger, m), 0                                             \
    }
static const struct timer_field trigger_fields[] = {
    TN("src", source),
    TN("topic", topic),
    TS("id", id),
    TS("type", type),
    TI("at", occurred_at),
    TS("order", order_id),
    TI("total", total_cents),
    TS("cur", currency),
    TI("items", n_items),
    TI("maxp", max_unit_price_cents),
    TI("renew", renewal_at),
    TS("carrier", carrier),
    TI("eta", estimated_delivery_at),
    TI("neta", new_estimated_delivery_at),
    TI("score", score),
    TS("scale", scale),
    TS("ticket", ticket_id),
    TS("prio", priority),
    TN("complaint", is_complaint),
    TS("eng", engagement),
    TS("chan", channel),
    TS("feature", feature),
    TS("mile", milestone),
    TI("qty", quantity),
    TS("sig", signal),
    TS("val", value),
    TS("prev", previous),
    TS("fam", family),
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

/* --- compact encoding ------------------------------------------------------------------------ */

/* Same scheme as the customer's (customer.c): key (table index + 1) << 1,
 * | 1 for a string; fields equal to a blank trigger's are left out. */
int ac_trigger_encode(const struct ac_trigger *t, struct ac_buf *out)
{
    struct ac_trigger blank;
    int rc = 0;
    trigger_blank(&blank);
    for (size_t i = 0; i < TRIGGER_NFIELDS && rc == 0; i++) {
        const struct timer_field *f = &trigger_fields[i];
        const char *p = (const char *)t + f->off;
        const char *d = (const char *)&blank + f->off;
        uint64_t key = (uint64_t)(i + 1) << 1;
        if (f->type == TF_STR) {
            if (strcmp(p, d) != 0) {
                rc |= ac_wire_put_u64(out, key | 1);
                rc |= ac_wire_put_str(out, p);
            }
        } else if (f->type == TF_I64) {
            int64_t v = *(const int64_t *)(const void *)p;
            if (v != *(const int64_t *)(const void *)d) {
                rc |= ac_wire_put_u64(out, key);
                rc |= ac_wire_put_i64(out, v);
            }
        } else {
            int v = *(const int *)(const void *)p;
            if (v != *(const int *)(const void *)d) {
                rc |= ac_wire_put_u64(out, key);
                rc |= ac_wire_put_i64(out, v);
            }
        }
    }
    rc |= ac_wire_put_u64(out, 0);
    return rc ? AC_ERR_NOMEM : 0;
}

int ac_trigger_decode(struct ac_trigger *t, struct ac_wire *r)
{
    trigger_blank(t);
    for (;;) {
        uint64_t key = ac_wire_get_u64(r);
        if (r->err) {
            return AC_ERR_INVALID;
        }
        if (key == 0) {
            return 0;
        }
        uint64_t i = (key >> 1) - 1;
        int is_str = (int)(key & 1);
        if (i >= TRIGGER_NFIELDS) {
            size_t n;
            if (is_str) {
                (void)ac_wire_get_bytes(r, &n);
            } else {
                (void)ac_wire_get_u64(r);
            }
            continue;
        }
        const struct timer_field *f = &trigger_fields[i];
        char *p = (char *)t + f->off;
        if (is_str != (f->type == TF_STR)) {
            return AC_ERR_INVALID;
        }
        if (f->type == TF_STR) {
            ac_wire_get_str(r, p, f->size);
        } else if (f->type == TF_I64) {
            int64_t v = ac_wire_get_i64(r);
            memcpy(p, &v, sizeof(v));
        } else {
            int64_t v = ac_wire_get_i64(r);
            if (v < INT32_MIN || v > INT32_MAX) {
                return AC_ERR_INVALID;
            }
            int iv = (int)v;
            memcpy(p, &iv, sizeof(iv));
        }
    }
}
