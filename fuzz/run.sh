#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of fuzz/ (clang, ASan+UBSan).
#
#   fuzz/run.sh [--time SECONDS] [--runs N] [target...]   fuzz (default: all,
#                                                          60 s each)
#   fuzz/run.sh --ci [target...]      replay the corpus, then fuzz 15 s each
#   fuzz/run.sh --replay [target...]  replay the corpus only
#   fuzz/run.sh --build-only          configure and build, run nothing
#   --build-dir DIR (default build-fuzz), --cxx COMPILER (default clang++),
#   --jobs N for the build, --keep to add new inputs to fuzz/corpus/.
#
# Findings (crash-*, leak-*, timeout-*, oom-*) are written to
# DIR/fuzz-out/<target>/; the script exits non-zero on any. New inputs go to
# DIR/fuzz-out/<target>/corpus unless --keep is given.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"

build_dir="$root/build-fuzz"
cxx=clang++
mode=fuzz
seconds=60
runs=""
keep=0
jobs=""
targets=()
while (($#)); do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --cxx) cxx="$2"; shift 2 ;;
    --time) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --ci) mode=ci; seconds=15; shift ;;
    --replay) mode=replay; shift ;;
    --build-only) mode=build; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "fuzz/run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if ((${#targets[@]} == 0)); then
  # The list CMake builds from.
  mapfile -t targets < <(sed -n '/^set(FUZZ_TARGETS/,/^)/{/^  /s/ //gp}' \
    "$here/targets.cmake")
fi

if [[ "$mode" == build || ! -f "$build_dir/build.ninja" ]]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
    -DFUZZ=ON -DGO_TESTS=OFF -DSANITIZER_TESTS=OFF >/dev/null
fi
if [[ "$mode" == build ]]; then
  exec cmake --build "$build_dir" ${jobs:+-j "$jobs"}
fi
cmake --build "$build_dir" ${jobs:+-j "$jobs"} --target \
  $(printf '%s_fuzz ' "${targets[@]}") >/dev/null

# Leaks are findings too; a slow input is one past 10 s.
# Recording every allocation's stack was more than half of a long kubeconfig
# run's time (yaml-cpp allocates from many call sites, and ASan's stack store
# slows as it fills): fuzzing goes without those stacks; replaying an input
# (the corpus, or `DIR/fuzz/<target>_fuzz <file>`) reports them.
fuzz_asan_options="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:malloc_context_size=0}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

status=0
for t in "${targets[@]}"; do
  bin="$build_dir/fuzz/${t}_fuzz"
  corpus="$here/corpus/$t"
  out="$build_dir/fuzz-out/$t"
  mkdir -p "$out/corpus"
  # Single-line inputs stay short; documents with certificates need room.
  case "$t" in
    reference|duration|token) max_len=1024 ;;
    dockercfg|request) max_len=2048 ;;
    registries) max_len=4096 ;;
    *) max_len=8192 ;;
  esac
  flags=(-dict="$here/dict/$t.dict" -timeout=10 -rss_limit_mb=2048
    -max_len=$max_len -artifact_prefix="$out/" -print_final_stats=1)

  # Every corpus input, once: the regression test.
  echo "== $t: replaying $(ls "$corpus" | wc -l) corpus inputs"
  if ! "$bin" "${flags[@]}" -runs=0 "$corpus" >"$out/replay.log" 2>&1; then
    echo "FAIL $t: a corpus input fails; see $out/replay.log" >&2
    tail -40 "$out/replay.log" >&2
    status=1
    continue
  fi
  [[ "$mode" == replay ]] && continue

  dirs=("$out/corpus" "$corpus")
  ((keep)) && dirs=("$corpus")
  limit=(-max_total_time="$seconds")
  [[ -n "$runs" ]] && limit=(-runs="$runs")
  echo "== $t: fuzzing (${runs:-$seconds s}${runs:+ runs})"
  if ! ASAN_OPTIONS="$fuzz_asan_options" "$bin" "${flags[@]}" "${limit[@]}" \
    "${dirs[@]}" >"$out/fuzz.log" 2>&1
  then
    echo "FAIL $t: finding in $out (log: $out/fuzz.log; $bin <input>" \
      "replays it with allocation stacks)" >&2
    tail -60 "$out/fuzz.log" >&2
    status=1
    continue
  fi
  grep -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss' \
    "$out/fuzz.log" || true
done
exit $status
