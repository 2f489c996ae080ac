/* Seed journeys end to end, through the real processes on the embedded stack
 * with the default playbook: a delay's new estimate re-arms the overdue
 * apology and its passing is a late_delivery signal (aftercare-deliveries,
 * then aftercare-timers on an explicit, sped-up clock); an unsubscribe
 * without a channel stops marketing but not the order confirmation or the
 * returns path (aftercare-feedback, -orders, -deliveries). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "harness.h"
#include "record.h"

#define HOUR 3600000LL

static struct h_env env;

static void setup(void)
{
    h_start(&env, 2);
}

static void teardown(void)
{
    h_stop(&env);
}

TestSuite(journeys, .init = setup, .fini = teardown, .timeout = 240);

static void default_playbook(char *extra, size_t n, const char *more)
{
    snprintf(extra, n, "playbook = %s/deploy/playbooks/default.yaml\n%s", h_source_dir(),
             more ? more : "");
}

/* The clock.epoch_ms that makes a clock speed times faster than the wall
 * clock read target when the wall clock reads now (such a clock reads
 * epoch + (wall - epoch) * speed). */
static int64_t epoch_for(int64_t now, int64_t target, int64_t speed)
{
    return (speed * now - target) / (speed - 1);
}

/* aftercare-timers with the default playbook on a clock speed times faster
 * than the wall clock from epoch (ms), firing on that clock alone. */
static pid_t spawn_timers(int64_t epoch, int speed)
{
    char extra[1400], tconf[512];
    default_playbook(extra, sizeof(extra), NULL);
    snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
             "timers.event_time = false\nclock.speed = %d\nclock.epoch_ms = %lld\n", speed,
             (long long)epoch);
    h_write_timers_config(&env, extra, tconf, sizeof(tconf));
    return h_spawn(&env, "timers", tconf);
}

static void delivery(struct ac_event *ev, const char *id, const char *cid, const char *type,
                     int64_t at, const char *order_id)
{
    memset(ev, 0, sizeof(*ev));
    ev->topic = AC_TOPIC_DELIVERIES;
    snprintf(ev->event_id, sizeof(ev->event_id), "%s", id);
    snprintf(ev->customer_id, sizeof(ev->customer_id), "%s", cid);
    snprintf(ev->type, sizeof(ev->type), "%s", type);
    ev->occurred_at = at;
    snprintf(ev->u.delivery.order_id, sizeof(ev->u.delivery.order_id), "%s", order_id);
    snprintf(ev->u.delivery.carrier, sizeof(ev->u.delivery.carrier), "dhl");
    ev->u.delivery.estimated_delivery_at = AC_TS_NONE;
    ev->u.delivery.new_estimated_delivery_at = AC_TS_NONE;
}

static size_t reader_find(const struct h_reader *rd, const char *id)
{
    for (size_t i = 0; i < rd->n; i++) {
        if (strcmp(rd->recs[i].id, id) == 0) {
            return i;
        }
    }
    return (size_t)-1;
}

/* Polls rd until every id of ids[] was read or the deadline passed; returns
 * how many are missing. */
static int wait_ids(struct h_reader *rd, char ids[][AC_ACTION_ID_MAX], int n, int deadline_ms)
{
    int64_t end = ac_clock_mono_ms() + deadline_ms;
    for (;;) {
        int missing = 0;
        for (int i = 0; i < n; i++) {
            missing += reader_find(rd, ids[i]) == (size_t)-1;
        }
        int64_t left = end - ac_clock_mono_ms();
        if (missing == 0 || left <= 0) {
            return missing;
        }
        h_reader_poll(rd, rd->n + 1, left < 500 ? (int)left : 500);
    }
}

Test(journeys, a_new_estimate_rearms_the_overdue_apology_and_its_passing_is_a_late_delivery)
{
    int64_t now = ac_clock_now(ac_clock_wall());
    struct ac_event evs[2];
    delivery(&evs[0], "ship-1", "late-1", "shipped", now, "A1");
    evs[0].u.delivery.estimated_delivery_at = now + 2 * HOUR;
    delivery(&evs[1], "delay-1", "late-1", "delayed", now + 1000, "A1");
    evs[1].u.delivery.estimated_delivery_at = now + 2 * HOUR;
    evs[1].u.delivery.new_estimated_delivery_at = now + 3 * HOUR;
    h_produce_events(&env, "deliveries", evs, 2);

    char extra[1400], conf[512];
    default_playbook(extra, sizeof(extra), NULL);
    h_write_config(&env, "deliveries", extra, conf, sizeof(conf));
    pid_t deliveries = h_spawn(&env, "deliveries", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-deliveries", "deliveries", 60000));
    cr_expect_eq(h_timer_count(&env, "late-1"), 1, "one overdue timer: the re-armed one");
    cr_expect_eq(h_state_ll(&env, "late-1", "d.late"), 1);

    /* The timer process on a clock 1000x faster from now: the new estimate + 1 h
     * comes 14.4 s later; the first estimate + 1 h (10.8 s) must bring nothing. */
    pid_t timers = spawn_timers(now, 1000);

    char ids[3][AC_ACTION_ID_MAX], old_id[AC_ACTION_ID_MAX];
    ac_action_id(ids[0], "delivery_updates", "ship-1", 0);
    ac_action_id(ids[1], "delivery_delay", "delay-1", 0);
    ac_action_id(ids[2], "delivery_delay_overdue", "delay-1", 0);
    ac_action_id(old_id, "delivery_delay_overdue", "ship-1", 0);
    struct h_reader acts;
    h_reader_open(&env, &acts, "aftercare.actions");
    cr_assert_eq(wait_ids(&acts, ids, 3, 90000), 0, "got %zu actions", acts.n);
    size_t i = reader_find(&acts, ids[2]);
    struct ac_action a;
    cr_assert_eq(ac_codec_decode_action(env.codec, acts.recs[i].value, acts.recs[i].len, &a), 0);
    cr_expect_geq(a.not_before, now + 4 * HOUR, "at the new estimate + 1 h, on the timers' clock");
    cr_expect_str_eq(a.template_name, "delivery_delay_apology");
    cr_expect_eq(reader_find(&acts, old_id), (size_t)-1, "the first estimate's apology was sent");
    cr_expect_eq(h_timer_count(&env, "late-1"), 0);
    h_reader_close(&acts);

    /* Two late_delivery signals: the delay, and the new estimate passing. */
    char sig_delay[AC_ACTION_ID_MAX], sig_passed[AC_ACTION_ID_MAX];
    ac_action_id(sig_delay, "signal:late_delivery", "delay-1", 0);
    ac_action_id(sig_passed, "signal:late_delivery", ids[2], 0);
    struct h_reader sigs;
    h_reader_open(&env, &sigs, "aftercare.signals");
    char want[2][AC_ACTION_ID_MAX];
    snprintf(want[0], sizeof(want[0]), "%s", sig_delay);
    snprintf(want[1], sizeof(want[1]), "%s", sig_passed);
    cr_expect_eq(wait_ids(&sigs, want, 2, 30000), 0, "got %zu signals", sigs.n);
    h_reader_close(&sigs);
    char out[1 << 14], err[2048];
    cr_assert_eq(h_run_cli(&env, "consume aftercare.signals --from-beginning --timeout 3", out,
                           sizeof(out), err, sizeof(err)),
                 0, "%s", err);
    cr_expect(strstr(out, "\"signal\":\"late_delivery\",\"value\":\"estimate_passed\"") != NULL,
              "%s", out);
    cr_expect_eq(h_state_ll(&env, "late-1", "d.late"), 2, "the passed estimate counts as late");

    cr_expect_eq(h_terminate(timers), 0);
    cr_expect_eq(h_terminate(deliveries), 0);
}

Test(journeys, an_unsubscribe_from_everything_stops_marketing_but_not_orders_or_returns)
{
    int64_t now = ac_clock_now(ac_clock_wall());
    struct ac_event unsub;
    memset(&unsub, 0, sizeof(unsub));
    unsub.topic = AC_TOPIC_FEEDBACK;
    snprintf(unsub.event_id, sizeof(unsub.event_id), "unsub-1");
    snprintf(unsub.customer_id, sizeof(unsub.customer_id), "ret-1");
    snprintf(unsub.type, sizeof(unsub.type), "message_engagement");
    unsub.occurred_at = now - 60000;
    unsub.u.feedback.score = -1;
    unsub.u.feedback.frequency_opt_in = -1;
    snprintf(unsub.u.feedback.engagement, sizeof(unsub.u.feedback.engagement), "unsubscribed");
    h_produce_events(&env, "feedback", &unsub, 1);

    char extra[1400], fconf[512], oconf[512], dconf[512];
    default_playbook(extra, sizeof(extra), NULL);
    h_write_config(&env, "feedback", extra, fconf, sizeof(fconf));
    h_write_config(&env, "orders", extra, oconf, sizeof(oconf));
    h_write_config(&env, "deliveries", extra, dconf, sizeof(dconf));
    pid_t feedback = h_spawn(&env, "feedback", fconf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-feedback", "feedback", 60000));
    char consents[64];
    h_state_str(&env, "ret-1", "p.consent", consents, sizeof(consents));
    cr_expect_str_eq(consents, "*=u");

    struct ac_event ord[3], back;
    h_order_event(&ord[0], "order-1", "ret-1", "order_placed", now, 4990, "coffee");
    h_order_event(&ord[1], "return-1", "ret-1", "return_requested", now + 1000, 4990, "coffee");
    h_order_event(&ord[2], "refund-1", "ret-1", "refund_issued", now + 3000, 4990, "coffee");
    for (int k = 0; k < 3; k++) {
        snprintf(ord[k].u.order.order_id, sizeof(ord[k].u.order.order_id), "A1");
    }
    delivery(&back, "back-1", "ret-1", "returned", now + 2000, "A1");
    h_produce_events(&env, "orders", ord, 3);
    h_produce_events(&env, "deliveries", &back, 1);
    pid_t orders = h_spawn(&env, "orders", oconf);
    pid_t deliveries = h_spawn(&env, "deliveries", dconf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    cr_assert(h_wait_done(&env, "ac", "aftercare-deliveries", "deliveries", 60000));

    /* The transactional ones all go; every one of them is on the topic once
     * its processor's position moved. */
    char ids[4][AC_ACTION_ID_MAX];
    ac_action_id(ids[0], "order_confirmation", "order-1", 0);
    ac_action_id(ids[1], "return_instructions", "return-1", 0);
    ac_action_id(ids[2], "return_received", "back-1", 0);
    ac_action_id(ids[3], "refund_confirmation", "refund-1", 0);
    struct h_reader acts;
    h_reader_read_all(&env, &acts, "aftercare.actions");
    static const char *const rules[4] = {"order_confirmation", "return_instructions",
                                         "return_received", "refund_confirmation"};
    for (int k = 0; k < 4; k++) {
        size_t i = reader_find(&acts, ids[k]);
        cr_assert_neq(i, (size_t)-1, "%s missing", rules[k]);
        struct ac_action a;
        cr_assert_eq(ac_codec_decode_action(env.codec, acts.recs[i].value, acts.recs[i].len, &a),
                     0);
        cr_expect_eq(a.category, AC_CAT_TRANSACTIONAL, "%s", rules[k]);
        cr_expect_str_eq(a.channel, "email", "%s", rules[k]);
    }
    /* ... and nothing of marketing, on any channel. */
    for (size_t i = 0; i < acts.n; i++) {
        struct ac_action a;
        cr_assert_eq(ac_codec_decode_action(env.codec, acts.recs[i].value, acts.recs[i].len, &a),
                     0);
        cr_expect_neq(a.category, AC_CAT_MARKETING, "%s went out by %s", a.rule_id, a.channel);
    }
    h_reader_close(&acts);

    /* The audit log says why the segment follow-up did not go, and that the
     * refund's feedback ask is planned. */
    static char out[1 << 18];
    char err[2048];
    cr_assert_eq(h_run_cli(&env, "consume aftercare.decisions --from-beginning --timeout 3", out,
                           sizeof(out), err, sizeof(err)),
                 0, "%s", err);
    cr_expect(strstr(out, "\"rule_id\":\"segment_followup\",\"part\":2,") != NULL, "%s", out);
    cr_expect(strstr(out, "\"decision\":\"suppressed\",\"reason\":\"no_consent\"") != NULL, "%s",
              out);
    cr_expect(strstr(out, "\"rule_id\":\"refund_feedback\"") != NULL, "%s", out);

    cr_expect_eq(h_terminate(orders), 0);
    cr_expect_eq(h_terminate(deliveries), 0);
    cr_expect_eq(h_terminate(feedback), 0);
}

/* A collision through the real processes (issue: the day-14 upsell always
 * expired behind welcome_4): a first order, then aftercare-timers on a clock
 * 43,200 times faster (a day every 2 s) until day 14. The upsell rides along
 * in welcome_4: one message with its vars, a `merged` decision on the audit
 * log, no upsell of its own. The order is placed on the last Monday at 10:00
 * UTC and the processes' clocks start at 11:00 that day, so every message is
 * decided inside its windows whatever time the test runs. */
Test(journeys, the_day_14_upsell_rides_along_in_welcome_4_through_the_processes)
{
    int64_t now = ac_clock_now(ac_clock_wall());
    const int64_t day = 24 * HOUR, monday0 = 345600000LL; /* 1970-01-05 00:00 UTC */
    int64_t at = monday0 + (now - monday0) / (7 * day) * (7 * day) + 10 * HOUR;
    if (at > now) {
        at -= 7 * day;
    }
    struct ac_event ord;
    h_order_event(&ord, "col-order-1", "col-1", "order_placed", at, 4990, "coffee");
    h_produce_events(&env, "orders", &ord, 1);

    /* Both processes' clocks read 11:00 that Monday when the test starts,
     * whatever the wall clock says: the order is processed an hour after it
     * was placed, outside the quiet hours (21:00-08:00), as the journey
     * expects (processed in the quiet hours, its welcome would wait until
     * 08:00 and move the rest of the journey). */
    char extra[1400], oconf[512], clock[128];
    snprintf(clock, sizeof(clock), "clock.speed = 2\nclock.epoch_ms = %lld\n",
             (long long)epoch_for(now, at + HOUR, 2));
    default_playbook(extra, sizeof(extra), clock);
    h_write_config(&env, "orders", extra, oconf, sizeof(oconf));
    pid_t orders = h_spawn(&env, "orders", oconf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    pid_t timers = spawn_timers(epoch_for(now, at + HOUR, 43200), 43200);

    char ids[1][AC_ACTION_ID_MAX], upsell[AC_ACTION_ID_MAX];
    ac_action_id(ids[0], "welcome_4", "col-order-1", 0);
    ac_action_id(upsell, "upsell", "col-order-1", 0);
    struct h_reader acts;
    h_reader_open(&env, &acts, "aftercare.actions");
    cr_assert_eq(wait_ids(&acts, ids, 1, 90000), 0, "welcome_4 never came (%zu actions)", acts.n);
    struct ac_action a;
    size_t i = reader_find(&acts, ids[0]);
    cr_assert_eq(ac_codec_decode_action(env.codec, acts.recs[i].value, acts.recs[i].len, &a), 0);
    /* due on day 14; decided when the sped-up clock got there (0.1 s is 72 min) */
    cr_expect_geq(a.not_before, at + 14 * day);
    cr_expect_lt(a.not_before, at + 15 * day);
    int merged = 0, family = 0;
    for (int k = 0; k < a.n_vars; k++) {
        merged |=
            strcmp(a.vars[k].key, "merged") == 0 && strcmp(a.vars[k].value, "upsell_offer") == 0;
        family |= strcmp(a.vars[k].key, "family") == 0 && strcmp(a.vars[k].value, "coffee") == 0;
    }
    cr_expect(merged, "welcome_4 carries the upsell (var merged)");
    cr_expect(family, "and the upsell's vars");
    cr_expect_eq(reader_find(&acts, upsell), (size_t)-1, "the upsell went on its own as well");
    h_reader_close(&acts);

    static char out[1 << 18];
    char err[2048];
    cr_assert_eq(h_run_cli(&env, "consume aftercare.decisions --from-beginning --timeout 3", out,
                           sizeof(out), err, sizeof(err)),
                 0, "%s", err);
    /* the upsell's decision: {"rule_id":"upsell",...,"decision":"merged","reason":...} */
    int found = 0;
    for (const char *u = strstr(out, "\"rule_id\":\"upsell\""); u && !found;
         u = strstr(u + 1, "\"rule_id\":\"upsell\"")) {
        const char *end = strchr(u, '}');
        const char *m = strstr(u, "\"decision\":\"merged\",\"reason\":\"merged_into:welcome_4\"");
        found = m && end && m < end;
    }
    cr_expect(found, "no merged decision for the upsell: %s", out);
    cr_expect_eq(h_terminate(timers), 0);
    cr_expect_eq(h_terminate(orders), 0);
}
