#!/usr/bin/env bash
# `hoso sync --watch` never gives up (SPEC §5): against a port where no server
# listens it keeps retrying, each wait drawn under a ceiling that doubles from
# 2 s (sync::Backoff, PROTOCOL §13.7); once a server comes up on that port the
# same process syncs; SIGTERM in the wait that follows ends it at once with
# exit 0. About 5-10 s.
set -euo pipefail
HOSO=${1:?usage: sync_watch.sh path/to/hoso}
HOSO=$(cd "$(dirname "$HOSO")" && pwd)/$(basename "$HOSO")
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
source "$(dirname "${BASH_SOURCE[0]}")/sync_lib.bash"
export HOSO_PASSPHRASE=test-pass HOSO_NOW=2026-03-02T09:00:00+07:00
setup_sync_workdir

P=000.00.00.H12 A=000.00.31.H12
q() { "$HOSO" "$@" >/dev/null; }
q authority init --dir prov --name "Tỉnh Test" --kdf interactive
q authority certify --dir prov --kind unit --name "Tỉnh" --unit $P --out p.cert
q authority certify --dir prov --kind unit --name "Xã A" --unit $A --parent $P --out a.cert
q key new --out A1.key --kdf interactive
q authority certify --dir prov --pub A1.key.pub --kind device --name "Máy A1" --unit $A --slot 1 --out A1.cert
q key new --out srv.key --kdf interactive
q authority certify --dir prov --pub srv.key.pub --kind server --name "Máy chủ tỉnh" --unit $P --out srv.cert
# The server's store, made by a first serve on another port and given the
# laptop's certificate now, so that the first try reaching the real port
# succeeds.
start_server
stop_server
expect_ok "$HOSO" publish --data srv p.cert a.cert A1.cert srv.cert

# A port nobody listens on (yet): connections are refused at once.
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
expect_ok "$HOSO" init --db A1.db --root prov/root.pub --device-key A1.key --device-cert A1.cert --server 127.0.0.1:$PORT

"$HOSO" sync --db A1.db --watch >watch.out 2>watch.err &
WATCH=$!
retries() { grep -c 'retrying' watch.err || true; }
# The second failure comes after the first wait, at most 2 s.
for ((i = 0; i < 100 && $(retries) < 2; i++)); do sleep 0.1; done
(( $(retries) >= 2 )) || fail_with_output "expected 2 'retrying' lines within 10 s, got $(retries): $(cat watch.err)"
kill -0 $WATCH 2>/dev/null || fail "hoso sync --watch gave up: $(cat watch.err)"

# The server comes up on that port; the next try (after the second wait, at
# least 2 s) reaches it.
rm -f srv.port
"$HOSO" serve --data srv --root prov/root.pub --key srv.key --cert srv.cert --listen 127.0.0.1:$PORT \
  --port-file srv.port 2>>srv.log &
SRV_PID=$!
wait_file srv.port || fail "the server wrote no port file"
assert_eq "$(cat srv.port)" "$PORT" "the server's port"
for ((i = 0; i < 120; i++)); do
  grep -q '^Synced:' watch.out && break
  sleep 0.1
done
grep -q '^Synced:' watch.out || fail_with_output "no round synced within 12 s of the server coming up: $(cat watch.err)"
# A serving process keeps its name (pgrep -x hoso, systemd, ps): only the
# threads it starts are named hoso-serve.
assert_eq "$(cat /proc/$SRV_PID/comm)" hoso "the serving process's name"
grep -qx hoso-serve /proc/$SRV_PID/task/*/comm || fail "no thread of the server is named hoso-serve"
kill -0 $WATCH 2>/dev/null || fail "hoso sync --watch stopped after its round"

# Every failure said why and how long it waits; the waits (rounded to whole
# seconds) lie under the ceilings 2 s, then 4 s: [1, 2], [2, 4].
while IFS= read -r line; do
  assert_match "$line" '^hoso sync: .+; retrying in [0-9]+ s$' "a retry line"
done <watch.err
mapfile -t W < <(sed -n 's/.*retrying in \([0-9]*\) s$/\1/p' watch.err)
(( ${#W[@]} >= 2 )) || fail "expected at least 2 waits, got ${#W[@]}"
(( W[0] >= 1 && W[0] <= 2 )) || fail "first wait ${W[0]} s is outside [1, 2]"
(( W[1] >= 2 && W[1] <= 4 )) || fail "second wait ${W[1]} s is outside [2, 4]"

# SIGTERM in the 30 s wait between rounds: a prompt, clean exit.
t=$SECONDS
kill -TERM $WATCH
rc=0
wait $WATCH || rc=$?
assert_eq "$rc" 0 "exit status of hoso sync --watch on SIGTERM"
(( SECONDS - t <= 2 )) || fail "hoso sync --watch took $((SECONDS - t)) s to stop on SIGTERM"
stop_server
echo "sync_watch: $(retries) retries, then synced; clean stop on SIGTERM"
