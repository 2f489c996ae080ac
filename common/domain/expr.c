/* expr.c — the condition language's parser and code generator.
 *
 * Recursive descent, one function per precedence level, emitting postfix
 * code (expr_int.h) as it goes and checking static types on the way. Tokens come
 * from expr_lex.c. Names are resolved against the caller's field table here, so evaluation
 * (expr_eval.c) never sees a name. Grammar and messages: EXPR.md. */
#include "expr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr_int.h"

/* ---- code ---- */

static int expr_emit(struct expr_parser *p, enum expr_op op, int type, int32_t a, int32_t b)
{
    void *grown = expr_grow(p->insns, &p->cap_insns, p->n_insns + 1, sizeof(*p->insns));
    if (grown == NULL) {
        return expr_nomem(p);
    }
    p->insns = grown;
    struct expr_insn *in = &p->insns[p->n_insns++];
    in->op = (uint8_t)op;
    in->type = (uint8_t)type;
    in->unused = 0;
    in->a = a;
    in->b = b;
    switch (op) {
    case EXPR_OP_CONST:
    case EXPR_OP_FIELD:
    case EXPR_OP_NOW: p->sp++; break;
    case EXPR_OP_EQ:
    case EXPR_OP_NE:
    case EXPR_OP_LT:
    case EXPR_OP_LE:
    case EXPR_OP_GT:
    case EXPR_OP_GE:
    case EXPR_OP_ADD:
    case EXPR_OP_SUB:
    case EXPR_OP_JF: /* popped on the path that continues */
    case EXPR_OP_JT: p->sp--; break;
    default: break;
    }
    if (p->sp > p->max_sp) {
        p->max_sp = p->sp;
    }
    if (p->max_sp > EXPR_STACK_MAX) {
        return expr_fail(p, p->tok.start, "expression too complex");
    }
    return 0;
}

/* Appends a constant from the current token (a literal); *type gets its type. */
static int expr_add_const(struct expr_parser *p, int negate, enum ac_expr_type *type)
{
    void *grown = expr_grow(p->consts, &p->cap_consts, p->n_consts + 1, sizeof(*p->consts));
    if (grown == NULL) {
        return expr_nomem(p);
    }
    p->consts = grown;
    struct expr_const *c = &p->consts[p->n_consts];
    memset(c, 0, sizeof(*c));
    const struct expr_tok *t = &p->tok;
    switch (t->kind) {
    case TK_INT:
        c->type = AC_EXPR_INT;
        c->i = negate ? -t->i : t->i;
        break;
    case TK_TRUE:
    case TK_FALSE:
        c->type = AC_EXPR_BOOL;
        c->i = t->kind == TK_TRUE;
        break;
    case TK_NULL: c->type = AC_EXPR_NULL; break;
    case TK_STR: {
        char *pool = expr_grow(p->pool, &p->pool_cap, p->pool_len + t->len, 1);
        if (pool == NULL) {
            return expr_nomem(p);
        }
        p->pool = pool;
        c->type = AC_EXPR_STR;
        c->off = (uint32_t)p->pool_len;
        const char *s = p->src + t->start + 1;
        const char *end = p->src + t->start + t->len - 1;
        while (s < end) {
            if (*s == '\\') {
                s++;
            }
            p->pool[p->pool_len++] = *s++;
        }
        c->len = (uint32_t)(p->pool_len - c->off);
        break;
    }
    default: return -1; /* not reached: callers check the token */
    }
    *type = (enum ac_expr_type)c->type;
    p->n_consts++;
    return 0;
}

static int expr_is_literal(enum expr_tok_kind k)
{
    return k == TK_INT || k == TK_STR || k == TK_TRUE || k == TK_FALSE || k == TK_NULL;
}

/* Describes the current token for messages. */
static int expr_unexpected(struct expr_parser *p, const char *what)
{
    if (p->tok.kind == TK_END) {
        return expr_fail(p, p->tok.start, "unexpected end of expression (expected %s)", what);
    }
    int n = p->tok.len > 40 ? 40 : (int)p->tok.len;
    if (p->tok.kind == TK_IDENT && expr_keyword_folded(p->src + p->tok.start, p->tok.len)) {
        return expr_unknown_field(p, &p->tok);
    }
    return expr_fail(p, p->tok.start, "expected %s, got '%.*s'", what, n, p->src + p->tok.start);
}

static int expr_need_bool(struct expr_parser *p, size_t at, const char *op, enum ac_expr_type t)
{
    if (t == AC_EXPR_BOOL || t == AC_EXPR_ANY) {
        return 0;
    }
    return expr_fail(p, at, "'%s' needs boolean operands, got %s", op, ac_expr_type_name(t));
}

static int expr_need_int(struct expr_parser *p, size_t at, const char *op, enum ac_expr_type t)
{
    if (t == AC_EXPR_INT || t == AC_EXPR_ANY) {
        return 0;
    }
    return expr_fail(p, at, "'%s' needs integer operands, got %s", op, ac_expr_type_name(t));
}

static int expr_check_cmp(struct expr_parser *p, const struct expr_tok *op, enum ac_expr_type l,
                          enum ac_expr_type r)
{
    int ordering = op->kind != TK_EQ && op->kind != TK_NE;
    if (ordering) {
        enum ac_expr_type bad = l == AC_EXPR_BOOL || l == AC_EXPR_NULL ? l : r;
        if (bad == AC_EXPR_BOOL || bad == AC_EXPR_NULL) {
            return expr_fail(p, op->start, "'%.*s' needs integers or strings, got %s", (int)op->len,
                             p->src + op->start, ac_expr_type_name(bad));
        }
    } else if (l == AC_EXPR_NULL || r == AC_EXPR_NULL) {
        return 0;
    }
    if (l != r && l != AC_EXPR_ANY && r != AC_EXPR_ANY) {
        return expr_fail(p, op->start, "cannot compare %s with %s", ac_expr_type_name(l),
                         ac_expr_type_name(r));
    }
    return 0;
}

/* ---- parser: one function per precedence level, lowest first ---- */

static int expr_parse_or(struct expr_parser *p, enum ac_expr_type *type);

static int expr_enter(struct expr_parser *p)
{
    if (++p->depth > AC_EXPR_MAX_DEPTH) {
        return expr_fail(p, p->tok.start, "expression nested too deeply (more than %d levels)",
                         AC_EXPR_MAX_DEPTH);
    }
    return 0;
}

static int expr_parse_field(struct expr_parser *p, enum ac_expr_type *type)
{
    const struct expr_tok *t = &p->tok;
    const struct ac_expr_field *f = NULL;
    for (size_t k = 0; k < p->n_fields && f == NULL; k++) {
        const char *name = p->fields[k].name;
        if (strlen(name) == t->len && memcmp(name, p->src + t->start, t->len) == 0) {
            f = &p->fields[k];
        }
    }
    if (f == NULL) {
        return expr_unknown_field(p, t);
    }
    size_t k = 0;
    while (k < p->n_field_ids && p->field_ids[k] != f->id) {
        k++;
    }
    if (k == p->n_field_ids) {
        void *grown = expr_grow(p->field_ids, &p->cap_field_ids, k + 1, sizeof(int));
        if (grown == NULL) {
            return expr_nomem(p);
        }
        p->field_ids = grown;
        p->field_ids[p->n_field_ids++] = f->id;
    }
    *type = f->type;
    return expr_emit(p, EXPR_OP_FIELD, f->type, f->id, 0);
}

static int expr_parse_primary(struct expr_parser *p, enum ac_expr_type *type)
{
    size_t open = p->tok.start;
    switch (p->tok.kind) {
    case TK_INT:
    case TK_STR:
    case TK_TRUE:
    case TK_FALSE:
    case TK_NULL:
        if (expr_add_const(p, 0, type) < 0 ||
            expr_emit(p, EXPR_OP_CONST, 0, (int32_t)p->n_consts - 1, 0) < 0) {
            return -1;
        }
        break;
    case TK_NOW:
        p->uses_now = 1;
        *type = AC_EXPR_INT;
        if (expr_emit(p, EXPR_OP_NOW, 0, 0, 0) < 0) {
            return -1;
        }
        break;
    case TK_IDENT:
        if (expr_parse_field(p, type) < 0) {
            return -1;
        }
        break;
    case TK_LPAREN:
        if (expr_enter(p) < 0 || expr_next(p) < 0 || expr_parse_or(p, type) < 0) {
            return -1;
        }
        if (p->tok.kind != TK_RPAREN) {
            char what[64];
            snprintf(what, sizeof(what), "')' to close the '(' at column %zu", open + 1);
            return expr_unexpected(p, what);
        }
        p->depth--;
        break;
    default: return expr_unexpected(p, "a value (field, literal, 'now' or '(')");
    }
    return expr_next(p);
}

static int expr_parse_unary(struct expr_parser *p, enum ac_expr_type *type)
{
    if (p->tok.kind != TK_MINUS) {
        return expr_parse_primary(p, type);
    }
    size_t at = p->tok.start;
    if (expr_enter(p) < 0 || expr_next(p) < 0 || expr_parse_unary(p, type) < 0 ||
        expr_need_int(p, at, "-", *type) < 0 || expr_emit(p, EXPR_OP_NEG, 0, 0, 0) < 0) {
        return -1;
    }
    p->depth--;
    *type = AC_EXPR_INT;
    return 0;
}

static int expr_parse_add(struct expr_parser *p, enum ac_expr_type *type)
{
    if (expr_parse_unary(p, type) < 0) {
        return -1;
    }
    while (p->tok.kind == TK_PLUS || p->tok.kind == TK_MINUS) {
        struct expr_tok op = p->tok;
        const char *name = op.kind == TK_PLUS ? "+" : "-";
        enum ac_expr_type r;
        if (expr_need_int(p, op.start, name, *type) < 0 || expr_next(p) < 0 ||
            expr_parse_unary(p, &r) < 0 || expr_need_int(p, op.start, name, r) < 0 ||
            expr_emit(p, op.kind == TK_PLUS ? EXPR_OP_ADD : EXPR_OP_SUB, 0, 0, 0) < 0) {
            return -1;
        }
        *type = AC_EXPR_INT;
    }
    return 0;
}

/* `[ literal, ... ]` after in / not in; left is the left operand's type. */
static int expr_parse_list(struct expr_parser *p, const struct expr_tok *op, enum ac_expr_type left,
                           int negate_op)
{
    if (p->tok.kind != TK_LBRACK) {
        return expr_unexpected(p, "'[' (the right side of 'in' is a list of literals)");
    }
    size_t first = p->n_consts;
    enum ac_expr_type elem = AC_EXPR_NULL;
    if (expr_next(p) < 0) {
        return -1;
    }
    while (p->tok.kind != TK_RBRACK) {
        int negate = 0;
        size_t at = p->tok.start;
        if (p->tok.kind == TK_MINUS) {
            negate = 1;
            if (expr_next(p) < 0) {
                return -1;
            }
            if (p->tok.kind != TK_INT) {
                return expr_unexpected(p, "an integer after '-' in a list");
            }
        }
        if (!expr_is_literal(p->tok.kind)) {
            return expr_unexpected(p, "a literal (list elements are literals)");
        }
        enum ac_expr_type t = AC_EXPR_NULL;
        if (expr_add_const(p, negate, &t) < 0) {
            return -1;
        }
        if (t != AC_EXPR_NULL && elem != AC_EXPR_NULL && t != elem) {
            return expr_fail(p, at, "list elements must all have the same type (%s and %s)",
                             ac_expr_type_name(elem), ac_expr_type_name(t));
        }
        if (t != AC_EXPR_NULL) {
            elem = t;
        }
        if (expr_next(p) < 0) {
            return -1;
        }
        if (p->tok.kind == TK_COMMA) {
            if (expr_next(p) < 0) {
                return -1;
            }
        } else if (p->tok.kind != TK_RBRACK) {
            return expr_unexpected(p, "',' or ']'");
        }
    }
    if (left != AC_EXPR_ANY && left != AC_EXPR_NULL && elem != AC_EXPR_NULL && left != elem) {
        return expr_fail(p, op->start, "cannot compare %s with %s", ac_expr_type_name(left),
                         ac_expr_type_name(elem));
    }
    if (expr_emit(p, negate_op ? EXPR_OP_NOT_IN : EXPR_OP_IN, 0, (int32_t)first,
                  (int32_t)(p->n_consts - first)) < 0) {
        return -1;
    }
    return expr_next(p);
}

static int expr_is_cmp(enum expr_tok_kind k)
{
    return (k >= TK_EQ && k <= TK_GE) || k == TK_IN || k == TK_IS || k == TK_NOT;
}

static int expr_parse_cmp(struct expr_parser *p, enum ac_expr_type *type)
{
    if (expr_parse_add(p, type) < 0) {
        return -1;
    }
    struct expr_tok op = p->tok;
    if (!expr_is_cmp(op.kind)) {
        return 0;
    }
    if (expr_next(p) < 0) {
        return -1;
    }
    if (op.kind >= TK_EQ && op.kind <= TK_GE) {
        static const enum expr_op ops[] = {EXPR_OP_EQ, EXPR_OP_NE, EXPR_OP_LT,
                                           EXPR_OP_LE, EXPR_OP_GT, EXPR_OP_GE};
        enum ac_expr_type r;
        if (expr_parse_add(p, &r) < 0 || expr_check_cmp(p, &op, *type, r) < 0 ||
            expr_emit(p, ops[op.kind - TK_EQ], 0, 0, 0) < 0) {
            return -1;
        }
    } else if (op.kind == TK_IN) {
        if (expr_parse_list(p, &op, *type, 0) < 0) {
            return -1;
        }
    } else if (op.kind == TK_NOT) {
        if (p->tok.kind != TK_IN) {
            return expr_unexpected(p, "'in' after 'not'");
        }
        if (expr_next(p) < 0 || expr_parse_list(p, &op, *type, 1) < 0) {
            return -1;
        }
    } else {
        enum expr_op code = EXPR_OP_IS_NULL;
        if (p->tok.kind == TK_NOT) {
            code = EXPR_OP_IS_NOT_NULL;
            if (expr_next(p) < 0) {
                return -1;
            }
        }
        if (p->tok.kind != TK_NULL) {
            return expr_unexpected(p, "'null' or 'not null' after 'is'");
        }
        if (expr_emit(p, code, 0, 0, 0) < 0 || expr_next(p) < 0) {
            return -1;
        }
    }
    *type = AC_EXPR_BOOL;
    if (expr_is_cmp(p->tok.kind)) {
        return expr_fail(p, p->tok.start, "comparisons cannot be chained (use 'and')");
    }
    return 0;
}

static int expr_parse_not(struct expr_parser *p, enum ac_expr_type *type)
{
    if (p->tok.kind != TK_NOT) {
        return expr_parse_cmp(p, type);
    }
    size_t at = p->tok.start;
    if (expr_enter(p) < 0 || expr_next(p) < 0 || expr_parse_not(p, type) < 0 ||
        expr_need_bool(p, at, "not", *type) < 0 || expr_emit(p, EXPR_OP_NOT, 0, 0, 0) < 0) {
        return -1;
    }
    p->depth--;
    *type = AC_EXPR_BOOL;
    return 0;
}

/* and / or: left, J* end, right, [check], end: — the jump keeps the
 * deciding left value, else pops it and the right value is the result. */
static int expr_parse_and(struct expr_parser *p, enum ac_expr_type *type)
{
    if (expr_parse_not(p, type) < 0) {
        return -1;
    }
    while (p->tok.kind == TK_AND) {
        struct expr_tok op = p->tok;
        enum ac_expr_type r;
        size_t jump = p->n_insns;
        if (expr_need_bool(p, op.start, "and", *type) < 0 ||
            expr_emit(p, EXPR_OP_JF, 0, 0, 0) < 0 || expr_next(p) < 0 ||
            expr_parse_not(p, &r) < 0 || expr_need_bool(p, op.start, "and", r) < 0) {
            return -1;
        }
        if (r == AC_EXPR_ANY && expr_emit(p, EXPR_OP_CHECK_BOOL, 0, 0, 0) < 0) {
            return -1;
        }
        p->insns[jump].a = (int32_t)p->n_insns;
        *type = AC_EXPR_BOOL;
    }
    return 0;
}

static int expr_parse_or(struct expr_parser *p, enum ac_expr_type *type)
{
    if (expr_parse_and(p, type) < 0) {
        return -1;
    }
    while (p->tok.kind == TK_OR) {
        struct expr_tok op = p->tok;
        enum ac_expr_type r;
        size_t jump = p->n_insns;
        if (expr_need_bool(p, op.start, "or", *type) < 0 || expr_emit(p, EXPR_OP_JT, 0, 0, 0) < 0 ||
            expr_next(p) < 0 || expr_parse_and(p, &r) < 0 ||
            expr_need_bool(p, op.start, "or", r) < 0) {
            return -1;
        }
        if (r == AC_EXPR_ANY && expr_emit(p, EXPR_OP_CHECK_BOOL, 0, 0, 0) < 0) {
            return -1;
        }
        p->insns[jump].a = (int32_t)p->n_insns;
        *type = AC_EXPR_BOOL;
    }
    return 0;
}

static size_t expr_align(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Copies the parser's arrays and the source into one allocation. */
static struct ac_expr *expr_build(struct expr_parser *p)
{
    size_t text_len = strlen(p->src);
    size_t off_insns = expr_align(sizeof(struct ac_expr));
    size_t off_consts = expr_align(off_insns + p->n_insns * sizeof(struct expr_insn));
    size_t off_ids = expr_align(off_consts + p->n_consts * sizeof(struct expr_const));
    size_t off_pool = off_ids + p->n_field_ids * sizeof(int);
    size_t off_text = off_pool + p->pool_len;
    char *base = malloc(off_text + text_len + 1);
    if (base == NULL) {
        expr_nomem(p);
        return NULL;
    }
    void *mem = base;
    struct ac_expr *expr = mem;
    void *insns = base + off_insns, *consts = base + off_consts, *ids = base + off_ids;
    if (p->n_insns > 0) {
        memcpy(insns, p->insns, p->n_insns * sizeof(struct expr_insn));
    }
    if (p->n_consts > 0) {
        memcpy(consts, p->consts, p->n_consts * sizeof(struct expr_const));
    }
    if (p->n_field_ids > 0) {
        memcpy(ids, p->field_ids, p->n_field_ids * sizeof(int));
    }
    if (p->pool_len > 0) {
        memcpy(base + off_pool, p->pool, p->pool_len);
    }
    memcpy(base + off_text, p->src, text_len + 1);
    expr->insns = insns;
    expr->consts = consts;
    expr->field_ids = ids;
    expr->pool = base + off_pool;
    expr->text = base + off_text;
    expr->n_insns = (uint32_t)p->n_insns;
    expr->n_consts = (uint32_t)p->n_consts;
    expr->n_fields = (uint32_t)p->n_field_ids;
    expr->max_stack = p->max_sp;
    expr->uses_now = p->uses_now;
    return expr;
}

struct ac_expr *ac_expr_new(const char *src, const struct ac_expr_field *fields, size_t n_fields,
                            struct ac_expr_error *err)
{
    struct ac_expr *expr = NULL;
    struct ac_expr_error scratch;
    struct expr_parser p;
    memset(&p, 0, sizeof(p));
    p.src = src;
    p.fields = fields;
    p.n_fields = n_fields;
    p.err = err != NULL ? err : &scratch;
    p.err->column = 0;
    p.err->message[0] = '\0';
    enum ac_expr_type type;
    if (strlen(src) > AC_EXPR_MAX_LEN) {
        expr_fail(&p, AC_EXPR_MAX_LEN, "expression longer than %d bytes", AC_EXPR_MAX_LEN);
        goto out;
    }
    if (expr_next(&p) < 0) {
        goto out;
    }
    if (p.tok.kind == TK_END) {
        expr_fail(&p, p.tok.start, "empty expression");
        goto out;
    }
    size_t start = p.tok.start;
    if (expr_parse_or(&p, &type) < 0) {
        goto out;
    }
    if (p.tok.kind != TK_END) {
        expr_unexpected(&p, "an operator or the end of the expression");
        goto out;
    }
    if (type != AC_EXPR_BOOL && type != AC_EXPR_ANY) {
        expr_fail(&p, start, "condition must be boolean, got %s", ac_expr_type_name(type));
        goto out;
    }
    if (type == AC_EXPR_ANY && expr_emit(&p, EXPR_OP_CHECK_BOOL, 0, 0, 0) < 0) {
        goto out;
    }
    expr = expr_build(&p);
out:
    free(p.insns);
    free(p.consts);
    free(p.field_ids);
    free(p.pool);
    return expr;
}
