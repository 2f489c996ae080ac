/* Kafka faults (SPEC §6): failed produce and fetch requests, partition leader
 * changes and a broker going down while aftercare-orders works. Processing
 * resumes and nothing is lost: every modelled action id arrives, and the
 * state of every customer is right. */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "harness.h"
#include "processor.h"
#include "store.h"

#define N_CUST 1500
/* Kafka protocol ApiKeys (librdkafka keeps its names private). */
#define API_PRODUCE 0
#define API_FETCH 1
#define T0 1767225600000LL

static struct h_env env;

static void setup(void)
{
    h_start_brokers(&env, 4, 3);
}

static void teardown(void)
{
    h_stop(&env);
}

TestSuite(kafka_faults, .init = setup, .fini = teardown, .timeout = 300);

/* Produces N_CUST first orders ("<prefix>-<i>" of "<prefix>-cust-<i>") and
 * returns the action ids the default playbook gives them (N_CUST * 3). */
static char **kf_first_orders(const char *prefix)
{
    struct ac_event *evs = calloc(N_CUST, sizeof(*evs));
    char **want = calloc(N_CUST * 3, sizeof(char *));
    for (int i = 0; i < N_CUST; i++) {
        char id[32], cust[32];
        snprintf(id, sizeof(id), "%s-%d", prefix, i);
        snprintf(cust, sizeof(cust), "%s-cust-%d", prefix, i);
        h_order_event(&evs[i], id, cust, "order_placed", T0 + i, 1000, "coffee");
        for (int k = 0; k < 3; k++) {
            want[i * 3 + k] = malloc(AC_ACTION_ID_MAX);
        }
        ac_action_id(want[i * 3], "order_confirmation", id, 0);
        ac_action_id(want[i * 3 + 1], "crm_onboarding", id, 0);
        ac_action_id(want[i * 3 + 2], "crm_onboarding", id, 1);
    }
    h_produce_events(&env, "orders", evs, N_CUST);
    free(evs);
    return want;
}

/* The state of every 7th customer (one order each) and the actions against
 * the model: none lost, none outside it. Frees want. */
static void kf_check(const char *prefix, char **want, const char *what)
{
    for (int i = 0; i < N_CUST; i += 7) {
        char cust[32];
        snprintf(cust, sizeof(cust), "%s-cust-%d", prefix, i);
        cr_expect_eq(h_state_ll(&env, cust, "o.count"), 1, "%s: o.count, want 1", cust);
    }
    struct h_reader acts;
    h_reader_read_all(&env, &acts, "aftercare.actions");
    char **got = h_reader_ids(&acts);
    struct h_id_diff d;
    h_id_diff(want, N_CUST * 3, got, acts.n, &d);
    cr_expect_eq(d.missing, 0, "%zu actions lost", d.missing);
    cr_expect_eq(d.extra, 0, "%zu actions not in the model", d.extra);
    cr_expect_eq(d.matched, (size_t)N_CUST * 3);
    fprintf(stderr, "%s: %zu action ids as modelled, %zu records (%zu again under the same id)\n",
            what, d.matched, acts.n, d.repeats);
    free(got);
    h_reader_close(&acts);
    for (int k = 0; k < N_CUST * 3; k++) {
        free(want[k]);
    }
    free(want);
}

/* Polls until aftercare-orders has done at least n events (or timeout_ms
 * passed); returns how many it has done. */
static int64_t kf_wait_done_at_least(int64_t n, int timeout_ms)
{
    int64_t deadline = ac_clock_mono_ms() + timeout_ms;
    int64_t done;
    while ((done = h_group_done(&env, "ac", "aftercare-orders", "orders")) < n &&
           ac_clock_mono_ms() < deadline) {
        struct timespec ts = {0, 5 * 1000000L}; /* polling a condition */
        nanosleep(&ts, NULL);
    }
    return done;
}

Test(kafka_faults, errors_leader_changes_and_a_broker_down_lose_nothing)
{
    rd_kafka_mock_cluster_t *mc = ac_dev_kafka_mock(env.dk);
    char **want = kf_first_orders("kf");

    /* The processor's first requests fail: its produce retries, its fetch retries. */
    rd_kafka_mock_push_request_errors(
        mc, API_PRODUCE, 4, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR__TRANSPORT);
    rd_kafka_mock_push_request_errors(mc, API_FETCH, 2, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                      RD_KAFKA_RESP_ERR__TRANSPORT);
    char conf[512];
    h_write_config(&env, "orders", "batch.size = 25\n", conf, sizeof(conf));
    pid_t pid = h_spawn(&env, "orders", conf);

    /* Once it is under way: every leader moves to broker 2, then broker 1 goes down. */
    int64_t done_at_fault = kf_wait_done_at_least(N_CUST / 4, 60000);
    const char *topics[] = {"orders", "aftercare.actions", "aftercare.signals", "aftercare.dlq",
                            "aftercare.decisions"};
    for (int t = 0; t < 5; t++) {
        for (int p = 0; p < 4; p++) {
            rd_kafka_mock_partition_set_leader(mc, topics[t], p, 2);
        }
    }
    rd_kafka_mock_coordinator_set(mc, "group", "aftercare-orders", 2);
    rd_kafka_mock_broker_set_down(mc, 1);
    fprintf(stderr, "kafka faults: %lld/%d events done when broker 1 went down\n",
            (long long)done_at_fault, N_CUST);

    /* Work goes on without broker 1 (Redis positions tell, not Kafka)... */
    int64_t done_while_down = kf_wait_done_at_least(done_at_fault + N_CUST / 4, 120000);
    fprintf(stderr, "kafka faults: %lld/%d events done with broker 1 down\n",
            (long long)done_while_down, N_CUST);
    cr_expect_gt(done_while_down, done_at_fault, "no progress while broker 1 was down");
    /* ...and after it comes back. */
    rd_kafka_mock_broker_set_up(mc, 1);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 180000),
              "processing did not finish after the faults");
    cr_expect_eq(h_terminate(pid), 0);
    kf_check("kf", want, "kafka faults");
}

/* Deliveries that fail for good while batches overlap (one in flight while
 * the next one is worked on): the batch whose records were refused is done
 * again — its events replayed, its committed records produced again under
 * the same ids — and nothing is lost or applied twice. */
Test(kafka_faults, a_batch_whose_delivery_failed_is_done_again_with_the_same_ids)
{
    rd_kafka_mock_cluster_t *mc = ac_dev_kafka_mock(env.dk);
    char **want = kf_first_orders("df");

    char conf[512];
    h_write_config(&env, "orders", "batch.size = 25\n", conf, sizeof(conf));
    pid_t pid = h_spawn(&env, "orders", conf);
    kf_wait_done_at_least(N_CUST / 5, 60000);
    /* The next produce requests are refused for good (not retried by the
     * producer, and not a refusal of the record's size or form): their
     * records' delivery reports fail. */
    rd_kafka_mock_push_request_errors(
        mc, API_PRODUCE, 6, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 180000),
              "processing did not finish after the failed deliveries");
    cr_expect_eq(h_terminate(pid), 0);
    int failed = h_log_count(&env, "orders", "batch delivery incomplete");
    cr_expect_gt(failed, 0, "no batch saw its delivery fail: the faults did not reach it");
    int in_flight = h_log_count(&env, "orders", "the batch in flight did not finish");
    cr_expect_gt(in_flight, 0, "no failure reached a batch in flight (finished after the next)");

    fprintf(stderr, "delivery failures: %d batches redone, %d of them in flight\n", failed,
            in_flight);
    kf_check("df", want, "delivery failures");
}
