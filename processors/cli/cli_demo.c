/* cli_demo.c — `aftercare dev --demo`: sample customers' journeys, weeks of
 * them in a minute.
 *
 * Every processor and the timer process run on one sped-up clock
 * (clock.speed, clock.epoch_ms: testing only). Once the processors have
 * joined their groups, the sample's times (offsets from now, cli_events.c)
 * are fixed against that clock, and each event is produced when the clock
 * reaches it, so a reply to a reminder comes after the reminder, as it
 * would. Actions are printed as they are emitted; once the clock has passed
 * the last event by a day and everything up to then is on Kafka (inputs
 * processed, no timer due, outboxes empty), the processes are stopped and
 * the timeline per customer is printed from aftercare.decisions and
 * aftercare.signals. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "err.h"
#include "kafka.h"
#include "store.h"

#define DEMO_READY_MS 60000 /* the processors join their groups */
#define DEMO_DRAIN_MS 60000 /* the clock passed the end; the last records out */
#define DEMO_MAX_SPAN (60 * 86400000LL)
#define DEMO_TAIL (86400000LL) /* the clock runs a day past the last event */
#define DEMO_ROUND (600000LL)  /* day 0 starts on a whole 10 minutes */

static const char *const demo_procs[] = {"orders", "deliveries", "feedback", "usage", "timers"};
#define DEMO_N_PROCS 5
#define DEMO_N_INPUTS 4 /* the first four read the input topics, in enum ac_topic order */

struct demo {
    const struct cli_demo_opts *o;
    struct ac_codec *codec;
    struct cli_timeline *tl;
    struct cli_sample sample;
    pid_t pid[DEMO_N_PROCS];
    char logpath[PATH_MAX];
    struct ac_clock clock;
    int64_t day0, end;
    rd_kafka_t *rk;
    long produce_failed;
    struct ac_store *st;
};

/* --- the processes --------------------------------------------------------------------------- */

/* The directory of this executable, where the processors are built too. */
static void demo_bindir(char *out, size_t len)
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

static pid_t demo_spawn(const struct cli_demo_opts *o, const char *name, const char *config,
                        const char *logpath)
{
    char bindir[PATH_MAX], exe[PATH_MAX + 64];
    demo_bindir(bindir, sizeof(bindir));
    snprintf(exe, sizeof(exe), "%s/aftercare-%s", bindir, name);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        setenv("AFTERCARE_KAFKA_BROKERS", o->brokers, 1);
        setenv("AFTERCARE_REDIS_URL", o->redis_url, 1);
        execl(exe, exe, "--config", config, (char *)NULL);
        fprintf(stderr, "cannot run %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    return pid;
}

/* Writes <dir>/<name>.conf and starts aftercare-<name> on the demo's clock. */
static int demo_start(struct demo *d, int i, int64_t epoch)
{
    const struct cli_demo_opts *o = d->o;
    const char *name = demo_procs[i];
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s.conf", o->dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "aftercare dev: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "# written by `aftercare dev --demo`\nhttp.port = 0\n");
    fprintf(f, "clock.speed = %lld\nclock.epoch_ms = %lld\n", (long long)o->speed,
            (long long)epoch);
    if (i < DEMO_N_INPUTS) {
        fprintf(f, "batch.ms = 10\n"
                   "kafka.consumer.fetch.wait.max.ms = 10\n"
                   "kafka.consumer.session.timeout.ms = 6000\n"
                   "kafka.consumer.heartbeat.interval.ms = 500\n");
    } else {
        /* Timers fire on the clock alone: the processors' event-time reports
         * come once a wall second, half a day of this clock. */
        fprintf(f, "timers.idle_ms = 10\ntimers.event_time = false\n");
    }
    fclose(f);
    d->pid[i] = demo_spawn(o, name, path, d->logpath);
    return d->pid[i] > 0 ? 0 : -1;
}

/* A process that has exited on its own, or -1. */
static int demo_dead(struct demo *d)
{
    for (int i = 0; i < DEMO_N_PROCS; i++) {
        int status;
        if (d->pid[i] > 0 && waitpid(d->pid[i], &status, WNOHANG) == d->pid[i]) {
            fprintf(stderr, "aftercare dev: aftercare-%s stopped (status %d)\n", demo_procs[i],
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            d->pid[i] = 0;
            return i;
        }
    }
    return -1;
}

/* SIGTERM to every process; 0 if each exited 0. */
static int demo_stop(struct demo *d)
{
    int failed = 0;
    for (int i = 0; i < DEMO_N_PROCS; i++) {
        if (d->pid[i] > 0) {
            kill(d->pid[i], SIGTERM);
        }
    }
    for (int i = 0; i < DEMO_N_PROCS; i++) {
        int status = 0;
        if (d->pid[i] <= 0) {
            failed = 1;
            continue;
        }
        if (waitpid(d->pid[i], &status, 0) != d->pid[i] || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
            fprintf(stderr, "aftercare dev: aftercare-%s exited with %d after SIGTERM\n",
                    demo_procs[i], WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            failed = 1;
        }
        d->pid[i] = 0;
    }
    return failed;
}

/* --- waiting on the stack -------------------------------------------------------------------- */

static int64_t demo_now(const struct demo *d)
{
    return ac_clock_now(&d->clock);
}

struct demo_ewm {
    int seen[DEMO_N_INPUTS];
};

static void demo_ewm_field(const char *field, int64_t at, void *opaque)
{
    struct demo_ewm *w = opaque;
    (void)at;
    for (int t = 0; t < DEMO_N_INPUTS; t++) {
        const char *name = ac_topic_name((enum ac_topic)t);
        size_t len = strlen(name);
        if (strncmp(field, name, len) == 0 && field[len] == ':') {
            w->seen[t]++;
        }
    }
}

static int demo_partitions(struct demo *d, const char *topic)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(d->rk, topic, NULL);
    int n = -1;
    if (t && rd_kafka_metadata(d->rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && !md->topics[0].err) {
        n = md->topics[0].partition_cnt;
    }
    if (md) {
        rd_kafka_metadata_destroy(md);
    }
    if (t) {
        rd_kafka_topic_destroy(t);
    }
    return n;
}

/* Every input partition is assigned to a processor: each has reported how
 * far it got (<prefix>:ewm; an idle processor does once a second). */
static int demo_ready(struct demo *d, const int *parts)
{
    struct demo_ewm w;
    memset(&w, 0, sizeof(w));
    if (ac_store_event_times(d->st, demo_ewm_field, &w) != 0) {
        return 0;
    }
    for (int t = 0; t < DEMO_N_INPUTS; t++) {
        if (w.seen[t] < parts[t]) {
            return 0;
        }
    }
    return 1;
}

static void demo_count(const char *customer_id, int stale, void *opaque)
{
    (void)customer_id;
    (void)stale;
    (*(long *)opaque)++;
}

/* Everything up to the end is on Kafka: every input read and its records
 * delivered (positions at the topics' ends), no timer due by the end, no
 * outbox waiting. */
static int demo_drained(struct demo *d, const int *parts)
{
    static const char *const groups[] = {"aftercare-orders", "aftercare-deliveries",
                                         "aftercare-feedback", "aftercare-usage"};
    for (int t = 0; t < DEMO_N_INPUTS; t++) {
        int32_t p[64];
        int64_t pos[64];
        int n = parts[t] < 64 ? parts[t] : 64;
        for (int k = 0; k < n; k++) {
            p[k] = k;
        }
        if (ac_store_positions(d->st, groups[t], (enum ac_topic)t, p, pos, (size_t)n) != 0) {
            return 0;
        }
        for (int k = 0; k < n; k++) {
            int64_t lo = 0, hi = 0;
            if (rd_kafka_query_watermark_offsets(d->rk, ac_topic_name((enum ac_topic)t), k, &lo,
                                                 &hi, 5000) != 0 ||
                (hi > lo && pos[k] < hi)) {
                return 0;
            }
        }
    }
    int64_t pending = 0, overdue = 0;
    long outboxes = 0;
    if (ac_store_timer_counts(d->st, d->end, &pending, &overdue) != 0 || overdue > 0) {
        return 0;
    }
    return ac_store_outbox_customers(d->st, 0, 1, 0, demo_count, &outboxes) == 0 && outboxes == 0;
}

/* --- feeding and watching -------------------------------------------------------------------- */

static void demo_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    if (m->err) {
        (*(long *)opaque)++;
        fprintf(stderr, "aftercare dev: a sample event was not delivered: %s\n",
                rd_kafka_err2str(m->err));
    }
}

static int demo_produce(struct demo *d, const struct cli_sample_event *e)
{
    rd_kafka_resp_err_t err;
    do {
        err = rd_kafka_producev(d->rk, RD_KAFKA_V_TOPIC(ac_topic_name(e->topic)),
                                RD_KAFKA_V_KEY(e->customer_id, strlen(e->customer_id)),
                                RD_KAFKA_V_VALUE(e->avro.data, e->avro.len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(d->rk, 10);
        }
    } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    if (err) {
        fprintf(stderr, "aftercare dev: produce: %s\n", rd_kafka_err2str(err));
        return -1;
    }
    rd_kafka_poll(d->rk, 0);
    return cli_timeline_event(d->tl, e->customer_id, e->at, e->type, e->detail);
}

/* One action as it is emitted: a line, or its JSON with --json. */
static void demo_print_action(struct demo *d, json_t *a, FILE *out)
{
    if (d->o->json) {
        char *s = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (s) {
            fprintf(out, "%s\n", s);
            free(s);
        }
        return;
    }
    char when[40];
    cli_time_human(cli_iso_ms(json_string_value(json_object_get(a, "not_before"))), when,
                   sizeof(when));
    fprintf(out, "  %s  %-10s %-22s %-10s %s\n", when,
            json_string_value(json_object_get(a, "customer_id")),
            json_string_value(json_object_get(a, "rule_id")),
            json_string_value(json_object_get(a, "channel")),
            json_string_value(json_object_get(a, "template")));
}

/* Feeds the sample on the clock and prints actions as they come, until the
 * clock has passed the end and everything up to it is out. */
static int demo_feed(struct demo *d, const int *parts, long *n_actions, FILE *out)
{
    char err[512];
    struct cli_reader *acts =
        cli_reader_open(d->o->brokers, "aftercare.actions", 0, err, sizeof(err));
    if (!acts) {
        fprintf(stderr, "aftercare dev: %s\n", err);
        return -1;
    }
    size_t next = 0;
    int rc = 0, drained = 0;
    int64_t drain_deadline = 0, check_at = 0;
    while (rc == 0 && !drained && !(d->o->stop && *d->o->stop)) {
        int64_t now = demo_now(d);
        while (next < d->sample.n && d->sample.ev[next].at <= now && rc == 0) {
            rc = demo_produce(d, &d->sample.ev[next++]);
        }
        int64_t mono = ac_clock_mono_ms();
        if (next == d->sample.n && now >= d->end && mono >= check_at) {
            if (drain_deadline == 0) {
                rd_kafka_flush(d->rk, 10000);
                drain_deadline = mono + DEMO_DRAIN_MS;
            }
            check_at = mono + 100;
            drained = d->produce_failed == 0 && demo_drained(d, parts);
            if (!drained && mono > drain_deadline) {
                fprintf(stderr, "aftercare dev: the processes did not catch up in %d s\n",
                        DEMO_DRAIN_MS / 1000);
                rc = -1;
            }
        }
        if (demo_dead(d) >= 0 || d->produce_failed > 0) {
            rc = -1;
        }
        /* Until the next event is due (on the wall clock), at most 20 ms. */
        int wait = 20;
        if (next < d->sample.n) {
            int64_t wall = (d->sample.ev[next].at - now) / d->o->speed;
            wait = wall < wait ? (int)(wall > 0 ? wall : 0) : wait;
        }
        json_t *a;
        while ((a = cli_reader_next(acts, d->codec, wait)) != NULL) {
            if (cli_iso_ms(json_string_value(json_object_get(a, "not_before"))) <= d->end) {
                demo_print_action(d, a, out);
                (*n_actions)++;
            }
            json_decref(a);
            wait = 0;
        }
        fflush(out);
    }
    cli_reader_close(acts);
    return rc == 0 && drained ? 0 : -1;
}

/* Reads a whole topic into the timeline (up to where it ended when opened). */
static int demo_read(struct demo *d, const char *topic, long *n)
{
    char err[512];
    struct cli_reader *r = cli_reader_open(d->o->brokers, topic, 1, err, sizeof(err));
    if (!r) {
        fprintf(stderr, "aftercare dev: %s\n", err);
        return -1;
    }
    int64_t deadline = ac_clock_mono_ms() + 30000;
    while (!cli_reader_at_end(r) && ac_clock_mono_ms() < deadline) {
        json_t *o = cli_reader_next(r, d->codec, 100);
        if (o) {
            (*n)++;
            (void)cli_timeline_record(d->tl, o);
            json_decref(o);
        }
    }
    int rc = cli_reader_at_end(r) ? 0 : -1;
    if (rc != 0) {
        fprintf(stderr, "aftercare dev: %s was not read to its end\n", topic);
    }
    cli_reader_close(r);
    return rc;
}

int cli_demo_run(const struct cli_demo_opts *o, FILE *out)
{
    struct demo d;
    char err[512], when[40], until[40];
    int rc = -1, parts[DEMO_N_INPUTS];
    long n_actions = 0, n_signals = 0, n_decisions = 0;
    memset(&d, 0, sizeof(d));
    d.o = o;
    snprintf(d.logpath, sizeof(d.logpath), "%s/processors.log", o->dir);
    d.tl = cli_timeline_new();
    d.codec = cli_codec();
    if (!d.tl || !d.codec) {
        goto out;
    }
    d.rk = ac_kafka_producer_new(o->brokers, NULL, demo_dr, &d.produce_failed, err, sizeof(err));
    d.st = d.rk ? ac_store_new(o->redis_url, "ac", err, sizeof(err)) : NULL;
    if (!d.st || ac_store_connect(d.st, err, sizeof(err)) != 0) {
        fprintf(stderr, "aftercare dev: %s\n", err);
        goto out;
    }
    for (int t = 0; t < DEMO_N_INPUTS; t++) {
        if ((parts[t] = demo_partitions(&d, ac_topic_name((enum ac_topic)t))) < 1) {
            fprintf(stderr, "aftercare dev: no topic %s\n", ac_topic_name((enum ac_topic)t));
            goto out;
        }
    }
    /* Every process on one clock, from now. */
    int64_t epoch = ac_clock_now(ac_clock_wall());
    ac_clock_init_scaled(&d.clock, epoch, o->speed);
    fprintf(out, "# demo: processors log to %s (kept with AFTERCARE_DEV_KEEP=1)\n", d.logpath);
    for (int i = 0; i < DEMO_N_PROCS; i++) {
        if (demo_start(&d, i, epoch) != 0) {
            goto out;
        }
    }
    int64_t deadline = ac_clock_mono_ms() + DEMO_READY_MS;
    while (!demo_ready(&d, parts)) {
        if (demo_dead(&d) >= 0 || ac_clock_mono_ms() > deadline || (o->stop && *o->stop)) {
            fprintf(stderr, "aftercare dev: the processors did not join their groups\n");
            goto out;
        }
        rd_kafka_poll(d.rk, 50); /* the wait: serves the producer meanwhile */
    }
    d.day0 = (demo_now(&d) / DEMO_ROUND + 1) * DEMO_ROUND;
    if (cli_sample_load(&d.sample, d.codec, o->events, d.day0, d.tl) != 0) {
        goto out;
    }
    if (d.sample.n == 0) {
        fprintf(stderr, "aftercare dev: %s holds no event\n", o->events);
        goto out;
    }
    d.end = d.sample.ev[d.sample.n - 1].at;
    d.end = (d.end > d.day0 ? d.end : d.day0) + DEMO_TAIL;
    if (d.end - d.day0 > DEMO_MAX_SPAN) {
        fprintf(stderr,
                "aftercare dev: %s: the last event is more than %lld days from now; the demo "
                "feeds events on its clock\n",
                o->events, DEMO_MAX_SPAN / 86400000LL - 1);
        goto out;
    }
    cli_time_human(d.day0, when, sizeof(when));
    cli_time_human(d.end, until, sizeof(until));
    fprintf(out,
            "# demo: %zu sample customers, %zu events on orders, deliveries, feedback and usage,\n"
            "#       from %s (day 0) to %s, on a clock %lldx faster than the wall clock\n"
            "#       (a day every %.1f s) that every processor and aftercare-timers follow\n"
            "# demo: actions as they are emitted (UTC on that clock; the timeline follows):\n",
            d.sample.n_customers, d.sample.n, when, until, (long long)o->speed,
            86400.0 / (double)o->speed);
    fflush(out);
    int fed = demo_feed(&d, parts, &n_actions, out);
    int stopped = demo_stop(&d);
    if (fed != 0 || stopped != 0) {
        goto out;
    }
    if (demo_read(&d, "aftercare.signals", &n_signals) != 0 ||
        demo_read(&d, "aftercare.decisions", &n_decisions) != 0) {
        goto out;
    }
    fprintf(out, "\n# demo: the journeys, per customer (from aftercare.decisions and "
                 "aftercare.signals):\n"
                 "#   in: an event; signal: what it changed; sent, or why not: capped, "
                 "suppressed, cancelled, expired ...\n");
    cli_timeline_print(d.tl, d.end, out);
    fprintf(out,
            "\n# demo: %ld actions, %ld signals, %ld decision records; every process exited 0 "
            "after SIGTERM\n",
            n_actions, n_signals, n_decisions);
    rc = n_actions > 0 ? 0 : -1;
out:
    fflush(out);
    for (int i = 0; i < DEMO_N_PROCS; i++) {
        if (d.pid[i] > 0) {
            kill(d.pid[i], SIGTERM);
            waitpid(d.pid[i], NULL, 0);
        }
    }
    if (rc != 0 && d.logpath[0]) {
        /* The directory may go away on exit: show what the processes said. */
        char cmd[PATH_MAX + 64];
        snprintf(cmd, sizeof(cmd), "tail -n 20 '%s' >&2", d.logpath);
        int r = system(cmd);
        (void)r;
    }
    if (d.rk) {
        rd_kafka_flush(d.rk, 5000);
        rd_kafka_destroy(d.rk);
    }
    ac_store_destroy(d.st);
    cli_sample_fini(&d.sample);
    cli_timeline_destroy(d.tl);
    ac_codec_destroy(d.codec);
    return rc == 0 ? 0 : 1;
}
