#!/usr/bin/env bash
# hoso_proxy, the fault-injecting TCP proxy of the sync tests, in front of a
# tiny Python echo/source server on loopback: plain relay is byte-exact, cuts
# land in the configured range (and repeat with the same seed), the rate limit
# holds, byte flips happen, down windows refuse and cut, the port file works,
# non-loopback addresses are refused, SIGTERM stops it cleanly.
set -euo pipefail
HOSO=${1:?usage: proxy.sh path/to/hoso}
PROXY=$(dirname "$HOSO")/tests/proxy/hoso_proxy
fail() { echo "FAIL: $*" >&2; exit 1; }
[[ -x $PROXY ]] || fail "hoso_proxy not built at $PROXY"

T=$(mktemp -d)
PIDS=()
cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
  return $rc
}
trap cleanup EXIT
cd "$T"

# --- the servers: "echo" sends back what it reads; "source" reads a line
# "N\n" and sends N deterministic bytes (random.Random(7)), then closes.
cat >server.py <<'EOF'
import random, socketserver, sys, threading, os
class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while True:
                b = self.request.recv(65536)
                if not b: break
                self.request.sendall(b)
        except OSError:
            pass
class Source(socketserver.StreamRequestHandler):
    def handle(self):
        try:
            n = int(self.rfile.readline())
            self.wfile.write(random.Random(7).randbytes(n))
        except (OSError, ValueError):
            pass
class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
for handler, name in ((Echo, "echo.port"), (Source, "source.port")):
    s = Server(("127.0.0.1", 0), handler)
    with open(name + ".tmp", "w") as f: f.write(str(s.server_address[1]))
    os.rename(name + ".tmp", name)
    threading.Thread(target=s.serve_forever, daemon=True).start()
threading.Event().wait()
EOF

# --- the client: prints one line of results per mode.
cat >client.py <<'EOF'
import hashlib, random, socket, sys, threading, time
mode, port = sys.argv[1], int(sys.argv[2])
def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s
if mode == "echo":                       # echo SIZE: digest of what came back
    size = int(sys.argv[3])
    data = random.Random(3).randbytes(size)
    s = connect()
    def send():
        s.sendall(data); s.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=send); t.start()
    h, got = hashlib.blake2b(), 0
    while True:
        b = s.recv(65536)
        if not b: break
        h.update(b); got += len(b)
    t.join()
    print("same" if h.digest() == hashlib.blake2b(data).digest() else "differ", got)
elif mode == "source":                   # source N: received, differing bytes, seconds
    n = int(sys.argv[3])
    want = random.Random(7).randbytes(n)
    start = time.monotonic()
    s = connect()
    s.sendall(b"%d\n" % n)
    got = bytearray()
    try:
        while True:
            b = s.recv(65536)
            if not b: break
            got += b
    except ConnectionResetError:
        pass
    diff = sum(1 for a, b in zip(got, want) if a != b)
    print(len(got), diff, "%.3f" % (time.monotonic() - start))
elif mode == "down":                     # down SECONDS: ok/refused counts, long connection cut?
    def ping(s):
        try:
            s.sendall(b"ping")
            return s.recv(4) == b"ping"
        except OSError:
            return False
    long = connect()
    long_ok_at_start = ping(long)
    ok = refused = 0
    end = time.monotonic() + float(sys.argv[3])
    while time.monotonic() < end:
        try:
            s = connect()
            s.settimeout(1)
            if ping(s): ok += 1
            else: refused += 1
            s.close()
        except OSError:
            refused += 1
        time.sleep(0.03)
    long_alive = long_ok_at_start and ping(long)
    print(ok, refused, "alive" if long_alive else "cut")
EOF

python3 server.py &
PIDS+=($!)
for _ in $(seq 200); do [[ -s echo.port && -s source.port ]] && break; sleep 0.05; done
[[ -s echo.port && -s source.port ]] || fail "test server did not start"
ECHO=$(cat echo.port)
SOURCE=$(cat source.port)

# start_proxy NAME TARGET_PORT args...: proxy on an ephemeral port ($PORT),
# pid in $PPID_, log in NAME.log.
start_proxy() {
  local name=$1 target=$2
  shift 2
  "$PROXY" --listen 127.0.0.1:0 --port-file "$name.port" --target "127.0.0.1:$target" --log "$name.log" "$@" &
  PPID_=$!
  PIDS+=("$PPID_")
  for _ in $(seq 200); do [[ -s $name.port ]] && break; sleep 0.05; done
  [[ -s $name.port ]] || fail "$name: proxy wrote no port file"
  PORT=$(cat "$name.port")
  [[ $PORT =~ ^[0-9]+$ && $PORT != 0 ]] || fail "$name: bad port file: $PORT"
}

# Plain relay: 1 MB both ways, byte-exact.
start_proxy plain "$ECHO"
read -r verdict got < <(python3 client.py echo "$PORT" 1000000)
[[ $verdict == same && $got == 1000000 ]] || fail "plain relay: $verdict after $got bytes"
grep -q "conn 0 accepted" plain.log || fail "plain relay: no accept in the log"
# SIGTERM stops it cleanly.
kill -TERM "$PPID_"
rc=0; wait "$PPID_" || rc=$?
[[ $rc == 0 ]] || fail "proxy exit $rc on SIGTERM"
grep -q "stopping" plain.log || fail "no stop line in the log"

# Cut: total relayed bytes (the 8-byte request "1000000\n" plus what comes
# back) lands in [20000, 50000]; the same seed cuts at the same byte.
cuts=()
for run in 1 2; do
  start_proxy "cut$run" "$SOURCE" --seed 42 --cut-min 20000 --cut-max 50000
  read -r got diff _ < <(python3 client.py source "$PORT" 1000000)
  total=$((got + 8))
  ((total >= 20000 && total <= 50000)) || fail "cut: connection cut after $total bytes, outside [20000, 50000]"
  [[ $diff == 0 ]] || fail "cut: $diff bytes differ"
  grep -q "cut at $total bytes" "cut$run.log" || fail "cut: log does not say 'cut at $total bytes'"
  cuts+=("$total")
done
[[ ${cuts[0]} == "${cuts[1]}" ]] || fail "cut: same seed cut at ${cuts[0]} then ${cuts[1]}"
start_proxy cut3 "$SOURCE" --seed 43 --cut-min 20000 --cut-max 50000
read -r got _ _ < <(python3 client.py source "$PORT" 1000000)
[[ $((got + 8)) != "${cuts[0]}" ]] || fail "cut: seeds 42 and 43 cut at the same byte"

# Rate: 128 KiB at 64 KiB/s takes about 2 s.
start_proxy rate "$SOURCE" --rate 65536
read -r got diff secs < <(python3 client.py source "$PORT" 131072)
[[ $got == 131072 && $diff == 0 ]] || fail "rate: got $got bytes, $diff differ"
python3 -c "import sys; sys.exit(0 if 1.5 <= $secs <= 8 else 1)" || fail "rate: 128 KiB took $secs s"

# Flips: about 1% of 200000 bytes differ, the length does not change.
start_proxy flip "$SOURCE" --seed 5 --flip-prob 0.01
read -r got diff _ < <(python3 client.py source "$PORT" 200000)
[[ $got == 200000 ]] || fail "flip: got $got bytes"
((diff >= 1000 && diff <= 4000)) || fail "flip: $diff of 200000 bytes differ, expected about 2000"

# Stall: 40000 bytes with a 300 ms pause every 16000 takes at least 0.5 s.
start_proxy stall "$SOURCE" --stall-ms 300 --stall-every 16000
read -r got diff secs < <(python3 client.py source "$PORT" 40000)
[[ $got == 40000 && $diff == 0 ]] || fail "stall: got $got bytes, $diff differ"
python3 -c "import sys; sys.exit(0 if $secs >= 0.5 else 1)" || fail "stall: took only $secs s"

# Down windows (200 ms every 400 ms): some connections get through, some are
# refused, and a connection open across a window is cut.
start_proxy down "$ECHO" --down-ms 200 --down-every-ms 400
read -r ok refused long < <(python3 client.py down "$PORT" 1.5)
((ok > 0 && refused > 0)) || fail "down: $ok connections through, $refused refused"
[[ $long == cut ]] || fail "down: a connection survived a down window"
grep -q "refused (down window)" down.log || fail "down: no refusal in the log"

# Only loopback: one error line, exit 2, nothing started.
for args in "--listen 0.0.0.0:0 --target 127.0.0.1:$ECHO" "--listen 127.0.0.1:0 --target 10.1.2.3:80" \
            "--listen 127.0.0.1:0 --target example.org:80"; do
  rc=0
  # shellcheck disable=SC2086
  "$PROXY" $args --port-file never.port >out.txt 2>err.txt || rc=$?
  [[ $rc == 2 ]] || fail "expected exit 2 for $args, got $rc"
  [[ $(wc -l <err.txt) == 1 ]] && grep -q "^hoso_proxy: error: .*loopback" err.txt || fail "bad error for $args: $(cat err.txt)"
  [[ ! -e never.port ]] || fail "a port file was written for $args"
done
rc=0; "$PROXY" --listen 127.0.0.1:0 --target "127.0.0.1:$ECHO" --cut-min 5 2>err.txt || rc=$?
[[ $rc == 2 && $(wc -l <err.txt) == 1 ]] || fail "expected one usage error line, exit 2 (got $rc)"

echo "proxy: ok"
