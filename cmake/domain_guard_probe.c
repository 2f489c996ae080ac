/* Built only by the test domain_has_no_io, with the domain's include path:
 * it must fail, because domain code may not include librdkafka. */
#include "event.h"
#include <librdkafka/rdkafka.h>

int ac_domain_guard_probe(void);
int ac_domain_guard_probe(void)
{
    return 0;
}
