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

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

Test(kafka_faults, errors_leader_changes_and_a_broker_down_lose_nothing)
{
    rd_kafka_mock_cluster_t *mc = ac_dev_kafka_mock(env.dk);
    struct ac_event *evs = calloc(N_CUST, sizeof(*evs));
    char **want = calloc(N_CUST * 3, sizeof(char *));
    for (int i = 0; i < N_CUST; i++) {
        char id[32], cust[32];
        snprintf(id, sizeof(id), "kf-%d", i);
        snprintf(cust, sizeof(cust), "kf-cust-%d", i);
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

    /* The processor's first requests fail: its produce retries, its fetch retries. */
    rd_kafka_mock_push_request_errors(mc, API_PRODUCE, 4,
                                      RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                      RD_KAFKA_RESP_ERR__TRANSPORT);
    rd_kafka_mock_push_request_errors(mc, API_FETCH, 2,
                                      RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                      RD_KAFKA_RESP_ERR__TRANSPORT);
    char conf[512];
    h_write_config(&env, "orders", "batch.size = 25\n", conf, sizeof(conf));
    pid_t pid = h_spawn(&env, "orders", conf);

    /* Once it is under way: every leader moves to broker 2, then broker 1 goes down. */
    int64_t deadline = ac_clock_mono_ms() + 60000;
    while (h_group_done(&env, "ac", "aftercare-orders", "orders") < N_CUST / 4 &&
           ac_clock_mono_ms() < deadline) {
        struct timespec ts = {0, 10 * 1000000L}; /* polling a condition */
        nanosleep(&ts, NULL);
    }
    int64_t done_at_fault = h_group_done(&env, "ac", "aftercare-orders", "orders");
    const char *topics[] = {"orders", "aftercare.actions", "aftercare.signals", "aftercare.dlq"};
    for (int t = 0; t < 4; t++) {
        for (int p = 0; p < 4; p++) {
            rd_kafka_mock_partition_set_leader(mc, topics[t], p, 2);
        }
    }
    rd_kafka_mock_coordinator_set(mc, "group", "aftercare-orders", 2);
    rd_kafka_mock_broker_set_down(mc, 1);
    fprintf(stderr, "kafka faults: %lld/%d events done when broker 1 went down\n",
            (long long)done_at_fault, N_CUST);

    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 180000),
              "processing did not resume after the faults");
    rd_kafka_mock_broker_set_up(mc, 1);
    cr_expect_eq(h_terminate(pid), 0);

    for (int i = 0; i < N_CUST; i += 7) {
        char cust[32];
        snprintf(cust, sizeof(cust), "kf-cust-%d", i);
        redisReply *r = h_redis(&env, "HGET ac:{%u}:c:%s o.count", ac_store_bucket(cust), cust);
        cr_expect(r->type == REDIS_REPLY_STRING && strcmp(r->str, "1") == 0,
                  "%s: o.count %s, want 1", cust, r->str ? r->str : "(none)");
        freeReplyObject(r);
    }

    struct h_reader acts;
    int64_t end = h_topic_end(&env, "aftercare.actions");
    h_reader_open(&env, &acts, "aftercare.actions");
    cr_assert_eq((int64_t)h_reader_poll(&acts, (size_t)end, 60000), end);
    char **got = calloc(acts.n + 1, sizeof(char *));
    for (size_t i = 0; i < acts.n; i++) {
        got[i] = acts.recs[i].id;
    }
    qsort(got, acts.n, sizeof(char *), cmp_str);
    qsort(want, N_CUST * 3, sizeof(char *), cmp_str);
    size_t distinct = 0, missing = 0, extra = 0, i = 0, j = 0;
    while (i < N_CUST * 3 || j < acts.n) {
        if (j > 0 && j < acts.n && strcmp(got[j], got[j - 1]) == 0) {
            j++;
            continue;
        }
        int c = i == N_CUST * 3 ? 1 : j == acts.n ? -1 : strcmp(want[i], got[j]);
        if (c == 0) {
            distinct++, i++, j++;
        } else if (c < 0) {
            missing++, i++;
        } else {
            extra++, j++;
        }
    }
    cr_expect_eq(missing, 0, "%zu actions lost", missing);
    cr_expect_eq(extra, 0, "%zu actions not in the model", extra);
    cr_expect_eq(distinct, (size_t)N_CUST * 3);
    fprintf(stderr, "kafka faults: %zu action ids as modelled, %zu records in all\n", distinct,
            acts.n);
    free(got);
    h_reader_close(&acts);
    for (int k = 0; k < N_CUST * 3; k++) {
        free(want[k]);
    }
    free(want);
}
