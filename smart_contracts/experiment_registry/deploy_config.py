"""Idempotent deployment of the ExperimentRegistry (`python -m smart_contracts deploy`).

`deploy_registry` is the deploy itself: it returns the app id and raises `DeployError` (this
module's own exception; smart_contracts imports nothing from algo_tracer) on any failure.
`deploy()` is what `python -m smart_contracts deploy` and `algokit project deploy` run: the
network comes from ALGOD_* / INDEXER_* (AlgorandClient.from_environment(); LocalNet when unset)
and the deployer from DEPLOYER_MNEMONIC, which on LocalNet may be left out: a KMD wallet named
DEPLOYER is then created and funded. algo-tracer deploys through `deploy_registry` too
(`algo-tracer deploy`, and the first use on LocalNet: algo_tracer.network.deploy).

Re-running is safe. The factory looks the app up by creator and name (through the Indexer) and
does nothing when the deployed program is unchanged. The Indexer trails algod by a few rounds, so
the caller of `deploy_registry` first waits until the Indexer has caught up with algod's current
round (`deploy()` with `wait_for_indexer`, algo-tracer with its own Indexer wait); otherwise a
deploy run right after another one misses the app it just created and creates a second one.

The app is immutable, so a changed program can never update it: it becomes a *new* registry
app, while experiments recorded in the old app stay there and remain verifiable under the old
app id. On LocalNet that happens silently (the edit-deploy loop); elsewhere it must be asked for
with REGISTRY_ON_UPDATE=append, otherwise deploy stops (REGISTRY_ON_UPDATE=fail is the default
off LocalNet). The app has no global or local state, so a schema break cannot happen and
on_schema_break is Fail.

Finally the app account is topped up to the 100,000 µA account minimum balance; without it the
first create_experiment would fail, since callers' payments only cover their own boxes.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Literal, cast

from algokit_utils import AlgoAmount, AlgorandClient, OnSchemaBreak, OnUpdate
from algosdk.error import AlgodHTTPError, IndexerHTTPError

logger = logging.getLogger(__name__)

ON_UPDATE_ENV = "REGISTRY_ON_UPDATE"
_ON_UPDATE_CHOICES = {"append": OnUpdate.AppendApp, "fail": OnUpdate.Fail}
#: What algod, KMD and the Indexer raise when they cannot be reached or refuse a request
#: (urllib's URLError is an OSError).
_UNREACHABLE = (OSError, TimeoutError, AlgodHTTPError, IndexerHTTPError)

#: The kinds of `DeployError`, for callers that translate it into errors of their own.
DeployFailure = Literal["unreachable", "underfunded", "program changed", "setting", "refused"]


class DeployError(Exception):
    """The registry could not be deployed; the message says why, `reason` which kind of failure:

    * "unreachable": algod, KMD or the Indexer did not answer, or the Indexer lags behind algod;
    * "underfunded": the deployer cannot pay the fees and the app account's minimum balance;
    * "program changed": the deployer's registry app runs another program, and the policy
      (REGISTRY_ON_UPDATE) is "fail";
    * "setting": REGISTRY_ON_UPDATE, DEPLOYER_MNEMONIC or INDEXER_* cannot be used as set;
    * "refused": the network refused the deploy for another reason.
    """

    def __init__(self, message: str, *, reason: DeployFailure) -> None:
        super().__init__(message)
        self.reason: DeployFailure = reason


def on_update_policy(*, is_localnet: bool, choice: str | None) -> OnUpdate:
    """What to do when the program changed: `choice` from REGISTRY_ON_UPDATE, else by network."""
    if choice is None:
        choice = "append" if is_localnet else "fail"
    try:
        return _ON_UPDATE_CHOICES[choice]
    except KeyError:
        raise DeployError(f"{ON_UPDATE_ENV} must be 'append' or 'fail', got {choice!r}",
                          reason="setting") from None


def is_localnet(algorand: AlgorandClient) -> bool:
    """Whether algod serves a LocalNet (DeployError "unreachable" when it does not answer)."""
    try:
        return algorand.client.is_localnet()
    except _UNREACHABLE as exc:
        server = os.environ.get("ALGOD_SERVER", "LocalNet (http://localhost:4001)")
        raise DeployError(f"cannot reach the node at {server}: {getattr(exc, 'reason', exc)}",
                          reason="unreachable") from exc


def deployer_from_environment(algorand: AlgorandClient) -> str:
    """The deployer's address, its signer registered with `algorand`.

    DEPLOYER_MNEMONIC, else on LocalNet a KMD wallet named DEPLOYER (created and funded from the
    LocalNet dispenser on first use). The mnemonic's words never appear in an error.
    """
    words = os.environ.get("DEPLOYER_MNEMONIC", "").strip()
    if words:
        try:
            return algorand.account.from_mnemonic(mnemonic=words).address
        except Exception:  # algosdk raises assorted errors for bad words; never echo them
            raise DeployError("DEPLOYER_MNEMONIC is not a valid 25-word Algorand mnemonic",
                              reason="setting") from None
    if not is_localnet(algorand):
        raise DeployError("no deployer account: DEPLOYER_MNEMONIC is not set",
                          reason="setting")
    try:
        return algorand.account.from_environment("DEPLOYER").address
    except _UNREACHABLE as exc:
        raise DeployError(f"cannot reach KMD for the LocalNet wallet DEPLOYER: {exc}",
                          reason="unreachable") from exc


def wait_for_indexer(algorand: AlgorandClient, *, timeout: float = 60.0,
                     poll: float = 0.1, unreachable_timeout: float = 3.0) -> None:
    """Block until the Indexer has ingested algod's current round (DeployError if it lags).

    The factory's app lookup (creator -> apps -> creation note) reads the Indexer only. A lookup
    that runs while the Indexer is still behind the round of an earlier deploy does not see that
    app and deploys a duplicate, which is what two back-to-back deploys did before this wait.
    This is `deploy()`'s wait; algo-tracer waits with its own (algo_tracer.network.indexer).
    """
    what = "cannot look up the deployed registry"
    indexer = algorand.client.indexer_if_present
    if indexer is None:
        raise DeployError(f"{what}: no Indexer is configured (INDEXER_SERVER, INDEXER_PORT, "
                          "INDEXER_TOKEN)", reason="setting")
    try:
        status = cast(dict[str, Any], algorand.client.algod.status())
        target = int(status["last-round"])
    except _UNREACHABLE as exc:
        raise DeployError(f"{what}: algod's status could not be read: {exc}",
                          reason="unreachable") from exc
    started = time.monotonic()
    indexer_round = -1
    while True:
        try:
            indexer_round = int(indexer.health().get("round", -1))
        except _UNREACHABLE as exc:
            if time.monotonic() > started + unreachable_timeout:
                raise DeployError(f"{what}: the Indexer could not be reached: {exc}",
                                  reason="unreachable") from exc
        if indexer_round >= target:
            return
        if time.monotonic() > started + timeout:
            raise DeployError(f"{what}: the Indexer is at round {indexer_round}, algod at "
                              f"{target}, after {timeout:.0f} s", reason="unreachable")
        time.sleep(poll)


def deploy_registry(algorand: AlgorandClient, deployer: str, on_update: OnUpdate) -> int:
    """Deploy (or find) the registry created by `deployer`, fund its account minimum, and
    return its app id. Raises `DeployError`.

    The caller waits for the Indexer first (see the module docstring), and has registered
    `deployer`'s signer with `algorand` (e.g. `deployer_from_environment`).
    """
    # Imported here so this module loads before the first build has generated the client.
    from smart_contracts.artifacts.experiment_registry.experiment_registry_client import (
        ExperimentRegistryFactory,
    )

    try:
        factory = algorand.client.get_typed_app_factory(
            ExperimentRegistryFactory, default_sender=deployer
        )
        client, result = factory.deploy(on_update=on_update, on_schema_break=OnSchemaBreak.Fail)
        funded = algorand.account.ensure_funded(
            account_to_fund=client.app_address,
            dispenser_account=deployer,
            min_spending_balance=AlgoAmount.from_micro_algo(0),
        )
    except Exception as exc:  # algokit-utils raises bare Exception/ValueError for refusals
        raise DeployError(f"deploying the ExperimentRegistry failed: {exc}",
                          reason=_failure(exc)) from exc
    if funded is not None:
        logger.info("funded app account with %s µA", funded.amount_funded.micro_algo)
    logger.info(
        "ExperimentRegistry %s: app id %d, address %s (deployer %s)",
        result.operation_performed.name,
        client.app_id,
        client.app_address,
        deployer,
    )
    return client.app_id


def _failure(exc: Exception) -> DeployFailure:
    text = str(exc)
    if isinstance(exc, _UNREACHABLE) and not isinstance(exc, AlgodHTTPError | IndexerHTTPError):
        return "unreachable"
    if "overspend" in text or ("balance" in text and "below min" in text):
        return "underfunded"
    if "Update detected" in text or "Schema break detected" in text:
        return "program changed"
    return "refused"


def deploy() -> int:
    """`python -m smart_contracts deploy`: deploy (or find) the registry on the network the
    environment names and fund its account; returns the app id, exits with the reason if not."""
    try:
        algorand = AlgorandClient.from_environment()
        deployer = deployer_from_environment(algorand)
        on_update = on_update_policy(is_localnet=is_localnet(algorand),
                                     choice=os.environ.get(ON_UPDATE_ENV))
        wait_for_indexer(algorand)
        return deploy_registry(algorand, deployer, on_update)
    except DeployError as exc:
        raise SystemExit(str(exc)) from exc
