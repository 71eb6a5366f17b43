#!/usr/bin/env bash
# A throwaway PostgreSQL for hoso's tests and benchmarks: initdb into a folder,
# listening only on a Unix socket in that folder (no TCP port to collide with),
# run as an unprivileged user (initdb refuses root).
#   tests/pg/pg.sh start DIR   prints the connection URL of database "hoso"
#   tests/pg/pg.sh stop DIR
#   tests/pg/pg.sh url DIR
# The URL is what `hoso serve --store` takes; tests read it from HOSO_TEST_PG.
set -euo pipefail
cmd=${1:?start|stop|url}
dir=$(mkdir -p "${2:?DIR}" && cd "$2" && pwd)
bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[[ -x $bin/initdb ]] || { echo "pg.sh: no PostgreSQL server binaries (install postgresql)" >&2; exit 1; }
as=()
if [[ $(id -u) -eq 0 ]]; then
  as=(runuser -u postgres --)
  chown postgres "$dir"
fi
url() { echo "postgresql://hoso@/hoso?host=$dir/sock"; }
case $cmd in
  start)
    if [[ ! -f $dir/data/PG_VERSION ]]; then
      mkdir -p "$dir/sock"
      ((${#as[@]} == 0)) || chown postgres "$dir/sock"
      "${as[@]}" "$bin/initdb" -D "$dir/data" -U hoso --auth=trust --locale=C.UTF-8 -E UTF8 >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if "${as[@]}" "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then url; exit 0; fi
    # Durability stays on (fsync, synchronous_commit): the tests check durable acknowledgements.
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses='' -c unix_socket_directories='$dir/sock' -c max_connections=600 -c shared_buffers=256MB" start >/dev/null ||
      { cat "$dir/server.log" >&2; exit 1; }
    "$bin/psql" -h "$dir/sock" -U hoso -d postgres -qAtc "SELECT 1 FROM pg_database WHERE datname='hoso'" | grep -q 1 ||
      "$bin/createdb" -h "$dir/sock" -U hoso hoso
    url
    ;;
  stop) "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null ;;
  url) url ;;
  *) echo "pg.sh: unknown command $cmd" >&2; exit 2 ;;
esac
