/* kafka.c — librdkafka configuration helpers. */
#include "kafka.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "log.h"

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    enum ac_log_level l = level <= 3   ? AC_LOG_ERROR
                          : level <= 4 ? AC_LOG_WARN
                          : level <= 6 ? AC_LOG_INFO
                                       : AC_LOG_DEBUG;
    AC_LOG(l, "librdkafka client=%s facility=%s: %s", rd_kafka_name(rk), fac, buf);
}

int ac_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *errstr,
                      size_t errlen)
{
    char err[256];
    if (rd_kafka_conf_set(conf, name, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errlen, "kafka property '%s': %s", name, err);
        return AC_ERR_INVALID;
    }
    return 0;
}

struct kafka_pass {
    rd_kafka_conf_t *conf;
    enum ac_kafka_scope scope;
    char *errstr;
    size_t errlen;
};

static int kafka_pass_one(const char *name, const char *value, void *opaque)
{
    struct kafka_pass *kp = opaque;
    if (strncmp(name, "consumer.", 9) == 0) {
        return kp->scope == AC_KAFKA_CONSUMER
                   ? ac_kafka_conf_set(kp->conf, name + 9, value, kp->errstr, kp->errlen)
                   : 0;
    }
    if (strncmp(name, "producer.", 9) == 0) {
        return kp->scope == AC_KAFKA_PRODUCER
                   ? ac_kafka_conf_set(kp->conf, name + 9, value, kp->errstr, kp->errlen)
                   : 0;
    }
    return ac_kafka_conf_set(kp->conf, name, value, kp->errstr, kp->errlen);
}

rd_kafka_conf_t *ac_kafka_conf_new(const char *brokers, enum ac_kafka_scope scope,
                                   const char *const *defaults, const struct ac_config *cfg,
                                   char *errstr, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    if (ac_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, errlen) != 0) {
        goto fail;
    }
    for (size_t i = 0; defaults && defaults[i]; i += 2) {
        if (ac_kafka_conf_set(conf, defaults[i], defaults[i + 1], errstr, errlen) != 0) {
            goto fail;
        }
    }
    if (cfg) {
        struct kafka_pass kp = {conf, scope, errstr, errlen};
        if (ac_config_each_kafka(cfg, kafka_pass_one, &kp) != 0) {
            goto fail;
        }
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_t *ac_kafka_producer_new(const char *brokers, const struct ac_config *cfg,
                                  void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                                  void *opaque, char *errstr, size_t errlen)
{
    char err[256];
    /* Nagle off: a batch waits for its delivery reports (latency over bytes). */
    static const char *const defaults[] = {
        "enable.idempotence",   "true", "acks", "all", "linger.ms", "5",
        "socket.nagle.disable", "true", NULL};
    rd_kafka_conf_t *conf =
        ac_kafka_conf_new(brokers, AC_KAFKA_PRODUCER, defaults, cfg, errstr, errlen);
    if (!conf) {
        return NULL;
    }
    if (dr_cb) {
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    }
    rd_kafka_conf_set_opaque(conf, opaque);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        snprintf(errstr, errlen, "cannot create producer: %s", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    /* Learn the cluster's topics now: otherwise the first produce waits for
     * its topic's metadata (~0.5 s on the embedded broker), and a processor's
     * first batch, or the timer process's first round, holds everything
     * behind it. Every topic, not one by name: asking for one topic by name
     * would create it where auto-creation is on. Best effort: a broker that
     * does not answer yet costs at most a second here. */
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(rk, 1, NULL, &md, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_metadata_destroy(md);
    }
    return rk;
}
