/* fuzz_expr.c — libFuzzer target for the condition language (expr.h).
 *
 * The input is an expression. Every input must either parse, or fail with a
 * message and a column inside the text (1 .. length + 1). A parsed program
 * is evaluated against several environments (values present, all null, the
 * untyped field holding each type) and must return 1, 0 or AC_ERR_INVALID:
 * never crash, leak, read out of bounds or overflow its stack.
 *
 * Seeds: tests/fuzz/corpus/expr/. Built and run by ctest (fuzz/expr, a few
 * seconds) and by hand, see tests/README.md.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "expr.h"
#include "fuzz.h"

static const struct ac_expr_field fuzz_fields[] = {
    {"customer.order_count", AC_EXPR_INT, 0}, {"customer.last_order_at", AC_EXPR_INT, 1},
    {"customer.segment", AC_EXPR_STR, 2},     {"customer.subscribed", AC_EXPR_BOOL, 3},
    {"event.type", AC_EXPR_STR, 4},           {"event.total_cents", AC_EXPR_INT, 5},
    {"event.is_complaint", AC_EXPR_BOOL, 6},  {"signal.value", AC_EXPR_ANY, 7},
};

#define FUZZ_NFIELDS (sizeof(fuzz_fields) / sizeof(fuzz_fields[0]))

struct fuzz_env {
    int all_null;
    int any_type; /* what signal.value holds */
};

static int fuzz_get(const void *opaque, int field_id, struct ac_expr_value *out)
{
    const struct fuzz_env *fe = opaque;
    if (fe->all_null) {
        ac_expr_set_null(out);
        return 0;
    }
    switch (field_id) {
    case 0: ac_expr_set_int(out, 3); break;
    case 1: ac_expr_set_int(out, INT64_MAX); break;
    case 2: ac_expr_set_str(out, "mid_value_repeat"); break;
    case 3: ac_expr_set_bool(out, 1); break;
    case 4: ac_expr_set_str(out, ""); break;
    case 5: ac_expr_set_int(out, INT64_MIN); break;
    case 6: ac_expr_set_bool(out, 0); break;
    default:
        switch (fe->any_type) {
        case 0: ac_expr_set_int(out, -1); break;
        case 1: ac_expr_set_str(out, "x"); break;
        case 2: ac_expr_set_bool(out, 1); break;
        default: ac_expr_set_null(out); break;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *src = malloc(size + 1);
    if (src == NULL) {
        return 0;
    }
    memcpy(src, data, size);
    src[size] = '\0';
    size_t len = strlen(src);
    struct ac_expr_error err;
    struct ac_expr *expr = ac_expr_new(src, fuzz_fields, FUZZ_NFIELDS, &err);
    if (expr == NULL) {
        if (err.column < 1 || (size_t)err.column > len + 1 || err.message[0] == '\0') {
            fprintf(stderr, "bad error for '%s': %d %s\n", src, err.column, err.message);
            abort();
        }
        goto out;
    }
    if (strcmp(ac_expr_text(expr), src) != 0) {
        abort();
    }
    for (int any = 0; any < 4; any++) {
        for (int all_null = 0; all_null < 2; all_null++) {
            struct fuzz_env fe = {.all_null = all_null, .any_type = any};
            struct ac_expr_env env = {.now = any * 1000, .get = fuzz_get, .opaque = &fe};
            int rc = ac_expr_eval(expr, &env);
            if (rc != 0 && rc != 1 && rc != AC_ERR_INVALID) {
                abort();
            }
        }
    }
    (void)ac_expr_field_mask(expr);
    (void)ac_expr_uses_now(expr);
    ac_expr_destroy(expr);
out:
    free(src);
    return 0;
}
