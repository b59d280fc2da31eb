"""Tamper-evident provenance for MLflow runs, without changing the training code.

    import mlflow
    mlflow.set_tracking_uri("algotrace+sqlite:///mlflow.db")  # any MLflow URI, prefixed
    mlflow.sklearn.autolog()
    with mlflow.start_run() as run:
        LogisticRegression(max_iter=200).fit(X, y)
    # the run now carries algotrace.app_id / experiment_id / network / manifest / seal_txid tags

    from algo_tracer.integrations.mlflow import autotrace, verify_mlflow_run
    with autotrace():                  # the same, keeping whatever tracking URI is set
        ...
    assert verify_mlflow_run(run.info.run_id).ok

Three ways in (docs/mlflow.md has the details and the limits):

* `tracking_store`: the ``mlflow.tracking_store`` plugin for ``algotrace+sqlite:`` and
  ``algotrace+file:`` URIs. It wraps the store MLflow builds for the URI without the prefix,
  forwards every call to it, and records each run into one algo-tracer experiment: code and
  environment when the run starts, metrics (note path) as they are logged, dataset inputs,
  then params, final metrics, tags, artifacts and logged models, and the seal when it ends.
* `AlgoTracerRunContextProvider`: the ``mlflow.run_context_provider`` plugin. On
  `mlflow.start_run` it stamps ``algotrace.code.*``, ``algotrace.environment.digest`` and
  ``algotrace.lockfile.*`` tags (only for ``algotrace+`` URIs or inside `autotrace()`, unless
  ALGO_TRACER_MLFLOW_CONTEXT=1).
* `autotrace()`: the same recording for code that cannot change its tracking URI.

This module imports MLflow lazily: MLflow loads it while MLflow itself is being imported (entry
points), so nothing here may import MLflow at module level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from algo_tracer.errors import ConfigError

if TYPE_CHECKING:
    from algo_tracer.integrations.mlflow._autotrace import AutoTrace, autotrace
    from algo_tracer.integrations.mlflow._recorder import AlgoTracerMlflowWarning
    from algo_tracer.integrations.mlflow._store import AlgoTraceStore
    from algo_tracer.integrations.mlflow._verify import verify_mlflow_run
    from algo_tracer.record.tracer import Tracer

__all__ = [
    "AlgoTraceStore",
    "AlgoTracerMlflowWarning",
    "AlgoTracerRunContextProvider",
    "AutoTrace",
    "autotrace",
    "configure",
    "tracking_store",
    "verify_mlflow_run",
]

_LAZY = {
    "AlgoTraceStore": "_store",
    "AlgoTracerMlflowWarning": "_recorder",
    "AutoTrace": "_autotrace",
    "autotrace": "_autotrace",
    "verify_mlflow_run": "_verify",
}


def _require_mlflow() -> None:
    try:
        import mlflow  # noqa: F401
    except ImportError as exc:
        raise ConfigError("the MLflow integration needs MLflow, which is not installed",
                          fix="pip install 'algo-tracer[mlflow]'") from exc


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    _require_mlflow()
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def tracking_store(store_uri: str, artifact_uri: str | None = None) -> AlgoTraceStore:
    """Entry point of ``mlflow.tracking_store`` for ``algotrace+<scheme>`` URIs.

    Args:
        store_uri: ``algotrace+`` followed by an MLflow tracking URI.
        artifact_uri: Default artifact root, passed on to the wrapped store.

    Returns:
        An `AlgoTraceStore` around the store MLflow builds for the URI without the prefix.

    Raises:
        ConfigError: A malformed URI, or MLflow is not installed.
    """
    from algo_tracer.integrations.mlflow._store import build_store

    return build_store(store_uri, artifact_uri)


def configure(*, tracer: Tracer | None = None, strict: bool | None = None,
              upload_manifest: bool | None = None) -> None:
    """Settings of the recording, for ``algotrace+`` URIs and `autotrace()` alike.

    Args:
        tracer: The `Tracer` to record with (default: `Tracer.from_environment()`, created
            when the first run starts). Its ``output_root`` holds one ``mlflow-<run id>``
            directory per run with the manifest and model card.
        strict: True raises recording errors into the MLflow call that met them; False (the
            default, or ALGO_TRACER_MLFLOW_STRICT=1 for True) warns and lets the run go on.
        upload_manifest: Copy manifest.json and MODEL_CARD.md into the run's artifacts under
            ``algotrace/`` after the seal (default True).
    """
    _require_mlflow()
    from algo_tracer.integrations.mlflow._recorder import RECORDER

    RECORDER.configure(tracer=tracer, strict=strict, upload_manifest=upload_manifest)


class AlgoTracerRunContextProvider:
    """Entry point of ``mlflow.run_context_provider``: start-of-run code/environment tags.

    Implements MLflow's ``RunContextProvider`` interface (``in_context``, ``tags``) without
    subclassing it, so that MLflow can load this class while it is itself being imported.
    """

    def in_context(self) -> bool:
        from algo_tracer.integrations.mlflow._context import is_active

        return is_active()

    def tags(self) -> dict[str, str]:
        from algo_tracer.integrations.mlflow._context import start_of_run_tags

        return start_of_run_tags()
