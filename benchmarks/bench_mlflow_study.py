"""What recording an MLflow sweep costs per child run: nested runs through ``algotrace+sqlite``
(the parent recorded as a study, each child a trial) against the same runs on plain ``sqlite``.

    python -m benchmarks.run [--quick] --only mlflow_study \
        --out benchmarks/results/mlflow_study.json

The same training code both ways, unchanged: a parent run and one nested child per C value
(iris, logistic regression, 3-fold cross-validation, each fold's score logged as a step and the
mean as ``accuracy``). Runs alternate, untraced first, twice each, after one small warm-up run of
each (imports, MLflow's schema, the tracer's first experiment); each side's figure is its faster
run, whole (traced: from the parent's start to its seal), per child. The traced side includes
what the MLflow integration does for any run (code and environment snapshots at start, the
end-of-run stages) plus the study's writes; bench_study.py measures the Optuna path.

* `mlflow_study_child_overhead_s` and `_cpu_s`: (traced - untraced) / children, wall and
  process CPU seconds, with the untraced runs' spread in the details (as bench_study).
* `mlflow_study_child_transactions` and `_microalgos`: transactions and µALGO (minimum fees +
  box deposits) of one traced sweep, the study's own writes included, per child, counted from
  the journal.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.bench_study import _cost
from benchmarks.bench_tracing import Context, figure

GROUP = "mlflow_study"


def _sweep(uri: str, children: int, tags: dict[str, str]) -> tuple[float, float, str]:
    import mlflow
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    X, y = load_iris(return_X_y=True)
    mlflow.set_tracking_uri(uri)
    started, cpu = time.perf_counter(), time.process_time()
    with mlflow.start_run(tags=tags) as parent:
        for i in range(children):
            C = 10 ** (-2 + 3 * i / max(children - 1, 1))
            with mlflow.start_run(nested=True):  # the training code: MLflow only
                mlflow.log_param("C", C)
                scores = cross_val_score(LogisticRegression(C=C, max_iter=200), X, y, cv=3)
                for fold, score in enumerate(scores):
                    mlflow.log_metric("fold_accuracy", float(score), step=fold)
                mlflow.log_metric("accuracy", float(scores.mean()))
    elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    mlflow.set_tracking_uri(None)
    return elapsed, used, parent.info.run_id


def run(ctx: Context) -> dict[str, dict[str, Any]]:
    import os

    cwd = os.getcwd()
    os.chdir(ctx.workdir)  # MLflow's default artifact root is ./mlruns
    try:
        return _measure(ctx)
    finally:
        os.chdir(cwd)  # run.py writes its results relative to where it was started


def _measure(ctx: Context) -> dict[str, dict[str, Any]]:
    import mlflow

    from algo_tracer.format.ids import parse_id
    from algo_tracer.integrations.mlflow import configure

    tracer = ctx.tracer()
    configure(tracer=tracer, strict=True)
    children = 6 if ctx.quick else 20
    plain = f"sqlite:///{ctx.workdir / 'untraced.db'}"
    traced = f"algotrace+sqlite:///{ctx.workdir / 'traced.db'}"
    tags = {"algotrace.objective": "accuracy", "algotrace.direction": "maximize",
            "algotrace.n_trials": str(children)}
    _sweep(plain, 2, {})  # warm-up: scikit-learn's import, MLflow's schema
    _sweep(traced, 2, tags)  # and the tracer's first experiment (account, registry, journal)
    untraced: list[tuple[float, float]] = []
    traced_runs: list[tuple[float, float]] = []
    spent: list[tuple[int, int]] = []
    for _ in range(2):
        untraced.append(_sweep(plain, children, {})[:2])
        elapsed, cpu, run_id = _sweep(traced, children, tags)
        traced_runs.append((elapsed, cpu))
        study = mlflow.MlflowClient(traced).get_run(run_id).data.tags["algotrace.experiment_id"]
        spent.append(_cost(tracer, parse_id(study)))
    base, ours = (min(u[0] for u in untraced) / children,
                  min(t[0] for t in traced_runs) / children)
    base_cpu, ours_cpu = (min(u[1] for u in untraced) / children,
                          min(t[1] for t in traced_runs) / children)
    spread = (max(u[0] for u in untraced) - min(u[0] for u in untraced)) / children
    cpu_spread = (max(u[1] for u in untraced) - min(u[1] for u in untraced)) / children
    details = {"children": children, "network": "DevMode LocalNet",
               "untraced_s": [round(u[0], 3) for u in untraced],
               "traced_s": [round(t[0], 3) for t in traced_runs],
               "untraced_spread_s_per_child": round(spread, 4),
               "wall_overhead_resolved": spread < abs(ours - base)}
    return {
        "mlflow_study_child_overhead_s": figure(
            ctx, GROUP, value=round(ours - base, 4), unit="s/child run (wall)",
            baseline=f"{base:.4f} s/child run untraced", target=None, passed=None,
            details=details),
        "mlflow_study_child_overhead_cpu_s": figure(
            ctx, GROUP, value=round(ours_cpu - base_cpu, 4), unit="CPU s/child run",
            baseline=f"{base_cpu:.4f} CPU s/child run untraced", target=None, passed=None,
            details={"children": children,
                     "untraced_cpu_s": [round(u[1], 3) for u in untraced],
                     "traced_cpu_s": [round(t[1], 3) for t in traced_runs],
                     "untraced_cpu_spread_s_per_child": round(cpu_spread, 4),
                     "cpu_overhead_resolved": cpu_spread < abs(ours_cpu - base_cpu)}),
        "mlflow_study_child_transactions": figure(
            ctx, GROUP, value=round(spent[0][0] / children, 2), unit="transactions/child run",
            baseline="0 (untraced)", target=None, passed=None,
            details={"children": children, "transactions": [s[0] for s in spent],
                     "includes": "the study's own writes (create, environment, code, search, "
                                 "its end-of-run stages, selection, seal) spread over its "
                                 "children"}),
        "mlflow_study_child_microalgos": figure(
            ctx, GROUP, value=round(spent[0][1] / children), unit="µALGO/child run",
            baseline="0 (untraced)", target=None, passed=None,
            details={"children": children, "micro_algos": [s[1] for s in spent],
                     "includes": "minimum fees and box deposits of every child and of the "
                                 "study itself; counted from the journal"}),
    }
