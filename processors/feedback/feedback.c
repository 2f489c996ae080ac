/* feedback.c — domain logic of the feedback processor (pure: no I/O).
 *
 * State: last score and class (nps_class signal on a change), tickets and
 * complaints by ticket_id (open, first response, resolved: each counted
 * once, so a retried event changes nothing), consents by purpose (an
 * unsubscribe or a spam complaint stops the purposes the playbook's
 * consent.unsubscribe names on its channel, or on every channel when it
 * names none; it never stops transactional messages: customer.h),
 * preferred channel, time zone, frequency opt-in. What to do about it is the
 * playbook's (engine.h). */
#include "feedback.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

const char *ac_feedback_class(const char *scale, int score)
{
    if (strcmp(scale, "nps_10") == 0) {
        return score >= 9 ? "promoter" : score >= 7 ? "passive" : "detractor";
    }
    if (strcmp(scale, "csat_5") == 0) {
        return score >= 5 ? "promoter" : score == 4 ? "passive" : "detractor";
    }
    return "";
}

/* Appends ",entry" (or "entry") to out[used..]; returns 0 or AC_ERR_INVALID. */
static int feedback_put(char *out, size_t cap, size_t *used, const char *p, size_t len)
{
    int w = snprintf(out + *used, cap - *used, "%s%.*s", *used ? "," : "", (int)len, p);
    if (w < 0 || (size_t)w >= cap - *used) {
        return AC_ERR_INVALID;
    }
    *used += (size_t)w;
    return 0;
}

/* Sets channel's answer ('1', '0' or 'u') in the consents (customer.h),
 * replacing an earlier one; channel "*" with 'u' is an unsubscribe from
 * every channel, which also replaces the channels' own grants and
 * unsubscribes (their refusals stay). Returns 0, or AC_ERR_INVALID if it
 * does not fit. */
static int feedback_consent(struct ac_customer *c, const char *channel, char answer)
{
    char out[AC_CONSENTS_MAX];
    size_t used = 0, n = strlen(channel);
    int all = strcmp(channel, "*") == 0;
    out[0] = '\0';
    for (const char *p = c->consents; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int same = len > n && strncmp(p, channel, n) == 0 && p[n] == '=';
        int replaced = all && len >= 2 && p[len - 1] != '0';
        if (!same && !replaced && feedback_put(out, sizeof(out), &used, p, len) != 0) {
            return AC_ERR_INVALID;
        }
        if (!comma) {
            break;
        }
        p = comma + 1;
    }
    char entry[AC_KV_KEY_MAX + 4];
    int w = snprintf(entry, sizeof(entry), "%s=%c", channel, answer);
    if (w < 0 || (size_t)w >= sizeof(entry) ||
        feedback_put(out, sizeof(out), &used, entry, (size_t)w) != 0) {
        return AC_ERR_INVALID;
    }
    memcpy(c->consents, out, sizeof(out));
    return 0;
}

/* --- tickets by id --------------------------------------------------------------------------- */

/* An entry of c->tickets is the ticket id's hash (12 hex digits) and flags:
 * c a complaint (counted in open_complaints while open), r first response
 * given, x resolved (kept so that a retried event is recognised; the oldest
 * resolved entry makes room for a new ticket). */
#define FEEDBACK_TICKET_HASH 12

struct feedback_ticket {
    char hash[FEEDBACK_TICKET_HASH + 1];
    int complaint, responded, closed;
};

struct feedback_tickets {
    struct feedback_ticket t[AC_TICKETS_MAX];
    int n;
};

static void feedback_ticket_hash(const char *ticket_id, char out[FEEDBACK_TICKET_HASH + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = ticket_id; *p; p++) {
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    }
    h ^= h >> 29;
    for (int i = FEEDBACK_TICKET_HASH - 1; i >= 0; i--) {
        out[i] = hex[h & 15];
        h >>= 4;
    }
    out[FEEDBACK_TICKET_HASH] = '\0';
}

/* Malformed entries (none are written) are skipped. */
static void feedback_tickets_parse(const struct ac_customer *c, struct feedback_tickets *ts)
{
    ts->n = 0;
    for (const char *p = c->tickets; *p && ts->n < AC_TICKETS_MAX;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len >= FEEDBACK_TICKET_HASH) {
            struct feedback_ticket *t = &ts->t[ts->n++];
            memset(t, 0, sizeof(*t));
            memcpy(t->hash, p, FEEDBACK_TICKET_HASH);
            for (size_t i = FEEDBACK_TICKET_HASH; i < len; i++) {
                t->complaint |= p[i] == 'c';
                t->responded |= p[i] == 'r';
                t->closed |= p[i] == 'x';
            }
        }
        if (!comma) {
            break;
        }
        p = comma + 1;
    }
}

static void feedback_tickets_format(const struct feedback_tickets *ts, struct ac_customer *c)
{
    size_t used = 0;
    c->tickets[0] = '\0';
    for (int i = 0; i < ts->n; i++) {
        const struct feedback_ticket *t = &ts->t[i];
        /* AC_TICKETS_STR_MAX holds AC_TICKETS_MAX entries with every flag */
        used += (size_t)snprintf(c->tickets + used, sizeof(c->tickets) - used, "%s%s%s%s%s",
                                 used ? "," : "", t->hash, t->complaint ? "c" : "",
                                 t->responded ? "r" : "", t->closed ? "x" : "");
    }
}

static struct feedback_ticket *feedback_ticket_find(struct feedback_tickets *ts, const char *hash)
{
    for (int i = 0; i < ts->n; i++) {
        if (strcmp(ts->t[i].hash, hash) == 0) {
            return &ts->t[i];
        }
    }
    return NULL;
}

/* A new entry, making room by forgetting the oldest resolved ticket; NULL
 * when every entry is an open ticket. */
static struct feedback_ticket *feedback_ticket_add(struct feedback_tickets *ts, const char *hash)
{
    if (ts->n == AC_TICKETS_MAX) {
        int k = 0;
        while (k < ts->n && !ts->t[k].closed) {
            k++;
        }
        if (k == ts->n) {
            return NULL;
        }
        memmove(&ts->t[k], &ts->t[k + 1], (size_t)(ts->n - k - 1) * sizeof(ts->t[0]));
        ts->n--;
    }
    struct feedback_ticket *t = &ts->t[ts->n++];
    memset(t, 0, sizeof(*t));
    memcpy(t->hash, hash, sizeof(t->hash));
    return t;
}

/* A visible trace of a bound reached: the ticket is counted but not tracked
 * by id (its resolution closes the oldest untracked one). */
static void feedback_dropped(struct ac_emit *out, const struct ac_event *ev, int64_t now)
{
    if (!out || out->n_decisions >= AC_EMIT_MAX_DECISIONS) {
        return;
    }
    struct ac_decision *d = &out->decisions[out->n_decisions++];
    memset(d, 0, sizeof(*d));
    d->at = now;
    snprintf(d->rule_id, sizeof(d->rule_id), "tickets");
    snprintf(d->decision, sizeof(d->decision), "dropped");
    snprintf(d->reason, sizeof(d->reason), "ticket_limit");
    ac_action_id(d->action_id, "tickets", ev->event_id, 0);
    snprintf(d->trigger_id, sizeof(d->trigger_id), "%s", ev->event_id);
    snprintf(d->trigger_type, sizeof(d->trigger_type), "%s", ev->type);
}

/* ticket_opened, ticket_first_response, ticket_resolved. An event about a
 * known ticket that changes nothing (a retry, a duplicate under a new event
 * id, an event of a state the ticket has left) is marked a repeat: the
 * playbook runs no rule for it either (emit.h). */
static void feedback_ticket(struct ac_customer *c, const struct ac_event *ev, struct ac_emit *out,
                            int64_t now)
{
    const struct ac_feedback_fields *f = &ev->u.feedback;
    struct feedback_tickets ts;
    char hash[FEEDBACK_TICKET_HASH + 1];
    int tracked_open = 0, tracked_complaints = 0;
    feedback_tickets_parse(c, &ts);
    for (int i = 0; i < ts.n; i++) {
        tracked_open += !ts.t[i].closed;
        tracked_complaints += !ts.t[i].closed && ts.t[i].complaint;
    }
    feedback_ticket_hash(f->ticket_id, hash);
    struct feedback_ticket *t = feedback_ticket_find(&ts, hash);
    if (strcmp(ev->type, "ticket_opened") == 0 || strcmp(ev->type, "ticket_first_response") == 0) {
        int opened = strcmp(ev->type, "ticket_opened") == 0, added = 0;
        if (!t && opened) {
            t = feedback_ticket_add(&ts, hash);
            c->open_tickets++;
            if (!t) {
                c->open_complaints += f->is_complaint ? 1 : 0;
                feedback_dropped(out, ev, now);
                return;
            }
            added = 1;
        }
        if (!t) {
            return; /* unknown: opened before tickets were tracked by id */
        }
        if (!added &&
            (t->closed || (t->complaint >= f->is_complaint && (opened || t->responded)))) {
            out->repeat = 1;
            return;
        }
        if (f->is_complaint && !t->complaint) {
            t->complaint = 1; /* opened as a complaint, or escalated to one */
            c->open_complaints++;
        }
        t->responded |= !opened;
    } else {
        if (t && t->closed) {
            out->repeat = 1;
            return;
        }
        if (t) {
            c->open_tickets -= c->open_tickets > 0 ? 1 : 0;
            c->open_complaints -= t->complaint && c->open_complaints > 0 ? 1 : 0;
        } else {
            /* Not tracked: opened before tickets were tracked by id, or past
             * the bound. It closes one of those, if any is still counted. */
            if (c->open_tickets > tracked_open) {
                c->open_tickets--;
                if (f->is_complaint && c->open_complaints > tracked_complaints) {
                    c->open_complaints--;
                }
            }
            t = feedback_ticket_add(&ts, hash);
        }
        if (t) {
            t->closed = 1;
        }
    }
    feedback_tickets_format(&ts, c);
}

/* Returns 0, or AC_ERR_INVALID with reason when the event cannot apply. */
static int feedback_transition(struct ac_customer *c, const struct ac_event *ev,
                               struct ac_emit *out, int64_t now, char *reason, size_t rlen)
{
    const struct ac_feedback_fields *f = &ev->u.feedback;
    const char *type = ev->type;
    if (strcmp(type, "survey_response") == 0) {
        if (f->score < 0) {
            snprintf(reason, rlen, "missing_field:score");
            return AC_ERR_INVALID;
        }
        c->last_score = f->score;
        c->last_survey_at = ev->occurred_at;
        snprintf(c->nps_class, sizeof(c->nps_class), "%s", ac_feedback_class(f->scale, f->score));
    } else if (strncmp(type, "ticket_", 7) == 0) {
        if (f->ticket_id[0] == '\0') {
            snprintf(reason, rlen, "missing_field:ticket_id");
            return AC_ERR_INVALID;
        }
        feedback_ticket(c, ev, out, now);
    } else if (strcmp(type, "message_engagement") == 0) {
        /* An unsubscribe without a channel covers every channel. */
        if ((strcmp(f->engagement, "unsubscribed") == 0 ||
             strcmp(f->engagement, "complained") == 0) &&
            feedback_consent(c, f->channel[0] ? f->channel : "*", 'u') != 0) {
            snprintf(reason, rlen, "too_long:consents");
            return AC_ERR_INVALID;
        }
    } else if (strcmp(type, "preferences_updated") == 0) {
        for (int i = 0; i < f->n_consents; i++) {
            if (strcmp(f->consents[i].key, "*") == 0) {
                continue; /* not a channel */
            }
            if (feedback_consent(c, f->consents[i].key,
                                 strcmp(f->consents[i].value, "true") == 0 ? '1' : '0') != 0) {
                snprintf(reason, rlen, "too_long:consents");
                return AC_ERR_INVALID;
            }
        }
        if (f->preferred_channel[0]) {
            snprintf(c->preferred_channel, sizeof(c->preferred_channel), "%s",
                     f->preferred_channel);
        }
        if (f->timezone[0]) {
            /* kept as given: an invalid zone falls back at use, and is counted */
            snprintf(c->timezone, sizeof(c->timezone), "%s", f->timezone);
        }
        if (f->frequency_opt_in >= 0) {
            c->frequency_opt_in = f->frequency_opt_in ? 1 : 0;
        }
    }
    return 0;
}

static int feedback_apply(void *opaque, struct ac_customer *c, const struct ac_event *ev,
                          const struct ac_clock *clock, struct ac_emit *out, char *reason,
                          size_t rlen)
{
    struct ac_customer before = *c;
    /* Validation first: a rejected event leaves state and timers as they were. */
    if (feedback_transition(c, ev, out, ac_clock_now(clock), reason, rlen) != 0) {
        *c = before;
        return AC_ERR_INVALID;
    }
    if (strcmp(c->nps_class, before.nps_class) != 0 && c->nps_class[0]) {
        ac_emit_signal(out, "nps_class", ev, c->nps_class, before.nps_class, (double)c->last_score);
    }
    return 0;
}

const struct ac_processor ac_feedback_processor = {
    .name = "feedback",
    .topic = AC_TOPIC_FEEDBACK,
    .description = "Surveys (NPS/CSAT class), tickets and complaints, message engagement "
                   "(unsubscribes) and preferences (consents, channel, time zone).",
    .config = NULL, /* the runtime's keys: playbook, team.default_owner */
    .init = NULL,   /* the runtime owns the playbook and runs the engine after apply */
    .fini = NULL,
    .apply = feedback_apply,
    .reload = NULL,
};
