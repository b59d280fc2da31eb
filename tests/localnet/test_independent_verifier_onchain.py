"""The independent reader (examples/independent_verifier.py) against a real node.

The reader imports neither algo_tracer nor algokit: it is written from the docs. It must agree
with `verify_experiment` on the chain head, every note batch's root and the sealed final digest
(and with the manifest on the metadata digest), and reject a manifest edited after sealing.
tests/test_independent_verifier.py runs its pure functions on the committed vectors offline.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from verify_helpers import LOCALNET_ENV, Traced, trace_experiment

from algo_tracer import Tracer
from algo_tracer.verify import verify_experiment
from algo_tracer.verify.report import VerificationReport

READER = Path(__file__).resolve().parents[2] / "examples" / "independent_verifier.py"


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory, localnet) -> Traced:
    tracer = Tracer.from_environment(state_dir=tmp_path_factory.mktemp("state"))
    # Seed, environment and code stages, data, params, a model, 300 public metric records
    # (one note group) and 20 private ones (a salted batch), sealed on leaving the block.
    return trace_experiment(tracer, tmp_path_factory.mktemp("reader"), "independent-reader",
                            metrics=300, private=20)


@pytest.fixture(scope="module")
def report(traced: Traced) -> VerificationReport:
    return verify_experiment(traced.algorand, traced.app_id, traced.experiment_id,
                             manifest=traced.manifest(), indexer_timeout=120)


def run_reader(traced: Traced, manifest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(READER), str(traced.app_id), traced.experiment_id,
         "--manifest", str(manifest)],
        env={**os.environ, **LOCALNET_ENV}, capture_output=True, text=True, timeout=180,
        check=False)


def agreed(stdout: str, what: str) -> dict[str, str]:
    """`what` -> recomputed hex for every '<what> <hex> agrees with <hex>' line of the reader."""
    return {m[1]: m[2] for m in re.finditer(
        rf"^({what}) ([0-9a-f]{{64}}) agrees with \2$", stdout, re.MULTILINE)}


def test_reader_agrees_with_verify_on_head_roots_and_final_digest(
        traced: Traced, report: VerificationReport) -> None:
    result = run_reader(traced, traced.manifest_path)

    assert report.ok, report.failures()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("OK")
    assert agreed(result.stdout, "head") == {"head": report.head}
    public = {f"batch {b.index} root": b.root for b in report.batches if not b.private}
    assert public and agreed(result.stdout, r"batch \d+ root") == public
    for batch in (b for b in report.batches if b.private):
        assert f"batch {batch.index} private {batch.root}" in result.stdout
    seal = traced.manifest().seal
    assert seal is not None
    assert agreed(result.stdout, "final_digest") == {"final_digest": seal.final_digest}
    assert agreed(result.stdout, "metadata_digest") == {
        "metadata_digest": traced.manifest().metadata_digest}


def test_reader_rejects_a_manifest_edited_after_sealing(traced: Traced, tmp_path: Path) -> None:
    manifest = json.loads(traced.manifest_path.read_text())
    manifest["stages"][0]["digest"] = "00" * 32
    edited = tmp_path / "manifest.json"
    edited.write_text(json.dumps(manifest, indent=2))

    result = run_reader(traced, edited)

    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"^final_digest [0-9a-f]{64} DIFFERS from", result.stdout, re.MULTILINE)
    assert agreed(result.stdout, "head"), "the chain itself still agrees"
    assert result.stdout.rstrip().endswith("FAILED")
