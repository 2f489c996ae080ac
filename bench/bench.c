/* bench.c — what every benchmark shares (bench.h). */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "orders.h"
#include "rules.h"

const char *ac_bench_prog = "bench";

void ac_bench_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", ac_bench_prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void ac_bench_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

double ac_bench_div(double b, double a)
{
    return a > 0 ? b / a : 0;
}

/* --- options -------------------------------------------------------------------------------- */

static int bench_parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        return AC_ERR_INVALID;
    }
    *out = (long)v;
    return 0;
}

static void bench_usage(const struct ac_bench_opt *opts, FILE *f)
{
    fprintf(f, "usage: %s [options]\n", ac_bench_prog);
    for (const struct ac_bench_opt *o = opts; o->name; o++) {
        char def[64] = "";
        if (o->type == AC_BENCH_OPT_LONG) {
            snprintf(def, sizeof(def), "N (%ld)", *(const long *)o->value);
        } else if (o->type == AC_BENCH_OPT_STR) {
            const char *v = *(const char *const *)o->value;
            snprintf(def, sizeof(def), "S%s%.48s%s", v ? " (" : "", v ? v : "", v ? ")" : "");
        }
        fprintf(f, "  %-18s %-22s %s\n", o->name, def, o->help);
    }
}

int ac_bench_parse(const char *prog, const struct ac_bench_opt *opts, int argc, char **argv)
{
    ac_bench_prog = prog;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const struct ac_bench_opt *o = opts;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            bench_usage(opts, stdout);
            exit(0);
        }
        while (o->name && strcmp(o->name, a) != 0) {
            o++;
        }
        if (!o->name) {
            ac_bench_err("unknown option %s", a);
            goto bad;
        }
        if (o->type == AC_BENCH_OPT_FLAG) {
            *(int *)o->value = 1;
            continue;
        }
        if (i + 1 >= argc) {
            ac_bench_err("%s needs a value", a);
            goto bad;
        }
        const char *v = argv[++i];
        if (o->type == AC_BENCH_OPT_STR) {
            *(const char **)o->value = v;
        } else if (bench_parse_long(v, o->min, o->max, (long *)o->value) != 0) {
            ac_bench_err("%s: expected an integer in [%ld, %ld], got '%s'", a, o->min, o->max, v);
            goto bad;
        }
    }
    return 0;
bad:
    bench_usage(opts, stderr);
    return AC_ERR_INVALID;
}

/* --- the dev stack -------------------------------------------------------------------------- */

int ac_bench_env_start(struct ac_bench_env *env, int partitions, int keep)
{
    char err[512], rdir[600];
    memset(env, 0, sizeof(*env));
    env->keep = keep;
    ac_log_init(ac_bench_prog);
    ac_log_set_level(AC_LOG_WARN);
    const char *tmp = getenv("TMPDIR");
    snprintf(env->dir, sizeof(env->dir), "%s/aftercare-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(env->dir)) {
        ac_bench_err("mkdtemp: %s", strerror(errno));
        env->dir[0] = '\0';
        return AC_ERR_IO;
    }
    snprintf(rdir, sizeof(rdir), "%s/redis", env->dir);
    if (ac_dev_redis_start(&env->dr, rdir, err, sizeof(err)) != 0) {
        ac_bench_err("redis: %s", err);
        return AC_ERR_IO;
    }
    env->redis_started = 1;
    struct timeval tv = {60, 0};
    env->rc = redisConnectWithTimeout("127.0.0.1", env->dr.port, tv);
    if (!env->rc || env->rc->err) {
        ac_bench_err("cannot connect to redis-server");
        return AC_ERR_IO;
    }
    env->dk = ac_dev_kafka_start(1, partitions, err, sizeof(err));
    if (!env->dk) {
        ac_bench_err("mock cluster: %s", err);
        return AC_ERR_IO;
    }
    env->codec = ac_codec_new(AC_SCHEMA_DIR, NULL, err, sizeof(err));
    if (!env->codec) {
        ac_bench_err("codec: %s", err);
        return AC_ERR_INVALID;
    }
    return 0;
}

void ac_bench_env_stop(struct ac_bench_env *env, int ok)
{
    if (env->rc) {
        redisFree(env->rc);
        env->rc = NULL;
    }
    ac_codec_destroy(env->codec);
    env->codec = NULL;
    if (env->dk) {
        ac_dev_kafka_stop(env->dk);
        env->dk = NULL;
    }
    if (env->redis_started) {
        ac_dev_redis_stop(&env->dr, SIGTERM);
        env->redis_started = 0;
    }
    if (!env->dir[0]) {
        return;
    }
    if (env->keep || !ok) {
        fprintf(stderr, "%s: kept %s\n", ac_bench_prog, env->dir);
        return;
    }
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", env->dir);
    int r = system(cmd);
    (void)r;
}

void ac_bench_redis_url(const struct ac_bench_env *env, int db, char *out, size_t len)
{
    snprintf(out, len, "redis://127.0.0.1:%d/%d", env->dr.port, db);
}

int ac_bench_out_topics(struct ac_bench_env *env, const char *name, int partitions)
{
    static const char *const kinds[] = {"actions", "signals", "dlq", "decisions"};
    char topic[160];
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        snprintf(topic, sizeof(topic), "%s.%s", name, kinds[i]);
        if (ac_dev_kafka_topic(env->dk, topic, partitions) != 0) {
            ac_bench_err("cannot create topic %s", topic);
            return AC_ERR_INVALID;
        }
    }
    return 0;
}

int ac_bench_write_file(const char *path, const char *fmt, ...)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        ac_bench_err("%s: %s", path, strerror(errno));
        return AC_ERR_IO;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    return fclose(f) == 0 ? 0 : AC_ERR_IO;
}

/* --- processes and CPU ---------------------------------------------------------------------- */

int ac_bench_child_start(struct ac_bench_child *ch, const char *exe, const char *wrap,
                         const char *config, const char *log)
{
    char words[1024];
    char *argv[40];
    int argc = 0;
    memset(ch, 0, sizeof(*ch));
    ch->pid = -1;
    snprintf(ch->log, sizeof(ch->log), "%s", log);
    if (wrap) {
        /* split on spaces (no quoting: a profiler's command line) */
        snprintf(words, sizeof(words), "%s", wrap);
        for (char *t = words; *t && argc < 32;) {
            while (*t == ' ') {
                *t++ = '\0';
            }
            if (!*t) {
                break;
            }
            argv[argc++] = t;
            while (*t && *t != ' ') {
                t++;
            }
        }
        ch->wrapped = argc > 0;
    }
    argv[argc++] = (char *)exe;
    argv[argc++] = (char *)"--config";
    argv[argc++] = (char *)config;
    argv[argc] = NULL;
    ch->spawned = ac_clock_mono_s();
    pid_t pid = fork();
    if (pid < 0) {
        ac_bench_err("fork: %s", strerror(errno));
        return AC_ERR_IO;
    }
    if (pid == 0) {
        /* it stops with the benchmark, however the benchmark ends */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    ch->pid = pid;
    return 0;
}

int ac_bench_child_check(struct ac_bench_child *ch)
{
    int status = 0;
    if (ch->pid <= 0) {
        return AC_ERR_IO;
    }
    if (waitpid(ch->pid, &status, WNOHANG) == ch->pid) {
        ch->pid = -1;
        ac_bench_err("the child process exited (status %d); see %s", status, ch->log);
        return AC_ERR_IO;
    }
    return 0;
}

int ac_bench_child_stop(struct ac_bench_child *ch)
{
    int status = 0;
    if (ch->pid <= 0) {
        return AC_ERR_IO;
    }
    kill(ch->pid, SIGTERM);
    waitpid(ch->pid, &status, 0);
    ch->pid = -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return 0;
    }
    ac_bench_err("the child process%s exited with status %d; see %s",
                 ch->wrapped ? " (wrapped)" : "", status, ch->log);
    return ch->wrapped ? 0 : AC_ERR_IO;
}

double ac_bench_cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

double ac_bench_cpu_pid(pid_t pid)
{
    char path[64], buf[2048];
    if (pid <= 0) {
        return -1.0;
    }
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1.0;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* after the command name */
    if (!p) {
        return -1.0;
    }
    /* fields after ')': state is field 3; utime 14, stime 15 */
    unsigned long long ut = 0, st = 0;
    int field = 2;
    for (const char *t = p + 1; *t && field < 15;) {
        while (*t == ' ') {
            t++;
        }
        field++;
        if (field == 14) {
            ut = strtoull(t, NULL, 10);
        } else if (field == 15) {
            st = strtoull(t, NULL, 10);
        }
        while (*t && *t != ' ') {
            t++;
        }
    }
    long hz = sysconf(_SC_CLK_TCK);
    return (double)(ut + st) / (double)(hz > 0 ? hz : 100);
}

void ac_bench_cpu_sample(redisContext *rc, pid_t pid, struct ac_bench_cpu *c)
{
    c->proc = pid > 0 ? ac_bench_cpu_pid(pid) : 0;
    c->self = ac_bench_cpu_self();
    c->redis = ac_bench_redis_cpu(rc);
}

void ac_bench_cpu_since(redisContext *rc, pid_t pid, const struct ac_bench_cpu *from,
                        struct ac_bench_cpu *d)
{
    struct ac_bench_cpu now;
    ac_bench_cpu_sample(rc, pid, &now);
    d->proc = now.proc - from->proc;
    d->self = now.self - from->self;
    d->redis = now.redis - from->redis;
}

/* --- Redis ---------------------------------------------------------------------------------- */

static redisReply *bench_vredis(redisContext *rc, const char *fmt, va_list ap)
{
    redisReply *r = redisvCommand(rc, fmt, ap);
    if (!r) {
        ac_bench_err("redis: %s", rc->errstr);
        exit(1);
    }
    return r;
}

redisReply *ac_bench_redis(redisContext *rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = bench_vredis(rc, fmt, ap);
    va_end(ap);
    return r;
}

long long ac_bench_redis_int(redisContext *rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = bench_vredis(rc, fmt, ap);
    va_end(ap);
    long long v = -1;
    if (r->type == REDIS_REPLY_INTEGER) {
        v = r->integer;
    } else if (r->type == REDIS_REPLY_STRING) {
        char *end = NULL;
        long long x = strtoll(r->str, &end, 10);
        v = end && end != r->str ? x : -1;
    }
    freeReplyObject(r);
    return v;
}

double ac_bench_info(redisContext *rc, const char *section, const char *field)
{
    redisReply *r = ac_bench_redis(rc, "INFO %s", section);
    double v = -1.0;
    size_t fl = strlen(field);
    for (const char *p = r->type == REDIS_REPLY_STRING ? r->str : NULL; p && *p;) {
        if (strncmp(p, field, fl) == 0 && p[fl] == ':') {
            v = strtod(p + fl + 1, NULL);
            break;
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    freeReplyObject(r);
    return v;
}

double ac_bench_redis_cpu(redisContext *rc)
{
    return ac_bench_info(rc, "cpu", "used_cpu_sys") + ac_bench_info(rc, "cpu", "used_cpu_user");
}

long long ac_bench_memory_usage(redisContext *rc, const char *key)
{
    long long v = ac_bench_redis_int(rc, "MEMORY USAGE %s SAMPLES 0", key);
    return v < 0 ? 0 : v;
}

struct bench_cmdstat {
    char name[48];
    long long calls;
    double usec;
};

void ac_bench_commandstats(redisContext *rc, struct ac_bench_cmdstats *out)
{
    struct bench_cmdstat cs[64];
    int n = 0;
    redisReply *r = ac_bench_redis(rc, "INFO commandstats");
    for (const char *p = r->type == REDIS_REPLY_STRING ? r->str : NULL; p && *p && n < 64;) {
        const char *eol = strchr(p, '\n');
        const char *colon = strchr(p, ':');
        const char *calls = strstr(p, "calls="), *usec = strstr(p, ",usec=");
        if (strncmp(p, "cmdstat_", 8) == 0 && colon && calls && usec && (!eol || usec < eol)) {
            snprintf(cs[n].name, sizeof(cs[n].name), "%.*s", (int)(colon - p - 8), p + 8);
            cs[n].calls = strtoll(calls + 6, NULL, 10);
            cs[n].usec = strtod(usec + 6, NULL);
            n++;
        }
        p = eol ? eol + 1 : NULL;
    }
    freeReplyObject(r);
    for (int i = 1; i < n; i++) { /* by total time, descending */
        for (int j = i; j > 0 && cs[j].usec > cs[j - 1].usec; j--) {
            struct bench_cmdstat t = cs[j];
            cs[j] = cs[j - 1];
            cs[j - 1] = t;
        }
    }
    size_t tat = 0, jat = 0;
    out->text[0] = '\0';
    jat += (size_t)snprintf(out->json, sizeof(out->json), "{");
    for (int i = 0; i < n && i < 8; i++) {
        if (tat < sizeof(out->text)) {
            tat += (size_t)snprintf(out->text + tat, sizeof(out->text) - tat,
                                    "%s%s %lld x %.1f us = %.2f s", i ? "; " : "", cs[i].name,
                                    cs[i].calls, ac_bench_div(cs[i].usec, (double)cs[i].calls),
                                    cs[i].usec / 1e6);
        }
        if (jat < sizeof(out->json)) {
            jat += (size_t)snprintf(out->json + jat, sizeof(out->json) - jat,
                                    "%s\"%s\":{\"calls\":%lld,\"usec\":%.0f}", i ? "," : "",
                                    cs[i].name, cs[i].calls, cs[i].usec);
        }
    }
    if (jat + 2 <= sizeof(out->json)) {
        snprintf(out->json + jat, sizeof(out->json) - jat, "}");
    } else {
        snprintf(out->json, sizeof(out->json), "{}");
    }
}

int64_t ac_bench_positions(redisContext *rc, const char *prefix, const char *group,
                           const char *topic)
{
    redisReply *r = ac_bench_redis(rc, "HGETALL %s:pos:%s", prefix, group);
    int64_t sum = -1;
    size_t tl = strlen(topic);
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        sum = 0;
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            const char *f = r->element[i]->str;
            if (f && strncmp(f, topic, tl) == 0 && f[tl] == ':') {
                sum += strtoll(r->element[i + 1]->str, NULL, 10);
            }
        }
    }
    freeReplyObject(r);
    return sum;
}

/* --- Kafka ---------------------------------------------------------------------------------- */

struct bench_dr {
    long ok, failed;
    int64_t bytes[AC_BENCH_MAX_PARTS];
    int32_t *parts;
    int64_t *offsets;
};

static void bench_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct bench_dr *d = opaque;
    (void)rk;
    if (m->err) {
        d->failed++;
        return;
    }
    d->ok++;
    if (m->partition >= 0 && m->partition < AC_BENCH_MAX_PARTS) {
        d->bytes[m->partition] += (int64_t)(m->len + m->key_len);
    }
    long i = (long)(intptr_t)m->_private; /* the record's index (msg_opaque) */
    if (d->parts) {
        d->parts[i] = m->partition;
        d->offsets[i] = m->offset;
    }
}

int ac_bench_produce(struct ac_bench_env *env, const char *topic, long n, ac_bench_record_fn fn,
                     void *opaque, int32_t *parts, int64_t *offsets, struct ac_bench_produced *out)
{
    char err[512];
    int rc = AC_ERR_IO;
    struct bench_dr *dr = calloc(1, sizeof(*dr));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = NULL;
    memset(out, 0, sizeof(*out));
    if (!dr ||
        rd_kafka_conf_set(conf, "bootstrap.servers", ac_dev_kafka_brokers(env->dk), err,
                          sizeof(err)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, sizeof(err))) {
        ac_bench_err("producer config: %s", dr ? err : "out of memory");
        rd_kafka_conf_destroy(conf);
        goto out;
    }
    dr->parts = offsets ? parts : NULL;
    dr->offsets = parts ? offsets : NULL;
    rd_kafka_conf_set_dr_msg_cb(conf, bench_dr_cb);
    rd_kafka_conf_set_opaque(conf, dr);
    if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)))) {
        ac_bench_err("producer: %s", err);
        goto out;
    }
    double t0 = ac_clock_mono_s();
    for (long i = 0; i < n; i++) {
        const char *key = NULL;
        const void *value = NULL;
        size_t klen = 0, vlen = 0;
        if (fn(opaque, i, &key, &klen, &value, &vlen) != 0) {
            ac_bench_err("cannot build record %ld", i);
            goto out;
        }
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, klen),
                RD_KAFKA_V_VALUE((void *)value, vlen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 10);
                continue;
            }
            if (e) {
                ac_bench_err("produce: %s", rd_kafka_err2str(e));
                goto out;
            }
            break;
        }
        rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 120000) != 0) {
        ac_bench_err("producer flush timed out");
        goto out;
    }
    out->seconds = ac_clock_mono_s() - t0;
    if (dr->failed > 0 || dr->ok != n) {
        ac_bench_err("%ld deliveries failed, %ld ok of %ld", dr->failed, dr->ok, n);
        goto out;
    }
    for (int p = 0; p < AC_BENCH_MAX_PARTS; p++) {
        out->bytes += dr->bytes[p];
        if (dr->bytes[p] > out->max_part_bytes) {
            out->max_part_bytes = dr->bytes[p];
        }
    }
    rc = 0;
out:
    if (rk) {
        rd_kafka_destroy(rk);
    }
    free(dr);
    return rc;
}

static rd_kafka_t *bench_kafka_client(struct ac_bench_env *env, rd_kafka_type_t type)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", ac_dev_kafka_brokers(env->dk), err,
                          sizeof(err)) ||
        (type == RD_KAFKA_CONSUMER &&
         (rd_kafka_conf_set(conf, "group.id", "bench-reader", err, sizeof(err)) ||
          rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)) ||
          rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof(err))))) {
        ac_bench_err("kafka config: %s", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk) {
        ac_bench_err("kafka client: %s", err);
    }
    return rk;
}

int ac_bench_topic_marks(struct ac_bench_env *env, const char *topic, int64_t *sum_hi,
                         int *truncated, int *parts)
{
    const struct rd_kafka_metadata *md = NULL;
    int rc = AC_ERR_IO;
    rd_kafka_t *rk = bench_kafka_client(env, RD_KAFKA_PRODUCER);
    if (!rk) {
        return rc;
    }
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, 10000);
    rd_kafka_topic_destroy(t);
    if (err || md->topic_cnt != 1 || md->topics[0].err) {
        ac_bench_err("metadata of %s failed", topic);
        goto out;
    }
    *sum_hi = 0;
    *truncated = 0;
    *parts = md->topics[0].partition_cnt;
    for (int i = 0; i < md->topics[0].partition_cnt; i++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, topic, md->topics[0].partitions[i].id, &lo, &hi,
                                             10000) != 0) {
            ac_bench_err("watermarks of %s failed", topic);
            goto out;
        }
        *sum_hi += hi;
        *truncated += lo != 0;
    }
    rc = 0;
out:
    if (md) {
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_destroy(rk);
    return rc;
}

rd_kafka_t *ac_bench_consumer(struct ac_bench_env *env, const char *topic, int partitions)
{
    rd_kafka_t *rk = bench_kafka_client(env, RD_KAFKA_CONSUMER);
    if (!rk) {
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++) {
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return rk;
}

int ac_bench_raw_consume(struct ac_bench_env *env, const char *topic, int partitions, long n,
                         int timeout_s, double *rate, double *seconds)
{
    rd_kafka_t *rk = ac_bench_consumer(env, topic, partitions);
    if (!rk) {
        return AC_ERR_IO;
    }
    /* From the assignment (connected by then) to the last message: timing
     * from the first message would miss the prefetch. */
    double first = ac_clock_mono_s(), last = first, deadline = first + timeout_s;
    long got = 0;
    while (got < n && ac_clock_mono_s() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            continue;
        }
        if (m->err == 0) {
            got++;
            last = ac_clock_mono_s();
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    *seconds = last - first;
    *rate = ac_bench_div((double)got, *seconds);
    if (got < n) {
        ac_bench_err("raw consumer read %ld of %ld messages", got, n);
        return AC_ERR_IO;
    }
    return 0;
}

/* --- a processor under load ----------------------------------------------------------------- */

int ac_bench_wait_positions(redisContext *rc, struct ac_bench_child *ch, const char *prefix,
                            const char *group, const char *topic, int64_t target, int timeout_s,
                            struct ac_bench_window *w)
{
    double deadline = ch->spawned + timeout_s, t0 = 0, last_print = ac_clock_mono_s();
    int started = 0;
    struct ac_bench_cpu cpu0;
    int64_t done = -1;
    memset(w, 0, sizeof(*w));
    memset(&cpu0, 0, sizeof(cpu0));
    for (;;) {
        if (ac_bench_child_check(ch) != 0) {
            return AC_ERR_IO;
        }
        double now = ac_clock_mono_s();
        if (now > deadline) {
            ac_bench_err("timeout: %lld of %lld events done after %d s; see %s", (long long)done,
                         (long long)target, timeout_s, ch->log);
            return AC_ERR_TRANSIENT;
        }
        done = ac_bench_positions(rc, prefix, group, topic);
        if (done >= 0 && !started) {
            started = 1;
            t0 = ac_clock_mono_s();
            ac_bench_cpu_sample(rc, ch->pid, &cpu0);
            freeReplyObject(ac_bench_redis(rc, "CONFIG RESETSTAT"));
            w->done0 = done;
            w->join_s = t0 - ch->spawned;
        }
        if (done >= target) {
            break;
        }
        if (now - last_print >= 10) {
            last_print = now;
            fprintf(stderr, "%s: %lld of %lld events done\n", ac_bench_prog, (long long)done,
                    (long long)target);
        }
        ac_bench_sleep_ms(5); /* polling a condition: the positions in Redis */
    }
    w->seconds = ac_clock_mono_s() - t0;
    w->rate = ac_bench_div((double)(target - w->done0), w->seconds);
    ac_bench_cpu_since(rc, ch->pid, &cpu0, &w->cpu);
    ac_bench_commandstats(rc, &w->cmds);
    return 0;
}

char *ac_bench_http_metrics(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    static const char req[] = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
        close(fd);
        return NULL;
    }
    size_t cap = 1 << 16, got = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while (buf && (r = read(fd, buf + got, cap - 1 - got)) > 0) {
        got += (size_t)r;
        if (got + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    close(fd);
    if (buf) {
        buf[got] = '\0';
    }
    return buf;
}

double ac_bench_metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            return strtod(p + n + 1, NULL);
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return -1.0;
}

int ac_bench_metric_hist(const char *text, const char *name, const char *labels,
                         struct ac_bench_hist *h)
{
    char series[256];
    memset(h, 0, sizeof(*h));
    /* name_bucket{<labels>,le="0.05"} N, in increasing le */
    int n =
        snprintf(series, sizeof(series), "%s_bucket{%s%sle=\"", name, labels, *labels ? "," : "");
    if (n < 0 || (size_t)n >= sizeof(series)) {
        return AC_ERR_INVALID;
    }
    for (const char *p = text; p && *p && h->n < AC_BENCH_HIST_MAX;) {
        if (strncmp(p, series, (size_t)n) == 0) {
            char *end = NULL;
            double le = strtod(p + n, &end);
            const char *v = end ? strstr(end, "} ") : NULL;
            if (v) {
                h->le[h->n] = le;
                h->cum[h->n++] = strtod(v + 2, NULL);
            }
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    if (h->n == 0) {
        return AC_ERR_NOTFOUND;
    }
    snprintf(series, sizeof(series), "%s_sum%s%s%s", name, *labels ? "{" : "", labels,
             *labels ? "}" : "");
    h->sum = ac_bench_metric(text, series);
    snprintf(series, sizeof(series), "%s_count%s%s%s", name, *labels ? "{" : "", labels,
             *labels ? "}" : "");
    h->count = ac_bench_metric(text, series);
    return 0;
}

double ac_bench_hist_quantile(const struct ac_bench_hist *from, const struct ac_bench_hist *to,
                              double q)
{
    if (to->n == 0 || (from && from->n != 0 && from->n != to->n)) {
        return -1;
    }
    double total = to->cum[to->n - 1] - (from && from->n ? from->cum[to->n - 1] : 0);
    if (total <= 0) {
        return -1;
    }
    for (int i = 0; i < to->n; i++) {
        double c = to->cum[i] - (from && from->n ? from->cum[i] : 0);
        if (c >= q * total) {
            return to->le[i];
        }
    }
    return to->le[to->n - 1];
}

/* --- the production path in process --------------------------------------------------------- */

struct ac_bench_stepper {
    struct ac_step *step;
    struct ac_store *st;
    size_t max;
    struct ac_event *events; /* [max] */
    int32_t *ev_part;        /* [max] */
    int64_t *ev_off;         /* [max] */
    int *ev_next;            /* [max]: the customer's next event, -1 */
    size_t n_events;
    struct ac_store_cust *custs; /* [max] */
    int *cust_first, *cust_last; /* [max] */
    int *cust_fire;              /* [max] */
    struct ac_step_in *ins;      /* [max] */
    struct ac_apply_in *in;      /* [max] */
    size_t n_custs;
    int *map; /* [map_size]: customer index + 1 */
    size_t map_size;
    long rejected;
};

static int bench_step_rejected(void *opaque, struct ac_store_cust *sc, const struct ac_apply_in *in,
                               const char *reason)
{
    struct ac_bench_stepper *bs = opaque;
    (void)sc;
    (void)in;
    if (bs->rejected++ == 0) {
        ac_bench_err("the domain rejected an event: %s", reason);
    }
    return 0;
}

struct ac_bench_stepper *ac_bench_stepper_new(struct ac_store *st, struct ac_codec *codec,
                                              const struct ac_processor *proc, void *ctx,
                                              struct ac_engine *engine, size_t max_events)
{
    struct ac_bench_stepper *bs = calloc(1, sizeof(*bs));
    if (!bs) {
        return NULL;
    }
    bs->st = st;
    bs->max = max_events ? max_events : 1;
    bs->map_size = 1;
    while (bs->map_size < 2 * bs->max) {
        bs->map_size *= 2;
    }
    const struct ac_step_opts o = {
        .st = st,
        .codec = codec,
        .topic = proc ? (int)proc->topic : -1,
        .transition = proc ? proc->apply : NULL,
        .ctx = ctx,
        .engine = engine,
        .rejected = bench_step_rejected,
        .opaque = bs,
    };
    bs->step = ac_step_new(&o);
    bs->events = calloc(bs->max, sizeof(*bs->events));
    bs->ev_part = calloc(bs->max, sizeof(*bs->ev_part));
    bs->ev_off = calloc(bs->max, sizeof(*bs->ev_off));
    bs->ev_next = calloc(bs->max, sizeof(*bs->ev_next));
    bs->custs = calloc(bs->max, sizeof(*bs->custs));
    bs->cust_first = calloc(bs->max, sizeof(int));
    bs->cust_last = calloc(bs->max, sizeof(int));
    bs->cust_fire = calloc(bs->max, sizeof(int));
    bs->ins = calloc(bs->max, sizeof(*bs->ins));
    bs->in = calloc(bs->max, sizeof(*bs->in));
    bs->map = calloc(bs->map_size, sizeof(int));
    if (!bs->step || !bs->events || !bs->ev_part || !bs->ev_off || !bs->ev_next || !bs->custs ||
        !bs->cust_first || !bs->cust_last || !bs->cust_fire || !bs->ins || !bs->in || !bs->map) {
        ac_bench_stepper_destroy(bs);
        return NULL;
    }
    return bs;
}

void ac_bench_stepper_clear(struct ac_bench_stepper *bs)
{
    for (size_t c = 0; c < bs->n_custs; c++) {
        ac_store_cust_fini(&bs->custs[c]);
    }
    bs->n_custs = 0;
    bs->n_events = 0;
    memset(bs->map, 0, bs->map_size * sizeof(int));
}

void ac_bench_stepper_destroy(struct ac_bench_stepper *bs)
{
    if (!bs) {
        return;
    }
    if (bs->custs) {
        ac_bench_stepper_clear(bs);
    }
    ac_step_destroy(bs->step);
    free(bs->events);
    free(bs->ev_part);
    free(bs->ev_off);
    free(bs->ev_next);
    free(bs->custs);
    free(bs->cust_first);
    free(bs->cust_last);
    free(bs->cust_fire);
    free(bs->ins);
    free(bs->in);
    free(bs->map);
    free(bs);
}

/* The customer's slot, added if new; -1 when full. */
static int bench_stepper_customer(struct ac_bench_stepper *bs, const char *cid)
{
    size_t mask = bs->map_size - 1;
    for (size_t h = ac_store_hash(cid) & mask;; h = (h + 1) & mask) {
        int slot = bs->map[h];
        if (slot == 0) {
            if (bs->n_custs >= bs->max) {
                return -1;
            }
            size_t c = bs->n_custs++;
            ac_store_cust_init(&bs->custs[c], cid);
            bs->cust_first[c] = -1;
            bs->cust_last[c] = -1;
            bs->cust_fire[c] = 0;
            bs->map[h] = (int)c + 1;
            return (int)c;
        }
        if (strcmp(bs->custs[slot - 1].customer_id, cid) == 0) {
            return slot - 1;
        }
    }
}

struct ac_event *ac_bench_stepper_event(struct ac_bench_stepper *bs)
{
    if (bs->n_events >= bs->max) {
        return NULL;
    }
    struct ac_event *ev = &bs->events[bs->n_events];
    memset(ev, 0, sizeof(*ev));
    return ev;
}

void ac_bench_stepper_push(struct ac_bench_stepper *bs, int32_t partition, int64_t offset)
{
    size_t e = bs->n_events;
    int c = bench_stepper_customer(bs, bs->events[e].customer_id);
    if (c < 0) {
        return; /* cannot happen: at most one customer per event */
    }
    bs->n_events++;
    bs->ev_part[e] = partition;
    bs->ev_off[e] = offset;
    bs->ev_next[e] = -1;
    if (bs->cust_first[c] < 0) {
        bs->cust_first[c] = (int)e;
    } else {
        bs->ev_next[bs->cust_last[c]] = (int)e;
    }
    bs->cust_last[c] = (int)e;
}

int ac_bench_stepper_fire(struct ac_bench_stepper *bs, const char *customer_id)
{
    int c = bench_stepper_customer(bs, customer_id);
    if (c < 0) {
        return AC_ERR_NOMEM;
    }
    bs->cust_fire[c] = 1;
    return 0;
}

int ac_bench_stepper_run(struct ac_bench_stepper *bs, const struct ac_clock *clock,
                         struct ac_apply_stats *stats)
{
    size_t at = 0;
    for (size_t c = 0; c < bs->n_custs; c++) {
        bs->ins[c].in = &bs->in[at];
        bs->ins[c].n = 0;
        bs->ins[c].fire_due = bs->cust_fire[c];
        for (int e = bs->cust_first[c]; e >= 0; e = bs->ev_next[e]) {
            bs->in[at++] =
                (struct ac_apply_in){&bs->events[e], bs->ev_part[e], bs->ev_off[e], (size_t)e};
            bs->ins[c].n++;
        }
    }
    int rc = ac_step_run(bs->step, bs->custs, bs->ins, bs->n_custs, clock, stats);
    if (rc != 0) {
        ac_bench_err("ac_step_run: %s", ac_err_str(rc));
    }
    return rc;
}

int ac_bench_stepper_ack(struct ac_bench_stepper *bs, const char *group, enum ac_topic topic,
                         const int32_t *parts, const int64_t *offsets, size_t n_pos)
{
    int rc = ac_store_ack(bs->st, bs->custs, bs->n_custs, group, topic, parts, offsets, n_pos);
    if (rc != 0) {
        ac_bench_err("ac_store_ack: %s", ac_err_str(rc));
    }
    return rc;
}

struct ac_store_cust *ac_bench_stepper_custs(struct ac_bench_stepper *bs, size_t *n)
{
    *n = bs->n_custs;
    return bs->custs;
}

long ac_bench_stepper_rejected(const struct ac_bench_stepper *bs)
{
    return bs->rejected;
}

void ac_bench_count_pending(const struct ac_store_cust *custs, size_t n, long *actions,
                            long *signals, long *decisions)
{
    for (size_t c = 0; c < n; c++) {
        size_t cursor = 0;
        struct ac_outbox_rec rec;
        while (ac_store_pending_next(&custs[c], &cursor, &rec)) {
            *actions += rec.kind == 'a';
            *signals += rec.kind == 's';
            *decisions += rec.kind == 'c';
        }
    }
}

void *ac_bench_orders_ctx(const char *playbook, struct ac_config **cfg)
{
    /* the runtime's keys the orders processor reads */
    static const struct ac_cfg_entry runtime_keys[] = {
        {"playbook", AC_CFG_STR, AC_PLAYBOOK_DEFAULT, "", 0, 0},
        {"team.default_owner", AC_CFG_STR, "customer-success", "", 0, 0},
        {NULL, AC_CFG_STR, NULL, NULL, 0, 0},
    };
    const struct ac_cfg_entry *tables[] = {ac_orders_processor.config, runtime_keys};
    char err[512];
    void *ctx = NULL;
    *cfg = ac_config_load(tables, 2, NULL, err, sizeof(err));
    if (!*cfg || ac_config_set(*cfg, "playbook", playbook, err, sizeof(err)) != 0 ||
        !(ctx = ac_orders_processor.init(*cfg, err, sizeof(err)))) {
        ac_bench_err("orders processor: %s", err);
    }
    return ctx;
}

struct ac_engine *ac_bench_engine(const char *playbook)
{
    /* one engine per playbook path, for the bench's lifetime (the runtime owns
     * a processor's playbook the same way) */
    static struct ac_rules *rules[8];
    static char paths[8][1024];
    static int n;
    char err[512];
    for (int i = 0; i < n; i++) {
        if (strcmp(paths[i], playbook) == 0) {
            return ac_rules_engine(rules[i]);
        }
    }
    struct ac_engine_opts opts = {"customer-success"};
    if (n == 8 || !(rules[n] = ac_rules_open(playbook, &opts, err, sizeof(err)))) {
        ac_bench_err("playbook %s: %s", playbook, n == 8 ? "too many" : err);
        return NULL;
    }
    snprintf(paths[n], sizeof(paths[n]), "%s", playbook);
    return ac_rules_engine(rules[n++]);
}

/* --- the order events ----------------------------------------------------------------------- */

const char *const ac_bench_order_types[AC_BENCH__N] = {
    "order_placed", "cart_abandoned", "order_cancelled", "refund_issued", "return_requested"};

static const char *const bench_families[] = {"apparel", "shoes", "electronics", "home",
                                             "beauty",  "toys",  "books",       "garden"};
#define BENCH_N_FAMILIES (sizeof(bench_families) / sizeof(bench_families[0]))

uint64_t ac_bench_rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void ac_bench_customer_id(char *out, size_t len, long cust)
{
    snprintf(out, len, "cust-%07ld", cust);
}

void ac_bench_order_event(struct ac_event *ev, long cust, const char *event_id,
                          enum ac_bench_order_type type, int64_t at, uint64_t r, long order_seq)
{
    uint64_t s = r;
    int32_t total = (int32_t)(500 + ac_bench_rng(&s) % 40000);
    int n_items = (int)(1 + ac_bench_rng(&s) % 3);
    ev->topic = AC_TOPIC_ORDERS;
    snprintf(ev->event_id, sizeof(ev->event_id), "%s", event_id);
    ac_bench_customer_id(ev->customer_id, sizeof(ev->customer_id), cust);
    snprintf(ev->type, sizeof(ev->type), "%s", ac_bench_order_types[type]);
    ev->type_index = 0;
    ev->occurred_at = at;
    struct ac_order_fields *of = &ev->u.order;
    snprintf(of->order_id, sizeof(of->order_id), "o-%09ld", order_seq);
    of->total_cents = total;
    snprintf(of->currency, sizeof(of->currency), "EUR");
    of->renewal_at = AC_TS_NONE;
    of->account_owner[0] = '\0';
    of->n_items = type == AC_BENCH_CART || type == AC_BENCH_PLACED ? n_items : 0;
    for (int k = 0; k < of->n_items; k++) {
        struct ac_item *it = &of->items[k];
        const char *fam = bench_families[ac_bench_rng(&s) % BENCH_N_FAMILIES];
        snprintf(it->sku, sizeof(it->sku), "sku-%s-%d", fam, (int)(total % 97));
        snprintf(it->product_family, sizeof(it->product_family), "%s", fam);
        snprintf(it->category, sizeof(it->category), "cat-%s", fam);
        it->unit_price_cents = total / of->n_items;
        it->quantity = 1;
    }
}

/* --- output --------------------------------------------------------------------------------- */

void ac_bench_json_begin(struct ac_bench_json *j, const char *bench)
{
    ac_buf_init(&j->b);
    ac_buf_printf(&j->b, "{\"bench\":");
    ac_buf_json_str(&j->b, bench);
}

void ac_bench_json_num(struct ac_bench_json *j, const char *key, double v)
{
    ac_buf_printf(&j->b, ",\"%s\":", key);
    if (!isfinite(v)) { /* JSON has no NaN or infinity */
        ac_buf_printf(&j->b, "null");
    } else if (fabs(v) < 1e15 && fabs(v - round(v)) < 1e-9) {
        ac_buf_printf(&j->b, "%lld", (long long)v);
    } else {
        ac_buf_printf(&j->b, "%.4g", v);
    }
}

void ac_bench_json_int(struct ac_bench_json *j, const char *key, long long v)
{
    ac_buf_printf(&j->b, ",\"%s\":%lld", key, v);
}

void ac_bench_json_str(struct ac_bench_json *j, const char *key, const char *v)
{
    ac_buf_printf(&j->b, ",\"%s\":", key);
    ac_buf_json_str(&j->b, v);
}

void ac_bench_json_raw(struct ac_bench_json *j, const char *key, const char *json)
{
    ac_buf_printf(&j->b, ",\"%s\":%s", key, json);
}

void ac_bench_json_end(struct ac_bench_json *j)
{
    ac_buf_printf(&j->b, "}");
    printf("%.*s\n", (int)j->b.len, j->b.data);
    fflush(stdout);
    ac_buf_fini(&j->b);
}

void ac_bench_table_head(const char *title)
{
    printf("\n%-52s %14s %-9s %8s  %s\n", title, "value", "unit", "seconds", "note");
}

void ac_bench_table_row(const char *label, double value, const char *unit, double seconds,
                        const char *note)
{
    char secs[32] = "";
    if (seconds >= 0) {
        snprintf(secs, sizeof(secs), "%.2f", seconds);
    }
    if (fabs(value) >= 100 || fabs(value) < 1e-12) {
        printf("%-52s %14.0f %-9s %8s  %s\n", label, value, unit, secs, note ? note : "");
    } else {
        printf("%-52s %14.3f %-9s %8s  %s\n", label, value, unit, secs, note ? note : "");
    }
}
