#!/usr/bin/env bash
# hoso backup and hoso restore with real processes: backups of a laptop's store
# while officers sign on it and of a server's store while a laptop pushes to
# it; a laptop and a server restored from older copies catching up through
# sync (the laptop gets its own newer events back from the server); and every
# bad input refused with one clear line, a non-zero exit and nothing changed.
#
#   bash tests/cli/ops.sh build/hoso
set -euo pipefail
HOSO=${1:?usage: ops.sh path/to/hoso}
HOSO=$(cd "$(dirname "$HOSO")" && pwd)/$(basename "$HOSO")
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
source "$(dirname "${BASH_SOURCE[0]}")/sync_lib.bash"
export HOSO_PASSPHRASE=test-pass HOSO_NOW=2026-03-02T09:00:00+07:00

setup_sync_workdir
T0=$SECONDS
phase() { printf '[%4ds] %s\n' $((SECONDS - T0)) "$*"; }

# --- A province with one commune, laptops A1 and A2, a server. -------------
P=000.00.00.H12 A=000.00.31.H12
q() { "$HOSO" "$@" >/dev/null; }
q authority init --dir prov --name "Tỉnh Test" --kdf interactive
q authority certify --dir prov --kind unit --name "Tỉnh" --unit $P --out p.cert
q authority certify --dir prov --kind unit --name "Xã A" --unit $A --parent $P --out a.cert
q key new --out off.key --kdf interactive
q authority certify --dir prov --pub off.key.pub --kind officer --name "Cán bộ A" --unit $A \
  --roles receiver,specialist,leader --out off.cert
for l in A1:1 A2:2; do
  IFS=: read -r n s <<<"$l"
  q key new --out $n.key --kdf interactive
  q authority certify --dir prov --pub $n.key.pub --kind device --name "Máy $n" --unit $A --slot $s --out $n.cert
done
q key new --out srv.key --kdf interactive
q authority certify --dir prov --pub srv.key.pub --kind server --name "Máy chủ tỉnh" --unit $P --out srv.cert
cat > proc.json <<'J'
{ "kind": "procedure", "code": "1.001193", "version": 1, "name": "Đăng ký khai sinh",
  "total_working_days": 3, "start": "receive",
  "steps": {
    "receive": {"role": "receiver", "actions": {"accept": "review", "reject": "@rejected"}},
    "review": {"role": "specialist", "actions": {"approve": "sign", "send_back": "receive"}},
    "sign": {"role": "leader", "actions": {"approve": "deliver", "send_back": "review"}},
    "deliver": {"role": "receiver", "actions": {"deliver": "@done"}} } }
J
cat > cal.json <<'J'
{ "kind": "calendar", "year": 2026, "utc_offset": "+07:00",
  "office_hours": [["07:00", "11:30"], ["13:30", "17:00"]], "cutoff": "15:00",
  "weekend": ["sat", "sun"], "holidays": ["2026-01-01"], "working_days": [] }
J
q authority sign --dir prov --in proc.json --out proc.signed
q authority sign --dir prov --in cal.json --out cal.signed

start_server
expect_ok "$HOSO" publish --data srv p.cert a.cert off.cert A1.cert A2.cert srv.cert proc.signed cal.signed
for n in A1 A2; do
  expect_ok "$HOSO" init --db $n.db --root prov/root.pub --device-key $n.key --device-cert $n.cert --server 127.0.0.1:$SRV_PORT
  sync_direct $n
done
phase "province, server and laptops ready"

# sign DB N: N events on new dossiers (receive, accept, approve, ...).
sign() {
  local db=$1 n=$2 made=0 code a
  while (( made < n )); do
    code=$("$HOSO" receive --db $db --as off.key --procedure 1.001193 --applicant "Công dân $made" --json |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])')
    made=$((made + 1))
    for a in accept approve approve; do
      (( made < n )) || break
      "$HOSO" act --db $db --as off.key "$code" $a >/dev/null
      made=$((made + 1))
    done
  done
}

# journal DB: the journal mode a file's header announces (1 rollback, 2 WAL).
journal() { python3 -c 'import sys; print(open(sys.argv[1], "rb").read(19)[18])' "$1"; }
meta() { sql "$1" "SELECT value FROM meta WHERE key = '$2'"; }
# own_events DB: how many events of laptop A1 the store DB holds.
own_events() { sql "$1" "SELECT count(*) FROM events WHERE device IN ($(device_ids A1))"; }

# --- 1. Backups of a laptop's store while an officer signs on it. ---------
sign A1.db 4
sign A1.db 24 & SIGNER=$!
i=0
while kill -0 $SIGNER 2>/dev/null || (( i < 3 )); do
  i=$((i + 1))
  expect_ok "$HOSO" backup --db A1.db --out hot$i.bak --json
  assert_eq "$(json_get "$OUT" 'd["kind"]')" laptop "kind of backup $i"
  assert_eq "$(json_get "$OUT" 'd["path"]')" hot$i.bak "path of backup $i"
  # One self-contained file: no WAL beside it, rollback journal in its header.
  assert_absent hot$i.bak-wal hot$i.bak-shm
  assert_eq "$(journal hot$i.bak)" 1 "journal mode in the header of backup $i"
  # A consistent copy: the projections match the log exactly.
  expect_ok "$HOSO" verify --db hot$i.bak --json
  assert_eq "$(json_get "$OUT" 'd["ok"]')" true "verify of backup $i"
  echo "$(json_get "$OUT" 'd["checked"]')" >> hot.counts
done
wait $SIGNER || fail "the officer could not sign while backups ran"
(( i >= 3 )) || fail "only $i backups"
# The copies were taken at different moments of the writing, not all at its end.
sort -n -c hot.counts || fail "backups taken later hold fewer events: $(tr '\n' ' ' < hot.counts)"
(( $(head -1 hot.counts) < 28 )) || fail "the first backup was not taken while the officer signed"
assert_eq "$(laptop_own_events A1)" 28 "A1's events after signing"
phase "$i laptop backups taken while signing ($(tr '\n' ' ' < hot.counts)events)"

# --- 2. A server backup while a laptop pushes to the running server. -------
"$HOSO" sync --db A1.db --server 127.0.0.1:$SRV_PORT --json >push.out 2>push.err & PUSHER=$!
expect_ok "$HOSO" backup --data srv --out srv-hot.bak
[[ $(cat "$OUT") == "Backup written: srv-hot.bak (server store, "* ]] || fail_with_output "server backup's line"
wait $PUSHER || fail "the sync during the server backup failed: $(cat push.err)"
assert_eq "$(json_get push.out 'd["acked"]')" 28 "A1 acked after the sync during the backup"
expect_ok "$HOSO" verify --db srv-hot.bak --json
assert_eq "$(json_get "$OUT" 'd["ok"]')" true "verify of the hot server backup"
assert_eq "$(server_events_of A1)" 28 "A1's events on the server"
# The older server copy: A1's first 28 events and nothing of what follows.
expect_ok "$HOSO" backup --data srv --out srv-old.bak --json
assert_eq "$(json_get "$OUT" 'd["events"]')" 28 "events in the server backup"
assert_eq "$(json_get "$OUT" 'd["kind"]')" server "kind of the server backup"
phase "server backups taken while a laptop pushed"

# --- 3. Bad input: one line, a non-zero exit, nothing written. ------------
echo "not a store" > text.db
python3 -c 'import sqlite3; c = sqlite3.connect("other.db"); c.execute("CREATE TABLE t(x)"); c.commit()'
cp hot1.bak keep.bak
before=$(ls -a | sort)
expect_fail 8 "$HOSO" backup --db missing.db --out x.bak
error_says "no store at missing.db"
expect_fail 8 "$HOSO" backup --data nodir --out x.bak
error_says "no store at nodir/hoso.db"
expect_fail 4 "$HOSO" backup --db text.db --out x.bak
error_says "text.db is not a hoso store"
expect_fail 4 "$HOSO" backup --db other.db --out x.bak
error_says "other.db is not a hoso store"
expect_fail 14 "$HOSO" backup --db A1.db --out keep.bak
error_says "keep.bak already exists"
expect_fail 14 "$HOSO" backup --db A1.db --out A1.db --force
error_says "is the store itself"
expect_fail 2 "$HOSO" backup --db A1.db --data srv --out x.bak
expect_fail 2 "$HOSO" backup --out x.bak
expect_fail 2 "$HOSO" backup --db A1.db
expect_fail 2 "$HOSO" backup --data srv --store postgresql://hoso@/hoso --out x.bak
error_says "pg_dump"
expect_fail 8 "$HOSO" backup --db A1.db --out nodir/x.bak
expect_fail 8 "$HOSO" restore --from missing.bak --db new.db
error_says "no backup at missing.bak"
expect_fail 4 "$HOSO" restore --from text.db --db new.db
error_says "text.db is not a hoso store"
expect_fail 4 "$HOSO" restore --from other.db --db new.db
# A refused restore into a new data folder leaves no folder behind.
expect_fail 8 "$HOSO" restore --from missing.bak --data newdir
# A copy from a newer hoso (a later schema) is not restored by this one.
cp hot1.bak newer.bak
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA user_version = 99"); c.commit()' newer.bak
expect_fail 4 "$HOSO" restore --from newer.bak --db new.db
error_says "newer hoso"
# A damaged copy: the page of an index overwritten.
cp hot1.bak damaged.bak
python3 - damaged.bak <<'PY'
import sqlite3, sys
path = sys.argv[1]
c = sqlite3.connect(path)
page_size = c.execute("PRAGMA page_size").fetchone()[0]
root = c.execute("SELECT rootpage FROM sqlite_master WHERE name = 'events_by_dossier'").fetchone()[0]
c.close()
with open(path, "r+b") as f:
    f.seek((root - 1) * page_size)
    f.write(b"\xff" * 64)
PY
expect_fail 7 "$HOSO" restore --from damaged.bak --db new.db
error_says "damaged.bak is damaged"
expect_fail 14 "$HOSO" restore --from hot1.bak --db A2.db
error_says "A2.db already exists"
expect_fail 14 "$HOSO" restore --from hot1.bak --db hot1.bak --force
expect_fail 2 "$HOSO" restore --from hot1.bak
expect_fail 2 "$HOSO" restore --db new.db
# A store in use (the running server holds srv/hoso.db open) is not replaced.
expect_fail 13 "$HOSO" restore --from srv-old.bak --data srv --force
error_says "stop hoso serve"
rm -f newer.bak damaged.bak
diff <(echo "$before") <(ls -a | sort) >&2 || fail "refused commands left files behind (or took some away)"
cmp -s hot1.bak keep.bak || fail "a refused backup changed keep.bak"
assert_eq "$(server_events_of A1)" 28 "server events after a refused restore"
phase "bad input refused"

# --- 4. A laptop restored from an older copy gets its own events back. ----
# A1 signs 8 more and syncs them; then its disk dies and it is restored from
# the backup that has 28, onto a new file (a replacement laptop) and over the
# old one (--force keeps the replaced store aside).
expect_ok "$HOSO" backup --db A1.db --out a1-old.bak
sign A1.db 8
sync_direct A1
assert_eq "$(sync_field acked)" 36 "A1 acked before the restore"
before_list=$(list_of A1)
expect_ok "$HOSO" restore --from a1-old.bak --db A1-new.db --json
assert_eq "$(json_get "$OUT" 'd["must_pull_own"]')" true "must_pull_own in restore --json"
assert_eq "$(meta A1-new.db must_pull_own)" 1 "must_pull_own of the restored laptop"
assert_eq "$(own_events A1-new.db)" 28 "the new laptop's own events after the restore"
expect_ok "$HOSO" restore --from a1-old.bak --db A1.db --force
[[ $(cat "$OUT") == *"signs nothing until"* ]] || fail_with_output "restore's advice for a laptop"
ls A1.db.replaced-* >/dev/null 2>&1 || fail "the replaced laptop store was not kept"
assert_eq "$(meta A1.db must_pull_own)" 1 "must_pull_own of the laptop restored in place"
assert_eq "$(laptop_own_events A1)" 28 "A1's own events after the restore"
# Before its first sync the restored laptop signs nothing: its sequence 29
# is already taken on the server by an event this copy lacks.
expect_fail 14 "$HOSO" receive --db A1.db --as off.key --procedure 1.001193 --applicant "Quá sớm"
error_says "restored from a backup"
# awk reads to the end: `head` would close the pipe on the Python writer (BrokenPipeError under pipefail)
code=$(list_of A1 | awk 'NR == 1 { print $1 }')
expect_fail 14 "$HOSO" act --db A1.db --as off.key "$code" deliver
assert_eq "$(laptop_own_events A1)" 28 "A1's own events after refused signing"
for n in A1 A1-new; do
  sync_direct $n
  assert_eq "$(own_events $n.db)" 36 "$n's own events after its first sync"
  assert_eq "$(sync_field acked)" 36 "$n acked after its first sync"
  assert_eq "$(list_of $n)" "$before_list" "$n's dossiers after its first sync"
  assert_eq "$(meta $n.db must_pull_own)" 0 "must_pull_own of $n after its first sync"
  expect_ok "$HOSO" verify --db $n.db
done
# Signing goes on from the sequence the server holds, without equivocation.
rm -f A1-new.db*
sign A1.db 2
sync_direct A1
assert_eq "$(sync_field acked)" 38 "A1 acked after signing again"
assert_eq "$(server_sql "SELECT count(*) FROM equivocations")" 0 "equivocations on the server"
sync_direct A2
assert_eq "$(list_of A2)" "$(list_of A1)" "A2's dossiers"
phase "restored laptop caught up"

# --- 5. A server restored from an older copy catches up from the laptops. --
stop_server
expect_ok "$HOSO" restore --from srv-old.bak --data srv --force
[[ $(cat "$OUT") == *"Laptops re-send"* ]] || fail_with_output "restore's advice for a server"
ls srv/hoso.db.replaced-* >/dev/null 2>&1 || fail "the replaced server store was not kept"
assert_eq "$(meta srv/hoso.db must_pull_own)" "" "must_pull_own on a server"
assert_eq "$(server_events_of A1)" 28 "A1's events on the restored server"
start_server
sync_direct A1
assert_eq "$(sync_field acked)" 38 "A1 acked by the restored server"
assert_eq "$(server_events_of A1)" 38 "A1's events on the restored server after a sync"
expect_ok "$HOSO" verify --data srv --json
assert_eq "$(json_get "$OUT" 'd["ok"]')" true "verify --data srv after the restore"
# A fresh folder (a new machine) is restored the same way.
expect_ok "$HOSO" restore --from srv-old.bak --data srv2
assert_eq "$(sql srv2/hoso.db "SELECT count(*) FROM events")" 28 "events in a server restored to a new folder"
expect_ok "$HOSO" verify --data srv2
phase "restored server caught up"

echo "ops: backups and restores ok in $((SECONDS - T0)) s"
