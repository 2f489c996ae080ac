/* bench.h — what every benchmark shares (bench/README.md).
 *
 * A benchmark is its workload and its table; the rest lives here:
 *
 *   - options: one table per benchmark drives parsing, validation and --help;
 *   - the dev stack: the in-process mock cluster and a redis-server
 *     (common/runtime/devstack.h), a scratch directory, a codec;
 *   - a child process (a processor or aftercare-timers) spawned with a config
 *     file, optionally under a wrapper (a profiler), and its CPU time read
 *     from /proc/<pid>/stat;
 *   - Redis figures: INFO fields, commandstats, MEMORY USAGE, the positions
 *     a processor recorded;
 *   - Kafka: producing a workload, watermarks (the mock cluster drops the
 *     oldest message sets beyond 5 MiB per partition), a raw consumer;
 *   - the production path in process: a stepper groups events by customer
 *     and runs them through ac_step_run (load -> apply -> commit), then
 *     ac_store_ack with positions, exactly as common/runtime/batch.c does;
 *   - the order events both benchmarks feed (fixed-seed RNG);
 *   - a table and one JSON line.
 *
 * Errors are printed to stderr with the benchmark's name; functions return 0
 * or a negative enum ac_err, pointers NULL. Not thread-safe. */
#ifndef AC_BENCH_H
#define AC_BENCH_H

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "apply.h"
#include "buf.h"
#include "codec.h"
#include "devstack.h"
#include "event.h"
#include "processor.h"
#include "step.h"
#include "store.h"

#define AC_BENCH_MAX_PARTS 256
#define AC_BENCH_MOCK_PART_BYTES (5 * 1024 * 1024) /* the mock cluster's per-partition cap */
#define AC_BENCH_DAY_MS 86400000LL

/* The benchmark's name, for messages ("bench_orders"). Set by ac_bench_parse. */
extern const char *ac_bench_prog;

/* Prints "<prog>: <message>\n" to stderr. */
void ac_bench_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- options -------------------------------------------------------------------------------- */

enum ac_bench_opt_type {
    AC_BENCH_OPT_LONG, /* value: long *, within [min, max] */
    AC_BENCH_OPT_STR,  /* value: const char ** (borrowed from argv) */
    AC_BENCH_OPT_FLAG, /* value: int *, set to 1; takes no argument */
};

struct ac_bench_opt {
    const char *name; /* "--events"; NULL ends the table */
    enum ac_bench_opt_type type;
    void *value; /* its initial value is the default */
    long min, max;
    const char *help;
};

/* Parses argv against the table. --help prints the table with the defaults
 * and exits 0. Returns 0, or AC_ERR_INVALID after printing the usage. */
int ac_bench_parse(const char *prog, const struct ac_bench_opt *opts, int argc, char **argv);

/* --- the dev stack -------------------------------------------------------------------------- */

struct ac_bench_env {
    char dir[512]; /* scratch: configs, logs, redis-server's AOF */
    struct ac_dev_redis dr;
    int redis_started;
    struct ac_dev_kafka *dk;
    redisContext *rc; /* the bench's own connection (db 0) */
    struct ac_codec *codec;
    int keep; /* keep dir even on success */
};

/* Starts redis-server and the mock cluster (every aftercare topic with
 * `partitions` partitions), connects, opens the codec. Returns 0 or a
 * negative ac_err (env is then safe to stop). */
int ac_bench_env_start(struct ac_bench_env *env, int partitions, int keep);
/* Stops everything; removes dir if ok and not keep (else says where it is). */
void ac_bench_env_stop(struct ac_bench_env *env, int ok);
/* "redis://127.0.0.1:<port>/<db>" into out. */
void ac_bench_redis_url(const struct ac_bench_env *env, int db, char *out, size_t len);
/* Creates topics "<name>.actions", ".signals", ".dlq", ".decisions" with
 * `partitions` partitions each. */
int ac_bench_out_topics(struct ac_bench_env *env, const char *name, int partitions);
/* Writes a file (a config): fmt, printf-style. */
int ac_bench_write_file(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* --- processes and CPU ---------------------------------------------------------------------- */

struct ac_bench_child {
    pid_t pid; /* -1: not running */
    int wrapped;
    double spawned; /* monotonic seconds */
    char log[600];
};

/* Spawns `exe --config config` (stdout and stderr to log), prefixed by the
 * words of wrap if not NULL ("perf record -g -o f --"). Returns 0 or AC_ERR_IO. */
int ac_bench_child_start(struct ac_bench_child *ch, const char *exe, const char *wrap,
                         const char *config, const char *log);
/* 0 while it runs; AC_ERR_IO (with a message) once it exited. */
int ac_bench_child_check(struct ac_bench_child *ch);
/* SIGTERM and wait. Returns 0 if it exited 0 (or was wrapped: a wrapper
 * reports its own status), else AC_ERR_IO. */
int ac_bench_child_stop(struct ac_bench_child *ch);

/* utime + stime of a process in seconds (/proc/<pid>/stat), or -1. */
double ac_bench_cpu_pid(pid_t pid);
/* This process (the mock cluster lives here). */
double ac_bench_cpu_self(void);

/* CPU seconds of the child, this process and redis-server. */
struct ac_bench_cpu {
    double proc, self, redis;
};
void ac_bench_cpu_sample(redisContext *rc, pid_t pid, struct ac_bench_cpu *c);
/* *d = now - *from (pid may be -1: proc is then 0). */
void ac_bench_cpu_since(redisContext *rc, pid_t pid, const struct ac_bench_cpu *from,
                        struct ac_bench_cpu *d);

/* --- Redis ---------------------------------------------------------------------------------- */

/* A command; exits the benchmark on a connection error (not on an error
 * reply). Free the reply with freeReplyObject. */
redisReply *ac_bench_redis(redisContext *rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* An integer reply (or a string holding one); -1 otherwise. */
long long ac_bench_redis_int(redisContext *rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A numeric field of INFO <section>, or -1. */
double ac_bench_info(redisContext *rc, const char *section, const char *field);
/* redis-server's used_cpu_sys + used_cpu_user. */
double ac_bench_redis_cpu(redisContext *rc);
/* MEMORY USAGE <key> SAMPLES 0 of the connection's db: bytes, 0 if absent. */
long long ac_bench_memory_usage(redisContext *rc, const char *key);

/* INFO commandstats since the last CONFIG RESETSTAT: the commands with the
 * most server time as text ("name calls x us = s; ...") and as a JSON object.
 * Redis Functions' inner calls are listed too (their time is inside fcall's). */
struct ac_bench_cmdstats {
    char text[1024];
    char json[1024];
};
void ac_bench_commandstats(redisContext *rc, struct ac_bench_cmdstats *cs);

/* Sum of the next offsets recorded under <prefix>:pos:<group> for topic, or
 * -1 while the hash is absent (db: the connection's). */
int64_t ac_bench_positions(redisContext *rc, const char *prefix, const char *group,
                           const char *topic);

/* --- Kafka ---------------------------------------------------------------------------------- */

/* The i-th record of a workload: key and value, borrowed until the next call. */
typedef int (*ac_bench_record_fn)(void *opaque, long i, const char **key, size_t *klen,
                                  const void **value, size_t *vlen);

struct ac_bench_produced {
    int64_t bytes;          /* keys + values */
    int64_t max_part_bytes; /* the fullest partition's */
    double seconds;
};

/* Produces records 0..n-1 to topic (idempotent, linger.ms 5), waits for
 * every delivery. parts/offsets (optional, [n]) get where each record went. */
int ac_bench_produce(struct ac_bench_env *env, const char *topic, long n, ac_bench_record_fn fn,
                     void *opaque, int32_t *parts, int64_t *offsets, struct ac_bench_produced *out);

/* Sum of the high watermarks of topic, its partitions, and how many of them
 * have a low watermark above 0 (the mock cluster dropped message sets). */
int ac_bench_topic_marks(struct ac_bench_env *env, const char *topic, int64_t *sum_hi,
                         int *truncated, int *parts);

/* A consumer of every partition of topic from the beginning (no group join:
 * assign()). NULL on error. Close with rd_kafka_consumer_close + destroy. */
rd_kafka_t *ac_bench_consumer(struct ac_bench_env *env, const char *topic, int partitions);

/* Reads n messages of topic as fast as possible, no processing: messages/s
 * from the assignment to the last message. */
int ac_bench_raw_consume(struct ac_bench_env *env, const char *topic, int partitions, long n,
                         int timeout_s, double *rate, double *seconds);

/* --- a processor under load ----------------------------------------------------------------- */

/* The window in which a processor worked: from its first recorded position
 * (its first batch is done, so the group join is left out) until the
 * positions reach the target. */
struct ac_bench_window {
    double join_s;  /* spawn to the first position */
    int64_t done0;  /* events done at the first observation */
    double seconds; /* first observation to the target */
    double rate;    /* (target - done0) / seconds */
    struct ac_bench_cpu cpu;
    struct ac_bench_cmdstats cmds;
};

/* Polls <prefix>:pos:<group> on rc (which has the processor's db selected)
 * until the sum for topic reaches target; resets commandstats and samples
 * CPU at the first observation. Fails if the child exits or after
 * timeout_s. */
int ac_bench_wait_positions(redisContext *rc, struct ac_bench_child *ch, const char *prefix,
                            const char *group, const char *topic, int64_t target, int timeout_s,
                            struct ac_bench_window *w);

/* GET http://127.0.0.1:<port>/metrics: a malloc'd string, or NULL. */
char *ac_bench_http_metrics(int port);
/* The value of the first sample whose line is `series` then a space; -1. */
double ac_bench_metric(const char *text, const char *series);

/* A histogram of the /metrics text: its cumulative buckets (upper bound le,
 * +Inf last), sum and count. */
#define AC_BENCH_HIST_MAX 32
struct ac_bench_hist {
    int n;
    double le[AC_BENCH_HIST_MAX];
    double cum[AC_BENCH_HIST_MAX];
    double sum, count;
};
/* Reads the series `name` with labels (without le; "" for none) into h.
 * Returns 0, or AC_ERR_NOTFOUND (h->n is then 0). */
int ac_bench_metric_hist(const char *text, const char *name, const char *labels,
                         struct ac_bench_hist *h);
/* The upper bound of the bucket holding quantile q of the observations made
 * between two readings (from may be NULL: since the start); -1 if none. */
double ac_bench_hist_quantile(const struct ac_bench_hist *from, const struct ac_bench_hist *to,
                              double q);

/* --- the production path in process --------------------------------------------------------- */

/* Groups events by customer, in the order added, and runs them through one
 * ac_step (the same options as the runtime's: codec, the processor's
 * transition, no engine for events; an engine to fire due timers). */
struct ac_bench_stepper;

struct ac_bench_stepper *ac_bench_stepper_new(struct ac_store *st, struct ac_codec *codec,
                                              const struct ac_processor *proc, void *ctx,
                                              struct ac_engine *engine, size_t max_events);
void ac_bench_stepper_destroy(struct ac_bench_stepper *bs);
/* The next event's storage (zeroed), or NULL when max_events are queued. */
struct ac_event *ac_bench_stepper_event(struct ac_bench_stepper *bs);
/* Queues the event just filled in, from (partition, offset); -1: none. */
void ac_bench_stepper_push(struct ac_bench_stepper *bs, int32_t partition, int64_t offset);
/* Queues a customer whose due timers fire (with its events, if any). */
int ac_bench_stepper_fire(struct ac_bench_stepper *bs, const char *customer_id);
/* Runs the queued customers through ac_step_run at the clock's time. */
int ac_bench_stepper_run(struct ac_bench_stepper *bs, const struct ac_clock *clock,
                         struct ac_apply_stats *stats);
/* ac_store_ack of the step's pending records, with positions (n_pos may be 0). */
int ac_bench_stepper_ack(struct ac_bench_stepper *bs, const char *group, enum ac_topic topic,
                         const int32_t *parts, const int64_t *offsets, size_t n_pos);
/* The customers of the last run (borrowed until clear). */
struct ac_store_cust *ac_bench_stepper_custs(struct ac_bench_stepper *bs, size_t *n);
/* Forgets the queue, keeps memory. */
void ac_bench_stepper_clear(struct ac_bench_stepper *bs);
/* Events the domain rejected so far. */
long ac_bench_stepper_rejected(const struct ac_bench_stepper *bs);

/* Adds the pending records of customers by kind: actions ('a'), signals
 * ('s'), decisions ('c'). */
void ac_bench_count_pending(const struct ac_store_cust *custs, size_t n, long *actions,
                            long *signals, long *decisions);

/* An orders processor context (ac_orders_processor.init) with the given
 * playbook, as the runtime builds it. */
void *ac_bench_orders_ctx(const char *playbook, struct ac_config **cfg);
/* The engine of a playbook (opened once per path, kept for the bench's life). */
struct ac_engine *ac_bench_engine(const char *playbook);

/* --- the order events ----------------------------------------------------------------------- */

enum ac_bench_order_type {
    AC_BENCH_PLACED = 0,
    AC_BENCH_CART,
    AC_BENCH_CANCELLED,
    AC_BENCH_REFUND,
    AC_BENCH_RETURN,
    AC_BENCH__N
};

extern const char *const ac_bench_order_types[AC_BENCH__N];

/* splitmix64 */
uint64_t ac_bench_rng(uint64_t *s);

/* "cust-0001234" */
void ac_bench_customer_id(char *out, size_t len, long cust);

/* An order event of customer cust at time at, its details drawn from r:
 * 1-3 items of 8 product families, 5-405 EUR. order_seq numbers the order
 * ids (a cancellation or refund names an earlier order). */
void ac_bench_order_event(struct ac_event *ev, long cust, const char *event_id,
                          enum ac_bench_order_type type, int64_t at, uint64_t r, long order_seq);

/* --- output --------------------------------------------------------------------------------- */

/* b / a, 0 when a <= 0. */
double ac_bench_div(double b, double a);

/* One JSON object on one line, built field by field. */
struct ac_bench_json {
    struct ac_buf b;
};
void ac_bench_json_begin(struct ac_bench_json *j, const char *bench);
void ac_bench_json_num(struct ac_bench_json *j, const char *key, double v);
void ac_bench_json_int(struct ac_bench_json *j, const char *key, long long v);
void ac_bench_json_str(struct ac_bench_json *j, const char *key, const char *v);
void ac_bench_json_raw(struct ac_bench_json *j, const char *key, const char *json);
/* Prints the line to stdout and frees it. */
void ac_bench_json_end(struct ac_bench_json *j);

/* A table row: label, value with unit, seconds (< 0: blank), a note
 * ("previous" figure, ratio). */
void ac_bench_table_head(const char *title);
void ac_bench_table_row(const char *label, double value, const char *unit, double seconds,
                        const char *note);

void ac_bench_sleep_ms(long ms);

#endif
