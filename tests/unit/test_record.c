/* The customer record's compact encoding: what goes in comes out, shared
 * triggers are stored once, a newer version's sections are skipped, damage
 * is an error and never a crash, and the bounds (seen-id window,
 * watermarks, recent decisions) hold. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "record.h"

#define T0 1767225600000LL
#define DAY 86400000LL

static void order_trigger(struct ac_trigger *t, const char *event_id)
{
    struct ac_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.topic = AC_TOPIC_ORDERS;
    snprintf(ev.event_id, sizeof(ev.event_id), "%s", event_id);
    snprintf(ev.customer_id, sizeof(ev.customer_id), "c-1");
    snprintf(ev.type, sizeof(ev.type), "order_placed");
    ev.occurred_at = T0;
    snprintf(ev.u.order.order_id, sizeof(ev.u.order.order_id), "ord-%s", event_id);
    ev.u.order.total_cents = 12345;
    snprintf(ev.u.order.currency, sizeof(ev.u.order.currency), "EUR");
    ev.u.order.renewal_at = AC_TS_NONE;
    ac_trigger_from_event(t, &ev);
}

static void add_timer(struct ac_record *rec, const char *rule, const char *event_id, int part,
                      int64_t due, const char *family)
{
    struct ac_timer t;
    memset(&t, 0, sizeof(t));
    order_trigger(&t.trigger, event_id);
    snprintf(t.rule_id, sizeof(t.rule_id), "%s", rule);
    t.part = part;
    ac_action_id(t.id, rule, event_id, part);
    t.due = due;
    t.first_due = due - 1000;
    t.expires_at = family ? due + DAY : AC_TS_NONE;
    if (family) {
        snprintf(t.trigger.family, sizeof(t.trigger.family), "%s", family);
        t.trigger.family_price_cents = 999;
        snprintf(t.reason, sizeof(t.reason), "quiet_hours");
    }
    cr_assert_eq(ac_timerset_put(&rec->timers, &t), 0);
}

static void roundtrip(const struct ac_record *in, struct ac_record *out, struct ac_buf *enc)
{
    ac_buf_reset(enc);
    cr_assert_eq(ac_record_encode(in, enc), 0);
    cr_assert_eq(ac_record_decode(out, in->state.customer_id, enc->data, enc->len), 0);
}

Test(record, state_timers_watermarks_and_seen_ids_come_back)
{
    struct ac_record a, b;
    struct ac_buf enc;
    ac_record_init(&a, "c-1");
    ac_record_init(&b, "c-1");
    ac_buf_init(&enc);
    a.state.version = 41;
    a.state.order_count = 3;
    a.state.revenue_cents = 987654321;
    a.state.first_order_at = T0;
    snprintf(a.state.families, sizeof(a.state.families), "coffee,tea");
    snprintf(a.state.segment, sizeof(a.state.segment), "mid_value_repeat");
    add_timer(&a, "welcome_2", "ev-1", 0, T0 + 2 * DAY, NULL);
    add_timer(&a, "welcome_3", "ev-1", 0, T0 + 7 * DAY, NULL);
    add_timer(&a, "reorder", "ev-1", 1, T0 + 14 * DAY, "coffee");
    /* an id the engine would not derive: stored as it is */
    add_timer(&a, "checkin", "ev-2", 0, T0 + 30 * DAY, NULL);
    ac_action_id(a.timers.t[3].id, "checkin", "ev-2#special", 0);
    a.timers.t[3].seq = 2;
    ac_record_set_watermark(&a, AC_TOPIC_ORDERS, 3, 1234567);
    ac_record_set_watermark(&a, AC_TOPIC_FEEDBACK, 0, 9);
    ac_record_seen_add(&a, "ev-1", T0);
    ac_record_seen_add(&a, "ev-2", T0 + DAY);
    roundtrip(&a, &b, &enc);

    cr_expect_eq(b.state.version, 41);
    cr_expect_eq(b.state.order_count, 3);
    cr_expect_eq(b.state.revenue_cents, 987654321);
    cr_expect_eq(b.state.first_order_at, T0);
    cr_expect_eq(b.state.last_order_at, AC_TS_NONE, "defaults stay defaults");
    cr_expect_str_eq(b.state.families, "coffee,tea");
    cr_expect_str_eq(b.state.segment, "mid_value_repeat");
    cr_expect_str_eq(b.state.customer_id, "c-1");
    cr_assert_eq(b.timers.n, 4);
    for (int i = 0; i < 4; i++) {
        const struct ac_timer *x = &a.timers.t[i], *y = &b.timers.t[i];
        cr_expect_str_eq(y->id, x->id, "timer %d", i);
        cr_expect_str_eq(y->rule_id, x->rule_id);
        cr_expect_eq(y->part, x->part);
        cr_expect_eq(y->due, x->due);
        cr_expect_eq(y->first_due, x->first_due);
        cr_expect_eq(y->expires_at, x->expires_at);
        cr_expect_eq(y->seq, x->seq);
        cr_expect_str_eq(y->reason, x->reason);
        cr_expect_eq(memcmp(&y->trigger, &x->trigger, sizeof(x->trigger)), 0,
                     "timer %d's trigger comes back whole", i);
    }
    cr_expect_eq(ac_record_watermark(&b, AC_TOPIC_ORDERS, 3), 1234567);
    cr_expect_eq(ac_record_watermark(&b, AC_TOPIC_FEEDBACK, 0), 9);
    cr_expect_eq(ac_record_watermark(&b, AC_TOPIC_ORDERS, 4), -1);
    cr_expect(ac_record_seen_has(&b, "ev-1"));
    cr_expect(ac_record_seen_has(&b, "ev-2"));
    cr_expect(!ac_record_seen_has(&b, "ev-3"));
    ac_record_fini(&a);
    ac_record_fini(&b);
    ac_buf_fini(&enc);
}

Test(record, timers_of_one_trigger_share_it_and_stay_small)
{
    struct ac_record a;
    struct ac_buf one, many;
    ac_record_init(&a, "c-1");
    ac_buf_init(&one);
    ac_buf_init(&many);
    add_timer(&a, "welcome_2", "ev-1", 0, T0 + 2 * DAY, NULL);
    cr_assert_eq(ac_record_encode(&a, &one), 0);
    for (int i = 3; i < 17; i++) {
        char rule[32];
        snprintf(rule, sizeof(rule), "rule_%d", i);
        add_timer(&a, rule, "ev-1", 0, T0 + i * DAY, NULL);
    }
    cr_assert_eq(ac_record_encode(&a, &many), 0);
    size_t per_timer = (many.len - one.len) / 14;
    cr_expect_leq(per_timer, 24, "a further timer of the same trigger costs %zu bytes", per_timer);
    ac_record_fini(&a);
    ac_buf_fini(&one);
    ac_buf_fini(&many);
}

Test(record, a_newer_versions_section_is_skipped)
{
    struct ac_record a, b;
    struct ac_buf enc, ext;
    ac_record_init(&a, "c-1");
    ac_record_init(&b, "c-1");
    ac_buf_init(&enc);
    ac_buf_init(&ext);
    a.state.order_count = 7;
    cr_assert_eq(ac_record_encode(&a, &enc), 0);
    /* Insert section 99 (3 bytes) before the end marker. */
    ac_buf_append(&ext, enc.data, enc.len - 1);
    ac_buf_append(&ext, "\x63\x03xyz\x00", 6);
    cr_assert_eq(ac_record_decode(&b, "c-1", ext.data, ext.len), 0);
    cr_expect_eq(b.state.order_count, 7);
    ac_record_fini(&a);
    ac_record_fini(&b);
    ac_buf_fini(&enc);
    ac_buf_fini(&ext);
}

Test(record, damaged_bytes_are_an_error_never_a_crash)
{
    struct ac_record a, b;
    struct ac_buf enc;
    ac_record_init(&a, "c-1");
    ac_record_init(&b, "c-1");
    ac_buf_init(&enc);
    add_timer(&a, "welcome_2", "ev-1", 0, T0, "coffee");
    ac_record_seen_add(&a, "ev-1", T0);
    cr_assert_eq(ac_record_encode(&a, &enc), 0);
    for (size_t cut = 1; cut < enc.len; cut++) {
        cr_expect_neq(ac_record_decode(&b, "c-1", enc.data, cut), 0, "truncated at %zu", cut);
    }
    cr_expect_eq(ac_record_decode(&b, "c-1", "", 0), 0, "no bytes: a new customer");
    cr_expect_eq(ac_record_decode(&b, "c-1", "{\"json\":1}", 10), AC_ERR_INVALID);
    /* every single-byte change decodes or fails cleanly */
    for (size_t i = 0; i < enc.len; i++) {
        char saved = enc.data[i];
        enc.data[i] = (char)(enc.data[i] ^ 0x5a);
        (void)ac_record_decode(&b, "c-1", enc.data, enc.len);
        enc.data[i] = saved;
    }
    ac_record_fini(&a);
    ac_record_fini(&b);
    ac_buf_fini(&enc);
}

Test(record, the_seen_window_is_bounded_by_time_and_count)
{
    struct ac_record a;
    char id[32];
    ac_record_init(&a, "c-1");
    ac_record_seen_add(&a, "old", T0);
    ac_record_seen_add(&a, "new", T0 + AC_RECORD_SEEN_WINDOW_MS + 1);
    cr_expect(!ac_record_seen_has(&a, "old"), "older than the window: forgotten");
    cr_expect(ac_record_seen_has(&a, "new"));
    for (int i = 0; i < 2 * AC_RECORD_SEEN_MAX; i++) {
        snprintf(id, sizeof(id), "burst-%d", i);
        ac_record_seen_add(&a, id, T0 + AC_RECORD_SEEN_WINDOW_MS + 2 + i);
    }
    cr_expect_eq(a.n_seen, AC_RECORD_SEEN_MAX);
    cr_expect_gt(a.seen_evicted, 0, "evictions inside the window are counted");
    snprintf(id, sizeof(id), "burst-%d", 2 * AC_RECORD_SEEN_MAX - 1);
    cr_expect(ac_record_seen_has(&a, id), "the newest are kept");
    ac_record_fini(&a);
}

Test(record, the_recent_ring_keeps_the_newest_decisions)
{
    struct ac_record a, b;
    struct ac_buf enc;
    struct ac_decision d;
    ac_record_init(&a, "c-1");
    ac_record_init(&b, "c-1");
    ac_buf_init(&enc);
    for (int i = 0; i < AC_RECORD_RECENT_MAX + 3; i++) {
        memset(&d, 0, sizeof(d));
        d.at = T0 + i;
        snprintf(d.rule_id, sizeof(d.rule_id), "rule_%d", i);
        snprintf(d.decision, sizeof(d.decision), "emitted");
        snprintf(d.reason, sizeof(d.reason), "due");
        ac_action_id(d.action_id, d.rule_id, "ev", 0);
        ac_record_recent_add(&a, &d);
    }
    roundtrip(&a, &b, &enc);
    cr_assert_eq(b.n_recent, AC_RECORD_RECENT_MAX);
    cr_expect_eq(b.recent[0].at, T0 + 3, "the oldest fell out");
    cr_expect_str_eq(b.recent[AC_RECORD_RECENT_MAX - 1].rule_id, "rule_10");
    cr_expect_eq(b.recent[2].at, a.recent[2].at, "times come back from their deltas");
    ac_record_fini(&a);
    ac_record_fini(&b);
    ac_buf_fini(&enc);
}
