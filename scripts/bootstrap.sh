#!/usr/bin/env bash
# Installs everything algo-tracer needs on a fresh Debian/Ubuntu machine, idempotently:
# Debian build and database packages, Python 3.12, uv, and the locked Python environment (.venv).
# The local network's Go binaries are built later, on first `algo-tracer localnet start`,
# into a per-user cache (see README "Local network").
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[bootstrap] %s\n' "$*"; }
die() { printf '[bootstrap] error: %s\n' "$*" >&2; exit 2; }

UV_VERSION=0.13.9
TOOLS_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/algo-tracer/tools"

# Debian packages: autotools + compiler for the libsodium fork inside go-algorand, PostgreSQL for
# the indexer, git/curl for version stamps and health checks, Chromium for the web page test.
APT_PACKAGES=(build-essential autoconf automake libtool pkg-config postgresql git curl chromium)
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    die "missing Debian packages: ${missing[*]}. Run: sudo apt-get install -y ${missing[*]}"
  fi
fi

# Python 3.12 (puyapy and algorand-python need >= 3.12): PYTHON, then python3.12 on PATH, then pyenv.
find_python() {
  local c
  for c in "${PYTHON:-}" python3.12 "$(command -v pyenv >/dev/null 2>&1 && pyenv root)/versions/"3.12*/bin/python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12; do
    [[ -n "$c" ]] || continue
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else 1)' 2>/dev/null; then
      command -v "$c"; return 0
    fi
  done
  return 1
}
PY=$(find_python) || die "Python 3.12 not found. Install it (e.g. 'pyenv install 3.12' or 'apt-get install python3.12') or set PYTHON=/path/to/python3.12"

if [[ ! -x "$TOOLS_DIR/bin/uv" ]] || [[ "$("$TOOLS_DIR/bin/uv" --version 2>/dev/null)" != "uv $UV_VERSION"* ]]; then
  say "installing uv $UV_VERSION into $TOOLS_DIR"
  "$PY" -m venv "$TOOLS_DIR"
  "$TOOLS_DIR/bin/pip" install -q --disable-pip-version-check "uv==$UV_VERSION"
fi

say "syncing the locked Python environment (.venv, Python $("$PY" -c 'import platform; print(platform.python_version())'))"
UV_PYTHON="$PY" "$TOOLS_DIR/bin/uv" sync --frozen --quiet
