"""Step 9's metric history check without a network: a real SQLite MLflow store in tmp_path,
edited the way an insider would (SQL on the `metrics` table), against the note records the
plugin's recorder writes for the same values. The real-node counterpart is in
tests/localnet/test_mlflow.py.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from algo_tracer.format.records import NoteRecord, RecordKind
from algo_tracer.integrations.mlflow import _verify
from algo_tracer.integrations.mlflow._history import HistoryCheck, compare_history, read_history
from algo_tracer.integrations.mlflow._recorder import PREVIOUS_TAG, Recorder, RunTrace
from algo_tracer.verify.report import StageRow, StageStatus, VerificationReport


class _NoteStream:
    """Stands in for `Experiment`: keeps the note records the recorder writes, seq by seq."""

    def __init__(self) -> None:
        self.records: list[NoteRecord] = []

    def log_metric(self, name: str, value: float, step: int) -> None:
        self.records.append(NoteRecord(len(self.records), RecordKind.METRIC, name, step, value))


@dataclass
class Logged:
    client: MlflowClient
    run_id: str
    db: Path
    records: list[NoteRecord]

    def sql(self, statement: str, *args: Any) -> None:
        with sqlite3.connect(self.db) as con:
            assert con.execute(statement, args).rowcount >= 1

    def compare(self, records: Sequence[NoteRecord] | None = None,
                undisclosed: int = 0) -> HistoryCheck:
        run = self.client.get_run(self.run_id)
        history = read_history(self.client, self.run_id, run.data.metrics)
        return compare_history(history, self.records if records is None else records,
                               undisclosed=undisclosed)


def _metrics() -> list[Metric]:
    loss = [Metric("custom_loss", 1 / (s + 1), 1_000 + s, s) for s in range(10)]
    two_at_one_step = [Metric("acc", 0.5, 2_000, 3), Metric("acc", 0.7, 2_001, 3)]
    odd = [Metric("grad_norm", math.nan, 3_000, 0), Metric("grad_norm", math.inf, 3_000, 1),
           Metric("grad_norm", -0.0, 3_000, 2), Metric("warmup", 1.0, 3_000, -1)]
    return loss + two_at_one_step + odd


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """An empty MLflow database, made once: creating MLflow's schema takes seconds."""
    db = tmp_path_factory.mktemp("mlflow") / "empty.db"
    MlflowClient(f"sqlite:///{db}").search_experiments()
    return db.read_bytes()


@pytest.fixture
def logged(tmp_path: Path, empty_store: bytes) -> Logged:
    db = tmp_path / "mlflow.db"
    db.write_bytes(empty_store)
    client = MlflowClient(f"sqlite:///{db}")
    experiment = client.create_experiment("history", artifact_location=tmp_path.as_uri())
    run_id = client.create_run(experiment).info.run_id
    metrics = _metrics()
    client.log_batch(run_id, metrics=metrics)
    # The records the plugin would put on chain for the same values (its own mapping).
    recorder, stream = Recorder(), _NoteStream()
    recorder._runs[run_id] = RunTrace(run_id, stream, None, None, "test")  # type: ignore[arg-type]
    recorder.metrics(run_id, metrics)
    return Logged(client, run_id, db, stream.records)


def _messages(result: HistoryCheck) -> list[tuple[str, str]]:
    return [(f.code, f.message) for f in result.findings]


def test_an_untouched_history_matches_every_step_nan_inf_and_zero_included(
        logged: Logged) -> None:
    result = logged.compare()

    assert result.check.status == "pass", result.check.detail
    assert result.check.name == "mlflow metric history" and result.findings == []
    assert "15 values of 4 metrics, every step" in result.check.detail
    assert "1 values with a negative step are not in the note stream" in result.check.detail


def test_an_edited_earlier_step_fails_naming_metric_step_and_both_values(
        logged: Logged) -> None:
    logged.sql("UPDATE metrics SET value = 0.01 WHERE key = 'custom_loss' AND step = 5")

    result = logged.compare()

    assert result.check.status == "fail"
    assert _messages(result) == [("mlflow_metric_changed", "metric 'custom_loss' step 5: "
                                  "MLflow has 0.01, the chain has 0.16666666666666666")]
    assert "1 metric steps differ" in result.check.detail
    assert logged.client.get_run(logged.run_id).data.metrics["custom_loss"] == 0.1  # latest


def test_a_deleted_step_fails(logged: Logged) -> None:
    logged.sql("DELETE FROM metrics WHERE key = 'custom_loss' AND step = 2")

    assert _messages(logged.compare()) == [(
        "mlflow_metric_removed",
        "metric 'custom_loss' step 2: the chain has 0.3333333333333333, MLflow does not")]


def test_an_added_step_or_an_added_value_at_a_step_fails(logged: Logged) -> None:
    logged.client.log_metric(logged.run_id, "custom_loss", 0.05, step=10)
    logged.client.log_metric(logged.run_id, "custom_loss", 0.5, step=1, timestamp=9_999)

    assert _messages(logged.compare()) == [
        ("mlflow_metric_added", "metric 'custom_loss' step 1: MLflow has 0.5, the chain does "
         "not"),
        ("mlflow_metric_added", "metric 'custom_loss' step 10: MLflow has 0.05, the chain "
         "does not")]


def test_a_nan_step_is_compared_both_ways(logged: Logged) -> None:
    logged.sql("UPDATE metrics SET value = 0.0, is_nan = 0 WHERE key = 'grad_norm' AND step = 0")
    logged.sql("UPDATE metrics SET value = 0.0, is_nan = 1 WHERE key = 'custom_loss' "
               "AND step = 0")

    assert _messages(logged.compare()) == [
        ("mlflow_metric_changed", "metric 'custom_loss' step 0: MLflow has nan, the chain has "
         "1.0"),
        ("mlflow_metric_changed", "metric 'grad_norm' step 0: MLflow has 0.0, the chain has "
         "nan")]


def test_each_of_several_values_at_one_step_is_compared(logged: Logged) -> None:
    logged.sql("UPDATE metrics SET value = 0.75 WHERE key = 'acc' AND value = 0.7")
    assert _messages(logged.compare()) == [
        ("mlflow_metric_changed", "metric 'acc' step 3: MLflow has 0.75, the chain has 0.7")]

    logged.sql("DELETE FROM metrics WHERE key = 'acc' AND value = 0.75")
    assert _messages(logged.compare()) == [
        ("mlflow_metric_removed", "metric 'acc' step 3: the chain has 0.7, MLflow does not")]


def test_a_value_mlflow_keeps_once_may_be_on_chain_twice_never_the_reverse(
        logged: Logged) -> None:
    # MLflow's SQL store keeps one row for the same key, step, value and timestamp.
    twice = [*logged.records, NoteRecord(len(logged.records), RecordKind.METRIC, "acc", 3, 0.5)]
    assert logged.compare(twice).check.status == "pass"

    logged.client.log_metric(logged.run_id, "acc", 0.5, step=3, timestamp=2_500)
    assert _messages(logged.compare()) == [
        ("mlflow_metric_added", "metric 'acc' step 3: MLflow has 0.5, the chain does not")]


def test_a_metric_removed_from_mlflow_entirely_fails(logged: Logged) -> None:
    logged.sql("DELETE FROM metrics WHERE key = 'acc'")
    logged.sql("DELETE FROM latest_metrics WHERE key = 'acc'")

    result = logged.compare()

    assert [code for code, _ in _messages(result)] == ["mlflow_metric_removed"]
    assert "metric 'acc' step 3: the chain has 0.5, 0.7, MLflow does not" in result.check.detail


def test_system_metrics_logged_after_the_seal_pass_but_edited_ones_fail(logged: Logged) -> None:
    sealed = logged.records
    logged.client.log_metric(logged.run_id, "system/cpu", 10.0, step=0, timestamp=1)
    stream = [*sealed, NoteRecord(len(sealed), RecordKind.METRIC, "system/cpu", 0, 10.0)]
    logged.client.log_metric(logged.run_id, "system/cpu", 12.0, step=1, timestamp=2)

    result = logged.compare(stream)
    assert result.check.status == "pass"
    assert "1 system/* values logged after the seal not checked" in result.check.detail

    logged.sql("UPDATE metrics SET value = 99.0 WHERE key = 'system/cpu' AND step = 0")
    assert [code for code, _ in _messages(logged.compare(stream))] == ["mlflow_metric_removed"]


def test_undisclosed_private_records_excuse_as_many_extra_values_no_more(
        logged: Logged) -> None:
    public = [r for r in logged.records if r.name != "acc"]

    result = logged.compare(public, undisclosed=2)
    assert result.check.status == "pass"
    assert "may be among the 2 undisclosed private records" in result.not_checked[0]

    assert logged.compare(public, undisclosed=1).check.status == "fail"
    # An edited public step fails whatever is undisclosed.
    logged.sql("UPDATE metrics SET value = 0.01 WHERE key = 'custom_loss' AND step = 5")
    assert "mlflow_metric_changed" in [c for c, _ in _messages(logged.compare(public, 5))]


def test_verify_mlflow_run_compares_the_history_of_every_segment(
        logged: Logged, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two segments (a resumed run): each proves part of the stream; together, all of it.
    half = len(logged.records) // 2
    by_segment = {"SEG2": logged.records[:half], "SEG1": logged.records[half:]}
    logged.client.set_tag(logged.run_id, "algotrace.experiment_id", "SEG2")
    logged.client.set_tag(logged.run_id, "algotrace.app_id", "1")
    logged.client.set_tag(logged.run_id, PREVIOUS_TAG, "SEG1")

    def verify_experiment(algorand: Any, app_id: int, experiment_id: str, *,
                          records: list[NoteRecord], **_: Any) -> VerificationReport:
        records.extend(by_segment[experiment_id])
        report = VerificationReport(experiment_id=experiment_id, app_id=app_id,
                                    source="network", sealed=True)
        report.stages.append(StageRow(index=0, label="params", kind="params",
                                      status=StageStatus.RECORDED))
        return report

    monkeypatch.setattr("algo_tracer.verify.experiment.verify_experiment", verify_experiment)

    def history_row() -> str:
        report = _verify.verify_mlflow_run(logged.run_id, logged.client.tracking_uri,
                                           algorand=object())
        row = next(c for c in report.checks if c.name == "mlflow metric history")
        return f"{row.status}: {row.detail}"

    assert history_row().startswith("pass: 15 values of 4 metrics")
    logged.sql("UPDATE metrics SET value = 0.01 WHERE key = 'custom_loss' AND step = 5")
    assert history_row().startswith("fail: 1 metric steps differ from the chain's records: "
                                    "metric 'custom_loss' step 5")
