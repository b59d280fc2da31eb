"""Where to write: the network, the signing account and the registry app, from the environment.

| variable | meaning | default |
|---|---|---|
| `ALGOD_SERVER`, `ALGOD_PORT`, `ALGOD_TOKEN` | algod (algokit-utils conventions) | LocalNet |
| `INDEXER_SERVER`, `INDEXER_PORT`, `INDEXER_TOKEN` | Indexer, for verification | LocalNet |
| `ALGO_TRACER_ALGOD_SERVERS` | algod URLs of one network, in failover order | `ALGOD_SERVER` |
| `ALGO_TRACER_INDEXER_SERVERS` | Indexer URLs of one network, likewise | `INDEXER_SERVER` |
| `ALGO_TRACER_MNEMONIC` | the recording account (never printed or stored) | LocalNet: KMD |
| `ALGO_TRACER_APP_ID` | the ExperimentRegistry app | LocalNet: the deployer's registry (below) |
| `ALGO_TRACER_DIR` | journal directory | `./.algo-tracer` |

On LocalNet the recording account defaults to a KMD wallet `ALGO_TRACER` funded from the
dispenser. TestNet and MainNet need all of ALGOD_*, INDEXER_*, ALGO_TRACER_MNEMONIC and
ALGO_TRACER_APP_ID.

Which app is the registry of a network is one rule, `REGISTRY_RULE` (`registry_app_id`): the
recording account records into the registry; it does not decide which one it is. So
`algo-tracer deploy`, `python -m smart_contracts deploy`, `algokit project deploy localnet` and
`Tracer.from_environment()` all name the same app on a LocalNet.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from algokit_utils import AlgoAmount, AlgorandClient, SigningAccount
from algosdk.v2client.algod import AlgodClient
from algosdk.v2client.indexer import IndexerClient

from algo_tracer.capture import strip_url_credentials
from algo_tracer.errors import ConfigError, InputError
from algo_tracer.format.ids import parse_app_id
from algo_tracer.network.algod import algod_call, genesis, require_registry
from algo_tracer.network.endpoints import (
    ALGOD_SERVERS_VAR,
    INDEXER_SERVERS_VAR,
    FailoverAlgodClient,
    FailoverIndexerClient,
    parse_endpoints,
)
from algo_tracer.network.identity import Network
from algo_tracer.network.indexer import find_indexer

LOCALNET_FUNDING = AlgoAmount(algo=1_000)

#: Which app is the registry of a network, for every way in (printed by `algo-tracer deploy`).
REGISTRY_RULE = (
    "the registry is ALGO_TRACER_APP_ID when it is set (required off LocalNet); else, on "
    "LocalNet, the ExperimentRegistry created by the deployer account (DEPLOYER_MNEMONIC, else "
    "the KMD wallet DEPLOYER), deployed on first use. `algo-tracer deploy`, `python -m "
    "smart_contracts deploy`, `algokit project deploy localnet` and Tracer.from_environment() "
    "all find that app")


@dataclass(frozen=True)
class Settings:
    algorand: AlgorandClient
    account: SigningAccount
    app_id: int
    state_dir: Path
    is_localnet: bool
    genesis_id: str
    genesis_hash: str

    @property
    def network(self) -> Network:
        return Network(self.genesis_id, self.genesis_hash)

    def __repr__(self) -> str:  # the account holds a private key: keep it out of any log
        return (f"Settings(app_id={self.app_id}, sender={self.account.address}, "
                f"network={self.genesis_id}, state_dir={self.state_dir})")


def algorand_from_environment() -> tuple[AlgorandClient, str, str, bool]:
    """The client plus (genesis id, genesis hash, is LocalNet); NetworkError if unreachable."""
    algorand = client_from_environment()
    algorand.set_suggested_params_cache_timeout(0)
    servers = os.environ.get(ALGOD_SERVERS_VAR, "").strip()
    server = (", ".join(strip_url_credentials(u) for u in parse_endpoints(ALGOD_SERVERS_VAR,
                                                                            servers))
              if servers else
              f"{strip_url_credentials(os.environ['ALGOD_SERVER'])} port "
              f"{os.environ.get('ALGOD_PORT', '(default)')}"
              if os.environ.get("ALGOD_SERVER") else "http://localhost:4001 (LocalNet)")
    genesis_id, genesis_hash = genesis(
        algorand, at=server,
        fix="start the local network with `algo-tracer localnet start`, or set ALGOD_SERVER, "
        "ALGOD_PORT and ALGOD_TOKEN for another network")
    return (algorand, genesis_id, genesis_hash,
            algod_call("its suggested parameters", algorand.client.is_localnet))


def client_from_environment() -> AlgorandClient:
    """algokit-utils' client from the environment, over endpoint lists where they are set.

    With `ALGO_TRACER_ALGOD_SERVERS` / `ALGO_TRACER_INDEXER_SERVERS` the algod / Indexer client
    fails over between the listed endpoints (network.endpoints); every endpoint's genesis is
    checked first, and one of another network is refused here, before anything is sent.
    """
    algorand = AlgorandClient.from_environment()
    algod_urls = os.environ.get(ALGOD_SERVERS_VAR, "").strip()
    indexer_urls = os.environ.get(INDEXER_SERVERS_VAR, "").strip()
    if not algod_urls and not indexer_urls:
        return algorand
    algod: AlgodClient = algorand.client.algod
    indexer: IndexerClient | None = find_indexer(algorand)
    if algod_urls:
        algod = FailoverAlgodClient(os.environ.get("ALGOD_TOKEN", ""),
                                    parse_endpoints(ALGOD_SERVERS_VAR, algod_urls))
        algod.failover.check_all()
    if indexer_urls:
        indexer = FailoverIndexerClient(os.environ.get("INDEXER_TOKEN", ""),
                                        parse_endpoints(INDEXER_SERVERS_VAR, indexer_urls))
        indexer.failover.check_all()
    # KMD stays as the environment has it: it is LocalNet's key store, never a failover target.
    kmd = algorand.client._kmd  # the public property raises when KMD is absent
    return AlgorandClient.from_clients(algod=algod, indexer=indexer, kmd=kmd)


def app_id_from_environment() -> int | None:
    """`ALGO_TRACER_APP_ID` as an app id; None when it is unset or blank.

    Raises:
        ConfigError: it is set to anything but a whole number from 1 to 2**64-1.
    """
    text = os.environ.get("ALGO_TRACER_APP_ID", "").strip()
    if not text:
        return None
    try:
        return parse_app_id(text)
    except InputError as exc:
        raise ConfigError(f"ALGO_TRACER_APP_ID={exc.message}",
                          fix="set it to the registry's app id (printed by `algo-tracer "
                          "deploy`), or unset it") from None


def settings_from_environment(state_dir: Path | None = None) -> Settings:
    algorand, genesis_id, genesis_hash, is_localnet = algorand_from_environment()
    account = _account(algorand, is_localnet)
    app_id = registry_app_id(algorand, is_localnet=is_localnet, genesis_id=genesis_id)
    directory = state_dir or Path(os.environ.get("ALGO_TRACER_DIR", ".algo-tracer"))
    return Settings(algorand, account, app_id, directory, is_localnet, genesis_id, genesis_hash)


def recording_account(algorand: AlgorandClient, is_localnet: bool) -> SigningAccount:
    """The recording account, as tracing gets it (ALGO_TRACER_MNEMONIC, else LocalNet's KMD
    wallet): `algo-tracer export --format in-toto` signs with its key. Never print it."""
    return _account(algorand, is_localnet)


def _account(algorand: AlgorandClient, is_localnet: bool) -> SigningAccount:
    mnemonic = os.environ.get("ALGO_TRACER_MNEMONIC")
    if mnemonic:
        try:
            return algorand.account.from_mnemonic(mnemonic=mnemonic.strip())
        except Exception:  # algosdk raises assorted errors for bad words; never echo them
            raise ConfigError("ALGO_TRACER_MNEMONIC is not a valid 25-word Algorand mnemonic",
                              fix="check the words and their order (they are not shown here)"
                              ) from None
    if not is_localnet:
        raise ConfigError("no signing account: ALGO_TRACER_MNEMONIC is not set",
                          fix="export ALGO_TRACER_MNEMONIC with the 25-word mnemonic of a funded "
                          "account (on LocalNet a KMD wallet is used instead)")
    return algorand.account.from_environment("ALGO_TRACER", fund_with=LOCALNET_FUNDING)


def registry_app_id(algorand: AlgorandClient, *, is_localnet: bool, genesis_id: str) -> int:
    """The registry app of algod's network, by `REGISTRY_RULE`.

    Raises:
        ConfigError: ALGO_TRACER_APP_ID names no registry, or is unset off LocalNet.
        InsufficientFundsError, NetworkError: the LocalNet deploy failed.
    """
    app_id = app_id_from_environment()
    if app_id is not None:
        require_registry(algorand, app_id, where=genesis_id,
                         fix="check ALGO_TRACER_APP_ID and that ALGOD_SERVER points at the "
                         "network it was deployed on")
        return app_id
    if not is_localnet:
        raise ConfigError("ALGO_TRACER_APP_ID is not set",
                          fix="deploy the registry with `algo-tracer deploy` (DEPLOYER_MNEMONIC "
                          "set) and export the app id it prints as ALGO_TRACER_APP_ID")
    # The deployer's registry, as `algo-tracer deploy` finds it: never one of the recording
    # account's own (two registries on one LocalNet sent verify to the wrong app).
    from algo_tracer.network.deploy import deploy_from_environment  # lazy: imports the contract

    return deploy_from_environment(algorand, is_localnet=True)
