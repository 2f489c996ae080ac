#!/bin/sh
# Builds Release into build-bench/ and runs a benchmark (see bench/README.md).
# Usage: bench/run.sh [orders|timers|latency|all] [options of that benchmark...]
#   bench/run.sh                                  # bench_orders, defaults (~2 min)
#   bench/run.sh orders --events 20000 --customers 10000
#   bench/run.sh timers --batch 5000              # bench_timers (~70 s)
#   bench/run.sh latency                          # bench_latency (~3.5 min)
#   bench/run.sh latency --rates 5000 --skip-one-rule
#   bench/run.sh all                              # all three, defaults
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-bench"
which=orders
case "${1:-}" in
orders | timers | latency | all)
    which=$1
    shift
    ;;
esac
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DAC_WERROR=ON >/dev/null
case "$which" in
orders) cmake --build "$build" -j2 --target bench_orders aftercare-orders ;;
timers) cmake --build "$build" -j2 --target bench_timers aftercare-timers ;;
latency) cmake --build "$build" -j2 --target bench_latency aftercare-orders ;;
all)
    cmake --build "$build" -j2 --target bench_orders bench_timers bench_latency aftercare-orders \
        aftercare-timers
    ;;
esac
if [ "$which" = all ]; then
    if [ $# -gt 0 ]; then
        echo "bench/run.sh: 'all' takes no options (run orders, timers or latency with them)" >&2
        exit 2
    fi
    "$build/bench/bench_orders"
    "$build/bench/bench_timers"
    exec "$build/bench/bench_latency"
fi
exec "$build/bench/bench_$which" "$@"
