/* The customer state's hash form: parse, diff, families. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "customer.h"
#include "err.h"

Test(customer, diff_then_parse_round_trips)
{
    struct ac_customer a, b, c;
    ac_customer_init(&a, "x");
    b = a;
    b.order_count = 3;
    b.revenue_cents = 12345;
    b.first_order_at = 1000;
    snprintf(b.segment, sizeof(b.segment), "mid_value_repeat");
    ac_customer_add_family(&b, "tea");
    struct ac_buf diff;
    ac_buf_init(&diff);
    int n = ac_customer_diff(&a, &b, &diff);
    cr_assert_eq(n, 5, "only changed fields are written, got %d", n);
    ac_customer_init(&c, "x");
    const char *p = diff.data;
    for (int i = 0; i < n; i++) {
        const char *name = p;
        const char *value = p + strlen(p) + 1;
        cr_assert_eq(ac_customer_parse_field(&c, name, value), 0);
        p = value + strlen(value) + 1;
    }
    cr_expect_eq(memcmp(&b, &c, sizeof(b)), 0, "parse(diff) must rebuild the state");
    ac_buf_reset(&diff);
    cr_expect_eq(ac_customer_diff(&b, &c, &diff), 0);
    ac_buf_fini(&diff);
}

Test(customer, malformed_values_are_rejected_and_unknown_fields_ignored)
{
    struct ac_customer c;
    ac_customer_init(&c, "x");
    cr_expect_eq(ac_customer_parse_field(&c, "o.count", "12abc"), AC_ERR_INVALID);
    cr_expect_eq(ac_customer_parse_field(&c, "o.count", ""), AC_ERR_INVALID);
    cr_expect_eq(ac_customer_parse_field(&c, "w:orders:3", "17"), 0);
    cr_expect_eq(ac_customer_parse_field(&c, "future.field", "x"), 0);
    cr_expect_eq(ac_customer_parse_field(&c, "o.first", ""), 0);
    cr_expect_eq(c.first_order_at, AC_TS_NONE);
    char big[AC_FAMILIES_MAX + 10];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cr_expect_eq(ac_customer_parse_field(&c, "o.fam", big), AC_ERR_INVALID);
}

Test(customer, families_are_a_set_and_bounded)
{
    struct ac_customer c;
    ac_customer_init(&c, "x");
    cr_expect_eq(ac_customer_add_family(&c, "tea"), 0);
    cr_expect_eq(ac_customer_add_family(&c, "tea"), 0);
    cr_expect_eq(ac_customer_add_family(&c, "te"), 0);
    cr_expect_str_eq(c.families, "tea,te");
    cr_expect(ac_customer_has_family(&c, "te"));
    cr_expect(!ac_customer_has_family(&c, "t"));
    char fam[40];
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++) {
        snprintf(fam, sizeof(fam), "family-number-%d", i);
        rc = ac_customer_add_family(&c, fam);
    }
    cr_expect_eq(rc, AC_ERR_INVALID, "a full set refuses, never truncates");
    cr_expect_lt(strlen(c.families), sizeof(c.families));
}
