#!/usr/bin/env bash
# bench_engine runs on a small store and prints every figure as
# "name: value unit". No timing is judged: only that the figures are there.
set -euo pipefail
HOSO=${1:?usage: bench_smoke.sh path/to/hoso}
D=$(dirname "$HOSO")
BENCH=${BENCH_ENGINE:-$D/bench/bench_engine}
[[ -x $BENCH ]] || BENCH=$D/../bench/bench_engine
fail() { echo "FAIL: $*" >&2; exit 1; }
[[ -x $BENCH ]] || fail "bench_engine not built at $BENCH"
out=$("$BENCH" --dossiers 30)
for name in cores receive_p50 receive_p99 act_p50 act_p99 list_overdue_time list_overdue_rows report_time \
            verify_events verify_rate sodium_verify_rate verify_vs_sodium_ratio; do
  grep -Eq "^$name: [0-9.]+ " <<<"$out" || { echo "$out" >&2; fail "missing figure $name"; }
done
grep -q '^list_overdue_rows: 30 dossiers$' <<<"$out" || fail "expected 30 overdue dossiers"
grep -q '^verify_events: 60 events$' <<<"$out" || fail "expected 60 verified events"
grep -q -- '--dossiers 1000000' <<<"$out" || fail "missing the note on 1,000,000 dossiers"
set +e; "$BENCH" --bogus >/dev/null 2>&1; rc=$?; set -e
[[ $rc == 2 ]] || fail "expected exit 2 on a bad argument, got $rc"
echo "bench_smoke: ok"
