/* aftercare-deliveries: consumes `deliveries`, keeps deliveries in flight and
 * late ones (late_delivery signal), and runs the playbook's delivery rules. */
#include "deliveries.h"

int main(int argc, char **argv)
{
    return ac_runtime_main(&ac_deliveries_processor, argc, argv);
}
