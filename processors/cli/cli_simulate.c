/* cli_simulate.c — `aftercare simulate`: what a playbook would do.
 *
 * Replays events (JSON lines, each with a "topic" field) in the order of the
 * file, as they would arrive, through the same step as production (the
 * processors' transitions, the timer process's firing, the exactly-once
 * rules: an upstream duplicate is skipped here too), with an explicit clock
 * that follows event time (never going back: an out-of-order event is
 * applied at the time reached, as a processor applies it at the wall clock)
 * and a private redis-server it starts and stops, with emission off. Every
 * decision and every signal is printed as a JSON line.
 * Between two events the clock visits every due time in order, so a timer
 * fires at its own due time (quiet hours, caps and expiry as in production).
 * With --against, both playbooks run on the same events and the actions
 * that would appear, vanish or move are printed instead. */
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build.h"
#include "cli.h"
#include "clock.h"
#include "config.h"
#include "deliveries.h"
#include "devstack.h"
#include "engine.h"
#include "err.h"
#include "feedback.h"
#include "fire.h"
#include "json.h"
#include "orders.h"
#include "rules.h"
#include "store.h"
#include "usage.h"

#define SIM_DEFAULT_HORIZON (90 * 86400000LL)

static void simulate_usage(FILE *out)
{
    fprintf(out,
            "usage: aftercare simulate --events FILE [--playbook P] [--until TIME]\n"
            "                          [--against OTHER_PLAYBOOK] [--strict]\n\n"
            "Replays the events (JSON lines as for `aftercare produce`, plus a \"topic\" field)\n"
            "in event-time order through the processors' domain code and the timer\n"
            "process's firing code, on an explicit clock and a private redis-server, with\n"
            "emission off. A time written as an offset (\"+2d6h\", \"-30m\": w, d, h, m, s)\n"
            "is that long after or before now; lines starting with # are comments.\n"
            "Events and timers are applied up to TIME (ISO-8601, epoch ms or +30d;\n"
            "default: 90 days after the last event): a later event is counted, not applied.\n"
            "Prints every decision and every signal as a JSON line, ordered by time, then\n"
            "customer, then as decided (a customer's signals before the decisions of the\n"
            "same change):\n"
            "  decision: time, customer_id, rule_id, decision, reason, action_id, channel,\n"
            "            template, not_before (experiment, variant when in one)\n"
            "  signal:   time, customer_id, signal, value, previous, score, signal_id,\n"
            "            cause_event_id\n"
            "A line with \"signal\" is a signal, one with \"decision\" a decision.\n\n"
            "A line that is not a valid event is reported (file:line: why) and skipped, as\n"
            "a processor sends it to the DLQ; --strict stops at it instead.\n\n"
            "--against OTHER: runs both playbooks (P is the changed one, OTHER the current)\n"
            "and prints, per action, whether it would appear (only under P), vanish (only\n"
            "under OTHER) or move (another time or channel); a summary goes to stderr.\n"
            "Exit status: 0 done, 1 a bad event file (with --strict) or playbook, 2 usage.\n");
}

/* --- time ------------------------------------------------------------------------------------ */

static void sim_iso(int64_t ms, char *out, size_t n)
{
    if (ms == AC_TS_NONE || ms == 0) {
        snprintf(out, n, "null");
        return;
    }
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char b[32];
    strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "\"%s.%03dZ\"", b, (int)(ms % 1000));
}

static int sim_parse_time(const char *s, int64_t *out)
{
    int64_t off;
    if (cli_parse_offset(s, &off) == 0) {
        *out = ac_clock_now(ac_clock_wall()) + off; /* "+30d": from now */
        return 0;
    }
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (end && *end == '\0' && end != s) {
        *out = v;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest) {
        rest = strptime(s, "%Y-%m-%d", &tm);
    }
    if (!rest || (*rest && strcmp(rest, "Z") != 0)) {
        return AC_ERR_INVALID;
    }
    *out = (int64_t)timegm(&tm) * 1000;
    return 0;
}

/* --- events ---------------------------------------------------------------------------------- */

struct sim_events {
    struct ac_event *ev;
    size_t n, cap;
    long bad; /* lines skipped */
};

/* Reads and validates every line (the same decoding and checks as the
 * processors). A bad line is reported with file:line and skipped, as a
 * processor sends it to the DLQ (counted in se->bad); with strict it stops
 * the simulation. */
static int sim_read_events(struct ac_codec *codec, const char *path, int strict, int64_t now,
                           struct sim_events *se)
{
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!in) {
        fprintf(stderr, "aftercare simulate: cannot open %s\n", path);
        return AC_ERR_INVALID;
    }
    char *line = NULL, err[256], reason[128];
    size_t cap = 0;
    long lineno = 0;
    int rc = 0;
    struct ac_buf avro;
    ac_buf_init(&avro);
    while (rc == 0 && getline(&line, &cap, in) > 0) {
        lineno++;
        char first = line[strspn(line, " \t\r\n")];
        if (first == '\0' || first == '#') {
            continue; /* blank, or a comment */
        }
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        const char *topic = o ? json_string_value(json_object_get(o, "topic")) : NULL;
        int t = topic ? ac_topic_from_name(topic) : -1;
        int resolved = o && t >= 0 ? cli_event_resolve(o, now, err, sizeof(err)) : 0;
        if (!o || t < 0 || resolved != 0) {
            fprintf(stderr, "%s:%ld: %s%s\n", path, lineno,
                    !o      ? jerr.text
                    : t < 0 ? "needs a \"topic\": orders, deliveries, feedback or usage"
                            : err,
                    strict ? "" : "; skipped");
            json_decref(o);
            se->bad++;
            rc = strict ? AC_ERR_INVALID : 0;
            continue;
        }
        json_object_del(o, "topic");
        char *body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        ac_buf_reset(&avro);
        if (se->n == se->cap) {
            size_t nc = se->cap ? 2 * se->cap : 1024;
            struct ac_event *ne = realloc(se->ev, nc * sizeof(*ne));
            if (!ne) {
                free(body);
                rc = AC_ERR_NOMEM;
                break;
            }
            se->ev = ne;
            se->cap = nc;
        }
        if (!body) {
            rc = AC_ERR_NOMEM;
        } else if (ac_codec_json_to_avro(codec, ac_topic_name((enum ac_topic)t), body, &avro, err,
                                         sizeof(err)) != 0) {
            fprintf(stderr, "%s:%ld: %s%s\n", path, lineno, err, strict ? "" : "; skipped");
            se->bad++;
            rc = strict ? AC_ERR_INVALID : 0;
        } else if (ac_codec_decode_event(codec, (enum ac_topic)t, avro.data, avro.len,
                                         &se->ev[se->n], reason, sizeof(reason)) != 0) {
            fprintf(stderr, "%s:%ld: invalid event: %s%s\n", path, lineno, reason,
                    strict ? "" : "; skipped (a processor sends it to the DLQ)");
            se->bad++;
            rc = strict ? AC_ERR_INVALID : 0;
        } else {
            se->n++;
        }
        free(body);
    }
    free(line);
    ac_buf_fini(&avro);
    if (in != stdin) {
        fclose(in);
    }
    return rc;
}

/* --- one run --------------------------------------------------------------------------------- */

/* The emitted action of each id, for --against. */
struct sim_outcome {
    char action_id[AC_ACTION_ID_MAX];
    char customer_id[AC_ID_MAX];
    char rule_id[AC_NAME_MAX];
    char channel[AC_TYPE_MAX];
    int64_t not_before;
};

/* A decision's printed line, kept until the run's end to be sorted. */
struct sim_line {
    int64_t at;
    char customer_id[AC_ID_MAX];
    size_t seq; /* the order decided */
    char *text;
    size_t len;
};

struct sim_run {
    FILE *print; /* NULL: collect only */
    struct sim_line *lines;
    size_t n_lines, cap_lines;
    long late;     /* events after --until, not applied */
    int64_t *heap; /* pending due times (min-heap; stale entries are harmless) */
    size_t n_heap, cap_heap;
    struct sim_outcome *out;
    size_t n_out, cap_out;
    long decisions;
    long signals;
};

static void sim_heap_push(struct sim_run *r, int64_t t)
{
    if (r->n_heap == r->cap_heap) {
        size_t nc = r->cap_heap ? 2 * r->cap_heap : 1024;
        int64_t *nh = realloc(r->heap, nc * sizeof(*nh));
        if (!nh) {
            return; /* the timer still fires at the next visited time */
        }
        r->heap = nh;
        r->cap_heap = nc;
    }
    size_t i = r->n_heap++;
    r->heap[i] = t;
    while (i > 0 && r->heap[(i - 1) / 2] > r->heap[i]) {
        int64_t tmp = r->heap[i];
        r->heap[i] = r->heap[(i - 1) / 2];
        r->heap[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
}

static int64_t sim_heap_pop(struct sim_run *r)
{
    int64_t top = r->heap[0];
    r->heap[0] = r->heap[--r->n_heap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < r->n_heap && r->heap[l] < r->heap[m]) {
            m = l;
        }
        if (l + 1 < r->n_heap && r->heap[l + 1] < r->heap[m]) {
            m = l + 1;
        }
        if (m == i) {
            break;
        }
        int64_t tmp = r->heap[i];
        r->heap[i] = r->heap[m];
        r->heap[m] = tmp;
        i = m;
    }
    return top;
}

static int sim_json_put(const char *p, size_t n, void *opaque)
{
    return fwrite(p, 1, n, opaque) == n ? 0 : -1;
}

/* s as a JSON string (json.h: text that is not UTF-8 shows U+FFFD). */
static void sim_json_str(FILE *f, const char *s)
{
    static const char empty[1] = "";
    const char *t = s ? s : empty;
    (void)ac_json_write_str(t, strnlen(t, 4096), sim_json_put, f);
}

/* A printed line is written to a memory stream, then kept with its sort key. */
static FILE *sim_line_open(struct sim_run *r)
{
    if (r->n_lines == r->cap_lines) {
        size_t nc = r->cap_lines ? 2 * r->cap_lines : 1024;
        struct sim_line *nl = realloc(r->lines, nc * sizeof(*nl));
        if (!nl) {
            fprintf(stderr, "aftercare simulate: out of memory; a line is not printed\n");
            return NULL;
        }
        r->lines = nl;
        r->cap_lines = nc;
    }
    struct sim_line *l = &r->lines[r->n_lines];
    l->len = 0;
    FILE *f = open_memstream(&l->text, &l->len);
    if (!f) {
        fprintf(stderr, "aftercare simulate: out of memory; a line is not printed\n");
    }
    return f;
}

static void sim_line_close(struct sim_run *r, FILE *f, int64_t at, const char *customer_id)
{
    struct sim_line *l = &r->lines[r->n_lines];
    fclose(f);
    l->at = at;
    snprintf(l->customer_id, sizeof(l->customer_id), "%s", customer_id);
    l->seq = r->n_lines++;
}

static void sim_decision(const char *customer_id, const struct ac_decision *d, void *opaque)
{
    struct sim_run *r = opaque;
    char at[40], nb[40];
    r->decisions++;
    if (strcmp(d->decision, "emitted") == 0) {
        if (r->n_out == r->cap_out) {
            size_t nc = r->cap_out ? 2 * r->cap_out : 1024;
            struct sim_outcome *no = realloc(r->out, nc * sizeof(*no));
            if (no) {
                r->out = no;
                r->cap_out = nc;
            }
        }
        if (r->n_out < r->cap_out) {
            struct sim_outcome *o = &r->out[r->n_out++];
            snprintf(o->action_id, sizeof(o->action_id), "%s", d->action_id);
            snprintf(o->customer_id, sizeof(o->customer_id), "%s", customer_id);
            snprintf(o->rule_id, sizeof(o->rule_id), "%s", d->rule_id);
            snprintf(o->channel, sizeof(o->channel), "%s", d->channel);
            o->not_before = d->not_before;
        }
    }
    if (!r->print) {
        return;
    }
    FILE *f = sim_line_open(r);
    if (!f) {
        return;
    }
    sim_iso(d->at, at, sizeof(at));
    sim_iso(d->not_before, nb, sizeof(nb));
    fprintf(f, "{\"time\":%s,\"customer_id\":", at);
    sim_json_str(f, customer_id);
    fprintf(f, ",\"rule_id\":");
    sim_json_str(f, d->rule_id);
    fprintf(f, ",\"decision\":\"%s\",\"reason\":", d->decision);
    sim_json_str(f, d->reason);
    fprintf(f, ",\"action_id\":\"%s\",\"channel\":", d->action_id);
    sim_json_str(f, d->channel);
    fprintf(f, ",\"template\":");
    sim_json_str(f, d->template_name);
    fprintf(f, ",\"not_before\":%s", nb);
    if (d->experiment[0]) {
        fprintf(f, ",\"experiment\":");
        sim_json_str(f, d->experiment);
        fprintf(f, ",\"variant\":");
        sim_json_str(f, d->variant);
    }
    fprintf(f, "}\n");
    sim_line_close(r, f, d->at, customer_id);
}

/* A signal's line: {"time", "customer_id", "signal", "value", "previous",
 * "score", "signal_id", "cause_event_id"}; "signal" where a decision has
 * "rule_id" and "decision". */
static void sim_signal(const char *customer_id, const struct ac_signal *s, int64_t at_ms,
                       void *opaque)
{
    struct sim_run *r = opaque;
    char at[40];
    r->signals++;
    if (!r->print) {
        return;
    }
    FILE *f = sim_line_open(r);
    if (!f) {
        return;
    }
    sim_iso(at_ms, at, sizeof(at));
    fprintf(f, "{\"time\":%s,\"customer_id\":", at);
    sim_json_str(f, customer_id);
    fprintf(f, ",\"signal\":");
    sim_json_str(f, s->signal);
    fprintf(f, ",\"value\":");
    sim_json_str(f, s->value);
    fprintf(f, ",\"previous\":");
    if (s->previous[0]) {
        sim_json_str(f, s->previous);
    } else {
        fprintf(f, "null");
    }
    fprintf(f, ",\"score\":%.15g,\"signal_id\":\"%s\",\"cause_event_id\":",
            isfinite(s->score) ? s->score : 0.0, s->signal_id);
    sim_json_str(f, s->cause_event_id);
    fprintf(f, "}\n");
    sim_line_close(r, f, at_ms, customer_id);
}

/* Time, then customer, then the order decided: the same output every run
 * (customers due at one instant are fired in the order Redis lists them). */
static int sim_line_cmp(const void *a, const void *b)
{
    const struct sim_line *x = a, *y = b;
    if (x->at != y->at) {
        return x->at < y->at ? -1 : 1;
    }
    int c = strcmp(x->customer_id, y->customer_id);
    if (c != 0) {
        return c;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void sim_print_lines(struct sim_run *r)
{
    if (r->n_lines > 1) { /* no lines: no array (qsort must not see NULL) */
        qsort(r->lines, r->n_lines, sizeof(*r->lines), sim_line_cmp);
    }
    for (size_t i = 0; i < r->n_lines; i++) {
        fputs(r->lines[i].text, r->print);
        free(r->lines[i].text);
    }
    free(r->lines);
    r->lines = NULL;
    r->n_lines = r->cap_lines = 0;
}

static void sim_timer(int64_t due, void *opaque)
{
    sim_heap_push(opaque, due);
}

/* Fires every timer due at or before t, each at its own due time. */
static int sim_fire_until(struct ac_fire *f, struct sim_run *r, int64_t t)
{
    while (r->n_heap > 0 && r->heap[0] <= t) {
        int64_t due = sim_heap_pop(r);
        while (r->n_heap > 0 && r->heap[0] == due) {
            (void)sim_heap_pop(r);
        }
        for (;;) {
            struct ac_store_cust *custs;
            size_t n;
            int rc = ac_fire_round(f, due, 0, &custs, &n);
            if (rc < 0) {
                return rc;
            }
            if (rc == 0) {
                break;
            }
        }
    }
    return 0;
}

static int sim_run_playbook(struct ac_store *st, const char *playbook, const struct sim_events *se,
                            int64_t until, struct sim_run *r)
{
    char err[512], gen[40];
    int rc = AC_ERR_INVALID;
    void *reply = ac_store_command(st, "FLUSHALL");
    ac_store_reply_free(reply);
    if (!reply || ac_store_generation(st, 1, gen) != 0) {
        fprintf(stderr, "aftercare simulate: the private redis-server does not answer\n");
        return AC_ERR_TRANSIENT;
    }
    ac_store_expect_generation(st, gen);
    static const struct ac_cfg_entry sim_table[] = {
        {"playbook", AC_CFG_STR, AC_PLAYBOOK_DEFAULT, "", 0, 0},
        {"team.default_owner", AC_CFG_STR, "customer-success", "", 0, 0},
        {NULL, AC_CFG_STR, NULL, NULL, 0, 0},
    };
    /* The processors of this version, by input topic. */
    const struct ac_processor *procs[AC_TOPIC__N] = {0};
    void *ctxs[AC_TOPIC__N] = {0};
    procs[AC_TOPIC_ORDERS] = &ac_orders_processor;
    procs[AC_TOPIC_FEEDBACK] = &ac_feedback_processor;
    procs[AC_TOPIC_DELIVERIES] = &ac_deliveries_processor;
    procs[AC_TOPIC_USAGE] = &ac_usage_processor;
    const struct ac_cfg_entry *tables[] = {ac_orders_processor.config, sim_table};
    struct ac_config *cfg = ac_config_load(tables, 2, NULL, err, sizeof(err));
    struct ac_rules *rules = NULL;
    struct ac_fire *fire = NULL;
    if (!cfg || ac_config_set(cfg, "playbook", playbook, err, sizeof(err)) != 0) {
        fprintf(stderr, "aftercare simulate: %s\n", err);
        goto out;
    }
    for (int t = 0; t < AC_TOPIC__N; t++) {
        if (procs[t] && procs[t]->init && !(ctxs[t] = procs[t]->init(cfg, err, sizeof(err)))) {
            fprintf(stderr, "aftercare simulate: %s\n", err);
            goto out;
        }
    }
    if (!(rules = ac_rules_open(playbook, NULL, err, sizeof(err))) ||
        !(fire = ac_fire_new(st, ac_rules_engine(rules), NULL, 1000))) {
        fprintf(stderr, "aftercare simulate: %s\n", rules ? "out of memory" : err);
        goto out;
    }
    ac_fire_on_decision(fire, sim_decision, r);
    ac_fire_on_signal(fire, sim_signal);
    ac_fire_on_timer(fire, sim_timer);
    long skipped[AC_TOPIC__N] = {0};
    int64_t clock = INT64_MIN;
    for (size_t i = 0; i < se->n; i++) {
        const struct ac_event *ev = &se->ev[i];
        if (ev->occurred_at > until) {
            r->late++; /* after --until: not applied */
            continue;
        }
        clock = ev->occurred_at > clock ? ev->occurred_at : clock;
        if ((rc = sim_fire_until(fire, r, clock)) != 0) {
            goto out;
        }
        if (!procs[ev->topic]) {
            skipped[ev->topic]++; /* no processor for this topic yet */
            continue;
        }
        rc = ac_fire_apply_event(fire, procs[ev->topic], ctxs[ev->topic], ev, clock);
        if (rc != 0 && rc != AC_ERR_INVALID) {
            goto out;
        }
    }
    rc = sim_fire_until(fire, r, until);
    if (r->print) {
        sim_print_lines(r);
    }
    for (int t = 0; t < AC_TOPIC__N; t++) {
        if (skipped[t] > 0) {
            fprintf(stderr,
                    "aftercare simulate: %ld %s event(s) skipped: this version has no %s "
                    "processor\n",
                    skipped[t], ac_topic_name((enum ac_topic)t), ac_topic_name((enum ac_topic)t));
        }
    }
out:
    ac_fire_destroy(fire);
    ac_rules_close(rules);
    for (int t = 0; t < AC_TOPIC__N; t++) {
        if (ctxs[t]) {
            procs[t]->fini(ctxs[t]);
        }
    }
    ac_config_destroy(cfg);
    return rc;
}

/* --- --against ------------------------------------------------------------------------------- */

static int sim_outcome_cmp(const void *a, const void *b)
{
    return strcmp(((const struct sim_outcome *)a)->action_id,
                  ((const struct sim_outcome *)b)->action_id);
}

static void sim_change(const char *change, const struct sim_outcome *now,
                       const struct sim_outcome *was)
{
    const struct sim_outcome *o = now ? now : was;
    char a[40], b[40];
    sim_iso(now ? now->not_before : AC_TS_NONE, a, sizeof(a));
    sim_iso(was ? was->not_before : AC_TS_NONE, b, sizeof(b));
    printf("{\"change\":\"%s\",\"action_id\":\"%s\",\"customer_id\":", change, o->action_id);
    sim_json_str(stdout, o->customer_id);
    printf(",\"rule_id\":");
    sim_json_str(stdout, o->rule_id);
    printf(",\"not_before\":%s,\"was_not_before\":%s,\"channel\":", a, b);
    sim_json_str(stdout, now ? now->channel : "");
    printf(",\"was_channel\":");
    sim_json_str(stdout, was ? was->channel : "");
    printf("}\n");
}

static void sim_diff(struct sim_run *changed, struct sim_run *current)
{
    if (changed->n_out > 1) { /* none: no array */
        qsort(changed->out, changed->n_out, sizeof(*changed->out), sim_outcome_cmp);
    }
    if (current->n_out > 1) {
        qsort(current->out, current->n_out, sizeof(*current->out), sim_outcome_cmp);
    }
    size_t i = 0, j = 0;
    long appear = 0, vanish = 0, move = 0, same = 0;
    while (i < changed->n_out || j < current->n_out) {
        int c = i == changed->n_out ? 1
                : j == current->n_out
                    ? -1
                    : strcmp(changed->out[i].action_id, current->out[j].action_id);
        if (c < 0) {
            sim_change("appear", &changed->out[i++], NULL);
            appear++;
        } else if (c > 0) {
            sim_change("vanish", NULL, &current->out[j++]);
            vanish++;
        } else {
            if (changed->out[i].not_before != current->out[j].not_before ||
                strcmp(changed->out[i].channel, current->out[j].channel) != 0) {
                sim_change("move", &changed->out[i], &current->out[j]);
                move++;
            } else {
                same++;
            }
            i++;
            j++;
        }
    }
    fprintf(stderr, "aftercare simulate: %ld appear, %ld vanish, %ld move, %ld unchanged\n", appear,
            vanish, move, same);
}

int cli_simulate(int argc, char **argv)
{
    const char *events = NULL, *playbook = AC_PLAYBOOK_DEFAULT, *against = NULL;
    int64_t until = AC_TS_NONE;
    int strict = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            simulate_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
            events = argv[++i];
        } else if (strcmp(argv[i], "--playbook") == 0 && i + 1 < argc) {
            playbook = argv[++i];
        } else if (strcmp(argv[i], "--against") == 0 && i + 1 < argc) {
            against = argv[++i];
        } else if (strcmp(argv[i], "--strict") == 0) {
            strict = 1;
        } else if (strcmp(argv[i], "--until") == 0 && i + 1 < argc) {
            if (sim_parse_time(argv[++i], &until) != 0) {
                fprintf(stderr,
                        "aftercare simulate: --until: expected ISO-8601 "
                        "(2026-03-01T00:00:00Z), epoch ms or an offset from now (+30d), "
                        "got '%s'\n",
                        argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "aftercare simulate: unknown argument '%s'\n\n", argv[i]);
            simulate_usage(stderr);
            return 2;
        }
    }
    if (!events) {
        simulate_usage(stderr);
        return 2;
    }
    struct ac_codec *codec = cli_codec();
    struct sim_events se = {0};
    struct ac_dev_redis redis;
    struct ac_store *st = NULL;
    struct sim_run changed = {0}, current = {0};
    char err[512];
    int exit_code = 1, redis_up = 0;
    memset(&redis, 0, sizeof(redis));
    if (!codec || sim_read_events(codec, events, strict, ac_clock_now(ac_clock_wall()), &se) != 0) {
        goto out;
    }
    if (until == AC_TS_NONE) {
        until = (se.n ? se.ev[se.n - 1].occurred_at : 0) + SIM_DEFAULT_HORIZON;
    }
    if (ac_dev_redis_start(&redis, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "aftercare simulate: cannot start redis-server: %s\n", err);
        goto out;
    }
    redis_up = 1;
    if (!(st = ac_store_new(redis.url, "sim", err, sizeof(err))) ||
        ac_store_connect(st, err, sizeof(err)) != 0) {
        fprintf(stderr, "aftercare simulate: %s\n", err);
        goto out;
    }
    changed.print = against ? NULL : stdout;
    if (sim_run_playbook(st, playbook, &se, until, &changed) != 0) {
        goto out;
    }
    if (against) {
        if (sim_run_playbook(st, against, &se, until, &current) != 0) {
            goto out;
        }
        sim_diff(&changed, &current);
    } else {
        fprintf(stderr,
                "aftercare simulate: %zu events, %ld decisions, %zu actions emitted, %ld "
                "signals\n",
                se.n - (size_t)changed.late, changed.decisions, changed.n_out, changed.signals);
    }
    if (se.bad > 0) {
        fprintf(stderr, "aftercare simulate: %ld line(s) skipped (see above)\n", se.bad);
    }
    if (changed.late > 0) {
        fprintf(stderr, "aftercare simulate: %ld event(s) after --until not applied\n",
                changed.late);
    }
    exit_code = 0;
out:
    fflush(stdout);
    ac_store_destroy(st);
    if (redis_up) {
        ac_dev_redis_stop(&redis, SIGTERM);
        ac_dev_redis_cleanup(&redis);
    }
    for (size_t i = 0; i < changed.n_lines; i++) {
        free(changed.lines[i].text);
    }
    free(changed.lines);
    free(changed.heap);
    free(changed.out);
    free(current.heap);
    free(current.out);
    free(se.ev);
    ac_codec_destroy(codec);
    return exit_code;
}
