/* timers.h — aftercare-timers: fires due timers (SPEC §1, §6).
 *
 * A processor without an input topic: the runtime (processor.h) runs it
 * like the others (config, signals, Redis recovery and loss detection, the
 * producer and delivery, /metrics, SIGHUP) and calls its tick in the loop.
 * Any number of replicas may run: each round claims due timers through the
 * customers' version check (fire.h), so none fires twice, and a replica
 * killed mid-round loses nothing. Records a dead process left in an outbox
 * are produced by the sweep. */
#ifndef AC_TIMERS_H
#define AC_TIMERS_H

#include "processor.h"

extern const struct ac_processor ac_timers_processor;

#endif
