#!/usr/bin/env bash
# hoso report through the real binary: ten dossiers of a commune through
# every outcome, the figures checked against counts worked out by hand, in
# JSON, CSV (RFC 4180 quoting of Vietnamese names with commas and quotes,
# one file per table) and the text table, plus the errors of bad flags.
set -euo pipefail
HOSO=${1:?usage: report.sh path/to/hoso}
HOSO=$(cd "$(dirname "$HOSO")" && pwd)/$(basename "$HOSO")
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
setup_workdir
export HOSO_PASSPHRASE=test-pass HOSO_NOW=2026-03-02T09:00:00+07:00 LANG=C.UTF-8
unset LC_ALL LC_MESSAGES

P=000.00.00.H12 A=000.00.31.H12
A_NAME='Xã "Tân Lập", Vũ Thư'
P2_NAME='Chứng thực bản sao, "trích lục"'
$HOSO authority init --dir prov --name "Tỉnh Test" --kdf interactive >/dev/null
$HOSO authority certify --dir prov --kind unit --name "Tỉnh" --unit $P --out p.cert >/dev/null
$HOSO authority certify --dir prov --kind unit --name "$A_NAME" --unit $A --parent $P --out a.cert >/dev/null
for who in rcv:receiver spec:specialist lead:leader; do
  n=${who%%:*} r=${who##*:}
  $HOSO key new --out $n.key --kdf interactive >/dev/null
  $HOSO authority certify --dir prov --pub $n.key.pub --kind officer --name "A $n" --unit $A --roles $r --out $n.cert >/dev/null
done
$HOSO key new --out lap.key --kdf interactive >/dev/null
$HOSO authority certify --dir prov --pub lap.key.pub --kind device --name "A desk 1" --unit $A --slot 1 --out lap.cert >/dev/null
cat > proc1.json <<'J'
{ "kind": "procedure", "code": "1.001193", "version": 1, "name": "Đăng ký khai sinh",
  "total_working_days": 3, "start": "receive",
  "steps": {
    "receive": {"role": "receiver", "hours": 4, "actions": {"accept": "review", "request_supplement": "receive", "reject": "@rejected"}},
    "review": {"role": "specialist", "hours": 8, "actions": {"approve": "sign", "send_back": "receive", "forward": "province_review"}},
    "province_review": {"role": "specialist", "unit": "parent", "hours": 16, "actions": {"approve": "sign", "send_back": "review"}},
    "sign": {"role": "leader", "hours": 4, "actions": {"approve": "deliver", "send_back": "review"}},
    "deliver": {"role": "receiver", "actions": {"deliver": "@done"}} } }
J
cat > proc2.json <<J
{ "kind": "procedure", "code": "2.000001", "version": 1, "name": "Chứng thực bản sao, \"trích lục\"",
  "total_working_days": 1, "start": "receive",
  "steps": {
    "receive": {"role": "receiver", "actions": {"accept": "deliver", "reject": "@rejected"}},
    "deliver": {"role": "receiver", "actions": {"deliver": "@done"}} } }
J
cat > cal.json <<'J'
{ "kind": "calendar", "year": 2026, "utc_offset": "+07:00",
  "office_hours": [["07:00", "11:30"], ["13:30", "17:00"]], "cutoff": "15:00",
  "weekend": ["sat", "sun"], "holidays": ["2026-01-01", "2026-02-16"], "working_days": [] }
J
for f in proc1 proc2 cal; do $HOSO authority sign --dir prov --in $f.json --out $f.signed >/dev/null; done
$HOSO init --db a.db --root prov/root.pub --device-key lap.key --device-cert lap.cert >/dev/null
$HOSO import --db a.db p.cert a.cert rcv.cert spec.cert lead.cert proc1.signed proc2.signed cal.signed >/dev/null

# at TIME KEY CODE ACTION [args]: one step at a local time of 2026.
at() {
  local t=$1 key=$2 code=$3
  shift 3
  HOSO_NOW=2026-${t}:00+07:00 $HOSO act --db a.db --as $key.key "$code" "$@" >/dev/null
}
# The applicant's name holds what could mislead a reader of the stored state
# that skips what it does not need: quotes, braces, a key of the figures.
APPLICANT='Nguyễn "Văn" An, {"events": 99, "status": "returned"} [\'
recv() {  # recv TIME PROCEDURE: prints the new code
  HOSO_NOW=2026-${1}:00+07:00 $HOSO receive --db a.db --as rcv.key --procedure $2 --applicant "$APPLICANT" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])'
}
# Monday 2 March 2026; 3 working days: every dossier is due Thursday 5 March 17:00.
through() {  # through CODE DELIVER_TIME: accept, approve, sign, deliver
  at 03-02T10:00 rcv "$1" accept
  at 03-02T11:00 spec "$1" approve
  at 03-02T14:00 lead "$1" approve
  at "$2" rcv "$1" deliver
}
d1=$(recv 03-02T09:00 1.001193); through "$d1" 03-03T10:00  # early: finished before the due day (5 events)
d2=$(recv 03-02T09:01 1.001193); through "$d2" 03-05T16:00  # on time: the due day, before 17:00 (5)
d3=$(recv 03-02T09:02 1.001193); through "$d3" 03-06T09:00  # late (5)
d4=$(recv 03-02T09:03 1.001193); at 03-02T10:00 rcv "$d4" request_supplement --note "thiếu bản sao"  # clock stopped (2)
d5=$(recv 03-02T09:04 1.001193); at 03-02T10:00 rcv "$d5" reject --note "không đủ điều kiện"  # refused, early (2)
d6=$(recv 03-02T09:05 1.001193); at 03-02T10:00 rcv "$d6" accept; at 03-03T10:00 spec "$d6" forward  # forwarded, overdue (3)
d7=$(recv 03-02T09:06 1.001193); at 03-02T10:00 rcv "$d7" extend --note "xin lỗi ông An" --until 2026-03-20  # overdue after the 20th (2)
d8=$(recv 03-02T09:07 1.001193); at 03-02T10:00 rcv "$d8" withdraw --note "công dân rút"  # withdrawn (2)
# Wednesday 1 April, one working day: due Thursday 2 April 17:00.
d9=$(recv 04-01T09:00 2.000001); at 04-01T09:30 rcv "$d9" accept; at 04-01T10:00 rcv "$d9" deliver  # early (3)
d10=$(recv 04-01T09:01 2.000001)  # overdue on 3 April (1)
assert_eq "$d1" "$A-260302-1000" "first code"
assert_eq "$d10" "$A-260401-1001" "last code"

export HOSO_NOW=2026-04-03T09:00:00+07:00
expect_ok $HOSO report --db a.db --json
cp "$OUT" all.json
# name: row -> "dossiers events finished early on_time late overdue supplements refusals extensions forwarded withdrawn on_time_rate"
figs() {
  json_get all.json "' '.join(str(r[k]) for r in [$1] for k in ['dossiers','events','finished','early','on_time','late','overdue','supplements','refusals','extensions','forwarded','withdrawn','on_time_rate'])"
}
#                                                  dos ev fin ea ot la ov su re ex fw wd rate
assert_eq "$(figs 'd["units"][0]')"                "10 30 5 3 1 1 3 1 1 1 1 1 0.8" "unit A"
assert_eq "$(json_get all.json 'd["units"][0]["name"]')" "$A_NAME" "unit name from its certificate"
assert_eq "$(json_get all.json 'len(d["units"])')" 1 "one unit"
assert_eq "$(figs 'd["months"][0]')"               "8 26 4 2 1 1 2 1 1 1 1 1 0.75" "March"
assert_eq "$(figs 'd["months"][1]')"               "2 4 1 1 0 0 1 0 0 0 0 0 1.0" "April"
assert_eq "$(json_get all.json '[m["month"] for m in d["months"]]')" '["2026-03", "2026-04"]' "months"
assert_eq "$(figs 'd["procedures"][0]')"           "8 26 4 2 1 1 2 1 1 1 1 1 0.75" "procedure 1.001193"
assert_eq "$(figs 'd["procedures"][1]')"           "2 4 1 1 0 0 1 0 0 0 0 0 1.0" "procedure 2.000001"
assert_eq "$(json_get all.json 'd["procedures"][1]["name"]')" "$P2_NAME" "procedure name"
assert_eq "$(json_get all.json 'len(d["rows"])')" 2 "unit x procedure x month rows"
assert_eq "$(json_get all.json '[(r["unit"], r["procedure"], r["month"], r["unit_name"]) for r in d["rows"]]')" \
  "[[\"$A\", \"1.001193\", \"2026-03\", \"Xã \\\"Tân Lập\\\", Vũ Thư\"], [\"$A\", \"2.000001\", \"2026-04\", \"Xã \\\"Tân Lập\\\", Vũ Thư\"]]" "rows"
# SPEC §4's fields are all there; a laptop's report has no devices.
assert_eq "$(json_get all.json 'all(k in u for t, key in [("units","unit"),("procedures","procedure"),("months","month")] for u in d[t] for k in [key,"dossiers","events","finished","early","on_time","late","overdue","supplements","extensions"])')" true "SPEC fields"
assert_eq "$(json_get all.json '"devices" in d')" false "devices without --data"
assert_eq "$(json_get all.json 'd["to"]')" "2026-04-03T09:00:00+07:00" "as of now"

# A range: only what was received in it, overdue judged at its end.
expect_ok $HOSO report --db a.db --json --to 2026-03-31
cp "$OUT" march.json
assert_eq "$(json_get march.json 'len(d["units"]) == 1 and d["units"][0]["dossiers"] == 8 and d["units"][0]["overdue"] == 2')" true "--to 2026-03-31"
expect_ok $HOSO report --db a.db --json --from 2026-04-01 --to 2026-04-01
cp "$OUT" apr1.json
# On the evening of 1 April the second April dossier is not yet due.
assert_eq "$(json_get apr1.json '[d["units"][0][k] for k in ["dossiers","finished","early","overdue"]]')" "[2, 1, 1, 0]" "1 April"
# As of 4 March (before the due day), nothing of March is overdue yet and
# the dossier delivered on the 5th was not finished then.
expect_ok $HOSO report --db a.db --json --to 2026-03-04
cp "$OUT" mar4.json
assert_eq "$(json_get mar4.json '[d["units"][0][k] for k in ["dossiers","finished","overdue"]]')" "[8, 2, 0]" "as of 4 March"

# At the evening of the due day (5 March): the dossier delivered late on the
# 6th was still open then and past due (judged against its due time, as its
# timeliness is); so is the forwarded one; the extended one is not.
expect_ok $HOSO report --db a.db --json --to 2026-03-05
cp "$OUT" mar5.json
assert_eq "$(json_get mar5.json '[d["units"][0][k] for k in ["dossiers","finished","early","on_time","late","overdue"]]')" "[8, 3, 2, 1, 0, 2]" "as of 5 March"

# CSV: a byte order mark for spreadsheets, CRLF, quotes doubled, the header
# the JSON keys.
expect_ok $HOSO report --db a.db --format csv --table units
printf '\xef\xbb\xbfunit,name,dossiers,events,finished,early,on_time,late,overdue,supplements,refusals,extensions,forwarded,withdrawn,on_time_rate\r\n%s,"Xã ""Tân Lập"", Vũ Thư",10,30,5,3,1,1,3,1,1,1,1,1,0.8\r\n' $A >want.csv
cmp "$OUT" want.csv || { od -c "$OUT" | head -20; fail "units CSV differs from the hand-written one"; }
# The default table is the full breakdown; a CSV reader gets the names back.
expect_ok $HOSO report --db a.db --format csv
python3 - "$OUT" "$A_NAME" "$P2_NAME" <<'PY' || fail "rows CSV does not read back"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8-sig", newline="")))
assert [r["procedure"] for r in rows] == ["1.001193", "2.000001"], rows
assert all(r["unit_name"] == sys.argv[2] for r in rows), rows
assert rows[1]["dossiers"] == "2" and rows[1]["overdue"] == "1" and rows[0]["late"] == "1", rows
PY
expect_ok $HOSO report --db a.db --format csv --table procedures --no-bom
python3 - "$OUT" "$P2_NAME" <<'PY' || fail "procedures CSV"
import csv, sys
data = open(sys.argv[1], "rb").read()
assert not data.startswith(b"\xef\xbb\xbf"), "--no-bom wrote a BOM"
rows = list(csv.DictReader(data.decode("utf-8").splitlines()))
assert rows[1]["name"] == sys.argv[2], rows
PY
# One file per table.
expect_ok $HOSO report --db a.db --format csv --out-dir csv
for t in units procedures months rows; do
  assert_present csv/$t.csv
  [[ $(head -c 3 csv/$t.csv | od -An -tx1 | tr -d ' ') == efbbbf ]] || fail "csv/$t.csv has no BOM"
done
assert_absent csv/devices.csv
assert_eq "$(wc -l <"$OUT")" 4 "--out-dir lists the files it wrote"

# The text table: names and figures, Vietnamese titles under a Vietnamese locale.
expect_ok $HOSO report --db a.db
grep -q "By unit" "$OUT" || fail_with_output "table: no unit section"
grep -q "Tân Lập" "$OUT" || fail_with_output "table: no unit name"
grep -Eq "^$A +Xã \"Tân Lập\", Vũ Thư +10 +30 +5 +3 +1 +1 +3 " "$OUT" || fail_with_output "table: unit row"
LANG=vi_VN.UTF-8 expect_ok $HOSO report --db a.db
grep -q "Theo đơn vị" "$OUT" && grep -q "đúng hạn" "$OUT" || fail_with_output "Vietnamese table"

# Bad flags: one clear line each.
expect_fail 2 $HOSO report --db a.db --format xml
error_says "--format"
expect_fail 2 $HOSO report --db a.db --format csv --table nope
error_says "nope"
expect_fail 8 $HOSO report --db a.db --format csv --table devices
error_says "devices"
expect_fail 2 $HOSO report --db a.db --json --format csv
expect_fail 2 $HOSO report --db a.db --out-dir x
expect_fail 2 $HOSO report --db a.db --from 2026-13-01
[[ -n ${REPORT_KEEP:-} ]] && cp a.db "$REPORT_KEEP"
echo "report: ok"
