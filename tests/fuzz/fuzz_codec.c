/* fuzz_codec.c — fuzz target for ac_codec_decode_event().
 *
 * The first input byte picks the topic; the rest is the message (framed or
 * plain). Every input must come back as 0 or AC_ERR_INVALID with a reason,
 * never a crash, a leak or a read out of bounds. What is accepted must keep
 * the decoder's promises (codec.h: UTF-8 text, event times and money in
 * their bounds), and be encoded again to the same event.
 *
 * Seeds: the JSON lines of tests/fuzz/corpus/json_avro/, converted to
 * framed and plain Avro for their topic (ac_fuzz_seeds()). Built and run by
 * ctest (fuzz/codec, a few seconds) and by hand, see tests/README.md. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>

#include "codec.h"
#include "err.h"
#include "fuzz.h"
#include "utf8.h"

static struct ac_codec *fuzz_codec;

static void fuzz_codec_free(void)
{
    ac_codec_destroy(fuzz_codec);
    fuzz_codec = NULL;
}

/* Built once, before the first input: avro-c keeps some of its tables
 * behind pointers leak checkers do not follow, so a codec created inside a
 * run, or never destroyed, would read as a leak. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char schemas[1024];
    char registry[1024];
    char errstr[256] = "";
    const char *src = ac_fuzz_source_dir();
    (void)argc;
    (void)argv;
    snprintf(schemas, sizeof(schemas), "%s/schemas", src);
    snprintf(registry, sizeof(registry), "%s/tests/data/registry", src);
    fuzz_codec = ac_codec_new(schemas, registry, errstr, sizeof(errstr));
    if (!fuzz_codec) {
        fprintf(stderr, "fuzz_codec: %s (set AC_SOURCE_DIR)\n", errstr);
        abort();
    }
    atexit(fuzz_codec_free);
    return 0;
}

/* Every JSON line of the corpus that converts for an event topic becomes
 * two seeds: topic byte + framed Avro, topic byte + plain Avro. */
void ac_fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *const topics[] = {"orders", "deliveries", "feedback", "usage"};
    char dir[1024];
    char path[2048];
    char text[8192];
    char err[256];
    struct dirent *de;
    struct ac_buf b;
    snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/json_avro", ac_fuzz_source_dir());
    DIR *d = opendir(dir);
    if (!d) {
        return;
    }
    ac_buf_init(&b);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
        if (f) {
            fclose(f);
        }
        text[n] = '\0';
        for (int t = 0; t < AC_TOPIC__N; t++) {
            ac_buf_reset(&b);
            unsigned char topic = (unsigned char)t;
            if (ac_buf_append(&b, &topic, 1) != 0 ||
                ac_codec_json_to_avro(fuzz_codec, topics[t], text, &b, err, sizeof(err)) != 0) {
                continue;
            }
            add((const uint8_t *)b.data, b.len);
            b.data[5] = (char)topic; /* plain: the topic byte, then the record */
            add((const uint8_t *)b.data + 5, b.len - 5);
        }
    }
    closedir(d);
    ac_buf_fini(&b);
}

static int fuzz_text_ok(const char *s)
{
    return ac_utf8_valid(s, strlen(s));
}

static int fuzz_ts_ok(int64_t t)
{
    return t == AC_TS_NONE || (t >= AC_EVENT_TS_MIN && t < AC_EVENT_TS_MAX);
}

/* The promises of ac_codec_decode_event() (codec.h) about what it accepts. */
static int fuzz_event_ok(const struct ac_event *ev)
{
    if (!ev->event_id[0] || !ev->customer_id[0] || !fuzz_text_ok(ev->event_id) ||
        !fuzz_text_ok(ev->customer_id) || ev->occurred_at == AC_TS_NONE ||
        !fuzz_ts_ok(ev->occurred_at)) {
        return 0;
    }
    if (ev->topic == AC_TOPIC_ORDERS) {
        const struct ac_order_fields *o = &ev->u.order;
        if (o->total_cents < 0 || o->total_cents > AC_MAX_MONEY_CENTS ||
            !fuzz_ts_ok(o->renewal_at) || !fuzz_text_ok(o->order_id) ||
            !fuzz_text_ok(o->currency) || !fuzz_text_ok(o->account_owner)) {
            return 0;
        }
        for (int i = 0; i < o->n_items; i++) {
            const struct ac_item *it = &o->items[i];
            if (it->unit_price_cents < 0 || it->unit_price_cents > AC_MAX_MONEY_CENTS ||
                it->quantity <= 0 || !fuzz_text_ok(it->sku) || !fuzz_text_ok(it->product_family) ||
                !fuzz_text_ok(it->category)) {
                return 0;
            }
        }
    } else if (ev->topic == AC_TOPIC_DELIVERIES) {
        const struct ac_delivery_fields *dl = &ev->u.delivery;
        if (!fuzz_ts_ok(dl->estimated_delivery_at) || !fuzz_ts_ok(dl->new_estimated_delivery_at) ||
            !fuzz_text_ok(dl->carrier) || !fuzz_text_ok(dl->tracking_url)) {
            return 0;
        }
    } else if (ev->topic == AC_TOPIC_FEEDBACK) {
        const struct ac_feedback_fields *f = &ev->u.feedback;
        for (int i = 0; i < f->n_answers; i++) {
            if (!fuzz_text_ok(f->answers[i].key) || !fuzz_text_ok(f->answers[i].value)) {
                return 0;
            }
        }
        if (!fuzz_text_ok(f->comment) || !fuzz_text_ok(f->timezone)) {
            return 0;
        }
    } else if (ev->u.usage.quantity < 0 || !fuzz_text_ok(ev->u.usage.detail)) {
        return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ac_event ev;
    static struct ac_event again;
    char reason[128] = "";
    struct ac_codec *codec = fuzz_codec;
    if (size < 1) {
        return 0;
    }
    enum ac_topic t = (enum ac_topic)(data[0] % AC_TOPIC__N);
    /* entries past an array's count keep what they held (codec.h): start
     * both from zero so that the round trip compares byte for byte */
    memset(&ev, 0, sizeof(ev));
    memset(&again, 0, sizeof(again));
    int rc = ac_codec_decode_event(codec, t, data + 1, size - 1, &ev, reason, sizeof(reason));
    if (rc != 0) {
        if (rc != AC_ERR_INVALID || reason[0] == '\0') {
            abort(); /* every rejection carries a DLQ reason */
        }
        return 0;
    }
    if (!fuzz_event_ok(&ev)) {
        abort(); /* accepted what codec.h says is refused */
    }
    struct ac_buf out;
    ac_buf_init(&out);
    if (ac_codec_encode_event(codec, &ev, 1, &out) != 0 ||
        ac_codec_decode_event(codec, t, out.data, out.len, &again, reason, sizeof(reason)) != 0 ||
        memcmp(&ev, &again, sizeof(ev)) != 0) {
        abort(); /* what we accept we must be able to write back */
    }
    ac_buf_fini(&out);
    return 0;
}
