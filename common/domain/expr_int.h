/* expr_int.h — the compiled form of a condition, shared by the parser
 * (expr.c) and the evaluator (expr_eval.c). Not for other modules.
 *
 * A program is postfix code over a value stack. and/or compile to
 * conditional jumps (short-circuit): JF/JT look at the top of the stack, which
 * must be a boolean; if it decides the result they jump and keep it, else
 * they pop it and the right operand follows. Everything (header, code,
 * constants, field ids, string pool, source text) lives in one allocation. */
#ifndef AC_EXPR_INT_H
#define AC_EXPR_INT_H

#include <stddef.h>
#include <stdint.h>

#include "expr.h"

/* The evaluator's stack; the parser rejects programs that need more. */
#define EXPR_STACK_MAX (AC_EXPR_MAX_DEPTH + 16)

enum expr_op {
    EXPR_OP_CONST = 0, /* push consts[a] */
    EXPR_OP_FIELD,     /* push get(a); type = declared type */
    EXPR_OP_NOW,       /* push env->now */
    EXPR_OP_EQ,        /* pop 2, push bool */
    EXPR_OP_NE,
    EXPR_OP_LT,
    EXPR_OP_LE,
    EXPR_OP_GT,
    EXPR_OP_GE,
    EXPR_OP_ADD, /* pop 2, push int (or null) */
    EXPR_OP_SUB,
    EXPR_OP_NEG, /* pop 1, push int (or null) */
    EXPR_OP_NOT, /* pop bool, push bool */
    EXPR_OP_IS_NULL,
    EXPR_OP_IS_NOT_NULL,
    EXPR_OP_IN, /* pop 1, push bool: equal to one of consts[a .. a+b-1] */
    EXPR_OP_NOT_IN,
    EXPR_OP_JF,         /* top false: jump to a (keep); true: pop */
    EXPR_OP_JT,         /* top true: jump to a (keep); false: pop */
    EXPR_OP_CHECK_BOOL, /* top must be a boolean */
};

struct expr_insn {
    uint8_t op;
    uint8_t type; /* EXPR_OP_FIELD: the field's declared enum ac_expr_type */
    uint16_t unused;
    int32_t a;
    int32_t b;
};

struct expr_const {
    int64_t i;    /* AC_EXPR_INT value; AC_EXPR_BOOL 0/1 */
    uint32_t off; /* AC_EXPR_STR: bytes pool[off .. off+len-1] */
    uint32_t len;
    uint32_t type; /* enum ac_expr_type, never AC_EXPR_ANY */
};

struct ac_expr {
    const struct expr_insn *insns;
    const struct expr_const *consts;
    const int *field_ids; /* distinct, in order of first appearance */
    const char *pool;
    const char *text; /* NUL-terminated copy of the source */
    uint32_t n_insns;
    uint32_t n_consts;
    uint32_t n_fields;
    int max_stack;
    int uses_now;
};

/* ---- parsing (expr.c, expr_lex.c) ---- */

enum expr_tok_kind {
    TK_END = 0,
    TK_INT,
    TK_STR,
    TK_IDENT,
    TK_AND,
    TK_OR,
    TK_NOT,
    TK_IN,
    TK_IS,
    TK_NULL,
    TK_TRUE,
    TK_FALSE,
    TK_NOW,
    TK_EQ,
    TK_NE,
    TK_LT,
    TK_LE,
    TK_GT,
    TK_GE,
    TK_PLUS,
    TK_MINUS,
    TK_LPAREN,
    TK_RPAREN,
    TK_LBRACK,
    TK_RBRACK,
    TK_COMMA,
};

struct expr_tok {
    enum expr_tok_kind kind;
    size_t start; /* byte offset in the source */
    size_t len;
    int64_t i; /* TK_INT */
};

struct expr_parser {
    const char *src;
    size_t pos; /* lexer position */
    struct expr_tok tok;
    const struct ac_expr_field *fields;
    size_t n_fields;
    struct ac_expr_error *err;
    int depth;
    int sp; /* stack depth after the code so far */
    int max_sp;
    int uses_now;
    struct expr_insn *insns;
    size_t n_insns, cap_insns;
    struct expr_const *consts;
    size_t n_consts, cap_consts;
    int *field_ids;
    size_t n_field_ids, cap_field_ids;
    char *pool;
    size_t pool_len, pool_cap;
};

/* Records the first error at byte offset `at`; returns -1. */
__attribute__((format(printf, 3, 4))) int expr_fail(struct expr_parser *p, size_t at,
                                                    const char *fmt, ...);
/* Records "out of memory" (column 0); returns -1. */
int expr_nomem(struct expr_parser *p);
/* Grows arr (*cap elements of size elem) to hold need elements; returns
 * the array (maybe moved), or NULL with arr untouched. */
void *expr_grow(void *arr, size_t *cap, size_t need, size_t elem);
/* Reads the next token into p->tok; 0, or -1 with the error recorded. */
int expr_next(struct expr_parser *p);
/* The keyword name[0..len-1] spells in another case ("AND" → "and"), or NULL. */
const char *expr_keyword_folded(const char *name, size_t len);
/* Fails with "unknown field '...'" and a suggestion, for the token t. */
int expr_unknown_field(struct expr_parser *p, const struct expr_tok *t);

#endif
