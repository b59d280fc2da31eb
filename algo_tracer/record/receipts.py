"""What tracing returns: a stage's receipt and an experiment's summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StageReceipt:
    """What a `trace_*` call recorded: the stage's index, label and digest (hex)."""

    index: int
    label: str
    digest: str


@dataclass(frozen=True)
class ExperimentSummary:
    experiment_id: str
    app_id: int
    genesis_id: str
    stages: int
    note_records: int
    private_records: int
    micro_algos: int  # fees paid + storage deposits locked, for the writes of this process
    manifest_path: Path
    model_card_path: Path
    sealed: bool

    def __str__(self) -> str:
        return (f"experiment {self.experiment_id} (app {self.app_id} on {self.genesis_id}): "
                f"{self.stages} stages, {self.note_records} note records, "
                f"{self.private_records} private records, {self.micro_algos} µALGO spent; "
                f"manifest {self.manifest_path}")
