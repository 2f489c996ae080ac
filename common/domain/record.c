/* record.c — a customer's durable record and its compact encoding. */
#include "record.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "wire.h"

enum {
    REC_END = 0,
    REC_STATE = 1,
    REC_WM = 2,
    REC_SEEN = 3,
    REC_STRINGS = 4,
    REC_TRIGGERS = 5,
    REC_TIMERS = 6,
    REC_RECENT = 7,
};

/* timer flags */
enum {
    TF_ID = 1,       /* the id is stored (not the derived one) */
    TF_EXPIRES = 2,  /* an expiry */
    TF_SEQ = 4,      /* occurrence of a periodic rule */
    TF_REASON = 8,   /* why it was last deferred */
    TF_FAMILY = 16,  /* a family-window scope */
    TF_SECONDS = 32, /* the due and expiry deltas are in whole seconds */
};

#define REC_STRINGS_MAX (3 * AC_TIMERS_MAX + 3 * AC_RECORD_RECENT_MAX)

void ac_record_init(struct ac_record *rec, const char *customer_id)
{
    memset(rec, 0, sizeof(*rec));
    ac_timerset_init(&rec->timers);
    ac_customer_init(&rec->state, customer_id);
}

void ac_record_fini(struct ac_record *rec)
{
    ac_timerset_fini(&rec->timers);
}

void ac_record_reset(struct ac_record *rec, const char *customer_id)
{
    struct ac_timerset keep = rec->timers;
    memset(rec, 0, sizeof(*rec));
    rec->timers = keep;
    ac_timerset_clear(&rec->timers);
    ac_customer_init_zeroed(&rec->state, customer_id);
}

void ac_record_version_bytes(int64_t version, unsigned char out[8])
{
    uint64_t v = (uint64_t)version;
    for (int i = 7; i >= 0; i--) {
        out[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/* --- ids ------------------------------------------------------------------------------------- */

static int record_hex_to_raw(const char *hex, unsigned char raw[16])
{
    if (strlen(hex) != 32) {
        return -1;
    }
    for (int i = 0; i < 16; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + k];
            unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                                : 16;
            if (d == 16) {
                return -1;
            }
            v = v * 16 + d;
        }
        raw[i] = (unsigned char)v;
    }
    return 0;
}

static void record_raw_to_hex(const unsigned char raw[16], char out[AC_ACTION_ID_MAX])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = digits[raw[i] >> 4];
        out[2 * i + 1] = digits[raw[i] & 15];
    }
    out[32] = '\0';
}

/* The id the engine gives a timer of this rule, trigger, part and seq (and
 * family, for a family-window timer: engine.c keys it "<event id>/<family>"). */
static void record_derived_id(const struct ac_timer *t, char out[AC_ACTION_ID_MAX])
{
    char key[AC_ID_MAX + AC_NAME_MAX + 16];
    size_t n = strnlen(t->trigger.id, AC_ID_MAX - 1);
    memcpy(key, t->trigger.id, n);
    if (t->trigger.family[0]) {
        size_t f = strnlen(t->trigger.family, AC_NAME_MAX - 1);
        key[n++] = '/';
        memcpy(key + n, t->trigger.family, f);
        n += f;
    } else if (t->seq != 0) {
        char seq[16];
        int k = snprintf(seq, sizeof(seq), "#%d", t->seq);
        memcpy(key + n, seq, (size_t)k);
        n += (size_t)k;
    }
    key[n] = '\0';
    ac_action_id(out, t->rule_id, key, t->part);
}

/* --- encode ---------------------------------------------------------------------------------- */

#define REC_STRINGS_SLOTS 1024 /* a power of two above REC_STRINGS_MAX */

struct record_strings {
    const char *s[REC_STRINGS_MAX];
    uint16_t at[REC_STRINGS_MAX]; /* the slot of each, to empty the table */
    int n;
    int16_t slot[REC_STRINGS_SLOTS]; /* index + 1 by hash; 0: empty */
};

/* What one encoding needs besides its output, kept between encodings. */
struct ac_record_enc {
    struct record_strings tab; /* slots empty between encodings */
    struct ac_buf body, timers, recent, strs, one, all;
    int *trig;
    size_t *starts, *lens;
    int cap; /* of trig, starts and lens */
};

struct ac_record_enc *ac_record_enc_new(void)
{
    struct ac_record_enc *e = calloc(1, sizeof(*e));
    if (!e) {
        return NULL;
    }
    ac_buf_init(&e->body);
    ac_buf_init(&e->timers);
    ac_buf_init(&e->recent);
    ac_buf_init(&e->strs);
    ac_buf_init(&e->one);
    ac_buf_init(&e->all);
    return e;
}

void ac_record_enc_free(struct ac_record_enc *e)
{
    if (!e) {
        return;
    }
    ac_buf_fini(&e->body);
    ac_buf_fini(&e->timers);
    ac_buf_fini(&e->recent);
    ac_buf_fini(&e->strs);
    ac_buf_fini(&e->one);
    ac_buf_fini(&e->all);
    free(e->trig);
    free(e->starts);
    free(e->lens);
    free(e);
}

/* Room for n timers' trigger indexes. */
static int record_enc_reserve(struct ac_record_enc *e, int n)
{
    if (n <= e->cap) {
        return 0;
    }
    int cap = n < 32 ? 32 : n;
    int *trig = realloc(e->trig, (size_t)cap * sizeof(*trig));
    if (trig) {
        e->trig = trig;
    }
    size_t *starts = realloc(e->starts, (size_t)cap * sizeof(*starts));
    if (starts) {
        e->starts = starts;
    }
    size_t *lens = realloc(e->lens, (size_t)cap * sizeof(*lens));
    if (lens) {
        e->lens = lens;
    }
    if (!trig || !starts || !lens) {
        return AC_ERR_NOMEM;
    }
    e->cap = cap;
    return 0;
}

static int record_intern(struct record_strings *tab, const char *s)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h = (h ^ *p) * 16777619u;
    }
    for (uint32_t k = h & (REC_STRINGS_SLOTS - 1);; k = (k + 1) & (REC_STRINGS_SLOTS - 1)) {
        int i = tab->slot[k] - 1;
        if (i < 0) {
            if (tab->n >= REC_STRINGS_MAX) {
                return -1;
            }
            tab->s[tab->n] = s;
            tab->at[tab->n] = (uint16_t)k;
            tab->slot[k] = (int16_t)(tab->n + 1);
            return tab->n++;
        }
        if (strcmp(tab->s[i], s) == 0) {
            return i;
        }
    }
}

static int record_section(struct ac_buf *out, int id, const struct ac_buf *body)
{
    int rc = ac_wire_put_u64(out, (uint64_t)id);
    rc |= ac_wire_put_bytes(out, body->data, body->len);
    return rc;
}

/* Triggers without their family scope (that is the timer's), each once:
 * idx[i] is timer i's trigger. */
static int record_triggers(struct ac_record_enc *e, const struct ac_timerset *ts,
                           struct ac_buf *body, int *idx)
{
    struct ac_buf *one = &e->one, *all = &e->all;
    size_t *starts = e->starts, *lens = e->lens;
    int n = 0, rc = 0;
    ac_buf_reset(all);
    for (int i = 0; i < ts->n && rc == 0; i++) {
        /* the same event as an earlier timer's (nearly always): no encoding */
        const struct ac_trigger *tg0 = &ts->t[i].trigger;
        int found = -1;
        /* the nearest first (a trigger's timers sit together); the whole
         * struct is compared only when the time and the id match */
        for (int k = i - 1; k >= 0 && found < 0; k--) {
            const struct ac_trigger *o = &ts->t[k].trigger;
            if (offsetof(struct ac_trigger, family) + sizeof(o->family) ==
                    offsetof(struct ac_trigger, family_price_cents) &&
                o->occurred_at == tg0->occurred_at && strcmp(o->id, tg0->id) == 0 &&
                memcmp(o, tg0, offsetof(struct ac_trigger, family)) == 0) {
                found = idx[k];
            }
        }
        if (found >= 0) {
            idx[i] = found;
            continue;
        }
        struct ac_trigger tg = *tg0;
        memset(tg.family, 0, sizeof(tg.family));
        tg.family_price_cents = 0;
        ac_buf_reset(one);
        if ((rc = ac_trigger_encode(&tg, one)) != 0) {
            break;
        }
        for (int k = 0; k < n && found < 0; k++) {
            if (lens[k] == one->len && memcmp(all->data + starts[k], one->data, one->len) == 0) {
                found = k;
            }
        }
        if (found < 0) {
            starts[n] = all->len;
            lens[n] = one->len;
            if (ac_buf_append(all, one->data, one->len) != 0) {
                rc = AC_ERR_NOMEM;
                break;
            }
            found = n++;
        }
        idx[i] = found;
    }
    if (rc == 0) {
        rc = ac_wire_put_u64(body, (uint64_t)n);
        rc |= ac_buf_append(body, all->data, all->len);
        rc = rc ? AC_ERR_NOMEM : 0;
    }
    return rc;
}

static int record_encode_timers(const struct ac_record *rec, struct record_strings *tab,
                                const int *trig, struct ac_buf *body)
{
    const struct ac_timerset *ts = &rec->timers;
    char derived[AC_ACTION_ID_MAX];
    int rc = ac_wire_put_u64(body, (uint64_t)ts->n);
    for (int i = 0; i < ts->n && rc == 0; i++) {
        const struct ac_timer *t = &ts->t[i];
        unsigned char raw[16];
        uint64_t flags = 0;
        /* a timer loaded with a derived id and not changed since keeps it */
        int same = t->id_derived && t->change == AC_TIMER_SAME;
        if (!same) {
            record_derived_id(t, derived);
        }
        if (!same && strcmp(derived, t->id) != 0) {
            if (record_hex_to_raw(t->id, raw) != 0) {
                return AC_ERR_INVALID;
            }
            flags |= TF_ID;
        }
        flags |= t->expires_at != AC_TS_NONE ? TF_EXPIRES : 0;
        flags |= t->seq ? TF_SEQ : 0;
        flags |= t->reason[0] ? TF_REASON : 0;
        flags |= t->trigger.family[0] || t->trigger.family_price_cents ? TF_FAMILY : 0;
        int rule = record_intern(tab, t->rule_id);
        int reason = (flags & TF_REASON) ? record_intern(tab, t->reason) : 0;
        int family = (flags & TF_FAMILY) ? record_intern(tab, t->trigger.family) : 0;
        if (rule < 0 || reason < 0 || family < 0) {
            return AC_ERR_INVALID;
        }
        /* due relative to the trigger's time, expiry relative to the first
         * due time; whole seconds when they are (they nearly always are) */
        int64_t due_d = (int64_t)((uint64_t)t->due - (uint64_t)t->trigger.occurred_at);
        int64_t exp_d =
            (flags & TF_EXPIRES) ? (int64_t)((uint64_t)t->expires_at - (uint64_t)t->first_due) : 0;
        int64_t first_d = (int64_t)((uint64_t)t->due - (uint64_t)t->first_due);
        if (due_d % 1000 == 0 && exp_d % 1000 == 0 && first_d % 1000 == 0) {
            flags |= TF_SECONDS;
            due_d /= 1000;
            exp_d /= 1000;
            first_d /= 1000;
        }
        rc |= ac_wire_put_u64(body, flags);
        if (flags & TF_ID) {
            rc |= ac_buf_append(body, raw, sizeof(raw));
        }
        rc |= ac_wire_put_u64(body, (uint64_t)rule);
        rc |= ac_wire_put_i64(body, t->part);
        rc |= ac_wire_put_u64(body, (uint64_t)trig[i]);
        rc |= ac_wire_put_i64(body, due_d);
        rc |= ac_wire_put_i64(body, first_d);
        if (flags & TF_EXPIRES) {
            rc |= ac_wire_put_i64(body, exp_d);
        }
        if (flags & TF_SEQ) {
            rc |= ac_wire_put_i64(body, t->seq);
        }
        if (flags & TF_REASON) {
            rc |= ac_wire_put_u64(body, (uint64_t)reason);
        }
        if (flags & TF_FAMILY) {
            rc |= ac_wire_put_u64(body, (uint64_t)family);
            rc |= ac_wire_put_i64(body, t->trigger.family_price_cents);
        }
    }
    return rc ? AC_ERR_NOMEM : 0;
}

/* The ring: time (the first absolute, the others relative to the one
 * before), rule, decision, reason. The action id is left out: the full
 * decision, with it, is on aftercare.decisions. */
static int record_encode_recent(const struct ac_record *rec, struct record_strings *tab,
                                struct ac_buf *body)
{
    int rc = ac_wire_put_u64(body, (uint64_t)rec->n_recent);
    int64_t prev = 0;
    for (int i = 0; i < rec->n_recent && rc == 0; i++) {
        const struct ac_record_recent *d = &rec->recent[i];
        int rule = record_intern(tab, d->rule_id);
        int kind = record_intern(tab, d->decision);
        int reason = record_intern(tab, d->reason);
        if (rule < 0 || kind < 0 || reason < 0) {
            return AC_ERR_INVALID;
        }
        rc |= ac_wire_put_i64(body, (int64_t)((uint64_t)d->at - (uint64_t)prev));
        prev = d->at;
        rc |= ac_wire_put_u64(body, (uint64_t)rule);
        rc |= ac_wire_put_u64(body, (uint64_t)kind);
        rc |= ac_wire_put_u64(body, (uint64_t)reason);
    }
    return rc ? AC_ERR_NOMEM : 0;
}

int ac_record_encode(const struct ac_record *rec, struct ac_buf *out)
{
    struct ac_record_enc *e = ac_record_enc_new();
    int rc = e ? ac_record_encode_with(e, rec, out) : AC_ERR_NOMEM;
    ac_record_enc_free(e);
    return rc;
}

int ac_record_encode_with(struct ac_record_enc *e, const struct ac_record *rec, struct ac_buf *out)
{
    struct record_strings *tab = &e->tab;
    struct ac_buf *body = &e->body, *timers = &e->timers, *recent = &e->recent;
    unsigned char head[2 + 8] = {AC_RECORD_MAGIC, AC_RECORD_FORMAT};
    int rc = record_enc_reserve(e, rec->timers.n + 1);
    int *trig = e->trig;
    ac_buf_reset(body);
    ac_buf_reset(timers);
    ac_buf_reset(recent);
    if (rc != 0) {
        goto out;
    }
    ac_record_version_bytes(rec->state.version, head + AC_RECORD_VERSION_AT);
    if (ac_buf_append(out, head, sizeof(head)) != 0 || ac_customer_encode(&rec->state, body) != 0 ||
        record_section(out, REC_STATE, body)) {
        rc = AC_ERR_NOMEM;
        goto out;
    }
    if (rec->n_wm > 0) {
        ac_buf_reset(body);
        rc = ac_wire_put_u64(body, (uint64_t)rec->n_wm);
        for (int i = 0; i < rec->n_wm; i++) {
            rc |= ac_wire_put_u64(body, (uint64_t)rec->wm[i].topic);
            rc |= ac_wire_put_i64(body, rec->wm[i].partition);
            rc |= ac_wire_put_i64(body, rec->wm[i].offset);
        }
        rc |= record_section(out, REC_WM, body);
        if (rc) {
            rc = AC_ERR_NOMEM;
            goto out;
        }
    }
    if (rec->n_seen > 0) {
        ac_buf_reset(body);
        rc = ac_wire_put_u64(body, (uint64_t)rec->n_seen);
        for (int i = 0; i < rec->n_seen; i++) {
            unsigned char h[8];
            for (int k = 0; k < 8; k++) {
                h[k] = (unsigned char)(rec->seen[i].hash >> (8 * k));
            }
            rc |= ac_buf_append(body, h, sizeof(h));
            rc |= ac_wire_put_i64(body, rec->seen[i].at);
        }
        rc |= record_section(out, REC_SEEN, body);
        if (rc) {
            rc = AC_ERR_NOMEM;
            goto out;
        }
    }
    /* Timers and the ring intern their strings first; the table is written
     * before them so a reader has it when it reads them. */
    if (rec->timers.n > 0) {
        ac_buf_reset(body);
        if ((rc = record_triggers(e, &rec->timers, body, trig)) != 0 ||
            (rc = record_encode_timers(rec, tab, trig, timers)) != 0) {
            goto out;
        }
    }
    if (rec->n_recent > 0 && (rc = record_encode_recent(rec, tab, recent)) != 0) {
        goto out;
    }
    if (tab->n > 0) {
        struct ac_buf *strs = &e->strs;
        ac_buf_reset(strs);
        rc = ac_wire_put_u64(strs, (uint64_t)tab->n);
        for (int i = 0; i < tab->n; i++) {
            rc |= ac_wire_put_str(strs, tab->s[i]);
        }
        rc |= record_section(out, REC_STRINGS, strs);
        if (rc) {
            rc = AC_ERR_NOMEM;
            goto out;
        }
    }
    if (rec->timers.n > 0 &&
        (record_section(out, REC_TRIGGERS, body) || record_section(out, REC_TIMERS, timers))) {
        rc = AC_ERR_NOMEM;
        goto out;
    }
    if (rec->n_recent > 0 && record_section(out, REC_RECENT, recent)) {
        rc = AC_ERR_NOMEM;
        goto out;
    }
    rc = ac_wire_put_u64(out, REC_END) ? AC_ERR_NOMEM : 0;
out:
    /* empty the table's slots for the next encoding */
    for (int i = 0; i < tab->n; i++) {
        tab->slot[tab->at[i]] = 0;
    }
    tab->n = 0;
    return rc;
}

/* --- decode ---------------------------------------------------------------------------------- */

struct record_dec {
    const char *customer_id;
    const unsigned char *str[REC_STRINGS_MAX];
    size_t strlen[REC_STRINGS_MAX];
    int n_str;
    struct ac_trigger *trig; /* [n_trig] */
    int n_trig;
};

static int record_str(const struct record_dec *d, uint64_t i, char *dst, size_t dstlen)
{
    if (i >= (uint64_t)d->n_str || d->strlen[i] >= dstlen) {
        return AC_ERR_INVALID;
    }
    memcpy(dst, d->str[i], d->strlen[i]);
    dst[d->strlen[i]] = '\0';
    return 0;
}

/* Timers straight into the set's slots: a record's ids are distinct (its
 * writer's set is keyed by id), so no search by id. */
static int record_decode_timers(struct ac_record *rec, const struct record_dec *d,
                                struct ac_wire *r)
{
    uint64_t n = ac_wire_get_u64(r);
    if (r->err || n > AC_TIMERS_MAX) {
        return AC_ERR_INVALID;
    }
    for (uint64_t i = 0; i < n; i++) {
        struct ac_timer *t = ac_timerset_slot(&rec->timers);
        unsigned char raw[16];
        if (!t) {
            return rec->timers.n >= AC_TIMERS_MAX ? AC_ERR_INVALID : AC_ERR_NOMEM;
        }
        uint64_t flags = ac_wire_get_u64(r);
        if (flags & TF_ID) {
            const unsigned char *p = ac_wire_get_raw(r, 16);
            if (!p) {
                return AC_ERR_INVALID;
            }
            memcpy(raw, p, 16);
        }
        int rc = record_str(d, ac_wire_get_u64(r), t->rule_id, sizeof(t->rule_id));
        t->part = (int)ac_wire_get_i64(r);
        uint64_t ti = ac_wire_get_u64(r);
        if (r->err || rc != 0 || ti >= (uint64_t)d->n_trig) {
            return AC_ERR_INVALID;
        }
        t->trigger = d->trig[ti];
        int64_t unit = (flags & TF_SECONDS) ? 1000 : 1;
        int64_t due_d = ac_wire_get_i64(r), first_d = ac_wire_get_i64(r), exp_d = 0;
        if (flags & TF_EXPIRES) {
            exp_d = ac_wire_get_i64(r);
        }
        t->due = (int64_t)((uint64_t)t->trigger.occurred_at + (uint64_t)due_d * (uint64_t)unit);
        t->first_due = (int64_t)((uint64_t)t->due - (uint64_t)first_d * (uint64_t)unit);
        t->expires_at = AC_TS_NONE;
        if (flags & TF_EXPIRES) {
            t->expires_at = (int64_t)((uint64_t)t->first_due + (uint64_t)exp_d * (uint64_t)unit);
        }
        t->seq = (flags & TF_SEQ) ? (int)ac_wire_get_i64(r) : 0;
        t->reason[0] = '\0';
        if (flags & TF_REASON) {
            rc |= record_str(d, ac_wire_get_u64(r), t->reason, sizeof(t->reason));
        }
        if (r->err || rc != 0) {
            return AC_ERR_INVALID;
        }
        if (flags & TF_FAMILY) {
            rc = record_str(d, ac_wire_get_u64(r), t->trigger.family, sizeof(t->trigger.family));
            t->trigger.family_price_cents = ac_wire_get_i64(r);
            if (rc != 0) {
                return AC_ERR_INVALID;
            }
        }
        t->id_derived = !(flags & TF_ID);
        if (flags & TF_ID) {
            record_raw_to_hex(raw, t->id);
        } else {
            record_derived_id(t, t->id);
        }
        t->stored = 1;
        t->change = AC_TIMER_SAME;
        if (r->err) {
            return AC_ERR_INVALID;
        }
        rec->timers.n++;
    }
    return 0;
}

static int record_decode_recent(struct ac_record *rec, const struct record_dec *d,
                                struct ac_wire *r)
{
    uint64_t n = ac_wire_get_u64(r);
    if (r->err || n > AC_RECORD_RECENT_MAX) {
        return AC_ERR_INVALID;
    }
    int64_t prev = 0;
    for (uint64_t i = 0; i < n; i++) {
        struct ac_record_recent *e = &rec->recent[i];
        memset(e, 0, sizeof(*e));
        e->at = (int64_t)((uint64_t)prev + (uint64_t)ac_wire_get_i64(r));
        prev = e->at;
        int rc = record_str(d, ac_wire_get_u64(r), e->rule_id, sizeof(e->rule_id));
        rc |= record_str(d, ac_wire_get_u64(r), e->decision, sizeof(e->decision));
        rc |= record_str(d, ac_wire_get_u64(r), e->reason, sizeof(e->reason));
        if (rc != 0 || r->err) {
            return AC_ERR_INVALID;
        }
    }
    rec->n_recent = (int)n;
    return 0;
}

static int record_decode_section(struct ac_record *rec, struct record_dec *d, uint64_t id,
                                 struct ac_wire *r)
{
    uint64_t n;
    switch (id) {
    case REC_STATE: return ac_customer_decode(&rec->state, d->customer_id, r);
    case REC_WM:
        n = ac_wire_get_u64(r);
        if (r->err || n > AC_RECORD_WM_MAX) {
            return AC_ERR_INVALID;
        }
        for (uint64_t i = 0; i < n; i++) {
            rec->wm[i].topic = (int)ac_wire_get_u64(r);
            rec->wm[i].partition = (int32_t)ac_wire_get_i64(r);
            rec->wm[i].offset = ac_wire_get_i64(r);
        }
        rec->n_wm = (int)n;
        return r->err ? AC_ERR_INVALID : 0;
    case REC_SEEN:
        n = ac_wire_get_u64(r);
        if (r->err || n > AC_RECORD_SEEN_MAX) {
            return AC_ERR_INVALID;
        }
        for (uint64_t i = 0; i < n; i++) {
            const unsigned char *h = ac_wire_get_raw(r, 8);
            uint64_t v = 0;
            for (int k = 7; h && k >= 0; k--) {
                v = (v << 8) | h[k];
            }
            rec->seen[i].hash = v;
            rec->seen[i].at = ac_wire_get_i64(r);
        }
        rec->n_seen = (int)n;
        return r->err ? AC_ERR_INVALID : 0;
    case REC_STRINGS:
        n = ac_wire_get_u64(r);
        if (r->err || n > REC_STRINGS_MAX) {
            return AC_ERR_INVALID;
        }
        for (uint64_t i = 0; i < n; i++) {
            d->str[i] = ac_wire_get_bytes(r, &d->strlen[i]);
        }
        d->n_str = (int)n;
        return r->err ? AC_ERR_INVALID : 0;
    case REC_TRIGGERS:
        n = ac_wire_get_u64(r);
        if (r->err || n > AC_TIMERS_MAX) {
            return AC_ERR_INVALID;
        }
        free(d->trig);
        d->trig = malloc((n ? n : 1) * sizeof(*d->trig));
        if (!d->trig) {
            return AC_ERR_NOMEM;
        }
        for (uint64_t i = 0; i < n; i++) {
            if (ac_trigger_decode(&d->trig[i], r) != 0) {
                return AC_ERR_INVALID;
            }
        }
        d->n_trig = (int)n;
        return 0;
    case REC_TIMERS: return record_decode_timers(rec, d, r);
    case REC_RECENT: return record_decode_recent(rec, d, r);
    default: return 0; /* a newer version's section: skipped by the caller */
    }
}

int ac_record_decode(struct ac_record *rec, const char *customer_id, const void *p, size_t len)
{
    struct ac_wire r;
    struct record_dec *d = NULL;
    int rc = 0;
    ac_record_reset(rec, customer_id);
    if (len == 0) {
        return 0;
    }
    const unsigned char *b = p;
    if (len < 2 + 8 || b[0] != AC_RECORD_MAGIC || b[1] != AC_RECORD_FORMAT) {
        return AC_ERR_INVALID;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | b[AC_RECORD_VERSION_AT + i];
    }
    d = calloc(1, sizeof(*d));
    if (!d) {
        return AC_ERR_NOMEM;
    }
    d->customer_id = customer_id;
    ac_wire_init(&r, b + 10, len - 10);
    for (;;) {
        uint64_t id = ac_wire_get_u64(&r);
        if (r.err) {
            rc = AC_ERR_INVALID;
            break;
        }
        if (id == REC_END) {
            break;
        }
        size_t n = 0;
        const unsigned char *body = ac_wire_get_bytes(&r, &n);
        if (!body) {
            rc = AC_ERR_INVALID;
            break;
        }
        struct ac_wire sub;
        ac_wire_init(&sub, body, n);
        if ((rc = record_decode_section(rec, d, id, &sub)) != 0) {
            break;
        }
    }
    rec->state.version = (int64_t)v;
    if (d) {
        free(d->trig);
        free(d);
    }
    if (rc != 0) {
        ac_record_reset(rec, customer_id);
    }
    return rc;
}

/* --- watermarks, seen ids, recent decisions -----------------------------------------------------
 */

int64_t ac_record_watermark(const struct ac_record *rec, int topic, int32_t partition)
{
    for (int i = 0; i < rec->n_wm; i++) {
        if (rec->wm[i].topic == topic && rec->wm[i].partition == partition) {
            return rec->wm[i].offset;
        }
    }
    return -1;
}

void ac_record_set_watermark(struct ac_record *rec, int topic, int32_t partition, int64_t offset)
{
    int lowest = 0;
    for (int i = 0; i < rec->n_wm; i++) {
        if (rec->wm[i].topic == topic && rec->wm[i].partition == partition) {
            if (offset > rec->wm[i].offset) {
                rec->wm[i].offset = offset;
            }
            return;
        }
        if (rec->wm[i].offset < rec->wm[lowest].offset) {
            lowest = i;
        }
    }
    int i = rec->n_wm;
    if (rec->n_wm == AC_RECORD_WM_MAX) {
        i = lowest; /* a partition long gone; the seen ids still guard it */
        rec->wm_evicted++;
    } else {
        rec->n_wm++;
    }
    rec->wm[i].topic = topic;
    rec->wm[i].partition = partition;
    rec->wm[i].offset = offset;
}

static uint64_t record_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

int ac_record_seen_has(const struct ac_record *rec, const char *event_id)
{
    uint64_t h = record_hash(event_id);
    for (int i = 0; i < rec->n_seen; i++) {
        if (rec->seen[i].hash == h) {
            return 1;
        }
    }
    return 0;
}

void ac_record_seen_add(struct ac_record *rec, const char *event_id, int64_t at)
{
    int64_t newest = at;
    for (int i = 0; i < rec->n_seen; i++) {
        if (rec->seen[i].at > newest) {
            newest = rec->seen[i].at;
        }
    }
    /* forget what is older than the window */
    int k = 0;
    for (int i = 0; i < rec->n_seen; i++) {
        if (rec->seen[i].at >= newest - AC_RECORD_SEEN_WINDOW_MS) {
            rec->seen[k++] = rec->seen[i];
        }
    }
    rec->n_seen = k;
    if (rec->n_seen == AC_RECORD_SEEN_MAX) {
        int oldest = 0;
        for (int i = 1; i < rec->n_seen; i++) {
            if (rec->seen[i].at < rec->seen[oldest].at) {
                oldest = i;
            }
        }
        rec->seen[oldest] = rec->seen[--rec->n_seen];
        rec->seen_evicted++;
    }
    rec->seen[rec->n_seen].hash = record_hash(event_id);
    rec->seen[rec->n_seen].at = at;
    rec->n_seen++;
}

void ac_record_recent_add(struct ac_record *rec, const struct ac_decision *d)
{
    if (rec->n_recent == AC_RECORD_RECENT_MAX) {
        memmove(&rec->recent[0], &rec->recent[1],
                (AC_RECORD_RECENT_MAX - 1) * sizeof(rec->recent[0]));
        rec->n_recent--;
    }
    struct ac_record_recent *e = &rec->recent[rec->n_recent++];
    memset(e, 0, sizeof(*e));
    e->at = d->at;
    ac_str_copy(e->rule_id, sizeof(e->rule_id), d->rule_id);
    ac_str_copy(e->decision, sizeof(e->decision), d->decision);
    ac_str_copy(e->reason, sizeof(e->reason), d->reason);
    ac_str_copy(e->action_id, sizeof(e->action_id), d->action_id);
}
