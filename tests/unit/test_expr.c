/* The playbook condition language: parse, type-check, evaluate (EXPR.md). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "expr.h"

enum {
    F_ORDER_COUNT = 0,
    F_LAST_ORDER_AT,
    F_SEGMENT,
    F_RENEWAL_AT,
    F_SUBSCRIBED,
    F_EVENT_TYPE = 10,
    F_EVENT_TOTAL,
    F_EVENT_CHANNEL,
    F_EVENT_COMPLAINT,
    F_SIGNAL_VALUE = 20,
    F_MAX = 32
};

static const struct ac_expr_field test_fields[] = {
    {"customer.order_count", AC_EXPR_INT, F_ORDER_COUNT},
    {"customer.last_order_at", AC_EXPR_INT, F_LAST_ORDER_AT},
    {"customer.segment", AC_EXPR_STR, F_SEGMENT},
    {"customer.renewal_at", AC_EXPR_INT, F_RENEWAL_AT},
    {"customer.subscribed", AC_EXPR_BOOL, F_SUBSCRIBED},
    {"event.type", AC_EXPR_STR, F_EVENT_TYPE},
    {"event.total_cents", AC_EXPR_INT, F_EVENT_TOTAL},
    {"event.channel", AC_EXPR_STR, F_EVENT_CHANNEL},
    {"event.is_complaint", AC_EXPR_BOOL, F_EVENT_COMPLAINT},
    {"signal.value", AC_EXPR_ANY, F_SIGNAL_VALUE},
};

#define N_FIELDS (sizeof(test_fields) / sizeof(test_fields[0]))

struct test_state {
    struct ac_expr_value v[F_MAX];
    int calls[F_MAX];
    int fail_id; /* get() returns AC_ERR_NOTFOUND for this id */
};

static struct test_state state;
static const int64_t NOW = 1700000000000;
static const int64_t DAY = 86400000;

static int test_get(const void *opaque, int field_id, struct ac_expr_value *out)
{
    struct test_state *s = (struct test_state *)(uintptr_t)opaque;
    s->calls[field_id]++;
    if (field_id == s->fail_id) {
        return AC_ERR_NOTFOUND;
    }
    *out = s->v[field_id];
    return 0;
}

static void test_reset(void)
{
    memset(&state, 0, sizeof(state));
    state.fail_id = -1;
    ac_expr_set_int(&state.v[F_ORDER_COUNT], 3);
    ac_expr_set_int(&state.v[F_LAST_ORDER_AT], NOW - 40 * DAY);
    ac_expr_set_str(&state.v[F_SEGMENT], "mid_value_repeat");
    ac_expr_set_null(&state.v[F_RENEWAL_AT]);
    ac_expr_set_bool(&state.v[F_SUBSCRIBED], 1);
    ac_expr_set_str(&state.v[F_EVENT_TYPE], "order_placed");
    ac_expr_set_int(&state.v[F_EVENT_TOTAL], 12500);
    ac_expr_set_str(&state.v[F_EVENT_CHANNEL], "sms");
    ac_expr_set_bool(&state.v[F_EVENT_COMPLAINT], 0);
    ac_expr_set_int(&state.v[F_SIGNAL_VALUE], 7);
}

TestSuite(expr, .init = test_reset);

static struct ac_expr *parse_ok(const char *src)
{
    struct ac_expr_error err;
    struct ac_expr *expr = ac_expr_new(src, test_fields, N_FIELDS, &err);
    cr_assert_not_null(expr, "'%s' must parse, got %d: %s", src, err.column, err.message);
    return expr;
}

/* Parses and evaluates src against `state`. */
static int ev(const char *src)
{
    struct ac_expr *expr = parse_ok(src);
    struct ac_expr_env env = {.now = NOW, .get = test_get, .opaque = &state};
    int rc = ac_expr_eval(expr, &env);
    ac_expr_destroy(expr);
    return rc;
}

#define EXPECT_TRUE(src) cr_expect_eq(ev(src), 1, "'%s' should be true", src)
#define EXPECT_FALSE(src) cr_expect_eq(ev(src), 0, "'%s' should be false", src)

static void expect_error(const char *src, int column, const char *message)
{
    struct ac_expr_error err;
    memset(&err, 0x55, sizeof(err));
    struct ac_expr *expr = ac_expr_new(src, test_fields, N_FIELDS, &err);
    cr_expect_null(expr, "'%s' must not parse", src);
    ac_expr_destroy(expr);
    cr_expect_eq(err.column, column, "'%s': column %d, expected %d (%s)", src, err.column, column,
                 err.message);
    cr_expect_str_eq(err.message, message, "'%s'", src);
}

Test(expr, literals_and_every_comparison)
{
    EXPECT_TRUE("true");
    EXPECT_FALSE("false");
    EXPECT_TRUE("1 == 1");
    EXPECT_FALSE("1 == 2");
    EXPECT_TRUE("1 != 2");
    EXPECT_TRUE("1 < 2");
    EXPECT_FALSE("2 < 2");
    EXPECT_TRUE("2 <= 2");
    EXPECT_TRUE("3 > 2");
    EXPECT_FALSE("2 > 2");
    EXPECT_TRUE("2 >= 2");
    EXPECT_TRUE("\"abc\" < \"abd\"");
    EXPECT_TRUE("\"ab\" < \"abc\"");
    EXPECT_TRUE("\"\" == \"\"");
    EXPECT_TRUE("\"b\" >= \"a\"");
    EXPECT_TRUE("true == true");
    EXPECT_TRUE("true != false");
    EXPECT_TRUE("customer.order_count == 3");
    EXPECT_TRUE("customer.segment == \"mid_value_repeat\"");
    EXPECT_TRUE("event.total_cents >= 10000");
    EXPECT_TRUE("customer.subscribed");
    EXPECT_TRUE("customer.subscribed == true");
    EXPECT_FALSE("event.is_complaint");
}

Test(expr, string_escapes)
{
    ac_expr_set_str(&state.v[F_SEGMENT], "a\"b\\c");
    EXPECT_TRUE("customer.segment == \"a\\\"b\\\\c\"");
    EXPECT_FALSE("customer.segment == \"a\\\"b\\\\\"");
}

Test(expr, arithmetic_and_durations)
{
    EXPECT_TRUE("1 + 2 == 3");
    EXPECT_TRUE("10 - 2 - 3 == 5"); /* left associative */
    EXPECT_TRUE("-5 + 10 == 5");
    EXPECT_TRUE("-(2 + 3) == -5");
    EXPECT_TRUE("15s == 15000");
    EXPECT_TRUE("30m == 1800000");
    EXPECT_TRUE("12h == 43200000");
    EXPECT_TRUE("7d == 604800000");
    EXPECT_TRUE("1w == 7d");
    EXPECT_TRUE("250ms == 250");
    EXPECT_TRUE("1d == 24h");
    EXPECT_TRUE("now == 1700000000000");
    EXPECT_TRUE("now - customer.last_order_at > 30d");
    EXPECT_FALSE("now - customer.last_order_at > 60d");
    EXPECT_TRUE("customer.last_order_at + 40d == now");
    EXPECT_TRUE("9223372036854775807 > 0");
}

Test(expr, precedence)
{
    /* and binds tighter than or */
    EXPECT_TRUE("true or false and false");
    EXPECT_FALSE("(true or false) and false");
    EXPECT_TRUE("false and false or true");
    /* not binds tighter than and/or, looser than comparisons */
    EXPECT_TRUE("not 1 == 2");
    EXPECT_FALSE("not true and false or false");
    EXPECT_TRUE("not false and true");
    EXPECT_TRUE("! false && true || false");
    EXPECT_TRUE("not not true");
    /* arithmetic binds tighter than comparisons */
    EXPECT_TRUE("1 + 1 == 2 and 2 > 1 + 0");
    EXPECT_TRUE("not customer.order_count + 1 in [1, 2, 3]");
    EXPECT_TRUE("customer.order_count >= 2 and event.channel in [\"email\", \"sms\"]");
}

Test(expr, short_circuit)
{
    EXPECT_FALSE("false and customer.order_count == 3");
    cr_expect_eq(state.calls[F_ORDER_COUNT], 0, "and must not evaluate its right side");
    EXPECT_TRUE("true or customer.order_count == 3");
    cr_expect_eq(state.calls[F_ORDER_COUNT], 0, "or must not evaluate its right side");
    EXPECT_TRUE("true and customer.order_count == 3");
    cr_expect_eq(state.calls[F_ORDER_COUNT], 1);
    /* a failing getter on the skipped side is never called */
    state.fail_id = F_EVENT_TOTAL;
    EXPECT_TRUE("customer.subscribed or event.total_cents > 0");
    cr_expect_eq(ev("not customer.subscribed or event.total_cents > 0"), AC_ERR_NOTFOUND,
                 "a getter error is returned unchanged");
    /* a chain stops at the first deciding operand */
    EXPECT_FALSE("true and false and event.total_cents > 0 and event.total_cents > 1");
    EXPECT_TRUE("false or true or event.total_cents > 0");
}

Test(expr, in_and_not_in)
{
    EXPECT_TRUE("event.channel in [\"email\", \"sms\"]");
    EXPECT_FALSE("event.channel in [\"email\", \"push\"]");
    EXPECT_TRUE("event.channel not in [\"email\", \"push\"]");
    EXPECT_FALSE("event.channel not in [\"sms\"]");
    EXPECT_FALSE("event.channel in []");
    EXPECT_TRUE("event.channel not in []");
    EXPECT_TRUE("customer.order_count in [1, 2, 3,]");
    EXPECT_TRUE("customer.order_count - 4 in [-1]");
    EXPECT_TRUE("customer.subscribed in [true]");
    EXPECT_TRUE("customer.renewal_at in [null, 5]");
    EXPECT_FALSE("customer.renewal_at in [5]");
    EXPECT_TRUE("customer.renewal_at not in [5]");
    EXPECT_TRUE("signal.value in [7, 8]");
    EXPECT_FALSE("signal.value in [\"7\"]");
}

Test(expr, null_handling)
{
    EXPECT_TRUE("customer.renewal_at is null");
    EXPECT_FALSE("customer.renewal_at is not null");
    EXPECT_TRUE("customer.last_order_at is not null");
    EXPECT_TRUE("customer.renewal_at == null");
    EXPECT_FALSE("customer.renewal_at != null");
    EXPECT_TRUE("null == null");
    EXPECT_FALSE("customer.last_order_at == null");
    EXPECT_FALSE("customer.renewal_at == 0");
    EXPECT_TRUE("customer.renewal_at != 0");
    /* ordering with null is false either way round */
    EXPECT_FALSE("customer.renewal_at < 5");
    EXPECT_FALSE("customer.renewal_at >= 5");
    /* arithmetic with null gives null */
    EXPECT_FALSE("now - customer.renewal_at > 30d");
    EXPECT_FALSE("now - customer.renewal_at <= 30d");
    EXPECT_TRUE("(now - customer.renewal_at) is null");
    EXPECT_TRUE("-customer.renewal_at is null");
    /* a null boolean in a boolean position is a run-time error */
    ac_expr_set_null(&state.v[F_SUBSCRIBED]);
    cr_expect_eq(ev("customer.subscribed"), AC_ERR_INVALID);
    cr_expect_eq(ev("not customer.subscribed"), AC_ERR_INVALID);
    cr_expect_eq(ev("customer.subscribed and true"), AC_ERR_INVALID);
    cr_expect_eq(ev("false or customer.subscribed"), AC_ERR_INVALID);
    EXPECT_FALSE("customer.subscribed == true");
    EXPECT_TRUE("customer.subscribed is null");
}

Test(expr, any_fields_are_checked_at_run_time)
{
    EXPECT_TRUE("signal.value == 7");
    EXPECT_FALSE("signal.value == \"7\"");
    EXPECT_TRUE("signal.value != \"7\"");
    EXPECT_FALSE("signal.value < \"a\"");
    EXPECT_TRUE("signal.value + 1 == 8");
    cr_expect_eq(ev("signal.value"), AC_ERR_INVALID, "an integer is not a condition");
    cr_expect_eq(ev("signal.value and true"), AC_ERR_INVALID);
    cr_expect_eq(ev("true and signal.value"), AC_ERR_INVALID);
    ac_expr_set_str(&state.v[F_SIGNAL_VALUE], "detractor");
    EXPECT_TRUE("signal.value == \"detractor\"");
    EXPECT_TRUE("signal.value in [\"detractor\", \"passive\"]");
    cr_expect_eq(ev("signal.value + 1 == 8"), AC_ERR_INVALID);
    cr_expect_eq(ev("-signal.value == 8"), AC_ERR_INVALID);
    ac_expr_set_bool(&state.v[F_SIGNAL_VALUE], 1);
    EXPECT_TRUE("signal.value");
    EXPECT_TRUE("true and signal.value");
    EXPECT_FALSE("not signal.value");
}

Test(expr, runtime_errors)
{
    /* a getter returning the wrong type for a typed field */
    ac_expr_set_str(&state.v[F_ORDER_COUNT], "3");
    cr_expect_eq(ev("customer.order_count == 3"), AC_ERR_INVALID);
    test_reset();
    ac_expr_set_int(&state.v[F_EVENT_TOTAL], INT64_MAX);
    cr_expect_eq(ev("event.total_cents + 1 > 0"), AC_ERR_INVALID, "overflow is an error");
    ac_expr_set_int(&state.v[F_EVENT_TOTAL], INT64_MIN);
    cr_expect_eq(ev("event.total_cents - 1 > 0"), AC_ERR_INVALID);
    cr_expect_eq(ev("-event.total_cents > 0"), AC_ERR_INVALID);
    /* a string with a NUL-free length: only len bytes count */
    struct ac_expr_value *v = &state.v[F_EVENT_TYPE];
    v->type = AC_EXPR_STR;
    v->u.s.ptr = "order_placed_and_more";
    v->u.s.len = 12;
    EXPECT_TRUE("event.type == \"order_placed\"");
}

Test(expr, parse_errors_with_columns)
{
    expect_error("customer.oder_count > 1", 1,
                 "unknown field 'customer.oder_count' (did you mean 'customer.order_count'?)");
    expect_error("true and event.totl_cnts > 1", 10,
                 "unknown field 'event.totl_cnts' (did you mean 'event.total_cents'?)");
    expect_error("order_count > 1", 1,
                 "unknown field 'order_count' (did you mean 'customer.order_count'?)");
    expect_error("customer.nothing_like_it > 1", 1, "unknown field 'customer.nothing_like_it'");
    expect_error("true AND false", 6, "unknown name 'AND' (keywords are lower case: 'and')");
    expect_error("(1 == 1", 8,
                 "unexpected end of expression (expected ')' to close the '(' at column 1)");
    expect_error("(1 == 1 true", 9, "expected ')' to close the '(' at column 1, got 'true'");
    expect_error("customer.segment == 1", 18, "cannot compare string with integer");
    expect_error("1 != \"x\"", 3, "cannot compare integer with string");
    expect_error("true == 1", 6, "cannot compare boolean with integer");
    expect_error("event.channel in [1, 2]", 15, "cannot compare string with integer");
    expect_error("event.type == \"order", 15, "unterminated string");
    expect_error("event.type == \"order\\", 15, "unterminated string");
    expect_error("event.type == \"a\\nb\"", 17,
                 "invalid escape '\\n' in string (only \\\" and \\\\)");
    expect_error("", 1, "empty expression");
    expect_error("   ", 4, "empty expression");
    expect_error("1 ==", 5,
                 "unexpected end of expression (expected a value (field, literal, "
                 "'now' or '('))");
    expect_error("1 == 1 2", 8, "expected an operator or the end of the expression, got '2'");
    expect_error("1 == 1)", 7, "expected an operator or the end of the expression, got ')'");
    expect_error("and true", 1, "expected a value (field, literal, 'now' or '('), got 'and'");
    expect_error("customer.order_count = 1", 22, "unexpected '=' (use '==')");
    expect_error("true & false", 6, "unexpected '&' (use '&&' or 'and')");
    expect_error("true | false", 6, "unexpected '|' (use '||' or 'or')");
    expect_error("true # comment", 6, "unexpected character '#'");
    expect_error("1 < 2 < 3", 7, "comparisons cannot be chained (use 'and')");
    expect_error("1 == 1 is null", 8, "comparisons cannot be chained (use 'and')");
    expect_error("1 + 1", 1, "condition must be boolean, got integer");
    expect_error("  \"x\"", 3, "condition must be boolean, got string");
    expect_error("null", 1, "condition must be boolean, got null");
    expect_error("1 and true", 3, "'and' needs boolean operands, got integer");
    expect_error("true or \"x\"", 6, "'or' needs boolean operands, got string");
    expect_error("not 5", 1, "'not' needs boolean operands, got integer");
    expect_error("\"a\" + 1 == 1", 5, "'+' needs integer operands, got string");
    expect_error("1 - true == 1", 3, "'-' needs integer operands, got boolean");
    expect_error("-\"a\" == 1", 1, "'-' needs integer operands, got string");
    expect_error("true < false", 6, "'<' needs integers or strings, got boolean");
    expect_error("customer.renewal_at >= null", 21, "'>=' needs integers or strings, got null");
    expect_error("99999999999999999999 > 1", 1, "integer out of range");
    expect_error("200000000000000000d > 1", 1, "duration out of range");
    expect_error("now - 7days > 1", 8, "unknown duration unit 'days' (use ms, s, m, h, d or w)");
    expect_error("event.channel in \"sms\"", 18,
                 "expected '[' (the right side of 'in' is a list of literals), got '\"sms\"'");
    expect_error("event.channel in [event.type]", 19,
                 "expected a literal (list elements are literals), got 'event.type'");
    expect_error("event.channel in [\"a\" \"b\"]", 23, "expected ',' or ']', got '\"b\"'");
    expect_error("event.channel in [\"a\",", 23,
                 "unexpected end of expression (expected a literal (list elements are "
                 "literals))");
    expect_error("customer.order_count in [1, \"2\"]", 29,
                 "list elements must all have the same type (integer and string)");
    expect_error("customer.order_count in [-\"2\"]", 27,
                 "expected an integer after '-' in a list, got '\"2\"'");
    expect_error("event.channel not [\"a\"]", 19, "expected 'in' after 'not', got '['");
    expect_error("customer.renewal_at is 5", 24,
                 "expected 'null' or 'not null' after 'is', got '5'");
    expect_error("customer.renewal_at is not", 27,
                 "unexpected end of expression (expected 'null' or 'not null' after 'is')");
    expect_error("true and \x01", 10, "unexpected byte 0x01");
}

Test(expr, did_you_mean_is_case_insensitive_and_counts_transpositions)
{
    expect_error("Customer.Order_Count > 1", 1,
                 "unknown field 'Customer.Order_Count' (did you mean 'customer.order_count'?)");
    expect_error("customer.ordre_count > 1", 1,
                 "unknown field 'customer.ordre_count' (did you mean 'customer.order_count'?)");
    expect_error("customer.orders_counts > 1", 1,
                 "unknown field 'customer.orders_counts' (did you mean 'customer.order_count'?)");
    expect_error("customer.orders_countss > 1", 1, "unknown field 'customer.orders_countss'");
}

Test(expr, nesting_limit)
{
    char src[512];
    size_t n = 0;
    for (int i = 0; i < AC_EXPR_MAX_DEPTH; i++) {
        src[n++] = '(';
    }
    n += (size_t)snprintf(src + n, sizeof(src) - n, "true");
    for (int i = 0; i < AC_EXPR_MAX_DEPTH; i++) {
        src[n++] = ')';
    }
    src[n] = '\0';
    cr_expect_eq(ev(src), 1, "%d levels are allowed", AC_EXPR_MAX_DEPTH);

    n = 0;
    for (int i = 0; i <= AC_EXPR_MAX_DEPTH; i++) {
        src[n++] = '(';
    }
    n += (size_t)snprintf(src + n, sizeof(src) - n, "true");
    for (int i = 0; i <= AC_EXPR_MAX_DEPTH; i++) {
        src[n++] = ')';
    }
    src[n] = '\0';
    expect_error(src, AC_EXPR_MAX_DEPTH + 1, "expression nested too deeply (more than 64 levels)");

    n = 0;
    for (int i = 0; i <= AC_EXPR_MAX_DEPTH; i++) {
        n += (size_t)snprintf(src + n, sizeof(src) - n, "not ");
    }
    snprintf(src + n, sizeof(src) - n, "true");
    expect_error(src, 4 * AC_EXPR_MAX_DEPTH + 1,
                 "expression nested too deeply (more than 64 levels)");

    /* right-nested arithmetic at the limit needs the deepest stack */
    n = 0;
    for (int i = 0; i < AC_EXPR_MAX_DEPTH - 1; i++) {
        n += (size_t)snprintf(src + n, sizeof(src) - n, "1+(");
    }
    n += (size_t)snprintf(src + n, sizeof(src) - n, "1");
    for (int i = 0; i < AC_EXPR_MAX_DEPTH - 1; i++) {
        src[n++] = ')';
    }
    snprintf(src + n, sizeof(src) - n, " == %d", AC_EXPR_MAX_DEPTH);
    cr_expect_eq(ev(src), 1);

    /* long flat chains are not nesting */
    char flat[8192];
    n = (size_t)snprintf(flat, sizeof(flat), "true");
    for (int i = 0; i < 300; i++) {
        n += (size_t)snprintf(flat + n, sizeof(flat) - n, " and 1 + 1 == 2");
    }
    cr_expect_eq(ev(flat), 1);
}

Test(expr, long_source_is_rejected)
{
    static char src[AC_EXPR_MAX_LEN + 16];
    memset(src, ' ', sizeof(src) - 1);
    src[0] = 't';
    src[1] = 'r';
    src[2] = 'u';
    src[3] = 'e';
    src[sizeof(src) - 1] = '\0';
    expect_error(src, AC_EXPR_MAX_LEN + 1, "expression longer than 8192 bytes");
}

static int collect_field(int field_id, void *opaque)
{
    uint64_t *seen = opaque;
    *seen = *seen * 100 + (uint64_t)field_id + 1;
    return 0;
}

static int stop_at_first(int field_id, void *opaque)
{
    (void)opaque;
    return field_id + 1000;
}

Test(expr, introspection)
{
    struct ac_expr *expr = parse_ok("event.total_cents > 0 and customer.order_count > 1 and "
                                    "event.total_cents < 100 and now > 0");
    uint64_t seen = 0;
    cr_expect_eq(ac_expr_each_field(expr, collect_field, &seen), 0);
    cr_expect_eq(seen, (uint64_t)(F_EVENT_TOTAL + 1) * 100 + F_ORDER_COUNT + 1,
                 "distinct ids in order of first appearance, got %llu", (unsigned long long)seen);
    cr_expect_eq(ac_expr_each_field(expr, stop_at_first, NULL), F_EVENT_TOTAL + 1000);
    cr_expect_eq(ac_expr_field_mask(expr),
                 (UINT64_C(1) << F_EVENT_TOTAL) | (UINT64_C(1) << F_ORDER_COUNT));
    cr_expect_eq(ac_expr_uses_now(expr), 1);
    cr_expect_str_eq(ac_expr_text(expr), "event.total_cents > 0 and customer.order_count > 1 and "
                                         "event.total_cents < 100 and now > 0");
    ac_expr_destroy(expr);

    expr = parse_ok("true");
    cr_expect_eq(ac_expr_field_mask(expr), 0);
    cr_expect_eq(ac_expr_uses_now(expr), 0);
    cr_expect_eq(ac_expr_each_field(expr, stop_at_first, NULL), 0);
    ac_expr_destroy(expr);
}

Test(expr, error_struct_is_optional_and_program_outlives_its_inputs)
{
    cr_expect_null(ac_expr_new("nope ==", test_fields, N_FIELDS, NULL));
    char src[64];
    snprintf(src, sizeof(src), "event.type in [\"order_placed\", \"x\"]");
    struct ac_expr_field fields[N_FIELDS];
    memcpy(fields, test_fields, sizeof(fields));
    struct ac_expr *expr = ac_expr_new(src, fields, N_FIELDS, NULL);
    cr_assert_not_null(expr);
    memset(src, 0, sizeof(src));
    memset(fields, 0, sizeof(fields));
    struct ac_expr_env env = {.now = NOW, .get = test_get, .opaque = &state};
    cr_expect_eq(ac_expr_eval(expr, &env), 1);
    cr_expect_eq(ac_expr_eval(expr, &env), 1, "evaluation leaves the program unchanged");
    ac_expr_destroy(expr);
    ac_expr_destroy(NULL);
}

Test(expr, whitespace_and_newlines)
{
    EXPECT_TRUE("  customer.order_count\n  >= 2\r\n\tand\tevent.channel   in   [ \"sms\" ]  ");
}
