/* expr_lex.c — the condition language's tokens, error reporting and the
 * did-you-mean for unknown field names (parser: expr.c). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "expr.h"
#include "expr_int.h"

static const struct {
    const char *word;
    enum expr_tok_kind kind;
} expr_keywords[] = {
    {"and", TK_AND},   {"or", TK_OR},     {"not", TK_NOT},     {"in", TK_IN},   {"is", TK_IS},
    {"null", TK_NULL}, {"true", TK_TRUE}, {"false", TK_FALSE}, {"now", TK_NOW},
};

#define EXPR_NKEYWORDS (sizeof(expr_keywords) / sizeof(expr_keywords[0]))

/* Records the first error only; returns -1 for `return expr_fail(...)`. */
int expr_fail(struct expr_parser *p, size_t at, const char *fmt, ...)
{
    if (p->err != NULL && p->err->column == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
        va_end(ap);
        p->err->column = (int)at + 1;
    }
    return -1;
}

void *expr_grow(void *arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return arr;
    }
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need) {
        ncap *= 2;
    }
    void *n = realloc(arr, ncap * elem);
    if (n != NULL) {
        *cap = ncap;
    }
    return n;
}

int expr_nomem(struct expr_parser *p)
{
    if (p->err != NULL) {
        p->err->column = 0;
        snprintf(p->err->message, sizeof(p->err->message), "out of memory");
    }
    return -1;
}

/* ---- lexer ---- */

static int expr_is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int expr_is_ident_char(char c)
{
    return expr_is_ident_start(c) || (c >= '0' && c <= '9');
}

static int expr_lex_number(struct expr_parser *p, size_t start)
{
    const char *s = p->src;
    size_t i = start;
    int64_t v = 0;
    while (s[i] >= '0' && s[i] <= '9') {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[i] - '0', &v)) {
            return expr_fail(p, start, "integer out of range");
        }
        i++;
    }
    if (expr_is_ident_char(s[i])) {
        size_t u = i;
        while (expr_is_ident_char(s[i])) {
            i++;
        }
        static const struct {
            const char *unit;
            int64_t ms;
        } units[] = {{"ms", 1},      {"s", 1000},     {"m", 60000},
                     {"h", 3600000}, {"d", 86400000}, {"w", 604800000}};
        int64_t mult = 0;
        for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
            if (strlen(units[k].unit) == i - u && memcmp(units[k].unit, s + u, i - u) == 0) {
                mult = units[k].ms;
            }
        }
        if (mult == 0) {
            return expr_fail(p, u, "unknown duration unit '%.*s' (use ms, s, m, h, d or w)",
                             (int)(i - u > 32 ? 32 : i - u), s + u);
        }
        if (__builtin_mul_overflow(v, mult, &v)) {
            return expr_fail(p, start, "duration out of range");
        }
    }
    p->tok.kind = TK_INT;
    p->tok.i = v;
    p->tok.len = i - start;
    return 0;
}

static int expr_lex_string(struct expr_parser *p, size_t start)
{
    const char *s = p->src;
    size_t i = start + 1;
    for (;;) {
        if (s[i] == '\0') {
            return expr_fail(p, start, "unterminated string");
        }
        if (s[i] == '"') {
            break;
        }
        if (s[i] == '\\') {
            if (s[i + 1] != '"' && s[i + 1] != '\\') {
                if (s[i + 1] == '\0') {
                    return expr_fail(p, start, "unterminated string");
                }
                return expr_fail(p, i, "invalid escape '\\%c' in string (only \\\" and \\\\)",
                                 isprint((unsigned char)s[i + 1]) ? s[i + 1] : '?');
            }
            i++;
        }
        i++;
    }
    p->tok.kind = TK_STR;
    p->tok.len = i + 1 - start;
    return 0;
}

/* Reads the next token into p->tok. */
int expr_next(struct expr_parser *p)
{
    const char *s = p->src;
    size_t i = p->pos;
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
        i++;
    }
    p->tok.start = i;
    p->tok.len = 1;
    char c = s[i];
    char d = c != '\0' ? s[i + 1] : '\0';
    int rc = 0;
    if (c == '\0') {
        p->tok.kind = TK_END;
        p->tok.len = 0;
    } else if (c >= '0' && c <= '9') {
        rc = expr_lex_number(p, i);
    } else if (c == '"') {
        rc = expr_lex_string(p, i);
    } else if (expr_is_ident_start(c)) {
        size_t j = i;
        for (;;) {
            while (expr_is_ident_char(s[j])) {
                j++;
            }
            if (s[j] == '.' && expr_is_ident_start(s[j + 1])) {
                j++;
                continue;
            }
            break;
        }
        p->tok.kind = TK_IDENT;
        p->tok.len = j - i;
        for (size_t k = 0; k < EXPR_NKEYWORDS; k++) {
            if (strlen(expr_keywords[k].word) == j - i &&
                memcmp(expr_keywords[k].word, s + i, j - i) == 0) {
                p->tok.kind = expr_keywords[k].kind;
            }
        }
    } else if (c == '=' && d == '=') {
        p->tok.kind = TK_EQ;
        p->tok.len = 2;
    } else if (c == '!' && d == '=') {
        p->tok.kind = TK_NE;
        p->tok.len = 2;
    } else if (c == '<' && d == '=') {
        p->tok.kind = TK_LE;
        p->tok.len = 2;
    } else if (c == '>' && d == '=') {
        p->tok.kind = TK_GE;
        p->tok.len = 2;
    } else if (c == '&' && d == '&') {
        p->tok.kind = TK_AND;
        p->tok.len = 2;
    } else if (c == '|' && d == '|') {
        p->tok.kind = TK_OR;
        p->tok.len = 2;
    } else if (c == '=' || c == '&' || c == '|') {
        const char *use = c == '=' ? "==" : c == '&' ? "&&' or 'and" : "||' or 'or";
        rc = expr_fail(p, i, "unexpected '%c' (use '%s')", c, use);
    } else {
        static const char singles[] = "!<>+-()[],";
        static const enum expr_tok_kind kinds[] = {TK_NOT,    TK_LT,     TK_GT,     TK_PLUS,
                                                   TK_MINUS,  TK_LPAREN, TK_RPAREN, TK_LBRACK,
                                                   TK_RBRACK, TK_COMMA};
        const char *at = strchr(singles, c);
        if (at == NULL) {
            if (isprint((unsigned char)c)) {
                rc = expr_fail(p, i, "unexpected character '%c'", c);
            } else {
                rc = expr_fail(p, i, "unexpected byte 0x%02x", (unsigned)(unsigned char)c);
            }
        } else {
            p->tok.kind = kinds[at - singles];
        }
    }
    p->pos = p->tok.start + p->tok.len;
    return rc;
}

/* ---- names ---- */

/* Optimal string alignment distance, case-insensitive; names longer than
 * 63 bytes count as far from everything. */
static size_t expr_distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t rows[3][64];
    if (la >= 64 || lb >= 64) {
        return (size_t)-1;
    }
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++) {
        prev[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            char ca = (char)tolower((unsigned char)a[i - 1]);
            char cb = (char)tolower((unsigned char)b[j - 1]);
            size_t cost = ca == cb ? 0 : 1;
            size_t v = prev[j] + 1;
            if (cur[j - 1] + 1 < v) {
                v = cur[j - 1] + 1;
            }
            if (prev[j - 1] + cost < v) {
                v = prev[j - 1] + cost;
            }
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < v) {
                v = prev2[j - 2] + 1;
            }
            cur[j] = v;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

/* The closest field name within distance 2, else a field whose last
 * segment is the whole name ("order_count" → "customer.order_count"). */
static const char *expr_suggest(const struct expr_parser *p, const char *name, size_t len)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t k = 0; k < p->n_fields; k++) {
        const char *f = p->fields[k].name;
        size_t d = expr_distance(name, len, f, strlen(f));
        if (d < best_d) {
            best_d = d;
            best = f;
        }
    }
    if (best != NULL) {
        return best;
    }
    for (size_t k = 0; k < p->n_fields; k++) {
        const char *f = p->fields[k].name;
        const char *dot = strrchr(f, '.');
        if (dot != NULL && strlen(dot + 1) == len && memcmp(dot + 1, name, len) == 0) {
            return f;
        }
    }
    return NULL;
}

const char *expr_keyword_folded(const char *name, size_t len)
{
    for (size_t k = 0; k < EXPR_NKEYWORDS; k++) {
        const char *w = expr_keywords[k].word;
        if (strlen(w) == len && strncasecmp(w, name, len) == 0) {
            return w;
        }
    }
    return NULL;
}

int expr_unknown_field(struct expr_parser *p, const struct expr_tok *t)
{
    const char *name = p->src + t->start;
    int n = t->len > 80 ? 80 : (int)t->len;
    const char *w = expr_keyword_folded(name, t->len);
    if (w != NULL) {
        return expr_fail(p, t->start, "unknown name '%.*s' (keywords are lower case: '%s')", n,
                         name, w);
    }
    const char *hint = expr_suggest(p, name, t->len);
    if (hint != NULL) {
        return expr_fail(p, t->start, "unknown field '%.*s' (did you mean '%s'?)", n, name, hint);
    }
    return expr_fail(p, t->start, "unknown field '%.*s'", n, name);
}
