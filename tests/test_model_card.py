"""Model cards come from the manifest: digests, metrics, the outcome, and the verify command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from algo_tracer import Manifest, ModelCardInfo, StageKind
from algo_tracer.documents.manifest import StageEntry
from algo_tracer.documents.model_card import write_model_card

EXPERIMENT = "7oCqawspwYBnjqKQ8tmcA7xKMXLkvdhTMFFryiFaS56n"


def _manifest(*extra: StageEntry) -> Manifest:
    stages = [
        StageEntry(index=0, kind=StageKind.DATA, label="data:train", digest="a" * 64),
        StageEntry(index=1, kind=StageKind.DATA, label="data:test", digest="b" * 64),
        StageEntry(index=2, kind=StageKind.MODEL, label="model", digest="c" * 64),
        StageEntry(index=3, kind=StageKind.METRICS, label="metrics", digest="d" * 64,
                   detail={"metrics": {"accuracy": 0.93}}),
        *extra,
    ]
    return Manifest(experiment_id=EXPERIMENT, name="iris", owner="A" * 58, app_id=7,
                    genesis_id="dockernet-v1", genesis_hash="g", metadata_digest="0" * 64,
                    stages=stages)


def test_a_completed_run_s_card_lists_data_model_metrics_and_the_verify_command(
        tmp_path: Path) -> None:
    path = write_model_card(_manifest(), ModelCardInfo(intended_use="Teaching."), tmp_path)

    text, card = path.read_text(), json.loads((tmp_path / "model_card.json").read_text())
    assert "| train | `" + "a" * 64 + "` |" in text and "| test | `" + "b" * 64 in text
    assert "| accuracy | 0.93 |" in text and "Teaching." in text
    assert f"algo-tracer verify {EXPERIMENT} --app-id 7 --manifest manifest.json" in text
    assert card["outcome"] == "completed" and "Outcome:" not in text


@pytest.mark.parametrize("outcome", ["interrupted", "failed: ValueError"])
def test_a_run_that_did_not_complete_says_so_at_the_top(tmp_path: Path, outcome: str) -> None:
    ended = StageEntry(index=4, kind=StageKind.CUSTOM, label="custom:outcome", digest="e" * 64,
                       detail={"outcome": outcome})

    path = write_model_card(_manifest(ended), ModelCardInfo(), tmp_path)

    head = path.read_text().split("## Model details")[0]
    assert f"**Outcome: {outcome}.** The run did not complete" in head
    assert json.loads((tmp_path / "model_card.json").read_text())["outcome"] == outcome
