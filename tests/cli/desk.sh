#!/usr/bin/env bash
# A commune's day through the real binary: a province, a laptop store, a
# dossier through every kind of step, queries, tampering, bundles.
set -euo pipefail
HOSO=${1:?usage: desk.sh path/to/hoso}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
export HOSO_PASSPHRASE=test-pass HOSO_NOW=2026-03-02T09:00:00+07:00
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect CODE cmd...: exit code CODE and exactly one stderr line.
expect() {
  local want=$1; shift
  set +e; "$@" >out.txt 2>err.txt; local rc=$?; set -e
  [[ $rc == "$want" ]] || { cat err.txt >&2; fail "expected exit $want, got $rc: $*"; }
  [[ $(wc -l <err.txt) == 1 ]] || { cat err.txt >&2; fail "expected one stderr line: $*"; }
}
jq_() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

P=000.00.00.H12 A=000.00.31.H12 B=000.00.32.H12
$HOSO authority init --dir prov --name "Tỉnh Test" --kdf interactive >/dev/null
$HOSO authority certify --dir prov --kind unit --name "Tỉnh" --unit $P --out p.cert >/dev/null
$HOSO authority certify --dir prov --kind unit --name "Xã A" --unit $A --parent $P --out a.cert >/dev/null
$HOSO authority certify --dir prov --kind unit --name "Xã B" --unit $B --parent $P --out b.cert >/dev/null
for who in rcv:receiver spec:specialist lead:leader; do
  n=${who%%:*} r=${who##*:}
  $HOSO key new --out $n.key --kdf interactive >/dev/null
  $HOSO authority certify --dir prov --pub $n.key.pub --kind officer --name "A $n" --unit $A --roles $r --out $n.cert >/dev/null
done
$HOSO key new --out pspec.key --kdf interactive >/dev/null
$HOSO authority certify --dir prov --pub pspec.key.pub --kind officer --name "P spec" --unit $P --roles specialist --out pspec.cert >/dev/null
$HOSO key new --out brcv.key --kdf interactive >/dev/null
$HOSO authority certify --dir prov --pub brcv.key.pub --kind officer --name "B rcv" --unit $B --roles receiver --out brcv.cert >/dev/null
$HOSO key new --out lap.key --kdf interactive >/dev/null
$HOSO authority certify --dir prov --pub lap.key.pub --kind device --name "A desk 1" --unit $A --slot 1 --out lap.cert >/dev/null
cat > proc.json <<'J'
{ "kind": "procedure", "code": "1.001193", "version": 1, "name": "Đăng ký khai sinh",
  "total_working_days": 3, "start": "receive",
  "fields": [{"name": "cccd", "label": "Số CCCD", "type": "text", "required": true}],
  "steps": {
    "receive": {"role": "receiver", "hours": 4, "actions": {"accept": "review", "request_supplement": "receive", "reject": "@rejected"}},
    "review": {"role": "specialist", "hours": 8, "actions": {"approve": "sign", "send_back": "receive", "forward": "province_review"}},
    "province_review": {"role": "specialist", "unit": "parent", "hours": 16, "actions": {"approve": "sign", "send_back": "review"}},
    "sign": {"role": "leader", "hours": 4, "actions": {"approve": "deliver", "send_back": "review"}},
    "deliver": {"role": "receiver", "actions": {"deliver": "@done"}} } }
J
cat > cal.json <<'J'
{ "kind": "calendar", "year": 2026, "utc_offset": "+07:00",
  "office_hours": [["07:00", "11:30"], ["13:30", "17:00"]], "cutoff": "15:00",
  "weekend": ["sat", "sun"], "holidays": ["2026-01-01", "2026-02-16"], "working_days": ["2026-01-03"] }
J
$HOSO authority sign --dir prov --in proc.json --out proc.signed >/dev/null
$HOSO authority sign --dir prov --in cal.json --out cal.signed >/dev/null

# A store refuses a certificate of another root.
$HOSO authority init --dir other --name "Other" --kdf interactive >/dev/null
expect 9 $HOSO init --db bad.db --root other/root.pub --device-key lap.key --device-cert lap.cert
[[ ! -e bad.db ]] || fail "a refused init left a store behind"

$HOSO init --db a.db --root prov/root.pub --device-key lap.key --device-cert lap.cert >/dev/null
# Receiving before the procedure is known: clear error, nothing stored.
expect 8 $HOSO receive --db a.db --as rcv.key --procedure 1.001193 --applicant "Nguyễn Văn A" --field cccd=1
$HOSO import --db a.db p.cert a.cert b.cert rcv.cert spec.cert lead.cert pspec.cert brcv.cert proc.signed cal.signed >/dev/null
# Importing again is a no-op.
[[ $($HOSO import --db a.db --json proc.signed | jq_ 'd["duplicates"]') == 1 ]] || fail "re-import not a no-op"

echo "scan" > scan.pdf
out=$($HOSO receive --db a.db --as rcv.key --procedure 1.001193 --applicant "Nguyễn Văn A" --field cccd=0123 --attach scan.pdf --json)
code=$(echo "$out" | jq_ 'd["code"]')
[[ $code == "$A-260302-1000" ]] || fail "dossier code $code"
# Received Monday 09:00, 3 working days: due Thursday 17:00.
[[ $(echo "$out" | jq_ 'd["due_at"]') == "2026-03-05T17:00:00+07:00" ]] || fail "due_at $(echo "$out" | jq_ 'd["due_at"]')"
code2=$($HOSO receive --db a.db --as rcv.key --procedure 1.001193 --applicant "Trần B" --field cccd=9 --json | jq_ 'd["code"]')
[[ $code2 == "$A-260302-1001" ]] || fail "second code $code2"

# Refusals before signing: wrong role, missing note, unknown action, missing field.
expect 9 $HOSO act --db a.db --as spec.key "$code" accept
expect 2 $HOSO act --db a.db --as rcv.key "$code" reject
expect 9 $HOSO act --db a.db --as rcv.key "$code" fly
expect 2 $HOSO receive --db a.db --as rcv.key --procedure 1.001193 --applicant "X"
expect 9 $HOSO act --db a.db --as brcv.key "$code" accept
# The laptop's key opens with its own passphrase: a wrong one says what to set.
HOSO_DEVICE_PASSPHRASE=wrong expect 6 $HOSO act --db a.db --as rcv.key "$code" accept
grep -q HOSO_DEVICE_PASSPHRASE err.txt || fail "device passphrase error does not say what to set: $(cat err.txt)"
n_before=$($HOSO show --db a.db "$code" --json | jq_ 'len(d["events"])')
[[ $n_before == 1 ]] || fail "refused actions were recorded"

$HOSO act --db a.db --as rcv.key "$code" request_supplement --note "thiếu bản sao" >/dev/null
s=$($HOSO show --db a.db "$code" --json)
[[ $(echo "$s" | jq_ 'd["status"]') == awaiting_supplement ]] || fail "status after supplement"
[[ $(echo "$s" | jq_ 'd["due_at"]') == None ]] || fail "due_at not null while awaiting supplement"
expect 9 $HOSO act --db a.db --as rcv.key "$code" request_supplement --note "again"
# Resubmission on Wednesday after the cutoff counts as received Thursday: due Tuesday 17:00.
HOSO_NOW=2026-03-04T15:30:00+07:00 $HOSO act --db a.db --as rcv.key "$code" accept >/dev/null
s=$($HOSO show --db a.db "$code" --json)
[[ $(echo "$s" | jq_ 'd["status"]') == in_progress ]] || fail "status after accept"
[[ $(echo "$s" | jq_ 'd["due_at"]') == "2026-03-10T17:00:00+07:00" ]] || fail "due after resubmission: $(echo "$s" | jq_ 'd["due_at"]')"
HOSO_NOW=2026-03-04T16:00:00+07:00 $HOSO act --db a.db --as spec.key "$code" forward >/dev/null
s=$($HOSO show --db a.db "$code" --json)
[[ $(echo "$s" | jq_ 'd["status"]') == forwarded && $(echo "$s" | jq_ 'd["holder"]') == $P ]] || fail "forward to parent"
# The commune's specialist may not act while the province holds it.
expect 9 $HOSO act --db a.db --as spec.key "$code" approve
HOSO_NOW=2026-03-05T08:00:00+07:00 $HOSO act --db a.db --as rcv.key "$code2" suspend --note "chờ xác minh" >/dev/null
[[ $($HOSO show --db a.db "$code2" --json | jq_ 'd["status"]') == suspended ]] || fail "suspend"
HOSO_NOW=2026-03-06T08:00:00+07:00 $HOSO act --db a.db --as rcv.key "$code2" resume >/dev/null
HOSO_NOW=2026-03-06T08:30:00+07:00 $HOSO act --db a.db --as rcv.key "$code2" extend --note "xin lỗi" --until 2026-03-20 >/dev/null
s=$($HOSO show --db a.db "$code2" --json)
[[ $(echo "$s" | jq_ 'd["due_at"]') == "2026-03-20T17:00:00+07:00" && $(echo "$s" | jq_ 'd["extensions"]') == 1 ]] || fail "extend"
HOSO_NOW=2026-03-06T09:00:00+07:00 $HOSO act --db a.db --as rcv.key "$code2" reject --note "không đủ điều kiện" >/dev/null
s=$($HOSO show --db a.db "$code2" --json)
[[ $(echo "$s" | jq_ 'd["status"]') == rejected && $(echo "$s" | jq_ 'd["timeliness"]') == on_time ]] || fail "reject timeliness (suspended a day: due moved to Friday): $s"

# Lists.
[[ $($HOSO list --db a.db --json | jq_ 'len(d)') == 2 ]] || fail "list all"
[[ $($HOSO list --db a.db --status forwarded --json | jq_ 'len(d)') == 1 ]] || fail "list status"
[[ $(HOSO_NOW=2026-04-01T09:00:00+07:00 $HOSO list --db a.db --overdue --json | jq_ 'len(d)') == 1 ]] || fail "list overdue"
[[ $($HOSO list --db a.db --mine --as rcv.key --json | jq_ 'len(d)') == 0 ]] || fail "list mine"
expect 2 $HOSO list --db a.db --status nonsense

# Report.
r=$($HOSO report --db a.db --json)
[[ $(echo "$r" | jq_ 'd["units"][0]["dossiers"]') == 2 && $(echo "$r" | jq_ 'd["units"][0]["supplements"]') == 1 ]] || fail "report: $r"

# Verify, export, bundle.
[[ $($HOSO verify --db a.db --json | jq_ 'd["ok"]') == True ]] || fail "verify clean store"
$HOSO export --db a.db "$code" --out d.bundle >/dev/null
$HOSO verify --bundle d.bundle --root prov/root.pub >/dev/null
expect 3 $HOSO verify --bundle d.bundle --root other/root.pub
python3 - <<'PY'
b = bytearray(open("d.bundle", "rb").read())
i = b.rfind(b'"action":"forward"')
b[i + 11] ^= 1
open("t.bundle", "wb").write(b)
PY
expect 3 $HOSO verify --bundle t.bundle --root prov/root.pub

# Tampering with each table of the store: verify exits 3 naming the table.
for q in "UPDATE items SET bytes = replace(bytes, 'Xã A', 'Xã Z') WHERE type = 'cert'" \
         "UPDATE events SET bytes = replace(bytes, '\"accept\"', '\"acceps\"') WHERE action = 'accept'" \
         "UPDATE events SET at = at + 1 WHERE action = 'forward'" \
         "UPDATE dossiers SET status = 'returned' WHERE status = 'forwarded'" \
         "UPDATE dossiers SET state = replace(state, 'Trần', 'Tran')" \
         "UPDATE devices SET seq = seq + 1" \
         "UPDATE attachments SET data = 'scam'" \
         "UPDATE meta SET value = 'x' || value WHERE key = 'device_key'"; do
  echo "tamper: $q"; cp a.db t.db; rm -f t.db-wal t.db-shm
  python3 -c "import sqlite3,sys; c=sqlite3.connect('t.db'); c.execute(sys.argv[1]); c.commit()" "$q"
  expect 3 $HOSO verify --db t.db || { echo "tamper: $q" >&2; exit 1; }
done
# A second writer waits up to 10 s for the first, then fails clearly; readers
# are not blocked meanwhile.
python3 -c "import sqlite3,time; c=sqlite3.connect('a.db', isolation_level=None); c.execute('BEGIN IMMEDIATE'); open('locked','w').close(); time.sleep(14)" &
holder=$!
while [[ ! -e locked ]]; do sleep 0.1; done
[[ $($HOSO list --db a.db --json | jq_ 'len(d)') == 2 ]] || fail "a reader was blocked by a writer"
start=$(date +%s)
expect 13 $HOSO act --db a.db --as rcv.key "$code2" resume
(( $(date +%s) - start >= 9 )) || fail "the second writer did not wait"
grep -q "another hoso process is writing" err.txt || fail "busy error unclear: $(cat err.txt)"
wait $holder
echo "desk: all checks passed"
