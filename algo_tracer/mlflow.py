"""Short public home of the MLflow integration (`algo_tracer.integrations.mlflow`).

    import mlflow
    from algo_tracer.mlflow import autotrace, verify_mlflow_run

    with autotrace():                     # record the runs, whatever the tracking URI
        mlflow.sklearn.autolog()
        model.fit(X, y)
    report = verify_mlflow_run(mlflow.last_active_run().info.run_id)
    assert report.ok

`autotrace()` patches one thing while it is open: the ``get_store`` of MLflow's tracking-store
registry object, so that every store MLflow hands out is wrapped (docs/mlflow.md). Needs the
``algo-tracer[mlflow]`` extra.
"""

from __future__ import annotations

from typing import Any

from algo_tracer.integrations import mlflow as _integration

# One list of names: the integration's own. Names resolve lazily through it, so importing this
# module does not import MLflow until a name that needs it is used.
__all__ = list(_integration.__all__)


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(_integration, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
