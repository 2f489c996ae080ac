/* playbook_cond.c — conditions (when, exit_when, suppress_when, cancel_on's
 * when, global suppressions): the one place the playbook calls the condition
 * language's parser (expr.h). An error inside a condition is reported at its
 * exact line:column in the file: the column the parser reports, plus the
 * offset of the condition inside its YAML scalar when the scalar is on one
 * line and its characters map one to one (plain, or quoted without escapes);
 * otherwise at the start of the scalar. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "playbook_int.h"

/* Characters (not bytes) in the first n bytes of UTF-8 s: libyaml's columns
 * count characters. */
static int cond_chars(const char *s, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n && s[i]; i++) {
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    return c;
}

/* The file position of byte offset off (0-based) inside the scalar node. */
static void cond_position(const yaml_node_t *node, size_t off, int *line, int *column)
{
    const char *text = (const char *)node->data.scalar.value;
    int len = cond_chars(text, node->data.scalar.length);
    int span = (int)node->end_mark.column - (int)node->start_mark.column;
    int one_line = node->end_mark.line == node->start_mark.line;
    int lead = -1;
    switch (node->data.scalar.style) {
    case YAML_PLAIN_SCALAR_STYLE: lead = one_line && span == len ? 0 : -1; break;
    case YAML_SINGLE_QUOTED_SCALAR_STYLE:
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE: lead = one_line && span == len + 2 ? 1 : -1; break;
    case YAML_ANY_SCALAR_STYLE:
    case YAML_LITERAL_SCALAR_STYLE:
    case YAML_FOLDED_SCALAR_STYLE: break;
    }
    *line = playbook_line(node);
    *column = playbook_column(node);
    if (lead >= 0) {
        *column += lead + cond_chars(text, off);
    }
}

struct cond_check {
    struct playbook_loader *ld;
    const yaml_node_t *node;
    const struct playbook_cond_ctx *ctx;
    const char *text;
    int bad;
};

/* The byte offset of a field's name in the text (for the error position). */
static size_t cond_find(const char *text, const char *name)
{
    const char *p = strstr(text, name);
    return p ? (size_t)(p - text) : 0;
}

static int cond_field(int id, void *opaque)
{
    struct cond_check *cc = opaque;
    size_t nf = 0;
    const struct ac_expr_field *fields = ac_playbook_fields(&nf);
    const char *name = (size_t)id < nf ? fields[id].name : "?";
    unsigned topics = 0;
    int klass = playbook_field_class(id, &topics);
    int line = 0, column = 0;
    cond_position(cc->node, cond_find(cc->text, name), &line, &column);
    if (klass == PLAYBOOK_FIELD_EVENT && !cc->ctx->event_ok) {
        playbook_error_at(cc->ld, line, column, "'%s' is not available in %s: %s", name,
                          cc->ctx->where, cc->ctx->why_not);
        cc->bad = 1;
    } else if (klass == PLAYBOOK_FIELD_EVENT && (topics & cc->ctx->topics) == 0) {
        playbook_error_at(cc->ld, line, column,
                          "'%s' is never set by the events this %s sees (they carry no such "
                          "field)",
                          name, cc->ctx->where);
        cc->bad = 1;
    } else if (klass == PLAYBOOK_FIELD_SIGNAL && !cc->ctx->signal_ok) {
        playbook_error_at(cc->ld, line, column, "'%s' is not available in %s: %s", name,
                          cc->ctx->where, cc->ctx->why_not);
        cc->bad = 1;
    }
    return 0;
}

int playbook_cond_init(struct playbook_loader *ld, const yaml_node_t *node,
                       const struct playbook_cond_ctx *ctx, struct ac_pb_cond *cond)
{
    const char *text = playbook_scalar(ld, node, ctx->where);
    if (!text) {
        return -1;
    }
    if (text[0] == '\0') {
        playbook_error(ld, node, "%s is empty: write a condition or leave the key out", ctx->where);
        return -1;
    }
    size_t nf = 0;
    const struct ac_expr_field *fields = ac_playbook_fields(&nf);
    struct ac_expr_error err;
    memset(&err, 0, sizeof(err));
    struct ac_expr *expr = ac_expr_new(text, fields, nf, &err);
    if (!expr) {
        int line = 0, column = 0;
        cond_position(node, err.column > 0 ? (size_t)err.column - 1 : 0, &line, &column);
        playbook_error_at(ld, line, column, "in %s: %s", ctx->where, err.message);
        return -1;
    }
    struct ac_playbook *pb = ld->pb;
    if (pb->n_exprs == pb->cap_exprs) {
        size_t cap = pb->cap_exprs ? 2 * pb->cap_exprs : 32;
        struct ac_expr **e = realloc(pb->exprs, cap * sizeof(*e));
        if (!e) {
            ac_expr_destroy(expr);
            ld->oom = 1;
            return -1;
        }
        pb->exprs = e;
        pb->cap_exprs = cap;
    }
    pb->exprs[pb->n_exprs++] = expr;
    struct cond_check cc = {ld, node, ctx, text, 0};
    ac_expr_each_field(expr, cond_field, &cc);
    if (cc.bad) {
        return -1;
    }
    cond->text = playbook_strdup(ld, text);
    cond->expr = expr;
    cond_position(node, 0, &cond->line, &cond->column);
    return cond->text ? 0 : -1;
}

const struct ac_pb_cond *playbook_cond(struct playbook_loader *ld, const yaml_node_t *node,
                                       const struct playbook_cond_ctx *ctx)
{
    struct ac_pb_cond *cond = playbook_alloc(ld, sizeof(*cond));
    if (!cond || playbook_cond_init(ld, node, ctx, cond) != 0) {
        return NULL;
    }
    return cond;
}
