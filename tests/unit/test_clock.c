/* The clocks: explicit, wall, and the sped-up wall clock of the demo. */
#include <criterion/criterion.h>

#include "clock.h"

Test(clock, an_explicit_clock_stays_where_it_is_set)
{
    struct ac_clock c;
    ac_clock_init_fixed(&c, 1000);
    cr_expect_eq(ac_clock_now(&c), 1000);
    ac_clock_set(&c, 2000);
    cr_expect_eq(ac_clock_now(&c), 2000);
}

Test(clock, a_sped_up_clock_runs_speed_times_faster_from_its_epoch)
{
    const struct ac_clock *wall = ac_clock_wall();
    int64_t epoch = ac_clock_now(wall) - 1000, speed = 3600;
    struct ac_clock c;
    ac_clock_init_scaled(&c, epoch, speed);
    int64_t before = ac_clock_now(wall);
    int64_t now = ac_clock_now(&c);
    int64_t after = ac_clock_now(wall);
    cr_expect_geq(now, epoch + (before - epoch) * speed);
    cr_expect_leq(now, epoch + (after - epoch) * speed);
    cr_expect_geq(now - epoch, 1000 * speed, "an hour for every wall second");
}

Test(clock, speed_one_is_the_wall_clock)
{
    const struct ac_clock *wall = ac_clock_wall();
    struct ac_clock c;
    ac_clock_init_scaled(&c, 12345, 1);
    int64_t before = ac_clock_now(wall);
    int64_t now = ac_clock_now(&c);
    int64_t after = ac_clock_now(wall);
    cr_expect(now >= before && now <= after);
}
