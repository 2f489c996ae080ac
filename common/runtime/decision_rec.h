/* decision_rec.h — one record of aftercare.decisions (schemas/decisions.avsc),
 * the audit log: every decision about an action, with its reason code and
 * the signal values that decided it.
 *
 * A plain struct with bounded buffers, like event.h's: every string is
 * NUL-terminated; an absent nullable string is "" and an absent nullable
 * timestamp is AC_TS_NONE. The codec writes it (ac_codec_encode_decision in
 * codec.h); nothing here does I/O. */
#ifndef AC_DECISION_REC_H
#define AC_DECISION_REC_H

#include <stdint.h>

#include "event.h"

#define AC_DECISION_REC_SIGNALS_MAX 8 /* signal values per decision (as an action's reason) */
#define AC_DECISION_SYMBOL_MAX 16     /* "rescheduled" is the longest symbol */
#define AC_DECISION_REASON_MAX 64

struct ac_decision_rec {
    /* Deterministic, chosen by the writer: the same decision always gets the
     * same id (e.g. ac_action_id(id, action_id, "<decision>:<cause>", 0), the
     * cause being the trigger event id or the timer's due time), so a record
     * produced again after a crash is recognisable downstream. */
    char decision_id[AC_ACTION_ID_MAX];
    char customer_id[AC_ID_MAX];
    char rule_id[AC_NAME_MAX];
    int32_t part; /* which action of the rule, 0 for the first */
    char action_id[AC_ACTION_ID_MAX];
    /* emitted, scheduled, deferred, rescheduled, merged, capped, suppressed,
     * held_out, expired, cancelled, exited or dropped (the schema's enum). */
    char decision[AC_DECISION_SYMBOL_MAX];
    char reason[AC_DECISION_REASON_MAX]; /* reason code, e.g. "frequency_cap" */
    char trigger_event_id[AC_ID_MAX];
    char trigger_type[AC_TYPE_MAX];
    char channel[AC_TYPE_MAX];                         /* "" if none */
    char template_name[AC_NAME_MAX];                   /* field "template"; "" if none */
    int64_t not_before;                                /* ms, AC_TS_NONE if none */
    int64_t due;                                       /* ms, AC_TS_NONE if none */
    char experiment[AC_NAME_MAX];                      /* "" if none */
    char variant[AC_TYPE_MAX];                         /* "" if none */
    struct ac_kv signals[AC_DECISION_REC_SIGNALS_MAX]; /* signal name -> value */
    int n_signals;
    int64_t decided_at; /* ms */
};

#endif
