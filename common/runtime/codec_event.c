/* codec_event.c — between Avro records and struct ac_event / ac_action /
 * ac_signal, with the input checks that send bad events to the DLQ. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "codec_int.h"
#include "err.h"
#include "utf8.h"

#define EV_MAX_ITEM_QUANTITY 1000000

/* Decoding state for one record: the value (reader's shape), the writer's
 * record schema (to name enum symbols) and the reader's. */
struct dec {
    avro_value_t *rec;
    avro_schema_t wschema; /* NULL for nested records without enums */
    avro_schema_t rschema;
    const char *prefix; /* "items." inside an item, else "" */
    char *reason;
    size_t rlen;
    int64_t ts_min; /* non-null timestamps must be in [ts_min, ts_max) */
    int64_t ts_max;
};

static int dec_fail(struct dec *d, const char *what, const char *field)
{
    snprintf(d->reason, d->rlen, "%s:%s%s", what, d->prefix, field);
    return AC_ERR_INVALID;
}

/* The field's value with a nullable union unwrapped; *is_null tells null. */
static int dec_field(struct dec *d, const char *name, avro_value_t *out, int *is_null)
{
    avro_value_t field;
    *is_null = 0;
    if (avro_value_get_by_name(d->rec, name, &field, NULL) != 0) {
        return dec_fail(d, "missing_field", name);
    }
    if (avro_value_get_type(&field) == AVRO_UNION) {
        if (avro_value_get_current_branch(&field, out) != 0) {
            return dec_fail(d, "missing_field", name);
        }
        *is_null = avro_value_get_type(out) == AVRO_NULL;
        return 0;
    }
    *out = field;
    return 0;
}

static int dec_copy(struct dec *d, const char *name, const char *s, size_t size, char *dst,
                    size_t cap)
{
    /* size counts the NUL; an embedded NUL would truncate silently. */
    size_t n = size ? size - 1 : 0;
    if (n >= cap) {
        return dec_fail(d, "too_long", name);
    }
    if (n && memchr(s, '\0', n)) {
        return dec_fail(d, "absurd_value", name);
    }
    if (!ac_utf8_valid(s, n)) {
        return dec_fail(d, "bad_utf8", name);
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* A string field (nullable or not) into dst; null is "". */
static int dec_str(struct dec *d, const char *name, char *dst, size_t cap, int required)
{
    avro_value_t v;
    int is_null;
    const char *s = NULL;
    size_t size = 0;
    int rc = dec_field(d, name, &v, &is_null);
    if (rc != 0) {
        return rc;
    }
    dst[0] = '\0';
    if (!is_null) {
        if (avro_value_get_string(&v, &s, &size) != 0) {
            return dec_fail(d, "missing_field", name);
        }
        rc = dec_copy(d, name, s, size, dst, cap);
        if (rc != 0) {
            return rc;
        }
    }
    if (required && dst[0] == '\0') {
        return dec_fail(d, "missing_field", name);
    }
    return 0;
}

/* A long (or timestamp) field; null gives if_null. */
static int dec_long(struct dec *d, const char *name, int64_t *out, int64_t if_null)
{
    avro_value_t v;
    int is_null;
    int rc = dec_field(d, name, &v, &is_null);
    if (rc != 0) {
        return rc;
    }
    *out = if_null;
    if (!is_null && avro_value_get_long(&v, out) != 0) {
        return dec_fail(d, "missing_field", name);
    }
    return 0;
}

/* A timestamp field: non-null values must be in [d->ts_min, d->ts_max). */
static int dec_ts(struct dec *d, const char *name, int64_t *out, int required)
{
    int rc = dec_long(d, name, out, AC_TS_NONE);
    if (rc == 0 && ((*out == AC_TS_NONE && required) ||
                    (*out != AC_TS_NONE && (*out < d->ts_min || *out >= d->ts_max)))) {
        rc = dec_fail(d, "absurd_value", name);
    }
    return rc;
}

static int dec_int(struct dec *d, const char *name, int32_t *out, int32_t if_null)
{
    avro_value_t v;
    int is_null;
    int rc = dec_field(d, name, &v, &is_null);
    if (rc != 0) {
        return rc;
    }
    *out = if_null;
    if (!is_null && avro_value_get_int(&v, out) != 0) {
        return dec_fail(d, "missing_field", name);
    }
    return 0;
}

/* The enum schema of a field, looking through a nullable union. */
static avro_schema_t dec_enum_schema(avro_schema_t record, const char *name)
{
    avro_schema_t s = record ? avro_schema_record_field_get(record, name) : NULL;
    if (s && is_avro_union(s)) {
        for (size_t i = 0; i < avro_schema_union_size(s); i++) {
            avro_schema_t b = avro_schema_union_branch(s, (int)i);
            if (is_avro_enum(b)) {
                return b;
            }
        }
        return NULL;
    }
    return s && is_avro_enum(s) ? s : NULL;
}

/* An enum field into its symbol; null is "". The writer's index is named by
 * the writer's schema (avro-c passes enum indexes through unresolved) and
 * must be a symbol of the reader's; *rindex gets the reader's index. */
static int dec_enum(struct dec *d, const char *name, char *dst, size_t cap, int *rindex)
{
    avro_value_t v;
    int is_null;
    int widx = -1;
    int rc = dec_field(d, name, &v, &is_null);
    if (rc != 0) {
        return rc;
    }
    dst[0] = '\0';
    if (rindex) {
        *rindex = -1;
    }
    if (is_null) {
        return 0;
    }
    avro_schema_t wenum = dec_enum_schema(d->wschema, name);
    avro_schema_t renum = dec_enum_schema(d->rschema, name);
    if (!wenum || !renum || avro_value_get_enum(&v, &widx) != 0 || widx < 0 ||
        widx >= avro_schema_enum_number_of_symbols(wenum)) {
        return dec_fail(d, "absurd_value", name);
    }
    const char *sym = avro_schema_enum_get(wenum, widx);
    int ridx = avro_schema_enum_get_by_name(renum, sym);
    if (ridx < 0) {
        if (strcmp(name, "type") == 0) {
            snprintf(d->reason, d->rlen, "bad_type:%s", sym);
            return AC_ERR_INVALID;
        }
        return dec_fail(d, "absurd_value", name);
    }
    if (strlen(sym) >= cap) {
        return dec_fail(d, "too_long", name);
    }
    snprintf(dst, cap, "%s", sym);
    if (rindex) {
        *rindex = ridx;
    }
    return 0;
}

/* A map<string> or map<boolean> into kv[]; booleans become "true"/"false". */
static int dec_map(struct dec *d, const char *name, struct ac_kv *kv, int max, int *n)
{
    avro_value_t map;
    int is_null;
    size_t size = 0;
    int rc = dec_field(d, name, &map, &is_null);
    *n = 0;
    if (rc != 0 || is_null) {
        return rc;
    }
    if (avro_value_get_size(&map, &size) != 0) {
        return dec_fail(d, "missing_field", name);
    }
    if (size > (size_t)max) {
        return dec_fail(d, "too_long", name);
    }
    for (size_t i = 0; i < size; i++) {
        avro_value_t v;
        const char *key = NULL;
        memset(&kv[i], 0, sizeof(kv[i])); /* the event's clear leaves the entries */
        if (avro_value_get_by_index(&map, i, &v, &key) != 0 || !key) {
            return dec_fail(d, "missing_field", name);
        }
        size_t klen = strlen(key);
        if (klen >= sizeof(kv[i].key)) {
            return dec_fail(d, "too_long", name);
        }
        if (!ac_utf8_valid(key, klen)) {
            return dec_fail(d, "bad_utf8", name);
        }
        snprintf(kv[i].key, sizeof(kv[i].key), "%s", key);
        if (avro_value_get_type(&v) == AVRO_BOOLEAN) {
            int b = 0;
            avro_value_get_boolean(&v, &b);
            snprintf(kv[i].value, sizeof(kv[i].value), "%s", b ? "true" : "false");
        } else {
            const char *s = NULL;
            size_t ssize = 0;
            if (avro_value_get_string(&v, &s, &ssize) != 0) {
                return dec_fail(d, "missing_field", name);
            }
            rc = dec_copy(d, name, s, ssize, kv[i].value, sizeof(kv[i].value));
            if (rc != 0) {
                return rc;
            }
        }
    }
    *n = (int)size;
    return 0;
}

static int dec_items(struct dec *d, struct ac_order_fields *o)
{
    avro_value_t arr;
    int is_null;
    size_t size = 0;
    int rc = dec_field(d, "items", &arr, &is_null);
    if (rc != 0 || is_null) {
        return rc;
    }
    if (avro_value_get_size(&arr, &size) != 0) {
        return dec_fail(d, "missing_field", "items");
    }
    if (size > AC_MAX_ITEMS) {
        return dec_fail(d, "too_long", "items");
    }
    for (size_t i = 0; i < size; i++) {
        avro_value_t item;
        struct ac_item *it = &o->items[i];
        memset(it, 0, sizeof(*it)); /* the event's clear leaves the entries */
        if (avro_value_get_by_index(&arr, i, &item, NULL) != 0) {
            return dec_fail(d, "missing_field", "items");
        }
        struct dec di = *d;
        di.rec = &item;
        di.wschema = NULL;
        di.rschema = NULL;
        di.prefix = "items.";
        if ((rc = dec_str(&di, "sku", it->sku, sizeof(it->sku), 0)) != 0 ||
            (rc = dec_str(&di, "product_family", it->product_family, sizeof(it->product_family),
                          0)) != 0 ||
            (rc = dec_str(&di, "category", it->category, sizeof(it->category), 0)) != 0 ||
            (rc = dec_long(&di, "unit_price_cents", &it->unit_price_cents, 0)) != 0 ||
            (rc = dec_int(&di, "quantity", &it->quantity, 0)) != 0) {
            return rc;
        }
        if (it->unit_price_cents < 0 || it->unit_price_cents > AC_MAX_MONEY_CENTS) {
            return dec_fail(&di, "absurd_value", "unit_price_cents");
        }
        if (it->quantity <= 0 || it->quantity > EV_MAX_ITEM_QUANTITY) {
            return dec_fail(&di, "absurd_value", "quantity");
        }
    }
    o->n_items = (int)size;
    return 0;
}

static int dec_order(struct dec *d, struct ac_order_fields *o)
{
    int rc;
    if ((rc = dec_str(d, "order_id", o->order_id, sizeof(o->order_id), 0)) != 0 ||
        (rc = dec_long(d, "total_cents", &o->total_cents, 0)) != 0 ||
        (rc = dec_str(d, "currency", o->currency, sizeof(o->currency), 0)) != 0 ||
        (rc = dec_items(d, o)) != 0 || (rc = dec_ts(d, "renewal_at", &o->renewal_at, 0)) != 0 ||
        (rc = dec_str(d, "account_owner", o->account_owner, sizeof(o->account_owner), 0)) != 0) {
        return rc;
    }
    if (o->total_cents < 0 || o->total_cents > AC_MAX_MONEY_CENTS) {
        return dec_fail(d, "absurd_value", "total_cents");
    }
    return 0;
}

static int dec_delivery(struct dec *d, struct ac_delivery_fields *dl)
{
    int rc;
    if ((rc = dec_str(d, "order_id", dl->order_id, sizeof(dl->order_id), 0)) != 0 ||
        (rc = dec_str(d, "carrier", dl->carrier, sizeof(dl->carrier), 0)) != 0 ||
        (rc = dec_str(d, "tracking_url", dl->tracking_url, sizeof(dl->tracking_url), 0)) != 0 ||
        (rc = dec_ts(d, "estimated_delivery_at", &dl->estimated_delivery_at, 0)) != 0 ||
        (rc = dec_ts(d, "new_estimated_delivery_at", &dl->new_estimated_delivery_at, 0)) != 0) {
        return rc;
    }
    return 0;
}

static int dec_feedback(struct dec *d, struct ac_feedback_fields *f)
{
    int rc;
    avro_value_t v;
    int is_null;
    int b = 0;
    if ((rc = dec_int(d, "score", &f->score, -1)) != 0 ||
        (rc = dec_enum(d, "scale", f->scale, sizeof(f->scale), NULL)) != 0 ||
        (rc = dec_map(d, "answers", f->answers, AC_MAX_KV, &f->n_answers)) != 0 ||
        (rc = dec_str(d, "comment", f->comment, sizeof(f->comment), 0)) != 0 ||
        (rc = dec_str(d, "ticket_id", f->ticket_id, sizeof(f->ticket_id), 0)) != 0 ||
        (rc = dec_str(d, "priority", f->priority, sizeof(f->priority), 0)) != 0 ||
        (rc = dec_field(d, "is_complaint", &v, &is_null)) != 0 ||
        (!is_null && avro_value_get_boolean(&v, &b) != 0) ||
        (rc = dec_str(d, "action_id", f->action_id, sizeof(f->action_id), 0)) != 0 ||
        (rc = dec_enum(d, "engagement", f->engagement, sizeof(f->engagement), NULL)) != 0 ||
        (rc = dec_str(d, "channel", f->channel, sizeof(f->channel), 0)) != 0 ||
        (rc = dec_map(d, "consents", f->consents, AC_MAX_KV, &f->n_consents)) != 0 ||
        (rc = dec_str(d, "preferred_channel", f->preferred_channel, sizeof(f->preferred_channel),
                      0)) != 0 ||
        (rc = dec_str(d, "timezone", f->timezone, sizeof(f->timezone), 0)) != 0 ||
        (rc = dec_int(d, "frequency_opt_in", &f->frequency_opt_in, -1)) != 0) {
        return rc ? rc : dec_fail(d, "missing_field", "is_complaint");
    }
    f->is_complaint = b != 0;
    if (f->score != -1) {
        if (strcmp(f->scale, "nps_10") == 0) {
            if (f->score < 0 || f->score > 10) {
                return dec_fail(d, "absurd_value", "score");
            }
        } else if (strcmp(f->scale, "csat_5") == 0) {
            if (f->score < 1 || f->score > 5) {
                return dec_fail(d, "absurd_value", "score");
            }
        } else {
            return dec_fail(d, "missing_field", "scale"); /* a score needs its scale */
        }
    }
    if (f->frequency_opt_in < -1) {
        return dec_fail(d, "absurd_value", "frequency_opt_in");
    }
    return 0;
}

static int dec_usage(struct dec *d, struct ac_usage_fields *u)
{
    int rc;
    if ((rc = dec_str(d, "feature", u->feature, sizeof(u->feature), 0)) != 0 ||
        (rc = dec_enum(d, "milestone", u->milestone, sizeof(u->milestone), NULL)) != 0 ||
        (rc = dec_str(d, "detail", u->detail, sizeof(u->detail), 0)) != 0 ||
        (rc = dec_long(d, "quantity", &u->quantity, 0)) != 0) {
        return rc;
    }
    if (u->quantity < 0) {
        return dec_fail(d, "absurd_value", "quantity");
    }
    return 0;
}

/* Zeroes the envelope and the topic's body, but not the body's arrays of
 * entries (an order's items, a feedback's answers and consents: 13 KB of the
 * 14 KB struct): the decoders zero and write every entry they count, and the
 * counts start at 0; entries past the count keep what they held. On a failed decode the whole body
 * is zeroed (a rejected event is read for its envelope only, but nothing stale should survive). */
static void codec_event_clear(struct ac_event *ev, enum ac_topic t)
{
    memset(ev, 0, offsetof(struct ac_event, u));
    switch (t) {
    case AC_TOPIC_ORDERS: {
        struct ac_order_fields *o = &ev->u.order;
        memset(o, 0, offsetof(struct ac_order_fields, items));
        memset(&o->n_items, 0, sizeof(*o) - offsetof(struct ac_order_fields, n_items));
        break;
    }
    case AC_TOPIC_FEEDBACK: {
        struct ac_feedback_fields *f = &ev->u.feedback;
        memset(f, 0, offsetof(struct ac_feedback_fields, answers));
        memset(&f->n_answers, 0,
               offsetof(struct ac_feedback_fields, consents) -
                   offsetof(struct ac_feedback_fields, n_answers));
        memset(&f->n_consents, 0, sizeof(*f) - offsetof(struct ac_feedback_fields, n_consents));
        break;
    }
    default:
        memset(&ev->u, 0,
               sizeof(ev->u.delivery) > sizeof(ev->u.usage) ? sizeof(ev->u.delivery)
                                                            : sizeof(ev->u.usage));
    }
}

int ac_codec_decode_event(struct ac_codec *codec, enum ac_topic t, const void *buf, size_t len,
                          struct ac_event *ev, char *reason, size_t rlen)
{
    int rc = AC_ERR_INVALID;
    avro_value_t *v = NULL;
    struct codec_writer *w = NULL;

    codec_event_clear(ev, t);
    if (rlen) {
        reason[0] = '\0';
    }
    ev->topic = t;
    ev->type_index = -1;
    if ((unsigned)t >= AC_TOPIC__N) {
        snprintf(reason, rlen, "unknown_topic");
        goto out;
    }
    rc = codec_read(codec, (int)t, buf, len, 1, &v, &w, reason, rlen);
    if (rc != 0) {
        goto out;
    }
    struct dec d = {.rec = v,
                    .wschema = w->schema,
                    .rschema = codec->own[t].schema,
                    .prefix = "",
                    .reason = reason,
                    .rlen = rlen,
                    .ts_min = AC_EVENT_TS_MIN,
                    .ts_max = AC_EVENT_TS_MAX};
    if ((rc = dec_str(&d, "event_id", ev->event_id, sizeof(ev->event_id), 1)) != 0 ||
        (rc = dec_str(&d, "customer_id", ev->customer_id, sizeof(ev->customer_id), 1)) != 0 ||
        (rc = dec_enum(&d, "type", ev->type, sizeof(ev->type), &ev->type_index)) != 0 ||
        (rc = dec_ts(&d, "occurred_at", &ev->occurred_at, 1)) != 0) {
        goto out;
    }
    if (ev->type_index < 0) {
        rc = dec_fail(&d, "missing_field", "type");
        goto out;
    }
    switch (t) {
    case AC_TOPIC_ORDERS: rc = dec_order(&d, &ev->u.order); break;
    case AC_TOPIC_DELIVERIES: rc = dec_delivery(&d, &ev->u.delivery); break;
    case AC_TOPIC_FEEDBACK: rc = dec_feedback(&d, &ev->u.feedback); break;
    default: rc = dec_usage(&d, &ev->u.usage); break;
    }
out:
    if (rc != 0) {
        memset(&ev->u, 0, sizeof(ev->u));
        if (rlen && !reason[0]) {
            snprintf(reason, rlen, "undecodable");
        }
    }
    return rc;
}

int ac_codec_check_key(const struct ac_event *ev, const void *key, size_t key_len, char *reason,
                       size_t rlen)
{
    if (!key || key_len == 0) {
        snprintf(reason, rlen, "missing_key");
        return AC_ERR_INVALID;
    }
    if (key_len != strlen(ev->customer_id) || memcmp(key, ev->customer_id, key_len) != 0) {
        snprintf(reason, rlen, "key_mismatch");
        return AC_ERR_INVALID;
    }
    return 0;
}

int ac_codec_decode_action(struct ac_codec *codec, const void *buf, size_t len, struct ac_action *a)
{
    int rc;
    avro_value_t *v = NULL;
    avro_value_t reason_rec;
    struct codec_writer *w = NULL;
    char reason[64] = "";
    char sym[AC_TYPE_MAX];
    int kind = -1;
    int cat = -1;

    memset(a, 0, sizeof(*a));
    rc = codec_read(codec, AC_SCHEMA_ACTIONS - 1, buf, len, 1, &v, &w, reason, sizeof(reason));
    if (rc != 0) {
        goto out;
    }
    /* Actions are our own records: their times need only be after the epoch. */
    struct dec d = {.rec = v,
                    .wschema = w->schema,
                    .rschema = codec->own[AC_SCHEMA_ACTIONS - 1].schema,
                    .prefix = "",
                    .reason = reason,
                    .rlen = sizeof(reason),
                    .ts_min = 1,
                    .ts_max = INT64_MAX};
    if ((rc = dec_str(&d, "action_id", a->action_id, sizeof(a->action_id), 1)) != 0 ||
        (rc = dec_str(&d, "customer_id", a->customer_id, sizeof(a->customer_id), 1)) != 0 ||
        (rc = dec_str(&d, "rule_id", a->rule_id, sizeof(a->rule_id), 0)) != 0 ||
        (rc = dec_enum(&d, "kind", sym, sizeof(sym), &kind)) != 0 ||
        (rc = dec_enum(&d, "category", sym, sizeof(sym), &cat)) != 0 ||
        (rc = dec_str(&d, "channel", a->channel, sizeof(a->channel), 0)) != 0 ||
        (rc = dec_str(&d, "template", a->template_name, sizeof(a->template_name), 0)) != 0 ||
        (rc = dec_map(&d, "vars", a->vars, AC_MAX_KV, &a->n_vars)) != 0 ||
        (rc = dec_ts(&d, "not_before", &a->not_before, 1)) != 0 ||
        (rc = dec_ts(&d, "expires_at", &a->expires_at, 0)) != 0 ||
        (rc = dec_str(&d, "experiment", a->experiment, sizeof(a->experiment), 0)) != 0 ||
        (rc = dec_str(&d, "variant", a->variant, sizeof(a->variant), 0)) != 0 ||
        (rc = dec_ts(&d, "created_at", &a->created_at, 1)) != 0) {
        goto out;
    }
    if (kind < 0 || cat < 0 || avro_value_get_by_name(v, "reason", &reason_rec, NULL) != 0) {
        rc = AC_ERR_INVALID;
        goto out;
    }
    a->kind = (enum ac_action_kind)kind;
    a->category = (enum ac_category)cat;
    struct dec dr = d;
    dr.rec = &reason_rec;
    dr.wschema = NULL;
    dr.rschema = NULL;
    dr.prefix = "reason.";
    if ((rc = dec_str(&dr, "trigger_event_id", a->trigger_event_id, sizeof(a->trigger_event_id),
                      0)) != 0 ||
        (rc = dec_str(&dr, "trigger_type", a->trigger_type, sizeof(a->trigger_type), 0)) != 0 ||
        (rc = dec_map(&dr, "signals", a->signals, AC_MAX_REASON_SIGNALS, &a->n_signals)) != 0) {
        goto out;
    }
out:
    return rc == 0 ? 0 : AC_ERR_INVALID;
}

/* ---- encoding ---------------------------------------------------------- */

static int enc_field(avro_value_t *rec, const char *name, avro_value_t *out)
{
    return avro_value_get_by_name(rec, name, out, NULL) != 0 ? AC_ERR_INVALID : 0;
}

/* A field of type ["null", X]: branch 1 when present, else branch 0. */
static int enc_branch(avro_value_t *rec, const char *name, int present, avro_value_t *out)
{
    avro_value_t u;
    if (enc_field(rec, name, &u) != 0 || avro_value_set_branch(&u, present ? 1 : 0, out) != 0) {
        return AC_ERR_INVALID;
    }
    return present ? 0 : (avro_value_set_null(out) != 0 ? AC_ERR_INVALID : 0);
}

static int enc_str(avro_value_t *rec, const char *name, const char *s)
{
    avro_value_t f;
    if (enc_field(rec, name, &f) != 0) {
        return AC_ERR_INVALID;
    }
    return avro_value_set_string(&f, s) != 0 ? AC_ERR_INVALID : 0;
}

static int enc_opt_str(avro_value_t *rec, const char *name, const char *s)
{
    avro_value_t b;
    int present = s[0] != '\0';
    if (enc_branch(rec, name, present, &b) != 0) {
        return AC_ERR_INVALID;
    }
    return present && avro_value_set_string(&b, s) != 0 ? AC_ERR_INVALID : 0;
}

static int enc_long(avro_value_t *rec, const char *name, int64_t x)
{
    avro_value_t f;
    if (enc_field(rec, name, &f) != 0) {
        return AC_ERR_INVALID;
    }
    return avro_value_set_long(&f, x) != 0 ? AC_ERR_INVALID : 0;
}

/* A nullable long or int: absent when x == none. */
static int enc_opt_num(avro_value_t *rec, const char *name, int64_t x, int64_t none, int is_int)
{
    avro_value_t b;
    int present = x != none;
    if (enc_branch(rec, name, present, &b) != 0) {
        return AC_ERR_INVALID;
    }
    if (!present) {
        return 0;
    }
    int err = is_int ? avro_value_set_int(&b, (int32_t)x) : avro_value_set_long(&b, x);
    return err != 0 ? AC_ERR_INVALID : 0;
}

/* An enum field, plain or nullable; sym "" is null. */
static int enc_enum(avro_value_t *rec, const char *name, const char *sym)
{
    avro_value_t f;
    if (enc_field(rec, name, &f) != 0) {
        return AC_ERR_INVALID;
    }
    if (avro_value_get_type(&f) == AVRO_UNION) {
        if (enc_branch(rec, name, sym[0] != '\0', &f) != 0) {
            return AC_ERR_INVALID;
        }
        if (sym[0] == '\0') {
            return 0;
        }
    }
    int idx = avro_schema_enum_get_by_name(avro_value_get_schema(&f), sym);
    if (idx < 0 || avro_value_set_enum(&f, idx) != 0) {
        return AC_ERR_INVALID;
    }
    return 0;
}

/* kv[] into a map<string>, or map<boolean> when as_bool ("true" is true). */
static int enc_map(avro_value_t *rec, const char *name, const struct ac_kv *kv, int n, int as_bool)
{
    avro_value_t map;
    if (enc_field(rec, name, &map) != 0) {
        return AC_ERR_INVALID;
    }
    for (int i = 0; i < n; i++) {
        avro_value_t v;
        if (avro_value_add(&map, kv[i].key, &v, NULL, NULL) != 0) {
            return AC_ERR_INVALID;
        }
        int err = as_bool ? avro_value_set_boolean(&v, strcmp(kv[i].value, "true") == 0)
                          : avro_value_set_string(&v, kv[i].value);
        if (err != 0) {
            return AC_ERR_INVALID;
        }
    }
    return 0;
}

static int enc_order(avro_value_t *r, const struct ac_order_fields *o)
{
    avro_value_t items;
    if (enc_str(r, "order_id", o->order_id) || enc_long(r, "total_cents", o->total_cents) ||
        enc_str(r, "currency", o->currency) ||
        enc_opt_num(r, "renewal_at", o->renewal_at, AC_TS_NONE, 0) ||
        enc_opt_str(r, "account_owner", o->account_owner) || enc_field(r, "items", &items) ||
        o->n_items < 0 || o->n_items > AC_MAX_ITEMS) {
        return AC_ERR_INVALID;
    }
    for (int i = 0; i < o->n_items; i++) {
        const struct ac_item *it = &o->items[i];
        avro_value_t item;
        avro_value_t q;
        if (avro_value_append(&items, &item, NULL) || enc_str(&item, "sku", it->sku) ||
            enc_str(&item, "product_family", it->product_family) ||
            enc_str(&item, "category", it->category) ||
            enc_long(&item, "unit_price_cents", it->unit_price_cents) ||
            enc_field(&item, "quantity", &q) || avro_value_set_int(&q, it->quantity)) {
            return AC_ERR_INVALID;
        }
    }
    return 0;
}

static int enc_feedback(avro_value_t *r, const struct ac_feedback_fields *f)
{
    avro_value_t b;
    if (enc_opt_num(r, "score", f->score, -1, 1) || enc_enum(r, "scale", f->scale) ||
        enc_map(r, "answers", f->answers, f->n_answers, 0) ||
        enc_opt_str(r, "comment", f->comment) || enc_opt_str(r, "ticket_id", f->ticket_id) ||
        enc_opt_str(r, "priority", f->priority) || enc_field(r, "is_complaint", &b) ||
        avro_value_set_boolean(&b, f->is_complaint) || enc_opt_str(r, "action_id", f->action_id) ||
        enc_enum(r, "engagement", f->engagement) || enc_opt_str(r, "channel", f->channel) ||
        enc_map(r, "consents", f->consents, f->n_consents, 1) ||
        enc_opt_str(r, "preferred_channel", f->preferred_channel) ||
        enc_opt_str(r, "timezone", f->timezone) ||
        enc_opt_num(r, "frequency_opt_in", f->frequency_opt_in, -1, 1)) {
        return AC_ERR_INVALID;
    }
    return 0;
}

int ac_codec_encode_event(struct ac_codec *codec, const struct ac_event *ev, int framed,
                          struct ac_buf *out)
{
    int rc = AC_ERR_INVALID;
    if ((unsigned)ev->topic >= AC_TOPIC__N) {
        goto out;
    }
    avro_value_t *r = &codec->own[ev->topic].value;
    avro_value_reset(r);
    if (enc_str(r, "event_id", ev->event_id) || enc_str(r, "customer_id", ev->customer_id) ||
        enc_enum(r, "type", ev->type) || enc_long(r, "occurred_at", ev->occurred_at)) {
        goto out;
    }
    switch (ev->topic) {
    case AC_TOPIC_ORDERS: rc = enc_order(r, &ev->u.order); break;
    case AC_TOPIC_DELIVERIES:
        rc = enc_str(r, "order_id", ev->u.delivery.order_id) ||
                     enc_str(r, "carrier", ev->u.delivery.carrier) ||
                     enc_str(r, "tracking_url", ev->u.delivery.tracking_url) ||
                     enc_opt_num(r, "estimated_delivery_at", ev->u.delivery.estimated_delivery_at,
                                 AC_TS_NONE, 0) ||
                     enc_opt_num(r, "new_estimated_delivery_at",
                                 ev->u.delivery.new_estimated_delivery_at, AC_TS_NONE, 0)
                 ? AC_ERR_INVALID
                 : 0;
        break;
    case AC_TOPIC_FEEDBACK: rc = enc_feedback(r, &ev->u.feedback); break;
    default:
        rc = enc_opt_str(r, "feature", ev->u.usage.feature) ||
                     enc_enum(r, "milestone", ev->u.usage.milestone) ||
                     enc_opt_str(r, "detail", ev->u.usage.detail) ||
                     enc_long(r, "quantity", ev->u.usage.quantity)
                 ? AC_ERR_INVALID
                 : 0;
        break;
    }
    if (rc == 0) {
        rc = codec_write(codec, r, framed ? (int32_t)ev->topic + 1 : 0, out);
    }
out:
    return rc;
}

/* The reference for codec_action.c's encoder (tests compare the two). */
int codec_encode_action_generic(struct ac_codec *codec, const struct ac_action *a,
                                struct ac_buf *out)
{
    int rc = AC_ERR_INVALID;
    avro_value_t *r = &codec->own[AC_SCHEMA_ACTIONS - 1].value;
    avro_value_t reason;
    avro_value_reset(r);
    if (enc_str(r, "action_id", a->action_id) || enc_str(r, "customer_id", a->customer_id) ||
        enc_str(r, "rule_id", a->rule_id) || enc_enum(r, "kind", ac_kind_name(a->kind)) ||
        enc_enum(r, "category", ac_category_name(a->category)) ||
        enc_str(r, "channel", a->channel) || enc_str(r, "template", a->template_name) ||
        enc_map(r, "vars", a->vars, a->n_vars, 0) || enc_long(r, "not_before", a->not_before) ||
        enc_opt_num(r, "expires_at", a->expires_at, AC_TS_NONE, 0) ||
        enc_opt_str(r, "experiment", a->experiment) || enc_opt_str(r, "variant", a->variant) ||
        enc_long(r, "created_at", a->created_at) || enc_field(r, "reason", &reason) ||
        enc_str(&reason, "trigger_event_id", a->trigger_event_id) ||
        enc_str(&reason, "trigger_type", a->trigger_type) ||
        enc_map(&reason, "signals", a->signals, a->n_signals, 0)) {
        goto out;
    }
    rc = codec_write(codec, r, AC_SCHEMA_ACTIONS, out);
out:
    return rc;
}

int ac_codec_encode_signal(struct ac_codec *codec, const struct ac_signal *s, struct ac_buf *out)
{
    int rc = AC_ERR_INVALID;
    avro_value_t *r = &codec->own[AC_SCHEMA_SIGNALS - 1].value;
    avro_value_t score;
    avro_value_reset(r);
    if (enc_str(r, "signal_id", s->signal_id) || enc_str(r, "customer_id", s->customer_id) ||
        enc_str(r, "signal", s->signal) || enc_str(r, "value", s->value) ||
        enc_field(r, "score", &score) || avro_value_set_double(&score, s->score) ||
        enc_opt_str(r, "previous", s->previous) || enc_long(r, "occurred_at", s->occurred_at) ||
        enc_str(r, "cause_event_id", s->cause_event_id)) {
        goto out;
    }
    rc = codec_write(codec, r, AC_SCHEMA_SIGNALS, out);
out:
    return rc;
}
