#!/usr/bin/env bash
# Builds with warnings as errors and runs every test; then builds again with
# AddressSanitizer + UndefinedBehaviorSanitizer and runs the suite once more.
# Tests start their own redis-server and mock cluster. Ends with ctest's
# summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/setup.sh build -DAC_WERROR=ON
(cd build && ctest --output-on-failure)
deploy/setup.sh build-asan -DAC_WERROR=ON -DAC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
cd build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure
