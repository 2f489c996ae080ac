/* rules.h — a playbook file and its engine, reloadable (SIGHUP).
 *
 * The runtime owns the playbook: it loads it at start, reloads it between
 * batches, and hands the engine to the processors and the timer process. */
#ifndef AC_RULES_H
#define AC_RULES_H

#include <stddef.h>

#include "config.h"
#include "engine.h"

/* --- a playbook file and its engine, reloadable --------------------------------------------- */

struct ac_rules;

/* Loads the playbook at path and builds its engine. On errors, each is
 * written to stderr as "file:line:column: message" and NULL returned, with a
 * summary in errstr. */
struct ac_rules *ac_rules_open(const char *path, const struct ac_engine_opts *opts, char *errstr,
                               size_t errlen);
/* Loads the file again; a bad new playbook is refused (each error logged)
 * and the old one stays. Returns 0 or AC_ERR_INVALID. Call it only while no
 * evaluation is running (between batches). */
int ac_rules_reload(struct ac_rules *r);
struct ac_engine *ac_rules_engine(struct ac_rules *r);
void ac_rules_close(struct ac_rules *r);

/* A processor's context when the playbook is all it needs: an ac_rules from
 * the config keys "playbook" and "team.default_owner" (the runtime's). For
 * struct ac_processor's init, fini and reload. */
void *ac_rules_ctx_new(const struct ac_config *cfg, char *errstr, size_t errlen);
void ac_rules_ctx_free(void *ctx);
int ac_rules_ctx_reload(void *ctx);

#endif
