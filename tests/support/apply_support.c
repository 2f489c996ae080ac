/* apply_support.c — see apply_support.h. */
#include "apply_support.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "build.h"
#include "rules.h"

void *ts_processor_open(const struct ac_processor *p, struct ac_config **cfg)
{
    char err[256];
    static const struct ac_cfg_entry pb_table[] = {
        {"playbook", AC_CFG_STR, AC_PLAYBOOK_DEFAULT, "", 0, 0},
        {"team.default_owner", AC_CFG_STR, "customer-success", "", 0, 0},
        {NULL, AC_CFG_STR, NULL, NULL, 0, 0},
    };
    const struct ac_cfg_entry *tables[] = {pb_table, p->config};
    *cfg = ac_config_load(tables, p->config ? 2 : 1, NULL, err, sizeof(err));
    cr_assert_not_null(*cfg, "%s", err);
    void *ctx = p->init ? p->init(*cfg, err, sizeof(err)) : NULL;
    cr_assert(!p->init || ctx, "%s", err);
    return ctx;
}

struct ac_engine *ts_engine(const char *path)
{
    static struct ac_rules *open_rules[8];
    static char paths[8][1024];
    static int n;
    char err[512];
    const char *p = path ? path : AC_PLAYBOOK_DEFAULT;
    for (int i = 0; i < n; i++) {
        if (strcmp(paths[i], p) == 0) {
            return ac_rules_engine(open_rules[i]);
        }
    }
    struct ac_engine_opts opts = {"customer-success"};
    cr_assert_lt(n, 8, "too many playbooks");
    open_rules[n] = ac_rules_open(p, &opts, err, sizeof(err));
    cr_assert_not_null(open_rules[n], "%s", err);
    snprintf(paths[n], sizeof(paths[n]), "%s", p);
    return ac_rules_engine(open_rules[n++]);
}

int ts_apply(const struct ac_processor *p, void *ctx, struct ac_engine *en, struct ac_customer *c,
             const struct ac_event *ev, const struct ac_clock *clock, struct ac_emit *out,
             char *reason, size_t rlen)
{
    struct ac_customer before = *c;
    int rc = p->apply(ctx, c, ev, clock, out, reason, rlen);
    if (rc != 0) {
        *c = before;
        return rc;
    }
    return en ? ac_engine_on_event(en, c, &before, ev, ac_clock_now(clock), out) : 0;
}
