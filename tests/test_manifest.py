"""Manifests: strict parsing, a final digest that covers everything but the seal, fresh schemas."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from algo_tracer import InputError, Manifest, StageKind
from algo_tracer.documents.atomic import write_text_atomic
from algo_tracer.documents.manifest import SealEntry, StageEntry
from algo_tracer.documents.schemas import write_schemas

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _manifest(**changes: object) -> Manifest:
    base = Manifest(experiment_id="7oCqawspwYBnjqKQ8tmcA7xKMXLkvdhTMFFryiFaS56n", name="m",
                    owner="A" * 58, app_id=7, genesis_id="dockernet-v1", genesis_hash="g",
                    metadata_digest="0" * 64,
                    stages=[StageEntry(index=0, kind=StageKind.PARAMS, label="params",
                                       digest="1" * 64, detail={"params": {"C": 1.0}})])
    return base.model_copy(update=changes)


def test_committed_json_schemas_match_the_models(tmp_path: Path) -> None:
    for written in write_schemas(tmp_path):
        committed = DOCS / written.name
        assert committed.read_text() == written.read_text(), (
            f"{committed} is stale: run `python -m algo_tracer.documents.schemas docs`")


def test_final_digest_ignores_the_seal_but_covers_every_other_field() -> None:
    manifest = _manifest()
    sealed = manifest.model_copy(update={"seal": SealEntry(final_digest="2" * 64)})
    edited = _manifest(stages=[manifest.stages[0].model_copy(update={"detail": {"params":
                                                                                 {"C": 2.0}}})])

    assert sealed.final_digest() == manifest.final_digest()
    assert edited.final_digest() != manifest.final_digest()


def test_manifest_round_trips_through_its_file(tmp_path: Path) -> None:
    manifest = _manifest()
    manifest.write(tmp_path / "m" / "manifest.json")

    assert Manifest.read(tmp_path / "m" / "manifest.json") == manifest
    assert not list((tmp_path / "m").glob("*.tmp"))


@pytest.mark.parametrize("text", ["{}", "not json", json.dumps({"format": "other/v9"})])
def test_foreign_json_is_refused_with_the_fix(tmp_path: Path, text: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(text)

    with pytest.raises(InputError, match="is not an algo-tracer manifest"):
        Manifest.read(path)


def test_unknown_stage_label_lists_the_known_ones() -> None:
    with pytest.raises(InputError, match="stages are: params"):
        _manifest().stage("model")


def test_writing_replaces_the_file_whole_and_leaves_no_temporary_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "run" / "manifest.json"
    write_text_atomic(str(target), "old\n")

    def full(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("algo_tracer.documents.atomic.os.fsync", full)
    with pytest.raises(OSError, match="disk full"):
        write_text_atomic(target, "new\n")

    assert target.read_text() == "old\n"
    assert [p.name for p in target.parent.iterdir()] == ["manifest.json"]


def test_written_files_get_the_usual_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "manifest.json", "{}\n")
    finally:
        os.umask(old)

    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # readable by others, like open() gives


def _landed(manifest: Manifest, txid: str, round: int) -> Manifest:
    stage = manifest.stages[0].model_copy(update={"txid": txid, "round": round})
    return manifest.model_copy(update={"create_txid": txid, "create_round": round,
                                       "stages": [stage]})


@pytest.mark.parametrize("fmt", ["algo-tracer-manifest/v2", "algo-tracer-manifest/v3"])
def test_v2_and_v3_final_digests_leave_out_where_writes_landed_but_cover_what_was_written(
        fmt: str) -> None:
    manifest = _manifest(format=fmt)

    # Known before anything is confirmed: the seal can be signed behind the writes in flight.
    assert _landed(manifest, "T1", 5).final_digest() == _landed(manifest, "T2", 9).final_digest()
    relabeled = manifest.stages[0].model_copy(update={"label": "params:other"})
    assert _manifest(format=fmt, stages=[relabeled]).final_digest() != manifest.final_digest()


def test_v1_manifests_keep_their_digest_rule_which_covers_transactions_and_rounds() -> None:
    v1 = _manifest(format="algo-tracer-manifest/v1")

    assert _landed(v1, "T1", 5).final_digest() != _landed(v1, "T2", 9).final_digest()
    assert v1.final_digest() != _manifest().final_digest()  # the format is part of the digest
