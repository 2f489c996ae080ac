/* feedback.c — domain logic of the feedback processor (pure: no I/O).
 *
 * State: last score and class (nps_class signal on a change), open tickets
 * and complaints, consents (an unsubscribe or a spam complaint revokes its
 * channel for every later action), preferred channel, time zone, frequency
 * opt-in. What to do about it is the playbook's (engine.h). */
#include "feedback.h"

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

/* Sets channel's answer in "email=0,sms=1" (replacing an earlier one).
 * Returns 0, or AC_ERR_INVALID if it does not fit. */
static int feedback_consent(struct ac_customer *c, const char *channel, int granted)
{
    char out[AC_CONSENTS_MAX];
    size_t used = 0, n = strlen(channel);
    out[0] = '\0';
    for (const char *p = c->consents; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (!(len > n && strncmp(p, channel, n) == 0 && p[n] == '=')) {
            int w =
                snprintf(out + used, sizeof(out) - used, "%s%.*s", used ? "," : "", (int)len, p);
            if (w < 0 || (size_t)w >= sizeof(out) - used) {
                return AC_ERR_INVALID;
            }
            used += (size_t)w;
        }
        if (!comma) {
            break;
        }
        p = comma + 1;
    }
    int w = snprintf(out + used, sizeof(out) - used, "%s%s=%d", used ? "," : "", channel,
                     granted ? 1 : 0);
    if (w < 0 || (size_t)w >= sizeof(out) - used) {
        return AC_ERR_INVALID;
    }
    memcpy(c->consents, out, sizeof(out));
    return 0;
}

static int64_t feedback_dec(int64_t v)
{
    return v > 0 ? v - 1 : 0;
}

/* Returns 0, or AC_ERR_INVALID with reason when the event cannot apply. */
static int feedback_transition(struct ac_customer *c, const struct ac_event *ev, char *reason,
                               size_t rlen)
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
    } else if (strcmp(type, "ticket_opened") == 0) {
        c->open_tickets++;
        c->open_complaints += f->is_complaint ? 1 : 0;
    } else if (strcmp(type, "ticket_resolved") == 0) {
        c->open_tickets = feedback_dec(c->open_tickets);
        if (f->is_complaint) {
            c->open_complaints = feedback_dec(c->open_complaints);
        }
    } else if (strcmp(type, "message_engagement") == 0) {
        if ((strcmp(f->engagement, "unsubscribed") == 0 ||
             strcmp(f->engagement, "complained") == 0) &&
            f->channel[0] && feedback_consent(c, f->channel, 0) != 0) {
            snprintf(reason, rlen, "too_long:consents");
            return AC_ERR_INVALID;
        }
    } else if (strcmp(type, "preferences_updated") == 0) {
        for (int i = 0; i < f->n_consents; i++) {
            if (feedback_consent(c, f->consents[i].key,
                                 strcmp(f->consents[i].value, "true") == 0) != 0) {
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
    if (feedback_transition(c, ev, reason, rlen) != 0) {
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
