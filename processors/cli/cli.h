/* cli.h — the `aftercare` command: shared pieces of its subcommands. */
#ifndef AC_CLI_H
#define AC_CLI_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "codec.h"

int cli_produce(int argc, char **argv);
int cli_consume(int argc, char **argv);
int cli_dev(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_simulate(int argc, char **argv);

/* Brokers from --brokers or AFTERCARE_KAFKA_BROKERS; NULL with a message. */
const char *cli_brokers(const char *flag);
/* The project's codec over the schemas directory (AFTERCARE_SCHEMAS_DIR or
 * the built-in default); prints the error and returns NULL on failure. */
struct ac_codec *cli_codec(void);
/* The schema name of a topic ("aftercare.actions" -> "actions"), or NULL. */
const char *cli_schema_of(const char *topic);

/* Produces JSON lines from in to topic; returns 0 or 1 and reports a bad
 * line as "<name>:<line>: message". *sent counts the events produced. */
int cli_produce_stream(const char *brokers, struct ac_codec *codec, const char *topic,
                       const char *schema, FILE *in, const char *name, long *sent);

struct cli_consume_opts {
    const char *brokers;
    const char *topic;
    int from_beginning;
    long max;         /* 0: unlimited */
    double timeout_s; /* exit after this long without a message; <= 0: never */
    volatile int *stop;
};
/* Consumes topic and writes JSON lines to out. Returns 0 or 1. */
int cli_consume_stream(const struct cli_consume_opts *o, struct ac_codec *codec, FILE *out,
                       long *received);

/* A reader of every partition of a topic (from the beginning or the end),
 * records as JSON objects of their schema (cli_kafka.c). */
struct cli_reader;
/* Returns NULL with err filled (no such topic, a refused property). */
struct cli_reader *cli_reader_open(const char *brokers, const char *topic, int from_beginning,
                                   char *err, size_t errlen);
/* The next record as JSON (caller owns it: json_decref), or NULL when none
 * came within timeout_ms (or one did not decode: reported on stderr). */
json_t *cli_reader_next(struct cli_reader *r, struct ac_codec *codec, int timeout_ms);
/* 1 once every partition was read up to where it ended at open time. */
int cli_reader_at_end(const struct cli_reader *r);
void cli_reader_close(struct cli_reader *r);

/* A sample file (cli_events.c): JSON lines with "topic" (none: orders) and
 * times as offsets from now; "# <customer_id>: text" lines name a
 * customer's story. */
struct cli_sample_event {
    int64_t at;
    size_t line; /* in the file: the order of events at one instant */
    enum ac_topic topic;
    char customer_id[AC_ID_MAX];
    char type[AC_TYPE_MAX];
    char detail[160];   /* a few words about it, for the timeline */
    struct ac_buf avro; /* framed, as produced */
};
struct cli_sample {
    struct cli_sample_event *ev; /* in time order, then the file's */
    size_t n, cap;
    size_t n_customers;
};
struct cli_timeline;
/* Reads path with its offsets from now, each line checked as a processor
 * checks it (a bad one: "path:line: why" on stderr, and AC_ERR_INVALID);
 * the stories go to tl (may be NULL). sm starts zeroed; free with
 * cli_sample_fini. */
int cli_sample_load(struct cli_sample *sm, struct ac_codec *codec, const char *path, int64_t now,
                    struct cli_timeline *tl);
void cli_sample_fini(struct cli_sample *sm);

/* `aftercare dev --demo` on a running stack (cli_demo.c): starts every
 * processor and aftercare-timers on one sped-up clock, feeds the sample when
 * that clock reaches each event, prints actions as they are emitted, then the
 * timeline per customer. Returns 0, or 1 with the processes' log tail on
 * stderr. */
struct cli_demo_opts {
    const char *brokers;
    const char *redis_url;
    const char *dir;    /* configs and processors.log */
    const char *events; /* the sample (deploy/demo/journeys.jsonl) */
    int64_t speed;      /* how much faster than the wall clock */
    int json;           /* actions as JSON lines instead of one line each */
    volatile int *stop; /* set on SIGINT/SIGTERM */
};
int cli_demo_run(const struct cli_demo_opts *o, FILE *out);

/* The demo's timeline per customer (cli_timeline.c). */
struct cli_timeline *cli_timeline_new(void);
void cli_timeline_destroy(struct cli_timeline *tl);
/* The line under a customer's id ("a first-time buyer"); customers with one
 * come first, in the order given. */
int cli_timeline_story(struct cli_timeline *tl, const char *customer_id, const char *text);
/* An event fed at `at` (its type, and a few words about it). */
int cli_timeline_event(struct cli_timeline *tl, const char *customer_id, int64_t at,
                       const char *type, const char *detail);
/* A record of aftercare.signals or aftercare.decisions as JSON (a reference
 * to it, or to its decisions, is kept). */
int cli_timeline_record(struct cli_timeline *tl, json_t *rec);
/* Prints every customer's lines up to `end`: time, what (in, signal, sent,
 * or the decision: capped, cancelled, expired ...), rule or event type,
 * channel, template, why; then what is still scheduled. */
void cli_timeline_print(struct cli_timeline *tl, int64_t end, FILE *out);
/* ISO-8601 UTC as the codec writes it -> ms (AC_TS_NONE if not one), and
 * ms -> "Mon 07 Dec 16:53". */
int64_t cli_iso_ms(const char *s);
void cli_time_human(int64_t ms, char *out, size_t n);

/* Times relative to now (cli_events.c): "+2d6h", "-30m", "+0" (units w, d,
 * h, m, s) into *ms. Returns 0 or AC_ERR_INVALID. */
int cli_parse_offset(const char *s, int64_t *ms);
/* Replaces every top-level "..._at" field of o written as an offset with
 * now + offset as ISO-8601. Returns 0, or AC_ERR_INVALID with err filled. */
int cli_event_resolve(json_t *o, int64_t now, char *err, size_t errlen);

#endif
