/* fuzz_codec.c — libFuzzer target for ac_codec_decode_event().
 *
 * The first input byte picks the topic; the rest is the message (framed or
 * plain). Every input must come back as 0 or AC_ERR_INVALID with a reason,
 * never a crash, a leak or a read out of bounds. Decoded events are encoded
 * again and must decode to the same event.
 *
 * Not built by CMake yet. Build and run from the source tree:
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -Icommon $(pkg-config --cflags avro-c jansson) \
 *       common/codec.c common/codec_event.c common/codec_json.c common/buf.c \
 *       common/event.c tests/fuzz/fuzz_codec.c \
 *       -o fuzz_codec $(pkg-config --libs avro-c jansson) -lm
 *   AC_SOURCE_DIR=$PWD ./fuzz_codec -max_len=4096 corpus/
 *
 * AC_SOURCE_DIR names the source tree (schemas/ and tests/data/registry/). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "err.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    const char *src = getenv("AC_SOURCE_DIR");
    (void)argc;
    (void)argv;
    snprintf(schemas, sizeof(schemas), "%s/schemas", src ? src : ".");
    snprintf(registry, sizeof(registry), "%s/tests/data/registry", src ? src : ".");
    fuzz_codec = ac_codec_new(schemas, registry, errstr, sizeof(errstr));
    if (!fuzz_codec) {
        fprintf(stderr, "fuzz_codec: %s (set AC_SOURCE_DIR)\n", errstr);
        abort();
    }
    atexit(fuzz_codec_free);
    return 0;
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
    int rc = ac_codec_decode_event(codec, t, data + 1, size - 1, &ev, reason, sizeof(reason));
    if (rc != 0) {
        if (rc != AC_ERR_INVALID || reason[0] == '\0') {
            abort(); /* every rejection carries a DLQ reason */
        }
        return 0;
    }
    struct ac_buf out;
    ac_buf_init(&out);
    if (ac_codec_encode_event(codec, &ev, 1, &out) != 0 ||
        ac_codec_decode_event(codec, t, out.data, out.len, &again, reason, sizeof(reason)) != 0 ||
        strcmp(ev.event_id, again.event_id) != 0 || strcmp(ev.type, again.type) != 0 ||
        ev.occurred_at != again.occurred_at) {
        abort(); /* what we accept we must be able to write back */
    }
    ac_buf_fini(&out);
    return 0;
}
