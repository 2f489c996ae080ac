/* test_metrics.c — registry, Prometheus text rendering, HTTP endpoints. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "err.h"
#include "metrics.h"

/* ---- a small parser for the text exposition format ---- */

static int test_is_name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* Checks every line is a comment (# HELP / # TYPE) or a well-formed sample,
 * and that each sample's family had its # TYPE line first. */
static void test_check_format(const char *text)
{
    char typed[64][128];
    size_t n_typed = 0;
    const char *p = text;

    cr_assert(*text == '\0' || text[strlen(text) - 1] == '\n', "ends with a newline");
    while (*p) {
        const char *nl = strchr(p, '\n');
        cr_assert_not_null(nl);
        char line[1024];
        size_t len = (size_t)(nl - p);
        cr_assert_lt(len, sizeof(line));
        memcpy(line, p, len);
        line[len] = '\0';
        p = nl + 1;

        if (strncmp(line, "# HELP ", 7) == 0) {
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char name[128];
            char type[32];
            cr_assert_eq(sscanf(line + 7, "%127s %31s", name, type), 2, "%s", line);
            cr_assert(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                          strcmp(type, "histogram") == 0,
                      "%s", line);
            cr_assert_lt(n_typed, 64);
            snprintf(typed[n_typed++], sizeof(typed[0]), "%s", name);
            continue;
        }
        /* sample: name{labels} value */
        const char *q = line;
        cr_assert(test_is_name_char(*q, 1), "bad sample line: %s", line);
        while (test_is_name_char(*q, 0)) {
            q++;
        }
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)(q - line), line);
        if (*q == '{') {
            q = strchr(q, '}');
            cr_assert_not_null(q, "%s", line);
            q++;
        }
        cr_assert_eq(*q, ' ', "%s", line);
        char *end = NULL;
        const char *v = q + 1;
        if (strcmp(v, "+Inf") != 0 && strcmp(v, "-Inf") != 0 && strcmp(v, "NaN") != 0) {
            strtod(v, &end);
            cr_assert(end != v && *end == '\0', "bad value: %s", line);
        }
        /* histogram samples belong to the base family */
        int found = 0;
        for (size_t i = 0; i < n_typed && !found; i++) {
            size_t l = strlen(typed[i]);
            found = strncmp(name, typed[i], l) == 0 &&
                    (name[l] == '\0' || strcmp(name + l, "_bucket") == 0 ||
                     strcmp(name + l, "_sum") == 0 || strcmp(name + l, "_count") == 0);
        }
        cr_assert(found, "sample before its # TYPE: %s", line);
    }
}

/* The value of the sample whose "name{labels}" is exactly key; fails if absent. */
static double test_sample(const char *text, const char *key)
{
    size_t kl = strlen(key);
    const char *p = text;
    while (p && *p) {
        if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
            return strtod(p + kl + 1, NULL);
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    cr_assert_fail("no sample %s in:\n%s", key, text);
    return -1.0;
}

static int test_has_line(const char *text, const char *line)
{
    size_t l = strlen(line);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, line, l) == 0 && (p[l] == '\n' || p[l] == '\0')) {
            return 1;
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return 0;
}

static void test_teardown(void)
{
    ac_http_stop();
    ac_metrics_reset();
}

TestSuite(metrics, .fini = test_teardown);

Test(metrics, counters)
{
    cr_assert_eq(ac_metrics_declare("aftercare_events_in_total", "counter", "Events consumed"), 0);
    ac_metrics_add("aftercare_events_in_total", "topic=\"orders\",type=\"order_placed\"", 10);
    ac_metrics_add("aftercare_events_in_total", "topic=\"orders\",type=\"order_placed\"", 5);
    ac_metrics_add("aftercare_events_in_total", "topic=\"returns\",type=\"return_opened\"", 1);
    ac_metrics_add("aftercare_events_in_total", NULL, 2);

    cr_assert_float_eq(
        ac_metrics_get("aftercare_events_in_total", "topic=\"orders\",type=\"order_placed\""), 15.0,
        1e-9);
    cr_assert_float_eq(ac_metrics_get("aftercare_events_in_total", ""), 2.0, 1e-9);
    cr_assert_float_eq(ac_metrics_get("aftercare_events_in_total", "x=\"y\""), 0.0, 1e-9);
    cr_assert_float_eq(ac_metrics_get("no_such_family", NULL), 0.0, 1e-9);

    char *text = ac_metrics_render();
    cr_assert_not_null(text);
    test_check_format(text);
    cr_assert(test_has_line(text, "# HELP aftercare_events_in_total Events consumed"), "%s", text);
    cr_assert(test_has_line(text, "# TYPE aftercare_events_in_total counter"), "%s", text);
    cr_assert_float_eq(test_sample(text, "aftercare_events_in_total{topic=\"orders\","
                                         "type=\"order_placed\"}"),
                       15.0, 1e-9);
    cr_assert_float_eq(test_sample(text, "aftercare_events_in_total{topic=\"returns\","
                                         "type=\"return_opened\"}"),
                       1.0, 1e-9);
    cr_assert_float_eq(test_sample(text, "aftercare_events_in_total"), 2.0, 1e-9);
    /* insertion order */
    const char *a = strstr(text, "topic=\"orders\"");
    const char *b = strstr(text, "topic=\"returns\"");
    const char *c = strstr(text, "aftercare_events_in_total 2");
    cr_assert(a && b && c && a < b && b < c, "%s", text);
    free(text);
}

Test(metrics, gauges_set_add_clear)
{
    cr_assert_eq(ac_metrics_declare("aftercare_consumer_lag", "gauge", "Lag"), 0);
    ac_metrics_set("aftercare_consumer_lag", "partition=\"0\"", 100);
    ac_metrics_set("aftercare_consumer_lag", "partition=\"1\"", 7);
    ac_metrics_set("aftercare_consumer_lag", "partition=\"0\"", 42);
    cr_assert_float_eq(ac_metrics_get("aftercare_consumer_lag", "partition=\"0\""), 42.0, 1e-9);

    ac_metrics_add("aftercare_timers_pending", NULL, 3); /* implicit counter... */
    cr_assert_eq(ac_metrics_declare("aftercare_timers_pending", "gauge", "x"), AC_ERR_INVALID);

    cr_assert_eq(ac_metrics_declare("aftercare_inflight", "gauge", "In flight"), 0);
    ac_metrics_add("aftercare_inflight", NULL, 3);
    ac_metrics_add("aftercare_inflight", NULL, -1);
    cr_assert_float_eq(ac_metrics_get("aftercare_inflight", NULL), 2.0, 1e-9);

    ac_metrics_clear("aftercare_consumer_lag");
    cr_assert_float_eq(ac_metrics_get("aftercare_consumer_lag", "partition=\"0\""), 0.0, 1e-9);
    char *text = ac_metrics_render();
    test_check_format(text);
    cr_assert(test_has_line(text, "# TYPE aftercare_consumer_lag gauge"), "%s", text);
    cr_assert_null(strstr(text, "aftercare_consumer_lag{"), "%s", text);
    free(text);

    ac_metrics_set("aftercare_consumer_lag", "partition=\"3\"", 9);
    ac_metrics_set("aftercare_consumer_lag", "partition=\"0\"", 1);
    text = ac_metrics_render();
    test_check_format(text);
    cr_assert_float_eq(test_sample(text, "aftercare_consumer_lag{partition=\"3\"}"), 9.0, 1e-9);
    cr_assert_float_eq(test_sample(text, "aftercare_consumer_lag{partition=\"0\"}"), 1.0, 1e-9);
    cr_assert(strstr(text, "partition=\"3\"") < strstr(text, "partition=\"0\""), "%s", text);
    free(text);
    ac_metrics_clear("no_such_family");
}

Test(metrics, histogram)
{
    cr_assert_eq(ac_metrics_declare("aftercare_latency_seconds", "histogram", "Latency"), 0);
    const char *l = "stage=\"emit\"";
    ac_metrics_observe("aftercare_latency_seconds", l, 0.0005);
    ac_metrics_observe("aftercare_latency_seconds", l, 0.001); /* le is inclusive */
    ac_metrics_observe("aftercare_latency_seconds", l, 0.003);
    ac_metrics_observe("aftercare_latency_seconds", l, 0.2);
    ac_metrics_observe("aftercare_latency_seconds", l, 100);
    ac_metrics_observe("aftercare_latency_seconds", NULL, 2);
    cr_assert_float_eq(ac_metrics_get("aftercare_latency_seconds", l), 5.0, 1e-9);

    char *text = ac_metrics_render();
    test_check_format(text);
    cr_assert(test_has_line(text, "# TYPE aftercare_latency_seconds histogram"), "%s", text);
    static const struct {
        const char *le;
        double want;
    } buckets[] = {{"0.001", 2}, {"0.0025", 2}, {"0.005", 3}, {"0.01", 3},
                   {"0.025", 3}, {"0.05", 3},   {"0.1", 3},   {"0.25", 4},
                   {"0.5", 4},   {"1", 4},      {"2.5", 4},   {"5", 4},
                   {"10", 4},    {"30", 4},     {"60", 4},    {"+Inf", 5}};
    char key[256];
    for (size_t i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++) {
        snprintf(key, sizeof(key), "aftercare_latency_seconds_bucket{stage=\"emit\",le=\"%s\"}",
                 buckets[i].le);
        cr_assert_float_eq(test_sample(text, key), buckets[i].want, 1e-9, "%s", key);
    }
    cr_assert_float_eq(test_sample(text, "aftercare_latency_seconds_sum{stage=\"emit\"}"), 100.2045,
                       1e-9);
    cr_assert_float_eq(test_sample(text, "aftercare_latency_seconds_count{stage=\"emit\"}"), 5.0,
                       1e-9);
    cr_assert_float_eq(test_sample(text, "aftercare_latency_seconds_bucket{le=\"2.5\"}"), 1.0,
                       1e-9);
    cr_assert_float_eq(test_sample(text, "aftercare_latency_seconds_sum"), 2.0, 1e-9);
    cr_assert_float_eq(test_sample(text, "aftercare_latency_seconds_count"), 1.0, 1e-9);
    free(text);
}

Test(metrics, histogram_own_buckets_and_many_observations)
{
    static const double age[] = {1, 60, 3600, 86400};
    cr_assert_eq(ac_metrics_declare_histogram("age_seconds", "Age", age, 4), 0);
    cr_assert_eq(ac_metrics_declare_histogram("age_seconds", "Age", age, 4), 0, "same again");
    cr_assert_eq(ac_metrics_declare("age_seconds", "histogram", "Age"), 0, "keeps its buckets");
    const double obs[] = {0.5, 1, 90, 864000, NAN};
    ac_metrics_observe_many("age_seconds", NULL, obs, 5); /* NaN is ignored */
    cr_assert_float_eq(ac_metrics_get("age_seconds", NULL), 4.0, 1e-9);
    cr_assert_eq(ac_metrics_declare_histogram("age_seconds", "Age", age, 3), AC_ERR_INVALID,
                 "other buckets once it has series");

    static const double bad_order[] = {1, 1};
    static const double bad_inf[] = {1, INFINITY};
    cr_assert_eq(ac_metrics_declare_histogram("b_seconds", "B", bad_order, 2), AC_ERR_INVALID);
    cr_assert_eq(ac_metrics_declare_histogram("b_seconds", "B", bad_inf, 2), AC_ERR_INVALID);
    cr_assert_eq(ac_metrics_declare_histogram("b_seconds", "B", age, 0), AC_ERR_INVALID);
    cr_assert_eq(ac_metrics_declare_histogram("b_total", "B", age, 4), 0);
    cr_assert_eq(ac_metrics_declare("b_total", "counter", "B"), AC_ERR_INVALID);

    char *text = ac_metrics_render();
    test_check_format(text);
    cr_assert(test_has_line(text, "age_seconds_bucket{le=\"1\"} 2"), "%s", text);
    cr_assert(test_has_line(text, "age_seconds_bucket{le=\"60\"} 2"), "%s", text);
    cr_assert(test_has_line(text, "age_seconds_bucket{le=\"3600\"} 3"), "%s", text);
    cr_assert(test_has_line(text, "age_seconds_bucket{le=\"86400\"} 3"), "%s", text);
    cr_assert(test_has_line(text, "age_seconds_bucket{le=\"+Inf\"} 4"), "%s", text);
    cr_assert(test_has_line(text, "age_seconds_sum 864091.5"), "%s", text);
    cr_assert(test_has_line(text, "age_seconds_count 4"), "%s", text);
    cr_assert_null(strstr(text, "age_seconds_bucket{le=\"0.001\"}"), "%s", text);
    free(text);
}

Test(metrics, implicit_families_and_mismatches)
{
    ac_metrics_add("implicit_total", NULL, 1);
    ac_metrics_set("implicit_gauge", NULL, 2);
    ac_metrics_observe("implicit_seconds", NULL, 0.1);
    ac_metrics_observe("implicit_total", NULL, 1.0); /* not a histogram: ignored */
    ac_metrics_add("implicit_seconds", NULL, 1.0);   /* a histogram: ignored */
    ac_metrics_add("bad name", NULL, 1.0);           /* invalid: ignored */

    char *text = ac_metrics_render();
    test_check_format(text);
    cr_assert(test_has_line(text, "# TYPE implicit_total counter"), "%s", text);
    cr_assert(test_has_line(text, "# TYPE implicit_gauge gauge"), "%s", text);
    cr_assert(test_has_line(text, "# TYPE implicit_seconds histogram"), "%s", text);
    cr_assert_null(strstr(text, "# HELP"), "no help for implicit families: %s", text);
    cr_assert_null(strstr(text, "bad name"), "%s", text);
    cr_assert(test_has_line(text, "implicit_total 1"), "%s", text);
    cr_assert(test_has_line(text, "implicit_seconds_count 1"), "%s", text);
    /* families in creation order */
    cr_assert(strstr(text, "implicit_total") < strstr(text, "implicit_gauge"));
    cr_assert(strstr(text, "implicit_gauge") < strstr(text, "implicit_seconds"));
    free(text);

    /* declaring after implicit creation adds the help */
    cr_assert_eq(ac_metrics_declare("implicit_total", "counter", "Now with help"), 0);
    text = ac_metrics_render();
    cr_assert(test_has_line(text, "# HELP implicit_total Now with help"), "%s", text);
    free(text);
}

Test(metrics, declare_rules)
{
    cr_assert_eq(ac_metrics_declare("a_total", "counter", "A"), 0);
    cr_assert_eq(ac_metrics_declare("a_total", "counter", "A"), 0);
    cr_assert_eq(ac_metrics_declare("a_total", "gauge", "A"), AC_ERR_INVALID);
    cr_assert_eq(ac_metrics_declare("a_total", "counter", "B"), AC_ERR_INVALID);
    cr_assert_eq(ac_metrics_declare("b", "summary", "B"), AC_ERR_INVALID);
    cr_assert_eq(ac_metrics_declare("9lives", "gauge", "B"), AC_ERR_INVALID);
    cr_assert_eq(ac_metrics_declare("", "gauge", "B"), AC_ERR_INVALID);
    cr_assert_eq(ac_metrics_declare("ns:sub_total", "counter", "multi\nline \\ help"), 0);
    char *text = ac_metrics_render();
    test_check_format(text);
    cr_assert(test_has_line(text, "# HELP ns:sub_total multi\\nline \\\\ help"), "%s", text);
    free(text);
}

Test(metrics, value_formatting)
{
    ac_metrics_set("g", "k=\"a\"", 0.1);
    ac_metrics_set("g", "k=\"b\"", 12345678);
    ac_metrics_set("g", "k=\"c\"", 1e21);
    ac_metrics_set("g", "k=\"d\"", -0.5);
    ac_metrics_set("g", "k=\"e\"", 1.0 / 3.0);
    char *text = ac_metrics_render();
    test_check_format(text);
    cr_assert(test_has_line(text, "g{k=\"a\"} 0.1"), "%s", text);
    cr_assert(test_has_line(text, "g{k=\"b\"} 12345678"), "%s", text);
    cr_assert(test_has_line(text, "g{k=\"c\"} 1e+21"), "%s", text);
    cr_assert(test_has_line(text, "g{k=\"d\"} -0.5"), "%s", text);
    double third = test_sample(text, "g{k=\"e\"}");
    cr_assert(!(third < 1.0 / 3.0) && !(third > 1.0 / 3.0), "round trip: %s", text);
    free(text);
}

Test(metrics, many_series_and_reset)
{
    char labels[64];
    for (int i = 0; i < 2000; i++) {
        snprintf(labels, sizeof(labels), "customer_shard=\"%d\"", i);
        ac_metrics_add("shards_total", labels, (double)i);
    }
    for (int i = 0; i < 2000; i++) {
        snprintf(labels, sizeof(labels), "customer_shard=\"%d\"", i);
        cr_assert_float_eq(ac_metrics_get("shards_total", labels), (double)i, 1e-9);
    }
    char *text = ac_metrics_render();
    test_check_format(text);
    free(text);
    ac_metrics_reset();
    cr_assert_float_eq(ac_metrics_get("shards_total", "customer_shard=\"5\""), 0.0, 1e-9);
    text = ac_metrics_render();
    cr_assert_not_null(text);
    cr_assert_str_eq(text, "");
    free(text);
}

/* ---- HTTP ---- */

struct test_reply {
    int status;
    char headers[1024];
    char body[65536];
};

/* A minimal HTTP/1.0 client: one request, read to EOF. */
static void test_http(int port, const char *method, const char *path, struct test_reply *r)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);

    char req[256];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: localhost\r\n\r\n", method, path);
    cr_assert_eq(write(fd, req, (size_t)n), n);

    static char raw[sizeof(r->body) + sizeof(r->headers)];
    size_t len = 0;
    for (;;) {
        ssize_t got = read(fd, raw + len, sizeof(raw) - 1 - len);
        cr_assert_geq(got, 0, "read timed out or failed");
        if (got == 0) {
            break;
        }
        len += (size_t)got;
        cr_assert_lt(len, sizeof(raw) - 1);
    }
    close(fd);
    raw[len] = '\0';

    cr_assert_eq(sscanf(raw, "HTTP/1.%*d %d", &r->status), 1, "%s", raw);
    char *sep = strstr(raw, "\r\n\r\n");
    cr_assert_not_null(sep, "%s", raw);
    snprintf(r->headers, sizeof(r->headers), "%.*s", (int)(sep - raw), raw);
    snprintf(r->body, sizeof(r->body), "%s", sep + 4);
}

Test(metrics, http_endpoints)
{
    int port = -1;
    char err[256] = "";
    ac_metrics_declare("aftercare_dlq_total", "counter", "Events sent to the DLQ");
    ac_metrics_add("aftercare_dlq_total", "topic=\"orders\"", 3);

    cr_assert_eq(ac_http_start("127.0.0.1", 0, &port, err, sizeof(err)), 0, "%s", err);
    cr_assert(port > 0 && port < 65536);

    struct test_reply *r = calloc(1, sizeof(*r));
    cr_assert_not_null(r);

    test_http(port, "GET", "/metrics", r);
    cr_assert_eq(r->status, 200);
    cr_assert_not_null(strstr(r->headers, "text/plain; version=0.0.4"), "%s", r->headers);
    test_check_format(r->body);
    cr_assert_float_eq(test_sample(r->body, "aftercare_dlq_total{topic=\"orders\"}"), 3.0, 1e-9);

    test_http(port, "GET", "/healthz", r);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(r->body, "ok\n");

    test_http(port, "GET", "/readyz", r);
    cr_assert_eq(r->status, 503);
    cr_assert_str_eq(r->body, "not ready\n");
    ac_metrics_set_ready(1);
    test_http(port, "GET", "/readyz", r);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(r->body, "ready\n");
    ac_metrics_set_ready(0);
    test_http(port, "GET", "/readyz", r);
    cr_assert_eq(r->status, 503);

    test_http(port, "GET", "/nope", r);
    cr_assert_eq(r->status, 404);
    test_http(port, "POST", "/metrics", r);
    cr_assert_eq(r->status, 405);

    /* a second server is refused; the first keeps serving */
    int port2 = -1;
    cr_assert_lt(ac_http_start("127.0.0.1", 0, &port2, err, sizeof(err)), 0);
    cr_assert_not_null(strstr(err, "already running"), "%s", err);
    test_http(port, "GET", "/healthz", r);
    cr_assert_eq(r->status, 200);

    ac_http_stop();
    ac_http_stop(); /* idempotent */

    /* the port is free again after stop */
    int port3 = -1;
    cr_assert_eq(ac_http_start("127.0.0.1", port, &port3, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(port3, port);
    test_http(port, "GET", "/healthz", r);
    cr_assert_eq(r->status, 200);
    free(r);
}

Test(metrics, http_port_in_use)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(fd, 1), 0);
    socklen_t sl = sizeof(sa);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    int busy = ntohs(sa.sin_port);

    char err[256] = "";
    char want[256];
    int port = -1;
    cr_assert_lt(ac_http_start("127.0.0.1", busy, &port, err, sizeof(err)), 0);
    snprintf(want, sizeof(want), "cannot listen on 127.0.0.1:%d: Address already in use", busy);
    cr_assert_str_eq(err, want);
    cr_assert_eq(port, -1);
    close(fd);
}

Test(metrics, http_bad_arguments)
{
    char err[256] = "";
    cr_assert_lt(ac_http_start("127.0.0.1", 70000, NULL, err, sizeof(err)), 0);
    cr_assert_str_eq(err, "cannot listen on 127.0.0.1:70000: invalid port");
    cr_assert_lt(ac_http_start("not-an-address.invalid", 0, NULL, err, sizeof(err)), 0);
    cr_assert_not_null(strstr(err, "cannot listen on not-an-address.invalid:0: "), "%s", err);
}
