# Helpers of tests/cli/sync.sh: a server and proxies run in the background and
# stopped on exit, bounded sync loops, queries of the stores. Sourced after
# lib.bash, with HOSO and PROXY set; the .bash ending keeps it out of ctest.
#
# The work folder holds the server data in srv/, laptop N in N.db with its
# device key N.key(.pub).

SRV_PID= SRV_PORT=
declare -A PROXY_PID=() PROXY_ARGS=()
SYNC_TRIES=0

sync_cleanup() {
  local rc=$? p
  for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
  for p in "${PROXY_PID[@]}" $SRV_PID; do kill "$p" 2>/dev/null || true; done
  for p in "${PROXY_PID[@]}" $SRV_PID; do wait "$p" 2>/dev/null || true; done
  if (( rc != 0 )) && [[ -n ${WORK:-} && -e ${WORK}/srv.log ]]; then
    echo "--- server log (tail):" >&2
    tail -n 30 "$WORK/srv.log" >&2 || true
  fi
  if [[ -n ${SRV_PGDB:-} ]]; then
    pg_admin "DROP DATABASE IF EXISTS $SRV_PGDB WITH (FORCE)" || true
    pg_admin "DROP DATABASE IF EXISTS ${SRV_PGDB}_bk WITH (FORCE)" || true
  fi
  if [[ -n ${SYNC_KEEP:-} ]]; then
    echo "kept $WORK" >&2
  elif [[ -n ${WORK:-} && -d $WORK ]]; then
    cd / && rm -rf -- "$WORK"
  fi
  return $rc
}

setup_sync_workdir() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/hoso-sync.XXXXXX")
  trap sync_cleanup EXIT
  trap 'exit 130' INT TERM
  cd "$WORK"
  OUT=$WORK/out.txt
  ERR=$WORK/err.txt
  # With HOSO_TEST_PG (the cli.*.pg copies of these tests) the server's store
  # is a fresh PostgreSQL database; SRV_STORE goes on every server command.
  SRV_STORE=()
  SRV_PGDB=
  if [[ -n ${HOSO_TEST_PG:-} ]]; then
    SRV_PGDB=t_cli_$$_$RANDOM
    pg_admin "CREATE DATABASE $SRV_PGDB" || fail "cannot create a test database on $HOSO_TEST_PG"
    SRV_URL=$(pg_url_for "$SRV_PGDB")
    SRV_STORE=(--store "$SRV_URL")
  fi
}

# pg_admin SQL: runs SQL on the test PostgreSQL's admin database.
pg_admin() { psql "$HOSO_TEST_PG" -qAtX -v ON_ERROR_STOP=1 -c "$1" >/dev/null; }
# pg_url_for DB: HOSO_TEST_PG with its database replaced.
pg_url_for() { python3 -c 'import sys, re; print(re.sub(r"^(postgres(?:ql)?://[^/?]*)/?[^?]*", lambda m: m.group(1) + "/" + sys.argv[2], sys.argv[1]))' "$HOSO_TEST_PG" "$1"; }

# backup_server / restore_server: a copy of the (stopped) server's store, and
# the store put back from it.
backup_server() {
  if [[ -n $SRV_PGDB ]]; then pg_admin "CREATE DATABASE ${SRV_PGDB}_bk TEMPLATE $SRV_PGDB"
  else cp -a srv backup; fi
}
restore_server() {
  if [[ -n $SRV_PGDB ]]; then
    pg_admin "DROP DATABASE $SRV_PGDB WITH (FORCE)"
    pg_admin "CREATE DATABASE $SRV_PGDB TEMPLATE ${SRV_PGDB}_bk"
  else
    rm -rf srv
    cp -a backup srv
  fi
}

# wait_file FILE: up to 20 s for FILE to exist and hold something.
wait_file() {
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -s $1 ]] && return 0
    sleep 0.1
  done
  return 1
}

# start_server [EXTRA SERVE ARGS…]
start_server() {
  rm -f srv.port
  mkdir -p srv
  "$HOSO" serve --data srv --root prov/root.pub --key srv.key --cert srv.cert \
    --listen 127.0.0.1:0 --port-file srv.port "${SRV_STORE[@]}" "$@" 2>>srv.log &
  SRV_PID=$!
  wait_file srv.port || fail "the server wrote no port file"
  SRV_PORT=$(cat srv.port)
}

stop_server() {
  [[ -n $SRV_PID ]] || return 0
  kill "$SRV_PID" 2>/dev/null || true
  local rc=0
  wait "$SRV_PID" 2>/dev/null || rc=$?
  SRV_PID=
  # 143 = terminated by SIGTERM without a handler; both are a clean stop here.
  [[ $rc == 0 || $rc == 143 ]] || fail "the server exited $rc on SIGTERM"
}

# start_proxy NAME ARGS...: a hoso_proxy in front of the server.
start_proxy() {
  local name=$1
  shift
  PROXY_ARGS[$name]="$*"
  if [[ -n ${PROXY_PID[$name]:-} ]]; then
    kill "${PROXY_PID[$name]}" 2>/dev/null || true
    wait "${PROXY_PID[$name]}" 2>/dev/null || true
  fi
  rm -f proxy-$name.port
  # shellcheck disable=SC2068
  "$PROXY" --listen 127.0.0.1:0 --target 127.0.0.1:$SRV_PORT --port-file proxy-$name.port $@ \
    2>>proxy-$name.log &
  PROXY_PID[$name]=$!
  wait_file proxy-$name.port || fail "proxy $name wrote no port file"
}

proxy_port() { cat proxy-$1.port; }

# After a server restart (a new port): every proxy again, same arguments.
restart_proxies() {
  local name
  for name in "${!PROXY_PID[@]}"; do
    # shellcheck disable=SC2086
    start_proxy "$name" ${PROXY_ARGS[$name]}
  done
}

# sync_direct N: one sync of laptop N straight to the server, which must
# succeed and leave nothing pending. Its JSON is in $OUT.
sync_direct() {
  local rc=0
  timeout 60 "$HOSO" sync --db $1.db --server 127.0.0.1:$SRV_PORT --json >"$OUT" 2>"$ERR" || rc=$?
  [[ $rc == 0 ]] || fail_with_output "sync of $1 exited $rc"
  [[ $(sync_field pending) == 0 && $(sync_field attachments_pending) == 0 ]] ||
    fail_with_output "sync of $1 left something pending"
}

# server_alive: fails, with the server's exit status, if it died.
server_alive() {
  [[ -n $SRV_PID ]] || return 0
  kill -0 "$SRV_PID" 2>/dev/null && return 0
  local rc=0
  wait "$SRV_PID" 2>/dev/null || rc=$?
  SRV_PID=
  fail "the server died (exit status $rc)"
}

sync_field() { json_get "$OUT" "d[\"$1\"]"; }

# sync_until N PROXY: `hoso sync` of laptop N through proxy PROXY, again and
# again (at most SYNC_MAX_TRIES runs of at most 60 s) until a run exits 0 with
# nothing pending. SYNC_TRIES: how many runs it took.
sync_until() {
  local n=$1 via=$2 rc max=${SYNC_MAX_TRIES:-150}
  for ((SYNC_TRIES = 1; SYNC_TRIES <= max; SYNC_TRIES++)); do
    rc=0
    timeout 60 "$HOSO" sync --db $n.db --server 127.0.0.1:$(proxy_port $via) --json >"$OUT" 2>"$ERR" || rc=$?
    if [[ $rc == 0 ]] && [[ $(sync_field pending) == 0 && $(sync_field attachments_pending) == 0 ]]; then
      return 0
    fi
    [[ $rc == 0 || $rc == 124 || -s $ERR ]] || fail_with_output "sync of $n failed without a word"
    server_alive
  done
  fail_with_output "sync of $n through proxy $via not done after $max runs"
}

# sql DB QUERY: rows, one a line, fields separated by "|".
sql() {
  python3 - "$1" "$2" <<'PY'
import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
c.execute("PRAGMA busy_timeout = 10000")
for row in c.execute(sys.argv[2]):
    print("|".join("" if v is None else v.decode(errors="replace") if isinstance(v, bytes) else str(v) for v in row))
PY
}
laptop_sql() { sql $1.db "$2"; }
server_sql() {
  if [[ -n $SRV_PGDB ]]; then psql "$SRV_URL" -qAtX -v ON_ERROR_STOP=1 -c "$1"
  else sql srv/hoso.db "$1"; fi
}

# The ways a store may name device N in events.device: its public key or the
# id of its certificate.
device_ids() {
  local pub id
  pub=$(json_get $1.key.pub 'd["pub"]')
  id=$(item_id $1.cert)
  echo "'$pub','$id'"
}
laptop_own_events() { laptop_sql $1 "SELECT count(*) FROM events WHERE device IN ($(device_ids $1))"; }
server_events_of() { server_sql "SELECT count(*) FROM events WHERE device IN ($(device_ids $1))"; }

# list_of N: "code status step" of every dossier laptop N holds, sorted.
list_of() {
  "$HOSO" list --db $1.db --json | python3 -c '
import json, sys
for d in sorted(json.load(sys.stdin), key=lambda d: d["code"]):
    print(d["code"], d["status"], d["step"])'
}

# check_attachments N FILES...: laptop N holds each file's bytes as one
# attachment.
check_attachments() {
  local n=$1
  shift
  python3 - $n.db "$@" <<'PY' || fail "attachments of $n"
import hashlib, sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
held = {hashlib.sha256(d).hexdigest(): s for d, s in c.execute("SELECT data, size FROM attachments")}
bad = 0
for f in sys.argv[2:]:
    b = open(f, "rb").read()
    if held.get(hashlib.sha256(b).hexdigest()) != len(b):
        print(f"{sys.argv[1]}: {f} ({len(b)} bytes) missing or wrong", file=sys.stderr)
        bad += 1
partial = c.execute("SELECT count(*) FROM attachments_partial").fetchone()[0]
if partial:
    print(f"{sys.argv[1]}: {partial} partial attachments left", file=sys.stderr)
sys.exit(1 if bad or partial else 0)
PY
}

check_attachments_server() {
  if [[ -n $SRV_PGDB ]]; then
    local f held
    held=$(server_sql "SELECT encode(sha256(data), 'hex') FROM attachments")
    for f in "$@"; do
      grep -qx "$(sha256sum "$f" | cut -d' ' -f1)" <<<"$held" || fail "attachments on the server: $f missing"
    done
    return 0
  fi
  python3 - srv/hoso.db "$@" <<'PY' || fail "attachments on the server"
import hashlib, sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
held = {hashlib.sha256(d).hexdigest(): s for d, s in c.execute("SELECT data, size FROM attachments")}
bad = [f for f in sys.argv[2:] if held.get(hashlib.sha256(open(f, "rb").read()).hexdigest()) is None]
for f in bad:
    print(f"server: {f} missing", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# check_exactly_once N: the server holds N events, no (device, seq) twice, no
# gap in any device's log, nothing quarantined.
check_exactly_once() {
  local want=$1 got
  got=$(server_sql "SELECT count(*), count(DISTINCT hash), count(DISTINCT device || ':' || seq) FROM events")
  assert_eq "$got" "$want|$want|$want" "server events (rows, hashes, device:seq)"
  got=$(server_sql "SELECT count(*) FROM (SELECT device FROM events GROUP BY device HAVING max(seq) != count(*) OR min(seq) != 1) AS x")
  assert_eq "$got" 0 "devices with a gap in their log on the server"
  got=$(server_sql "SELECT count(*) FROM events WHERE quarantine IS NOT NULL")
  assert_eq "$got" 0 "quarantined events on the server"
  got=$(server_sql "SELECT d.device, d.seq, (SELECT max(seq) FROM events e WHERE e.device = d.device) FROM devices d WHERE d.seq != (SELECT max(seq) FROM events e WHERE e.device = d.device)")
  assert_eq "$got" "" "server device watermarks that differ from the events held"
}

# A digest of the server's events, attachments and dossiers.
server_digest() {
  server_sql "SELECT hash, device, seq FROM events ORDER BY hash" | md5sum
  server_sql "SELECT hash, size FROM attachments ORDER BY hash" | md5sum
  server_sql "SELECT code, status, step, holder FROM dossiers ORDER BY code" | md5sum
}

# last_receipt N: the acknowledged sequence of laptop N's latest receipt from
# the server's current store.
last_receipt() {
  local store
  if [[ -n $SRV_PGDB ]]; then store=$(server_sql "SELECT convert_from(value, 'UTF8') FROM meta WHERE key = 'store_id'")
  else store=$(server_sql "SELECT value FROM meta WHERE key = 'store_id'"); fi
  laptop_sql $1 "SELECT max(acked) FROM receipts WHERE server_store = '$store'"
}
