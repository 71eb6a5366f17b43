#!/usr/bin/env bash
# Real `hoso serve` and `hoso sync` processes on loopback: a province with two
# communes (A, B) and three laptops (A1, A2 of A; B1 of B). A1 and B1 sign
# SYNC_EVENTS events (SYNC_ATTACH_KB of attachments in all) and sync through
# hoso_proxy (cuts every 20-200 KB, part of it at 8000 B/s) until caught up;
# A2 then pulls commune A exactly (and nothing of B); the server holds every
# event exactly once; a replay changes nothing; a server restored from an
# older copy gets every event back from the laptops.
#
#   SYNC_EVENTS=300 SYNC_ATTACH_KB=2048 bash tests/cli/sync.sh build/hoso
set -euo pipefail
HOSO=${1:?usage: sync.sh path/to/hoso}
HOSO=$(cd "$(dirname "$HOSO")" && pwd)/$(basename "$HOSO")
PROXY=$(dirname "$HOSO")/tests/proxy/hoso_proxy
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
source "$(dirname "${BASH_SOURCE[0]}")/sync_lib.bash"
[[ -x $PROXY ]] || fail "hoso_proxy not built at $PROXY"

EVENTS=${SYNC_EVENTS:-300}
ATTACH_KB=${SYNC_ATTACH_KB:-2048}
# No attachment is larger than this: hoso sends an attachment in chunks of
# 256 KiB that only count once whole, so over a link cut every 20-200 KB an
# attachment near 256 KB never gets through (SYNC_ATTACH_MAX_KB=256 shows it).
ATTACH_MAX_KB=${SYNC_ATTACH_MAX_KB:-96}
(( EVENTS >= 8 )) || fail "SYNC_EVENTS must be at least 8"
# Attachments in all: a multiple of 4 (laptop A1/B1, first/second half).
NATT=$(( (ATTACH_KB + ATTACH_MAX_KB - 1) / ATTACH_MAX_KB ))
NATT=$(( (NATT + 3) / 4 * 4 ))
export HOSO_PASSPHRASE=test-pass HOSO_NOW=2026-03-02T09:00:00+07:00

setup_sync_workdir
T0=$SECONDS
phase() { printf '[%4ds] %s\n' $((SECONDS - T0)) "$*"; }

# --- 1. The province, its certificates, a server. ---------------------------
P=000.00.00.H12 A=000.00.31.H12 B=000.00.32.H12
q() { "$HOSO" "$@" >/dev/null; }
q authority init --dir prov --name "Tỉnh Test" --kdf interactive
q authority certify --dir prov --kind unit --name "Tỉnh" --unit $P --out p.cert
q authority certify --dir prov --kind unit --name "Xã A" --unit $A --parent $P --out a.cert
q authority certify --dir prov --kind unit --name "Xã B" --unit $B --parent $P --out b.cert
for u in A B; do
  q key new --out off$u.key --kdf interactive
  q authority certify --dir prov --pub off$u.key.pub --kind officer --name "Cán bộ $u" --unit "${!u}" \
    --roles receiver,specialist,leader --out off$u.cert
done
for l in A1:A:1 A2:A:2 B1:B:1; do
  IFS=: read -r n u s <<<"$l"
  q key new --out $n.key --kdf interactive
  q authority certify --dir prov --pub $n.key.pub --kind device --name "Máy $n" --unit "${!u}" --slot "$s" --out $n.cert
done
q key new --out srv.key --kdf interactive
q authority certify --dir prov --pub srv.key.pub --kind server --name "Máy chủ tỉnh" --unit $P --out srv.cert
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
q authority sign --dir prov --in proc.json --out proc.signed
q authority sign --dir prov --in cal.json --out cal.signed

start_server
expect_ok "$HOSO" publish --data srv "${SRV_STORE[@]}" p.cert a.cert b.cert offA.cert offB.cert A1.cert A2.cert B1.cert srv.cert proc.signed cal.signed
phase "province ready, server on port $SRV_PORT"

# --- 2. Laptops: init and a first sync that pulls the certificates. ---------
for n in A1 A2 B1; do
  expect_ok "$HOSO" init --db $n.db --root prov/root.pub --device-key $n.key --device-cert $n.cert --server 127.0.0.1:$SRV_PORT
  sync_direct $n
  assert_eq "$(sync_field pushed)" 0 "$n first sync pushed"
done
# The first sync brought the procedure: a dossier can be received.
phase "laptops initialised"

# make_events DB KEY N NATT TAG: N events over dossiers of 5 steps each
# (receive, accept, approve, approve, deliver), with NATT attachments of
# ATT_BYTES random bytes spread over the dossiers as they are received.
# Writes how many events it signed to TAG.count.
ATT_BYTES=$(( ATTACH_KB * 1024 / NATT ))
make_events() {
  local db=$1 key=$2 n=$3 natt=$4 tag=$5 made=0 d=0 code i
  local acts=(accept approve approve deliver) nd=$(( ($3 + 4) / 5 ))
  while (( made < n )); do
    local att=()
    for ((i = d; i < natt; i += nd)); do
      head -c $ATT_BYTES /dev/urandom > att-$tag-$i.bin
      att+=(--attach att-$tag-$i.bin)
    done
    code=$("$HOSO" receive --db $db --as $key --procedure 1.001193 --applicant "Công dân $tag $d" \
      --field cccd=$RANDOM$d "${att[@]}" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])')
    made=$((made + 1))
    local a
    for a in "${acts[@]}"; do
      (( made < n )) || break
      "$HOSO" act --db $db --as $key "$code" $a >/dev/null
      made=$((made + 1))
    done
    d=$((d + 1))
  done
  echo $made > $tag.count
}
EA=$(( EVENTS / 2 )) EB=$(( EVENTS - EVENTS / 2 ))
EA1=$(( EA / 2 )) EA2=$(( EA - EA / 2 )) EB1=$(( EB / 2 )) EB2=$(( EB - EB / 2 ))

# --- 3. First half: A1 and B1 sign in parallel; A1 syncs through cuts. -------
make_events A1.db offA.key $EA1 $((NATT / 4)) a1h1 & MK1=$!
make_events B1.db offB.key $EB1 $((NATT / 4)) b1h1 & MK2=$!
wait $MK1 || fail "A1 could not sign its first half"
wait $MK2 || fail "B1 could not sign its first half"
phase "first half signed: A1 $(cat a1h1.count), B1 $(cat b1h1.count) events"
assert_eq "$(laptop_own_events A1)" $EA1 "A1 events after the first half"

start_proxy cut --cut-min 20000 --cut-max 200000 --seed 11
sync_until A1 cut
assert_eq "$(sync_field acked)" $EA1 "A1 acked after the first half"
assert_eq "$(server_events_of A1)" $EA1 "server events of A1 after the first half"
phase "A1 first half synced through cuts in $SYNC_TRIES runs"

# The backup, taken with the server stopped.
stop_server
backup_server
start_server
restart_proxies

# --- Second half. --------------------------------------------------------
make_events A1.db offA.key $EA2 $((NATT / 4)) a1h2 & MK1=$!
make_events B1.db offB.key $EB2 $((NATT / 4)) b1h2 & MK2=$!
wait $MK1 || fail "A1 could not sign its second half"
wait $MK2 || fail "B1 could not sign its second half"
assert_eq "$(laptop_own_events A1)" $EA "A1 events"
assert_eq "$(laptop_own_events B1)" $EB "B1 events"
phase "second half signed: A1 $EA, B1 $EB events in all"

# Part of it at 64 kbit/s: a bounded run that may be cut short.
start_proxy slow --cut-min 20000 --cut-max 200000 --rate 8000 --seed 12
for n in A1 B1; do
  rc=0
  timeout 10 "$HOSO" sync --db $n.db --server 127.0.0.1:$(proxy_port slow) --json >"$OUT" 2>"$ERR" || rc=$?
  phase "$n at 8000 B/s for at most 10 s: exit $rc, server holds $(server_events_of $n) of its events"
  [[ $rc == 0 || $rc == 124 || -s $ERR ]] || fail_with_output "sync of $n failed without a word"
  [[ $rc == 0 || $rc == 124 ]] || echo "  $(head -n 1 "$ERR")"
done
for n in A1 B1; do
  sync_until $n cut
  phase "$n synced through cuts in $SYNC_TRIES runs"
done
assert_eq "$(server_events_of A1)" $EA "server events of A1"
assert_eq "$(server_events_of B1)" $EB "server events of B1"
assert_eq "$(last_receipt A1)" $EA "A1's latest receipt"
assert_eq "$(last_receipt B1)" $EB "B1's latest receipt"

# --- A2 pulls commune A, and nothing of B. --------------------------------
sync_direct A2
assert_eq "$(sync_field pushed)" 0 "A2 pushed"
assert_eq "$(list_of A2)" "$(list_of A1)" "A2's dossiers and statuses (A1's)"
assert_eq "$(laptop_sql A2 'SELECT hash FROM events ORDER BY hash')" \
          "$(laptop_sql A1 'SELECT hash FROM events ORDER BY hash')" "A2's events (A1's)"
[[ $(list_of A2) != *"$B-"* ]] || fail "a dossier of commune B reached A2"
[[ $(list_of B1) != *"$A-"* ]] || fail "a dossier of commune A reached B1"
[[ $(laptop_sql A2 "SELECT count(*) FROM events WHERE dossier LIKE '$B%'") == 0 ]] || fail "events of commune B at A2"
check_attachments A2 att-a1h*.bin
check_attachments A1 att-a1h*.bin
check_attachments B1 att-b1h*.bin
[[ $(laptop_sql A2 'SELECT count(*) FROM attachments') == "$(ls att-a1h*.bin | wc -l)" ]] || fail "A2 holds attachments of another commune"
phase "A2 holds commune A: $(list_of A2 | wc -l) dossiers, $(laptop_sql A2 'SELECT count(*) FROM attachments') attachments"

# --- 4. Exactly once, and everything verifies. ----------------------------
check_exactly_once $EVENTS
for n in A1 A2 B1; do
  expect_ok "$HOSO" verify --db $n.db --json
  [[ $(json_get "$OUT" 'd["ok"]') == true ]] || fail_with_output "verify --db $n.db"
done
expect_ok "$HOSO" verify --data srv "${SRV_STORE[@]}" --json
[[ $(json_get "$OUT" 'd["ok"]') == true ]] || fail_with_output "verify --data srv"
assert_eq "$(json_get "$OUT" 'd["checked"]')" $EVENTS "events the server verified"
phase "exactly once: $EVENTS events on the server, all verify"

# --- 5. Replay: nothing to push, nothing changes. -------------------------
before=$(server_digest)
for n in A1 B1 A2; do
  sync_direct $n
  assert_eq "$(sync_field pushed)" 0 "$n pushed on a replay"
  assert_eq "$(sync_field pulled)" 0 "$n pulled on a replay"
done
sync_until A1 cut
assert_eq "$(server_digest)" "$before" "server store after a replay"
phase "replay changed nothing"

# --- 6. The server restored from the older copy. ---------------------------
stop_server
restore_server
start_server
restart_proxies
assert_eq "$(server_events_of A1)" $EA1 "A1's events on the restored server"
sync_until A1 cut
assert_eq "$(sync_field acked)" $EA "A1 acked after the restore"
assert_eq "$(sync_field pending)" 0 "A1 pending after the restore"
assert_eq "$(server_events_of A1)" $EA "A1's events on the server after the restore"
assert_eq "$(last_receipt A1)" $EA "A1's latest receipt after the restore"
# A new dossier of A1 after the restore reaches A2, whose pull cursor was
# taken on the store before the restore.
make_events A1.db offA.key 5 0 a1h3
sync_until A1 cut
assert_eq "$(sync_field acked)" $((EA + 5)) "A1 acked after a new dossier"
sync_direct A2
assert_eq "$(list_of A2)" "$(list_of A1)" "A2's dossiers after the restore"
sync_until B1 cut
assert_eq "$(sync_field acked)" $EB "B1 acked after the restore"
sync_direct A2
assert_eq "$(list_of A2)" "$(list_of A1)" "A2's dossiers after the restore"
check_exactly_once $((EVENTS + 5))
expect_ok "$HOSO" verify --data srv "${SRV_STORE[@]}" --json
[[ $(json_get "$OUT" 'd["ok"]') == true ]] || fail_with_output "verify --data srv after the restore"
check_attachments_server att-*.bin
for n in A1 A2 B1; do
  expect_ok "$HOSO" verify --db $n.db
done
phase "restored server caught up"

echo "sync: $EVENTS events, $(( $(cat att-*.bin | wc -c) / 1024 )) KB of attachments, $((SECONDS - T0)) s"
