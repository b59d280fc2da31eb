"""Endpoint lists and failover (algo_tracer.network.endpoints), offline.

The endpoint choice (`_Failover`) is exercised with stand-in clients of our own; the real clients
are exercised on closed loopback ports here and against the real node in
tests/localnet/test_endpoints.py.
"""

from __future__ import annotations

import socket
import urllib.error

import pytest
from algosdk.error import AlgodHTTPError

from algo_tracer.errors import ConfigError
from algo_tracer.network.endpoints import (
    ALGOD_SERVERS_VAR,
    FailoverAlgodClient,
    _Failover,
    parse_endpoints,
)
from algo_tracer.network.settings import client_from_environment


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Node:
    """A stand-in endpoint: answers with its genesis, or fails the way a node can."""

    def __init__(self, genesis: str = "G", fail: BaseException | None = None) -> None:
        self.genesis = genesis
        self.fail = fail
        self.calls = 0

    def ask(self) -> str:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return f"answer from {self.genesis}"


def _failover(*nodes: Node) -> _Failover:
    return _Failover("algod", [f"http://node{i}:4001" for i in range(len(nodes))], list(nodes),
                     lambda node: node.genesis)


def test_a_list_is_split_on_commas_and_trailing_slashes_dropped() -> None:
    assert parse_endpoints("V", " https://a.example:443/ , http://127.0.0.1:4001") == [
        "https://a.example:443", "http://127.0.0.1:4001"]


@pytest.mark.parametrize("text", ["a.example:443", "ftp://a.example", "https://", "http://a:99999",
                                  "http://a:port"])
def test_a_malformed_endpoint_is_refused_naming_the_variable(text: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_endpoints(ALGOD_SERVERS_VAR, f"http://ok.example,{text}")
    assert ALGOD_SERVERS_VAR in err.value.message and "malformed" in err.value.message
    assert "http(s)://host[:port]" in (err.value.fix or "")


def test_an_empty_or_repeating_list_is_refused() -> None:
    with pytest.raises(ConfigError, match="names no endpoint"):
        parse_endpoints("V", " , ")
    with pytest.raises(ConfigError, match="twice"):
        parse_endpoints("V", "http://a:1,http://a:1")


def test_credentials_in_a_malformed_endpoint_are_not_shown() -> None:
    with pytest.raises(ConfigError) as err:
        parse_endpoints("V", "ftp://user:s3cret@a.example")
    assert "s3cret" not in str(err.value)


def test_the_first_answering_endpoint_serves_and_stays_chosen() -> None:
    down = Node(fail=urllib.error.URLError(ConnectionRefusedError(111, "refused")))
    up = Node()
    f = _failover(down, up)
    assert f.call(lambda n: n.ask()) == "answer from G"
    assert f.call(lambda n: n.ask()) == "answer from G"
    assert (down.calls, up.calls) == (1, 2)  # the dead one is not asked again once skipped
    assert f.log.served == {"http://node1:4001": 2}
    (_when, old, new, reason) = f.log.failovers[0]
    assert (old, new) == ("http://node0:4001", "http://node1:4001") and "refused" in reason


@pytest.mark.parametrize("code", [502, 503, 504])
def test_an_unavailable_answer_fails_over(code: int) -> None:
    f = _failover(Node(fail=AlgodHTTPError("busy", code)), Node(genesis="G"))
    assert f.call(lambda n: n.ask()) == "answer from G"


def test_a_refusal_of_the_request_itself_is_not_retried_elsewhere() -> None:
    # 400 is the node judging the request (a rejected transaction): another node would judge the
    # same, and the caller must see that answer.
    second = Node()
    f = _failover(Node(fail=AlgodHTTPError("logic eval error", 400)), second)
    with pytest.raises(AlgodHTTPError, match="logic eval"):
        f.call(lambda n: n.ask())
    assert second.calls == 0


def test_an_endpoint_of_another_network_is_refused_at_start() -> None:
    f = _failover(Node(genesis="G"), Node(genesis="OTHER"))
    with pytest.raises(ConfigError, match="another network") as err:
        f.check_all()
    assert "http://node1:4001" in err.value.message


def test_an_endpoint_of_another_network_is_never_used_later() -> None:
    first = Node(genesis="G")
    other = Node(genesis="OTHER")
    f = _failover(first, other)
    f.check_all = lambda: None  # type: ignore[method-assign]  # as if "other" was down at start
    assert f.call(lambda n: n.ask()) == "answer from G"
    first.fail = TimeoutError("timed out")
    with pytest.raises(TimeoutError):
        f.call(lambda n: n.ask())
    assert other.calls == 0  # its genesis was read, and it was refused before serving


def test_when_every_endpoint_is_down_the_last_error_is_raised() -> None:
    f = _failover(Node(fail=TimeoutError("a")), Node(fail=OSError("b")))
    with pytest.raises(OSError, match="b"):
        f.call(lambda n: n.ask())


def test_real_clients_on_closed_ports_raise_a_transport_error() -> None:
    client = FailoverAlgodClient("", [f"http://127.0.0.1:{_closed_port()}",
                                      f"http://127.0.0.1:{_closed_port()}"])
    with pytest.raises((urllib.error.URLError, OSError)):
        client.status()


def test_the_environment_list_builds_a_failover_client(monkeypatch: pytest.MonkeyPatch) -> None:
    urls = f"http://127.0.0.1:{_closed_port()},http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv(ALGOD_SERVERS_VAR, urls)
    algorand = client_from_environment()  # endpoints down at start: warned, checked later
    assert isinstance(algorand.client.algod, FailoverAlgodClient)
    assert algorand.client.algod.failover.urls == urls.split(",")


def test_a_malformed_environment_list_is_refused_before_anything_is_sent(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALGOD_SERVERS_VAR, "http://127.0.0.1:4001,not a url")
    with pytest.raises(ConfigError, match=ALGOD_SERVERS_VAR):
        client_from_environment()
