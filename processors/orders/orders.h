/* orders.h — the orders processor: order state, RFM segment, immediate rules. */
#ifndef AC_ORDERS_H
#define AC_ORDERS_H

#include "processor.h"

/* The processor, for main.c, the CLI's demo and the tests. */
extern const struct ac_processor ac_orders_processor;

struct ac_orders_thresholds {
    int64_t high_value_cents;  /* revenue at or above: high_value_repeat */
    int64_t repeat_min_orders; /* orders at or above: a repeat customer */
};

/* The RFM segment of a state: new, one_time, mid_value_repeat or
 * high_value_repeat. Static string. */
const char *ac_orders_segment(const struct ac_customer *c, const struct ac_orders_thresholds *t);

#endif
