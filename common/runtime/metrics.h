/* metrics.h — Prometheus metrics and the /metrics /healthz /readyz endpoints.
 *
 * A process-wide registry. Counters and gauges are identified by a family
 * name plus a label string (`topic="orders",type="order_placed"`), created on
 * first use. Thread-safe; the hot path should add per batch, not per event. */
#ifndef AC_METRICS_H
#define AC_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Declare a family (name, type "counter"/"gauge"/"histogram", help) before use;
 * returns 0, or AC_ERR_INVALID if declared differently (or the name or type is
 * not valid). A family used before it is declared is created on first use as
 * a counter (add), gauge (set) or histogram (observe), without help text.
 * add and set work on counters and gauges; observe only on histograms; a call
 * on a family of the other kind is ignored. Families render in the order they
 * were created, series in the order they were first used. */
int ac_metrics_declare(const char *name, const char *type, const char *help);

/* Declares a histogram with its own buckets instead of the default 1 ms .. 60 s:
 * bounds[n] are the upper bounds, finite and strictly ascending, 1 <= n <=
 * AC_METRICS_MAX_BOUNDS (+Inf follows implicitly; bounds are copied). Returns
 * 0, or AC_ERR_INVALID if the name or bounds are not valid, or the family
 * exists as another type, with other help, or with series in other buckets. */
#define AC_METRICS_MAX_BOUNDS 32
int ac_metrics_declare_histogram(const char *name, const char *help, const double *bounds,
                                 size_t n);

void ac_metrics_add(const char *name, const char *labels, double v); /* counter += v */
void ac_metrics_set(const char *name, const char *labels, double v); /* gauge = v */
/* Removes every series of a gauge family (before re-filling it, e.g. lag). */
void ac_metrics_clear(const char *name);
/* Histogram observation (seconds) into the family's buckets: 1 ms .. 60 s
 * unless declared otherwise. NaN is ignored. */
void ac_metrics_observe(const char *name, const char *labels, double seconds);
/* n observations of one series under one lock (per batch, not per event). */
void ac_metrics_observe_many(const char *name, const char *labels, const double *values, size_t n);

/* Current value of a counter/gauge series (a histogram's observation count),
 * or 0 if the series does not exist (tests, status). */
double ac_metrics_get(const char *name, const char *labels);

/* Renders the Prometheus text exposition format into a malloc'd string
 * (caller frees). */
char *ac_metrics_render(void);

/* Readiness: the HTTP server answers /readyz with 200 while ready != 0, 503
 * otherwise (the initial state). /healthz always answers 200. */
void ac_metrics_set_ready(int ready);

/* Starts the HTTP server on bind (a numeric address such as 127.0.0.1,
 * 0.0.0.0 or ::, or "localhost"; NULL means 0.0.0.0) and port (0 picks a
 * free port; the chosen one is returned via *bound_port, which may be NULL).
 * Serves GET/HEAD /metrics, /healthz and /readyz from an internal thread;
 * other paths get 404, other methods 405. One server per process. Returns 0
 * or a negative ac_err with errstr filled
 * ("cannot listen on 0.0.0.0:9100: Address already in use"). */
int ac_http_start(const char *bind, int port, int *bound_port, char *errstr, size_t errlen);
/* Stops the server and closes its socket; a no-op if it is not running. */
void ac_http_stop(void);

/* Frees the registry (at exit; for leak checkers). */
void ac_metrics_reset(void);

#endif
