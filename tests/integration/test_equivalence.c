/* One apply path: the same event file, fed to `aftercare simulate` and to the
 * real processes on the embedded stack, gives the same action ids, the same
 * decisions (rule, decision, reason, action id) and the same signals. The file holds an upstream
 * duplicate, an out-of-order event and an event the domain rejects. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "codec.h"
#include "harness.h"

static struct h_env env;

static void setup(void)
{
    h_start(&env, 4);
}

static void teardown(void)
{
    h_stop(&env);
}

TestSuite(equivalence, .init = setup, .fini = teardown, .timeout = 300);

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* One event line; topic NULL leaves the "topic" field out. */
static void line(struct ac_buf *b, const char *topic, const char *body)
{
    if (topic) {
        ac_buf_printf(b, "{\"topic\":\"%s\",%s\n", topic, body + 1);
    } else {
        ac_buf_printf(b, "%s\n", body);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct keys {
    char **k;
    size_t n, cap;
};

static void keys_add(struct keys *ks, const char *rule, const char *decision, const char *reason,
                     const char *action_id)
{
    char buf[512];
    if (ks->n == ks->cap) {
        ks->cap = ks->cap ? 2 * ks->cap : 64;
        ks->k = realloc(ks->k, ks->cap * sizeof(*ks->k));
    }
    snprintf(buf, sizeof(buf), "%s|%s|%s|%s", rule, decision, reason, action_id);
    ks->k[ks->n++] = strdup(buf);
}

static void keys_free(struct keys *ks)
{
    for (size_t i = 0; i < ks->n; i++) {
        free(ks->k[i]);
    }
    free(ks->k);
}

static const char *jstr(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

Test(equivalence, simulate_and_the_real_pipeline_decide_the_same)
{
    /* Events a few seconds old: the processors decide at the wall clock,
     * simulate at event time; both see the same hour of the day. */
    int64_t t0 = ac_clock_now(ac_clock_wall()) - 20000;
    const char *orders[] = {
        "{\"event_id\":\"e-1\",\"customer_id\":\"p1\",\"type\":\"order_placed\","
        "\"occurred_at\":%lld,\"order_id\":\"o-1\",\"total_cents\":4200,\"currency\":\"EUR\","
        "\"items\":[{\"sku\":\"s1\",\"product_family\":\"coffee\",\"category\":\"drinks\","
        "\"unit_price_cents\":2100,\"quantity\":2}]}",
        /* the same event again: an upstream duplicate */
        "{\"event_id\":\"e-1\",\"customer_id\":\"p1\",\"type\":\"order_placed\","
        "\"occurred_at\":%lld,\"order_id\":\"o-1\",\"total_cents\":4200,\"currency\":\"EUR\","
        "\"items\":[{\"sku\":\"s1\",\"product_family\":\"coffee\",\"category\":\"drinks\","
        "\"unit_price_cents\":2100,\"quantity\":2}]}",
        /* out of order: an hour older than the one before */
        "{\"event_id\":\"e-2\",\"customer_id\":\"p1\",\"type\":\"order_placed\","
        "\"occurred_at\":%lld,\"order_id\":\"o-2\",\"total_cents\":90000,\"currency\":\"EUR\","
        "\"items\":[{\"sku\":\"s2\",\"product_family\":\"tea\",\"category\":\"drinks\","
        "\"unit_price_cents\":90000,\"quantity\":1}]}",
        "{\"event_id\":\"e-3\",\"customer_id\":\"p2\",\"type\":\"cart_abandoned\","
        "\"occurred_at\":%lld,\"order_id\":\"\",\"total_cents\":1500,\"currency\":\"EUR\"}",
        /* rejected by the domain: an order without its order id */
        "{\"event_id\":\"e-4\",\"customer_id\":\"p2\",\"type\":\"order_placed\","
        "\"occurred_at\":%lld,\"order_id\":\"\",\"total_cents\":1500,\"currency\":\"EUR\"}",
        "{\"event_id\":\"e-5\",\"customer_id\":\"p2\",\"type\":\"order_placed\","
        "\"occurred_at\":%lld,\"order_id\":\"o-5\",\"total_cents\":1500,\"currency\":\"EUR\","
        "\"items\":[{\"sku\":\"s3\",\"product_family\":\"mugs\",\"category\":\"kitchen\","
        "\"unit_price_cents\":1500,\"quantity\":1}]}",
        "{\"event_id\":\"e-6\",\"customer_id\":\"p3\",\"type\":\"order_placed\","
        "\"occurred_at\":%lld,\"order_id\":\"o-6\",\"total_cents\":3000,\"currency\":\"EUR\"}",
        "{\"event_id\":\"e-7\",\"customer_id\":\"p3\",\"type\":\"order_cancelled\","
        "\"occurred_at\":%lld,\"order_id\":\"o-6\",\"total_cents\":3000,\"currency\":\"EUR\"}",
    };
    const int64_t at[] = {t0,        t0,        t0 - 3600000, t0 + 1000,
                          t0 + 2000, t0 + 3000, t0 + 4000,    t0 + 5000};
    const char *feedback[] = {
        "{\"event_id\":\"f-1\",\"customer_id\":\"p1\",\"type\":\"survey_response\","
        "\"occurred_at\":%lld,\"score\":10,\"scale\":\"nps_10\"}",
        "{\"event_id\":\"f-2\",\"customer_id\":\"p2\",\"type\":\"survey_response\","
        "\"occurred_at\":%lld,\"score\":2,\"scale\":\"nps_10\"}",
        "{\"event_id\":\"f-2\",\"customer_id\":\"p2\",\"type\":\"survey_response\","
        "\"occurred_at\":%lld,\"score\":2,\"scale\":\"nps_10\"}",
    };
    const int64_t fat[] = {t0 + 6000, t0 + 7000, t0 + 7000};
    struct ac_buf all, o_only, f_only;
    char body[1024];
    ac_buf_init(&all);
    ac_buf_init(&o_only);
    ac_buf_init(&f_only);
    int64_t last = 0;
    for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
        snprintf(body, sizeof(body), orders[i], (long long)at[i]);
        line(&all, "orders", body);
        line(&o_only, NULL, body);
        last = at[i] > last ? at[i] : last;
    }
    for (size_t i = 0; i < sizeof(feedback) / sizeof(feedback[0]); i++) {
        snprintf(body, sizeof(body), feedback[i], (long long)fat[i]);
        line(&all, "feedback", body);
        line(&f_only, NULL, body);
        last = fat[i] > last ? fat[i] : last;
    }
    char p_all[512], p_o[512], p_f[512], args[2048];
    snprintf(p_all, sizeof(p_all), "%s/all.jsonl", env.dir);
    snprintf(p_o, sizeof(p_o), "%s/orders.jsonl", env.dir);
    snprintf(p_f, sizeof(p_f), "%s/feedback.jsonl", env.dir);
    write_text(p_all, all.data);
    write_text(p_o, o_only.data);
    write_text(p_f, f_only.data);

    /* simulate, up to the last event (no timer comes due in between) */
    static char out[1 << 20], err[1 << 14];
    time_t secs = (time_t)(last / 1000 + 1);
    struct tm tm;
    char iso[40];
    gmtime_r(&secs, &tm);
    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(args, sizeof(args), "simulate --events %s --until %s", p_all, iso);
    cr_assert_eq(h_run_cli(&env, args, out, sizeof(out), err, sizeof(err)), 0, "simulate: %s", err);
    struct keys sim = {0}, real = {0}, sim_sigs = {0};
    for (char *l = out, *nl; *l; l = nl + 1) {
        nl = strchr(l, '\n');
        if (!nl) {
            break;
        }
        *nl = '\0';
        json_t *o = json_loads(l, 0, NULL);
        cr_assert_not_null(o, "simulate printed a line that is not JSON: %s", l);
        if (json_object_get(o, "signal")) {
            keys_add(&sim_sigs, jstr(o, "signal"), jstr(o, "value"), jstr(o, "cause_event_id"),
                     jstr(o, "signal_id"));
        } else if (strcmp(jstr(o, "decision"), "rejected") != 0) {
            keys_add(&sim, jstr(o, "rule_id"), jstr(o, "decision"), jstr(o, "reason"),
                     jstr(o, "action_id"));
        }
        json_decref(o);
    }

    /* the real processes: orders first, then feedback (one after the other,
     * as the file orders them) */
    snprintf(args, sizeof(args), "produce orders %s", p_o);
    cr_assert_eq(h_run_cli(&env, args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    snprintf(args, sizeof(args), "produce feedback %s", p_f);
    cr_assert_eq(h_run_cli(&env, args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    char conf[512];
    h_write_config(&env, "orders", "", conf, sizeof(conf));
    pid_t pid = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    cr_expect_eq(h_terminate(pid), 0);
    h_write_config(&env, "feedback", "", conf, sizeof(conf));
    pid = h_spawn(&env, "feedback", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-feedback", "feedback", 60000));
    cr_expect_eq(h_terminate(pid), 0);

    struct h_reader dec;
    struct ac_buf js;
    char jerr[256];
    ac_buf_init(&js);
    h_reader_read_all(&env, &dec, "aftercare.decisions");
    for (size_t i = 0; i < dec.n; i++) {
        ac_buf_reset(&js);
        cr_assert_eq(ac_codec_avro_to_json(env.codec, "decisions", dec.recs[i].value,
                                           dec.recs[i].len, &js, jerr, sizeof(jerr)),
                     0, "%s", jerr);
        json_t *o = json_loads(js.data, 0, NULL);
        cr_assert_not_null(o);
        json_t *arr = json_object_get(o, "decisions");
        cr_assert(json_is_array(arr) && json_array_size(arr) > 0, "%s", js.data);
        size_t k;
        json_t *d;
        json_array_foreach(arr, k, d)
        {
            keys_add(&real, jstr(d, "rule_id"), jstr(d, "decision"), jstr(d, "reason"),
                     jstr(d, "action_id"));
        }
        json_decref(o);
    }
    h_reader_close(&dec);
    ac_buf_fini(&js);

    qsort(sim.k, sim.n, sizeof(*sim.k), cmp_str);
    qsort(real.k, real.n, sizeof(*real.k), cmp_str);
    cr_expect_gt(sim.n, 10, "the file makes decisions");
    size_t i = 0, j = 0, diffs = 0;
    while (i < sim.n || j < real.n) {
        int c = i == sim.n ? 1 : j == real.n ? -1 : strcmp(sim.k[i], real.k[j]);
        if (c == 0) {
            i++;
            j++;
            continue;
        }
        diffs++;
        cr_log_error("%s only: %s", c < 0 ? "simulate" : "pipeline", c < 0 ? sim.k[i] : real.k[j]);
        c < 0 ? i++ : j++;
    }
    cr_expect_eq(diffs, 0, "simulate and the pipeline differ in %zu decisions (of %zu / %zu)",
                 diffs, sim.n, real.n);

    /* the same action ids on the action topic */
    struct h_reader acts;
    h_reader_read_all(&env, &acts, "aftercare.actions");
    size_t emitted = 0;
    for (size_t k = 0; k < sim.n; k++) {
        emitted += strstr(sim.k[k], "|emitted|") != NULL;
    }
    cr_expect_eq(acts.n, emitted, "one action per emitted decision");
    for (size_t k = 0; k < acts.n; k++) {
        int found = 0;
        for (size_t m = 0; m < sim.n && !found; m++) {
            found = strstr(sim.k[m], "|emitted|") && strstr(sim.k[m], acts.recs[k].id);
        }
        cr_expect(found, "action %s was not in simulate's output", acts.recs[k].id);
    }
    h_reader_close(&acts);
    /* the same signals on the signal topic */
    struct h_reader sigs;
    h_reader_read_all(&env, &sigs, "aftercare.signals");
    cr_expect_gt(sim_sigs.n, 0, "the file raises signals");
    cr_expect_eq(sigs.n, sim_sigs.n, "one signal per signal simulate printed");
    for (size_t k = 0; k < sigs.n; k++) {
        int found = 0;
        for (size_t m = 0; m < sim_sigs.n && !found; m++) {
            found = strstr(sim_sigs.k[m], sigs.recs[k].id) != NULL;
        }
        cr_expect(found, "signal %s was not in simulate's output", sigs.recs[k].id);
    }
    h_reader_close(&sigs);
    keys_free(&sim_sigs);
    /* the rejected event is in the DLQ; the duplicates were applied once */
    cr_expect_eq(h_topic_end(&env, "aftercare.dlq"), 1);
    cr_expect_eq(h_state_ll(&env, "p1", "o.count"), 2, "the duplicate was applied once");
    keys_free(&sim);
    keys_free(&real);
    ac_buf_fini(&all);
    ac_buf_fini(&o_only);
    ac_buf_fini(&f_only);
}
