/* A customer's timer set: what the commit must delete, and the JSON form. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "err.h"
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
Test(timerset, grows_on_demand_and_stops_at_its_bound)
{
    struct ac_timer t;
    ac_timerset_fini(&ts);
    for (int k = 0; k < AC_TIMERS_MAX; k++) {
        make(&t, k);
        cr_assert_eq(ac_timerset_put(&ts, &t), 0, "timer %d fits", k);
    }
    cr_expect_eq(ts.n, AC_TIMERS_MAX);
    make(&t, AC_TIMERS_MAX);
    cr_expect_eq(ac_timerset_put(&ts, &t), AC_ERR_INVALID, "the bound is an error, not a loss");
    make(&t, 3);
    t.due = 42;
    cr_expect_eq(ac_timerset_put(&ts, &t), 0, "replacing an existing timer still works");
    cr_expect_eq(ts.t[ac_timerset_find(&ts, t.id)].due, 42);
}

Test(timerset, removal_is_counted_and_a_copy_is_independent)
{
    struct ac_timer t;
    struct ac_timerset copy;
    ac_timerset_fini(&ts);
    ac_timerset_init(&copy);
    for (int k = 0; k < 3; k++) {
        make(&t, k);
        cr_assert_eq(ac_timerset_put(&ts, &t), 0);
    }
    cr_assert_eq(ac_timerset_copy(&copy, &ts), 0);
    ac_timerset_remove(&ts, ac_timerset_find(&ts, t.id));
    cr_expect_eq(ts.n, 2);
    cr_expect_eq(ts.n_removed, 1);
    cr_expect_eq(copy.n, 3, "the copy keeps what it had");
    cr_expect_geq(ac_timerset_find(&copy, t.id), 0);
    ac_timerset_fini(&copy);
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
