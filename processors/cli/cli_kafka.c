/* cli_kafka.c — `aftercare produce` and `aftercare consume`. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "kafka.h"

static volatile int cli_stop;

static void cli_on_signal(int sig)
{
    (void)sig;
    cli_stop = 1;
}

static void cli_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    long *failed = opaque;
    (void)rk;
    if (m->err) {
        (*failed)++;
        fprintf(stderr, "aftercare: delivery failed: %s\n", rd_kafka_err2str(m->err));
    }
}

int cli_produce_stream(const char *brokers, struct ac_codec *codec, const char *topic,
                       const char *schema, FILE *in, const char *name, long *sent)
{
    char err[512];
    long failed = 0, lineno = 0;
    int rc = 1;
    char *line = NULL;
    size_t cap = 0;
    struct ac_buf avro;
    ac_buf_init(&avro);
    *sent = 0;
    rd_kafka_t *rk = ac_kafka_producer_new(brokers, NULL, cli_dr, &failed, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "aftercare: %s\n", err);
        return 1;
    }
    ssize_t n;
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
            line[--n] = '\0';
        }
        if (n == 0 || line[0] == '#') {
            continue;
        }
        ac_buf_reset(&avro);
        if (ac_codec_json_to_avro(codec, schema, line, &avro, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s:%ld: %s\n", name, lineno, err);
            goto flush;
        }
        json_t *obj = json_loads(line, 0, NULL);
        const char *key = json_string_value(json_object_get(obj, "customer_id"));
        rd_kafka_resp_err_t e;
        do {
            e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                  RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                  RD_KAFKA_V_VALUE(avro.data, avro.len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 50);
            }
        } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        json_decref(obj);
        if (e) {
            fprintf(stderr, "%s:%ld: produce: %s\n", name, lineno, rd_kafka_err2str(e));
            goto flush;
        }
        (*sent)++;
        rd_kafka_poll(rk, 0);
    }
    rc = 0;
flush:
    /* Everything before a bad line is sent completely; nothing after it. */
    rd_kafka_flush(rk, 30000);
    if (rd_kafka_outq_len(rk) > 0 || failed > 0) {
        fprintf(stderr, "aftercare: %ld events not confirmed by the broker\n",
                failed + rd_kafka_outq_len(rk));
        rc = 1;
    }
    if (rc != 0) {
        fprintf(stderr, "aftercare: %ld events sent before the error, none after it\n", *sent);
    }
    rd_kafka_destroy(rk);
    free(line);
    ac_buf_fini(&avro);
    return rc;
}

int cli_produce(int argc, char **argv)
{
    const char *topic = NULL, *file = NULL, *brokers = NULL, *schema = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            printf("usage: aftercare produce TOPIC [FILE] [--brokers B] [--schema NAME]\n\n"
                   "Reads JSON lines (FILE or stdin) with the schema's field names: timestamps\n"
                   "as ISO-8601 or epoch ms, money in integer cents. Each line becomes one\n"
                   "Confluent-framed Avro message keyed by customer_id. A bad line stops the\n"
                   "run with FILE:LINE: reason; everything before it is sent, nothing after.\n");
            return 0;
        } else if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
            brokers = argv[++i];
        } else if (strcmp(argv[i], "--schema") == 0 && i + 1 < argc) {
            schema = argv[++i];
        } else if (!topic) {
            topic = argv[i];
        } else if (!file) {
            file = argv[i];
        } else {
            fprintf(stderr, "aftercare produce: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!topic) {
        fprintf(stderr, "usage: aftercare produce TOPIC [FILE]\n");
        return 2;
    }
    if (!schema && !(schema = cli_schema_of(topic))) {
        fprintf(stderr, "aftercare produce: no schema for topic '%s' (use --schema NAME)\n", topic);
        return 2;
    }
    if (!(brokers = cli_brokers(brokers))) {
        return 2;
    }
    FILE *in = file ? fopen(file, "r") : stdin;
    if (!in) {
        fprintf(stderr, "aftercare produce: %s: %s\n", file, strerror(errno));
        return 1;
    }
    struct ac_codec *codec = cli_codec();
    if (!codec) {
        return 1;
    }
    long sent = 0;
    int rc = cli_produce_stream(brokers, codec, topic, schema, in, file ? file : "stdin", &sent);
    if (file) {
        fclose(in);
    }
    ac_codec_destroy(codec);
    return rc;
}

static void cli_json_base64(struct ac_buf *out, const unsigned char *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    ac_buf_append(out, "\"", 1);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {tbl[v >> 18 & 63], tbl[v >> 12 & 63], i + 1 < n ? tbl[v >> 6 & 63] : '=',
                     i + 2 < n ? tbl[v & 63] : '='};
        ac_buf_append(out, q, 4);
    }
    ac_buf_append(out, "\"", 1);
}

/* The DLQ record: where it came from, why, and the original bytes. The
 * key and header values are shown as text, all their bytes (a null one as
 * ""; bytes that are not UTF-8 as U+FFFD: the line is always valid JSON);
 * the value exactly, in base64. */
static void cli_dlq_json(const rd_kafka_message_t *m, struct ac_buf *out)
{
    rd_kafka_headers_t *hdrs = NULL;
    ac_buf_printf(out, "{\"partition\":%d,\"offset\":%lld,\"key\":", m->partition,
                  (long long)m->offset);
    ac_buf_json_strn(out, m->key, m->key ? m->key_len : 0);
    ac_buf_append(out, ",\"headers\":{", 12);
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *val;
        size_t len;
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &len) == 0; i++) {
            if (i) {
                ac_buf_append(out, ",", 1);
            }
            ac_buf_json_str(out, name);
            ac_buf_append(out, ":", 1);
            ac_buf_json_strn(out, val, val ? len : 0);
        }
    }
    ac_buf_append(out, "},\"value_base64\":", 17);
    cli_json_base64(out, m->payload, m->len);
    ac_buf_append(out, "}", 1);
}

int cli_consume_stream(const struct cli_consume_opts *o, struct ac_codec *codec, FILE *out,
                       long *received)
{
    char err[512], group[64];
    const char *schema = cli_schema_of(o->topic);
    int is_dlq = strstr(o->topic, "dlq") != NULL;
    struct ac_buf json;
    ac_buf_init(&json);
    *received = 0;
    snprintf(group, sizeof(group), "aftercare-cli-%d", (int)getpid());
    const char *defaults[] = {"group.id", group, "enable.auto.commit", "false", "fetch.wait.max.ms",
                              "50",       NULL};
    rd_kafka_conf_t *conf =
        ac_kafka_conf_new(o->brokers, AC_KAFKA_CONSUMER, defaults, NULL, err, sizeof(err));
    if (!conf) {
        fprintf(stderr, "aftercare: %s\n", err);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "aftercare: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_poll_set_consumer(rk);
    /* Assign every partition directly: no group join, no 3 s wait. */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, o->topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 10000);
    rd_kafka_topic_destroy(t);
    if (e || md->topic_cnt != 1 || md->topics[0].err) {
        fprintf(stderr, "aftercare consume: topic '%s': %s\n", o->topic,
                rd_kafka_err2str(e ? e : md->topics[0].err));
        if (md) {
            rd_kafka_metadata_destroy(md);
        }
        rd_kafka_destroy(rk);
        return 1;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    for (int i = 0; i < md->topics[0].partition_cnt; i++) {
        rd_kafka_topic_partition_list_add(l, o->topic, md->topics[0].partitions[i].id)->offset =
            o->from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int64_t last = ac_clock_mono_ms();
    while (!cli_stop && !(o->stop && *o->stop) && (o->max <= 0 || *received < o->max)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            if (o->timeout_s > 0 && (double)(ac_clock_mono_ms() - last) >= o->timeout_s * 1000) {
                break;
            }
            continue;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                fprintf(stderr, "aftercare consume: %s\n", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        last = ac_clock_mono_ms();
        ac_buf_reset(&json);
        if (is_dlq || !schema) {
            cli_dlq_json(m, &json);
        } else if (ac_codec_avro_to_json(codec, schema, m->payload, m->len, &json, err,
                                         sizeof(err)) != 0) {
            fprintf(stderr, "aftercare consume: partition %d offset %lld: %s\n", m->partition,
                    (long long)m->offset, err);
            rd_kafka_message_destroy(m);
            continue;
        }
        fprintf(out, "%s\n", json.data);
        fflush(out);
        (*received)++;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    ac_buf_fini(&json);
    return 0;
}

int cli_consume(int argc, char **argv)
{
    struct cli_consume_opts o = {0};
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--help") == 0) {
            printf("usage: aftercare consume TOPIC [--from-beginning] [--max N] [--timeout S]\n"
                   "                 [--brokers B]\n\n"
                   "Writes each record as one JSON line: actions, signals and decisions with\n"
                   "their schema's fields; the DLQ with its headers and the original bytes\n"
                   "(base64).\n"
                   "--timeout S exits after S seconds without a new message.\n");
            return 0;
        } else if (strcmp(argv[i], "--from-beginning") == 0) {
            o.from_beginning = 1;
        } else if (strcmp(argv[i], "--max") == 0 && i + 1 < argc) {
            o.max = strtol(argv[++i], &end, 10);
            if (*end || o.max < 0) {
                fprintf(stderr, "aftercare consume: --max expects a count\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            o.timeout_s = strtod(argv[++i], &end);
            if (*end || o.timeout_s < 0) {
                fprintf(stderr, "aftercare consume: --timeout expects seconds\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
            o.brokers = argv[++i];
        } else if (!o.topic) {
            o.topic = argv[i];
        } else {
            fprintf(stderr, "aftercare consume: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!o.topic) {
        fprintf(stderr, "usage: aftercare consume TOPIC [--from-beginning] [--max N]\n");
        return 2;
    }
    if (!(o.brokers = cli_brokers(o.brokers))) {
        return 2;
    }
    struct ac_codec *codec = cli_codec();
    if (!codec) {
        return 1;
    }
    signal(SIGINT, cli_on_signal);
    signal(SIGTERM, cli_on_signal);
    long n = 0;
    int rc = cli_consume_stream(&o, codec, stdout, &n);
    ac_codec_destroy(codec);
    return rc;
}

/* --- a reader for the demo ------------------------------------------------------------------- */

#define CLI_READER_PARTS 256

struct cli_reader {
    rd_kafka_t *rk;
    char topic[128];
    const char *schema;
    int n_parts;
    int64_t end[CLI_READER_PARTS];  /* high watermark at open time */
    int64_t next[CLI_READER_PARTS]; /* next offset to read */
};

struct cli_reader *cli_reader_open(const char *brokers, const char *topic, int from_beginning,
                                   char *err, size_t errlen)
{
    char group[64];
    snprintf(group, sizeof(group), "aftercare-cli-%d", (int)getpid());
    const char *defaults[] = {"group.id", group, "enable.auto.commit", "false", "fetch.wait.max.ms",
                              "10",       NULL};
    struct cli_reader *r = calloc(1, sizeof(*r));
    rd_kafka_conf_t *conf =
        r ? ac_kafka_conf_new(brokers, AC_KAFKA_CONSUMER, defaults, NULL, err, errlen) : NULL;
    if (!conf) {
        if (!r) {
            snprintf(err, errlen, "out of memory");
        }
        free(r);
        return NULL;
    }
    snprintf(r->topic, sizeof(r->topic), "%s", topic);
    r->schema = cli_schema_of(topic);
    if (!(r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen))) {
        rd_kafka_conf_destroy(conf);
        free(r);
        return NULL;
    }
    rd_kafka_poll_set_consumer(r->rk);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(r->rk, topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(r->rk, 0, t, &md, 10000);
    rd_kafka_topic_destroy(t);
    if (e || md->topic_cnt != 1 || md->topics[0].err) {
        snprintf(err, errlen, "topic '%s': %s", topic, rd_kafka_err2str(e ? e : md->topics[0].err));
        if (md) {
            rd_kafka_metadata_destroy(md);
        }
        cli_reader_close(r);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    for (int i = 0; i < md->topics[0].partition_cnt && i < CLI_READER_PARTS; i++) {
        int32_t p = md->topics[0].partitions[i].id;
        int64_t lo = 0, hi = 0;
        if (p < 0 || p >= CLI_READER_PARTS ||
            rd_kafka_query_watermark_offsets(r->rk, topic, p, &lo, &hi, 10000) != 0) {
            continue;
        }
        r->end[p] = hi;
        r->next[p] = from_beginning ? lo : hi;
        r->n_parts = p + 1 > r->n_parts ? p + 1 : r->n_parts;
        rd_kafka_topic_partition_list_add(l, topic, p)->offset =
            from_beginning ? RD_KAFKA_OFFSET_BEGINNING : hi;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_assign(r->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return r;
}

json_t *cli_reader_next(struct cli_reader *r, struct ac_codec *codec, int timeout_ms)
{
    char err[512];
    rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, timeout_ms);
    if (!m) {
        return NULL;
    }
    json_t *o = NULL;
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "aftercare: %s: %s\n", r->topic, rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
        return NULL;
    }
    if (m->partition >= 0 && m->partition < CLI_READER_PARTS) {
        r->next[m->partition] = m->offset + 1;
    }
    struct ac_buf json;
    ac_buf_init(&json);
    if (!r->schema ||
        ac_codec_avro_to_json(codec, r->schema, m->payload, m->len, &json, err, sizeof(err)) != 0) {
        fprintf(stderr, "aftercare: %s partition %d offset %lld: %s\n", r->topic, m->partition,
                (long long)m->offset, r->schema ? err : "no schema");
    } else {
        o = json_loadb(json.data, json.len, 0, NULL);
    }
    ac_buf_fini(&json);
    rd_kafka_message_destroy(m);
    return o;
}

int cli_reader_at_end(const struct cli_reader *r)
{
    for (int p = 0; p < r->n_parts; p++) {
        if (r->next[p] < r->end[p]) {
            return 0;
        }
    }
    return 1;
}

void cli_reader_close(struct cli_reader *r)
{
    if (!r) {
        return;
    }
    if (r->rk) {
        rd_kafka_consumer_close(r->rk);
        rd_kafka_destroy(r->rk);
    }
    free(r);
}
