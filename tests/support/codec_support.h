/* codec_support.h — the unit tests' codec: the project's schemas/ (found
 * through AC_SOURCE_DIR, which ctest sets), no registry directory. */
#ifndef AC_CODEC_SUPPORT_H
#define AC_CODEC_SUPPORT_H

#include "codec.h"

/* Asserts (Criterion) that the codec loads; free with ac_codec_destroy. */
struct ac_codec *ts_codec_new(void);

#endif
