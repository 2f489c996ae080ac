/* store.c — Redis access: connection, generation, batch load/commit/ack. */
#include "store.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "store_lua.h"

struct ac_store {
    redisContext *rc;
    char host[256];
    int port;
    int db;
    char user[128];
    char password[256];
    char prefix[32];
    char run_id[48];
    char expect_gen[40];
    double last_rtt;
    /* argv scratch for pipelined commands */
    const char **argv;
    size_t *argvlen;
    size_t argcap;
};

/* --- customer batch records ------------------------------------------------------------ */

void ac_store_cust_init(struct ac_store_cust *sc, const char *customer_id)
{
    memset(sc, 0, sizeof(*sc));
    snprintf(sc->customer_id, sizeof(sc->customer_id), "%s", customer_id);
    sc->bucket = ac_store_bucket(customer_id);
    ac_buf_init(&sc->fields);
    ac_buf_init(&sc->seen_add);
    ac_buf_init(&sc->new_out);
    ac_buf_init(&sc->pending);
    ac_customer_init(&sc->state, customer_id);
}

void ac_store_cust_fini(struct ac_store_cust *sc)
{
    ac_buf_fini(&sc->fields);
    ac_buf_fini(&sc->seen_add);
    ac_buf_fini(&sc->new_out);
    ac_buf_fini(&sc->pending);
    free(sc->seen);
    sc->seen = NULL;
}

void ac_store_cust_reset(struct ac_store_cust *sc)
{
    sc->dirty = 0;
    ac_buf_reset(&sc->fields);
    sc->n_fields = 0;
    ac_buf_reset(&sc->seen_add);
    sc->n_seen_add = 0;
    ac_buf_reset(&sc->new_out);
    sc->n_new_out = 0;
    ac_buf_reset(&sc->pending);
    sc->n_pending = 0;
    sc->status = 0;
}

/* Serialized record: kind byte, id length byte, id, u32 payload length, payload. */
static int store_rec_append(struct ac_buf *b, const char *id, size_t idlen, char kind,
                            const void *p, size_t len)
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

static int store_rec_next(const struct ac_buf *b, size_t *cursor, struct ac_outbox_rec *rec)
{
    size_t at = *cursor;
    if (at + 2 > b->len) {
        return 0;
    }
    const unsigned char *p = (const unsigned char *)b->data + at;
    size_t idlen = p[1];
    uint32_t n;
    rec->kind = (char)p[0];
    memcpy(rec->id, p + 2, idlen);
    rec->id[idlen] = '\0';
    memcpy(&n, p + 2 + idlen, sizeof(n));
    rec->payload = (const char *)p + 2 + idlen + sizeof(n);
    rec->len = n;
    *cursor = at + 2 + idlen + sizeof(n) + n;
    return 1;
}

int ac_store_pending_next(const struct ac_store_cust *sc, size_t *cursor,
                          struct ac_outbox_rec *rec)
{
    return store_rec_next(&sc->pending, cursor, rec);
}

int64_t ac_store_cust_watermark(const struct ac_store_cust *sc, int32_t partition)
{
    for (int i = 0; i < sc->n_wm; i++) {
        if (sc->wm[i].partition == partition) {
            return sc->wm[i].offset;
        }
    }
    return -1;
}

uint32_t ac_store_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

unsigned ac_store_bucket(const char *customer_id)
{
    return ac_store_hash(customer_id) % AC_STORE_BUCKETS;
}

/* --- connection ------------------------------------------------------------------------- */

static int store_parse_url(struct ac_store *st, const char *url, char *errstr, size_t errlen)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0) {
        snprintf(errstr, errlen, "redis url '%s': must start with redis://", url);
        return AC_ERR_INVALID;
    }
    p += 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            snprintf(st->user, sizeof(st->user), "%.*s", (int)(colon - p), p);
            snprintf(st->password, sizeof(st->password), "%.*s", (int)(at - colon - 1),
                     colon + 1);
        } else {
            snprintf(st->password, sizeof(st->password), "%.*s", (int)(at - p), p);
        }
        p = at + 1;
    }
    size_t hostlen = strcspn(p, ":/");
    if (hostlen == 0 || hostlen >= sizeof(st->host)) {
        snprintf(errstr, errlen, "redis url '%s': missing host", url);
        return AC_ERR_INVALID;
    }
    memcpy(st->host, p, hostlen);
    st->host[hostlen] = '\0';
    p += hostlen;
    st->port = 6379;
    if (*p == ':') {
        char *end = NULL;
        errno = 0;
        long v = strtol(p + 1, &end, 10);
        if (errno || end == p + 1 || v <= 0 || v > 65535 || (*end && *end != '/')) {
            snprintf(errstr, errlen, "redis url '%s': bad port", url);
            return AC_ERR_INVALID;
        }
        st->port = (int)v;
        p = end;
    }
    if (*p == '/' && p[1]) {
        char *end = NULL;
        errno = 0;
        long v = strtol(p + 1, &end, 10);
        if (errno || end == p + 1 || *end || v < 0 || v > 1000000) {
            snprintf(errstr, errlen, "redis url '%s': bad database number", url);
            return AC_ERR_INVALID;
        }
        st->db = (int)v;
    }
    return 0;
}

struct ac_store *ac_store_new(const char *url, const char *prefix, char *errstr, size_t errlen)
{
    struct ac_store *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    if (store_parse_url(st, url, errstr, errlen) != 0) {
        free(st);
        return NULL;
    }
    snprintf(st->prefix, sizeof(st->prefix), "%s", prefix && *prefix ? prefix : "ac");
    return st;
}

void ac_store_destroy(struct ac_store *st)
{
    if (!st) {
        return;
    }
    if (st->rc) {
        redisFree(st->rc);
    }
    free(st->argv);
    free(st->argvlen);
    free(st);
}

int ac_store_connected(const struct ac_store *st)
{
    return st->rc != NULL && st->rc->err == 0;
}

const char *ac_store_run_id(const struct ac_store *st)
{
    return st->run_id;
}

double ac_store_last_rtt(const struct ac_store *st)
{
    return st->last_rtt;
}

static void store_drop(struct ac_store *st)
{
    if (st->rc) {
        redisFree(st->rc);
        st->rc = NULL;
    }
}

/* Runs a command during connect; returns the reply or NULL with errstr set. */
static redisReply *store_setup_cmd(struct ac_store *st, char *errstr, size_t errlen,
                                   const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(st->rc, fmt, ap);
    va_end(ap);
    if (!r) {
        snprintf(errstr, errlen, "redis %s:%d: %s: %s", st->host, st->port, what, st->rc->errstr);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(errstr, errlen, "redis %s:%d: %s: %s", st->host, st->port, what, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

int ac_store_connect(struct ac_store *st, char *errstr, size_t errlen)
{
    redisReply *r = NULL;
    int rc = AC_ERR_TRANSIENT;
    struct timeval tv = {5, 0};
    store_drop(st);
    st->rc = redisConnectWithTimeout(st->host, st->port, tv);
    if (!st->rc || st->rc->err) {
        snprintf(errstr, errlen, "redis %s:%d: cannot connect: %s", st->host, st->port,
                 st->rc ? st->rc->errstr : "out of memory");
        goto out;
    }
    redisSetTimeout(st->rc, (struct timeval){10, 0});
    redisEnableKeepAlive(st->rc);
    if (st->password[0]) {
        r = st->user[0] ? store_setup_cmd(st, errstr, errlen, "AUTH", "AUTH %s %s", st->user,
                                          st->password)
                        : store_setup_cmd(st, errstr, errlen, "AUTH", "AUTH %s", st->password);
        if (!r) {
            goto out;
        }
        freeReplyObject(r);
    }
    if (st->db) {
        if (!(r = store_setup_cmd(st, errstr, errlen, "SELECT", "SELECT %d", st->db))) {
            goto out;
        }
        freeReplyObject(r);
    }
    r = store_setup_cmd(st, errstr, errlen, "FUNCTION LOAD", "FUNCTION LOAD REPLACE %b",
                        ac_store_lua, sizeof(ac_store_lua) - 1);
    if (!r) {
        goto out;
    }
    freeReplyObject(r);
    if (!(r = store_setup_cmd(st, errstr, errlen, "INFO", "INFO server"))) {
        goto out;
    }
    const char *p = r->type == REDIS_REPLY_STRING ? strstr(r->str, "run_id:") : NULL;
    if (p) {
        snprintf(st->run_id, sizeof(st->run_id), "%.40s", p + 7);
    }
    freeReplyObject(r);
    rc = 0;
out:
    if (rc != 0) {
        store_drop(st);
    }
    return rc;
}

/* --- pipelining helpers ------------------------------------------------------------------ */

static int store_argv_reserve(struct ac_store *st, size_t n)
{
    if (n <= st->argcap) {
        return 0;
    }
    size_t cap = st->argcap ? st->argcap : 64;
    while (cap < n) {
        cap *= 2;
    }
    const char **argv = realloc(st->argv, cap * sizeof(*argv));
    if (!argv) {
        return AC_ERR_NOMEM;
    }
    st->argv = argv;
    size_t *lens = realloc(st->argvlen, cap * sizeof(*lens));
    if (!lens) {
        return AC_ERR_NOMEM;
    }
    st->argvlen = lens;
    st->argcap = cap;
    return 0;
}

static int store_push(struct ac_store *st, size_t *argc, const char *p, size_t len)
{
    if (store_argv_reserve(st, *argc + 1) != 0) {
        return AC_ERR_NOMEM;
    }
    st->argv[*argc] = p;
    st->argvlen[*argc] = len;
    (*argc)++;
    return 0;
}

static int store_push_str(struct ac_store *st, size_t *argc, const char *s)
{
    return store_push(st, argc, s, strlen(s));
}

static int store_append(struct ac_store *st, size_t argc)
{
    if (redisAppendCommandArgv(st->rc, (int)argc, st->argv, st->argvlen) != REDIS_OK) {
        return AC_ERR_TRANSIENT;
    }
    return 0;
}

/* Reads one pipelined reply; NULL (and the connection dropped) on I/O error. */
static redisReply *store_read(struct ac_store *st)
{
    void *reply = NULL;
    if (redisGetReply(st->rc, &reply) != REDIS_OK || !reply) {
        AC_WARN("redis connection lost host=%s port=%d error=%s", st->host, st->port,
                st->rc->errstr);
        store_drop(st);
        return NULL;
    }
    return reply;
}

static int store_reply_error(struct ac_store *st, redisReply *r, const char *what)
{
    AC_WARN("redis error during %s: %s", what, r->str);
    /* After an error reply the rest of the pipeline is unreliable to
     * interpret; drop the connection so the caller reconnects and retries. */
    store_drop(st);
    return AC_ERR_TRANSIENT;
}

static void store_key(const struct ac_store *st, char *out, size_t outlen, unsigned bucket,
                      char kind, const char *cid)
{
    snprintf(out, outlen, "%s:{%u}:%c:%s", st->prefix, bucket, kind, cid);
}

void ac_store_state_key(const struct ac_store *st, const char *customer_id, char *out,
                        size_t outlen)
{
    store_key(st, out, outlen, ac_store_bucket(customer_id), 'c', customer_id);
}

#define STORE_KEY_MAX (AC_ID_MAX + 64)

/* --- generation ---------------------------------------------------------------------------- */

int ac_store_generation(struct ac_store *st, int create, char out[40])
{
    char key[64];
    snprintf(key, sizeof(key), "%s:gen", st->prefix);
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    if (create) {
        char gen[40];
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(gen, sizeof(gen), "%llx-%lx-%x", (unsigned long long)ts.tv_sec,
                 (unsigned long)ts.tv_nsec, (unsigned)getpid());
        redisReply *r = redisCommand(st->rc, "SET %s %s NX", key, gen);
        if (!r) {
            store_drop(st);
            return AC_ERR_TRANSIENT;
        }
        freeReplyObject(r);
    }
    redisReply *r = redisCommand(st->rc, "GET %s", key);
    if (!r) {
        store_drop(st);
        return AC_ERR_TRANSIENT;
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_STRING) {
        snprintf(out, 40, "%s", r->str);
    } else if (r->type == REDIS_REPLY_NIL) {
        rc = AC_ERR_NOTFOUND;
    } else {
        rc = AC_ERR_TRANSIENT;
    }
    freeReplyObject(r);
    return rc;
}

void ac_store_expect_generation(struct ac_store *st, const char *gen)
{
    snprintf(st->expect_gen, sizeof(st->expect_gen), "%s", gen);
}

static int store_check_gen_reply(struct ac_store *st, redisReply *r)
{
    if (r->type == REDIS_REPLY_STRING && strcmp(r->str, st->expect_gen) == 0) {
        return 0;
    }
    AC_ERROR("redis lost its data: generation is %s, expected %s; refusing to continue "
             "(see README: recovering from Redis data loss)",
             r->type == REDIS_REPLY_STRING ? r->str : "missing", st->expect_gen);
    return AC_ERR_FATAL;
}

static int store_append_gen(struct ac_store *st)
{
    static char key[64];
    size_t argc = 0;
    snprintf(key, sizeof(key), "%s:gen", st->prefix);
    store_push_str(st, &argc, "GET");
    store_push_str(st, &argc, key);
    return store_append(st, argc);
}

/* --- load ------------------------------------------------------------------------------------ */

static void store_parse_state(struct ac_store_cust *sc, redisReply *r, const char *wm_prefix)
{
    size_t wplen = strlen(wm_prefix);
    ac_customer_init(&sc->state, sc->customer_id);
    sc->n_wm = 0;
    sc->n_applied = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *name = r->element[i]->str;
        const char *value = r->element[i + 1]->str;
        if (!name || !value) {
            continue;
        }
        if (strcmp(name, "e.n") == 0) {
            sc->n_applied = strtoll(value, NULL, 10);
            continue;
        }
        if (strncmp(name, wm_prefix, wplen) == 0) {
            if (sc->n_wm < AC_STORE_WM_MAX) {
                sc->wm[sc->n_wm].partition = (int32_t)strtol(name + wplen, NULL, 10);
                sc->wm[sc->n_wm].offset = strtoll(value, NULL, 10);
                sc->n_wm++;
            }
            continue;
        }
        if (ac_customer_parse_field(&sc->state, name, value) != 0) {
            AC_WARN("malformed state field customer=%s field=%s; using default",
                    sc->customer_id, name);
        }
    }
}

static void store_parse_outbox(struct ac_store_cust *sc, redisReply *r)
{
    ac_buf_reset(&sc->pending);
    sc->n_pending = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        redisReply *id = r->element[i], *val = r->element[i + 1];
        if (id->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING || val->len < 1) {
            continue;
        }
        if (store_rec_append(&sc->pending, id->str, id->len, val->str[0], val->str + 1,
                             val->len - 1) == 0) {
            sc->n_pending++;
        }
    }
}

int ac_store_load(struct ac_store *st, enum ac_topic topic, struct ac_store_cust *custs,
                  size_t n)
{
    char key[STORE_KEY_MAX], ekey[STORE_KEY_MAX], okey[STORE_KEY_MAX];
    char wm_prefix[48];
    int rc = 0;
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    snprintf(wm_prefix, sizeof(wm_prefix), "w:%s:", ac_topic_name(topic));
    double t0 = ac_clock_mono_s();
    if (store_append_gen(st) != 0) {
        return AC_ERR_TRANSIENT;
    }
    for (size_t i = 0; i < n; i++) {
        struct ac_store_cust *sc = &custs[i];
        size_t argc = 0;
        store_key(st, key, sizeof(key), sc->bucket, 'c', sc->customer_id);
        store_push_str(st, &argc, "HGETALL");
        store_push_str(st, &argc, key);
        if (store_append(st, argc) != 0) {
            return AC_ERR_TRANSIENT;
        }
        argc = 0;
        store_key(st, ekey, sizeof(ekey), sc->bucket, 'e', sc->customer_id);
        store_push_str(st, &argc, "ZMSCORE");
        store_push_str(st, &argc, ekey);
        for (int j = 0; j < sc->n_event_ids; j++) {
            store_push_str(st, &argc, sc->event_ids[j]);
        }
        if (sc->n_event_ids > 0 && store_append(st, argc) != 0) {
            return AC_ERR_TRANSIENT;
        }
        argc = 0;
        store_key(st, okey, sizeof(okey), sc->bucket, 'o', sc->customer_id);
        store_push_str(st, &argc, "HGETALL");
        store_push_str(st, &argc, okey);
        if (store_append(st, argc) != 0) {
            return AC_ERR_TRANSIENT;
        }
    }
    redisReply *r = store_read(st);
    if (!r) {
        return AC_ERR_TRANSIENT;
    }
    rc = store_check_gen_reply(st, r);
    freeReplyObject(r);
    for (size_t i = 0; i < n; i++) {
        struct ac_store_cust *sc = &custs[i];
        /* Read every reply even after an error so the pipeline stays in step. */
        if (!(r = store_read(st))) {
            return AC_ERR_TRANSIENT;
        }
        if (r->type == REDIS_REPLY_ARRAY) {
            store_parse_state(sc, r, wm_prefix);
        } else if (rc == 0) {
            rc = store_reply_error(st, r, "load state");
        }
        freeReplyObject(r);
        if (rc == AC_ERR_TRANSIENT) {
            return rc;
        }
        free(sc->seen);
        sc->seen = calloc((size_t)sc->n_event_ids + 1, 1);
        if (!sc->seen) {
            return AC_ERR_NOMEM;
        }
        if (sc->n_event_ids > 0) {
            if (!(r = store_read(st))) {
                return AC_ERR_TRANSIENT;
            }
            if (r->type == REDIS_REPLY_ARRAY) {
                for (size_t j = 0; j < r->elements && j < (size_t)sc->n_event_ids; j++) {
                    sc->seen[j] = r->element[j]->type != REDIS_REPLY_NIL;
                }
            } else if (rc == 0) {
                rc = store_reply_error(st, r, "load applied ids");
            }
            freeReplyObject(r);
            if (rc == AC_ERR_TRANSIENT) {
                return rc;
            }
        }
        if (!(r = store_read(st))) {
            return AC_ERR_TRANSIENT;
        }
        if (r->type == REDIS_REPLY_ARRAY) {
            store_parse_outbox(sc, r);
            sc->had_pending = sc->n_pending > 0;
        } else if (rc == 0) {
            rc = store_reply_error(st, r, "load outbox");
        }
        freeReplyObject(r);
        if (rc == AC_ERR_TRANSIENT) {
            return rc;
        }
    }
    st->last_rtt = ac_clock_mono_s() - t0;
    return rc;
}

/* --- commit ---------------------------------------------------------------------------------- */

static int store_push_pairs(struct ac_store *st, size_t *argc, const struct ac_buf *b, int pairs)
{
    const char *p = b->data;
    for (int i = 0; i < pairs * 2; i++) {
        size_t len = strlen(p);
        if (store_push(st, argc, p, len) != 0) {
            return AC_ERR_NOMEM;
        }
        p += len + 1;
    }
    return 0;
}

/* Per-customer strings of one commit call: they must stay put until the
 * command is appended (hiredis copies them then). */
struct store_commit_strs {
    char keys[3][STORE_KEY_MAX];
    char wm_field[48];
    char nums[7][24]; /* version, offset, trim_to, return_outbox, n_fields, n_ids, n_out */
    char napplied[24];
};

static void store_commit_push(struct ac_store *st, size_t *argc, struct ac_store_cust *sc,
                              struct store_commit_strs *cs, const char *values)
{
    size_t cursor = 0, at = 0;
    struct ac_outbox_rec rec;
    store_push_str(st, argc, cs->nums[0]);
    store_push_str(st, argc, cs->wm_field);
    for (int k = 1; k < 5; k++) {
        store_push_str(st, argc, cs->nums[k]);
    }
    store_push_pairs(st, argc, &sc->fields, sc->n_fields);
    if (sc->n_seen_add > 0) {
        store_push_str(st, argc, "e.n");
        store_push_str(st, argc, cs->napplied);
    }
    store_push_str(st, argc, cs->nums[5]);
    store_push_pairs(st, argc, &sc->seen_add, sc->n_seen_add);
    store_push_str(st, argc, cs->nums[6]);
    while (store_rec_next(&sc->new_out, &cursor, &rec)) {
        const char *idp =
            sc->new_out.data + cursor - rec.len - sizeof(uint32_t) - strlen(rec.id);
        store_push(st, argc, idp, strlen(rec.id));
        store_push(st, argc, values + at, rec.len + 1);
        at += rec.len + 1;
    }
}

static void store_commit_strs_init(struct ac_store *st, enum ac_topic topic,
                                   struct ac_store_cust *sc, struct store_commit_strs *cs)
{
    store_key(st, cs->keys[0], sizeof(cs->keys[0]), sc->bucket, 'c', sc->customer_id);
    store_key(st, cs->keys[1], sizeof(cs->keys[1]), sc->bucket, 'e', sc->customer_id);
    store_key(st, cs->keys[2], sizeof(cs->keys[2]), sc->bucket, 'o', sc->customer_id);
    snprintf(cs->wm_field, sizeof(cs->wm_field), "w:%s:%d", ac_topic_name(topic),
             sc->partition);
    int64_t applied = sc->n_applied + sc->n_seen_add;
    int trim = applied > AC_STORE_SEEN_CAP;
    snprintf(cs->napplied, sizeof(cs->napplied), "%lld",
             (long long)(trim ? AC_STORE_SEEN_CAP : applied));
    snprintf(cs->nums[0], sizeof(cs->nums[0]), "%lld", (long long)sc->state.version);
    snprintf(cs->nums[1], sizeof(cs->nums[1]), "%lld", (long long)sc->offset);
    snprintf(cs->nums[2], sizeof(cs->nums[2]), "%d", trim ? AC_STORE_SEEN_CAP : 0);
    snprintf(cs->nums[3], sizeof(cs->nums[3]), "%d", sc->had_pending);
    snprintf(cs->nums[4], sizeof(cs->nums[4]), "%d", sc->n_fields + (sc->n_seen_add > 0));
    snprintf(cs->nums[5], sizeof(cs->nums[5]), "%d", sc->n_seen_add);
    snprintf(cs->nums[6], sizeof(cs->nums[6]), "%d", sc->n_new_out);
}

static void store_commit_result(struct ac_store_cust *sc, const redisReply *r)
{
    long long status = r->element[0]->integer;
    if (status == 2) {
        sc->status = AC_ERR_CONFLICT;
    } else if (r->elements >= 2 && r->element[1]->type == REDIS_REPLY_ARRAY) {
        sc->status = (int)status;
        store_parse_outbox(sc, r->element[1]);
    } else {
        /* Applied, and the outbox was empty before: pending = the new records. */
        sc->status = (int)status;
        ac_buf_reset(&sc->pending);
        ac_buf_append(&sc->pending, sc->new_out.data, sc->new_out.len);
        sc->n_pending = sc->n_new_out;
    }
}

int ac_store_commit(struct ac_store *st, enum ac_topic topic, struct ac_store_cust *custs,
                    size_t n)
{
    enum { CHUNK = AC_STORE_CUSTOMERS_PER_CALL };
    struct store_commit_strs *cs = calloc(CHUNK, sizeof(*cs));
    struct ac_buf values[CHUNK];
    size_t members[CHUNK];
    size_t *calls_n = calloc(n / CHUNK + 2, sizeof(*calls_n));
    size_t n_calls = 0;
    int rc = 0;
    char count[16];
    if (!cs || !calls_n) {
        free(cs);
        free(calls_n);
        return AC_ERR_NOMEM;
    }
    for (int k = 0; k < CHUNK; k++) {
        ac_buf_init(&values[k]);
    }
    if (!ac_store_connected(st)) {
        rc = AC_ERR_TRANSIENT;
        goto out;
    }
    double t0 = ac_clock_mono_s();
    for (size_t i = 0; i < n;) {
        /* The next chunk of dirty customers. */
        size_t m = 0;
        for (; i < n && m < CHUNK; i++) {
            if (custs[i].dirty) {
                members[m++] = i;
            }
        }
        if (m == 0) {
            break;
        }
        size_t argc = 0;
        store_push_str(st, &argc, "FCALL");
        store_push_str(st, &argc, "ac_apply_v3");
        snprintf(count, sizeof(count), "%zu", m * 3);
        store_push_str(st, &argc, count);
        for (size_t k = 0; k < m; k++) {
            struct ac_store_cust *sc = &custs[members[k]];
            size_t cursor = 0;
            struct ac_outbox_rec rec;
            store_commit_strs_init(st, topic, sc, &cs[k]);
            ac_buf_reset(&values[k]);
            while (store_rec_next(&sc->new_out, &cursor, &rec)) {
                ac_buf_append(&values[k], &rec.kind, 1);
                ac_buf_append(&values[k], rec.payload, rec.len);
            }
            for (int j = 0; j < 3; j++) {
                store_push_str(st, &argc, cs[k].keys[j]);
            }
        }
        char m_str[16];
        snprintf(m_str, sizeof(m_str), "%zu", m);
        store_push_str(st, &argc, m_str);
        for (size_t k = 0; k < m; k++) {
            store_commit_push(st, &argc, &custs[members[k]], &cs[k], values[k].data);
        }
        if (store_append(st, argc) != 0) {
            rc = AC_ERR_TRANSIENT;
            goto out;
        }
        calls_n[n_calls++] = m;
    }
    /* Replies come back in call order; walk the dirty customers again. */
    size_t next = 0;
    for (size_t c = 0; c < n_calls; c++) {
        redisReply *r = store_read(st);
        if (!r) {
            rc = AC_ERR_TRANSIENT;
            goto out;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != calls_n[c]) {
            if (rc == 0) {
                rc = r->type == REDIS_REPLY_ERROR ? store_reply_error(st, r, "commit")
                                                  : AC_ERR_TRANSIENT;
            }
            freeReplyObject(r);
            goto out;
        }
        for (size_t k = 0; k < r->elements; k++) {
            while (!custs[next].dirty) {
                next++;
            }
            const redisReply *e = r->element[k];
            if (e->type == REDIS_REPLY_ARRAY && e->elements >= 1 &&
                e->element[0]->type == REDIS_REPLY_INTEGER) {
                store_commit_result(&custs[next], e);
            } else {
                custs[next].status = AC_ERR_CONFLICT; /* unreadable: re-read and retry */
            }
            next++;
        }
        freeReplyObject(r);
    }
    st->last_rtt = ac_clock_mono_s() - t0;
out:
    for (int k = 0; k < CHUNK; k++) {
        ac_buf_fini(&values[k]);
    }
    free(cs);
    free(calls_n);
    return rc;
}

/* --- ack and positions --------------------------------------------------------------------- */

int ac_store_ack(struct ac_store *st, struct ac_store_cust *custs, size_t n, const char *group,
                 enum ac_topic topic, const int32_t *parts, const int64_t *offsets, size_t n_pos)
{
    char okey[STORE_KEY_MAX], pkey[160];
    size_t sent = 0;
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    for (size_t i = 0; i < n; i++) {
        struct ac_store_cust *sc = &custs[i];
        if (sc->n_pending == 0) {
            continue;
        }
        size_t argc = 0, cursor = 0;
        struct ac_outbox_rec rec;
        store_key(st, okey, sizeof(okey), sc->bucket, 'o', sc->customer_id);
        store_push_str(st, &argc, "HDEL");
        store_push_str(st, &argc, okey);
        while (store_rec_next(&sc->pending, &cursor, &rec)) {
            /* the id inside pending: kind, idlen, id, length, payload */
            const char *idp = sc->pending.data + cursor - rec.len - sizeof(uint32_t) -
                              strlen(rec.id);
            store_push(st, &argc, idp, strlen(rec.id));
        }
        if (store_append(st, argc) != 0) {
            return AC_ERR_TRANSIENT;
        }
        sent++;
    }
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
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
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
        int err = r->type == REDIS_REPLY_ERROR;
        freeReplyObject(r);
        if (err) {
            return AC_ERR_TRANSIENT;
        }
    }
    return 0;
}

void *ac_store_command(struct ac_store *st, const char *fmt, ...)
{
    if (!ac_store_connected(st)) {
        return NULL;
    }
    va_list ap;
    va_start(ap, fmt);
    void *r = redisvCommand(st->rc, fmt, ap);
    va_end(ap);
    if (!r) {
        store_drop(st);
    }
    return r;
}

void ac_store_reply_free(void *reply)
{
    if (reply) {
        freeReplyObject(reply);
    }
}
