"""`algo-tracer show / verify / export / resume / deploy` on LocalNet: output and exit codes.

Exit codes: 0 verified, 1 mismatch or tampering, 2 usage, configuration or network error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from verify_helpers import (
    LOCALNET_ENV,
    Traced,
    a_note,
    closed_port,
    send_note,
    stranger,
    trace_experiment,
)

from algo_tracer import Tracer, format_id, parse_id
from algo_tracer.cli import main
from algo_tracer.format.notes import encode_note
from algo_tracer.format.records import NoteRecord, RecordKind


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory, localnet) -> Traced:
    tracer = Tracer.from_environment(state_dir=tmp_path_factory.mktemp("state"))
    return trace_experiment(tracer, tmp_path_factory.mktemp("cli"), "cli-clean", metrics=150,
                            private=10)


@pytest.fixture(scope="module")
def victim(traced: Traced, tmp_path_factory: pytest.TempPathFactory) -> Traced:
    return trace_experiment(traced.tracer, tmp_path_factory.mktemp("cli-victim"), "cli-victim",
                            metrics=100, private=0)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALGO_TRACER_APP_ID", raising=False)
    for key, value in LOCALNET_ENV.items():
        monkeypatch.setenv(key, value)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--indexer-timeout", "120"] if argv[0] in ("show", "verify", "export")
                else list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def verify_args(t: Traced, *extra: str) -> list[str]:
    return ["verify", t.experiment_id, "--app-id", str(t.app_id), *extra]


def test_verify_clean_run_exits_0_with_one_ok_line_per_stage(
        traced: Traced, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *verify_args(traced, "--manifest", str(traced.manifest_path),
                                            "--artifacts", str(traced.artifacts)))

    assert code == 0, out
    stage_lines = [line for line in out.splitlines() if line.split()[1:2] == ["stage"]]
    assert len(stage_lines) == 8 and all(line.startswith("OK:") for line in stage_lines)
    assert "data:train" in out and out.rstrip().splitlines()[-1].startswith("VERIFIED")


def test_app_id_comes_from_the_environment_then_the_manifest(
        traced: Traced, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(capsys, "verify", traced.experiment_id, "--manifest",
                       str(traced.manifest_path), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["ok"] and report["app_id"] == traced.app_id

    monkeypatch.setenv("ALGO_TRACER_APP_ID", str(traced.app_id))
    assert run(capsys, "verify", traced.experiment_id)[0] == 0


def test_show_prints_the_timeline(traced: Traced, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", traced.experiment_id, "--app-id", str(traced.app_id),
                       "--manifest", str(traced.manifest_path))

    assert code == 0
    lines = out.splitlines()
    assert lines[1].split()[:3] == ["#", "label", "/"]
    assert any(" created " in f" {line} " for line in lines)
    assert any("data:train" in line and "recorded" in line for line in lines)
    assert any(line.startswith("a0 ") and "verified" in line for line in lines)
    assert lines[-2].split()[1] == "sealed"


def test_changed_data_file_exits_1_naming_the_stage(
        traced: Traced, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    artifacts = traced.copy_artifacts(tmp_path / "a")
    (artifacts / "train.csv").write_text((artifacts / "train.csv").read_text() + "6.0,4.0,1\n")

    code, out, _ = run(capsys, *verify_args(traced, "--manifest", str(traced.manifest_path),
                                            "--artifacts", str(artifacts)))

    assert code == 1
    (fail,) = [line for line in out.splitlines() if line.startswith("FAIL:")]
    assert "data:train" in fail and "mismatch" in fail


def test_different_model_exits_1(traced: Traced, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    artifacts = traced.copy_artifacts(tmp_path / "a")
    (artifacts / "model.bin").write_bytes(b"\0" * 1024)

    code, out, _ = run(capsys, *verify_args(traced, "--manifest", str(traced.manifest_path),
                                            "--artifacts", str(artifacts), "--json"))

    assert code == 1
    rows = {s["label"]: s["status"] for s in json.loads(out)["stages"]}
    assert rows["model"] == "mismatch" and rows["data:train"] == "match"


def test_edited_hyperparameter_and_missing_stage_exit_1(
        traced: Traced, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(traced.manifest_path.read_text())
    params = next(s for s in data["stages"] if s["label"] == "params")
    params["detail"]["params"]["max_iter"] = 1000
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data))
    code, out, _ = run(capsys, *verify_args(traced, "--manifest", str(edited)))
    assert code == 1 and "FAIL: stage   5 params" in out

    data = json.loads(traced.manifest_path.read_text())
    data["stages"] = [s for s in data["stages"] if s["label"] != "model"]
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps(data))
    code, out, _ = run(capsys, *verify_args(traced, "--manifest", str(missing)))
    assert code == 1 and "missing_locally" in out


def test_export_then_verify_bundle_offline_and_online_and_edited(
        traced: Traced, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "bundle.json"
    code, out, _ = run(capsys, "export", traced.experiment_id, "--app-id", str(traced.app_id),
                       "--manifest", str(traced.manifest_path), "-o", str(bundle))
    assert code == 0 and "OK: offline check" in out

    code, out, _ = run(capsys, "verify", traced.experiment_id, "--bundle", str(bundle),
                       "--offline")
    assert code == 0 and "not checked by this run" in out and "block headers" in out
    assert run(capsys, "verify", traced.experiment_id, "--bundle", str(bundle))[0] == 0

    data = json.loads(bundle.read_text())
    data["manifest"]["stages"][0]["digest"] = "00" * 32
    bundle.write_text(json.dumps(data))
    assert run(capsys, "verify", traced.experiment_id, "--bundle", str(bundle),
               "--offline")[0] == 1


def test_foreign_note_passes_unless_strict_and_owner_replay_fails(
        victim: Traced, capsys: pytest.CaptureFixture[str]) -> None:
    send_note(victim.algorand, stranger(victim.algorand), a_note(victim))
    code, out, _ = run(capsys, *verify_args(victim))
    assert code == 0 and "WARNING foreign_sender" in out
    code, out, _ = run(capsys, *verify_args(victim, "--strict"))
    assert code == 1 and "fail in strict mode" in out.splitlines()[-1]
    assert "WARNING foreign_sender (fails in strict mode)" in out

    records = [NoteRecord(5_000, RecordKind.METRIC, "loss", 0, 0.0)]
    send_note(victim.algorand, victim.owner,
              encode_note(parse_id(victim.experiment_id), 7, 0, records))
    code, out, _ = run(capsys, *verify_args(victim))
    assert code == 1 and "not_anchored" in out


def test_indexer_down_exits_2_with_the_fix(traced: Traced, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INDEXER_PORT", str(closed_port()))

    code, out, err = run(capsys, *verify_args(traced))

    assert code == 2 and "VERIFIED" not in out
    assert "indexer could not be reached" in err and "fix:" in err


def test_usage_errors_exit_2(traced: Traced, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "verify", traced.experiment_id)
    assert code == 2 and "--app-id" in err
    code, _, err = run(capsys, "verify", "not-an-id!", "--app-id", "1")
    assert code == 2 and "base58" in err
    code, _, err = run(capsys, "verify", traced.experiment_id, "--offline")
    assert code == 2 and "--bundle" in err
    code, out, _ = run(capsys, "verify", format_id(os.urandom(32)), "--app-id",
                       str(traced.app_id))
    assert code == 1 and "no experiment" in out


def test_resume_with_nothing_pending_and_deploy_find_the_registry(
        traced: Traced, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALGO_TRACER_DIR", str(tmp_path / "journal"))
    code, out, _ = run(capsys, "resume")
    assert code == 0 and "nothing to resume" in out

    # The app deploy prints is the one the tracer recorded into (issue 15: it printed 1082
    # while every experiment went to 1002).
    code, out, _ = run(capsys, "deploy")
    assert code == 0 and f"registry: app {traced.app_id} on " in out


def test_a_manifest_of_another_network_exits_2_naming_both_genesis_hashes(
        traced: Traced, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(traced.manifest_path.read_text())
    node_hash, other = data["genesis_hash"], "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    data["genesis_hash"] = other  # as if recorded on a LocalNet that was reset since
    edited = tmp_path / "other-network.json"
    edited.write_text(json.dumps(data))

    code, out, err = run(capsys, "verify", "--manifest", str(edited), "--json", "-q")

    assert code == 2 and "no experiment" not in err
    assert node_hash in err and other in err and "reset" in err
    assert json.loads(out)["error"]["type"] == "ConfigError"


def test_an_app_that_is_not_a_registry_exits_2_saying_so(
        traced: Traced, capsys: pytest.CaptureFixture[str]) -> None:
    from algokit_utils import AppCreateParams

    always = "#pragma version 10\nint 1\n"
    created = traced.algorand.send.app_create(AppCreateParams(
        sender=traced.owner.address, signer=traced.owner.signer, approval_program=always,
        clear_state_program=always))

    code, _, err = run(capsys, "verify", traced.experiment_id, "--app-id", str(created.app_id))

    assert code == 2
    assert f"app {created.app_id} is not an ExperimentRegistry" in err
