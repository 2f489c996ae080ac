/* store_batch.c — a step's customers: load, commit, ack, positions. */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "store_lua.h"

/* A value of a per-customer outbox of the previous versions: 'B' then
 * serialized records (a bundle: everything one commit produced), or, older,
 * one record: its kind byte, then the payload, under its id. */
#define STORE_BUNDLE 'B'

/* --- customer step records ------------------------------------------------------------------- */

void ac_store_cust_init(struct ac_store_cust *sc, const char *customer_id)
{
    memset(sc, 0, sizeof(*sc));
    ac_str_copy(sc->customer_id, sizeof(sc->customer_id), customer_id);
    sc->bucket = ac_store_bucket(customer_id);
    ac_record_init(&sc->rec, customer_id);
    ac_buf_init(&sc->found);
    ac_buf_init(&sc->found_ids);
    ac_buf_init(&sc->new_out);
    ac_buf_init(&sc->counters);
    ac_buf_init(&sc->pending);
    ac_buf_init(&sc->pending_ids);
    ac_buf_init(&sc->blob);
    sc->loaded_due = AC_TS_NONE;
    sc->index_due = AC_TS_NONE;
    sc->inited = 1;
}

void ac_store_cust_rebind(struct ac_store_cust *sc, const char *customer_id)
{
    if (!sc->inited) {
        ac_store_cust_init(sc, customer_id); /* zeroed storage: nothing to keep */
        return;
    }
    ac_str_copy(sc->customer_id, sizeof(sc->customer_id), customer_id);
    sc->bucket = ac_store_bucket(customer_id);
    ac_record_reset(&sc->rec, customer_id);
    ac_store_cust_reset(sc);
    sc->index_due = AC_TS_NONE;
    sc->done = 0;
}

void ac_store_cust_fini(struct ac_store_cust *sc)
{
    ac_record_fini(&sc->rec);
    ac_buf_fini(&sc->found);
    ac_buf_fini(&sc->found_ids);
    ac_buf_fini(&sc->new_out);
    ac_buf_fini(&sc->counters);
    ac_buf_fini(&sc->pending);
    ac_buf_fini(&sc->pending_ids);
    ac_buf_fini(&sc->blob);
    free(sc->decs);
    sc->decs = NULL;
    free(sc->sigs);
    sc->sigs = NULL;
}

void ac_store_cust_reset(struct ac_store_cust *sc)
{
    sc->dirty = 0;
    sc->status = 0;
    sc->exists = 0;
    sc->legacy = 0;
    sc->watched = 0;
    sc->loaded_version = 0;
    sc->loaded_due = AC_TS_NONE;
    ac_buf_reset(&sc->found);
    sc->n_found = 0;
    ac_buf_reset(&sc->found_ids);
    sc->n_found_ids = 0;
    ac_buf_reset(&sc->new_out);
    sc->n_new_out = 0;
    ac_buf_reset(&sc->counters);
    sc->n_counters = 0;
    ac_buf_reset(&sc->pending);
    sc->n_pending = 0;
    ac_buf_reset(&sc->pending_ids);
    sc->n_pending_ids = 0;
    sc->n_decs = 0;
    sc->n_sigs = 0;
    sc->tz_fallbacks = sc->tz_missing = sc->decisions_lost = 0;
    sc->replayed = 0;
    sc->produced = 0;
    sc->call_seq = 0;
}

/* Serialized record: kind byte, id length byte, id, u32 payload length, payload. */
int store_rec_append(struct ac_buf *b, const char *id, size_t idlen, char kind, const void *p,
                     size_t len)
{
    unsigned char hdr[2] = {(unsigned char)kind, (unsigned char)idlen};
    uint32_t n = (uint32_t)len;
    if (idlen >= AC_ACTION_ID_MAX || len > UINT32_MAX) {
        return AC_ERR_INVALID;
    }
    int rc = ac_buf_append(b, hdr, 2);
    rc |= ac_buf_append(b, id, idlen);
    rc |= ac_buf_append(b, &n, sizeof(n));
    rc |= ac_buf_append(b, p, len);
    return rc ? AC_ERR_NOMEM : 0;
}

int ac_store_cust_add_out(struct ac_store_cust *sc, const char *id, char kind, const void *p,
                          size_t len)
{
    int rc = store_rec_append(&sc->new_out, id, strlen(id), kind, p, len);
    if (rc == 0) {
        sc->n_new_out++;
    }
    return rc;
}

int ac_store_cust_add_emit(struct ac_store_cust *sc, const struct ac_emit *out)
{
    int rc = 0;
    if (sc->n_decs + out->n_decisions > sc->cap_decs) {
        int cap = sc->cap_decs ? sc->cap_decs : 16;
        while (cap < sc->n_decs + out->n_decisions) {
            cap *= 2;
        }
        struct ac_decision *d = realloc(sc->decs, (size_t)cap * sizeof(*d));
        if (!d) {
            return AC_ERR_NOMEM;
        }
        sc->decs = d;
        sc->cap_decs = cap;
    }
    if (out->n_decisions > 0) {
        memcpy(sc->decs + sc->n_decs, out->decisions,
               (size_t)out->n_decisions * sizeof(*out->decisions));
        sc->n_decs += out->n_decisions;
    }
    if (sc->n_sigs + out->n_signals > sc->cap_sigs) {
        int cap = sc->cap_sigs ? 2 * sc->cap_sigs : 8;
        while (cap < sc->n_sigs + out->n_signals) {
            cap *= 2;
        }
        struct ac_signal *g = realloc(sc->sigs, (size_t)cap * sizeof(*g));
        if (!g) {
            return AC_ERR_NOMEM;
        }
        sc->sigs = g;
        sc->cap_sigs = cap;
    }
    if (out->n_signals > 0) {
        memcpy(sc->sigs + sc->n_sigs, out->signals, (size_t)out->n_signals * sizeof(*out->signals));
        sc->n_sigs += out->n_signals;
    }
    for (int i = 0; i < out->n_counters && rc == 0; i++) {
        rc |= ac_buf_append(&sc->counters, out->counters[i].field,
                            strlen(out->counters[i].field) + 1);
        rc |= ac_buf_printf(&sc->counters, "%lld", (long long)out->counters[i].by);
        rc |= ac_buf_append(&sc->counters, "", 1);
        sc->n_counters++;
    }
    sc->tz_fallbacks += out->tz_fallbacks;
    sc->tz_missing += out->tz_missing;
    sc->decisions_lost += out->decisions_lost;
    return rc ? AC_ERR_NOMEM : 0;
}

int ac_store_records_next(const struct ac_buf *b, size_t *cursor, struct ac_outbox_rec *rec)
{
    size_t at = *cursor;
    uint32_t n;
    if (at + 2 > b->len) {
        return 0;
    }
    const unsigned char *p = (const unsigned char *)b->data + at;
    size_t idlen = p[1];
    if (idlen >= AC_ACTION_ID_MAX || at + 2 + idlen + sizeof(n) > b->len) {
        return 0;
    }
    rec->kind = (char)p[0];
    memcpy(rec->id, p + 2, idlen);
    rec->id[idlen] = '\0';
    memcpy(&n, p + 2 + idlen, sizeof(n));
    if (n > b->len - (at + 2 + idlen + sizeof(n))) {
        return 0;
    }
    rec->payload = (const char *)p + 2 + idlen + sizeof(n);
    rec->len = n;
    *cursor = at + 2 + idlen + sizeof(n) + n;
    return 1;
}

int ac_store_pending_next(const struct ac_store_cust *sc, size_t *cursor, struct ac_outbox_rec *rec)
{
    return ac_store_records_next(&sc->pending, cursor, rec);
}

void ac_store_cust_take_found(struct ac_store_cust *sc)
{
    if (sc->n_found == 0) {
        return;
    }
    ac_buf_append(&sc->pending, sc->found.data, sc->found.len);
    sc->n_pending += sc->n_found;
    ac_buf_append(&sc->pending_ids, sc->found_ids.data, sc->found_ids.len);
    sc->n_pending_ids += sc->n_found_ids;
    ac_buf_reset(&sc->found);
    sc->n_found = 0;
    ac_buf_reset(&sc->found_ids);
    sc->n_found_ids = 0;
}

/* --- load ------------------------------------------------------------------------------------ */

/* The records found in an outbox. A field is acknowledged later only if all
 * of its records were taken (a bundle that cannot be read whole, or memory
 * that runs out, leaves the field for the sweep, never acked unproduced). */
void store_parse_outbox(struct ac_store_cust *sc, const redisReply *r)
{
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || v->len < 1) {
            continue;
        }
        size_t mark = sc->found.len;
        int n = 0, ok = 1;
        if (v->str[0] == STORE_BUNDLE) {
            struct ac_buf b = {.data = v->str + 1, .len = v->len - 1, .cap = v->len - 1};
            size_t cursor = 0;
            struct ac_outbox_rec rec;
            while (ok && ac_store_records_next(&b, &cursor, &rec)) {
                ok = store_rec_append(&sc->found, rec.id, strlen(rec.id), rec.kind, rec.payload,
                                      rec.len) == 0;
                n += ok;
            }
            ok = ok && cursor == b.len;
        } else {
            ok = store_rec_append(&sc->found, f->str, f->len, v->str[0], v->str + 1, v->len - 1) ==
                 0;
            n = ok;
        }
        if (!ok || ac_buf_append(&sc->found_ids, f->str, f->len) != 0 ||
            ac_buf_append(&sc->found_ids, "", 1) != 0) {
            AC_ERROR("outbox field customer=%s field=%.*s cannot be read whole; left for the "
                     "sweep",
                     sc->customer_id, (int)f->len, f->str);
            sc->found.len = mark;
            continue;
        }
        sc->n_found += n;
        sc->n_found_ids++;
    }
}

int64_t ac_store_next_due(const struct ac_record *rec)
{
    int i = ac_timerset_next(&rec->timers);
    return i < 0 ? AC_TS_NONE : rec->timers.t[i].due;
}

static void store_parse_record(struct ac_store_cust *sc, const redisReply *r)
{
    sc->exists = r->type == REDIS_REPLY_STRING;
    if (!sc->exists) {
        ac_record_reset(&sc->rec, sc->customer_id);
    } else if (ac_record_decode(&sc->rec, sc->customer_id, r->str, r->len) != 0) {
        /* Unreadable: refuse to guess (a newer format, or damage). The
         * customer's events wait; nothing is overwritten. */
        AC_ERROR("unreadable record customer=%s bytes=%zu", sc->customer_id, r->len);
        sc->exists = -1;
        return;
    }
    sc->loaded_version = sc->rec.state.version;
    sc->loaded_due = ac_store_next_due(&sc->rec);
}

/* Reads the previous layout (state hash, timers hash) into the record. */
static int store_load_legacy(struct ac_store *st, struct ac_store_cust *sc)
{
    char key[STORE_KEY_MAX];
    store_key(st, key, sizeof(key), sc->bucket, 'c', sc->customer_id);
    redisReply *r = redisCommand(st->rc, "HGETALL %s", key);
    if (!r) {
        store_drop(st);
        return AC_ERR_TRANSIENT;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        int rc = store_reply_error(st, r, "load a record of the previous layout");
        freeReplyObject(r);
        return rc;
    }
    ac_record_reset(&sc->rec, sc->customer_id);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *name = r->element[i]->str, *value = r->element[i + 1]->str;
        if (!name || !value) {
            continue;
        }
        if (strncmp(name, "w:", 2) == 0) {
            const char *colon = strrchr(name, ':');
            char topic[32];
            snprintf(topic, sizeof(topic), "%.*s", (int)(colon - name - 2), name + 2);
            int t = ac_topic_from_name(topic);
            if (t >= 0) {
                ac_record_set_watermark(&sc->rec, t, (int32_t)strtol(colon + 1, NULL, 10),
                                        strtoll(value, NULL, 10));
            }
        } else if (strcmp(name, "e.n") != 0) {
            (void)ac_customer_parse_field(&sc->rec.state, name, value);
        }
    }
    freeReplyObject(r);
    store_key(st, key, sizeof(key), sc->bucket, 't', sc->customer_id);
    if (!(r = redisCommand(st->rc, "HGETALL %s", key))) {
        store_drop(st);
        return AC_ERR_TRANSIENT;
    }
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        struct ac_timer t;
        if (ac_timer_from_json(&t, r->element[i]->str, r->element[i + 1]->str,
                               r->element[i + 1]->len) == 0) {
            (void)ac_timerset_put(&sc->rec.timers, &t);
        }
    }
    freeReplyObject(r);
    store_key(st, key, sizeof(key), sc->bucket, 'e', sc->customer_id);
    if (!(r = redisCommand(st->rc, "ZRANGE %s 0 -1 WITHSCORES", key))) {
        store_drop(st);
        return AC_ERR_TRANSIENT;
    }
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        ac_record_seen_add(&sc->rec, r->element[i]->str, strtoll(r->element[i + 1]->str, NULL, 10));
    }
    freeReplyObject(r);
    sc->legacy = 1;
    sc->exists = 1;
    sc->loaded_version = sc->rec.state.version;
    sc->loaded_due = AC_TS_NONE; /* the old due entries are removed by the commit */
    return 0;
}

/* GET of each record; with_outbox: and HGETALL of its outbox of earlier
 * versions (the sweep's and a replay's way to what a writer left there);
 * watch: WATCH of the records first and TIME last (the optimistic commit,
 * store.h). */
static int store_load_send(struct ac_store *st, struct ac_store_cust *custs, size_t n,
                           int with_outbox, int watch)
{
    char key[STORE_KEY_MAX];
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    if (store_append_gen(st) != 0) {
        return AC_ERR_TRANSIENT;
    }
    size_t n_watch = 0;
    for (size_t i = 0; watch && i < n; i++) {
        n_watch += !custs[i].done;
    }
    if (watch && !st->other) {
        return AC_ERR_TRANSIENT; /* a watched load needs both lanes (store.h) */
    }
    if (n_watch > 0) {
        /* written in pieces: the keys need no storage of their own */
        int rc = store_out_head(st, '*', 1 + n_watch);
        rc |= store_out_arg(st, "WATCH", 5);
        for (size_t i = 0; i < n; i++) {
            if (!custs[i].done) {
                store_key(st, key, sizeof(key), custs[i].bucket, 'c', custs[i].customer_id);
                rc |= store_out_arg(st, key, strlen(key));
            }
        }
        if (rc != 0) {
            return AC_ERR_TRANSIENT; /* the caller drops the connection */
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct ac_store_cust *sc = &custs[i];
        size_t argc = 0;
        if (sc->done) {
            continue;
        }
        sc->watched = watch;
        store_key(st, key, sizeof(key), sc->bucket, 'c', sc->customer_id);
        store_push_str(st, &argc, "GET");
        store_push_str(st, &argc, key);
        if (store_append(st, argc) != 0) {
            return AC_ERR_TRANSIENT;
        }
        if (!with_outbox) {
            continue;
        }
        argc = 0;
        store_key(st, key, sizeof(key), sc->bucket, 'o', sc->customer_id);
        store_push_str(st, &argc, "HGETALL");
        store_push_str(st, &argc, key);
        if (store_append(st, argc) != 0) {
            return AC_ERR_TRANSIENT;
        }
    }
    if (n_watch > 0) {
        size_t argc = 0;
        store_push_str(st, &argc, "TIME");
        if (store_append(st, argc) != 0) {
            return AC_ERR_TRANSIENT;
        }
    }
    return 0;
}

int ac_store_load_send(struct ac_store *st, struct ac_store_cust *custs, size_t n)
{
    return store_load_send(st, custs, n, 0, 0);
}

int ac_store_load_send_watch(struct ac_store *st, struct ac_store_cust *custs, size_t n)
{
    return store_load_send(st, custs, n, 0, 1);
}

/* Reads one reply that must not be an error (WATCH's OK, TIME's pair); an
 * error drops the connection (the replies after it are left unread). */
static int store_read_plain(struct ac_store *st, redisReply **out, const char *what)
{
    redisReply *r = store_read(st);
    if (!r) {
        return AC_ERR_TRANSIENT;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        int rc = store_reply_error(st, r, what);
        freeReplyObject(r);
        store_drop(st);
        return rc;
    }
    if (out) {
        *out = r;
    } else {
        freeReplyObject(r);
    }
    return 0;
}

static int store_load_recv(struct ac_store *st, struct ac_store_cust *custs, size_t n, int legacy,
                           int with_outbox)
{
    int rc = 0;
    redisReply *r = store_read(st);
    if (!r) {
        return AC_ERR_TRANSIENT;
    }
    rc = store_check_gen_reply(st, r);
    freeReplyObject(r);
    /* a watched load (the customers were marked by its send) */
    int watched = 0, any = 0;
    for (size_t i = 0; i < n; i++) {
        if (!custs[i].done) {
            watched |= custs[i].watched;
            any = 1;
        }
    }
    watched = watched && any; /* the send wrote WATCH and TIME then */
    if (watched) {
        int e = store_read_plain(st, NULL, "watch the records");
        if (e != 0) {
            return e;
        }
    }
    size_t n_legacy = 0;
    for (size_t i = 0; i < n; i++) {
        struct ac_store_cust *sc = &custs[i];
        if (sc->done) {
            continue;
        }
        /* Read every reply even after an error so the pipeline stays in step. */
        for (int k = 0; k < 1 + with_outbox; k++) {
            if (!(r = store_read(st))) {
                return AC_ERR_TRANSIENT;
            }
            if (k == 0 && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "WRONGTYPE", 9) == 0) {
                sc->legacy = 1; /* a state hash of the previous layout */
                n_legacy++;
            } else if (r->type == REDIS_REPLY_ERROR) {
                if (rc == 0) {
                    rc = store_reply_error(st, r, "load");
                }
            } else if (rc == 0 && k == 0) {
                store_parse_record(sc, r);
            } else if (rc == 0 && r->type == REDIS_REPLY_ARRAY) {
                store_parse_outbox(sc, r);
            }
            freeReplyObject(r);
        }
    }
    if (watched) {
        redisReply *t = NULL;
        int e = store_read_plain(st, &t, "read Redis's clock");
        if (e != 0 || !t) {
            return e ? e : AC_ERR_TRANSIENT;
        }
        if (t->type == REDIS_REPLY_ARRAY && t->elements == 2 &&
            t->element[0]->type == REDIS_REPLY_STRING &&
            t->element[1]->type == REDIS_REPLY_STRING) {
            st->redis_ms = strtoll(t->element[0]->str, NULL, 10) * 1000 +
                           strtoll(t->element[1]->str, NULL, 10) / 1000;
        } else {
            /* the call index's score is Redis's time: no guess */
            AC_ERROR("unexpected reply to TIME from Redis");
            freeReplyObject(t);
            store_drop(st);
            return AC_ERR_FATAL;
        }
        freeReplyObject(t);
    }
    for (size_t i = 0; rc == 0 && legacy && n_legacy > 0 && i < n; i++) {
        if (custs[i].legacy && !custs[i].done) {
            rc = store_load_legacy(st, &custs[i]);
        }
    }
    return rc;
}

int ac_store_load_recv(struct ac_store *st, struct ac_store_cust *custs, size_t n, int legacy)
{
    return store_load_recv(st, custs, n, legacy, 0);
}

static int store_load(struct ac_store *st, struct ac_store_cust *custs, size_t n, int with_outbox)
{
    double t0 = ac_clock_mono_s();
    int rc = store_load_send(st, custs, n, with_outbox, 0);
    if (rc != 0) {
        store_drop(st); /* commands may be appended half-way */
        return rc;
    }
    rc = store_load_recv(st, custs, n, 1, with_outbox);
    if (rc == 0) {
        st->last_rtt = ac_clock_mono_s() - t0;
    }
    return rc;
}

int ac_store_load(struct ac_store *st, struct ac_store_cust *custs, size_t n)
{
    return store_load(st, custs, n, 0);
}

int ac_store_load_outbox(struct ac_store *st, struct ac_store_cust *custs, size_t n)
{
    return store_load(st, custs, n, 1);
}

int ac_store_flush(struct ac_store *st)
{
    int done = 0;
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    while (!done) {
        if (redisBufferWrite(st->rc, &done) != REDIS_OK) {
            AC_WARN("redis connection lost host=%s port=%d error=%s", st->host, st->port,
                    st->rc->errstr);
            store_drop(st);
            return AC_ERR_TRANSIENT;
        }
    }
    return 0;
}

/* --- commit ---------------------------------------------------------------------------------- */

/* Per-customer strings of one commit call: they stay put until the command
 * is appended (hiredis copies them then). */
struct store_commit_strs {
    char keys[AC_STORE_KEYS_PER_CUSTOMER][STORE_KEY_MAX];
    char want[24];
    size_t want_len;
    char n_counters[16];
    size_t bundle_len;
    char bundle_len_str[24];
    char n_legacy[16];
    char legacy[5][STORE_KEY_MAX + AC_ACTION_ID_MAX + AC_ID_MAX];
};

static int store_pristine(const struct ac_store_cust *sc);

/* A customer the commit writes: changed, not done, its record readable. */
static int store_committing(const struct ac_store_cust *sc)
{
    return sc->dirty && !sc->done && sc->exists >= 0;
}

/* The customer's due-index change: "" none, "-" remove, else its new score. */
static void store_due_str(const struct ac_store_cust *sc, char out[24])
{
    int64_t due = ac_store_next_due(&sc->rec);
    int64_t was = sc->index_due != AC_TS_NONE ? sc->index_due : sc->loaded_due;
    if (due == was) {
        out[0] = '\0';
    } else if (due == AC_TS_NONE) {
        out[0] = '-';
        out[1] = '\0';
    } else {
        out[ac_i64_dec(out, (long long)due)] = '\0';
    }
}

static int store_commit_prepare(struct ac_store *st, struct ac_store_cust *sc,
                                struct store_commit_strs *cs)
{
    store_key(st, cs->keys[0], STORE_KEY_MAX, sc->bucket, 'c', sc->customer_id);
    store_bucket_key(st, cs->keys[1], STORE_KEY_MAX, sc->bucket, "due");
    store_bucket_key(st, cs->keys[2], STORE_KEY_MAX, sc->bucket, "xc");
    if (sc->legacy) {
        snprintf(cs->want, sizeof(cs->want), "L%lld", (long long)sc->loaded_version);
        cs->want_len = strlen(cs->want);
    } else if (sc->exists) {
        ac_record_version_bytes(sc->loaded_version, (unsigned char *)cs->want);
        cs->want_len = 8;
    } else {
        cs->want_len = 0;
    }
    sc->rec.state.version = sc->loaded_version + 1;
    ac_buf_reset(&sc->blob);
    if (!st->renc && !(st->renc = ac_record_enc_new())) {
        return AC_ERR_NOMEM;
    }
    int rc = ac_record_encode_with(st->renc, &sc->rec, &sc->blob);
    if (rc != 0) {
        return rc;
    }
    store_due_str(sc, sc->due);
    /* its part of the call's bundles (store_append_bundles): id, NUL, length, records */
    cs->bundle_len = sc->n_new_out > 0 ? strlen(sc->customer_id) + 1 + 4 + sc->new_out.len : 0;
    if (sc->new_out.len > UINT32_MAX) {
        return AC_ERR_INVALID;
    }
    *store_utoa(cs->n_counters, (unsigned)sc->n_counters) = '\0';
    *store_utoa(cs->bundle_len_str, (unsigned long long)cs->bundle_len) = '\0';
    int nl = 0;
    if (sc->legacy) {
        /* the previous layout's keys, and its timers' due-index members */
        store_key(st, cs->legacy[nl++], sizeof(cs->legacy[0]), sc->bucket, 't', sc->customer_id);
        store_key(st, cs->legacy[nl++], sizeof(cs->legacy[0]), sc->bucket, 'e', sc->customer_id);
        store_key(st, cs->legacy[nl++], sizeof(cs->legacy[0]), sc->bucket, 'a', sc->customer_id);
    }
    *store_utoa(cs->n_legacy, (unsigned)nl) = '\0';
    sc->pristine = store_pristine(sc);
    return 0;
}

/* A customer with no record whose record is still a new customer's (a due
 * entry left by nothing): nothing to keep, only the entry to remove. */
static int store_pristine(const struct ac_store_cust *sc)
{
    struct ac_customer blank;
    ac_customer_init(&blank, sc->customer_id);
    blank.version = sc->rec.state.version;
    return !sc->exists && sc->rec.timers.n == 0 && sc->rec.n_wm == 0 && sc->rec.n_seen == 0 &&
           sc->n_new_out == 0 && sc->n_counters == 0 &&
           memcmp(&blank, &sc->rec.state, sizeof(blank)) == 0;
}

static void store_commit_push(struct ac_store *st, size_t *argc, struct ac_store_cust *sc,
                              struct store_commit_strs *cs)
{
    store_push(st, argc, cs->want, cs->want_len);
    if (sc->pristine) {
        store_push(st, argc, "", 0);
    } else {
        store_push(st, argc, sc->blob.data, sc->blob.len);
    }
    store_push_str(st, argc, sc->due);
    store_push_str(st, argc, sc->customer_id);
    store_push_str(st, argc, cs->bundle_len_str);
    store_push_str(st, argc, cs->n_counters);
    const char *p = sc->counters.data;
    for (int i = 0; i < sc->n_counters * 2; i++) {
        store_push_str(st, argc, p);
        p += strlen(p) + 1;
    }
    store_push_str(st, argc, cs->n_legacy);
    for (int i = 0; i < atoi(cs->n_legacy); i++) {
        store_push_str(st, argc, cs->legacy[i]);
    }
}

/* An applied commit: the new records are pending, in the call's key. */
static void store_commit_applied(struct ac_store_cust *sc)
{
    sc->status = 0;
    sc->loaded_version = sc->rec.state.version;
    sc->exists = 1;
    sc->legacy = 0;
    sc->loaded_due = ac_store_next_due(&sc->rec);
    sc->index_due = AC_TS_NONE;
    if (sc->n_new_out > 0 && sc->n_pending == 0) {
        struct ac_buf tmp = sc->pending; /* the records move, not copied */
        sc->pending = sc->new_out;
        sc->new_out = tmp;
        ac_buf_reset(&sc->new_out);
        sc->n_pending = sc->n_new_out;
    } else if (sc->n_new_out > 0) {
        ac_buf_append(&sc->pending, sc->new_out.data, sc->new_out.len);
        sc->n_pending += sc->n_new_out;
    }
}

void ac_store_ticket_fini(struct ac_store_ticket *t)
{
    free(t->calls_n);
    free(t->calls_seq);
    free(t->calls_bucket);
    free(t->calls_tx);
    t->calls_n = NULL;
    t->calls_seq = NULL;
    t->calls_bucket = NULL;
    t->calls_tx = NULL;
    t->n_calls = t->cap = 0;
}

/* The commit's strings of one call, kept for the store's life. */
static int store_commit_strs(struct ac_store *st)
{
    enum { CHUNK = AC_STORE_CUSTOMERS_PER_CALL };
    if (st->commit_strs) {
        return 0;
    }
    struct store_commit_strs *cs = calloc(CHUNK, sizeof(*cs));
    if (!cs) {
        return AC_ERR_NOMEM;
    }
    st->commit_strs = cs;
    return 0;
}

void store_commit_strs_free(struct ac_store *st)
{
    free(st->commit_strs);
    st->commit_strs = NULL;
}

/* SET <key> <bundles>, the value written in pieces straight into the
 * output buffer: per customer with records its id, NUL, the records' length
 * (4 bytes, big-endian) and the records, total bytes in all. */
static int store_append_bundles(struct ac_store *st, const char *key,
                                const struct ac_store_cust *custs, const size_t *members, size_t m,
                                size_t total)
{
    int rc = store_out_head(st, '*', 3);
    rc |= store_out_arg(st, "SET", 3);
    rc |= store_out_arg(st, key, strlen(key));
    rc |= store_out_head(st, '$', total);
    for (size_t k = 0; k < m; k++) {
        const struct ac_store_cust *sc = &custs[members[k]];
        if (sc->n_new_out == 0) {
            continue;
        }
        uint32_t len = (uint32_t)sc->new_out.len;
        unsigned char be[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
                               (unsigned char)(len >> 8), (unsigned char)len};
        rc |= store_out(st, sc->customer_id, strlen(sc->customer_id) + 1);
        rc |= store_out(st, be, 4);
        rc |= store_out(st, sc->new_out.data, sc->new_out.len);
    }
    rc |= store_out(st, "\r\n", 2);
    return rc;
}

/* Grows a ticket to calls calls. */
static int store_ticket_reserve(struct ac_store_ticket *t, size_t calls)
{
    if (t->cap >= calls) {
        return 0;
    }
    size_t *p = realloc(t->calls_n, calls * sizeof(*p));
    if (p) {
        t->calls_n = p;
    }
    uint64_t *q = realloc(t->calls_seq, calls * sizeof(*q));
    if (q) {
        t->calls_seq = q;
    }
    unsigned *b = realloc(t->calls_bucket, calls * sizeof(*b));
    if (b) {
        t->calls_bucket = b;
    }
    unsigned char *x = realloc(t->calls_tx, calls * sizeof(*x));
    if (x) {
        t->calls_tx = x;
    }
    if (!p || !q || !b || !x) {
        return AC_ERR_NOMEM;
    }
    t->cap = calls;
    return 0;
}

/* Appends one queued command of the optimistic commit. */
static int store_queue(struct ac_store *st, struct ac_store_ticket *t, size_t argc)
{
    t->n_queued++;
    return store_append(st, argc);
}

/* The optimistic commit of customers loaded under WATCH (store.h): MULTI;
 * per call of up to AC_STORE_CUSTOMERS_PER_CALL customers its bundles (SET)
 * and its call-index entry (ZADD, scored by Redis's clock at the load);
 * every record in one MSET; the due entries, one ZADD or ZREM per run of
 * customers sharing a due index; the counters; EXEC. Nothing dirty: UNWATCH.
 * The customers' order and the calls' split are the function's, so the
 * replies are read the same way. */
static int store_commit_send_watched(struct ac_store *st, struct ac_store_cust *custs, size_t n,
                                     struct ac_store_ticket *t)
{
    enum { CHUNK = AC_STORE_CUSTOMERS_PER_CALL };
    char call_key[STORE_KEY_MAX], call_idx[STORE_KEY_MAX], call_id[48], score[24];
    struct store_commit_strs *cs = st->commit_strs;
    size_t members[CHUNK], argc = 0, m_all = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        m_all += store_committing(&custs[i]);
    }
    if ((rc = store_ticket_reserve(t, m_all / CHUNK + 2)) != 0) {
        return rc;
    }
    size_t mark = store_out_mark(st);
    if (m_all == 0) {
        t->watched = 2;
        store_push_str(st, &argc, "UNWATCH");
        return store_append(st, argc) != 0 ? AC_ERR_TRANSIENT : 0;
    }
    t->watched = 1;
    store_push_str(st, &argc, "MULTI");
    rc = store_append(st, argc) != 0 ? AC_ERR_TRANSIENT : 0;
    *store_utoa(score, (unsigned long long)(st->redis_ms > 0 ? st->redis_ms : 0)) = '\0';
    /* the calls: bundles and index entries; the records' strings prepared */
    for (size_t i = 0; i < n && rc == 0;) {
        size_t m = 0, total = 0;
        for (; i < n && m < CHUNK; i++) {
            if (store_committing(&custs[i])) {
                members[m++] = i;
            }
        }
        if (m == 0) {
            break;
        }
        uint64_t seq = ++st->call_seq;
        unsigned bucket = custs[members[0]].bucket;
        for (size_t k = 0; k < m && rc == 0; k++) {
            struct ac_store_cust *sc = &custs[members[k]];
            if (sc->legacy) {
                rc = AC_ERR_INVALID; /* the previous layout commits through the function */
                break;
            }
            rc = store_commit_prepare(st, sc, &cs[0]);
            total += cs[0].bundle_len;
        }
        if (rc == 0 && total > 0) {
            store_call_id(st, call_id, sizeof(call_id), seq);
            snprintf(call_key, sizeof(call_key), "%s:{%u}:k:%s", st->prefix, bucket, call_id);
            store_bucket_key(st, call_idx, sizeof(call_idx), bucket, "oz");
            t->n_queued++;
            if (store_append_bundles(st, call_key, custs, members, m, total) != 0) {
                rc = AC_ERR_TRANSIENT;
            }
            argc = 0;
            store_push_str(st, &argc, "ZADD");
            store_push_str(st, &argc, call_idx);
            store_push_str(st, &argc, score);
            store_push_str(st, &argc, call_id);
            if (rc == 0 && store_queue(st, t, argc) != 0) {
                rc = AC_ERR_TRANSIENT;
            }
        }
        t->calls_tx[t->n_calls] = 0;
        t->calls_seq[t->n_calls] = total > 0 ? seq : 0;
        t->calls_bucket[t->n_calls] = bucket;
        t->calls_n[t->n_calls++] = m;
    }
    /* the records, one MSET written in pieces (a pristine customer has none) */
    char key[STORE_KEY_MAX];
    size_t n_rec = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct ac_store_cust *sc = &custs[i];
        n_rec += store_committing(sc) && !sc->pristine;
    }
    if (rc == 0 && n_rec > 0) {
        t->n_queued++;
        rc = store_out_head(st, '*', 1 + 2 * n_rec) | store_out_arg(st, "MSET", 4);
        for (size_t i = 0; i < n && rc == 0; i++) {
            const struct ac_store_cust *sc = &custs[i];
            if (!store_committing(sc) || sc->pristine) {
                continue;
            }
            store_key(st, key, sizeof(key), sc->bucket, 'c', sc->customer_id);
            rc = store_out_arg(st, key, strlen(key)) |
                 store_out_arg(st, sc->blob.data, sc->blob.len);
        }
        rc = rc ? AC_ERR_TRANSIENT : 0;
    }
    /* the due entries: a run of customers of one bucket and one kind of change
     * is one command */
    char due_key[STORE_KEY_MAX];
    for (size_t i = 0; i < n && rc == 0;) {
        const struct ac_store_cust *sc = &custs[i];
        if (!store_committing(sc) || !sc->due[0]) {
            i++;
            continue;
        }
        int rem = sc->due[0] == '-';
        unsigned bucket = sc->bucket;
        store_bucket_key(st, due_key, sizeof(due_key), bucket, "due");
        argc = 0;
        store_push_str(st, &argc, rem ? "ZREM" : "ZADD");
        store_push_str(st, &argc, due_key);
        for (; i < n; i++) {
            const struct ac_store_cust *o = &custs[i];
            if (!store_committing(o) || !o->due[0]) {
                continue;
            }
            if (o->bucket != bucket || (o->due[0] == '-') != rem) {
                break;
            }
            if (!rem) {
                store_push_str(st, &argc, o->due);
            }
            store_push_str(st, &argc, o->customer_id);
        }
        if (store_queue(st, t, argc) != 0) {
            rc = AC_ERR_TRANSIENT; /* out of memory for an argument too (store_push) */
        }
    }
    /* the counters. Unlike the function, a transaction does not stop at a
     * command that fails (a key of another type: a damaged keyspace, not a
     * conflict): the others still run, and the commit is FATAL. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct ac_store_cust *sc = &custs[i];
        if (!store_committing(sc) || sc->n_counters == 0) {
            continue;
        }
        char xc[STORE_KEY_MAX];
        store_bucket_key(st, xc, sizeof(xc), sc->bucket, "xc");
        const char *p = sc->counters.data;
        for (int k = 0; k < sc->n_counters && rc == 0; k++) {
            const char *field = p, *by = p + strlen(p) + 1;
            p = by + strlen(by) + 1;
            argc = 0;
            store_push_str(st, &argc, "HINCRBY");
            store_push_str(st, &argc, xc);
            store_push_str(st, &argc, field);
            store_push_str(st, &argc, by);
            if (store_queue(st, t, argc) != 0) {
                rc = AC_ERR_TRANSIENT;
            }
        }
    }
    argc = 0;
    store_push_str(st, &argc, "EXEC");
    if (rc == 0 && store_append(st, argc) != 0) {
        rc = AC_ERR_TRANSIENT;
    }
    if (rc != 0) {
        store_out_rewind(st, mark); /* nothing half-written stays queued */
    }
    return rc;
}

int ac_store_commit_send(struct ac_store *st, struct ac_store_cust *custs, size_t n,
                         struct ac_store_ticket *t)
{
    enum { CHUNK = AC_STORE_CUSTOMERS_PER_CALL };
    char count[16], m_str[16], call_key[STORE_KEY_MAX], call_idx[STORE_KEY_MAX], call_id[48];
    int rc = 0;
    t->n_calls = 0;
    t->watched = 0;
    t->n_queued = 0;
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    if ((rc = store_commit_strs(st)) != 0) {
        return rc;
    }
    if ((rc = store_ticket_reserve(t, n / CHUNK + 2)) != 0) {
        return rc;
    }
    struct store_commit_strs *cs = st->commit_strs;
    for (size_t i = 0; i < n; i++) {
        if (custs[i].watched && !custs[i].done) {
            return store_commit_send_watched(st, custs, n, t);
        }
    }
    for (size_t i = 0; i < n;) {
        size_t members[CHUNK], m = 0;
        for (; i < n && m < CHUNK; i++) {
            if (store_committing(&custs[i])) {
                members[m++] = i;
            }
        }
        if (m == 0) {
            break;
        }
        size_t argc = 0;
        uint64_t seq = ++st->call_seq;
        unsigned bucket = custs[members[0]].bucket;
        store_call_id(st, call_id, sizeof(call_id), seq);
        snprintf(call_key, sizeof(call_key), "%s:{%u}:k:%s", st->prefix, bucket, call_id);
        store_bucket_key(st, call_idx, sizeof(call_idx), bucket, "oz");
        size_t total = 0;
        for (size_t k = 0; k < m; k++) {
            if ((rc = store_commit_prepare(st, &custs[members[k]], &cs[k])) != 0) {
                return rc;
            }
            total += cs[k].bundle_len;
        }
        /* The call's bundles are SET by a plain command in the function's
         * transaction: Lua never sees those bytes (it hashes every byte of
         * every string it is given). */
        int tx = total > 0;
        size_t mark = store_out_mark(st);
        if (tx) {
            store_push_str(st, &argc, "MULTI");
            if (store_append(st, argc) != 0 ||
                store_append_bundles(st, call_key, custs, members, m, total) != 0) {
                store_out_rewind(st, mark); /* MULTI and a half-written SET go */
                return AC_ERR_TRANSIENT;
            }
            argc = 0;
        }
        store_push_str(st, &argc, "FCALL");
        store_push_str(st, &argc, "ac_commit_v7");
        snprintf(count, sizeof(count), "%zu", 2 + m * AC_STORE_KEYS_PER_CUSTOMER);
        store_push_str(st, &argc, count);
        store_push_str(st, &argc, call_key);
        store_push_str(st, &argc, call_idx);
        for (size_t k = 0; k < m; k++) {
            for (int j = 0; j < AC_STORE_KEYS_PER_CUSTOMER; j++) {
                store_push_str(st, &argc, cs[k].keys[j]);
            }
        }
        snprintf(m_str, sizeof(m_str), "%zu", m);
        store_push_str(st, &argc, m_str);
        store_push_str(st, &argc, call_id);
        store_push_str(st, &argc, tx ? "1" : "0");
        for (size_t k = 0; k < m; k++) {
            store_commit_push(st, &argc, &custs[members[k]], &cs[k]);
        }
        if (store_append(st, argc) != 0) {
            store_out_rewind(st, mark);
            return AC_ERR_TRANSIENT;
        }
        if (tx) {
            argc = 0;
            store_push_str(st, &argc, "EXEC");
            if (store_append(st, argc) != 0) {
                store_out_rewind(st, mark);
                return AC_ERR_TRANSIENT;
            }
        }
        t->calls_tx[t->n_calls] = (unsigned char)tx;
        t->calls_seq[t->n_calls] = seq;
        t->calls_bucket[t->n_calls] = bucket;
        t->calls_n[t->n_calls++] = m;
    }
    return 0;
}

/* One customer's result in call c of t: applied (its records pending in
 * the call's key), or in conflict (re-read and retried). */
static void store_commit_result(struct ac_store_cust *sc, int applied,
                                const struct ac_store_ticket *t, size_t c)
{
    if (applied) {
        store_commit_applied(sc);
        if (sc->n_new_out > 0) {
            sc->call_seq = t->calls_seq[c];
            sc->call_bucket = t->calls_bucket[c];
        }
    } else {
        sc->status = AC_ERR_CONFLICT;
        sc->rec.state.version = sc->loaded_version;
    }
}

/* The customers of a commit, call by call, in the order they were sent. */
static void store_commit_assign(struct ac_store_cust *custs, size_t n,
                                const struct ac_store_ticket *t, int applied)
{
    size_t next = 0;
    for (size_t c = 0; c < t->n_calls; c++) {
        for (size_t k = 0; k < t->calls_n[c]; k++) {
            while (next < n && !store_committing(&custs[next])) {
                next++;
            }
            if (next == n) {
                return; /* cannot happen: the calls were built from these customers */
            }
            store_commit_result(&custs[next++], applied, t, c);
        }
    }
}

/* MULTI's OK, a QUEUED per command, then EXEC's replies, or nil: a watched
 * record was written since the load, and nothing of this commit was. */
static int store_commit_recv_watched(struct ac_store *st, struct ac_store_cust *custs, size_t n,
                                     const struct ac_store_ticket *t)
{
    int rc = 0;
    size_t replies = t->watched == 2 ? 1 : 2 + t->n_queued;
    redisReply *r = NULL;
    for (size_t q = 0; q < replies; q++) {
        freeReplyObject(r);
        if (!(r = store_read(st))) {
            return AC_ERR_TRANSIENT;
        }
        if (r->type == REDIS_REPLY_ERROR && rc == 0) {
            /* a command refused while queued fails EXEC too (EXECABORT) */
            rc = store_reply_error(st, r, "commit");
        }
    }
    if (rc != 0 || t->watched == 2 || !r) {
        freeReplyObject(r);
        return rc;
    }
    if (r->type == REDIS_REPLY_NIL) {
        store_commit_assign(custs, n, t, 0);
        freeReplyObject(r);
        return 0;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != t->n_queued) {
        AC_ERROR("commit: unexpected reply from Redis");
        freeReplyObject(r);
        store_drop(st);
        return AC_ERR_FATAL;
    }
    for (size_t k = 0; k < r->elements && rc == 0; k++) {
        if (r->element[k]->type == REDIS_REPLY_ERROR) {
            rc = store_reply_error(st, r->element[k], "commit");
        }
    }
    if (rc == 0) {
        store_commit_assign(custs, n, t, 1);
    }
    freeReplyObject(r);
    return rc;
}

int ac_store_commit_recv(struct ac_store *st, struct ac_store_cust *custs, size_t n,
                         const struct ac_store_ticket *t)
{
    int rc = 0;
    if (t->watched) {
        return store_commit_recv_watched(st, custs, n, t);
    }
    /* Replies come back in call order; walk the dirty customers again. */
    size_t next = 0;
    for (size_t c = 0; c < t->n_calls; c++) {
        redisReply *top = NULL, *r;
        /* MULTI, SET, FCALL queued, then EXEC: [OK, the function's reply] */
        for (int q = 0; q < (t->calls_tx[c] ? 4 : 1); q++) {
            freeReplyObject(top);
            if (!(top = store_read(st))) {
                return AC_ERR_TRANSIENT;
            }
            if (top->type == REDIS_REPLY_ERROR) {
                rc = store_reply_error(st, top, "commit");
                freeReplyObject(top);
                return rc;
            }
        }
        r = top;
        if (t->calls_tx[c]) {
            /* [the SET's OK, the function's reply]; an error in either is the call's */
            r = top->type == REDIS_REPLY_ARRAY && top->elements == 2 ? top->element[1] : NULL;
            if (r && top->element[0]->type == REDIS_REPLY_ERROR) {
                r = top->element[0];
            }
        }
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != t->calls_n[c]) {
            rc = r && r->type == REDIS_REPLY_ERROR ? store_reply_error(st, r, "commit")
                                                   : AC_ERR_FATAL;
            if (rc == AC_ERR_FATAL && !(r && r->type == REDIS_REPLY_ERROR)) {
                AC_ERROR("commit: unexpected reply from Redis");
                store_drop(st);
            }
            freeReplyObject(top);
            return rc;
        }
        for (size_t k = 0; k < r->elements; k++) {
            while (next < n && !store_committing(&custs[next])) {
                next++;
            }
            if (next == n) {
                break; /* cannot happen: the calls were built from these customers */
            }
            const redisReply *e = r->element[k];
            store_commit_result(&custs[next++], e->type == REDIS_REPLY_INTEGER && e->integer == 0,
                                t, c);
        }
        freeReplyObject(top);
    }
    return 0;
}

int ac_store_commit(struct ac_store *st, struct ac_store_cust *custs, size_t n)
{
    struct ac_store_ticket t = {0};
    double t0 = ac_clock_mono_s();
    int rc = ac_store_commit_send(st, custs, n, &t);
    if (rc == 0) {
        rc = ac_store_commit_recv(st, custs, n, &t);
    }
    if (rc == 0) {
        st->last_rtt = ac_clock_mono_s() - t0;
    } else {
        /* calls may be appended or sent with their replies unread (out of
         * memory half-way too): reconnect, re-read, retry */
        store_drop(st);
    }
    ac_store_ticket_fini(&t);
    return rc;
}

/* --- ack and positions --------------------------------------------------------------------- */

/* Appends HDEL of the delivered fields of outboxes of earlier versions
 * (found by a replay), then DEL and SREM of each call of this store that
 * wrote records (each once). Returns the
 * number of commands appended, or a negative ac_err. */
static long store_append_delivered(struct ac_store *st, const struct ac_store_cust *custs, size_t n)
{
    char key[STORE_KEY_MAX], call_id[48];
    long cmds = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ac_store_cust *sc = &custs[i];
        if (sc->n_pending_ids == 0) {
            continue;
        }
        size_t argc = 0;
        store_key(st, key, sizeof(key), sc->bucket, 'o', sc->customer_id);
        store_push_str(st, &argc, "HDEL");
        store_push_str(st, &argc, key);
        const char *p = sc->pending_ids.data;
        for (int j = 0; j < sc->n_pending_ids; j++) {
            store_push_str(st, &argc, p);
            p += strlen(p) + 1;
        }
        if (store_append(st, argc) != 0) {
            return AC_ERR_TRANSIENT;
        }
        cmds++;
    }
    /* each call once: a step's calls are few (a batch's customers / 64, and
     * its conflicts), so the ones done are kept in a short list */
    uint64_t done[64];
    size_t n_done = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ac_store_cust *sc = &custs[i];
        int seen = sc->call_seq == 0;
        for (size_t j = 0; j < n_done && !seen; j++) {
            seen = done[j] == sc->call_seq;
        }
        for (size_t j = 0; n_done == sizeof(done) / sizeof(done[0]) && j < i && !seen; j++) {
            seen = custs[j].call_seq == sc->call_seq; /* past the list: the long way */
        }
        if (seen) {
            continue;
        }
        if (n_done < sizeof(done) / sizeof(done[0])) {
            done[n_done++] = sc->call_seq;
        }
        size_t argc = 0;
        store_call_id(st, call_id, sizeof(call_id), sc->call_seq);
        snprintf(key, sizeof(key), "%s:{%u}:k:%s", st->prefix, sc->call_bucket, call_id);
        store_push_str(st, &argc, "DEL");
        store_push_str(st, &argc, key);
        if (store_append(st, argc) != 0) {
            return AC_ERR_TRANSIENT;
        }
        argc = 0;
        store_bucket_key(st, key, sizeof(key), sc->call_bucket, "oz");
        store_push_str(st, &argc, "ZREM");
        store_push_str(st, &argc, key);
        store_push_str(st, &argc, call_id);
        if (store_append(st, argc) != 0) {
            return AC_ERR_TRANSIENT;
        }
        cmds += 2;
    }
    return cmds;
}

int ac_store_ack(struct ac_store *st, struct ac_store_cust *custs, size_t n, const char *group,
                 enum ac_topic topic, const int32_t *parts, const int64_t *offsets, size_t n_pos)
{
    char pkey[160];
    size_t sent = 0;
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    long calls = store_append_delivered(st, custs, n);
    if (calls < 0) {
        store_drop(st);
        return (int)calls;
    }
    sent = (size_t)calls;
    if (n_pos > 0) {
        /* "topic:partition\0offset\0" pairs laid out first, pointed at after. */
        struct ac_buf kv;
        size_t argc = 0;
        ac_buf_init(&kv);
        for (size_t i = 0; i < n_pos; i++) {
            ac_buf_printf(&kv, "%s:%d", ac_topic_name(topic), parts[i]);
            ac_buf_append(&kv, "", 1);
            ac_buf_printf(&kv, "%lld", (long long)offsets[i]);
            ac_buf_append(&kv, "", 1);
        }
        snprintf(pkey, sizeof(pkey), "%s:pos:%s", st->prefix, group);
        store_push_str(st, &argc, "HSET");
        store_push_str(st, &argc, pkey);
        const char *p = kv.data;
        for (size_t i = 0; i < n_pos * 2; i++) {
            store_push_str(st, &argc, p);
            p += strlen(p) + 1;
        }
        int arc = store_append(st, argc);
        ac_buf_fini(&kv);
        if (arc != 0) {
            return AC_ERR_TRANSIENT;
        }
        sent++;
    }
    int rc = 0;
    for (size_t i = 0; i < sent; i++) {
        redisReply *r = store_read(st);
        if (!r) {
            return AC_ERR_TRANSIENT;
        }
        if (r->type == REDIS_REPLY_ERROR && rc == 0) {
            rc = store_reply_error(st, r, "ack");
        }
        freeReplyObject(r);
    }
    return rc;
}

int ac_store_positions(struct ac_store *st, const char *group, enum ac_topic topic,
                       const int32_t *parts, int64_t *offsets, size_t n)
{
    char pkey[160], field[64];
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    snprintf(pkey, sizeof(pkey), "%s:pos:%s", st->prefix, group);
    for (size_t i = 0; i < n; i++) {
        snprintf(field, sizeof(field), "%s:%d", ac_topic_name(topic), parts[i]);
        redisReply *r = redisCommand(st->rc, "HGET %s %s", pkey, field);
        if (!r) {
            store_drop(st);
            return AC_ERR_TRANSIENT;
        }
        offsets[i] = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
        int err = r->type == REDIS_REPLY_ERROR ? store_reply_error(st, r, "read positions") : 0;
        freeReplyObject(r);
        if (err) {
            return err;
        }
    }
    return 0;
}
