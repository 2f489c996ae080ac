/* store_int.h — the store's private parts, shared by store_conn.c (connection,
 * generation, pipelining, error classification), store_batch.c (load, commit,
 * ack, positions) and store_scan.c (the due index and the outbox index). */
#ifndef AC_STORE_INT_H
#define AC_STORE_INT_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct ac_store {
    redisContext *rc;    /* the connection in use: lane 0's, or lane 1's (ac_store_lane) */
    redisContext *other; /* the other lane's; both are made and dropped together */
    int lane;            /* which lane rc is */
    int64_t redis_ms;    /* Redis's clock at the last watched load (TIME), ms */
    int push_failed;     /* store_push ran out of memory since the last store_append */
    char host[256];
    int port;
    int db;
    char user[128];
    char password[256];
    char prefix[32];
    char run_id[48];
    char expect_gen[40];
    char gen_key[200]; /* "<prefix>:gen:<group>" ("<prefix>:gen" if no group was set) */
    double last_rtt;
    /* argv scratch for pipelined commands */
    const char **argv;
    size_t *argvlen;
    size_t argcap;
    int auth_failed;          /* the last connect was refused its credentials */
    struct ac_buf legacy_due; /* due members of the previous layout seen by the
                                 last scan: "<bucket>\0<member>\0" */
    size_t n_legacy_due;
    unsigned scan_bucket;                  /* the bucket whose reply a scan is reading */
    struct store_commit_strs *commit_strs; /* a commit call's strings, reused */
    struct ac_record_enc *renc;            /* the record encoder's scratch */
    char writer[17];                       /* this store's part of its call ids, random hex */
    uint64_t call_seq;                     /* the last call id's number */
    struct ac_buf swept_calls; /* calls the last outbox scan found: "<version><bucket>\0<id>\0" */
    size_t n_swept_calls;
    struct ac_buf swept_recs; /* their records: "<customer id>\0" and one serialized record */
    size_t n_swept_recs;
};

#define STORE_KEY_MAX (AC_ID_MAX + 64)

void store_drop(struct ac_store *st);
void store_commit_strs_free(struct ac_store *st);
char *store_utoa(char *p, unsigned long long v);
void store_bucket_key(const struct ac_store *st, char *out, size_t outlen, unsigned bucket,
                      const char *suffix);
int store_push(struct ac_store *st, size_t *argc, const char *p, size_t len);
int store_push_str(struct ac_store *st, size_t *argc, const char *s);
int store_append(struct ac_store *st, size_t argc);
/* Raw RESP into the connection's output buffer: bytes, and a "$<n>" or
 * "*<n>" header (a command written in pieces). */
int store_out(struct ac_store *st, const void *p, size_t n);
int store_out_head(struct ac_store *st, char type, size_t n);
int store_out_arg(struct ac_store *st, const void *p, size_t n);
/* The output buffer's length, and a cut back to it (a command written in
 * pieces that failed half-way leaves nothing). */
size_t store_out_mark(const struct ac_store *st);
void store_out_rewind(struct ac_store *st, size_t mark);
/* Reads one pipelined reply; NULL (and the connection dropped) on I/O error. */
redisReply *store_read(struct ac_store *st);
/* Classifies an error reply and drops the connection (the rest of the
 * pipeline cannot be interpreted): a server that is loading, busy, read-only
 * or out of memory is AC_ERR_TRANSIENT (retried with backoff); anything else
 * (WRONGTYPE, a script error, a missing permission) is AC_ERR_FATAL, logged
 * with what was being done. */
int store_reply_error(struct ac_store *st, redisReply *r, const char *what);
void store_key(const struct ac_store *st, char *out, size_t outlen, unsigned bucket, char kind,
               const char *cid);
/* The key of call id (writer-seq) in bucket: <prefix>:{<bucket>}:k:<id>. */
void store_call_id(const struct ac_store *st, char *out, size_t outlen, uint64_t seq);
int store_append_gen(struct ac_store *st);
/* Serialized outbox record: kind byte, id length byte, id, u32 payload length, payload. */
int store_rec_append(struct ac_buf *b, const char *id, size_t idlen, char kind, const void *p,
                     size_t len);
/* The records of an outbox of an earlier version (HGETALL reply) into sc->found. */
void store_parse_outbox(struct ac_store_cust *sc, const redisReply *r);
int store_check_gen_reply(struct ac_store *st, redisReply *r);

#endif
