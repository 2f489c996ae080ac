/* aftercare-usage: consumes `usage`, keeps the last activity and the
 * milestones reached (milestone signal), and runs the playbook's usage rules. */
#include "usage.h"

int main(int argc, char **argv)
{
    return ac_runtime_main(&ac_usage_processor, argc, argv);
}
