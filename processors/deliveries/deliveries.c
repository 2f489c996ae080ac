/* deliveries.c — domain logic of the deliveries processor (pure: no I/O).
 *
 * State: deliveries in flight (shipped, not yet delivered, returned or
 * failed) and late ones (delayed or failed), with a late_delivery signal. An
 * estimate that passes without a delivery is the playbook's
 * delivery_delay_overdue timer, cancelled by the delivery. */
#include "deliveries.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static int deliveries_apply(void *opaque, struct ac_customer *c, const struct ac_event *ev,
                            const struct ac_clock *clock, struct ac_emit *out, char *reason,
                            size_t rlen)
{
    const char *type = ev->type;
    if (ev->u.delivery.order_id[0] == '\0') {
        snprintf(reason, rlen, "missing_field:order_id");
        return AC_ERR_INVALID;
    }
    int late = 0;
    if (strcmp(type, "shipped") == 0) {
        c->deliveries_in_flight++;
    } else if (strcmp(type, "delivered") == 0 || strcmp(type, "returned") == 0) {
        c->deliveries_in_flight = c->deliveries_in_flight > 0 ? c->deliveries_in_flight - 1 : 0;
    } else if (strcmp(type, "delivery_failed") == 0) {
        c->deliveries_in_flight = c->deliveries_in_flight > 0 ? c->deliveries_in_flight - 1 : 0;
        late = 1;
    } else if (strcmp(type, "delayed") == 0) {
        late = 1;
    }
    if (late) {
        c->late_deliveries++;
        ac_emit_signal(out, "late_delivery", ev, type, NULL, (double)c->late_deliveries);
    }
    return 0;
}

const struct ac_processor ac_deliveries_processor = {
    .name = "deliveries",
    .topic = AC_TOPIC_DELIVERIES,
    .description = "Deliveries in flight and late ones (late_delivery signal); status updates, "
                   "delay apologies, delivery surveys.",
    .config = NULL, /* the runtime's keys: playbook, team.default_owner */
    .init = NULL,   /* the runtime owns the playbook and runs the engine after apply */
    .fini = NULL,
    .apply = deliveries_apply,
    .reload = NULL,
};
