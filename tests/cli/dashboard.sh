#!/usr/bin/env bash
# The province's dashboard in a real browser: a server with --http, two
# communes whose laptops sync (commune B last on 6 March, A on 10 March), the
# page rendered by headless Chromium (figures, Vietnamese text, the chart, the
# commune silent for more than a day) with a screenshot kept in
# build/test-artifacts/, then what curl sees: /api/report, HEAD, a refused
# POST, security headers, no external URL, a foreign Host refused. Also
# `report --data`'s devices.
set -euo pipefail
HOSO=${1:?usage: dashboard.sh path/to/hoso}
HOSO=$(cd "$(dirname "$HOSO")" && pwd)/$(basename "$HOSO")
ARTIFACTS=$(dirname "$HOSO")/test-artifacts
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
source "$(dirname "${BASH_SOURCE[0]}")/sync_lib.bash"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[[ -x $CHROMIUM ]] || fail "no Chromium at $CHROMIUM (packaging/setup.sh installs it)"
command -v curl >/dev/null || fail "curl is needed"
export HOSO_PASSPHRASE=test-pass HOSO_NOW=2026-02-02T09:00:00+07:00 LANG=C.UTF-8
setup_sync_workdir

P=000.00.00.H12 A=000.00.31.H12 B=000.00.32.H12
q() { "$HOSO" "$@" >/dev/null; }
q authority init --dir prov --name "Tỉnh Test" --kdf interactive
q authority certify --dir prov --kind unit --name "Tỉnh Thái Bình" --unit $P --out p.cert
q authority certify --dir prov --kind unit --name "Xã Tân Lập" --unit $A --parent $P --out a.cert
q authority certify --dir prov --kind unit --name "Xã Đông Hòa <b>" --unit $B --parent $P --out b.cert
for u in A B; do
  q key new --out off$u.key --kdf interactive
  q authority certify --dir prov --pub off$u.key.pub --kind officer --name "Cán bộ $u" --unit "${!u}" \
    --roles receiver,specialist,leader --out off$u.cert
done
for l in A1:A:1 B1:B:1; do
  IFS=: read -r n u s <<<"$l"
  q key new --out $n.key --kdf interactive
  q authority certify --dir prov --pub $n.key.pub --kind device --name "Máy $n" --unit "${!u}" --slot "$s" --out $n.cert
done
q key new --out srv.key --kdf interactive
q authority certify --dir prov --pub srv.key.pub --kind server --name "Máy chủ tỉnh" --unit $P --out srv.cert
cat > proc.json <<'J'
{ "kind": "procedure", "code": "1.001193", "version": 1, "name": "Đăng ký khai sinh",
  "total_working_days": 3, "start": "receive",
  "steps": {
    "receive": {"role": "receiver", "actions": {"accept": "review", "request_supplement": "receive", "reject": "@rejected"}},
    "review": {"role": "specialist", "actions": {"approve": "sign", "send_back": "receive"}},
    "sign": {"role": "leader", "actions": {"approve": "deliver", "send_back": "review"}},
    "deliver": {"role": "receiver", "actions": {"deliver": "@done"}} } }
J
cat > cal.json <<'J'
{ "kind": "calendar", "year": 2026, "utc_offset": "+07:00",
  "office_hours": [["07:00", "11:30"], ["13:30", "17:00"]], "cutoff": "15:00",
  "weekend": ["sat", "sun"], "holidays": ["2026-01-01", "2026-02-16"], "working_days": [] }
J
q authority sign --dir prov --in proc.json --out proc.signed
q authority sign --dir prov --in cal.json --out cal.signed

# serve_at TIME [--http]: (re)starts the server with its clock at TIME.
HTTP_PORT=
serve_at() {
  stop_server
  rm -f srv.port http.port
  mkdir -p srv
  local extra=()
  [[ ${2:-} == --http ]] && extra=(--http 127.0.0.1:0 --http-port-file http.port)
  HOSO_NOW=$1 "$HOSO" serve --data srv "${SRV_STORE[@]}" --root prov/root.pub --key srv.key --cert srv.cert \
    --listen 127.0.0.1:0 --port-file srv.port "${extra[@]}" 2>>srv.log &
  SRV_PID=$!
  wait_file srv.port || fail "the server wrote no port file"
  SRV_PORT=$(cat srv.port)
  if [[ ${2:-} == --http ]]; then
    wait_file http.port || fail "the server wrote no http port file"
    HTTP_PORT=$(cat http.port)
  fi
}
# act N TIME CODE ACTION [args] / recv N TIME: steps on laptop N at a local time of 2026.
act() {
  local n=$1 t=$2 code=$3
  shift 3
  HOSO_NOW=2026-${t}:00+07:00 "$HOSO" act --db $n.db --as off${n:0:1}.key "$code" "$@" >/dev/null
}
recv() {
  HOSO_NOW=2026-${2}:00+07:00 "$HOSO" receive --db $1.db --as off${1:0:1}.key --procedure 1.001193 --applicant "Lê Thị Hoa" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])'
}
through() {  # through N CODE DAY DELIVER_TIME
  act $1 "$3T10:00" "$2" accept
  act $1 "$3T11:00" "$2" approve
  act $1 "$3T14:00" "$2" approve
  act $1 "$4" "$2" deliver
}

# Commune B syncs on 6 March, its last time.
serve_at 2026-03-06T17:00:00+07:00
expect_ok "$HOSO" publish --data srv "${SRV_STORE[@]}" p.cert a.cert b.cert offA.cert offB.cert A1.cert B1.cert srv.cert proc.signed cal.signed
for n in A1 B1; do
  expect_ok "$HOSO" init --db $n.db --root prov/root.pub --device-key $n.key --device-cert $n.cert --server 127.0.0.1:$SRV_PORT
  sync_direct $n
done
# Each dossier is due 3 working days after its receipt, at 17:00.
b1=$(recv B1 03-02T09:00); through B1 "$b1" 03-02 03-05T16:00  # March, on time (due 5 March)
sync_direct B1

# Commune A syncs on 10 March, the time of the dashboard's figures.
a0=$(recv A1 02-03T09:00); through A1 "$a0" 02-03 02-04T10:00  # February, early (due 6 Feb)
a1=$(recv A1 03-02T09:00); through A1 "$a1" 03-02 03-03T10:00  # March, early
a2=$(recv A1 03-02T09:01); through A1 "$a2" 03-02 03-06T09:00  # March, late
a3=$(recv A1 03-02T09:02); act A1 03-02T10:00 "$a3" accept     # overdue since 5 March
serve_at 2026-03-10T09:00:00+07:00 --http
sync_direct A1
export HOSO_NOW=2026-03-10T09:00:00+07:00

# report --data: the devices as the server saw them.
expect_ok "$HOSO" report --data srv "${SRV_STORE[@]}" --json
cp "$OUT" report.json
assert_eq "$(json_get report.json '[(d["unit"], d["acked"], d["pending"], d["last_sync"]) for d in sorted(d["devices"], key=lambda d: d["unit"])]')" \
  "[[\"$A\", 17, 0, \"2026-03-10T09:00:00+07:00\"], [\"$B\", 5, 0, \"2026-03-06T17:00:00+07:00\"]]" "devices"
assert_eq "$(json_get report.json '[(u["unit"], u["dossiers"], u["finished"], u["early"], u["late"], u["overdue"]) for u in d["units"]]')" \
  "[[\"$A\", 4, 3, 2, 1, 1], [\"$B\", 1, 1, 0, 0, 0]]" "units on the server"
expect_ok "$HOSO" report --data srv "${SRV_STORE[@]}" --format csv --table devices
python3 - "$OUT" <<'PY' || fail_with_output "devices CSV"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8-sig", newline="")))
assert sorted(r["name"] for r in rows) == ["Máy A1", "Máy B1"], rows
assert all(r["pending"] == "0" for r in rows), rows
PY

URL=http://127.0.0.1:$HTTP_PORT

# --- The page in Chromium. ---------------------------------------------------
chrome() {
  timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
    --no-first-run --user-data-dir="$WORK/chrome" "$@" 2>>chrome.log
}
chrome --dump-dom "$URL/" >dom.html || fail "chromium --dump-dom failed: $(tail -5 chrome.log)"
python3 - dom.html "$A" "$B" <<'PY' || { head -c 3000 dom.html >&2; fail "the rendered page"; }
import re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
A, B = sys.argv[2], sys.argv[3]
def tile(i):
    m = re.search(r'id="%s"><b>([^<]*)</b>' % i, dom)
    assert m, "no tile " + i
    return m.group(1)
checks = {
    "received": tile("t-received") == "5",
    "finished": tile("t-finished") == "4",
    "rate": tile("t-rate") == "75,0%",          # (2 early + 1 on time) / 4 finished
    "overdue": tile("t-overdue") == "1",
    "stale count": tile("t-stale") == "1",
    "title": "Theo dõi giải quyết thủ tục hành chính" in dom,
    "stale heading": "Xã chưa đồng bộ quá 1 ngày" in dom,
    # B is listed (escaped name), A is not.
    "stale B": re.search(r'<table id="stale">.*<tr data-key="%s"><td>%s</td><td>Xã Đông Hòa &lt;b&gt;</td><td>2026-03-06T17:00:00\+07:00</td>' % (re.escape(B), re.escape(B)), dom, re.S) is not None,
    "A not stale": re.search(r'<table id="stale">.*?</table>', dom, re.S) and A not in re.search(r'<table id="stale">.*?</table>', dom, re.S).group(0),
    "unit A row": re.search(r'<tr data-key="%s"><td>%s</td><td>Xã Tân Lập</td><td class="n" data-k="dossiers">4</td>' % (re.escape(A), re.escape(A)), dom) is not None,
    "unit A rate": re.search(r'data-key="%s">.*?data-k="on_time_rate">66,7%%<' % re.escape(A), dom) is not None,
    # The chart: A in February 100%, A in March 1 of 2, B in March 100%.
    "chart": "<svg" in dom and 'id="ontime-chart"' in dom,
    "chart A Feb": re.search(r'data-unit="%s" data-month="2026-02">.*?>100,0%%</text>' % re.escape(A), dom) is not None,
    "chart A Mar": re.search(r'data-unit="%s" data-month="2026-03">.*?>50,0%%</text>' % re.escape(A), dom) is not None,
    "chart B Mar": re.search(r'data-unit="%s" data-month="2026-03">.*?>100,0%%</text>' % re.escape(B), dom) is not None,
    "months": "02/2026" in dom and "03/2026" in dom,
    "procedure name": "Đăng ký khai sinh" in dom,
    "no injected tag": "Đông Hòa <b>" not in dom,
}
bad = [k for k, v in checks.items() if not v]
assert not bad, "failed: " + ", ".join(bad)
PY
mkdir -p "$ARTIFACTS"
rm -f "$ARTIFACTS/dashboard${SRV_PGDB:+-pg}.png"
chrome --screenshot="$ARTIFACTS/dashboard${SRV_PGDB:+-pg}.png" --window-size=1366,768 "$URL/" >/dev/null || fail "chromium --screenshot failed: $(tail -5 chrome.log)"
python3 - "$ARTIFACTS/dashboard${SRV_PGDB:+-pg}.png" <<'PY' || fail "the screenshot"
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", b[16:24])
assert (w, h) == (1366, 768), (w, h)
# A blank page compresses to a few KB; the tables, tiles and chart do not.
assert len(b) > 20000, f"only {len(b)} bytes: a blank page?"
PY

# --- What curl sees. -----------------------------------------------------------
curl -s -D head.txt -o page.html "$URL/" || fail "curl GET /"
grep -qi '^HTTP/1.1 200' head.txt || fail "GET / not 200: $(head -1 head.txt)"
grep -qi "^content-security-policy: default-src 'self'" head.txt || fail "no CSP: $(cat head.txt)"
grep -qi '^x-content-type-options: nosniff' head.txt || fail "no nosniff"
grep -qi '^x-frame-options: DENY' head.txt || fail "no X-Frame-Options"
grep -qi '^content-type: text/html; charset=utf-8' head.txt || fail "content type"
# No external resource: no scheme-qualified or protocol-relative URL anywhere,
# every src/href local.
if grep -Eqi '(https?:|//[a-z0-9])' page.html; then fail "the page names an external URL: $(grep -Eoi '.{20}(https?:|//[a-z0-9]).{20}' page.html | head -3)"; fi
if grep -Eoi '(src|href|action)="[^"]*"' page.html | grep -Ev '="/' ; then fail "a src/href that is not local"; fi
curl -s -o style.css -w '%{http_code} %{content_type}' "$URL/dashboard.css" >code.txt
assert_eq "$(cat code.txt)" "200 text/css; charset=utf-8" "stylesheet"
# HEAD: the GET's headers, no body.
curl -s -I "$URL/" >head2.txt
grep -qi "^content-length: $(wc -c <page.html)" head2.txt || fail "HEAD content-length: $(cat head2.txt)"
# Only GET and HEAD.
assert_eq "$(curl -s -o post.txt -D posth.txt -w '%{http_code}' -X POST --data 'x=1' "$URL/")" 405 "POST"
grep -qi '^allow: GET, HEAD' posth.txt || fail "405 without Allow"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL/api/report")" 405 "DELETE"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/etc/passwd")" 404 "unknown path"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/?from=yesterday")" 400 "bad query"
# DNS rebinding: a page of another site pointing its name at 127.0.0.1.
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example:80' "$URL/")" 421 "foreign Host"
# A header over the limit is refused, the server keeps serving.
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" "$URL/")" 413 "huge header"
# The API: the same figures and the stale communes.
curl -s "$URL/api/report" >api.json
assert_eq "$(json_get api.json '[u["unit"] for u in d["stale_units"]]')" "[\"$B\"]" "stale_units"
assert_eq "$(json_get api.json 'd["units"][0]["on_time_rate"]')" 0.6667 "API rate"
assert_eq "$(json_get api.json 'd["now"]')" "2026-03-10T09:00:00+07:00" "API now"
# A range through the query: March only.
curl -s "$URL/api/report?from=2026-03-01&to=2026-03-31" >march.json
assert_eq "$(json_get march.json 'sum(u["dossiers"] for u in d["units"])')" 4 "March only"
# A client that sends half a request and waits is cut off after the request
# timeout (10 s), and one that hogs a connection delays no other client.
python3 - "$HTTP_PORT" <<'PY' || fail "a stalled client"
import socket, sys, time, urllib.request
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
t0 = time.monotonic()
page = urllib.request.urlopen(f"http://127.0.0.1:{port}/dashboard.css", timeout=5).read()
assert page.startswith(b"body{"), page[:40]
s.settimeout(30)
assert s.recv(100) == b"", "the server answered half a request"
waited = time.monotonic() - t0
assert 8 <= waited <= 15, f"cut off after {waited:.1f} s"
PY
# The dashboard survived all of that.
server_alive
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/")" 200 "still serving"
# Bad --http: one clear line, nothing served.
srv_args=(--data srv2 --root prov/root.pub --key srv.key --cert srv.cert --listen 127.0.0.1:0)
expect_fail 2 "$HOSO" serve "${srv_args[@]}" --http 127.0.0.1
error_says "--http"
expect_fail 2 "$HOSO" serve "${srv_args[@]}" --http example.org:80
expect_fail 12 "$HOSO" serve "${srv_args[@]}" --http 127.0.0.1:$HTTP_PORT
error_says "cannot listen"
# The sync server still serves laptops beside the dashboard.
sync_direct A1
stop_server
echo "dashboard: ok"
