/* aftercare-timers: fires the durable timers the processors scheduled. */
#include "timers.h"

int main(int argc, char **argv)
{
    return ac_runtime_main(&ac_timers_processor, argc, argv);
}
