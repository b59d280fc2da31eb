"""Idempotent deployment of the ExperimentRegistry (`python -m smart_contracts deploy`).

The network comes from ALGOD_* / INDEXER_* (AlgorandClient.from_environment(); LocalNet when
unset) and the deployer from DEPLOYER_MNEMONIC, which on LocalNet may be left out: a KMD wallet
named DEPLOYER is then created and funded.

Re-running is safe. The factory looks the app up by creator and name (through the Indexer) and
does nothing when the deployed program is unchanged. The Indexer trails algod by a few rounds, so
the lookup first waits until the Indexer has caught up with algod's current round; otherwise a
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
import urllib.error
from typing import TYPE_CHECKING

from algokit_utils import (
    AlgoAmount,
    AlgorandClient,
    AppFactoryDeployResult,
    OnSchemaBreak,
    OnUpdate,
)

from algo_tracer.errors import NetworkError
from algo_tracer.network.indexer import wait_for_round

if TYPE_CHECKING:
    from smart_contracts.artifacts.experiment_registry.experiment_registry_client import (
        ExperimentRegistryClient,
    )

logger = logging.getLogger(__name__)

ON_UPDATE_ENV = "REGISTRY_ON_UPDATE"
_ON_UPDATE_CHOICES = {"append": OnUpdate.AppendApp, "fail": OnUpdate.Fail}


def on_update_policy(*, is_localnet: bool, choice: str | None) -> OnUpdate:
    """What to do when the program changed: `choice` from REGISTRY_ON_UPDATE, else by network."""
    if choice is None:
        choice = "append" if is_localnet else "fail"
    try:
        return _ON_UPDATE_CHOICES[choice]
    except KeyError:
        raise SystemExit(f"{ON_UPDATE_ENV} must be 'append' or 'fail', got {choice!r}") from None


def wait_for_indexer(algorand: AlgorandClient) -> None:
    """Block until the Indexer has ingested algod's current round (NetworkError if it lags).

    The factory's app lookup (creator -> apps -> creation note) reads the Indexer only. A lookup
    that runs while the Indexer is still behind the round of an earlier deploy does not see that
    app and deploys a duplicate, which is what two back-to-back deploys did before this wait.
    """
    algod = algorand.client.algod
    wait_for_round(algorand.client.indexer, int(algod.status()["last-round"]), algod=algod)


def deploy_registry(
    algorand: AlgorandClient, deployer: str, on_update: OnUpdate
) -> tuple[ExperimentRegistryClient, AppFactoryDeployResult]:
    """Deploy (or find) the registry created by `deployer` and fund its account minimum."""
    # Imported here so this module loads before the first build has generated the client.
    from smart_contracts.artifacts.experiment_registry.experiment_registry_client import (
        ExperimentRegistryFactory,
    )

    wait_for_indexer(algorand)
    factory = algorand.client.get_typed_app_factory(
        ExperimentRegistryFactory, default_sender=deployer
    )
    client, result = factory.deploy(on_update=on_update, on_schema_break=OnSchemaBreak.Fail)
    funded = algorand.account.ensure_funded(
        account_to_fund=client.app_address,
        dispenser_account=deployer,
        min_spending_balance=AlgoAmount.from_micro_algo(0),
    )
    if funded is not None:
        logger.info("funded app account with %s µA", funded.amount_funded.micro_algo)
    return client, result


def deploy() -> None:
    """Deploy (or find) the registry on the configured network and fund its account."""
    algorand = AlgorandClient.from_environment()
    try:
        deployer = algorand.account.from_environment("DEPLOYER")
        is_localnet = algorand.client.is_localnet()
    except urllib.error.URLError as exc:
        server = os.environ.get("ALGOD_SERVER", "LocalNet (http://localhost:4001)")
        raise SystemExit(f"cannot reach the node at {server}: {exc.reason}") from exc
    on_update = on_update_policy(is_localnet=is_localnet, choice=os.environ.get(ON_UPDATE_ENV))
    try:
        client, result = deploy_registry(algorand, deployer.address, on_update)
    except NetworkError as exc:
        raise SystemExit(f"cannot look up the deployed registry: {exc}") from exc
    logger.info(
        "ExperimentRegistry %s: app id %d, address %s (deployer %s)",
        result.operation_performed.name,
        client.app_id,
        client.app_address,
        deployer.address,
    )
