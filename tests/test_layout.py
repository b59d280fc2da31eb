"""The package layout of docs/design.md stays true: every module is on the map, only
`algo_tracer.network` calls algod/Indexer/KMD clients, and modules stay small enough to read.

The import rules themselves are import-linter contracts (pyproject.toml, `make lint`); these
tests cover what an import graph cannot see.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "algo_tracer"

#: Modules allowed past MAX_LINES, and why.
LONG_MODULES = {
    "algo_tracer/format/notes.py": "the note codec is one byte format (docs/note-format.md), "
                                   "read and written side by side",
    "algo_tracer/hashing/_files.py": "file and directory hashing are one scheme (docs/hashing.md "
                                     "sections 3-5): ignore rules, symlinks, the parallel pool",
}
MAX_LINES = 430


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "gotools" not in p.parts)


def test_every_module_is_on_the_design_map() -> None:
    design = (ROOT / "docs" / "design.md").read_text()
    missing = [p.relative_to(ROOT).as_posix() for p in _modules()
               if f"`{p.relative_to(ROOT).as_posix()}`" not in design]
    assert missing == [], f"add these to the map in docs/design.md: {missing}"


def test_the_map_names_no_module_that_is_gone() -> None:
    design = (ROOT / "docs" / "design.md").read_text()
    named = {line.split("`")[1] for line in design.splitlines()
             if line.startswith("| `algo_tracer/") or line.startswith("| `smart_contracts/")}
    assert sorted(n for n in named if not (ROOT / n).exists()) == []


def test_only_the_network_package_calls_the_node_clients() -> None:
    # `algorand.client.algod.status()` is an attribute chain, not an import: import-linter cannot
    # see it, so it is looked for here.
    offenders = []
    for path in _modules():
        if path.is_relative_to(PACKAGE / "network"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr in {"algod", "indexer", "kmd"}
                    and isinstance(node.value, ast.Attribute) and node.value.attr == "client"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == [], f"move these calls into algo_tracer/network/: {offenders}"


def test_modules_stay_readable() -> None:
    long = {p.relative_to(ROOT).as_posix(): len(p.read_text().splitlines()) for p in _modules()}
    over = {name: n for name, n in long.items() if n > MAX_LINES and name not in LONG_MODULES}
    assert over == {}, f"split these modules by job (or say why in LONG_MODULES): {over}"
