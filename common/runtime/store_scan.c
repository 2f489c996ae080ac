/* store_scan.c — scans over every bucket: the due index, the outbox index. */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "log.h"

/* --- timers and the outbox index ----------------------------------------------------------- */

/* Sends one command per bucket, starting at start, and hands each reply to fn;
 * in pipelines of STORE_SCAN_CHUNK buckets (the first of `first`, 0: the
 * same), stopping early once enough(opaque) says so (NULL: every bucket). A
 * round of due timers needs a few dozen buckets when many are due, not all
 * 1,024: its first pipeline is as many as would do if every bucket filled its
 * limit, so a busy round reads no reply it then drops. */
#define STORE_SCAN_CHUNK 128

static int store_each_bucket(struct ac_store *st, unsigned start, unsigned first,
                             int (*cmd)(struct ac_store *st, unsigned bucket, void *opaque),
                             int (*fn)(redisReply *r, void *opaque), int (*enough)(void *opaque),
                             void *opaque)
{
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    double t0 = ac_clock_mono_s();
    int rc = 0;
    for (unsigned base = 0, n = 0; base < AC_STORE_BUCKETS && rc == 0; base += n) {
        n = base == 0 && first > 0 && first < STORE_SCAN_CHUNK ? first : STORE_SCAN_CHUNK;
        n = AC_STORE_BUCKETS - base < n ? AC_STORE_BUCKETS - base : n;
        for (unsigned i = 0; i < n; i++) {
            if (cmd(st, (start + base + i) % AC_STORE_BUCKETS, opaque) != 0) {
                return AC_ERR_TRANSIENT;
            }
        }
        for (unsigned i = 0; i < n; i++) {
            redisReply *r = store_read(st);
            if (!r) {
                return AC_ERR_TRANSIENT;
            }
            if (r->type == REDIS_REPLY_ERROR) {
                if (rc == 0) {
                    rc = store_reply_error(st, r, "scan buckets");
                }
            } else if (rc == 0) {
                st->scan_bucket = (start + base + i) % AC_STORE_BUCKETS;
                rc = fn(r, opaque);
            }
            freeReplyObject(r);
        }
        if (enough && enough(opaque)) {
            break;
        }
    }
    st->last_rtt = ac_clock_mono_s() - t0;
    return rc;
}

struct store_due {
    struct ac_store *st;
    unsigned bucket; /* of the reply being read */
    int64_t now;
    size_t max, found;
    char limit[24], upto[24];
    void (*fn)(const char *customer_id, int64_t due, void *opaque);
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
    char cid[AC_ID_MAX];
    d->bucket = d->st->scan_bucket;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        redisReply *m = r->element[i], *score = r->element[i + 1];
        if (d->found >= d->max || m->type != REDIS_REPLY_STRING) {
            break;
        }
        /* A member of the previous layout is "<32-hex timer id><customer id>". */
        const char *id = m->str;
        size_t len = m->len;
        /* A member of ours is a customer id in its own bucket. One that is
         * not is of the previous layout ("<32-hex timer id><customer id>"),
         * or garbage: either way it goes once the scan's customers are done. */
        /* The previous layout's form is tested first: a member of 32 hex digits
         * then a customer id of this bucket. */
        int legacy = len > 32 && strspn(id, "0123456789abcdef") >= 32 &&
                     memchr(id, '\0', len) == NULL && ac_store_bucket(id + 32) == d->bucket;
        int foreign = legacy || memchr(id, '\0', len) != NULL || ac_store_bucket(id) != d->bucket;
        if (foreign) {
            /* removed once its customer went through a step (its timers
             * are in the record then, with an entry of the new form) */
            ac_buf_printf(&d->st->legacy_due, "%u", d->bucket);
            ac_buf_append(&d->st->legacy_due, "", 1);
            ac_buf_append(&d->st->legacy_due, m->str, m->len);
            ac_buf_append(&d->st->legacy_due, "", 1);
            d->st->n_legacy_due++;
            if (!legacy) {
                continue; /* garbage: removed, nothing to fire */
            }
            id += 32;
            len -= 32;
        }
        if (len == 0 || len >= sizeof(cid)) {
            continue;
        }
        memcpy(cid, id, len);
        cid[len] = '\0';
        int64_t due = score->type == REDIS_REPLY_STRING ? strtoll(score->str, NULL, 10) : 0;
        d->fn(cid, due, d->opaque);
        d->found++;
    }
    return 0;
}

static int store_due_enough(void *opaque)
{
    const struct store_due *d = opaque;
    return d->found >= d->max;
}

int ac_store_due(struct ac_store *st, int64_t now, unsigned start, size_t max,
                 void (*fn)(const char *customer_id, int64_t due, void *opaque), void *opaque)
{
    if (max == 0) {
        return 0;
    }
    struct store_due d = {.st = st, .now = now, .max = max, .fn = fn, .opaque = opaque};
    ac_buf_reset(&st->legacy_due);
    st->n_legacy_due = 0;
    size_t per = max / 64 + 1; /* a busy bucket cannot starve the others */
    per = per < max ? per : max;
    snprintf(d.limit, sizeof(d.limit), "%zu", per);
    snprintf(d.upto, sizeof(d.upto), "%lld", (long long)now);
    int rc = store_each_bucket(st, start, (unsigned)((max + per - 1) / per), store_due_cmd,
                               store_due_reply, store_due_enough, &d);
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
    int rc = store_each_bucket(st, 0, 0, store_counts_cmd, store_counts_reply, NULL, &k);
    *pending = k.pending;
    *overdue = k.overdue;
    return rc;
}

struct store_ob {
    struct ac_store *st;
    size_t max, found;
    int64_t now, min_age; /* Redis's time; how old a call must be to count (ms) */
    void (*fn)(const char *customer_id, int stale, void *opaque);
    void *opaque;
};

/* SRANDMEMBER <prefix>:{<bucket>}:<suffix> count */
static int store_srand_cmd(struct ac_store *st, unsigned bucket, const char *suffix,
                           const char *count)
{
    char key[STORE_KEY_MAX];
    size_t argc = 0;
    store_bucket_key(st, key, sizeof(key), bucket, suffix);
    store_push_str(st, &argc, "SRANDMEMBER");
    store_push_str(st, &argc, key);
    store_push_str(st, &argc, count);
    return store_append(st, argc);
}

/* The previous version's outbox index: customer ids (or their state keys). */
static int store_ob_cmd(struct ac_store *st, unsigned bucket, void *opaque)
{
    (void)opaque;
    return store_srand_cmd(st, bucket, "ob", "64");
}

static int store_ob_reply(redisReply *r, void *opaque)
{
    struct store_ob *o = opaque;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *m = r->element[i];
        if (o->found >= o->max || m->type != REDIS_REPLY_STRING) {
            break;
        }
        /* the customer id (the previous layout: its state key) */
        const char *c = strstr(m->str, "}:c:");
        if (o->fn) {
            o->fn(c ? c + 4 : m->str, 0, o->opaque);
        }
        o->found++;
    }
    return 0;
}

/* A call in the swept list: "<version><bucket>\0<id>\0", version '7' (this
 * one: its index the sorted set <b>:oz, its value the bundles) or '6' (the
 * previous one: the set <b>:oc, its value Redis's time and outbox keys). */
static int store_swept_call_add(struct ac_buf *list, char version, unsigned bucket, const char *id,
                                size_t idlen)
{
    char b[16];
    b[0] = version;
    *store_utoa(b + 1, bucket) = '\0';
    if (ac_buf_append(list, b, strlen(b) + 1) != 0 || ac_buf_append(list, id, idlen) != 0 ||
        ac_buf_append(list, "", 1) != 0) {
        return AC_ERR_NOMEM;
    }
    return 0;
}

/* Reads the entry at p: its version, bucket (digits), id; returns the next. */
static const char *store_swept_call_at(const char *p, char *version, const char **bucket,
                                       const char **id)
{
    *version = p[0];
    *bucket = p + 1;
    *id = p + strlen(p) + 1;
    return *id + strlen(*id) + 1;
}

/* The previous version's call indexes (sets): ids of commit calls whose
 * records are not confirmed. */
static int store_oc_cmd(struct ac_store *st, unsigned bucket, void *opaque)
{
    (void)opaque;
    return store_srand_cmd(st, bucket, "oc", "64");
}

/* This version's (sorted sets by Redis's time): the calls old enough. */
static int store_oz_cmd(struct ac_store *st, unsigned bucket, void *opaque)
{
    const struct store_ob *o = opaque;
    char key[STORE_KEY_MAX], upto[32];
    size_t argc = 0;
    store_bucket_key(st, key, sizeof(key), bucket, "oz");
    snprintf(upto, sizeof(upto), "%lld", (long long)(o->now - o->min_age));
    store_push_str(st, &argc, "ZRANGE");
    store_push_str(st, &argc, key);
    store_push_str(st, &argc, "-inf");
    store_push_str(st, &argc, upto);
    store_push_str(st, &argc, "BYSCORE");
    store_push_str(st, &argc, "LIMIT");
    store_push_str(st, &argc, "0");
    store_push_str(st, &argc, "64");
    return store_append(st, argc);
}

static int store_calls_reply(redisReply *r, struct store_ob *o, char version)
{
    struct ac_store *st = o->st;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *m = r->element[i];
        if (m->type != REDIS_REPLY_STRING || st->n_swept_calls >= o->max) {
            break;
        }
        if (store_swept_call_add(&st->swept_calls, version, st->scan_bucket, m->str, m->len)) {
            return AC_ERR_NOMEM;
        }
        st->n_swept_calls++;
    }
    return 0;
}

static int store_oc_reply(redisReply *r, void *opaque)
{
    return store_calls_reply(r, opaque, '6');
}

static int store_oz_reply(redisReply *r, void *opaque)
{
    return store_calls_reply(r, opaque, '7');
}

/* One bundle of a call's value: the customer id (NUL-terminated), whether
 * the commit struck it out (its customer's check failed: a NUL for the first
 * byte of its id), and its records. */
struct store_bundle {
    const char *cid;
    int struck;
    struct ac_buf recs; /* borrowed from the value */
};

/* Reads the bundle at *p and moves *p past it: 1, 0 at the end, -1 if the
 * value cannot be read whole from there. */
static int store_bundle_next(const char **p, const char *end, struct store_bundle *bd)
{
    const char *at = *p;
    if (at >= end) {
        return 0;
    }
    bd->struck = *at == '\0';
    size_t cl =
        bd->struck ? 1 + strnlen(at + 1, (size_t)(end - at - 1)) : strnlen(at, (size_t)(end - at));
    const unsigned char *q = (const unsigned char *)at + cl + 1;
    if ((!bd->struck && cl == 0) || cl >= AC_ID_MAX || (const char *)q + 4 > end) {
        return -1;
    }
    size_t len = (size_t)q[0] << 24 | (size_t)q[1] << 16 | (size_t)q[2] << 8 | q[3];
    if (len > (size_t)(end - (const char *)q - 4)) {
        return -1;
    }
    bd->cid = at;
    bd->recs = (struct ac_buf){.data = (char *)q + 4, .len = len, .cap = len};
    *p = (const char *)q + 4 + len;
    return 1;
}

/* A call's records (its value: the bundles) into the swept records, struck
 * bundles skipped; bundles counts the others. 0, or -1 if the value cannot be
 * read whole (it is left for a person to look at, never dropped). */
static int store_call_records(struct ac_store *st, const char *p, const char *end, size_t *bundles)
{
    size_t mark = st->swept_recs.len, n_mark = st->n_swept_recs;
    struct store_bundle bd;
    int more;
    *bundles = 0;
    while ((more = store_bundle_next(&p, end, &bd)) == 1) {
        if (bd.struck) {
            continue;
        }
        size_t cursor = 0;
        struct ac_outbox_rec rec;
        while (ac_store_records_next(&bd.recs, &cursor, &rec)) {
            if (ac_buf_append(&st->swept_recs, bd.cid, strlen(bd.cid) + 1) != 0 ||
                store_rec_append(&st->swept_recs, rec.id, strlen(rec.id), rec.kind, rec.payload,
                                 rec.len) != 0) {
                goto bad;
            }
            st->n_swept_recs++;
        }
        if (cursor != bd.recs.len) {
            goto bad;
        }
        (*bundles)++;
    }
    if (more == 0) {
        return 0;
    }
bad:
    st->swept_recs.len = mark;
    st->n_swept_recs = n_mark;
    return -1;
}

/* A call of this version (found old enough) hands its records to the swept
 * records, one of the previous version older than min_age its customers to
 * fn; either stays in the list for ac_store_outbox_done. A younger one (its
 * writer is at work) leaves it. */
static int store_oc_call(struct store_ob *o, const redisReply *r, char version)
{
    if (r->type != REDIS_REPLY_STRING) {
        return 0; /* acknowledged meanwhile: drop it from the list too (no-op) */
    }
    const char *p = r->str, *end = r->str + r->len;
    if (version == '7') {
        struct ac_store *st = o->st;
        size_t bundles = 0, mark = st->swept_recs.len, n_mark = st->n_swept_recs;
        if (store_call_records(st, p, end, &bundles) != 0) {
            AC_ERROR("an outbox call cannot be read whole bytes=%zu; left in place", r->len);
            return -1;
        }
        if (o->found > 0 && o->found + bundles > o->max) {
            st->swept_recs.len = mark; /* no room this time: the next sweep */
            st->n_swept_recs = n_mark;
            return -1;
        }
        o->found += bundles;
        return 0;
    }
    int64_t at = strtoll(r->str, NULL, 10);
    if (o->now - at < o->min_age) {
        return -1;
    }
    p += strnlen(p, r->len) + 1; /* past the time */
    size_t n = 0;
    for (const char *q = p; q < end; q += strnlen(q, (size_t)(end - q)) + 1) {
        n++;
    }
    if (o->found > 0 && o->found + n > o->max) {
        return -1; /* no room this time: the next sweep (the first call always goes) */
    }
    while (p < end) {
        size_t len = strnlen(p, (size_t)(end - p));
        const char *c = memmem(p, len, "}:o:", 4);
        if (c && (size_t)(p + len - (c + 4)) < AC_ID_MAX) {
            char cid[AC_ID_MAX];
            memcpy(cid, c + 4, (size_t)(p + len - (c + 4)));
            cid[p + len - (c + 4)] = '\0';
            if (o->fn) {
                o->fn(cid, 1, o->opaque);
            }
            o->found++;
        }
        p += len + 1;
    }
    return 0;
}

/* Reads the calls found; keeps in the list only those old enough, whose
 * customers went to fn. */
static int store_oc_customers(struct ac_store *st, struct store_ob *o)
{
    char key[STORE_KEY_MAX];
    const char *p = st->swept_calls.data, *bucket, *id;
    char version;
    for (size_t i = 0; i < st->n_swept_calls; i++) {
        p = store_swept_call_at(p, &version, &bucket, &id);
        size_t argc = 0;
        snprintf(key, sizeof(key), "%s:{%s}:k:%s", st->prefix, bucket, id);
        store_push_str(st, &argc, "GET");
        store_push_str(st, &argc, key);
        if (store_append(st, argc) != 0) {
            return AC_ERR_TRANSIENT;
        }
    }
    struct ac_buf kept;
    size_t n_kept = 0;
    int rc = 0;
    ac_buf_init(&kept);
    p = st->swept_calls.data;
    for (size_t i = 0; i < st->n_swept_calls; i++) {
        const char *entry = p, *next = store_swept_call_at(p, &version, &bucket, &id);
        redisReply *r = store_read(st);
        if (!r) {
            ac_buf_fini(&kept);
            return AC_ERR_TRANSIENT;
        }
        if (r->type == REDIS_REPLY_ERROR && rc == 0) {
            rc = store_reply_error(st, r, "read a call of the outbox");
        }
        if (rc == 0 && store_oc_call(o, r, version) == 0) {
            rc = ac_buf_append(&kept, entry, (size_t)(next - entry)) ? AC_ERR_NOMEM : 0;
            n_kept++;
        }
        freeReplyObject(r);
        p = next;
    }
    ac_buf_reset(&st->swept_calls);
    if (rc == 0 && n_kept > 0) {
        rc = ac_buf_append(&st->swept_calls, kept.data, kept.len) ? AC_ERR_NOMEM : 0;
    }
    st->n_swept_calls = rc == 0 ? n_kept : 0;
    ac_buf_fini(&kept);
    return rc;
}

/* Redis's clock, ms: the calls carry its time, so hosts' clocks do not matter. */
static int store_redis_ms(struct ac_store *st, int64_t *ms)
{
    redisReply *r = redisCommand(st->rc, "TIME");
    if (!r) {
        store_drop(st);
        return AC_ERR_TRANSIENT;
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        *ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
              strtoll(r->element[1]->str, NULL, 10) / 1000;
    } else {
        rc = r->type == REDIS_REPLY_ERROR ? store_reply_error(st, r, "TIME") : AC_ERR_FATAL;
    }
    freeReplyObject(r);
    return rc;
}

static void store_swept_reset(struct ac_store *st)
{
    ac_buf_reset(&st->swept_calls);
    st->n_swept_calls = 0;
    ac_buf_reset(&st->swept_recs);
    st->n_swept_recs = 0;
}

void ac_store_swept_calls_swap(struct ac_store *st, struct ac_store_calls *c)
{
    struct ac_buf list = st->swept_calls;
    size_t n = st->n_swept_calls;
    st->swept_calls = c->list;
    st->n_swept_calls = c->n;
    c->list = list;
    c->n = n;
}

size_t ac_store_swept_count(const struct ac_store *st)
{
    return st->n_swept_recs;
}

int ac_store_swept_next(const struct ac_store *st, size_t *cursor, const char **customer_id,
                        struct ac_outbox_rec *rec)
{
    const struct ac_buf *b = &st->swept_recs;
    if (*cursor >= b->len) {
        return 0;
    }
    const char *cid = b->data + *cursor;
    size_t cl = strnlen(cid, b->len - *cursor);
    size_t at = *cursor + cl + 1;
    if (at >= b->len || !ac_store_records_next(b, &at, rec)) {
        return 0;
    }
    *customer_id = cid;
    *cursor = at;
    return 1;
}

int ac_store_outbox_customers(struct ac_store *st, unsigned start, size_t max, int64_t min_age_ms,
                              void (*fn)(const char *customer_id, int stale, void *opaque),
                              void *opaque)
{
    struct store_ob o = {.st = st, .max = max, .min_age = min_age_ms, .fn = fn, .opaque = opaque};
    store_swept_reset(st);
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    int rc = store_redis_ms(st, &o.now);
    if (rc == 0) {
        rc = store_each_bucket(st, start, 0, store_oz_cmd, store_oz_reply, NULL, &o);
    }
    if (rc == 0) {
        rc = store_each_bucket(st, start, 0, store_oc_cmd, store_oc_reply, NULL, &o);
    }
    if (rc == 0) {
        rc = store_oc_customers(st, &o);
    }
    /* the previous version's index has a budget of its own */
    size_t calls_found = o.found;
    o.found = 0;
    if (rc == 0) {
        rc = store_each_bucket(st, start, 0, store_ob_cmd, store_ob_reply, NULL, &o);
    }
    return rc != 0 ? rc : (int)(calls_found + o.found);
}

/* Appends FCALL ac_ack_v7 calls (64 customers per call) for every customer
 * given, to drop emptied outboxes from the previous version's outbox index.
 * Returns the number of calls appended, or a negative ac_err. */
static long store_append_forget(struct ac_store *st, struct ac_store_cust *custs, size_t n)
{
    enum { CHUNK = AC_STORE_CUSTOMERS_PER_CALL };
    char(*keys)[STORE_KEY_MAX] = malloc(2 * CHUNK * sizeof(*keys));
    long calls = 0;
    if (!keys) {
        return AC_ERR_NOMEM;
    }
    for (size_t i = 0; i < n;) {
        size_t members[CHUNK], m = 0;
        for (; i < n && m < CHUNK; i++) {
            members[m++] = i;
        }
        if (m == 0) {
            break;
        }
        size_t argc = 0;
        char nkeys[16], ncust[16];
        snprintf(nkeys, sizeof(nkeys), "%zu", 2 * m);
        snprintf(ncust, sizeof(ncust), "%zu", m);
        store_push_str(st, &argc, "FCALL");
        store_push_str(st, &argc, "ac_ack_v7");
        store_push_str(st, &argc, nkeys);
        for (size_t k = 0; k < m; k++) {
            const struct ac_store_cust *sc = &custs[members[k]];
            store_key(st, keys[2 * k], STORE_KEY_MAX, sc->bucket, 'o', sc->customer_id);
            store_bucket_key(st, keys[2 * k + 1], STORE_KEY_MAX, sc->bucket, "ob");
            store_push_str(st, &argc, keys[2 * k]);
            store_push_str(st, &argc, keys[2 * k + 1]);
        }
        store_push_str(st, &argc, ncust);
        for (size_t k = 0; k < m; k++) {
            const struct ac_store_cust *sc = &custs[members[k]];
            store_push_str(st, &argc, sc->customer_id);
            store_push_str(st, &argc, "0");
        }
        if (store_append(st, argc) != 0) {
            free(keys);
            return AC_ERR_TRANSIENT;
        }
        calls++;
    }
    free(keys);
    return calls;
}

int ac_store_outbox_done(struct ac_store *st, struct ac_store_cust *custs, size_t n)
{
    char key[STORE_KEY_MAX], idx[STORE_KEY_MAX];
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    long calls = store_append_forget(st, custs, n);
    if (calls < 0) {
        store_drop(st);
        return (int)calls;
    }
    const char *p = st->swept_calls.data, *bucket, *id;
    char version;
    for (size_t i = 0; i < st->n_swept_calls; i++) {
        p = store_swept_call_at(p, &version, &bucket, &id);
        size_t argc = 0;
        snprintf(key, sizeof(key), "%s:{%s}:k:%s", st->prefix, bucket, id);
        snprintf(idx, sizeof(idx), "%s:{%s}:%s", st->prefix, bucket, version == '7' ? "oz" : "oc");
        if (version == '7') {
            /* delivered whole: the call goes */
            store_push_str(st, &argc, "DEL");
            store_push_str(st, &argc, key);
            if (store_append(st, argc) != 0) {
                return AC_ERR_TRANSIENT;
            }
            argc = 0;
            store_push_str(st, &argc, "ZREM");
            store_push_str(st, &argc, idx);
            store_push_str(st, &argc, id);
            calls++;
        } else {
            store_push_str(st, &argc, "FCALL");
            store_push_str(st, &argc, "ac_call_done_v7");
            store_push_str(st, &argc, "2");
            store_push_str(st, &argc, key);
            store_push_str(st, &argc, idx);
            store_push_str(st, &argc, id);
        }
        if (store_append(st, argc) != 0) {
            return AC_ERR_TRANSIENT;
        }
        calls++;
    }
    store_swept_reset(st);
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

/* Whether a call value of this version holds a bundle of one of the
 * customers in the set (ids hashed into set[mask + 1], index + 1; 0 empty). */
static int store_call_has(const redisReply *r, const struct ac_store_cust *custs, const size_t *set,
                          size_t mask)
{
    const char *p = r->str, *end = r->str + r->len;
    struct store_bundle bd;
    while (store_bundle_next(&p, end, &bd) == 1) {
        for (size_t i = ac_store_hash(bd.cid) & mask; !bd.struck && set[i]; i = (i + 1) & mask) {
            if (strcmp(custs[set[i] - 1].customer_id, bd.cid) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

/* Calls a replay reads at most (a backlog after an outage is the sweep's). */
#define STORE_REPLAY_CALLS_MAX 4096

uint64_t ac_store_call_seq(const struct ac_store *st)
{
    return st->call_seq;
}

/* Is call id one of this store's calls numbered above since? */
static int store_call_ours_since(const struct ac_store *st, const char *id, uint64_t since)
{
    size_t wl = strlen(st->writer);
    return strncmp(id, st->writer, wl) == 0 && id[wl] == '-' &&
           strtoull(id + wl + 1, NULL, 10) > since;
}

int ac_store_outbox_replayed(struct ac_store *st, struct ac_store_cust *custs, size_t n,
                             uint64_t since_seq)
{
    size_t n_rep = 0, mask = 1;
    store_swept_reset(st);
    for (size_t i = 0; i < n; i++) {
        n_rep += custs[i].replayed != 0;
    }
    if (n_rep == 0) {
        return 0;
    }
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    while (mask + 1 < 2 * n_rep) {
        mask = mask * 2 + 1;
    }
    size_t *set = calloc(mask + 1, sizeof(*set));
    struct ac_buf cands;
    size_t n_cands = 0, n_over = 0;
    int rc = 0;
    if (!set) {
        return AC_ERR_NOMEM;
    }
    ac_buf_init(&cands);
    /* the replayed customers' outboxes of earlier versions, and every call index */
    char key[STORE_KEY_MAX];
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t argc = 0;
        if (!custs[i].replayed) {
            continue;
        }
        size_t h = ac_store_hash(custs[i].customer_id) & mask;
        while (set[h]) {
            h = (h + 1) & mask;
        }
        set[h] = i + 1;
        store_key(st, key, sizeof(key), custs[i].bucket, 'o', custs[i].customer_id);
        store_push_str(st, &argc, "HGETALL");
        store_push_str(st, &argc, key);
        rc = store_append(st, argc) ? AC_ERR_TRANSIENT : 0;
    }
    for (unsigned b = 0; b < AC_STORE_BUCKETS && rc == 0; b++) {
        size_t argc = 0;
        store_bucket_key(st, key, sizeof(key), b, "oz");
        store_push_str(st, &argc, "ZRANGE");
        store_push_str(st, &argc, key);
        store_push_str(st, &argc, "0");
        store_push_str(st, &argc, "-1");
        rc = store_append(st, argc) ? AC_ERR_TRANSIENT : 0;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct ac_store_cust *sc = &custs[i];
        if (!sc->replayed) {
            continue;
        }
        redisReply *r = store_read(st);
        if (!r) {
            rc = AC_ERR_TRANSIENT;
            break;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            rc = store_reply_error(st, r, "read an outbox");
        } else if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
            /* its records go out with the calls' records; its fields are
             * acknowledged with the batch (ac_store_ack) */
            ac_buf_reset(&sc->found);
            sc->n_found = 0;
            ac_buf_reset(&sc->found_ids);
            sc->n_found_ids = 0;
            store_parse_outbox(sc, r);
            size_t cursor = 0;
            struct ac_outbox_rec rec;
            while (rc == 0 && ac_store_records_next(&sc->found, &cursor, &rec)) {
                if (ac_buf_append(&st->swept_recs, sc->customer_id, strlen(sc->customer_id) + 1) ||
                    store_rec_append(&st->swept_recs, rec.id, strlen(rec.id), rec.kind, rec.payload,
                                     rec.len)) {
                    rc = AC_ERR_NOMEM;
                }
                st->n_swept_recs++;
            }
            if (rc == 0 && ac_buf_append(&sc->pending_ids, sc->found_ids.data, sc->found_ids.len)) {
                rc = AC_ERR_NOMEM;
            }
            sc->n_pending_ids += sc->n_found_ids;
            ac_buf_reset(&sc->found);
            sc->n_found = 0;
            ac_buf_reset(&sc->found_ids);
            sc->n_found_ids = 0;
        }
        freeReplyObject(r);
    }
    for (unsigned b = 0; b < AC_STORE_BUCKETS && rc == 0; b++) {
        redisReply *r = store_read(st);
        if (!r) {
            rc = AC_ERR_TRANSIENT;
            break;
        }
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && rc == 0; i++) {
            const redisReply *m = r->element[i];
            if (m->type != REDIS_REPLY_STRING || store_call_ours_since(st, m->str, since_seq)) {
                continue; /* this step's own calls: delivered by the step */
            }
            if (n_cands == STORE_REPLAY_CALLS_MAX) {
                n_over++;
                continue;
            }
            rc = store_swept_call_add(&cands, '7', b, m->str, m->len);
            n_cands++;
        }
        if (r->type == REDIS_REPLY_ERROR && rc == 0) {
            rc = store_reply_error(st, r, "read a call index");
        }
        freeReplyObject(r);
    }
    if (n_over > 0) {
        AC_WARN("a replay found more undelivered calls than it reads calls=%zu read=%d; the "
                "rest is left to the timer process's sweep",
                n_cands + n_over, STORE_REPLAY_CALLS_MAX);
    }
    /* the calls holding a bundle of a replayed customer go out whole */
    const char *p = cands.data, *bucket, *id;
    char version;
    for (size_t i = 0; i < n_cands && rc == 0; i++) {
        p = store_swept_call_at(p, &version, &bucket, &id);
        size_t argc = 0;
        snprintf(key, sizeof(key), "%s:{%s}:k:%s", st->prefix, bucket, id);
        store_push_str(st, &argc, "GET");
        store_push_str(st, &argc, key);
        rc = store_append(st, argc) ? AC_ERR_TRANSIENT : 0;
    }
    p = cands.data;
    for (size_t i = 0; i < n_cands && rc == 0; i++) {
        const char *entry = p, *next = store_swept_call_at(p, &version, &bucket, &id);
        redisReply *r = store_read(st);
        if (!r) {
            rc = AC_ERR_TRANSIENT;
            break;
        }
        size_t bundles;
        if (r->type == REDIS_REPLY_ERROR) {
            rc = store_reply_error(st, r, "read a call of the outbox");
        } else if (r->type == REDIS_REPLY_STRING && store_call_has(r, custs, set, mask)) {
            if (store_call_records(st, r->str, r->str + r->len, &bundles) != 0) {
                AC_ERROR("an outbox call cannot be read whole bytes=%zu; left for the sweep",
                         r->len);
            } else if (ac_buf_append(&st->swept_calls, entry, (size_t)(next - entry))) {
                rc = AC_ERR_NOMEM;
            } else {
                st->n_swept_calls++;
            }
        }
        freeReplyObject(r);
        p = next;
    }
    free(set);
    ac_buf_fini(&cands);
    if (rc != 0) {
        store_drop(st); /* replies may be left unread */
        store_swept_reset(st);
        return rc;
    }
    return (int)st->n_swept_recs;
}

int ac_store_due_forget_legacy(struct ac_store *st)
{
    if (st->n_legacy_due == 0) {
        return 0;
    }
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    char key[STORE_KEY_MAX];
    const char *p = st->legacy_due.data;
    for (size_t i = 0; i < st->n_legacy_due; i++) {
        const char *member = p + strlen(p) + 1;
        size_t argc = 0;
        snprintf(key, sizeof(key), "%s:{%s}:due", st->prefix, p);
        store_push_str(st, &argc, "ZREM");
        store_push_str(st, &argc, key);
        store_push_str(st, &argc, member);
        if (store_append(st, argc) != 0) {
            return AC_ERR_TRANSIENT;
        }
        p = member + strlen(member) + 1;
    }
    int rc = 0;
    for (size_t i = 0; i < st->n_legacy_due; i++) {
        redisReply *r = store_read(st);
        if (!r) {
            return AC_ERR_TRANSIENT;
        }
        if (r->type == REDIS_REPLY_ERROR && rc == 0) {
            rc = store_reply_error(st, r, "remove due entries of the previous layout");
        }
        freeReplyObject(r);
    }
    ac_buf_reset(&st->legacy_due);
    st->n_legacy_due = 0;
    return rc;
}

int ac_store_event_time_publish(struct ac_store *st, const char *topic, const int32_t *parts,
                                const int64_t *times, size_t n)
{
    char key[STORE_KEY_MAX];
    struct ac_buf kv;
    size_t argc = 0;
    int rc = 0;
    if (n == 0) {
        return 0;
    }
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    ac_buf_init(&kv);
    for (size_t i = 0; i < n; i++) {
        ac_buf_printf(&kv, "%s:%d", topic, parts[i]);
        ac_buf_append(&kv, "", 1);
        ac_buf_printf(&kv, "%lld", (long long)times[i]);
        ac_buf_append(&kv, "", 1);
    }
    snprintf(key, sizeof(key), "%s:ewm", st->prefix);
    store_push_str(st, &argc, "FCALL");
    store_push_str(st, &argc, "ac_ewm_v7");
    store_push_str(st, &argc, "1");
    store_push_str(st, &argc, key);
    const char *p = kv.data;
    for (size_t i = 0; i < 2 * n; i++) {
        store_push_str(st, &argc, p);
        p += strlen(p) + 1;
    }
    if (store_append(st, argc) != 0) {
        ac_buf_fini(&kv);
        return AC_ERR_TRANSIENT;
    }
    ac_buf_fini(&kv);
    redisReply *r = store_read(st);
    if (!r) {
        return AC_ERR_TRANSIENT;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        rc = store_reply_error(st, r, "publish event time");
    }
    freeReplyObject(r);
    return rc;
}

int ac_store_event_times(struct ac_store *st,
                         void (*fn)(const char *field, int64_t at, void *opaque), void *opaque)
{
    char key[STORE_KEY_MAX];
    if (!ac_store_connected(st)) {
        return AC_ERR_TRANSIENT;
    }
    snprintf(key, sizeof(key), "%s:ewm", st->prefix);
    redisReply *r = redisCommand(st->rc, "HGETALL %s", key);
    if (!r) {
        store_drop(st);
        return AC_ERR_TRANSIENT;
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        rc = store_reply_error(st, r, "read event times");
    }
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        fn(r->element[i]->str, strtoll(r->element[i + 1]->str, NULL, 10), opaque);
    }
    freeReplyObject(r);
    return rc;
}
