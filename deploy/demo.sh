#!/usr/bin/env bash
# The demo: installs what is missing, builds, and runs the whole pipeline on
# the embedded default (librdkafka's mock cluster + a local redis-server) with
# sample customers, printing every action and signal as it is emitted.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/setup.sh build
exec build/aftercare dev --demo "$@"
