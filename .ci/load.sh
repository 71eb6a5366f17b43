#!/usr/bin/env bash
# Load: 300 laptops syncing at once for a minute against one `hoso serve`
# (bench_load), on the SQLite store and then on PostgreSQL (a throwaway
# server from tests/pg/pg.sh, stopped after). LOAD_STORE=postgresql://...
# runs the second half on that store instead; LOAD_PG=0 skips it. Fails on
# any error (bench_load exits 1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cmake --build build -j"${HOSO_JOBS:-2}" --target bench_load hoso >/dev/null
args=(--devices "${LOAD_DEVICES:-300}" --seconds "${LOAD_SECONDS:-60}")
echo "--- load on SQLite"
build/bench/bench_load "${args[@]}"
[[ ${LOAD_PG:-1} == 0 ]] && exit 0
store=${LOAD_STORE:-}
pgdir=
if [[ -z $store ]]; then
  pgdir=$(mktemp -d /tmp/hoso-pg-load.XXXXXX)
  trap 'tests/pg/pg.sh stop "$pgdir" || true; rm -rf "$pgdir"' EXIT
  store=$(tests/pg/pg.sh start "$pgdir")
fi
echo "--- load on PostgreSQL"
build/bench/bench_load "${args[@]}" --store "$store"
