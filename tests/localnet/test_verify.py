"""verify_experiment, proof bundles and the reproducibility gate against a real LocalNet.

One clean experiment is traced per module and only read afterwards. Tampering that has to be
posted on chain (stray notes) targets a second experiment, the "victim", and every test
recognises its own transaction in the report by txid, so the tests do not depend on each other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from verify_helpers import (
    Traced,
    a_note,
    send_note,
    stranger,
    trace_experiment,
)

from algo_tracer import ReproducibilityError, Tracer, parse_id
from algo_tracer.format.notes import encode_note
from algo_tracer.format.records import NoteRecord, RecordKind
from algo_tracer.network.indexer import wait_for_round
from algo_tracer.verify import check_reproducible, verify_experiment
from algo_tracer.verify.bundle import Bundle, export_bundle, verify_bundle
from algo_tracer.verify.report import StageStatus, VerificationReport


@pytest.fixture(scope="module")
def tracer(tmp_path_factory: pytest.TempPathFactory, localnet) -> Tracer:
    return Tracer.from_environment(state_dir=tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def clean(tracer: Tracer, tmp_path_factory: pytest.TempPathFactory) -> Traced:
    return trace_experiment(tracer, tmp_path_factory.mktemp("clean"), "verify-clean",
                            metrics=1600, private=30)


@pytest.fixture(scope="module")
def victim(tracer: Tracer, tmp_path_factory: pytest.TempPathFactory) -> Traced:
    return trace_experiment(tracer, tmp_path_factory.mktemp("victim"), "verify-victim",
                            metrics=200, private=0)


def verify(t: Traced, **kw: Any) -> VerificationReport:
    # Any, not object: the keywords go on to verify_experiment, whose parameters check them.
    kw.setdefault("manifest", t.manifest())
    return verify_experiment(t.algorand, t.app_id, t.experiment_id, indexer_timeout=120, **kw)


def status(report: VerificationReport, label: str) -> StageStatus:
    return next(s.status for s in report.stages if s.label == label)


def test_clean_experiment_verifies_with_every_stage_re_hashed(clean: Traced) -> None:
    report = verify(clean, artifacts_dir=clean.artifacts, data={"frame": clean.frame})

    assert report.ok, report.failures()
    assert [c.status for c in report.checks] == ["pass"] * 9
    assert {s.label: s.status for s in report.stages} == {
        label: StageStatus.MATCH for label in (
            "seed", "environment", "code", "data:train", "data:frame", "params", "model",
            "metrics")}
    assert report.counts.note_records == 1600 and report.counts.private_records == 30
    stage = report.stages[0]
    assert stage.recorder == clean.owner.address and stage.round and stage.time is not None


def test_without_a_local_copy_stages_are_recorded(clean: Traced) -> None:
    report = verify(clean, manifest=None)

    assert report.ok
    assert {s.status for s in report.stages} == {StageStatus.RECORDED}
    assert report.counts.undisclosed_records == 30


def test_changed_byte_in_a_data_file_is_a_mismatch(clean: Traced, tmp_path: Path) -> None:
    artifacts = clean.copy_artifacts(tmp_path / "artifacts")
    raw = bytearray((artifacts / "train.csv").read_bytes())
    raw[20] ^= 0x01
    (artifacts / "train.csv").write_bytes(bytes(raw))

    report = verify(clean, artifacts_dir=artifacts)

    assert not report.ok
    assert status(report, "data:train") == StageStatus.MISMATCH
    assert status(report, "model") == StageStatus.MATCH


def test_different_model_file_is_a_mismatch(clean: Traced, tmp_path: Path) -> None:
    artifacts = clean.copy_artifacts(tmp_path / "artifacts")
    (artifacts / "model.bin").write_bytes(b"another model")

    report = verify(clean, artifacts_dir=artifacts)

    assert status(report, "model") == StageStatus.MISMATCH
    assert "size 1024 -> 13 bytes" in next(s.message for s in report.stages
                                           if s.label == "model")


def test_changed_hyperparameter_in_the_manifest_is_detected(clean: Traced) -> None:
    m = clean.manifest()
    stages = [s if s.label != "params" else s.model_copy(
        update={"detail": {"params": {"C": 5.0, "max_iter": 100}}}) for s in m.stages]

    report = verify(clean, manifest=m.model_copy(update={"stages": stages}))

    assert status(report, "params") == StageStatus.MISMATCH
    assert {c.step for c in report.checks if c.status == "fail"} == {7, 8}


def test_stage_missing_from_the_manifest_is_missing_locally(clean: Traced) -> None:
    m = clean.manifest()
    stages = [s for s in m.stages if s.label != "data:frame"]

    report = verify(clean, manifest=m.model_copy(update={"stages": stages}))

    assert not report.ok
    row = next(s for s in report.stages if s.status == StageStatus.MISSING_LOCALLY)
    assert row.kind == "data"


def test_note_from_another_sender_is_reported_and_ignored(victim: Traced) -> None:
    txid = send_note(victim.algorand, stranger(victim.algorand), a_note(victim))

    report = verify(victim)

    (finding,) = [f for f in report.findings if f.txid == txid]
    assert (finding.code, finding.severity) == ("foreign_sender", "warning")
    assert report.counts.note_records == 200  # the copy is never counted


def test_owner_note_outside_any_anchored_group_fails(victim: Traced) -> None:
    txid = send_note(victim.algorand, victim.owner, a_note(victim))  # a replayed record

    report = verify(victim)

    (finding,) = [f for f in report.findings if f.txid == txid]
    assert (finding.code, finding.severity) == ("not_anchored", "error")
    assert not report.ok and report.counts.note_records == 200


def test_record_replayed_from_another_experiment_fails(clean: Traced, victim: Traced) -> None:
    note = a_note(clean)
    eid = parse_id(victim.experiment_id)
    replayed = note[:12] + eid + note[44:]  # the clean run's records under the victim's prefix
    txid = send_note(victim.algorand, victim.owner, replayed)

    report = verify(victim)

    (finding,) = [f for f in report.findings if f.txid == txid]
    assert finding.code == "not_anchored"


def test_freshly_made_record_outside_any_batch_fails(victim: Traced) -> None:
    records = [NoteRecord(10_000, RecordKind.METRIC, "loss", 0, 0.001)]
    note = encode_note(parse_id(victim.experiment_id), 99, 0, records)
    txid = send_note(victim.algorand, victim.owner, note)

    report = verify(victim)

    assert [f.code for f in report.findings if f.txid == txid] == ["not_anchored"]


def test_bundle_verifies_offline_and_online_and_fails_once_edited(
        clean: Traced, tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    export_bundle(clean.algorand, clean.app_id, clean.experiment_id, manifest=clean.manifest(),
                  indexer_timeout=120, path=path)
    bundle = Bundle.read(path)

    offline = verify_bundle(bundle, offline=True, artifacts_dir=clean.artifacts)
    online = verify_bundle(bundle, clean.algorand)
    assert offline.ok and online.ok, offline.failures() + online.failures()
    assert offline.not_checked and any(c.name == "headers online" for c in online.checks)
    assert offline.counts.transactions_proven == len(bundle.transactions)

    data = json.loads(path.read_text())
    stage = next(s for s in data["manifest"]["stages"] if s["label"] == "params")
    stage["detail"]["params"]["C"] = 0.25
    edited = Bundle.model_validate(data)
    assert not verify_bundle(edited, offline=True).ok
    assert not verify_bundle(edited, clean.algorand).ok


def test_column_reordered_frame_and_resaved_file_reproduce(clean: Traced,
                                                           tmp_path: Path) -> None:
    import pandas as pd

    resaved = tmp_path / "train.csv"
    pd.read_csv(clean.artifacts / "train.csv").to_csv(resaved, index=False)
    manifest = clean.manifest()

    drifts = check_reproducible(manifest, data={"frame": clean.frame[["n", "y", "x"]],
                                                "train": resaved},
                                code=clean.code, environment=clean.code.parent)

    assert [d for d in drifts if d.severity == "error"] == []
    changed = clean.frame.assign(x=[0.5, 1.5, 9.5])
    with pytest.raises(ReproducibilityError, match="column 'x'"):
        check_reproducible(manifest, data={"frame": changed})


def test_ten_thousand_note_records_all_verify(tracer: Tracer, tmp_path: Path) -> None:
    # Speed is measured by benchmarks/bench_verify.py, not asserted here.
    t = trace_experiment(tracer, tmp_path, "verify-10k", metrics=10_000, private=0)
    algod = t.algorand.client.algod
    wait_for_round(t.algorand.client.indexer, int(algod.status()["last-round"]), algod=algod,
                   timeout=120)

    report = verify(t)

    assert report.ok and report.counts.note_records == 10_000
