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
    ac_buf_init(&sc->audit);
    ac_buf_init(&sc->counters);
    ac_customer_init(&sc->state, customer_id);
    sc->timers = malloc(sizeof(*sc->timers)); /* checked by the load */
    if (sc->timers) {
        ac_timerset_init(sc->timers);
    }
}

void ac_store_cust_fini(struct ac_store_cust *sc)
{
    ac_buf_fini(&sc->fields);
    ac_buf_fini(&sc->seen_add);
    ac_buf_fini(&sc->new_out);
    ac_buf_fini(&sc->pending);
    ac_buf_fini(&sc->audit);
    ac_buf_fini(&sc->counters);
    free(sc->seen);
    sc->seen = NULL;
    free(sc->timers);
    sc->timers = NULL;
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
    ac_buf_reset(&sc->audit);
    sc->n_audit = 0;
    ac_buf_reset(&sc->counters);
    sc->n_counters = 0;
}

int ac_store_cust_add_emit(struct ac_store_cust *sc, const struct ac_emit *out)
{
    int rc = 0;
    for (int i = 0; i < out->n_decisions && rc == 0; i++) {
        const struct ac_decision *d = &out->decisions[i];
        /* The trail keeps outcomes; "scheduled" is a plan (counted in the
         * metrics, shown by simulate; the timer itself is in the timers hash). */
        if (strcmp(d->decision, "scheduled") == 0) {
            continue;
        }
        rc |= ac_buf_printf(&sc->audit, "{\"at\":%lld,\"rule\":", (long long)d->at);
        rc |= ac_buf_json_str(&sc->audit, d->rule_id);
        rc |= ac_buf_printf(&sc->audit, ",\"part\":%d,\"decision\":\"%s\",\"reason\":", d->part,
                            d->decision);
        rc |= ac_buf_json_str(&sc->audit, d->reason);
        rc |= ac_buf_printf(&sc->audit, ",\"action_id\":\"%s\",\"channel\":", d->action_id);
        rc |= ac_buf_json_str(&sc->audit, d->channel);
        rc |= ac_buf_printf(&sc->audit, ",\"not_before\":%lld", (long long)d->not_before);
        if (d->experiment[0]) {
            rc |= ac_buf_append(&sc->audit, ",\"experiment\":", 14);
            rc |= ac_buf_json_str(&sc->audit, d->experiment);
            rc |= ac_buf_append(&sc->audit, ",\"variant\":", 11);
            rc |= ac_buf_json_str(&sc->audit, d->variant);
        }
        rc |= ac_buf_append(&sc->audit, "}", 2); /* with its NUL */
        sc->n_audit++;
    }
    for (int i = 0; i < out->n_counters && rc == 0; i++) {
        rc |= ac_buf_append(&sc->counters, out->counters[i].field,
                            strlen(out->counters[i].field) + 1);
        rc |= ac_buf_printf(&sc->counters, "%lld", (long long)out->counters[i].by);
        rc |= ac_buf_append(&sc->counters, "", 1);
        sc->n_counters++;
    }
    return rc ? AC_ERR_NOMEM : 0;
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

/* HGETALL (id, value pairs) or, with sc->timer_ids, HMGET (values; nil
 * for a timer fired or cancelled since the scan). */
static void store_parse_timers(struct ac_store_cust *sc, redisReply *r)
{
    ac_timerset_init(sc->timers);
    int by_id = sc->n_timer_ids > 0;
    for (size_t i = 0; i < r->elements; i += by_id ? 1 : 2) {
        if (!by_id && i + 1 >= r->elements) {
            break;
        }
        redisReply *val = r->element[by_id ? i : i + 1];
        const char *id = by_id ? (i < (size_t)sc->n_timer_ids ? sc->timer_ids[i] : NULL)
                               : r->element[i]->str;
        struct ac_timerset *ts = sc->timers;
        if (!id) {
            continue;
        }
        if (val->type != REDIS_REPLY_STRING) {
            /* Due, but gone from the hash: a stale due-index entry. The
             * commit removes it, or the scan would find it every round. */
            if (by_id && ts->n_removed < AC_TIMERS_MAX) {
                snprintf(ts->removed[ts->n_removed++], AC_ACTION_ID_MAX, "%s", id);
            }
            continue;
        }
        if (ts->n >= AC_TIMERS_MAX) {
            AC_WARN("customer=%s has more than %d timers; the rest wait", sc->customer_id,
                    AC_TIMERS_MAX);
            break;
        }
        if (ac_timer_from_json(&ts->t[ts->n], id, val->str, val->len) != 0) {
            if (by_id && ts->n_removed < AC_TIMERS_MAX) {
                /* Due and unreadable: it can never fire; dropping it keeps the
                 * bucket's scan from stalling on it. */
                AC_ERROR("malformed timer customer=%s timer=%s; removed", sc->customer_id, id);
                snprintf(ts->removed[ts->n_removed++], AC_ACTION_ID_MAX, "%s", id);
            } else {
                AC_WARN("malformed timer customer=%s timer=%s; left in place", sc->customer_id,
                        id);
            }
            continue;
        }
        ts->n++;
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
        argc = 0;
        store_key(st, key, sizeof(key), sc->bucket, 't', sc->customer_id);
        store_push_str(st, &argc, sc->n_timer_ids > 0 ? "HMGET" : "HGETALL");
        store_push_str(st, &argc, key);
        for (int j = 0; j < sc->n_timer_ids; j++) {
            store_push_str(st, &argc, sc->timer_ids[j]);
        }
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
            store_drop(st); /* replies left unread: the pipeline is out of step */
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
        if (!(r = store_read(st))) {
            return AC_ERR_TRANSIENT;
        }
        if (!sc->timers) {
            freeReplyObject(r);
            store_drop(st); /* replies left unread: the pipeline is out of step */
            return AC_ERR_NOMEM;
        }
        if (r->type == REDIS_REPLY_ARRAY) {
            store_parse_timers(sc, r);
        } else if (rc == 0) {
            rc = store_reply_error(st, r, "load timers");
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
    char keys[AC_STORE_KEYS_PER_CUSTOMER][STORE_KEY_MAX];
    char wm_field[48];
    char nums[11][24]; /* version, offset, trim_to, return_outbox, n_fields, n_ids, n_out,
                          n_timers, n_removed, n_audit, n_counters */
    char napplied[24];
    struct ac_buf tbuf; /* timers: "id\0due\0member\0json\0", removed: "id\0member\0" */
};

static int store_push_strs(struct ac_store *st, size_t *argc, const char **p, int count)
{
    for (int i = 0; i < count; i++) {
        size_t len = strlen(*p);
        if (store_push(st, argc, *p, len) != 0) {
            return AC_ERR_NOMEM;
        }
        *p += len + 1;
    }
    return 0;
}

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
    const char *p = cs->tbuf.data;
    int n_written = atoi(cs->nums[7]), n_removed = atoi(cs->nums[8]);
    store_push_str(st, argc, cs->nums[7]);
    store_push_strs(st, argc, &p, n_written * 4);
    store_push_str(st, argc, cs->nums[8]);
    store_push_strs(st, argc, &p, n_removed * 2);
    store_push_str(st, argc, cs->nums[9]);
    const char *a = sc->audit.data;
    int skip = sc->n_audit > AC_STORE_AUDIT_KEEP ? sc->n_audit - AC_STORE_AUDIT_KEEP : 0;
    for (int k = 0; k < skip; k++) {
        a += strlen(a) + 1; /* older than the trail keeps */
    }
    store_push_strs(st, argc, &a, sc->n_audit - skip);
    store_push_str(st, argc, cs->nums[10]);
    store_push_pairs(st, argc, &sc->counters, sc->n_counters);
}

/* The timers to write and to remove, serialized into cs->tbuf. */
static int store_commit_timers(struct ac_store_cust *sc, struct store_commit_strs *cs,
                               int *n_written, int *n_removed)
{
    char member[AC_ACTION_ID_MAX + AC_ID_MAX];
    int rc = 0;
    *n_written = *n_removed = 0;
    ac_buf_reset(&cs->tbuf);
    const struct ac_timerset *ts = sc->timers;
    for (int i = 0; ts && i < ts->n && rc == 0; i++) {
        const struct ac_timer *t = &ts->t[i];
        if (t->change != AC_TIMER_WRITE) {
            continue;
        }
        rc |= ac_buf_append(&cs->tbuf, t->id, strlen(t->id) + 1);
        rc |= ac_buf_printf(&cs->tbuf, "%lld", (long long)t->due);
        rc |= ac_buf_append(&cs->tbuf, "", 1);
        rc |= ac_timer_member(member, sizeof(member), t->id, sc->customer_id) < 0;
        rc |= ac_buf_append(&cs->tbuf, member, strlen(member) + 1);
        rc |= ac_timer_to_json(t, &cs->tbuf);
        rc |= ac_buf_append(&cs->tbuf, "", 1);
        (*n_written)++;
    }
    for (int i = 0; ts && i < ts->n_removed && rc == 0; i++) {
        rc |= ac_buf_append(&cs->tbuf, ts->removed[i], strlen(ts->removed[i]) + 1);
        rc |= ac_timer_member(member, sizeof(member), ts->removed[i], sc->customer_id) < 0;
        rc |= ac_buf_append(&cs->tbuf, member, strlen(member) + 1);
        (*n_removed)++;
    }
    return rc ? AC_ERR_NOMEM : 0;
}

static int store_commit_strs_init(struct ac_store *st, enum ac_topic topic,
                                  struct ac_store_cust *sc, struct store_commit_strs *cs)
{
    store_key(st, cs->keys[0], sizeof(cs->keys[0]), sc->bucket, 'c', sc->customer_id);
    store_key(st, cs->keys[1], sizeof(cs->keys[1]), sc->bucket, 'e', sc->customer_id);
    store_key(st, cs->keys[2], sizeof(cs->keys[2]), sc->bucket, 'o', sc->customer_id);
    store_key(st, cs->keys[3], sizeof(cs->keys[3]), sc->bucket, 't', sc->customer_id);
    snprintf(cs->keys[4], sizeof(cs->keys[4]), "%s:{%u}:due", st->prefix, sc->bucket);
    snprintf(cs->keys[5], sizeof(cs->keys[5]), "%s:{%u}:ob", st->prefix, sc->bucket);
    snprintf(cs->keys[6], sizeof(cs->keys[6]), "%s:{%u}:xc", st->prefix, sc->bucket);
    store_key(st, cs->keys[7], sizeof(cs->keys[7]), sc->bucket, 'a', sc->customer_id);
    if (sc->no_watermark) {
        cs->wm_field[0] = '\0';
    } else {
        snprintf(cs->wm_field, sizeof(cs->wm_field), "w:%s:%d", ac_topic_name(topic),
                 sc->partition);
    }
    int64_t applied = sc->n_applied + sc->n_seen_add;
    int trim = applied > AC_STORE_SEEN_CAP;
    int n_written = 0, n_removed = 0;
    int rc = store_commit_timers(sc, cs, &n_written, &n_removed);
    snprintf(cs->napplied, sizeof(cs->napplied), "%lld",
             (long long)(trim ? AC_STORE_SEEN_CAP : applied));
    snprintf(cs->nums[0], sizeof(cs->nums[0]), "%lld", (long long)sc->state.version);
    snprintf(cs->nums[1], sizeof(cs->nums[1]), "%lld", (long long)sc->offset);
    snprintf(cs->nums[2], sizeof(cs->nums[2]), "%d", trim ? AC_STORE_SEEN_CAP : 0);
    snprintf(cs->nums[3], sizeof(cs->nums[3]), "%d", sc->had_pending);
    snprintf(cs->nums[4], sizeof(cs->nums[4]), "%d", sc->n_fields + (sc->n_seen_add > 0));
    snprintf(cs->nums[5], sizeof(cs->nums[5]), "%d", sc->n_seen_add);
    snprintf(cs->nums[6], sizeof(cs->nums[6]), "%d", sc->n_new_out);
    snprintf(cs->nums[7], sizeof(cs->nums[7]), "%d", n_written);
    snprintf(cs->nums[8], sizeof(cs->nums[8]), "%d", n_removed);
    snprintf(cs->nums[9], sizeof(cs->nums[9]), "%d",
             sc->n_audit > AC_STORE_AUDIT_KEEP ? AC_STORE_AUDIT_KEEP : sc->n_audit);
    snprintf(cs->nums[10], sizeof(cs->nums[10]), "%d", sc->n_counters);
    return rc;
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
        ac_buf_init(&cs[k].tbuf);
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
        store_push_str(st, &argc, "ac_apply_v4");
        snprintf(count, sizeof(count), "%zu", m * AC_STORE_KEYS_PER_CUSTOMER);
        store_push_str(st, &argc, count);
        for (size_t k = 0; k < m; k++) {
            struct ac_store_cust *sc = &custs[members[k]];
            size_t cursor = 0;
            struct ac_outbox_rec rec;
            if (store_commit_strs_init(st, topic, sc, &cs[k]) != 0) {
                rc = AC_ERR_NOMEM;
                goto out;
            }
            ac_buf_reset(&values[k]);
            while (store_rec_next(&sc->new_out, &cursor, &rec)) {
                ac_buf_append(&values[k], &rec.kind, 1);
                ac_buf_append(&values[k], rec.payload, rec.len);
            }
            for (int j = 0; j < AC_STORE_KEYS_PER_CUSTOMER; j++) {
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
    if (rc != 0) {
        store_drop(st); /* replies may be left unread: reconnect, re-read, retry */
    }
    for (int k = 0; k < CHUNK; k++) {
        ac_buf_fini(&values[k]);
        ac_buf_fini(&cs[k].tbuf);
    }
    free(cs);
    free(calls_n);
    return rc;
}

/* --- ack and positions --------------------------------------------------------------------- */

/* Appends FCALL ac_ack_v4 calls for the customers (64 per call): with
 * ids != 0 their pending records, else none (only the index clean-up).
 * Returns the number of calls appended, or a negative ac_err. */
static long store_append_acks(struct ac_store *st, struct ac_store_cust *custs, size_t n,
                              int ids)
{
    enum { CHUNK = AC_STORE_CUSTOMERS_PER_CALL };
    char (*keys)[STORE_KEY_MAX] = malloc(3 * CHUNK * sizeof(*keys));
    char (*counts)[16] = malloc(CHUNK * sizeof(*counts));
    long calls = 0;
    if (!keys || !counts) {
        free(keys);
        free(counts);
        return AC_ERR_NOMEM;
    }
    for (size_t i = 0; i < n;) {
        size_t members[CHUNK], m = 0;
        for (; i < n && m < CHUNK; i++) {
            if (!ids || custs[i].n_pending > 0) {
                members[m++] = i;
            }
        }
        if (m == 0) {
            break;
        }
        size_t argc = 0;
        char nkeys[16], ncust[16];
        snprintf(nkeys, sizeof(nkeys), "%zu", 2 * m);
        snprintf(ncust, sizeof(ncust), "%zu", m);
        store_push_str(st, &argc, "FCALL");
        store_push_str(st, &argc, "ac_ack_v4");
        store_push_str(st, &argc, nkeys);
        for (size_t k = 0; k < m; k++) {
            const struct ac_store_cust *sc = &custs[members[k]];
            store_key(st, keys[3 * k], STORE_KEY_MAX, sc->bucket, 'o', sc->customer_id);
            snprintf(keys[3 * k + 1], STORE_KEY_MAX, "%s:{%u}:ob", st->prefix, sc->bucket);
            store_key(st, keys[3 * k + 2], STORE_KEY_MAX, sc->bucket, 'c', sc->customer_id);
            store_push_str(st, &argc, keys[3 * k]);
            store_push_str(st, &argc, keys[3 * k + 1]);
        }
        store_push_str(st, &argc, ncust);
        for (size_t k = 0; k < m; k++) {
            const struct ac_store_cust *sc = &custs[members[k]];
            size_t cursor = 0;
            struct ac_outbox_rec rec;
            store_push_str(st, &argc, keys[3 * k + 2]);
            snprintf(counts[k], sizeof(counts[k]), "%d", ids ? sc->n_pending : 0);
            store_push_str(st, &argc, counts[k]);
            while (ids && store_rec_next(&sc->pending, &cursor, &rec)) {
                /* the id inside pending: kind, idlen, id, length, payload */
                const char *idp = sc->pending.data + cursor - rec.len - sizeof(uint32_t) -
                                  strlen(rec.id);
                store_push(st, &argc, idp, strlen(rec.id));
            }
        }
        if (store_append(st, argc) != 0) {
            free(keys);
            free(counts);
            return AC_ERR_TRANSIENT;
        }
        calls++;
    }
    free(keys);
    free(counts);
    return calls;
}

int ac_store_ack(struct ac_store *st, struct ac_store_cust *custs, size_t n, const char *group,
                 enum ac_topic topic, const int32_t *parts, const int64_t *offsets, size_t n_pos)
{
    char pkey[160];
    size_t sent = 0;
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    long calls = store_append_acks(st, custs, n, 1);
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

/* --- timers and the outbox index ----------------------------------------------------------- */

/* Sends one command per bucket, starting at start, and hands each reply to fn. */
static int store_each_bucket(struct ac_store *st, unsigned start,
                             int (*cmd)(struct ac_store *st, unsigned bucket, void *opaque),
                             int (*fn)(redisReply *r, void *opaque), void *opaque)
{
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    double t0 = ac_clock_mono_s();
    for (unsigned i = 0; i < AC_STORE_BUCKETS; i++) {
        if (cmd(st, (start + i) % AC_STORE_BUCKETS, opaque) != 0) {
            return AC_ERR_TRANSIENT;
        }
    }
    int rc = 0;
    for (unsigned i = 0; i < AC_STORE_BUCKETS; i++) {
        redisReply *r = store_read(st);
        if (!r) {
            return AC_ERR_TRANSIENT;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            if (rc == 0) {
                rc = store_reply_error(st, r, "scan buckets");
            }
        } else if (rc == 0) {
            rc = fn(r, opaque);
        }
        freeReplyObject(r);
    }
    st->last_rtt = ac_clock_mono_s() - t0;
    return rc;
}

struct store_due {
    int64_t now;
    size_t max, found;
    char limit[24], upto[24];
    void (*fn)(const char *customer_id, const char *timer_id, int64_t due, void *opaque);
    void *opaque;
};

static int store_due_cmd(struct ac_store *st, unsigned bucket, void *opaque)
{
    struct store_due *d = opaque;
    char key[STORE_KEY_MAX];
    size_t argc = 0;
    snprintf(key, sizeof(key), "%s:{%u}:due", st->prefix, bucket);
    store_push_str(st, &argc, "ZRANGE");
    store_push_str(st, &argc, key);
    store_push_str(st, &argc, "-inf");
    store_push_str(st, &argc, d->upto);
    store_push_str(st, &argc, "BYSCORE");
    store_push_str(st, &argc, "LIMIT");
    store_push_str(st, &argc, "0");
    store_push_str(st, &argc, d->limit);
    store_push_str(st, &argc, "WITHSCORES");
    return store_append(st, argc);
}

static int store_due_reply(redisReply *r, void *opaque)
{
    struct store_due *d = opaque;
    char id[AC_ACTION_ID_MAX], cid[AC_ID_MAX];
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        redisReply *m = r->element[i], *score = r->element[i + 1];
        if (d->found >= d->max || m->type != REDIS_REPLY_STRING) {
            break;
        }
        if (ac_timer_member_split(m->str, m->len, id, cid) != 0) {
            continue;
        }
        int64_t due = score->type == REDIS_REPLY_STRING ? strtoll(score->str, NULL, 10) : 0;
        d->fn(cid, id, due, d->opaque);
        d->found++;
    }
    return 0;
}

int ac_store_due(struct ac_store *st, int64_t now, unsigned start, size_t max,
                 void (*fn)(const char *customer_id, const char *timer_id, int64_t due,
                            void *opaque),
                 void *opaque)
{
    struct store_due d = {.now = now, .max = max, .fn = fn, .opaque = opaque};
    size_t per = max / 64 + 1; /* a busy bucket cannot starve the others */
    snprintf(d.limit, sizeof(d.limit), "%zu", per < max ? per : max);
    snprintf(d.upto, sizeof(d.upto), "%lld", (long long)now);
    int rc = store_each_bucket(st, start, store_due_cmd, store_due_reply, &d);
    return rc != 0 ? rc : (int)d.found;
}

struct store_counts {
    char upto[24];
    int64_t pending, overdue;
};

static int store_counts_cmd(struct ac_store *st, unsigned bucket, void *opaque)
{
    struct store_counts *k = opaque;
    char key[STORE_KEY_MAX], lua[] = "return {redis.call('ZCARD', KEYS[1]), "
                                     "redis.call('ZCOUNT', KEYS[1], '-inf', ARGV[1])}";
    size_t argc = 0;
    snprintf(key, sizeof(key), "%s:{%u}:due", st->prefix, bucket);
    store_push_str(st, &argc, "EVAL");
    store_push_str(st, &argc, lua);
    store_push_str(st, &argc, "1");
    store_push_str(st, &argc, key);
    store_push_str(st, &argc, k->upto);
    return store_append(st, argc);
}

static int store_counts_reply(redisReply *r, void *opaque)
{
    struct store_counts *k = opaque;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        k->pending += r->element[0]->integer;
        k->overdue += r->element[1]->integer;
    }
    return 0;
}

int ac_store_timer_counts(struct ac_store *st, int64_t now, int64_t *pending, int64_t *overdue)
{
    struct store_counts k = {.pending = 0};
    snprintf(k.upto, sizeof(k.upto), "%lld", (long long)now);
    int rc = store_each_bucket(st, 0, store_counts_cmd, store_counts_reply, &k);
    *pending = k.pending;
    *overdue = k.overdue;
    return rc;
}

struct store_ob {
    size_t max, found;
    void (*fn)(const char *customer_id, void *opaque);
    void *opaque;
};

static int store_ob_cmd(struct ac_store *st, unsigned bucket, void *opaque)
{
    (void)opaque;
    char key[STORE_KEY_MAX];
    size_t argc = 0;
    snprintf(key, sizeof(key), "%s:{%u}:ob", st->prefix, bucket);
    store_push_str(st, &argc, "SRANDMEMBER");
    store_push_str(st, &argc, key);
    store_push_str(st, &argc, "64");
    return store_append(st, argc);
}

static int store_ob_reply(redisReply *r, void *opaque)
{
    struct store_ob *o = opaque;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *m = r->element[i];
        if (o->found >= o->max || m->type != REDIS_REPLY_STRING) {
            break;
        }
        /* the member is the state key: <prefix>:{<bucket>}:c:<customer id> */
        const char *c = strstr(m->str, "}:c:");
        if (c) {
            o->fn(c + 4, o->opaque);
            o->found++;
        }
    }
    return 0;
}

int ac_store_outbox_customers(struct ac_store *st, unsigned start, size_t max,
                              void (*fn)(const char *customer_id, void *opaque), void *opaque)
{
    struct store_ob o = {.max = max, .fn = fn, .opaque = opaque};
    int rc = store_each_bucket(st, start, store_ob_cmd, store_ob_reply, &o);
    return rc != 0 ? rc : (int)o.found;
}

int ac_store_outbox_done(struct ac_store *st, struct ac_store_cust *custs, size_t n)
{
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    long calls = store_append_acks(st, custs, n, 0);
    if (calls < 0) {
        store_drop(st);
        return (int)calls;
    }
    int rc = 0;
    for (long i = 0; i < calls; i++) {
        redisReply *r = store_read(st);
        if (!r) {
            return AC_ERR_TRANSIENT;
        }
        if (r->type == REDIS_REPLY_ERROR && rc == 0) {
            rc = store_reply_error(st, r, "outbox index");
        }
        freeReplyObject(r);
    }
    return rc;
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
