/* rules.c — a playbook file and its engine: loading and SIGHUP reloads. */
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "log.h"
#include "rules.h"

struct ac_rules {
    char path[1024];
    struct ac_playbook *pb;
    struct ac_engine *engine;
};

struct rules_diag {
    int n;
    int to_log; /* 0: stderr (start-up), 1: the log (reload) */
};

static void rules_diag(const struct ac_pb_diag *d, void *opaque)
{
    struct rules_diag *rd = opaque;
    rd->n++;
    if (rd->to_log) {
        AC_ERROR("playbook refused: %s", d->text);
    } else {
        fprintf(stderr, "%s\n", d->text);
    }
}

struct ac_rules *ac_rules_open(const char *path, const struct ac_engine_opts *opts, char *errstr,
                               size_t errlen)
{
    struct rules_diag rd = {0, 0};
    struct ac_rules *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->pb = ac_playbook_load(path, rules_diag, &rd);
    if (!r->pb) {
        snprintf(errstr, errlen, "playbook %s: %d error%s (above); not starting", path, rd.n,
                 rd.n == 1 ? "" : "s");
        free(r);
        return NULL;
    }
    r->engine = ac_engine_new(r->pb, opts);
    if (!r->engine) {
        snprintf(errstr, errlen, "out of memory");
        ac_playbook_destroy(r->pb);
        free(r);
        return NULL;
    }
    AC_INFO("playbook loaded path=%s rules=%zu", path, ac_playbook_rule_count(r->pb));
    return r;
}

int ac_rules_reload(struct ac_rules *r)
{
    struct rules_diag rd = {0, 1};
    struct ac_playbook *pb = ac_playbook_load(r->path, rules_diag, &rd);
    if (!pb) {
        AC_ERROR("playbook reload refused path=%s errors=%d; keeping the playbook in use", r->path,
                 rd.n);
        return AC_ERR_INVALID;
    }
    ac_engine_set_playbook(r->engine, pb);
    ac_playbook_destroy(r->pb);
    r->pb = pb;
    AC_INFO("playbook reloaded path=%s rules=%zu", r->path, ac_playbook_rule_count(pb));
    return 0;
}

struct ac_engine *ac_rules_engine(struct ac_rules *r)
{
    return r->engine;
}

void ac_rules_close(struct ac_rules *r)
{
    if (r) {
        ac_engine_destroy(r->engine);
        ac_playbook_destroy(r->pb);
        free(r);
    }
}

void *ac_rules_ctx_new(const struct ac_config *cfg, char *errstr, size_t errlen)
{
    struct ac_engine_opts opts = {ac_config_str(cfg, "team.default_owner")};
    return ac_rules_open(ac_config_str(cfg, "playbook"), &opts, errstr, errlen);
}

void ac_rules_ctx_free(void *ctx)
{
    ac_rules_close(ctx);
}

int ac_rules_ctx_reload(void *ctx)
{
    return ac_rules_reload(ctx);
}
