"""JSON scheme v2 on the real chain: a new experiment (manifest format v3) verifies with its
seed, environment and code snapshots re-hashed under RFC 8785, and an edited snapshot, metadata
or format is caught (docs/hashing.md §13, docs/verification.md steps 1, 7 and 8)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import rfc8785

from algo_tracer import Manifest, Tracer
from algo_tracer.documents.manifest import metadata_digest
from algo_tracer.verify import verify_experiment
from algo_tracer.verify.report import StageStatus, VerificationReport


def _load_reader() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "independent_verifier",
        Path(__file__).resolve().parents[2] / "examples" / "independent_verifier.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reader = _load_reader()

METADATA: dict[str, Any] = {"lr": 1.0, "team": "résumé", "tol": 1e-05}


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory, localnet) -> tuple[Tracer, Path, str]:
    root = tmp_path_factory.mktemp("jcs")
    tracer = Tracer.from_environment(state_dir=root / "state")
    (root / "code").mkdir()
    (root / "code" / "train.py").write_text("print('jcs')\n")
    with tracer.experiment("json-scheme-v2", seed=11, metadata=METADATA,
                           output_dir=root / "run") as exp:
        exp.trace_environment(root)
        exp.trace_code(root / "code")
        exp.trace_params({"C": 1.0, "tol": 1e-05})
        exp.trace_metrics({"accuracy": 0.5})
    summary = exp.summary
    return tracer, summary.manifest_path, summary.experiment_id


def _verify(traced: tuple[Tracer, Path, str], manifest: Manifest) -> VerificationReport:
    tracer, _, eid = traced
    return verify_experiment(tracer.settings.algorand, tracer.settings.app_id, eid,
                             manifest=manifest, indexer_timeout=120)


def _edited(traced: tuple[Tracer, Path, str], change: Any) -> Manifest:
    data = json.loads(traced[1].read_text())
    change(data)
    return Manifest.model_validate(data)


def test_a_new_experiment_is_recorded_under_rfc8785_and_verifies(
        traced: tuple[Tracer, Path, str]) -> None:
    manifest = Manifest.read(traced[1])
    assert manifest.format == "algo-tracer-manifest/v3" and manifest.json_scheme == 2
    # The metadata digest on chain is RFC 8785's, computed here without algo-tracer's encoder.
    jcs = rfc8785.dumps({"name": manifest.name, "metadata": dict(METADATA)})
    assert manifest.metadata_digest == reader.sha256(b"algotrace/v2/metadata\x00", jcs).hex()
    assert manifest.metadata_digest == metadata_digest(manifest.name, METADATA, 2).hex()

    report = _verify(traced, manifest)

    assert report.ok, report.failures()
    rows = {s.label: s.status for s in report.stages}
    assert {rows[k] for k in ("seed", "environment", "code", "params", "metrics")} == {
        StageStatus.MATCH}
    assert reader.final_digest(json.loads(traced[1].read_text())).hex() == \
        manifest.final_digest().hex()


@pytest.mark.parametrize("stage,field,value", [
    ("environment", "packages", {"numpy": "0.0.1"}),
    ("code", "tree_digest", "sha256:" + "0" * 64),  # a tmp directory: a tree snapshot
    ("seed", "seed", 12),
])
def test_an_edited_snapshot_fails_its_stage_and_the_seal(
        traced: tuple[Tracer, Path, str], stage: str, field: str, value: Any) -> None:
    def change(data: dict[str, Any]) -> None:
        entry = next(s for s in data["stages"] if s["label"] == stage)
        entry["detail"][field] = value

    report = _verify(traced, _edited(traced, change))

    assert not report.ok
    assert next(s.status for s in report.stages if s.label == stage) == StageStatus.MISMATCH
    assert {c.step for c in report.checks if c.status == "fail"} == {7, 8}


def test_edited_metadata_fails_the_header_step_even_before_the_seal(
        traced: tuple[Tracer, Path, str]) -> None:
    report = _verify(traced, _edited(traced, lambda d: d["metadata"].update(lr=2.0)))

    assert not report.ok
    failed = {c.step: c.detail for c in report.checks if c.status == "fail"}
    assert set(failed) == {1, 7}
    assert "JSON scheme v2" in " ".join(report.failures())


def test_what_rfc8785_makes_equal_still_verifies(traced: tuple[Tracer, Path, str]) -> None:
    # {"lr": 1} and {"lr": 1.0} are one value under RFC 8785 (docs/hashing.md §13): the
    # metadata digest and the manifest's final digest are the same for both.
    report = _verify(traced, _edited(traced, lambda d: d["metadata"].update(lr=1)))

    assert report.ok, report.failures()


def test_a_manifest_relabelled_to_the_previous_format_fails(
        traced: tuple[Tracer, Path, str]) -> None:
    report = _verify(traced, _edited(traced, lambda d: d.update(format="algo-tracer-manifest/v2")))

    assert not report.ok
    failed = {c.step for c in report.checks if c.status == "fail"}
    assert {1, 7, 8} <= failed  # metadata, seal and snapshots: all under the other scheme
