/* Rebalances: a second replica joins, then the first leaves with SIGTERM
 * while events flow. The result must equal a model of the input: every
 * customer's state and exactly the expected set of action ids. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "harness.h"
#include "processor.h"
#include "store.h"

#define N_CUST 300
#define T0 1767225600000LL

static struct h_env env;

static void setup(void)
{
    h_start(&env, 4);
}

static void teardown(void)
{
    h_stop(&env);
}

TestSuite(rebalance, .init = setup, .fini = teardown, .timeout = 300);

struct model {
    long long count[N_CUST];
    long long revenue[N_CUST];
    char **ids;
    size_t n_ids, cap;
};

static void model_id(struct model *m, const char *rule, const char *ev, int part)
{
    if (m->n_ids == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1024;
        m->ids = realloc(m->ids, m->cap * sizeof(char *));
    }
    m->ids[m->n_ids] = malloc(AC_ACTION_ID_MAX);
    ac_action_id(m->ids[m->n_ids++], rule, ev, part);
}

/* Produces n order events (ids from `from`) and records what they must do. */
static void produce_phase(struct model *m, int from, int n)
{
    struct ac_event *evs = calloc((size_t)n, sizeof(*evs));
    for (int i = 0; i < n; i++) {
        int k = from + i, c = (k * 7919) % N_CUST;
        char id[32], cust[32];
        int cart = k % 5 == 0;
        snprintf(id, sizeof(id), "rb-%d", k);
        snprintf(cust, sizeof(cust), "rb-cust-%d", c);
        h_order_event(&evs[i], id, cust, cart ? "cart_abandoned" : "order_placed", T0 + k * 1000LL,
                      100 + k % 977, "coffee");
        if (!cart) {
            if (m->count[c] == 0) {
                model_id(m, "crm_onboarding", id, 0);
                model_id(m, "crm_onboarding", id, 1);
            }
            model_id(m, "order_confirmation", id, 0);
            m->count[c]++;
            m->revenue[c] += 100 + k % 977;
        }
    }
    h_produce_events(&env, "orders", evs, (size_t)n);
    free(evs);
}

static double metric(int port, const char *series)
{
    char *body = malloc(1 << 20);
    double v = -1;
    if (h_http_get(port, "/metrics", body, 1 << 20) == 200) {
        const char *p = strstr(body, series);
        v = p ? strtod(p + strlen(series), NULL) : 0;
    }
    free(body);
    return v;
}

Test(rebalance, join_and_graceful_leave_lose_and_repeat_nothing)
{
    static struct model m;
    char confa[512], confb[512], extra[128];
    int port_a = ac_dev_free_port(), port_b = ac_dev_free_port();
    snprintf(extra, sizeof(extra), "http.port = %d\nbatch.size = 10\n", port_a);
    h_write_config(&env, "replica-a", extra, confa, sizeof(confa));
    snprintf(extra, sizeof(extra), "http.port = %d\nbatch.size = 10\n", port_b);
    h_write_config(&env, "replica-b", extra, confb, sizeof(confb));

    produce_phase(&m, 0, 1000);
    pid_t a = h_spawn(&env, "orders", confa);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));

    pid_t b = h_spawn(&env, "orders", confb);
    int64_t deadline = ac_clock_mono_ms() + 60000;
    while (metric(port_b, "\naftercare_assigned_partitions ") <= 0 &&
           ac_clock_mono_ms() < deadline) {
        struct timespec ts = {0, 50 * 1000000L}; /* polling a condition */
        nanosleep(&ts, NULL);
    }
    cr_assert_gt(metric(port_b, "\naftercare_assigned_partitions "), 0,
                 "replica b never got partitions");

    produce_phase(&m, 1000, 3000);
    double a_batches = metric(port_a, "\naftercare_batches_total ");
    cr_expect_eq(h_terminate(a), 0, "a leaving replica exits 0 after its last batch");
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 120000),
              "replica b did not take over");
    double b_batches = metric(port_b, "\naftercare_batches_total ");
    cr_expect_gt(a_batches, 0);
    cr_expect_gt(b_batches, 0, "replica b processed nothing");
    cr_expect_eq(h_terminate(b), 0);

    for (int c = 0; c < N_CUST; c++) {
        char cust[32];
        snprintf(cust, sizeof(cust), "rb-cust-%d", c);
        long long count = h_state_ll(&env, cust, "o.count");
        long long rev = h_state_ll(&env, cust, "o.rev");
        cr_expect_eq(count, m.count[c], "%s: %lld orders, want %lld", cust, count, m.count[c]);
        cr_expect_eq(rev, m.revenue[c], "%s: revenue %lld, want %lld", cust, rev, m.revenue[c]);
    }

    struct h_reader acts;
    h_reader_read_all(&env, &acts, "aftercare.actions");
    char **got = h_reader_ids(&acts);
    struct h_id_diff d;
    h_id_diff(m.ids, m.n_ids, got, acts.n, &d);
    cr_expect_eq(d.missing, 0, "%zu expected actions missing", d.missing);
    cr_expect_eq(d.extra, 0, "%zu unexpected actions", d.extra);
    fprintf(stderr, "rebalance: %zu action ids as modelled, %zu repeats\n", d.matched, d.repeats);
    free(got);
    h_reader_close(&acts);
    for (size_t k = 0; k < m.n_ids; k++) {
        free(m.ids[k]);
    }
    free(m.ids);
}
