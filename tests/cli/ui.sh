#!/usr/bin/env bash
# The officers' desk in a real browser: `hoso ui` on a free loopback port,
# Debian's chromium driven by playwright-core (tests/ui/desk.test.mjs), the
# receipt printed to PDF and read back with pdftotext. Exit 77 (skipped) when
# the browser tooling is not installed (packaging/setup.sh installs it).
set -euo pipefail
HOSO=$(realpath "${1:?usage: ui.sh path/to/hoso}")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.bash"
uidir=$(cd "$here/../ui" && pwd)
artifacts=$(dirname "$HOSO")/test-artifacts
for tool in node /usr/bin/chromium pdftotext; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is missing"; exit 77; }
done
[[ -d $uidir/node_modules/playwright-core ]] || { echo "SKIP: run packaging/setup.sh (npm ci in tests/ui)"; exit 77; }

setup_workdir
export HOSO_PASSPHRASE=test-pass HOSO_NOW=2026-03-02T09:00:00+07:00
P=000.00.00.H12 A=000.00.31.H12
$HOSO authority init --dir prov --name "Tỉnh Test" --kdf interactive >/dev/null
$HOSO authority certify --dir prov --kind unit --name "UBND tỉnh Test" --unit $P --out p.cert >/dev/null
$HOSO authority certify --dir prov --kind unit --name "UBND xã Tân Lập" --unit $A --parent $P --out a.cert >/dev/null
for who in rcv:receiver spec:specialist lead:leader; do
  n=${who%%:*} r=${who##*:}
  $HOSO key new --out $n.key --kdf interactive >/dev/null
  $HOSO authority certify --dir prov --pub $n.key.pub --kind officer --name "A $n" --unit $A --roles $r --out $n.cert >/dev/null
done
$HOSO key new --out lap.key --kdf interactive >/dev/null
$HOSO authority certify --dir prov --pub lap.key.pub --kind device --name "A desk 1" --unit $A --slot 1 --out lap.cert >/dev/null
cat > proc.json <<'J'
{ "kind": "procedure", "code": "1.001193", "version": 1, "name": "Đăng ký khai sinh",
  "total_working_days": 3, "start": "receive",
  "fields": [{"name": "cccd", "label": "Số CCCD", "type": "text", "required": true}],
  "steps": {
    "receive": {"role": "receiver", "hours": 4, "actions": {"accept": "review", "request_supplement": "receive", "reject": "@rejected"}},
    "review": {"role": "specialist", "hours": 8, "actions": {"approve": "sign", "send_back": "receive"}},
    "sign": {"role": "leader", "hours": 4, "actions": {"approve": "deliver", "send_back": "review"}},
    "deliver": {"role": "receiver", "actions": {"deliver": "@done"}} } }
J
cat > cal.json <<'J'
{ "kind": "calendar", "year": 2026, "utc_offset": "+07:00",
  "office_hours": [["07:00", "11:30"], ["13:30", "17:00"]], "cutoff": "15:00",
  "weekend": ["sat", "sun"], "holidays": [], "working_days": [] }
J
$HOSO authority sign --dir prov --in proc.json --out proc.signed >/dev/null
$HOSO authority sign --dir prov --in cal.json --out cal.signed >/dev/null
# The province's sync server, for the desk's "sync now".
$HOSO key new --out srv.key --kdf interactive >/dev/null
$HOSO authority certify --dir prov --pub srv.key.pub --kind server --name "Máy chủ tỉnh" --unit $P --out srv.cert >/dev/null
mkdir srv
$HOSO serve --data srv --root prov/root.pub --key srv.key --cert srv.cert --listen 127.0.0.1:0 --port-file srv.port 2>srv.log &
srv_pid=$!
ui_pid=
trap 'kill $srv_pid $ui_pid 2>/dev/null || true; cleanup_workdir' EXIT
for _ in $(seq 200); do [[ -s srv.port ]] && break; sleep 0.1; done
[[ -s srv.port ]] || fail "the sync server wrote no port file"
$HOSO publish --data srv p.cert a.cert rcv.cert spec.cert lead.cert lap.cert srv.cert proc.signed cal.signed >/dev/null
$HOSO init --db a.db --root prov/root.pub --device-key lap.key --device-cert lap.cert --server 127.0.0.1:$(cat srv.port) >/dev/null
$HOSO import --db a.db p.cert a.cert rcv.cert spec.cert lead.cert proc.signed cal.signed >/dev/null

# The laptop's key opens with the officer's passphrase (no HOSO_DEVICE_PASSPHRASE).
$HOSO ui --db a.db --listen 127.0.0.1:0 >ui.out 2>ui.err &
ui_pid=$!
url=
for _ in $(seq 100); do
  url=$(grep -o 'http://127.0.0.1:[0-9]*/' ui.out || true)
  [[ -n $url ]] && break
  kill -0 $ui_pid 2>/dev/null || { cat ui.err >&2; fail "hoso ui exited"; }
  sleep 0.1
done
[[ -n $url ]] || fail "hoso ui did not print its address"

# A foreign Origin is refused before anything else (the page's own requests pass).
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Origin: http://evil.example' -H 'Content-Type: application/json' \
  --data '{}' "${url}api/signin")
assert_eq "$code" 403 "sign-in from a foreign Origin"
code=$(curl -s -o /dev/null -w '%{http_code}' "${url}api/inbox")
assert_eq "$code" 401 "the API without a session"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' "${url}api/session")
assert_eq "$code" 421 "a foreign Host (DNS rebinding)"

start=$SECONDS
HOSO_UI_URL=$url KEYS=$PWD PASS=test-pass OUT=$PWD ARTIFACTS=$artifacts \
  timeout 90 node "$uidir/desk.test.mjs" >node.out 2>&1 || { cat node.out ui.err >&2; fail "browser test failed"; }
cat node.out
# A minute on a normal build; sanitizer builds run several times slower.
limit=60
ldd "$HOSO" 2>/dev/null | grep -q libasan && limit=180
(( SECONDS - start < limit )) || fail "the browser test took $((SECONDS - start)) s (limit $limit)"
dossier=$(sed -n 's/^CODE=//p' node.out)
[[ -n $dossier ]] || fail "no dossier code from the browser test"

pdftotext -layout receipt.pdf receipt.txt
for want in "$dossier" "Nguyễn Văn An" "17:00 05/03/2026" "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" "UBND xã Tân Lập"; do
  grep -qF "$want" receipt.txt || { cat receipt.txt >&2; fail "the printed receipt lacks \"$want\""; }
done
[[ -s $artifacts/ui-inbox.png ]] || fail "no inbox screenshot"
cp receipt.pdf "$artifacts/ui-receipt.pdf"

# The store holds what the browser did, and it verifies.
expect_ok $HOSO show --db a.db "$dossier" --json
assert_eq "$(json_get "$OUT" 'd["status"]')" returned "status after the browser's steps"
assert_eq "$(json_get "$OUT" 'len(d["events"])')" 7 "events signed in the browser"
expect_ok $HOSO verify --db a.db
# "Sync now" in the page pushed everything the desk signed.
expect_ok $HOSO verify --data srv --json
assert_eq "$(json_get "$OUT" 'd["checked"]')" 7 "events on the server after the page's sync"
# SIGTERM stops the desk cleanly (and, under ASan, without a leak).
kill $ui_pid
rc=0
wait $ui_pid || rc=$?
ui_pid=
assert_eq "$rc" 0 "exit status of hoso ui after SIGTERM"
echo "ui: OK"
