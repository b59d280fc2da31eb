"""Records what an MLflow run logs into one algo-tracer experiment per run, and seals it when
the run ends. Internal: no stability promise; the public names are in
`algo_tracer.integrations.mlflow`.

One `Recorder` per process holds the runs it saw created (`start`) or resumed (`resume`),
keyed by run id, so every store wrapper of the process (plugin URIs and `autotrace()` alike)
feeds the same record. Runs created elsewhere (another process, before `autotrace()`) pass
through untouched until they are resumed here.

A resumed run (``mlflow.start_run(run_id=...)``) gets a new experiment, a *segment*: sealed
segments are final on chain, so the new one names the previous one in its metadata
(``mlflow.continues``), the run's ``algotrace.*`` tags move to it and
``algotrace.previous_experiment_ids`` lists the earlier ones, oldest first. Its seal covers the
run's whole state (params, final metrics, artifacts) when it ends again.

Failures never break the MLflow run: they are warned about, written to the run's
``algotrace.status`` tag, and recording of that run stops, unless strict mode is on
(`configure(strict=True)` or ``ALGO_TRACER_MLFLOW_STRICT=1``), in which case they are raised.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from algo_tracer.documents.manifest import Manifest, StageKind
from algo_tracer.integrations.mlflow import _content, _context, _study_runs
from algo_tracer.integrations.mlflow._run_io import (
    AlgoTracerMlflowWarning,
    flush_async_artifacts,
    run_metadata,
    upload_manifest,
)
from algo_tracer.integrations.mlflow._run_io import experiment_name as _experiment_name
from algo_tracer.integrations.mlflow._run_io import identity_tags as _identity_tags
from algo_tracer.integrations.mlflow._run_io import set_tags as _set_tags
from algo_tracer.integrations.mlflow._run_io import warn as _warn
from algo_tracer.integrations.mlflow._run_stages import record_datasets, record_end_of_run

if TYPE_CHECKING:
    from algo_tracer.record.study import Study, Trial
    from algo_tracer.record.tracer import Experiment, Tracer

STRICT_ENV = "ALGO_TRACER_MLFLOW_STRICT"
#: Experiment ids of a resumed run's earlier segments, oldest first, comma-separated.
PREVIOUS_TAG = "algotrace.previous_experiment_ids"


@dataclass
class Options:
    tracer: Tracer | None = None
    tracer_factory: Callable[[], Tracer] | None = None
    strict: bool | None = None
    upload_manifest: bool = True

    def is_strict(self) -> bool:
        if self.strict is not None:
            return self.strict
        return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes")


@dataclass
class RunTrace:
    run_id: str
    experiment: Experiment
    inner: Any
    """The MLflow store the run was created through (tags and the seal are written there)."""
    tracking_uri: str | None
    origin: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    data_labels: dict[str, bytes] = field(default_factory=dict)
    model_ids: dict[str, None] = field(default_factory=dict)
    skipped_metrics: int = 0
    failed: str | None = None
    study: Study | None = None
    """Set once a child run started under this run: it is recorded as that study."""
    refused: str | None = None
    """Why this parent run could not be a study (its children are plain runs)."""
    trial: Trial | None = None
    """Set when this run is a child of a study: its trial."""

    def record(self, kind: StageKind, name: str | None, digest: bytes,
               detail: dict[str, Any]) -> None:
        """One stage whose digest was computed here (snapshots, descriptors, listings)."""
        if self.study is not None:  # a parent run: its experiment is the study's now
            self.study.add_stage(kind, name, digest, detail)
        else:
            self.experiment.trace_digest(kind, name, digest, detail)


class Recorder:
    def __init__(self) -> None:
        self.options = Options()
        self._lock = threading.RLock()
        self._tracer: Tracer | None = None
        self._runs: dict[str, RunTrace] = {}

    # -- setup ---------------------------------------------------------------------------------

    def configure(self, *, tracer: Tracer | None = None, strict: bool | None = None,
                  upload_manifest: bool | None = None) -> None:
        with self._lock:
            if tracer is not None:
                self.options.tracer = tracer
                self._tracer = tracer
            if strict is not None:
                self.options.strict = strict
            if upload_manifest is not None:
                self.options.upload_manifest = upload_manifest

    def tracer(self) -> Tracer:
        """The configured tracer, else one from the environment, created on the first run."""
        with self._lock:
            if self._tracer is None:
                if self.options.tracer_factory is not None:
                    self._tracer = self.options.tracer_factory()
                else:
                    from algo_tracer.record.tracer import Tracer

                    self._tracer = Tracer.from_environment()
            return self._tracer

    def active_runs(self) -> list[str]:
        with self._lock:
            return list(self._runs)

    # -- run lifecycle -------------------------------------------------------------------------

    def prepare(self, inner: Any) -> str | None:
        """Before a run is created: get the tracer ready. Returns why not, when it cannot be."""
        try:
            self.tracer()
        except Exception as exc:
            self._fail(None, "cannot create the algo-tracer Tracer", exc)
            return f"untraced: {exc}"
        return None

    def start(self, inner: Any, run: Any, tags: dict[str, str], *,
              tracking_uri: str | None, origin: str = "uri",
              previous: list[str] | None = None) -> None:
        """A run was created (or resumed, with the `previous` segments' experiment ids):
        open its experiment and record its code and environment."""
        run_id = run.info.run_id
        try:
            snapshots = _context.take(tags) or _context.capture()
            try:
                experiment_name = inner.get_experiment(run.info.experiment_id).name
            except Exception:
                experiment_name = run.info.experiment_id
            tracer = self.tracer()
            options: dict[str, Any] = dict(
                # One folder per segment: a resumed run must not overwrite the sealed manifest.
                output_dir=(tracer.output_root / (f"mlflow-{run_id}" + (
                    f".{len(previous) + 1}" if previous else ""))).resolve(),
                metadata={"mlflow": run_metadata(run, experiment_name, tracking_uri, previous)})
            name = _experiment_name(experiment_name, run.info.run_name or run_id)
            all_tags = {**run.data.tags, **tags}
            study = None if previous else self._study_of(all_tags.get(_study_runs.PARENT_TAG))
            trial = study.trial(name=name, **options) if study is not None else None
            if trial is not None:
                exp = trial.experiment
            else:
                # A resumed run's plan is its first segment's first stage, not repeated.
                plan, private = _study_runs.plan_of({} if previous else all_tags)
                exp = tracer.experiment(name, plan=plan, private_plan=private, **options)
            scheme = exp.row.json_scheme  # docs/hashing.md §13
            exp.trace_digest(StageKind.ENVIRONMENT, None,
                             snapshots.environment.digest(scheme).value,
                             snapshots.environment.model_dump(mode="json"))
            if snapshots.code is not None:
                exp.trace_digest(StageKind.CODE, None, snapshots.code.digest(scheme).value,
                                 snapshots.code.model_dump(mode="json"))
        except Exception as exc:
            self._fail(None, f"cannot start recording MLflow run {run_id}", exc)
            _set_tags(inner, run_id, {"algotrace.status": f"untraced: {exc}"})
            return
        with self._lock:
            self._runs[run_id] = RunTrace(run_id, exp, inner, tracking_uri, origin, trial=trial)
        identity = _identity_tags(exp, status="recording")
        if trial is not None:
            identity.update({_study_runs.STUDY_TAG: trial.study.id_text,
                             _study_runs.TRIAL_TAG: str(trial.number)})
        if previous:
            identity[PREVIOUS_TAG] = ",".join(previous)
        _set_tags(inner, run_id, identity)

    def _study_of(self, parent_id: str | None) -> Study | None:
        """The study of a child run's parent, when the parent is recorded here (see _study_runs)."""
        with self._lock:
            parent = self._runs.get(parent_id) if parent_id else None
        return _study_runs.become_study(parent, self.tracer()) if parent is not None else None

    def resume(self, inner: Any, run_id: str, *, tracking_uri: str | None,
               origin: str = "uri") -> None:
        """A run was set running again: record what it logs from now on in a new segment."""
        with self._lock:
            if run_id in self._runs:  # still being recorded by this process
                return
        if self.prepare(inner) is not None:
            return
        try:
            run = inner.get_run(run_id)
        except Exception as exc:
            self._fail(None, f"cannot read resumed MLflow run {run_id}", exc)
            return
        tags = run.data.tags
        previous = [x for x in tags.get(PREVIOUS_TAG, "").split(",") if x]
        last = tags.get("algotrace.experiment_id")
        if last:
            previous.append(last)
            self._warn_if_unfinished(run_id, last)
        self.start(inner, run, {}, tracking_uri=tracking_uri, origin=origin, previous=previous)

    def _warn_if_unfinished(self, run_id: str, experiment_id: str) -> None:
        # A crash can leave the previous segment unsealed. It may also still be recording in
        # another process, so it is never sealed from here: the journal keeps it for `resume`.
        from algo_tracer.format.ids import parse_id

        try:
            unfinished = {row.id for row in self.tracer().journal.experiments(unfinished=True)}
            pending = parse_id(experiment_id) in unfinished
        except Exception:
            return  # an id this journal cannot know: recorded elsewhere
        if pending:
            _warn(f"MLflow run {run_id} was resumed while its previous segment {experiment_id} "
                  "is unfinished in the journal (a crash?); run `algo-tracer resume "
                  f"{experiment_id}` to seal it once no process records it any more")

    def metrics(self, run_id: str, metrics: Iterable[Any]) -> None:
        trace = self._runs.get(run_id)
        if trace is None or not metrics:
            return
        with trace.lock:
            if trace.failed:
                return
            if trace.study is not None:  # the final-metrics stage covers a study's own metrics
                trace.skipped_metrics += len(list(metrics))
                return
            try:
                for m in metrics:
                    step = int(m.step or 0)
                    if step < 0:  # note records count steps from 0 (docs/note-format.md)
                        trace.skipped_metrics += 1
                        continue
                    trace.experiment.log_metric(_content.metric_name(m.key), float(m.value),
                                                step=step)
            except Exception as exc:
                self._fail(trace, "recording a metric failed", exc)

    def inputs(self, run_id: str, datasets: Iterable[Any] | None) -> None:
        trace = self._runs.get(run_id)
        if trace is None or not datasets:
            return
        with trace.lock:
            if trace.failed:
                return
            try:
                record_datasets(trace.record, trace.data_labels, datasets,
                                trace.experiment.row.json_scheme)
            except Exception as exc:
                self._fail(trace, "recording a dataset input failed", exc)

    def models(self, run_id: str | None, model_ids: Iterable[str]) -> None:
        trace = self._runs.get(run_id) if run_id else None
        if trace is None:
            return
        with trace.lock:
            for model_id in model_ids:
                trace.model_ids[model_id] = None

    def end(self, run_id: str, outcome: str) -> None:
        """The run ends (`outcome` "completed", "failed", "killed", ...): record the rest, seal."""
        with self._lock:
            trace = self._runs.pop(run_id, None)
        if trace is None:
            return
        with trace.lock:
            if trace.failed is None:
                try:
                    self._seal(trace, outcome)
                    return
                except Exception as exc:
                    self._fail(trace, f"sealing MLflow run {run_id} failed", exc, raise_now=False)
            _set_tags(trace.inner, run_id, {"algotrace.status": f"failed: {trace.failed}"})
            if self.options.is_strict():
                from algo_tracer.errors import AlgoTracerError

                raise AlgoTracerError(f"the provenance record of MLflow run {run_id} is "
                                      f"incomplete: {trace.failed}",
                                      fix="see the warning above; the algo-tracer journal keeps "
                                      "what was recorded (`algo-tracer resume` seals it)")

    def end_all(self, reason: str, *, origin: str) -> None:
        with self._lock:
            run_ids = [r for r, t in self._runs.items() if t.origin == origin]
        for run_id in run_ids:
            warnings.warn(f"algo-tracer: MLflow run {run_id} is still running while {reason}; "
                          "sealing what was recorded so far (later logging is not covered)",
                          AlgoTracerMlflowWarning, stacklevel=3)
            self.end(run_id, "detached")

    # -- internals -----------------------------------------------------------------------------

    def _seal(self, trace: RunTrace, outcome: str) -> None:
        exp, inner, run_id = trace.experiment, trace.inner, trace.run_id
        flush_async_artifacts(run_id)
        run = inner.get_run(run_id)
        record_end_of_run(trace.record, trace.data_labels, inner, run, trace.tracking_uri,
                          trace.model_ids, exp.row.json_scheme)
        if trace.skipped_metrics:
            _warn(f"{trace.skipped_metrics} metric values of run {run_id} had a negative step "
                  "or were logged to a study's parent run, and are not in the note stream (the "
                  "final-metrics stage still covers them)")
        if trace.trial is not None:
            summary = _study_runs.seal_trial(trace, outcome, run)
        elif trace.study is not None:
            summary = _study_runs.seal_study(trace, outcome)
        else:
            sealed = exp.finish(outcome=outcome)
            summary = _study_runs.Sealed(sealed.manifest_path, sealed.model_card_path, {})
        manifest = Manifest.read(summary.manifest_path)
        tags = _identity_tags(exp, status="sealed" if manifest.seal else "unsealed")
        tags.update(summary.tags)
        tags["algotrace.manifest"] = str(Path(summary.manifest_path).resolve())
        if manifest.seal is not None and manifest.seal.txid:
            tags["algotrace.seal_txid"] = manifest.seal.txid
        if self.options.upload_manifest:
            try:
                upload_manifest(run.info.artifact_uri, trace.tracking_uri,
                                [p for p in (summary.manifest_path, summary.model_card_path)
                                 if p is not None])
                tags["algotrace.manifest_artifact"] = _content.MANIFEST_ARTIFACT
            except Exception as exc:  # the local manifest and the chain are what matter
                _warn(f"could not copy the manifest of run {run_id} to its artifacts: {exc}")
        _set_tags(inner, run_id, tags)

    def _fail(self, trace: RunTrace | None, what: str, exc: BaseException, *,
              raise_now: bool = True) -> None:
        if trace is not None:
            trace.failed = f"{what}: {exc}"
        if raise_now and self.options.is_strict():
            raise exc
        _warn(f"{what}: {exc}; the MLflow run goes on without a complete provenance record")


RECORDER = Recorder()
