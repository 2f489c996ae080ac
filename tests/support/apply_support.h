/* apply_support.h — unit tests apply an event the way the one apply path does
 * (domain/apply.c): the processor's transition, then the playbook's engine
 * when the transition accepted the event; a rejected event leaves the state
 * as it was. */
#ifndef AC_APPLY_SUPPORT_H
#define AC_APPLY_SUPPORT_H

#include <stddef.h>

#include "engine.h"
#include "processor.h"

/* An engine on the playbook at path (NULL: the default playbook), opened once
 * per path and kept for the test process's life. Aborts the test on error. */
struct ac_engine *ts_engine(const char *path);

/* p's context on a config of its own keys and the playbook's, all defaults
 * (*cfg receives the config, for the caller to destroy). Aborts the test on
 * error. */
void *ts_processor_open(const struct ac_processor *p, struct ac_config **cfg);

/* p's transition for ev on *c, then en's rules (en NULL: the transition
 * alone). Returns what the transition or the engine returned. */
int ts_apply(const struct ac_processor *p, void *ctx, struct ac_engine *en, struct ac_customer *c,
             const struct ac_event *ev, const struct ac_clock *clock, struct ac_emit *out,
             char *reason, size_t rlen);

#endif
