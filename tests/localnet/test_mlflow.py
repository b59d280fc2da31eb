"""MLflow runs recorded on the real LocalNet through the algotrace+ plugin and autotrace().

Real MLflow tracking stores (SQLite and files) and real autologging: a scikit-learn
LogisticRegression on iris is autologged once per module (`autologged`) and then read, verified
and tampered with (each tampering test restores what it changed). Recording runs in strict
mode here, so any recording error fails the test instead of being a warning.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from mlflow.tracking._tracking_service import utils as tracking_utils
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from algo_tracer import Tracer
from algo_tracer.documents.manifest import Manifest, StageKind
from algo_tracer.errors import VerificationError
from algo_tracer.integrations.mlflow import _recorder
from algo_tracer.mlflow import AlgoTracerMlflowWarning, autotrace, configure, verify_mlflow_run
from algo_tracer.verify.report import StageStatus, VerificationReport


@dataclass
class Logged:
    run_id: str
    uri: str
    root: Path

    def run(self) -> mlflow.entities.Run:
        return MlflowClient(self.uri).get_run(self.run_id)

    def manifest(self) -> Manifest:
        return Manifest.read(Path(self.run().data.tags["algotrace.manifest"]))


@pytest.fixture(scope="module")
def tracer(tmp_path_factory: pytest.TempPathFactory, localnet: object) -> Iterator[Tracer]:
    saved = (_recorder.RECORDER.options, _recorder.RECORDER._tracer)
    traced = Tracer.from_environment(state_dir=tmp_path_factory.mktemp("state"),
                                     output_root=tmp_path_factory.mktemp("runs"))
    _recorder.RECORDER.options = _recorder.Options()
    configure(tracer=traced, strict=True)
    yield traced
    _recorder.RECORDER.options, _recorder.RECORDER._tracer = saved


@pytest.fixture(autouse=True)
def _fresh_mlflow(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)  # MLflow's default artifact root is ./mlruns
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    yield
    mlflow.sklearn.autolog(disable=True)
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def autologged(tracer: Tracer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logged]:
    root = tmp_path_factory.mktemp("autolog")
    uri = f"algotrace+sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mlflow.set_tracking_uri(uri)
        mlflow.sklearn.autolog()
        X, y = load_iris(return_X_y=True)
        try:
            with mlflow.start_run() as run:
                LogisticRegression(max_iter=200).fit(X, y)
        finally:
            mlflow.sklearn.autolog(disable=True)
            mlflow.set_tracking_uri(None)
    yield Logged(run.info.run_id, uri, root)


def failures(report: VerificationReport) -> dict[str, str]:
    return {c.name: c.detail for c in report.checks if c.status == "fail"}


# -- the autologged scikit-learn run ---------------------------------------------------------


def test_autologged_run_carries_the_on_chain_references(autologged: Logged,
                                                       tracer: Tracer) -> None:
    tags = autologged.run().data.tags
    manifest = autologged.manifest()

    assert tags["algotrace.status"] == "sealed"
    assert tags["algotrace.app_id"] == str(tracer.settings.app_id)
    assert tags["algotrace.network"] == tracer.settings.genesis_id
    assert tags["algotrace.experiment_id"] == manifest.experiment_id
    assert manifest.seal is not None and tags["algotrace.seal_txid"] == manifest.seal.txid
    assert Path(tags["algotrace.manifest"]).parent.name == f"mlflow-{autologged.run_id}"
    assert tags["algotrace.code.kind"] == "git"
    assert tags["algotrace.environment.digest"].startswith("sha256:")
    assert manifest.metadata["mlflow"]["run_id"] == autologged.run_id


def test_manifest_lists_params_metric_records_dataset_artifacts_and_model(
        autologged: Logged) -> None:
    run, manifest = autologged.run(), autologged.manifest()
    stages = {s.label: s for s in manifest.stages}
    client = MlflowClient(autologged.uri)

    assert stages["params"].detail["params"] == run.data.params
    assert {"C", "max_iter", "solver"} <= set(run.data.params)
    assert stages["metrics:mlflow"].detail["metrics"] == run.data.metrics
    logged_values = sum(len(client.get_metric_history(run.info.run_id, key))
                        for key in run.data.metrics)
    assert logged_values >= 5
    assert sum(b.count for b in manifest.batches if not b.private) == logged_values
    assert stages["data:train:dataset"].detail["mlflow_dataset"]["source_type"] == "code"
    artifacts = stages["artifact:mlflow-run"].detail["files"]
    assert {"estimator.html", "training_confusion_matrix.png"} <= set(artifacts)
    assert not any(path.startswith("algotrace/") for path in artifacts)
    models = [s for s in manifest.stages if s.kind == StageKind.MODEL]
    assert len(models) == 1 and {"MLmodel", "model.pkl"} <= set(models[0].detail["files"])
    assert [s.kind for s in manifest.stages[:2]] == [StageKind.ENVIRONMENT, StageKind.CODE]
    assert stages["custom:mlflow-tags"].detail["tags"]["mlflow.source.type"] == "LOCAL"


def test_autologged_run_verifies(autologged: Logged) -> None:
    report = verify_mlflow_run(autologged.run_id, autologged.uri)

    assert report.ok, report.failures()
    step9 = {c.name: c.status for c in report.checks if c.step == 9}
    model = next(n for n in step9 if n.startswith("mlflow model "))
    assert step9 == {"mlflow run id": "pass", "mlflow params": "pass", "mlflow metrics": "pass",
                     "mlflow metric history": "pass", "mlflow artifacts": "pass",
                     "mlflow datasets": "pass", model: "pass"}
    artifact_row = next(s for s in report.stages if s.label == "artifact:mlflow-run")
    assert artifact_row.status == StageStatus.MATCH


def test_changing_a_logged_artifact_fails_verification(autologged: Logged) -> None:
    artifact = Path(autologged.run().info.artifact_uri.removeprefix("file://")) / "estimator.html"
    original = artifact.read_bytes()
    artifact.write_bytes(original.replace(b"LogisticRegression", b"LogisticRegressioN", 1))
    try:
        report = verify_mlflow_run(autologged.run_id, autologged.uri)
    finally:
        artifact.write_bytes(original)

    assert not report.ok
    assert failures(report).keys() == {"mlflow artifacts"}
    assert "changed: estimator.html: expected sha256:" in failures(report)["mlflow artifacts"]
    row = next(s for s in report.stages if s.label == "artifact:mlflow-run")
    assert row.status == StageStatus.MISMATCH


def test_changing_the_logged_model_fails_verification(autologged: Logged) -> None:
    client = MlflowClient(autologged.uri)
    model_id = autologged.run().outputs.model_outputs[0].model_id
    location = client.get_logged_model(model_id).artifact_location.removeprefix("file://")
    extra = Path(location) / "notes.txt"
    extra.write_text("added after the run")
    try:
        report = verify_mlflow_run(autologged.run_id, autologged.uri)
    finally:
        extra.unlink()

    assert failures(report) == {f"mlflow model {model_id}":
                                f"model:{model_id} changed since it was recorded: added: "
                                "notes.txt"}


def test_editing_a_param_in_the_tracking_database_fails_verification(
        autologged: Logged) -> None:
    db = autologged.root / "mlflow.db"
    with sqlite3.connect(db) as conn:
        (old,) = conn.execute("SELECT value FROM params WHERE run_uuid=? AND key='C'",
                              (autologged.run_id,)).fetchone()
        conn.execute("UPDATE params SET value='100.0' WHERE run_uuid=? AND key='C'",
                     (autologged.run_id,))
    try:
        report = verify_mlflow_run(autologged.run_id, autologged.uri)
    finally:
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE params SET value=? WHERE run_uuid=? AND key='C'",
                         (old, autologged.run_id))

    assert failures(report) == {"mlflow params": "params changed since it was recorded: "
                                f"param 'C' {old!r} -> '100.0'"}


def test_verification_reads_the_manifest_copy_when_the_local_one_is_gone(
        autologged: Logged) -> None:
    local = Path(autologged.run().data.tags["algotrace.manifest"])
    moved = local.with_suffix(".moved")
    local.rename(moved)
    try:
        report = verify_mlflow_run(autologged.run_id, autologged.uri)
    finally:
        moved.rename(local)

    assert report.ok, report.failures()
    assert any(c.name == "seal" and c.status == "pass" for c in report.checks)


# -- explicit logging on a file store --------------------------------------------------------


def test_file_store_run_with_async_metrics_dataset_and_artifact(tracer: Tracer,
                                                                tmp_path: Path) -> None:
    uri = f"algotrace+file://{tmp_path / 'mlruns'}"
    mlflow.set_tracking_uri(uri)
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    (tmp_path / "notes.txt").write_text("hello")
    with mlflow.start_run() as run:
        mlflow.log_params({"lr": 0.1, "epochs": 3})
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.log_metric("acc", step / 3, step=step, synchronous=False)
        mlflow.log_input(mlflow.data.from_pandas(frame, name="toy"), context="training")
        mlflow.log_artifact(str(tmp_path / "notes.txt"), "docs")
    manifest = Manifest.read(Path(mlflow.get_run(run.info.run_id).data.tags["algotrace.manifest"]))
    stages = {s.label: s for s in manifest.stages}

    assert sum(b.count for b in manifest.batches) == 6
    assert stages["params"].detail["params"] == {"lr": "0.1", "epochs": "3"}
    assert stages["data:training:toy"].detail["mlflow_dataset"]["name"] == "toy"
    assert list(stages["artifact:mlflow-run"].detail["files"]) == ["docs/notes.txt"]
    assert verify_mlflow_run(run.info.run_id).ok

    param_file = Path(run.info.artifact_uri.removeprefix("file://")).parent / "params" / "lr"
    param_file.write_text("0.2")
    report = verify_mlflow_run(run.info.run_id)
    assert failures(report) == {"mlflow params": "params changed since it was recorded: "
                                "param 'lr' '0.1' -> '0.2'"}


def test_a_resumed_run_is_recorded_in_a_new_segment_that_continues_the_sealed_one(
        tracer: Tracer, tmp_path: Path) -> None:
    mlflow.set_tracking_uri(f"algotrace+sqlite:///{tmp_path / 'resumed.db'}")
    with mlflow.start_run() as run:
        mlflow.log_param("epochs", 2)
        mlflow.log_metric("loss", 1.0, step=0)
        mlflow.log_input(mlflow.data.from_pandas(pd.DataFrame({"x": [1.0, 2.0]}), name="toy"),
                         context="training")
    first_tags = mlflow.get_run(run.info.run_id).data.tags
    first = first_tags["algotrace.experiment_id"]

    with mlflow.start_run(run_id=run.info.run_id):
        mlflow.log_metric("loss", 0.5, step=1)
    tags = mlflow.get_run(run.info.run_id).data.tags
    manifest = Manifest.read(Path(tags["algotrace.manifest"]))

    assert tags["algotrace.status"] == "sealed" and tags["algotrace.experiment_id"] != first
    assert tags["algotrace.previous_experiment_ids"] == first
    assert manifest.metadata["mlflow"]["continues"] == first
    assert Manifest.read(first_tags["algotrace.manifest"]).experiment_id == first  # kept
    assert Path(tags["algotrace.manifest"]).parent.name == f"mlflow-{run.info.run_id}.2"
    assert sum(b.count for b in manifest.batches) == 1  # only what was logged after resuming
    assert manifest.stage("params").detail["params"] == {"epochs": "2"}  # the whole run's
    assert manifest.stage("metrics:mlflow").detail["metrics"] == {"loss": 0.5}
    assert manifest.stage("data:training:toy").detail["mlflow_dataset"]["name"] == "toy"
    report = verify_mlflow_run(run.info.run_id)
    assert report.ok, report.failures()
    segments = next(c for c in report.checks if c.name == "mlflow earlier segments")
    assert segments.status == "pass" and first in segments.detail
    history = next(c for c in report.checks if c.name == "mlflow metric history")
    assert history.status == "pass" and history.detail.startswith("2 values of 1 metrics")


def test_an_earlier_step_edited_in_the_tracking_database_fails_strict_cli_verification(
        tracer: Tracer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from algo_tracer.cli import main

    db = tmp_path / "history.db"
    uri = f"algotrace+sqlite:///{db}"
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run() as run:
        for step in range(10):
            mlflow.log_metric("custom_loss", 1.0 / (step + 1), step=step)
    assert main(["verify", "--mlflow-run", run.info.run_id, "--tracking-uri", uri,
                 "--strict"]) == 0, capsys.readouterr().out
    capsys.readouterr()

    with sqlite3.connect(db) as conn:  # only the history: the latest value stays as recorded
        conn.execute("UPDATE metrics SET value=0.01 WHERE run_uuid=? AND key='custom_loss' "
                     "AND step=5", (run.info.run_id,))

    code = main(["verify", "--mlflow-run", run.info.run_id, "--tracking-uri", uri, "--strict"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "metric 'custom_loss' step 5: MLflow has 0.01, the chain has 0.16666666666666666" in out


# -- autotrace --------------------------------------------------------------------------------


def test_autotrace_records_a_failed_run_on_a_plain_uri(tracer: Tracer, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'plain.db'}"
    mlflow.set_tracking_uri(uri)
    with autotrace(), pytest.raises(ValueError, match="diverged"), mlflow.start_run() as run:
        mlflow.log_metric("loss", 3.0)
        raise ValueError("diverged")

    assert "get_store" not in vars(tracking_utils._tracking_store_registry)
    got = mlflow.get_run(run.info.run_id)
    assert got.info.status == "FAILED" and got.data.tags["algotrace.status"] == "sealed"
    assert mlflow.get_tracking_uri() == uri
    manifest = Manifest.read(Path(got.data.tags["algotrace.manifest"]))
    assert manifest.stage("custom:outcome").detail["outcome"] == "failed"
    assert verify_mlflow_run(run.info.run_id).ok


def test_autotrace_seals_a_run_left_open_and_later_logging_breaks_verification(
        tracer: Tracer, tmp_path: Path) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'open.db'}")
    with (pytest.warns(AlgoTracerMlflowWarning, match="still running while autotrace"),
          autotrace()):
        run = mlflow.start_run()
        mlflow.log_metric("loss", 1.0)
    assert mlflow.get_run(run.info.run_id).data.tags["algotrace.status"] == "sealed"
    mlflow.log_metric("loss", 0.5, step=1)  # after the seal: not covered
    mlflow.end_run()

    report = verify_mlflow_run(run.info.run_id)
    assert failures(report) == {
        "mlflow metrics": "metrics:mlflow changed since it was recorded: metric 'loss' 1.0 -> "
                          "0.5",
        "mlflow metric history": "1 metric steps differ from the chain's records: metric "
                                 "'loss' step 1: MLflow has 0.5, the chain does not"}


def test_a_run_without_a_record_is_refused(tmp_path: Path, localnet: object) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'untraced.db'}")
    with mlflow.start_run() as run:
        mlflow.log_param("a", 1)

    with pytest.raises(VerificationError, match="carries no algo-tracer record"):
        verify_mlflow_run(run.info.run_id)


def test_example_script_runs(tracer: Tracer, tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "mlflow_example.py"
    copy = tmp_path / "mlflow_example.py"
    shutil.copy(example, copy)
    import runpy

    namespace = runpy.run_path(str(copy))
    result = namespace["main"](tmp_path / "out", tracer=tracer)

    assert result.report.ok, result.report.failures()
    assert result.run.data.tags["algotrace.status"] == "sealed"


def test_cli_verifies_an_mlflow_run(autologged: Logged, capsys: pytest.CaptureFixture[str]
                                    ) -> None:
    from algo_tracer.cli import main

    code = main(["verify", "--mlflow-run", autologged.run_id, "--tracking-uri", autologged.uri])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "mlflow artifacts" in out

    assert main(["verify", "--mlflow-run", "0" * 32, "--tracking-uri", autologged.uri]) == 2
    assert "cannot be read from" in capsys.readouterr().err
