"""`verify_mlflow_run`: check an MLflow run against its on-chain record. Internal: no
stability promise; the public names are in `algo_tracer.integrations.mlflow`.

Steps 1-8 are `algo_tracer.verify.experiment.verify_experiment` on the experiment named by the run's
``algotrace.*`` tags. Step 9 (this module) then re-reads the run from the MLflow tracking
store and its artifact store, hashes it by the rules of `_content`, and compares each digest
with the on-chain digest of the stage recorded for it (docs/mlflow.md, "Verification"); the
run's whole metric history is compared with the note records of every segment (`_history`).
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from algo_tracer import hashing
from algo_tracer.diffs import mapping_diff
from algo_tracer.documents.manifest import Manifest
from algo_tracer.errors import InputError, VerificationError
from algo_tracer.format.records import NoteRecord
from algo_tracer.integrations.mlflow import _content, _history
from algo_tracer.integrations.mlflow._recorder import PREVIOUS_TAG
from algo_tracer.progress import Progress
from algo_tracer.verify.report import (
    CheckRow,
    Finding,
    Severity,
    StageRow,
    StageStatus,
    VerificationReport,
)

STEP = 9


def verify_mlflow_run(run_id: str, tracking_uri: str | None = None, *,
                      manifest: Manifest | str | os.PathLike[str] | None = None,
                      algorand: Any = None, indexer_timeout: float = 60,
                      progress: Progress | None = None) -> VerificationReport:
    """Verify an MLflow run recorded by the algo-tracer plugin or `autotrace()`.

    Args:
        run_id: The MLflow run id.
        tracking_uri: Where the run is (default: MLflow's current tracking URI). Plain and
            ``algotrace+`` URIs both work.
        manifest: The run's manifest; default the ``algotrace.manifest`` path when it exists
            here, else the copy in the run's artifacts (``algotrace/manifest.json``).
        algorand: An `AlgorandClient` with an Indexer; default from the environment (ALGOD_*,
            INDEXER_*), like the rest of algo-tracer.
        indexer_timeout: Seconds to wait for the Indexer to catch up.
        progress: Shows the long Indexer scans (`algo_tracer.progress.Progress`).

    Returns:
        The `VerificationReport` of the experiment with step 9 (the MLflow run) added;
        ``report.ok`` is False when anything failed (``report.raise_for_failure()`` raises).

    Raises:
        InputError: The run cannot be read from the tracking store.
        VerificationError: The run carries no ``algotrace.*`` record.
        ConfigError: The run was recorded on another network than algod's.
        NetworkError: algod or the Indexer cannot be reached.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from algo_tracer.verify.experiment import verify_experiment

    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise InputError(f"MLflow run {run_id} cannot be read from {client.tracking_uri}: "
                         f"{exc.message}",
                         fix="check the run id and the tracking URI (--tracking-uri or "
                         "MLFLOW_TRACKING_URI)") from exc
    tags = run.data.tags
    experiment_id, app_text = tags.get("algotrace.experiment_id"), tags.get("algotrace.app_id")
    if not experiment_id or not app_text or not app_text.isdigit():
        status = tags.get("algotrace.status")
        raise VerificationError(
            f"MLflow run {run_id} carries no algo-tracer record (no algotrace.experiment_id / "
            f"algotrace.app_id tags)" + (f"; its algotrace.status is {status!r}" if status else ""),
            fix="record runs with an 'algotrace+' tracking URI or inside autotrace()")
    if algorand is None:
        from algo_tracer.network.identity import Network, require_same_network
        from algo_tracer.network.settings import algorand_from_environment

        algorand, genesis_id, genesis_hash, _ = algorand_from_environment()
        recorded = tags.get("algotrace.genesis_hash")
        if recorded:
            require_same_network(f"MLflow run {run_id}",
                                 Network(tags.get("algotrace.network", ""), recorded),
                                 Network(genesis_id, genesis_hash))
    loaded = _manifest(client, run, manifest)
    # Every segment's proven records: together they hold the run's whole metric history.
    records: list[NoteRecord] = []
    segments = [verify_experiment(algorand, int(app_text), experiment_id, manifest=loaded,
                                  indexer_timeout=indexer_timeout, progress=progress,
                                  records=records)]
    report = segments[0]
    previous = [x for x in tags.get(PREVIOUS_TAG, "").split(",") if x]
    earlier = None
    if previous:
        def verify_segment(segment_id: str) -> VerificationReport:
            segments.append(verify_experiment(algorand, int(app_text), segment_id,
                                              indexer_timeout=indexer_timeout, records=records))
            return segments[-1]

        earlier = _earlier_segments(previous, loaded, verify_segment)
    _MlflowChecks(client, run, loaded, report, tracking_uri).check_all()
    if report.stages:
        _metric_history(client, run, report, records,
                        sum(s.counts.undisclosed_records for s in segments))
    if earlier is not None:
        report.checks.append(earlier)
    return report.finalize()


def _metric_history(client: Any, run: Any, report: VerificationReport,
                    records: list[NoteRecord], undisclosed: int) -> None:
    history = _history.read_history(client, run.info.run_id, run.data.metrics)
    result = _history.compare_history(history, records, undisclosed=undisclosed)
    report.checks.append(result.check)
    report.findings += result.findings
    report.not_checked += result.not_checked


def _earlier_segments(previous: list[str], manifest: Manifest | None,
                      verify: Callable[[str], VerificationReport]) -> CheckRow:
    # A resumed run: the segments before this one are sealed experiments of their own, and this
    # segment's metadata (committed on chain) names the one before it.
    problems = []
    named = ((manifest.metadata.get("mlflow") or {}).get("continues")
             if manifest is not None else previous[-1])
    if named != previous[-1]:
        problems.append(f"this segment's record continues {named}, the run's tags say "
                        f"{previous[-1]}")
    for experiment_id in previous:
        segment = verify(experiment_id)
        if not segment.ok:
            problems.append(f"segment {experiment_id}: " + "; ".join(
                segment.failures()[:3] or ["no check ran"]))
        elif not segment.sealed:
            problems.append(f"segment {experiment_id} is not sealed (`algo-tracer resume "
                            f"{experiment_id}` seals it)")
    return CheckRow(step=STEP, name="mlflow earlier segments",
                    status="fail" if problems else "pass",
                    detail="; ".join(problems) if problems else
                    f"the run was resumed; its {len(previous)} earlier segment(s) verify on "
                    f"chain and are sealed: {', '.join(previous)}")


def _manifest(client: Any, run: Any, given: Manifest | str | os.PathLike[str] | None
              ) -> Manifest | None:
    if given is not None:
        return given if isinstance(given, Manifest) else Manifest.read(Path(given))
    path = run.data.tags.get("algotrace.manifest")
    if path and Path(path).is_file():
        return Manifest.read(Path(path))
    artifact = run.data.tags.get("algotrace.manifest_artifact")
    if artifact:
        with tempfile.TemporaryDirectory(prefix="algotrace-manifest-") as tmp:
            try:
                local = client.download_artifacts(run.info.run_id, artifact, tmp)
            except Exception:
                return None
            return Manifest.read(Path(local))
    return None


class _MlflowChecks:
    def __init__(self, client: Any, run: Any, manifest: Manifest | None,
                 report: VerificationReport, tracking_uri: str | None) -> None:
        self.client, self.run, self.manifest, self.report = client, run, manifest, report
        self.tracking_uri = tracking_uri or client.tracking_uri

    def check_all(self) -> None:
        run = self.run
        if not self.report.stages:
            self.report.checks.append(CheckRow(step=STEP, name="mlflow run", status="skip",
                                               detail="no stages on chain to compare with"))
            return
        self._binding()
        self._compare("params", "params",
                      lambda: self._params_digest("params", dict(run.data.params)))
        metrics_label = f"metrics:{_content.METRICS_STAGE}"
        self._compare("metrics", metrics_label, lambda: self._params_digest(
            metrics_label, _content.final_metrics(run.data.metrics)))
        self._compare("artifacts", f"artifact:{_content.ARTIFACTS_STAGE}",
                      lambda: _content.hash_artifacts(run.info.artifact_uri, self.tracking_uri,
                                                      exclude_manifest=True))
        self._datasets()
        for row in [r for r in self.report.stages if r.kind == "model"]:
            model_id = row.label.partition(":")[2]
            if model_id:
                self._compare(f"model {model_id}", row.label,
                              functools.partial(self._model_tree, model_id))
        self._tags()

    def _params_digest(self, label: str, value: Any) -> hashing.Digest:
        """`value` hashed by the params scheme its stage was recorded with (docs/hashing.md §4):
        the manifest detail names it; without a manifest, the scheme whose digest the chain
        holds (v2 for runs recorded since scheme v2, v1 before)."""
        if self.manifest is not None:
            entry = next((s for s in self.manifest.stages if s.label == label), None)
            if entry is not None:
                return hashing.hash_params(
                    value, entry.detail.get("scheme", hashing.PARAMS_SCHEME_V1))
        digests = [hashing.hash_params(value, s) for s in reversed(hashing.PARAMS_SCHEMES)]
        on_chain = {r.chain_digest for r in self._rows(label)}
        return next((d for d in digests if d.hex in on_chain), digests[0])

    def _json_digests(self, value: Any) -> set[str]:
        """The params digests (hex) of `value` under the run's JSON scheme: the manifest's
        (docs/hashing.md §13); without a manifest, under each scheme. The value is what MLflow
        holds now, and the schemes' tags differ, so a chain digest equals at most one of them,
        and only for the recorded value: trying both chooses nothing."""
        schemes = ([self.manifest.json_scheme] if self.manifest is not None
                   else list(hashing.JSON_SCHEMES))
        return {hashing.hash_params(value, hashing.params_scheme(s)).hex for s in schemes}

    def _binding(self) -> None:
        # The chain commits to the manifest's metadata; it must name this very run.
        if self.manifest is None:
            self._finding("warning", "mlflow_no_manifest", "no manifest found for the run: "
                          "stages are matched by kind, and the run id binding is not checked")
            return
        named = (self.manifest.metadata.get("mlflow") or {}).get("run_id")
        ok = named == self.run.info.run_id
        self.report.checks.append(CheckRow(
            step=STEP, name="mlflow run id", status="pass" if ok else "fail",
            detail=f"the record names run {named}" if ok else
            f"the record belongs to run {named}, not {self.run.info.run_id}"))

    def _compare(self, what: str, label: str, compute: Callable[[], Any]) -> None:
        rows = self._rows(label)
        name = f"mlflow {what}"
        if not rows:
            self.report.checks.append(CheckRow(step=STEP, name=name, status="fail",
                                               detail=f"no {label} stage on chain"))
            return
        try:
            computed = compute()
        except Exception as exc:  # an artifact store that cannot be read, a deleted model
            self.report.checks.append(CheckRow(step=STEP, name=name, status="fail",
                                               detail=f"cannot re-hash: {exc}"))
            return
        tree = computed if isinstance(computed, hashing.DirectoryDigest) else None
        digest = (tree.digest if tree is not None else computed).hex
        match = next((r for r in rows if r.chain_digest == digest), None)
        row = match or rows[0]
        row.local_digest, row.local_source = digest, f"MLflow run {self.run.info.run_id}"
        if match is not None:
            if row.status == StageStatus.RECORDED:
                row.status, row.message = StageStatus.MATCH, "the MLflow run re-hashes to it"
            self.report.checks.append(CheckRow(step=STEP, name=name, status="pass",
                                               detail=f"{label} equals the on-chain digest"))
            return
        lines = self._explain(label, tree)
        row.status = StageStatus.MISMATCH
        row.message = (f"the MLflow run hashes to {digest[:16]}…, chain has "
                       f"{(row.chain_digest or '')[:16]}…" + (f" ({'; '.join(lines[:5])})"
                                                            if lines else ""))
        self.report.checks.append(CheckRow(step=STEP, name=name, status="fail", detail=(
            f"{label} changed since it was recorded" + (": " + "; ".join(lines[:5])
                                                        if lines else ""))))

    def _rows(self, label: str) -> list[StageRow]:
        kind = label.partition(":")[0]
        exact = [r for r in self.report.stages if r.label == label and r.index is not None]
        if exact or self.manifest is not None:
            return exact
        return [r for r in self.report.stages if r.kind == kind and r.index is not None]

    def _explain(self, label: str, tree: hashing.DirectoryDigest | None) -> list[str]:
        entry = self._entry(label)
        if entry is None:
            return []
        if tree is not None:
            return _content.directory_diff(entry.detail, tree)
        if label == "params":
            return _mapping_diff("param", entry.detail.get("params"), self.run.data.params)
        if label.startswith("metrics:"):
            return _mapping_diff("metric", entry.detail.get("metrics"),
                                 _content.final_metrics(self.run.data.metrics))
        return []

    def _entry(self, label: str) -> Any:
        if self.manifest is None:
            return None
        try:
            return self.manifest.stage(label)
        except InputError:
            return None

    def _model_tree(self, model_id: str) -> hashing.DirectoryDigest:
        model = self.client.get_logged_model(model_id)
        return _content.hash_artifacts(model.artifact_location, self.tracking_uri)

    def _datasets(self) -> None:
        inputs = getattr(self.run.inputs, "dataset_inputs", None) or []
        rows = [r for r in self.report.stages if r.kind == "data" and r.index is not None]
        if not inputs and not rows:
            return
        recorded = {r.chain_digest for r in rows}
        now = {name: self._json_digests(_content.dataset_descriptor(d))
               for d in inputs for name in [d.dataset.name]}
        missing = sorted(name for name, digests in now.items() if not digests & recorded)
        self.report.checks.append(CheckRow(
            step=STEP, name="mlflow datasets", status="fail" if missing else "pass",
            detail=f"dataset inputs not as recorded: {', '.join(missing)}" if missing else
            f"{len(now)} dataset inputs equal their on-chain digests"))

    def _tags(self) -> None:
        label = f"custom:{_content.TAGS_STAGE}"
        rows = self._rows(label)
        now = _content.run_tags(self.run.data.tags)
        if not rows or any(r.chain_digest in self._json_digests(now) for r in rows):
            return
        entry = self._entry(label)
        lines = _mapping_diff("tag", entry.detail.get("tags") if entry else None, now)
        self._finding("warning", "mlflow_tags_changed",
                      "the run's tags changed after the seal (tags are editable in MLflow)"
                      + (": " + "; ".join(lines[:5]) if lines else ""))

    def _finding(self, severity: Severity, code: str, message: str) -> None:
        self.report.findings.append(Finding(step=STEP, severity=severity,
                                            code=code, message=message))


def _mapping_diff(what: str, recorded: Any, now: Any) -> list[str]:
    if not isinstance(recorded, dict):
        return []
    return mapping_diff(what, recorded, dict(now), show=repr, verb="", limit=None)


__all__ = ["verify_mlflow_run"]
