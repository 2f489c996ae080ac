/* The Redis store against a real redis-server: one compact record per
 * customer, the commit's version check, several customers per call, the
 * due index, the outbox life cycle, the previous layout migrated, and error
 * replies classified. */
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "devstack.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "step.h"
#include "store.h"

static struct ac_dev_redis dr;
static struct ac_store *st;

static void setup(void)
{
    char err[256];
    ac_log_init("test");
    ac_log_set_level(AC_LOG_ERROR);
    cr_assert_eq(ac_dev_redis_start(&dr, NULL, err, sizeof(err)), 0, "%s", err);
    st = ac_store_new(dr.url, "t", err, sizeof(err));
    cr_assert_not_null(st, "%s", err);
    cr_assert_eq(ac_store_connect(st, err, sizeof(err)), 0, "%s", err);
    char gen[40];
    cr_assert_eq(ac_store_generation(st, 1, gen), 0);
    ac_store_expect_generation(st, gen);
}

static void teardown(void)
{
    ac_store_destroy(st);
    ac_dev_redis_stop(&dr, SIGTERM);
}

TestSuite(store, .init = setup, .fini = teardown, .timeout = 60);

static long long redis_int(const char *fmt, const char *arg)
{
    redisReply *r = ac_store_command(st, fmt, arg);
    cr_assert_not_null(r);
    long long v = r->type == REDIS_REPLY_INTEGER  ? r->integer
                  : r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10)
                                                  : -1;
    ac_store_reply_free(r);
    return v;
}

/* A second store on the same Redis: another writer, or one after a restart. */
static struct ac_store *another_writer(void)
{
    char err[256], gen[40];
    struct ac_store *s2 = ac_store_new(dr.url, "t", err, sizeof(err));
    cr_assert_not_null(s2, "%s", err);
    cr_assert_eq(ac_store_connect(s2, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(ac_store_generation(s2, 0, gen), 0);
    ac_store_expect_generation(s2, gen);
    return s2;
}

/* Marks sc dirty with one more order and one outbox record. */
static void stage(struct ac_store_cust *sc, const char *record_id)
{
    sc->rec.state.order_count++;
    cr_assert_eq(ac_store_cust_add_out(sc, record_id, 'a', "payload", 7), 0);
    sc->dirty = 1;
}

/* Another writer (its own connection) commits customer cid first: one more
 * order and the outbox record record_id. */
static void other_writer_commits(const char *cid, const char *record_id)
{
    struct ac_store *st2 = another_writer();
    struct ac_store_cust other;
    ac_store_cust_init(&other, cid);
    cr_assert_eq(ac_store_load(st2, &other, 1), 0);
    stage(&other, record_id);
    cr_assert_eq(ac_store_commit(st2, &other, 1), 0);
    cr_assert_eq(other.status, 0, "%s: the other writer's commit holds", cid);
    ac_store_cust_fini(&other);
    ac_store_destroy(st2);
}

static void timer_at(struct ac_store_cust *sc, const char *trigger, int64_t due)
{
    struct ac_timer t;
    memset(&t, 0, sizeof(t));
    snprintf(t.rule_id, sizeof(t.rule_id), "welcome");
    snprintf(t.trigger.id, sizeof(t.trigger.id), "%s", trigger);
    ac_action_id(t.id, t.rule_id, trigger, 0);
    t.due = t.first_due = due;
    t.expires_at = AC_TS_NONE;
    cr_assert_eq(ac_timerset_put(&sc->rec.timers, &t), 0);
}

Test(store, a_concurrent_writer_makes_the_commit_conflict_and_nothing_is_written)
{
    struct ac_store_cust a, b;
    ac_store_cust_init(&a, "cust-1");
    ac_store_cust_init(&b, "cust-1");
    cr_assert_eq(ac_store_load(st, &a, 1), 0);
    cr_assert_eq(ac_store_load(st, &b, 1), 0);
    cr_expect_eq(a.exists, 0, "a new customer");
    stage(&a, "rec-a");
    stage(&b, "rec-b");
    b.rec.state.order_count += 10;
    cr_assert_eq(ac_store_commit(st, &b, 1), 0);
    cr_expect_eq(b.status, 0);
    cr_expect_eq(b.n_pending, 1, "the committed record is pending");
    cr_assert_eq(ac_store_commit(st, &a, 1), 0);
    cr_expect_eq(a.status, AC_ERR_CONFLICT, "a loaded before b committed");
    cr_expect_eq(a.n_pending, 0);

    ac_store_cust_reset(&a);
    cr_assert_eq(ac_store_load(st, &a, 1), 0);
    cr_expect_eq(a.exists, 1);
    cr_expect_eq(a.rec.state.order_count, 11, "only b's change is there");
    char oci[64];
    snprintf(oci, sizeof(oci), "t:{%u}:oz", a.bucket);
    cr_expect_eq(redis_int("ZCARD %s", oci), 1, "b's record waits in its call");
    stage(&a, "rec-a");
    cr_assert_eq(ac_store_commit(st, &a, 1), 0);
    cr_expect_eq(a.status, 0);
    cr_expect_eq(a.rec.state.version, 2);
    ac_store_cust_fini(&a);
    ac_store_cust_fini(&b);
}

Test(store, many_customers_per_call_each_get_their_own_result)
{
    enum { N = 3 * AC_STORE_CUSTOMERS_PER_CALL + 5 };
    struct ac_store_cust *cs = calloc(N, sizeof(*cs));
    char cid[32];
    for (int i = 0; i < N; i++) {
        snprintf(cid, sizeof(cid), "m-%d", i);
        ac_store_cust_init(&cs[i], cid);
    }
    cr_assert_eq(ac_store_load(st, cs, N), 0);
    for (int i = 0; i < N; i++) {
        cs[i].rec.state.order_count = i;
        cs[i].dirty = i % 3 != 0; /* some are not committed at all */
    }
    char key[256];
    ac_store_state_key(st, "m-7", key, sizeof(key));
    /* another writer created it meanwhile */
    struct ac_record other;
    struct ac_buf enc;
    ac_record_init(&other, "m-7");
    ac_buf_init(&enc);
    other.state.version = 1;
    cr_assert_eq(ac_record_encode(&other, &enc), 0);
    ac_store_reply_free(ac_store_command(st, "SET %s %b", key, enc.data, enc.len));
    ac_buf_fini(&enc);
    ac_record_fini(&other);
    cr_assert_eq(ac_store_commit(st, cs, N), 0);
    for (int i = 0; i < N; i++) {
        if (cs[i].dirty) {
            cr_expect_eq(cs[i].status, i == 7 ? AC_ERR_CONFLICT : 0, "customer %d", i);
        }
        ac_store_cust_reset(&cs[i]);
    }
    ac_store_reply_free(ac_store_command(st, "DEL %s", key));
    cr_assert_eq(ac_store_load(st, cs, N), 0);
    for (int i = 0; i < N; i++) {
        int want = i % 3 != 0 && i != 7;
        cr_expect_eq(cs[i].exists, want, "customer %d", i);
        cr_expect_eq(cs[i].rec.state.order_count, want ? i : 0, "customer %d", i);
        ac_store_cust_fini(&cs[i]);
    }
    free(cs);
}

Test(store, the_due_index_holds_one_entry_per_customer_at_its_earliest_timer)
{
    struct ac_store_cust sc;
    char key[64];
    ac_store_cust_init(&sc, "due-1");
    snprintf(key, sizeof(key), "t:{%u}:due", sc.bucket);
    cr_assert_eq(ac_store_load(st, &sc, 1), 0);
    timer_at(&sc, "ev-1", 5000);
    timer_at(&sc, "ev-2", 3000);
    timer_at(&sc, "ev-3", 9000);
    sc.dirty = 1;
    cr_assert_eq(ac_store_commit(st, &sc, 1), 0);
    cr_expect_eq(redis_int("ZCARD %s", key), 1);
    cr_expect_eq(redis_int("ZSCORE %s due-1", key), 3000);

    ac_store_cust_reset(&sc);
    cr_assert_eq(ac_store_load(st, &sc, 1), 0);
    cr_assert_eq(sc.rec.timers.n, 3, "the timers are in the record");
    ac_timerset_remove(&sc.rec.timers, ac_timerset_next(&sc.rec.timers));
    sc.dirty = 1;
    cr_assert_eq(ac_store_commit(st, &sc, 1), 0);
    cr_expect_eq(redis_int("ZSCORE %s due-1", key), 5000, "moved to the next timer");

    ac_store_cust_reset(&sc);
    cr_assert_eq(ac_store_load(st, &sc, 1), 0);
    ac_timerset_clear(&sc.rec.timers);
    sc.dirty = 1;
    cr_assert_eq(ac_store_commit(st, &sc, 1), 0);
    cr_expect_eq(redis_int("ZCARD %s", key), 0, "no timers: no entry");
    ac_store_cust_fini(&sc);
}

static void count_due(const char *customer_id, int64_t due, void *opaque)
{
    (void)customer_id;
    (void)due;
    (*(int *)opaque)++;
}

Test(store, due_scans_find_customers_whose_earliest_timer_passed)
{
    struct ac_store_cust cs[3];
    const char *ids[] = {"s-1", "s-2", "s-3"};
    const int64_t dues[] = {1000, 2000, 3000};
    for (int i = 0; i < 3; i++) {
        ac_store_cust_init(&cs[i], ids[i]);
    }
    cr_assert_eq(ac_store_load(st, cs, 3), 0);
    for (int i = 0; i < 3; i++) {
        timer_at(&cs[i], "ev", dues[i]);
        cs[i].dirty = 1;
    }
    cr_assert_eq(ac_store_commit(st, cs, 3), 0);
    int n = 0;
    cr_expect_eq(ac_store_due(st, 2500, 0, 100, count_due, &n), 2);
    cr_expect_eq(n, 2);
    int64_t pending = 0, overdue = 0;
    cr_assert_eq(ac_store_timer_counts(st, 2500, &pending, &overdue), 0);
    cr_expect_eq(pending, 3);
    cr_expect_eq(overdue, 2);
    for (int i = 0; i < 3; i++) {
        ac_store_cust_fini(&cs[i]);
    }
}

Test(store, the_outbox_is_acknowledged_and_leaves_its_index)
{
    struct ac_store_cust sc;
    char oci[64], ckey[256];
    ac_store_cust_init(&sc, "ob-1");
    snprintf(oci, sizeof(oci), "t:{%u}:oz", sc.bucket);
    cr_assert_eq(ac_store_load(st, &sc, 1), 0);
    stage(&sc, "rec-1");
    cr_assert_eq(ac_store_cust_add_out(&sc, "sig-1", 's', "x", 1), 0);
    cr_assert_eq(ac_store_commit(st, &sc, 1), 0);
    cr_expect_eq(sc.n_pending, 2);
    cr_expect_eq(sc.n_pending_ids, 0, "no per-customer outbox field");
    /* The call registered itself in its bucket's call index, scored by
     * Redis's time (ms), with its records: what the sweep reads if this
     * writer dies. */
    cr_expect_eq(redis_int("ZCARD %s", oci), 1);
    redisReply *m = ac_store_command(st, "ZRANGE %s 0 -1 WITHSCORES", oci);
    cr_assert(m && m->type == REDIS_REPLY_ARRAY && m->elements == 2);
    snprintf(ckey, sizeof(ckey), "t:{%u}:k:%s", sc.bucket, m->element[0]->str);
    cr_expect_gt(strtoll(m->element[1]->str, NULL, 10), 1700000000000LL, "a time in ms: %s",
                 m->element[1]->str);
    ac_store_reply_free(m);
    /* the customer id, NUL, the records' length (4 bytes, big-endian), the records */
    redisReply *v = ac_store_command(st, "GET %s", ckey);
    cr_assert(v && v->type == REDIS_REPLY_STRING, "the call's key %s", ckey);
    cr_assert_gt(v->len, 9);
    cr_expect_str_eq(v->str, "ob-1");
    const unsigned char *q = (const unsigned char *)v->str + 5;
    size_t len = (size_t)q[0] << 24 | (size_t)q[1] << 16 | (size_t)q[2] << 8 | q[3];
    cr_expect_eq(len, sc.pending.len);
    cr_expect_eq(v->len, 5 + 4 + len, "one bundle, nothing else");
    cr_expect_eq(memcmp(q + 4, sc.pending.data, len), 0);
    ac_store_reply_free(v);

    /* A crash here: a writer that replays the customer's events finds both
     * records in the call, with their customer. */
    struct ac_store_cust again;
    ac_store_cust_init(&again, "ob-1");
    struct ac_store *st2 = another_writer();
    cr_assert_eq(ac_store_load(st2, &again, 1), 0);
    cr_expect_eq(ac_store_outbox_replayed(st2, &again, 1, 0), 0, "nothing replayed, nothing read");
    again.replayed = 1;
    cr_expect_eq(ac_store_outbox_replayed(st2, &again, 1, 0), 2);
    size_t cursor = 0;
    const char *cid = NULL;
    struct ac_outbox_rec rec;
    cr_assert(ac_store_swept_next(st2, &cursor, &cid, &rec));
    cr_expect_str_eq(cid, "ob-1");
    cr_expect_str_eq(rec.id, "rec-1");
    cr_expect_eq(rec.kind, 'a');
    cr_expect_eq(rec.len, 7);
    cr_expect_eq(memcmp(rec.payload, "payload", 7), 0);
    cr_assert(ac_store_swept_next(st2, &cursor, &cid, &rec));
    cr_expect_str_eq(rec.id, "sig-1");
    cr_expect_eq(rec.kind, 's');
    cr_expect_not(ac_store_swept_next(st2, &cursor, &cid, &rec));
    /* the writer's own calls of its running step are not taken */
    cr_expect_eq(ac_store_outbox_replayed(st, &again, 1, 0), 0);
    /* the sweep finds the call too, once it is old enough */
    cr_expect_eq(ac_store_outbox_customers(st2, 0, 64, 3600 * 1000, NULL, NULL), 0);
    cr_expect_eq(ac_store_outbox_customers(st2, 0, 64, 0, NULL, NULL), 1);
    cr_expect_eq(ac_store_swept_count(st2), 2);

    int32_t part = 0;
    int64_t off = 11;
    cr_assert_eq(ac_store_ack(st, &sc, 1, "g", AC_TOPIC_ORDERS, &part, &off, 1), 0);
    cr_expect_eq(redis_int("ZCARD %s", oci), 0, "the call's index entry is gone");
    cr_expect_eq(redis_int("EXISTS %s", ckey), 0, "and the call's key");
    int64_t pos = -1;
    cr_assert_eq(ac_store_positions(st, "g", AC_TOPIC_ORDERS, &part, &pos, 1), 0);
    cr_expect_eq(pos, 11);
    ac_store_destroy(st2);
    ac_store_cust_fini(&sc);
    ac_store_cust_fini(&again);
}

/* The key of the call customer sc's last commit wrote (its bucket's call
 * index holds no other call of that customer than `not`). */
static void call_key_of(const struct ac_store_cust *sc, const char * not, char *key, size_t len)
{
    char oci[64];
    snprintf(oci, sizeof(oci), "t:{%u}:oz", sc->bucket);
    redisReply *m = ac_store_command(st, "ZRANGE %s 0 -1", oci);
    cr_assert(m && m->type == REDIS_REPLY_ARRAY && m->elements > 0);
    key[0] = '\0';
    for (size_t i = 0; i < m->elements; i++) {
        snprintf(key, len, "t:{%u}:k:%s", sc->bucket, m->element[i]->str);
        if (!not || strcmp(key, not ) != 0) {
            break;
        }
    }
    ac_store_reply_free(m);
}

/* Two batches in flight, each of which replayed events (a restart after a
 * crash): each keeps the calls its replay found (ac_store_swept_calls_swap)
 * and drops only those when it is done — the second replay does not take
 * the first one's list, nor the first acknowledgement the second's calls. */
Test(store, each_batch_drops_only_the_calls_its_own_replay_found)
{
    struct ac_store_cust a, b;
    char key_a[256], key_b[256];
    ac_store_cust_init(&a, "rp-a");
    ac_store_cust_init(&b, "rp-b");
    cr_assert_eq(ac_store_load(st, &a, 1), 0);
    stage(&a, "rec-a");
    cr_assert_eq(ac_store_commit(st, &a, 1), 0);
    call_key_of(&a, NULL, key_a, sizeof(key_a));
    cr_assert_eq(ac_store_load(st, &b, 1), 0);
    stage(&b, "rec-b");
    cr_assert_eq(ac_store_commit(st, &b, 1), 0);
    call_key_of(&b, key_a, key_b, sizeof(key_b));
    cr_assert_str_neq(key_a, key_b);

    /* the writer died; the next one replays a's events, then b's */
    struct ac_store *st2 = another_writer();
    struct ac_store_calls first, second;
    ac_buf_init(&first.list);
    ac_buf_init(&second.list);
    first.n = second.n = 0;
    struct ac_store_cust ra, rb;
    ac_store_cust_init(&ra, "rp-a");
    ac_store_cust_init(&rb, "rp-b");
    cr_assert_eq(ac_store_load(st2, &ra, 1), 0);
    ra.replayed = 1;
    cr_expect_eq(ac_store_outbox_replayed(st2, &ra, 1, 0), 1);
    ac_store_swept_calls_swap(st2, &first);
    cr_expect_eq(first.n, 1, "the first batch holds its call");
    cr_assert_eq(ac_store_load(st2, &rb, 1), 0);
    rb.replayed = 1;
    cr_expect_eq(ac_store_outbox_replayed(st2, &rb, 1, 0), 1);
    ac_store_swept_calls_swap(st2, &second);
    cr_expect_eq(second.n, 1, "the second batch holds its own");
    cr_expect_eq(first.n, 1, "the second replay left the first list alone");

    /* the first batch is done: its call goes, the second's stays */
    ac_store_swept_calls_swap(st2, &first);
    cr_assert_eq(ac_store_outbox_done(st2, NULL, 0), 0);
    cr_expect_eq(redis_int("EXISTS %s", key_a), 0, "the first batch's call is dropped");
    cr_expect_eq(redis_int("EXISTS %s", key_b), 1, "the second batch's call waits for it");
    ac_store_swept_calls_swap(st2, &second);
    cr_assert_eq(ac_store_outbox_done(st2, NULL, 0), 0);
    cr_expect_eq(redis_int("EXISTS %s", key_b), 0);

    ac_buf_fini(&first.list);
    ac_buf_fini(&second.list);
    ac_store_destroy(st2);
    ac_store_cust_fini(&a);
    ac_store_cust_fini(&b);
    ac_store_cust_fini(&ra);
    ac_store_cust_fini(&rb);
}

/* A call whose customers partly conflict keeps only the bundles of those
 * whose commit held; one whose customers all conflict leaves nothing. */
Test(store, a_conflicting_customer_s_bundle_is_struck_from_its_call)
{
    struct ac_store_cust cs[2], other;
    char oz[2][64];
    ac_store_cust_init(&cs[0], "sx-1");
    ac_store_cust_init(&cs[1], "sx-2");
    ac_store_cust_init(&other, "sx-2");
    snprintf(oz[0], sizeof(oz[0]), "t:{%u}:oz", cs[0].bucket);
    snprintf(oz[1], sizeof(oz[1]), "t:{%u}:oz", cs[1].bucket);
    cr_assert_eq(ac_store_load(st, cs, 2), 0);
    cr_assert_eq(ac_store_load(st, &other, 1), 0);
    stage(&other, "other-rec");
    cr_assert_eq(ac_store_commit(st, &other, 1), 0);
    cr_assert_eq(other.status, 0);
    cr_assert_eq(ac_store_ack(st, &other, 1, "g", AC_TOPIC_ORDERS, NULL, NULL, 0), 0);
    cr_assert_eq(redis_int("ZCARD %s", oz[1]), 0);
    stage(&cs[0], "keep-rec");
    stage(&cs[1], "struck-rec");
    cr_assert_eq(ac_store_commit(st, cs, 2), 0);
    cr_expect_eq(cs[0].status, 0);
    cr_expect_eq(cs[1].status, AC_ERR_CONFLICT);
    /* what a sweep finds if this writer dies now */
    struct ac_store *st2 = another_writer();
    cr_expect_eq(ac_store_outbox_customers(st2, 0, 64, 0, NULL, NULL), 1, "one bundle left");
    size_t cursor = 0;
    const char *cid = NULL;
    struct ac_outbox_rec rec;
    cr_assert(ac_store_swept_next(st2, &cursor, &cid, &rec));
    cr_expect_str_eq(cid, "sx-1");
    cr_expect_str_eq(rec.id, "keep-rec");
    cr_expect_not(ac_store_swept_next(st2, &cursor, &cid, &rec), "the struck bundle is skipped");

    /* the conflicting customer alone: its call holds nothing and is gone */
    ac_store_cust_reset(&cs[1]);
    struct ac_store_cust late;
    ac_store_cust_init(&late, "sx-2");
    late.loaded_version = 0; /* loaded before "other" committed */
    stage(&late, "late-rec");
    long long before = redis_int("DBSIZE", NULL);
    cr_assert_eq(ac_store_commit(st, &late, 1), 0);
    cr_expect_eq(late.status, AC_ERR_CONFLICT);
    cr_expect_eq(redis_int("DBSIZE", NULL), before, "no call key left behind");
    ac_store_destroy(st2);
    ac_store_cust_fini(&late);
    ac_store_cust_fini(&other);
    ac_store_cust_fini(&cs[0]);
    ac_store_cust_fini(&cs[1]);
}

Test(store, an_outbox_of_the_previous_version_goes_out_on_a_replay_and_is_acknowledged)
{
    struct ac_store_cust sc;
    char okey[256];
    ac_store_cust_init(&sc, "ob-2");
    snprintf(okey, sizeof(okey), "t:{%u}:o:ob-2", sc.bucket);
    /* a bundle as the previous version wrote it: 'B', then records */
    struct ac_buf b;
    ac_buf_init(&b);
    cr_assert_eq(ac_buf_append(&b, "B", 1), 0);
    struct ac_store_cust tmp;
    ac_store_cust_init(&tmp, "ob-2");
    cr_assert_eq(ac_store_cust_add_out(&tmp, "old-rec", 'a', "abc", 3), 0);
    cr_assert_eq(ac_buf_append(&b, tmp.new_out.data, tmp.new_out.len), 0);
    redisReply *r = ac_store_command(st, "HSET %s 3 %b", okey, b.data, b.len);
    ac_store_reply_free(r);
    cr_expect_eq(redis_int("HLEN %s", okey), 1);

    cr_assert_eq(ac_store_load(st, &sc, 1), 0);
    sc.replayed = 1;
    cr_expect_eq(ac_store_outbox_replayed(st, &sc, 1, 0), 1);
    size_t cursor = 0;
    const char *cid = NULL;
    struct ac_outbox_rec rec;
    cr_assert(ac_store_swept_next(st, &cursor, &cid, &rec));
    cr_expect_str_eq(cid, "ob-2");
    cr_expect_str_eq(rec.id, "old-rec");
    cr_expect_eq(sc.n_pending_ids, 1, "its field is acknowledged with the batch");
    cr_assert_eq(ac_store_ack(st, &sc, 1, "g", AC_TOPIC_ORDERS, NULL, NULL, 0), 0);
    cr_expect_eq(redis_int("EXISTS %s", okey), 0, "the outbox is gone");

    /* the sweep reads such an outbox with ac_store_load_outbox */
    r = ac_store_command(st, "HSET %s 4 %b", okey, b.data, b.len);
    ac_store_reply_free(r);
    struct ac_store_cust sw;
    ac_store_cust_init(&sw, "ob-2");
    cr_assert_eq(ac_store_load(st, &sw, 1), 0);
    cr_expect_eq(sw.n_found, 0, "the hot path reads no outbox");
    cr_assert_eq(ac_store_load_outbox(st, &sw, 1), 0);
    cr_expect_eq(sw.n_found, 1);
    ac_buf_fini(&b);
    ac_store_cust_fini(&tmp);
    ac_store_cust_fini(&sw);
    ac_store_cust_fini(&sc);
}

Test(store, a_customer_of_the_previous_layout_is_read_and_rewritten)
{
    const char *cid = "old-1";
    unsigned b = ac_store_bucket(cid);
    char k[256];
    struct ac_timer t;
    struct ac_buf json;
    /* The previous layout: a state hash, a timers hash with JSON, an
     * applied-id zset, an audit list and one due-index member per timer. */
    snprintf(k, sizeof(k), "t:{%u}:c:%s", b, cid);
    ac_store_reply_free(ac_store_command(st,
                                         "HSET %s v 4 o.count 2 o.rev 4200 seg one_time "
                                         "w:orders:3 17",
                                         k));
    memset(&t, 0, sizeof(t));
    snprintf(t.rule_id, sizeof(t.rule_id), "welcome_2");
    snprintf(t.trigger.id, sizeof(t.trigger.id), "ev-old");
    ac_action_id(t.id, t.rule_id, t.trigger.id, 0);
    t.due = t.first_due = 7000;
    t.expires_at = AC_TS_NONE;
    ac_buf_init(&json);
    cr_assert_eq(ac_timer_to_json(&t, &json), 0);
    snprintf(k, sizeof(k), "t:{%u}:t:%s", b, cid);
    ac_store_reply_free(ac_store_command(st, "HSET %s %s %b", k, t.id, json.data, json.len));
    snprintf(k, sizeof(k), "t:{%u}:e:%s", b, cid);
    ac_store_reply_free(ac_store_command(st, "ZADD %s 100 ev-old", k));
    snprintf(k, sizeof(k), "t:{%u}:a:%s", b, cid);
    ac_store_reply_free(ac_store_command(st, "LPUSH %s {}", k));
    ac_buf_fini(&json);

    struct ac_store_cust sc;
    ac_store_cust_init(&sc, cid);
    cr_assert_eq(ac_store_load(st, &sc, 1), 0);
    cr_expect_eq(sc.legacy, 1);
    cr_expect_eq(sc.rec.state.order_count, 2);
    cr_expect_eq(sc.rec.state.revenue_cents, 4200);
    cr_expect_str_eq(sc.rec.state.segment, "one_time");
    cr_expect_eq(sc.rec.state.version, 4);
    cr_expect_eq(ac_record_watermark(&sc.rec, AC_TOPIC_ORDERS, 3), 17);
    cr_expect(ac_record_seen_has(&sc.rec, "ev-old"), "applied ids come along");
    cr_assert_eq(sc.rec.timers.n, 1);
    cr_expect_str_eq(sc.rec.timers.t[0].id, t.id);
    sc.dirty = 1;
    cr_assert_eq(ac_store_commit(st, &sc, 1), 0);
    cr_expect_eq(sc.status, 0);

    snprintf(k, sizeof(k), "t:{%u}:c:%s", b, cid);
    redisReply *r = ac_store_command(st, "TYPE %s", k);
    cr_expect_str_eq(r->str, "string", "rewritten as one record");
    ac_store_reply_free(r);
    snprintf(k, sizeof(k), "t:{%u}:t:%s", b, cid);
    cr_expect_eq(redis_int("EXISTS %s", k), 0, "the old timers hash is gone");
    snprintf(k, sizeof(k), "t:{%u}:a:%s", b, cid);
    cr_expect_eq(redis_int("EXISTS %s", k), 0, "the old audit list is gone");
    snprintf(k, sizeof(k), "t:{%u}:due", b);
    cr_expect_eq(redis_int("ZSCORE %s old-1", k), 7000, "the due index has the customer");

    struct ac_store_cust back;
    ac_store_cust_init(&back, cid);
    cr_assert_eq(ac_store_load(st, &back, 1), 0);
    cr_expect_eq(back.legacy, 0);
    cr_expect_eq(back.rec.state.order_count, 2);
    cr_expect_eq(back.rec.state.version, 5);
    cr_expect_eq(back.rec.timers.n, 1);
    ac_store_cust_fini(&sc);
    ac_store_cust_fini(&back);
}

Test(store, an_error_reply_is_fatal_not_a_lost_connection)
{
    struct ac_store_cust sc;
    char k[256];
    ac_store_cust_init(&sc, "wt-1");
    snprintf(k, sizeof(k), "t:{%u}:o:wt-1", sc.bucket);
    ac_store_reply_free(ac_store_command(st, "SET %s not-a-hash", k));
    cr_expect_eq(ac_store_load_outbox(st, &sc, 1), AC_ERR_FATAL, "WRONGTYPE is a bug, not a blip");
    ac_store_cust_fini(&sc);
}

Test(store, a_wrong_password_fails_without_showing_it)
{
    char err[512];
    char url[256];
    ac_store_reply_free(ac_store_command(st, "ACL SETUSER bob on >right-pw ~* &* +@all"));
    snprintf(url, sizeof(url), "redis://bob:s3cret-pw@127.0.0.1:%d", dr.port);
    struct ac_store *bad = ac_store_new(url, "t", err, sizeof(err));
    cr_assert_not_null(bad, "%s", err);
    cr_expect_eq(ac_store_connect(bad, err, sizeof(err)), AC_ERR_FATAL, "not retried forever");
    cr_expect_null(strstr(err, "s3cret-pw"), "the password is not shown: %s", err);
    ac_store_destroy(bad);
    snprintf(url, sizeof(url), "redis://bob:s3cret-pw@127.0.0.1:%d/x", dr.port);
    cr_expect_null(ac_store_new(url, "t", err, sizeof(err)));
    cr_expect_null(strstr(err, "s3cret-pw"), "not in a URL error either: %s", err);
}

/* The halves the step pipelines: two loads in flight, a commit sent before
 * the next load's replies are read, replies read in the order sent; a
 * writer between one part's load and its commit makes that customer (and
 * only it) conflict; a record of the previous layout is left unread when
 * the caller cannot run its extra commands. */
Test(store, pipelined_halves_keep_their_order_and_their_checks)
{
    enum { N = 6 };
    struct ac_store_cust c[N];
    struct ac_store_ticket t = {0};
    char id[16], k[256];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "pipe-%d", i);
        ac_store_cust_init(&c[i], id);
    }
    /* pipe-5 has a record of the previous layout */
    snprintf(k, sizeof(k), "t:{%u}:c:pipe-5", c[5].bucket);
    ac_store_reply_free(ac_store_command(st, "HSET %s v 4 o.count 2", k));

    cr_assert_eq(ac_store_load_send(st, c, 3), 0);
    cr_assert_eq(ac_store_load_send(st, c + 3, 3), 0);
    cr_assert_eq(ac_store_flush(st), 0);
    cr_assert_eq(ac_store_load_recv(st, c, 3, 0), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof(id), "r-%d", i);
        stage(&c[i], id);
    }
    /* another writer (its own connection) commits pipe-1 first */
    other_writer_commits("pipe-1", "other");

    cr_assert_eq(ac_store_commit_send(st, c, 3, &t), 0);
    cr_assert_eq(ac_store_flush(st), 0);
    cr_assert_eq(ac_store_load_recv(st, c + 3, 3, 0), 0, "the second load's replies come first");
    cr_expect_eq(c[5].legacy, 1, "left unread");
    cr_expect_eq(c[5].rec.state.order_count, 0);
    cr_expect_eq(c[3].legacy, 0);
    cr_assert_eq(ac_store_commit_recv(st, c, 3, &t), 0);
    cr_expect_eq(c[0].status, 0);
    cr_expect_eq(c[1].status, AC_ERR_CONFLICT, "its version moved since the load");
    cr_expect_eq(c[2].status, 0);
    cr_expect_eq(c[0].n_pending, 1, "the applied one's records are pending");
    cr_expect_eq(c[1].n_pending, 0);

    struct ac_store_cust back;
    ac_store_cust_init(&back, "pipe-1");
    cr_assert_eq(ac_store_load(st, &back, 1), 0);
    cr_expect_eq(back.rec.state.order_count, 1, "the other writer's commit stands alone");
    ac_store_cust_fini(&back);
    ac_store_cust_init(&back, "pipe-5");
    cr_assert_eq(ac_store_load(st, &back, 1), 0);
    cr_expect_eq(back.legacy, 1);
    cr_expect_eq(back.rec.state.order_count, 2, "read when loaded on its own");
    ac_store_cust_fini(&back);
    ac_store_ticket_fini(&t);
    for (int i = 0; i < N; i++) {
        ac_store_cust_fini(&c[i]);
    }
}

/* Commits one customer of a new id through the function's path (MULTI,
 * bundles, FCALL, EXEC) and returns its status. */
static int commit_one(const char *id)
{
    struct ac_store_cust c;
    ac_store_cust_init(&c, id);
    cr_assert_eq(ac_store_load(st, &c, 1), 0);
    stage(&c, "plain");
    cr_assert_eq(ac_store_commit(st, &c, 1), 0, "no watch of an earlier part is left behind");
    int status = c.status;
    ac_store_cust_fini(&c);
    return status;
}

/* The optimistic commit (store.h): a record written by anyone between a
 * watched load and its commit makes the whole commit conflict with nothing
 * written; parts on the two lanes keep their watches apart (one lane's EXEC
 * does not end the other's); a part with nothing to commit ends its watch. */
Test(store, an_optimistic_commit_conflicts_whole_and_lanes_keep_their_watches)
{
    enum { N = 3 };
    struct ac_store_cust p0[N], p1[N];
    struct ac_store_ticket t0 = {0}, t1 = {0};
    char id[16], key[128];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "opt-a%d", i);
        ac_store_cust_init(&p0[i], id);
        snprintf(id, sizeof(id), "opt-b%d", i);
        ac_store_cust_init(&p1[i], id);
    }
    ac_store_lane(st, 0);
    cr_assert_eq(ac_store_load_send_watch(st, p0, N), 0);
    cr_assert_eq(ac_store_flush(st), 0);
    ac_store_lane(st, 1);
    cr_assert_eq(ac_store_load_send_watch(st, p1, N), 0);
    cr_assert_eq(ac_store_flush(st), 0);
    ac_store_lane(st, 0);
    cr_assert_eq(ac_store_load_recv(st, p0, N, 0), 0);
    for (int i = 0; i < N; i++) {
        stage(&p0[i], "a");
        timer_at(&p0[i], "t-a", 5000 + i);
    }
    /* part 0 commits untouched: applied, records, bundles and due entries */
    cr_assert_eq(ac_store_commit_send(st, p0, N, &t0), 0);
    cr_assert_eq(ac_store_flush(st), 0);
    cr_assert_eq(ac_store_commit_recv(st, p0, N, &t0), 0);
    for (int i = 0; i < N; i++) {
        cr_expect_eq(p0[i].status, 0);
        cr_expect_eq(p0[i].n_pending, 1);
        cr_expect_neq(p0[i].call_seq, 0, "its bundle is in a call");
        snprintf(key, sizeof(key), "t:{%u}:due", p0[i].bucket);
        redisReply *r = ac_store_command(st, "ZSCORE %s %s", key, p0[i].customer_id);
        cr_assert_not_null(r);
        cr_expect_eq(r->type, REDIS_REPLY_STRING, "opt-a%d has its due entry", i);
        cr_expect_eq(r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0, 5000 + i);
        ac_store_reply_free(r);
        snprintf(key, sizeof(key), "t:{%u}:c:opt-a%d", p0[i].bucket, i);
        cr_expect_eq(redis_int("EXISTS %s", key), 1, "opt-a%d's record is written", i);
    }
    /* the call is indexed at Redis's time, and acknowledged like any other */
    char oz[64];
    snprintf(oz, sizeof(oz), "t:{%u}:oz", p0[0].bucket);
    redisReply *tr = ac_store_command(st, "TIME");
    cr_assert(tr && tr->type == REDIS_REPLY_ARRAY && tr->elements == 2);
    long long redis_ms = strtoll(tr->element[0]->str, NULL, 10) * 1000;
    ac_store_reply_free(tr);
    redisReply *zr = ac_store_command(st, "ZRANGE %s 0 -1 WITHSCORES", oz);
    cr_assert(zr && zr->type == REDIS_REPLY_ARRAY && zr->elements >= 2);
    long long score = strtoll(zr->element[1]->str, NULL, 10);
    ac_store_reply_free(zr);
    cr_expect(score > redis_ms - 10000 && score <= redis_ms + 1000, "scored %lld, Redis at %lld",
              score, redis_ms);
    cr_assert_eq(ac_store_ack(st, p0, N, "g", AC_TOPIC_ORDERS, NULL, NULL, 0), 0);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "t:{%u}:oz", p0[i].bucket);
        cr_expect_eq(redis_int("ZCARD %s", key), 0, "opt-a%d's call left its index", i);
    }

    /* after lane 0's EXEC, another writer changes one customer of part 1 */
    other_writer_commits("opt-b1", "other");

    ac_store_lane(st, 1);
    cr_assert_eq(ac_store_load_recv(st, p1, N, 0), 0);
    for (int i = 0; i < N; i++) {
        stage(&p1[i], "b");
    }
    cr_assert_eq(ac_store_commit_send(st, p1, N, &t1), 0);
    cr_assert_eq(ac_store_flush(st), 0);
    cr_assert_eq(ac_store_commit_recv(st, p1, N, &t1), 0);
    for (int i = 0; i < N; i++) {
        cr_expect_eq(p1[i].status, AC_ERR_CONFLICT, "opt-b%d: the whole commit conflicts", i);
        cr_expect_eq(p1[i].n_pending, 0);
    }
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "t:{%u}:c:opt-b%d", p1[i].bucket, i);
        cr_expect_eq(redis_int("EXISTS %s", key), i == 1 ? 1 : 0,
                     "opt-b%d: only the other writer's record is there", i);
    }

    /* a watched part with nothing dirty ends its watch: the other writer
     * changes it, and the lane's next transaction still runs */
    ac_store_cust_reset(&p0[0]);
    ac_store_lane(st, 0);
    cr_assert_eq(ac_store_load_send_watch(st, p0, 1), 0);
    cr_assert_eq(ac_store_flush(st), 0);
    cr_assert_eq(ac_store_load_recv(st, p0, 1, 0), 0);
    cr_assert_eq(ac_store_commit_send(st, p0, 1, &t0), 0);
    cr_expect_eq(t0.watched, 2, "UNWATCH");
    cr_assert_eq(ac_store_flush(st), 0);
    cr_assert_eq(ac_store_commit_recv(st, p0, 1, &t0), 0);
    other_writer_commits("opt-a0", "other-a0");
    cr_expect_eq(commit_one("opt-plain"), 0);

    ac_store_ticket_fini(&t0);
    ac_store_ticket_fini(&t1);
    for (int i = 0; i < N; i++) {
        ac_store_cust_fini(&p0[i]);
        ac_store_cust_fini(&p1[i]);
    }
}

/* --- the step over three parts ------------------------------------------------------------- */

struct step_probe {
    int *committed; /* per customer: how often its commit held */
    struct ac_store_cust *custs;
    int n;
    int injected;
};

static int count_order(void *ctx, struct ac_customer *c, const struct ac_event *ev,
                       const struct ac_clock *clock, struct ac_emit *out, char *reason, size_t rlen)
{
    (void)ctx, (void)ev, (void)clock, (void)out, (void)reason, (void)rlen;
    c->order_count++;
    return 0;
}

/* At part 0's first held commit, part 2 is loaded (watched) but not yet
 * committed: another writer changes one of its customers now. */
static int step_probe_committed(void *opaque, struct ac_store_cust *sc)
{
    struct step_probe *p = opaque;
    int i = (int)(sc - p->custs);
    cr_assert(i >= 0 && i < p->n);
    p->committed[i]++;
    if (!p->injected) {
        p->injected = 1;
        struct ac_store *st2 = another_writer();
        struct ac_store_cust other;
        ac_store_cust_init(&other, p->custs[2 * AC_STEP_PART + 5].customer_id);
        cr_assert_eq(ac_store_load(st2, &other, 1), 0);
        other.rec.state.order_count += 10;
        other.dirty = 1;
        cr_assert_eq(ac_store_commit(st2, &other, 1), 0);
        cr_assert_eq(other.status, 0);
        ac_store_cust_fini(&other);
        ac_store_destroy(st2);
    }
    return 0;
}

/* The step's first try is optimistic per part; a part whose watch a writer
 * broke is retried whole through the function, once, and every customer's
 * event is applied exactly once; the conflicts are counted. */
Test(store, a_part_whose_watch_broke_is_retried_and_applied_once)
{
    enum { N = 3 * AC_STEP_PART };
    struct ac_store_cust *c = calloc(N, sizeof(*c));
    struct ac_event *ev = calloc(N, sizeof(*ev));
    struct ac_apply_in *in = calloc(N, sizeof(*in));
    struct ac_step_in *ins = calloc(N, sizeof(*ins));
    struct step_probe p = {.committed = calloc(N, sizeof(int)), .custs = c, .n = N};
    cr_assert(c && ev && in && ins && p.committed);
    int64_t now = ac_clock_now(ac_clock_wall());
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof(id), "step-%d", i);
        ac_store_cust_init(&c[i], id);
        ev[i].topic = AC_TOPIC_ORDERS;
        snprintf(ev[i].event_id, sizeof(ev[i].event_id), "ev-%d", i);
        snprintf(ev[i].customer_id, sizeof(ev[i].customer_id), "%s", id);
        snprintf(ev[i].type, sizeof(ev[i].type), "order_placed");
        ev[i].occurred_at = now;
        in[i] = (struct ac_apply_in){&ev[i], 0, i, (size_t)i};
        ins[i] = (struct ac_step_in){&in[i], 1, 0, 0};
    }
    const struct ac_step_opts o = {
        .st = st,
        .topic = AC_TOPIC_ORDERS,
        .transition = count_order,
        .committed = step_probe_committed,
        .opaque = &p,
    };
    struct ac_step *s = ac_step_new(&o);
    cr_assert_not_null(s);
    double before = ac_metrics_get("aftercare_commit_conflicts_total", "");
    struct ac_clock clock;
    ac_clock_init_fixed(&clock, now);
    struct ac_apply_stats stats = {0};
    cr_assert_eq(ac_step_run(s, c, ins, N, &clock, &stats), 0);
    cr_expect(p.injected);
    cr_expect_eq(stats.applied, N, "applied %lld", (long long)stats.applied);
    cr_expect_eq(ac_metrics_get("aftercare_commit_conflicts_total", "") - before,
                 (double)AC_STEP_PART, "the broken part's customers are counted");
    for (int i = 0; i < N; i++) {
        cr_expect_eq(p.committed[i], 1, "step-%d: its commit held %d times", i, p.committed[i]);
        struct ac_store_cust back;
        ac_store_cust_init(&back, c[i].customer_id);
        cr_assert_eq(ac_store_load(st, &back, 1), 0);
        cr_expect_eq(back.rec.state.order_count, i == 2 * AC_STEP_PART + 5 ? 11 : 1,
                     "step-%d: applied once (on top of the other writer's change)", i);
        ac_store_cust_fini(&back);
    }
    ac_step_destroy(s);
    for (int i = 0; i < N; i++) {
        ac_store_cust_fini(&c[i]);
    }
    free(c);
    free(ev);
    free(in);
    free(ins);
    free(p.committed);
}
