"""What the checks of docs/verification.md look at and how they write their verdicts (internal).

`Evidence` is the chain as one source reports it (algod + Indexer, or a proof bundle's proven
transactions); `CheckRun` carries it through the numbered steps of `checks` and `batch_checks`
and appends their rows and findings to the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from algo_tracer.documents.manifest import Manifest
from algo_tracer.format.boxes import Header, Stage
from algo_tracer.format.events import (
    BatchAnchored,
    Event,
    ExperimentSealed,
    StageRecorded,
    decode_event,
)
from algo_tracer.format.records import NoteRecord
from algo_tracer.verify.report import CheckRow, Finding, Severity, VerificationReport

_SHOWN = 5  # detail lines kept per check


@dataclass(frozen=True)
class ChainTxn:
    """What verification needs to know about one confirmed transaction."""

    txid: str
    round: int
    intra: int
    sender: str
    group: bytes | None = None
    time: int | None = None
    note: bytes | None = None
    logs: tuple[bytes, ...] = ()
    app_id: int | None = None


@dataclass
class Evidence:
    experiment_id: bytes
    app_id: int
    header: Header | None
    stages: list[Stage] = field(default_factory=list)
    app_txns: list[ChainTxn] = field(default_factory=list)
    note_txns: list[ChainTxn] = field(default_factory=list)
    groups: dict[bytes, list[ChainTxn]] | None = None  # members of note-less anchor groups
    genesis_hash: str | None = None
    genesis_id: str | None = None
    boxes: dict[bytes, bytes] = field(default_factory=dict)  # raw values by box name
    data_round: int | None = None

    @cached_property
    def stage_calls(self) -> dict[int, tuple[ChainTxn, StageRecorded]]:
        """The record_stage call of each on-chain stage of the experiment, by index: read once
        (the evidence is complete when built) for every check that reads stage notes."""
        out = {}
        for txn in self.app_txns:
            for log in txn.logs:
                event = decode_event(log)
                if isinstance(event, StageRecorded) and event.experiment_id == self.experiment_id:
                    out[event.index] = (txn, event)
        return out


@dataclass
class CheckRun:
    ev: Evidence
    report: VerificationReport
    manifest: Manifest | None
    events: list[tuple[ChainTxn, Event]] = field(default_factory=list)
    stage_events: dict[int, tuple[ChainTxn, StageRecorded]] = field(default_factory=dict)
    anchors: list[tuple[ChainTxn, BatchAnchored]] = field(default_factory=list)
    sealed: tuple[ChainTxn, ExperimentSealed] | None = None
    records: list[NoteRecord] | None = None
    """When a list: receives the records the chain proves (public records of batches that
    rebuild their root, private records whose proof held), for checks outside steps 1-8."""

    def check(self, step: int, name: str, problems: list[str], ok_detail: str) -> None:
        detail = ok_detail if not problems else "; ".join(problems[:_SHOWN]) + (
            f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else "")
        self.report.checks.append(CheckRow(step=step, name=name,
                                           status="fail" if problems else "pass", detail=detail))

    def skip(self, step: int, name: str, why: str) -> None:
        self.report.checks.append(CheckRow(step=step, name=name, status="skip", detail=why))

    def find(self, step: int, severity: Severity, code: str, message: str,
             txn: ChainTxn | None = None) -> None:
        self.report.findings.append(Finding(
            step=step, severity=severity, code=code, message=message,
            txid=txn.txid if txn else None, round=txn.round if txn else None,
            sender=txn.sender if txn else None))


def when(txn: ChainTxn | None) -> datetime | None:
    """The block time of `txn`, when the source gave one."""
    return datetime.fromtimestamp(txn.time, UTC) if txn and txn.time else None
