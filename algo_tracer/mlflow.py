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

from typing import TYPE_CHECKING, Any

from algo_tracer.integrations import mlflow as _integration
from algo_tracer.integrations.mlflow import AlgoTracerRunContextProvider, configure, tracking_store

if TYPE_CHECKING:
    from algo_tracer.integrations.mlflow import (
        AlgoTracerMlflowWarning,
        AlgoTraceStore,
        AutoTrace,
        autotrace,
        verify_mlflow_run,
    )

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


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(_integration, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
