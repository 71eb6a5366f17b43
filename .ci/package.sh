#!/usr/bin/env bash
# CI: the Debian package end to end on this machine. Builds it with CPack from
# the build in $HOSO_BUILD_DIR (default build/), installs it, runs the
# installed hoso (--version, demo), checks the man page, completion and unit
# (systemd-analyze verify), starts the installed server as user hoso on
# loopback with the settings of /etc/default/hoso, syncs a laptop to it, takes
# a backup while it runs, reinstalls (the upgrade path), purges the package
# and checks that nothing is left. Needs root or sudo; refuses to touch a hoso
# package that was installed before it ran.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${HOSO_BUILD_DIR:-build}
as_root=()
[[ $(id -u) -ne 0 ]] && as_root=(sudo)
T0=$SECONDS
step() { printf '[%4ds] package: %s\n' $((SECONDS - T0)) "$*"; }
fail() {
  echo "package: FAIL: $*" >&2
  exit 1
}
installed() { dpkg-query -W -f='${Status}' hoso 2>/dev/null | grep -q 'ok installed'; }
installed && fail "a hoso package is already installed here; remove it first (this script purges what it installs)"

work=$(mktemp -d /tmp/hoso-pkg.XXXXXX)
chmod 0755 "$work"  # the user hoso reads the signed items published from here
SRV_PID=
cleanup() {
  local rc=$?
  [[ -n $SRV_PID ]] && { kill "$SRV_PID" 2>/dev/null || true; wait "$SRV_PID" 2>/dev/null || true; }
  if (( rc != 0 )); then
    [[ -s $work/serve.log ]] && { echo "--- server log:"; tail -n 20 "$work/serve.log"; } >&2
    # A failed run leaves no package behind either.
    installed && "${as_root[@]}" apt-get purge -y -qq hoso >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  return $rc
}
trap cleanup EXIT
# A signal (a CI timeout, a closed pipe) still purges: the EXIT trap runs.
trap 'exit 1' INT TERM HUP PIPE

# --- The package. -------------------------------------------------------------
step "cpack"
cmake --build "$build" -j"${HOSO_JOBS:-2}" --target hoso hoso_man >/dev/null
rm -f "$build"/hoso_*.deb
(cd "$build" && cpack -G DEB >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log" >&2; fail "cpack"; }
debs=("$build"/hoso_*_amd64.deb)
[[ ${#debs[@]} == 1 && -f ${debs[0]} ]] || fail "expected one hoso_<version>_amd64.deb in $build"
deb=$(cd "$(dirname "${debs[0]}")" && pwd)/$(basename "${debs[0]}")
version=$(dpkg-deb -f "$deb" Version)
depends=$(dpkg-deb -f "$deb" Depends)
echo "  $(basename "$deb"): $(( $(stat -c %s "$deb") / 1024 )) KiB; Depends: $depends"
for lib in libc6 libsodium libsqlite3 libssl libzstd libstdc++6 adduser; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib"
done
dpkg-deb -c "$deb" | awk '{print $6}' > "$work/contents"
for f in ./usr/bin/hoso ./usr/share/man/man1/hoso.1.gz ./usr/share/bash-completion/completions/hoso \
  ./lib/systemd/system/hoso-server.service ./etc/default/hoso ./usr/share/doc/hoso/OPERATIONS.md; do
  grep -qx "$f" "$work/contents" || fail "the package lacks $f"
done
# Listed first, then searched: grep -q quitting early would fail the pipe.
control=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t)
for f in conffiles postinst prerm postrm; do
  grep -qx "./$f" <<<"$control" || fail "the package has no $f"
done

# --- Install. -----------------------------------------------------------------
step "install $(basename "$deb")"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >"$work/apt.log" 2>&1 ||
  { cat "$work/apt.log" >&2; fail "apt-get install"; }
installed || fail "dpkg does not list hoso as installed"
[[ $(/usr/bin/hoso --version) == "hoso $version" ]] || fail "/usr/bin/hoso --version: $(/usr/bin/hoso --version)"
(cd "$work" && /usr/bin/hoso demo >demo.log 2>&1) || { tail -n 20 "$work/demo.log" >&2; fail "hoso demo from /usr/bin/hoso"; }
getent passwd hoso >/dev/null || fail "no user hoso"
[[ $(stat -c '%U:%G %a' /var/lib/hoso) == "hoso:hoso 750" ]] || fail "/var/lib/hoso is $(stat -c '%U:%G %a' /var/lib/hoso)"
[[ $(stat -c '%U:%G %a' /etc/hoso) == "root:hoso 750" ]] || fail "/etc/hoso is $(stat -c '%U:%G %a' /etc/hoso)"
page=$(zcat /usr/share/man/man1/hoso.1.gz)
grep -q '^\.SH NAME' <<<"$page" || fail "man page"
if command -v man >/dev/null; then
  page=$(MANWIDTH=80 man -l /usr/share/man/man1/hoso.1.gz 2>&1)
  grep -q 'restore --from' <<<"$page" || fail "man page does not render"
fi
# Completion of the subcommand "ba" and of the options of "backup".
if [[ -f /usr/share/bash-completion/bash_completion ]]; then
  got=$(bash -c 'source /usr/share/bash-completion/bash_completion; source /usr/share/bash-completion/completions/hoso
    COMP_WORDS=(hoso ba); COMP_CWORD=1; COMP_LINE="hoso ba"; COMP_POINT=7; _hoso; echo "${COMPREPLY[*]}"
    COMP_WORDS=(hoso backup --f); COMP_CWORD=2; COMP_LINE="hoso backup --f"; COMP_POINT=15; _hoso; echo "${COMPREPLY[*]}"')
  [[ $got == $'backup\n--force' ]] || fail "bash completion gave: $got"
else
  echo "  bash-completion is not installed: completion not exercised"
fi

# --- The unit. ----------------------------------------------------------------
step "systemd-analyze verify"
unit=/lib/systemd/system/hoso-server.service
for want in 'User=hoso' 'EnvironmentFile=/etc/default/hoso' 'NoNewPrivileges=yes' 'ProtectSystem=strict' \
  'ReadWritePaths=/var/lib/hoso' 'PrivateTmp=yes' 'ProtectHome=yes' 'Restart=on-failure'; do
  grep -qx "$want" $unit || fail "the unit lacks $want"
done
if command -v systemd-analyze >/dev/null; then
  # Works without a running systemd: it loads the unit in a test manager.
  # Any line it prints about our unit is a finding.
  rc=0
  SYSTEMD_LOG_LEVEL=notice systemd-analyze verify $unit >"$work/verify.log" 2>&1 || rc=$?
  if grep -q 'hoso' "$work/verify.log" || (( rc != 0 )); then
    cat "$work/verify.log" >&2
    fail "systemd-analyze verify $unit (exit $rc)"
  fi
  # How much the hardening leaves exposed (0 safe .. 10 exposed), for the log.
  systemd-analyze security --offline=true $unit 2>/dev/null | tail -n 1 | sed 's/^/  /' || true
else
  echo "  systemd-analyze not installed: unit not verified"
fi

# --- The installed server, as hoso, with /etc/default/hoso's settings. --------
step "serve as hoso on loopback"
export HOSO_NOW=2026-03-02T09:00:00+07:00
pass=$work/pass
echo test-pass > "$pass"
h() { HOSO_PASSPHRASE=test-pass /usr/bin/hoso "$@" >/dev/null; }
cd "$work"
h authority init --dir prov --name "Tỉnh CI" --kdf interactive
h authority certify --dir prov --kind unit --name "Tỉnh" --unit 000.00.00.H12 --out p.cert
h authority certify --dir prov --kind unit --name "Xã A" --unit 000.00.31.H12 --parent 000.00.00.H12 --out a.cert
h key new --out off.key --kdf interactive
h authority certify --dir prov --pub off.key.pub --kind officer --name "Cán bộ" --unit 000.00.31.H12 --roles receiver --out off.cert
h key new --out desk1.key --kdf interactive
h authority certify --dir prov --pub desk1.key.pub --kind device --name "Desk 1" --unit 000.00.31.H12 --slot 1 --out desk1.cert
cat > proc.json <<'J'
{ "kind": "procedure", "code": "1.001193", "version": 1, "name": "Đăng ký khai sinh", "total_working_days": 3,
  "start": "receive", "steps": { "receive": {"role": "receiver", "actions": {"accept": "deliver"}},
  "deliver": {"role": "receiver", "actions": {"deliver": "@done"}} } }
J
cat > cal.json <<'J'
{ "kind": "calendar", "year": 2026, "utc_offset": "+07:00", "office_hours": [["07:00", "11:30"], ["13:30", "17:00"]],
  "cutoff": "15:00", "weekend": ["sat", "sun"], "holidays": [], "working_days": [] }
J
h authority sign --dir prov --in proc.json --out proc.signed
h authority sign --dir prov --in cal.json --out cal.signed
# The server's key is made where it lives, as OPERATIONS.md §1.2 says.
(
  cd /etc/hoso
  head -c 32 /dev/urandom | base64 >server.pass
  /usr/bin/hoso key new --out server.key --name "Máy chủ CI" --kdf interactive --passphrase-file server.pass >/dev/null
  chgrp hoso server.key server.pass && chmod 0640 server.key server.pass
)
h authority certify --dir prov --pub /etc/hoso/server.key.pub --kind server --name "Máy chủ CI" --unit 000.00.00.H12 --out server.cert
install -m 0644 server.cert prov/root.pub /etc/hoso/
chmod 0711 prov && chmod -R a+rX prov/issued

# /etc/default/hoso read the way systemd reads an EnvironmentFile (NAME=value,
# no shell), not sourced: a value may hold spaces.
while IFS= read -r line; do
  [[ $line =~ ^(HOSO_[A-Z_]+)=(.*)$ ]] || continue
  v=${BASH_REMATCH[2]}
  [[ $v == \"*\" ]] && v=${v:1:-1}
  printf -v "${BASH_REMATCH[1]}" '%s' "$v"
  echo "  ${BASH_REMATCH[1]}=$v"
done </etc/default/hoso
# The unit's command line with HOSO_LISTEN's host moved to loopback and any
# free port (CI machines run other servers).
install -d -o hoso -g hoso -m 0700 "$work/run"
start_server() {
  rm -f "$work/run/port"
  runuser -u hoso -- /usr/bin/hoso serve --data "$HOSO_DATA" --root "$HOSO_ROOT" --key "$HOSO_KEY" --cert "$HOSO_CERT" \
    --listen 127.0.0.1:0 --passphrase-file "$HOSO_PASSPHRASE_FILE" $HOSO_SERVE_OPTS --port-file "$work/run/port" \
    2>>"$work/serve.log" &
  SRV_PID=$!
  for _ in $(seq 100); do [[ -s $work/run/port ]] && break; sleep 0.1; done
  [[ -s $work/run/port ]] || fail "the installed server did not start"
  port=$(cat "$work/run/port")
}
# SIGTERM to hoso serve itself, as systemd sends it (runuser would turn a
# signal of its own into SIGKILL after 2 s); runuser exits with its status.
stop_server() {
  local srv rc=0 t=$SECONDS
  srv=$(pgrep -P $SRV_PID -x hoso) || fail "no hoso process under runuser"
  kill -TERM "$srv"
  wait $SRV_PID || rc=$?
  SRV_PID=
  [[ $rc == 0 ]] || fail "the server exited $rc on SIGTERM"
  echo "  stopped on SIGTERM in $((SECONDS - t)) s"
}
start_server
runuser -u hoso -- /usr/bin/hoso publish --data "$HOSO_DATA" prov/issued/* >/dev/null || fail "publish as hoso"
[[ $(stat -c %U "$HOSO_DATA/hoso.db") == hoso ]] || fail "the store is not hoso's"

step "sync a laptop to it"
HOSO_PASSPHRASE=test-pass /usr/bin/hoso init --db desk1.db --root prov/root.pub --device-key desk1.key \
  --device-cert desk1.cert --server 127.0.0.1:$port >/dev/null
HOSO_PASSPHRASE=test-pass /usr/bin/hoso sync --db desk1.db >/dev/null || fail "first sync"
h receive --db desk1.db --as off.key --procedure 1.001193 --applicant "Nguyễn Văn An"
sync_json=$(HOSO_PASSPHRASE=test-pass /usr/bin/hoso sync --db desk1.db --json) || fail "sync"
acked=$(python3 -c 'import json,sys; d = json.loads(sys.argv[1]); print(d["acked"], d["pending"])' "$sync_json")
[[ $acked == "1 0" ]] || fail "sync: acked, pending = $acked"
# A backup taken as root while the server runs; the server goes on after it.
/usr/bin/hoso backup --data "$HOSO_DATA" --out "$work/srv.bak" >/dev/null || fail "backup of the running server"
/usr/bin/hoso verify --db "$work/srv.bak" >/dev/null || fail "verify of the server backup"
h act --db desk1.db --as off.key 000.00.31.H12-260302-1000 accept
HOSO_PASSPHRASE=test-pass /usr/bin/hoso sync --db desk1.db >/dev/null || fail "sync after the backup"
runuser -u hoso -- /usr/bin/hoso report --data "$HOSO_DATA" --json >"$work/report.json" || fail "report --data as hoso"
python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); assert d["devices"][0]["acked"] == 2, d["devices"]' "$work/report.json" ||
  fail "the server's report does not show the laptop's 2 events"
grep -q 'acknowledged up to 2' "$work/serve.log" || fail "the server log does not show the push"
stop_server

# OPERATIONS.md §8: the server restored as root from the backup (1 event);
# the store stays hoso's, and the laptop sends its second event again.
step "restore the server, catch up"
/usr/bin/hoso restore --from "$work/srv.bak" --data "$HOSO_DATA" --force >/dev/null || fail "restore of the server"
[[ $(stat -c %U "$HOSO_DATA/hoso.db") == hoso ]] || fail "the restored store is $(stat -c %U "$HOSO_DATA/hoso.db")'s, not hoso's"
start_server
sync_json=$(HOSO_PASSPHRASE=test-pass /usr/bin/hoso sync --db desk1.db --server 127.0.0.1:$port --json) || fail "sync after the restore"
acked=$(python3 -c 'import json,sys; d = json.loads(sys.argv[1]); print(d["pushed"], d["acked"])' "$sync_json")
[[ $acked == "1 2" ]] || fail "sync after the restore: pushed, acked = $acked"
runuser -u hoso -- /usr/bin/hoso verify --data "$HOSO_DATA" >/dev/null || fail "verify --data of the restored server"
stop_server
rm -f "$HOSO_DATA"/hoso.db.replaced-*
cd - >/dev/null

# --- Upgrade (the same version again: postinst with the old version set). -----
step "reinstall keeps settings and data"
"${as_root[@]}" sed -i 's|^HOSO_LISTEN=.*|HOSO_LISTEN=127.0.0.1:7443|' /etc/default/hoso
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall -o Dpkg::Options::=--force-confold \
  "$deb" >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; fail "reinstall"; }
grep -qx 'HOSO_LISTEN=127.0.0.1:7443' /etc/default/hoso || fail "the reinstall lost a change to /etc/default/hoso"
[[ -s /var/lib/hoso/hoso.db && -s /etc/hoso/server.key ]] || fail "the reinstall lost the store or the key"
[[ $(stat -c %U /var/lib/hoso/hoso.db) == hoso ]] || fail "the store changed owner"

# --- Purge. -------------------------------------------------------------------
step "purge"
# What an operator adds (OPERATIONS.md §1.3) goes with the package: the
# enablement link and a drop-in. systemctl enable works without a running systemd.
"${as_root[@]}" systemctl enable hoso-server.service >/dev/null 2>&1 || fail "systemctl enable hoso-server"
[[ -L /etc/systemd/system/multi-user.target.wants/hoso-server.service ]] || fail "systemctl enable made no link"
"${as_root[@]}" install -D -m 0644 /dev/null /etc/systemd/system/hoso-server.service.d/override.conf
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq hoso >"$work/apt.log" 2>&1 ||
  { cat "$work/apt.log" >&2; fail "apt-get purge"; }
! installed || fail "dpkg still lists hoso as installed"
! getent passwd hoso >/dev/null || fail "user hoso left behind"
! getent group hoso >/dev/null || fail "group hoso left behind"
for f in /usr/bin/hoso /usr/share/man/man1/hoso.1.gz /usr/share/bash-completion/completions/hoso /usr/share/doc/hoso \
  $unit /etc/default/hoso /etc/hoso /var/lib/hoso /etc/systemd/system/multi-user.target.wants/hoso-server.service \
  /var/cache/man/cat1/hoso.1.gz /var/lib/dpkg/info/hoso.list /etc/systemd/system/hoso-server.service.d; do
  [[ ! -e $f ]] || fail "$f left behind"
done
step "done"
