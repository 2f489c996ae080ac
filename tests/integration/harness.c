/* harness.c — the integration fixture (see harness.h). */
#include "harness.h"
#include "record.h"
#include "store.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

const char *h_source_dir(void)
{
    const char *s = getenv("AC_SOURCE_DIR");
    return s && *s ? s : ".";
}

const char *h_bin_dir(void)
{
    const char *s = getenv("AC_BIN_DIR");
    return s && *s ? s : ".";
}

const char *h_data_dir(void)
{
    static char path[1024];
    const char *s = getenv("AC_DATA_DIR");
    if (!s || !*s) {
        return NULL;
    }
    snprintf(path, sizeof(path), "%s", s);
    return access(path, R_OK) == 0 ? path : NULL;
}

static void h_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    cr_assert(m->err == 0, "test producer delivery failed: %s", rd_kafka_err2str(m->err));
}

void h_start(struct h_env *env, int partitions)
{
    h_start_brokers(env, partitions, 1);
}

void h_start_brokers(struct h_env *env, int partitions, int n_brokers)
{
    char err[512], schemas[1024];
    memset(env, 0, sizeof(*env));
    ac_log_init("test");
    ac_log_set_level(AC_LOG_WARN);
    const char *tmp = getenv("TMPDIR");
    snprintf(env->dir, sizeof(env->dir), "%s/aftercare-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(env->dir), "mkdtemp: %s", strerror(errno));
    char rdir[300];
    snprintf(rdir, sizeof(rdir), "%s/redis", env->dir);
    cr_assert_eq(ac_dev_redis_start(&env->dr, rdir, err, sizeof(err)), 0, "%s", err);
    env->dk = ac_dev_kafka_start(n_brokers, partitions, err, sizeof(err));
    cr_assert_not_null(env->dk, "%s", err);
    snprintf(schemas, sizeof(schemas), "%s/schemas", h_source_dir());
    env->codec = ac_codec_new(schemas, NULL, err, sizeof(err));
    cr_assert_not_null(env->codec, "%s", err);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", ac_dev_kafka_brokers(env->dk), err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err));
    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err));
    /* A broker a test has set down answers nothing: give up on it quickly
     * (the default waits 60 s) so the harness's queries go elsewhere. */
    rd_kafka_conf_set(conf, "socket.timeout.ms", "5000", err, sizeof(err));
    rd_kafka_conf_set_dr_msg_cb(conf, h_dr);
    env->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    cr_assert_not_null(env->producer, "%s", err);
    struct timeval tv = {5, 0};
    env->redis = redisConnectWithTimeout("127.0.0.1", env->dr.port, tv);
    cr_assert(env->redis && !env->redis->err, "cannot connect to the test redis");
}

void h_stop(struct h_env *env)
{
    if (env->producer) {
        rd_kafka_flush(env->producer, 5000);
        rd_kafka_destroy(env->producer);
    }
    if (env->redis) {
        redisFree(env->redis);
    }
    ac_codec_destroy(env->codec);
    ac_dev_kafka_stop(env->dk);
    ac_dev_redis_stop(&env->dr, SIGTERM);
    char cmd[600];
    if (!getenv("AC_KEEP_TEST_DIR")) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", env->dir);
        int rc = system(cmd);
        (void)rc;
    }
}

void h_produce_raw(struct h_env *env, const char *topic, const char *key, const void *p, size_t len)
{
    h_produce_to(env, topic, RD_KAFKA_PARTITION_UA, key, p, len);
}

void h_produce_to(struct h_env *env, const char *topic, int32_t partition, const char *key,
                  const void *p, size_t len)
{
    h_produce_keyed(env, topic, partition, key, key ? strlen(key) : 0, p, len);
}

void h_produce_keyed(struct h_env *env, const char *topic, int32_t partition, const void *key,
                     size_t key_len, const void *p, size_t len)
{
    rd_kafka_resp_err_t e;
    do {
        e = rd_kafka_producev(
            env->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, key ? key_len : 0), RD_KAFKA_V_VALUE((void *)p, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(env->producer, 50);
        }
    } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    cr_assert_eq(e, 0, "produce: %s", rd_kafka_err2str(e));
}

void h_flush(struct h_env *env)
{
    cr_assert_eq(rd_kafka_flush(env->producer, 30000), 0, "test producer flush timed out");
}

void h_produce_events(struct h_env *env, const char *topic, const struct ac_event *evs, size_t n)
{
    struct ac_buf b;
    ac_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        ac_buf_reset(&b);
        cr_assert_eq(ac_codec_encode_event(env->codec, &evs[i], 1, &b), 0, "encode event %zu", i);
        h_produce_raw(env, topic, evs[i].customer_id, b.data, b.len);
    }
    ac_buf_fini(&b);
    h_flush(env);
}

/* True if the config text sets key (at the start of a line). */
static int h_sets(const char *text, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, key, n) == 0 && (p[n] == ' ' || p[n] == '=')) {
            return 1;
        }
    }
    return 0;
}

void h_write_config(struct h_env *env, const char *name, const char *extra, char *path, size_t len)
{
    char schemas[1100];
    snprintf(schemas, sizeof(schemas), "%s/schemas", h_source_dir());
    const char *defaults[][2] = {
        {"kafka.brokers", ac_dev_kafka_brokers(env->dk)},
        {"redis.url", env->dr.url},
        {"schemas.dir", schemas},
        {"http.port", "-1"},
        {"batch.ms", "20"},
        {"stats.interval_ms", "1000"},
        {"kafka.consumer.fetch.wait.max.ms", "10"},
        {"kafka.consumer.session.timeout.ms", "6000"},
        {"kafka.consumer.heartbeat.interval.ms", "500"},
    };
    snprintf(path, len, "%s/%s.conf", env->dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    extra = extra ? extra : "";
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        if (!h_sets(extra, defaults[i][0])) {
            fprintf(f, "%s = %s\n", defaults[i][0], defaults[i][1]);
        }
    }
    fputs(extra, f);
    fclose(f);
}

void h_write_timers_config(struct h_env *env, const char *extra, char *path, size_t len)
{
    char schemas[1100];
    snprintf(schemas, sizeof(schemas), "%s/schemas", h_source_dir());
    const char *defaults[][2] = {
        {"kafka.brokers", ac_dev_kafka_brokers(env->dk)},
        {"redis.url", env->dr.url},
        {"schemas.dir", schemas},
        {"http.port", "-1"},
        {"timers.idle_ms", "20"},
        /* tests of firing stop their processors first: the wall clock decides
         * (test_timers' event-time test turns it on) */
        {"timers.event_time", "false"},
    };
    snprintf(path, len, "%s/timers.conf", env->dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    extra = extra ? extra : "";
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        if (!h_sets(extra, defaults[i][0])) {
            fprintf(f, "%s = %s\n", defaults[i][0], defaults[i][1]);
        }
    }
    fputs(extra, f);
    fclose(f);
}

pid_t h_spawn(struct h_env *env, const char *name, const char *config_path)
{
    char exe[1024], logpath[512];
    snprintf(exe, sizeof(exe), "%s/aftercare-%s", h_bin_dir(), name);
    snprintf(logpath, sizeof(logpath), "%s/%s.log", env->dir, name);
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* A processor must not outlive a test that failed half-way. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        execl(exe, exe, "--config", config_path, (char *)NULL);
        _exit(127);
    }
    return pid;
}

int h_log_count(struct h_env *env, const char *name, const char *text)
{
    char path[512], line[4096];
    int n = 0;
    snprintf(path, sizeof(path), "%s/%s.log", env->dir, name);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f)) {
        n += strstr(line, text) != NULL;
    }
    if (f) {
        fclose(f);
    }
    return n;
}

int h_wait_log(struct h_env *env, const char *name, const char *text, int count, int deadline_ms)
{
    int64_t end = ac_clock_mono_ms() + deadline_ms;
    do {
        if (h_log_count(env, name, text) >= count) {
            return 1;
        }
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    } while (ac_clock_mono_ms() < end);
    return 0;
}

int h_terminate(pid_t pid)
{
    int status = 0;
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void h_kill9(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

void h_reader_open(struct h_env *env, struct h_reader *r, const char *topic)
{
    char err[512];
    memset(r, 0, sizeof(*r));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", ac_dev_kafka_brokers(env->dk), err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "test-reader", err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof(err));
    rd_kafka_conf_set(conf, "socket.timeout.ms", "5000", err, sizeof(err));
    r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    cr_assert_not_null(r->rk, "%s", err);
    rd_kafka_poll_set_consumer(r->rk);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(r->rk, topic, NULL);
    cr_assert_eq(rd_kafka_metadata(r->rk, 0, t, &md, 10000), 0, "metadata of %s", topic);
    rd_kafka_topic_destroy(t);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < md->topics[0].partition_cnt; i++) {
        rd_kafka_topic_partition_list_add(l, topic, md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_assign(r->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

static void h_header(const rd_kafka_message_t *m, const char *name, char *out, size_t len)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *v = NULL;
    size_t n = 0;
    out[0] = '\0';
    if (rd_kafka_message_headers(m, &hdrs) == 0 &&
        rd_kafka_header_get_last(hdrs, name, &v, &n) == 0 && v) {
        snprintf(out, len, "%.*s", (int)n, (const char *)v);
    }
}

size_t h_reader_poll(struct h_reader *r, size_t want, int deadline_ms)
{
    int64_t deadline = ac_clock_mono_ms() + deadline_ms;
    while (r->n < want && ac_clock_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 50);
        if (!m) {
            continue;
        }
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 256;
            r->recs = realloc(r->recs, r->cap * sizeof(*r->recs));
            cr_assert_not_null(r->recs);
        }
        struct h_rec *rec = &r->recs[r->n++];
        memset(rec, 0, sizeof(*rec));
        rec->partition = m->partition;
        rec->offset = m->offset;
        rec->key_len = m->key_len;
        rec->key_null = m->key == NULL;
        if (m->key) {
            size_t n = m->key_len < sizeof(rec->key) - 1 ? m->key_len : sizeof(rec->key) - 1;
            memcpy(rec->key, m->key, n);
            rec->key[n] = '\0';
        }
        h_header(m, "aftercare_id", rec->id, sizeof(rec->id));
        h_header(m, "reason", rec->reason, sizeof(rec->reason));
        h_header(m, "source_topic", rec->source_topic, sizeof(rec->source_topic));
        char off[32];
        h_header(m, "source_offset", off, sizeof(off));
        rec->source_offset = off[0] ? strtoll(off, NULL, 10) : -1;
        rec->value = malloc(m->len ? m->len : 1);
        memcpy(rec->value, m->payload, m->len);
        rec->len = m->len;
        rd_kafka_message_destroy(m);
    }
    return r->n;
}

void h_reader_read_all(struct h_env *env, struct h_reader *r, const char *topic)
{
    int64_t end = h_topic_end(env, topic);
    h_reader_open(env, r, topic);
    cr_assert_eq((int64_t)h_reader_poll(r, (size_t)end, 60000), end, "read %zu of %lld from %s",
                 r->n, (long long)end, topic);
}

void h_reader_close(struct h_reader *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->recs[i].value);
    }
    free(r->recs);
    rd_kafka_consumer_close(r->rk);
    rd_kafka_destroy(r->rk);
    memset(r, 0, sizeof(*r));
}

/* Sum of high watermarks, or -1 if the cluster did not answer. */
static int64_t h_topic_end_once(struct h_env *env, const char *topic)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(env->producer, topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(env->producer, 0, t, &md, 5000);
    rd_kafka_topic_destroy(t);
    if (e || md->topic_cnt != 1 || md->topics[0].err) {
        if (md) {
            rd_kafka_metadata_destroy(md);
        }
        return -1;
    }
    int64_t sum = 0;
    for (int i = 0; i < md->topics[0].partition_cnt && sum >= 0; i++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(env->producer, topic, md->topics[0].partitions[i].id,
                                             &lo, &hi, 5000) != 0) {
            sum = -1;
        } else {
            sum += hi;
        }
    }
    rd_kafka_metadata_destroy(md);
    return sum;
}

int64_t h_topic_end(struct h_env *env, const char *topic)
{
    /* Retried: fault-injection tests ask while a broker is down. */
    int64_t deadline = ac_clock_mono_ms() + 60000, sum;
    while ((sum = h_topic_end_once(env, topic)) < 0 && ac_clock_mono_ms() < deadline) {
        rd_kafka_poll(env->producer, 100);
    }
    cr_assert_geq(sum, 0, "no watermarks for %s within 60 s", topic);
    return sum;
}

redisReply *h_redis(struct h_env *env, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(env->redis, fmt, ap);
    va_end(ap);
    cr_assert_not_null(r, "redis: %s", env->redis->errstr);
    return r;
}

int64_t h_group_done(struct h_env *env, const char *prefix, const char *group, const char *topic)
{
    redisReply *r = h_redis(env, "HGETALL %s:pos:%s", prefix, group);
    int64_t sum = 0;
    size_t tl = strlen(topic);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        if (strncmp(r->element[i]->str, topic, tl) == 0 && r->element[i]->str[tl] == ':') {
            sum += strtoll(r->element[i + 1]->str, NULL, 10);
        }
    }
    freeReplyObject(r);
    return sum;
}

int h_wait_done(struct h_env *env, const char *prefix, const char *group, const char *topic,
                int deadline_ms)
{
    int64_t end = h_topic_end(env, topic);
    int64_t deadline = ac_clock_mono_ms() + deadline_ms;
    while (ac_clock_mono_ms() < deadline) {
        if (h_group_done(env, prefix, group, topic) >= end) {
            return 1;
        }
        struct timespec ts = {0, 20 * 1000000L}; /* polling a condition */
        nanosleep(&ts, NULL);
    }
    return 0;
}

void h_order_event(struct ac_event *ev, const char *event_id, const char *customer_id,
                   const char *type, int64_t at, int64_t total_cents, const char *family)
{
    memset(ev, 0, sizeof(*ev));
    ev->topic = AC_TOPIC_ORDERS;
    snprintf(ev->event_id, sizeof(ev->event_id), "%s", event_id);
    snprintf(ev->customer_id, sizeof(ev->customer_id), "%s", customer_id);
    snprintf(ev->type, sizeof(ev->type), "%s", type);
    ev->occurred_at = at;
    struct ac_order_fields *o = &ev->u.order;
    snprintf(o->order_id, sizeof(o->order_id), "o-%s", event_id);
    o->total_cents = total_cents;
    snprintf(o->currency, sizeof(o->currency), "EUR");
    o->renewal_at = AC_TS_NONE;
    if (family) {
        o->n_items = 1;
        snprintf(o->items[0].sku, sizeof(o->items[0].sku), "sku-%s", family);
        snprintf(o->items[0].product_family, sizeof(o->items[0].product_family), "%s", family);
        snprintf(o->items[0].category, sizeof(o->items[0].category), "cat");
        o->items[0].unit_price_cents = total_cents;
        o->items[0].quantity = 1;
    }
}

int h_http_get(int port, const char *path, char *body, size_t len)
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
        return -1;
    }
    char req[256];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t r;
    char *buf = malloc(1 << 20);
    while (got < (1 << 20) - 1 && (r = read(fd, buf + got, (1 << 20) - 1 - got)) > 0) {
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    int status = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
        status = -1;
    }
    const char *b = strstr(buf, "\r\n\r\n");
    snprintf(body, len, "%s", b ? b + 4 : "");
    free(buf);
    return status;
}

static int h_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void h_id_diff(char **want, size_t n_want, char **got, size_t n_got, struct h_id_diff *d)
{
    size_t i = 0, j = 0;
    memset(d, 0, sizeof(*d));
    qsort(want, n_want, sizeof(char *), h_cmp_str);
    qsort(got, n_got, sizeof(char *), h_cmp_str);
    while (i < n_want || j < n_got) {
        if (j > 0 && j < n_got && strcmp(got[j], got[j - 1]) == 0) {
            d->repeats++, j++;
            continue;
        }
        int c = i == n_want ? 1 : j == n_got ? -1 : strcmp(want[i], got[j]);
        if (c == 0) {
            d->matched++, i++, j++;
        } else if (c < 0) {
            d->missing++, i++;
        } else {
            d->extra++, j++;
        }
    }
}

char **h_reader_ids(const struct h_reader *r)
{
    char **ids = calloc(r->n + 1, sizeof(char *));
    cr_assert_not_null(ids);
    for (size_t i = 0; i < r->n; i++) {
        ids[i] = r->recs[i].id;
    }
    return ids;
}

int h_record(struct h_env *env, const char *customer_id, struct ac_record *rec)
{
    redisReply *r = h_redis(env, "GET ac:{%u}:c:%s", ac_store_bucket(customer_id), customer_id);
    int exists = r->type == REDIS_REPLY_STRING;
    int rc = ac_record_decode(rec, customer_id, exists ? r->str : "", exists ? r->len : 0);
    freeReplyObject(r);
    cr_assert_eq(rc, 0, "the record of %s decodes", customer_id);
    return exists;
}

void h_state_str(struct h_env *env, const char *customer_id, const char *field, char *out,
                 size_t len)
{
    struct ac_record rec;
    ac_record_init(&rec, customer_id);
    h_record(env, customer_id, &rec);
    cr_assert_eq(ac_customer_field(&rec.state, field, out, len), 0, "field %s exists", field);
    ac_record_fini(&rec);
}

long long h_state_ll(struct h_env *env, const char *customer_id, const char *field)
{
    char v[64];
    h_state_str(env, customer_id, field, v, sizeof(v));
    return strtoll(v, NULL, 10);
}

int h_timer_count(struct h_env *env, const char *customer_id)
{
    struct ac_record rec;
    ac_record_init(&rec, customer_id);
    h_record(env, customer_id, &rec);
    int n = rec.timers.n;
    ac_record_fini(&rec);
    return n;
}
