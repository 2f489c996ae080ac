/* emit.c — building actions and signals, deterministic ids. */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "emit.h"

void ac_emit_reset(struct ac_emit *out)
{
    out->n_actions = 0;
    out->n_signals = 0;
    out->n_decisions = 0;
    out->n_counters = 0;
    out->tz_fallbacks = 0;
    out->tz_missing = 0;
    out->decisions_lost = 0;
    out->repeat = 0;
    out->trigger = NULL;
}

/* Two 64-bit FNV-1a lanes (different offset bases) over the NUL-separated
 * inputs, each finished with a mixer; 128 bits make an accidental collision
 * negligible. The function is part of the contract: changing it changes every
 * action id, so a sender would no longer recognise redeliveries. */

/* splitmix64's finalizer: every input bit moves every output bit. */
static uint64_t emit_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Both lanes over one input, in one pass. */
static void emit_fnv2(uint64_t *h1, uint64_t *h2, const char *s, size_t n)
{
    uint64_t a = *h1, b = *h2 ^ 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < n; i++) {
        a ^= (unsigned char)s[i];
        a *= 0x100000001b3ULL;
        b ^= (unsigned char)s[i];
        b *= 0x100000001b3ULL;
    }
    *h1 = a;
    *h2 = b;
}

/* No snprintf on this path: ids are computed for every action, timer and
 * decision (the profile's hottest helper). */
void ac_action_id(char out[AC_ACTION_ID_MAX], const char *rule_id, const char *trigger_id, int part)
{
    static const char hex[] = "0123456789abcdef";
    char partbuf[24];
    size_t plen = ac_i64_dec(partbuf, part);
    uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x84222325cbf29ce4ULL;
    emit_fnv2(&h1, &h2, rule_id, strlen(rule_id) + 1);
    emit_fnv2(&h1, &h2, trigger_id, strlen(trigger_id) + 1);
    emit_fnv2(&h1, &h2, partbuf, plen);
    uint64_t a = emit_mix(h1), b = emit_mix(h2);
    for (int i = 15; i >= 0; i--) {
        out[i] = hex[a & 15];
        out[16 + i] = hex[b & 15];
        a >>= 4;
        b >>= 4;
    }
    out[32] = '\0';
}

struct ac_action *ac_emit_action(struct ac_emit *out, const char *rule_id, int part,
                                 const struct ac_event *ev, int64_t now)
{
    if (out->n_actions >= AC_EMIT_MAX_ACTIONS) {
        return NULL;
    }
    struct ac_action *a = &out->actions[out->n_actions++];
    memset(a, 0, sizeof(*a));
    ac_action_id(a->action_id, rule_id, ev->event_id, part);
    ac_str_copy(a->customer_id, sizeof(a->customer_id), ev->customer_id);
    ac_str_copy(a->rule_id, sizeof(a->rule_id), rule_id);
    ac_str_copy(a->trigger_event_id, sizeof(a->trigger_event_id), ev->event_id);
    ac_str_copy(a->trigger_type, sizeof(a->trigger_type), ev->type);
    a->not_before = ev->occurred_at;
    a->expires_at = AC_TS_NONE;
    a->created_at = now;
    return a;
}

struct ac_signal *ac_emit_signal(struct ac_emit *out, const char *signal, const struct ac_event *ev,
                                 const char *value, const char *previous, double score)
{
    if (out->n_signals >= AC_EMIT_MAX_SIGNALS) {
        return NULL;
    }
    struct ac_signal *s = &out->signals[out->n_signals++];
    memset(s, 0, sizeof(*s));
    char rule[AC_NAME_MAX] = "signal:";
    ac_str_copy(rule + 7, sizeof(rule) - 7, signal);
    ac_action_id(s->signal_id, rule, ev->event_id, 0);
    ac_str_copy(s->customer_id, sizeof(s->customer_id), ev->customer_id);
    ac_str_copy(s->signal, sizeof(s->signal), signal);
    ac_str_copy(s->cause_event_id, sizeof(s->cause_event_id), ev->event_id);
    s->occurred_at = ev->occurred_at;
    ac_str_copy(s->value, sizeof(s->value), value);
    ac_str_copy(s->previous, sizeof(s->previous), previous ? previous : "");
    s->score = score;
    return s;
}

static void emit_kv(struct ac_kv *kv, int *n, int max, const char *key, const char *value)
{
    if (*n >= max) {
        return;
    }
    ac_str_copy(kv[*n].key, sizeof(kv[*n].key), key);
    ac_str_copy(kv[*n].value, sizeof(kv[*n].value), value);
    (*n)++;
}

void ac_action_var(struct ac_action *a, const char *key, const char *value)
{
    emit_kv(a->vars, &a->n_vars, AC_MAX_KV, key, value);
}

void ac_action_var_i64(struct ac_action *a, const char *key, int64_t value)
{
    char v[24];
    ac_i64_dec(v, (long long)value);
    ac_action_var(a, key, v);
}

void ac_action_reason_signal(struct ac_action *a, const char *key, const char *value)
{
    emit_kv(a->signals, &a->n_signals, AC_MAX_REASON_SIGNALS, key, value);
}
