"""The network boundary without a node: one wording of algod failures, the 404 decisions, the one
parser of ALGO_TRACER_APP_ID, and the one timeline that `show` and the web page render."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from algosdk.error import AlgodHTTPError

from algo_tracer.cli.experiment import format_timeline
from algo_tracer.errors import ConfigError, NetworkError
from algo_tracer.network.algod import algod_call, app_exists, read_box
from algo_tracer.network.indexer import find_indexer, require_indexer
from algo_tracer.network.settings import app_id_from_environment
from algo_tracer.verify.bundle import Bundle, verify_bundle
from algo_tracer.verify.report import timeline_rows

VECTORS = Path(__file__).parent / "vectors"


def _fails(exc: Exception) -> Any:
    def call(*_args: object, **_kwargs: object) -> Any:
        raise exc
    return call


def _algorand(**algod_methods: Any) -> Any:
    """An AlgorandClient stand-in whose algod answers with `algod_methods`."""
    return SimpleNamespace(client=SimpleNamespace(algod=SimpleNamespace(**algod_methods),
                                                  indexer_if_present=None))


def test_algod_failures_have_one_wording_and_name_the_fix() -> None:
    with pytest.raises(NetworkError, match=r"^algod refused its status: bad token") as refused:
        algod_call("its status", _fails(AlgodHTTPError("bad token", code=401)))
    with pytest.raises(NetworkError, match=r"^cannot reach algod for its status") as down:
        algod_call("its status", _fails(ConnectionRefusedError("refused")))
    for caught in (refused, down):
        assert "ALGOD_SERVER" in (caught.value.fix or "")
        assert caught.value.__cause__ is not None
    assert algod_call("its status", lambda: 7) == 7


def test_a_404_is_an_answer_any_other_failure_a_network_error() -> None:
    missing = _algorand(application_box_by_name=_fails(AlgodHTTPError("no box", code=404)),
                        application_info=_fails(AlgodHTTPError("no app", code=404)))
    assert read_box(missing, 5, b"k") is None
    assert app_exists(missing, 5) is False

    present = _algorand(application_box_by_name=lambda app, key: {"value": "AAE=", "round": 9},
                        application_info=lambda app: {"id": app})
    assert read_box(present, 5, b"k") == (b"\x00\x01", 9)
    assert app_exists(present, 5) is True

    broken = _algorand(application_box_by_name=_fails(AlgodHTTPError("boom", code=500)),
                       application_info=_fails(TimeoutError("slow")))
    with pytest.raises(NetworkError, match="algod refused box 6b of app 5"):
        read_box(broken, 5, b"k")
    with pytest.raises(NetworkError, match="cannot reach algod for application 5"):
        app_exists(broken, 5)


def test_without_an_indexer_verification_names_the_variables() -> None:
    algorand = _algorand()
    assert find_indexer(algorand) is None
    with pytest.raises(ConfigError, match="no Indexer is configured") as caught:
        require_indexer(algorand)
    assert "INDEXER_SERVER" in (caught.value.fix or "")


@pytest.mark.parametrize(("text", "app_id"), [
    (None, None), ("", None), ("  ", None), ("12", 12), (" 12\n", 12),
    (str(2**64 - 1), 2**64 - 1),
])
def test_algo_tracer_app_id_is_read_in_one_place(text: str | None, app_id: int | None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    if text is None:
        monkeypatch.delenv("ALGO_TRACER_APP_ID", raising=False)
    else:
        monkeypatch.setenv("ALGO_TRACER_APP_ID", text)
    assert app_id_from_environment() == app_id


@pytest.mark.parametrize("text", ["0", "-1", "1e3", "12a", "\u00b2", str(2**64), "0x10"])
def test_a_bad_algo_tracer_app_id_is_refused_with_the_fix(
        text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALGO_TRACER_APP_ID", text)
    with pytest.raises(ConfigError, match=r"ALGO_TRACER_APP_ID=.* is not an application id") \
            as caught:
        app_id_from_environment()
    assert "app id" in (caught.value.fix or "")


def test_show_and_the_web_page_render_the_same_timeline() -> None:
    from algo_tracer.web.app import timeline

    data = json.loads((VECTORS / "bundle-localnet.json").read_text())
    report = verify_bundle(Bundle.model_validate(data), offline=True)
    report.stages[1].round = None  # a stage without a round goes last

    rows = timeline_rows(report)
    assert rows[0].type == "created" and rows[-1].stage is report.stages[1]
    assert [r.round for r in rows[:-1]] == sorted(r.round or 0 for r in rows[:-1])
    web = timeline(report)
    assert [(e.type, e.round, e.txid) for e in web] == [(r.type, r.round, r.txid) for r in rows]
    printed = format_timeline(report).splitlines()[2:2 + len(rows)]
    assert ["batch" if "batch:" in line else line.split()[1] for line in printed] == [
        r.stage.label if r.stage else r.type for r in rows]
