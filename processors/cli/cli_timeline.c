/* cli_timeline.c — the demo's timeline per customer: what came in, the
 * signals it raised, and what was sent, when and why.
 *
 * Built from what the processes wrote on Kafka: aftercare.decisions (every
 * decision with its rule, channel, template, reason and trigger) and
 * aftercare.signals, plus the sample events the demo fed. A customer's lines
 * are in time order, then in the order they were written (one customer's
 * records are on one partition, so that order is the order decided). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "event.h"

enum tl_kind { TL_EVENT, TL_SIGNAL, TL_DECISION };

struct tl_entry {
    char customer_id[AC_ID_MAX];
    int64_t at;
    enum tl_kind kind;
    size_t seq;
    json_t *o; /* the event, signal or decision (owned) */
    char detail[160];
};

struct tl_story {
    char customer_id[AC_ID_MAX];
    char text[200];
};

struct cli_timeline {
    struct tl_entry *e;
    size_t n, cap;
    struct tl_story *stories;
    size_t n_stories, cap_stories;
};

struct cli_timeline *cli_timeline_new(void)
{
    return calloc(1, sizeof(struct cli_timeline));
}

void cli_timeline_destroy(struct cli_timeline *tl)
{
    if (!tl) {
        return;
    }
    for (size_t i = 0; i < tl->n; i++) {
        json_decref(tl->e[i].o);
    }
    free(tl->e);
    free(tl->stories);
    free(tl);
}

int64_t cli_iso_ms(const char *s)
{
    struct tm tm;
    int ms = 0;
    memset(&tm, 0, sizeof(tm));
    if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                     &tm.tm_min, &tm.tm_sec, &ms) < 6) {
        return AC_TS_NONE;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

void cli_time_human(int64_t ms, char *out, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, n, "%a %d %b %H:%M", &tm);
}

int cli_timeline_story(struct cli_timeline *tl, const char *customer_id, const char *text)
{
    if (tl->n_stories == tl->cap_stories) {
        size_t nc = tl->cap_stories ? 2 * tl->cap_stories : 16;
        struct tl_story *ns = realloc(tl->stories, nc * sizeof(*ns));
        if (!ns) {
            return -1;
        }
        tl->stories = ns;
        tl->cap_stories = nc;
    }
    struct tl_story *s = &tl->stories[tl->n_stories++];
    snprintf(s->customer_id, sizeof(s->customer_id), "%s", customer_id);
    snprintf(s->text, sizeof(s->text), "%s", text);
    return 0;
}

/* Takes o (a reference is kept). */
static int tl_add(struct cli_timeline *tl, const char *customer_id, int64_t at, enum tl_kind kind,
                  json_t *o, const char *detail)
{
    if (tl->n == tl->cap) {
        size_t nc = tl->cap ? 2 * tl->cap : 256;
        struct tl_entry *ne = realloc(tl->e, nc * sizeof(*ne));
        if (!ne) {
            return -1;
        }
        tl->e = ne;
        tl->cap = nc;
    }
    struct tl_entry *e = &tl->e[tl->n];
    snprintf(e->customer_id, sizeof(e->customer_id), "%s", customer_id ? customer_id : "");
    e->at = at;
    e->kind = kind;
    e->seq = tl->n++;
    e->o = json_incref(o);
    snprintf(e->detail, sizeof(e->detail), "%s", detail ? detail : "");
    return 0;
}

int cli_timeline_event(struct cli_timeline *tl, const char *customer_id, int64_t at,
                       const char *type, const char *detail)
{
    json_t *o = json_pack("{ss}", "type", type);
    int rc = o ? tl_add(tl, customer_id, at, TL_EVENT, o, detail) : -1;
    json_decref(o);
    return rc;
}

static const char *tl_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* A record of aftercare.signals or aftercare.decisions, as JSON. */
int cli_timeline_record(struct cli_timeline *tl, json_t *rec)
{
    const char *cust = tl_str(rec, "customer_id");
    if (json_object_get(rec, "signal")) {
        return tl_add(tl, cust, cli_iso_ms(tl_str(rec, "occurred_at")), TL_SIGNAL, rec, NULL);
    }
    json_t *decs = json_object_get(rec, "decisions");
    size_t i;
    json_t *d;
    json_array_foreach(decs, i, d)
    {
        int emitted = strcmp(tl_str(d, "decision"), "emitted") == 0;
        int64_t at = cli_iso_ms(tl_str(d, emitted ? "not_before" : "decided_at"));
        if (at == AC_TS_NONE) {
            at = cli_iso_ms(tl_str(d, "decided_at"));
        }
        if (tl_add(tl, cust, at, TL_DECISION, d, NULL) != 0) {
            return -1;
        }
    }
    return 0;
}

static int tl_cmp(const void *a, const void *b)
{
    const struct tl_entry *x = a, *y = b;
    int c = strcmp(x->customer_id, y->customer_id);
    if (c != 0) {
        return c;
    }
    if (x->at != y->at) {
        return x->at < y->at ? -1 : 1;
    }
    if (x->kind != y->kind) {
        return x->kind < y->kind ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Decisions that leave the action waiting (a later decision settles it). */
static int tl_pending(const char *decision)
{
    return strcmp(decision, "scheduled") == 0 || strcmp(decision, "deferred") == 0 ||
           strcmp(decision, "rescheduled") == 0;
}

/* What an action was decided on: its event's type, or for a signal
 * ("signal", with the signal's id as the trigger id) the signal and its
 * value, as the customer's signal lines show them. */
static void tl_trigger(const struct cli_timeline *tl, size_t from, size_t to, json_t *d, char *out,
                       size_t n)
{
    const char *type = tl_str(d, "trigger_type");
    const char *id = tl_str(d, "trigger_event_id");
    if (strcmp(type, "signal") == 0) {
        for (size_t i = from; i < to; i++) {
            const struct tl_entry *e = &tl->e[i];
            if (e->kind == TL_SIGNAL && strcmp(tl_str(e->o, "signal_id"), id) == 0) {
                snprintf(out, n, "%s %s", tl_str(e->o, "signal"), tl_str(e->o, "value"));
                return;
            }
        }
    }
    snprintf(out, n, "%s", type);
}

/* The newest deferral reason of action_id among the customer's decisions
 * [from, upto). */
static const char *tl_deferred_why(const struct cli_timeline *tl, size_t from, size_t upto,
                                   const char *action_id)
{
    const char *why = NULL;
    for (size_t i = from; i < upto; i++) {
        const struct tl_entry *e = &tl->e[i];
        if (e->kind == TL_DECISION && strcmp(tl_str(e->o, "action_id"), action_id) == 0 &&
            strcmp(tl_str(e->o, "decision"), "deferred") == 0) {
            why = tl_str(e->o, "reason");
        }
    }
    return why;
}

static void tl_print_entry(const struct cli_timeline *tl, size_t from, size_t to, size_t i,
                           FILE *out)
{
    const struct tl_entry *e = &tl->e[i];
    char when[40];
    cli_time_human(e->at, when, sizeof(when));
    if (e->kind == TL_EVENT) {
        fprintf(out, "  %s  %-10s %-22s %s\n", when, "in", tl_str(e->o, "type"), e->detail);
        return;
    }
    if (e->kind == TL_SIGNAL) {
        const char *prev = tl_str(e->o, "previous");
        fprintf(out, "  %s  %-10s %-22s %s%s%s\n", when, "signal", tl_str(e->o, "signal"), prev,
                *prev ? " -> " : "", tl_str(e->o, "value"));
        return;
    }
    const char *decision = tl_str(e->o, "decision");
    const char *reason = tl_str(e->o, "reason");
    char why[256];
    if (strcmp(decision, "emitted") == 0) {
        const char *deferred =
            *reason ? tl_deferred_why(tl, from, i, tl_str(e->o, "action_id")) : NULL;
        const char *exp = tl_str(e->o, "experiment");
        char on[96];
        tl_trigger(tl, from, to, e->o, on, sizeof(on));
        size_t len = (size_t)snprintf(why, sizeof(why), "on %s", on);
        if (deferred && len < sizeof(why)) {
            len += (size_t)snprintf(why + len, sizeof(why) - len, "; deferred: %s", deferred);
        }
        if (*exp && len < sizeof(why)) {
            snprintf(why + len, sizeof(why) - len, "; %s: %s", exp, tl_str(e->o, "variant"));
        }
        decision = "sent";
    } else {
        snprintf(why, sizeof(why), "%s", *reason ? reason : "-");
    }
    const char *channel = tl_str(e->o, "channel");
    fprintf(out, "  %s  %-10s %-22s %-10s %-26s %s\n", when, decision, tl_str(e->o, "rule_id"),
            *channel ? channel : "-", tl_str(e->o, "template"), why);
}

/* "still scheduled": the actions of [from, to) whose last decision by `end`
 * left them waiting. */
static void tl_print_pending(const struct cli_timeline *tl, size_t from, size_t to, FILE *out)
{
    int any = 0;
    size_t col = 0;
    for (size_t i = from; i < to; i++) {
        const struct tl_entry *e = &tl->e[i];
        if (e->kind != TL_DECISION || !tl_pending(tl_str(e->o, "decision"))) {
            continue;
        }
        const char *id = tl_str(e->o, "action_id");
        int settled = 0;
        for (size_t k = i + 1; k < to && !settled; k++) {
            settled =
                tl->e[k].kind == TL_DECISION && strcmp(tl_str(tl->e[k].o, "action_id"), id) == 0;
        }
        if (settled) {
            continue;
        }
        char when[40], item[160];
        int64_t due = cli_iso_ms(tl_str(e->o, "not_before"));
        if (due == AC_TS_NONE) {
            due = cli_iso_ms(tl_str(e->o, "due"));
        }
        time_t s = (time_t)(due / 1000);
        struct tm tm;
        gmtime_r(&s, &tm);
        strftime(when, sizeof(when), "%d %b %Y", &tm);
        int len = snprintf(item, sizeof(item), "%s%s (%s)", any ? ", " : "",
                           tl_str(e->o, "rule_id"), due == AC_TS_NONE ? "?" : when);
        if (!any) {
            fprintf(out, "  %-16s  %-10s ", "later", "scheduled");
            col = 31;
        } else if (col + (size_t)len > 100) {
            fprintf(out, ",\n%31s", "");
            col = 31;
            memmove(item, item + 2, strlen(item + 2) + 1);
            len -= 2;
        }
        fputs(item, out);
        col += (size_t)len;
        any = 1;
    }
    if (any) {
        fputc('\n', out);
    }
}

void cli_timeline_print(struct cli_timeline *tl, int64_t end, FILE *out)
{
    if (tl->n > 1) { /* none: no array */
        qsort(tl->e, tl->n, sizeof(*tl->e), tl_cmp);
    }
    /* Customers with a story first, in the file's order; then the others. */
    for (size_t pass = 0; pass <= tl->n_stories; pass++) {
        for (size_t i = 0; i < tl->n;) {
            size_t j = i;
            while (j < tl->n && strcmp(tl->e[j].customer_id, tl->e[i].customer_id) == 0) {
                j++;
            }
            size_t story = tl->n_stories;
            for (size_t s = 0; s < tl->n_stories; s++) {
                if (strcmp(tl->stories[s].customer_id, tl->e[i].customer_id) == 0) {
                    story = s;
                }
            }
            if (story == pass || (pass == tl->n_stories && story == tl->n_stories)) {
                fprintf(out, "\n%s%s%s\n", tl->e[i].customer_id, story < tl->n_stories ? ": " : "",
                        story < tl->n_stories ? tl->stories[story].text : "");
                size_t upto = i;
                while (upto < j && tl->e[upto].at <= end) {
                    upto++;
                }
                for (size_t k = i; k < upto; k++) {
                    const struct tl_entry *e = &tl->e[k];
                    if (e->kind == TL_DECISION && tl_pending(tl_str(e->o, "decision"))) {
                        continue; /* shown where it is settled, or under "later" */
                    }
                    tl_print_entry(tl, i, j, k, out);
                }
                tl_print_pending(tl, i, upto, out);
            }
            i = j;
        }
    }
}
