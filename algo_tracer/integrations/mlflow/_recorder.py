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

from algo_tracer import hashing
from algo_tracer.documents.manifest import Manifest, StageKind
from algo_tracer.integrations.mlflow import _content, _context

if TYPE_CHECKING:
    from algo_tracer.record.receipts import StageReceipt
    from algo_tracer.record.tracer import Experiment, Tracer

STRICT_ENV = "ALGO_TRACER_MLFLOW_STRICT"
#: Experiment ids of a resumed run's earlier segments, oldest first, comma-separated.
PREVIOUS_TAG = "algotrace.previous_experiment_ids"


class AlgoTracerMlflowWarning(UserWarning):
    """Recording of an MLflow run failed; the run went on without (complete) provenance."""


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
            name = _experiment_name(experiment_name, run.info.run_name or run_id)
            exp = tracer.experiment(
                # One folder per segment: a resumed run must not overwrite the sealed manifest.
                name, output_dir=(tracer.output_root / (f"mlflow-{run_id}" + (
                    f".{len(previous) + 1}" if previous else ""))).resolve(),
                metadata={"mlflow": run_metadata(run, experiment_name, tracking_uri, previous)})
            scheme = exp.row.json_scheme  # docs/hashing.md §13
            _record(exp, StageKind.ENVIRONMENT, None, snapshots.environment.digest(scheme).value,
                    snapshots.environment.model_dump(mode="json"))
            if snapshots.code is not None:
                _record(exp, StageKind.CODE, None, snapshots.code.digest(scheme).value,
                        snapshots.code.model_dump(mode="json"))
        except Exception as exc:
            self._fail(None, f"cannot start recording MLflow run {run_id}", exc)
            _set_tags(inner, run_id, {"algotrace.status": f"untraced: {exc}"})
            return
        with self._lock:
            self._runs[run_id] = RunTrace(run_id, exp, inner, tracking_uri, origin)
        identity = _identity_tags(exp, status="recording")
        if previous:
            identity[PREVIOUS_TAG] = ",".join(previous)
        _set_tags(inner, run_id, identity)

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
                _record_datasets(trace, datasets)
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
        _flush_async_artifacts(run_id)
        run = inner.get_run(run_id)
        # Inputs logged before this segment (a resumed run) or past the store: as MLflow has them.
        _record_datasets(trace, getattr(run.inputs, "dataset_inputs", None) or [])
        exp.trace_params(dict(run.data.params))
        metrics = _content.final_metrics(run.data.metrics)
        exp.trace_metrics(metrics, name=_content.METRICS_STAGE)
        tags = _content.run_tags(run.data.tags)
        tags_scheme = hashing.params_scheme(exp.row.json_scheme)  # the experiment's (§13)
        _record(exp, StageKind.CUSTOM, _content.TAGS_STAGE,
                hashing.hash_params(tags, tags_scheme).value, {"tags": tags})
        tree = _content.hash_artifacts(run.info.artifact_uri, trace.tracking_uri,
                                       exclude_manifest=True)
        detail = _content.directory_detail(tree, run.info.artifact_uri)
        detail["excluded"] = [_content.MANIFEST_ARTIFACT_DIR + "/"]
        _record(exp, StageKind.ARTIFACT, _content.ARTIFACTS_STAGE, tree.digest.value, detail)
        for model_id in _run_model_ids(run, trace.model_ids):
            model = inner.get_logged_model(model_id)
            tree = _content.hash_artifacts(model.artifact_location, trace.tracking_uri)
            detail = _content.directory_detail(tree, model.artifact_location)
            detail.update(model_id=model_id, name=model.name, status=str(model.status))
            _record(exp, StageKind.MODEL, model_id, tree.digest.value, detail)
        if trace.skipped_metrics:
            _warn(f"{trace.skipped_metrics} metric values of run {run_id} had a negative step "
                  "and are not in the note stream (the final-metrics stage still covers them)")
        summary = exp.finish(outcome=outcome)
        manifest = Manifest.read(summary.manifest_path)
        tags = _identity_tags(exp, status="sealed" if manifest.seal else "unsealed")
        tags["algotrace.manifest"] = str(Path(summary.manifest_path).resolve())
        if manifest.seal is not None and manifest.seal.txid:
            tags["algotrace.seal_txid"] = manifest.seal.txid
        if self.options.upload_manifest:
            try:
                _upload_manifest(run.info.artifact_uri, trace.tracking_uri,
                                 [summary.manifest_path, summary.model_card_path])
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


def _record(exp: Experiment, kind: StageKind, name: str | None, digest: bytes,
            detail: dict[str, Any]) -> StageReceipt:
    # A stage whose digest was computed here (snapshots, descriptors, listings).
    return exp.trace_digest(kind, name, digest, detail)


def run_metadata(run: Any, experiment_name: str, tracking_uri: str | None,
                 previous: list[str] | None = None) -> dict[str, Any]:
    """The experiment metadata naming the run (committed on chain by its digest).

    The tracking URI loses any credentials (``postgresql://user:password@...``, tokens in
    ``https://`` URIs): the manifest is meant to be shared, and its digest is on chain forever.
    """
    from algo_tracer.capture import strip_url_credentials

    return {"run_id": run.info.run_id, "experiment_id": run.info.experiment_id,
            "experiment_name": experiment_name, "run_name": run.info.run_name,
            "tracking_uri": strip_url_credentials(tracking_uri) if tracking_uri else None,
            "mlflow_version": _mlflow_version(),
            **({"continues": previous[-1]} if previous else {})}


def _record_datasets(trace: RunTrace, datasets: Iterable[Any]) -> None:
    for dataset_input in datasets:
        descriptor = _content.dataset_descriptor(dataset_input)
        digest = hashing.hash_params(
            descriptor, hashing.params_scheme(trace.experiment.row.json_scheme)).value
        label = _free_label(trace.data_labels, _dataset_label(descriptor), digest)
        if label is None:
            continue  # the same dataset input, logged again
        _record(trace.experiment, StageKind.DATA, label, digest,
                {"mlflow_dataset": descriptor, "scheme": "params"})
        trace.data_labels[label] = digest


def _identity_tags(exp: Experiment, *, status: str) -> dict[str, str]:
    settings = exp.tracer.settings
    return {"algotrace.app_id": str(exp.app_id), "algotrace.experiment_id": exp.id_text,
            "algotrace.network": settings.genesis_id,
            "algotrace.genesis_hash": settings.genesis_hash, "algotrace.status": status}


def _set_tags(inner: Any, run_id: str, tags: dict[str, str]) -> None:
    from mlflow.entities import RunTag

    try:
        inner.log_batch(run_id, metrics=[], params=[],
                        tags=[RunTag(k, v[:5000]) for k, v in tags.items()])
    except Exception as exc:
        _warn(f"could not write the algotrace.* tags of run {run_id}: {exc}")


def _upload_manifest(artifact_uri: str, tracking_uri: str | None, paths: list[Path]) -> None:
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    repo: Any = get_artifact_repository(artifact_uri, tracking_uri=tracking_uri)
    for path in paths:
        repo.log_artifact(str(path), _content.MANIFEST_ARTIFACT_DIR)


def _flush_async_artifacts(run_id: str) -> None:
    # Artifacts logged with MLflow's async artifact queue must be on disk before they are hashed.
    from mlflow.tracking._tracking_service import utils

    lookup: Any = utils._get_artifact_repo
    repo = lookup(run_id)
    flush = getattr(repo, "flush_async_logging", None)
    if callable(flush):
        flush()


def _run_model_ids(run: Any, seen: dict[str, None]) -> list[str]:
    ids = dict(seen)
    outputs = getattr(run, "outputs", None)
    for output in getattr(outputs, "model_outputs", None) or []:
        ids[output.model_id] = None
    return list(ids)


def _dataset_label(descriptor: dict[str, Any]) -> str:
    context = descriptor["tags"].get("mlflow.data.context")
    name = descriptor["name"] or "dataset"
    return f"{context}:{name}" if context else name


def _free_label(taken: dict[str, bytes], label: str, digest: bytes) -> str | None:
    candidate, n = label, 1
    while candidate in taken:
        if taken[candidate] == digest:
            return None
        n += 1
        candidate = f"{label}#{n}"
    return candidate


def _experiment_name(experiment: str, run: str) -> str:
    name = f"mlflow/{experiment}/{run}"
    return name.encode()[:200].decode("utf-8", "ignore")


def _mlflow_version() -> str:
    import mlflow

    return mlflow.__version__


def _warn(message: str) -> None:
    warnings.warn(f"algo-tracer: {message}", AlgoTracerMlflowWarning, stacklevel=4)
