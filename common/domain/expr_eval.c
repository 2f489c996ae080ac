/* expr_eval.c — evaluating a compiled condition, and introspection.
 *
 * The hot path: a loop over postfix code with a fixed-size value stack on
 * the C stack. No allocation, no name lookups, no writes outside the
 * stack; the program is only read, so evaluation is reentrant. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "expr.h"
#include "expr_int.h"

const char *ac_expr_type_name(enum ac_expr_type t)
{
    switch (t) {
    case AC_EXPR_NULL: return "null";
    case AC_EXPR_BOOL: return "boolean";
    case AC_EXPR_INT: return "integer";
    case AC_EXPR_STR: return "string";
    case AC_EXPR_ANY: return "any";
    }
    return "?";
}

void ac_expr_destroy(struct ac_expr *expr)
{
    free(expr); /* one allocation: see expr_build() */
}

static int expr_equal(const struct ac_expr_value *a, const struct ac_expr_value *b)
{
    if (a->type != b->type) {
        return 0;
    }
    switch (a->type) {
    case AC_EXPR_NULL: return 1;
    case AC_EXPR_BOOL: return a->u.b == b->u.b;
    case AC_EXPR_INT: return a->u.i == b->u.i;
    case AC_EXPR_STR:
        return a->u.s.len == b->u.s.len &&
               (a->u.s.len == 0 || memcmp(a->u.s.ptr, b->u.s.ptr, a->u.s.len) == 0);
    default: return 0;
    }
}

/* <0, 0, >0 into *cmp; returns 0 if a and b are ordered (both integers or
 * both strings), else -1. */
static int expr_order(const struct ac_expr_value *a, const struct ac_expr_value *b, int *cmp)
{
    if (a->type != b->type) {
        return -1;
    }
    if (a->type == AC_EXPR_INT) {
        *cmp = (a->u.i > b->u.i) - (a->u.i < b->u.i);
        return 0;
    }
    if (a->type == AC_EXPR_STR) {
        size_t n = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
        int c = n > 0 ? memcmp(a->u.s.ptr, b->u.s.ptr, n) : 0;
        if (c == 0) {
            c = (a->u.s.len > b->u.s.len) - (a->u.s.len < b->u.s.len);
        }
        *cmp = c;
        return 0;
    }
    return -1;
}

static void expr_load_const(const struct ac_expr *expr, int32_t k, struct ac_expr_value *out)
{
    const struct expr_const *c = &expr->consts[k];
    out->type = (enum ac_expr_type)c->type;
    switch (c->type) {
    case AC_EXPR_BOOL: out->u.b = (int)c->i; break;
    case AC_EXPR_STR:
        out->u.s.ptr = expr->pool + c->off;
        out->u.s.len = c->len;
        break;
    default: out->u.i = c->i; break;
    }
}

static int expr_in(const struct ac_expr *expr, const struct expr_insn *in,
                   const struct ac_expr_value *v)
{
    for (int32_t k = in->a; k < in->a + in->b; k++) {
        struct ac_expr_value c = {0};
        expr_load_const(expr, k, &c);
        if (expr_equal(v, &c)) {
            return 1;
        }
    }
    return 0;
}

/* + and -: null if either side is null; integers otherwise. */
static int expr_arith(struct ac_expr_value *l, const struct ac_expr_value *r, int sub)
{
    if (l->type == AC_EXPR_NULL || r->type == AC_EXPR_NULL) {
        ac_expr_set_null(l);
        return 0;
    }
    if (l->type != AC_EXPR_INT || r->type != AC_EXPR_INT) {
        return AC_ERR_INVALID;
    }
    int64_t v;
    if (sub ? __builtin_sub_overflow(l->u.i, r->u.i, &v)
            : __builtin_add_overflow(l->u.i, r->u.i, &v)) {
        return AC_ERR_INVALID;
    }
    l->u.i = v;
    return 0;
}

static int expr_get(const struct ac_expr_env *env, const struct expr_insn *in,
                    struct ac_expr_value *out)
{
    ac_expr_set_null(out);
    int rc = env->get(env->opaque, in->a, out);
    if (rc < 0) {
        return rc;
    }
    switch (out->type) {
    case AC_EXPR_NULL: return 0;
    case AC_EXPR_BOOL: out->u.b = out->u.b != 0; break;
    case AC_EXPR_INT: break;
    case AC_EXPR_STR:
        if (out->u.s.ptr == NULL && out->u.s.len > 0) {
            return AC_ERR_INVALID;
        }
        break;
    default: return AC_ERR_INVALID;
    }
    if (in->type != AC_EXPR_ANY && in->type != out->type) {
        return AC_ERR_INVALID;
    }
    return 0;
}

int ac_expr_eval(const struct ac_expr *expr, const struct ac_expr_env *env)
{
    struct ac_expr_value st[EXPR_STACK_MAX];
    int sp = 0; /* st[sp - 1] is the top */
    int rc = 0;
    if (expr->max_stack > EXPR_STACK_MAX) {
        return AC_ERR_INVALID; /* not reached: the parser refuses such programs */
    }
    for (uint32_t pc = 0; pc < expr->n_insns; pc++) {
        const struct expr_insn *in = &expr->insns[pc];
        /* the parser guarantees the operands are there; never out of bounds */
        struct ac_expr_value *top = &st[sp > 0 ? sp - 1 : 0];
        struct ac_expr_value *left = &st[sp > 1 ? sp - 2 : 0];
        int cmp = 0, b;
        switch ((enum expr_op)in->op) {
        case EXPR_OP_CONST: expr_load_const(expr, in->a, &st[sp++]); break;
        case EXPR_OP_FIELD:
            rc = expr_get(env, in, &st[sp++]);
            if (rc < 0) {
                return rc;
            }
            break;
        case EXPR_OP_NOW: ac_expr_set_int(&st[sp++], env->now); break;
        case EXPR_OP_EQ:
        case EXPR_OP_NE:
            b = expr_equal(left, top);
            ac_expr_set_bool(left, in->op == EXPR_OP_EQ ? b : !b);
            sp--;
            break;
        case EXPR_OP_LT:
        case EXPR_OP_LE:
        case EXPR_OP_GT:
        case EXPR_OP_GE:
            b = 0;
            if (expr_order(left, top, &cmp) == 0) {
                b = in->op == EXPR_OP_LT   ? cmp < 0
                    : in->op == EXPR_OP_LE ? cmp <= 0
                    : in->op == EXPR_OP_GT ? cmp > 0
                                           : cmp >= 0;
            }
            ac_expr_set_bool(left, b);
            sp--;
            break;
        case EXPR_OP_ADD:
        case EXPR_OP_SUB:
            rc = expr_arith(left, top, in->op == EXPR_OP_SUB);
            if (rc < 0) {
                return rc;
            }
            sp--;
            break;
        case EXPR_OP_NEG:
            if (top->type == AC_EXPR_NULL) {
                break;
            }
            if (top->type != AC_EXPR_INT || top->u.i == INT64_MIN) {
                return AC_ERR_INVALID;
            }
            top->u.i = -top->u.i;
            break;
        case EXPR_OP_NOT:
            if (top->type != AC_EXPR_BOOL) {
                return AC_ERR_INVALID;
            }
            top->u.b = !top->u.b;
            break;
        case EXPR_OP_IS_NULL:
        case EXPR_OP_IS_NOT_NULL:
            b = top->type == AC_EXPR_NULL;
            ac_expr_set_bool(top, in->op == EXPR_OP_IS_NULL ? b : !b);
            break;
        case EXPR_OP_IN:
        case EXPR_OP_NOT_IN:
            b = expr_in(expr, in, top);
            ac_expr_set_bool(top, in->op == EXPR_OP_IN ? b : !b);
            break;
        case EXPR_OP_JF:
        case EXPR_OP_JT:
            if (top->type != AC_EXPR_BOOL) {
                return AC_ERR_INVALID;
            }
            if (top->u.b == (in->op == EXPR_OP_JT)) {
                pc = (uint32_t)in->a - 1; /* the loop's pc++ lands on a */
            } else {
                sp--;
            }
            break;
        case EXPR_OP_CHECK_BOOL:
            if (top->type != AC_EXPR_BOOL) {
                return AC_ERR_INVALID;
            }
            break;
        }
    }
    if (sp != 1 || st[0].type != AC_EXPR_BOOL) {
        return AC_ERR_INVALID; /* not reached for programs from ac_expr_new() */
    }
    return st[0].u.b;
}

int ac_expr_each_field(const struct ac_expr *expr, int (*fn)(int field_id, void *opaque),
                       void *opaque)
{
    for (uint32_t k = 0; k < expr->n_fields; k++) {
        int rc = fn(expr->field_ids[k], opaque);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

uint64_t ac_expr_field_mask(const struct ac_expr *expr)
{
    uint64_t mask = 0;
    for (uint32_t k = 0; k < expr->n_fields; k++) {
        int id = expr->field_ids[k];
        if (id >= 0 && id < 64) {
            mask |= UINT64_C(1) << id;
        }
    }
    return mask;
}

int ac_expr_uses_now(const struct ac_expr *expr)
{
    return expr->uses_now;
}

const char *ac_expr_text(const struct ac_expr *expr)
{
    return expr->text;
}
