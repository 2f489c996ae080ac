/* deliveries.h — the deliveries processor: shipments in flight and late ones. */
#ifndef AC_DELIVERIES_H
#define AC_DELIVERIES_H

#include "processor.h"

/* The processor, for main.c, the CLI (simulate) and the tests. */
extern const struct ac_processor ac_deliveries_processor;

#endif
