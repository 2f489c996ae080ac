#!/bin/sh
# Builds Release into build-bench/ and runs a benchmark (see bench/README.md).
# Usage: bench/run.sh [orders|timers|all] [options of that benchmark...]
#   bench/run.sh                                  # bench_orders, defaults (~2 min)
#   bench/run.sh orders --events 20000 --customers 10000
#   bench/run.sh timers --batch 5000              # bench_timers (~70 s)
#   bench/run.sh all                              # both, defaults
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-bench"
which=orders
case "${1:-}" in
orders | timers | all)
    which=$1
    shift
    ;;
esac
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DAC_WERROR=ON >/dev/null
case "$which" in
orders) cmake --build "$build" -j2 --target bench_orders aftercare-orders ;;
timers) cmake --build "$build" -j2 --target bench_timers aftercare-timers ;;
all) cmake --build "$build" -j2 --target bench_orders bench_timers aftercare-orders aftercare-timers ;;
esac
if [ "$which" = all ]; then
    if [ $# -gt 0 ]; then
        echo "bench/run.sh: 'all' takes no options (run orders or timers with them)" >&2
        exit 2
    fi
    "$build/bench/bench_orders"
    exec "$build/bench/bench_timers"
fi
exec "$build/bench/bench_$which" "$@"
