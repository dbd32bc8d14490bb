#!/usr/bin/env bash
# Median wall time, peak RSS and API round trips of one provider invocation
# against a loopback API server, dynamic and static (-DSTATIC=ON) Release
# builds side by side with the floor (bench/floor.cc: one verified TLS GET
# with the same OpenSSL, exec'd the same way); then the rounds each mode
# takes with an emulated RTT.
# Usage: bench/run.sh [runs] [rtt, e.g. 2ms; 0 skips]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
for kind in dynamic static; do
  dir="$root/build-bench"
  static=OFF
  if [ "$kind" = static ]; then dir="$root/build-bench-static"; static=ON; fi
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DGO_TESTS=OFF -DSTATIC=$static >/dev/null
  cmake --build "$dir" --target crio-credential-provider bench-floor >/dev/null
done
cd "$root/test"
go run ./cmd/bench \
  -bin "$root/build-bench/crio-credential-provider" \
  -floor "$root/build-bench/bench-floor" \
  -static-bin "$root/build-bench-static/crio-credential-provider" \
  -static-floor "$root/build-bench-static/bench-floor" \
  -runs "${1:-300}" -rtt "${2:-2ms}"
