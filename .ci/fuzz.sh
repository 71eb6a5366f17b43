#!/usr/bin/env bash
# Fuzzes every parser that reads bytes from outside (tests/fuzz/fuzz_*.cpp) with
# libFuzzer under ASan+UBSan: configures build-fuzz with clang, builds only the
# fuzzers, runs each for FUZZ_SECONDS (default 30) from a copy of its seed
# corpus (tests/fuzz/corpus/<target>/, never modified here). Fails on any
# crash, leak, timeout or broken invariant; the input that did it is left in
# build-fuzz/crashes/<target>/ and printed as hex.
#   FUZZ_SECONDS=600 FUZZ_TARGETS="frame item" .ci/fuzz.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${HOSO_FUZZ_BUILD_DIR:-build-fuzz}
seconds=${FUZZ_SECONDS:-30}
targets=${FUZZ_TARGETS:-"frame batch item trust procedure calendar bundle"}

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
# -O1: the fuzzers spend their time in small parsers; a build twice as fast
# matters more here than the last bit of speed.
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DHOSO_FUZZ=ON -DHOSO_BUILD_TESTS=OFF -DHOSO_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
cmake --build "$build" -j"${HOSO_JOBS:-2}" --target $(printf 'fuzz_%s ' $targets)

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=()
for t in $targets; do
  work="$build/fuzz-run/$t"
  rm -rf "$work" "$build/crashes/$t"
  mkdir -p "$work/corpus" "$build/crashes/$t"
  cp tests/fuzz/corpus/"$t"/* "$work/corpus/"
  # -rss_limit_mb: batches may legitimately inflate to 16 MiB; far more is a leak.
  if "$build/tests/fuzz/fuzz_$t" "$work/corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
      -max_len=65536 -artifact_prefix="$build/crashes/$t/" -print_final_stats=1 >"$work/log" 2>&1; then
    echo "fuzz_$t: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$') runs, corpus $(ls "$work/corpus" | wc -l) inputs, no crash"
  else
    failed+=("$t")
    echo "fuzz_$t: FAILED"
    grep -v '^#\|^INFO\|^Done' "$work/log" | head -n 60
    for f in "$build/crashes/$t"/*; do
      [[ -f $f ]] && { echo "input $f:"; od -An -tx1 -v "$f" | head -n 20; }
    done
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: crashes in ${failed[*]}: fix the parser, then add the input to tests/fuzz/corpus/<target>/ and a test to tests/test_fuzz_regressions.cpp"
  exit 1
fi
