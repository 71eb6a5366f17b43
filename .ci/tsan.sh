#!/usr/bin/env bash
# The sync tests under ThreadSanitizer: builds hoso, hoso_tests and the proxy
# into build-tsan (HOSO_TSAN=ON), runs the Catch2 sync tests ([sync]),
# `hoso demo` (two servers, a relay thread and a dropping link in one
# process) and cli.sync at a small size. Every report of every process (the test binary,
# hoso serve, hoso sync) goes to build-tsan/tsan/; any report fails the stage.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${HOSO_TSAN_BUILD_DIR:-build-tsan}

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHOSO_TSAN=ON -DHOSO_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
cmake --build "$build" -j"${HOSO_JOBS:-2}" --target hoso hoso_tests hoso_proxy

logs="$PWD/$build/tsan"
rm -rf "$logs"
mkdir -p "$logs"
# exitcode: a process with a report fails even where its output is not read
# (a background hoso serve); log_path keeps each process's reports apart.
export TSAN_OPTIONS="log_path=$logs/report exitcode=66 second_deadlock_stack=1 history_size=4 suppressions=$PWD/.ci/tsan.supp"
rc=0
"$build/tests/hoso_tests" "[sync]" || rc=$?
"$build/hoso" demo >/dev/null || rc=$?
SYNC_EVENTS=${SYNC_EVENTS:-60} SYNC_ATTACH_KB=${SYNC_ATTACH_KB:-512} bash tests/cli/sync.sh "$build/hoso" || rc=$?
if compgen -G "$logs/report*" >/dev/null; then
  for f in "$logs"/report*; do
    echo "--- $f"
    cat "$f"
  done
  echo "tsan: data races reported (above)"
  exit 1
fi
exit $rc
