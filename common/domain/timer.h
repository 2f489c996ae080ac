/* timer.h — what triggered a rule, and the durable timers of one customer.
 *
 * A trigger is the flat, scalar view of an input event or a signal that the
 * playbook's conditions read (event.*, signal.*). A timer keeps the trigger
 * it was scheduled from, so that when it fires the rule's conditions see the
 * same event they saw then, next to the customer's state of now.
 *
 * A customer's timers live in its record (record.h: compact, the trigger
 * stored once for every timer it scheduled), written whole in the same atomic
 * call as the state change that scheduled or cancelled them; the bucket's due
 * index holds the customer once, at its earliest due time (store.h). In
 * memory they are a set of at most AC_TIMERS_MAX that grows on demand. The
 * JSON form below is read only to migrate the previous layout. */
#ifndef AC_TIMER_H
#define AC_TIMER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "event.h"

#define AC_TIMERS_MAX 256 /* pending timers per customer */

enum ac_trigger_source { AC_TRIGGER_EVENT = 0, AC_TRIGGER_SIGNAL };

struct ac_trigger {
    enum ac_trigger_source source;
    int topic;              /* enum ac_topic of an event; -1 for a signal */
    char id[AC_ID_MAX];     /* event id (a signal: its cause event id) */
    char type[AC_TYPE_MAX]; /* event type, or "signal" */
    int64_t occurred_at;
    char order_id[AC_ID_MAX];
    int64_t total_cents;
    char currency[8];
    int64_t n_items;
    int64_t max_unit_price_cents;
    int64_t renewal_at;
    char carrier[AC_NAME_MAX];
    int64_t estimated_delivery_at;
    int64_t new_estimated_delivery_at;
    int64_t score; /* -1 if none */
    char scale[AC_TYPE_MAX];
    char ticket_id[AC_ID_MAX];
    char priority[AC_TYPE_MAX];
    int is_complaint;
    char engagement[AC_TYPE_MAX];
    char channel[AC_TYPE_MAX];
    char feature[AC_NAME_MAX];
    char milestone[AC_TYPE_MAX];
    int64_t quantity;
    char signal[AC_TYPE_MAX]; /* signal name */
    char value[AC_NAME_MAX];  /* signal value */
    char previous[AC_NAME_MAX];
    /* scope of a family-window action: the product family and its price */
    char family[AC_NAME_MAX];
    int64_t family_price_cents;
};

/* The trigger view of an event / of a signal it caused. */
void ac_trigger_from_event(struct ac_trigger *t, const struct ac_event *ev);
void ac_trigger_from_signal(struct ac_trigger *t, const struct ac_signal *s);

enum ac_timer_change { AC_TIMER_SAME = 0, AC_TIMER_WRITE };

struct ac_timer {
    char id[AC_ACTION_ID_MAX]; /* = the action id it will emit */
    char rule_id[AC_NAME_MAX];
    int part;                 /* the action's index in its rule */
    int64_t due;              /* next attempt, ms */
    int64_t first_due;        /* the due time as scheduled: expiry and defer bounds count from it */
    int64_t expires_at;       /* AC_TS_NONE: never */
    int seq;                  /* occurrence of a periodic rule (0, 1, ...) */
    char reason[AC_NAME_MAX]; /* why it was last deferred, "" if never */
    struct ac_trigger trigger;
    enum ac_timer_change change;
    int stored;     /* it was loaded from the customer's record */
    int id_derived; /* loaded without a stored id: it is the one record.c derives */
};

/* A customer's pending timers: loaded with the customer's record, changed by
 * the domain code, and written back whole with it. The array grows on
 * demand up to AC_TIMERS_MAX; a rule that would pass the bound is a visible
 * `dropped` decision (engine.c), never a silent loss. */
struct ac_timerset {
    struct ac_timer *t; /* [cap], owned */
    int n;
    int cap;
    int n_removed; /* timers removed since the load (cancelled, fired, expired) */
};

/* An empty set (no memory yet). Free with ac_timerset_fini(). */
void ac_timerset_init(struct ac_timerset *ts);
void ac_timerset_fini(struct ac_timerset *ts);
/* Forgets every timer, keeps the memory. */
void ac_timerset_clear(struct ac_timerset *ts);
/* Makes dst a copy of src (dst initialized). Returns 0 or AC_ERR_NOMEM. */
int ac_timerset_copy(struct ac_timerset *dst, const struct ac_timerset *src);
/* Index of the timer with this id, or -1. */
int ac_timerset_find(const struct ac_timerset *ts, const char *id);
/* Adds or replaces a timer (marked to be written). Returns 0, AC_ERR_NOMEM,
 * or AC_ERR_INVALID when the set holds AC_TIMERS_MAX timers already. */
/* The slot after the last timer, memory reserved but not counted: a reader
 * of a record (whose ids are distinct) fills it and then counts it (n++),
 * without put's search by id. NULL at AC_TIMERS_MAX or out of memory. */
struct ac_timer *ac_timerset_slot(struct ac_timerset *ts);
int ac_timerset_put(struct ac_timerset *ts, const struct ac_timer *t);
/* Removes timer i (swaps the last into its place). */
void ac_timerset_remove(struct ac_timerset *ts, int i);
/* Index of the timer due first, or -1 if none. */
int ac_timerset_next(const struct ac_timerset *ts);

/* JSON form of a timer (the value in the timers hash), and back. Parsing
 * returns 0 or AC_ERR_INVALID; the id is the hash field, given apart. */
int ac_timer_to_json(const struct ac_timer *t, struct ac_buf *out);
int ac_timer_from_json(struct ac_timer *t, const char *id, const char *json, size_t len);

struct ac_wire;

/* Compact encoding of a trigger (inside the customer record, record.h):
 * the fields that differ from a blank trigger's, then a 0. */
int ac_trigger_encode(const struct ac_trigger *t, struct ac_buf *out);
/* Returns 0 or AC_ERR_INVALID; fields of a newer version are skipped. */
int ac_trigger_decode(struct ac_trigger *t, struct ac_wire *r);

/* Due-index member of a timer: its 32-hex id followed by the customer id. */
int ac_timer_member(char *out, size_t outlen, const char *timer_id, const char *customer_id);
/* Splits a member; returns 0 or AC_ERR_INVALID. */
int ac_timer_member_split(const char *member, size_t len, char id[AC_ACTION_ID_MAX],
                          char customer_id[AC_ID_MAX]);

#endif
