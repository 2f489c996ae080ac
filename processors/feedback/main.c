/* aftercare-feedback: consumes `feedback` (surveys, tickets, message
 * engagement, preferences), keeps the customer's scores, open tickets and
 * consents, and runs the playbook's feedback rules. */
#include "feedback.h"

int main(int argc, char **argv)
{
    return ac_runtime_main(&ac_feedback_processor, argc, argv);
}
