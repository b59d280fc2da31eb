#!/usr/bin/env bash
# Regenerates docs/screenshot-notebook.png (shown in the README): executes
# examples/iris_notebook.ipynb against the running LocalNet in the project's .venv kernel,
# renders it to HTML with nbconvert and photographs the page with headless Chromium
# (Debian's: apt-get install -y chromium). Not part of `make test`; the notebook itself is
# executed by tests/localnet/test_notebook.py.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d)
profile=$(mktemp -d)
trap 'rm -rf "$work" "$profile"' EXIT
cp examples/iris_notebook.ipynb "$work/"
# The python3 kernel of the interpreter running nbconvert: the project's .venv.
(cd "$work" && "$repo/.venv/bin/python" -m nbconvert --to html --execute \
    --ExecutePreprocessor.kernel_name=python3 --ExecutePreprocessor.timeout=600 \
    iris_notebook.ipynb --output executed.html)
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
    --hide-scrollbars --window-size="${WIDTH:-1100},${HEIGHT:-4000}" \
    --screenshot="$repo/docs/screenshot-notebook.png" "file://$work/executed.html"
