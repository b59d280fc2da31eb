"""The verification report: what was checked, what held, and what did not (pydantic, JSON).

A report is produced by `algo_tracer.verify.verify_experiment` (from algod and the Indexer) and
by `algo_tracer.verify.bundle.verify_bundle` (from a proof bundle). `ok` is True only when no check
failed and no finding is an error; warnings (a stranger posting notes with the experiment's
prefix, an unsealed experiment) are shown but do not fail it. The numbered steps are those of
docs/verification.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from algo_tracer.errors import VerificationError
from algo_tracer.verify.reproduction_report import ReproducedBy
from algo_tracer.verify.study_report import PlanCheck, StudyCheck

__all__ = [
    "FAILING_STATUSES",
    "BatchRow",
    "CheckRow",
    "Counts",
    "FetchRow",
    "Finding",
    "StageRow",
    "StageStatus",
    "StoredRef",
    "Timeline",
    "TimelineRow",
    "VerificationReport",
    "timeline_rows",
]

REPORT_FORMAT = "algo-tracer-report/v1"


#: How much a finding matters: an error fails the report, a warning or info does not.
Severity = Literal["error", "warning", "info"]


class StageStatus(StrEnum):
    MATCH = "match"
    """On chain, and a local copy (artifact file, data given, or the manifest's own detail)
    re-hashes to the on-chain digest."""
    MISMATCH = "mismatch"
    """The on-chain digest differs from the manifest's or from the local copy's."""
    MISSING_ON_CHAIN = "missing_on_chain"
    """The manifest says the stage was recorded, the chain has no such stage."""
    MISSING_LOCALLY = "missing_locally"
    """On chain, but absent from the manifest given."""
    NOT_ANCHORED = "not_anchored"
    """In the manifest but never sent (no transaction): run `algo-tracer resume`."""
    RECORDED = "recorded"
    """On chain (and in the manifest, if one was given); no local copy was given to re-hash."""


FAILING_STATUSES = frozenset({StageStatus.MISMATCH, StageStatus.MISSING_ON_CHAIN,
                              StageStatus.MISSING_LOCALLY, StageStatus.NOT_ANCHORED})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckRow(_Model):
    step: int = Field(description="step number in docs/verification.md")
    name: str
    status: Literal["pass", "fail", "skip"]
    detail: str = ""


class Finding(_Model):
    step: int
    severity: Severity
    code: str = Field(description="stable identifier, e.g. not_anchored, foreign_sender")
    message: str
    txid: str | None = None
    round: int | None = None
    sender: str | None = None


class StageRow(_Model):
    index: int | None = Field(description="on-chain stage index (None: not on chain)")
    label: str
    kind: str
    status: StageStatus
    chain_digest: str | None = None
    manifest_digest: str | None = None
    local_digest: str | None = None
    local_source: str | None = Field(default=None, description="what was re-hashed")
    recorder: str | None = None
    round: int | None = None
    time: datetime | None = None
    txid: str | None = None
    message: str = ""


class BatchRow(_Model):
    index: int
    record_count: int
    first_seq: int
    root: str
    private: bool | None = Field(description="None: no notes and no manifest to tell")
    status: Literal["verified", "mismatch", "undisclosed"]
    recorder: str | None = None
    round: int | None = None
    time: datetime | None = None
    txid: str | None = None
    message: str = ""


FetchStatus = Literal["verified", "not_retrievable", "cid_mismatch", "digest_mismatch",
                      "unreadable"]


class FetchRow(_Model):
    """Step 16 (`verify --fetch`, `fetch`): one stored stage's content fetched by its CID."""

    index: int = Field(description="the stored stage's on-chain index (kind 25)")
    stage: str = Field(description="label of the stage whose content is stored")
    cid: str | None = None
    status: FetchStatus
    path: str | None = Field(default=None, description="where the fetched copy was written")
    message: str = ""
    named_index: int | None = Field(default=None, description="index of the stage it names")
    same_digest: bool = Field(default=False, description="that stage's on-chain digest is the "
                              "stored content's (data, model, artifact)")


class StoredRef(_Model):
    """A stored stage (kind 25) as the chain commits to it: the web page links and checks it."""

    index: int = Field(description="the stored stage's on-chain index (kind 25)")
    named_index: int = Field(description="index of the stage whose content it stores")
    stage: str = Field(description="label of that stage")
    cid: str
    type: Literal["file", "directory"]
    digest: str = Field(description="hex digest of the content, in `scheme` (docs/hashing.md)")
    scheme: str = Field(description="file or directory")
    name: str = Field(description="the file or directory's name")


class Counts(_Model):
    stages: int = 0
    events: int = 0
    anchors: int = 0
    note_transactions: int = 0
    note_records: int = Field(default=0, description="records verified from on-chain notes")
    private_records: int = Field(default=0, description="private records whose proof held")
    undisclosed_records: int = 0
    not_anchored_notes: int = 0
    foreign_notes: int = 0
    transactions_proven: int = Field(default=0, description="bundle: inclusion proofs checked")


class VerificationReport(_Model):
    format: Literal["algo-tracer-report/v1"] = "algo-tracer-report/v1"
    experiment_id: str
    app_id: int
    genesis_id: str | None = None
    genesis_hash: str | None = Field(default=None, description="names the network (every "
                                     "LocalNet's genesis id is dockernet-v1)")
    source: Literal["network", "bundle"]
    offline: bool = False
    owner: str | None = None
    sealed: bool = False
    head: str | None = None
    created_round: int | None = None
    created_time: datetime | None = None
    created_txid: str | None = None
    sealed_round: int | None = None
    sealed_time: datetime | None = None
    sealed_txid: str | None = None
    ok: bool = False
    strict: bool = Field(default=False, description="strict mode: warnings fail too")
    checks: list[CheckRow] = Field(default_factory=list)
    stages: list[StageRow] = Field(default_factory=list)
    batches: list[BatchRow] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    counts: Counts = Field(default_factory=Counts)
    not_checked: list[str] = Field(default_factory=list,
                                   description="what this run could not establish")
    reproduced_by: ReproducedBy | None = Field(
        default=None, description="step 15: reproductions found on chain (docs/reproductions.md)")
    data_round: int | None = Field(default=None, description="round the sources were read at")
    served_by: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="with endpoint lists: requests each endpoint answered "
        "for this verification, by service (algod, indexer)")
    plan: PlanCheck | None = Field(default=None, description="step 10: the experiment's plan")
    study: StudyCheck | None = Field(default=None, description="step 11: a study's trials")
    fetched: list[FetchRow] | None = Field(
        default=None, description="step 16 (verify --fetch): stored content fetched by CID")
    stored_cids: dict[int, str] = Field(
        default_factory=dict, description="IPFS CIDs the chain commits to (stored stages, kind "
        "25), by the index of the stage whose content they hold (docs/ipfs.md)")
    stored: list[StoredRef] = Field(
        default_factory=list, description="the stored stages whose detail the chain states "
        "(the CIDs of `stored_cids`, with their type and digest), in chain order")
    verified_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    elapsed_seconds: float = 0.0

    def finalize(self) -> VerificationReport:
        """Set `ok` from the checks and findings (call once everything is added)."""
        self.ok = (bool(self.checks) and all(c.status != "fail" for c in self.checks)
                   and not any(f.severity == "error" for f in self.findings)
                   and not self.strict_failures())
        return self

    def make_strict(self) -> VerificationReport:
        """Strict mode (`verify --strict`): every warning fails too, named as failing by it."""
        self.strict = True
        return self.finalize()

    def strict_failures(self) -> list[Finding]:
        """The warnings that fail this report only because it is strict."""
        return [f for f in self.findings if self.strict and f.severity == "warning"]

    def failures(self) -> list[str]:
        """One line per failed check, failing stage and error finding (and, strict, warning)."""
        lines = [f"step {c.step} {c.name}: {c.detail}" for c in self.checks if c.status == "fail"]
        lines += [f"stage {s.label}: {s.status.value}: {s.message}" for s in self.stages
                  if s.status in FAILING_STATUSES]
        lines += [f"{f.code}: {f.message}" for f in self.findings if f.severity == "error"]
        lines += [f"{f.code} (a warning, failing in strict mode): {f.message}"
                  for f in self.strict_failures()]
        return lines

    def timeline(self) -> Timeline:
        """Every write of the experiment in chain order (`algo-tracer show`; a notebook
        cell ending with it shows a table)."""
        return Timeline(self, timeline_rows(self))

    # Displays: the text `algo-tracer verify` prints, and the same content as HTML in a notebook.
    # Imported when called: both renderers import this module.
    def __repr__(self) -> str:
        from algo_tracer.verify.report_text import format_report

        return format_report(self)

    __str__ = __repr__  # print(report) too, not pydantic's field dump

    def _repr_html_(self) -> str:
        from algo_tracer.verify.report_html import report_html

        return report_html(self)

    def raise_for_failure(self) -> None:
        """Raise `VerificationError` listing the failures, unless `ok`."""
        if not self.ok:
            failures = self.failures() or ["no check ran"]
            raise VerificationError(
                f"experiment {self.experiment_id} failed verification:\n  "
                + "\n  ".join(failures),
                fix="see the report (algo-tracer verify --json) for every check")


@dataclass(frozen=True)
class TimelineRow:
    """One write of an experiment (`timeline_rows`): its creation, a stage, a batch or its seal."""

    type: Literal["created", "stage", "batch", "sealed"]
    round: int | None
    time: datetime | None
    txid: str | None
    recorder: str | None
    stage: StageRow | None = None  # type "stage"
    batch: BatchRow | None = None  # type "batch"


@dataclass(frozen=True, repr=False)
class Timeline:
    """An experiment's timeline (`VerificationReport.timeline`): shown as `algo-tracer show`
    prints it, or as a table in a notebook."""

    report: VerificationReport
    rows: list[TimelineRow]

    def __repr__(self) -> str:
        from algo_tracer.verify.report_text import format_timeline

        return format_timeline(self.report)

    def _repr_html_(self) -> str:
        from algo_tracer.verify.report_html import timeline_html

        return timeline_html(self.report)


def timeline_rows(r: VerificationReport) -> list[TimelineRow]:
    """Every write of the experiment in chain order: created, stages, batches, sealed.

    What `algo-tracer show` prints and the web page's timeline shows. Rows without a round
    (stages missing on chain) go last; stages keep their index order within a round.
    """
    rows: list[tuple[int, int, TimelineRow]] = []
    last = 1 << 62
    if r.created_round is not None:
        rows.append((r.created_round, 0, TimelineRow(
            "created", r.created_round, r.created_time, r.created_txid, r.owner)))
    for s in r.stages:
        rows.append((s.round or last, 1, TimelineRow(
            "stage", s.round, s.time, s.txid, s.recorder, stage=s)))
    for b in r.batches:
        rows.append((b.round or last, 1, TimelineRow(
            "batch", b.round, b.time, b.txid, b.recorder, batch=b)))
    if r.sealed_round is not None:
        rows.append((r.sealed_round, 2, TimelineRow(
            "sealed", r.sealed_round, r.sealed_time, r.sealed_txid, r.owner)))
    rows.sort(key=lambda row: (row[0], row[1]))  # stable
    return [row for _, _, row in rows]
