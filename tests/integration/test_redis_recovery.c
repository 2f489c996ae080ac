/* Redis failures (SPEC §6): Redis down pauses consumption and nothing is
 * skipped; a Redis that lost its data is detected and never continued from. */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "clock.h"
#include "harness.h"
#include "store.h"

#define T0 1767225600000LL

static struct h_env env;

static void setup(void)
{
    h_start(&env, 2);
}

static void teardown(void)
{
    h_stop(&env);
}

TestSuite(redis_recovery, .init = setup, .fini = teardown, .timeout = 300);

static void produce_orders(const char *prefix, int n, const char *cust)
{
    struct ac_event *evs = calloc((size_t)n, sizeof(*evs));
    for (int i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof(id), "%s-%d", prefix, i);
        h_order_event(&evs[i], id, cust, "order_placed", T0 + i, 100, "coffee");
    }
    h_produce_events(&env, "orders", evs, (size_t)n);
    free(evs);
}

static long long order_count(const char *cust)
{
    return h_state_ll(&env, cust, "o.count");
}

static void reconnect_test_client(void)
{
    redisFree(env.redis);
    struct timeval tv = {5, 0};
    env.redis = redisConnectWithTimeout("127.0.0.1", env.dr.port, tv);
    cr_assert(env.redis && !env.redis->err);
}

Test(redis_recovery, redis_down_pauses_and_resumes_without_skipping)
{
    char conf[512], err[256];
    h_write_config(&env, "orders", NULL, conf, sizeof(conf));
    produce_orders("a", 50, "cust-a");
    pid_t pid = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));

    /* Redis crashes (its AOF survives); events keep arriving meanwhile. */
    ac_dev_redis_stop(&env.dr, SIGKILL);
    produce_orders("b", 50, "cust-a");
    int status;
    cr_expect_eq(waitpid(pid, &status, WNOHANG), 0, "the processor must wait for Redis");
    cr_assert_eq(ac_dev_redis_restart(&env.dr, err, sizeof(err)), 0, "%s", err);
    reconnect_test_client();
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000),
              "the processor did not resume after Redis came back");
    cr_expect_eq(order_count("cust-a"), 100, "nothing skipped, nothing applied twice");
    cr_expect_eq(h_terminate(pid), 0);
}

Test(redis_recovery, lost_redis_data_is_detected_and_rebuilt_on_request)
{
    char conf[512];
    h_write_config(&env, "orders", NULL, conf, sizeof(conf));
    produce_orders("a", 30, "cust-b");
    pid_t pid = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));

    /* Redis comes back empty (as after a restart without persistence). */
    redisReply *r = h_redis(&env, "FLUSHALL");
    freeReplyObject(r);
    produce_orders("b", 10, "cust-b");
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 3,
              "a running processor must stop (exit 3) when Redis lost its data");
    cr_expect_eq(order_count("cust-b"), 0, "nothing written on top of lost state");

    /* A restart refuses to continue from Kafka's offsets with empty state... */
    pid = h_spawn(&env, "orders", conf);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 3, "start-up must refuse (exit 3)");

    /* ...until asked to rebuild from the earliest offset. */
    char conf2[512];
    h_write_config(&env, "orders", "recovery.rebuild = true\n", conf2, sizeof(conf2));
    pid = h_spawn(&env, "orders", conf2);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    cr_expect_eq(order_count("cust-b"), 40, "the rebuild replays the whole input");
    cr_expect_eq(h_terminate(pid), 0);
}

/* Loss detection is per consumer group: after a FLUSHALL, a processor whose
 * group never committed (an idle topic, a new deployment) starting first
 * must not hide the loss from aftercare-orders; and aftercare-timers notices
 * it while no timer is due. */
Test(redis_recovery, a_loss_is_seen_whatever_starts_first)
{
    char conf[512], fconf[512], tconf[512];
    h_write_config(&env, "orders", NULL, conf, sizeof(conf));
    produce_orders("c", 5, "cust-c");
    pid_t pid = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    cr_expect_eq(h_terminate(pid), 0);
    h_write_timers_config(&env, "", tconf, sizeof(tconf));
    pid_t timers = h_spawn(&env, "timers", tconf);
    /* the timer process is running (it created its generation) */
    int64_t deadline = ac_clock_mono_ms() + 30000;
    int have = 0;
    while (!have && ac_clock_mono_ms() < deadline) {
        redisReply *r = h_redis(&env, "EXISTS ac:gen:aftercare-timers");
        have = r->integer == 1;
        freeReplyObject(r);
        if (!have) {
            struct timespec ts = {0, 20000000L};
            nanosleep(&ts, NULL);
        }
    }
    cr_assert(have, "aftercare-timers did not start");

    freeReplyObject(h_redis(&env, "FLUSHALL"));
    /* aftercare-timers, with nothing due, stops within seconds */
    int status = 0;
    cr_assert_eq(waitpid(timers, &status, 0), timers);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 3, "aftercare-timers must exit 3");

    /* a processor that never committed starts first and initialises Redis ... */
    h_write_config(&env, "feedback", NULL, fconf, sizeof(fconf));
    pid_t fb = h_spawn(&env, "feedback", fconf);
    deadline = ac_clock_mono_ms() + 30000;
    have = 0;
    while (!have && ac_clock_mono_ms() < deadline) {
        redisReply *r = h_redis(&env, "EXISTS ac:gen:aftercare-feedback");
        have = r->integer == 1;
        freeReplyObject(r);
        if (!have) {
            struct timespec ts = {0, 20000000L};
            nanosleep(&ts, NULL);
        }
    }
    cr_assert(have, "aftercare-feedback did not start");
    /* ... and aftercare-orders still refuses to go on with empty state */
    pid = h_spawn(&env, "orders", conf);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 3,
              "aftercare-orders must see its group's loss (exit 3)");
    cr_expect_eq(h_terminate(fb), 0);
}
