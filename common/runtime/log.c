/* log.c — structured JSON logs on stderr, one object per line.
 *
 * Each line is formatted into a stack buffer and written with one write(2)
 * under a mutex, so lines from different threads never interleave. The rate
 * limiter is a small table keyed by a hash of the formatted message: keying
 * by format string would swallow distinct lines from one call site (every
 * partition of an assignment, every librdkafka message). */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "utf8.h"

#define LOG_MSG_MAX 4096   /* formatted message, before escaping */
#define LOG_LINE_MAX 16384 /* the whole JSON line; escaping can grow the message */
#define LOG_PROC_MAX 64
#define LOG_RATE_SLOTS 64
#define LOG_RATE_WINDOW_MS 1000

struct log_rate {
    uint64_t key;    /* hash of level and message; 0: free slot */
    int64_t last_ms; /* when this message was last written */
    unsigned suppressed;
};

static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;
static char log_proc[LOG_PROC_MAX] = "aftercare";
static atomic_int log_level = AC_LOG_INFO;
static int64_t (*log_now_ms)(void); /* NULL: CLOCK_MONOTONIC */
static struct log_rate log_rates[LOG_RATE_SLOTS];

static const char *const log_level_names[] = {"debug", "info", "warn", "error"};

void ac_log_init(const char *proc)
{
    pthread_mutex_lock(&log_mutex);
    snprintf(log_proc, sizeof(log_proc), "%s", proc ? proc : "aftercare");
    memset(log_rates, 0, sizeof(log_rates));
    pthread_mutex_unlock(&log_mutex);
}

void ac_log_set_level(enum ac_log_level level)
{
    atomic_store(&log_level, (int)level);
}

enum ac_log_level ac_log_get_level(void)
{
    return (enum ac_log_level)atomic_load(&log_level);
}

int ac_log_level_from_name(const char *name)
{
    if (!name) {
        return -1;
    }
    for (size_t i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++) {
        if (strcasecmp(name, log_level_names[i]) == 0) {
            return (int)i;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        return AC_LOG_WARN;
    }
    return -1;
}

void ac_log_set_clock(int64_t (*now_ms)(void))
{
    pthread_mutex_lock(&log_mutex);
    log_now_ms = now_ms;
    pthread_mutex_unlock(&log_mutex);
}

static int64_t log_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t log_rate_key(enum ac_log_level level, const char *msg)
{
    uint64_t h = 14695981039346656037u ^ (uint64_t)level; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        h = (h ^ *p) * 1099511628211u;
    }
    return h ? h : 1;
}

/* Called with log_mutex held. Returns 0 if the line must be dropped, else 1
 * and sets *repeated to the number of copies dropped since the last one. */
static int log_rate_admit(uint64_t key, unsigned *repeated)
{
    int64_t now = log_now_ms ? log_now_ms() : log_monotonic_ms();
    struct log_rate *slot = NULL;
    struct log_rate *victim = NULL; /* a free slot, else the least recently written */

    *repeated = 0;
    for (size_t i = 0; i < LOG_RATE_SLOTS; i++) {
        struct log_rate *r = &log_rates[i];
        if (r->key == key) {
            slot = r;
            break;
        }
        if (!victim || (victim->key && (!r->key || r->last_ms < victim->last_ms))) {
            victim = r;
        }
    }
    if (slot && now - slot->last_ms < LOG_RATE_WINDOW_MS) {
        slot->suppressed++;
        return 0;
    }
    if (!slot) {
        /* Evicting the least recently written message loses its count: fine. */
        slot = victim;
        slot->key = key;
        slot->suppressed = 0;
    }
    *repeated = slot->suppressed;
    slot->suppressed = 0;
    slot->last_ms = now;
    return 1;
}

/* Where log_json_put() writes: line[len..cap), one byte kept spare,
 * stopping for good once a piece no longer fits. */
struct log_out {
    char *line;
    size_t len;
    size_t cap;
    int open_quote; /* jansson's opening quote is still to be dropped */
    int full;
};

/* How many bytes of p[0..n) (jansson's output) make whole tokens, an
 * escape (\x or \uXXXX) or a UTF-8 sequence, within room bytes. */
static size_t log_whole_tokens(const char *p, size_t n, size_t room)
{
    size_t k = 0;
    while (k < n) {
        size_t t;
        if (p[k] == '\\') {
            t = k + 1 < n && p[k + 1] == 'u' ? 6 : 2;
        } else {
            t = ac_utf8_seq_len(p + k, n - k);
            t = t ? t : 1;
        }
        if (k + t > room || k + t > n) {
            break;
        }
        k += t;
    }
    return k;
}

static int log_json_put(const char *p, size_t n, void *opaque)
{
    struct log_out *o = opaque;
    if (o->full) {
        return -1;
    }
    if (o->open_quote && n > 0) { /* the caller opened the string */
        p++;
        n--;
        o->open_quote = 0;
    }
    if (o->len + n >= o->cap) { /* keep what fits, never half an escape */
        size_t k = log_whole_tokens(p, n, o->cap - o->len - 1);
        memcpy(o->line + o->len, p, k);
        o->len += k;
        o->full = 1;
        return -1;
    }
    memcpy(o->line + o->len, p, n);
    o->len += n;
    return 0;
}

/* Appends s as the inside of a JSON string, written by jansson, to
 * out[*len..cap). Stops early, without splitting an escape or a character,
 * when out is full. */
static void log_json_escape(char *out, size_t *len, size_t cap, const char *s)
{
    struct log_out o = {out, *len, cap, 1, 0};
    if (ac_json_write_str(s, strlen(s), log_json_put, &o) == 0) {
        o.len--; /* jansson's closing quote: the caller closes the string */
    }
    *len = o.len;
}

static void log_append(char *out, size_t *len, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n >= cap) {
        n = cap - *len - 1;
    }
    memcpy(out + *len, s, n);
    *len += n;
}

static void log_write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return; /* nowhere left to report it */
        }
        p += w;
        n -= (size_t)w;
    }
}

void ac_log_write(enum ac_log_level level, const char *fmt, ...)
{
    char msg[LOG_MSG_MAX];
    char line[LOG_LINE_MAX];
    size_t len = 0;
    unsigned repeated = 0;
    int saved_errno = errno;
    va_list ap;
    struct timespec now;
    struct tm tm;
    char ts[40];

    if ((int)level < atomic_load(&log_level) || (int)level < AC_LOG_DEBUG ||
        (int)level > AC_LOG_ERROR) {
        goto out;
    }

    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0) {
        snprintf(msg, sizeof(msg), "(unformattable log message)");
    } else if ((size_t)n >= sizeof(msg)) {
        memcpy(msg + sizeof(msg) - 4, "...", 4);
    }

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t tl = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof(ts) - tl, ".%03dZ", (int)(now.tv_nsec / 1000000));

    uint64_t key = log_rate_key(level, msg);
    pthread_mutex_lock(&log_mutex);
    if (!log_rate_admit(key, &repeated)) {
        pthread_mutex_unlock(&log_mutex);
        goto out;
    }
    /* Reserve room for the tail so a long message cannot push it out. */
    const size_t body_cap = sizeof(line) - 64;
    log_append(line, &len, body_cap, "{\"ts\":\"");
    log_append(line, &len, body_cap, ts);
    log_append(line, &len, body_cap, "\",\"level\":\"");
    log_append(line, &len, body_cap, log_level_names[level]);
    log_append(line, &len, body_cap, "\",\"proc\":\"");
    log_json_escape(line, &len, body_cap, log_proc);
    log_append(line, &len, body_cap, "\",\"msg\":\"");
    log_json_escape(line, &len, body_cap, msg);
    if (repeated > 0) {
        char tail[48];
        snprintf(tail, sizeof(tail), " (repeated %u times)", repeated);
        log_append(line, &len, sizeof(line), tail);
    }
    log_append(line, &len, sizeof(line), "\"}\n");
    log_write_all(line, len);
    pthread_mutex_unlock(&log_mutex);

out:
    errno = saved_errno;
}
