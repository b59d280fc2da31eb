"""Deploying the registry from algo-tracer: the Indexer wait, the deploy, and our errors.

`smart_contracts` imports nothing from algo_tracer: its `deploy_registry` deploys (or finds) the
registry and returns the app id, raising its own `DeployError`. This module is its caller on
the algo_tracer side, for `algo-tracer deploy` and for the first use on LocalNet
(algo_tracer.network.settings.registry_app_id: the same deployer, so the same app): it first
waits until the Indexer has caught up with algod (the deploy finds an earlier one through the
Indexer; a lookup that runs while the Indexer is behind creates a second app), then deploys,
and turns a `DeployError` into our errors with their fix.
"""

from __future__ import annotations

import os

from algokit_utils import AlgorandClient, OnUpdate

from algo_tracer.errors import (
    AlgoTracerError,
    ConfigError,
    InsufficientFundsError,
    NetworkError,
)
from algo_tracer.network.algod import last_round
from algo_tracer.network.indexer import require_indexer, wait_for_round
from smart_contracts.experiment_registry import deploy_config
from smart_contracts.experiment_registry.deploy_config import DeployError

_NETWORK_FIX = ("check ALGOD_SERVER/ALGOD_PORT/ALGOD_TOKEN and INDEXER_SERVER/INDEXER_PORT/"
                "INDEXER_TOKEN (LocalNet: `algo-tracer localnet status`)")


def deploy_registry(algorand: AlgorandClient, deployer: str, on_update: OnUpdate) -> int:
    """Deploy (or find) the registry created by `deployer` and return its app id.

    `deployer`'s signer must be registered with `algorand` (it is for accounts obtained through
    `algorand.account`). Raises `InsufficientFundsError`, `NetworkError` or `ConfigError`.
    """
    indexer = require_indexer(algorand, needed_by="deploying needs one to find an earlier "
                              "deploy of the registry")
    wait_for_round(indexer, last_round(algorand), algod=algorand.client.algod)
    try:
        return deploy_config.deploy_registry(algorand, deployer, on_update)
    except DeployError as exc:
        raise _translate(exc, deployer) from exc


def deploy_from_environment(algorand: AlgorandClient, *, is_localnet: bool) -> int:
    """`algo-tracer deploy`: the deployer and the update policy from the environment, as
    `python -m smart_contracts deploy` takes them (DEPLOYER_MNEMONIC, else on LocalNet the KMD
    wallet DEPLOYER; REGISTRY_ON_UPDATE), then `deploy_registry`."""
    policy = deploy_config.ON_UPDATE_ENV
    try:
        on_update = deploy_config.on_update_policy(is_localnet=is_localnet,
                                                   choice=os.environ.get(policy))
    except DeployError as exc:
        raise ConfigError(str(exc), fix=f"set {policy}=append (a changed contract becomes a new "
                          f"registry app) or {policy}=fail (stop instead), or unset it") from None
    try:
        deployer = deploy_config.deployer_from_environment(algorand)
    except DeployError as exc:
        if exc.reason != "setting":
            raise _translate(exc, None) from exc
        raise ConfigError(str(exc), fix="export DEPLOYER_MNEMONIC with the 25-word mnemonic of "
                          "a funded account (on LocalNet it may stay unset: a KMD wallet "
                          "DEPLOYER is created and funded)") from None
    return deploy_registry(algorand, deployer, on_update)


def _translate(exc: DeployError, deployer: str | None) -> AlgoTracerError:
    message = str(exc)
    if exc.reason == "underfunded":
        return InsufficientFundsError(
            f"account {deployer} cannot pay to deploy the registry (the fees, the minimum "
            "balance an app adds to its creator, and the app account's minimum balance)",
            fix=f"fund {deployer}, or set ALGO_TRACER_APP_ID to an existing registry app")
    if exc.reason == "program changed":
        return ConfigError(
            f"the registry app {deployer} deployed before runs another program than this "
            f"contract, and {deploy_config.ON_UPDATE_ENV}=fail (the default off LocalNet) stops "
            "the deploy (the app is immutable)",
            fix=f"set {deploy_config.ON_UPDATE_ENV}=append to deploy this contract as a new "
            "registry app; experiments in the old one stay verifiable under its app id")
    if exc.reason == "unreachable":
        return NetworkError(message, fix=_NETWORK_FIX)
    return NetworkError(message, fix=f"the message holds the node's answer; {_NETWORK_FIX}")
