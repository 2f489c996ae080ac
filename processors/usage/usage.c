/* usage.c — domain logic of the usage processor (pure: no I/O).
 *
 * State: last activity, milestones reached (a milestone signal the first
 * time each is reached; project_milestone, which a service contract reaches
 * again and again, signals every time), onboarding completed. */
#include "usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* 1 if name is in the comma-separated set. */
static int usage_has(const char *set, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = set; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) {
            return 1;
        }
        if (!comma) {
            break;
        }
        p = comma + 1;
    }
    return 0;
}

static int usage_apply(void *opaque, struct ac_customer *c, const struct ac_event *ev,
                       const struct ac_clock *clock, struct ac_emit *out, char *reason, size_t rlen)
{
    const struct ac_usage_fields *u = &ev->u.usage;
    int milestone = strcmp(ev->type, "milestone") == 0;
    if (milestone && u->milestone[0] == '\0') {
        snprintf(reason, rlen, "missing_field:milestone");
        return AC_ERR_INVALID;
    }
    if (c->last_activity_at == AC_TS_NONE || ev->occurred_at > c->last_activity_at) {
        c->last_activity_at = ev->occurred_at;
    }
    int repeats = strcmp(u->milestone, "project_milestone") == 0;
    if (milestone && (repeats || !usage_has(c->milestones, u->milestone))) {
        size_t used = strlen(c->milestones);
        if (!usage_has(c->milestones, u->milestone) &&
            used + strlen(u->milestone) + 2 <= sizeof(c->milestones)) {
            snprintf(c->milestones + used, sizeof(c->milestones) - used, "%s%s", used ? "," : "",
                     u->milestone);
        }
        if (strcmp(u->milestone, "onboarding_completed") == 0) {
            c->onboarding_completed = 1;
        }
        ac_emit_signal(out, "milestone", ev, u->milestone, NULL, 0.0);
    }
    return 0;
}

const struct ac_processor ac_usage_processor = {
    .name = "usage",
    .topic = AC_TOPIC_USAGE,
    .description = "Last activity and milestones (milestone signal); check-ins, onboarding "
                   "nudges, service milestones.",
    .config = NULL, /* the runtime's keys: playbook, team.default_owner */
    .init = NULL,   /* the runtime owns the playbook and runs the engine after apply */
    .fini = NULL,
    .apply = usage_apply,
    .reload = NULL,
};
