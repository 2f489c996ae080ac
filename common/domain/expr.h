/* expr.h — the playbook's condition language (language reference: EXPR.md).
 *
 *   customer.order_count >= 2 and event.channel in ["email", "sms"]
 *   now - customer.last_order_at > 30d and customer.renewal_at is not null
 *
 * An expression is parsed once, at playbook load, against a caller-supplied
 * table of fields (dotted names → id and type). Names are resolved and types
 * checked then; an unknown field or a type error is a parse error with a
 * 1-based column. The result is an immutable program in one heap allocation.
 *
 * Evaluation fetches field values by id through a callback, never allocates,
 * never looks up names, uses a bounded stack and is reentrant: one program
 * may be evaluated by any number of threads at once. */
#ifndef AC_EXPR_H
#define AC_EXPR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Limits, checked at parse time. */
#define AC_EXPR_MAX_DEPTH 64 /* nesting of parentheses / operators */
#define AC_EXPR_MAX_LEN 8192 /* bytes of source text */
#define AC_EXPR_ERRMSG_MAX 256

enum ac_expr_type {
    AC_EXPR_NULL = 0, /* only as a value (null literal, absent field) */
    AC_EXPR_BOOL,
    AC_EXPR_INT, /* int64; timestamps and durations are milliseconds */
    AC_EXPR_STR,
    AC_EXPR_ANY, /* field table only: type known at run time */
};

/* "null", "boolean", "integer", "string", "any"; "?" out of range. */
const char *ac_expr_type_name(enum ac_expr_type t);

/* One entry of the caller's field table. name is dotted
 * ("customer.order_count", "event.type", "signal.value"); type is the type
 * of every non-null value the field takes (AC_EXPR_ANY if it varies); id is
 * the caller's number for the field, handed back to get(). Ids need not be
 * dense or distinct; ac_expr_field_mask() only covers ids 0..63.
 * The table is read during ac_expr_new() only; it need not outlive it. */
struct ac_expr_field {
    const char *name;
    enum ac_expr_type type;
    int id;
};

/* A value at evaluation time. Strings are borrowed: ptr must stay valid
 * for the duration of the ac_expr_eval() call; it need not be
 * NUL-terminated (len counts the bytes). */
struct ac_expr_value {
    enum ac_expr_type type; /* AC_EXPR_NULL, _BOOL, _INT or _STR */
    union {
        int b; /* 0 or 1 */
        int64_t i;
        struct {
            const char *ptr;
            size_t len;
        } s;
    } u;
};

static inline void ac_expr_set_null(struct ac_expr_value *out)
{
    out->type = AC_EXPR_NULL;
    out->u.i = 0;
}

static inline void ac_expr_set_bool(struct ac_expr_value *out, int b)
{
    out->type = AC_EXPR_BOOL;
    out->u.b = b ? 1 : 0;
}

static inline void ac_expr_set_int(struct ac_expr_value *out, int64_t i)
{
    out->type = AC_EXPR_INT;
    out->u.i = i;
}

/* s is borrowed (see above); s == NULL sets null. */
static inline void ac_expr_set_str(struct ac_expr_value *out, const char *s)
{
    if (s == NULL) {
        ac_expr_set_null(out);
        return;
    }
    out->type = AC_EXPR_STR;
    out->u.s.ptr = s;
    out->u.s.len = strlen(s);
}

/* What an evaluation sees. get() fills *out with the current value of the
 * field `field_id` (an id from the table given to ac_expr_new()) and returns
 * 0, or a negative enum ac_err that aborts the evaluation and is returned by
 * ac_expr_eval() unchanged. An absent value (AC_TS_NONE, no renewal date,
 * no score) should be returned as null. A non-null value whose type is not
 * the field's declared type (unless AC_EXPR_ANY) makes the evaluation fail
 * with AC_ERR_INVALID. get() must not allocate if the caller wants the
 * evaluation allocation-free; it is called at most once per field
 * occurrence, and not at all for operands skipped by short-circuiting. */
struct ac_expr_env {
    int64_t now; /* evaluation time, ms since epoch: the keyword `now` */
    int (*get)(const void *opaque, int field_id, struct ac_expr_value *out);
    const void *opaque; /* handed to get(), e.g. a struct holding event + customer */
};

struct ac_expr; /* opaque, immutable once built */

/* Where and why parsing failed. column is 1-based, in bytes of src (0 when
 * not tied to a position: out of memory). message has no position in it,
 * e.g. "unknown field 'customer.oder_count' (did you mean
 * 'customer.order_count'?)"; the caller prefixes file:line:column. */
struct ac_expr_error {
    int column;
    char message[AC_EXPR_ERRMSG_MAX];
};

/* Parses the NUL-terminated condition src against fields[0..n_fields-1].
 * The whole expression must be of boolean type (or of a field of type
 * AC_EXPR_ANY). Returns the program, owned by the caller (free with
 * ac_expr_destroy()); it keeps no pointer to src or fields. On error returns
 * NULL and, if err is not NULL, fills it. */
struct ac_expr *ac_expr_new(const char *src, const struct ac_expr_field *fields, size_t n_fields,
                            struct ac_expr_error *err);

/* Frees a program; NULL is a no-op. */
void ac_expr_destroy(struct ac_expr *expr);

/* Evaluates expr. Returns 1 (true), 0 (false), or a negative enum ac_err:
 * AC_ERR_INVALID for a run-time type error (a null or non-boolean operand
 * of and/or/not, a non-integer operand of + or -, integer overflow, get()
 * returning a value of the wrong type), or whatever get() returned.
 * Does not allocate; stack use is bounded; both pointers are only read and
 * only for the duration of the call. */
int ac_expr_eval(const struct ac_expr *expr, const struct ac_expr_env *env);

/* Introspection, for validating where a condition may be used (e.g. the
 * timer process evaluates against stored state, without an event).
 *
 * ac_expr_each_field() calls fn(field_id, opaque) once per distinct field id
 * the expression refers to, in order of first appearance, and returns fn's
 * first non-zero result (or 0). ac_expr_field_mask() returns a bit mask
 * with bit id set for each referenced field id in 0..63. */
int ac_expr_each_field(const struct ac_expr *expr, int (*fn)(int field_id, void *opaque),
                       void *opaque);
uint64_t ac_expr_field_mask(const struct ac_expr *expr);
/* 1 if the expression uses the keyword `now`, else 0. */
int ac_expr_uses_now(const struct ac_expr *expr);

/* The source text the program was built from (a copy, owned by expr; for
 * logs and audit). */
const char *ac_expr_text(const struct ac_expr *expr);

#endif
