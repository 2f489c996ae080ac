/* The `aftercare` command: produce and consume JSON lines against the mock. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

static struct h_env env;

static void setup(void)
{
    h_start(&env, 2);
}

static void teardown(void)
{
    h_stop(&env);
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 120);

/* Runs the CLI through sh with the brokers in the environment; returns its
 * exit code and its stdout (and stderr, if err != NULL) in buffers. */
static int run_cli(const char *args, char *out, size_t outlen, char *err, size_t errlen)
{
    char cmd[2048], errpath[512];
    snprintf(errpath, sizeof(errpath), "%s/cli.err", env.dir);
    snprintf(cmd, sizeof(cmd), "AFTERCARE_KAFKA_BROKERS=%s AFTERCARE_SCHEMAS_DIR=%s/schemas %s/aftercare %s 2>%s",
             ac_dev_kafka_brokers(env.dk), h_source_dir(), h_bin_dir(), args, errpath);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    if (err) {
        FILE *f = fopen(errpath, "r");
        size_t m = f ? fread(err, 1, errlen - 1, f) : 0;
        err[m] = '\0';
        if (f) {
            fclose(f);
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(cli, produce_stops_at_a_bad_line_and_consume_reads_back)
{
    char path[512], args[1024], out[8192], err[2048];
    snprintf(path, sizeof(path), "%s/in.jsonl", env.dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"event_id\":\"c1\",\"customer_id\":\"a\",\"type\":\"order_placed\","
          "\"occurred_at\":\"2026-01-03T10:00:00Z\",\"order_id\":\"o1\",\"total_cents\":100,"
          "\"currency\":\"EUR\",\"items\":[]}\n"
          "# a comment line\n"
          "{\"event_id\":\"c2\",\"customer_id\":\"b\",\"type\":\"cart_abandoned\","
          "\"occurred_at\":1767434400000,\"order_id\":\"\",\"total_cents\":5,\"currency\":\"EUR\","
          "\"items\":[]}\n"
          "{\"event_id\":\"c3\",\"customer_id\":\"c\",\"type\":\"order_placed\","
          "\"occurred_at\":\"2026-01-03T10:00:00Z\",\"order_id\":\"o3\",\"total_cents\":\"ten\","
          "\"currency\":\"EUR\",\"items\":[]}\n"
          "{\"event_id\":\"c4\",\"customer_id\":\"d\",\"type\":\"order_placed\","
          "\"occurred_at\":\"2026-01-03T10:00:00Z\",\"order_id\":\"o4\",\"total_cents\":1,"
          "\"currency\":\"EUR\",\"items\":[]}\n",
          f);
    fclose(f);
    snprintf(args, sizeof(args), "produce orders %s", path);
    cr_expect_eq(run_cli(args, out, sizeof(out), err, sizeof(err)), 1);
    char want[600];
    snprintf(want, sizeof(want), "%s:4: ", path);
    cr_expect(strstr(err, want) != NULL, "error must name file:line, got: %s", err);
    cr_expect(strstr(err, "total_cents") != NULL, "error must name the field, got: %s", err);
    cr_expect_eq(h_topic_end(&env, "orders"), 2, "the lines before the bad one, nothing after");

    cr_expect_eq(run_cli("consume orders --from-beginning --max 2 --timeout 20", out,
                         sizeof(out), NULL, 0),
                 0);
    cr_expect(strstr(out, "\"event_id\":\"c1\"") != NULL, "consume output: %s", out);
    cr_expect(strstr(out, "\"event_id\":\"c2\"") != NULL);
    cr_expect(strstr(out, "\"occurred_at\":\"2026-01-03T10:00:00.000Z\"") != NULL,
              "timestamps come back as ISO-8601: %s", out);
    int lines = 0;
    for (const char *p = out; (p = strchr(p, '\n')); p++) {
        lines++;
    }
    cr_expect_eq(lines, 2);

    /* --timeout ends a consume that sees nothing new. */
    cr_expect_eq(run_cli("consume aftercare.actions --timeout 1", out, sizeof(out), NULL, 0), 0);
    cr_expect_str_eq(out, "");
}

Test(cli, usage_errors_and_help)
{
    char out[8192], err[2048];
    cr_expect_eq(run_cli("--help", out, sizeof(out), NULL, 0), 0);
    cr_expect(strstr(out, "produce TOPIC") != NULL);
    cr_expect_eq(run_cli("frobnicate", out, sizeof(out), err, sizeof(err)), 2);
    cr_expect(strstr(err, "unknown command 'frobnicate'") != NULL, "%s", err);
    cr_expect_eq(run_cli("produce nosuchtopic", out, sizeof(out), err, sizeof(err)), 2);
    cr_expect(strstr(err, "no schema for topic 'nosuchtopic'") != NULL, "%s", err);
}
