/* cli_dev.c — `aftercare dev`: the embedded default stack, and the demo. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "devstack.h"
#include "store.h"

#ifndef AC_SOURCE_DIR
#define AC_SOURCE_DIR "."
#endif

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
    const char *events;
};

static void dev_usage(void)
{
    printf("usage: aftercare dev [--partitions N] [--brokers N] [--detach]\n"
           "       aftercare dev --demo [--events FILE]\n\n"
           "Starts librdkafka's mock cluster (a Kafka-protocol broker in this process) with\n"
           "every aftercare topic, and a redis-server on a free loopback port with AOF.\n"
           "Prints shell lines to eval, then runs until SIGTERM/SIGINT and cleans up:\n\n"
           "  eval \"$(aftercare dev --detach)\"   # sets AFTERCARE_KAFKA_BROKERS etc.\n"
           "  kill $AFTERCARE_DEV_PID             # stops it\n\n"
           "It also sets AFTERCARE_KAFKA_CONSUMER_FETCH_WAIT_MAX_MS=10: the embedded broker\n"
           "answers a fetch that finds nothing only after fetch.wait.max.ms (librdkafka's\n"
           "default 500 ms), even when data arrives meanwhile; a real broker answers as\n"
           "soon as data arrives, so production keeps the default.\n\n"
           "--demo runs aftercare-orders on sample customers and prints every action and\n"
           "signal as JSON lines, then stops. The mock keeps at most 5 MiB per partition.\n");
}

/* The directory of this executable, where the processors are built too. */
static void dev_bindir(char *out, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        snprintf(out, len, ".");
        return;
    }
    self[n] = '\0';
    snprintf(out, len, "%s", dirname(self));
}

static pid_t dev_spawn_processor(const char *name, const char *config, const char *logpath,
                                 const char *brokers, const char *redis_url)
{
    char bindir[PATH_MAX], exe[PATH_MAX + 64];
    dev_bindir(bindir, sizeof(bindir));
    snprintf(exe, sizeof(exe), "%s/aftercare-%s", bindir, name);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        setenv("AFTERCARE_KAFKA_BROKERS", brokers, 1);
        setenv("AFTERCARE_REDIS_URL", redis_url, 1);
        execl(exe, exe, "--config", config, (char *)NULL);
        fprintf(stderr, "cannot run %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    return pid;
}

static int dev_demo(const struct dev_opts *o, struct ac_dev_kafka *dk, struct ac_dev_redis *dr)
{
    char config[512], logpath[512], events[1024];
    const char *brokers = ac_dev_kafka_brokers(dk);
    snprintf(config, sizeof(config), "%s/demo.conf", dr->dir);
    snprintf(logpath, sizeof(logpath), "%s/processors.log", dr->dir);
    snprintf(events, sizeof(events), "%s",
             o->events ? o->events : AC_SOURCE_DIR "/deploy/demo/orders.jsonl");
    FILE *f = fopen(config, "w");
    if (!f) {
        fprintf(stderr, "aftercare dev: %s: %s\n", config, strerror(errno));
        return 1;
    }
    fprintf(f, "# written by `aftercare dev --demo`\n"
               "http.port = 0\n"
               "batch.ms = 20\n"
               "kafka.consumer.fetch.wait.max.ms = 10\n"
               "kafka.consumer.session.timeout.ms = 6000\n"
               "kafka.consumer.heartbeat.interval.ms = 500\n");
    fclose(f);
    char tconfig[512];
    snprintf(tconfig, sizeof(tconfig), "%s/timers.conf", dr->dir);
    if (!(f = fopen(tconfig, "w"))) {
        fprintf(stderr, "aftercare dev: %s: %s\n", tconfig, strerror(errno));
        return 1;
    }
    fprintf(f, "# written by `aftercare dev --demo`\nhttp.port = 0\ntimers.idle_ms = 50\n"
               "timers.inputs = orders\n");
    fclose(f);
    struct ac_codec *codec = cli_codec();
    if (!codec) {
        return 1;
    }
    printf("# demo: processors log to %s (kept with AFTERCARE_DEV_KEEP=1)\n", logpath);
    pid_t orders = dev_spawn_processor("orders", config, logpath, brokers, dr->url);
    pid_t timers = dev_spawn_processor("timers", tconfig, logpath, brokers, dr->url);
    FILE *in = fopen(events, "r");
    if (!in) {
        fprintf(stderr, "aftercare dev: %s: %s\n", events, strerror(errno));
        kill(orders, SIGTERM);
        kill(timers, SIGTERM);
        waitpid(orders, NULL, 0);
        waitpid(timers, NULL, 0);
        ac_codec_destroy(codec);
        return 1;
    }
    long sent = 0, n_actions = 0, n_signals = 0;
    int rc = cli_produce_stream(brokers, codec, "orders", "orders", in, events, &sent);
    fclose(in);
    printf("# demo: produced %ld order events from %s; actions as they are emitted:\n", sent,
           events);
    fflush(stdout);
    if (rc == 0) {
        /* The first group join of the mock takes ~3 s; then actions flow. */
        struct cli_consume_opts co = {brokers, "aftercare.actions", 1, 0, 8.0, &dev_stop};
        rc = cli_consume_stream(&co, codec, stdout, &n_actions);
        printf("# demo: signals:\n");
        fflush(stdout);
        struct cli_consume_opts cs = {brokers, "aftercare.signals", 1, 0, 2.0, &dev_stop};
        rc |= cli_consume_stream(&cs, codec, stdout, &n_signals);
    }
    int64_t pending = -1, overdue = -1;
    char err[256];
    struct ac_store *st = ac_store_new(dr->url, "ac", err, sizeof(err));
    if (st && ac_store_connect(st, err, sizeof(err)) == 0) {
        (void)ac_store_timer_counts(st, ac_clock_now(ac_clock_wall()), &pending, &overdue);
    }
    ac_store_destroy(st);
    kill(orders, SIGTERM);
    kill(timers, SIGTERM);
    int status = 0, tstatus = 0;
    waitpid(orders, &status, 0);
    waitpid(timers, &tstatus, 0);
    printf("# demo: %ld actions, %ld signals; %lld customers with timers pending (reminders, "
           "check-ins, anniversaries: `aftercare simulate` shows when they fire)\n",
           n_actions, n_signals, (long long)pending);
    printf("# demo: after SIGTERM aftercare-orders exited with %d, aftercare-timers with %d\n",
           WIFEXITED(status) ? WEXITSTATUS(status) : -1,
           WIFEXITED(tstatus) ? WEXITSTATUS(tstatus) : -1);
    if (!WIFEXITED(tstatus) || WEXITSTATUS(tstatus) != 0) {
        status = tstatus;
    }
    ac_codec_destroy(codec);
    int failed = rc != 0 || n_actions == 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    if (failed) {
        /* The directory goes away on exit: show what the processor said. */
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "tail -n 20 '%s' >&2", logpath);
        int r = system(cmd);
        (void)r;
    }
    return failed;
}

int cli_dev(int argc, char **argv)
{
    struct dev_opts o = {4, 1, 0, 0, NULL};
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
        } else {
            fprintf(stderr, "aftercare dev: unexpected argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
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
        rc = dev_demo(&o, dk, &dr);
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
