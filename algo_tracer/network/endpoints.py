"""Several algod and Indexer endpoints of one network, used in order, failing over when one stops.

    ALGO_TRACER_ALGOD_SERVERS=https://node-a.example:443,https://node-b.example:443
    ALGO_TRACER_INDEXER_SERVERS=https://idx-a.example:443,https://idx-b.example:443

Each list is tried in order and the client stays on the endpoint that answered last, so one
outage stops nothing: a request that finds its endpoint unreachable (connection refused or
reset, a time-out; for algod also 502/503/504) is sent to the next one. That is safe for every
request we make, sends included: a signed group has fixed transaction ids, so the same bytes can
never land twice, and the contract's expected indexes refuse a second landing of a re-signed
write. (The SDK keeps no status code of an Indexer's HTTP error, so an Indexer that answers with
an error is taken at its word.)

Every endpoint must serve the same network: its genesis hash is compared with the first answering
endpoint's before it serves anything, and one of another network is refused (ConfigError at start,
skipped with a warning when it first answers later). `served` counts the requests each endpoint
answered, and `failovers` lists each switch with its reason, so a run can say which endpoint
served what. ALGOD_TOKEN / INDEXER_TOKEN apply to every endpoint of their list.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from algokit_utils import AlgorandClient
from algosdk.error import AlgodHTTPError, IndexerHTTPError
from algosdk.v2client.algod import AlgodClient
from algosdk.v2client.indexer import IndexerClient

from algo_tracer.capture import strip_url_credentials
from algo_tracer.errors import ConfigError, NetworkError
from algo_tracer.network.indexer import find_indexer

__all__ = [
    "ALGOD_SERVERS_VAR",
    "INDEXER_SERVERS_VAR",
    "EndpointLog",
    "FailoverAlgodClient",
    "FailoverIndexerClient",
    "parse_endpoints",
    "served_counts",
]

ALGOD_SERVERS_VAR = "ALGO_TRACER_ALGOD_SERVERS"
INDEXER_SERVERS_VAR = "ALGO_TRACER_INDEXER_SERVERS"

#: HTTP answers that say "this endpoint, not the request": try the next one.
_UNAVAILABLE = {502, 503, 504}

_log = logging.getLogger("algo_tracer.network")


def parse_endpoints(variable: str, text: str) -> list[str]:
    """The URLs of a comma-separated endpoint list, checked; ConfigError names the variable."""
    urls = [part.strip().rstrip("/") for part in text.split(",") if part.strip()]
    if not urls:
        raise ConfigError(f"{variable} is set but names no endpoint",
                          fix=f"give comma-separated URLs, e.g. {variable}="
                          "https://node-a.example:443,https://node-b.example:443, or unset it")
    for url in urls:
        parts = urlsplit(url)
        try:
            port_ok = parts.port is None or 0 < parts.port < 65536
        except ValueError:
            port_ok = False
        if parts.scheme not in {"http", "https"} or not parts.hostname or not port_ok:
            raise ConfigError(f"{variable} has a malformed endpoint "
                              f"{strip_url_credentials(url)!r}",
                              fix="each endpoint is http(s)://host[:port][/path], separated by "
                              "commas")
    if len(set(urls)) != len(urls):
        raise ConfigError(f"{variable} names an endpoint twice",
                          fix="list each endpoint once, in the order they should be tried")
    return urls


@dataclass
class EndpointLog:
    """Which endpoint served what: requests answered per endpoint, and each switch."""

    served: Counter[str] = field(default_factory=Counter)
    failovers: list[tuple[datetime, str, str, str]] = field(default_factory=list)


class _Failover:
    """The endpoint choice shared by the algod and Indexer clients (thread-safe)."""

    def __init__(self, kind: str, urls: list[str], clients: list[Any],
                 genesis_of: Any) -> None:
        self.kind = kind
        self.urls = urls
        self.shown = [strip_url_credentials(u) for u in urls]
        self.clients = clients
        self._genesis_of = genesis_of
        self._lock = threading.Lock()
        self.current = 0
        self.genesis_hash: str | None = None
        self._checked: set[int] = set()
        self._refused: set[int] = set()
        self.log = EndpointLog()

    def check_all(self) -> None:
        """Compare every answering endpoint's genesis; refuse one of another network."""
        for i in range(len(self.urls)):
            try:
                self._check(i)
            except (AlgodHTTPError, IndexerHTTPError, urllib.error.URLError, OSError,
                    TimeoutError, KeyError) as exc:  # down at start: checked when it answers
                _log.warning("%s endpoint %s is not answering (%s); it is checked when it "
                             "answers", self.kind, self.shown[i], _reason(exc))

    def _check(self, i: int) -> None:
        if i in self._checked:
            return
        found = self._genesis_of(self.clients[i])
        if self.genesis_hash is None:
            self.genesis_hash = found
        elif found != self.genesis_hash:
            self._refused.add(i)
            raise ConfigError(f"{self.kind} endpoint {self.shown[i]} serves another network "
                              f"(genesis hash {found}, not {self.genesis_hash})",
                              fix="list only endpoints of one network")
        self._checked.add(i)

    def call(self, request: Any) -> Any:
        with self._lock:
            start = self.current
        errors: list[str] = []
        last: BaseException | None = None
        for step in range(len(self.urls)):
            i = (start + step) % len(self.urls)
            if i in self._refused:
                continue
            try:
                if self.genesis_hash is None or i not in self._checked:
                    self._check(i)
                result = request(self.clients[i])
            except ConfigError as exc:
                _log.warning("%s", exc.message)
                errors.append(f"{self.shown[i]}: another network")
                continue
            except AlgodHTTPError as exc:
                if exc.code not in _UNAVAILABLE:
                    raise
                last = exc
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                last = exc
            else:
                with self._lock:
                    if i != self.current:
                        self.log.failovers.append((datetime.now(UTC), self.shown[self.current],
                                                   self.shown[i], "; ".join(errors)))
                        _log.warning("%s: %s stopped answering (%s); now using %s", self.kind,
                                     self.shown[self.current], "; ".join(errors), self.shown[i])
                        self.current = i
                    self.log.served[self.shown[i]] += 1
                return result
            errors.append(f"{self.shown[i]}: {_reason(last)}")
        if last is None:
            raise NetworkError(f"no {self.kind} endpoint of this network is listed",
                               fix="list endpoints of one network only")
        raise last


def served_counts(algorand: AlgorandClient) -> dict[str, dict[str, int]]:
    """Requests each listed endpoint has answered so far, by service ("algod", "indexer");
    empty for a client without endpoint lists."""
    out: dict[str, dict[str, int]] = {}
    for service, client in (("algod", algorand.client.algod),
                            ("indexer", find_indexer(algorand))):
        failover = getattr(client, "failover", None)
        if isinstance(failover, _Failover):
            out[service] = dict(failover.log.served)
    return out


def _reason(exc: BaseException | None) -> str:
    if isinstance(exc, AlgodHTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def _algod_genesis(client: AlgodClient) -> str:
    versions = AlgodClient.versions(client)
    assert isinstance(versions, dict)
    return str(versions["genesis_hash_b64"])


def _indexer_genesis(client: IndexerClient) -> str:
    # The Indexer's health names the network only by genesis id; its first block header names
    # the genesis hash, which is what must match.
    block = IndexerClient.block_info(client, 0, header_only=True)
    return str(block["genesis-hash"])


class FailoverAlgodClient(AlgodClient):
    """An AlgodClient over several endpoints of one network (see the module docstring)."""

    def __init__(self, token: str, urls: list[str], headers: dict[str, str] | None = None
                 ) -> None:
        super().__init__(token, urls[0], headers)
        self.failover = _Failover("algod", urls, [AlgodClient(token, u, headers) for u in urls],
                                  _algod_genesis)

    def algod_request(self, method: str, requrl: str, params: Any = None,
                      data: bytes | None = None, headers: dict[str, str] | None = None,
                      response_format: str | None = "json", timeout: int | None = 30) -> Any:
        return self.failover.call(lambda c: AlgodClient.algod_request(
            c, method, requrl, params, data, headers, response_format, timeout))


class FailoverIndexerClient(IndexerClient):
    """An IndexerClient over several endpoints of one network (see the module docstring)."""

    def __init__(self, token: str, urls: list[str], headers: dict[str, str] | None = None
                 ) -> None:
        super().__init__(token, urls[0], headers)  # type: ignore[no-untyped-call]  # algosdk
        self.failover = _Failover("indexer", urls,
                                  [IndexerClient(token, u, headers) for u in urls],
                                  _indexer_genesis)

    def indexer_request(self, method: str, requrl: str, params: Any = None, data: Any = None,
                        headers: dict[str, str] | None = None, timeout: int = 30) -> Any:
        return self.failover.call(lambda c: IndexerClient.indexer_request(
            c, method, requrl, params, data, headers, timeout))
