/* usage.h — the usage processor: activity and milestones. */
#ifndef AC_USAGE_H
#define AC_USAGE_H

#include "processor.h"

/* The processor, for main.c, the CLI (simulate) and the tests. */
extern const struct ac_processor ac_usage_processor;

#endif
