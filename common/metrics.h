/* metrics.h — Prometheus metrics and the /metrics /healthz /readyz endpoints.
 *
 * A process-wide registry. Counters and gauges are identified by a family
 * name plus a label string (`topic="orders",type="order_placed"`), created on
 * first use. Thread-safe; the hot path should add per batch, not per event. */
#ifndef AC_METRICS_H
#define AC_METRICS_H

#include <stdint.h>

/* Declare a family (name, type "counter"/"gauge"/"histogram", help) before use;
 * returns 0, or AC_ERR_INVALID if declared differently. */
int ac_metrics_declare(const char *name, const char *type, const char *help);

void ac_metrics_add(const char *name, const char *labels, double v);  /* counter += v */
void ac_metrics_set(const char *name, const char *labels, double v);  /* gauge = v */
/* Removes every series of a gauge family (before re-filling it, e.g. lag). */
void ac_metrics_clear(const char *name);
/* Histogram observation (seconds); buckets are fixed: 1ms .. 60s. */
void ac_metrics_observe(const char *name, const char *labels, double seconds);

/* Current value of a counter/gauge series, or 0 (tests, status). */
double ac_metrics_get(const char *name, const char *labels);

/* Renders the Prometheus text exposition format into a malloc'd string
 * (caller frees). */
char *ac_metrics_render(void);

/* Readiness: the HTTP server answers /readyz with 200 while ready != 0. */
void ac_metrics_set_ready(int ready);

/* Starts the HTTP server on 127.0.0.1 or 0.0.0.0 (bind) and port (0 picks a
 * free port; the chosen one is returned via *bound_port). Returns 0 or a
 * negative ac_err with errstr filled. */
int ac_http_start(const char *bind, int port, int *bound_port, char *errstr, size_t errlen);
void ac_http_stop(void);

/* Frees the registry (at exit; for leak checkers). */
void ac_metrics_reset(void);

#endif
