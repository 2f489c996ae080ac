/* What an SRE sees of the running processes: /metrics that promtool accepts
 * for every program, a processing latency that does not count an event's
 * age, and /readyz meaning "the last batch succeeded" and following Redis
 * while idle. All five programs run on the embedded stack. */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "clock.h"
#include "harness.h"

#define BODY_MAX (1 << 20)
#define DAY_MS 86400000LL
#define API_PRODUCE 0 /* Kafka protocol ApiKey (librdkafka keeps its names private) */

static struct h_env env;

static void setup(void)
{
    h_start(&env, 2);
}

static void teardown(void)
{
    h_stop(&env);
}

TestSuite(ops, .init = setup, .fini = teardown, .timeout = 300);

static const char *const procs[] = {"orders", "deliveries", "feedback", "usage", "timers"};
#define N_PROCS (sizeof(procs) / sizeof(procs[0]))

struct ops_stack {
    pid_t pid[N_PROCS];
    int port[N_PROCS];
};

/* Encodes a JSON line of topic's schema and produces it keyed by customer. */
static void produce_json(const char *topic, const char *customer, const char *json)
{
    struct ac_buf b;
    char err[256];
    ac_buf_init(&b);
    cr_assert_eq(ac_codec_json_to_avro(env.codec, topic, json, &b, err, sizeof(err)), 0, "%s: %s",
                 json, err);
    h_produce_raw(&env, topic, customer, b.data, b.len);
    ac_buf_fini(&b);
}

static double wait_metric(int port, const char *series, double min, int deadline_ms, char *body);

/* Starts the four processors (orders on the timers playbook) and, once Redis
 * holds a generation, aftercare-timers on a clock 1000 times faster. */
static void start_all(struct ops_stack *st, const char *extra_all)
{
    char pb[1100], extra[1600], conf[512];
    int64_t now = ac_clock_now(ac_clock_wall());
    snprintf(pb, sizeof(pb), "%s/tests/data/playbooks/timers_flow.yaml", h_source_dir());
    for (size_t i = 0; i < N_PROCS; i++) {
        st->port[i] = ac_dev_free_port();
        int n = snprintf(extra, sizeof(extra), "http.port = %d\n%s", st->port[i], extra_all);
        if (strcmp(procs[i], "orders") == 0 || strcmp(procs[i], "timers") == 0) {
            n += snprintf(extra + n, sizeof(extra) - (size_t)n, "playbook = %s\n", pb);
        }
        if (strcmp(procs[i], "timers") == 0) {
            snprintf(extra + n, sizeof(extra) - (size_t)n,
                     "clock.speed = 1000\nclock.epoch_ms = %lld\n", (long long)now);
            h_write_timers_config(&env, extra, conf, sizeof(conf));
            /* It waits for a processor to create the generation: be sure it exists. */
            cr_assert(h_wait_http(st->port[0], "/readyz", 200, 60000), "orders never got ready");
        } else {
            h_write_config(&env, procs[i], extra, conf, sizeof(conf));
        }
        st->pid[i] = h_spawn(&env, procs[i], conf);
    }
    char *body = malloc(BODY_MAX);
    cr_assert_not_null(body);
    for (size_t i = 0; i < N_PROCS; i++) {
        cr_assert(h_wait_http(st->port[i], "/readyz", 200, 60000), "aftercare-%s never got ready",
                  procs[i]);
        /* Past the group join, whose assignment reads positions from Redis too. */
        if (strcmp(procs[i], "timers") != 0) {
            cr_assert_geq(wait_metric(st->port[i], "aftercare_assigned_partitions", 1, 60000, body),
                          1, "aftercare-%s got no partition", procs[i]);
        }
    }
    free(body);
}

static void stop_all(struct ops_stack *st)
{
    for (size_t i = 0; i < N_PROCS; i++) {
        cr_expect_eq(h_terminate(st->pid[i]), 0, "aftercare-%s exits 0 on SIGTERM", procs[i]);
    }
}

/* Polls /metrics of port until series >= min; returns the last body's value. */
static double wait_metric(int port, const char *series, double min, int deadline_ms, char *body)
{
    double v = 0;
    int64_t deadline = ac_clock_mono_ms() + deadline_ms;
    for (;;) {
        v = 0;
        if (h_http_get(port, "/metrics", body, BODY_MAX) == 200 && h_metric(body, series, &v) &&
            v >= min) {
            return v;
        }
        if (ac_clock_mono_ms() >= deadline) {
            return v;
        }
        struct timespec ts = {0, 50 * 1000000L}; /* polling a condition */
        nanosleep(&ts, NULL);
    }
}

Test(ops, every_process_metrics_pass_promtool)
{
    struct ops_stack st;
    char *body = malloc(BODY_MAX), out[8192], json[512];
    int64_t now = ac_clock_now(ac_clock_wall());
    cr_assert_not_null(body);

    /* Input that touches every kind of series: actions, signals, a timer,
     * a duplicate, and a record each processor sends to the DLQ. */
    struct ac_event evs[3];
    h_order_event(&evs[0], "cart-1", "c1", "cart_abandoned", now, 1000, "coffee");
    h_order_event(&evs[1], "order-2", "c2", "order_placed", now, 1000, "coffee");
    h_order_event(&evs[2], "order-2", "c2", "order_placed", now, 1000, "coffee");
    h_produce_events(&env, "orders", evs, 3);
    snprintf(json, sizeof(json),
             "{\"event_id\":\"d1\",\"customer_id\":\"c2\",\"type\":\"delayed\",\"occurred_at\":"
             "%lld,\"order_id\":\"o-order-2\",\"carrier\":\"dhl\",\"tracking_url\":\"https://t/1\","
             "\"estimated_delivery_at\":%lld,\"new_estimated_delivery_at\":%lld}",
             (long long)now, (long long)(now + DAY_MS), (long long)(now + 3 * DAY_MS));
    produce_json("deliveries", "c2", json);
    snprintf(json, sizeof(json),
             "{\"event_id\":\"f1\",\"customer_id\":\"c2\",\"type\":\"survey_response\","
             "\"occurred_at\":%lld,\"score\":3,\"scale\":\"nps_10\"}",
             (long long)now);
    produce_json("feedback", "c2", json);
    snprintf(json, sizeof(json),
             "{\"event_id\":\"u1\",\"customer_id\":\"c2\",\"type\":\"milestone\","
             "\"occurred_at\":%lld,\"milestone\":\"onboarding_completed\"}",
             (long long)now);
    produce_json("usage", "c2", json);
    for (size_t i = 0; i < 4; i++) {
        h_produce_raw(&env, procs[i], "junk", "\x02\xff", 2);
    }
    h_flush(&env);

    start_all(&st, "");
    for (size_t i = 0; i < 4; i++) {
        char group[64];
        snprintf(group, sizeof(group), "aftercare-%s", procs[i]);
        cr_assert(h_wait_done(&env, "ac", group, procs[i], 60000), "%s not done", procs[i]);
    }
    /* The reminder fires (20 s of a clock running 1000 times faster). */
    cr_assert_geq(wait_metric(st.port[4], "aftercare_timers_fired_total", 1, 60000, body), 1,
                  "the timer never fired");
    /* A reload, and the lag from librdkafka statistics (every second in tests). */
    for (size_t i = 0; i < N_PROCS; i++) {
        kill(st.pid[i], SIGHUP);
    }
    for (size_t i = 0; i < N_PROCS; i++) {
        cr_expect_geq(
            wait_metric(st.port[i], "aftercare_reloads_total{result=\"ok\"}", 1, 30000, body), 1,
            "aftercare-%s did not reload", procs[i]);
        if (i < 4) {
            int64_t deadline = ac_clock_mono_ms() + 15000;
            do {
                cr_assert_eq(h_http_get(st.port[i], "/metrics", body, BODY_MAX), 200);
            } while (!strstr(body, "kafka_consumergroup_group_lag{") &&
                     ac_clock_mono_ms() < deadline);
        }
    }

    for (size_t i = 0; i < N_PROCS; i++) {
        cr_assert_eq(h_http_get(st.port[i], "/metrics", body, BODY_MAX), 200);
        int rc = h_promtool(&env, procs[i], body, out, sizeof(out));
        cr_assert_neq(rc, 127, "no promtool: install Debian's prometheus (deploy/setup.sh)");
        cr_expect_eq(rc, 0, "promtool check metrics on aftercare-%s: exit %d\n%s", procs[i], rc,
                     out);
    }
    /* The series the timer process shares with the processors are declared there too. */
    cr_expect(strstr(body, "# HELP aftercare_records_out_total ") != NULL);
    cr_expect(strstr(body, "# HELP aftercare_batch_duration_seconds ") != NULL);
    stop_all(&st);
    free(body);
}

Test(ops, processing_latency_counts_from_the_read_and_age_from_event_time)
{
    char *body = malloc(BODY_MAX), extra[64], conf[512];
    int64_t now = ac_clock_now(ac_clock_wall());
    cr_assert_not_null(body);
    struct ac_event evs[2];
    h_order_event(&evs[0], "old-1", "lat-1", "order_placed", now - 10 * DAY_MS, 1000, "tea");
    h_order_event(&evs[1], "new-1", "lat-2", "order_placed", now, 1000, "tea");
    h_produce_events(&env, "orders", evs, 2);
    int port = ac_dev_free_port();
    snprintf(extra, sizeof(extra), "http.port = %d\n", port);
    h_write_config(&env, "orders", extra, conf, sizeof(conf));
    pid_t pid = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    /* The batch's metrics are added once it is durable: wait for them. */
    cr_assert_geq(wait_metric(port, "aftercare_event_age_seconds_count", 2, 10000, body), 2);

    double lat_sum = -1, lat_n = -1, age_sum = -1, week = -1, month = -1;
    cr_assert(h_metric(body, "aftercare_processing_latency_seconds_sum", &lat_sum));
    cr_assert(h_metric(body, "aftercare_processing_latency_seconds_count", &lat_n));
    cr_assert(h_metric(body, "aftercare_event_age_seconds_sum", &age_sum));
    cr_assert(h_metric(body, "aftercare_event_age_seconds_bucket{le=\"604800\"}", &week));
    cr_assert(h_metric(body, "aftercare_event_age_seconds_bucket{le=\"2592000\"}", &month));
    cr_expect_eq(lat_n, 2, "one latency per event read");
    cr_expect_lt(lat_sum, 120, "a 10-day-old event put %g s into the latency", lat_sum);
    cr_expect_geq(age_sum, 10 * 86400 - 60, "the age is its own histogram: %g", age_sum);
    cr_expect_lt(age_sum, 10 * 86400 + 120);
    cr_expect_eq(week, 1, "the fresh event is younger than a week");
    cr_expect_eq(month, 2, "the old one is younger than 30 days");
    cr_expect_eq(h_terminate(pid), 0);
    free(body);
}

/* Idle processes follow Redis: not ready while it is down, ready once it is back. */
Test(ops, idle_readyz_follows_redis_down_and_back)
{
    struct ops_stack st;
    char err[256];
    start_all(&st, "");
    /* SIGTERM: Redis writes its AOF out, so the generation survives the restart. */
    ac_dev_redis_stop(&env.dr, SIGTERM);
    for (size_t i = 0; i < N_PROCS; i++) {
        cr_expect(h_wait_http(st.port[i], "/readyz", 503, 15000),
                  "aftercare-%s stays ready with Redis down", procs[i]);
    }
    cr_assert_eq(ac_dev_redis_restart(&env.dr, err, sizeof(err)), 0, "%s", err);
    redisFree(env.redis);
    struct timeval tv = {5, 0};
    env.redis = redisConnectWithTimeout("127.0.0.1", env.dr.port, tv);
    for (size_t i = 0; i < N_PROCS; i++) {
        cr_expect(h_wait_http(st.port[i], "/readyz", 200, 30000),
                  "aftercare-%s not ready again after Redis came back", procs[i]);
    }
    stop_all(&st);
}

/* /readyz means "the last batch succeeded": a batch whose records had to be
 * produced again does not leave the processor unready. */
Test(ops, readyz_is_200_again_once_a_retried_batch_succeeds)
{
    char *body = malloc(BODY_MAX), extra[256], conf[512];
    cr_assert_not_null(body);
    rd_kafka_mock_cluster_t *mc = ac_dev_kafka_mock(env.dk);
    int port = ac_dev_free_port();
    /* A permanent produce error fails the delivery (librdkafka does not retry
     * it); the processor then produces the batch again. */
    struct ac_event ev;
    h_order_event(&ev, "retry-1", "retry-c", "order_placed", ac_clock_now(ac_clock_wall()), 1000,
                  "tea");
    h_produce_events(&env, "orders", &ev, 1);
    /* The cluster's next produce request is the processor's (ours are done). */
    rd_kafka_mock_push_request_errors(mc, API_PRODUCE, 1,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    snprintf(extra, sizeof(extra), "http.port = %d\n", port);
    h_write_config(&env, "orders", extra, conf, sizeof(conf));
    pid_t pid = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    cr_assert_geq(wait_metric(port, "aftercare_produce_retries_total", 1, 10000, body), 1,
                  "the batch was not produced again: no fault was injected");
    cr_expect(h_wait_http(port, "/readyz", 200, 10000),
              "not ready although the retried batch succeeded");
    cr_expect_eq(h_terminate(pid), 0);
    free(body);
}
