"""Studies: a search recorded so that "best of N" is a checkable claim (docs/studies.md).

    with tracer.study("iris-search", objective="accuracy", direction="maximize", n_trials=20,
                      plan={"metric": "accuracy", "direction": "maximize", "n_trials": 20},
                      search_space={"C": [0.01, 100]}) as study:
        for _ in range(20):
            with study.trial() as trial:
                trial.trace_params(params)
                trial.report(accuracy)
    # sealed with the selection; study.summary

A study is an experiment: its plan and search go on chain when it is opened, before any trial.
Each trial is an experiment of its own; when it ends (complete, failed or pruned) it is sealed
and then appended to the study as one TRIAL stage, under the study's recording lock, so trials
ending at once in several threads or processes (one journal: one account on one machine) are
appended one at a time, in the order they finish, and exactly once (the stage label is the
trial's id, and the contract's expected index refuses a second landing). Between appends nobody
holds the study, which is why `Tracer.resume()` without an id leaves studies open: trials
killed mid-run are sealed by `resume` and appended (as failed) when the study next appends or
finishes (`_reconcile`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from algo_tracer.documents.manifest import StageKind, stage_label
from algo_tracer.documents.model_card import ModelCardInfo, write_model_card
from algo_tracer.documents.study import (
    RESULT_STAGE,
    Selection,
    StudySpec,
    TrialOf,
    TrialRecord,
    TrialResult,
    TrialState,
    result_for,
    select_best,
    trial_value,
)
from algo_tracer.errors import ExperimentBusyError, InputError
from algo_tracer.format.ids import format_id, parse_id
from algo_tracer.record.manifest_builder import build_manifest
from algo_tracer.record.process_lock import RecordingLock
from algo_tracer.record.writer import Writer

if TYPE_CHECKING:
    from algo_tracer.record.journal import Journal
    from algo_tracer.record.receipts import ExperimentSummary
    from algo_tracer.record.tracer import Experiment, Tracer

__all__ = ["Study", "StudySummary", "Trial", "TrialPruned", "is_study"]

#: How long an append waits for another process's append to the same study.
LOCK_TIMEOUT = 300.0


class TrialPruned(Exception):
    """Raise inside `with study.trial()` to end the trial as pruned (recorded, not failed)."""


@dataclass(frozen=True)
class StudySummary:
    study_id: str
    app_id: int
    selection: Selection
    manifest_path: Path
    model_card_path: Path | None = None

    def __str__(self) -> str:
        s = self.selection
        best = (f"trial {s.selected_number} ({s.objective} = {s.value:g})"
                if s.selected and s.value is not None else "no complete trial")
        return (f"study {self.study_id}: best of {s.trials} ({s.failed} failed, {s.pruned} "
                f"pruned): {best}; manifest {self.manifest_path}")


class Study:
    """An open study; `tracer.study(...)` opens one, `tracer.load_study(id)` reopens it."""

    def __init__(self, tracer: Tracer, study_id: bytes, spec: StudySpec) -> None:
        self.tracer = tracer
        self.journal = tracer.journal
        self.id = study_id
        self.spec = spec
        self.summary: StudySummary | None = None
        self._numbering = threading.Lock()

    @property
    def id_text(self) -> str:
        return format_id(self.id)

    # -- trials --------------------------------------------------------------------------------

    def trial(self, number: int | None = None, *, name: str | None = None,
              seed: int | None = None, **experiment_options: Any) -> Trial:
        """Start trial `number` (default: the next one) as an experiment naming this study."""
        row = self.journal.experiment(self.id)
        if row.status != "open":
            raise InputError(f"study {self.id_text} is {row.status}: it takes no more trials",
                             fix="open a new study")
        with self._numbering:  # two threads asking for "the next" trial get two numbers
            if number is None:
                number = self._next_number()
            metadata = {**dict(experiment_options.pop("metadata", None) or {}),
                        "study": self.id_text, "trial": number}
            exp = self.tracer.experiment(name or f"{row.name}-trial-{number}",
                                         metadata=metadata, **experiment_options)
            link = TrialOf(study=self.id_text, app_id=row.app_id, number=number)
            exp.trace_digest(StageKind.TRIAL_OF, None, link.digest(exp.row.json_scheme),
                             link.detail())
        if seed is not None:
            exp.trace_seed(seed)
        return Trial(self, exp, number)

    def trials(self) -> list[TrialRecord]:
        """The trials recorded so far, in the order they finished."""
        return [TrialRecord.model_validate(s.detail) for s in self.journal.stages(self.id)
                if s.kind == StageKind.TRIAL]

    def record_trial(self, exp: Experiment, number: int) -> TrialRecord:
        """Append the sealed trial `exp` (exactly once); returns its record."""
        row = self.journal.experiment(exp.id)
        if row.status != "sealed" or row.final_digest is None:
            raise InputError(f"trial {exp.id_text} is not sealed yet",
                             fix="finish the trial first (leave its `with` block)")
        result = _result_of(self.journal.stages(exp.id))
        record = TrialRecord(experiment=exp.id_text, number=number, state=result.state,
                             value=result.value, final_digest=row.final_digest.hex())
        self._append([record])
        return record

    def add_stage(self, kind: StageKind, name: str | None, digest: bytes,
                  detail: dict[str, Any]) -> None:
        """Journal one more stage of the study itself (e.g. what an MLflow parent run logged),
        sent with the next append or the seal; refused once the study is finishing."""
        with self._holding():
            status = self.journal.experiment(self.id).status
            label = stage_label(kind, name)
            if status not in ("open", "creating"):
                raise InputError(f"study {self.id_text} is {status}: stage {label} came too late",
                                 fix="record the study's own stages before finishing it")
            if any(s.label == label for s in self.journal.stages(self.id)):
                raise InputError(f"stage {label} is already recorded in study {self.id_text}",
                                 fix="give each stage its own name")
            self.journal.add_stage(self.id, int(kind), label, digest, detail)

    # -- end -----------------------------------------------------------------------------------

    def finish(self) -> StudySummary:
        """Append any sealed trial not yet recorded, record the selection, seal the study."""
        if self.summary is not None:
            return self.summary
        with self._holding():
            self._reconcile_locked()
            selection = select_best(self.trials(), self.spec)
            label = stage_label(StageKind.SELECTION)
            if not any(s.label == label for s in self.journal.stages(self.id)):
                self.journal.add_stage(self.id, StageKind.SELECTION, label,
                                       selection.digest(self._json_scheme()), selection.detail())
            if self.journal.experiment(self.id).status == "open":
                self.journal.update_experiment(self.id, status="finishing")
            self._writer().settle(flush=True, seal=True)
        manifest = build_manifest(self.journal, self.id)
        out = Path(self.journal.experiment(self.id).output_dir)
        manifest.write(out / "manifest.json")
        card = write_model_card(manifest, ModelCardInfo(), out)
        recorded = next(s for s in manifest.stages if s.kind == StageKind.SELECTION)
        self.summary = StudySummary(self.id_text, manifest.app_id,
                                    Selection.model_validate(recorded.detail),
                                    out / "manifest.json", card)
        return self.summary

    def __enter__(self) -> Study:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None or not isinstance(exc, KeyboardInterrupt):
            self.finish()  # a study interrupted by Ctrl-C stays open: `load_study` continues it

    # -- appending -----------------------------------------------------------------------------

    def settle(self) -> None:
        """Send what the study has journaled (its create, plan and search) and wait for it."""
        with self._holding():
            self._writer().settle(flush=True)

    def _append(self, records: list[TrialRecord]) -> None:
        with self._holding():
            status = self.journal.experiment(self.id).status
            if status not in ("open", "creating"):
                raise InputError(
                    f"study {self.id_text} is {status}: trial(s) "
                    f"{', '.join(r.experiment for r in records)} ended after it was finished "
                    "and are not in it", fix="finish the study only after its last trial "
                    "(each trial is sealed as its own experiment all the same)")
            self._reconcile_locked()
            self._add_records(records)
            self._writer().settle(flush=True)

    def _json_scheme(self) -> int:
        """The study's own JSON scheme (a study reopened after an upgrade keeps its own)."""
        return self.journal.experiment(self.id).json_scheme

    def _add_records(self, records: list[TrialRecord]) -> None:
        labels = {s.label for s in self.journal.stages(self.id)}
        for record in records:
            label = stage_label(StageKind.TRIAL, record.experiment)
            if label not in labels:  # exactly once, whoever appends it first
                self.journal.add_stage(self.id, StageKind.TRIAL, label,
                                       record.digest(self._json_scheme()), record.detail())
                labels.add(label)

    def _reconcile_locked(self) -> None:
        """Sealed trials of this study that no process appended (killed between the trial's
        seal and its append), in the order they were sealed."""
        done = {t.experiment for t in self.trials()}
        missing = []
        for row in self.journal.experiments(metadata=("study", self.id_text)):
            if row.status != "sealed" or row.final_digest is None or format_id(row.id) in done:
                continue
            link = _trial_of(self.journal.stages(row.id))
            if link is None or link.study != self.id_text:
                continue
            result = _result_of(self.journal.stages(row.id))
            missing.append((row.seal_round or 0, TrialRecord(
                experiment=format_id(row.id), number=link.number, state=result.state,
                value=result.value, final_digest=row.final_digest.hex())))
        self._add_records([r for _, r in sorted(missing, key=lambda m: m[0])])

    def _next_number(self) -> int:
        numbers = [(_trial_of(self.journal.stages(r.id)) or TrialOf(study="", app_id=0,
                                                                       number=-1)).number
                   for r in self.journal.experiments(metadata=("study", self.id_text))]
        return max(numbers, default=-1) + 1

    def _writer(self) -> Writer:
        return Writer(self.journal, self.tracer.registry, self.id,
                      final_digest=lambda: build_manifest(self.journal, self.id).final_digest())

    def _holding(self) -> _Held:
        return _Held(RecordingLock(self.journal.path.parent, self.id), self.id_text)


class Trial:
    """One trial: an experiment (every `trace_*` and `log_metric` works on it) plus its result.

    Leave the `with` block normally after `report(value)` for a complete trial; raise
    `TrialPruned` (or call `prune()`) for a pruned one; any other exception records it as failed
    and propagates.
    """

    def __init__(self, study: Study, experiment: Experiment, number: int) -> None:
        self.study = study
        self.experiment = experiment
        self.number = number
        self.value: float | None = None
        self.state: TrialState | None = None
        self.record: TrialRecord | None = None
        self.summary: ExperimentSummary | None = None  # the trial's own, once sealed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.experiment, name)  # trace_params, log_metric, ...

    def report(self, value: Any) -> None:
        """The trial's objective value (the study's `objective` metric)."""
        self.value = trial_value(value)

    def prune(self) -> None:
        self.state = "pruned"

    def finish(self, state: TrialState | None = None, *, reason: str | None = None) -> TrialRecord:
        """Record the result, seal the trial, append it to the study; returns its record."""
        if self.record is not None:
            return self.record
        result = result_for(state or self.state or "complete", self.value)
        self.experiment.trace_digest(StageKind.CUSTOM, RESULT_STAGE,
                                     result.digest(self.experiment.row.json_scheme),
                                     result.detail())
        outcome = "completed" if result.state == "complete" else (reason or result.state)
        self.summary = self.experiment.finish(outcome=outcome)
        self.record = self.study.record_trial(self.experiment, self.number)
        return self.record

    def __enter__(self) -> Trial:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        if exc is None:
            self.finish()
            return False
        if isinstance(exc, KeyboardInterrupt):
            self.experiment.__exit__(exc_type, exc, tb)  # left to `resume`, as any experiment
            return False
        if isinstance(exc, TrialPruned) or type(exc).__name__ == "TrialPruned":
            self.finish("pruned")  # ours or optuna.TrialPruned: the trial ends here
            return isinstance(exc, TrialPruned)
        self.finish("failed", reason=f"failed: {type(exc).__name__}")
        return False


class _Held:
    """The study's recording lock, waited for: another thread or process may be appending."""

    def __init__(self, lock: RecordingLock, what: str) -> None:
        self.lock = lock
        self.what = what

    def __enter__(self) -> None:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while not self.lock.acquire():
            if time.monotonic() > deadline:
                raise ExperimentBusyError(
                    f"study {self.what} stayed locked by pid {self.lock.holder()} for "
                    f"{LOCK_TIMEOUT:g} s", fix="check that process; if it is gone, retry")
            time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def open_study(tracer: Tracer, name: str, *, objective: str, direction: str,
               n_trials: int | None = None, search_space: Mapping[str, Any] | None = None,
               plan: Mapping[str, Any] | str | os.PathLike[str] | None = None,
               private_plan: bool = False, output_dir: str | os.PathLike[str] | None = None,
               metadata: Mapping[str, Any] | None = None) -> Study:
    """Record a new study (plan first, then its search) and wait until both are on chain."""
    try:
        spec = StudySpec(objective=objective, direction=direction,  # type: ignore[arg-type]
                         n_trials=n_trials, search_space=dict(search_space or {}))
    except ValueError as exc:
        raise InputError(f"the study's settings are not valid: {exc}",
                         fix="objective: a metric name; direction: 'maximize' or 'minimize'; "
                             "n_trials: a positive integer") from exc
    exp = tracer.experiment(name, plan=plan, private_plan=private_plan, output_dir=output_dir,
                            metadata={**dict(metadata or {}), "kind": "study"})
    exp.trace_digest(StageKind.STUDY, None, spec.digest(exp.row.json_scheme), spec.detail())
    exp.detach()
    study = Study(tracer, exp.id, spec)
    study.settle()  # the plan and the search land before the first trial
    return study


def load_study(tracer: Tracer, study_id: bytes | str) -> Study:
    """Reopen a journaled, unsealed study (e.g. in another worker process)."""
    sid = study_id if isinstance(study_id, bytes) else parse_id(study_id)
    stages = tracer.journal.stages(sid)  # JournalError for an unknown id
    spec = next((StudySpec.model_validate(s.detail) for s in stages
                 if s.kind == StageKind.STUDY), None)
    if spec is None:
        raise InputError(f"experiment {format_id(sid)} is not a study",
                         fix="give the id printed when the study was opened")
    return Study(tracer, sid, spec)


def is_study(journal: Journal, experiment_id: bytes) -> bool:
    """Whether a journaled experiment is a study: opened as one (``tracer.study``), or an
    experiment that became one (an MLflow parent run whose first child started) and so has a
    STUDY stage. Studies are finished by `Study.finish`, never sealed as plain experiments."""
    if journal.experiment(experiment_id).metadata.get("kind") == "study":
        return True
    return any(s.kind == StageKind.STUDY for s in journal.stages(experiment_id))


def _trial_of(stages: list[Any]) -> TrialOf | None:
    first = next((s for s in stages if s.kind == StageKind.TRIAL_OF), None)
    return TrialOf.model_validate(first.detail) if first is not None else None


def _result_of(stages: list[Any]) -> TrialResult:
    label = stage_label(StageKind.CUSTOM, RESULT_STAGE)
    found = next((s for s in stages if s.label == label), None)
    # A trial sealed without a result (killed, then sealed by `resume`) did not complete.
    return (TrialResult.model_validate(found.detail) if found is not None
            else TrialResult(state="failed"))
