"""Bad input to the CLI: a clear message naming the fix, exit code 2, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from algo_tracer.cli import main

GOOD_ID = "7oCqawspwYBnjqKQ8tmcA7xKMXLkvdhTMFFryiFaS56n"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALGO_TRACER_DIR", str(tmp_path / "journal"))
    monkeypatch.setenv("ALGO_TRACER_LOCALNET", "native")


@pytest.mark.parametrize(("argv", "message"), [
    (["show", "0OIl"], "not base58"),
    (["verify", "abc", "--app-id", "1"], "decodes to 3 bytes, not 32"),
    (["export", "abc", "-o", "b.json", "--app-id", "1"], "decodes to 3 bytes"),
    (["resume", "0OIl"], "not base58"),
    (["verify", GOOD_ID, "--app-id", "1", "--manifest", "missing.json"], "does not exist"),
    (["verify", GOOD_ID, "--bundle", "missing.json", "--offline"], "missing.json"),
    (["localnet", "logs", "--service", "algodd"], "unknown service 'algodd'"),
    (["verify", GOOD_ID, "--app-id", "x"], "'x' is not an application id"),
    (["show", GOOD_ID, "--app-id", "-5"], "'-5' is not an application id"),
    (["show", GOOD_ID, "--app-id", "0"], "'0' is not an application id"),
    (["verify", GOOD_ID, "--app-id", str(2**64)], "is not an application id"),
    (["hash", "missing.bin"], "missing.bin does not exist"),
    (["show"], "which experiment? no experiment id and no --manifest"),
    (["export", "-o", "b.json"], "which experiment? no experiment id and no --manifest"),
    (["fetch", "0OIl", "-o", "out"], "not base58"),
    (["fetch", GOOD_ID, "--app-id", "1"], "the following arguments are required: -o"),
    (["verify", GOOD_ID, "--fetch", "--bundle", "b.json"], "--fetch works only for an "
     "experiment read from the chain"),
    (["verify", GOOD_ID, "--app-id", "1", "--fetch", "--cache"], "--fetch retrieves the "
     "stored content itself"),
])
def test_malformed_input_exits_2_with_a_message(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_code(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert not (tmp_path / "journal").exists()  # nothing journaled


def test_unreachable_network_exits_2_naming_server_and_port(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("ALGOD_SERVER", "http://127.0.0.1")
    monkeypatch.setenv("ALGOD_PORT", "1")

    code = main(["show", GOOD_ID, "--app-id", "5"])

    err = capsys.readouterr().err
    assert code == 2
    assert "cannot reach algod at http://127.0.0.1 port 1" in err
    assert "fix:" in err
    assert not (tmp_path / "journal").exists()


def _exit_code(argv: list[str]) -> int:
    """main()'s return code, or argparse's exit code for usage errors."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_hash_prints_the_digests_that_tracing_records(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from algo_tracer import hashing

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("a\n1\n")
    (tmp_path / "model.bin").write_bytes(b"\0" * 10)

    assert main(["hash", "model.bin", "data", "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert lines == [f"{hashing.hash_file(tmp_path / 'model.bin')}  file       model.bin",
                     f"{hashing.hash_directory(tmp_path / 'data').digest}  directory  data"]


def test_the_manifest_or_the_bundle_names_the_experiment_when_no_id_is_given(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from algo_tracer.documents.manifest import Manifest

    monkeypatch.setenv("ALGOD_SERVER", "http://127.0.0.1")
    monkeypatch.setenv("ALGOD_PORT", "1")

    Manifest(experiment_id=GOOD_ID, name="n", owner="O", app_id=7, genesis_id="g",
             genesis_hash="h", metadata_digest="00" * 32).write(tmp_path / "manifest.json")
    (tmp_path / "bundle.json").write_text("{}")

    # Both get past choosing the experiment: to the network, and to reading the bundle.
    assert _exit_code(["show", "--manifest", "manifest.json"]) == 2
    assert "cannot reach algod at http://127.0.0.1 port 1" in capsys.readouterr().err
    assert _exit_code(["verify", "--bundle", "bundle.json", "--offline"]) == 2
    err = capsys.readouterr().err
    assert "which experiment" not in err and "bundle.json is not an algo-tracer bundle" in err


def test_the_unreachable_node_message_never_repeats_credentials_from_algod_server(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ALGOD_SERVER", "http://user:s3cret@127.0.0.1")
    monkeypatch.setenv("ALGOD_PORT", "1")

    assert main(["show", GOOD_ID, "--app-id", "5"]) == 2

    err = capsys.readouterr().err
    assert "cannot reach algod at http://127.0.0.1 port 1" in err and "s3cret" not in err
