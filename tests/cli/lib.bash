# Shared helpers of the command-line tests (tests/cli/*.sh). Sourced, never run
# on its own: the .bash ending keeps it out of the tests CMake collects.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
#   setup_workdir                 # fresh folder, removed on exit; cd into it
#   expect_ok cmd...              # exit 0, nothing on stderr; stdout in $OUT
#   expect_fail CODE cmd...       # exit CODE, one line "hoso: error: ..." on stderr
#   json_get FILE EXPR            # a value of the JSON in FILE, e.g. json_get "$OUT" 'd["id"]'

OUT=out.txt  # stdout of the last expect_ok / expect_fail (in the work folder)
ERR=err.txt  # its stderr
ERR_LINE=    # the one stderr line of the last expect_fail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Shows what the last command printed, then fails.
fail_with_output() {
  {
    echo "--- stdout:"
    head -c 4000 "$OUT" 2>/dev/null || true
    echo "--- stderr:"
    head -c 4000 "$ERR" 2>/dev/null || true
    echo "---"
  } >&2
  fail "$@"
}

cleanup_workdir() {
  local rc=$?
  if [[ -n ${WORK:-} && -d $WORK ]]; then
    cd / && rm -rf -- "$WORK"
  fi
  return $rc
}

setup_workdir() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/hoso-cli.XXXXXX")
  trap cleanup_workdir EXIT
  cd "$WORK"
  OUT=$WORK/out.txt
  ERR=$WORK/err.txt
}

# expect_ok cmd...: the command succeeds and says nothing on stderr.
expect_ok() {
  local rc=0
  "$@" >"$OUT" 2>"$ERR" || rc=$?
  [[ $rc == 0 ]] || fail_with_output "expected success, got exit $rc: $*"
  [[ ! -s $ERR ]] || fail_with_output "expected nothing on stderr: $*"
}

# expect_fail CODE cmd...: the command exits CODE with exactly one line on
# stderr, starting "hoso: error:", and nothing on stdout.
expect_fail() {
  local want=$1
  shift
  local rc=0
  "$@" >"$OUT" 2>"$ERR" || rc=$?
  [[ $rc == "$want" ]] || fail_with_output "expected exit $want, got $rc: $*"
  local lines
  lines=$(wc -l <"$ERR")
  [[ $lines == 1 ]] || fail_with_output "expected exactly one line on stderr, got $lines: $*"
  ERR_LINE=$(cat "$ERR")
  [[ $ERR_LINE == "hoso: error: "?* ]] || fail_with_output "stderr does not start with \"hoso: error: \": $*"
  [[ ! -s $OUT ]] || fail_with_output "expected nothing on stdout: $*"
}

# error_says TEXT: the last expect_fail's line contains TEXT.
error_says() {
  [[ $ERR_LINE == *"$1"* ]] || fail "error line does not mention \"$1\": $ERR_LINE"
}

# assert_eq ACTUAL EXPECTED WHAT
assert_eq() {
  [[ $1 == "$2" ]] || fail "$3: expected \"$2\", got \"$1\""
}

# assert_match VALUE REGEX WHAT
assert_match() {
  [[ $1 =~ $2 ]] || fail "$3: \"$1\" does not match /$2/"
}

assert_absent() {
  local f
  for f in "$@"; do
    [[ ! -e $f ]] || fail "$f should not exist"
  done
}

assert_present() {
  local f
  for f in "$@"; do
    [[ -s $f ]] || fail "$f should exist and not be empty"
  done
}

# json_get FILE EXPR: evaluates EXPR over `d`, the JSON of FILE (or, for a file
# of signed items, its first line); strings print raw, other values as JSON.
json_get() {
  python3 - "$1" "$2" <<'PY'
import json, sys
text = open(sys.argv[1], encoding="utf-8").read()
try:
    d = json.loads(text)
except ValueError:
    d = json.loads(text.splitlines()[0])
v = eval(sys.argv[2], {"d": d, "json": json})
print(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True))
PY
}

# item_id FILE: BLAKE2b-256 of the first line of a file of signed items, as a
# third party computes it (PROTOCOL §4.3).
item_id() {
  python3 - "$1" <<'PY'
import hashlib, sys
line = open(sys.argv[1], "rb").read().split(b"\n")[0]
print(hashlib.blake2b(line, digest_size=32).hexdigest())
PY
}

# count_files DIR: how many entries DIR holds (0 if it does not exist).
count_files() {
  if [[ -d $1 ]]; then
    find "$1" -mindepth 1 -maxdepth 1 | wc -l
  else
    echo 0
  fi
}
