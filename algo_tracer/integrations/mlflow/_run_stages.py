"""The stages a run's experiment records from MLflow's own state: dataset inputs as they are
logged, and at the run's end its params, final metrics, tags, artifacts and logged models.
(internal)

Each stage goes through a `StageSink`, so the same rules write a plain run's experiment
(`Experiment.trace_digest`) and a parent run's study (`Study.add_stage`, see `_study_runs`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from algo_tracer import hashing, stages
from algo_tracer.documents.manifest import StageKind
from algo_tracer.integrations.mlflow import _content

#: Records one stage whose digest was computed here: (kind, name, digest, detail).
StageSink = Callable[[StageKind, "str | None", bytes, dict[str, Any]], Any]


def record_end_of_run(record: StageSink, data_labels: dict[str, bytes], inner: Any, run: Any,
                      tracking_uri: str | None, model_ids: dict[str, None],
                      json_scheme: int) -> None:
    """Everything MLflow holds for the run when it ends, each as one stage; tags and dataset
    descriptors hashed under the experiment's JSON scheme (docs/hashing.md §13)."""
    # Inputs logged before this segment (a resumed run) or past the store: as MLflow has them.
    record_datasets(record, data_labels, getattr(run.inputs, "dataset_inputs", None) or [],
                    json_scheme)
    digest, detail = stages.describe_params(dict(run.data.params))
    record(StageKind.PARAMS, None, digest.value, detail)
    metrics = _content.final_metrics(run.data.metrics)
    digest, detail = stages.describe_metrics(metrics)
    record(StageKind.METRICS, _content.METRICS_STAGE, digest.value, detail)
    tags = _content.run_tags(run.data.tags)
    record(StageKind.CUSTOM, _content.TAGS_STAGE,
           hashing.hash_params(tags, hashing.params_scheme(json_scheme)).value, {"tags": tags})
    tree = _content.hash_artifacts(run.info.artifact_uri, tracking_uri, exclude_manifest=True)
    artifacts = _content.directory_detail(tree, run.info.artifact_uri)
    artifacts["excluded"] = [_content.MANIFEST_ARTIFACT_DIR + "/"]
    record(StageKind.ARTIFACT, _content.ARTIFACTS_STAGE, tree.digest.value, artifacts)
    for model_id in _run_model_ids(run, model_ids):
        model = inner.get_logged_model(model_id)
        tree = _content.hash_artifacts(model.artifact_location, tracking_uri)
        found = _content.directory_detail(tree, model.artifact_location)
        found.update(model_id=model_id, name=model.name, status=str(model.status))
        record(StageKind.MODEL, model_id, tree.digest.value, found)


def record_datasets(record: StageSink, data_labels: dict[str, bytes],
                    datasets: Iterable[Any], json_scheme: int) -> None:
    for dataset_input in datasets:
        descriptor = _content.dataset_descriptor(dataset_input)
        digest = hashing.hash_params(descriptor, hashing.params_scheme(json_scheme)).value
        label = _free_label(data_labels, _dataset_label(descriptor), digest)
        if label is None:
            continue  # the same dataset input, logged again
        record(StageKind.DATA, label, digest, {"mlflow_dataset": descriptor, "scheme": "params"})
        data_labels[label] = digest


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
