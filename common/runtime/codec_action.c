/* codec_action.c — struct ac_action to Avro (schemas/actions.avsc, id 5).
 *
 * Every emitted action is encoded on the hot path, so this writes the Avro
 * binary itself (codec_put.h) in the order of actions.avsc's fields, the
 * enums as their index (enum ac_action_kind and enum ac_category follow the
 * schema's symbol order; tests/unit/test_codec_action.c checks both tables
 * against the schema and compares every byte with avro-c's generic encoder,
 * kept as codec_encode_action_generic). A change to actions.avsc needs the
 * same change here. */
#include "codec_int.h"
#include "codec_put.h"
#include "err.h"

/* Largest encoding: the header, every string of the struct at its full size
 * (their sum is below sizeof the struct) and at most ACTION_VARINTS varints
 * of at most 10 bytes: 6 strings' lengths, 2 enums, the vars map (count,
 * 2 lengths per entry, its 0), not_before, expires_at (branch, value), 2
 * optional strings (branch, length), 2 reason strings' lengths, the signals
 * map (count, 2 per entry, its 0) and created_at. */
#define ACTION_VARINTS                                                                             \
    (6 + 2 + (2 + 2 * AC_MAX_KV) + 1 + 2 + 4 + 2 + (2 + 2 * AC_MAX_REASON_SIGNALS) + 1)
#define ACTION_BYTES_MAX (5 + sizeof(struct ac_action) + 10 * ACTION_VARINTS)

int ac_codec_encode_action(struct ac_codec *codec, const struct ac_action *a, struct ac_buf *out)
{
    unsigned char buf[ACTION_BYTES_MAX];
    unsigned char *p = buf;
    (void)codec; /* the layout is actions.avsc's, fixed at compile time */
    if ((unsigned)a->kind > AC_KIND_TEAM_NOTIFICATION || (unsigned)a->category > AC_CAT_SERVICE ||
        a->n_vars < 0 || a->n_vars > AC_MAX_KV || a->n_signals < 0 ||
        a->n_signals > AC_MAX_REASON_SIGNALS) {
        return AC_ERR_INVALID;
    }
    p = cput_frame(p, AC_SCHEMA_ACTIONS);
    p = cput_str(p, a->action_id, sizeof(a->action_id));
    p = cput_str(p, a->customer_id, sizeof(a->customer_id));
    p = cput_str(p, a->rule_id, sizeof(a->rule_id));
    p = cput_long(p, a->kind);
    p = cput_long(p, a->category);
    p = cput_str(p, a->channel, sizeof(a->channel));
    p = cput_str(p, a->template_name, sizeof(a->template_name));
    p = cput_map(p, a->vars, a->n_vars);
    p = cput_long(p, a->not_before);
    p = cput_opt_ts(p, a->expires_at);
    p = cput_opt_str(p, a->experiment, sizeof(a->experiment));
    p = cput_opt_str(p, a->variant, sizeof(a->variant));
    /* reason: the trigger and the signal values that decided it */
    p = cput_str(p, a->trigger_event_id, sizeof(a->trigger_event_id));
    p = cput_str(p, a->trigger_type, sizeof(a->trigger_type));
    p = cput_map(p, a->signals, a->n_signals);
    p = cput_long(p, a->created_at);
    return ac_buf_append(out, buf, (size_t)(p - buf));
}
