"""MLflow nested runs recorded as a study (algo_tracer/integrations/mlflow/_study_runs.py),
against a real MLflow SQLite store and the in-memory chain of test_writer_exactly_once.
The same on the real node: tests/localnet/test_mlflow_nested_study.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
from test_study_offline import offline  # noqa: F401  (the fixture)
from test_writer_exactly_once import FakeChain

from algo_tracer import InputError, Tracer
from algo_tracer.documents.manifest import Manifest, StageKind
from algo_tracer.documents.study import Selection, TrialRecord
from algo_tracer.integrations.mlflow import AlgoTracerMlflowWarning, _recorder, _study_runs
from algo_tracer.record.study import is_study
from algo_tracer.stages import rehash_detail

Offline = tuple[Tracer, FakeChain]


@pytest.fixture
def tracking(tmp_path: Path, offline: Offline,  # noqa: F811
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Tracer]:
    """An ``algotrace+sqlite`` tracking URI recording with the offline tracer, strictly."""
    tracer, _ = offline
    monkeypatch.chdir(tmp_path)  # MLflow's default artifact root is ./mlruns
    monkeypatch.setattr(_recorder.RECORDER, "options", _recorder.Options(tracer=tracer,
                                                                         strict=True))
    monkeypatch.setattr(_recorder.RECORDER, "_tracer", tracer)
    mlflow.set_tracking_uri(f"algotrace+sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        yield tracer
    finally:
        mlflow.set_tracking_uri(None)


STUDY_TAGS = {"algotrace.objective": "acc", "algotrace.direction": "maximize",
              "algotrace.n_trials": "6"}


def _child(value: float | None, *, fail: bool = False) -> None:
    try:
        with mlflow.start_run(nested=True):  # plain training code: nothing of algo-tracer
            mlflow.log_param("value", value)
            if value is not None:
                mlflow.log_metric("acc", value)
            if fail:
                raise RuntimeError("diverged")
    except RuntimeError:
        pass


def _study_manifest(run_id: str) -> Manifest:
    return Manifest.read(Path(mlflow.get_run(run_id).data.tags["algotrace.manifest"]))


def test_a_parent_with_child_runs_is_sealed_as_the_study_of_its_children(
        tracking: Tracer) -> None:
    values = [0.5, 0.9, 0.7, None, 0.8, 0.6]
    with mlflow.start_run(tags=STUDY_TAGS) as parent:
        mlflow.log_param("search", "grid")
        for i, v in enumerate(values):
            _child(v, fail=i == 3)
    tags = mlflow.get_run(parent.info.run_id).data.tags
    assert tags["algotrace.status"] == "sealed"
    assert tags["algotrace.study"] == "best of 6 (1 failed, 0 pruned): trial 1 (acc = 0.9)"
    manifest = _study_manifest(parent.info.run_id)
    kinds = [s.kind for s in manifest.stages]
    assert kinds.index(StageKind.STUDY) < kinds.index(StageKind.TRIAL)
    assert kinds[-1] == StageKind.SELECTION and kinds.count(StageKind.TRIAL) == 6
    # each detail re-hashes, under the study's JSON scheme, to the digest recorded for it
    for stage in manifest.stages:
        local = rehash_detail(stage, manifest.json_scheme)
        assert local.digest is None or local.digest == stage.digest, stage.label
    assert manifest.json_scheme == 2
    # the parent's own params are in the study too, recorded before its selection
    assert any(s.kind == StageKind.PARAMS and s.detail["params"] == {"search": "grid"}
               for s in manifest.stages)
    records = [TrialRecord.model_validate(s.detail) for s in manifest.stages
               if s.kind == StageKind.TRIAL]
    assert [r.number for r in records] == list(range(6))  # in the order they ended
    assert [r.state for r in records] == ["complete"] * 3 + ["failed"] + ["complete"] * 2
    assert [r.value for r in records] == [0.5, 0.9, 0.7, None, 0.8, 0.6]
    selection = Selection.model_validate(manifest.stages[-1].detail)
    assert (selection.selected_number, selection.planned) == (1, 6)
    children = mlflow.search_runs(filter_string=f"tags.mlflow.parentRunId = "
                                  f"'{parent.info.run_id}'", output_format="list")
    assert {c.data.tags["algotrace.study"] for c in children} == {manifest.experiment_id}
    child = Manifest.read(Path(children[0].data.tags["algotrace.manifest"]))
    assert child.stages[0].kind == StageKind.TRIAL_OF
    assert child.stages[0].detail["study"] == manifest.experiment_id


def test_children_ending_in_threads_are_each_appended_once(tracking: Tracer) -> None:
    with mlflow.start_run(tags=STUDY_TAGS) as parent:
        parent_id = parent.info.run_id

        def child(value: float) -> None:
            client = mlflow.MlflowClient()
            run = client.create_run(parent.info.experiment_id,
                                    tags={_study_runs.PARENT_TAG: parent_id})
            client.log_metric(run.info.run_id, "acc", value)
            client.set_terminated(run.info.run_id)

        child(0.1)  # the first child makes the parent a study before the others race
        threads = [threading.Thread(target=child, args=(v,)) for v in (0.4, 0.3, 0.8, 0.2, 0.6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    records = [TrialRecord.model_validate(s.detail)
               for s in _study_manifest(parent_id).stages if s.kind == StageKind.TRIAL]
    assert len(records) == len({r.experiment for r in records}) == 6
    assert sorted(r.value or 0 for r in records) == [0.1, 0.2, 0.3, 0.4, 0.6, 0.8]
    assert mlflow.get_run(parent_id).data.tags["algotrace.study"].startswith(
        "best of 6 (0 failed, 0 pruned): trial")


def test_a_run_without_children_stays_a_plain_experiment(tracking: Tracer) -> None:
    with mlflow.start_run(tags=STUDY_TAGS) as run:
        mlflow.log_metric("acc", 0.5)
    tags = mlflow.get_run(run.info.run_id).data.tags
    assert "algotrace.study" not in tags
    assert not any(s.kind == StageKind.STUDY for s in _study_manifest(run.info.run_id).stages)


def test_a_parent_naming_no_objective_is_refused_as_a_study_and_says_which_tags(
        tracking: Tracer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_recorder.RECORDER.options, "strict", False)
    with (pytest.warns(AlgoTracerMlflowWarning, match="algotrace.objective"),
          mlflow.start_run() as parent):
        _child(0.5)
    tags = mlflow.get_run(parent.info.run_id).data.tags
    assert tags["algotrace.study"].startswith("not a study: the run has child runs but names "
                                              "no objective")
    assert tags["algotrace.status"] == "sealed"  # both are still recorded, as plain runs
    assert not any(s.kind == StageKind.STUDY for s in _study_manifest(parent.info.run_id).stages)


def test_the_parent_s_plan_goes_first_and_decides_the_objective(tracking: Tracer) -> None:
    plan = '{"metric": "loss", "direction": "minimize", "n_trials": 2}'
    with mlflow.start_run(tags={"algotrace.plan": plan}) as parent:
        _child(0.3)
        with mlflow.start_run(nested=True):
            mlflow.log_metric("loss", 0.2)
    manifest = _study_manifest(parent.info.run_id)
    assert manifest.stages[0].kind == StageKind.PLAN
    assert manifest.stages[0].detail["plan"]["metric"] == "loss"
    selection = Selection.model_validate(manifest.stages[-1].detail)
    # the first child logged no "loss": failed; the second is the best of 2
    assert (selection.objective, selection.failed, selection.selected_number) == ("loss", 1, 1)


@pytest.mark.parametrize(("tags", "message"), [
    ({"algotrace.objective": "acc"}, "names no objective and direction"),
    ({"algotrace.objective": "acc", "algotrace.direction": "up"}, "maximize"),
    ({"algotrace.plan": '{"metric": "acc", "direction": "maximize"}',
      "algotrace.direction": "minimize"}, "contradicts its plan"),
    ({"algotrace.plan": "{not json"}, "not valid JSON"),
])
def test_study_settings_that_cannot_rank_children_are_refused(tags: dict[str, str],
                                                              message: str) -> None:
    with pytest.raises(InputError, match=message):
        _study_runs.study_spec(tags)


class _Run:
    def __init__(self, tags: dict[str, str], metrics: dict[str, float]) -> None:
        self.data: Any = type("Data", (), {"tags": tags, "metrics": metrics})()


@pytest.mark.parametrize(("outcome", "tags", "metrics", "expected"), [
    ("completed", {}, {"acc": 0.5}, ("complete", 0.5)),
    ("completed", {}, {}, ("failed", None)),
    ("completed", {}, {"acc": float("nan")}, ("failed", None)),
    ("failed", {}, {"acc": 0.5}, ("failed", None)),
    ("killed", {}, {"acc": 0.5}, ("failed", None)),
    ("completed", {"number": "3", "state": "PRUNED"}, {}, ("pruned", None)),  # Optuna's tags
    ("completed", {"number": "3", "state": "FAIL"}, {}, ("failed", None)),
    ("completed", {"state": "PRUNED"}, {"acc": 0.5}, ("complete", 0.5)),  # not Optuna's
])
def test_a_child_run_s_end_is_a_trial_state(outcome: str, tags: dict[str, str],
                                            metrics: dict[str, float],
                                            expected: tuple[str, float | None]) -> None:
    assert _study_runs.trial_result(outcome, _Run(tags, metrics), "acc") == expected


def test_a_parent_left_open_by_a_crash_is_resumed_as_a_study_not_sealed_plain(
        tracking: Tracer) -> None:
    with mlflow.start_run(tags=STUDY_TAGS) as parent:
        _child(0.4)
        # the process dies here: the parent never ends, its study stays open in the journal
        trace = _recorder.RECORDER._runs.pop(parent.info.run_id)
    study_id = trace.experiment.id
    assert is_study(tracking.journal, study_id)  # by its STUDY stage: its metadata is MLflow's
    assert tracking.resume() == []  # `algo-tracer resume` leaves open studies to finish
    assert tracking.journal.experiment(study_id).status == "open"
    summary = tracking.load_study(study_id).finish()  # what `algo-tracer resume ID` does
    assert (summary.selection.trials, summary.selection.value) == (1, 0.4)
