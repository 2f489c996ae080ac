/* clock.c — wall and explicit clocks. */
#include "clock.h"

#include <assert.h>
#include <time.h>

static int64_t clock_wall_now(const struct ac_clock *clock)
{
    (void)clock;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t clock_fixed_now(const struct ac_clock *clock)
{
    return clock->fixed_ms;
}

static int64_t clock_scaled_now(const struct ac_clock *clock)
{
    return clock->fixed_ms + (clock_wall_now(clock) - clock->fixed_ms) * clock->speed;
}

static const struct ac_clock clock_wall = {clock_wall_now, 0, 1};

const struct ac_clock *ac_clock_wall(void)
{
    return &clock_wall;
}

void ac_clock_init_fixed(struct ac_clock *clock, int64_t ms)
{
    clock->now = clock_fixed_now;
    clock->fixed_ms = ms;
    clock->speed = 0;
}

void ac_clock_init_scaled(struct ac_clock *clock, int64_t epoch_ms, int64_t speed)
{
    clock->now = speed > 1 ? clock_scaled_now : clock_wall_now;
    clock->fixed_ms = epoch_ms;
    clock->speed = speed > 1 ? speed : 1;
}

void ac_clock_set(struct ac_clock *clock, int64_t ms)
{
    assert(clock->now == clock_fixed_now);
    clock->fixed_ms = ms;
}

int64_t ac_clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double ac_clock_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
