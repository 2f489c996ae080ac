/* playbook_yaml.c — YAML node helpers for the playbook loader: typed
 * scalars with their positions, mappings with known keys, durations, times
 * of day, did-you-mean, and the arena every loaded value lives in. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "playbook_int.h"

#define YAML_CHUNK_MIN 8192

/* --- arena ----------------------------------------------------------------------------------- */

void *playbook_alloc(struct playbook_loader *ld, size_t size)
{
    struct ac_playbook *pb = ld->pb;
    size_t align = sizeof(max_align_t);
    size = (size + align - 1) / align * align;
    if (size == 0) {
        size = align;
    }
    struct playbook_chunk *c = pb->arena;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > YAML_CHUNK_MIN ? size : YAML_CHUNK_MIN;
        c = calloc(1, sizeof(*c) + cap);
        if (!c) {
            ld->oom = 1;
            return NULL;
        }
        c->cap = cap;
        c->next = pb->arena;
        pb->arena = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    return p;
}

const char *playbook_strdup(struct playbook_loader *ld, const char *s)
{
    size_t n = strlen(s);
    char *p = playbook_alloc(ld, n + 1);
    if (p) {
        memcpy(p, s, n + 1);
    }
    return p;
}

/* --- errors ---------------------------------------------------------------------------------- */

void playbook_verror_at(struct playbook_loader *ld, int line, int column, const char *fmt,
                        va_list ap)
{
    if (ld->n_diags >= PLAYBOOK_MAX_ERRORS) {
        return;
    }
    if (ld->n_diags == ld->cap_diags) {
        size_t cap = ld->cap_diags ? 2 * ld->cap_diags : 16;
        struct playbook_diag *d = realloc(ld->diags, cap * sizeof(*d));
        if (!d) {
            ld->oom = 1;
            return;
        }
        ld->diags = d;
        ld->cap_diags = cap;
    }
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    char *copy = strdup(msg);
    if (!copy) {
        ld->oom = 1;
        return;
    }
    struct playbook_diag *d = &ld->diags[ld->n_diags];
    d->line = line;
    d->column = column;
    d->seq = ld->n_diags;
    d->message = copy;
    ld->n_diags++;
}

void playbook_error_at(struct playbook_loader *ld, int line, int column, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    playbook_verror_at(ld, line, column, fmt, ap);
    va_end(ap);
}

int playbook_line(const yaml_node_t *node)
{
    return node ? (int)node->start_mark.line + 1 : 1;
}

int playbook_column(const yaml_node_t *node)
{
    return node ? (int)node->start_mark.column + 1 : 1;
}

void playbook_error(struct playbook_loader *ld, const yaml_node_t *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    playbook_verror_at(ld, playbook_line(node), playbook_column(node), fmt, ap);
    va_end(ap);
}

/* --- nodes ----------------------------------------------------------------------------------- */

const yaml_node_t *playbook_node(struct playbook_loader *ld, yaml_node_item_t item)
{
    return yaml_document_get_node(&ld->doc, item);
}

const char *playbook_scalar(struct playbook_loader *ld, const yaml_node_t *node, const char *what)
{
    if (!node || node->type != YAML_SCALAR_NODE) {
        playbook_error(ld, node, "%s must be a single value, not a %s", what,
                       node && node->type == YAML_MAPPING_NODE ? "mapping" : "list");
        return NULL;
    }
    return (const char *)node->data.scalar.value;
}

int playbook_map(struct playbook_loader *ld, const yaml_node_t *node, const char *what,
                 const char *const *keys, size_t n, const yaml_node_t **values,
                 const yaml_node_t **key_nodes)
{
    for (size_t i = 0; i < n; i++) {
        values[i] = NULL;
        if (key_nodes) {
            key_nodes[i] = NULL;
        }
    }
    if (!node || node->type != YAML_MAPPING_NODE) {
        playbook_error(ld, node, "%s must be a mapping of keys to values", what);
        return -1;
    }
    const yaml_node_t *firsts[64] = {0};
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = playbook_node(ld, p->key);
        const yaml_node_t *v = playbook_node(ld, p->value);
        if (!k || k->type != YAML_SCALAR_NODE) {
            playbook_error(ld, k, "keys of %s must be names", what);
            continue;
        }
        const char *name = (const char *)k->data.scalar.value;
        int i = playbook_lookup(name, keys, n);
        if (i < 0) {
            char dym[96];
            playbook_error(ld, k, "unknown key '%s' in %s%s", name, what,
                           playbook_did_you_mean(name, keys, n, dym, sizeof(dym)));
            continue;
        }
        if (values[i]) {
            playbook_error(ld, k, "duplicate key '%s' in %s (first set on line %d)", name, what,
                           (size_t)i < 64 && firsts[i] ? playbook_line(firsts[i]) : 0);
            continue;
        }
        values[i] = v;
        if ((size_t)i < 64) {
            firsts[i] = k;
        }
        if (key_nodes) {
            key_nodes[i] = k;
        }
    }
    return 0;
}

long playbook_list(struct playbook_loader *ld, const yaml_node_t *node, const char *what,
                   int scalar_ok)
{
    if (node && node->type == YAML_SEQUENCE_NODE) {
        return (long)(node->data.sequence.items.top - node->data.sequence.items.start);
    }
    if (node && node->type != YAML_SEQUENCE_NODE && scalar_ok) {
        return 1; /* a single item */
    }
    playbook_error(ld, node, "%s must be a list%s", what, scalar_ok ? " or a single value" : "");
    return -1;
}

const yaml_node_t *playbook_list_at(struct playbook_loader *ld, const yaml_node_t *node, long i)
{
    if (node->type != YAML_SEQUENCE_NODE) {
        return node;
    }
    return playbook_node(ld, node->data.sequence.items.start[i]);
}

/* --- typed scalars --------------------------------------------------------------------------- */

int ac_playbook_duration_parse(const char *s, int allow_negative, int64_t *ms, char *why,
                               size_t whylen)
{
    static const struct {
        char unit;
        int64_t ms;
    } units[] = {
        {'s', 1000LL},       {'m', AC_PB_MINUTE_MS},  {'h', AC_PB_HOUR_MS},
        {'d', AC_PB_DAY_MS}, {'w', 7 * AC_PB_DAY_MS}, {'y', AC_PB_YEAR_MS},
    };
    const char *p = s;
    int neg = 0;
    if (*p == '-') {
        if (!allow_negative) {
            snprintf(why, whylen, "must not be negative");
            return AC_ERR_INVALID;
        }
        neg = 1;
        p++;
    }
    if (strcmp(p, "0") == 0) {
        *ms = 0;
        return 0;
    }
    if (*p < '0' || *p > '9') {
        snprintf(why, whylen, "expected a number and a unit (15m, 24h, 7d, 1y)");
        return AC_ERR_INVALID;
    }
    errno = 0;
    char *end = NULL;
    long long n = strtoll(p, &end, 10);
    if (end == p || errno == ERANGE) {
        snprintf(why, whylen, "number out of range");
        return AC_ERR_INVALID;
    }
    if (*end == '\0') {
        snprintf(why, whylen, "missing unit (s, m, h, d, w or y)");
        return AC_ERR_INVALID;
    }
    size_t u = 0;
    while (u < sizeof(units) / sizeof(units[0]) && units[u].unit != *end) {
        u++;
    }
    if (u == sizeof(units) / sizeof(units[0]) || end[1] != '\0') {
        snprintf(why, whylen, "unknown unit '%s' (use s, m, h, d, w or y)", end);
        return AC_ERR_INVALID;
    }
    if (n > AC_PB_DURATION_MAX / units[u].ms) {
        snprintf(why, whylen, "out of range (at most 100y)");
        return AC_ERR_INVALID;
    }
    *ms = (neg ? -1 : 1) * (int64_t)n * units[u].ms;
    return 0;
}

int playbook_duration(struct playbook_loader *ld, const yaml_node_t *node, const char *what,
                      int allow_negative, int64_t *ms)
{
    const char *s = playbook_scalar(ld, node, what);
    if (!s) {
        return -1;
    }
    char why[128];
    if (ac_playbook_duration_parse(s, allow_negative, ms, why, sizeof(why)) != 0) {
        playbook_error(ld, node, "bad duration '%s' for %s: %s", s, what, why);
        return -1;
    }
    return 0;
}

int playbook_int(struct playbook_loader *ld, const yaml_node_t *node, const char *what, int64_t min,
                 int64_t max, int64_t *out)
{
    const char *s = playbook_scalar(ld, node, what);
    if (!s) {
        return -1;
    }
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE) {
        playbook_error(ld, node, "%s must be an integer, not '%s'", what, s);
        return -1;
    }
    if (v < min || v > max) {
        playbook_error(ld, node, "%s must be between %lld and %lld, not %lld", what, (long long)min,
                       (long long)max, v);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

int playbook_bool(struct playbook_loader *ld, const yaml_node_t *node, const char *what, int *out)
{
    const char *s = playbook_scalar(ld, node, what);
    if (!s) {
        return -1;
    }
    if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0) {
        *out = 1;
    } else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0) {
        *out = 0;
    } else {
        playbook_error(ld, node, "%s must be true or false, not '%s'", what, s);
        return -1;
    }
    return 0;
}

int playbook_time_of_day(struct playbook_loader *ld, const yaml_node_t *node, const char *what,
                         int *minutes)
{
    const char *s = playbook_scalar(ld, node, what);
    if (!s) {
        return -1;
    }
    /* HH:MM, 00:00 .. 24:00 (24:00 = end of the day) */
    if (strlen(s) == 5 && s[2] == ':' && s[0] >= '0' && s[0] <= '2' && s[1] >= '0' && s[1] <= '9' &&
        s[3] >= '0' && s[3] <= '5' && s[4] >= '0' && s[4] <= '9') {
        int h = (s[0] - '0') * 10 + (s[1] - '0');
        int m = (s[3] - '0') * 10 + (s[4] - '0');
        if (h < 24 || (h == 24 && m == 0)) {
            *minutes = h * 60 + m;
            return 0;
        }
    }
    playbook_error(ld, node, "bad time of day '%s' for %s: expected HH:MM (00:00 to 24:00)", s,
                   what);
    return -1;
}

const char *playbook_ident(struct playbook_loader *ld, const yaml_node_t *node, const char *what)
{
    const char *s = playbook_scalar(ld, node, what);
    if (!s) {
        return NULL;
    }
    int ok = s[0] >= 'a' && s[0] <= 'z' && strlen(s) < AC_NAME_MAX;
    for (const char *p = s; ok && *p; p++) {
        ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
    }
    if (!ok) {
        playbook_error(ld, node,
                       "bad %s '%s': use lower-case letters, digits and '_', starting with a "
                       "letter (at most %d characters)",
                       what, s, AC_NAME_MAX - 1);
        return NULL;
    }
    return playbook_strdup(ld, s);
}

/* --- did you mean ---------------------------------------------------------------------------- */

static size_t yaml_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) {
        return SIZE_MAX;
    }
    size_t row[64];
    for (size_t j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);
            if (up + 1 < best) {
                best = up + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

const char *playbook_suggest(const char *word, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    size_t len = strlen(word);
    for (size_t i = 0; i < n; i++) {
        if (!cands[i]) {
            continue;
        }
        size_t d = yaml_distance(word, cands[i]);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    if (best && best_d <= 2 && best_d * 2 < (len > 1 ? len : 2)) {
        return best;
    }
    return NULL;
}

const char *playbook_did_you_mean(const char *word, const char *const *cands, size_t n, char *buf,
                                  size_t len)
{
    const char *s = playbook_suggest(word, cands, n);
    if (s) {
        snprintf(buf, len, " (did you mean '%s'?)", s);
    } else {
        buf[0] = '\0';
    }
    return buf;
}
