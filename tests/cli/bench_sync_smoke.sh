#!/usr/bin/env bash
# bench_sync runs with tiny sizes and prints every figure as "name: value
# unit". No timing is judged: only that the figures are there.
set -euo pipefail
HOSO=${1:?usage: bench_sync_smoke.sh path/to/hoso}
D=$(dirname "$HOSO")
BENCH=${BENCH_SYNC:-$D/bench/bench_sync}
[[ -x $BENCH ]] || BENCH=$D/../bench/bench_sync
fail() { echo "FAIL: $*" >&2; exit 1; }
[[ -x $BENCH ]] || fail "bench_sync not built at $BENCH"
out=$("$BENCH" --devices 4 --events-per-device 6 --cut-events 300 --connections 10 --backlog 400 --push-rounds 2) \
  || { echo "$out" >&2; fail "bench_sync exited non-zero"; }
for name in cores devices ingest_events ingest_events_on_server ingest_failed_devices ingest_time ingest_rate \
            peak_rss_ingest event_message_size sodium_verify_rate ingest_vs_sodium_ratio pushed_events \
            wire_bytes_per_event event_envelope_mean wire_vs_envelope_ratio cut_events cut_attempts \
            cut_connections_cut cut_bytes_total cut_bytes_clean cut_bytes_resent cut_resent_vs_clean_ratio \
            server_store_events idle_tls_connections rss_before_connections rss_with_connections \
            rss_per_connection peak_rss push_only_rate push_only_vs_sodium_ratio machine_verify_limit push_only_vs_machine_ratio \
            sodium_verify_rate_all_cores push_only_vs_all_cores_ratio; do
  grep -Eq "^$name: -?[0-9.]+ " <<<"$out" || { echo "$out" >&2; fail "missing figure $name"; }
done
# Two rounds of the push-only phase, each with its own figures.
for r in 1 2; do
  grep -Eq "^push_only_round_$r: [0-9]+ events/s, server CPU -?[0-9.]+ us/event, libsodium on every core [0-9]+ " <<<"$out" \
    || { echo "$out" >&2; fail "missing push-only round $r"; }
done
! grep -q '^push_only_round_3:' <<<"$out" || fail "ran more push-only rounds than asked"
# The server's own CPU, where the kernel keeps per-thread schedstat.
if [[ -r /proc/self/schedstat ]]; then
  for name in server_cpu_per_event signatures_cpu_per_event server_cpu_rate server_cpu_rate_vs_all_cores_ratio; do
    grep -Eq "^$name: [0-9.]+ " <<<"$out" || { echo "$out" >&2; fail "missing figure $name"; }
  done
fi
grep -q '^ingest_events: 24 events$' <<<"$out" || { echo "$out" >&2; fail "expected 24 events"; }
grep -q '^ingest_events_on_server: 24 events$' <<<"$out" || { echo "$out" >&2; fail "expected 24 events on the server"; }
grep -q '^pushed_events: 24 events$' <<<"$out" || { echo "$out" >&2; fail "expected 24 pushed events"; }
grep -q '^server_store_events: 400 events$' <<<"$out" || { echo "$out" >&2; fail "expected the backlog of 400 events in the server store"; }
grep -q '^idle_tls_connections: 10 connections$' <<<"$out" || { echo "$out" >&2; fail "expected 10 idle TLS connections"; }
grep -q -- '--connections 500 --backlog 1000000' <<<"$out" || fail "missing the note on 500 connections and 1,000,000 events"
set +e; "$BENCH" --bogus >/dev/null 2>&1; rc=$?; set -e
[[ $rc == 2 ]] || fail "expected exit 2 on a bad argument, got $rc"
set +e; "$BENCH" --push-rounds 0 >/dev/null 2>&1; rc=$?; set -e
[[ $rc == 2 ]] || fail "expected exit 2 on --push-rounds 0, got $rc"
echo "bench_sync_smoke: ok"
