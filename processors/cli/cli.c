/* aftercare — the command for people: dev stack, produce and consume JSON
 * lines. Each subcommand has --help. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "cli.h"
#include "log.h"

static void aftercare_usage(FILE *out)
{
    fprintf(out,
            "usage: aftercare COMMAND [ARGS]\n\n"
            "commands:\n"
            "  dev [--partitions N] [--demo]   embedded Kafka (mock cluster) + redis-server;\n"
            "                                  --demo: sample customers' journeys, weeks of\n"
            "                                  them in a minute, and a timeline per customer\n"
            "  produce TOPIC [FILE]            JSON lines -> Avro -> Kafka (keyed by customer_id)\n"
            "  consume TOPIC [--from-beginning] [--max N] [--timeout S]\n"
            "                                  Avro -> JSON lines on stdout\n"
            "  check PLAYBOOK...               validate playbooks (errors as file:line:column)\n"
            "  simulate --events FILE [--playbook P] [--until T] [--against OTHER]\n"
            "                                  what a playbook would do, on event time\n"
            "  --version, --help\n\n"
            "environment: AFTERCARE_KAFKA_BROKERS, AFTERCARE_REDIS_URL, AFTERCARE_SCHEMAS_DIR\n"
            "Run `aftercare COMMAND --help` for a command's options.\n");
}

const char *cli_brokers(const char *flag)
{
    const char *b = flag ? flag : getenv("AFTERCARE_KAFKA_BROKERS");
    if (!b || !*b) {
        fprintf(stderr, "aftercare: no brokers: set AFTERCARE_KAFKA_BROKERS or pass --brokers "
                        "(`eval $(aftercare dev)` sets it for the embedded cluster)\n");
        return NULL;
    }
    return b;
}

struct ac_codec *cli_codec(void)
{
    char err[512];
    const char *dir = getenv("AFTERCARE_SCHEMAS_DIR");
    const char *reg = getenv("AFTERCARE_SCHEMAS_REGISTRY_DIR");
    struct ac_codec *codec =
        ac_codec_new(dir && *dir ? dir : AC_SCHEMA_DIR, reg && *reg ? reg : NULL, err, sizeof(err));
    if (!codec) {
        fprintf(stderr, "aftercare: %s\n", err);
    }
    return codec;
}

const char *cli_schema_of(const char *topic)
{
    static const char *const names[] = {"orders",  "deliveries", "feedback", "usage",
                                        "actions", "signals",    "decisions"};
    const char *t = strncmp(topic, "aftercare.", 10) == 0 ? topic + 10 : topic;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(t, names[i]) == 0) {
            return names[i];
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    ac_log_init("aftercare");
    ac_log_set_level(AC_LOG_WARN);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        aftercare_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("aftercare %s\n", AC_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "produce") == 0) {
        return cli_produce(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "consume") == 0) {
        return cli_consume(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "check") == 0) {
        return cli_check(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "simulate") == 0) {
        return cli_simulate(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "dev") == 0) {
        return cli_dev(argc - 1, argv + 1);
    }
    fprintf(stderr, "aftercare: unknown command '%s'\n\n", argv[1]);
    aftercare_usage(stderr);
    return 2;
}
