/* kafka.h — librdkafka set-up shared by the runtime and the CLI.
 *
 * The only header besides the runtime's own files that includes rdkafka.h;
 * processors never see it. */
#ifndef AC_KAFKA_H
#define AC_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "config.h"

/* Common keys every Kafka client reads (see runtime.c's table). */
#define AC_KAFKA_BROKERS_KEY "kafka.brokers"

/* A conf with bootstrap.servers from brokers, the logger wired to ac_log,
 * then `defaults` (NULL-terminated name, value, name, value...; may be NULL),
 * then every pass-through kafka.* property of cfg (may be NULL), so the
 * operator's properties override the defaults. Returns NULL with errstr
 * filled if librdkafka refuses a property. Caller owns the conf. */
enum ac_kafka_scope { AC_KAFKA_CONSUMER, AC_KAFKA_PRODUCER };

/* Pass-through keys: kafka.<property> applies to every client;
 * kafka.consumer.<property> and kafka.producer.<property> only to that kind
 * (so a consumer-only property does not warn in the producer). */
rd_kafka_conf_t *ac_kafka_conf_new(const char *brokers, enum ac_kafka_scope scope,
                                   const char *const *defaults, const struct ac_config *cfg,
                                   char *errstr, size_t errlen);

/* Sets one property or fails with "kafka property 'x': <librdkafka's reason>". */
int ac_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *errstr,
                      size_t errlen);

/* An idempotent producer (acks=all) for brokers, which has asked the
 * cluster for its topics (at most a second) so that the first produce does
 * not wait for metadata. Caller owns it. */
rd_kafka_t *ac_kafka_producer_new(const char *brokers, const struct ac_config *cfg,
                                  void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                                  void *opaque, char *errstr, size_t errlen);

#endif
