/* cli_events.c — sample events with times relative to now.
 *
 * The demo's sample (deploy/demo/journeys.jsonl) is never stale: a time
 * field written as an offset ("+2d6h", "-30m", "+0") means that long after
 * (or before) the moment the file is read. `aftercare dev --demo` and
 * `aftercare simulate` both read such files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "err.h"

int cli_parse_offset(const char *s, int64_t *ms)
{
    int sign = *s == '-' ? -1 : 1;
    if (*s != '+' && *s != '-') {
        return AC_ERR_INVALID;
    }
    s++;
    if (*s == '\0') {
        return AC_ERR_INVALID;
    }
    int64_t total = 0;
    while (*s) {
        char *end = NULL;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 0 || v > 100000) {
            return AC_ERR_INVALID;
        }
        int64_t unit = 0;
        switch (*end) {
        case 'w': unit = 7 * 86400000LL; break;
        case 'd': unit = 86400000LL; break;
        case 'h': unit = 3600000LL; break;
        case 'm': unit = 60000LL; break;
        case 's': unit = 1000LL; break;
        case '\0':
            if (v != 0) {
                return AC_ERR_INVALID; /* only "+0" goes without a unit */
            }
            break;
        default: return AC_ERR_INVALID;
        }
        total += (int64_t)v * unit;
        s = *end ? end + 1 : end;
    }
    *ms = sign * total;
    return 0;
}

/* ms as ISO-8601 UTC with milliseconds, as the codec reads it. */
static void events_iso(int64_t ms, char *out, size_t n)
{
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char b[32];
    strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", b, (int)(ms % 1000));
}

int cli_event_resolve(json_t *o, int64_t now, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        size_t len = strlen(key);
        const char *s = json_string_value(v);
        if (len < 3 || strcmp(key + len - 3, "_at") != 0 || !s || (*s != '+' && *s != '-')) {
            continue;
        }
        int64_t off;
        if (cli_parse_offset(s, &off) != 0) {
            snprintf(err, errlen,
                     "%s: expected an offset from now such as \"+2d6h\" or \"-30m\", got '%s'", key,
                     s);
            return AC_ERR_INVALID;
        }
        char iso[40];
        events_iso(now + off, iso, sizeof(iso));
        if (json_object_set_new(o, key, json_string(iso)) != 0) {
            snprintf(err, errlen, "out of memory");
            return AC_ERR_NOMEM;
        }
    }
    return 0;
}

/* --- a sample file -------------------------------------------------------------------------- */

static void sample_money(char *out, size_t n, int64_t cents, const char *currency)
{
    snprintf(out, n, "%lld.%02lld %s", (long long)(cents / 100), (long long)(cents % 100),
             currency);
}

/* A few words about an event, for the timeline. */
static void sample_detail(const struct ac_event *ev, char *out, size_t n)
{
    char money[64], when[40];
    out[0] = '\0';
    switch (ev->topic) {
    case AC_TOPIC_ORDERS: {
        const struct ac_order_fields *o = &ev->u.order;
        sample_money(money, sizeof(money), o->total_cents, o->currency);
        size_t len = (size_t)snprintf(out, n, "%s%s%s", o->order_id[0] ? "order " : "", o->order_id,
                                      o->order_id[0] ? ": " : "");
        for (int i = 0; i < o->n_items && len < n; i++) {
            len += (size_t)snprintf(out + len, n - len, "%s%d x %s", i ? ", " : "",
                                    o->items[i].quantity, o->items[i].product_family);
        }
        if (len < n) {
            len += (size_t)snprintf(out + len, n - len, "%s%s", o->n_items ? ", " : "", money);
        }
        if (o->renewal_at != AC_TS_NONE && len < n) {
            time_t s = (time_t)(o->renewal_at / 1000);
            struct tm tm;
            gmtime_r(&s, &tm);
            strftime(when, sizeof(when), "%d %b %Y", &tm);
            snprintf(out + len, n - len, ", renews %s", when);
        }
        break;
    }
    case AC_TOPIC_DELIVERIES: {
        const struct ac_delivery_fields *dl = &ev->u.delivery;
        size_t len = (size_t)snprintf(out, n, "order %s, %s", dl->order_id, dl->carrier);
        int64_t eta = dl->new_estimated_delivery_at != AC_TS_NONE ? dl->new_estimated_delivery_at
                                                                  : dl->estimated_delivery_at;
        if (eta != AC_TS_NONE && len < n) {
            cli_time_human(eta, when, sizeof(when));
            snprintf(out + len, n - len, ", expected %s", when);
        }
        break;
    }
    case AC_TOPIC_FEEDBACK: {
        const struct ac_feedback_fields *f = &ev->u.feedback;
        if (f->ticket_id[0]) {
            snprintf(out, n, "ticket %.40s%s%s", f->ticket_id,
                     f->is_complaint ? ", a complaint" : "",
                     strcmp(f->priority, "high") == 0 ? ", high priority" : "");
        } else if (f->score >= 0) {
            snprintf(out, n, "%s %d%s%.80s%s", strcmp(f->scale, "nps_10") == 0 ? "NPS" : "CSAT",
                     f->score, f->comment[0] ? ": \"" : "", f->comment, f->comment[0] ? "\"" : "");
        } else if (f->frequency_opt_in >= 0 || f->preferred_channel[0]) {
            snprintf(out, n, "up to %d messages a week, prefers %s", f->frequency_opt_in,
                     f->preferred_channel[0] ? f->preferred_channel : "any channel");
        } else if (f->engagement[0]) {
            snprintf(out, n, "%s%s%s", f->engagement, f->channel[0] ? " by " : "", f->channel);
        }
        break;
    }
    case AC_TOPIC_USAGE: {
        const struct ac_usage_fields *u = &ev->u.usage;
        snprintf(out, n, "%.60s%s%.80s", u->milestone[0] ? u->milestone : u->feature,
                 u->detail[0] ? ": " : "", u->detail);
        break;
    }
    default: break;
    }
}

/* "# <customer_id>: <story>" names a customer in the timeline. */
static void sample_story(struct cli_timeline *tl, const char *line)
{
    const char *p = line + 1 + strspn(line + 1, " ");
    size_t id = strcspn(p, ": \t\r\n");
    if (id == 0 || id >= AC_ID_MAX || p[id] != ':') {
        return;
    }
    char cust[AC_ID_MAX], text[200];
    memcpy(cust, p, id);
    cust[id] = '\0';
    const char *t = p + id + 1 + strspn(p + id + 1, " ");
    snprintf(text, sizeof(text), "%.*s", (int)strcspn(t, "\r\n"), t);
    (void)cli_timeline_story(tl, cust, text);
}

static int sample_event_cmp(const void *a, const void *b)
{
    const struct cli_sample_event *x = a, *y = b;
    if (x->at != y->at) {
        return x->at < y->at ? -1 : 1;
    }
    return x->line < y->line ? -1 : x->line > y->line;
}

int cli_sample_load(struct cli_sample *sm, struct ac_codec *codec, const char *path, int64_t now,
                    struct cli_timeline *tl)
{
    FILE *in = fopen(path, "r");
    if (!in) {
        fprintf(stderr, "aftercare: %s: %s\n", path, strerror(errno));
        return AC_ERR_INVALID;
    }
    struct ac_event *ev = malloc(sizeof(*ev));
    char *line = NULL, err[512], reason[128];
    size_t cap = 0, lineno = 0;
    int rc = ev ? 0 : AC_ERR_NOMEM;
    while (rc == 0 && getline(&line, &cap, in) > 0) {
        lineno++;
        char first = line[strspn(line, " \t\r\n")];
        if (first == '#') {
            if (tl) {
                sample_story(tl, line);
            }
        }
        if (first == '\0' || first == '#') {
            continue;
        }
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        const char *topic = o ? json_string_value(json_object_get(o, "topic")) : NULL;
        int t = ac_topic_from_name(topic ? topic : "orders");
        char *body = NULL;
        snprintf(err, sizeof(err), "%s",
                 !o ? jerr.text : "\"topic\": orders, deliveries, feedback or usage");
        if (o && t >= 0 && cli_event_resolve(o, now, err, sizeof(err)) == 0) {
            json_object_del(o, "topic");
            body = json_dumps(o, JSON_COMPACT);
        }
        json_decref(o);
        if (sm->n == sm->cap) {
            size_t nc = sm->cap ? 2 * sm->cap : 64;
            struct cli_sample_event *ne = realloc(sm->ev, nc * sizeof(*ne));
            if (!ne) {
                free(body);
                rc = AC_ERR_NOMEM;
                break;
            }
            sm->ev = ne;
            sm->cap = nc;
        }
        struct cli_sample_event *e = &sm->ev[sm->n];
        ac_buf_init(&e->avro);
        const char *why = body ? NULL : err;
        if (!why && ac_codec_json_to_avro(codec, ac_topic_name((enum ac_topic)t), body, &e->avro,
                                          err, sizeof(err)) != 0) {
            why = err;
        }
        if (!why && ac_codec_decode_event(codec, (enum ac_topic)t, e->avro.data, e->avro.len, ev,
                                          reason, sizeof(reason)) != 0) {
            why = reason;
        }
        if (why) {
            fprintf(stderr, "%s:%zu: %s\n", path, lineno, why);
            ac_buf_fini(&e->avro);
            rc = AC_ERR_INVALID;
        } else {
            e->at = ev->occurred_at;
            e->line = lineno;
            e->topic = ev->topic;
            snprintf(e->customer_id, sizeof(e->customer_id), "%s", ev->customer_id);
            snprintf(e->type, sizeof(e->type), "%s", ev->type);
            sample_detail(ev, e->detail, sizeof(e->detail));
            sm->n++;
        }
        free(body);
    }
    free(line);
    free(ev);
    fclose(in);
    if (rc != 0) {
        return rc;
    }
    if (sm->n > 1) {
        qsort(sm->ev, sm->n, sizeof(*sm->ev), sample_event_cmp);
    }
    for (size_t i = 0; i < sm->n; i++) {
        size_t k = 0;
        while (k < i && strcmp(sm->ev[k].customer_id, sm->ev[i].customer_id) != 0) {
            k++;
        }
        sm->n_customers += k == i;
    }
    return 0;
}

void cli_sample_fini(struct cli_sample *sm)
{
    for (size_t i = 0; i < sm->n; i++) {
        ac_buf_fini(&sm->ev[i].avro);
    }
    free(sm->ev);
    memset(sm, 0, sizeof(*sm));
}
