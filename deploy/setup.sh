#!/usr/bin/env bash
# Installs the Debian packages aftercare needs (if missing) and builds it.
#   deploy/setup.sh [BUILD_DIR] [extra cmake args...]
# Runs as root or through sudo; never asks questions (CI has no stdin).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config librdkafka-dev libhiredis-dev libavro-dev
          libjansson-dev libmicrohttpd-dev libyaml-dev libicu-dev libcriterion-dev redis-server python3 python3-avro
          prometheus)  # prometheus: promtool, which the tests run on every /metrics
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build=${1:-build}
shift || true
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
