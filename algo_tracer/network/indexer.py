"""Indexer reads that verification depends on: complete paginated searches and catch-up waits.

An Indexer answers from its own database, which trails algod by a few rounds (more after an idle
period on a DevMode network). A verifier that reads too early would see records as missing, so
every verification first waits until the Indexer has reached the round it needs.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

from algokit_utils import AlgorandClient
from algosdk.error import AlgodHTTPError, IndexerHTTPError
from algosdk.v2client.algod import AlgodClient
from algosdk.v2client.indexer import IndexerClient

from algo_tracer.errors import ConfigError, NetworkError
from algo_tracer.network.algod import Probe, public_url

PAGE_LIMIT = 1000  # the Indexer's default page size; its maximum is operator-configured

_HINT = ("check `algo-tracer localnet status` on LocalNet (conduit feeds the indexer), or the "
         "indexer configured through INDEXER_SERVER/INDEXER_PORT/INDEXER_TOKEN")


def find_indexer(algorand: AlgorandClient) -> IndexerClient | None:
    """The configured Indexer's client, or None when no Indexer is configured."""
    return algorand.client.indexer_if_present


def require_indexer(algorand: AlgorandClient, *,
                    needed_by: str = "verification needs one") -> IndexerClient:
    """The configured Indexer's client; `ConfigError` saying what needs it when there is none."""
    indexer = find_indexer(algorand)
    if indexer is None:
        raise ConfigError(f"no Indexer is configured, and {needed_by}",
                          fix="set INDEXER_SERVER, INDEXER_PORT and INDEXER_TOKEN")
    return indexer


def indexer_call[T](what: str, call: Callable[[], T]) -> T:
    """Run one Indexer request, turning transport and HTTP errors into `NetworkError`."""
    try:
        return call()
    except IndexerHTTPError as exc:
        raise NetworkError(f"the indexer refused {what}: {exc}", fix=_HINT) from exc
    except (OSError, TimeoutError) as exc:
        raise NetworkError(f"the indexer could not be reached for {what}: {exc}",
                           fix=_HINT) from exc


def iter_transactions(indexer: IndexerClient, **filters: Any) -> Iterator[dict[str, Any]]:
    """Every transaction matching `filters` (search_transactions keywords), all pages."""
    yield from _pages(indexer.search_transactions, "transactions", "transaction search", filters)


def iter_application_logs(indexer: IndexerClient, app_id: int,
                          **filters: Any) -> Iterator[dict[str, Any]]:
    """Every log entry of an application (ARC-28 events and ABI returns), all pages."""
    yield from _pages(lambda **kw: indexer.application_logs(app_id, **kw), "log-data",
                      f"logs of application {app_id}", filters)


def iter_application_boxes(indexer: IndexerClient, app_id: int) -> Iterator[bytes]:
    """Names of every box of an application, all pages (ascending)."""
    import base64

    for box in _pages(lambda **kw: indexer.application_boxes(app_id, **kw), "boxes",
                      f"boxes of application {app_id}", {}):
        yield base64.b64decode(box["name"])


def _pages(search: Callable[..., dict[str, Any]], key: str, what: str,
           filters: dict[str, Any]) -> Iterator[dict[str, Any]]:
    next_token: str | None = None
    while True:
        page = indexer_call(
            what, functools.partial(search, limit=PAGE_LIMIT, next_page=next_token, **filters))
        items = page.get(key) or []
        yield from items
        next_token = page.get("next-token")
        if not next_token or not items:
            return


def wait_for_round(indexer: IndexerClient, target_round: int, *,
                   algod: AlgodClient | None = None, timeout: float = 60.0, poll: float = 0.05,
                   unreachable_timeout: float = 3.0,
                   on_behind: Callable[[int], None] | None = None) -> int:
    """Block until the Indexer has ingested `target_round`; returns the Indexer's round.

    `on_behind` is called once, with the Indexer's round, if it has to be waited for.

    Raises `NetworkError` naming the component that lags: algod (the round does not exist yet), or
    the indexer pipeline (conduit and the indexer behind algod). An indexer that does not answer
    at all for `unreachable_timeout` seconds is reported at once: it is down, not behind.
    """
    started = time.monotonic()
    deadline = started + timeout
    indexer_round = -1
    while True:
        try:
            health = indexer.health()
            indexer_round = int(health.get("round", -1))
        except (IndexerHTTPError, OSError, TimeoutError) as exc:
            if time.monotonic() > min(deadline, started + unreachable_timeout):
                raise NetworkError(f"the indexer could not be reached: {exc}",
                                   fix=_HINT) from exc
        else:
            if indexer_round >= target_round:
                return indexer_round
            if on_behind is not None:
                on_behind(indexer_round)
                on_behind = None
        if time.monotonic() > deadline:
            break
        time.sleep(poll)
    algod_round = _algod_round(algod)
    if algod_round is not None and algod_round < target_round:
        raise NetworkError(
            f"algod is at round {algod_round} and has not produced round {target_round} "
            f"after {timeout:.0f} s", fix="check that algod is running and producing blocks")
    behind = "" if algod_round is None else f", {algod_round - indexer_round} rounds behind algod"
    raise NetworkError(
        f"the indexer is at round {indexer_round}{behind}: it did not reach round {target_round} "
        f"within {timeout:.0f} s", fix=_HINT)


def wait_for_indexer(algorand: AlgorandClient, target_round: int, *, timeout: float = 60.0,
                     on_behind: Callable[[int], None] | None = None) -> IndexerClient:
    """The configured Indexer (`require_indexer`) once it has reached `target_round`.

    `wait_for_round` with algod's round to name the lagging component.
    """
    indexer = require_indexer(algorand)
    wait_for_round(indexer, target_round, algod=algorand.client.algod, timeout=timeout,
                   on_behind=on_behind)
    return indexer


def probe_indexer(algorand: AlgorandClient) -> Probe | None:
    """Ask the Indexer for its round (one request); None when no Indexer is configured."""
    indexer = find_indexer(algorand)
    if indexer is None:
        return None
    url = public_url(indexer.indexer_address)
    try:
        return Probe(url, int(indexer.health()["round"]))
    except (IndexerHTTPError, OSError, TimeoutError, KeyError, ValueError) as exc:
        return Probe(url, error=f"{type(exc).__name__}: {exc}")


def _algod_round(algod: AlgodClient | None) -> int | None:
    if algod is None:
        return None
    try:
        return int(cast(dict[str, Any], algod.status())["last-round"])
    except (AlgodHTTPError, OSError, TimeoutError, KeyError):
        return None
