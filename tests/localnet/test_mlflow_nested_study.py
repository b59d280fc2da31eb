"""MLflow nested runs recorded as a study on the real node (docs/mlflow.md section 6): plain
`mlflow.start_run(nested=True)` training code, and Optuna's MLflowCallback, both verify as
"best of N" and every edit of the record is detected."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import optuna
import pytest
from optuna_integration import MLflowCallback
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from verify_helpers import LOCALNET_ENV

from algo_tracer import Manifest, Tracer
from algo_tracer.cli import main
from algo_tracer.documents.manifest import StageKind
from algo_tracer.documents.study import Selection
from algo_tracer.integrations.mlflow import _recorder
from algo_tracer.mlflow import configure, verify_mlflow_run

PLAN = {"metric": "accuracy", "direction": "maximize", "n_trials": 6}
C_VALUES = [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]


@dataclass
class Sweep:
    parent_id: str
    uri: str
    manifest: Path


@pytest.fixture(scope="module")
def tracer(tmp_path_factory: pytest.TempPathFactory, localnet: object) -> Iterator[Tracer]:
    saved = (_recorder.RECORDER.options, _recorder.RECORDER._tracer)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("ALGO_TRACER_APP_ID", raising=False)
        for key, value in LOCALNET_ENV.items():
            mp.setenv(key, value)
        traced = Tracer.from_environment(state_dir=tmp_path_factory.mktemp("state"),
                                         output_root=tmp_path_factory.mktemp("runs"))
        _recorder.RECORDER.options = _recorder.Options()
        configure(tracer=traced, strict=True)
        yield traced
    _recorder.RECORDER.options, _recorder.RECORDER._tracer = saved


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)  # MLflow's defaults (./mlflow.db, ./mlruns) stay out of the repo
    monkeypatch.delenv("ALGO_TRACER_APP_ID", raising=False)
    for key, value in LOCALNET_ENV.items():
        monkeypatch.setenv(key, value)
    yield
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def train(C: float) -> None:
    """One child run of a grid search, as MLflow users write it; C=100 'diverges'."""
    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    with mlflow.start_run(nested=True, run_name=f"C={C}"):
        mlflow.log_param("C", C)
        model = LogisticRegression(C=C, max_iter=300).fit(X_train, y_train)
        if C == 100.0:
            raise FloatingPointError("diverged")
        mlflow.log_metric("accuracy", model.score(X_test, y_test))


def _sweep(root: Path, tags: dict[str, str]) -> Sweep:
    uri = f"algotrace+sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # MLflow's default artifact root is ./mlruns
        with mlflow.start_run(run_name="grid", tags=tags) as parent:
            for C in C_VALUES:
                with contextlib.suppress(FloatingPointError):  # a failed child, recorded
                    train(C)
    manifest = Path(mlflow.get_run(parent.info.run_id).data.tags["algotrace.manifest"])
    return Sweep(parent.info.run_id, uri, manifest)


@pytest.fixture(scope="module")
def sweep(tracer: Tracer, tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    return _sweep(tmp_path_factory.mktemp("grid"), {"algotrace.plan": json.dumps(PLAN)})


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out + err


def test_a_nested_run_sweep_verifies_as_best_of_6_with_its_failed_child(
        sweep: Sweep, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = cli(capsys, "verify", "--manifest", str(sweep.manifest))
    assert code == 0, out
    assert "best of 6 (1 failed, 0 pruned)" in out and "plan fixed at round" in out
    manifest = Manifest.read(sweep.manifest)
    assert manifest.stages[0].kind == StageKind.PLAN
    trials = [s.detail for s in manifest.stages if s.kind == StageKind.TRIAL]
    assert [t["number"] for t in trials] == list(range(6))
    assert [t["state"] for t in trials].count("failed") == 1
    selection = Selection.model_validate(manifest.stages[-1].detail)
    assert selection.value == max(t["value"] for t in trials if t["state"] == "complete")
    tags = mlflow.MlflowClient(sweep.uri).get_run(sweep.parent_id).data.tags
    assert tags["algotrace.study"].startswith("best of 6 (1 failed, 0 pruned): trial ")


def test_the_parent_and_child_runs_verify_against_the_tracking_store(sweep: Sweep) -> None:
    assert verify_mlflow_run(sweep.parent_id, tracking_uri=sweep.uri).ok
    client = mlflow.MlflowClient(sweep.uri)
    experiment = client.get_run(sweep.parent_id).info.experiment_id
    child = client.search_runs([experiment],
                               filter_string=f"tags.mlflow.parentRunId = '{sweep.parent_id}'")[0]
    report = verify_mlflow_run(child.info.run_id, tracking_uri=sweep.uri)
    assert report.ok, report.failures()


def test_editing_a_child_s_recorded_value_fails_verification(
        sweep: Sweep, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(sweep.manifest.read_text())
    trial = next(s for s in data["stages"] if s["kind"] == StageKind.TRIAL
                 and s["detail"]["state"] == "complete")
    trial["detail"]["value"] += 0.5
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    code, out = cli(capsys, "verify", "--manifest", str(tmp_path / "manifest.json"))
    assert code == 1 and f"trial:{trial['detail']['experiment']}" in out, out


def test_dropping_a_child_from_the_manifest_fails_verification(
        sweep: Sweep, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(sweep.manifest.read_text())
    dropped = next(s for s in data["stages"] if s["kind"] == StageKind.TRIAL)
    data["stages"] = [s for s in data["stages"] if s is not dropped]
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    code, out = cli(capsys, "verify", "--manifest", str(tmp_path / "manifest.json"))
    assert code == 1, out


def test_a_parent_that_selects_a_non_best_child_is_detected(
        tracer: Tracer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from algo_tracer.documents import study as rules
    from algo_tracer.record import study as recording

    def dishonest(records: object, spec: object, planned: int | None = None) -> Selection:
        honest = rules.select_best(records, spec, planned)  # type: ignore[arg-type]
        worst = min((r for r in records if r.state == "complete"),  # type: ignore[attr-defined]
                    key=lambda r: r.value)
        return honest.model_copy(update={"selected": worst.experiment,
                                         "selected_number": worst.number,
                                         "value": worst.value})

    monkeypatch.setattr(recording, "select_best", dishonest)  # what a forger would record
    forged = _sweep(tmp_path, {"algotrace.objective": "accuracy",
                               "algotrace.direction": "maximize"})
    code, out = cli(capsys, "verify", "--manifest", str(forged.manifest))
    assert code == 1 and "the selection names trial" in out, out


# Deprecated in optuna-integration 4.9 (removed in 6.0), and still how many sweeps are logged.
@pytest.mark.filterwarnings("ignore:MLflowCallback has been deprecated:FutureWarning")
def test_optuna_s_mlflow_callback_sweep_verifies_with_its_failed_and_pruned_trials(
        tracer: Tracer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(f"algotrace+sqlite:///{tmp_path / 'mlflow.db'}")
    callback = MLflowCallback(metric_name="score", create_experiment=False,
                              mlflow_kwargs={"nested": True})

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -5, 5)
        if trial.number == 2:
            raise ValueError("diverged")
        if trial.number == 4:
            raise optuna.TrialPruned()
        return -(x - 1) ** 2

    with mlflow.start_run(tags={"algotrace.objective": "score",
                                "algotrace.direction": "maximize"}) as parent:
        search = optuna.create_study(direction="maximize",
                                     sampler=optuna.samplers.RandomSampler(seed=3))
        search.optimize(objective, n_trials=6, callbacks=[callback], catch=(ValueError,))
    manifest = mlflow.get_run(parent.info.run_id).data.tags["algotrace.manifest"]
    code, out = cli(capsys, "verify", "--manifest", manifest)
    assert code == 0 and "best of 6 (1 failed, 1 pruned)" in out, out
    selection = Selection.model_validate(Manifest.read(Path(manifest)).stages[-1].detail)
    assert selection.value == search.best_value
