/* feedback.h — the feedback processor: surveys, tickets, engagement, preferences. */
#ifndef AC_FEEDBACK_H
#define AC_FEEDBACK_H

#include "processor.h"

/* The processor, for main.c, the CLI (simulate) and the tests. */
extern const struct ac_processor ac_feedback_processor;

/* NPS/CSAT class of a score (SPEC §3): nps_10 9-10 promoter, 7-8 passive,
 * 0-6 detractor; csat_5 5 promoter, 4 passive, 1-3 detractor. "" if the
 * scale is unknown. Static string. */
const char *ac_feedback_class(const char *scale, int score);

#endif
