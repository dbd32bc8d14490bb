#!/usr/bin/env bash
# registries.conf scaling: `resolve` against N entries (+ a drop-in) beside a
# Go program using containers/image (FindRegistry + PullSourcesFromReference),
# median wall time and peak RSS of each. Usage: bench/registries.sh [sizes] [runs]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cmake -S "$root" -B "$root/build-bench" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGO_TESTS=OFF >/dev/null
cmake --build "$root/build-bench" --target crio-credential-provider >/dev/null
cd "$root/test"
go build -tags containers_image_openpgp -o "$root/build-bench/regbench" ./cmd/regbench
"$root/build-bench/regbench" -bin "$root/build-bench/crio-credential-provider" \
  -sizes "${1:-1000,10000,100000}" -runs "${2:-3}"
