/* store_conn.c — Redis connection, generation, pipelining and error replies. */
#include "store_int.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/sds.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "store_lua.h"

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

/* The URL as it may be shown: the password replaced by "***". */
static void store_redact(const char *url, char *out, size_t outlen)
{
    const char *scheme = strstr(url, "://");
    const char *at = strrchr(url, '@');
    const char *from = scheme ? scheme + 3 : url;
    if (!at || at < from) {
        snprintf(out, outlen, "%s", url);
        return;
    }
    const char *colon = memchr(from, ':', (size_t)(at - from));
    if (!colon) {
        snprintf(out, outlen, "%.*s***%s", (int)(from - url), url, at);
        return;
    }
    snprintf(out, outlen, "%.*s:***%s", (int)(colon - url), url, at);
}

static int store_parse_url(struct ac_store *st, const char *url_in, char *errstr, size_t errlen)
{
    char url[512];
    const char *p = url_in;
    store_redact(url_in, url, sizeof(url));
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
            snprintf(st->password, sizeof(st->password), "%.*s", (int)(at - colon - 1), colon + 1);
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
    /* Call ids must not repeat across processes and restarts. */
    uint64_t w = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&w, sizeof(w), 1, f) != 1) {
        w = (uint64_t)(ac_clock_mono_s() * 1e9) ^ ((uint64_t)getpid() << 32) ^
            (uint64_t)ac_clock_now(ac_clock_wall());
    }
    if (f) {
        fclose(f);
    }
    snprintf(st->writer, sizeof(st->writer), "%016llx", (unsigned long long)w);
    ac_buf_init(&st->swept_calls);
    ac_buf_init(&st->swept_recs);
    return st;
}

void store_call_id(const struct ac_store *st, char *out, size_t outlen, uint64_t seq)
{
    snprintf(out, outlen, "%s-%llu", st->writer, (unsigned long long)seq);
}

void ac_store_destroy(struct ac_store *st)
{
    if (!st) {
        return;
    }
    store_drop(st);
    free(st->argv);
    free(st->argvlen);
    ac_buf_fini(&st->legacy_due);
    store_commit_strs_free(st);
    ac_record_enc_free(st->renc);
    ac_buf_fini(&st->swept_calls);
    ac_buf_fini(&st->swept_recs);
    free(st);
}

void ac_store_drop(struct ac_store *st)
{
    store_drop(st);
}

int ac_store_connected(const struct ac_store *st)
{
    return st->rc != NULL && st->rc->err == 0 && st->other != NULL && st->other->err == 0;
}

/* PING on the other lane: a connection the server or a proxy closed while it
 * sat idle is found now (and both dropped), not half-way through a step. */
int ac_store_ping_lanes(struct ac_store *st)
{
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    redisReply *r = redisCommand(st->other, "PING");
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (r) {
        freeReplyObject(r);
    }
    if (!ok) {
        AC_WARN("redis connection lost host=%s port=%d (the second lane)", st->host, st->port);
        store_drop(st);
        return AC_ERR_TRANSIENT;
    }
    return 0;
}

const char *ac_store_run_id(const struct ac_store *st)
{
    return st->run_id;
}

double ac_store_last_rtt(const struct ac_store *st)
{
    return st->last_rtt;
}

void store_drop(struct ac_store *st)
{
    if (st->rc) {
        redisFree(st->rc);
        st->rc = NULL;
    }
    if (st->other) {
        redisFree(st->other);
        st->other = NULL;
    }
    st->lane = 0;
    st->redis_ms = 0;
}

void ac_store_lane(struct ac_store *st, int lane)
{
    if (lane != st->lane && st->rc && st->other) {
        redisContext *c = st->rc;
        st->rc = st->other;
        st->other = c;
        st->lane = lane;
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
        /* Credentials and permissions do not fix themselves: not retried. */
        if (strncmp(r->str, "WRONGPASS", 9) == 0 || strncmp(r->str, "NOPERM", 6) == 0 ||
            strncmp(r->str, "NOAUTH", 6) == 0 || strstr(r->str, "invalid password") ||
            strstr(r->str, "invalid username-password")) {
            st->auth_failed = 1;
        }
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* Opens st->rc: connect, timeouts, credentials, database. */
static int store_dial(struct ac_store *st, char *errstr, size_t errlen)
{
    redisReply *r = NULL;
    struct timeval tv = {5, 0};
    st->rc = redisConnectWithTimeout(st->host, st->port, tv);
    if (!st->rc || st->rc->err) {
        snprintf(errstr, errlen, "redis %s:%d: cannot connect: %s", st->host, st->port,
                 st->rc ? st->rc->errstr : "out of memory");
        return AC_ERR_TRANSIENT;
    }
    redisSetTimeout(st->rc, (struct timeval){10, 0});
    redisEnableKeepAlive(st->rc);
    if (st->password[0]) {
        r = st->user[0]
                ? store_setup_cmd(st, errstr, errlen, "AUTH", "AUTH %s %s", st->user, st->password)
                : store_setup_cmd(st, errstr, errlen, "AUTH", "AUTH %s", st->password);
        if (!r) {
            return AC_ERR_TRANSIENT;
        }
        freeReplyObject(r);
    }
    if (st->db) {
        if (!(r = store_setup_cmd(st, errstr, errlen, "SELECT", "SELECT %d", st->db))) {
            return AC_ERR_TRANSIENT;
        }
        freeReplyObject(r);
    }
    return 0;
}

/* Two connections (lanes): a step keeps a watched load and its commit on
 * one lane while the other lane's part is in flight (store.h). */
int ac_store_connect(struct ac_store *st, char *errstr, size_t errlen)
{
    redisReply *r = NULL;
    int rc = AC_ERR_TRANSIENT;
    st->auth_failed = 0;
    store_drop(st);
    if (store_dial(st, errstr, errlen) != 0) {
        goto out;
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
    redisContext *first = st->rc;
    st->rc = NULL;
    int dialed = store_dial(st, errstr, errlen);
    if (dialed == 0 && !(r = store_setup_cmd(st, errstr, errlen, "PING", "PING"))) {
        dialed = AC_ERR_TRANSIENT;
    } else if (dialed == 0) {
        freeReplyObject(r);
    }
    st->other = st->rc;
    st->rc = first;
    if (dialed != 0) {
        goto out;
    }
    rc = 0;
out:
    if (rc != 0) {
        store_drop(st);
        if (st->auth_failed) {
            rc = AC_ERR_FATAL;
        }
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

int store_push(struct ac_store *st, size_t *argc, const char *p, size_t len)
{
    if (store_argv_reserve(st, *argc + 1) != 0) {
        st->push_failed = 1; /* the next store_append refuses the short command */
        return AC_ERR_NOMEM;
    }
    st->argv[*argc] = p;
    st->argvlen[*argc] = len;
    (*argc)++;
    return 0;
}

int store_push_str(struct ac_store *st, size_t *argc, const char *s)
{
    return store_push(st, argc, s, strlen(s));
}

/* Writes the decimal form of v at p; returns the new end. */
char *store_utoa(char *p, unsigned long long v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n > 0) {
        *p++ = tmp[--n];
    }
    return p;
}

/* Appends bytes to hiredis's output buffer, as redisAppendFormattedCommand
 * does (its obuf is public): a command is written there once, not formatted
 * elsewhere and copied. */
int store_out(struct ac_store *st, const void *p, size_t n)
{
    sds s = sdscatlen(st->rc->obuf, p, n);
    if (!s) {
        return AC_ERR_NOMEM;
    }
    st->rc->obuf = s;
    return 0;
}

/* "$<len>\r\n" or "*<n>\r\n" */
int store_out_head(struct ac_store *st, char type, size_t n)
{
    char head[32];
    char *p = head;
    *p++ = type;
    p = store_utoa(p, n);
    *p++ = '\r';
    *p++ = '\n';
    return store_out(st, head, (size_t)(p - head));
}

/* One argument of a command written in pieces: "$<len>\r\n<bytes>\r\n". */
int store_out_arg(struct ac_store *st, const void *p, size_t n)
{
    int rc = store_out_head(st, '$', n);
    rc |= store_out(st, p, n);
    rc |= store_out(st, "\r\n", 2);
    return rc;
}

/* The command in RESP, written straight into hiredis's output buffer:
 * hiredis's own formatting (sds, one allocation per argument) was a few
 * per cent of a processor's CPU, and a copy through a buffer of our own
 * one more. */
int store_append(struct ac_store *st, size_t argc)
{
    if (st->push_failed) {
        st->push_failed = 0; /* an argument is missing: never send the rest */
        return AC_ERR_NOMEM;
    }
    if (!st->rc) {
        return AC_ERR_TRANSIENT;
    }
    /* room for the whole command at once, then written in place */
    size_t need = 24;
    for (size_t i = 0; i < argc; i++) {
        need += 24 + st->argvlen[i] + 2;
    }
    if (need > INT_MAX) {
        return AC_ERR_NOMEM; /* sdsIncrLen takes an int; bundles go through store_out */
    }
    sds s = sdsMakeRoomFor(st->rc->obuf, need);
    if (!s) {
        return AC_ERR_NOMEM;
    }
    st->rc->obuf = s;
    char *start = s + sdslen(s), *p = start;
    *p++ = '*';
    p = store_utoa(p, argc);
    *p++ = '\r';
    *p++ = '\n';
    for (size_t i = 0; i < argc; i++) {
        *p++ = '$';
        p = store_utoa(p, st->argvlen[i]);
        *p++ = '\r';
        *p++ = '\n';
        memcpy(p, st->argv[i], st->argvlen[i]);
        p += st->argvlen[i];
        *p++ = '\r';
        *p++ = '\n';
    }
    sdsIncrLen(s, (int)(p - start));
    return 0;
}

size_t store_out_mark(const struct ac_store *st)
{
    return st->rc ? sdslen(st->rc->obuf) : 0;
}

/* Drops what was written after mark: a command is in the buffer whole or
 * not at all, as redisAppendFormattedCommand leaves it. */
void store_out_rewind(struct ac_store *st, size_t mark)
{
    if (!st->rc) {
        return;
    }
    if (mark == 0) {
        sdsclear(st->rc->obuf);
    } else if (sdslen(st->rc->obuf) > mark) {
        sdsrange(st->rc->obuf, 0, (ssize_t)mark - 1);
    }
}

/* Reads one pipelined reply; NULL (and the connection dropped) on I/O error. */
redisReply *store_read(struct ac_store *st)
{
    void *reply = NULL;
    if (!st->rc) {
        return NULL; /* dropped earlier in this pipeline */
    }
    if (redisGetReply(st->rc, &reply) != REDIS_OK || !reply) {
        AC_WARN("redis connection lost host=%s port=%d error=%s", st->host, st->port,
                st->rc->errstr);
        store_drop(st);
        return NULL;
    }
    return reply;
}

int store_reply_error(struct ac_store *st, redisReply *r, const char *what)
{
    static const char *const transient[] = {"LOADING",  "BUSY", "TRYAGAIN",    "MASTERDOWN",
                                            "READONLY", "OOM",  "CLUSTERDOWN", NULL};
    const char *msg = r->str ? r->str : "";
    int rc = AC_ERR_FATAL;
    for (int i = 0; transient[i]; i++) {
        if (strncmp(msg, transient[i], strlen(transient[i])) == 0) {
            rc = AC_ERR_TRANSIENT;
        }
    }
    if (rc == AC_ERR_TRANSIENT) {
        AC_WARN("redis is not ready during %s: %s; retrying", what, msg);
    } else {
        AC_ERROR("redis refused %s: %s (not a connection problem: check the Redis server's "
                 "version, ACL and configuration)",
                 what, msg);
    }
    /* An error reply keeps the pipeline in step: the caller reads the rest
     * of its replies (a caller that stops early drops the connection). */
    return rc;
}

/* "<prefix>:{<bucket>}:<suffix>", truncated to outlen (no snprintf: a
 * few of these per customer and batch). */
void store_bucket_key(const struct ac_store *st, char *out, size_t outlen, unsigned bucket,
                      const char *suffix)
{
    char tmp[STORE_KEY_MAX + AC_ID_MAX + 32];
    size_t pl = strnlen(st->prefix, sizeof(st->prefix));
    size_t sl = strnlen(suffix, AC_ID_MAX + 8);
    char *p = tmp;
    memcpy(p, st->prefix, pl);
    p += pl;
    *p++ = ':';
    *p++ = '{';
    p = store_utoa(p, bucket);
    *p++ = '}';
    *p++ = ':';
    memcpy(p, suffix, sl);
    p += sl;
    size_t n = (size_t)(p - tmp);
    if (n >= outlen) {
        n = outlen - 1;
    }
    memcpy(out, tmp, n);
    out[n] = '\0';
}

void store_key(const struct ac_store *st, char *out, size_t outlen, unsigned bucket, char kind,
               const char *cid)
{
    char suffix[AC_ID_MAX + 4];
    size_t cl = strnlen(cid, AC_ID_MAX);
    suffix[0] = kind;
    suffix[1] = ':';
    memcpy(suffix + 2, cid, cl);
    suffix[2 + cl] = '\0';
    store_bucket_key(st, out, outlen, bucket, suffix);
}

void ac_store_state_key(const struct ac_store *st, const char *customer_id, char *out,
                        size_t outlen)
{
    store_key(st, out, outlen, ac_store_bucket(customer_id), 'c', customer_id);
}

#define STORE_KEY_MAX (AC_ID_MAX + 64)

/* --- generation ---------------------------------------------------------------------------- */

void ac_store_set_generation_name(struct ac_store *st, const char *group)
{
    snprintf(st->gen_key, sizeof(st->gen_key), "%s:gen:%s", st->prefix, group);
}

static const char *store_gen_key(struct ac_store *st)
{
    if (!st->gen_key[0]) {
        snprintf(st->gen_key, sizeof(st->gen_key), "%s:gen", st->prefix);
    }
    return st->gen_key;
}

/* GET key into out: 0, AC_ERR_NOTFOUND, or AC_ERR_TRANSIENT. */
static int store_get_gen(struct ac_store *st, const char *key, char out[40])
{
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
        rc = store_reply_error(st, r, "read the generation");
    }
    freeReplyObject(r);
    return rc;
}

int ac_store_generation(struct ac_store *st, int create, char out[40])
{
    char legacy[64], gen[40];
    const char *key = store_gen_key(st);
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    snprintf(legacy, sizeof(legacy), "%s:gen", st->prefix);
    int rc = store_get_gen(st, key, out);
    int take = 0;
    if (rc == AC_ERR_NOTFOUND && strcmp(key, legacy) != 0) {
        /* A Redis set up by the version with one shared generation: the
         * group takes that one over (it proves the data was not lost since). */
        int lrc = store_get_gen(st, legacy, gen);
        if (lrc == 0) {
            take = 1;
        } else if (lrc != AC_ERR_NOTFOUND) {
            return lrc;
        }
    }
    if (rc == AC_ERR_NOTFOUND && create && !take) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(gen, sizeof(gen), "%llx-%lx-%x", (unsigned long long)ts.tv_sec,
                 (unsigned long)ts.tv_nsec, (unsigned)getpid());
        take = 1;
    }
    if (take) {
        redisReply *r = redisCommand(st->rc, "SET %s %s NX", key, gen);
        if (!r) {
            store_drop(st);
            return AC_ERR_TRANSIENT;
        }
        freeReplyObject(r);
        rc = store_get_gen(st, key, out);
    }
    return rc;
}

void ac_store_expect_generation(struct ac_store *st, const char *gen)
{
    snprintf(st->expect_gen, sizeof(st->expect_gen), "%s", gen);
}

int store_check_gen_reply(struct ac_store *st, redisReply *r)
{
    if (r->type == REDIS_REPLY_STRING && strcmp(r->str, st->expect_gen) == 0) {
        return 0;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        /* BUSY, LOADING ...: not a loss; only a missing or other key is */
        return store_reply_error(st, r, "read the generation");
    }
    AC_ERROR("redis lost its data: generation is %s, expected %s; refusing to continue "
             "(see README: recovering from Redis data loss)",
             r->type == REDIS_REPLY_STRING ? r->str : "missing", st->expect_gen);
    return AC_ERR_FATAL;
}

int store_append_gen(struct ac_store *st)
{
    size_t argc = 0;
    store_push_str(st, &argc, "GET");
    store_push_str(st, &argc, store_gen_key(st));
    return store_append(st, argc);
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
