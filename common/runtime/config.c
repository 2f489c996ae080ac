/* config.c — table-driven configuration: defaults, file, environment.
 *
 * Every table key gets an item holding its current value as text plus the
 * parsed form; unknown "kafka.*" keys are kept, in file order, for
 * librdkafka. Errors name their source: "FILE:LINE:COLUMN: message" for the
 * file, "environment VAR: message" for the environment. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h> /* environ */

#include "err.h"

#define CFG_ENV_PREFIX "AFTERCARE_"
#define CFG_ENV_MAX 256
#define CFG_WHY_MAX 512
#define CFG_SUGGEST_MAX_LEN 64 /* keys longer than this get no did-you-mean */

struct cfg_item {
    const struct ac_cfg_entry *e; /* borrowed from the caller's table */
    char *text;                   /* owned; NULL until a source sets it */
    int64_t i;
    double d;
    int b;
    int file_line; /* line that set it in the config file, 0 if none */
};

struct cfg_kafka {
    char *name; /* owned, without the "kafka." prefix */
    char *value;
    int file_line;
};

struct ac_config {
    struct cfg_item *items;
    size_t n_items;
    struct cfg_kafka *kafka;
    size_t n_kafka;
    size_t cap_kafka;
};

static const char *cfg_type_name(enum ac_cfg_type type)
{
    switch (type) {
    case AC_CFG_STR: return "string";
    case AC_CFG_INT: return "int";
    case AC_CFG_BOOL: return "bool";
    case AC_CFG_DOUBLE: return "double";
    }
    return "?";
}

static void cfg_env_name(const char *key, char *out, size_t outlen)
{
    size_t o = (size_t)snprintf(out, outlen, "%s", CFG_ENV_PREFIX);
    for (const char *p = key; *p && o + 1 < outlen; p++) {
        char c = *p;
        out[o++] = (c == '.' || c == '-') ? '_' : (char)toupper((unsigned char)c);
    }
    out[o < outlen ? o : outlen - 1] = '\0';
}

static struct cfg_item *cfg_find(const struct ac_config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->n_items; i++) {
        if (strcmp(cfg->items[i].e->key, key) == 0) {
            return &cfg->items[i];
        }
    }
    return NULL;
}

/* Levenshtein distance, or CFG_SUGGEST_MAX_LEN if either string is too long. */
static size_t cfg_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    size_t prev[CFG_SUGGEST_MAX_LEN + 1];
    size_t cur[CFG_SUGGEST_MAX_LEN + 1];

    if (la > CFG_SUGGEST_MAX_LEN || lb > CFG_SUGGEST_MAX_LEN) {
        return CFG_SUGGEST_MAX_LEN;
    }
    for (size_t j = 0; j <= lb; j++) {
        prev[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t del = prev[j] + 1;
            size_t ins = cur[j - 1] + 1;
            size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            size_t best = del < ins ? del : ins;
            cur[j] = best < sub ? best : sub;
        }
        memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
    }
    return prev[lb];
}

/* The table key closest to key (edit distance <= 2), or NULL. */
static const char *cfg_suggest(const struct ac_config *cfg, const char *key)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < cfg->n_items; i++) {
        size_t d = cfg_edit_distance(key, cfg->items[i].e->key);
        if (d < best_d) {
            best_d = d;
            best = cfg->items[i].e->key;
        }
    }
    return best;
}

static void cfg_unknown_key(const struct ac_config *cfg, const char *key, char *why, size_t whylen)
{
    const char *hint = cfg_suggest(cfg, key);
    if (hint) {
        snprintf(why, whylen, "unknown key '%s' (did you mean '%s'?)", key, hint);
    } else {
        snprintf(why, whylen, "unknown key '%s'", key);
    }
}

static int cfg_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* Parses value for e into item. On error returns AC_ERR_INVALID and writes
 * the reason without the key ("expects an integer, got 'ten'") into why. */
static int cfg_assign(struct cfg_item *item, const char *value, char *why, size_t whylen)
{
    const struct ac_cfg_entry *e = item->e;
    int64_t i = 0;
    double d = 0.0;
    int b = 0;
    char *end = NULL;

    switch (e->type) {
    case AC_CFG_STR: break;
    case AC_CFG_INT:
        errno = 0;
        i = strtoll(value, &end, 10);
        if (value[0] == '\0' || isspace((unsigned char)value[0]) || *end != '\0') {
            snprintf(why, whylen, "expects an integer, got '%s'", value);
            return AC_ERR_INVALID;
        }
        if (errno == ERANGE || (e->min != e->max && (i < e->min || i > e->max))) {
            if (e->min != e->max) {
                snprintf(why, whylen, "must be between %lld and %lld, got '%s'", (long long)e->min,
                         (long long)e->max, value);
            } else {
                snprintf(why, whylen, "is out of the 64-bit integer range, got '%s'", value);
            }
            return AC_ERR_INVALID;
        }
        break;
    case AC_CFG_BOOL:
        if (cfg_parse_bool(value, &b) != 0) {
            snprintf(why, whylen, "expects a boolean (true/false, yes/no, on/off, 1/0), got '%s'",
                     value);
            return AC_ERR_INVALID;
        }
        break;
    case AC_CFG_DOUBLE:
        errno = 0;
        d = strtod(value, &end);
        if (value[0] == '\0' || isspace((unsigned char)value[0]) || *end != '\0' ||
            errno == ERANGE || !isfinite(d)) {
            snprintf(why, whylen, "expects a number, got '%s'", value);
            return AC_ERR_INVALID;
        }
        break;
    }

    char *text = strdup(value);
    if (!text) {
        snprintf(why, whylen, "out of memory");
        return AC_ERR_NOMEM;
    }
    free(item->text);
    item->text = text;
    item->i = i;
    item->d = d;
    item->b = b;
    return 0;
}

/* Adds or replaces a pass-through property; name excludes "kafka.". */
static int cfg_kafka_put(struct ac_config *cfg, const char *name, const char *value, int line)
{
    for (size_t i = 0; i < cfg->n_kafka; i++) {
        if (strcmp(cfg->kafka[i].name, name) == 0) {
            char *v = strdup(value);
            if (!v) {
                return AC_ERR_NOMEM;
            }
            free(cfg->kafka[i].value);
            cfg->kafka[i].value = v;
            cfg->kafka[i].file_line = line;
            return 0;
        }
    }
    if (cfg->n_kafka == cfg->cap_kafka) {
        size_t cap = cfg->cap_kafka ? cfg->cap_kafka * 2 : 8;
        struct cfg_kafka *k = realloc(cfg->kafka, cap * sizeof(*k));
        if (!k) {
            return AC_ERR_NOMEM;
        }
        cfg->kafka = k;
        cfg->cap_kafka = cap;
    }
    struct cfg_kafka *k = &cfg->kafka[cfg->n_kafka];
    k->name = strdup(name);
    k->value = strdup(value);
    k->file_line = line;
    if (!k->name || !k->value) {
        free(k->name);
        free(k->value);
        return AC_ERR_NOMEM;
    }
    cfg->n_kafka++;
    return 0;
}

static struct cfg_kafka *cfg_kafka_find(const struct ac_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_kafka; i++) {
        if (strcmp(cfg->kafka[i].name, name) == 0) {
            return &cfg->kafka[i];
        }
    }
    return NULL;
}

static int cfg_is_key_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

/* Parses one line in place. Returns 0 with *key NULL for blank/comment
 * lines, 0 with key/value set, or AC_ERR_INVALID with *col and why set. */
static int cfg_parse_line(char *line, char **key, char **value, size_t *key_col, size_t *value_col,
                          size_t *col, char *why, size_t whylen)
{
    char *p = line;
    *key = NULL;
    *value = NULL;

    while (isspace((unsigned char)*p)) {
        p++;
    }
    if (*p == '\0' || *p == '#') {
        return 0;
    }
    char *k = p;
    *key_col = (size_t)(k - line) + 1;
    while (cfg_is_key_char(*p)) {
        p++;
    }
    char *kend = p;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (kend == k) {
        *col = *key_col;
        if (*p == '=') {
            snprintf(why, whylen, "missing key before '='");
        } else {
            snprintf(why, whylen, "invalid character '%c' in key", *k);
        }
        return AC_ERR_INVALID;
    }
    if (*p != '=') {
        *col = (size_t)(p - line) + 1;
        if (p == kend && *p != '\0') {
            snprintf(why, whylen, "invalid character '%c' in key", *p);
        } else {
            *kend = '\0';
            snprintf(why, whylen, "expected '=' after '%s'", k);
        }
        return AC_ERR_INVALID;
    }
    *kend = '\0';
    p++;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    *value_col = (size_t)(p - line) + 1;

    if (*p == '"') {
        /* Quoted: \" and \\ are escapes; anything may follow but a comment. */
        char *open = p;
        char *out = ++p;
        for (;;) {
            if (*p == '\0') {
                *col = (size_t)(open - line) + 1;
                snprintf(why, whylen, "unterminated quoted value");
                return AC_ERR_INVALID;
            }
            if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) {
                *out++ = p[1];
                p += 2;
                continue;
            }
            if (*p == '"') {
                break;
            }
            *out++ = *p++;
        }
        p++; /* the closing quote */
        while (isspace((unsigned char)*p)) {
            p++;
        }
        if (*p != '\0' && *p != '#') {
            *col = (size_t)(p - line) + 1;
            snprintf(why, whylen, "unexpected text after the closing quote");
            return AC_ERR_INVALID;
        }
        *out = '\0';
        *value = open + 1;
        *key = k;
        return 0;
    }

    /* Unquoted: to the end of line or a '#' preceded by whitespace. */
    char *v = p;
    char *end = v;
    for (; *p; p++) {
        if (*p == '#' && p > v && isspace((unsigned char)p[-1])) {
            break;
        }
        if (!isspace((unsigned char)*p)) {
            end = p + 1;
        }
    }
    *end = '\0';
    *key = k;
    *value = v;
    return 0;
}

static int cfg_load_file(struct ac_config *cfg, const char *path, char *errstr, size_t errlen)
{
    int rc = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;
    char why[CFG_WHY_MAX];
    FILE *f = fopen(path, "r");

    if (!f) {
        snprintf(errstr, errlen, "%s: cannot open: %s", path, strerror(errno));
        rc = AC_ERR_INVALID;
        goto out;
    }
    while ((n = getline(&line, &cap, f)) >= 0) {
        char *key;
        char *value;
        size_t key_col = 0;
        size_t value_col = 0;
        size_t col = 0;

        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
            line[--n] = '\0';
        }
        if (lineno == 1 && strncmp(line, "\xef\xbb\xbf", 3) == 0) {
            memset(line, ' ', 3); /* UTF-8 BOM; columns still count it */
        }
        if (cfg_parse_line(line, &key, &value, &key_col, &value_col, &col, why, sizeof(why)) != 0) {
            snprintf(errstr, errlen, "%s:%d:%zu: %s", path, lineno, col, why);
            rc = AC_ERR_INVALID;
            goto out;
        }
        if (!key) {
            continue;
        }
        struct cfg_item *item = cfg_find(cfg, key);
        if (item) {
            if (item->file_line) {
                snprintf(errstr, errlen, "%s:%d:%zu: duplicate key '%s' (first set on line %d)",
                         path, lineno, key_col, key, item->file_line);
                rc = AC_ERR_INVALID;
                goto out;
            }
            rc = cfg_assign(item, value, why, sizeof(why));
            if (rc != 0) {
                snprintf(errstr, errlen, "%s:%d:%zu: '%s' %s", path, lineno, value_col, key, why);
                goto out;
            }
            item->file_line = lineno;
        } else if (strncmp(key, "kafka.", 6) == 0 && key[6] != '\0') {
            struct cfg_kafka *k = cfg_kafka_find(cfg, key + 6);
            if (k) {
                snprintf(errstr, errlen, "%s:%d:%zu: duplicate key '%s' (first set on line %d)",
                         path, lineno, key_col, key, k->file_line);
                rc = AC_ERR_INVALID;
                goto out;
            }
            rc = cfg_kafka_put(cfg, key + 6, value, lineno);
            if (rc != 0) {
                snprintf(errstr, errlen, "%s:%d:%zu: out of memory", path, lineno, key_col);
                goto out;
            }
        } else {
            cfg_unknown_key(cfg, key, why, sizeof(why));
            snprintf(errstr, errlen, "%s:%d:%zu: %s", path, lineno, key_col, why);
            rc = AC_ERR_INVALID;
            goto out;
        }
    }
    if (ferror(f)) {
        snprintf(errstr, errlen, "%s: read error: %s", path, strerror(errno));
        rc = AC_ERR_INVALID;
        goto out;
    }

out:
    free(line);
    if (f) {
        fclose(f);
    }
    return rc;
}

/* AFTERCARE_KAFKA_<PROPERTY> for a librdkafka property nobody declared:
 * "AFTERCARE_KAFKA_CONSUMER_FETCH_WAIT_MAX_MS=10" is the pass-through key
 * kafka.consumer.fetch.wait.max.ms (librdkafka's property names have dots,
 * never underscores). */
static int cfg_load_env_kafka(struct ac_config *cfg, char *errstr, size_t errlen)
{
    static const char prefix[] = CFG_ENV_PREFIX "KAFKA_";
    char key[CFG_ENV_MAX];
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t n = eq ? (size_t)(eq - *e) : 0;
        if (!eq || n <= sizeof(prefix) - 1 || strncmp(*e, prefix, sizeof(prefix) - 1) != 0 ||
            n - (sizeof(prefix) - 1) + 7 > sizeof(key)) {
            continue;
        }
        size_t o = (size_t)snprintf(key, sizeof(key), "kafka.");
        for (const char *p = *e + sizeof(prefix) - 1; p < eq; p++) {
            key[o++] = *p == '_' ? '.' : (char)tolower((unsigned char)*p);
        }
        key[o] = '\0';
        if (cfg_find(cfg, key)) {
            continue; /* a declared key (kafka.brokers): read as such */
        }
        if (cfg_kafka_put(cfg, key + 6, eq + 1, 0) != 0) {
            snprintf(errstr, errlen, "environment %.*s: out of memory", (int)n, *e);
            return AC_ERR_NOMEM;
        }
    }
    return 0;
}

static int cfg_load_env(struct ac_config *cfg, char *errstr, size_t errlen)
{
    char name[CFG_ENV_MAX];
    char why[CFG_WHY_MAX];

    for (size_t i = 0; i < cfg->n_items; i++) {
        struct cfg_item *item = &cfg->items[i];
        cfg_env_name(item->e->key, name, sizeof(name));
        const char *v = getenv(name);
        if (!v) {
            continue;
        }
        int rc = cfg_assign(item, v, why, sizeof(why));
        if (rc != 0) {
            snprintf(errstr, errlen, "environment %s: %s", name, why);
            return rc;
        }
    }
    return 0;
}

struct ac_config *ac_config_load(const struct ac_cfg_entry *const *tables, size_t n_tables,
                                 const char *path, char *errstr, size_t errlen)
{
    struct ac_config *cfg = NULL;
    struct ac_config *ret = NULL;
    size_t n = 0;
    char why[CFG_WHY_MAX];
    char dummy[8];

    if (!errstr || errlen == 0) {
        errstr = dummy;
        errlen = sizeof(dummy);
    }
    errstr[0] = '\0';
    for (size_t t = 0; t < n_tables; t++) {
        for (const struct ac_cfg_entry *e = tables[t]; e->key; e++) {
            n++;
        }
    }
    cfg = calloc(1, sizeof(*cfg));
    if (!cfg || (n > 0 && !(cfg->items = calloc(n, sizeof(*cfg->items))))) {
        snprintf(errstr, errlen, "out of memory");
        goto out;
    }
    for (size_t t = 0; t < n_tables; t++) {
        for (const struct ac_cfg_entry *e = tables[t]; e->key; e++) {
            if (cfg_find(cfg, e->key)) {
                snprintf(errstr, errlen, "key '%s' is declared in two config tables", e->key);
                goto out;
            }
            struct cfg_item *item = &cfg->items[cfg->n_items++];
            item->e = e;
            if (e->def && cfg_assign(item, e->def, why, sizeof(why)) != 0) {
                snprintf(errstr, errlen, "default of '%s' %s", e->key, why);
                goto out;
            }
        }
    }
    if (path && cfg_load_file(cfg, path, errstr, errlen) != 0) {
        goto out;
    }
    if (cfg_load_env(cfg, errstr, errlen) != 0 || cfg_load_env_kafka(cfg, errstr, errlen) != 0) {
        goto out;
    }
    for (size_t i = 0; i < cfg->n_items; i++) {
        if (!cfg->items[i].text) {
            char env[CFG_ENV_MAX];
            cfg_env_name(cfg->items[i].e->key, env, sizeof(env));
            snprintf(errstr, errlen, "missing required key '%s' (set it in the config file or %s)",
                     cfg->items[i].e->key, env);
            goto out;
        }
    }
    ret = cfg;
    cfg = NULL;

out:
    ac_config_destroy(cfg);
    return ret;
}

void ac_config_destroy(struct ac_config *cfg)
{
    if (!cfg) {
        return;
    }
    for (size_t i = 0; i < cfg->n_items; i++) {
        free(cfg->items[i].text);
    }
    for (size_t i = 0; i < cfg->n_kafka; i++) {
        free(cfg->kafka[i].name);
        free(cfg->kafka[i].value);
    }
    free(cfg->items);
    free(cfg->kafka);
    free(cfg);
}

int ac_config_set(struct ac_config *cfg, const char *key, const char *value, char *errstr,
                  size_t errlen)
{
    char why[CFG_WHY_MAX];
    int rc;
    struct cfg_item *item = cfg_find(cfg, key);

    if (item) {
        rc = cfg_assign(item, value, why, sizeof(why));
        if (rc != 0 && errstr && errlen > 0) {
            snprintf(errstr, errlen, "'%s' %s", key, why);
        }
        return rc;
    }
    if (strncmp(key, "kafka.", 6) == 0 && key[6] != '\0') {
        rc = cfg_kafka_put(cfg, key + 6, value, 0);
        if (rc != 0 && errstr && errlen > 0) {
            snprintf(errstr, errlen, "out of memory");
        }
        return rc;
    }
    if (errstr && errlen > 0) {
        cfg_unknown_key(cfg, key, errstr, errlen);
    }
    return AC_ERR_INVALID;
}

/* A programmer error survives NDEBUG: a wrong getter would read garbage. */
static const struct cfg_item *cfg_get(const struct ac_config *cfg, const char *key,
                                      enum ac_cfg_type type)
{
    const struct cfg_item *item = cfg_find(cfg, key);
    if (!item) {
        fprintf(stderr, "ac_config: key '%s' is not in any config table\n", key);
        abort();
    }
    if (item->e->type != type) {
        fprintf(stderr, "ac_config: key '%s' is a %s, read as %s\n", key,
                cfg_type_name(item->e->type), cfg_type_name(type));
        abort();
    }
    return item;
}

const char *ac_config_str(const struct ac_config *cfg, const char *key)
{
    return cfg_get(cfg, key, AC_CFG_STR)->text;
}

int64_t ac_config_int(const struct ac_config *cfg, const char *key)
{
    return cfg_get(cfg, key, AC_CFG_INT)->i;
}

int ac_config_bool(const struct ac_config *cfg, const char *key)
{
    return cfg_get(cfg, key, AC_CFG_BOOL)->b;
}

double ac_config_double(const struct ac_config *cfg, const char *key)
{
    return cfg_get(cfg, key, AC_CFG_DOUBLE)->d;
}

int ac_config_each_kafka(const struct ac_config *cfg,
                         int (*fn)(const char *name, const char *value, void *opaque), void *opaque)
{
    for (size_t i = 0; i < cfg->n_kafka; i++) {
        int rc = fn(cfg->kafka[i].name, cfg->kafka[i].value, opaque);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static void cfg_help_type(const struct ac_cfg_entry *e, char *out, size_t outlen)
{
    if (e->type == AC_CFG_INT && e->min != e->max) {
        snprintf(out, outlen, "int %lld..%lld", (long long)e->min, (long long)e->max);
    } else {
        snprintf(out, outlen, "%s", cfg_type_name(e->type));
    }
}

static const char *cfg_help_default(const struct ac_cfg_entry *e)
{
    if (!e->def) {
        return "(required)";
    }
    return e->def[0] ? e->def : "\"\"";
}

void ac_config_print_help(const struct ac_cfg_entry *const *tables, size_t n_tables, FILE *out)
{
    int wk = (int)strlen("KEY");
    int wt = (int)strlen("TYPE");
    int wd = (int)strlen("DEFAULT");
    int we = (int)strlen("ENVIRONMENT");
    char type[64];
    char env[CFG_ENV_MAX];

    for (size_t t = 0; t < n_tables; t++) {
        for (const struct ac_cfg_entry *e = tables[t]; e->key; e++) {
            cfg_help_type(e, type, sizeof(type));
            cfg_env_name(e->key, env, sizeof(env));
            int l = (int)strlen(e->key);
            wk = l > wk ? l : wk;
            l = (int)strlen(type);
            wt = l > wt ? l : wt;
            l = (int)strlen(cfg_help_default(e));
            wd = l > wd ? l : wd;
            l = (int)strlen(env);
            we = l > we ? l : we;
        }
    }
    fprintf(out, "%-*s  %-*s  %-*s  %-*s  %s\n", wk, "KEY", wt, "TYPE", wd, "DEFAULT", we,
            "ENVIRONMENT", "DESCRIPTION");
    for (size_t t = 0; t < n_tables; t++) {
        for (const struct ac_cfg_entry *e = tables[t]; e->key; e++) {
            cfg_help_type(e, type, sizeof(type));
            cfg_env_name(e->key, env, sizeof(env));
            fprintf(out, "%-*s  %-*s  %-*s  %-*s  %s\n", wk, e->key, wt, type, wd,
                    cfg_help_default(e), we, env, e->help ? e->help : "");
        }
    }
    fprintf(out, "\nOther kafka.* keys pass through to librdkafka "
                 "(kafka.security.protocol = SASL_SSL).\n");
}

int ac_config_apply_sets(struct ac_config *cfg, int argc, char **argv, char *errstr, size_t errlen)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--set") != 0) {
            continue;
        }
        char kv[512], err[256];
        snprintf(kv, sizeof(kv), "%s", argv[++i]);
        char *eq = strchr(kv, '=');
        if (!eq) {
            snprintf(errstr, errlen, "--set expects KEY=VALUE, got '%s'", kv);
            return AC_ERR_INVALID;
        }
        *eq = '\0';
        if (ac_config_set(cfg, kv, eq + 1, err, sizeof(err)) != 0) {
            snprintf(errstr, errlen, "--set: %s", err);
            return AC_ERR_INVALID;
        }
    }
    return 0;
}
