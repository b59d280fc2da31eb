"""Datasheets for the datasets an experiment traced (Gebru et al., "Datasheets for Datasets").

One sheet per experiment, one section per traced dataset (the `data` stages): what was hashed
(its digest as recorded on chain, type, shape, columns and per-column digests, or the file list
of a directory), and the questions of the paper's seven sections, answered by the user through
`Experiment.datasheet` (a `DatasheetInfo`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from algo_tracer.documents.manifest import Manifest, StageKind
from algo_tracer.documents.model_card import NOT_GIVEN, write_document


class DatasheetInfo(BaseModel):
    """The datasheet's sections (Gebru et al. 2021), written by the people who know the data."""

    model_config = ConfigDict(validate_assignment=True)

    motivation: str = NOT_GIVEN
    composition: str = NOT_GIVEN
    collection_process: str = NOT_GIVEN
    preprocessing: str = NOT_GIVEN
    uses: str = NOT_GIVEN
    distribution: str = NOT_GIVEN
    maintenance: str = NOT_GIVEN


class DatasetEntry(BaseModel):
    name: str
    digest: str
    stage_index: int
    round: int | None
    detail: dict[str, Any]


class Datasheet(BaseModel):
    """datasheet.json: the traced datasets with their on-chain references, and the answers."""

    experiment: str
    experiment_id: str
    app_id: int
    network: str
    datasets: list[DatasetEntry]
    info: DatasheetInfo


def build_datasheet(manifest: Manifest, info: DatasheetInfo) -> Datasheet:
    datasets = [DatasetEntry(name=s.label.split(":", 1)[-1], digest=s.digest,
                             stage_index=s.index, round=s.round, detail=s.detail)
                for s in manifest.stages if s.kind == StageKind.DATA]
    return Datasheet(experiment=manifest.name, experiment_id=manifest.experiment_id,
                     app_id=manifest.app_id, network=manifest.genesis_id, datasets=datasets,
                     info=info)


def render_markdown(sheet: Datasheet) -> str:
    lines = [f"# Datasheet: datasets of {sheet.experiment}", "",
             f"Traced in experiment `{sheet.experiment_id}` (registry app {sheet.app_id} on "
             f"{sheet.network}). Each digest below is recorded on chain; re-check a copy with "
             "`algo-tracer verify ... --artifacts DIR` or `check_reproducible`.", ""]
    for d in sheet.datasets or []:
        lines += [f"## {d.name}", "", f"* SHA-256 (algotrace-hash/v1, "
                  f"{d.detail.get('scheme', 'see docs/hashing.md')}): `{d.digest}`",
                  f"* stage {d.stage_index}, recorded in round {d.round}"]
        if "type" in d.detail:
            lines.append(f"* type: {d.detail['type']}")
        if "shape" in d.detail:
            lines.append(f"* shape: {' x '.join(str(n) for n in d.detail['shape'])}")
        if "path" in d.detail:
            lines.append(f"* path when traced: `{d.detail['path']}`")
        if "file_count" in d.detail:
            lines.append(f"* files: {d.detail['file_count']}")
        if d.detail.get("column_digests"):
            lines += ["", "| column | SHA-256 |", "|---|---|"]
            lines += [f"| {c} | `{h}` |" for c, h in d.detail["column_digests"].items()]
        lines.append("")
    if not sheet.datasets:
        lines += ["No dataset was traced in this experiment.", ""]
    for field in DatasheetInfo.model_fields:
        lines += [f"## {field.replace('_', ' ').capitalize()}", getattr(sheet.info, field), ""]
    return "\n".join(lines)


def write_datasheet(manifest: Manifest, info: DatasheetInfo, out_dir: Path) -> Path:
    sheet = build_datasheet(manifest, info)
    return write_document(out_dir, sheet, "datasheet.json", render_markdown(sheet), "DATASHEET.md")
