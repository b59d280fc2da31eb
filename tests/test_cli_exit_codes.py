"""The CLI's exit codes are a contract: 0 verified, 1 only with a named finding, 2 for the rest.

Scripts read exit 1 as "tampering or a mismatch was found". A crash (a path the OS refuses, a
file of random bytes, an app id no node accepts) must be 2 with a message, never a traceback and
never 1. The property test drives `main` in-process with generated arguments, offline: algod is
pointed at a closed port, so whatever reaches the network boundary fails there, as exit 2.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import string
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from algo_tracer.cli import main

GOOD_ID = "7oCqawspwYBnjqKQ8tmcA7xKMXLkvdhTMFFryiFaS56n"
TOO_LONG = "a" * 300  # one path component longer than NAME_MAX (255) on Linux and macOS
BUNDLE = Path(__file__).parent / "vectors" / "bundle-localnet.json"


@pytest.fixture(autouse=True)
def _offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALGO_TRACER_DIR", str(tmp_path / "journal"))
    monkeypatch.setenv("ALGOD_SERVER", "http://127.0.0.1")
    monkeypatch.setenv("ALGOD_PORT", "1")  # nothing listens: the network boundary says exit 2
    monkeypatch.setenv("INDEXER_SERVER", "http://127.0.0.1")
    monkeypatch.setenv("INDEXER_PORT", "1")
    monkeypatch.delenv("ALGO_TRACER_APP_ID", raising=False)
    monkeypatch.delenv("ALGO_TRACER_ALGOD_SERVERS", raising=False)
    monkeypatch.delenv("ALGO_TRACER_INDEXER_SERVERS", raising=False)


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # only --help / --version may leave through argparse
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("argv", [
    ["hash", f"/tmp/{TOO_LONG}"],
    ["hash", "--json", f"{TOO_LONG}/x"],
    ["verify", "--bundle", TOO_LONG, "--offline"],
    ["verify", "--manifest", TOO_LONG],
    ["verify", "--bundle", str(BUNDLE), "--offline", "--artifacts", TOO_LONG],
    ["verify", "--bundle", ".", "--offline"],  # a directory
    ["verify", "--bundle", str(BUNDLE), "--offline", "--artifacts", "missing-dir"],
])
def test_paths_the_os_refuses_exit_2_with_a_short_message_not_a_traceback(
        argv: list[str]) -> None:
    code, out, err = run(argv)

    assert code == 2, err
    assert "Traceback" not in out + err
    assert err.startswith("error: ") and TOO_LONG not in err  # shortened, not echoed whole


def test_debug_shows_the_traceback_and_keeps_the_exit_code() -> None:
    code, _, err = run(["--debug", "hash", f"/tmp/{TOO_LONG}"])
    assert code == 2 and "Traceback" in err


def test_an_unexpected_exception_is_exit_2_never_1(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr("algo_tracer.stages.hash_local_copy", boom)
    Path("f.bin").write_bytes(b"x")

    code, out, err = run(["hash", "f.bin"])

    assert code == 2 and "Traceback" not in out + err
    assert "unexpected RuntimeError: something nobody expected" in err and "--debug" in err


def test_an_unhealthy_localnet_status_is_not_a_finding(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALGO_TRACER_LOCALNET", "native")
    monkeypatch.setenv("ALGO_TRACER_LOCALNET_REALTIME_DIR", str(tmp_path / "net"))
    monkeypatch.setattr("algo_tracer.localnet.network.get_json", lambda *a, **k: None)

    assert run(["localnet", "status", "--block-time", "real"])[0] == 2


def test_a_usage_error_is_exit_2_through_the_same_map() -> None:
    code, out, err = run(["verify", "--no-such-flag"])
    assert code == 2 and out == "" and "unrecognized arguments: --no-such-flag" in err


# -- the property -------------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=40)
_ids = st.one_of(st.just(GOOD_ID), _text, st.text(string.hexdigits, min_size=64, max_size=64),
                 st.text("123456789ABCDEFGHJKLMNPQRSTUVWXYZabc", min_size=1, max_size=3000))
_app_ids = st.one_of(st.integers(-2**65, 2**65).map(str), _text)
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
_contents = st.one_of(st.binary(max_size=300), _json.map(lambda v: json.dumps(v).encode()),
                      st.just(BUNDLE.read_bytes()))
_names = st.one_of(st.just("f.json"), st.just(TOO_LONG), st.just(f"{TOO_LONG}/x"),
                   st.just("missing.json"), st.just("."),
                   st.text(string.ascii_letters + string.digits + "._-", min_size=1,
                           max_size=30).filter(lambda s: s not in (".", "..")))


@st.composite
def _argvs(draw: st.DrawFn) -> list[str]:
    path = draw(_names)
    command = draw(st.sampled_from(["hash", "verify-bundle", "verify-manifest", "verify-id",
                                    "show", "export", "artifacts", "resume-bad", "random"]))
    extra = ["--json"] if draw(st.booleans()) else []
    if command == "hash":
        return ["hash", "-q", path, *extra]
    if command == "verify-bundle":
        return ["verify", "-q", "--bundle", path, "--offline", *extra]
    if command == "verify-manifest":
        return ["verify", "-q", "--manifest", path, *extra]
    if command == "verify-id":
        return ["verify", "-q", draw(_ids), "--app-id", draw(_app_ids), *extra]
    if command == "show":
        return ["show", "-q", draw(_ids), "--app-id", draw(_app_ids)]
    if command == "export":
        return ["export", "-q", draw(_ids), "--app-id", draw(_app_ids), "-o", path]
    if command == "artifacts":
        return ["verify", "-q", "--bundle", str(BUNDLE), "--offline", "--artifacts", path, *extra]
    if command == "resume-bad":
        return ["resume", draw(_ids).replace("1", "0")]  # '0' is never base58: refused offline
    return draw(st.lists(_text, max_size=5).filter(_harmless))


def _harmless(argv: list[str]) -> bool:
    """Random words, but never a command that would serve or start something, nor --debug
    (argparse takes any prefix of it), which prints a traceback on purpose."""
    if argv and argv[0] in ("localnet", "demo", "serve"):
        return False
    return not any(len(a) > 2 and ("--debug".startswith(a) or "--verbose".startswith(a))
                   for a in argv)


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        before = Path.cwd()
        os.chdir(d)
        try:
            yield Path(d)
        finally:
            os.chdir(before)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=_argvs(), content=_contents)
def test_any_arguments_exit_0_1_or_2_without_a_traceback(argv: list[str], content: bytes) -> None:
    with _scratch() as d:
        (d / "f.json").write_bytes(content)

        code, out, err = run(argv)

    assert code in (0, 1, 2)
    assert "Traceback" not in out + err
    if code == 1:  # only with a finding, named on a FAIL line
        assert "FAIL" in out + err, (argv, out, err)
    if code == 2 and "--json" in argv:
        assert json.loads(out.strip().splitlines()[-1])["exit_code"] == 2


@pytest.mark.parametrize("argv", [
    ["verify", GOOD_ID, "--app-id", "5", "--json"],  # the network boundary: algod unreachable
    ["verify", "--bundle", "missing.json", "--offline", "--json"],
    ["hash", "--json", "missing.bin"],
    ["verify", "--json", "--app-id", "-5", GOOD_ID],  # refused by the parser
])
def test_json_prints_an_error_object_on_stdout_on_exit_2(argv: list[str]) -> None:
    code, out, err = run(argv)

    assert code == 2 and err.startswith("error: ")
    document = json.loads(out)
    assert document["ok"] is False and document["exit_code"] == 2
    assert document["error"]["message"] and document["error"]["type"]
    assert document["error"]["message"] in err
