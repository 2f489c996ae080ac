/* cli.h — the `aftercare` command: shared pieces of its subcommands. */
#ifndef AC_CLI_H
#define AC_CLI_H

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

#endif
