/* fuzz_playbook.c — fuzz target for the playbook loader
 * (ac_playbook_load_buffer(): YAML text to struct ac_playbook).
 *
 * The input is the YAML text, in a buffer of exactly its size (the loader
 * takes a length, not a C string). The loader must return a playbook and
 * report nothing, or return NULL and report at least one error, each with a
 * message and a "file:line:column: message" text: never crash, leak, hang
 * or read out of bounds. A loaded playbook is walked through its accessors
 * (rules, their triggers by event and signal, families, windows, policies,
 * experiments) and loading the same text again gives the same rules.
 *
 * Seeds: tests/data/playbooks/ and deploy/playbooks/ (ctest passes both).
 * Built and run by ctest (fuzz/playbook, a few seconds) and by hand, see
 * tests/README.md. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "playbook.h"

struct fuzz_diags {
    int n;
    int bad; /* a diagnostic without its text */
};

static void fuzz_diag(const struct ac_pb_diag *diag, void *opaque)
{
    struct fuzz_diags *fd = opaque;
    fd->n++;
    if (!diag->message || !diag->message[0] || !diag->text || !diag->text[0] || !diag->file ||
        strncmp(diag->text, "fuzz.yaml:", 10) != 0) {
        fd->bad = 1;
    }
}

/* Names a playbook can refer to: every event type and signal we know. */
static const char *const fuzz_names[] = {
    "cart_abandoned",
    "order_placed",
    "order_cancelled",
    "return_requested",
    "refund_issued",
    "contract_signed",
    "subscription_renewed",
    "subscription_cancelled",
    "packed",
    "shipped",
    "out_for_delivery",
    "delivered",
    "delayed",
    "delivery_failed",
    "returned",
    "survey_response",
    "review_posted",
    "ticket_opened",
    "ticket_first_response",
    "ticket_resolved",
    "message_engagement",
    "preferences_updated",
    "session",
    "feature_used",
    "milestone",
    "segment",
    "churn_risk",
    "p_alive",
    "nps_class",
    "late_delivery",
    "sla_breach",
    "usage_decline",
    "",
    "no such name",
};

#define FUZZ_N_NAMES (sizeof(fuzz_names) / sizeof(fuzz_names[0]))

/* Reads everything the accessors give; returns a number that depends on it
 * all, so nothing is optimised away and two loads can be compared. */
static uint64_t fuzz_walk(const struct ac_playbook *pb)
{
    uint64_t sum = ac_playbook_rule_count(pb);
    for (size_t i = 0; i < ac_playbook_rule_count(pb); i++) {
        const struct ac_pb_rule *r = ac_playbook_rule(pb, i);
        if (!r || !r->id || ac_playbook_rule_find(pb, r->id) != r) {
            abort(); /* rule ids are unique and found */
        }
        sum = sum * 31 + strlen(r->id) + r->n_triggers;
    }
    for (size_t i = 0; i < FUZZ_N_NAMES; i++) {
        size_t n = 0;
        const struct ac_pb_rule *const *rs = ac_playbook_rules_for_event(pb, fuzz_names[i], &n);
        for (size_t k = 0; k < n; k++) {
            sum += rs[k] != NULL;
        }
        rs = ac_playbook_rules_for_signal(pb, fuzz_names[i], &n);
        for (size_t k = 0; k < n; k++) {
            sum += rs[k] != NULL;
        }
        rs = ac_playbook_rules_cancelled_by(pb, fuzz_names[i], &n);
        for (size_t k = 0; k < n; k++) {
            sum += rs[k] != NULL;
        }
        sum += ac_playbook_family(pb, fuzz_names[i]) != NULL;
        for (int w = 0; w < AC_PB_WINDOW__N; w++) {
            sum += (uint64_t)ac_playbook_family_window(pb, fuzz_names[i], (enum ac_pb_window_kind)w,
                                                       10000);
        }
    }
    for (size_t i = 0; i < ac_playbook_family_count(pb); i++) {
        sum += ac_playbook_family_at(pb, i) != NULL;
    }
    for (size_t i = 0; i < ac_playbook_experiment_count(pb); i++) {
        const struct ac_pb_experiment *e = ac_playbook_experiment(pb, i);
        if (!e || !e->id || ac_playbook_experiment_find(pb, e->id) != e) {
            abort();
        }
        sum = sum * 31 + e->n_variants + (uint64_t)e->holdout;
    }
    sum += (uint64_t)ac_playbook_price_threshold_cents(pb);
    sum += ac_playbook_policies(pb) != NULL;
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_diags fd = {0, 0};
    struct ac_playbook *pb =
        ac_playbook_load_buffer("fuzz.yaml", (const char *)data, size, fuzz_diag, &fd);
    if (fd.bad || (pb == NULL) != (fd.n > 0)) {
        abort(); /* NULL exactly when something was reported, and said well */
    }
    if (pb) {
        uint64_t first = fuzz_walk(pb);
        struct fuzz_diags fd2 = {0, 0};
        struct ac_playbook *again =
            ac_playbook_load_buffer("fuzz.yaml", (const char *)data, size, fuzz_diag, &fd2);
        if (!again || fuzz_walk(again) != first) {
            abort(); /* loading is deterministic */
        }
        ac_playbook_destroy(again);
    }
    ac_playbook_destroy(pb);
    return 0;
}
