#!/usr/bin/env bash
# Load: 300 laptops syncing at once for a minute against one `hoso serve`
# (bench_load), SQLite store by default; LOAD_STORE=postgresql://... runs the
# same load on that store. Fails on any error (bench_load exits 1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cmake --build build -j"${HOSO_JOBS:-2}" --target bench_load hoso >/dev/null
args=(--devices "${LOAD_DEVICES:-300}" --seconds "${LOAD_SECONDS:-60}")
[[ -n ${LOAD_STORE:-} ]] && args+=(--store "$LOAD_STORE")
build/bench/bench_load "${args[@]}"
