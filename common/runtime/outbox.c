/* outbox.c — producing outbox records to Kafka (see outbox.h). */
#include "outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "metrics.h"

/* The opaque of the records produced next (one thread produces). */
static void *outbox_msg_opaque;

void ac_outbox_set_msg_opaque(void *opaque)
{
    outbox_msg_opaque = opaque;
}

int ac_outbox_produce_keyed(rd_kafka_t *producer, const char *topic, const void *key,
                            size_t key_len, const void *payload, size_t len,
                            rd_kafka_headers_t *hdrs)
{
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? key_len : 0),
            RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(outbox_msg_opaque), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            return 0;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            AC_ERROR("produce to %s failed: %s", topic, rd_kafka_err2str(err));
            if (hdrs) {
                rd_kafka_headers_destroy(hdrs);
            }
            /* Too large (message.max.bytes) or otherwise refused as it is:
             * retrying the same record can never succeed. */
            return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
                           err == RD_KAFKA_RESP_ERR__INVALID_ARG
                       ? AC_ERR_INVALID
                       : AC_ERR_TRANSIENT;
        }
        rd_kafka_poll(producer, 10);
    }
}

int ac_outbox_produce_one(rd_kafka_t *producer, const char *topic, const char *key,
                          const void *payload, size_t len, rd_kafka_headers_t *hdrs)
{
    return ac_outbox_produce_keyed(producer, topic, key, strlen(key), payload, len, hdrs);
}

/* Counts one DLQ record in aftercare_dlq_total{topic, reason}. */
static void outbox_count_dlq(const char *source_topic, const char *reason)
{
    char label[320], rbuf[128];
    snprintf(label, sizeof(label), "topic=\"%s\",reason=\"%s\"", source_topic,
             ac_outbox_reason_label(reason, rbuf, sizeof(rbuf)));
    ac_metrics_add("aftercare_dlq_total", label, 1);
}

/* A DLQ record the producer refused as it is (larger than message.max.bytes):
 * its first AC_OUTBOX_DLQ_TRUNCATE bytes go instead, with the original length
 * in the header truncated_from, so the record's handling ends (it is never
 * retried for ever, and the batch's other records are not sent again). */
#define AC_OUTBOX_DLQ_TRUNCATE (16 * 1024)

static int outbox_dlq_send(rd_kafka_t *producer, const char *dlq_topic, const void *key,
                           size_t key_len, const char *source_topic, int32_t partition,
                           int64_t offset, const char *reason, const void *payload, size_t len)
{
    rd_kafka_headers_t *h = ac_outbox_dlq_headers(source_topic, partition, offset, reason);
    int rc = ac_outbox_produce_keyed(producer, dlq_topic, key, key_len, payload, len, h);
    if (rc != AC_ERR_INVALID || len <= AC_OUTBOX_DLQ_TRUNCATE) {
        return rc;
    }
    char num[24];
    snprintf(num, sizeof(num), "%zu", len);
    h = ac_outbox_dlq_headers(source_topic, partition, offset, reason);
    rd_kafka_header_add(h, "truncated_from", -1, num, -1);
    AC_WARN("dlq record too large for the producer topic=%s partition=%d offset=%lld bytes=%zu; "
            "sending its first %d bytes",
            source_topic, partition, (long long)offset, len, AC_OUTBOX_DLQ_TRUNCATE);
    ac_metrics_add("aftercare_dlq_truncated_total", "", 1);
    return ac_outbox_produce_keyed(producer, dlq_topic, key, key_len, payload,
                                   AC_OUTBOX_DLQ_TRUNCATE, h);
}

int ac_outbox_produce_dlq(rd_kafka_t *producer, const char *dlq_topic, const char *source_topic,
                          const rd_kafka_message_t *m, const char *reason)
{
    outbox_count_dlq(source_topic, reason);
    return outbox_dlq_send(producer, dlq_topic, m->key, m->key_len, source_topic, m->partition,
                           m->offset, reason, m->payload, m->len);
}

rd_kafka_headers_t *ac_outbox_dlq_headers(const char *topic, int32_t partition, int64_t offset,
                                          const char *reason)
{
    char num[24];
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    rd_kafka_header_add(h, "source_topic", -1, topic, -1);
    snprintf(num, sizeof(num), "%d", partition);
    rd_kafka_header_add(h, "source_partition", -1, num, -1);
    snprintf(num, sizeof(num), "%lld", (long long)offset);
    rd_kafka_header_add(h, "source_offset", -1, num, -1);
    rd_kafka_header_add(h, "reason", -1, reason, -1);
    return h;
}

const char *ac_outbox_reason_label(const char *reason, char *buf, size_t len)
{
    /* Bounded label cardinality: schema ids are free-form, keep the kind. */
    if (strncmp(reason, "unknown_schema_id", 17) == 0) {
        return "unknown_schema_id";
    }
    snprintf(buf, len, "%s", reason);
    return buf;
}

int ac_outbox_rejected(struct ac_buf *out, const char *topic, int32_t partition, int64_t offset,
                       const char *reason, const void *bytes, size_t len)
{
    int rc = ac_buf_append(out, topic, strlen(topic) + 1);
    rc |= ac_buf_printf(out, "%d", (int)partition);
    rc |= ac_buf_append(out, "", 1);
    rc |= ac_buf_printf(out, "%lld", (long long)offset);
    rc |= ac_buf_append(out, "", 1);
    rc |= ac_buf_append(out, reason, strlen(reason) + 1);
    rc |= ac_buf_append(out, bytes, len);
    return rc ? AC_ERR_NOMEM : 0;
}

static int outbox_produce_rejected(rd_kafka_t *producer, const struct ac_outbox_topics *t,
                                   const char *key, const struct ac_outbox_rec *rec)
{
    const char *p = rec->payload, *end = rec->payload + rec->len;
    const char *fields[4] = {"", "", "", ""};
    /* 'D': topic, partition, offset, reason; 'd' (written by 0.1.0 before the
     * topic was recorded): partition, offset, reason. */
    int legacy = rec->kind == 'd', first = legacy ? 1 : 0;
    for (int i = first; i < 4; i++) {
        const char *z = memchr(p, '\0', (size_t)(end - p));
        if (!z) {
            AC_WARN("malformed rejected-event record customer=%s id=%s; dropped", key, rec->id);
            return 0; /* nothing sane to send */
        }
        fields[i] = p;
        p = z + 1;
    }
    outbox_count_dlq(fields[0], fields[3]);
    /* Keyed by the customer id: the key check (ac_codec_check_key()) made
     * the original key equal to it. */
    return outbox_dlq_send(producer, t->dlq, key, strlen(key), fields[0],
                           (int32_t)strtol(fields[1], NULL, 10), strtoll(fields[2], NULL, 10),
                           fields[3], p, (size_t)(end - p));
}

int ac_outbox_produce_rec(rd_kafka_t *producer, const struct ac_outbox_topics *t,
                          const char *customer_id, const struct ac_outbox_rec *rec)
{
    if (rec->kind == 'D' || rec->kind == 'd') {
        return outbox_produce_rejected(producer, t, customer_id, rec);
    }
    rd_kafka_headers_t *h = rd_kafka_headers_new(1);
    rd_kafka_header_add(h, "aftercare_id", -1, rec->id, -1);
    const char *topic = rec->kind == 'a'   ? t->actions
                        : rec->kind == 'c' ? t->decisions
                                           : t->signals;
    int rc = ac_outbox_produce_one(producer, topic, customer_id, rec->payload, rec->len, h);
    if (rc == AC_ERR_INVALID) {
        /* Our own record refused as it is: it goes to the DLQ (truncated if
         * need be) with the reason, instead of wedging the batch. */
        char reason[96];
        snprintf(reason, sizeof(reason), "produce_refused:%s", rec->id);
        outbox_count_dlq(topic, "produce_refused");
        rc = outbox_dlq_send(producer, t->dlq, customer_id, strlen(customer_id), topic, -1, -1,
                             reason, rec->payload, rec->len);
    }
    return rc;
}

/* --- records the broker refused ------------------------------------------------------------- */

void ac_outbox_refused_init(struct ac_outbox_refused *r)
{
    ac_buf_init(&r->data);
    r->n = 0;
}

void ac_outbox_refused_fini(struct ac_outbox_refused *r)
{
    ac_buf_fini(&r->data);
    r->n = 0;
}

int ac_outbox_refused_error(rd_kafka_resp_err_t err)
{
    return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
           err == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE ||
           err == RD_KAFKA_RESP_ERR_INVALID_RECORD;
}

static int outbox_put_u32(struct ac_buf *b, size_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    return ac_buf_append(b, x, 4);
}

static size_t outbox_get_u32(const unsigned char *p)
{
    return ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | (size_t)p[3];
}

int ac_outbox_refused_note(struct ac_outbox_refused *r, const rd_kafka_message_t *m)
{
    if (!ac_outbox_refused_error(m->err)) {
        return 0;
    }
    const char *topic = rd_kafka_topic_name(m->rkt);
    const void *id = NULL;
    size_t id_len = 0;
    rd_kafka_headers_t *h = NULL;
    char truncated = 0;
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (rd_kafka_header_get_last(h, "aftercare_id", &id, &id_len) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            id = NULL;
            id_len = 0;
        }
        const void *tv;
        size_t tl;
        truncated =
            rd_kafka_header_get_last(h, "truncated_from", &tv, &tl) == RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    AC_WARN("the broker refused a record topic=%s id=%.*s bytes=%zu: %s", topic, (int)id_len,
            id ? (const char *)id : "", m->len, rd_kafka_err2str(m->err));
    struct ac_buf *b = &r->data;
    size_t mark = b->len; /* a note written half is taken back */
    int rc = ac_buf_append(b, topic, strlen(topic) + 1);
    rc |= ac_buf_append(b, id ? id : "", id_len);
    rc |= ac_buf_append(b, "", 1);
    rc |= ac_buf_append(b, rd_kafka_err2name(m->err), strlen(rd_kafka_err2name(m->err)) + 1);
    rc |= ac_buf_append(b, &truncated, 1);
    rc |= outbox_put_u32(b, m->key ? m->key_len : 0);
    rc |= m->key_len ? ac_buf_append(b, m->key, m->key_len) : 0;
    rc |= outbox_put_u32(b, m->len);
    rc |= m->len ? ac_buf_append(b, m->payload, m->len) : 0;
    if (rc != 0) {
        b->len = mark;
        if (b->data) {
            b->data[mark] = '\0';
        }
        AC_ERROR("out of memory noting a refused record topic=%s; it stays in the outbox", topic);
        return 0; /* counted as a failed delivery: the batch is retried */
    }
    r->n++;
    return 1;
}

int ac_outbox_refused_send(struct ac_outbox_refused *r, rd_kafka_t *producer, const char *dlq_topic,
                           long *sent)
{
    /* The notes move out first: producing can serve delivery reports
     * (a full queue polls), and a refusal noted then goes to a fresh list
     * that the caller sends next, never into the one being read. */
    struct ac_outbox_refused now = *r;
    ac_outbox_refused_init(r);
    const unsigned char *p = (const unsigned char *)now.data.data;
    int rc = 0;
    for (size_t i = 0; i < now.n && rc == 0; i++) {
        const char *topic = (const char *)p;
        p += strlen(topic) + 1;
        const char *id = (const char *)p;
        p += strlen(id) + 1;
        const char *err = (const char *)p;
        p += strlen(err) + 1;
        int truncated = *p++;
        size_t key_len = outbox_get_u32(p);
        const unsigned char *key = p + 4;
        p = key + key_len;
        size_t len = outbox_get_u32(p);
        const unsigned char *payload = p + 4;
        p = payload + len;
        char reason[160], label[200];
        snprintf(reason, sizeof(reason), "produce_refused:%s%s%s", err, id[0] ? ":" : "", id);
        if (strcmp(topic, dlq_topic) != 0) {
            outbox_count_dlq(topic, "produce_refused");
            rc = outbox_dlq_send(producer, dlq_topic, key, key_len, topic, -1, -1, reason, payload,
                                 len);
        } else if (!truncated && len > AC_OUTBOX_DLQ_TRUNCATE) {
            /* a DLQ record: its first bytes, once */
            char num[24];
            snprintf(num, sizeof(num), "%zu", len);
            rd_kafka_headers_t *h = ac_outbox_dlq_headers(topic, -1, -1, reason);
            rd_kafka_header_add(h, "truncated_from", -1, num, -1);
            ac_metrics_add("aftercare_dlq_truncated_total", "", 1);
            rc = ac_outbox_produce_keyed(producer, dlq_topic, key, key_len, payload,
                                         AC_OUTBOX_DLQ_TRUNCATE, h);
        } else {
            AC_ERROR("a DLQ record was refused by the broker and cannot be made smaller; "
                     "dropped topic=%s id=%s bytes=%zu: %s",
                     topic, id, len, err);
            snprintf(label, sizeof(label), "topic=\"%s\"", topic);
            ac_metrics_add("aftercare_records_refused_total", label, 1);
            continue;
        }
        if (rc == 0) {
            (*sent)++;
        }
    }
    ac_outbox_refused_fini(&now);
    return rc;
}
