/* The Redis store against a real redis-server: the commit's atomic checks
 * (version conflict, already-applied watermark), several customers per
 * call, and the outbox life cycle. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "devstack.h"
#include "err.h"
#include "log.h"
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

/* Marks sc dirty with one new order at offset, one applied id and one record. */
static void stage(struct ac_store_cust *sc, int64_t offset, const char *record_id)
{
    struct ac_customer after = sc->state;
    after.order_count++;
    ac_buf_reset(&sc->fields);
    sc->n_fields = ac_customer_diff(&sc->state, &after, &sc->fields);
    char ev[64];
    snprintf(ev, sizeof(ev), "ev-%lld", (long long)offset);
    ac_buf_append(&sc->seen_add, "1", 2);
    ac_buf_append(&sc->seen_add, ev, strlen(ev) + 1);
    sc->n_seen_add = 1;
    cr_assert_eq(ac_store_cust_add_out(sc, record_id, 'a', "payload", 7), 0);
    sc->dirty = 1;
    sc->partition = 0;
    sc->offset = offset;
}

Test(store, conflict_and_already_applied_are_detected_atomically)
{
    struct ac_store_cust sc;
    ac_store_cust_init(&sc, "cust-1");
    cr_assert_eq(ac_store_load(st, AC_TOPIC_ORDERS, &sc, 1), 0);
    stage(&sc, 10, "rec-1");

    /* Another writer changes the customer between our load and commit. */
    char key[256];
    ac_store_state_key(st, "cust-1", key, sizeof(key));
    ac_store_reply_free(ac_store_command(st, "HINCRBY %s v 1", key));
    cr_assert_eq(ac_store_commit(st, AC_TOPIC_ORDERS, &sc, 1), 0);
    cr_expect_eq(sc.status, AC_ERR_CONFLICT);
    cr_expect_eq(sc.n_pending, 0);

    /* Reload and retry: applied, with the outbox record pending. */
    ac_store_cust_reset(&sc);
    cr_assert_eq(ac_store_load(st, AC_TOPIC_ORDERS, &sc, 1), 0);
    cr_expect_eq(sc.state.order_count, 0, "the conflicting commit wrote nothing");
    stage(&sc, 10, "rec-1");
    cr_assert_eq(ac_store_commit(st, AC_TOPIC_ORDERS, &sc, 1), 0);
    cr_expect_eq(sc.status, 0);
    cr_expect_eq(sc.n_pending, 1);

    /* The same offset again (a redelivery): nothing changes, the pending
     * record comes back to be produced again. */
    ac_store_cust_reset(&sc);
    cr_assert_eq(ac_store_load(st, AC_TOPIC_ORDERS, &sc, 1), 0);
    cr_expect_eq(sc.state.order_count, 1);
    cr_expect_eq(ac_store_cust_watermark(&sc, 0), 10);
    cr_expect_eq(sc.had_pending, 1);
    stage(&sc, 10, "rec-other");
    cr_assert_eq(ac_store_commit(st, AC_TOPIC_ORDERS, &sc, 1), 0);
    cr_expect_eq(sc.status, 1, "an applied offset is never applied twice");
    cr_expect_eq(sc.n_pending, 1);
    size_t cursor = 0;
    struct ac_outbox_rec rec;
    cr_assert(ac_store_pending_next(&sc, &cursor, &rec));
    cr_expect_str_eq(rec.id, "rec-1");

    /* Ack removes the record and records the position. */
    int32_t part = 0;
    int64_t next = 11, got = -1;
    cr_assert_eq(ac_store_ack(st, &sc, 1, "g", AC_TOPIC_ORDERS, &part, &next, 1), 0);
    cr_assert_eq(ac_store_positions(st, "g", AC_TOPIC_ORDERS, &part, &got, 1), 0);
    cr_expect_eq(got, 11);
    ac_store_cust_reset(&sc);
    cr_assert_eq(ac_store_load(st, AC_TOPIC_ORDERS, &sc, 1), 0);
    cr_expect_eq(sc.n_pending, 0);
    ac_store_cust_fini(&sc);
}

Test(store, many_customers_per_call_each_get_their_own_result)
{
    enum { N = 150 }; /* more than two calls' worth */
    static struct ac_store_cust cs[N];
    char cid[32], rid[32];
    for (int i = 0; i < N; i++) {
        snprintf(cid, sizeof(cid), "many-%d", i);
        ac_store_cust_init(&cs[i], cid);
    }
    cr_assert_eq(ac_store_load(st, AC_TOPIC_ORDERS, cs, N), 0);
    for (int i = 0; i < N; i++) {
        if (i % 3 != 1) { /* some customers have nothing to commit */
            snprintf(rid, sizeof(rid), "r-%d", i);
            stage(&cs[i], 100 + i, rid);
        }
    }
    /* One of them conflicts. */
    char key[256];
    ac_store_state_key(st, "many-90", key, sizeof(key));
    ac_store_reply_free(ac_store_command(st, "HINCRBY %s v 5", key));
    cr_assert_eq(ac_store_commit(st, AC_TOPIC_ORDERS, cs, N), 0);
    for (int i = 0; i < N; i++) {
        if (i % 3 == 1) {
            continue;
        }
        int want = i == 90 ? AC_ERR_CONFLICT : 0;
        cr_expect_eq(cs[i].status, want, "customer %d: status %d, want %d", i, cs[i].status,
                     want);
        cr_expect_eq(cs[i].n_pending, i == 90 ? 0 : 1, "customer %d", i);
    }
    for (int i = 0; i < N; i++) {
        ac_store_cust_reset(&cs[i]);
    }
    cr_assert_eq(ac_store_load(st, AC_TOPIC_ORDERS, cs, N), 0);
    for (int i = 0; i < N; i++) {
        int64_t want = (i % 3 == 1 || i == 90) ? 0 : 1;
        cr_expect_eq(cs[i].state.order_count, want, "customer %d", i);
        ac_store_cust_fini(&cs[i]);
    }
}
