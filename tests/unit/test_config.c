/* test_config.c — table-driven config: defaults, file, environment, errors. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "err.h"

static const struct ac_cfg_entry test_common[] = {
    {"kafka.brokers", AC_CFG_STR, "localhost:9092", "Kafka bootstrap servers", 0, 0},
    {"batch.size", AC_CFG_INT, "500", "Events per batch", 1, 10000},
    {"emit.enabled", AC_CFG_BOOL, "true", "Produce actions", 0, 0},
    {NULL, AC_CFG_STR, NULL, NULL, 0, 0},
};

static const struct ac_cfg_entry test_proc[] = {
    {"rate.limit", AC_CFG_DOUBLE, "1.5", "Actions per second", 0, 0},
    {"timeout-ms", AC_CFG_INT, "100", "Redis timeout", 0, 0},
    {"greeting", AC_CFG_STR, "", "Text", 0, 0},
    {NULL, AC_CFG_STR, NULL, NULL, 0, 0},
};

static const struct ac_cfg_entry test_required[] = {
    {"redis.url", AC_CFG_STR, NULL, "Redis URL", 0, 0},
    {NULL, AC_CFG_STR, NULL, NULL, 0, 0},
};

static const struct ac_cfg_entry *const test_tables[] = {test_common, test_proc};
static const struct ac_cfg_entry *const test_tables_req[] = {test_common, test_required};

static char test_dir[256];
static char test_err[512];

static void test_setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(test_dir, sizeof(test_dir), "%s/ac_config_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(test_dir));
    cr_assert_eq(chdir(test_dir), 0);
    unsetenv("AFTERCARE_KAFKA_BROKERS");
    unsetenv("AFTERCARE_BATCH_SIZE");
    unsetenv("AFTERCARE_EMIT_ENABLED");
    unsetenv("AFTERCARE_RATE_LIMIT");
    unsetenv("AFTERCARE_TIMEOUT_MS");
    unsetenv("AFTERCARE_GREETING");
    unsetenv("AFTERCARE_REDIS_URL");
    unsetenv("AFTERCARE_KAFKA_CONSUMER_FETCH_WAIT_MAX_MS");
    unsetenv("AFTERCARE_KAFKA_SASL_MECHANISM");
    test_err[0] = '\0';
}

static void test_teardown(void)
{
    unlink("orders.conf");
    if (chdir("/") == 0) {
        rmdir(test_dir);
    }
}

TestSuite(config, .init = test_setup, .fini = test_teardown);

static void test_write(const char *text)
{
    FILE *f = fopen("orders.conf", "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static struct ac_config *test_load(const char *text)
{
    if (text) {
        test_write(text);
    }
    return ac_config_load(test_tables, 2, text ? "orders.conf" : NULL, test_err, sizeof(test_err));
}

/* Loads text that must fail and checks the exact message. */
static void test_fails(const char *text, const char *want)
{
    struct ac_config *cfg = test_load(text);
    cr_assert_null(cfg, "expected an error for:\n%s", text);
    cr_assert_str_eq(test_err, want);
}

Test(config, defaults)
{
    struct ac_config *cfg = test_load(NULL);
    cr_assert_not_null(cfg, "%s", test_err);
    cr_assert_str_eq(ac_config_str(cfg, "kafka.brokers"), "localhost:9092");
    cr_assert_eq(ac_config_int(cfg, "batch.size"), 500);
    cr_assert_eq(ac_config_bool(cfg, "emit.enabled"), 1);
    cr_assert_float_eq(ac_config_double(cfg, "rate.limit"), 1.5, 1e-12);
    cr_assert_eq(ac_config_int(cfg, "timeout-ms"), 100);
    cr_assert_str_eq(ac_config_str(cfg, "greeting"), "");
    ac_config_destroy(cfg);
}

Test(config, file_values)
{
    struct ac_config *cfg =
        test_load("# orders processor\n"
                  "\n"
                  "   kafka.brokers   =  k1:9092,k2:9092   \n"
                  "batch.size=42 # inline comment\r\n"
                  "emit.enabled = off\n"
                  "rate.limit = -2.25e1\n"
                  "greeting = \"  hello # not a comment \\\"x\\\" \\\\ \"  # c\n"
                  "\t# indented comment\n"
                  "timeout-ms = 0");
    cr_assert_not_null(cfg, "%s", test_err);
    cr_assert_str_eq(ac_config_str(cfg, "kafka.brokers"), "k1:9092,k2:9092");
    cr_assert_eq(ac_config_int(cfg, "batch.size"), 42);
    cr_assert_eq(ac_config_bool(cfg, "emit.enabled"), 0);
    cr_assert_float_eq(ac_config_double(cfg, "rate.limit"), -22.5, 1e-12);
    cr_assert_str_eq(ac_config_str(cfg, "greeting"), "  hello # not a comment \"x\" \\ ");
    cr_assert_eq(ac_config_int(cfg, "timeout-ms"), 0);
    ac_config_destroy(cfg);
}

Test(config, unquoted_hash_without_space_is_value)
{
    struct ac_config *cfg = test_load("greeting = a#b c\n");
    cr_assert_not_null(cfg, "%s", test_err);
    cr_assert_str_eq(ac_config_str(cfg, "greeting"), "a#b c");
    ac_config_destroy(cfg);
}

Test(config, env_overrides_file_and_default)
{
    setenv("AFTERCARE_BATCH_SIZE", "20", 1);
    setenv("AFTERCARE_TIMEOUT_MS", "7", 1);
    setenv("AFTERCARE_KAFKA_BROKERS", "env:9092", 1);
    struct ac_config *cfg = test_load("batch.size = 10\nrate.limit = 3\n");
    cr_assert_not_null(cfg, "%s", test_err);
    cr_assert_eq(ac_config_int(cfg, "batch.size"), 20);
    cr_assert_eq(ac_config_int(cfg, "timeout-ms"), 7);
    cr_assert_str_eq(ac_config_str(cfg, "kafka.brokers"), "env:9092");
    cr_assert_float_eq(ac_config_double(cfg, "rate.limit"), 3.0, 1e-12);
    ac_config_destroy(cfg);
}

Test(config, env_invalid_names_variable)
{
    setenv("AFTERCARE_BATCH_SIZE", "x", 1);
    test_fails("batch.size = 10\n",
               "environment AFTERCARE_BATCH_SIZE: expects an integer, got 'x'");
    setenv("AFTERCARE_BATCH_SIZE", "0", 1);
    test_fails(NULL, "environment AFTERCARE_BATCH_SIZE: must be between 1 and 10000, got '0'");
    setenv("AFTERCARE_BATCH_SIZE", " 5", 1);
    test_fails(NULL, "environment AFTERCARE_BATCH_SIZE: expects an integer, got ' 5'");
    unsetenv("AFTERCARE_BATCH_SIZE");
    setenv("AFTERCARE_EMIT_ENABLED", "maybe", 1);
    test_fails(NULL, "environment AFTERCARE_EMIT_ENABLED: expects a boolean "
                     "(true/false, yes/no, on/off, 1/0), got 'maybe'");
}

Test(config, unknown_key_did_you_mean)
{
    test_fails("kafka.brokers = x\n# c\nbatch.sise = 5\n",
               "orders.conf:3:1: unknown key 'batch.sise' (did you mean 'batch.size'?)");
    test_fails("  emitenabled = 1\n",
               "orders.conf:1:3: unknown key 'emitenabled' (did you mean 'emit.enabled'?)");
    test_fails("timeout_ms = 1\n",
               "orders.conf:1:1: unknown key 'timeout_ms' (did you mean 'timeout-ms'?)");
    test_fails("\n\n  zzz = 1\n", "orders.conf:3:3: unknown key 'zzz'");
    test_fails("batch.sizeeeee = 1\n", "orders.conf:1:1: unknown key 'batch.sizeeeee'");
}

Test(config, bad_int)
{
    test_fails("# header\n\nkafka.brokers = b\nbatch.size = ten\n",
               "orders.conf:4:14: 'batch.size' expects an integer, got 'ten'");
    test_fails("batch.size = 12abc\n",
               "orders.conf:1:14: 'batch.size' expects an integer, got '12abc'");
    test_fails("batch.size =\n", "orders.conf:1:13: 'batch.size' expects an integer, got ''");
    test_fails("timeout-ms = 99999999999999999999\n",
               "orders.conf:1:14: 'timeout-ms' is out of the 64-bit integer range, "
               "got '99999999999999999999'");
}

Test(config, int_out_of_range_names_min_max)
{
    test_fails("batch.size = 0\n",
               "orders.conf:1:14: 'batch.size' must be between 1 and 10000, got '0'");
    test_fails("batch.size    =   10001\n",
               "orders.conf:1:19: 'batch.size' must be between 1 and 10000, got '10001'");
    struct ac_config *cfg = test_load("batch.size = 10000\n");
    cr_assert_not_null(cfg, "%s", test_err);
    cr_assert_eq(ac_config_int(cfg, "batch.size"), 10000);
    ac_config_destroy(cfg);
}

Test(config, bool_forms)
{
    static const char *const yes[] = {"true", "yes", "1", "on", "TRUE", "Yes", "ON"};
    static const char *const no[] = {"false", "no", "0", "off", "False", "NO", "Off"};
    char text[64];

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        snprintf(text, sizeof(text), "emit.enabled = %s\n", yes[i]);
        struct ac_config *cfg = test_load(text);
        cr_assert_not_null(cfg, "%s", test_err);
        cr_assert_eq(ac_config_bool(cfg, "emit.enabled"), 1, "%s", yes[i]);
        ac_config_destroy(cfg);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        snprintf(text, sizeof(text), "emit.enabled = \"%s\"\n", no[i]);
        struct ac_config *cfg = test_load(text);
        cr_assert_not_null(cfg, "%s", test_err);
        cr_assert_eq(ac_config_bool(cfg, "emit.enabled"), 0, "%s", no[i]);
        ac_config_destroy(cfg);
    }
    test_fails("emit.enabled = y\n", "orders.conf:1:16: 'emit.enabled' expects a boolean "
                                     "(true/false, yes/no, on/off, 1/0), got 'y'");
}

Test(config, bad_double)
{
    test_fails("rate.limit = fast\n",
               "orders.conf:1:14: 'rate.limit' expects a number, got 'fast'");
    test_fails("rate.limit = nan\n", "orders.conf:1:14: 'rate.limit' expects a number, got 'nan'");
    test_fails("rate.limit = 1e999\n",
               "orders.conf:1:14: 'rate.limit' expects a number, got '1e999'");
}

Test(config, duplicate_keys)
{
    test_fails("batch.size = 1\n batch.size = 2\n",
               "orders.conf:2:2: duplicate key 'batch.size' (first set on line 1)");
    test_fails("kafka.client.id = a\n\nkafka.client.id = b\n",
               "orders.conf:3:1: duplicate key 'kafka.client.id' (first set on line 1)");
}

Test(config, syntax_errors)
{
    test_fails("batch.size 5\n", "orders.conf:1:12: expected '=' after 'batch.size'");
    test_fails("batch.size\n", "orders.conf:1:11: expected '=' after 'batch.size'");
    test_fails("  = 5\n", "orders.conf:1:3: missing key before '='");
    test_fails("batch@size = 5\n", "orders.conf:1:6: invalid character '@' in key");
    test_fails("greeting = \"abc\n", "orders.conf:1:12: unterminated quoted value");
    test_fails("greeting = \"abc\" def\n",
               "orders.conf:1:18: unexpected text after the closing quote");
}

Test(config, missing_file)
{
    test_err[0] = '\0';
    struct ac_config *cfg = ac_config_load(test_tables, 2, "nope.conf", test_err, sizeof(test_err));
    cr_assert_null(cfg);
    cr_assert_str_eq(test_err, "nope.conf: cannot open: No such file or directory");
}

struct test_kv {
    char seen[512];
    int stop_after;
    int calls;
};

static int test_collect(const char *name, const char *value, void *opaque)
{
    struct test_kv *kv = opaque;
    size_t len = strlen(kv->seen);
    snprintf(kv->seen + len, sizeof(kv->seen) - len, "%s=%s;", name, value);
    kv->calls++;
    return kv->calls == kv->stop_after ? 42 : 0;
}

Test(config, kafka_passthrough_in_file_order)
{
    struct ac_config *cfg = test_load("kafka.security.protocol = SASL_SSL\n"
                                      "kafka.brokers = b:9092\n"
                                      "kafka.sasl.mechanism = PLAIN\n"
                                      "batch.size = 3\n"
                                      "kafka.client.id = \"orders #1\"\n");
    cr_assert_not_null(cfg, "%s", test_err);
    cr_assert_str_eq(ac_config_str(cfg, "kafka.brokers"), "b:9092");

    struct test_kv kv = {.stop_after = 0};
    cr_assert_eq(ac_config_each_kafka(cfg, test_collect, &kv), 0);
    cr_assert_str_eq(kv.seen,
                     "security.protocol=SASL_SSL;sasl.mechanism=PLAIN;client.id=orders #1;");

    struct test_kv stop = {.stop_after = 2};
    cr_assert_eq(ac_config_each_kafka(cfg, test_collect, &stop), 42);
    cr_assert_eq(stop.calls, 2);

    /* set replaces in place and appends new ones at the end */
    cr_assert_eq(ac_config_set(cfg, "kafka.sasl.mechanism", "SCRAM-SHA-512", NULL, 0), 0);
    cr_assert_eq(ac_config_set(cfg, "kafka.debug", "all", NULL, 0), 0);
    struct test_kv again = {.stop_after = 0};
    ac_config_each_kafka(cfg, test_collect, &again);
    cr_assert_str_eq(again.seen, "security.protocol=SASL_SSL;sasl.mechanism=SCRAM-SHA-512;"
                                 "client.id=orders #1;debug=all;");
    ac_config_destroy(cfg);
}

/* AFTERCARE_KAFKA_<PROPERTY>: a pass-through property from the environment
 * (underscores are dots), winning over the file's; AFTERCARE_KAFKA_BROKERS
 * stays the declared key kafka.brokers. */
Test(config, kafka_passthrough_from_the_environment)
{
    setenv("AFTERCARE_KAFKA_CONSUMER_FETCH_WAIT_MAX_MS", "10", 1);
    setenv("AFTERCARE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", 1);
    setenv("AFTERCARE_KAFKA_BROKERS", "env:9092", 1);
    struct ac_config *cfg = test_load("kafka.sasl.mechanism = PLAIN\nkafka.client.id = x\n");
    cr_assert_not_null(cfg, "%s", test_err);
    cr_assert_str_eq(ac_config_str(cfg, "kafka.brokers"), "env:9092");
    struct test_kv kv = {.stop_after = 0};
    cr_assert_eq(ac_config_each_kafka(cfg, test_collect, &kv), 0);
    cr_assert(strstr(kv.seen, "sasl.mechanism=SCRAM-SHA-512;"), "%s", kv.seen);
    cr_assert(strstr(kv.seen, "client.id=x;"), "%s", kv.seen);
    cr_assert(strstr(kv.seen, "consumer.fetch.wait.max.ms=10;"), "%s", kv.seen);
    cr_assert_null(strstr(kv.seen, "brokers"), "%s", kv.seen);
    ac_config_destroy(cfg);
}

Test(config, required_key)
{
    struct ac_config *cfg = ac_config_load(test_tables_req, 2, NULL, test_err, sizeof(test_err));
    cr_assert_null(cfg);
    cr_assert_str_eq(test_err, "missing required key 'redis.url' "
                               "(set it in the config file or AFTERCARE_REDIS_URL)");

    test_write("redis.url = redis://r:6379/0\n");
    cfg = ac_config_load(test_tables_req, 2, "orders.conf", test_err, sizeof(test_err));
    cr_assert_not_null(cfg, "%s", test_err);
    cr_assert_str_eq(ac_config_str(cfg, "redis.url"), "redis://r:6379/0");
    ac_config_destroy(cfg);

    setenv("AFTERCARE_REDIS_URL", "redis://env", 1);
    cfg = ac_config_load(test_tables_req, 2, NULL, test_err, sizeof(test_err));
    cr_assert_not_null(cfg, "%s", test_err);
    cr_assert_str_eq(ac_config_str(cfg, "redis.url"), "redis://env");
    ac_config_destroy(cfg);
}

Test(config, set_validates)
{
    struct ac_config *cfg = test_load(NULL);
    cr_assert_not_null(cfg, "%s", test_err);
    cr_assert_eq(ac_config_set(cfg, "batch.size", "77", test_err, sizeof(test_err)), 0);
    cr_assert_eq(ac_config_int(cfg, "batch.size"), 77);
    cr_assert_eq(ac_config_set(cfg, "batch.size", "ten", test_err, sizeof(test_err)),
                 AC_ERR_INVALID);
    cr_assert_str_eq(test_err, "'batch.size' expects an integer, got 'ten'");
    cr_assert_eq(ac_config_int(cfg, "batch.size"), 77, "a failed set keeps the old value");
    cr_assert_eq(ac_config_set(cfg, "batch.sizes", "1", test_err, sizeof(test_err)),
                 AC_ERR_INVALID);
    cr_assert_str_eq(test_err, "unknown key 'batch.sizes' (did you mean 'batch.size'?)");
    cr_assert_eq(ac_config_set(cfg, "greeting", "hi", test_err, sizeof(test_err)), 0);
    cr_assert_str_eq(ac_config_str(cfg, "greeting"), "hi");
    ac_config_destroy(cfg);
}

Test(config, getter_type_mismatch_aborts, .signal = SIGABRT)
{
    struct ac_config *cfg = test_load(NULL);
    cr_assert_not_null(cfg);
    ac_config_int(cfg, "greeting");
}

Test(config, getter_unknown_key_aborts, .signal = SIGABRT)
{
    struct ac_config *cfg = test_load(NULL);
    cr_assert_not_null(cfg);
    ac_config_str(cfg, "no.such.key");
}

Test(config, print_help_aligned)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cr_assert_not_null(out);
    ac_config_print_help(test_tables_req, 2, out);
    fclose(out);

    /* Every column starts at the same offset on every row. */
    char *header = text;
    char *nl = strchr(header, '\n');
    cr_assert_not_null(nl);
    size_t type_col = (size_t)(strstr(header, "TYPE") - header);
    size_t env_col = (size_t)(strstr(header, "ENVIRONMENT") - header);
    size_t help_col = (size_t)(strstr(header, "DESCRIPTION") - header);

    const char *row = strstr(text, "\nbatch.size ");
    cr_assert_not_null(row, "%s", text);
    row++;
    cr_assert_eq(strncmp(row + type_col, "int 1..10000", 12), 0, "%s", text);
    cr_assert_eq(strncmp(row + env_col, "AFTERCARE_BATCH_SIZE", 20), 0, "%s", text);
    cr_assert_eq(strncmp(row + help_col, "Events per batch", 16), 0, "%s", text);
    cr_assert_not_null(strstr(row, "500"));

    row = strstr(text, "\nredis.url ");
    cr_assert_not_null(row, "%s", text);
    row++;
    cr_assert_eq(strncmp(row + type_col, "string", 6), 0, "%s", text);
    cr_assert_not_null(strstr(row, "(required)"));
    cr_assert_eq(strncmp(row + env_col, "AFTERCARE_REDIS_URL", 19), 0, "%s", text);

    row = strstr(text, "\nemit.enabled ");
    cr_assert_not_null(row, "%s", text);
    cr_assert_eq(strncmp(row + 1 + type_col, "bool", 4), 0, "%s", text);
    free(text);
}
