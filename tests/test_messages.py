"""Messages people read: short even for huge input, pydantic errors as short lines, and an app
that is not a registry called that (not "no experiment")."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from algosdk.error import AlgodHTTPError

from algo_tracer.cli import main
from algo_tracer.documents.manifest import Manifest
from algo_tracer.errors import ConfigError, InputError, shorten
from algo_tracer.format.events import logs_registry_events
from algo_tracer.record.tracer import Tracer
from algo_tracer.verify.evidence import gather_evidence

ARC56 = (Path(__file__).parents[1] / "smart_contracts" / "artifacts" / "experiment_registry"
         / "ExperimentRegistry.arc56.json")
REGISTRY_PROGRAM = base64.b64decode(json.loads(ARC56.read_text())["byteCode"]["approval"])
OTHER_PROGRAM = bytes.fromhex("0a8101")  # #pragma version 10; pushint 1: approves anything


def test_shorten_keeps_short_text_and_names_the_length_of_long_text() -> None:
    assert shorten("abc") == "abc"
    cut = shorten("x" * 10_000)
    assert len(cut) < 120 and cut.endswith("(10000 characters)")


def test_a_refused_ten_thousand_character_name_is_not_printed_whole() -> None:
    tracer = object.__new__(Tracer)  # the name is checked before anything else is touched

    with pytest.raises(InputError) as raised:
        tracer.experiment("n" * 10_000)

    assert len(str(raised.value)) < 300 and "(10002 characters)" in str(raised.value)


def test_a_ten_thousand_character_id_is_shortened_on_the_command_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "1" * 10_000, "--app-id", "5"]) == 2

    err = capsys.readouterr().err
    assert len(err) < 600 and "decodes to" in err and "(10002 characters)" in err


def test_an_invalid_manifest_is_short_lines_without_links_or_a_repeated_cause(
        tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"experiment_id": 5, "name": "n" * 10_000}))

    with pytest.raises(InputError) as raised:
        Manifest.read(path)

    text = raised.value.diagnostics()
    assert "is not an algo-tracer manifest: experiment_id: Input should be a valid string" in text
    assert "owner: Field required" in text
    assert "https://" not in text and "cause:" not in text and "nnnnnnnnnn" not in text


def _node(program: bytes | None) -> Any:
    def application_info(app_id: int) -> dict[str, Any]:
        if program is None:
            raise AlgodHTTPError("application does not exist", code=404)
        return {"id": app_id, "params": {"approval-program": base64.b64encode(program).decode()}}

    def no_box(*_: object) -> None:
        raise AlgodHTTPError("box not found", code=404)

    algod = SimpleNamespace(
        versions=lambda: {"genesis_id": "dockernet-v1", "genesis_hash_b64": "h"},
        application_box_by_name=no_box, application_info=application_info)
    return SimpleNamespace(client=SimpleNamespace(algod=algod, indexer_if_present=None))


def test_the_registry_program_logs_every_event_and_another_app_does_not() -> None:
    assert logs_registry_events(REGISTRY_PROGRAM)
    assert not logs_registry_events(OTHER_PROGRAM)


def test_an_app_that_is_not_a_registry_is_called_that_not_no_experiment() -> None:
    with pytest.raises(ConfigError, match=r"^app 5 is not an ExperimentRegistry"):
        gather_evidence(_node(OTHER_PROGRAM), 5, bytes(32))
    with pytest.raises(ConfigError, match=r"^application 5 does not exist on dockernet-v1"):
        gather_evidence(_node(None), 5, bytes(32))

    unknown = gather_evidence(_node(REGISTRY_PROGRAM), 5, bytes(32))
    assert unknown.header is None  # a registry without this experiment: step 1 reports it


def test_the_web_page_calls_an_app_that_is_not_a_registry_an_unknown_registry_app() -> None:
    pytest.importorskip("fastapi")
    from algo_tracer.verify.cached import CachedVerifier
    from algo_tracer.web.app import _ProblemError, lookup

    with pytest.raises(_ProblemError) as raised:
        lookup(CachedVerifier(_node(OTHER_PROGRAM), indexer_timeout=1), 5,
               "7oCqawspwYBnjqKQ8tmcA7xKMXLkvdhTMFFryiFaS56n", timeout=10)

    assert raised.value.status_code == 404 and raised.value.problem.state == "unknown_app"
    assert "is not an ExperimentRegistry" in raised.value.problem.message
