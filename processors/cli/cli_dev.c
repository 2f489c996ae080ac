/* cli_dev.c — `aftercare dev`: the embedded default stack, and the demo. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "devstack.h"

#ifndef AC_SOURCE_DIR
#define AC_SOURCE_DIR "."
#endif

/* A day every two seconds: four weeks of journeys in about a minute. */
#define DEV_DEMO_SPEED 43200

static volatile int dev_stop;

static void dev_on_signal(int sig)
{
    (void)sig;
    dev_stop = 1;
}

struct dev_opts {
    int partitions;
    int brokers;
    int demo;
    int detach;
    int attach;
    int json;
    int64_t speed;
    const char *events;
};

static void dev_usage(void)
{
    printf("usage: aftercare dev [--partitions N] [--brokers N] [--detach]\n"
           "       aftercare dev --demo [--events FILE] [--speed N] [--json] [--attach]\n\n"
           "Starts librdkafka's mock cluster (a Kafka-protocol broker in this process) with\n"
           "every aftercare topic, and a redis-server on a free loopback port with AOF.\n"
           "Prints shell lines to eval, then runs until SIGTERM/SIGINT and cleans up:\n\n"
           "  eval \"$(aftercare dev --detach)\"   # sets AFTERCARE_KAFKA_BROKERS etc.\n"
           "  kill $AFTERCARE_DEV_PID             # stops it\n\n"
           "It also sets AFTERCARE_KAFKA_CONSUMER_FETCH_WAIT_MAX_MS=10: the embedded broker\n"
           "answers a fetch that finds nothing only after fetch.wait.max.ms (librdkafka's\n"
           "default 500 ms), even when data arrives meanwhile; a real broker answers as\n"
           "soon as data arrives, so production keeps the default.\n\n"
           "--demo runs every processor and aftercare-timers on one clock N times faster\n"
           "than the wall clock (--speed, default %d: a day every 2 s), feeds the sample\n"
           "customers of FILE (default deploy/demo/journeys.jsonl: times such as \"+2d6h\"\n"
           "are from now; a line \"# <customer_id>: text\" names a customer) to orders,\n"
           "deliveries, feedback and usage as that clock reaches each event, prints every\n"
           "action as it is emitted (--json: actions as JSON lines), and once the clock is\n"
           "a day past the last event, stops the processes and prints a timeline per\n"
           "customer: events, signals, what was sent, when and why, and what was not (capped,\n"
           "suppressed, cancelled, expired ...), from aftercare.decisions. --attach runs it\n"
           "on a fresh stack started with --detach instead of its own. Exit status 0 when\n"
           "actions came out and every process stopped cleanly.\n"
           "The mock keeps at most 5 MiB per partition.\n",
           DEV_DEMO_SPEED);
}

static int dev_demo(const struct dev_opts *o, const char *brokers, const char *redis_url,
                    const char *dir)
{
    char events[PATH_MAX];
    snprintf(events, sizeof(events), "%s",
             o->events ? o->events : AC_SOURCE_DIR "/deploy/demo/journeys.jsonl");
    const struct cli_demo_opts d = {brokers, redis_url, dir, events, o->speed, o->json, &dev_stop};
    return cli_demo_run(&d, stdout);
}

/* --demo --attach: on the stack named by the environment, with its configs
 * and log in a directory of its own. */
static int dev_demo_attached(const struct dev_opts *o)
{
    const char *brokers = cli_brokers(NULL);
    const char *redis_url = getenv("AFTERCARE_REDIS_URL");
    if (!brokers || !redis_url || !*redis_url) {
        fprintf(stderr, "aftercare dev: --attach needs AFTERCARE_KAFKA_BROKERS and "
                        "AFTERCARE_REDIS_URL (eval \"$(aftercare dev --detach)\")\n");
        return 2;
    }
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/aftercare-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "aftercare dev: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    signal(SIGINT, dev_on_signal);
    signal(SIGTERM, dev_on_signal);
    int rc = dev_demo(o, brokers, redis_url, dir);
    const char *keep = getenv("AFTERCARE_DEV_KEEP");
    if (!(keep && *keep)) {
        static const char *const files[] = {"orders.conf", "deliveries.conf", "feedback.conf",
                                            "usage.conf",  "timers.conf",     "processors.log"};
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
            char path[PATH_MAX + 32];
            snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
            (void)unlink(path);
        }
        (void)rmdir(dir);
    }
    return rc;
}

int cli_dev(int argc, char **argv)
{
    struct dev_opts o = {4, 1, 0, 0, 0, 0, DEV_DEMO_SPEED, NULL};
    char err[512];
    int pipefd[2] = {-1, -1};
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--help") == 0) {
            dev_usage();
            return 0;
        } else if (strcmp(argv[i], "--partitions") == 0 && i + 1 < argc) {
            o.partitions = (int)strtol(argv[++i], &end, 10);
            if (*end || o.partitions < 1 || o.partitions > 256) {
                fprintf(stderr, "aftercare dev: --partitions expects 1..256\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
            o.brokers = (int)strtol(argv[++i], &end, 10);
            if (*end || o.brokers < 1 || o.brokers > 9) {
                fprintf(stderr, "aftercare dev: --brokers expects 1..9\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--demo") == 0) {
            o.demo = 1;
        } else if (strcmp(argv[i], "--detach") == 0) {
            o.detach = 1;
        } else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
            o.events = argv[++i];
        } else if (strcmp(argv[i], "--speed") == 0 && i + 1 < argc) {
            long long v = strtoll(argv[++i], &end, 10);
            if (*end || v < 1 || v > 1000000) {
                fprintf(stderr, "aftercare dev: --speed expects 1..1000000\n");
                return 2;
            }
            o.speed = v;
        } else if (strcmp(argv[i], "--json") == 0) {
            o.json = 1;
        } else if (strcmp(argv[i], "--attach") == 0) {
            o.attach = 1;
        } else {
            fprintf(stderr, "aftercare dev: unexpected argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if ((o.attach || o.json || o.events || o.speed != DEV_DEMO_SPEED) && !o.demo) {
        fprintf(stderr, "aftercare dev: --attach, --events, --speed and --json go with --demo\n");
        return 2;
    }
    if (o.attach) {
        return dev_demo_attached(&o);
    }
    if (o.detach && !o.demo) {
        /* The parent relays the child's shell lines, then returns. */
        /* close-on-exec: redis-server must not hold the shell's pipe open */
        if (pipe2(pipefd, O_CLOEXEC) != 0) {
            perror("aftercare dev: pipe");
            return 1;
        }
        pid_t pid = fork();
        if (pid > 0) {
            char buf[4096];
            ssize_t n;
            close(pipefd[1]);
            while ((n = read(pipefd[0], buf, sizeof(buf))) > 0) {
                fwrite(buf, 1, (size_t)n, stdout);
            }
            close(pipefd[0]);
            return 0;
        }
        close(pipefd[0]);
        setsid();
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        close(null);
    }
    signal(SIGINT, dev_on_signal);
    signal(SIGTERM, dev_on_signal);
    struct ac_dev_redis dr;
    if (ac_dev_redis_start(&dr, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "aftercare dev: %s\n", err);
        return 1;
    }
    struct ac_dev_kafka *dk = ac_dev_kafka_start(o.brokers, o.partitions, err, sizeof(err));
    if (!dk) {
        fprintf(stderr, "aftercare dev: %s\n", err);
        ac_dev_redis_stop(&dr, SIGTERM);
        return 1;
    }
    char lines[1024];
    snprintf(lines, sizeof(lines),
             "export AFTERCARE_KAFKA_BROKERS=%s\nexport AFTERCARE_REDIS_URL=%s\n"
             "export AFTERCARE_DEV_PID=%d\n%s",
             ac_dev_kafka_brokers(dk), dr.url, (int)getpid(), AC_DEV_KAFKA_ENV);
    int rc = 0;
    if (o.demo) {
        fputs(lines, stdout);
        rc = dev_demo(&o, ac_dev_kafka_brokers(dk), dr.url, dr.dir);
    } else {
        if (pipefd[1] >= 0) {
            ssize_t w = write(pipefd[1], lines, strlen(lines));
            (void)w;
            close(pipefd[1]);
        } else {
            fputs(lines, stdout);
            printf("# running until SIGTERM/SIGINT (redis data in %s)\n", dr.dir);
            fflush(stdout);
        }
        while (!dev_stop) {
            pause();
        }
    }
    ac_dev_kafka_stop(dk);
    ac_dev_redis_stop(&dr, SIGTERM);
    ac_dev_redis_cleanup(&dr);
    return rc;
}
