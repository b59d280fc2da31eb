"""Datasheets list every traced dataset with its on-chain digest, and the user's answers."""

from __future__ import annotations

import json
from pathlib import Path

from algo_tracer import DatasheetInfo, Manifest, StageKind
from algo_tracer.documents.datasheet import write_datasheet
from algo_tracer.documents.manifest import StageEntry

DIGEST = "ab" * 32


def _manifest() -> Manifest:
    stages = [
        StageEntry(index=0, kind=StageKind.PARAMS, label="params", digest="1" * 64),
        StageEntry(index=1, kind=StageKind.DATA, label="data:train", digest=DIGEST, round=12,
                   detail={"type": "pandas.DataFrame", "shape": [105, 5],
                           "scheme": "algotrace-hash/v1/dataframe",
                           "column_digests": {"sepal length (cm)": "cd" * 32}}),
    ]
    return Manifest(experiment_id="7oCqawspwYBnjqKQ8tmcA7xKMXLkvdhTMFFryiFaS56n", name="iris",
                    owner="A" * 58, app_id=7, genesis_id="dockernet-v1", genesis_hash="g",
                    metadata_digest="0" * 64, stages=stages)


def test_datasheet_lists_each_traced_dataset_with_its_digest_and_columns(tmp_path: Path) -> None:
    info = DatasheetInfo(motivation="Teaching example.")

    path = write_datasheet(_manifest(), info, tmp_path)

    text = path.read_text()
    sheet = json.loads((tmp_path / "datasheet.json").read_text())
    assert "## train" in text and f"`{DIGEST}`" in text and "105 x 5" in text
    assert "| sepal length (cm) |" in text and "Teaching example." in text
    assert "## Collection process\nNot provided." in text
    assert [d["name"] for d in sheet["datasets"]] == ["train"]
    assert sheet["datasets"][0]["round"] == 12 and sheet["app_id"] == 7


def test_datasheet_says_so_when_no_dataset_was_traced(tmp_path: Path) -> None:
    manifest = _manifest().model_copy(update={"stages": _manifest().stages[:1]})

    text = write_datasheet(manifest, DatasheetInfo(), tmp_path).read_text()

    assert "No dataset was traced" in text
