#!/usr/bin/env bash
# The project's interpreter, whatever PATH holds: `.algokit.toml` runs its commands through this,
# so `algokit project deploy localnet` (and `algokit project run ...`) work from a fresh clone
# without activating .venv. algokit runs a command from the project directory and resolves a bare
# `python` on PATH, which is not the one with algokit-utils unless .venv is active.
# A clone without .venv is set up first (scripts/bootstrap.sh, as `make bootstrap`).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x .venv/bin/python ]]; then
  bash scripts/bootstrap.sh >&2
fi
exec .venv/bin/python "$@"
