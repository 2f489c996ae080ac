/* Orders end to end: mock cluster + real redis-server + aftercare-orders. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "harness.h"
#include "processor.h"
#include "store.h"

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */
#define DAY 86400000LL

static struct h_env env;

static void setup(void)
{
    h_start(&env, 4);
}

static void teardown(void)
{
    h_stop(&env);
}

TestSuite(orders_flow, .init = setup, .fini = teardown, .timeout = 180);

/* A state field of the customer whose record key is `key` (ac:{b}:c:<cid>). */
static long long h_hget_ll(const char *key, const char *field)
{
    return h_state_ll(&env, strstr(key, "}:c:") + 4, field);
}

static void h_hget_str(const char *key, const char *field, char *out, size_t len)
{
    h_state_str(&env, strstr(key, "}:c:") + 4, field, out, len);
}

static int has_action(struct h_reader *rd, const char *rule, const char *trigger, int part)
{
    char id[AC_ACTION_ID_MAX];
    ac_action_id(id, rule, trigger, part);
    for (size_t i = 0; i < rd->n; i++) {
        if (strcmp(rd->recs[i].id, id) == 0) {
            return 1;
        }
    }
    return 0;
}

Test(orders_flow, state_actions_and_segment_signal)
{
    struct ac_event evs[4];
    h_order_event(&evs[0], "e1", "c1", "cart_abandoned", T0, 1000, "coffee");
    h_order_event(&evs[1], "e2", "c1", "order_placed", T0 + DAY, 20000, "coffee");
    h_order_event(&evs[2], "e3", "c1", "order_placed", T0 + 2 * DAY, 15000, "equipment");
    h_order_event(&evs[3], "e4", "c2", "order_placed", T0 + DAY, 500, "tea");
    h_produce_events(&env, "orders", evs, 4);

    char conf[512];
    h_write_config(&env, "orders", NULL, conf, sizeof(conf));
    pid_t pid = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000),
              "processor did not finish the input");

    char key[256], v[256];
    snprintf(key, sizeof(key), "ac:{%u}:c:c1", ac_store_bucket("c1"));
    cr_expect_eq(h_hget_ll(key, "o.count"), 2);
    cr_expect_eq(h_hget_ll(key, "o.rev"), 35000);
    cr_expect_eq(h_hget_ll(key, "o.first"), T0 + DAY);
    cr_expect_eq(h_hget_ll(key, "o.last"), T0 + 2 * DAY);
    cr_expect_eq(h_hget_ll(key, "o.carts"), 0, "an order closes the open cart");
    h_hget_str(key, "o.fam", v, sizeof(v));
    cr_expect_str_eq(v, "coffee,equipment");
    h_hget_str(key, "seg", v, sizeof(v));
    cr_expect_str_eq(v, "high_value_repeat");

    struct h_reader acts, sigs;
    h_reader_open(&env, &acts, "aftercare.actions");
    /* c1: 2 confirmations + onboarding (crm + notify); c2: 1 + 2 */
    cr_assert_eq(h_reader_poll(&acts, 7, 20000), 7, "expected 7 actions, got %zu", acts.n);
    cr_expect(has_action(&acts, "order_confirmation", "e2", 0));
    cr_expect(has_action(&acts, "order_confirmation", "e3", 0));
    cr_expect(has_action(&acts, "crm_onboarding", "e2", 0));
    cr_expect(has_action(&acts, "crm_onboarding", "e2", 1));
    cr_expect(!has_action(&acts, "crm_onboarding", "e3", 0), "onboarding only once");
    struct ac_action a;
    cr_assert_eq(ac_codec_decode_action(env.codec, acts.recs[0].value, acts.recs[0].len, &a), 0);
    cr_expect_str_eq(a.action_id, acts.recs[0].id, "header id equals the record's id");

    h_reader_open(&env, &sigs, "aftercare.signals");
    /* c1: new->one_time, one_time->high_value_repeat; c2: new->one_time */
    cr_assert_eq(h_reader_poll(&sigs, 3, 20000), 3);
    h_reader_close(&sigs);
    h_reader_close(&acts);

    cr_expect_eq(h_terminate(pid), 0, "SIGTERM must end with exit 0");
}

Test(orders_flow, duplicate_event_ids_and_replay_change_nothing)
{
    struct ac_event evs[3];
    h_order_event(&evs[0], "d1", "dup", "order_placed", T0, 1000, "coffee");
    h_order_event(&evs[1], "d1", "dup", "order_placed", T0, 1000, "coffee"); /* upstream dup */
    h_order_event(&evs[2], "d2", "dup", "order_placed", T0 + DAY, 2000, "coffee");
    h_produce_events(&env, "orders", evs, 3);
    char conf[512];
    h_write_config(&env, "orders", NULL, conf, sizeof(conf));
    pid_t pid = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    cr_expect_eq(h_terminate(pid), 0);

    char key[256];
    snprintf(key, sizeof(key), "ac:{%u}:c:dup", ac_store_bucket("dup"));
    cr_expect_eq(h_hget_ll(key, "o.count"), 2);
    cr_expect_eq(h_hget_ll(key, "o.rev"), 3000);
    long long version = h_hget_ll(key, "v");

    /* Replay: the same events again later, after a restart, plus a rewind of
     * the stored position to 0 so every offset is delivered a second time. */
    h_produce_events(&env, "orders", evs, 3);
    redisReply *r = h_redis(&env, "DEL ac:pos:aftercare-orders");
    freeReplyObject(r);
    char conf2[512];
    h_write_config(&env, "orders", "kafka.consumer.auto.offset.reset = earliest\n", conf2,
                   sizeof(conf2));
    pid = h_spawn(&env, "orders", conf2);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    cr_expect_eq(h_terminate(pid), 0);
    cr_expect_eq(h_hget_ll(key, "o.count"), 2, "a replay must not apply an event twice");
    cr_expect_eq(h_hget_ll(key, "o.rev"), 3000);

    struct h_reader acts;
    h_reader_open(&env, &acts, "aftercare.actions");
    h_reader_poll(&acts, 1000, 3000);
    size_t confirmations = 0;
    char id1[AC_ACTION_ID_MAX], id2[AC_ACTION_ID_MAX];
    ac_action_id(id1, "order_confirmation", "d1", 0);
    ac_action_id(id2, "order_confirmation", "d2", 0);
    for (size_t i = 0; i < acts.n; i++) {
        cr_expect(strcmp(acts.recs[i].id, id1) == 0 || strcmp(acts.recs[i].id, id2) == 0 ||
                      strncmp(acts.recs[i].key, "dup", 3) == 0,
                  "unexpected action");
        confirmations += strcmp(acts.recs[i].id, id1) == 0 || strcmp(acts.recs[i].id, id2) == 0;
    }
    cr_expect_eq(confirmations, 2, "one confirmation per distinct order, got %zu", confirmations);
    h_reader_close(&acts);
    cr_expect(h_hget_ll(key, "v") >= version);
}

/* /healthz, /readyz and /metrics of a running processor. */
Test(orders_flow, metrics_and_health_endpoints)
{
    struct ac_event evs[3];
    h_order_event(&evs[0], "m1", "mc1", "order_placed", T0, 1000, "coffee");
    h_order_event(&evs[1], "m2", "mc2", "order_placed", T0, 1000, "coffee");
    h_order_event(&evs[2], "m3", "mc1", "cart_abandoned", T0 + DAY, 1000, "coffee");
    h_produce_events(&env, "orders", evs, 3);
    h_produce_events(&env, "orders", evs, 1); /* an upstream duplicate of m1 */
    h_produce_raw(&env, "orders", "junk", "\x02\xff", 2);
    h_flush(&env);
    int port = ac_dev_free_port();
    char extra[64], conf[512];
    snprintf(extra, sizeof(extra), "http.port = %d\n", port);
    h_write_config(&env, "orders", extra, conf, sizeof(conf));
    pid_t pid = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));

    char *body = malloc(1 << 20);
    cr_expect_eq(h_http_get(port, "/healthz", body, 1 << 20), 200);
    cr_expect_eq(h_http_get(port, "/readyz", body, 1 << 20), 200);
    /* Lag comes from librdkafka statistics (every second in tests): wait for it. */
    int64_t deadline = ac_clock_mono_ms() + 15000;
    do {
        cr_assert_eq(h_http_get(port, "/metrics", body, 1 << 20), 200);
    } while (!strstr(body, "kafka_consumergroup_group_lag{") && ac_clock_mono_ms() < deadline);
    const char *want[] = {
        "aftercare_events_in_total{topic=\"orders\",type=\"order_placed\"} 3", /* with the duplicate
                                                                                */
        "aftercare_events_in_total{topic=\"orders\",type=\"cart_abandoned\"} 1",
        "aftercare_actions_out_total{rule=\"order_confirmation\"} 2",
        "aftercare_actions_out_total{rule=\"crm_onboarding\"} 4",
        "aftercare_dlq_total{topic=\"orders\",reason=\"undecodable\"} 1",
        "aftercare_events_skipped_total{topic=\"orders\",reason=\"duplicate_event_id\"} 1",
        "kafka_consumergroup_group_lag{group=\"aftercare-orders\",topic=\"orders\",partition=",
        "aftercare_batch_duration_seconds_bucket{le=",
        "aftercare_redis_rtt_seconds_count",
        "aftercare_processing_latency_seconds_bucket",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        cr_expect(strstr(body, want[i]) != NULL, "/metrics lacks: %s", want[i]);
    }
    free(body);
    cr_expect_eq(h_terminate(pid), 0);
}

/* A customer whose events arrive on two partitions in one batch (a
 * repartitioning, a producer choosing partitions itself): each event is
 * applied once, and a full replay applies nothing again. Keyed, as every
 * event must be (a null key goes to the DLQ: missing_key). */
Test(orders_flow, one_customer_on_two_partitions)
{
    struct ac_event evs[4];
    struct ac_buf b;
    ac_buf_init(&b);
    /* Offsets climb unevenly so that a wrong watermark would hide events. */
    const int32_t parts[4] = {0, 0, 0, 1};
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof(id), "tp-%d", i);
        h_order_event(&evs[i], id, "two-parts", "order_placed", T0 + i, 100, "tea");
        ac_buf_reset(&b);
        cr_assert_eq(ac_codec_encode_event(env.codec, &evs[i], 1, &b), 0);
        h_produce_to(&env, "orders", parts[i], "two-parts", b.data, b.len);
    }
    /* Then more on partition 1, below partition 0's offsets. */
    struct ac_event late;
    h_order_event(&late, "tp-late", "two-parts", "order_placed", T0 + 9, 100, "tea");
    ac_buf_reset(&b);
    cr_assert_eq(ac_codec_encode_event(env.codec, &late, 1, &b), 0);
    h_flush(&env);
    char conf[512];
    h_write_config(&env, "orders", "batch.ms = 500\n", conf, sizeof(conf));
    pid_t pid = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    h_produce_to(&env, "orders", 1, "two-parts", b.data, b.len);
    h_flush(&env);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    cr_expect_eq(h_terminate(pid), 0);
    char key[128];
    snprintf(key, sizeof(key), "ac:{%u}:c:two-parts", ac_store_bucket("two-parts"));
    cr_expect_eq(h_hget_ll(key, "o.count"), 5, "every event applied once");

    /* Forget the positions and replay from the beginning (a rebuild seeks
     * there when Redis holds no position). */
    redisReply *r = h_redis(&env, "DEL ac:pos:aftercare-orders");
    freeReplyObject(r);
    char conf2[512];
    h_write_config(&env, "orders-replay", "recovery.rebuild = true\n", conf2, sizeof(conf2));
    pid = h_spawn(&env, "orders", conf2);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    cr_expect_eq(h_terminate(pid), 0);
    cr_expect_eq(h_hget_ll(key, "o.count"), 5, "a replay applies nothing twice");
    ac_buf_fini(&b);
}

/* Two processors of different topics change the same customers at the same
 * time: each commit is guarded by the version, so neither loses the other's
 * fields, and a duplicate feedback event is applied once. */
Test(orders_flow, orders_and_feedback_share_customers_without_losing_either)
{
    enum { N = 200 };
    struct ac_event *orders = calloc(N, sizeof(*orders));
    struct ac_event *fb = calloc(N + 1, sizeof(*fb));
    cr_assert(orders && fb);
    for (int i = 0; i < N; i++) {
        char id[32], cid[32];
        snprintf(cid, sizeof(cid), "x-%d", i % 20);
        snprintf(id, sizeof(id), "xo-%d", i);
        h_order_event(&orders[i], id, cid, "order_placed", T0 + i, 1000, "coffee");
        struct ac_event *f = &fb[i];
        f->topic = AC_TOPIC_FEEDBACK;
        snprintf(f->event_id, sizeof(f->event_id), "xf-%d", i);
        snprintf(f->customer_id, sizeof(f->customer_id), "%s", cid);
        snprintf(f->type, sizeof(f->type), "ticket_opened");
        f->occurred_at = T0 + i;
        f->u.feedback.score = -1;
        f->u.feedback.frequency_opt_in = -1;
        snprintf(f->u.feedback.ticket_id, sizeof(f->u.feedback.ticket_id), "T%d", i);
    }
    fb[N] = fb[0]; /* an upstream duplicate */
    char oconf[512], fconf[512];
    h_write_config(&env, "orders", NULL, oconf, sizeof(oconf));
    h_write_config(&env, "feedback", NULL, fconf, sizeof(fconf));
    pid_t po = h_spawn(&env, "orders", oconf);
    pid_t pf = h_spawn(&env, "feedback", fconf);
    h_produce_events(&env, "orders", orders, N);
    h_produce_events(&env, "feedback", fb, N + 1);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    cr_assert(h_wait_done(&env, "ac", "aftercare-feedback", "feedback", 60000));
    for (int k = 0; k < 20; k++) {
        char cid[32], key[256];
        snprintf(cid, sizeof(cid), "x-%d", k);
        snprintf(key, sizeof(key), "ac:{%u}:c:%s", ac_store_bucket(cid), cid);
        cr_expect_eq(h_hget_ll(key, "o.count"), N / 20, "%s: orders lost", cid);
        cr_expect_eq(h_hget_ll(key, "f.tickets"), N / 20, "%s: tickets lost or doubled", cid);
    }
    cr_expect_eq(h_terminate(pf), 0, "aftercare-feedback exits 0 on SIGTERM");
    cr_expect_eq(h_terminate(po), 0);
    free(orders);
    free(fb);
}
