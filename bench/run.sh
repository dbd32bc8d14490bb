#!/usr/bin/env bash
# Median wall time, peak RSS and API round trips of one provider invocation
# against a loopback API server. Usage: bench/run.sh [runs]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cmake -S "$root" -B "$root/build-bench" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGO_TESTS=OFF >/dev/null
cmake --build "$root/build-bench" --target crio-credential-provider >/dev/null
cd "$root/test"
go run ./cmd/bench -bin "$root/build-bench/crio-credential-provider" -runs "${1:-300}"
