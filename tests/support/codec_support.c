/* codec_support.c — the unit tests' codec (codec_support.h). */
#include "codec_support.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

struct ac_codec *ts_codec_new(void)
{
    char schemas[1024];
    char errstr[256] = "";
    const char *src = getenv("AC_SOURCE_DIR");
    cr_assert(src, "AC_SOURCE_DIR is not set (run through ctest)");
    snprintf(schemas, sizeof(schemas), "%s/schemas", src);
    struct ac_codec *codec = ac_codec_new(schemas, NULL, errstr, sizeof(errstr));
    cr_assert(codec, "ac_codec_new: %s", errstr);
    return codec;
}
