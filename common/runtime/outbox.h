/* outbox.h — producing outbox records to Kafka.
 *
 * Every record an atomic commit put in a customer's outbox (store.h) is
 * produced by whoever finds it: the processor that wrote it, or the timer
 * process's sweep after that processor died. Record kinds: 'a' an action
 * (aftercare.actions), 's' a signal (aftercare.signals), 'c' a decision
 * (aftercare.decisions), 'D' an event the
 * domain code rejected (aftercare.dlq): kind 'D', "topic\0partition\0offset\0
 * reason\0" followed by the original bytes (kind 'd', without the topic, is
 * still read).  Actions and signals carry their id in the
 * header aftercare_id; the key is always the customer id. */
#ifndef AC_OUTBOX_H
#define AC_OUTBOX_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct ac_outbox_topics {
    const char *actions;
    const char *signals;
    const char *dlq;
    const char *decisions;
};

/* Every record produced from now on carries opaque as its message opaque
 * (its delivery report's m->_private): the runtime counts two batches'
 * reports apart. Records are produced from one thread. */
void ac_outbox_set_msg_opaque(void *opaque);
/* Produces one message, waiting while the local queue is full. The key is
 * key[0..key_len) exactly as given (NUL bytes included, nothing read past
 * key_len); key NULL is a null key, key != NULL with key_len 0 an empty
 * one. Takes ownership of hdrs. Returns 0 or AC_ERR_TRANSIENT. */
int ac_outbox_produce_keyed(rd_kafka_t *producer, const char *topic, const void *key,
                            size_t key_len, const void *payload, size_t len,
                            rd_kafka_headers_t *hdrs);
/* The same with a NUL-terminated key (a customer id): strlen(key) bytes.
 * Never pass a consumed message's key here: librdkafka does not terminate
 * it, and strlen() runs on into the bytes after it. */
int ac_outbox_produce_one(rd_kafka_t *producer, const char *topic, const char *key,
                          const void *payload, size_t len, rd_kafka_headers_t *hdrs);
/* Sends consumed message m, which could not be decoded or checked, to
 * dlq_topic: its key and value bytes exactly as they came (a null key stays
 * null, an empty one empty), with the DLQ headers (source_topic = the topic
 * m was read from, its partition and offset, reason), and counts it in
 * aftercare_dlq_total. m is borrowed. Returns 0 or AC_ERR_TRANSIENT. */
int ac_outbox_produce_dlq(rd_kafka_t *producer, const char *dlq_topic, const char *source_topic,
                          const rd_kafka_message_t *m, const char *reason);
/* Headers of a DLQ record. */
rd_kafka_headers_t *ac_outbox_dlq_headers(const char *topic, int32_t partition, int64_t offset,
                                          const char *reason);
/* A DLQ reason as a metric label value (bounded cardinality). */
const char *ac_outbox_reason_label(const char *reason, char *buf, size_t len);
/* Serializes a 'd' record's payload into out. */
int ac_outbox_rejected(struct ac_buf *out, const char *topic, int32_t partition, int64_t offset,
                       const char *reason, const void *bytes, size_t len);
/* Produces one outbox record to its topic (and counts a DLQ record in
 * aftercare_dlq_total). Returns 0, or AC_ERR_TRANSIENT. */
int ac_outbox_produce_rec(rd_kafka_t *producer, const struct ac_outbox_topics *t,
                          const char *customer_id, const struct ac_outbox_rec *rec);

/* Records the broker refused for good (larger than the topic's
 * max.message.bytes, an invalid record): a delivery report with such an
 * error ends the record's handling instead of failing the batch for ever.
 * The delivery callback notes a copy (ac_outbox_refused_note); once the
 * batch's reports are in, ac_outbox_refused_send produces a DLQ record for
 * each (reason "produce_refused:<error>", header aftercare_id), a refused
 * DLQ record's first 16 KiB once more (header truncated_from), and a
 * refused truncated copy is logged and counted in
 * aftercare_records_refused_total{topic}: visible, never silent. */
struct ac_outbox_refused {
    /* per record: topic\0 id\0 error\0, truncated (1 byte), key length
     * (u32), key, payload length (u32), payload */
    struct ac_buf data;
    size_t n;
};
void ac_outbox_refused_init(struct ac_outbox_refused *r);
void ac_outbox_refused_fini(struct ac_outbox_refused *r);
/* 1 if err is a refusal of the record itself (retrying cannot help). */
int ac_outbox_refused_error(rd_kafka_resp_err_t err);
/* From a delivery report: notes m if its error is such a refusal (1), else 0. */
int ac_outbox_refused_note(struct ac_outbox_refused *r, const rd_kafka_message_t *m);
/* Produces the noted records' DLQ copies, adding to *sent, and forgets
 * them. Returns 0 or AC_ERR_TRANSIENT. */
int ac_outbox_refused_send(struct ac_outbox_refused *r, rd_kafka_t *producer, const char *dlq_topic,
                           long *sent);

#endif
