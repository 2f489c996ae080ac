#!/bin/sh
# Builds Release and runs the orders benchmark (see bench/README.md).
# Usage: bench/run.sh [bench_orders options...]   e.g. bench/run.sh --events 20000 --customers 10000
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-bench"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DAC_WERROR=ON >/dev/null
cmake --build "$build" -j2 --target bench_orders aftercare-orders
exec "$build/bench/bench_orders" "$@"
