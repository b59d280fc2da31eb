"""Which network: named by its genesis hash, and the one wording of "that is another network".

A genesis id does not name a network: every LocalNet is `dockernet-v1`, and a reset LocalNet is
a new chain under the same id. Bundles, manifests, journals and MLflow tags carry the genesis
hash, and so does every message that refuses a record of another network: `require_same_network`
shows both hashes, and when both sides are LocalNets it says the LocalNet was probably reset.
"""

from __future__ import annotations

from dataclasses import dataclass

from algokit_utils import AlgorandClient, ClientManager

from algo_tracer.errors import ConfigError
from algo_tracer.network.algod import genesis

__all__ = ["FIX", "Network", "node_network", "other_network_error", "require_node_on",
           "require_same_network"]

FIX = "point ALGOD_SERVER and INDEXER_SERVER at the network it was recorded on"


@dataclass(frozen=True)
class Network:
    """A network as algod reports it: genesis id (a label) and base64 genesis hash (its name)."""

    genesis_id: str
    genesis_hash: str

    @property
    def is_localnet(self) -> bool:
        return bool(self.genesis_id) and ClientManager.genesis_id_is_localnet(self.genesis_id)

    def __str__(self) -> str:
        return f"{self.genesis_id or '?'} (genesis hash {self.genesis_hash or '?'})"


def node_network(algorand: AlgorandClient) -> Network:
    """The network algod is on (NetworkError if it cannot be reached)."""
    return Network(*genesis(algorand))


def other_network_error(what: str, recorded: Network, node: Network, *,
                        fix: str = FIX) -> ConfigError:
    """The error for `what` ("the bundle", "manifest.json", ...) recorded on `recorded` while
    the node is on `node`: both genesis hashes, and the reset-LocalNet hint where it fits."""
    message = f"{what} is from {recorded}; the node is on {node}"
    if recorded.is_localnet and node.is_localnet:
        message += (f". Both are LocalNets ({recorded.genesis_id} is the genesis id of every "
                    "LocalNet): the LocalNet was most likely reset since, which starts a new "
                    "chain without the old one's records")
        fix += ("; a reset LocalNet's records are gone: record the experiment again on this "
                "one (or keep a proof bundle, `algo-tracer export`, before a reset)")
    return ConfigError(message, fix=fix)


def require_same_network(what: str, recorded: Network, node: Network, *,
                         fix: str = FIX) -> None:
    """Raise `other_network_error` unless both name the same genesis hash."""
    if recorded.genesis_hash != node.genesis_hash:
        raise other_network_error(what, recorded, node, fix=fix)


def require_node_on(algorand: AlgorandClient, what: str, recorded: Network, *,
                    fix: str = FIX) -> Network:
    """The node's network, after checking it is the one `what` was recorded on."""
    node = node_network(algorand)
    require_same_network(what, recorded, node, fix=fix)
    return node
