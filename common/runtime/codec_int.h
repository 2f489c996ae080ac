/* codec_int.h — internals shared by codec.c, codec_event.c, codec_json.c and
 * codec_decision.c.
 *
 * Private to the codec module: other modules include codec.h only, and never
 * see avro-c or jansson types. */
#ifndef AC_CODEC_INT_H
#define AC_CODEC_INT_H

#include <avro.h>
#include <jansson.h>
#include <stdint.h>

#include "codec.h"

#define CODEC_N_OWN 7 /* the project's schemas: index = schema id - 1 */

/* One known writer schema: one of the project's own (ids 1..7) or one from
 * the registry directory. Everything here is built once by ac_codec_new(),
 * except the resolvers, which are built on first use and then cached. */
struct codec_writer {
    int32_t id;
    avro_schema_t schema;
    json_t *json;  /* the schema text, parsed: the JSON converters walk it */
    json_t *names; /* full and short name of each named type -> its definition */
    avro_value_iface_t *iface;
    avro_value_t value; /* reused for every message written with this schema */
    /* Resolution onto each of the project's reader schemas: a view of
     * `value` with the reader's shape. */
    avro_value_iface_t *resolver[CODEC_N_OWN];
    avro_value_t resolved[CODEC_N_OWN];
    signed char rstate[CODEC_N_OWN]; /* 0 not tried, 1 ready, -1 incompatible */
};

struct ac_codec {
    struct codec_writer own[CODEC_N_OWN];
    struct codec_writer *reg; /* registry writers, sorted by id */
    size_t n_reg;
    avro_reader_t reader; /* memory reader, re-pointed at each message */
    avro_writer_t writer; /* memory writer, re-pointed at wbuf */
    char *wbuf;           /* encoding scratch, grows to the largest record */
    size_t wcap;
};

/* 0-based index of the project's schema called name ("orders", ...,
 * "signals", "decisions"), or -1. */
int codec_own_by_name(const char *name);

/* Reads one framed or plain message as the project's schema `own`.
 * With resolve != 0, *view is a value with the reader's shape (a resolved
 * view when the writer differs); with resolve == 0 it is the writer's own
 * value, and *writer names its schema. Both are borrowed from the codec and
 * valid until its next read. On failure returns AC_ERR_INVALID and writes
 * the DLQ reason. */
int codec_read(struct ac_codec *codec, int own, const void *buf, size_t len, int resolve,
               avro_value_t **view, struct codec_writer **writer, char *reason, size_t rlen);

/* Appends value as Avro binary to out, framed with frame_id when it is > 0. */
int codec_write(struct ac_codec *codec, avro_value_t *value, int32_t frame_id, struct ac_buf *out);

/* The symbols of decisions.avsc's DecisionKind, in the schema's order
 * (codec_decision.c writes the position as the enum index); the unit test
 * checks them against the schema the codec loads. */
/* actions.avsc through avro-c's generic value API: the reference the
 * direct encoder (codec_action.c) is tested against. */
int codec_encode_action_generic(struct ac_codec *codec, const struct ac_action *a,
                                struct ac_buf *out);

#define CODEC_DECISION_N_SYMBOLS 12
extern const char *const codec_decision_symbols[CODEC_DECISION_N_SYMBOLS];

#endif
