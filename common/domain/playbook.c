/* playbook.c — loading a playbook (YAML via libyaml's document loader, which
 * keeps every node's position), reporting its errors, the trigger and
 * cancel indexes, and the read-only accessors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "playbook_int.h"

#define PLAYBOOK_FILE_MAX (16 * 1024 * 1024)

/* --- errors ---------------------------------------------------------------------------------- */

static int playbook_diag_cmp(const void *a, const void *b)
{
    const struct playbook_diag *x = a, *y = b;
    if (x->line != y->line) {
        return x->line < y->line ? -1 : 1;
    }
    if (x->column != y->column) {
        return x->column < y->column ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts, drops repeats (a rule-level default parsed for each of its
 * actions), and hands each error to fn. Returns how many there were. */
static size_t playbook_report(struct playbook_loader *ld,
                              void (*fn)(const struct ac_pb_diag *diag, void *opaque), void *opaque)
{
    if (ld->n_diags > 1) {
        qsort(ld->diags, ld->n_diags, sizeof(*ld->diags), playbook_diag_cmp);
    }
    size_t n = 0;
    for (size_t i = 0; i < ld->n_diags; i++) {
        const struct playbook_diag *d = &ld->diags[i];
        if (i > 0 && d->line == d[-1].line && d->column == d[-1].column &&
            strcmp(d->message, d[-1].message) == 0) {
            continue;
        }
        n++;
        if (!fn) {
            continue;
        }
        char text[1024];
        if (d->line > 0) {
            snprintf(text, sizeof(text), "%s:%d:%d: %s", ld->file, d->line, d->column, d->message);
        } else {
            snprintf(text, sizeof(text), "%s: %s", ld->file, d->message);
        }
        struct ac_pb_diag diag = {ld->file, d->line, d->column, d->message, text};
        fn(&diag, opaque);
    }
    if (ld->n_diags >= PLAYBOOK_MAX_ERRORS && fn) {
        char text[512];
        snprintf(text, sizeof(text), "%s: too many errors, stopped after %d", ld->file,
                 PLAYBOOK_MAX_ERRORS);
        struct ac_pb_diag diag = {ld->file, 0, 0, "too many errors", text};
        fn(&diag, opaque);
    }
    return n;
}

/* --- indexes --------------------------------------------------------------------------------- */

/* Adds r to slot idx of an index (two passes: count, then fill). */
static void playbook_index_add(struct playbook_loader *ld, const struct ac_pb_rule ***index,
                               size_t *count, size_t *cap, int idx, const struct ac_pb_rule *r)
{
    if (idx < 0) {
        return;
    }
    if (!index[idx]) {
        cap[idx]++;
        return;
    }
    if (count[idx] && index[idx][count[idx] - 1] == r) {
        return; /* a rule listed once per name */
    }
    index[idx][count[idx]++] = r;
    (void)ld;
}

static void playbook_index_pass(struct playbook_loader *ld, size_t *cap_ev, size_t *cap_sig,
                                size_t *cap_cancel)
{
    struct ac_playbook *pb = ld->pb;
    for (size_t i = 0; i < pb->n_rules; i++) {
        const struct ac_pb_rule *r = &pb->rules[i];
        for (size_t t = 0; t < r->n_triggers; t++) {
            const struct ac_pb_trigger *tr = &r->triggers[t];
            if (tr->source == AC_PB_EVENT) {
                playbook_index_add(ld, pb->by_event, pb->n_by_event, cap_ev,
                                   playbook_event_index(tr->name), r);
            } else {
                playbook_index_add(ld, pb->by_signal, pb->n_by_signal, cap_sig,
                                   playbook_signal_index(tr->name), r);
            }
        }
        for (size_t c = 0; c < r->n_cancel_on; c++) {
            if (r->cancel_on[c].on.source == AC_PB_EVENT) {
                playbook_index_add(ld, pb->cancel_by_event, pb->n_cancel_by_event, cap_cancel,
                                   playbook_event_index(r->cancel_on[c].on.name), r);
            }
        }
    }
}

static uint32_t playbook_id_hash(const char *id)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h = (h ^ *p) * 16777619u;
    }
    return h;
}

/* Rules by id (every decision about a timer looks its rule up). */
static void playbook_index_ids(struct playbook_loader *ld)
{
    struct ac_playbook *pb = ld->pb;
    size_t size = 16;
    while (size < 2 * pb->n_rules) {
        size *= 2;
    }
    pb->by_id = playbook_alloc(ld, size * sizeof(*pb->by_id));
    if (!pb->by_id) {
        return;
    }
    memset(pb->by_id, 0, size * sizeof(*pb->by_id));
    pb->by_id_mask = size - 1;
    for (size_t i = 0; i < pb->n_rules; i++) {
        if (!pb->rules[i].id) {
            continue;
        }
        size_t k = playbook_id_hash(pb->rules[i].id) & pb->by_id_mask;
        while (pb->by_id[k] != 0) {
            k = (k + 1) & pb->by_id_mask;
        }
        pb->by_id[k] = (uint32_t)i + 1;
    }
}

static void playbook_index(struct playbook_loader *ld)
{
    struct ac_playbook *pb = ld->pb;
    size_t cap_ev[PLAYBOOK_N_EVENTS] = {0}, cap_sig[PLAYBOOK_N_SIGNALS] = {0};
    size_t cap_cancel[PLAYBOOK_N_EVENTS] = {0};
    playbook_index_pass(ld, cap_ev, cap_sig, cap_cancel);
    for (int i = 0; i < PLAYBOOK_N_EVENTS; i++) {
        if (cap_ev[i]) {
            pb->by_event[i] = playbook_alloc(ld, cap_ev[i] * sizeof(*pb->by_event[i]));
        }
        if (cap_cancel[i]) {
            pb->cancel_by_event[i] =
                playbook_alloc(ld, cap_cancel[i] * sizeof(*pb->cancel_by_event[i]));
        }
    }
    for (int i = 0; i < PLAYBOOK_N_SIGNALS; i++) {
        if (cap_sig[i]) {
            pb->by_signal[i] = playbook_alloc(ld, cap_sig[i] * sizeof(*pb->by_signal[i]));
        }
    }
    if (!ld->oom) {
        playbook_index_pass(ld, cap_ev, cap_sig, cap_cancel);
        playbook_index_ids(ld);
    }
}

/* --- loading --------------------------------------------------------------------------------- */

static void playbook_root(struct playbook_loader *ld)
{
    static const char *const keys[] = {"version",  "policies",    "suppressions",
                                       "families", "experiments", "rules"};
    const yaml_node_t *v[6];
    const yaml_node_t *root = yaml_document_get_root_node(&ld->doc);
    if (!root || (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0)) {
        playbook_error_at(ld, 1, 1, "the playbook is empty");
        return;
    }
    if (playbook_map(ld, root, "the playbook", keys, 6, v, NULL) != 0) {
        return;
    }
    int64_t version = 0;
    if (!v[0]) {
        playbook_error(ld, root, "the playbook needs 'version: 1'");
    } else if (playbook_int(ld, v[0], "version", 1, 1, &version) != 0) {
        return; /* a different format: the rest would mislead */
    }
    /* Order matters: rules refer to policies (hours, defer bound) and experiments. */
    playbook_load_policies(ld, v[1]);
    if (v[2]) {
        playbook_load_suppressions(ld, v[2]);
    }
    playbook_load_families(ld, v[3]);
    if (v[4]) {
        playbook_load_experiments(ld, v[4]);
    }
    if (!v[5]) {
        playbook_error(ld, root, "the playbook needs 'rules'");
        return;
    }
    playbook_load_rules(ld, v[5]);
}

struct ac_playbook *ac_playbook_load_buffer(const char *name, const char *text, size_t len,
                                            void (*fn)(const struct ac_pb_diag *diag, void *opaque),
                                            void *opaque)
{
    struct playbook_loader ld;
    yaml_parser_t parser;
    int parser_ready = 0, doc_ready = 0;
    struct ac_playbook *pb = NULL;
    memset(&ld, 0, sizeof(ld));
    ld.file = name;
    ld.pb = calloc(1, sizeof(*ld.pb));
    if (!ld.pb || !(ld.pb->name = strdup(name))) {
        ld.oom = 1;
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        ld.oom = 1;
        goto out;
    }
    parser_ready = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &ld.doc)) {
        playbook_error_at(&ld, (int)parser.problem_mark.line + 1,
                          (int)parser.problem_mark.column + 1, "YAML: %s%s%s",
                          parser.problem ? parser.problem : "syntax error",
                          parser.context ? " " : "", parser.context ? parser.context : "");
        goto out;
    }
    doc_ready = 1;
    playbook_root(&ld);
    if (ld.n_diags == 0 && !ld.oom) {
        playbook_index(&ld);
    }
out:
    if (ld.oom) {
        playbook_error_at(&ld, 0, 0, "out of memory");
    }
    if (doc_ready) {
        yaml_document_delete(&ld.doc);
    }
    if (parser_ready) {
        yaml_parser_delete(&parser);
    }
    if (playbook_report(&ld, fn, opaque) == 0 && !ld.oom) {
        pb = ld.pb;
        ld.pb = NULL;
    }
    for (size_t i = 0; i < ld.n_diags; i++) {
        free(ld.diags[i].message);
    }
    free(ld.diags);
    ac_playbook_destroy(ld.pb);
    return pb;
}

struct ac_playbook *ac_playbook_load(const char *path,
                                     void (*fn)(const struct ac_pb_diag *diag, void *opaque),
                                     void *opaque)
{
    struct ac_playbook *pb = NULL;
    char *text = NULL;
    size_t len = 0, cap = 0;
    char why[256] = "";
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, sizeof(why), "cannot open: %s", strerror(errno));
        goto out;
    }
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? 2 * cap : 65536;
            char *t = cap <= PLAYBOOK_FILE_MAX ? realloc(text, cap) : NULL;
            if (!t) {
                snprintf(why, sizeof(why), "too large or out of memory");
                goto out;
            }
            text = t;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            break;
        }
    }
    if (ferror(f)) {
        snprintf(why, sizeof(why), "cannot read: %s", strerror(errno));
        goto out;
    }
    pb = ac_playbook_load_buffer(path, text, len, fn, opaque);
out:
    if (why[0] && fn) {
        char line[1024];
        snprintf(line, sizeof(line), "%s: %s", path, why);
        struct ac_pb_diag diag = {path, 0, 0, why, line};
        fn(&diag, opaque);
    }
    if (f) {
        fclose(f);
    }
    free(text);
    return pb;
}

void ac_playbook_destroy(struct ac_playbook *pb)
{
    if (!pb) {
        return;
    }
    for (size_t i = 0; i < pb->n_exprs; i++) {
        ac_expr_destroy(pb->exprs[i]);
    }
    free(pb->exprs);
    struct playbook_chunk *c = pb->arena;
    while (c) {
        struct playbook_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(pb->name);
    free(pb);
}

/* --- reading --------------------------------------------------------------------------------- */

const char *ac_playbook_name(const struct ac_playbook *pb)
{
    return pb->name;
}

size_t ac_playbook_rule_count(const struct ac_playbook *pb)
{
    return pb->n_rules;
}

const struct ac_pb_rule *ac_playbook_rule(const struct ac_playbook *pb, size_t i)
{
    return i < pb->n_rules ? &pb->rules[i] : NULL;
}

const struct ac_pb_rule *ac_playbook_rule_find(const struct ac_playbook *pb, const char *id)
{
    if (pb->by_id) {
        for (size_t k = playbook_id_hash(id) & pb->by_id_mask; pb->by_id[k] != 0;
             k = (k + 1) & pb->by_id_mask) {
            const struct ac_pb_rule *r = &pb->rules[pb->by_id[k] - 1];
            if (strcmp(r->id, id) == 0) {
                return r;
            }
        }
        return NULL;
    }
    for (size_t i = 0; i < pb->n_rules; i++) {
        if (pb->rules[i].id && strcmp(pb->rules[i].id, id) == 0) {
            return &pb->rules[i];
        }
    }
    return NULL;
}

const struct ac_pb_rule *const *ac_playbook_rules_for_event(const struct ac_playbook *pb,
                                                            const char *type, size_t *n)
{
    int i = playbook_event_index(type);
    *n = i < 0 ? 0 : pb->n_by_event[i];
    return i < 0 ? NULL : pb->by_event[i];
}

const struct ac_pb_rule *const *ac_playbook_rules_for_signal(const struct ac_playbook *pb,
                                                             const char *signal, size_t *n)
{
    int i = playbook_signal_index(signal);
    *n = i < 0 ? 0 : pb->n_by_signal[i];
    return i < 0 ? NULL : pb->by_signal[i];
}

const struct ac_pb_rule *const *ac_playbook_rules_cancelled_by(const struct ac_playbook *pb,
                                                               const char *type, size_t *n)
{
    int i = playbook_event_index(type);
    *n = i < 0 ? 0 : pb->n_cancel_by_event[i];
    return i < 0 ? NULL : pb->cancel_by_event[i];
}

const struct ac_pb_family *ac_playbook_family(const struct ac_playbook *pb, const char *family)
{
    for (size_t i = 1; i < pb->n_families; i++) {
        if (strcmp(pb->families[i].name, family) == 0) {
            return &pb->families[i];
        }
    }
    return &pb->families[0];
}

size_t ac_playbook_family_count(const struct ac_playbook *pb)
{
    return pb->n_families;
}

const struct ac_pb_family *ac_playbook_family_at(const struct ac_playbook *pb, size_t i)
{
    return i < pb->n_families ? &pb->families[i] : NULL;
}

int64_t ac_playbook_price_threshold_cents(const struct ac_playbook *pb)
{
    return pb->price_threshold_cents;
}

int64_t ac_playbook_family_window(const struct ac_playbook *pb, const char *family,
                                  enum ac_pb_window_kind w, int64_t unit_price_cents)
{
    const struct ac_pb_family *f = ac_playbook_family(pb, family);
    if ((int)w < 0 || w >= AC_PB_WINDOW__N) {
        return 0;
    }
    return unit_price_cents > pb->price_threshold_cents ? f->extended_ms[w] : f->window_ms[w];
}

const struct ac_pb_policies *ac_playbook_policies(const struct ac_playbook *pb)
{
    return &pb->policies;
}

size_t ac_playbook_experiment_count(const struct ac_playbook *pb)
{
    return pb->n_experiments;
}

const struct ac_pb_experiment *ac_playbook_experiment(const struct ac_playbook *pb, size_t i)
{
    return i < pb->n_experiments ? &pb->experiments[i] : NULL;
}

const struct ac_pb_experiment *ac_playbook_experiment_find(const struct ac_playbook *pb,
                                                           const char *id)
{
    for (size_t i = 0; i < pb->n_experiments; i++) {
        if (pb->experiments[i].id && strcmp(pb->experiments[i].id, id) == 0) {
            return &pb->experiments[i];
        }
    }
    return NULL;
}
