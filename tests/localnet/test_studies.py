"""Studies and plans on the real node: "best of N" as a checkable claim (docs/studies.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest
from verify_helpers import LOCALNET_ENV

from algo_tracer import InputError, Manifest, Tracer
from algo_tracer.cli import main
from algo_tracer.documents.manifest import StageKind
from algo_tracer.documents.study import Selection, TrialOf
from algo_tracer.integrations.optuna import traced
from algo_tracer.record.study import Study, TrialPruned

PLAN = {"metric": "score", "direction": "maximize", "n_trials": 20, "tolerance": 0.001}

WORKER = textwrap.dedent("""
    import sys
    import optuna
    from algo_tracer import Tracer
    from algo_tracer.integrations.optuna import traced

    state_dir, study_id, storage, n_trials = sys.argv[1:5]
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        x = trial.suggest_float("x", -10, 10)
        for step in range(3):
            trial.report(-(x - 2) ** 2 - 1 / (step + 1), step)
        if trial.number == 5:
            raise ValueError("diverged")
        if trial.number == 7:
            raise optuna.TrialPruned()
        return -(x - 2) ** 2

    tracer = Tracer.from_environment(state_dir=state_dir, output_root=state_dir + "/runs")
    study = tracer.load_study(study_id)
    search = optuna.load_study(study_name="search", storage=storage)
    search.optimize(traced(study, objective), n_trials=int(n_trials), catch=(ValueError,))
""")


@dataclass
class Sweep:
    study_id: str
    manifest: Path
    state_dir: Path
    optuna_trials: int


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALGO_TRACER_APP_ID", raising=False)
    for key, value in LOCALNET_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory, localnet: object) -> Sweep:
    """A 20-trial Optuna search run by two worker processes sharing an Optuna SQLite storage
    and one algo-tracer journal; trial 5 fails and trial 7 is pruned."""
    root = tmp_path_factory.mktemp("sweep")
    tracer = Tracer.from_environment(state_dir=root, output_root=root / "runs")
    study = tracer.study("sweep", objective="score", direction="maximize", n_trials=20,
                         plan=PLAN, search_space={"x": [-10, 10]})
    storage = f"sqlite:///{root / 'optuna.db'}"
    optuna.create_study(study_name="search", storage=storage, direction="maximize",
                        sampler=optuna.samplers.RandomSampler(seed=7))
    (root / "worker.py").write_text(WORKER)
    workers = [subprocess.Popen([sys.executable, str(root / "worker.py"), str(root),
                                 study.id_text, storage, "10"], env={**os.environ},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(2)]
    for worker in workers:
        out, _ = worker.communicate(timeout=600)
        assert worker.returncode == 0, out
    summary = study.finish()
    finished = optuna.load_study(study_name="search", storage=storage).trials
    return Sweep(study.id_text, summary.manifest_path, root, len(finished))


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out + err


def test_a_20_trial_optuna_search_by_two_workers_verifies_as_best_of_20(
        sweep: Sweep, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = cli(capsys, "verify", "--manifest", str(sweep.manifest))
    assert code == 0, out
    assert "best of 20 (1 failed, 1 pruned)" in out
    assert "plan fixed at round" in out and "(public)" in out
    manifest = Manifest.read(sweep.manifest)
    trials = [s for s in manifest.stages if s.kind == StageKind.TRIAL]
    numbers = sorted(s.detail["number"] for s in trials)
    assert sweep.optuna_trials == 20 and numbers == list(range(20))  # each trial exactly once
    selection = Selection.model_validate(manifest.stages[-1].detail)
    complete = [s.detail for s in trials if s.detail["state"] == "complete"]
    assert selection.value == max(t["value"] for t in complete)


def test_editing_a_trials_recorded_value_fails_verification(
        sweep: Sweep, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(sweep.manifest.read_text())
    trial = next(s for s in data["stages"] if s["kind"] == StageKind.TRIAL
                 and s["detail"]["state"] == "complete")
    trial["detail"]["value"] += 1.0
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    code, out = cli(capsys, "verify", "--manifest", str(tmp_path / "manifest.json"))
    assert code == 1 and f"trial:{trial['detail']['experiment']}" in out and "mismatch" in out


def test_dropping_a_trial_from_the_manifest_fails_verification(
        sweep: Sweep, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(sweep.manifest.read_text())
    dropped = next(s for s in data["stages"] if s["kind"] == StageKind.TRIAL)
    data["stages"] = [s for s in data["stages"] if s is not dropped]
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    code, out = cli(capsys, "verify", "--manifest", str(tmp_path / "manifest.json"))
    assert code == 1, out


def _small_study(tracer: Tracer, name: str, values: list[float], **options: object) -> Study:
    study = tracer.study(name, objective="acc", direction="maximize", **options)
    for value in values:
        with study.trial() as trial:
            trial.trace_params({"v": value})
            trial.report(value)
    return study


@pytest.fixture(scope="module")
def tracer(tmp_path_factory: pytest.TempPathFactory, localnet: object) -> Tracer:
    root = tmp_path_factory.mktemp("studies")
    return Tracer.from_environment(state_dir=root, output_root=root / "runs")


def test_a_selection_that_is_not_the_best_trial_is_detected(
        tracer: Tracer, capsys: pytest.CaptureFixture[str]) -> None:
    study = _small_study(tracer, "forged-selection", [0.7, 0.9, 0.8])
    worse = study.trials()[0]
    forged = Selection(objective="acc", direction="maximize", trials=3, failed=0, pruned=0,
                       selected=worse.experiment, selected_number=worse.number,
                       value=worse.value)
    study.journal.add_stage(study.id, StageKind.SELECTION, "selection", forged.digest(),
                            forged.detail())  # what a dishonest recorder would write
    summary = study.finish()
    assert summary.selection.selected_number == worse.number
    code, out = cli(capsys, "verify", "--manifest", str(summary.manifest_path))
    assert code == 1 and "the selection names trial 0" in out, out


def test_a_trial_run_outside_the_record_is_reported(
        tracer: Tracer, capsys: pytest.CaptureFixture[str]) -> None:
    study = _small_study(tracer, "hidden-trial", [0.5])
    hidden = study.trial()
    hidden.report(0.99)
    hidden.experiment.finish()  # sealed, but never appended to the study
    summary = study.finish()  # the journal knows it: the study appends it (nothing is lost)
    assert summary.selection.trials == 2
    hidden_id = hidden.experiment.id_text

    # A trial recorded from another journal (another machine, same account) that the study's
    # journal never hears of: the chain still links it to the study.
    study2 = _small_study(tracer, "hidden-trial-2", [0.5])
    other = Tracer.from_environment(state_dir=tracer.settings.state_dir / "elsewhere",
                                    output_root=tracer.settings.state_dir / "elsewhere-runs")
    assert other.settings.account.address == tracer.settings.account.address
    link = TrialOf(study=study2.id_text, app_id=other.settings.app_id, number=7)
    with other.experiment("ghost") as ghost:
        ghost.trace_digest(StageKind.TRIAL_OF, None, link.digest(), link.detail())
    summary2 = study2.finish()
    code, out = cli(capsys, "verify", "--manifest", str(summary2.manifest_path))
    assert code == 1 and ghost.id_text in out and "outside the record" in out, out
    assert hidden_id != ghost.id_text


def test_a_study_sealed_short_of_its_budget_says_so(
        tracer: Tracer, capsys: pytest.CaptureFixture[str]) -> None:
    study = _small_study(tracer, "short", [0.1, 0.2], n_trials=5)
    summary = study.finish()
    code, out = cli(capsys, "verify", "--manifest", str(summary.manifest_path))
    assert code == 0 and "5 were planned" in out and "fewer_trials_than_planned" in out
    code, out = cli(capsys, "verify", "--manifest", str(summary.manifest_path), "--strict")
    assert code == 1


def test_a_private_plan_verifies_as_committed_then_revealed_and_a_wrong_reveal_fails(
        tracer: Tracer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with tracer.experiment("preregistered", plan={"metric": "acc", "hypothesis": "C=1 wins"},
                           private_plan=True) as exp:
        exp.trace_params({"C": 1.0})
        exp.log_metric("acc", 0.9)
    manifest = exp.output_dir / "manifest.json"
    assert "C=1 wins" not in manifest.read_text()
    code, out = cli(capsys, "verify", "--manifest", str(manifest))
    assert code == 0 and "private, never revealed" in out

    reveal_file = tracer.settings.state_dir / "plans" / f"{exp.id_text}.json"
    forged = json.loads(reveal_file.read_text())
    forged["plan"]["hypothesis"] = "C=10 wins"
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    code, out = cli(capsys, "verify", "--manifest", str(manifest), "--plan-reveal",
                    str(tmp_path / "forged.json"))
    assert code == 1 and "does NOT open" in out

    revealed = tracer.reveal(exp.id)
    code, out = cli(capsys, "verify", "--manifest", str(manifest))
    assert code == 0 and f"revealed at round {revealed.round}" in out


def test_a_plan_after_anything_traced_is_refused(tracer: Tracer) -> None:
    with tracer.experiment("late-plan") as exp:
        exp.trace_params({"C": 1.0})
        with pytest.raises(InputError, match="before anything else"):
            exp.trace_plan({"metric": "acc"})


def test_a_trial_that_raises_is_recorded_as_failed_and_trial_pruned_as_pruned(
        tracer: Tracer) -> None:
    study = tracer.study("states", objective="acc", direction="minimize")
    with pytest.raises(RuntimeError), study.trial():
        raise RuntimeError("out of memory")
    with study.trial():
        raise TrialPruned
    assert [t.state for t in study.trials()] == ["failed", "pruned"]
    assert study.finish().selection.selected is None


def test_n_jobs_threads_append_each_trial_once(tracer: Tracer) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tracer.study("threads", objective="y", direction="minimize", n_trials=6) as study:
        search = optuna.create_study(direction="minimize")
        search.optimize(traced(study, lambda t: t.suggest_float("x", 0, 1) ** 2), n_trials=6,
                        n_jobs=2)
    assert study.summary is not None and study.summary.selection.trials == 6
    assert sorted(t.number for t in study.trials()) == list(range(6))


def test_a_worker_killed_mid_trial_is_resumed_and_appended_once(
        tracer: Tracer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    study = _small_study(tracer, "killed", [0.3])
    script = tmp_path / "slow.py"
    script.write_text(textwrap.dedent(f"""
        import time
        from algo_tracer import Tracer
        tracer = Tracer.from_environment(state_dir={str(tracer.settings.state_dir)!r},
                                         output_root={str(tracer.settings.state_dir)!r})
        trial = tracer.load_study({study.id_text!r}).trial()
        trial.log_metric("acc", 0.1)
        print("started", flush=True)
        time.sleep(600)
    """))
    worker = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert worker.stdout is not None and worker.stdout.readline().strip() == "started"
    time.sleep(1)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    monkeypatch.setenv("ALGO_TRACER_DIR", str(tracer.settings.state_dir))
    code, out = cli(capsys, "resume")  # seals the killed trial as interrupted; not the study
    assert code == 0 and "1 stages" not in out
    code, out = cli(capsys, "resume", study.id_text)
    assert code == 0 and "best of 2 (1 failed, 0 pruned)" in out, out
    code, out = cli(capsys, "resume", study.id_text)  # again: nothing twice
    assert code == 0 and "best of 2 (1 failed, 0 pruned)" in out
    summary = Study(tracer, study.id, study.spec).finish()
    code, out = cli(capsys, "verify", "--manifest", str(summary.manifest_path))
    assert code == 0 and "best of 2 (1 failed, 0 pruned)" in out, out


def test_the_optuna_example_searches_a_real_model_and_verifies(
        tracer: Tracer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
    import optuna_search

    summary = optuna_search.main(tmp_path / "search", tracer, n_trials=6)
    code, out = cli(capsys, "verify", "--manifest", str(summary.manifest_path))
    assert code == 0 and "best of 6 (" in out, out
    assert summary.selection.value is not None and summary.selection.value > 0.8
