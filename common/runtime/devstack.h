/* devstack.h — the embedded default: librdkafka's in-process mock cluster
 * plus a local redis-server, for `aftercare dev`, tests and benchmarks.
 *
 * The mock cluster is a real Kafka-protocol broker living in this process's
 * memory; other processes reach it through ac_dev_brokers(). It loses
 * everything when this process exits. */
#ifndef AC_DEVSTACK_H
#define AC_DEVSTACK_H

#include <stddef.h>
#include <sys/types.h>

struct ac_dev_kafka;

/* What a process needs in its environment to talk to the mock cluster with
 * low latency, as shell lines (`aftercare dev` prints them; the benchmarks
 * set them): the mock answers a fetch that finds nothing only after
 * fetch.wait.max.ms (librdkafka's default 500 ms), even when data arrives
 * meanwhile, where a real broker answers as soon as data arrives. */
#define AC_DEV_FETCH_WAIT_ENV "AFTERCARE_KAFKA_CONSUMER_FETCH_WAIT_MAX_MS"
#define AC_DEV_FETCH_WAIT_MS "10"
#define AC_DEV_KAFKA_ENV "export " AC_DEV_FETCH_WAIT_ENV "=" AC_DEV_FETCH_WAIT_MS "\n"

/* Starts a mock cluster of n_brokers with every aftercare topic (the four
 * inputs, actions, signals, decisions, dlq) created with `partitions` partitions.
 * Returns NULL with errstr filled. */
struct ac_dev_kafka *ac_dev_kafka_start(int n_brokers, int partitions, char *errstr, size_t errlen);
/* "127.0.0.1:port,...": borrowed, valid until stop. */
const char *ac_dev_kafka_brokers(const struct ac_dev_kafka *dk);
/* The rd_kafka_mock_cluster_t * for fault injection (include rdkafka_mock.h). */
void *ac_dev_kafka_mock(struct ac_dev_kafka *dk);
/* Creates one more topic. */
int ac_dev_kafka_topic(struct ac_dev_kafka *dk, const char *topic, int partitions);
void ac_dev_kafka_stop(struct ac_dev_kafka *dk);

struct ac_dev_redis {
    pid_t pid;
    int port;
    char dir[256]; /* its working directory (AOF) */
    int own_dir;   /* created by ac_dev_redis_start: removed by ac_dev_redis_cleanup */
    char url[64];  /* redis://127.0.0.1:<port> */
};

/* Starts redis-server on a free loopback port with AOF (appendfsync
 * everysec) in dir (created if missing; NULL: a new temporary directory),
 * and waits until it answers PING (deadline 20 s). Returns 0 or a negative
 * ac_err with errstr filled. */
int ac_dev_redis_start(struct ac_dev_redis *dr, const char *dir, char *errstr, size_t errlen);
/* SIGTERM and wait (sig = SIGKILL to simulate a crash). */
void ac_dev_redis_stop(struct ac_dev_redis *dr, int sig);
/* Removes the working directory if ac_dev_redis_start created it (after a
 * stop), unless AFTERCARE_DEV_KEEP is set. */
void ac_dev_redis_cleanup(struct ac_dev_redis *dr);
/* Restarts on the same port and directory (data survives through the AOF). */
int ac_dev_redis_restart(struct ac_dev_redis *dr, char *errstr, size_t errlen);

/* A free TCP port on 127.0.0.1 (bound and released; tiny race by nature). */
int ac_dev_free_port(void);

#endif
