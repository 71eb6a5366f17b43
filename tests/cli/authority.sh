#!/usr/bin/env bash
# The province root through the real binary: --version and help, key new,
# authority init|certify|sign|revoke with their outputs and every kind of
# refusal (exit code, one line on stderr, no output file), passphrases, and
# `hoso demo` leaving nothing behind.
set -euo pipefail
HOSO=${1:?usage: authority.sh path/to/hoso}
HOSO=$(cd "$(dirname "$HOSO")" && pwd)/$(basename "$HOSO")
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
setup_workdir

export HOSO_PASSPHRASE=correct-horse-battery
export HOSO_NOW=2026-03-05T09:00:00+07:00
NOW_EPOCH=1772676000 # HOSO_NOW in Unix seconds
P=000.00.00.H12      # the province
A=000.00.31.H12      # a commune
HEX64='^[0-9a-f]{64}$'

# ---------------------------------------------------------------------------
# Version and help
# ---------------------------------------------------------------------------
expect_ok "$HOSO" --version
assert_match "$(cat "$OUT")" '^hoso [0-9]+\.[0-9]+\.[0-9]+$' "--version"

expect_ok "$HOSO" --help
for c in key authority demo; do
  grep -q "^  $c " "$OUT" || fail "--help does not list $c"
done
for c in "key new" "authority init" "authority certify" "authority sign" "authority revoke" "demo"; do
  # shellcheck disable=SC2086
  expect_ok "$HOSO" $c --help
  grep -q -- "--json" "$OUT" || fail "$c --help does not mention --json"
done
expect_ok "$HOSO" authority certify --help
for opt in --dir --pub --kind --name --unit --parent --roles --slot --days --out --passphrase-file; do
  grep -q -- "$opt" "$OUT" || fail "authority certify --help does not mention $opt"
done
expect_ok "$HOSO" key new --help
grep -q -- "--kdf" "$OUT" || fail "key new --help does not mention --kdf"
expect_ok "$HOSO" authority --help
for c in init certify sign revoke; do grep -q "^  $c " "$OUT" || fail "authority --help does not list $c"; done

expect_fail 2 "$HOSO"
expect_fail 2 "$HOSO" frobnicate
expect_fail 2 "$HOSO" authority
expect_fail 2 "$HOSO" key
expect_fail 2 "$HOSO" key new
error_says "--out"
expect_fail 2 "$HOSO" key new --out x.key --kdf interactive --bogus
error_says "--bogus"
assert_absent x.key x.key.pub

# ---------------------------------------------------------------------------
# key new
# ---------------------------------------------------------------------------
NAME="Nguyễn Văn A"
expect_ok "$HOSO" key new --out officer.key --name "$NAME" --kdf interactive
grep -q "officer.key" "$OUT" || fail "key new does not say what it made"
assert_present officer.key officer.key.pub
assert_eq "$(stat -c %a officer.key)" 600 "secret key file mode"
# PROTOCOL §6.1: magic, argon2id, interactive parameters, 175 + name bytes
assert_eq "$(head -c 8 officer.key | od -An -tx1 | tr -d ' \n')" 484f534f4b455901 "key file magic"
assert_eq "$(head -c 21 officer.key | tail -c 13 | od -An -tx1 | tr -d ' \n')" 01000000020000000004000000 "kdf id and parameters"
assert_eq "$(stat -c %s officer.key)" $((175 + $(printf %s "$NAME" | wc -c))) "key file size"
if grep -q "$NAME" officer.key.pub; then :; else fail "the .pub file does not carry the name"; fi
assert_eq "$(json_get officer.key.pub 'd["format"]')" hoso-public-key-v1 "public key format"
assert_eq "$(json_get officer.key.pub 'd["name"]')" "$NAME" "public key name"
OFFICER_PUB=$(json_get officer.key.pub 'd["pub"]')
assert_match "$OFFICER_PUB" "$HEX64" "public key"
assert_eq "$(tail -c 1 officer.key.pub | od -An -tx1 | tr -d ' ')" 0a "public key file ends with a newline"

expect_ok "$HOSO" key new --out device.key --kdf interactive --json
assert_eq "$(json_get "$OUT" 'd["key"]')" device.key "key new --json key"
assert_eq "$(json_get "$OUT" 'd["pub"]')" device.key.pub "key new --json pub"
assert_match "$(json_get "$OUT" 'd["public_key"]')" "$HEX64" "key new --json public_key"
assert_match "$(json_get "$OUT" 'd["fingerprint"]')" '^[0-9a-f]{16}$' "key new --json fingerprint"
assert_eq "$(json_get "$OUT" 'd["public_key"]')" "$(json_get device.key.pub 'd["pub"]')" "--json key matches the .pub"
expect_ok "$HOSO" key new --out server.key --name "Máy chủ tỉnh" --kdf interactive
expect_ok "$HOSO" key new --out spare.key --kdf interactive

# never overwrites a key
cp officer.key officer.key.orig
cp officer.key.pub officer.key.pub.orig
expect_fail 14 "$HOSO" key new --out officer.key --kdf interactive
error_says "officer.key"
error_says "already exists"
cmp -s officer.key officer.key.orig || fail "key new replaced an existing key"
cmp -s officer.key.pub officer.key.pub.orig || fail "key new replaced an existing .pub"
rm officer.key.orig officer.key.pub.orig

expect_fail 2 "$HOSO" key new --out k1.key --kdf fast
error_says "--kdf"
HOSO_PASSPHRASE= expect_fail 2 "$HOSO" key new --out k2.key --kdf interactive
error_says "empty passphrase"
expect_fail 8 "$HOSO" key new --out no/such/dir/k3.key --kdf interactive
assert_absent k1.key k1.key.pub k2.key k2.key.pub no

# ---------------------------------------------------------------------------
# authority init
# ---------------------------------------------------------------------------
expect_ok "$HOSO" authority init --dir prov --name "Tỉnh Thử" --kdf interactive
assert_present prov/root.key prov/root.pub
[[ -d prov/issued ]] || fail "authority init made no issued/ folder"
assert_eq "$(stat -c %a prov/root.key)" 600 "root key mode"
assert_eq "$(count_files prov/issued)" 0 "issued/ starts empty"
ROOT_PUB=$(json_get prov/root.pub 'd["pub"]')
assert_eq "$(json_get prov/root.pub 'd["name"]')" "Tỉnh Thử" "root name"

expect_ok "$HOSO" authority init --dir other --name "Tỉnh Khác" --kdf interactive --json
for k in dir key pub public_key fingerprint; do
  json_get "$OUT" "d[\"$k\"]" >/dev/null || fail "authority init --json lacks $k"
done
assert_eq "$(json_get "$OUT" 'd["key"]')" other/root.key "init --json key"
assert_eq "$(json_get "$OUT" 'd["public_key"]')" "$(json_get other/root.pub 'd["pub"]')" "init --json public_key"

cp prov/root.key root.key.orig
expect_fail 14 "$HOSO" authority init --dir prov --name "Again" --kdf interactive
error_says "already exists"
cmp -s prov/root.key root.key.orig || fail "authority init replaced a root key"
expect_fail 2 "$HOSO" authority init --dir prov3 --name "" --kdf interactive
error_says "--name"
expect_fail 2 "$HOSO" authority init --dir prov3 --kdf interactive
expect_fail 2 "$HOSO" authority init --dir prov3 --name X --kdf slow
assert_absent prov3
touch plainfile
expect_fail 12 "$HOSO" authority init --dir plainfile/prov --name X --kdf interactive

# ---------------------------------------------------------------------------
# authority certify: every kind
# ---------------------------------------------------------------------------
expect_ok "$HOSO" authority certify --dir prov --kind unit --name "UBND tỉnh" --unit $P --out p.cert
expect_ok "$HOSO" authority certify --dir prov --kind unit --name "UBND xã A" --unit $A --parent $P --out a.cert --json
assert_eq "$(json_get "$OUT" 'd["kind"]')" unit "unit --json kind"
assert_eq "$(json_get "$OUT" 'd["name"]')" "UBND xã A" "unit --json name"
assert_eq "$(json_get "$OUT" 'd["unit"]')" $A "unit --json unit"
assert_eq "$(json_get "$OUT" 'd["out"]')" a.cert "unit --json out"
assert_eq "$(json_get "$OUT" 'd["not_after"]')" 2031-03-04T09:00:00+07:00 "unit --json not_after (1825 days)"
A_ID=$(json_get "$OUT" 'd["id"]')
assert_match "$A_ID" "$HEX64" "unit --json id"
assert_eq "$(item_id a.cert)" "$A_ID" "the id is BLAKE2b-256 of the envelope"
assert_eq "$(wc -l <a.cert)" 1 "a certificate file is one line"
assert_eq "$(json_get a.cert 'd["type"]')" cert "unit envelope type"
assert_eq "$(json_get a.cert 'd["body"]["parent"]')" $P "unit parent"
assert_eq "$(json_get a.cert 'd["body"]["issuer"]')" "$ROOT_PUB" "unit issuer"
assert_eq "$(json_get a.cert 'd["body"]["issued_at"]')" $NOW_EPOCH "issued at HOSO_NOW"
assert_eq "$(json_get a.cert '"pub" in d["body"]')" false "a unit without --pub has no key"
cmp -s a.cert "prov/issued/$A_ID.cert" || fail "the root keeps no copy of the certificate in issued/"

expect_ok "$HOSO" authority certify --dir prov --pub officer.key.pub --kind officer --name "$NAME" --unit $A \
  --roles "specialist, receiver" --days 30 --out officer.cert --json
assert_eq "$(json_get "$OUT" 'd["kind"]')" officer "officer --json kind"
assert_eq "$(json_get "$OUT" 'd["not_after"]')" 2026-04-04T09:00:00+07:00 "officer --json not_after (30 days)"
assert_eq "$(json_get "$OUT" 'd["id"]')" "$(item_id officer.cert)" "officer --json id"
assert_eq "$(json_get officer.cert 'd["body"]["roles"]')" '["receiver", "specialist"]' "officer roles, trimmed and sorted"
assert_eq "$(json_get officer.cert 'd["body"]["pub"]')" "$OFFICER_PUB" "officer pub"
assert_eq "$(json_get officer.cert 'd["body"]["not_after"] - d["body"]["issued_at"]')" $((30 * 86400)) "officer validity"

expect_ok "$HOSO" authority certify --dir prov --pub device.key.pub --kind device --name "Máy bàn 1" --unit $A \
  --slot 1 --out device.cert --json
assert_eq "$(json_get "$OUT" 'd["kind"]')" device "device --json kind"
assert_eq "$(json_get device.cert 'd["body"]["slot"]')" 1 "device slot"
assert_eq "$(json_get device.cert '"roles" in d["body"]')" false "a device has no roles"
expect_ok "$HOSO" authority certify --dir prov --pub device.key.pub --kind device --name "Máy bàn 0" --unit $A \
  --slot 0 --out device0.cert
assert_eq "$(json_get device0.cert 'd["body"]["slot"]')" 0 "device slot 0"

expect_ok "$HOSO" authority certify --dir prov --pub server.key.pub --kind server --name "Máy chủ tỉnh" --unit $P \
  --out server.cert --json
assert_eq "$(json_get "$OUT" 'd["kind"]')" server "server --json kind"
assert_eq "$(json_get server.cert 'd["body"]["kind"]')" server "server body kind"

# plain output names what was certified
expect_ok "$HOSO" authority certify --dir prov --kind unit --name "UBND xã B" --unit 000.00.32.H12 --parent $P --out b.cert
grep -q 'unit "UBND xã B"' "$OUT" || fail "certify does not say what it certified"
grep -q "2031-03-04T09:00:00+07:00" "$OUT" || fail "certify does not say until when"

# ---------------------------------------------------------------------------
# authority certify: refusals — exit code, one line, no --out, nothing issued
# ---------------------------------------------------------------------------
ISSUED=$(count_files prov/issued)
certify_fails() { # CODE TEXT args...: certify into bad.cert must fail with CODE, naming TEXT
  local code=$1 text=$2
  shift 2
  expect_fail "$code" "$HOSO" authority certify --dir prov "$@" --out bad.cert
  error_says "$text"
  assert_absent bad.cert
}
certify_fails 2 "--pub is required" --kind officer --name X --unit $A --roles receiver
certify_fails 2 "--pub is required" --kind device --name X --unit $A --slot 1
certify_fails 2 "--pub is required" --kind server --name X --unit $P
certify_fails 2 "--slot must be between 0 and 9" --pub device.key.pub --kind device --name X --unit $A --slot 10
certify_fails 2 "--slot must be between 0 and 9" --pub device.key.pub --kind device --name X --unit $A --slot -1
certify_fails 2 "--slot" --pub device.key.pub --kind device --name X --unit $A --slot abc
certify_fails 2 "--slot is required" --pub device.key.pub --kind device --name X --unit $A
certify_fails 2 "--slot is only for --kind device" --pub officer.key.pub --kind officer --name X --unit $A --roles receiver --slot 1
certify_fails 2 "--roles is only for --kind officer" --pub device.key.pub --kind device --name X --unit $A --slot 1 --roles receiver
certify_fails 2 "--roles is only for --kind officer" --kind unit --name X --unit 000.00.33.H12 --roles leader
certify_fails 2 "--roles is required" --pub officer.key.pub --kind officer --name X --unit $A
certify_fails 2 "--roles is required" --pub officer.key.pub --kind officer --name X --unit $A --roles " , "
certify_fails 2 '"Leader"' --pub officer.key.pub --kind officer --name X --unit $A --roles receiver,Leader
certify_fails 2 "--parent is only for --kind unit" --pub officer.key.pub --kind officer --name X --unit $A --roles receiver --parent $P
certify_fails 2 "--parent must differ" --kind unit --name X --unit $A --parent $A
certify_fails 2 "--parent" --kind unit --name X --unit 000.00.33.H12 --parent ""
certify_fails 2 "--parent" --kind unit --name X --unit 000.00.33.H12 --parent "a-b"
certify_fails 2 "--unit" --pub officer.key.pub --kind officer --name X --unit "000-31" --roles receiver
certify_fails 2 "--unit" --kind unit --name X --unit ""
certify_fails 2 "--name" --kind unit --name "" --unit 000.00.33.H12
certify_fails 2 "--days" --kind unit --name X --unit 000.00.33.H12 --days 0
certify_fails 2 "--days" --kind unit --name X --unit 000.00.33.H12 --days 36501
certify_fails 2 "unknown certificate kind \"mayor\"" --pub officer.key.pub --kind mayor --name X --unit $A
certify_fails 2 "--kind" --pub officer.key.pub --name X --unit $A --roles receiver
certify_fails 8 "nope.pub" --pub nope.pub --kind officer --name X --unit $A --roles receiver
certify_fails 4 "officer.key" --pub officer.key --kind officer --name X --unit $A --roles receiver
certify_fails 4 "format" --pub a.cert --kind officer --name X --unit $A --roles receiver
expect_fail 2 "$HOSO" authority certify --dir prov --kind unit --name X --unit 000.00.33.H12
error_says "--out"
expect_fail 8 "$HOSO" authority certify --dir nowhere --kind unit --name X --unit 000.00.33.H12 --out bad.cert
error_says "nowhere/root.key"
assert_absent bad.cert

# passphrases
HOSO_PASSPHRASE=wrong certify_fails 6 "wrong passphrase" --kind unit --name X --unit 000.00.33.H12
HOSO_PASSPHRASE= certify_fails 2 "empty passphrase" --kind unit --name X --unit 000.00.33.H12
HOSO_NOW=yesterday certify_fails 2 "HOSO_NOW" --kind unit --name X --unit 000.00.33.H12
if command -v setsid >/dev/null; then
  # no passphrase anywhere and no terminal to ask on
  expect_fail 2 env -u HOSO_PASSPHRASE setsid -w "$HOSO" authority certify --dir prov --kind unit --name X \
    --unit 000.00.33.H12 --out bad.cert </dev/null
  error_says "HOSO_PASSPHRASE"
  assert_absent bad.cert
fi
printf '%s\n' "$HOSO_PASSPHRASE" >pass.txt
printf 'wrong\n' >wrong.txt
: >empty.txt
expect_ok env -u HOSO_PASSPHRASE "$HOSO" authority certify --dir prov --kind unit --name "Xã C" --unit 000.00.33.H12 \
  --parent $P --passphrase-file pass.txt --out c.cert
assert_present c.cert
printf '%s\r\n\n' "$HOSO_PASSPHRASE" >pass-crlf.txt
expect_ok env -u HOSO_PASSPHRASE "$HOSO" authority certify --dir prov --kind unit --name "Xã D" --unit 000.00.34.H12 \
  --passphrase-file pass-crlf.txt --out d.cert
# the file wins over the environment
HOSO_PASSPHRASE=wrong expect_ok "$HOSO" authority certify --dir prov --kind unit --name "Xã E" --unit 000.00.35.H12 \
  --passphrase-file pass.txt --out e.cert
ISSUED=$((ISSUED + 3))
certify_fails 6 "wrong passphrase" --kind unit --name X --unit 000.00.33.H12 --passphrase-file wrong.txt
certify_fails 2 "empty passphrase" --kind unit --name X --unit 000.00.33.H12 --passphrase-file empty.txt
certify_fails 8 "--passphrase-file" --kind unit --name X --unit 000.00.33.H12 --passphrase-file missing.txt

# a damaged root key: exit 7, told apart from a wrong passphrase
cp -r prov damaged
python3 -c "
import sys
b = bytearray(open('damaged/root.key', 'rb').read()); b[40] ^= 1
open('damaged/root.key', 'wb').write(b)"
expect_fail 7 "$HOSO" authority certify --dir damaged --kind unit --name X --unit 000.00.33.H12 --out bad.cert
error_says "damaged"
HOSO_PASSPHRASE=wrong expect_fail 7 "$HOSO" authority certify --dir damaged --kind unit --name X --unit 000.00.33.H12 --out bad.cert
head -c 100 prov/root.key >damaged/root.key
expect_fail 7 "$HOSO" authority certify --dir damaged --kind unit --name X --unit 000.00.33.H12 --out bad.cert
: >damaged/root.key
expect_fail 7 "$HOSO" authority certify --dir damaged --kind unit --name X --unit 000.00.33.H12 --out bad.cert
assert_absent bad.cert
rm -rf damaged
assert_eq "$(count_files prov/issued)" "$ISSUED" "refused certifications leave nothing in issued/"

# ---------------------------------------------------------------------------
# authority sign
# ---------------------------------------------------------------------------
cat >proc.json <<'J'
{ "kind": "procedure", "code": "1.001193", "version": 1, "name": "Đăng ký khai sinh",
  "total_working_days": 3, "start": "receive",
  "fields": [{"name": "cccd", "label": "Số CCCD", "type": "text", "required": true}],
  "steps": {
    "receive": {"role": "receiver",   "hours": 4, "actions": {"accept": "review", "request_supplement": "receive", "reject": "@rejected"}},
    "review":  {"role": "specialist", "hours": 8, "actions": {"approve": "sign", "send_back": "receive", "forward": "province_review"}},
    "province_review": {"role": "specialist", "unit": "parent", "hours": 16, "actions": {"approve": "sign", "send_back": "review"}},
    "sign":    {"role": "leader",     "hours": 4, "actions": {"approve": "deliver", "send_back": "review"}},
    "deliver": {"role": "receiver",   "actions": {"deliver": "@done"}} } }
J
cat >cal.json <<'J'
{ "kind": "calendar", "year": 2026, "utc_offset": "+07:00",
  "office_hours": [["07:00", "11:30"], ["13:30", "17:00"]], "cutoff": "15:00",
  "weekend": ["sat", "sun"], "holidays": ["2026-01-01", "2026-02-16"],
  "working_days": ["2026-01-03"] }
J
expect_ok "$HOSO" authority sign --dir prov --in proc.json --out proc.signed
grep -q "1.001193" "$OUT" || fail "sign does not name the procedure"
assert_eq "$(wc -l <proc.signed)" 1 "a signed procedure is one line"
assert_eq "$(json_get proc.signed 'd["type"]')" procedure "procedure envelope type"
assert_eq "$(json_get proc.signed 'd["body"]["signed_at"]')" $NOW_EPOCH "procedure signed_at"
assert_eq "$(json_get proc.signed 'd["body"]["issuer"]')" "$ROOT_PUB" "procedure issuer"
assert_eq "$(json_get proc.signed 'd["body"]["document"] == json.load(open("proc.json"))')" true "the document is signed whole"
expect_ok "$HOSO" authority sign --dir prov --in cal.json --out cal.signed --json
assert_eq "$(json_get "$OUT" 'd["kind"]')" calendar "sign --json kind"
assert_eq "$(json_get "$OUT" 'd["out"]')" cal.signed "sign --json out"
assert_eq "$(json_get "$OUT" 'd["id"]')" "$(item_id cal.signed)" "sign --json id"
assert_eq "$(json_get cal.signed 'd["type"]')" calendar "calendar envelope type"
assert_eq "$(json_get cal.signed 'd["body"]["document"] == json.load(open("cal.json"))')" true "the calendar is signed whole"
[[ -f prov/issued/$(item_id cal.signed).calendar ]] || fail "the root keeps no copy of the calendar"
# extensions (x_ keys) are allowed
python3 -c "
import json
d = json.load(open('proc.json')); d['x_note'] = 'thử'
json.dump(d, open('proc-ext.json', 'w'), ensure_ascii=False)"
expect_ok "$HOSO" authority sign --dir prov --in proc-ext.json --out proc-ext.signed

# broken documents: exit 4, the error names the key, nothing written
mutate() { # IN OUT PYTHON: writes OUT from IN's JSON `d` changed by PYTHON
  python3 -c "
import json
d = json.load(open('$1'))
$3
json.dump(d, open('$2', 'w'), ensure_ascii=False)"
}
sign_fails() { # CODE FILE TEXT
  expect_fail "$1" "$HOSO" authority sign --dir prov --in "$2" --out bad.signed
  error_says "$3"
  error_says "$2"
  assert_absent bad.signed
}
mutate proc.json p1.json "del d['total_working_days']"
sign_fails 4 p1.json total_working_days
mutate proc.json p2.json "d['version'] = '1'"
sign_fails 4 p2.json version
mutate proc.json p3.json "d['colour'] = 'red'"
sign_fails 4 p3.json colour
mutate proc.json p4.json "d['steps']['review']['hourz'] = 8"
sign_fails 4 p4.json hourz
mutate proc.json p5.json "del d['start']"
sign_fails 4 p5.json start
mutate proc.json p6.json "d['steps']['sign']['actions']['approve'] = 'nowhere'"
sign_fails 4 p6.json nowhere
mutate proc.json p7.json "d['fields'][0]['type'] = 5"
sign_fails 4 p7.json type
mutate cal.json c1.json "del d['cutoff']"
sign_fails 4 c1.json cutoff
mutate cal.json c2.json "d['year'] = '2026'"
sign_fails 4 c2.json year
mutate cal.json c3.json "d['timezone'] = 'ICT'"
sign_fails 4 c3.json timezone
mutate cal.json c4.json "d['holidays'] = '2026-01-01'"
sign_fails 4 c4.json holidays
mutate cal.json c5.json "d['kind'] = 'holiday'"
sign_fails 4 c5.json kind
mutate cal.json c6.json "del d['kind']"
sign_fails 4 c6.json kind
printf '{"kind":"calendar","year":2026,"year":2027}' >dup.json
sign_fails 4 dup.json 'duplicate key "year"'
printf '{"kind":"calendar","year":2026.0}' >float.json
sign_fails 4 float.json integers
printf 'not json' >garbage.json
sign_fails 4 garbage.json "invalid JSON"
printf '[1, 2]' >array.json
sign_fails 4 array.json kind
# a document the reader would refuse (nested too deep for an envelope) is not signed
mutate cal.json deep.json "
v = 1
for _ in range(30): v = [v]
d['x_deep'] = v"
sign_fails 4 deep.json "nested deeper"
expect_fail 8 "$HOSO" authority sign --dir prov --in missing.json --out bad.signed
assert_absent bad.signed
HOSO_PASSPHRASE=wrong expect_fail 6 "$HOSO" authority sign --dir prov --in cal.json --out bad.signed
assert_absent bad.signed

# ---------------------------------------------------------------------------
# authority revoke
# ---------------------------------------------------------------------------
DEVICE_ID=$(item_id device.cert)
expect_ok "$HOSO" authority revoke --dir prov --cert device.cert --reason "Mất máy" --out device.rev --json
assert_eq "$(json_get "$OUT" 'd["cert"]')" "$DEVICE_ID" "revoke --json cert"
assert_eq "$(json_get "$OUT" 'd["effective"]')" 2026-03-05T09:00:00+07:00 "revoke --json effective (default: now)"
assert_eq "$(json_get "$OUT" 'd["out"]')" device.rev "revoke --json out"
assert_eq "$(json_get "$OUT" 'd["id"]')" "$(item_id device.rev)" "revoke --json id"
assert_eq "$(json_get device.rev 'd["type"]')" revocation "revocation envelope type"
assert_eq "$(json_get device.rev 'd["body"]["cert"]')" "$DEVICE_ID" "revocation names the certificate id"
assert_eq "$(json_get device.rev 'd["body"]["reason"]')" "Mất máy" "revocation reason"
assert_eq "$(json_get device.rev 'd["body"]["effective_at"]')" $NOW_EPOCH "revocation effective_at"
assert_eq "$(json_get device.rev 'd["body"]["issued_at"]')" $NOW_EPOCH "revocation issued_at"
[[ -f prov/issued/$(item_id device.rev).revocation ]] || fail "the root keeps no copy of the revocation"
# deterministic under HOSO_NOW: the same revocation, byte for byte
expect_ok "$HOSO" authority revoke --dir prov --cert device.cert --reason "Mất máy" --out device-again.rev
cmp -s device.rev device-again.rev || fail "the same revocation at the same HOSO_NOW differs"
grep -q 'device "Máy bàn 1"' "$OUT" || fail "revoke does not say what it revoked"

expect_ok "$HOSO" authority revoke --dir prov --cert officer.cert --reason "Nghỉ việc" \
  --effective 2026-03-06T08:00:00+07:00 --out officer.rev --json
assert_eq "$(json_get "$OUT" 'd["effective"]')" 2026-03-06T08:00:00+07:00 "revoke --json effective"
assert_eq "$(json_get officer.rev 'd["body"]["effective_at"]')" 1772758800 "--effective in Unix seconds"
assert_eq "$(json_get officer.rev 'd["body"]["issued_at"]')" $NOW_EPOCH "issued at HOSO_NOW"
expect_ok "$HOSO" authority revoke --dir prov --cert officer.cert --reason "Nghỉ việc" \
  --effective 2026-03-05T02:00:00Z --out officer-z.rev
assert_eq "$(json_get officer-z.rev 'd["body"]["effective_at"]')" $NOW_EPOCH "--effective in UTC"

revoke_fails() { # CODE TEXT args...
  local code=$1 text=$2
  shift 2
  expect_fail "$code" "$HOSO" authority revoke --dir prov "$@" --out bad.rev
  error_says "$text"
  assert_absent bad.rev
}
revoke_fails 2 "never retroactive" --cert officer.cert --reason x --effective 2026-03-05T08:59:59+07:00
error_says "2026-03-05T08:59:59+07:00 is before now (2026-03-05T09:00:00+07:00)"
# told before any passphrase is needed
HOSO_PASSPHRASE=wrong revoke_fails 2 "never retroactive" --cert officer.cert --reason x --effective 2026-03-04T09:00:00+07:00
revoke_fails 2 "--effective" --cert officer.cert --reason x --effective yesterday
revoke_fails 2 "--effective" --cert officer.cert --reason x --effective 2026-03-06T08:00:00
revoke_fails 2 "--reason" --cert officer.cert --reason ""
revoke_fails 2 "--reason" --cert officer.cert
revoke_fails 8 "missing.cert" --cert missing.cert --reason x
revoke_fails 4 "not a certificate" --cert cal.signed --reason x
revoke_fails 4 "officer.key.pub" --cert officer.key.pub --reason x
HOSO_PASSPHRASE=wrong revoke_fails 6 "wrong passphrase" --cert officer.cert --reason x
# a certificate of another root
expect_ok "$HOSO" authority certify --dir other --kind unit --name "Xã lạ" --unit 000.00.99.H99 --out foreign.cert
revoke_fails 9 "another root" --cert foreign.cert --reason x
# a changed byte in the certificate
python3 -c "
t = open('officer.cert', encoding='utf-8').read()
open('tampered.cert', 'w', encoding='utf-8').write(t.replace('\"kind\":\"officer\"', '\"kind\":\"officeR\"'))"
cmp -s officer.cert tampered.cert && fail "the tampering did not change the certificate"
revoke_fails 5 "bad root signature" --cert tampered.cert --reason x

# ---------------------------------------------------------------------------
# hoso demo: exits 0 and leaves nothing in TMPDIR
# ---------------------------------------------------------------------------
mkdir demo-tmp
expect_ok env -u HOSO_NOW -u HOSO_PASSPHRASE TMPDIR="$WORK/demo-tmp" "$HOSO" demo
grep -q "All checks passed" "$OUT" || fail "demo does not report its final verification"
assert_eq "$(count_files demo-tmp)" 0 "demo leaves nothing in TMPDIR"
expect_ok env -u HOSO_NOW -u HOSO_PASSPHRASE TMPDIR="$WORK/demo-tmp" "$HOSO" demo --json
assert_eq "$(json_get "$OUT" 'd["ok"]')" true "demo --json ok"
assert_eq "$(count_files demo-tmp)" 0 "demo --json leaves nothing in TMPDIR"

echo "authority.sh: all checks passed"
