/* fuzz.h — what every fuzz target defines, and the hooks of fuzz_driver.c.
 *
 * A target is a libFuzzer target: LLVMFuzzerTestOneInput() (and, if it
 * needs one-time set-up, LLVMFuzzerInitialize()). It links either with
 * libFuzzer (clang -fsanitize=fuzzer, for long runs by hand) or with
 * fuzz_driver.c (any compiler: the time-bounded runs ctest does in CI). */
#ifndef AC_FUZZ_H
#define AC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Optional, fuzz_driver.c only: a target whose seeds are best generated
 * (binary Avro made from JSON lines) defines this and calls add() for each
 * one; add() copies. Called once, after LLVMFuzzerInitialize(). For a
 * libFuzzer run, `fuzz_NAME -write_seeds=DIR` (driver build) writes them. */
void ac_fuzz_seeds(void (*add)(const uint8_t *data, size_t size));

/* The source tree (schemas/, tests/data/, tests/fuzz/corpus/): AC_SOURCE_DIR
 * from the environment (ctest sets it), else ".". */
static inline const char *ac_fuzz_source_dir(void)
{
    const char *src = getenv("AC_SOURCE_DIR");
    return src && *src ? src : ".";
}

#endif
