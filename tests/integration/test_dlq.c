/* DLQ: every kind of bad input lands on aftercare.dlq with its reason and
 * source coordinates, and the good events around it are processed. */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <string.h>

#include "devstack.h"
#include "harness.h"
#include "outbox.h"
#include "processor.h"
#include "store.h"

#define T0 1767225600000LL

static struct h_env env;

static void setup(void)
{
    h_start(&env, 1); /* one partition: offsets give a total order to check */
}

static void teardown(void)
{
    h_stop(&env);
}

TestSuite(dlq, .init = setup, .fini = teardown, .timeout = 180);

static void produce_good(const char *id, const char *cust)
{
    struct ac_event ev;
    h_order_event(&ev, id, cust, "order_placed", T0, 1000, "coffee");
    h_produce_events(&env, "orders", &ev, 1);
}

static void produce_encoded(struct ac_event *ev, const char *key)
{
    struct ac_buf b;
    ac_buf_init(&b);
    cr_assert_eq(ac_codec_encode_event(env.codec, ev, 1, &b), 0);
    h_produce_raw(&env, "orders", key, b.data, b.len);
    ac_buf_fini(&b);
}

/* The same with a key of key_len bytes (NULL: a null key). */
static void produce_encoded_keyed(struct ac_event *ev, const char *key, size_t key_len)
{
    struct ac_buf b;
    ac_buf_init(&b);
    cr_assert_eq(ac_codec_encode_event(env.codec, ev, 1, &b), 0);
    h_produce_keyed(&env, "orders", -1, key, key_len, b.data, b.len);
    ac_buf_fini(&b);
}

/* A DLQ record the test wants: its reason, source offset and key bytes. */
struct want_rec {
    const char *reason_prefix;
    int64_t offset;
    const char *key; /* NULL: a null key */
    size_t key_len;
};

static void want_add(struct want_rec *want, int *n, const char *reason, int64_t offset,
                     const char *key, size_t key_len)
{
    want[*n] = (struct want_rec){reason, offset, key, key_len};
    (*n)++;
}

Test(dlq, every_bad_kind_has_its_reason_and_good_events_flow)
{
    struct ac_event ev;
    struct ac_buf b;
    ac_buf_init(&b);
    struct want_rec want[32];
    int n_want = 0;
    int64_t off = 0;

    produce_good("g0", "good-0"), off++;

    /* undecodable bytes */
    h_produce_raw(&env, "orders", "x", "\x02\xff\xff\xff\xff\xff", 6);
    want_add(want, &n_want, "undecodable", off++, "x", 1);
    /* ... under keys that are not plain text: the DLQ keeps their bytes */
    h_produce_keyed(&env, "orders", -1, "py-garbage", 10, "\x02\xff\xff\xff\xff\xff", 6);
    want_add(want, &n_want, "undecodable", off++, "py-garbage", 10);
    h_produce_keyed(&env, "orders", -1, "k\0ey", 4, "\x02\xff", 2);
    want_add(want, &n_want, "undecodable", off++, "k\0ey", 4);
    h_produce_keyed(&env, "orders", -1, "", 0, "\x02\xff", 2);
    want_add(want, &n_want, "undecodable", off++, "", 0);
    h_produce_keyed(&env, "orders", -1, NULL, 0, "\x02\xff", 2);
    want_add(want, &n_want, "undecodable", off++, NULL, 0);

    /* an unknown Confluent schema id */
    h_order_event(&ev, "u1", "x", "order_placed", T0, 1000, "coffee");
    cr_assert_eq(ac_codec_encode_event(env.codec, &ev, 1, &b), 0);
    b.data[1] = 0, b.data[2] = 0, b.data[3] = 0x03, b.data[4] = (char)0xe7; /* id 999 */
    h_produce_raw(&env, "orders", "x", b.data, b.len);
    want_add(want, &n_want, "unknown_schema_id", off++, "x", 1);

    /* a missing required field: no customer id */
    h_order_event(&ev, "m1", "", "order_placed", T0, 1000, "coffee");
    produce_encoded(&ev, NULL);
    want_add(want, &n_want, "missing_field:customer_id", off++, NULL, 0);

    /* absurd values: negative money, an event a year in the future */
    h_order_event(&ev, "a1", "x", "order_placed", T0, -500, "coffee");
    produce_encoded(&ev, "x");
    want_add(want, &n_want, "absurd_value", off++, "x", 1);
    h_order_event(&ev, "a2", "x", "order_placed",
                  ac_clock_now(ac_clock_wall()) + 365LL * 86400000LL, 500, "coffee");
    produce_encoded(&ev, "x");
    want_add(want, &n_want, "absurd_value:occurred_at", off++, "x", 1);

    /* oversized */
    size_t big = AC_MAX_MESSAGE_BYTES + 1;
    char *p = calloc(1, big);
    p[0] = 0x02;
    h_produce_raw(&env, "orders", "x", p, big);
    free(p);
    want_add(want, &n_want, "oversize", off++, "x", 1);

    /* a key that is not the customer id (would break per-customer order) */
    h_order_event(&ev, "k1", "real-customer", "order_placed", T0, 1000, "coffee");
    produce_encoded(&ev, "other-key");
    want_add(want, &n_want, "key_mismatch", off++, "other-key", 9);
    produce_encoded_keyed(&ev, "real-customer\0", 14); /* the id, and a NUL */
    want_add(want, &n_want, "key_mismatch", off++, "real-customer\0", 14);

    /* good events without a key: per-customer order cannot rest on it */
    h_order_event(&ev, "n1", "no-key", "order_placed", T0, 1000, "coffee");
    produce_encoded_keyed(&ev, NULL, 0);
    want_add(want, &n_want, "missing_key", off++, NULL, 0);
    h_order_event(&ev, "n2", "no-key", "order_placed", T0, 1000, "coffee");
    produce_encoded_keyed(&ev, "", 0);
    want_add(want, &n_want, "missing_key", off++, "", 0);

    /* decodes, but the domain rejects it: an order without an order id */
    h_order_event(&ev, "r1", "rej", "order_placed", T0, 1000, "coffee");
    ev.u.order.order_id[0] = '\0';
    produce_encoded(&ev, "rej");
    want_add(want, &n_want, "missing_field:order_id", off++, "rej", 3);

    produce_good("g1", "good-1"), off++;
    h_flush(&env);

    char conf[512];
    h_write_config(&env, "orders", NULL, conf, sizeof(conf));
    pid_t pid = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000));
    cr_expect_eq(h_terminate(pid), 0, "bad input must never stop the processor");

    struct h_reader dlq;
    h_reader_open(&env, &dlq, "aftercare.dlq");
    cr_assert_eq(h_reader_poll(&dlq, (size_t)n_want, 20000), (size_t)n_want,
                 "DLQ has %zu records, want %d", dlq.n, n_want);
    h_reader_poll(&dlq, (size_t)n_want + 1, 500); /* and nothing more */
    cr_expect_eq(dlq.n, (size_t)n_want, "unexpected extra DLQ records");
    for (int i = 0; i < n_want; i++) {
        int found = 0;
        for (size_t k = 0; k < dlq.n; k++) {
            const struct h_rec *r = &dlq.recs[k];
            if (r->source_offset == want[i].offset) {
                found = 1;
                cr_expect(
                    strncmp(r->reason, want[i].reason_prefix, strlen(want[i].reason_prefix)) == 0,
                    "offset %lld: reason '%s', want '%s...'", (long long)want[i].offset, r->reason,
                    want[i].reason_prefix);
                cr_expect_str_eq(r->source_topic, "orders");
                /* the original key, byte for byte (null stays null) */
                cr_expect_eq(r->key_null, want[i].key == NULL, "offset %lld: null key or not",
                             (long long)want[i].offset);
                cr_expect_eq(r->key_len, want[i].key_len, "offset %lld: key of %zu bytes, want %zu",
                             (long long)want[i].offset, r->key_len, want[i].key_len);
                if (want[i].key && r->key_len == want[i].key_len) {
                    cr_expect_eq(memcmp(r->key, want[i].key, want[i].key_len), 0,
                                 "offset %lld: key bytes differ", (long long)want[i].offset);
                }
            }
        }
        cr_expect(found, "no DLQ record for offset %lld (%s)", (long long)want[i].offset,
                  want[i].reason_prefix);
    }
    /* The original bytes are kept: the oversize one is the biggest. */
    int big_kept = 0;
    for (size_t k = 0; k < dlq.n; k++) {
        big_kept |= dlq.recs[k].len == big;
    }
    cr_expect(big_kept, "the DLQ must carry the original bytes");
    h_reader_close(&dlq);

    /* The good events around the bad ones were applied; the unkeyed ones not. */
    redisReply *nk = h_redis(&env, "EXISTS ac:{%u}:c:no-key", ac_store_bucket("no-key"));
    cr_expect(nk->type == REDIS_REPLY_INTEGER && nk->integer == 0, "unkeyed events applied");
    freeReplyObject(nk);
    const char *goods[] = {"good-0", "good-1"};
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(h_state_ll(&env, goods[i], "o.count"), 1, "%s was not processed", goods[i]);
    }
    ac_buf_fini(&b);
}

/* The DLQ gets the original key bytes: a consumed key is not NUL-terminated,
 * so strlen() on it ran on into the bytes after it (a 10-byte key
 * "py-garbage" arrived as 25 bytes). NUL bytes, empty and null keys come
 * through as they were. */
Test(dlq, outbox_sends_the_key_bytes_exactly)
{
    /* The key sits in front of other bytes, as in a fetch buffer. */
    static const char fetched[] = "py-garbage\x1e\x02\xff\xff\xff\xff\xffnot-the-key\0tail";
    static const struct {
        const char *key;
        size_t key_len;
    } keys[] = {
        {fetched, 10},           /* py-garbage */
        {"k\0ey", 4},            /* a NUL inside */
        {"", 0},                 /* empty */
        {NULL, 0},               /* null */
        {"\xff\xfe\x00\x01", 4}, /* not text at all */
    };
    enum { N = sizeof(keys) / sizeof(keys[0]) };
    for (int i = 0; i < N; i++) {
        char value[16];
        snprintf(value, sizeof(value), "value-%d", i);
        rd_kafka_message_t m;
        memset(&m, 0, sizeof(m));
        m.partition = 0;
        m.offset = 100 + i;
        m.key = (void *)keys[i].key;
        m.key_len = keys[i].key_len;
        m.payload = value;
        m.len = strlen(value);
        cr_assert_eq(
            ac_outbox_produce_dlq(env.producer, "aftercare.dlq", "orders", &m, "undecodable"), 0);
    }
    /* A customer id (NUL-terminated) through the outbox's own records. */
    cr_assert_eq(ac_outbox_produce_one(env.producer, "aftercare.dlq", "cust-1", "value-c", 7, NULL),
                 0);
    h_flush(&env);

    struct h_reader r;
    h_reader_open(&env, &r, "aftercare.dlq");
    cr_assert_eq(h_reader_poll(&r, N + 1, 20000), (size_t)N + 1, "read %zu", r.n);
    for (size_t k = 0; k < r.n; k++) {
        const struct h_rec *rec = &r.recs[k];
        int i = -1;
        if (rec->len == 7 && memcmp(rec->value, "value-c", 7) == 0) {
            cr_expect_eq(rec->key_len, 6);
            cr_expect_str_eq(rec->key, "cust-1");
            cr_expect_eq(rec->key_null, 0);
            continue;
        }
        cr_assert(rec->len == 7 && memcmp(rec->value, "value-", 6) == 0, "record %zu", k);
        i = ((const char *)rec->value)[6] - '0';
        cr_assert(i >= 0 && i < N);
        cr_expect_eq(rec->key_len, keys[i].key_len, "key %d: %zu bytes, want %zu", i, rec->key_len,
                     keys[i].key_len);
        cr_expect_eq(rec->key_null, keys[i].key == NULL, "key %d: null or not", i);
        if (keys[i].key_len > 0) {
            cr_expect_eq(memcmp(rec->key, keys[i].key, keys[i].key_len), 0, "key %d bytes", i);
        }
        cr_expect_str_eq(rec->reason, "undecodable");
        cr_expect_str_eq(rec->source_topic, "orders");
        cr_expect_eq(rec->source_offset, 100 + i);
    }
    h_reader_close(&r);
}

/* A bad message larger than the producer's message.max.bytes: its DLQ record
 * cannot be sent as it is, so its first 16 KiB go (the record's handling
 * ends), the batch is not retried for ever, nothing after it is held up, and
 * nothing is sent twice. */
Test(dlq, a_message_too_large_to_forward_is_truncated_not_wedged)
{
    enum { BIG = 150 * 1024 };
    char *p = malloc(BIG);
    cr_assert_not_null(p);
    memset(p, 'x', BIG); /* not Avro: undecodable */
    produce_good("before-1", "tl-1");
    h_produce_raw(&env, "orders", "tl-2", p, BIG);
    produce_good("after-1", "tl-3");
    free(p);
    char conf[512];
    h_write_config(&env, "orders", "kafka.producer.message.max.bytes = 100000\n", conf,
                   sizeof(conf));
    pid_t pid = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000),
              "the processor is stuck on the large message");
    cr_expect_eq(h_terminate(pid), 0);
    cr_expect_eq(h_state_ll(&env, "tl-3", "o.count"), 1, "the event after it was applied");
    struct h_reader dlq;
    h_reader_read_all(&env, &dlq, "aftercare.dlq");
    cr_assert_eq(dlq.n, 1, "one DLQ record, sent once");
    cr_expect_eq(dlq.recs[0].len, 16 * 1024, "its first 16 KiB");
    cr_expect_str_eq(dlq.recs[0].reason, "undecodable");
    h_reader_close(&dlq);
    struct h_reader acts;
    h_reader_read_all(&env, &acts, "aftercare.actions");
    char **ids = h_reader_ids(&acts);
    for (size_t i = 0; i + 1 < acts.n; i++) {
        for (size_t j = i + 1; j < acts.n; j++) {
            cr_expect(strcmp(ids[i], ids[j]) != 0, "action %s sent twice", ids[i]);
        }
    }
    free(ids);
    h_reader_close(&acts);
}

/* The broker refuses a produce request for good (its records are larger than
 * the topic allows): the records it held go to the DLQ with the reason and
 * their id, the batch completes and what follows is processed — the batch is
 * not retried for ever. */
Test(dlq, records_the_broker_refuses_go_to_the_dlq_not_round_and_round)
{
    rd_kafka_mock_cluster_t *mc = ac_dev_kafka_mock(env.dk);
    produce_good("refused-1", "br-1");
    h_flush(&env);
    /* The processor's first produce request is refused (Produce = ApiKey 0). */
    rd_kafka_mock_push_request_errors(mc, 0, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    char conf[512];
    h_write_config(&env, "orders", "", conf, sizeof(conf));
    pid_t pid = h_spawn(&env, "orders", conf);
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000),
              "the processor is stuck on the refused records");
    produce_good("after-2", "br-2");
    cr_assert(h_wait_done(&env, "ac", "aftercare-orders", "orders", 60000),
              "the next event was not processed");
    cr_expect_eq(h_terminate(pid), 0);
    cr_expect_eq(h_state_ll(&env, "br-2", "o.count"), 1);

    struct h_reader dlq;
    h_reader_read_all(&env, &dlq, "aftercare.dlq");
    cr_assert_geq(dlq.n, 1, "the refused records are on the DLQ");
    for (size_t i = 0; i < dlq.n; i++) {
        cr_expect_eq(strncmp(dlq.recs[i].reason, "produce_refused:MSG_SIZE_TOO_LARGE:", 35), 0,
                     "reason %s", dlq.recs[i].reason);
        cr_expect(strncmp(dlq.recs[i].source_topic, "aftercare.", 10) == 0, "source %s",
                  dlq.recs[i].source_topic);
        cr_expect_str_eq(dlq.recs[i].key, "br-1", "keyed by the customer");
    }
    /* Every record of br-1 is somewhere: on its topic or, refused, on the DLQ;
     * none of them twice. */
    struct h_reader acts;
    h_reader_read_all(&env, &acts, "aftercare.actions");
    size_t on_topic = 0;
    for (size_t i = 0; i < acts.n; i++) {
        on_topic += strcmp(acts.recs[i].key, "br-1") == 0;
    }
    size_t refused_actions = 0;
    for (size_t i = 0; i < dlq.n; i++) {
        refused_actions += strcmp(dlq.recs[i].source_topic, "aftercare.actions") == 0;
    }
    char want[AC_ACTION_ID_MAX];
    ac_action_id(want, "order_confirmation", "refused-1", 0);
    int seen = 0;
    for (size_t i = 0; i < acts.n; i++) {
        seen += strcmp(acts.recs[i].id, want) == 0;
    }
    for (size_t i = 0; i < dlq.n; i++) {
        seen += strstr(dlq.recs[i].reason, want) != NULL;
    }
    cr_expect_eq(seen, 1, "the order confirmation once, on its topic or on the DLQ");
    cr_expect_gt(on_topic + refused_actions, 0);
    h_reader_close(&acts);
    h_reader_close(&dlq);
}
