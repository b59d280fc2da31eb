"""An autologged MLflow run recorded on Algorand by changing only the tracking URI.

    python examples/mlflow_example.py [OUTPUT_DIR]

Runs against LocalNet by default (start it with `algo-tracer localnet start`). Everything goes
into OUTPUT_DIR (default: a new temporary directory): the MLflow database ``mlflow.db``, the
artifacts under ``mlruns/``, the algo-tracer journal (``.algo-tracer/``) and the manifest of
each run (``algo-tracer-runs/mlflow-<run id>/``). The script prints
the MLflow run id, the on-chain references written back as ``algotrace.*`` tags, and the
verification result. Then try `algo-tracer verify --mlflow-run RUN_ID` yourself after editing an
artifact (see docs/mlflow.md).
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from algo_tracer import Tracer
from algo_tracer.mlflow import configure, verify_mlflow_run
from algo_tracer.verify.report import VerificationReport


@dataclass
class Result:
    run: mlflow.entities.Run
    report: VerificationReport


def main(output_dir: Path, tracer: Tracer | None = None) -> Result:
    output_dir = output_dir.resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    # Optional: without this, the first run creates Tracer.from_environment() in the current
    # directory (journal in ./.algo-tracer, manifests in ./algo-tracer-runs).
    configure(tracer=tracer or Tracer.from_environment(
        state_dir=output_dir / ".algo-tracer", output_root=output_dir / "algo-tracer-runs"))

    # The only change to an ordinary MLflow script: "algotrace+" in front of the URI.
    mlflow.set_tracking_uri(f"algotrace+sqlite:///{output_dir / 'mlflow.db'}")
    if mlflow.get_experiment_by_name("iris") is None:  # artifacts in OUTPUT_DIR, not ./mlruns
        mlflow.create_experiment("iris", artifact_location=(output_dir / "mlruns").as_uri())
    mlflow.set_experiment("iris")
    mlflow.sklearn.autolog()
    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=42,
                                                        stratify=y)
    with mlflow.start_run() as active:
        model = LogisticRegression(C=1.0, max_iter=200).fit(X_train, y_train)
        mlflow.log_metric("test_accuracy", float(model.score(X_test, y_test)))
    mlflow.sklearn.autolog(disable=True)

    run = mlflow.get_run(active.info.run_id)
    report = verify_mlflow_run(run.info.run_id)
    return Result(run, report)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="mlflow-"))
    result = main(out)
    tags = result.run.data.tags
    print(f"MLflow run      {result.run.info.run_id}  (tracking URI {mlflow.get_tracking_uri()})")
    for key in ("app_id", "experiment_id", "network", "seal_txid", "manifest"):
        print(f"algotrace.{key:<14}{tags.get(f'algotrace.{key}')}")
    print(("OK" if result.report.ok else "FAIL") + f": verify_mlflow_run({result.run.info.run_id})")
    for line in result.report.failures():
        print(f"  {line}")
    sys.exit(0 if result.report.ok else 1)
