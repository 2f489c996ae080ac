/* fuzz_json_avro.c — fuzz target for the JSON -> Avro path
 * (ac_codec_json_to_avro(), what `aftercare produce` runs on each line).
 *
 * The input is one JSON text, converted with each of the project's six
 * schemas. Each conversion returns 0 or AC_ERR_INVALID with a message and
 * nothing written. What converts is framed with its schema id, reads back
 * as JSON (ac_codec_avro_to_json(), `aftercare consume`) that a strict
 * parser accepts, and that JSON converts to the same bytes again. Events
 * are also run through the decoder (0, or AC_ERR_INVALID with a reason).
 *
 * Seeds: tests/fuzz/corpus/json_avro/. Built and run by ctest
 * (fuzz/json_avro, a few seconds) and by hand, see tests/README.md. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "err.h"
#include "fuzz.h"

static const char *const fuzz_schemas[] = {"orders", "deliveries", "feedback",
                                           "usage",  "actions",    "signals"};

#define FUZZ_N_SCHEMAS (sizeof(fuzz_schemas) / sizeof(fuzz_schemas[0]))

static struct ac_codec *fuzz_codec;

static void fuzz_codec_free(void)
{
    ac_codec_destroy(fuzz_codec);
    fuzz_codec = NULL;
}

/* One codec for the whole run (see fuzz_codec.c on avro-c and leak checks). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char schemas[1024];
    char errstr[256] = "";
    (void)argc;
    (void)argv;
    snprintf(schemas, sizeof(schemas), "%s/schemas", ac_fuzz_source_dir());
    fuzz_codec = ac_codec_new(schemas, NULL, errstr, sizeof(errstr));
    if (!fuzz_codec) {
        fprintf(stderr, "fuzz_json_avro: %s (set AC_SOURCE_DIR)\n", errstr);
        abort();
    }
    atexit(fuzz_codec_free);
    return 0;
}

/* Converts text with schema s; aborts on any broken promise. */
static void fuzz_one_schema(size_t s, const char *text, struct ac_buf *avro, struct ac_buf *json,
                            struct ac_buf *again)
{
    char err[512] = "";
    ac_buf_reset(avro);
    int rc = ac_codec_json_to_avro(fuzz_codec, fuzz_schemas[s], text, avro, err, sizeof(err));
    if (rc != 0) {
        if (rc != AC_ERR_INVALID || err[0] == '\0' || avro->len != 0) {
            abort(); /* a refusal says why and writes nothing */
        }
        return;
    }
    if (avro->len < 5 || avro->data[0] != 0 || avro->data[4] != (char)(s + 1)) {
        abort(); /* Confluent framing with the schema's own id */
    }
    ac_buf_reset(json);
    if (ac_codec_avro_to_json(fuzz_codec, fuzz_schemas[s], avro->data, avro->len, json, err,
                              sizeof(err)) != 0) {
        fprintf(stderr, "cannot read back what was written: %s\n", err);
        abort();
    }
    json_t *parsed = json_loads(json->data, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    if (!json_is_object(parsed)) {
        fprintf(stderr, "not a JSON object: %s\n", json->data);
        abort();
    }
    json_decref(parsed);
    ac_buf_reset(again);
    if (ac_codec_json_to_avro(fuzz_codec, fuzz_schemas[s], json->data, again, err, sizeof(err)) !=
            0 ||
        again->len != avro->len || memcmp(again->data, avro->data, avro->len) != 0) {
        fprintf(stderr, "JSON round trip differs (%s): %s\n", err, json->data);
        abort();
    }
    if (s < AC_TOPIC__N) {
        struct ac_event ev;
        char reason[128] = "";
        rc = ac_codec_decode_event(fuzz_codec, (enum ac_topic)s, avro->data, avro->len, &ev, reason,
                                   sizeof(reason));
        if (rc != 0 && (rc != AC_ERR_INVALID || reason[0] == '\0')) {
            abort();
        }
    } else if (s == AC_SCHEMA_ACTIONS - 1) {
        struct ac_action a;
        rc = ac_codec_decode_action(fuzz_codec, avro->data, avro->len, &a);
        if (rc != 0 && rc != AC_ERR_INVALID) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The converter takes a C string: the text up to the first NUL. */
    char *text = malloc(size + 1);
    struct ac_buf avro;
    struct ac_buf json;
    struct ac_buf again;
    if (!text) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    ac_buf_init(&avro);
    ac_buf_init(&json);
    ac_buf_init(&again);
    for (size_t s = 0; s < FUZZ_N_SCHEMAS; s++) {
        fuzz_one_schema(s, text, &avro, &json, &again);
    }
    ac_buf_fini(&avro);
    ac_buf_fini(&json);
    ac_buf_fini(&again);
    free(text);
    return 0;
}
