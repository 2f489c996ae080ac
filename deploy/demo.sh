#!/usr/bin/env bash
# The demo: installs what is missing, builds, and runs the whole pipeline on
# the embedded default (librdkafka's mock cluster + a local redis-server):
# every processor and the timer process on a sped-up clock, five sample
# customers' journeys over four weeks in about a minute, every action printed
# as it is emitted, then a timeline per customer (what was sent, when, why).
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/setup.sh build
exec build/aftercare dev --demo "$@"
