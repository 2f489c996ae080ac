/* customer.c — the customer state's field table and its hash form. */
#include "customer.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "wire.h"

enum customer_ftype { CF_I64, CF_TS, CF_STR };

struct customer_field {
    const char *name; /* field name in the Redis hash */
    enum customer_ftype type;
    size_t offset;
    size_t size; /* for CF_STR */
};

#define CF(name, type, member)                                                                     \
    {                                                                                              \
        name, type, offsetof(struct ac_customer, member),                                          \
            sizeof(((struct ac_customer *)0)->member)                                              \
    }

/* Hash field names are short: they are stored once per customer. */
static const struct customer_field customer_fields[] = {
    CF("o.first", CF_TS, first_order_at),
    CF("o.last", CF_TS, last_order_at),
    CF("o.count", CF_I64, order_count),
    CF("o.rev", CF_I64, revenue_cents),
    CF("o.fam", CF_STR, families),
    CF("o.carts", CF_I64, open_carts),
    CF("o.cancel", CF_I64, cancelled_orders),
    CF("o.ret", CF_I64, returns),
    CF("o.refund", CF_I64, refunded_cents),
    CF("o.renew", CF_TS, renewal_at),
    CF("o.contract", CF_TS, contract_signed_at),
    CF("o.sub", CF_STR, subscription),
    CF("o.owner", CF_STR, account_owner),
    CF("seg", CF_STR, segment),
    CF("d.flight", CF_I64, deliveries_in_flight),
    CF("d.late", CF_I64, late_deliveries),
    CF("f.score", CF_I64, last_score),
    CF("f.nps", CF_STR, nps_class),
    CF("f.survey", CF_TS, last_survey_at),
    CF("f.tickets", CF_I64, open_tickets),
    CF("f.complaints", CF_I64, open_complaints),
    CF("u.active", CF_TS, last_activity_at),
    CF("u.trend", CF_STR, usage_trend),
    CF("u.onboarded", CF_I64, onboarding_completed),
    CF("u.miles", CF_STR, milestones),
    CF("s.churn", CF_STR, churn_risk),
    CF("s.palive", CF_I64, p_alive_pct),
    CF("p.consent", CF_STR, consents),
    CF("p.channel", CF_STR, preferred_channel),
    CF("p.tz", CF_STR, timezone),
    CF("p.more", CF_I64, frequency_opt_in),
    CF("x.sends", CF_STR, sends),
    CF("x.exp", CF_STR, experiments),
    CF("f.tix", CF_STR, tickets),
    CF("x.cool", CF_STR, cooloffs),
};

#define CUSTOMER_NFIELDS (sizeof(customer_fields) / sizeof(customer_fields[0]))

void ac_customer_init(struct ac_customer *c, const char *customer_id)
{
    memset(c, 0, sizeof(*c));
    ac_customer_init_zeroed(c, customer_id);
}

void ac_customer_init_zeroed(struct ac_customer *c, const char *customer_id)
{
    ac_str_copy(c->customer_id, sizeof(c->customer_id), customer_id);
    c->first_order_at = AC_TS_NONE;
    c->last_order_at = AC_TS_NONE;
    c->renewal_at = AC_TS_NONE;
    c->contract_signed_at = AC_TS_NONE;
    c->last_score = -1;
    c->last_survey_at = AC_TS_NONE;
    c->last_activity_at = AC_TS_NONE;
    c->p_alive_pct = -1;
    ac_str_copy(c->segment, sizeof(c->segment), "new");
}

int64_t ac_customer_aov_cents(const struct ac_customer *c)
{
    return c->order_count > 0 ? c->revenue_cents / c->order_count : 0;
}

int ac_customer_has_family(const struct ac_customer *c, const char *family)
{
    size_t n = strlen(family);
    if (n == 0) {
        return 0;
    }
    for (const char *p = c->families; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, family, n) == 0) {
            return 1;
        }
        if (!end) {
            break;
        }
        p = end + 1;
    }
    return 0;
}

int ac_customer_add_family(struct ac_customer *c, const char *family)
{
    if (family[0] == '\0' || strchr(family, ',') || ac_customer_has_family(c, family)) {
        return 0;
    }
    size_t used = strlen(c->families);
    size_t n = strlen(family);
    size_t need = used + (used ? 1 : 0) + n + 1;
    if (need > sizeof(c->families)) {
        return AC_ERR_INVALID;
    }
    if (used) {
        c->families[used++] = ',';
    }
    memcpy(c->families + used, family, n + 1);
    return 0;
}

/* The answer for name in the consents ('1', '0', 'u'), or 0 if none. */
static char customer_answer(const struct ac_customer *c, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = c->consents; *p;) {
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            return p[n + 1];
        }
        const char *comma = strchr(p, ',');
        if (!comma) {
            break;
        }
        p = comma + 1;
    }
    return 0;
}

int ac_customer_consented(const struct ac_customer *c, const char *channel,
                          enum ac_category category, unsigned unsub_categories)
{
    char a = customer_answer(c, channel);
    if (a == 0) {
        a = customer_answer(c, "*");
    }
    if (a == '0') {
        return 0;
    }
    if (a == 'u') {
        return category == AC_CAT_TRANSACTIONAL || !(unsub_categories & (1u << category));
    }
    return 1;
}

static int customer_parse_i64(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        return AC_ERR_INVALID;
    }
    *out = (int64_t)v;
    return 0;
}

int ac_customer_parse_field(struct ac_customer *c, const char *name, const char *value)
{
    if (strcmp(name, "v") == 0) {
        return customer_parse_i64(value, &c->version);
    }
    for (size_t i = 0; i < CUSTOMER_NFIELDS; i++) {
        const struct customer_field *f = &customer_fields[i];
        if (strcmp(f->name, name) != 0) {
            continue;
        }
        char *p = (char *)c + f->offset;
        if (f->type == CF_STR) {
            size_t n = strlen(value);
            if (n >= f->size) {
                return AC_ERR_INVALID;
            }
            memcpy(p, value, n + 1);
            return 0;
        }
        if (f->type == CF_TS && value[0] == '\0') {
            *(int64_t *)(void *)p = AC_TS_NONE;
            return 0;
        }
        return customer_parse_i64(value, (int64_t *)(void *)p);
    }
    return 0;
}

static void customer_format(const struct customer_field *f, const struct ac_customer *c, char *out,
                            size_t outlen)
{
    const char *p = (const char *)c + f->offset;
    if (f->type == CF_STR) {
        ac_str_copy(out, outlen, p);
        return;
    }
    int64_t v = *(const int64_t *)(const void *)p;
    if (f->type == CF_TS && v == AC_TS_NONE) {
        out[0] = '\0';
        return;
    }
    snprintf(out, outlen, "%lld", (long long)v);
}

int ac_customer_diff(const struct ac_customer *before, const struct ac_customer *after,
                     struct ac_buf *out)
{
    int n = 0;
    char a[AC_FAMILIES_MAX], b[AC_FAMILIES_MAX];
    for (size_t i = 0; i < CUSTOMER_NFIELDS; i++) {
        const struct customer_field *f = &customer_fields[i];
        customer_format(f, before, a, sizeof(a));
        customer_format(f, after, b, sizeof(b));
        if (strcmp(a, b) == 0) {
            continue;
        }
        if (ac_buf_append(out, f->name, strlen(f->name) + 1) != 0 ||
            ac_buf_append(out, b, strlen(b) + 1) != 0) {
            return AC_ERR_NOMEM;
        }
        n++;
    }
    return n;
}

int ac_customer_to_json(const struct ac_customer *c, struct ac_buf *out)
{
    char v[AC_FAMILIES_MAX];
    int rc = ac_buf_append(out, "{\"customer_id\":", 15);
    rc |= ac_buf_json_str(out, c->customer_id);
    rc |= ac_buf_printf(out, ",\"v\":%lld,\"aov_cents\":%lld", (long long)c->version,
                        (long long)ac_customer_aov_cents(c));
    for (size_t i = 0; i < CUSTOMER_NFIELDS; i++) {
        const struct customer_field *f = &customer_fields[i];
        customer_format(f, c, v, sizeof(v));
        rc |= ac_buf_append(out, ",", 1);
        rc |= ac_buf_json_str(out, f->name);
        rc |= ac_buf_append(out, ":", 1);
        if (f->type == CF_STR || v[0] == '\0') {
            rc |= f->type == CF_STR ? ac_buf_json_str(out, v) : ac_buf_append(out, "null", 4);
        } else {
            rc |= ac_buf_append(out, v, strlen(v));
        }
    }
    rc |= ac_buf_append(out, "}", 1);
    return rc ? AC_ERR_NOMEM : 0;
}

/* --- compact encoding ------------------------------------------------------------------------ */

/* Key of a field: (table index + 1) << 1 | 1 for a string. The table is
 * append-only, so a key always means the same field; the low bit lets a
 * reader skip a field a newer version added. */
int ac_customer_encode(const struct ac_customer *c, struct ac_buf *out)
{
    struct ac_customer def;
    int rc = 0;
    ac_customer_init(&def, "");
    for (size_t i = 0; i < CUSTOMER_NFIELDS && rc == 0; i++) {
        const struct customer_field *f = &customer_fields[i];
        const char *p = (const char *)c + f->offset;
        const char *d = (const char *)&def + f->offset;
        uint64_t key = (uint64_t)(i + 1) << 1;
        if (f->type == CF_STR) {
            if (strcmp(p, d) != 0) {
                rc |= ac_wire_put_u64(out, key | 1);
                rc |= ac_wire_put_str(out, p);
            }
        } else {
            int64_t v = *(const int64_t *)(const void *)p;
            if (v != *(const int64_t *)(const void *)d) {
                rc |= ac_wire_put_u64(out, key);
                rc |= ac_wire_put_i64(out, v);
            }
        }
    }
    rc |= ac_wire_put_u64(out, 0);
    return rc ? AC_ERR_NOMEM : 0;
}

int ac_customer_decode(struct ac_customer *c, const char *customer_id, struct ac_wire *r)
{
    ac_customer_init(c, customer_id);
    for (;;) {
        uint64_t key = ac_wire_get_u64(r);
        if (r->err) {
            return AC_ERR_INVALID;
        }
        if (key == 0) {
            return 0;
        }
        uint64_t i = (key >> 1) - 1;
        int is_str = (int)(key & 1);
        if (i >= CUSTOMER_NFIELDS) {
            size_t n;
            if (is_str) {
                (void)ac_wire_get_bytes(r, &n); /* a newer version's field */
            } else {
                (void)ac_wire_get_u64(r);
            }
            continue;
        }
        const struct customer_field *f = &customer_fields[i];
        char *p = (char *)c + f->offset;
        if (is_str != (f->type == CF_STR)) {
            return AC_ERR_INVALID;
        }
        if (is_str) {
            ac_wire_get_str(r, p, f->size);
        } else {
            int64_t v = ac_wire_get_i64(r);
            memcpy(p, &v, sizeof(v));
        }
    }
}

int ac_customer_field(const struct ac_customer *c, const char *name, char *out, size_t outlen)
{
    if (strcmp(name, "v") == 0) {
        snprintf(out, outlen, "%lld", (long long)c->version);
        return 0;
    }
    for (size_t i = 0; i < CUSTOMER_NFIELDS; i++) {
        if (strcmp(customer_fields[i].name, name) == 0) {
            customer_format(&customer_fields[i], c, out, outlen);
            return 0;
        }
    }
    return AC_ERR_NOTFOUND;
}
