"""What the recorder reads from and writes to an MLflow run: its metadata, its ``algotrace.*``
tags, the manifest copied into its artifacts. (internal)

Writing to MLflow never breaks the run: a tag that cannot be written is warned about
(`AlgoTracerMlflowWarning`), since the chain and the local manifest are what matter.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from algo_tracer.integrations.mlflow import _content

if TYPE_CHECKING:
    from algo_tracer.record.tracer import Experiment


class AlgoTracerMlflowWarning(UserWarning):
    """Recording of an MLflow run failed; the run went on without (complete) provenance."""


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


def identity_tags(exp: Experiment, *, status: str) -> dict[str, str]:
    settings = exp.tracer.settings
    return {"algotrace.app_id": str(exp.app_id), "algotrace.experiment_id": exp.id_text,
            "algotrace.network": settings.genesis_id,
            "algotrace.genesis_hash": settings.genesis_hash, "algotrace.status": status}


def set_tags(inner: Any, run_id: str, tags: dict[str, str]) -> None:
    from mlflow.entities import RunTag

    try:
        inner.log_batch(run_id, metrics=[], params=[],
                        tags=[RunTag(k, v[:5000]) for k, v in tags.items()])
    except Exception as exc:
        warn(f"could not write the algotrace.* tags of run {run_id}: {exc}")


def upload_manifest(artifact_uri: str, tracking_uri: str | None, paths: list[Path]) -> None:
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    repo: Any = get_artifact_repository(artifact_uri, tracking_uri=tracking_uri)
    for path in paths:
        repo.log_artifact(str(path), _content.MANIFEST_ARTIFACT_DIR)


def flush_async_artifacts(run_id: str) -> None:
    # Artifacts logged with MLflow's async artifact queue must be on disk before they are hashed.
    from mlflow.tracking._tracking_service import utils

    lookup: Any = utils._get_artifact_repo
    repo = lookup(run_id)
    flush = getattr(repo, "flush_async_logging", None)
    if callable(flush):
        flush()


def experiment_name(experiment: str, run: str) -> str:
    name = f"mlflow/{experiment}/{run}"
    return name.encode()[:200].decode("utf-8", "ignore")


def _mlflow_version() -> str:
    import mlflow

    return mlflow.__version__


def warn(message: str) -> None:
    warnings.warn(f"algo-tracer: {message}", AlgoTracerMlflowWarning, stacklevel=4)
