/* harness_cli.c — running the `aftercare` command against the test's stack
 * (see harness.h). */
#include "harness.h"

#include <stdio.h>
#include <sys/wait.h>

int h_run_cli(struct h_env *env, const char *args, char *out, size_t outlen, char *err,
              size_t errlen)
{
    char cmd[2048], errpath[512];
    snprintf(errpath, sizeof(errpath), "%s/cli.err", env->dir);
    snprintf(cmd, sizeof(cmd),
             "AFTERCARE_KAFKA_BROKERS=%s AFTERCARE_SCHEMAS_DIR=%s/schemas %s/aftercare %s 2>%s",
             ac_dev_kafka_brokers(env->dk), h_source_dir(), h_bin_dir(), args, errpath);
    out[0] = '\0';
    FILE *p = popen(cmd, "r");
    if (!p) {
        return -1;
    }
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    if (err) {
        FILE *f = fopen(errpath, "r");
        size_t m = f ? fread(err, 1, errlen - 1, f) : 0;
        err[m] = '\0';
        if (f) {
            fclose(f);
        }
    }
    return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
