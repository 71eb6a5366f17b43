#!/usr/bin/env bash
# Regression (found by the crash campaign): a relay that forwarded a laptop's
# events before it held their attachments never forwarded those attachments.
# It offered upstream only the attachments of the events it forwarded in the
# same round, and skipped the ones it did not hold yet; the next round had no
# events to forward, so nothing more. The laptop's attachment lane uploads after
# its events, over a slow link for a long time, and a relay killed or cut off
# between the parent's ACK and the upload is the same case.
#
# Here laptop B1 syncs to the relay through a 16 KB/s link: its event reaches
# the relay at once, its 96 KB attachment about six seconds later, while the
# relay forwards every two seconds. The server must end up with the attachment.
#
#   bash tests/crash/relay_attachments.sh build/hoso
set -euo pipefail
HOSO=${1:?usage: relay_attachments.sh path/to/hoso}
HOSO=$(cd "$(dirname "$HOSO")" && pwd)/$(basename "$HOSO")
PROXY=$(dirname "$HOSO")/tests/proxy/hoso_proxy
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.bash"
source "$(dirname "${BASH_SOURCE[0]}")/../cli/sync_lib.bash"
[[ -x $PROXY ]] || fail "hoso_proxy not built at $PROXY"
export HOSO_PASSPHRASE=test-pass HOSO_NOW=2026-03-02T08:00:00+07:00

RELAY_PID=
relay_cleanup() {
  local rc=$?
  [[ -n $RELAY_PID ]] && { kill "$RELAY_PID" 2>/dev/null || true; wait "$RELAY_PID" 2>/dev/null || true; }
  set +e  # sync_cleanup reads the exit status from $?
  (exit $rc)
  sync_cleanup
}
setup_sync_workdir
trap relay_cleanup EXIT

P=000.00.00.H12 R=000.00.50.H12 B=000.00.51.H12
q() { "$HOSO" "$@" >/dev/null; }
q authority init --dir prov --name "Tỉnh Thử" --kdf interactive
q authority certify --dir prov --kind unit --name "Tỉnh" --unit $P --out p.cert
q authority certify --dir prov --kind unit --name "Vùng R" --unit $R --parent $P --out r.cert
q authority certify --dir prov --kind unit --name "Xã B" --unit $B --parent $R --out b.cert
q key new --out offB.key --kdf interactive
q authority certify --dir prov --pub offB.key.pub --kind officer --name "Cán bộ B" --unit $B --roles receiver --out offB.cert
q key new --out B1.key --kdf interactive
q authority certify --dir prov --pub B1.key.pub --kind device --name "Máy B1" --unit $B --slot 1 --out B1.cert
q key new --out srv.key --kdf interactive
q authority certify --dir prov --pub srv.key.pub --kind server --name "Máy chủ tỉnh" --unit $P --out srv.cert
q key new --out relay.key --kdf interactive
q authority certify --dir prov --pub relay.key.pub --kind server --name "Trạm vùng R" --unit $R --out relay.cert
cat > proc.json <<'J'
{ "kind": "procedure", "code": "1.001193", "version": 1, "name": "Đăng ký khai sinh",
  "total_working_days": 3, "start": "receive",
  "steps": { "receive": {"role": "receiver", "actions": {"accept": "@done"}} } }
J
cat > cal.json <<'J'
{ "kind": "calendar", "year": 2026, "utc_offset": "+07:00",
  "office_hours": [["07:00", "11:30"], ["13:30", "17:00"]], "cutoff": "15:00",
  "weekend": ["sat", "sun"], "holidays": [], "working_days": [] }
J
q authority sign --dir prov --in proc.json --out proc.signed
q authority sign --dir prov --in cal.json --out cal.signed
ITEMS=(p.cert r.cert b.cert offB.cert B1.cert srv.cert relay.cert proc.signed cal.signed)

start_server
expect_ok "$HOSO" publish --data srv "${ITEMS[@]}"
mkdir -p relay
"$HOSO" serve --data relay --root prov/root.pub --key relay.key --cert relay.cert \
  --listen 127.0.0.1:0 --port-file relay.port --upstream 127.0.0.1:$SRV_PORT 2>>relay.log &
RELAY_PID=$!
wait_file relay.port || fail "the relay wrote no port file"
RELAY_PORT=$(cat relay.port)
expect_ok "$HOSO" publish --data relay "${ITEMS[@]}"

expect_ok "$HOSO" init --db B1.db --root prov/root.pub --device-key B1.key --device-cert B1.cert
expect_ok "$HOSO" import --db B1.db "${ITEMS[@]}"
head -c 96000 /dev/urandom > scan.bin
expect_ok "$HOSO" receive --db B1.db --as offB.key --procedure 1.001193 --applicant "Công dân" --attach scan.bin
# The proxy targets the relay, not the server.
SRV_PORT_SAVED=$SRV_PORT
SRV_PORT=$RELAY_PORT
start_proxy slow --rate 16000
SRV_PORT=$SRV_PORT_SAVED
expect_ok timeout 120 "$HOSO" sync --db B1.db --server 127.0.0.1:$(proxy_port slow) --json
assert_eq "$(json_get "$OUT" 'd["pending"]')" 0 "B1 pending"
assert_eq "$(json_get "$OUT" 'd["attachments_pending"]')" 0 "B1 attachments pending"
check_attachments_relay() {
  python3 - relay/hoso.db scan.bin <<'PY'
import hashlib, sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
held = {hashlib.sha256(d).hexdigest() for (d,) in c.execute("SELECT data FROM attachments")}
sys.exit(0 if hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest() in held else 1)
PY
}
check_attachments_relay || fail "the relay does not hold B1's attachment after B1's sync"
# The relay forwarded the event long before the attachment arrived (it runs
# every 2 s; the upload took about 6 s): the event is on the server already.
[[ $(server_sql "SELECT count(*) FROM events") == 1 ]] || fail "the relay did not forward B1's event during the upload"
# Rounds continue every 2 s: within 20 s the attachment must follow.
for ((i = 0; i < 200; i++)); do
  [[ $(server_sql "SELECT count(*) FROM attachments") == 1 ]] && break
  sleep 0.1
done
check_attachments_server scan.bin
expect_ok "$HOSO" verify --data srv
echo "relay_attachments: ok"
