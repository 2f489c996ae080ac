/* Start-up paths of a processor: a bad config stops it with file:line:column;
 * Redis unavailable at start is waited for (not ready meanwhile); a newer
 * writer schema registered by Confluent id is read through the runtime. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"
#include "store.h"

static struct h_env env;

static void setup(void)
{
    h_start(&env, 2);
}

static void teardown(void)
{
    h_stop(&env);
}

TestSuite(startup, .init = setup, .fini = teardown, .timeout = 180);

static void read_file(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = '\0';
    if (f) {
        fclose(f);
    }
}

Test(startup, bad_config_stops_with_file_line_column)
{
    char conf[512], log[4096], want[600];
    h_write_config(&env, "orders", "batch.sise = 10\n", conf, sizeof(conf));
    pid_t pid = h_spawn(&env, "orders", conf);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 1, "a bad config exits 1");
    char logpath[512];
    snprintf(logpath, sizeof(logpath), "%s/orders.log", env.dir);
    read_file(logpath, log, sizeof(log));
    /* The key is the last line the harness wrote: count the lines before it. */
    int line = 1;
    char text[2048];
    read_file(conf, text, sizeof(text));
    for (const char *p = text; *p && strncmp(p, "batch.sise", 10) != 0; p++) {
        line += *p == '\n';
    }
    snprintf(want, sizeof(want), "%s:%d:1: unknown key 'batch.sise' (did you mean 'batch.size'?)",
             conf, line);
    cr_expect(strstr(log, want) != NULL, "want '%s' in: %s", want, log);
}

static int wait_http(int port, const char *path, int want_status, int deadline_ms)
{
    char body[256];
    int64_t deadline = ac_clock_mono_ms() + deadline_ms;
    while (ac_clock_mono_ms() < deadline) {
        if (h_http_get(port, path, body, sizeof(body)) == want_status) {
            return 1;
        }
        struct timespec ts = {0, 20 * 1000000L}; /* polling a condition */
        nanosleep(&ts, NULL);
    }
    return 0;
}

Test(startup, redis_unavailable_at_start_is_waited_for)
{
    char conf[512], extra[64], err[256];
    int port = ac_dev_free_port();
    ac_dev_redis_stop(&env.dr, SIGTERM);
    snprintf(extra, sizeof(extra), "http.port = %d\n", port);
    h_write_config(&env, "orders", extra, conf, sizeof(conf));
    pid_t pid = h_spawn(&env, "orders", conf);
    cr_assert(wait_http(port, "/healthz", 200, 30000), "/healthz must answer while waiting");
    cr_expect(wait_http(port, "/readyz", 503, 5000), "not ready without Redis");
    int status;
    cr_expect_eq(waitpid(pid, &status, WNOHANG), 0, "it must wait, not exit");

    cr_assert_eq(ac_dev_redis_restart(&env.dr, err, sizeof(err)), 0, "%s", err);
    redisFree(env.redis);
    struct timeval tv = {5, 0};
    env.redis = redisConnectWithTimeout("127.0.0.1", env.dr.port, tv);
    struct ac_event ev;
    h_order_event(&ev, "late-1", "late", "order_placed", 1767225600000LL, 100, "tea");
    h_produce_events(&env, "orders", &ev, 1);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    cr_expect(wait_http(port, "/readyz", 200, 10000), "ready once Redis is there");
    cr_expect_eq(h_terminate(pid), 0);

    char log[65536], logpath[512];
    snprintf(logpath, sizeof(logpath), "%s/orders.log", env.dir);
    read_file(logpath, log, sizeof(log));
    cr_expect(strstr(log, "lost its data") == NULL, "no false alarm while Redis was down");
}

Test(startup, newer_writer_schema_by_confluent_id_is_read)
{
    char cmd[2048], framed[512], plain[512];
    snprintf(framed, sizeof(framed), "%s/v2.bin", env.dir);
    snprintf(plain, sizeof(plain), "%s/v1.bin", env.dir);
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/tools/avro_interop.py check",
             h_source_dir());
    if (system(cmd) != 0) {
        cr_skip_test("python3-avro is not installed for /usr/bin/python3: skipping");
    }
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 %s/tests/tools/avro_interop.py write-orders %s/schemas/orders.avsc "
             "%s/tests/data/registry/101-orders-v2.avsc %s %s",
             h_source_dir(), h_source_dir(), h_source_dir(), plain, framed);
    cr_assert_eq(system(cmd), 0, "python could not write the v2 event");
    char bytes[4096];
    FILE *f = fopen(framed, "rb");
    cr_assert_not_null(f);
    size_t n = fread(bytes, 1, sizeof(bytes), f);
    fclose(f);
    h_produce_raw(&env, "orders", "py-cust", bytes, n);
    h_flush(&env);

    char conf[512], extra[1100];
    snprintf(extra, sizeof(extra), "schemas.registry_dir = %s/tests/data/registry\n",
             h_source_dir());
    h_write_config(&env, "orders", extra, conf, sizeof(conf));
    pid_t pid = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    cr_expect_eq(h_terminate(pid), 0);
    cr_expect_eq(h_topic_end(&env, "aftercare.dlq"), 0, "the v2 event must not go to the DLQ");
    char sub[32];
    h_state_str(&env, "py-cust", "o.sub", sub, sizeof(sub));
    cr_expect_str_eq(sub, "active", "subscription_renewed applied");
    cr_expect_eq(h_state_ll(&env, "py-cust", "o.renew"), 1798970400000LL,
                 "renewal_at read through the v2 writer");
}
