/* A customer's timer set: what the commit must delete, and the JSON form. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "event.h"
#include "processor.h"
#include "timer.h"

static struct ac_timerset ts;

static void make(struct ac_timer *t, int k)
{
    memset(t, 0, sizeof(*t));
    char trig[32];
    snprintf(trig, sizeof(trig), "ev-%d", k);
    ac_action_id(t->id, "r", trig, 0);
    snprintf(t->rule_id, sizeof(t->rule_id), "r");
    t->due = 1000 + k;
    t->first_due = t->due;
    t->expires_at = AC_TS_NONE;
    snprintf(t->trigger.id, sizeof(t->trigger.id), "%s", trig);
}

/* A timer as the load gives it: through its JSON form. */
static void load(struct ac_timer *t)
{
    struct ac_buf b;
    ac_buf_init(&b);
    cr_assert_eq(ac_timer_to_json(t, &b), 0);
    char id[AC_ACTION_ID_MAX];
    snprintf(id, sizeof(id), "%s", t->id);
    cr_assert_eq(ac_timer_from_json(&ts.t[ts.n], id, b.data, b.len), 0);
    ts.n++;
    ac_buf_fini(&b);
}

Test(timerset, a_timer_put_and_removed_in_one_batch_leaves_no_deletion)
{
    struct ac_timer t;
    ac_timerset_init(&ts);
    make(&t, 1);
    cr_assert_eq(ac_timerset_put(&ts, &t), 0);
    ac_timerset_remove(&ts, 0);
    cr_expect_eq(ts.n, 0);
    cr_expect_eq(ts.n_removed, 0);
}

Test(timerset, a_stored_timer_removed_is_deleted_and_put_back_is_not)
{
    struct ac_timer t;
    ac_timerset_init(&ts);
    make(&t, 1);
    load(&t);
    cr_expect(ts.t[0].stored);
    ac_timerset_remove(&ts, 0);
    cr_assert_eq(ts.n_removed, 1);
    cr_expect_str_eq(ts.removed[0], t.id);
    cr_assert_eq(ac_timerset_put(&ts, &t), 0); /* moved back, e.g. re-scheduled */
    cr_expect_eq(ts.n_removed, 0);
    cr_expect(ts.t[0].stored, "it still exists in Redis");
    ac_timerset_remove(&ts, 0);
    cr_expect_eq(ts.n_removed, 1, "removed again: deleted once");
}

Test(timerset, removals_never_overflow_when_new_timers_come_and_go)
{
    struct ac_timer t;
    enum { STORED = AC_TIMERS_MAX / 2 };
    ac_timerset_init(&ts);
    for (int k = 0; k < STORED; k++) {
        make(&t, k);
        load(&t);
    }
    /* Many timers scheduled and cancelled within the batch ... */
    for (int k = 0; k < 3 * AC_TIMERS_MAX; k++) {
        make(&t, 1000 + k);
        cr_assert_eq(ac_timerset_put(&ts, &t), 0);
        ac_timerset_remove(&ts, ac_timerset_find(&ts, t.id));
    }
    /* ... then every stored one cancelled: each deletion must survive. */
    while (ts.n > 0) {
        ac_timerset_remove(&ts, 0);
    }
    cr_assert_eq(ts.n_removed, STORED);
    for (int k = 0; k < STORED; k++) {
        make(&t, k);
        int found = 0;
        for (int i = 0; i < ts.n_removed; i++) {
            found |= strcmp(ts.removed[i], t.id) == 0;
        }
        cr_expect(found, "the deletion of stored timer %d was lost", k);
    }
}

Test(timerset, json_keeps_the_trigger)
{
    struct ac_timer t, back;
    make(&t, 7);
    t.part = 2;
    t.seq = 3;
    t.expires_at = 99999;
    snprintf(t.reason, sizeof(t.reason), "quiet_hours");
    t.trigger.source = AC_TRIGGER_SIGNAL;
    t.trigger.topic = -1;
    snprintf(t.trigger.signal, sizeof(t.trigger.signal), "milestone");
    snprintf(t.trigger.value, sizeof(t.trigger.value), "first_value");
    t.trigger.renewal_at = 123456;
    t.trigger.score = 9;
    snprintf(t.trigger.family, sizeof(t.trigger.family), "coffee");
    struct ac_buf b;
    ac_buf_init(&b);
    cr_assert_eq(ac_timer_to_json(&t, &b), 0);
    cr_assert_eq(ac_timer_from_json(&back, t.id, b.data, b.len), 0);
    cr_expect_str_eq(back.rule_id, "r");
    cr_expect_eq(back.part, 2);
    cr_expect_eq(back.seq, 3);
    cr_expect_eq(back.due, t.due);
    cr_expect_eq(back.expires_at, 99999);
    cr_expect_str_eq(back.reason, "quiet_hours");
    cr_expect_eq(back.trigger.source, AC_TRIGGER_SIGNAL);
    cr_expect_str_eq(back.trigger.value, "first_value");
    cr_expect_eq(back.trigger.renewal_at, 123456);
    cr_expect_eq(back.trigger.score, 9);
    cr_expect_str_eq(back.trigger.family, "coffee");
    cr_expect_eq(ac_timer_from_json(&back, "short", b.data, b.len), -1, "a bad id is refused");
    cr_expect_neq(ac_timer_from_json(&back, t.id, "{", 1), 0, "bad JSON is refused");
    ac_buf_fini(&b);
}
