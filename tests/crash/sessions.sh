#!/usr/bin/env bash
# Regression (found by bench_load): `hoso serve` served at most 256
# connections and closed the next one without a word. A laptop's round holds
# two (events, attachments), so the 129th laptop syncing at the same moment
# failed ("stream truncated") in a province of ~1,000 laptops; and past the
# usual soft limit of 1024 open files, accept failed in a loop that spun a core.
#
# Here 300 idle TLS connections are open (handshake done, nothing said yet,
# as 150 laptops in the middle of their rounds) while a laptop syncs: the sync
# must succeed and the server must refuse nobody.
#
# Then the per-address cap (--max-per-address): one address (127.0.0.2)
# opening more connections than its share gets the excess closed at once,
# logged, while a laptop from another address (127.0.0.1) syncs.
#
#   bash tests/crash/sessions.sh build/hoso
set -euo pipefail
HOSO=${1:?usage: sessions.sh path/to/hoso}
HOSO=$(cd "$(dirname "$HOSO")" && pwd)/$(basename "$HOSO")
PROXY=$(dirname "$HOSO")/tests/proxy/hoso_proxy
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.bash"
source "$(dirname "${BASH_SOURCE[0]}")/../cli/sync_lib.bash"
export HOSO_PASSPHRASE=test-pass HOSO_NOW=2026-03-02T08:00:00+07:00
setup_sync_workdir

P=000.00.00.H12 A=000.00.31.H12
q() { "$HOSO" "$@" >/dev/null; }
q authority init --dir prov --name "Tỉnh Thử" --kdf interactive
q authority certify --dir prov --kind unit --name "Tỉnh" --unit $P --out p.cert
q authority certify --dir prov --kind unit --name "Xã A" --unit $A --parent $P --out a.cert
q key new --out A1.key --kdf interactive
q authority certify --dir prov --pub A1.key.pub --kind device --name "Máy A1" --unit $A --slot 1 --out A1.cert
q key new --out srv.key --kdf interactive
q authority certify --dir prov --pub srv.key.pub --kind server --name "Máy chủ tỉnh" --unit $P --out srv.cert
expect_fail 2 "$HOSO" serve --data srv --root prov/root.pub --key srv.key --cert srv.cert --listen 127.0.0.1:0 --threads 1000
error_says "--threads"
# Every idle connection below comes from 127.0.0.1: no per-address cap here;
# and one thread serves them all (--threads 1: the process has no other).
start_server --max-per-address 0 --threads 1
tasks() { ls "/proc/$SRV_PID/task" | wc -l; }
[[ $(tasks) == 1 ]] || fail "hoso serve --threads 1 runs $(tasks) threads"
expect_ok "$HOSO" publish --data srv p.cert a.cert A1.cert srv.cert
expect_ok "$HOSO" init --db A1.db --root prov/root.pub --device-key A1.key --device-cert A1.cert

# 300 TLS sessions that say nothing (the server drops them after its 15 s
# handshake deadline, so the sync runs right after they are open).
python3 - "$SRV_PORT" 300 <<'PY' &
import os, socket, ssl, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
held = []
refused = 0
for i in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        held.append(ctx.wrap_socket(s))  # the handshake completes here
    except OSError:
        refused += 1
if refused:
    print(f"{refused} of {n} idle connections refused", file=sys.stderr)
with open("idle.ready.tmp", "w") as f:
    f.write(str(len(held)))
os.rename("idle.ready.tmp", "idle.ready")
time.sleep(60)
PY
IDLE_PID=$!
wait_file idle.ready || fail "the 300 idle connections did not open"
rc=0
timeout 60 "$HOSO" sync --db A1.db --server 127.0.0.1:$SRV_PORT --json >"$OUT" 2>"$ERR" || rc=$?
kill $IDLE_PID 2>/dev/null || true
wait $IDLE_PID 2>/dev/null || true
[[ $rc == 0 ]] || fail_with_output "sync beside 300 open sessions exited $rc"
[[ $(sync_field pulled) -ge 3 ]] || fail_with_output "the sync did not pull the province's certificates"
! grep -q "too many sessions" srv.log || fail "the server refused connections: $(grep -c 'too many sessions' srv.log) times"
server_alive
stop_server

# --- one address flooding: 20 connections from 127.0.0.2, a cap of 8
start_server --max-per-address 8 --threads 6
(( $(tasks) >= 6 )) || fail "hoso serve --threads 6 runs $(tasks) threads"
python3 - "$SRV_PORT" 20 <<'PY' &
import os, socket, ssl, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
held, refused = [], 0
for i in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=("127.0.0.2", 0))
        held.append(ctx.wrap_socket(s))
    except OSError:
        refused += 1
with open("flood.tmp", "w") as f:
    f.write(f"{len(held)} {refused}\n")
os.rename("flood.tmp", "flood.ready")
time.sleep(60)
PY
FLOOD_PID=$!
wait_file flood.ready || fail "the flooding connections did not open"
read -r held refused <flood.ready
rc=0
timeout 60 "$HOSO" sync --db A1.db --server 127.0.0.1:$SRV_PORT --json >"$OUT" 2>"$ERR" || rc=$?
kill $FLOOD_PID 2>/dev/null || true
wait $FLOOD_PID 2>/dev/null || true
[[ $held == 8 && $refused == 12 ]] || fail "from one address with a cap of 8: $held connections held, $refused refused (want 8 and 12)"
[[ $rc == 0 ]] || fail_with_output "a laptop from another address could not sync beside the flood (exit $rc)"
n=$(grep -c "too many sessions from 127.0.0.2 (8)" srv.log || true)
[[ $n == 12 ]] || fail "the server logged $n refusals of 127.0.0.2, want 12: $(tail -5 srv.log)"
! grep -q "too many sessions from 127.0.0.1" srv.log || fail "the laptop's address was refused"
server_alive
echo "sessions: ok"
