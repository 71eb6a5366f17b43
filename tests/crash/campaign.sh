#!/usr/bin/env bash
# Crash campaign (issue 6, part 1): SIGKILL `hoso act`/`hoso receive`, `hoso
# sync`, `hoso serve` and a relay (`hoso serve --upstream`) at random moments,
# restart what was killed, and check after every trial that nothing
# acknowledged was lost, nothing is held twice and the stores touched verify;
# at the end, sync everything to completion and check that every laptop's
# events and attachments reached the server exactly once.
#
#   bash tests/crash/campaign.sh TRIALS SEED [path/to/hoso]
#   CRASH_KEEP=1 ...     keep the work folder (its path is printed)
#
# The province is made once per campaign: a server; a relay carrying region R;
# laptop A1 of commune A (parent: the province) syncing to the server, laptop
# B1 of commune B (parent: R) syncing to the relay. Each trial draws one kind:
#   act      a receive or act on a laptop, killed 0..ACT_MS ms after start
#   sync     `hoso sync` of A1 (to the server) or B1 (to the relay), killed
#   serve    the server, killed while A1 syncs and the relay forwards
#   relay    the relay, killed while B1 syncs to it
#   stall    A1 syncs through hoso_proxy, which stalls the link after a random
#            byte count; the sync or the server is killed during the stall
#            (a batch sent and not yet acknowledged, an ACK held in flight...)
# The seed fixes every draw (kinds, delays, byte counts); timing still varies
# from run to run, so a failure prints the trial, its draws and the logs.
set -euo pipefail
TRIALS=${1:?usage: campaign.sh TRIALS SEED [path/to/hoso]}
SEED=${2:?usage: campaign.sh TRIALS SEED [path/to/hoso]}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HOSO=${3:-$HERE/../../build/hoso}
HOSO=$(cd "$(dirname "$HOSO")" && pwd)/$(basename "$HOSO")
PROXY=$(dirname "$HOSO")/tests/proxy/hoso_proxy
CHECK=$HERE/check.py
source "$HERE/../cli/lib.bash"
source "$HERE/../cli/sync_lib.bash"
[[ -x $PROXY ]] || fail "hoso_proxy not built at $PROXY"
[[ $TRIALS =~ ^[0-9]+$ && $SEED =~ ^[0-9]+$ ]] || fail "TRIALS and SEED are numbers"
export HOSO_PASSPHRASE=test-pass HOSO_NOW=2026-03-02T08:00:00+07:00
RANDOM=$SEED
[[ -n ${CRASH_KEEP:-} ]] && SYNC_KEEP=1

RELAY_PID= RELAY_PORT=
campaign_cleanup() {
  local rc=$?
  [[ -n $RELAY_PID ]] && { kill -9 "$RELAY_PID" 2>/dev/null || true; wait "$RELAY_PID" 2>/dev/null || true; }
  if (( rc != 0 )) && [[ -e ${WORK:-}/relay.log ]]; then
    echo "--- relay log (tail):" >&2
    tail -n 20 "$WORK/relay.log" >&2 || true
  fi
  set +e  # sync_cleanup reads the exit status from $?
  (exit $rc)
  sync_cleanup
}
setup_sync_workdir
trap campaign_cleanup EXIT
T0=${EPOCHREALTIME/./}
elapsed() { local us=$(( ${EPOCHREALTIME/./} - T0 )); printf '%d.%d' $((us / 1000000)) $((us / 100000 % 10)); }

msleep() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# What the current trial drew, for the failure message.
TRIAL=0 DRAW=
defect() {
  echo "DEFECT in trial $TRIAL ($DRAW), seed $SEED: $*" >&2
  echo "reproduce: bash tests/crash/campaign.sh $TRIAL $SEED (CRASH_KEEP=1 keeps the stores)" >&2
  exit 1
}

# --- The province, once. ---------------------------------------------------
P=000.00.00.H12 A=000.00.31.H12 R=000.00.50.H12 B=000.00.51.H12
q() { "$HOSO" "$@" >/dev/null; }
q authority init --dir prov --name "Tỉnh Thử" --kdf interactive
q authority certify --dir prov --kind unit --name "Tỉnh" --unit $P --out p.cert
q authority certify --dir prov --kind unit --name "Xã A" --unit $A --parent $P --out a.cert
q authority certify --dir prov --kind unit --name "Vùng R" --unit $R --parent $P --out r.cert
q authority certify --dir prov --kind unit --name "Xã B" --unit $B --parent $R --out b.cert
for u in A B; do
  q key new --out off$u.key --kdf interactive
  q authority certify --dir prov --pub off$u.key.pub --kind officer --name "Cán bộ $u" --unit "${!u}" \
    --roles receiver,specialist,leader --out off$u.cert
done
for l in A1:A B1:B; do
  IFS=: read -r n u <<<"$l"
  q key new --out $n.key --kdf interactive
  q authority certify --dir prov --pub $n.key.pub --kind device --name "Máy $n" --unit "${!u}" --slot 1 --out $n.cert
done
q key new --out srv.key --kdf interactive
q authority certify --dir prov --pub srv.key.pub --kind server --name "Máy chủ tỉnh" --unit $P --out srv.cert
q key new --out relay.key --kdf interactive
q authority certify --dir prov --pub relay.key.pub --kind server --name "Trạm vùng R" --unit $R --out relay.cert
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
  "weekend": ["sat", "sun"], "holidays": ["2026-01-01", "2026-02-16"], "working_days": ["2026-01-03"] }
J
q authority sign --dir prov --in proc.json --out proc.signed
q authority sign --dir prov --in cal.json --out cal.signed
ITEMS=(p.cert a.cert r.cert b.cert offA.cert offB.cert A1.cert B1.cert srv.cert relay.cert proc.signed cal.signed)

# The server and the relay keep their port across restarts (the relay's
# --upstream and the laptops' --server stay valid).
SRV_PORT=0
start_srv() {
  rm -f srv.port
  mkdir -p srv
  "$HOSO" serve --data srv --root prov/root.pub --key srv.key --cert srv.cert \
    --listen 127.0.0.1:$SRV_PORT --port-file srv.port 2>>srv.log &
  SRV_PID=$!
  wait_file srv.port || defect "the server did not start again (see srv.log)"
  SRV_PORT=$(cat srv.port)
}
RELAY_PORT=0
start_relay() {
  rm -f relay.port
  mkdir -p relay
  "$HOSO" serve --data relay --root prov/root.pub --key relay.key --cert relay.cert \
    --listen 127.0.0.1:$RELAY_PORT --port-file relay.port --upstream 127.0.0.1:$SRV_PORT 2>>relay.log &
  RELAY_PID=$!
  wait_file relay.port || defect "the relay did not start again (see relay.log)"
  RELAY_PORT=$(cat relay.port)
}
# Kills per target and runs of each command.
declare -A KILLS=([act]=0 [sync]=0 [serve]=0 [relay]=0) RUNS=([act]=0 [sync]=0 [serve]=0 [relay]=0)
# A server that died without our SIGKILL is a defect.
alive() {
  local name=$1 pid=$2 rc=0
  kill -0 "$pid" 2>/dev/null && return 0
  wait "$pid" 2>/dev/null || rc=$?
  defect "$name died on its own (exit status $rc)"
}
kill_srv() {
  alive server "$SRV_PID"
  kill -9 "$SRV_PID"
  wait "$SRV_PID" 2>/dev/null || true
  SRV_PID=
  KILLS[serve]=$((KILLS[serve] + 1))
  echo "--- killed" >>srv.log
}
kill_relay() {
  alive relay "$RELAY_PID"
  kill -9 "$RELAY_PID"
  wait "$RELAY_PID" 2>/dev/null || true
  RELAY_PID=
  KILLS[relay]=$((KILLS[relay] + 1))
  echo "--- killed" >>relay.log
}

# How long an unkilled run takes (ms), a moving average per command: kill
# moments are drawn over 0..125% of it, so they land in every phase (key
# unlock, connect, pull, push, ACK, attachments) whatever the machine's speed.
declare -A EST=([act]=300 [sync-A1]=400 [sync-B1]=400)
learn() { EST[$1]=$(( (3 * ${EST[$1]} + $2) / 4 )); }
kill_at() { KMS=$(( RANDOM % (${EST[$1]} * 5 / 4 + 1) )); }

# sync N [SERVER_PORT]: one `hoso sync` of laptop N, in the background; its
# pid in SYNC_PID, its output in sync-N.out.
sync_bg() {
  local n=$1 port=${2:-$(port_of $1)}
  RUNS[sync]=$((RUNS[sync] + 1))
  SYNC_T0=${EPOCHREALTIME/./}
  "$HOSO" sync --db $n.db --server 127.0.0.1:$port --json >sync-$n.out 2>sync-$n.err &
  SYNC_PID=$!
}
# sync_end N PID: waits for it; 0 (its acked is recorded), 12 (the link
# or the server went away) and a SIGKILL are the only acceptable ends.
sync_end() {
  local n=$1 pid=$2 rc=0
  wait "$pid" 2>/dev/null || rc=$?
  case $rc in
    0) echo "$n ${SID[$n]} $(json_get sync-$n.out 'd["acked"]')" >>sync-acks.txt
       learn sync-$n $(( (${EPOCHREALTIME/./} - SYNC_T0) / 1000 )) ;;
    137) KILLS[sync]=$((KILLS[sync] + 1)) ;;
    12) ;;
    *) defect "sync of $n exited $rc: $(head -c 300 sync-$n.err)" ;;
  esac
  SYNC_RC=$rc
}

start_srv
expect_ok "$HOSO" publish --data srv "${ITEMS[@]}"
start_relay
expect_ok "$HOSO" publish --data relay "${ITEMS[@]}"
SRV_SID=$(sql srv/hoso.db "SELECT value FROM meta WHERE key = 'store_id'")
RELAY_SID=$(sql relay/hoso.db "SELECT value FROM meta WHERE key = 'store_id'")
declare -A SID=([A1]=$SRV_SID [B1]=$RELAY_SID) OFF=([A1]=offA.key [B1]=offB.key)
port_of() { if [[ $1 == A1 ]]; then echo $SRV_PORT; else echo $RELAY_PORT; fi; }
for n in A1 B1; do
  expect_ok "$HOSO" init --db $n.db --root prov/root.pub --device-key $n.key --device-cert $n.cert
  sync_bg $n
  sync_end $n $SYNC_PID
  (( SYNC_RC == 0 )) || fail "the first sync of $n failed: $(cat sync-$n.err)"
done
touch acked-acts.txt sync-acks.txt
mkdir -p att
echo "province ready ($(elapsed) s): server port $SRV_PORT, relay port $RELAY_PORT, seed $SEED"

# --- The laptops' work: dossiers of 5 steps, one step per call. -------------
STEPS=(receive accept approve approve deliver)
declare -A CUR=([A1]= [B1]=) NEV=([A1]=0 [B1]=0) NCODES=([A1]=0 [B1]=0)
NACK=0
# chain N CODE: "count last_action last_hash" of the dossier's current chain.
chain() {
  "$HOSO" show --db $1.db --json "$2" | python3 -c '
import json, sys
e = json.load(sys.stdin)["events"]
print(len(e), e[-1]["action"] if e else "-", e[-1]["hash"] if e else "-")'
}
codes_of() {
  "$HOSO" list --db $1.db --json | python3 -c '
import json, sys
print("\n".join(sorted(d["code"] for d in json.load(sys.stdin))))'
}
# The day moves on every 150 trials (a desk slot numbers 1000 dossiers a day).
now_of_trial() { date -d "2026-03-02 09:00:00 +07:00 + $(( TRIAL / 150 )) days" +%Y-%m-%dT09:00:00+07:00; }

# One step on laptop N, SIGKILLed KILL_MS ms after it started (-1: never).
# Afterwards the laptop must hold exactly the steps before, plus this one if
# the command exited 0 (then it is acknowledged) and maybe if it was killed.
step() {
  local n=$1 kill_ms=$2 rc=0 pid
  local i=${NEV[$n]} action
  [[ -z ${CUR[$n]} || $i -ge ${#STEPS[@]} ]] && i=0
  action=${STEPS[$i]}
  local cmd=("$HOSO" act --db $n.db --as ${OFF[$n]} --json)
  if [[ $action == receive ]]; then
    cmd=("$HOSO" receive --db $n.db --as ${OFF[$n]} --json --procedure 1.001193 --applicant "Công dân $n $TRIAL"
         --field cccd=0012010$((100000 + TRIAL)))
    if (( RANDOM % 3 == 0 )); then
      head -c $((4096 + RANDOM % 40000)) /dev/urandom >att/$n-$TRIAL.bin
      cmd+=(--attach att/$n-$TRIAL.bin)
    fi
  else
    cmd+=("${CUR[$n]}" "$action")
  fi
  local before=
  [[ $action == receive ]] && before=$(codes_of $n)
  RUNS[act]=$((RUNS[act] + 1))
  local t0=${EPOCHREALTIME/./}
  "${cmd[@]}" >step.out 2>step.err &
  pid=$!
  if (( kill_ms >= 0 )); then
    msleep "$kill_ms"
    kill -9 "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || rc=$?
  [[ $rc == 0 || $rc == 137 ]] || defect "$action on $n exited $rc: $(head -c 300 step.err)"
  (( rc == 137 )) && KILLS[act]=$((KILLS[act] + 1))
  (( rc == 0 )) && learn act $(( (${EPOCHREALTIME/./} - t0) / 1000 ))
  if [[ $action == receive ]]; then
    local after new
    after=$(codes_of $n)
    new=$(comm -13 <(echo "$before") <(echo "$after") | sed '/^$/d')
    local got=0
    [[ -n $new ]] && got=$(wc -l <<<"$new")
    (( got <= 1 )) || defect "one receive on $n made $got dossiers"
    [[ -n $(comm -23 <(echo "$before") <(echo "$after") | sed '/^$/d') ]] && defect "a receive on $n lost a dossier"
    if (( rc == 0 )); then
      (( got == 1 )) || defect "receive on $n exited 0 and made no dossier"
      [[ $(json_get step.out 'd["code"]') == "$new" ]] || defect "receive on $n printed another code than the one it made"
    fi
    (( got == 1 )) || return 0
    CUR[$n]=$new
    NEV[$n]=0
    NCODES[$n]=$((NCODES[$n] + 1))
  fi
  [[ -n ${CUR[$n]} ]] || return 0
  local c_n c_act c_hash
  read -r c_n c_act c_hash < <(chain $n "${CUR[$n]}")
  local want_before=${NEV[$n]}
  [[ $action == receive ]] && want_before=0
  if (( rc == 0 )); then
    [[ $c_n == $((want_before + 1)) && ($c_act == "$action" || $action == receive) ]] ||
      defect "$action on $n exited 0 but the dossier's chain is $c_n long, last $c_act (expected $((want_before + 1)), $action)"
    echo "$n $c_hash" >>acked-acts.txt
    NACK=$((NACK + 1))
  else
    [[ $c_n == "$want_before" || ($c_n == $((want_before + 1)) && ($c_act == "$action" || $action == receive)) ]] ||
      defect "killed $action on $n left the chain $c_n long, last $c_act (expected $want_before or one $action more)"
  fi
  NEV[$n]=$c_n
}

check_trial() {
  python3 "$CHECK" "$WORK" trial >check.out 2>check.err || defect "$(cat check.err)"
  NCHECK=$((NCHECK + 1))
}
verify_store() {  # verify_store --db A1.db | --data srv
  local rc=0
  "$HOSO" verify "$@" --json >verify.out 2>verify.err || rc=$?
  [[ $rc == 0 && $(json_get verify.out 'd["ok"]') == true ]] ||
    defect "hoso verify $* exited $rc: $(head -c 600 verify.out) $(head -c 300 verify.err)"
  NVERIFY=$((NVERIFY + 1))
}
NCHECK=0 NVERIFY=0
declare -A KIND_N=()

# --- The trials. -------------------------------------------------------------
declare -A KIND_US=()
for ((TRIAL = 1; TRIAL <= TRIALS; TRIAL++)); do
  t_start=${EPOCHREALTIME/./}
  export HOSO_NOW=$(now_of_trial)
  r=$((RANDOM % 100))
  n=A1
  (( RANDOM % 2 )) && n=B1
  if (( r < 35 )); then
    kind=act
    # A step or two first, so the syncs have a backlog to push.
    k=$((RANDOM % 3))
    DRAW="act on $n after $k whole steps"
    for ((j = 0; j < k; j++)); do step $n -1; done
    kill_at act; ms=$KMS
    DRAW+=", killed at ${ms} ms"
    step $n $ms
    verify_store --db $n.db
  elif (( r < 55 )); then
    kind=sync
    kill_at sync-$n; ms=$KMS
    DRAW="sync of $n killed at ${ms} ms"
    sync_bg $n
    msleep $ms
    kill -9 $SYNC_PID 2>/dev/null || true
    sync_end $n $SYNC_PID
    verify_store --db $n.db
  elif (( r < 68 )); then
    kind=serve
    kill_at sync-A1; ms=$KMS
    DRAW="server killed at ${ms} ms into a sync of A1 (the relay forwarding meanwhile)"
    step A1 -1
    sync_bg A1
    msleep $ms
    kill_srv
    sync_end A1 $SYNC_PID
    start_srv
    verify_store --data srv
  elif (( r < 81 )); then
    kind=relay
    kill_at sync-B1; ms=$KMS
    DRAW="relay killed at ${ms} ms into a sync of B1"
    step B1 -1
    sync_bg B1
    msleep $ms
    kill_relay
    sync_end B1 $SYNC_PID
    start_relay
    verify_store --data relay
  else
    kind=stall
    # A link that pauses 0.8 s after a random byte count (both directions):
    # kill one end while the bytes up to there are all it got.
    bytes=$((300 + (RANDOM * 32768 + RANDOM) % 60000))
    victim=sync
    (( RANDOM % 2 )) && victim=serve
    DRAW="A1 through a link stalled after $bytes bytes, $victim killed in the stall"
    (( RANDOM % 2 )) && step A1 -1
    start_proxy stall --stall-ms 800 --stall-every $bytes --seed $TRIAL
    : >stall.seen
    sync_bg A1 "$(proxy_port stall)"
    stalled=0
    for ((w = 0; w < 300; w++)); do
      grep -q " stall " proxy-stall.log 2>/dev/null && { stalled=1; break; }
      kill -0 $SYNC_PID 2>/dev/null || break
      msleep 10
    done
    if (( stalled )); then
      msleep $((RANDOM % 50))
      if [[ $victim == sync ]]; then kill -9 $SYNC_PID 2>/dev/null || true; else kill_srv; fi
      DRAW+=" (stalled)"
    else
      DRAW+=" (finished before the stall)"
    fi
    sync_end A1 $SYNC_PID
    kill "${PROXY_PID[stall]}" 2>/dev/null || true
    wait "${PROXY_PID[stall]}" 2>/dev/null || true
    unset 'PROXY_PID[stall]'
    rm -f proxy-stall.log
    [[ -z $SRV_PID ]] && start_srv
    verify_store --data srv
  fi
  KIND_N[$kind]=$((${KIND_N[$kind]:-0} + 1))
  KIND_US[$kind]=$((${KIND_US[$kind]:-0} + ${EPOCHREALTIME/./} - t_start))
  alive server "$SRV_PID"
  alive relay "$RELAY_PID"
  check_trial
  if (( TRIAL % 20 == 0 )); then
    echo "[$(elapsed) s] trial $TRIAL: $(cat check.out); kills act ${KILLS[act]} sync ${KILLS[sync]} serve ${KILLS[serve]} relay ${KILLS[relay]}"
  fi
done
T_TRIALS=$(elapsed)

# --- Everything pending reaches the server. ---------------------------------
export HOSO_NOW=$(now_of_trial)
for n in A1 B1; do
  for ((t = 1; ; t++)); do
    (( t <= 20 )) || defect "$n never caught up: $(head -c 300 sync-$n.err)"
    sync_bg $n
    sync_end $n $SYNC_PID
    (( SYNC_RC == 0 )) && [[ $(json_get sync-$n.out 'd["pending"]') == 0 && $(json_get sync-$n.out 'd["attachments_pending"]') == 0 ]] && break
    sleep 0.5
  done
done
# The relay forwards B1's log every few seconds (with backoff after the
# server was away): wait for it, a minute at most.
b1_dev=$(sql B1.db "SELECT value FROM meta WHERE key = 'device_cert'")
b1_n=$(sql B1.db "SELECT count(*) FROM events WHERE device = '$b1_dev'")
for ((t = 0; t < 600; t++)); do
  srv_b1=$(sql srv/hoso.db "SELECT count(*) FROM events WHERE device = '$b1_dev'")
  b1_att=$(sql B1.db "SELECT group_concat(hash) FROM (SELECT hash FROM attachments ORDER BY hash)")
  srv_att=$(sql srv/hoso.db "SELECT count(*) FROM attachments WHERE ',$b1_att,' LIKE '%,' || hash || ',%'")
  [[ $srv_b1 == "$b1_n" && $srv_att == $(sql B1.db "SELECT count(*) FROM attachments") ]] && break
  (( t % 100 == 99 )) && alive relay "$RELAY_PID"
  sleep 0.1
done
python3 "$CHECK" "$WORK" final >check.out 2>check.err || { TRIAL=final DRAW="final sync"; defect "$(cat check.err)"; }
TRIAL=final DRAW="final verification"
for n in A1 B1; do verify_store --db $n.db; done
verify_store --data srv
verify_store --data relay

# The checks can fail: a server copy that lost one acknowledged event of A1
# must be caught.
cp -a srv srv-damaged
victim=$(tail -n 1 <(grep '^A1 ' acked-acts.txt) | cut -d' ' -f2)
if [[ -n $victim ]]; then
  python3 - srv-damaged/hoso.db "$victim" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("DELETE FROM events WHERE hash = ?", (sys.argv[2],))
c.commit()
PY
  if python3 "$CHECK" "$WORK" final "$WORK/srv-damaged" >/dev/null 2>check.err; then
    fail "the final check did not notice a server that lost an acknowledged event"
  fi
  grep -q "server holds" check.err || fail "the final check noticed a lost event with the wrong words: $(cat check.err)"
fi

echo "crash campaign: $TRIALS trials (seed $SEED) in $T_TRIALS s, $(elapsed) s with the final sync"
echo "  trials:   act ${KIND_N[act]:-0}, sync ${KIND_N[sync]:-0}, serve ${KIND_N[serve]:-0}, relay ${KIND_N[relay]:-0}, stall ${KIND_N[stall]:-0}"
per_trial() { local n=${KIND_N[$1]:-0}; (( n )) && echo "$1 $(( KIND_US[$1] / n / 1000 )) ms" || echo "$1 -"; }
echo "  mean time of a trial (with its checks): $(per_trial act), $(per_trial sync), $(per_trial serve), $(per_trial relay), $(per_trial stall)"
echo "  kills:    act ${KILLS[act]} of ${RUNS[act]} runs, sync ${KILLS[sync]} of ${RUNS[sync]}, serve ${KILLS[serve]}, relay ${KILLS[relay]}"
echo "  checks:   $NCHECK invariant checks, $NVERIFY hoso verify runs, $NACK acknowledged steps kept"
echo "  final:    $(cat check.out) events; everything pending reached the server exactly once"
