/* harness.h — integration test fixture: a mock cluster in the test process,
 * a real redis-server on a free port, processors run as child processes.
 * Everything a test starts, it stops. No sleeps stand in for
 * synchronisation: waits are on conditions with deadlines. */
#ifndef AC_HARNESS_H
#define AC_HARNESS_H

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "codec.h"
#include "devstack.h"
#include "event.h"

struct h_env {
    struct ac_dev_kafka *dk;
    struct ac_dev_redis dr;
    struct ac_codec *codec;
    rd_kafka_t *producer;
    redisContext *redis;
    char dir[256];
};

/* Starts everything; aborts the test (cr_assert) on failure. */
void h_start(struct h_env *env, int partitions);
/* The same with a mock cluster of n_brokers (fault-injection tests). */
void h_start_brokers(struct h_env *env, int partitions, int n_brokers);
void h_stop(struct h_env *env);

/* Source tree / build tree from ctest's environment. */
const char *h_source_dir(void);
const char *h_bin_dir(void);
/* The shared data directory, or NULL (tests then skip with a message). */
const char *h_data_dir(void);

/* Produces events (framed Avro) keyed by customer id and waits for delivery. */
void h_produce_events(struct h_env *env, const char *topic, const struct ac_event *evs, size_t n);
/* Produces raw bytes with the given key (may be NULL). */
void h_produce_raw(struct h_env *env, const char *topic, const char *key, const void *p,
                   size_t len);
void h_flush(struct h_env *env);
/* Produces raw bytes to one partition (-1: by key), key may be NULL. */
void h_produce_to(struct h_env *env, const char *topic, int32_t partition, const char *key,
                  const void *p, size_t len);
/* The same with a key of key_len bytes (NULs allowed; NULL: a null key). */
void h_produce_keyed(struct h_env *env, const char *topic, int32_t partition, const void *key,
                     size_t key_len, const void *p, size_t len);

/* Writes a processor config into the env dir (test defaults + extra lines,
 * "key = value\n..."), returns its path (static buffer per call site copy). */
void h_write_config(struct h_env *env, const char *name, const char *extra, char *path, size_t len);
/* Spawns build/aftercare-<name> --config path; its stderr goes to
 * <dir>/<name>.log. Returns the pid. */
/* The same for aftercare-timers (its own keys), written as timers.conf. */
void h_write_timers_config(struct h_env *env, const char *extra, char *path, size_t len);
pid_t h_spawn(struct h_env *env, const char *name, const char *config_path);
/* SIGTERM and wait; returns the exit status (or -1 if killed by a signal). */
int h_terminate(pid_t pid);
void h_kill9(pid_t pid);

/* A record read back from Kafka. */
struct h_rec {
    int32_t partition;
    int64_t offset;
    char key[AC_ID_MAX];       /* the key's first bytes, NUL-terminated */
    size_t key_len;            /* the key's length on Kafka (may exceed key[]) */
    int key_null;              /* a null key (key_len 0) */
    char id[AC_ACTION_ID_MAX]; /* header aftercare_id, if any */
    char reason[128];          /* header reason (DLQ), if any */
    char source_topic[64];
    int64_t source_offset;
    void *value;
    size_t len;
};

struct h_reader {
    rd_kafka_t *rk;
    struct h_rec *recs;
    size_t n, cap;
};

/* A reader of every partition of topic from the beginning. */
void h_reader_open(struct h_env *env, struct h_reader *r, const char *topic);
/* Polls until at least `want` records were read in total or deadline_ms
 * passed; returns the total. */
size_t h_reader_poll(struct h_reader *r, size_t want, int deadline_ms);
void h_reader_close(struct h_reader *r);
/* Opens a reader of topic and reads every record it holds now (asserts it
 * gets them all within 60 s). */
void h_reader_read_all(struct h_env *env, struct h_reader *r, const char *topic);

/* Sum of high watermarks of topic. */
int64_t h_topic_end(struct h_env *env, const char *topic);
/* Sum over partitions of the positions recorded in Redis for group
 * (prefix:pos:group), i.e. messages fully processed. */
int64_t h_group_done(struct h_env *env, const char *prefix, const char *group, const char *topic);
/* Waits until h_group_done == h_topic_end or the deadline; returns 1 if done. */
int h_wait_done(struct h_env *env, const char *prefix, const char *group, const char *topic,
                int deadline_ms);

/* Lines of name's log (every spawn of it appends) that contain text. */
int h_log_count(struct h_env *env, const char *name, const char *text);
/* Waits until name's log has at least count lines with text, or the
 * deadline; returns 1 if it has. A process has its signal handlers once it
 * logged "started": wait for that before h_terminate expects exit 0. */
int h_wait_log(struct h_env *env, const char *name, const char *text, int count, int deadline_ms);

/* GET http://127.0.0.1:port/path; returns the status code (-1 if no answer)
 * and the body in body[] (truncated to len). */
int h_http_get(int port, const char *path, char *body, size_t len);
/* Polls GET path until it answers want_status; returns 1, or 0 once
 * deadline_ms passed (harness_http.c). */
int h_wait_http(int port, const char *path, int want_status, int deadline_ms);
/* The value of one series of a /metrics text, named exactly as rendered
 * (`aftercare_batches_total`, `x_bucket{le="+Inf"}`): 1 and *value, or 0. */
int h_metric(const char *text, const char *series, double *value);
/* Runs `promtool check metrics` on text (saved as <dir>/<name>.metrics);
 * returns its exit status (0: clean; 127: promtool missing) with its output
 * in out[], or -1 if it could not run. */
int h_promtool(struct h_env *env, const char *name, const char *text, char *out, size_t len);

/* Runs `build/aftercare ARGS` through sh against the stack (brokers and
 * schemas in its environment); returns its exit code, or -1, with its
 * stdout in out[] and its stderr in err[] when err != NULL (harness_cli.c). */
int h_run_cli(struct h_env *env, const char *args, char *out, size_t outlen, char *err,
              size_t errlen);

/* How the ids of records read compare with the ids a model wants. */
struct h_id_diff {
    size_t matched; /* distinct wanted ids that arrived */
    size_t missing; /* wanted, never arrived */
    size_t extra;   /* arrived, not wanted */
    size_t repeats; /* arrivals of an id already seen (allowed: at-least-once) */
};

/* Sorts both arrays in place (want must hold distinct ids) and compares them. */
void h_id_diff(char **want, size_t n_want, char **got, size_t n_got, struct h_id_diff *d);
/* The ids (header aftercare_id) of every record a reader holds, borrowed from it. */
char **h_reader_ids(const struct h_reader *r);

/* Redis command helper: returns a reply the caller frees. */
redisReply *h_redis(struct h_env *env, const char *fmt, ...);

struct ac_record;
/* Reads a customer's record from Redis (key prefix "ac") into rec (initialised
 * by the caller). Returns 1 if it exists, 0 if not; asserts it decodes. */
int h_record(struct h_env *env, const char *customer_id, struct ac_record *rec);
/* One state field of a customer ("o.count", "seg", "v"): as a number (0 when
 * absent or empty) or as text. */
long long h_state_ll(struct h_env *env, const char *customer_id, const char *field);
void h_state_str(struct h_env *env, const char *customer_id, const char *field, char *out,
                 size_t len);
/* Pending timers of a customer. */
int h_timer_count(struct h_env *env, const char *customer_id);

/* A deterministic event factory (tests own the RNG seed). */
void h_order_event(struct ac_event *ev, const char *event_id, const char *customer_id,
                   const char *type, int64_t at, int64_t total_cents, const char *family);

#endif
