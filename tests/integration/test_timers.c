/* Durable timers end to end: aftercare-orders schedules and cancels them
 * atomically with the state, aftercare-timers fires them through the
 * outbox, the sweep delivers what a dead process left behind, and SIGHUP
 * swaps the playbook only when the new one is valid. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "harness.h"
#include "processor.h"
#include "record.h"
#include "store.h"
#include "timer.h"

static struct h_env env;

static void setup(void)
{
    h_start(&env, 2);
}

static void teardown(void)
{
    h_stop(&env);
}

TestSuite(timers, .init = setup, .fini = teardown, .timeout = 240);

static long long redis_int(const char *fmt, const char *a)
{
    redisReply *r = h_redis(&env, fmt, a);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

static void cust_key(char *out, size_t n, char kind, const char *cid)
{
    snprintf(out, n, "ac:{%u}:%c:%s", ac_store_bucket(cid), kind, cid);
}

/* 1 if the customer's recent decisions (the ring in its record, kept for
 * inspect) hold this decision for rule. */
static int audit_has(const char *cid, const char *rule, const char *decision)
{
    struct ac_record rec;
    int found = 0;
    ac_record_init(&rec, cid);
    h_record(&env, cid, &rec);
    for (int i = 0; i < rec.n_recent && !found; i++) {
        found = strcmp(rec.recent[i].rule_id, rule) == 0 &&
                strcmp(rec.recent[i].decision, decision) == 0;
    }
    ac_record_fini(&rec);
    return found;
}

static int reader_has(const struct h_reader *rd, const char *id)
{
    for (size_t i = 0; i < rd->n; i++) {
        if (strcmp(rd->recs[i].id, id) == 0) {
            return 1;
        }
    }
    return 0;
}

static void playbook_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/tests/data/playbooks/%s", h_source_dir(), name);
}

Test(timers, delayed_action_fires_once_and_a_contrary_event_cancels_it_at_once)
{
    int64_t now = ac_clock_now(ac_clock_wall());
    struct ac_event evs[3];
    h_order_event(&evs[0], "cart-1", "c1", "cart_abandoned", now, 1000, "coffee");
    h_order_event(&evs[1], "cart-2", "c2", "cart_abandoned", now, 1000, "coffee");
    h_order_event(&evs[2], "order-2", "c2", "order_placed", now + 1, 1000, "coffee");
    h_produce_events(&env, "orders", evs, 3);

    char pb[1200], extra[1400], conf[512], tconf[512];
    playbook_path(pb, sizeof(pb), "timers_flow.yaml");
    snprintf(extra, sizeof(extra), "playbook = %s\n", pb);
    h_write_config(&env, "orders", extra, conf, sizeof(conf));
    pid_t orders = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));

    /* Scheduled with the state: c1 has its reminder pending, c2's was
     * cancelled by the order in the same moment, not when its delay ends. */
    const char *tcid;
    char id1[AC_ACTION_ID_MAX], id2[AC_ACTION_ID_MAX];
    tcid = "c1";
    cr_expect_eq(h_timer_count(&env, tcid), 1, "c1's reminder is a timer");
    tcid = "c2";
    cr_expect_eq(h_timer_count(&env, tcid), 0, "c2's reminder was cancelled at once");
    cr_expect(audit_has("c2", "nudge", "cancelled"), "the cancellation is in the audit trail");
    cr_expect(!audit_has("c1", "nudge", "scheduled"), "the trail keeps outcomes, not plans");
    ac_action_id(id1, "nudge", "cart-1", 0);
    ac_action_id(id2, "nudge", "cart-2", 0);

    snprintf(extra, sizeof(extra), "playbook = %s\n", pb);
    h_write_timers_config(&env, extra, tconf, sizeof(tconf));
    pid_t timers = h_spawn(&env, "timers", tconf);

    /* Confirmation of order-2 + c1's reminder, 20 s after the cart. */
    struct h_reader acts;
    h_reader_open(&env, &acts, "aftercare.actions");
    cr_assert_eq(h_reader_poll(&acts, 2, 60000), 2, "got %zu actions", acts.n);
    cr_expect(reader_has(&acts, id1), "c1's reminder fired");
    cr_expect(!reader_has(&acts, id2), "c2's cancelled reminder never fires");
    struct ac_action a;
    for (size_t i = 0; i < acts.n; i++) {
        if (strcmp(acts.recs[i].id, id1) == 0) {
            cr_assert_eq(
                ac_codec_decode_action(env.codec, acts.recs[i].value, acts.recs[i].len, &a), 0);
            cr_expect_geq(a.not_before, now + 20000, "not before its due time");
            cr_expect_str_eq(a.template_name, "nudge");
            cr_expect_str_eq(a.trigger_event_id, "cart-1");
        }
    }
    tcid = "c1";
    cr_expect_eq(h_timer_count(&env, tcid), 0, "the fired timer is gone");
    cr_expect(audit_has("c1", "nudge", "emitted"));
    /* Nothing else arrives: the timer fired once. */
    cr_expect_eq(h_reader_poll(&acts, 3, 1500), 2, "a timer fired twice");
    h_reader_close(&acts);
    cr_expect_eq(h_terminate(timers), 0, "aftercare-timers exits 0 on SIGTERM");
    cr_expect_eq(h_terminate(orders), 0);
}

/* An action for customer cid that no process delivered: the outbox record a
 * writer leaves when it dies between its commit and producing. */
static void orphan_action(struct ac_action *a, const char *cid, const char *ev)
{
    memset(a, 0, sizeof(*a));
    ac_action_id(a->action_id, "orphan", ev, 0);
    snprintf(a->customer_id, sizeof(a->customer_id), "%s", cid);
    snprintf(a->rule_id, sizeof(a->rule_id), "orphan");
    snprintf(a->channel, sizeof(a->channel), "email");
    snprintf(a->template_name, sizeof(a->template_name), "orphan");
    snprintf(a->trigger_event_id, sizeof(a->trigger_event_id), "%s", ev);
    snprintf(a->trigger_type, sizeof(a->trigger_type), "order_placed");
    a->expires_at = AC_TS_NONE;
    a->not_before = a->created_at = ac_clock_now(ac_clock_wall());
}

/* Members of an index: a set (<b>:ob, <b>:oc) or a sorted set (<b>:oz). */
static long long index_len(const char *key)
{
    size_t n = strlen(key);
    return redis_int(n > 3 && strcmp(key + n - 3, ":oz") == 0 ? "ZCARD %s" : "SCARD %s", key);
}

/* Commit calls not yet acknowledged, over every bucket's call index. */
static long long calls_left(void)
{
    long long n = 0;
    char key[64];
    for (unsigned b = 0; b < AC_STORE_BUCKETS; b++) {
        snprintf(key, sizeof(key), "ac:{%u}:oz", b);
        n += index_len(key);
    }
    return n;
}

/* Runs aftercare-timers with a short sweep: a's record must reach
 * aftercare.actions, then the key holding it (okey) must go and the set
 * index must empty. */
static void sweep_delivers(const struct ac_action *a, const char *okey, const char *index,
                           const char *what)
{
    char tconf[512];
    h_write_timers_config(&env, "timers.sweep_ms = 200\n", tconf, sizeof(tconf));
    pid_t timers = h_spawn(&env, "timers", tconf);
    struct h_reader acts;
    h_reader_open(&env, &acts, "aftercare.actions");
    cr_assert_eq(h_reader_poll(&acts, 1, 30000), 1, "the orphaned record was not delivered");
    cr_expect_str_eq(acts.recs[0].id, a->action_id);
    cr_expect_str_eq(acts.recs[0].key, a->customer_id);
    h_reader_close(&acts);
    int64_t deadline = ac_clock_mono_ms() + 10000;
    while ((redis_int("EXISTS %s", okey) != 0 || index_len(index) != 0) &&
           ac_clock_mono_ms() < deadline) {
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    cr_expect_eq(redis_int("EXISTS %s", okey), 0, "the outbox was not acknowledged");
    cr_expect_eq(index_len(index), 0, "%s was not removed", what);
    cr_expect_eq(h_terminate(timers), 0);
}

Test(timers, the_sweep_delivers_what_a_dead_process_left_in_an_outbox)
{
    /* An outbox record and its index entry, as a commit leaves them when its
     * process dies before producing. */
    struct ac_action a;
    orphan_action(&a, "c9", "ev-9");
    struct ac_buf enc;
    ac_buf_init(&enc);
    ac_buf_append(&enc, "a", 1);
    cr_assert_eq(ac_codec_encode_action(env.codec, &a, &enc), 0);
    char okey[256], skey[256], ikey[64];
    cust_key(okey, sizeof(okey), 'o', "c9");
    cust_key(skey, sizeof(skey), 'c', "c9");
    snprintf(ikey, sizeof(ikey), "ac:{%u}:ob", ac_store_bucket("c9"));
    freeReplyObject(h_redis(&env, "HSET %s %s %b", okey, a.action_id, enc.data, enc.len));
    freeReplyObject(h_redis(&env, "SADD %s %s", ikey, skey));
    freeReplyObject(h_redis(&env, "SET ac:gen test-generation"));
    ac_buf_fini(&enc);

    sweep_delivers(&a, okey, ikey, "the index entry");
}

/* Any byte but NUL may be in a customer id: a newline too (the call lists
 * its customers NUL-separated). */
#define CALL_CID "c7\nx"

/* A writer of this version that dies between its commit and its
 * acknowledgement leaves its call, holding the records, in the bucket's call
 * index: the sweep finds the call, delivers its records and removes it. */
Test(timers, the_sweep_delivers_the_records_of_a_call_whose_writer_died)
{
    char err[256];
    struct ac_store *st = ac_store_new(env.dr.url, "ac", err, sizeof(err));
    cr_assert_not_null(st, "%s", err);
    cr_assert_eq(ac_store_connect(st, err, sizeof(err)), 0, "%s", err);
    char gen[40];
    cr_assert_eq(ac_store_generation(st, 1, gen), 0);
    ac_store_expect_generation(st, gen);
    struct ac_action a;
    orphan_action(&a, CALL_CID, "ev-7");
    struct ac_buf enc;
    ac_buf_init(&enc);
    cr_assert_eq(ac_codec_encode_action(env.codec, &a, &enc), 0);
    struct ac_store_cust sc;
    ac_store_cust_init(&sc, CALL_CID);
    cr_assert_eq(ac_store_load(st, &sc, 1), 0);
    sc.dirty = 1;
    cr_assert_eq(ac_store_cust_add_out(&sc, a.action_id, 'a', enc.data, enc.len), 0);
    cr_assert_eq(ac_store_commit(st, &sc, 1), 0);
    cr_assert_eq(sc.status, 0);
    ac_buf_fini(&enc);
    /* ... and the writer dies here: no produce, no acknowledgement. */
    char ckey[256], oci[64];
    snprintf(oci, sizeof(oci), "ac:{%u}:oz", ac_store_bucket(CALL_CID));
    cr_assert_eq(redis_int("ZCARD %s", oci), 1, "the call is in its bucket's index");
    redisReply *m = h_redis(&env, "ZRANGE %s 0 0", oci);
    cr_assert(m && m->type == REDIS_REPLY_ARRAY && m->elements == 1);
    snprintf(ckey, sizeof(ckey), "ac:{%u}:k:%s", ac_store_bucket(CALL_CID), m->element[0]->str);
    freeReplyObject(m);
    cr_assert_eq(redis_int("EXISTS %s", ckey), 1, "the call holds the records");
    ac_store_cust_fini(&sc);
    ac_store_destroy(st);

    sweep_delivers(&a, ckey, oci, "the call's index entry");
}

/* The previous version kept a call's records in its customers' outboxes and
 * listed their keys in the call (Redis's time, then the keys, NUL-separated):
 * such a call left by a writer that died is still delivered. */
Test(timers, the_sweep_delivers_a_call_of_the_previous_version)
{
    struct ac_action a;
    orphan_action(&a, CALL_CID, "ev-6");
    struct ac_buf enc, bundle;
    ac_buf_init(&enc);
    ac_buf_init(&bundle);
    cr_assert_eq(ac_codec_encode_action(env.codec, &a, &enc), 0);
    struct ac_store_cust sc;
    ac_store_cust_init(&sc, CALL_CID);
    cr_assert_eq(ac_store_cust_add_out(&sc, a.action_id, 'a', enc.data, enc.len), 0);
    cr_assert_eq(ac_buf_append(&bundle, "B", 1), 0);
    cr_assert_eq(ac_buf_append(&bundle, sc.new_out.data, sc.new_out.len), 0);
    char okey[256], oci[64], ckey[256], call[300];
    unsigned b = ac_store_bucket(CALL_CID);
    cust_key(okey, sizeof(okey), 'o', CALL_CID);
    snprintf(oci, sizeof(oci), "ac:{%u}:oc", b);
    snprintf(ckey, sizeof(ckey), "ac:{%u}:k:0123456789abcdef-1", b);
    int cl = snprintf(call, sizeof(call), "1700000000000%c%s", '\0', okey);
    freeReplyObject(h_redis(&env, "HSET %s 1 %b", okey, bundle.data, bundle.len));
    freeReplyObject(h_redis(&env, "SET %s %b", ckey, call, (size_t)cl));
    freeReplyObject(h_redis(&env, "SADD %s 0123456789abcdef-1", oci));
    freeReplyObject(h_redis(&env, "SET ac:gen test-generation"));
    ac_store_cust_fini(&sc);
    ac_buf_fini(&enc);
    ac_buf_fini(&bundle);

    sweep_delivers(&a, okey, oci, "the call's index entry");
    cr_expect_eq(redis_int("EXISTS %s", ckey), 0, "the call's key is gone");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *template_of(const struct h_reader *rd, const char *id, struct ac_action *a)
{
    for (size_t i = 0; i < rd->n; i++) {
        if (strcmp(rd->recs[i].id, id) == 0 &&
            ac_codec_decode_action(env.codec, rd->recs[i].value, rd->recs[i].len, a) == 0) {
            return a->template_name;
        }
    }
    return "";
}

Test(timers, sighup_refuses_a_bad_playbook_and_swaps_in_a_good_one)
{
    static const char good_v1[] = "version: 1\n"
                                  "rules:\n"
                                  "  - id: confirm\n"
                                  "    trigger: order_placed\n"
                                  "    category: transactional\n"
                                  "    channel: [email]\n"
                                  "    template: confirm_v1\n"
                                  "    timing: immediate\n";
    static const char bad[] = "version: 1\n"
                              "rules:\n"
                              "  - id: confirm\n"
                              "    trigger: order_placd\n"
                              "    template: confirm_v2\n";
    char pb[512], extra[700], conf[512];
    snprintf(pb, sizeof(pb), "%s/reload.yaml", env.dir);
    write_file(pb, good_v1);
    snprintf(extra, sizeof(extra), "playbook = %s\n", pb);
    h_write_config(&env, "orders", extra, conf, sizeof(conf));
    pid_t orders = h_spawn(&env, "orders", conf);

    int64_t now = ac_clock_now(ac_clock_wall());
    struct ac_event ev;
    h_order_event(&ev, "o-1", "c1", "order_placed", now, 1000, "coffee");
    h_produce_events(&env, "orders", &ev, 1);
    struct h_reader acts;
    h_reader_open(&env, &acts, "aftercare.actions");
    cr_assert_eq(h_reader_poll(&acts, 1, 30000), 1);

    write_file(pb, bad);
    kill(orders, SIGHUP);
    cr_assert(h_wait_log(&env, "orders", "playbook reload refused", 1, 10000), "no refusal logged");
    cr_expect(
        h_wait_log(&env, "orders", "reload.yaml:4:14: unknown event type 'order_placd'", 1, 1000),
        "the refusal names file:line:column");
    h_order_event(&ev, "o-2", "c1", "order_placed", now + 1, 1000, "coffee");
    h_produce_events(&env, "orders", &ev, 1);
    cr_assert_eq(h_reader_poll(&acts, 2, 30000), 2, "the old playbook must keep working");

    char good_v2[sizeof(good_v1)];
    snprintf(good_v2, sizeof(good_v2), "%s", good_v1);
    char *v = strstr(good_v2, "confirm_v1");
    v[9] = '2';
    write_file(pb, good_v2);
    kill(orders, SIGHUP);
    cr_assert(h_wait_log(&env, "orders", "playbook reloaded", 1, 10000), "no reload logged");
    h_order_event(&ev, "o-3", "c1", "order_placed", now + 2, 1000, "coffee");
    h_produce_events(&env, "orders", &ev, 1);
    cr_assert_eq(h_reader_poll(&acts, 3, 30000), 3);

    char id[AC_ACTION_ID_MAX];
    struct ac_action a;
    ac_action_id(id, "confirm", "o-2", 0);
    cr_expect_str_eq(template_of(&acts, id, &a), "confirm_v1", "refused: the old rules ran");
    ac_action_id(id, "confirm", "o-3", 0);
    cr_expect_str_eq(template_of(&acts, id, &a), "confirm_v2", "reloaded: the new rules ran");
    h_reader_close(&acts);
    cr_expect_eq(h_terminate(orders), 0);
}

/* n order events (ids <prefix>-<i>, customers <prefix>c-<i mod customers>)
 * whose rule "due" falls 20 s after now (after the processor has scheduled
 * them all) plus i * spread_ms / n, applied by aftercare-orders (*orders,
 * left running). extra gets the playbook line for the timer process's
 * config. Returns the action ids to expect (free_ids). */
static char **schedule_due(const char *prefix, int n, int customers, int64_t spread_ms, char *extra,
                           size_t extralen, pid_t *orders)
{
    int64_t now = ac_clock_now(ac_clock_wall());
    struct ac_event *evs = calloc((size_t)n, sizeof(*evs));
    char **want = calloc((size_t)n, sizeof(*want));
    cr_assert(evs && want);
    for (int i = 0; i < n; i++) {
        char id[32], cid[32];
        snprintf(id, sizeof(id), "%s-%d", prefix, i);
        snprintf(cid, sizeof(cid), "%sc-%d", prefix, i % customers);
        h_order_event(&evs[i], id, cid, "order_placed", now + i, 1000, "coffee");
        evs[i].u.order.renewal_at = now + 20000 + (int64_t)i * spread_ms / n;
        want[i] = malloc(AC_ACTION_ID_MAX);
        ac_action_id(want[i], "due", id, 0);
    }
    h_produce_events(&env, "orders", evs, (size_t)n);
    free(evs);
    char pb[1200], conf[512];
    playbook_path(pb, sizeof(pb), "timers_replicas.yaml");
    snprintf(extra, extralen, "playbook = %s\n", pb);
    h_write_config(&env, "orders", extra, conf, sizeof(conf));
    *orders = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 120000));
    return want;
}

static void free_ids(char **ids, int n)
{
    for (int i = 0; i < n; i++) {
        free(ids[i]);
    }
    free(ids);
}

/* Every id of want arrived on acts once, and nothing else (polled a little
 * longer first: a timer fired twice would arrive now). */
static void expect_each_once(char **want, int n, struct h_reader *acts, const char *how)
{
    (void)h_reader_poll(acts, (size_t)n + 1, 2000);
    struct h_id_diff d;
    h_id_diff(want, (size_t)n, h_reader_ids(acts), acts->n, &d);
    cr_expect_eq(d.missing, 0, "%zu timers never fired", d.missing);
    cr_expect_eq(d.extra, 0, "%zu actions nobody scheduled", d.extra);
    cr_expect_eq(d.repeats, 0, "%zu timers fired twice %s", d.repeats, how);
}

Test(timers, two_replicas_fire_every_timer_once)
{
    enum { N = 3000, CUSTOMERS = 300 };
    char extra[1400], tconf[512];
    pid_t orders;
    char **want = schedule_due("r", N, CUSTOMERS, 10000, extra, sizeof(extra), &orders);
    h_write_timers_config(&env, extra, tconf, sizeof(tconf));
    pid_t a = h_spawn(&env, "timers", tconf);
    pid_t b = h_spawn(&env, "timers", tconf);
    struct h_reader acts;
    h_reader_open(&env, &acts, "aftercare.actions");
    cr_assert_eq(h_reader_poll(&acts, N, 120000), N, "got %zu of %d actions", acts.n, N);
    expect_each_once(want, N, &acts, "by the two replicas");
    cr_expect_eq(h_terminate(a), 0);
    cr_expect_eq(h_terminate(b), 0);
    cr_expect_eq(h_terminate(orders), 0);
    /* Rounds overlap (one in flight while the next is built): whether a
     * replica went idle or was stopped, its last round was finished —
     * delivered and acknowledged, no call left for the sweep. */
    cr_expect_eq(calls_left(), 0, "rounds left unacknowledged in the outbox");
    h_reader_close(&acts);
    free_ids(want, N);
}

Test(timers, a_timer_whose_expiry_passed_while_nothing_ran_expires)
{
    int64_t now = ac_clock_now(ac_clock_wall());
    struct ac_event ev;
    h_order_event(&ev, "ret-1", "c5", "return_requested", now, 1000, "coffee");
    h_produce_events(&env, "orders", &ev, 1);
    char pb[1200], extra[1400], conf[512], tconf[512];
    playbook_path(pb, sizeof(pb), "timers_flow.yaml");
    snprintf(extra, sizeof(extra), "playbook = %s\n", pb);
    h_write_config(&env, "orders", extra, conf, sizeof(conf));
    pid_t orders = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    const char *tcid;
    tcid = "c5";
    cr_assert_eq(h_timer_count(&env, tcid), 1, "the reminder is pending");

    /* The timer process comes back long after: its explicit clock runs 1000x
     * from now, so the due time (+20 s) and the expiry (+80 s) are both long past. */
    snprintf(extra, sizeof(extra), "playbook = %s\nclock.speed = 1000\nclock.epoch_ms = %lld\n", pb,
             (long long)now);
    h_write_timers_config(&env, extra, tconf, sizeof(tconf));
    pid_t timers = h_spawn(&env, "timers", tconf);
    int64_t deadline = ac_clock_mono_ms() + 20000;
    while (h_timer_count(&env, tcid) != 0 && ac_clock_mono_ms() < deadline) {
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    cr_expect_eq(h_timer_count(&env, tcid), 0, "the expired timer was not decided");
    cr_expect(audit_has("c5", "late_ask", "expired"), "dropped with reason expired");
    cr_expect(!audit_has("c5", "late_ask", "emitted"));
    cr_expect_eq(h_terminate(timers), 0);
    cr_expect_eq(h_terminate(orders), 0);
    struct h_reader acts;
    h_reader_read_all(&env, &acts, "aftercare.actions");
    char id[AC_ACTION_ID_MAX];
    ac_action_id(id, "late_ask", "ret-1", 0);
    cr_expect(!reader_has(&acts, id), "an expired action was emitted");
    h_reader_close(&acts);
}

Test(timers, a_due_entry_without_its_timer_is_removed_and_does_not_stall_the_bucket)
{
    /* 40 due-index members whose timers are gone (a hand edit, a bug of an
     * older version), all in the bucket of customer c7 and due before its
     * real timer: more than one round's share of a bucket. */
    int64_t now = ac_clock_now(ac_clock_wall());
    unsigned b = ac_store_bucket("c7");
    freeReplyObject(h_redis(&env, "SET ac:gen test-generation"));
    for (int i = 0; i < 40; i++) {
        char id[AC_ACTION_ID_MAX], trig[32], member[AC_ACTION_ID_MAX + AC_ID_MAX];
        snprintf(trig, sizeof(trig), "gone-%d", i);
        ac_action_id(id, "nudge", trig, 0);
        ac_timer_member(member, sizeof(member), id, "c7");
        freeReplyObject(
            h_redis(&env, "ZADD ac:{%u}:due %lld %s", b, (long long)(now - 60000 + i), member));
    }
    /* c7's real timer, scheduled by the processor: a cart 1 s ago with the
     * flow playbook's 20 s reminder. */
    struct ac_event ev;
    h_order_event(&ev, "cart-7", "c7", "cart_abandoned", now - 1000, 1000, "coffee");
    h_produce_events(&env, "orders", &ev, 1);
    char pb[1200], extra[1400], conf[512], tconf[512];
    playbook_path(pb, sizeof(pb), "timers_flow.yaml");
    snprintf(extra, sizeof(extra), "playbook = %s\n", pb);
    h_write_config(&env, "orders", extra, conf, sizeof(conf));
    pid_t orders = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    freeReplyObject(h_redis(&env, "SET ac:gen test-generation"));
    h_write_timers_config(&env, extra, tconf, sizeof(tconf));
    pid_t timers = h_spawn(&env, "timers", tconf);
    struct h_reader acts;
    h_reader_open(&env, &acts, "aftercare.actions");
    char id[AC_ACTION_ID_MAX];
    ac_action_id(id, "nudge", "cart-7", 0);
    cr_assert_eq(h_reader_poll(&acts, 1, 60000), 1, "the real reminder never fired");
    cr_expect_str_eq(acts.recs[0].id, id);
    char key[64];
    snprintf(key, sizeof(key), "ac:{%u}:due", b);
    cr_expect_eq(redis_int("ZCARD %s", key), 0, "the stale entries are gone");
    h_reader_close(&acts);
    cr_expect_eq(h_terminate(timers), 0);
    cr_expect_eq(h_terminate(orders), 0);
}

Test(timers, rejected_events_left_in_an_outbox_reach_the_dlq_with_their_reason)
{
    /* A rejected event's record as this version writes it ('D', with its
     * topic) and as 0.1.0 wrote it ('d', without). */
    static const char d_new[] = "Dorders\0"
                                "3\0"
                                "41\0"
                                "missing_field:order_id\0"
                                "RAW1";
    static const char d_old[] = "d"
                                "2\0"
                                "40\0"
                                "absurd_value:total_cents\0"
                                "RAW2";
    char okey[256], skey[256], ikey[64];
    cust_key(okey, sizeof(okey), 'o', "c8");
    cust_key(skey, sizeof(skey), 'c', "c8");
    snprintf(ikey, sizeof(ikey), "ac:{%u}:ob", ac_store_bucket("c8"));
    freeReplyObject(h_redis(&env, "HSET %s dlq-new %b", okey, d_new, sizeof(d_new) - 1));
    freeReplyObject(h_redis(&env, "HSET %s dlq-old %b", okey, d_old, sizeof(d_old) - 1));
    freeReplyObject(h_redis(&env, "SADD %s %s", ikey, skey));
    freeReplyObject(h_redis(&env, "SET ac:gen test-generation"));
    char tconf[512];
    h_write_timers_config(&env, "timers.sweep_ms = 200\n", tconf, sizeof(tconf));
    pid_t timers = h_spawn(&env, "timers", tconf);
    struct h_reader dlq;
    h_reader_open(&env, &dlq, "aftercare.dlq");
    cr_assert_eq(h_reader_poll(&dlq, 2, 30000), 2, "got %zu DLQ records", dlq.n);
    int seen_new = 0, seen_old = 0;
    for (size_t i = 0; i < dlq.n; i++) {
        const struct h_rec *r = &dlq.recs[i];
        cr_expect_str_eq(r->key, "c8");
        if (strcmp(r->reason, "missing_field:order_id") == 0) {
            seen_new = 1;
            cr_expect_str_eq(r->source_topic, "orders");
            cr_expect_eq(r->source_offset, 41);
            cr_expect(r->len == 4 && memcmp(r->value, "RAW1", 4) == 0, "original bytes kept");
        } else if (strcmp(r->reason, "absurd_value:total_cents") == 0) {
            seen_old = 1;
            cr_expect_eq(r->source_offset, 40);
            cr_expect(r->len == 4 && memcmp(r->value, "RAW2", 4) == 0, "original bytes kept");
        }
    }
    cr_expect(seen_new && seen_old, "new %d old %d", seen_new, seen_old);
    h_reader_close(&dlq);
    cr_expect_eq(h_terminate(timers), 0);
}

/* Timers fire on event time: while the order that cancels a reminder sits
 * unprocessed in Kafka (its processor is down), the reminder's due time
 * passes and the timer process must wait; once the order is applied, the
 * reminder is cancelled and never sent. With timers.event_time = false the
 * wall clock alone decides and the reminder goes out (the bug this prevents). */
Test(timers, a_timer_waits_for_the_inputs_to_reach_its_time)
{
    int64_t now = ac_clock_now(ac_clock_wall());
    char pb[1200], extra[1400], conf[512], tconf[512];
    playbook_path(pb, sizeof(pb), "timers_flow.yaml");
    snprintf(extra, sizeof(extra), "playbook = %s\n", pb);
    h_write_config(&env, "orders", extra, conf, sizeof(conf));
    struct ac_event ev;
    h_order_event(&ev, "cart-20", "c20", "cart_abandoned", now - 1000, 1000, "coffee");
    h_produce_events(&env, "orders", &ev, 1);
    pid_t orders = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    cr_assert_eq(h_timer_count(&env, "c20"), 1, "the reminder is pending");
    cr_expect_eq(h_terminate(orders), 0);

    /* The cancelling order arrives while aftercare-orders is down. */
    h_order_event(&ev, "order-20", "c20", "order_placed", now + 1000, 1000, "coffee");
    h_produce_events(&env, "orders", &ev, 1);
    snprintf(extra, sizeof(extra),
             "playbook = %s\ntimers.event_time = true\ntimers.inputs = orders\n"
             "timers.max_hold_ms = 600000\n",
             pb);
    h_write_timers_config(&env, extra, tconf, sizeof(tconf));
    pid_t timers = h_spawn(&env, "timers", tconf);
    struct h_reader acts;
    h_reader_open(&env, &acts, "aftercare.actions");
    char nudge[AC_ACTION_ID_MAX];
    ac_action_id(nudge, "nudge", "cart-20", 0);
    /* The reminder was due at now + 19 s; wait until 3 s past that. */
    int64_t wait = now + 22000 - ac_clock_now(ac_clock_wall());
    h_reader_poll(&acts, 1, wait > 0 ? (int)wait : 1);
    cr_expect(!reader_has(&acts, nudge), "the reminder fired past an unprocessed input");
    cr_expect_eq(h_timer_count(&env, "c20"), 1, "and is still pending");

    /* aftercare-orders comes back: the order cancels the reminder. */
    orders = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    cr_expect_eq(h_timer_count(&env, "c20"), 0, "cancelled by the order");
    h_reader_poll(&acts, 2, 5000); /* the confirmation */
    cr_expect(!reader_has(&acts, nudge), "a cancelled reminder was sent");
    h_reader_close(&acts);
    cr_expect_eq(h_terminate(orders), 0);
    cr_expect_eq(h_terminate(timers), 0);
}

/* SIGTERM while rounds are being fired: the round in flight is finished
 * (delivered and acknowledged) before the process exits 0, so no call is
 * left for the sweep, and a restart fires the rest — every timer once. */
Test(timers, a_stop_finishes_the_round_in_flight_and_nothing_fires_twice)
{
    enum { N = 3000, CUSTOMERS = 3000 };
    char extra[1400], tconf[512];
    pid_t orders;
    /* all due at once */
    char **want = schedule_due("s", N, CUSTOMERS, 0, extra, sizeof(extra), &orders);
    cr_expect_eq(h_terminate(orders), 0);

    /* small rounds: the burst is many rounds, so the stop lands inside it */
    size_t len = strlen(extra);
    snprintf(extra + len, sizeof(extra) - len, "timers.batch = 20\n");
    h_write_timers_config(&env, extra, tconf, sizeof(tconf));
    pid_t timers = h_spawn(&env, "timers", tconf);
    cr_assert(h_wait_log(&env, "timers", "started", 1, 30000));
    struct h_reader acts;
    h_reader_open(&env, &acts, "aftercare.actions");
    cr_assert_geq(h_reader_poll(&acts, 100, 60000), 100, "the burst did not start");
    cr_expect_eq(h_terminate(timers), 0, "aftercare-timers exits 0 on SIGTERM mid-burst");
    size_t at_stop = acts.n;
    cr_expect_lt(at_stop, (size_t)N, "the stop came after the burst (%zu actions)", at_stop);
    cr_expect_eq(calls_left(), 0, "a round was left unacknowledged at the stop");

    timers = h_spawn(&env, "timers", tconf);
    cr_assert_eq(h_reader_poll(&acts, N, 120000), N, "got %zu of %d actions", acts.n, N);
    expect_each_once(want, N, &acts, "across the stop");
    cr_expect_eq(h_terminate(timers), 0);
    h_reader_close(&acts);
    free_ids(want, N);
}
