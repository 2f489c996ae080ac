/* aftercare-orders: consumes `orders`, keeps order state and the RFM
 * segment, emits confirmations, CRM onboarding and segment signals. */
#include "orders.h"

int main(int argc, char **argv)
{
    return ac_runtime_main(&ac_orders_processor, argc, argv);
}
