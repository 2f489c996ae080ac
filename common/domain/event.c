/* event.c — names of the contract enums. */
#include "event.h"

#include <string.h>

#include "err.h"

static const char *const topic_names[AC_TOPIC__N] = {"orders", "deliveries", "feedback", "usage"};

const char *ac_topic_name(enum ac_topic t)
{
    return (unsigned)t < AC_TOPIC__N ? topic_names[t] : NULL;
}

int ac_topic_from_name(const char *name)
{
    for (int i = 0; i < AC_TOPIC__N; i++) {
        if (strcmp(name, topic_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

const char *ac_kind_name(enum ac_action_kind k)
{
    static const char *const names[] = {"message", "crm_update", "team_task", "team_notification"};
    return (unsigned)k < 4 ? names[k] : "message";
}

const char *ac_category_name(enum ac_category c)
{
    static const char *const names[] = {"transactional", "marketing", "service"};
    return (unsigned)c < 3 ? names[c] : "transactional";
}

const char *ac_err_str(int err)
{
    switch (err) {
    case AC_OK: return "ok";
    case AC_ERR_INVALID: return "invalid";
    case AC_ERR_TRANSIENT: return "transient";
    case AC_ERR_CONFLICT: return "conflict";
    case AC_ERR_FATAL: return "fatal";
    case AC_ERR_NOMEM: return "out of memory";
    case AC_ERR_NOTFOUND: return "not found";
    case AC_ERR_IO: return "i/o error";
    default: return "unknown error";
    }
}
