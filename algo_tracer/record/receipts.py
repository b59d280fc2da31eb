"""What tracing returns: a stage's receipt and an experiment's summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from algo_tracer.notebook_html import block, table, web_link, web_url


@dataclass(frozen=True)
class StageReceipt:
    """What a `trace_*` call recorded: the stage's index, label and digest (hex), and with
    `store=True` the CID its content is stored under on IPFS (docs/ipfs.md)."""

    index: int
    label: str
    digest: str
    cid: str | None = None


@dataclass(frozen=True, repr=False)
class ExperimentSummary:
    """What `Experiment.finish` (the end of a ``with`` block) returns: shown as text, or as a
    table in a notebook."""

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

    def _rows(self) -> list[tuple[str, object]]:
        return [("experiment", self.experiment_id), ("app", self.app_id),
                ("network", self.genesis_id), ("sealed", "yes" if self.sealed else "no"),
                ("stages", self.stages), ("note records", self.note_records),
                ("private records", self.private_records),
                ("spent (fees + deposits)", f"{self.micro_algos:,} µALGO"),
                ("manifest", self.manifest_path), ("model card", self.model_card_path)]

    def __repr__(self) -> str:
        try:
            url = web_url(self.app_id, self.experiment_id)
        except ValueError as exc:
            url = f"none: {exc}"
        rows = self._rows() + ([("web page", url)] if url else [])
        width = max(len(name) for name, _ in rows)
        return "ExperimentSummary\n" + "\n".join(f"  {name:<{width}}  {value}"
                                                 for name, value in rows)

    def _repr_html_(self) -> str:
        state = ('<h4 class="pass">sealed on chain</h4>' if self.sealed else
                 '<h4 class="fail">not sealed: run <code>algo-tracer resume</code></h4>')
        return block(state, table(["", "value"], self._rows()),
                     web_link(self.app_id, self.experiment_id))
