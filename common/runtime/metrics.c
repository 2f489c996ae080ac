/* metrics.c — the process-wide Prometheus registry.
 *
 * Families keep their series in insertion order (for rendering); a chained
 * hash table keyed by name + labels finds a series in one probe on the hot
 * path. One mutex guards everything: callers add per batch, not per event.
 * The HTTP endpoints live in http.c. */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

/* The default histogram buckets (upper bounds; +Inf follows). */
static const double metrics_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5,   1,      2.5,   5,    10,    30,   60};
#define METRICS_N_BOUNDS (sizeof(metrics_bounds) / sizeof(metrics_bounds[0]))
static const char *const metrics_type_names[] = {"counter", "gauge", "histogram"};

struct metrics_family;

struct metrics_series {
    struct metrics_family *fam;
    char *labels; /* owned; "" when the series has none */
    uint64_t hash;
    struct metrics_series *hnext;
    double value;      /* counter, gauge */
    uint64_t *buckets; /* histogram: fam->n_bounds + 1 counts (+Inf last), not cumulative */
    double sum;
    uint64_t count;
};

struct metrics_family {
    char *name;
    char *help; /* "" until declared */
    enum metrics_type type;
    int declared;
    const double *bounds; /* histogram bucket bounds: metrics_bounds or own_bounds */
    size_t n_bounds;
    double *own_bounds;             /* owned; NULL for the default buckets */
    struct metrics_series **series; /* insertion order */
    size_t n_series;
    size_t cap_series;
};

struct metrics_registry {
    struct metrics_family **fams; /* declaration order */
    size_t n_fams;
    size_t cap_fams;
    struct metrics_series **table; /* hash chains; size is a power of two */
    size_t table_size;
    size_t n_series;
};

static pthread_mutex_t metrics_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_registry metrics_reg;

static uint64_t metrics_hash(const char *name, const char *labels)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h = (h ^ *p) * 1099511628211u;
    }
    h = (h ^ 0xffu) * 1099511628211u; /* separator: no name byte is 0xff */
    for (const unsigned char *p = (const unsigned char *)labels; *p; p++) {
        h = (h ^ *p) * 1099511628211u;
    }
    return h;
}

static int metrics_valid_name(const char *name)
{
    if (!name || !*name) {
        return 0;
    }
    for (const char *p = name; *p; p++) {
        int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':';
        if (!alpha && !(p > name && *p >= '0' && *p <= '9')) {
            return 0;
        }
    }
    return 1;
}

static struct metrics_family *metrics_family_find(const char *name)
{
    for (size_t i = 0; i < metrics_reg.n_fams; i++) {
        if (strcmp(metrics_reg.fams[i]->name, name) == 0) {
            return metrics_reg.fams[i];
        }
    }
    return NULL;
}

static struct metrics_family *metrics_family_new(const char *name, enum metrics_type type,
                                                 const char *help)
{
    struct metrics_family *fam = NULL;
    struct metrics_family *ret = NULL;

    if (metrics_reg.n_fams == metrics_reg.cap_fams) {
        size_t cap = metrics_reg.cap_fams ? metrics_reg.cap_fams * 2 : 16;
        struct metrics_family **f = realloc(metrics_reg.fams, cap * sizeof(*f));
        if (!f) {
            goto out;
        }
        metrics_reg.fams = f;
        metrics_reg.cap_fams = cap;
    }
    fam = calloc(1, sizeof(*fam));
    if (!fam || !(fam->name = strdup(name)) || !(fam->help = strdup(help ? help : ""))) {
        goto out;
    }
    fam->type = type;
    fam->bounds = metrics_bounds;
    fam->n_bounds = METRICS_N_BOUNDS;
    metrics_reg.fams[metrics_reg.n_fams++] = fam;
    ret = fam;
    fam = NULL;

out:
    if (fam) {
        free(fam->name);
        free(fam->help);
        free(fam);
    }
    return ret;
}

static struct metrics_series *metrics_series_find(const char *name, const char *labels,
                                                  uint64_t hash)
{
    if (metrics_reg.table_size == 0) {
        return NULL;
    }
    struct metrics_series *s = metrics_reg.table[hash & (metrics_reg.table_size - 1)];
    for (; s; s = s->hnext) {
        if (s->hash == hash && strcmp(s->labels, labels) == 0 && strcmp(s->fam->name, name) == 0) {
            return s;
        }
    }
    return NULL;
}

static int metrics_table_grow(void)
{
    size_t size = metrics_reg.table_size ? metrics_reg.table_size * 2 : 64;
    struct metrics_series **table = calloc(size, sizeof(*table));
    if (!table) {
        return AC_ERR_NOMEM;
    }
    for (size_t i = 0; i < metrics_reg.table_size; i++) {
        struct metrics_series *s = metrics_reg.table[i];
        while (s) {
            struct metrics_series *next = s->hnext;
            size_t b = s->hash & (size - 1);
            s->hnext = table[b];
            table[b] = s;
            s = next;
        }
    }
    free(metrics_reg.table);
    metrics_reg.table = table;
    metrics_reg.table_size = size;
    return 0;
}

static void metrics_series_free(struct metrics_series *s)
{
    if (s) {
        free(s->labels);
        free(s->buckets);
        free(s);
    }
}

/* Finds or creates the series; the family is created as `type` if unknown.
 * Returns NULL if the family has an incompatible type or memory ran out. */
static struct metrics_series *metrics_series_get(const char *name, const char *labels,
                                                 enum metrics_type type)
{
    struct metrics_series *s = NULL;
    struct metrics_series *ret = NULL;
    struct metrics_family *fam;

    if (!labels) {
        labels = "";
    }
    uint64_t hash = metrics_hash(name, labels);
    ret = metrics_series_find(name, labels, hash);
    if (ret) {
        if ((ret->fam->type == METRICS_HISTOGRAM) != (type == METRICS_HISTOGRAM)) {
            ret = NULL;
        }
        goto out;
    }
    fam = metrics_family_find(name);
    if (!fam) {
        if (!metrics_valid_name(name) || !(fam = metrics_family_new(name, type, ""))) {
            goto out;
        }
    }
    if ((fam->type == METRICS_HISTOGRAM) != (type == METRICS_HISTOGRAM)) {
        goto out;
    }
    if (metrics_reg.n_series >= metrics_reg.table_size && metrics_table_grow() != 0) {
        goto out;
    }
    if (fam->n_series == fam->cap_series) {
        size_t cap = fam->cap_series ? fam->cap_series * 2 : 8;
        struct metrics_series **v = realloc(fam->series, cap * sizeof(*v));
        if (!v) {
            goto out;
        }
        fam->series = v;
        fam->cap_series = cap;
    }
    s = calloc(1, sizeof(*s));
    if (!s || !(s->labels = strdup(labels))) {
        goto out;
    }
    if (fam->type == METRICS_HISTOGRAM &&
        !(s->buckets = calloc(fam->n_bounds + 1, sizeof(*s->buckets)))) {
        goto out;
    }
    s->fam = fam;
    s->hash = hash;
    size_t b = hash & (metrics_reg.table_size - 1);
    s->hnext = metrics_reg.table[b];
    metrics_reg.table[b] = s;
    metrics_reg.n_series++;
    fam->series[fam->n_series++] = s;
    ret = s;
    s = NULL;

out:
    metrics_series_free(s);
    return ret;
}

static int metrics_type_from_name(const char *type, enum metrics_type *out)
{
    for (size_t i = 0; i < sizeof(metrics_type_names) / sizeof(metrics_type_names[0]); i++) {
        if (type && strcmp(type, metrics_type_names[i]) == 0) {
            *out = (enum metrics_type)i;
            return 0;
        }
    }
    return AC_ERR_INVALID;
}

/* 1 if the family's histogram buckets are bounds[n]. */
static int metrics_same_bounds(const struct metrics_family *fam, const double *bounds, size_t n)
{
    if (fam->n_bounds != n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (fam->bounds[i] < bounds[i] || fam->bounds[i] > bounds[i]) {
            return 0;
        }
    }
    return 1;
}

/* Gives a histogram family its own buckets; only before it has series. */
static int metrics_set_bounds(struct metrics_family *fam, const double *bounds, size_t n)
{
    if (metrics_same_bounds(fam, bounds, n)) {
        return 0;
    }
    if (fam->n_series > 0) {
        return AC_ERR_INVALID;
    }
    double *own = malloc(n * sizeof(*own));
    if (!own) {
        return AC_ERR_NOMEM;
    }
    memcpy(own, bounds, n * sizeof(*own));
    free(fam->own_bounds);
    fam->own_bounds = own;
    fam->bounds = own;
    fam->n_bounds = n;
    return 0;
}

/* Declares a family; bounds (histograms only) NULL keeps the buckets it has. */
static int metrics_declare(const char *name, enum metrics_type t, const char *help,
                           const double *bounds, size_t n_bounds)
{
    int rc = 0;

    if (!help) {
        help = "";
    }
    pthread_mutex_lock(&metrics_mutex);
    struct metrics_family *fam = metrics_family_find(name);
    if (!fam) {
        fam = metrics_family_new(name, t, help);
        if (!fam) {
            rc = AC_ERR_NOMEM;
            goto out;
        }
    } else if (fam->type != t || (fam->declared && strcmp(fam->help, help) != 0)) {
        rc = AC_ERR_INVALID;
        goto out;
    }
    if (bounds && (rc = metrics_set_bounds(fam, bounds, n_bounds)) != 0) {
        goto out;
    }
    if (!fam->declared) {
        char *h = strdup(help);
        if (!h) {
            rc = AC_ERR_NOMEM;
            goto out;
        }
        free(fam->help);
        fam->help = h;
    }
    fam->declared = 1;

out:
    pthread_mutex_unlock(&metrics_mutex);
    return rc;
}

int ac_metrics_declare(const char *name, const char *type, const char *help)
{
    enum metrics_type t;

    if (!metrics_valid_name(name) || metrics_type_from_name(type, &t) != 0) {
        return AC_ERR_INVALID;
    }
    return metrics_declare(name, t, help, NULL, 0);
}

int ac_metrics_declare_histogram(const char *name, const char *help, const double *bounds, size_t n)
{
    if (!metrics_valid_name(name) || !bounds || n == 0 || n > AC_METRICS_MAX_BOUNDS) {
        return AC_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
            return AC_ERR_INVALID;
        }
    }
    return metrics_declare(name, METRICS_HISTOGRAM, help, bounds, n);
}

void ac_metrics_add(const char *name, const char *labels, double v)
{
    pthread_mutex_lock(&metrics_mutex);
    struct metrics_series *s = metrics_series_get(name, labels, METRICS_COUNTER);
    if (s) {
        s->value += v;
    }
    pthread_mutex_unlock(&metrics_mutex);
}

void ac_metrics_set(const char *name, const char *labels, double v)
{
    pthread_mutex_lock(&metrics_mutex);
    struct metrics_series *s = metrics_series_get(name, labels, METRICS_GAUGE);
    if (s) {
        s->value = v;
    }
    pthread_mutex_unlock(&metrics_mutex);
}

static void metrics_observe_one(struct metrics_series *s, double v)
{
    const struct metrics_family *fam = s->fam;
    size_t b = 0;
    if (isnan(v)) {
        return;
    }
    while (b < fam->n_bounds && v > fam->bounds[b]) {
        b++;
    }
    s->buckets[b]++;
    s->sum += v;
    s->count++;
}

void ac_metrics_observe(const char *name, const char *labels, double seconds)
{
    ac_metrics_observe_many(name, labels, &seconds, 1);
}

void ac_metrics_observe_many(const char *name, const char *labels, const double *values, size_t n)
{
    pthread_mutex_lock(&metrics_mutex);
    struct metrics_series *s = metrics_series_get(name, labels, METRICS_HISTOGRAM);
    for (size_t i = 0; s && i < n; i++) {
        metrics_observe_one(s, values[i]);
    }
    pthread_mutex_unlock(&metrics_mutex);
}

void ac_metrics_clear(const char *name)
{
    pthread_mutex_lock(&metrics_mutex);
    struct metrics_family *fam = metrics_family_find(name);
    if (!fam) {
        goto out;
    }
    for (size_t i = 0; i < fam->n_series; i++) {
        struct metrics_series *s = fam->series[i];
        struct metrics_series **pp = &metrics_reg.table[s->hash & (metrics_reg.table_size - 1)];
        while (*pp != s) {
            pp = &(*pp)->hnext;
        }
        *pp = s->hnext;
        metrics_series_free(s);
        metrics_reg.n_series--;
    }
    fam->n_series = 0;

out:
    pthread_mutex_unlock(&metrics_mutex);
}

double ac_metrics_get(const char *name, const char *labels)
{
    double v = 0.0;
    if (!labels) {
        labels = "";
    }
    pthread_mutex_lock(&metrics_mutex);
    struct metrics_series *s = metrics_series_find(name, labels, metrics_hash(name, labels));
    if (s) {
        v = s->fam->type == METRICS_HISTOGRAM ? (double)s->count : s->value;
    }
    pthread_mutex_unlock(&metrics_mutex);
    return v;
}

/* Shortest text that reads back as v; Prometheus spellings for NaN/Inf. */
static void metrics_fmt_double(char *out, size_t outlen, double v)
{
    if (isnan(v)) {
        snprintf(out, outlen, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, outlen, "%sInf", v > 0 ? "+" : "-");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, outlen, "%.*g", prec, v);
        double back = strtod(out, NULL);
        if (!(back < v) && !(back > v)) {
            return;
        }
    }
}

static int metrics_render_help(struct ac_buf *b, const struct metrics_family *fam)
{
    int rc = ac_buf_printf(b, "# HELP %s ", fam->name);
    for (const char *p = fam->help; *p && rc == 0; p++) {
        if (*p == '\\') {
            rc = ac_buf_append(b, "\\\\", 2);
        } else if (*p == '\n') {
            rc = ac_buf_append(b, "\\n", 2);
        } else {
            rc = ac_buf_append(b, p, 1);
        }
    }
    return rc == 0 ? ac_buf_append(b, "\n", 1) : rc;
}

static int metrics_render_series(struct ac_buf *b, const struct metrics_family *fam,
                                 const struct metrics_series *s)
{
    char num[64];
    int rc = 0;
    const char *l = s->labels;
    const char *open = *l ? "{" : "";
    const char *close = *l ? "}" : "";

    if (fam->type != METRICS_HISTOGRAM) {
        metrics_fmt_double(num, sizeof(num), s->value);
        return ac_buf_printf(b, "%s%s%s%s %s\n", fam->name, open, l, close, num);
    }
    uint64_t cum = 0;
    for (size_t i = 0; i <= fam->n_bounds && rc == 0; i++) {
        char le[64];
        if (i < fam->n_bounds) {
            metrics_fmt_double(le, sizeof(le), fam->bounds[i]);
        } else {
            snprintf(le, sizeof(le), "+Inf");
        }
        cum += s->buckets[i];
        rc = ac_buf_printf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", fam->name, l, *l ? "," : "", le,
                           (unsigned long long)cum);
    }
    metrics_fmt_double(num, sizeof(num), s->sum);
    if (rc == 0) {
        rc = ac_buf_printf(b, "%s_sum%s%s%s %s\n", fam->name, open, l, close, num);
    }
    if (rc == 0) {
        rc = ac_buf_printf(b, "%s_count%s%s%s %llu\n", fam->name, open, l, close,
                           (unsigned long long)s->count);
    }
    return rc;
}

char *ac_metrics_render(void)
{
    struct ac_buf b;
    int rc = 0;

    ac_buf_init(&b);
    pthread_mutex_lock(&metrics_mutex);
    for (size_t i = 0; i < metrics_reg.n_fams && rc == 0; i++) {
        const struct metrics_family *fam = metrics_reg.fams[i];
        if (fam->help[0]) {
            rc = metrics_render_help(&b, fam);
        }
        if (rc == 0) {
            rc = ac_buf_printf(&b, "# TYPE %s %s\n", fam->name, metrics_type_names[fam->type]);
        }
        for (size_t j = 0; j < fam->n_series && rc == 0; j++) {
            rc = metrics_render_series(&b, fam, fam->series[j]);
        }
    }
    pthread_mutex_unlock(&metrics_mutex);
    if (rc == 0 && !b.data) {
        rc = ac_buf_append(&b, "", 0);
    }
    if (rc != 0) {
        ac_buf_fini(&b);
        return NULL;
    }
    return b.data; /* ownership passes to the caller */
}

void ac_metrics_reset(void)
{
    pthread_mutex_lock(&metrics_mutex);
    for (size_t i = 0; i < metrics_reg.n_fams; i++) {
        struct metrics_family *fam = metrics_reg.fams[i];
        for (size_t j = 0; j < fam->n_series; j++) {
            metrics_series_free(fam->series[j]);
        }
        free(fam->series);
        free(fam->name);
        free(fam->help);
        free(fam->own_bounds);
        free(fam);
    }
    free(metrics_reg.fams);
    free(metrics_reg.table);
    memset(&metrics_reg, 0, sizeof(metrics_reg));
    pthread_mutex_unlock(&metrics_mutex);
}
