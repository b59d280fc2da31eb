"""The committed artifacts are what a fresh build produces, byte for byte.

Rebuilding takes a few seconds (puyapy + client generator), and it is the only thing that
catches an edited contract whose TEAL, ARC-56 spec or typed client was not regenerated: deploy
would otherwise ship stale bytecode. Fix a failure with `python -m smart_contracts build`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from smart_contracts.__main__ import ARTIFACTS_DIR, ROOT, build_into, contract_names


def artifact_files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def fresh_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    builds = {}
    for name in contract_names():
        out = tmp_path_factory.mktemp(name)
        build_into(name, out)
        builds[name] = artifact_files(out)
    return builds


def test_every_contract_has_committed_artifacts() -> None:
    assert contract_names(), "no smart_contracts/<name>/contract.py found"
    assert (ARTIFACTS_DIR / "__init__.py").is_file()
    for name in contract_names():
        assert (ARTIFACTS_DIR / name / "__init__.py").is_file(), f"{name} was never built"


@pytest.mark.parametrize("name", contract_names())
def test_committed_artifacts_equal_a_fresh_build(
    fresh_builds: dict[str, dict[str, bytes]], name: str
) -> None:
    committed = artifact_files(ARTIFACTS_DIR / name)

    assert sorted(committed) == sorted(fresh_builds[name])
    stale = [f for f in committed if committed[f] != fresh_builds[name][f]]
    assert stale == [], f"stale artifacts {stale}: run `python -m smart_contracts build`"


@pytest.mark.parametrize("name", contract_names())
def test_a_build_holds_teal_spec_and_client_without_machine_paths(
    fresh_builds: dict[str, dict[str, bytes]], name: str
) -> None:
    files = fresh_builds[name]
    [spec] = [f for f in files if f.endswith(".arc56.json")]
    contract = spec.removesuffix(".arc56.json")

    assert set(files) == {
        "__init__.py",
        f"{contract}.approval.teal",
        f"{contract}.clear.teal",
        spec,
        f"{name}_client.py",
    }
    for content in files.values():
        assert str(ROOT).encode() not in content
