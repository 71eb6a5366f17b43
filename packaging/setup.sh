#!/usr/bin/env bash
# Installs hoso's build dependencies from Debian (when missing), then configures and
# builds into build/. Idempotent and non-interactive; safe to run again.
#   HOSO_SANITIZE=ON   build with ASan+UBSan into $HOSO_BUILD_DIR (default build/)
#   HOSO_SKIP_APT=1    never call apt-get (e.g. no root)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

pkgs=(build-essential cmake pkg-config libsqlite3-dev libsodium-dev libboost-dev catch2
      nlohmann-json3-dev libzstd-dev libssl-dev libcli11-dev ccache
      # the provincial store (issue 5) and a PostgreSQL server for its tests
      libpq-dev postgresql
      # receipts with QR codes, browser tests, PDFs with Vietnamese text (issues 5, 7)
      libqrencode-dev chromium poppler-utils fonts-noto-core
      # libFuzzer and TSan builds (issue 6); packaging checks (issue 8)
      clang libclang-rt-14-dev systemd file bash-completion)
# Node.js drives the browser tests (playwright-core from the lock file); the
# machine's own Node is kept when there is one.
command -v npm >/dev/null || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})) && [[ ${HOSO_SKIP_APT:-0} != 1 ]]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build_dir=${HOSO_BUILD_DIR:-build}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${HOSO_BUILD_TYPE:-RelWithDebInfo}" \
  -DHOSO_SANITIZE="${HOSO_SANITIZE:-OFF}" "${launcher[@]}" >/dev/null
cmake --build "$build_dir" -j"${HOSO_JOBS:-2}"

# The browser tests' driver (playwright-core, pinned by the lock file); the
# browser itself is Debian's chromium, never a download.
if [[ -f tests/ui/package-lock.json ]]; then
  if command -v npm >/dev/null; then
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/ui --silent --no-audit --no-fund >/dev/null 2>&1 ||
      echo "setup: npm ci in tests/ui failed; the browser tests (cli.ui) will be skipped"
  else
    echo "setup: npm is missing; the browser tests (cli.ui) will be skipped"
  fi
fi
