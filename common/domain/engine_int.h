/* engine_int.h — internals shared by engine.c (rules, timers, policies,
 * experiments) and engine_collide.c (collisions of capped messages). Not
 * part of the domain's interface: engine.h is. */
#ifndef AC_ENGINE_INT_H
#define AC_ENGINE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "timer.h"

#define ENGINE_EXIT_RULES_MAX 64
#define ENGINE_NOW_MAX 32 /* capped messages due at once from one event, decided together */

struct ac_engine {
    const struct ac_playbook *pb;
    struct ac_tz_cache *tz;
    char default_owner[AC_ID_MAX];
    /* the rules with an exit_when, checked for every pending timer on every
     * event: a short list instead of a lookup of each timer's rule */
    const struct ac_pb_rule *exit_rules[ENGINE_EXIT_RULES_MAX];
    size_t n_exit_rules;
    int exit_rules_all; /* more than the list holds: look each rule up */
    /* While ac_engine_on_event runs the rules: the capped messages due at
     * once, kept as timers and decided when every rule has placed its own
     * (so that one sees a higher priority that a later rule scheduled), in
     * the order of engine_before. More than the list holds are decided at
     * once, as they come. */
    int collecting;
    char now_ids[ENGINE_NOW_MAX][AC_ACTION_ID_MAX];
    int n_now;
};

/* What became of a due action: finished (emitted or dropped), or still pending. */
enum engine_outcome { ENGINE_DONE = 0, ENGINE_KEEP };

/* --- engine.c -------------------------------------------------------------------------------- */

/* Bounded copy. */
void engine_copy(char *dst, size_t n, const char *src);
/* A condition on a trigger and the customer at now: NULL is true. */
int engine_cond(const struct ac_pb_cond *cond, const struct ac_trigger *t,
                const struct ac_customer *c, int64_t now);
/* Appends a decision (NULL past the bound, counted in out). */
struct ac_decision *engine_decide(struct ac_emit *out, int64_t now, const char *rule_id, int part,
                                  enum ac_decision_kind k, const char *reason,
                                  const char *action_id, int64_t not_before);
/* Sends of channel (NULL: all) within [at - per, at], and the oldest of them. */
int engine_sends(const struct ac_customer *c, const char *channel, int64_t at, int64_t per,
                 int64_t *oldest);
int engine_consented(const struct ac_pb_policies *po, const struct ac_customer *c,
                     const char *channel, enum ac_category category);
int engine_is_customer_channel(const char *ch);
/* The last emission of rule_id (its cool-off), or AC_TS_NONE; and recording one. */
int64_t engine_cooloff_last(const struct ac_customer *c, const char *rule_id);
void engine_cooloff_record(const struct ac_engine *en, struct ac_customer *c, const char *rule_id,
                           int64_t at);
/* The action's vars: literals, and the names filled from the trigger and state. */
void engine_fill_vars(struct ac_engine *en, struct ac_action *a, const struct ac_pb_action *pa,
                      const struct ac_trigger *t, const struct ac_customer *c,
                      const struct ac_timer *tm);
/* The earliest time >= at the action's hours and window allow, in c's zone. */
int64_t engine_hours(struct ac_engine *en, const struct ac_pb_action *pa,
                     const struct ac_customer *c, int64_t at, struct ac_emit *out,
                     const char **why);
/* How long a blocked action may be deferred; and a cap's reschedule. */
int64_t engine_defer_bound(const struct ac_engine *en, const struct ac_pb_action *pa,
                           const struct ac_timer *tm);
int64_t engine_slot_bound(const struct ac_engine *en, const struct ac_pb_action *pa,
                          const struct ac_timer *tm);
/* Decides a due action (and a periodic rule's next occurrence): enum engine_outcome. */
int engine_decide_due(struct ac_engine *en, struct ac_customer *c, struct ac_timer *tm, int64_t now,
                      struct ac_emit *out);
void engine_schedule_next(struct ac_engine *en, const struct ac_pb_rule *r,
                          const struct ac_pb_action *pa, const struct ac_timer *tm, int64_t now,
                          struct ac_emit *out);

/* --- engine_collide.c ------------------------------------------------------------------------ */

/* Position of a rule in the playbook. */
size_t engine_rule_pos(const struct ac_engine *en, const char *rule_id);
/* The playbook action of a timer (and its rule), or NULL if it is gone. */
const struct ac_pb_action *engine_timer_action(const struct ac_engine *en,
                                               const struct ac_timer *tm,
                                               const struct ac_pb_rule **rp);
/* A message the frequency cap counts. */
int engine_is_capped(const struct ac_pb_policies *po, const struct ac_pb_action *pa);
/* The order in which due timers are decided: 1 if a goes before b. */
int engine_before(const struct ac_engine *en, const struct ac_timer *a, const struct ac_timer *b);
/* Before tm (action pa) goes out at `at` under cap: the time it gives way
 * to, with the reason in why, or AC_TS_NONE: it goes now. */
int64_t engine_give_way(struct ac_engine *en, const struct ac_customer *c,
                        const struct ac_timer *tm, const struct ac_pb_action *pa,
                        const struct ac_pb_cap *cap, int64_t at, struct ac_emit *out, char *why,
                        size_t whylen);
/* After a (of tm's rule r, action pa) went out at `at`: the pending
 * messages of its window that ride along in it (merged). */
void engine_carry(struct ac_engine *en, struct ac_customer *c, const struct ac_timer *tm,
                  const struct ac_pb_rule *r, const struct ac_pb_action *pa,
                  const struct ac_pb_cap *cap, struct ac_action *a, int64_t at, int64_t now,
                  struct ac_emit *out);
/* The capped messages the event made due at once (en->now_ids), decided
 * in the order of engine_before. */
void engine_decide_now(struct ac_engine *en, struct ac_customer *c, int64_t now,
                       struct ac_emit *out);

#endif
