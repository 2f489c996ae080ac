/* log.h — structured JSON logs on stderr, one object per line.
 *
 *   {"ts":"2026-11-22T17:49:46.123Z","level":"info","proc":"aftercare-orders",
 *    "msg":"partition assigned topic=orders partition=3 offset=1200"}
 *
 * Messages carry ids (topic, partition, offset, customer id, action id) as
 * key=value text; never payloads or personal data above debug. Thread-safe.
 * Identical messages repeated within one second are rate-limited: the first is
 * written, the rest are counted and summarised ("... repeated N times"). */
#ifndef AC_LOG_H
#define AC_LOG_H

#include <stdint.h>

enum ac_log_level { AC_LOG_DEBUG = 0, AC_LOG_INFO, AC_LOG_WARN, AC_LOG_ERROR };

/* proc is copied. Default level is info. */
void ac_log_init(const char *proc);
void ac_log_set_level(enum ac_log_level level);
/* "debug", "info", "warn", "error" -> level; returns -1 if unknown. */
int ac_log_level_from_name(const char *name);
enum ac_log_level ac_log_get_level(void);

/* Tests: replaces the monotonic millisecond clock the rate limiter reads
 * (NULL restores CLOCK_MONOTONIC). Not for production code. */
void ac_log_set_clock(int64_t (*now_ms)(void));

/* Rate limiting: a message (level plus formatted text) identical to one
 * written less than a second ago is counted instead of written; the next copy
 * that is written ends with " (repeated N times)". Messages that differ (say,
 * by partition) are all written. Messages longer than 4 KiB are truncated
 * ("..."); bytes that are not valid UTF-8 are written as U+FFFD. Never
 * changes errno. */
void ac_log_write(enum ac_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define AC_LOG(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) >= ac_log_get_level()) {                                                       \
            ac_log_write((level), __VA_ARGS__);                                                    \
        }                                                                                          \
    } while (0)
#define AC_DEBUG(...) AC_LOG(AC_LOG_DEBUG, __VA_ARGS__)
#define AC_INFO(...) AC_LOG(AC_LOG_INFO, __VA_ARGS__)
#define AC_WARN(...) AC_LOG(AC_LOG_WARN, __VA_ARGS__)
#define AC_ERROR(...) AC_LOG(AC_LOG_ERROR, __VA_ARGS__)

#endif
