/* harness_http.c — the fixture's HTTP side: waiting on an endpoint, reading
 * one series out of /metrics, and promtool (see harness.h). */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

int h_wait_http(int port, const char *path, int want_status, int deadline_ms)
{
    char body[256];
    int64_t deadline = ac_clock_mono_ms() + deadline_ms;
    for (;;) {
        if (h_http_get(port, path, body, sizeof(body)) == want_status) {
            return 1;
        }
        if (ac_clock_mono_ms() >= deadline) {
            return 0;
        }
        struct timespec ts = {0, 20 * 1000000L}; /* polling a condition */
        nanosleep(&ts, NULL);
    }
}

int h_metric(const char *text, const char *series, double *value)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            char *end = NULL;
            errno = 0;
            double v = strtod(p + n + 1, &end);
            if (errno != 0 || end == p + n + 1) {
                return 0;
            }
            *value = v;
            return 1;
        }
    }
    return 0;
}

int h_promtool(struct h_env *env, const char *name, const char *text, char *out, size_t len)
{
    char in_path[400], out_path[400], cmd[1000];
    snprintf(in_path, sizeof(in_path), "%s/%s.metrics", env->dir, name);
    snprintf(out_path, sizeof(out_path), "%s/%s.promtool", env->dir, name);
    FILE *f = fopen(in_path, "w");
    if (!f) {
        snprintf(out, len, "%s: %s", in_path, strerror(errno));
        return -1;
    }
    fputs(text, f);
    fclose(f);
    /* The paths are mkdtemp's: no quote inside them. */
    snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' > '%s' 2>&1", in_path, out_path);
    int status = system(cmd);
    f = fopen(out_path, "r");
    size_t got = f ? fread(out, 1, len - 1, f) : 0;
    out[got] = '\0';
    if (f) {
        fclose(f);
    }
    if (status == -1 || !WIFEXITED(status)) {
        return -1;
    }
    return WEXITSTATUS(status);
}
