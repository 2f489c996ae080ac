/* devstack.c — mock cluster and redis-server for development and tests. */
#include "devstack.h"

#include <errno.h>
#include <ftw.h>
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"

struct ac_dev_kafka {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    char brokers[512];
};

static const char *const dev_topics[] = {"orders",
                                         "deliveries",
                                         "feedback",
                                         "usage",
                                         "aftercare.actions",
                                         "aftercare.signals",
                                         "aftercare.decisions",
                                         "aftercare.dlq"};

struct ac_dev_kafka *ac_dev_kafka_start(int n_brokers, int partitions, char *errstr, size_t errlen)
{
    char err[256];
    struct ac_dev_kafka *dk = calloc(1, sizeof(*dk));
    if (!dk) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
    /* The mock brokers' sockets are this handle's: with Nagle on, a producer
     * waiting for acknowledgements from more than one partition waits ~40 ms
     * for each round (Nagle against the client's delayed ACK; measured). */
    rd_kafka_conf_set(conf, "socket.nagle.disable", "true", err, sizeof(err));
    dk->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!dk->rk) {
        snprintf(errstr, errlen, "mock cluster host: %s", err);
        rd_kafka_conf_destroy(conf);
        free(dk);
        return NULL;
    }
    dk->mc = rd_kafka_mock_cluster_new(dk->rk, n_brokers);
    if (!dk->mc) {
        snprintf(errstr, errlen, "cannot start the mock cluster");
        rd_kafka_destroy(dk->rk);
        free(dk);
        return NULL;
    }
    snprintf(dk->brokers, sizeof(dk->brokers), "%s", rd_kafka_mock_cluster_bootstraps(dk->mc));
    for (size_t i = 0; i < sizeof(dev_topics) / sizeof(dev_topics[0]); i++) {
        ac_dev_kafka_topic(dk, dev_topics[i], partitions);
    }
    return dk;
}

int ac_dev_kafka_topic(struct ac_dev_kafka *dk, const char *topic, int partitions)
{
    int rf = 1;
    return rd_kafka_mock_topic_create(dk->mc, topic, partitions, rf) ? AC_ERR_INVALID : 0;
}

const char *ac_dev_kafka_brokers(const struct ac_dev_kafka *dk)
{
    return dk->brokers;
}

void *ac_dev_kafka_mock(struct ac_dev_kafka *dk)
{
    return dk->mc;
}

void ac_dev_kafka_stop(struct ac_dev_kafka *dk)
{
    if (!dk) {
        return;
    }
    rd_kafka_mock_cluster_destroy(dk->mc);
    rd_kafka_destroy(dk->rk);
    free(dk);
}

int ac_dev_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int port = -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
        port = ntohs(sa.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

static int dev_redis_spawn(struct ac_dev_redis *dr, char *errstr, size_t errlen)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", dr->port);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(errstr, errlen, "fork: %s", strerror(errno));
        return AC_ERR_IO;
    }
    if (pid == 0) {
        /* The server must not outlive whoever started it (a killed test). */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        /* Persistence on (AOF, fsync every second), never evict state. The
         * outbox writes and deletes a few KB per event, so the AOF grows
         * many times faster than the data: rewrite it at 4x its base size
         * (not 2x) and without compressing the snapshot (README: running
         * Redis for aftercare). */
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir",
               dr->dir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
               "--auto-aof-rewrite-percentage", "400", "--auto-aof-rewrite-min-size", "256mb",
               "--rdbcompression", "no", "--maxmemory-policy", "noeviction", "--daemonize", "no",
               "--loglevel", "warning", "--logfile", "redis.log", (char *)NULL);
        _exit(127);
    }
    dr->pid = pid;
    /* Wait until it answers PING, or it died, or the deadline passed. */
    int64_t deadline = ac_clock_mono_ms() + 20000;
    while (ac_clock_mono_ms() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            snprintf(errstr, errlen,
                     "redis-server exited at start (is it installed? see %s/redis.log)", dr->dir);
            dr->pid = 0;
            return AC_ERR_IO;
        }
        struct timeval tv = {1, 0};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", dr->port, tv);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
            if (r) {
                freeReplyObject(r);
            }
            redisFree(c);
            if (ok) {
                return 0;
            }
        } else if (c) {
            redisFree(c);
        }
        struct timespec ts = {0, 20 * 1000000L}; /* poll interval while it starts */
        nanosleep(&ts, NULL);
    }
    snprintf(errstr, errlen, "redis-server did not answer within 20 s");
    return AC_ERR_IO;
}

int ac_dev_redis_start(struct ac_dev_redis *dr, const char *dir, char *errstr, size_t errlen)
{
    memset(dr, 0, sizeof(*dr));
    if (dir) {
        snprintf(dr->dir, sizeof(dr->dir), "%s", dir);
        mkdir(dr->dir, 0700);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(dr->dir, sizeof(dr->dir), "%s/aftercare-redis-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dr->dir)) {
            snprintf(errstr, errlen, "mkdtemp: %s", strerror(errno));
            return AC_ERR_IO;
        }
        dr->own_dir = 1;
    }
    dr->port = ac_dev_free_port();
    snprintf(dr->url, sizeof(dr->url), "redis://127.0.0.1:%d", dr->port);
    return dev_redis_spawn(dr, errstr, errlen);
}

void ac_dev_redis_stop(struct ac_dev_redis *dr, int sig)
{
    if (dr->pid > 0) {
        kill(dr->pid, sig);
        waitpid(dr->pid, NULL, 0);
        dr->pid = 0;
    }
}

int ac_dev_redis_restart(struct ac_dev_redis *dr, char *errstr, size_t errlen)
{
    ac_dev_redis_stop(dr, SIGTERM);
    return dev_redis_spawn(dr, errstr, errlen);
}

static int dev_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void ac_dev_redis_cleanup(struct ac_dev_redis *dr)
{
    const char *keep = getenv("AFTERCARE_DEV_KEEP");
    if (dr->own_dir && dr->dir[0] && !(keep && *keep)) {
        nftw(dr->dir, dev_rm, 16, FTW_DEPTH | FTW_PHYS);
    }
}
