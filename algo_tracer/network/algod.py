"""algod reads, and the one wording of an algod failure.

Every request to algod above the registry's sends goes through `algod_call`, which turns the
node's HTTP errors and an unreachable node into `NetworkError` ("algod refused ..." / "cannot
reach algod for ..."); the few answers that are not failures (a missing box or app is a 404) are
decided here once: `read_box`, `app_exists`, `approval_program`, and whether an app id names
a registry (`require_registry`).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from algokit_utils import AlgorandClient
from algokit_utils.clients.client_manager import ClientManager
from algosdk.error import AlgodHTTPError

from algo_tracer.capture import strip_url_credentials
from algo_tracer.errors import ConfigError, NetworkError
from algo_tracer.format.events import logs_registry_events

__all__ = [
    "ALGOD_ERRORS",
    "ALGOD_FIX",
    "Probe",
    "account_balance",
    "algod_call",
    "algod_error",
    "app_exists",
    "approval_program",
    "genesis",
    "last_round",
    "probe_algod",
    "public_url",
    "read_block",
    "read_box",
    "require_registry",
    "transaction_proof",
]

ALGOD_FIX = ("check ALGOD_SERVER, ALGOD_PORT and ALGOD_TOKEN (LocalNet: `algo-tracer localnet "
             "status`)")
_ARCHIVE_FIX = ("proofs need the block: use an archival node for old rounds; else check "
                "ALGOD_SERVER, ALGOD_PORT and ALGOD_TOKEN")

#: What an algod request raises when the node refuses it or cannot be reached.
ALGOD_ERRORS = (AlgodHTTPError, OSError, TimeoutError)


def algod_error(what: str, exc: BaseException, *, at: str | None = None,
                fix: str = ALGOD_FIX) -> NetworkError:
    """The `NetworkError` for an algod request about `what` that failed with `exc`.

    `at` names the server (without credentials) where the message should say which one.
    """
    where = f" at {at}" if at else ""
    if isinstance(exc, AlgodHTTPError):
        return NetworkError(f"algod{where} refused {what}: {exc}", fix=fix)
    return NetworkError(f"cannot reach algod{where} for {what}: {exc}", fix=fix)


def algod_call[T](what: str, call: Callable[[], T], *, at: str | None = None,
                  fix: str = ALGOD_FIX) -> T:
    """Run one algod request, turning transport and HTTP errors into `NetworkError`."""
    try:
        return call()
    except ALGOD_ERRORS as exc:
        raise algod_error(what, exc, at=at, fix=fix) from exc


def genesis(algorand: AlgorandClient, *, at: str | None = None,
            fix: str = ALGOD_FIX) -> tuple[str, str]:
    """The network's genesis id and base64 genesis hash, as algod reports them."""
    versions = cast(dict[str, Any],
                    algod_call("its version", algorand.client.algod.versions, at=at, fix=fix))
    return versions["genesis_id"], versions["genesis_hash_b64"]


def last_round(algorand: AlgorandClient) -> int:
    """The last round algod has."""
    status = cast(dict[str, Any], algod_call("its status", algorand.client.algod.status))
    return int(status["last-round"])


def account_balance(algorand: AlgorandClient, address: str) -> tuple[int, int]:
    """An account's balance and the minimum balance locked in it, in µALGO."""
    info = cast(dict[str, Any], algod_call(
        f"the balance of {address}", lambda: algorand.client.algod.account_info(address)))
    return int(info["amount"]), int(info["min-balance"])


def read_box(algorand: AlgorandClient, app_id: int, key: bytes) -> tuple[bytes, int] | None:
    """A box's value and the round algod read it at, or None when the box does not exist."""
    try:
        box = cast(dict[str, Any], algorand.client.algod.application_box_by_name(app_id, key))
    except ALGOD_ERRORS as exc:
        if _not_found(exc):
            return None
        raise algod_error(f"box {key.hex()} of app {app_id}", exc) from exc
    return base64.b64decode(box["value"]), int(box.get("round", 0))


def app_exists(algorand: AlgorandClient, app_id: int) -> bool:
    """Whether application `app_id` exists on algod's network (NetworkError if it cannot tell)."""
    return approval_program(algorand, app_id) is not None


def approval_program(algorand: AlgorandClient, app_id: int) -> bytes | None:
    """Application `app_id`'s approval program; None when there is no such app."""
    try:
        info = cast(dict[str, Any], algorand.client.algod.application_info(app_id))
    except ALGOD_ERRORS as exc:
        if _not_found(exc):
            return None
        raise algod_error(f"application {app_id}", exc) from exc
    return base64.b64decode((info.get("params") or {}).get("approval-program") or "")


def require_registry(algorand: AlgorandClient, app_id: int, *, where: str, fix: str) -> None:
    """ConfigError unless app `app_id` exists on `where` (a network's name) and is an
    ExperimentRegistry (`format.events.logs_registry_events`)."""
    program = approval_program(algorand, app_id)
    if program is None:
        raise ConfigError(f"application {app_id} does not exist on {where}", fix=fix)
    if not logs_registry_events(program):
        raise ConfigError(f"app {app_id} is not an ExperimentRegistry (its program cannot log "
                          "the registry's events)", fix=fix)


def _not_found(exc: BaseException) -> bool:
    return isinstance(exc, AlgodHTTPError) and exc.code == 404


def read_block(algorand: AlgorandClient, rnd: int, *, header_only: bool = False) -> bytes:
    """A block (or its header alone) as msgpack bytes."""
    kw = {"header_only": True} if header_only else {}
    algod = algorand.client.algod
    raw = algod_call(f"the block of round {rnd}",
                     lambda: algod.block_info(rnd, response_format="msgpack", **kw),
                     fix=_ARCHIVE_FIX)
    return cast(bytes, raw)


def transaction_proof(algorand: AlgorandClient, rnd: int, txid: str) -> dict[str, Any]:
    """algod's SHA-256 inclusion proof of transaction `txid` in block `rnd`."""
    algod = algorand.client.algod
    return cast(dict[str, Any], algod_call(
        f"the proof of {txid}", lambda: algod.transaction_proof(rnd, txid, hashtype="sha256"),
        fix=_ARCHIVE_FIX))


# -- status probes: report, never raise ----------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One endpoint's answer to a status request (`probe_algod`, `network.indexer.probe_indexer`).

    `error` is None when it answered; otherwise ``"<exception type>: <text>"``.
    """

    url: str | None  # without credentials
    round: int | None = None  # algod: its last round; the Indexer: the round it has reached
    error: str | None = None
    genesis_id: str | None = None  # algod only
    is_localnet: bool | None = None  # algod only, when it answered

    @property
    def ok(self) -> bool:
        return self.error is None


def public_url(address: str | None) -> str | None:
    """A server address without credentials (tokens travel in headers, never here)."""
    return strip_url_credentials(address) if address else None


def probe_algod(algorand: AlgorandClient) -> Probe:
    """Ask algod for its version and last round (one request each); never raises for the node."""
    algod = algorand.client.algod
    url = public_url(algod.algod_address)
    genesis_id = None
    try:
        genesis_id = cast(dict[str, Any], algod.versions())["genesis_id"]
        rnd = int(cast(dict[str, Any], algod.status())["last-round"])
    except (*ALGOD_ERRORS, KeyError, ValueError) as exc:
        return Probe(url, error=f"{type(exc).__name__}: {exc}", genesis_id=genesis_id)
    return Probe(url, rnd, genesis_id=genesis_id,
                 is_localnet=ClientManager.genesis_id_is_localnet(str(genesis_id)))
