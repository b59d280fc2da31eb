"""The seeds' acceptance test (issue 17, item 4): the iris example run in two virtual
environments freshly created from the lock file, the second run recorded by another account with
`algo-tracer reproduce`, verifies with the same data digest, model digest and accuracy; with
one package version changed in the second environment, the report shows that difference.

The environments come from uv.lock with uv (`uv sync --frozen --offline`): uv links packages
from its cache, so each takes seconds and needs no network. Changing a package's version uses
the cache too when it holds that version (else one download from the package index).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from algokit_utils import AlgoAmount, AlgorandClient
from algosdk import mnemonic

from algo_tracer import Manifest
from algo_tracer.cli import main

ROOT = Path(__file__).resolve().parents[2]
UV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "algo-tracer/tools/bin/uv"
#: The package whose version the second environment changes, and the version it changes to.
CHANGED = ("threadpoolctl", "3.5.0")
PYTHON = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"

if not UV.exists():
    pytest.skip(f"uv is not at {UV} (make bootstrap installs it)", allow_module_level=True)


def _venv(where: Path) -> Path:
    env = dict(os.environ, UV_PROJECT_ENVIRONMENT=str(where))
    subprocess.run([str(UV), "sync", "--frozen", "--offline", "--quiet", "--project", str(ROOT),
                    "--python", str(PYTHON)], env=env, check=True, timeout=600)
    return where / "bin"


def _env(state: Path, mnemonic_words: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ALGO_TRACER_MNEMONIC", "ALGO_TRACER_REPRODUCES", "VIRTUAL_ENV"))}
    env["ALGO_TRACER_DIR"] = str(state)
    if mnemonic_words:
        env["ALGO_TRACER_MNEMONIC"] = mnemonic_words
    return env


def _reproduce(bin_dir: Path, original: Path, out: Path, env: dict[str, str]) -> None:
    subprocess.run([str(bin_dir / "algo-tracer"), "reproduce", "--of", str(original), "--",
                    str(bin_dir / "python"), "examples/iris_sklearn.py", str(out)],
                   cwd=ROOT, env=env, check=True, timeout=900)


@pytest.fixture(scope="module")
def runs(localnet, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("venvs")
    first, second = _venv(tmp / "venv-1"), _venv(tmp / "venv-2")
    algorand = AlgorandClient.default_localnet()
    other = algorand.account.random()
    algorand.account.ensure_funded(other, algorand.account.localnet_dispenser(),
                                   AlgoAmount(algo=10))
    words = mnemonic.from_private_key(other.private_key)

    # The original: the iris example in the first environment, by the default LocalNet account.
    subprocess.run([str(first / "python"), "examples/iris_sklearn.py", str(tmp / "original")],
                   cwd=ROOT, env=_env(tmp / "state-1", None), check=True, timeout=900)
    original = tmp / "original" / "manifest.json"
    # The reproduction: the second environment, another account, through `algo-tracer reproduce`.
    _reproduce(second, original, tmp / "same", _env(tmp / "state-2", words))
    # One package version changed in the second environment, and reproduced again.
    install = [str(UV), "pip", "install", "--quiet", "--python", str(second / "python"),
               "==".join(CHANGED)]
    if subprocess.run([*install, "--offline"], check=False, timeout=300).returncode != 0:
        subprocess.run(install, check=True, timeout=300)
    _reproduce(second, original, tmp / "changed", _env(tmp / "state-2", words))
    return {"original": Manifest.read(original), "reproducer": other.address,
            "same": Manifest.read(tmp / "same" / "manifest.json"),
            "changed": Manifest.read(tmp / "changed" / "manifest.json")}


def test_a_rerun_in_a_fresh_environment_by_another_account_verifies_as_a_reproduction(
        runs: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    original, same = runs["original"], runs["same"]

    code = main(["verify", original.experiment_id, "--app-id", str(original.app_id),
                 "--json", "-q"])
    report = json.loads(capsys.readouterr().out)

    rows = {r["experiment_id"]: r for r in report["reproduced_by"]["reproductions"]}
    row = rows[same.experiment_id]
    statuses = {r["label"]: r["status"] for r in row["comparison"]["rows"]}
    accuracy = next(m for m in row["comparison"]["metrics"] if m["name"] == "accuracy")
    assert code == 0 and row["status"] == "verified" and row["matched"]
    assert row["recorder"] == runs["reproducer"] != original.owner
    assert not row["self_reproduction"] and report["reproduced_by"]["independent_accounts"] == 1
    for label in ("environment", "code", "data:train", "data:test", "params", "model",
                  "metrics", "seed"):
        assert statuses[label] == "equal", label
    for label in ("data:train", "data:test", "model"):
        assert same.stage(label).digest == original.stage(label).digest
    assert accuracy["original"] == accuracy["reproduction"] == \
        original.stage("metrics").detail["metrics"]["accuracy"]


def test_one_changed_package_version_shows_as_the_environment_difference(
        runs: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    original, changed = runs["original"], runs["changed"]

    main(["verify", original.experiment_id, "--app-id", str(original.app_id), "--json", "-q"])
    report = json.loads(capsys.readouterr().out)

    row = next(r for r in report["reproduced_by"]["reproductions"]
               if r["experiment_id"] == changed.experiment_id)
    by_label = {r["label"]: r for r in row["comparison"]["rows"]}
    locked = original.stage("environment").detail["packages"][CHANGED[0]]
    assert row["status"] == "verified" and not row["matched"]
    assert by_label["environment"]["status"] == "different"
    assert by_label["environment"]["differences"] == [
        f"package '{CHANGED[0]}' changed {locked} -> {CHANGED[1]}"]
    assert all(by_label[label]["status"] == "equal"
               for label in ("data:train", "data:test", "model", "metrics"))
    assert "environment differ" in row["summary"]
