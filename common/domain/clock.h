/* clock.h — the one clock abstraction.
 *
 * Production uses the wall clock; tests and simulation use an explicit clock
 * they move by hand, so day 14 or a 5-year anniversary is tested in
 * milliseconds. Times are ms since the Unix epoch, UTC. */
#ifndef AC_CLOCK_H
#define AC_CLOCK_H

#include <stdint.h>

struct ac_clock {
    int64_t (*now)(const struct ac_clock *clock);
    int64_t fixed_ms; /* the explicit clock's time; a sped-up clock's epoch */
    int64_t speed;    /* a sped-up clock's rate */
};

/* The wall clock (CLOCK_REALTIME). Borrowed, static. */
const struct ac_clock *ac_clock_wall(void);
/* An explicit clock in the caller's storage, set to ms. */
void ac_clock_init_fixed(struct ac_clock *clock, int64_t ms);
/* Testing only (the demo, end-to-end tests of timers): a wall clock that runs
 * speed times faster from epoch_ms on, epoch_ms + (wall - epoch_ms) * speed;
 * speed 1 is the wall clock. In the caller's storage. */
void ac_clock_init_scaled(struct ac_clock *clock, int64_t epoch_ms, int64_t speed);
/* Moves an explicit clock; programmer error on the wall clock. */
void ac_clock_set(struct ac_clock *clock, int64_t ms);

static inline int64_t ac_clock_now(const struct ac_clock *clock)
{
    return clock->now(clock);
}

/* Monotonic ms for measuring durations. */
int64_t ac_clock_mono_ms(void);
/* Monotonic seconds as double, for latency histograms. */
double ac_clock_mono_s(void);

#endif
